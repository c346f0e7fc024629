"""The before/after handlers of docs/migrating-from-powertools.md, read from the page."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "migrating-from-powertools.md"


def handler_code(which: str) -> str:
    """The ```python block after ``<!-- migration: before -->`` (or ``after``)."""
    text = DOC.read_text(encoding="utf-8")
    marker = text.index(f"<!-- migration: {which} -->")
    start = text.index("```python\n", marker) + len("```python\n")
    return text[start : text.index("\n```", start)] + "\n"


def line_of(code: str, needle: str) -> int:
    """1-based number of the first line of ``code`` containing ``needle``."""
    for number, line in enumerate(code.splitlines(), 1):
        if needle in line:
            return number
    raise AssertionError(f"{needle!r} not in the handler code")
