"""The report's canary section and the buckets a short or long window gets."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

pytest.importorskip("scipy")
pytest.importorskip("plotly")

from fnlens.report._data import MAX_BUCKETS, choose_bucket, collect
from fnlens.report._html import render_html

from .synth import Shape, fresh_db, load


def test_html_report_has_the_canary_verdict() -> None:
    con = fresh_db()
    load(
        con,
        Shape("1", 2000, error_rate=0.005),
        Shape("2", 2000, error_rate=0.06, extra_error="KeyError",
              start=datetime(2026, 11, 2, 10, 0)),
        seed=31,
    )  # fmt: skip
    data = collect(con)
    assert [title for title, _ in data.canaries] == ["orders-api: version 2 vs 1"]
    ((_, comparison),) = data.canaries
    assert comparison.verdict == "fail"
    html = render_html(data)
    section = html.split('id="canary"', 1)[1].split("</section>", 1)[0]
    assert "orders-api: version 2 vs 1" in section
    assert '<span class="pill bad">fail</span>' in section
    assert "error rate" in section and "KeyError" in section
    assert '<a href="#canary">' in html


def test_a_single_version_has_no_canary() -> None:
    con = fresh_db()
    load(con, Shape("1", 300), seed=32)
    data = collect(con)
    assert data.canaries == []
    assert "No function has two versions to compare" in render_html(data)


@pytest.mark.parametrize(
    ("span", "expected"),
    [
        (timedelta(seconds=35), timedelta(seconds=1)),  # the demo's own run: 35 points
        (timedelta(minutes=30), timedelta(seconds=30)),
        (timedelta(hours=3), timedelta(minutes=5)),
        (timedelta(weeks=1), timedelta(hours=6)),
        (timedelta(days=400), timedelta(weeks=1)),
    ],
)
def test_buckets_follow_the_span_of_the_data(span: timedelta, expected: timedelta) -> None:
    first = datetime(2026, 11, 2)
    bucket = choose_bucket(first, first + span)
    assert bucket == expected
    if span <= timedelta(weeks=52):
        assert span / bucket <= MAX_BUCKETS
    assert span / bucket >= 2 or span < timedelta(seconds=2)


def test_report_terminal_table_readable_in_80_columns() -> None:
    from io import StringIO

    from rich.console import Console

    from fnlens.report._terminal import print_report

    con = fresh_db()
    load(con, Shape("1", 800), Shape("2", 800, latency_factor=1.5), seed=33)
    for width in (80, 150):
        out = StringIO()
        print_report(collect(con), Console(file=out, width=width, highlight=False))
        lines = out.getvalue().splitlines()
        assert max(len(line) for line in lines) <= width
        header = next(line for line in lines if "function" in line and "version" in line)
        cells = header.split()
        # every header is whole: nothing folded into 3-character stubs
        expected = ["calls", "errors", "p95"] if width == 80 else ["invocations", "p50", "p99"]
        assert all(name in cells for name in expected), header
