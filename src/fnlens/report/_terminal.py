"""The report in a terminal: headline numbers and the per-version table (rich)."""

from __future__ import annotations

from typing import Any

from fnlens.report import _fmt as fmt
from fnlens.report._compare import compare_versions
from fnlens.report._data import ReportData


def print_report(data: ReportData, console: Any | None = None) -> None:
    """Print the headline and the versions table, worst regression first."""
    from rich import box
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    if console is None:
        import sys

        # piped output keeps the whole table instead of folding it to 80 columns
        console = Console(highlight=False, width=None if sys.stdout.isatty() else 150)
    if data.empty:
        console.print("No invocations in this window.")
        return
    h = data.headline
    total_cost = sum(r["total_cost_usd"] or 0.0 for r in data.cost)
    console.print(
        Text.assemble(
            ("fnlens report", "bold"),
            f"  {fmt.when(h['first_seen'])} → {fmt.when(h['last_seen'])} UTC",
        )
    )
    headline = Table.grid(padding=(0, 3))
    for _ in range(5):
        headline.add_column()
    headline.add_row(
        *(
            Text.assemble((label + "\n", "dim"), (value, "bold"))
            for label, value in (
                ("invocations", fmt.num(h["invocations"])),
                ("error rate", f"{fmt.pct(h['error_rate_pct'])} ({fmt.num(h['errors'])})"),
                (
                    "p50 / p95 / p99",
                    " / ".join(fmt.ms(h[k]) for k in ("p50_ms", "p95_ms", "p99_ms")),
                ),
                ("cold starts", f"{fmt.pct(h['cold_start_pct'])} ({fmt.num(h['cold_starts'])})"),
                ("estimated cost", fmt.usd(total_cost)),
            )
        )
    )
    console.print(headline)
    console.print()

    # below 110 columns the least-read columns go and the borders thin out, so that no
    # column is squeezed to 3 characters in an 80-column terminal
    narrow = console.width < 110
    dropped = {"p50", "p99", "cold starts", "mean init"} if narrow else set()
    table = Table(
        title="Versions, worst regression first",
        title_justify="left",
        box=box.SIMPLE_HEAD if narrow else box.HEAVY_HEAD,
        pad_edge=not narrow,
    )
    columns = [
        ("function", "left"),
        ("version", "left"),
        ("status", "left"),
        ("invocations", "right"),
        ("error rate", "right"),
        ("p50", "right"),
        ("p95", "right"),
        ("p99", "right"),
        ("cold starts", "right"),
        ("mean init", "right"),
        ("cost / 1M", "right"),
    ]
    short = {"invocations": "calls", "error rate": "errors", "cost / 1M": "$ / 1M"}
    for name, justify in columns:
        if name in dropped:
            continue
        table.add_column(
            short.get(name, name) if narrow else name,
            justify=justify,  # type: ignore[arg-type]
            no_wrap=name == "status" and not narrow,
            overflow="fold",
            min_width=10 if name == "status" else None,
        )
    for v in compare_versions(data.per_version, data.cost):
        x = v.values
        if v.is_baseline:
            status = Text("baseline", style="dim")
        elif v.severity >= 0.05:
            status = Text(f"worse: {v.worst} {fmt.change(v.severity)}", style="bold red")
        else:
            status = Text("ok", style="green")
        cells = {
            "function": v.function_name,
            "version": str(v.version),
            "status": status,
            "invocations": fmt.num(x["invocations"]),
            "error rate": _with_change(
                fmt.pct(x["error_rate_pct"]), v.changes.get("error_rate_pct")
            ),
            "p50": fmt.ms(x["p50_ms"]),
            "p95": _with_change(fmt.ms(x["p95_ms"]), v.changes.get("p95_ms")),
            "p99": _with_change(fmt.ms(x["p99_ms"]), v.changes.get("p99_ms")),
            "cold starts": _with_change(
                fmt.pct(x["cold_start_pct"]), v.changes.get("cold_start_pct")
            ),
            "mean init": _with_change(fmt.ms(x["avg_init_ms"]), v.changes.get("avg_init_ms")),
            "cost / 1M": _with_change(
                fmt.usd(x["cost_per_million_usd"]), v.changes.get("cost_per_million_usd")
            ),
        }
        table.add_row(*(cells[name] for name, _ in columns if name not in dropped))
    console.print(table)


def _with_change(text: str, change: float | None) -> Any:
    from rich.text import Text

    out = Text(text)
    if change is not None and abs(change) >= 0.05:
        out.append(f" {fmt.change(change)}", style="red" if change > 0 else "green")
    return out
