"""Fixtures: a fnlens database ingested from generated JSONL, and headless Chromium."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from .sample import write_jsonl

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "test-artifacts"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(scope="session")
def report_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sample data loaded through the real ingest path."""
    from fnlens.analysis.ingest import ingest

    folder = tmp_path_factory.mktemp("report-db")
    source = write_jsonl(folder / "invocations.jsonl")
    db = folder / "fnlens.duckdb"
    result = ingest([source], db=str(db), progress=False, strict=True)
    assert result.totals["invocations"] == 4000
    return db


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


def chromium_path() -> str:
    """Debian's chromium; missing fails in CI and skips (with the reason) elsewhere."""
    found = shutil.which("chromium") or (
        "/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None
    )
    if found:
        return found
    reason = "Debian's chromium is not installed (apt-get install chromium)"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(reason)
    pytest.skip(reason)


@pytest.fixture(scope="module")  # Playwright's sync API keeps an event loop running:
def browser():  # close it with the module so later asyncio tests get a clean thread
    executable = chromium_path()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS, timeout=60_000)
        yield browser
        browser.close()
