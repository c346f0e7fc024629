"""The concurrency query on a hand-made Managed Instances-like timeline, values by hand."""

from __future__ import annotations

from datetime import datetime

from fnlens.analysis.catalog import get_query
from fnlens.analysis.db import memory_db


def test_overlaps_per_environment_with_carry_over_between_buckets() -> None:
    con = memory_db()
    rows = [
        # environment A: three processes busy at once around 10:00:58-10:01:00
        ("a", "10:00:50", 10_000.0),  # 10:00:50 -> 10:01:00
        ("a", "10:00:55", 7_000.0),  # 10:00:55 -> 10:01:02
        ("a", "10:00:58", 1_000.0),  # 10:00:58 -> 10:00:59
        ("a", "10:01:00", 500.0),  # starts as the first ends: 2 at once, not 3
        # environment B: back to back, never overlapping
        ("b", "10:00:10", 5_000.0),
        ("b", "10:00:15", 5_000.0),
    ]
    for env, clock, ms in rows:
        con.execute(
            "INSERT INTO invocations (ts, function_name, version, log_stream, duration_ms) "
            "VALUES (CAST(? AS TIMESTAMP), 'fn', '1', ?, ?)",
            [f"2026-12-01 {clock}", env, ms],
        )
    got = get_query("concurrency").run(con).fetchall()
    m0, m1 = datetime(2026, 12, 1, 10, 0), datetime(2026, 12, 1, 10, 1)
    # (function, environment, bucket, started, peak, busy ms, mean concurrency)
    assert got == [
        ("fn", "a", m0, 3, 3, 10_000.0 + 5_000.0 + 1_000.0, round(16_000 / 60_000, 4)),
        ("fn", "a", m1, 1, 2, 2_000.0 + 500.0, round(2_500 / 60_000, 4)),
        ("fn", "b", m0, 2, 1, 10_000.0, round(10_000 / 60_000, 4)),
    ]
