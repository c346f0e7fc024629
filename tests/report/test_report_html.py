"""The HTML report, looked at the way a person would: in a real browser, offline.

Headless Chromium (Debian's package, driven by Playwright) opens the written
file; every request is intercepted and anything other than the file itself is
refused and recorded. The charts must have drawn SVG, the tables must have
rows, the regression must come first, and a screenshot is kept in
``test-artifacts/``.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from fnlens.report import write_html

pytestmark = pytest.mark.e2e

CHARTS = 5  # versions, latency, error rate, cold starts, routes


@pytest.fixture(scope="module")
def report_file(report_db: Path, artifacts: Path) -> Path:
    return write_html(report_db, artifacts / "report.html")


def test_file_is_self_contained(report_file: Path) -> None:
    html = report_file.read_text(encoding="utf-8")
    assert html.count("<script") >= CHARTS
    # no external script, stylesheet, font or image references
    assert not re.search(r"""<(script|link|img)[^>]+(src|href)=["']?(https?:)?//""", html)
    assert "@import" not in html and "fonts.googleapis" not in html
    # plotly.js inlined exactly once
    assert html.count("plotly.js v") == 1 or html.count("* plotly.js") == 1


def test_report_renders_in_chromium(browser, report_file: Path, artifacts: Path) -> None:
    requests: list[str] = []
    blocked: list[str] = []
    dialogs: list[str] = []
    errors: list[str] = []

    context = browser.new_context(viewport={"width": 1360, "height": 900})

    def guard(route, request) -> None:
        requests.append(request.url)
        if request.url.startswith("file://"):
            route.continue_()
        else:
            blocked.append(request.url)
            route.abort()

    context.route("**/*", guard)
    page = context.new_page()
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    try:
        page.goto(report_file.as_uri(), wait_until="load", timeout=30_000)
        page.wait_for_function(
            f"document.querySelectorAll('.js-plotly-plot .main-svg').length >= {CHARTS}",
            timeout=30_000,
        )
        plots = page.locator(".js-plotly-plot")
        assert plots.count() == CHARTS
        for i in range(CHARTS):
            # every chart drew data: traces exist and have a non-empty bounding box
            traces = plots.nth(i).locator("g.trace, g.barlayer path, g.scatterlayer path")
            assert traces.count() > 0, f"chart {i} drew no traces"
            box = plots.nth(i).bounding_box()
            assert box and box["width"] > 300 and box["height"] > 150

        # headline cards
        kpis = page.locator(".kpi")
        assert kpis.count() == 5
        assert kpis.first.locator(".kpi-value").inner_text() == "4,000"

        # versions: worst regression first, baseline versions last
        rows = page.locator("#versions tbody tr")
        assert rows.count() == 4
        first = rows.first.inner_text()
        assert "orders-api" in first and "42" in first and "worse" in first
        assert "baseline" in rows.nth(3).inner_text()

        # top errors: sample messages shown as text, the HTML in one is not executed
        errors_table = page.locator("#top-errors tbody tr")
        assert errors_table.count() >= 3
        assert "<script>alert(1)</script>" in page.locator("#top-errors").inner_text()
        assert page.locator("#routes tbody tr").count() == 4
        assert page.locator("#timeouts tbody tr").count() >= 1

        page.screenshot(path=str(artifacts / "report.png"), full_page=True)
    finally:
        context.close()

    assert dialogs == [], "a script from the data ran"
    assert blocked == [], f"the report tried to reach the network: {blocked}"
    assert requests and all(u.startswith("file://") for u in requests)
    assert errors == []
    assert (artifacts / "report.png").stat().st_size > 50_000


def test_empty_window_still_renders(report_db: Path, tmp_path: Path) -> None:
    out = write_html(report_db, tmp_path / "empty.html", since="2030-01-01")
    html = out.read_text(encoding="utf-8")
    assert "No invocations in this window." in html
