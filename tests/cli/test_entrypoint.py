"""The installed ``fnlens`` console script: --version, --help, clear errors."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import fnlens


def _fnlens() -> list[str]:
    script = Path(sys.executable).with_name("fnlens")
    if script.exists():
        return [str(script)]
    found = shutil.which("fnlens")
    if found is None:
        pytest.fail("the fnlens console script is not installed (pip install -e .)")
    return [found]


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*_fnlens(), *args], capture_output=True, text=True, timeout=60)


def test_version():
    result = _run("--version")
    assert result.returncode == 0
    assert result.stdout.strip() == f"fnlens, version {fnlens.__version__}"


def test_help_lists_the_subcommands():
    result = _run("--help")
    assert result.returncode == 0
    for command in ("ingest", "query", "queries", "sql", "report", "dashboard", "demo", "local"):
        assert f"  {command}" in result.stdout, command


def test_unknown_command_is_one_clear_line_and_nonzero():
    result = _run("frobnicate")
    assert result.returncode != 0
    assert "No such command 'frobnicate'" in result.stderr
    assert "Traceback" not in result.stderr


def test_help_imports_nothing_heavy():
    code = (
        "import sys; from fnlens.cli.main import main\n"
        "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
        "names = ('duckdb', 'pyarrow', 'plotly', 'boto3', 'grpc')\n"
        "heavy = [m for m in names if m in sys.modules]\n"
        "print('HEAVY', heavy)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert "HEAVY []" in out.stdout, out.stdout + out.stderr
