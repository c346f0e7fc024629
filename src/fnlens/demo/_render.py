"""The demo in a terminal: headline numbers, versions side by side, what changed in v2."""

from __future__ import annotations

from typing import Any

from fnlens.demo._runner import DemoResult


def _ms(value: Any) -> str:
    return "-" if value is None else f"{value:,.1f} ms"


def _pct(value: Any) -> str:
    return "-" if value is None else f"{value:.2f}%"


def _num(value: Any) -> str:
    return "-" if value is None else f"{value:,}"


def print_result(result: DemoResult, console: Any) -> None:
    """Headline, per-version comparison (canned ``per_version``), routes and errors."""
    from rich import box
    from rich.table import Table
    from rich.text import Text

    h = result.headline
    console.print()
    console.print(
        Text.assemble(
            ("orders-api", "bold"),
            f"  {result.sent:,} requests through alias 'live' "
            f"({', '.join(f'version {k}: {v:,}' for k, v in sorted(result.by_version.items()))}), "
            f"{result.environments_started} execution environments",
        )
    )
    grid = Table.grid(padding=(0, 3))
    for _ in range(4):
        grid.add_column()
    grid.add_row(
        *(
            Text.assemble((label + "\n", "dim"), (value, "bold"))
            for label, value in (
                ("invocations", _num(h.get("invocations"))),
                ("error rate", f"{_pct(h.get('error_rate_pct'))} ({_num(h.get('errors'))})"),
                (
                    "p50 / p95 / p99",
                    " / ".join(_ms(h.get(k)) for k in ("p50_ms", "p95_ms", "p99_ms")),
                ),
                ("cold starts", _num(h.get("cold_starts"))),
            )
        )
    )
    console.print(grid)

    # below 100 columns: thin borders and no p50/p99, so no column is squeezed unreadable
    narrow = console.width < 100
    versions = Table(
        title="Per version (canned query: per_version)",
        title_justify="left",
        box=box.SIMPLE_HEAD if narrow else box.HEAVY_HEAD,
    )
    names = ["version", "invocations", "error rate", "p50", "p95", "p99", "cold starts", "avg init"]
    shown = [n for n in names if not (narrow and n in ("p50", "p99"))]
    for name in shown:
        versions.add_column(name, justify="left" if name == "version" else "right")
    base = result.per_version[0] if result.per_version else None
    for row in result.per_version:
        style = None
        if base is not None and row is not base and _worse(row, base):
            style = "bold red"
        cells = {
            "version": str(row["version"]),
            "invocations": _num(row["invocations"]),
            "error rate": _pct(row["error_rate_pct"]),
            "p50": _ms(row["p50_ms"]),
            "p95": _ms(row["p95_ms"]),
            "p99": _ms(row["p99_ms"]),
            "cold starts": f"{_num(row['cold_starts'])} ({_pct(row['cold_start_pct'])})",
            "avg init": _ms(row["avg_init_ms"]),
        }
        versions.add_row(*(cells[n] for n in shown), style=style)
    console.print(versions)

    routes = Table(
        title="Routes by version, p95 (canned query: slow_routes)",
        title_justify="left",
        box=box.SIMPLE_HEAD if narrow else box.HEAVY_HEAD,
    )
    routes.add_column("route")
    by_route: dict[str, dict[str, Any]] = {}
    for version, rows in result.routes.items():
        routes.add_column(f"{version}: p95", justify="right")
        routes.add_column(f"{version}: errors", justify="right")
        for r in rows:
            key = f"{r['http_method']} {r['http_route']}"
            by_route.setdefault(key, {})[version] = r
    for key in sorted(by_route):
        cells = [key]
        for version in result.routes:
            r = by_route[key].get(version)
            cells += [_ms(r and r["p95_ms"]), _pct(r and r["error_rate_pct"])]
        routes.add_row(*cells)
    console.print(routes)

    if result.errors:
        errors = Table(title="Top errors (canned query: top_errors)", title_justify="left")
        for name in ("error", "count", "versions", "message"):
            errors.add_column(name, justify="right" if name == "count" else "left")
        for e in result.errors:
            errors.add_row(
                str(e.get("error_type")),
                _num(e.get("occurrences")),
                str(e.get("versions")),
                str(e.get("error_message") or "")[:60],
            )
        console.print(errors)

    ing = result.ingest
    totals = ", ".join(f"{n:,} {t}" for t, n in ing.get("totals", {}).items())
    console.print(
        f"[dim]ingested {ing.get('files', 0)} files ({totals}; "
        f"{ing.get('malformed', 0)} malformed) into {result.db_path}[/dim]"
    )
    console.print(f"[dim]log streams: {result.logs_dir}   {result.telemetry_note}[/dim]")
    if result.report_path is not None:
        console.print(f"HTML report: [bold]{result.report_path}[/bold]")
    elif result.report_note:
        console.print(f"[dim]{result.report_note}[/dim]")
    secs = result.seconds
    console.print(
        f"[dim]{secs.get('total', 0):.1f} s total: traffic {secs.get('traffic', 0):.1f} s, "
        f"ingest {secs.get('ingest', 0):.1f} s, queries {secs.get('queries', 0):.1f} s"
        + (f", report {secs['report']:.1f} s" if "report" in secs else "")
        + "[/dim]"
    )
    console.print(
        f"Explore: [bold]fnlens query per_version --db {result.db_path}[/bold], "
        f'[bold]fnlens sql "SELECT …" --db {result.db_path}[/bold]'
    )
    if result.comparison is not None:
        _verdict(result, console)


def _verdict(result: DemoResult, console: Any) -> None:
    """The demo ends with what a deployment pipeline would decide."""
    from fnlens.report._canary import print_comparison

    c = result.comparison
    console.print()
    console.print(
        f"[bold]fnlens compare --baseline 1 --candidate 2 --function orders-api "
        f"--db {result.db_path}[/bold]"
    )
    print_comparison(c, console)
    console.print(
        f"[bold]canary verdict for version 2: {c.verdict} (exit code {c.exit_code})[/bold]"
    )


def _worse(row: dict[str, Any], base: dict[str, Any]) -> bool:
    """Clearly worse than the baseline on errors or tail latency."""
    err, base_err = row["error_rate_pct"] or 0.0, base["error_rate_pct"] or 0.0
    p95, base_p95 = row["p95_ms"] or 0.0, base["p95_ms"] or 0.0
    return err > base_err + 0.5 or p95 > base_p95 * 1.2
