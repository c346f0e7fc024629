"""One-way layers (docs/architecture.md, issue 12 item 3): ``fnlens.runtime`` imports neither
``fnlens.exporters`` nor ``fnlens.analysis``, and nothing imports ``fnlens.cli``.

Two checks, because each sees what the other cannot: import-linter's contracts in
pyproject.toml (the static import graph, indirect chains included), and a scan of the
source for imports by string — ``importlib.import_module("fnlens.exporters._setup")``,
``__import__``, ``find_spec`` or a module name kept in a constant — which no static
import graph contains.
"""

from __future__ import annotations

import ast
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "src" / "fnlens"

# (the modules a rule applies to, the modules they must not import)
RULES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("fnlens.runtime", ("fnlens.exporters", "fnlens.analysis")),
    ("*", ("fnlens.cli",)),  # every module outside fnlens.cli
)

DYNAMIC_IMPORTERS = {"import_module", "__import__", "find_spec", "import_string", "find_loader"}
MODULE_NAME = re.compile(r"[A-Za-z_][\w]*(\.[A-Za-z_][\w]*)*")


@dataclass(frozen=True)
class Violation:
    path: str
    line: int
    importer: str
    imported: str
    how: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.importer} imports {self.imported} ({self.how})"


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _within(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


def forbidden_for(importer: str) -> tuple[str, ...]:
    found: list[str] = []
    for scope, forbidden in RULES:
        if scope == "*":
            if not _within(importer, "fnlens.cli"):
                found += forbidden
        elif _within(importer, scope):
            found += forbidden
    return tuple(found)


def _resolve_relative(name: str, package: str | None, importer: str, is_package: bool) -> str:
    """``import_module(".exporters", "fnlens")`` → ``fnlens.exporters``."""
    if not name.startswith("."):
        return name
    level = len(name) - len(name.lstrip("."))
    base = (package or importer).split(".")
    if package is None and not is_package:
        base = base[:-1]
    base = base[: len(base) - (level - 1)] if level > 1 else base
    rest = name[level:]
    return ".".join([*base, rest]) if rest else ".".join(base)


def _docstring_nodes(tree: ast.AST) -> set[int]:
    ids: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                ids.add(id(body[0].value))
    return ids


def scan_source(source: str, path: str, importer: str, is_package: bool) -> list[Violation]:
    """Every import of a forbidden module in one file: statements (absolute and
    relative), calls of dynamic importers with a literal name, and string constants
    that are a forbidden module's dotted name (a name kept for a later import)."""
    forbidden = forbidden_for(importer)
    if not forbidden:
        return []
    tree = ast.parse(source, filename=path)
    found: list[Violation] = []

    def check(name: str, node: ast.AST, how: str) -> bool:
        for target in forbidden:
            if _within(name, target):
                found.append(Violation(path, node.lineno, importer, name, how))
                return True
        return False

    seen_literals: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                check(alias.name, node, "import")
        elif isinstance(node, ast.ImportFrom):
            base = _resolve_relative(
                "." * node.level + (node.module or ""), None, importer, is_package
            )
            if not check(base, node, "from-import"):  # `from fnlens import exporters`
                for alias in node.names:
                    check(f"{base}.{alias.name}", node, "from-import")
        elif isinstance(node, ast.Call):
            func = node.func
            called = (
                func.attr
                if isinstance(func, ast.Attribute)
                else func.id
                if isinstance(func, ast.Name)
                else ""
            )
            if called in DYNAMIC_IMPORTERS and node.args:
                first = node.args[0]
                if isinstance(first, ast.Constant) and isinstance(first.value, str):
                    package = None
                    if len(node.args) > 1 and isinstance(node.args[1], ast.Constant):
                        package = node.args[1].value
                    for kw in node.keywords:
                        if kw.arg == "package" and isinstance(kw.value, ast.Constant):
                            package = kw.value.value
                    name = _resolve_relative(first.value, package, importer, is_package)
                    seen_literals.add(id(first))
                    check(name, node, f"{called}() by string")
    docstrings = _docstring_nodes(tree)
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and id(node) not in seen_literals
            and id(node) not in docstrings
            and MODULE_NAME.fullmatch(node.value)
        ):
            check(node.value, node, "module name in a string constant")
    return found


def scan_package() -> list[Violation]:
    violations: list[Violation] = []
    for path in sorted(PACKAGE.rglob("*.py")):
        violations += scan_source(
            path.read_text(encoding="utf-8"),
            str(path.relative_to(ROOT)),
            module_name(path),
            path.name == "__init__.py",
        )
    return violations


# ------------------------------------------------------------------ the scanner itself
def _scan(source: str, importer: str = "fnlens.runtime._setup") -> list[str]:
    return [v.imported for v in scan_source(source, "x.py", importer, False)]


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ('import importlib\nimportlib.import_module("fnlens.exporters._setup")\n',
         ["fnlens.exporters._setup"]),
        ('from importlib import import_module\nimport_module("fnlens.analysis")\n',
         ["fnlens.analysis"]),
        ('import importlib\nimportlib.import_module(".exporters", "fnlens")\n',
         ["fnlens.exporters"]),
        ('import importlib\nimportlib.import_module("..exporters._otlp", package=__package__)\n',
         ["fnlens.exporters._otlp"]),  # relative to the importer's own package
        ('__import__("fnlens.exporters._otlp")\n', ["fnlens.exporters._otlp"]),
        ('import importlib.util\nimportlib.util.find_spec("fnlens.cli.main")\n',
         ["fnlens.cli.main"]),
        ('MODULE = "fnlens.exporters._setup"\n', ["fnlens.exporters._setup"]),
        ("from fnlens.exporters import setup\n", ["fnlens.exporters"]),
        ("from fnlens import exporters\n", ["fnlens.exporters"]),
        ("from .. import analysis\n", ["fnlens.analysis"]),
        ("from ..exporters._otlp import x\n", ["fnlens.exporters._otlp"]),
        ("import fnlens.cli\n", ["fnlens.cli"]),
        ('"""Imports fnlens.exporters lazily."""\nX = 1\n', []),  # a docstring
        ('LOG = "fnlens.exporters failed"\n', []),  # prose, not a module name
        ('import importlib\nimportlib.import_module("fnlens._config")\n', []),
        ("from fnlens.runtime import telemetry\n", []),
    ],
)  # fmt: skip
def test_scanner_finds_imports_by_statement_and_by_string(source, expected):
    assert _scan(source) == expected


def test_scanner_applies_each_rule_to_its_own_modules():
    text = 'import importlib\nimportlib.import_module("fnlens.exporters._setup")\n'
    assert _scan(text, importer="fnlens._api") == []  # the exporters may be imported there
    assert _scan("import fnlens.cli.main\n", importer="fnlens.demo._runner") == ["fnlens.cli.main"]
    assert _scan("import fnlens.cli._common\n", importer="fnlens.cli.main") == []


# --------------------------------------------------------------------- the package
def test_no_module_imports_across_a_forbidden_layer_even_by_string():
    violations = scan_package()
    assert violations == [], "layer violations:\n" + "\n".join(map(str, violations))


def _contract_modules() -> list[str]:
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        tomllib = pytest.importorskip("tomli")
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    (cli_contract,) = [
        c for c in config["contracts"] if c.get("forbidden_modules") == ["fnlens.cli"]
    ]
    return sorted(cli_contract["source_modules"])


def test_the_nothing_imports_cli_contract_names_every_other_module():
    top_level = sorted(
        f"fnlens.{p.stem if p.is_file() else p.name}"
        for p in PACKAGE.iterdir()
        if (p.suffix == ".py" and p.name != "__init__.py")
        or (p.is_dir() and (p / "__init__.py").exists())
    )
    assert _contract_modules() == [m for m in top_level if m != "fnlens.cli"]


def _lint_imports() -> str:
    beside = Path(sys.executable).parent / "lint-imports"
    found = str(beside) if beside.exists() else shutil.which("lint-imports")
    if found is None:
        pytest.fail("lint-imports is not installed: pip install -e '.[test]' (import-linter)")
    return found


def test_import_linter_contracts_hold():
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    proc = subprocess.run(
        [_lint_imports(), "--no-cache"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=240,
        env=env,
    )
    assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-2000:]
    assert "Contracts: 3 kept, 0 broken." in proc.stdout, proc.stdout[-2000:]
