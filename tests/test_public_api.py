"""docs/api.md lists the public API once; the code agrees with it.

- Every module with a heading under "## Python" defines ``__all__``: a list of unique
  strings, each of which exists, and exactly the names of that module's table.
- The command table names exactly the ``fnlens`` subcommands.
- Every ``FNLENS_*`` / ``OTEL_*`` variable the package reads is listed under
  "## Environment variables", and every ``FNLENS_*`` variable listed there is read.

The page is parsed with a few lines of plain Python here, independently of fnlens.
"""

from __future__ import annotations

import ast
import importlib
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
API_MD = ROOT / "docs" / "api.md"
SRC = ROOT / "src" / "fnlens"

_HEADING = re.compile(r"^(#{2,3}) (.+?)\s*$")
_MODULE_HEADING = re.compile(r"^`(fnlens(?:\.[a-z_]+)*)`$")
_FIRST_CELL = re.compile(r"^\|\s*((?:[^|\\]|\\.)*?)\s*\|")  # `\|` inside a cell
_CODE = re.compile(r"`([^`]+)`")
_ENV_NAME = re.compile(r"^(?:FNLENS|OTEL)_[A-Z0-9_]*[A-Z0-9]$")


def _sections() -> dict[str, list[str]]:
    """Heading text -> the first cells of the table rows under it (header rows dropped)."""
    sections: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in API_MD.read_text(encoding="utf-8").splitlines():
        heading = _HEADING.match(line)
        if heading:
            assert heading.group(2) not in sections, f"docs/api.md: two headings {line!r}"
            current = sections[heading.group(2)] = []
            continue
        cell = _FIRST_CELL.match(line)
        if current is not None and cell:
            text = cell.group(1)
            if text in ("name", "command", "variable") or set(text) <= set("-: "):
                continue  # a table's header or its separator
            current.append(text)
    return sections


def _documented_modules() -> dict[str, set[str]]:
    modules: dict[str, set[str]] = {}
    for heading, cells in _sections().items():
        module = _MODULE_HEADING.match(heading)
        if module:
            names = [_CODE.findall(cell) for cell in cells]
            assert all(len(n) == 1 for n in names), f"{heading}: one `name` per row: {cells}"
            modules[module.group(1)] = {n[0] for n in names}
    return modules


DOCUMENTED = _documented_modules()


def test_the_page_lists_the_core_modules() -> None:
    # the parser found the tables (a test that cannot pass on an empty page)
    assert {"fnlens", "fnlens.testing", "fnlens.exporters"} <= set(DOCUMENTED)
    assert "instrument" in DOCUMENTED["fnlens"]
    assert "capture" in DOCUMENTED["fnlens.testing"]


@pytest.mark.parametrize("module_name", sorted(DOCUMENTED))
def test_public_module_all_matches_the_docs(module_name: str) -> None:
    assert not any(part.startswith("_") for part in module_name.split(".")), (
        f"{module_name} is private (a `_` module) but listed as public in docs/api.md"
    )
    module = importlib.import_module(module_name)
    exported = getattr(module, "__all__", None)
    assert exported is not None, f"{module_name} has no __all__"
    assert isinstance(exported, (list, tuple)), f"{module_name}.__all__ is {type(exported)}"
    assert all(isinstance(name, str) for name in exported)
    assert len(set(exported)) == len(exported), f"{module_name}.__all__ repeats a name"
    missing = [name for name in exported if not hasattr(module, name)]
    assert missing == [], f"{module_name}.__all__ names what does not exist: {missing}"
    documented = DOCUMENTED[module_name]
    assert sorted(set(exported) - documented) == [], (
        f"{module_name}.__all__ exports names docs/api.md does not list: add a row to its table"
    )
    assert sorted(documented - set(exported)) == [], (
        f"docs/api.md lists names {module_name}.__all__ does not export"
    )


def test_star_import_gives_exactly_all() -> None:
    for module_name in sorted(DOCUMENTED):
        namespace: dict[str, object] = {}
        exec(f"from {module_name} import *", namespace)
        got = {name for name in namespace if name != "__builtins__"}
        assert got == set(importlib.import_module(module_name).__all__), module_name


def test_the_command_table_names_every_subcommand() -> None:
    from fnlens.cli.main import SUBCOMMANDS

    cells = _sections()["The command line"]
    documented = set()
    for cell in cells:
        words = _CODE.findall(cell)[0].split()
        assert words[0] == "fnlens", cell
        documented.add(words[1])
    assert documented == set(SUBCOMMANDS)


def _variables_read_by_the_package() -> dict[str, set[str]]:
    """Every string constant that is an FNLENS_/OTEL_ variable name, with where it is."""
    found: dict[str, set[str]] = {}
    for path in sorted(SRC.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            is_text = isinstance(node, ast.Constant) and isinstance(node.value, str)
            if is_text and _ENV_NAME.match(node.value):
                found.setdefault(node.value, set()).add(str(path.relative_to(ROOT)))
    return found


def _documented_variables() -> tuple[set[str], set[str]]:
    """(names, prefixes) listed in the environment tables; ``OTEL_BSP_*`` is a prefix."""
    text = API_MD.read_text(encoding="utf-8")
    section = text.split("## Environment variables", 1)[1]
    names: set[str] = set()
    prefixes: set[str] = set()
    for line in section.splitlines():
        cell = _FIRST_CELL.match(line)
        if not cell:
            continue
        for code in _CODE.findall(cell.group(1)):
            if code.endswith("_*"):
                prefixes.add(code[:-1])
            elif _ENV_NAME.match(code):
                names.add(code)
    return names, prefixes


def test_every_variable_the_package_reads_is_documented() -> None:
    read = _variables_read_by_the_package()
    assert len(read) > 20  # the scan found the settings
    names, prefixes = _documented_variables()
    undocumented = {
        name: sorted(where)
        for name, where in read.items()
        if name not in names and not any((name + "_").startswith(p) for p in prefixes)
    }
    assert undocumented == {}, "add these to docs/api.md § Environment variables"


def test_every_documented_fnlens_variable_is_read() -> None:
    read = _variables_read_by_the_package()
    names, _ = _documented_variables()
    stale = sorted(name for name in names if name.startswith("FNLENS_") and name not in read)
    assert stale == [], "docs/api.md lists FNLENS_ variables the package never reads"
