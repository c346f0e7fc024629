"""The documentation points only at what the repository holds.

- Every relative Markdown link in the docs resolves to a file or folder of the
  repository, and a ``#fragment`` into a Markdown page names one of its headings
  (GitHub's anchor rule: lower-cased, punctuation dropped, spaces as hyphens).
- No file cites the design document the repository does not ship: ``docs/architecture.md``
  and the user pages are the references.
"""

from __future__ import annotations

import bisect
import os
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

PAGES = sorted(
    [
        *ROOT.glob("*.md"),
        *(ROOT / "docs").glob("*.md"),
        *(ROOT / "bench").glob("*.md"),
        *(ROOT / "collectors").glob("*.md"),
        *(ROOT / "examples").rglob("*.md"),
    ]
)

_FENCE = re.compile(r"^\s*(```|~~~)")
_LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
_HEADING = re.compile(r"^#{1,6}\s+(.+?)\s*#*\s*$")


def _prose_lines(page: Path) -> list[tuple[int, str]]:
    """Numbered lines outside fenced code blocks."""
    out: list[tuple[int, str]] = []
    fenced = False
    for number, line in enumerate(page.read_text(encoding="utf-8").splitlines(), 1):
        if _FENCE.match(line):
            fenced = not fenced
            continue
        if not fenced:
            out.append((number, line))
    return out


def _anchor(heading: str) -> str:
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link's text only
    text = text.replace("`", "").strip().lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def _anchors(page: Path) -> set[str]:
    seen: dict[str, int] = {}
    anchors: set[str] = set()
    for _, line in _prose_lines(page):
        match = _HEADING.match(line)
        if not match:
            continue
        base = _anchor(match.group(1))
        count = seen.get(base, 0)
        seen[base] = count + 1
        anchors.add(base if count == 0 else f"{base}-{count}")
    return anchors


def test_anchor_rule() -> None:
    assert _anchor("Deadline (timeouts)") == "deadline-timeouts"
    assert _anchor("`fnlens demo`") == "fnlens-demo"
    assert _anchor("Percentiles: exact nearest-rank (`quantile_disc`)") == (
        "percentiles-exact-nearest-rank-quantile_disc"
    )
    assert _anchor("Import rules") == "import-rules"


def test_the_pages_are_found() -> None:
    names = {p.relative_to(ROOT).as_posix() for p in PAGES}
    assert {"README.md", "docs/architecture.md", "docs/api.md"} <= names


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_relative_links_resolve(page: Path) -> None:
    broken: list[str] = []
    prose = _prose_lines(page)
    text = "\n".join(line for _, line in prose)  # a link's text may span lines
    starts = [0]
    for _, line in prose:
        starts.append(starts[-1] + len(line) + 1)
    for match in _LINK.finditer(text):
        target = match.group(1)
        number = prose[bisect.bisect_right(starts, match.start()) - 1][0]
        if re.match(r"^[a-z][a-z0-9+.-]*:", target):  # https:, mailto:
            continue
        path_part, _, fragment = target.partition("#")
        resolved = (page.parent / path_part).resolve() if path_part else page
        where = f"{page.relative_to(ROOT)}:{number}: {target}"
        if not resolved.exists():
            broken.append(f"{where} (no such file)")
        elif fragment and resolved.suffix == ".md" and fragment not in _anchors(resolved):
            broken.append(f"{where} (no heading #{fragment})")
    assert broken == []


# Split so that this file does not match itself.
_ABSENT = re.compile("DESIGN" + r"(\.md)?\s*§|" + "DESIGN" + r"\.md|shared/" + "DESIGN")
_TEXT_SUFFIXES = {".py", ".md", ".toml", ".sql", ".json", ".yaml", ".yml", ".txt", ".cfg"}
# what a run leaves behind (not the repository's own text)
_OUTPUT_DIRS = {"__pycache__", "node_modules", "build", "dist", "test-artifacts", "fnlens-demo"}


def _repository_text_files() -> list[Path]:
    files = [ROOT / ".ci" / "run"]
    for folder, dirs, names in os.walk(ROOT):
        # hidden folders (.git, .venv, caches) and run output are not walked into
        dirs[:] = [d for d in dirs if not d.startswith(".") and d not in _OUTPUT_DIRS]
        files += [Path(folder, n) for n in names if Path(n).suffix in _TEXT_SUFFIXES]
    return sorted(files)


def test_no_references_to_documents_the_repository_does_not_hold() -> None:
    found: list[str] = []
    for path in _repository_text_files():
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue
        for number, line in enumerate(text.splitlines(), 1):
            if _ABSENT.search(line):
                found.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert found == [], (
        "cite docs/architecture.md or the user page instead of the design document:\n"
        + "\n".join(found)
    )


def _marked_command(marker: str) -> str:
    """The fenced block right after ``<!-- marker -->`` in README.md (what .ci/run reads)."""
    lines = (ROOT / "README.md").read_text(encoding="utf-8").splitlines()
    start = lines.index(f"<!-- {marker} -->")
    fence = next(i for i in range(start + 1, len(lines)) if lines[i].startswith("```"))
    end = next(i for i in range(fence + 1, len(lines)) if lines[i].startswith("```"))
    return "\n".join(lines[fence + 1 : end]).strip()


@pytest.mark.parametrize("marker", ["demo-command", "test-command"])
def test_contributing_gives_the_readme_commands(marker: str) -> None:
    command = _marked_command(marker)
    assert command.startswith("python3 -m venv .venv")
    assert f"```bash\n{command}\n```" in (ROOT / "CONTRIBUTING.md").read_text(encoding="utf-8")
