"""Rank versions by how much worse they are than the version before them.

"Is version 42 worse than 41?" is the question the report leads with, so each
version is compared with the previous version of the same function (by first
appearance) and the table is sorted worst regression first. The severity of a
regression is the largest relative worsening among error rate, p95, p99,
cold-start rate, init duration and cost per invocation; rates get a small floor
so going from 0 % to 0.1 % errors is not an infinite regression.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

Row = dict[str, Any]

# metric -> (label, floor added to both sides of the ratio, higher is worse)
METRICS: dict[str, tuple[str, float]] = {
    "error_rate_pct": ("error rate", 0.5),
    "p95_ms": ("p95", 1.0),
    "p99_ms": ("p99", 1.0),
    "cold_start_pct": ("cold-start rate", 1.0),
    "avg_init_ms": ("init duration", 10.0),
    "cost_per_million_usd": ("cost", 0.01),
}


@dataclass
class VersionRow:
    """One version's numbers, the previous version's, and the changes."""

    function_name: str
    version: str
    values: Row
    baseline: Row | None = None
    changes: dict[str, float] = field(default_factory=dict)  # metric -> relative change
    severity: float = 0.0
    worst: str | None = None  # label of the metric that regressed most

    @property
    def is_baseline(self) -> bool:
        return self.baseline is None


def compare_versions(per_version: list[Row], cost: list[Row]) -> list[VersionRow]:
    """Per-version rows with changes vs the previous version, worst regression first."""
    cost_by_version: dict[tuple[str, str], list[Row]] = defaultdict(list)
    for row in cost:
        cost_by_version[(row["function_name"], row["version"])].append(row)
    previous: dict[str, Row] = {}
    out: list[VersionRow] = []
    for row in per_version:  # ordered by function, first_seen
        values = dict(row)
        values.update(_cost_summary(cost_by_version.get((row["function_name"], row["version"]))))
        item = VersionRow(row["function_name"], row["version"], values)
        base = previous.get(row["function_name"])
        if base is not None:
            item.baseline = base
            for metric, (label, floor) in METRICS.items():
                new, old = values.get(metric), base.get(metric)
                if new is None or old is None:
                    continue
                change = (new + floor) / (old + floor) - 1.0
                item.changes[metric] = change
                if change > item.severity:
                    item.severity, item.worst = change, label
        previous[row["function_name"]] = values
        out.append(item)
    out.sort(key=lambda r: (r.is_baseline, -r.severity, r.function_name, str(r.version)))
    return out


def _cost_summary(rows: list[Row] | None) -> Row:
    if not rows:
        return {"total_cost_usd": None, "cost_per_million_usd": None}
    total = sum(r["total_cost_usd"] or 0.0 for r in rows)
    invocations = sum(r["invocations"] or 0 for r in rows)
    per_million = 1e6 * total / invocations if invocations else None
    return {"total_cost_usd": total, "cost_per_million_usd": per_million}
