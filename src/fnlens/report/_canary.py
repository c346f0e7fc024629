"""A comparison rendered for people: a terminal table (rich), Markdown for a pull request,
and an HTML section for ``fnlens report --html``. JSON is ``Comparison.to_dict()``."""

from __future__ import annotations

from html import escape
from typing import Any

from fnlens.analysis._compare import Comparison, MetricResult
from fnlens.report import _fmt as fmt

__all__ = ["html_section", "markdown", "print_comparison", "value_text"]

_MARK = {"pass": "pass", "fail": "FAIL", "inconclusive": "inconclusive", "no-data": "no data"}
_STYLE = {"pass": "green", "fail": "bold red", "inconclusive": "yellow", "no-data": "dim"}
_EMOJI = {"pass": "✅", "fail": "❌", "inconclusive": "⚠️"}


def value_text(m: MetricResult, value: float | None) -> str:
    """A metric's value in its unit: ``1.35 %``, ``122 ms``, ``$0.54``, ``128 MB``."""
    if value is None:
        return fmt.DASH
    if m.unit == "%":
        return fmt.pct(value)
    if m.unit == "ms":
        return fmt.ms(value)
    if m.unit == "MB":
        return f"{value:,.0f} MB"
    return fmt.usd(value)


def change_text(m: MetricResult) -> str:
    """The change with its interval: ``+5.15 pt [3.80, 6.59]`` or ``+77 % [52, 94]``."""
    if m.change is None:
        return fmt.DASH
    if m.kind == "rate":
        out = f"{m.change:+.2f} pt"
        if m.low is not None and m.high is not None:
            out += f" [{m.low:+.2f}, {m.high:+.2f}]"
        return out
    out = f"{100 * m.change:+.1f} %"
    if m.low is not None and m.high is not None:
        out += f" [{100 * m.low:+.0f}, {100 * m.high:+.0f}]"
    return out


def allowed_text(m: MetricResult) -> str:
    return f"+{m.allowed:g} pt" if m.kind == "rate" else f"+{100 * m.allowed:g} %"


def p_text(p: float | None) -> str:
    if p is None:
        return fmt.DASH
    return "<0.0001" if p < 1e-4 else f"{p:.4f}" if p < 0.01 else f"{p:.3f}"


def _headline(c: Comparison) -> str:
    where = f" of {c.function}" if c.function else ""
    return (
        f"{c.candidate.describe()} ({c.n_candidate:,} invocations) vs baseline "
        f"{c.baseline.describe()} ({c.n_baseline:,}){where}"
    )


def _footnote(c: Comparison) -> str:
    s = c.settings
    correction = {"holm": "Holm", "bh": "Benjamini-Hochberg", "none": "no"}[s.correction]
    return (
        f"{c.tests} one-sided tests, {correction} correction, alpha {s.alpha:g}, "
        f"power {100 * s.power:.0f} %; intervals {100 * (1 - s.alpha):.0f} %"
    )


# ------------------------------------------------------------------- terminal


def print_comparison(c: Comparison, console: Any | None = None) -> None:
    """The verdict, the metrics table, routes that did not pass, new error types."""
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    if console is None:
        console = Console(highlight=False)
    style = _STYLE.get(c.verdict, "")
    console.print(Text.assemble(("verdict: ", "bold"), (c.verdict.upper(), style)))
    console.print(Text(c.reason, style="dim" if c.verdict == "pass" else ""))
    console.print(Text(_headline(c), style="dim"))
    narrow = console.width < 100

    def table(title: str, rows: list[MetricResult]) -> Any:
        t = Table(title=title, title_justify="left", expand=False, pad_edge=False)
        t.add_column("metric", overflow="fold", min_width=8)
        t.add_column("base", justify="right", no_wrap=True)
        t.add_column("cand", justify="right", no_wrap=True)
        t.add_column("change [CI]", justify="right", overflow="fold", min_width=10)
        if not narrow:
            t.add_column("allowed", justify="right", no_wrap=True)
        t.add_column("p adj", justify="right", no_wrap=True)
        t.add_column("status", no_wrap=True)
        for m in rows:
            cells = [
                m.label,
                value_text(m, m.baseline),
                value_text(m, m.candidate),
                change_text(m),
            ]
            if not narrow:
                cells.append(allowed_text(m))
            cells += [p_text(m.p_adjusted), Text(_MARK[m.status], style=_STYLE[m.status])]
            t.add_row(*cells)
        return t

    console.print(table("Overall", c.overall))
    for route in c.routes:
        rows = c.for_route(route)
        if any(m.status == "fail" for m in rows):
            console.print(table(f"Route {route}", rows))
    passed = [r for r in c.routes if not any(m.status == "fail" for m in c.for_route(r))]
    if passed:
        console.print(Text(f"routes without a failure: {', '.join(passed)}", style="dim"))
    notes = [m for m in c.overall if m.status == "inconclusive" and m.note]
    for m in notes:
        where = f" {m.route}" if m.route else ""
        console.print(Text(f"- {m.label}{where}: {m.note}", style=_STYLE[m.status]))
    if c.new_error_types:
        t = Table(title="New error types (never seen in the baseline)", title_justify="left")
        t.add_column("error", overflow="fold")
        t.add_column("count", justify="right", no_wrap=True)
        t.add_column("sample message", overflow="fold")
        for e in c.new_error_types:
            t.add_row(e["error_type"], f"{e['occurrences']:,}", (e["sample_message"] or "")[:200])
        console.print(t)
    console.print(Text(_footnote(c), style="dim"))


# ------------------------------------------------------------------- markdown


def _md(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def markdown(c: Comparison) -> str:
    """A pull-request comment: verdict first, then the table, routes and new errors."""
    lines = [
        f"### fnlens compare: {_EMOJI.get(c.verdict, '')} **{c.verdict}**",
        "",
        _md(c.reason),
        "",
        _md(_headline(c)),
        "",
        "| metric | baseline | candidate | change [CI] | allowed | p (adj.) | status |",
        "| --- | ---: | ---: | ---: | ---: | ---: | --- |",
    ]

    def row(m: MetricResult, label: str) -> str:
        return (
            f"| {_md(label)} | {value_text(m, m.baseline)} | {value_text(m, m.candidate)} | "
            f"{change_text(m)} | {allowed_text(m)} | {p_text(m.p_adjusted)} | "
            f"{_MARK[m.status]} |"
        )

    lines += [row(m, m.label) for m in c.overall]
    if c.routes:
        lines += [
            "",
            "<details><summary>Per route</summary>",
            "",
            "| route | metric | baseline | candidate | change [CI] | allowed | p (adj.) | status |",
            "| --- | --- | ---: | ---: | ---: | ---: | ---: | --- |",
        ]
        for route in c.routes:
            lines += [f"| `{_md(route)}` " + row(m, m.label) for m in c.for_route(route)]
        lines += ["", "</details>"]
    if c.new_error_types:
        lines += ["", "**New error types** (never seen in the baseline):", ""]
        lines += [
            f"- `{_md(e['error_type'])}` {fmt.TIMES} {e['occurrences']:,}: "
            f"`{_md((e['sample_message'] or '')[:200])}`"
            for e in c.new_error_types
        ]
    lines += ["", f"<sub>{_md(_footnote(c))}</sub>", ""]
    return "\n".join(lines)


# ----------------------------------------------------------------------- html


def html_section(comparisons: list[tuple[str, Comparison]]) -> str:
    """The report's "Canary verdicts" content: one block per compared pair."""
    if not comparisons:
        return '<p class="empty">No function has two versions to compare in this window.</p>'
    parts = []
    for title, c in comparisons:
        pill = {"pass": "good", "fail": "bad"}.get(c.verdict, "neutral")
        rows = []
        for m in c.metrics:
            if m.route is not None and m.status != "fail":
                continue
            label = m.label + (f" · {m.route}" if m.route else "")
            status_cls = {"pass": "good", "fail": "bad"}.get(m.status, "neutral")
            rows.append(
                "<tr>"
                f"<td>{escape(label)}</td>"
                f'<td class="num">{escape(value_text(m, m.baseline))}</td>'
                f'<td class="num">{escape(value_text(m, m.candidate))}</td>'
                f'<td class="num">{escape(change_text(m))}</td>'
                f'<td class="num">{escape(allowed_text(m))}</td>'
                f'<td class="num">{escape(p_text(m.p_adjusted))}</td>'
                f'<td><span class="pill {status_cls}">{escape(_MARK[m.status])}</span></td>'
                "</tr>"
            )
        errors = ""
        if c.new_error_types:
            items = "".join(
                f'<li><span class="err">{escape(e["error_type"])}</span> {fmt.TIMES} '
                f'{e["occurrences"]:,}: <code class="msg">'
                f"{escape((e['sample_message'] or '')[:200])}</code></li>"
                for e in c.new_error_types
            )
            errors = f'<p class="small">New error types:</p><ul class="small">{items}</ul>'
        parts.append(
            f'<div class="canary"><h3>{escape(title)} '
            f'<span class="pill {pill}">{escape(c.verdict)}</span></h3>'
            f'<p class="muted">{escape(c.reason)}</p>'
            '<div class="table-wrap"><table><thead><tr><th>metric</th>'
            '<th class="num">baseline</th><th class="num">candidate</th>'
            '<th class="num">change [CI]</th><th class="num">allowed</th>'
            '<th class="num">p (adj.)</th><th>status</th></tr></thead>'
            f"<tbody>{''.join(rows)}</tbody></table></div>{errors}"
            f'<p class="muted small">{escape(_footnote(c))}</p></div>'
        )
    return "".join(parts)
