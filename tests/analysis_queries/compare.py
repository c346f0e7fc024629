"""Row comparison with per-column tolerances matching the rounding the SQL applies."""

from __future__ import annotations

import math
from typing import Any

# round(x, 3) in SQL -> half a unit in the last place, plus float noise
_ROUND3 = 5.0001e-4
_ROUND6 = 5.0001e-7
TOLERANCE: dict[str, float] = {
    "error_rate_pct": _ROUND3,
    "cold_start_pct": _ROUND3,
    "timeout_pct": _ROUND3,
    "pct_of_errors": _ROUND3,
    "peak_utilisation_pct": _ROUND3,
    "avg_ms": _ROUND3,
    "avg_init_ms": _ROUND3,
    "avg_used_mb": _ROUND3,
    "billed_gb_s": _ROUND6,
    "compute_cost_usd": _ROUND6,
    "request_cost_usd": _ROUND6,
    "total_cost_usd": _ROUND6,
    "cost_per_million_usd": _ROUND6,
}


def fetch_dicts(result: Any) -> list[dict[str, Any]]:
    columns = [d[0] for d in result.description]
    return [dict(zip(columns, row, strict=True)) for row in result.fetchall()]


def assert_rows(
    actual: list[dict[str, Any]],
    expected: list[dict[str, Any]],
    tolerance: dict[str, float] | None = None,
) -> None:
    """Same columns in the same order, same row count and order, values equal within tolerance."""
    tol = {**TOLERANCE, **(tolerance or {})}
    assert len(actual) == len(expected), f"{len(actual)} rows, expected {len(expected)}"
    for i, (got, want) in enumerate(zip(actual, expected, strict=True)):
        assert list(got) == list(want), f"row {i}: columns {list(got)} != {list(want)}"
        for column, value in want.items():
            other = got[column]
            if isinstance(value, float) or isinstance(other, float):
                assert value is not None and other is not None, (i, column, other, value)
                limit = tol.get(column, 1e-9 * max(1.0, abs(value)))
                assert math.isclose(other, value, rel_tol=0, abs_tol=limit), (
                    f"row {i} column {column}: {other!r} != {value!r} (tolerance {limit})"
                )
            else:
                assert other == value, f"row {i} column {column}: {other!r} != {value!r}"
