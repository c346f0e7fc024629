"""The fnlens report: headline numbers, per-version comparison, charts.

>>> from fnlens.report import write_html
>>> write_html("fnlens.duckdb", "report.html")        # doctest: +SKIP

The HTML is one self-contained file (plotly.js inline) that works offline.
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from fnlens.report._data import ReportData

__all__ = ["build", "write_html"]


def build(
    db_path: str | os.PathLike[str],
    *,
    function: str | None = None,
    since: datetime | str | None = None,
    until: datetime | str | None = None,
    bucket: timedelta | str | None = None,
) -> ReportData:
    """Run the report's queries over a fnlens database file; returns a ReportData."""
    from fnlens.analysis.db import open_db
    from fnlens.report._data import collect

    con = open_db(Path(db_path))
    try:
        return collect(con, function=function, since=since, until=until, bucket=bucket)
    finally:
        con.close()


def write_html(
    db_path: str | os.PathLike[str],
    out_path: str | os.PathLike[str],
    *,
    function: str | None = None,
    since: datetime | str | None = None,
    until: datetime | str | None = None,
    bucket: timedelta | str | None = None,
    title: str = "fnlens report",
) -> Path:
    """Write the self-contained HTML report for ``db_path`` to ``out_path``; returns the path."""
    from fnlens.report._html import render_html

    data = build(db_path, function=function, since=since, until=until, bucket=bucket)
    out = Path(out_path)
    if out.parent and not out.parent.exists():
        out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(render_html(data, title=title), encoding="utf-8")
    return out
