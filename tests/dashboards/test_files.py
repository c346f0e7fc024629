"""Every file under dashboards/ is valid JSON, and ships in the data folder."""

from __future__ import annotations

import json

from fnlens.dashboards._loader import TEMPLATES, all_files, load


def test_every_dashboard_file_is_valid_json() -> None:
    files = all_files()
    assert len(files) >= 3
    for path, text in files:
        try:
            json.loads(text)
        except json.JSONDecodeError as exc:  # pragma: no cover - the failure message
            raise AssertionError(f"{path}: {exc}") from None


def test_every_template_loads() -> None:
    for name in TEMPLATES:
        assert isinstance(load(name), dict)
