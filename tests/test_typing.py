"""The public modules type-check (mypy, strict) and a decorated handler keeps its signature.

``mypy`` runs with the configuration in ``pyproject.toml`` ([tool.mypy]: the public
modules and ``tests/typecheck/``), from the repository root so that its cache
(``.mypy_cache``) is reused between runs. A negative control makes sure the check
sees a wrong call to a decorated handler at all.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.slow


def _mypy(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mypy", "--config-file", str(ROOT / "pyproject.toml"), *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )


def test_public_modules_pass_mypy_strict() -> None:
    done = _mypy()
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Success: no issues found" in done.stdout


def test_a_wrong_call_to_a_decorated_handler_is_reported(tmp_path: Path) -> None:
    source = textwrap.dedent(
        """
        import fnlens


        @fnlens.instrument(service="orders")
        def handler(event: dict[str, str], context: object) -> int:
            return 1


        result: str = handler({"a": "b"}, None)
        handler(["not", "a", "dict"], None)
        """
    ).lstrip()
    lines = source.splitlines()
    wrong_result = 1 + next(i for i, line in enumerate(lines) if line.startswith("result: str"))
    wrong_event = 1 + next(i for i, line in enumerate(lines) if line.startswith("handler(["))
    case = tmp_path / "wrong_call.py"
    case.write_text(source)
    done = _mypy(str(case))
    assert done.returncode == 1, done.stdout + done.stderr
    errors = [line for line in done.stdout.splitlines() if ": error: " in line]
    # an int assigned to a str, and a list where the handler declares a dict
    assert [int(line.split(":")[1]) for line in errors] == [wrong_result, wrong_event], done.stdout
    assert errors[0].endswith("[assignment]") and errors[1].endswith("[arg-type]"), done.stdout


def test_the_package_says_it_is_typed() -> None:
    import fnlens

    marker = Path(fnlens.__file__).with_name("py.typed")
    assert marker.is_file()
    assert marker.read_text() == ""
