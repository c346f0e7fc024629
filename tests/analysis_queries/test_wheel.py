"""The .sql files ship inside the wheel and the queries run from it, not from the checkout."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import duckdb
import pytest

from fnlens.analysis._schema import TABLES, create_table_sql
from fnlens.analysis.catalog import load_catalog

from .datagen import generate, insert

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
         "-w", str(out), str(ROOT)],
        check=True, timeout=300, capture_output=True,
    )  # fmt: skip
    (built,) = out.glob("fnlens-*.whl")
    return built


def test_sql_files_are_in_the_wheel(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    for name in load_catalog():
        assert f"fnlens/_data/queries/{name}.sql" in names


def test_the_wheel_is_marked_typed(wheel: Path) -> None:
    # PEP 561: type checkers read fnlens's annotations from an installed wheel
    assert "fnlens/py.typed" in zipfile.ZipFile(wheel).namelist()


def test_queries_run_from_the_unpacked_wheel(wheel: Path, tmp_path: Path) -> None:
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    db = tmp_path / "fnlens.duckdb"
    with duckdb.connect(str(db)) as con:
        for table in TABLES:
            con.execute(create_table_sql(table))
        insert(con, generate(n=200, seed=5))
    script = (
        "import json, sys, fnlens, fnlens._resources as r\n"
        "from fnlens.cli.main import main\n"
        "print(json.dumps({'pkg': fnlens.__file__, 'queries': str(r.data_dir('queries'))}))\n"
        "main(['query', 'per_version', '--db', sys.argv[1], '--format', 'json'])\n"
    )
    env = {**os.environ, "PYTHONPATH": str(site)}
    done = subprocess.run(
        [sys.executable, "-c", script, str(db)],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    where, rest = done.stdout.split("\n", 1)
    paths = json.loads(where)
    assert paths["pkg"].startswith(str(site)), paths
    assert paths["queries"] == str(site / "fnlens" / "_data" / "queries")
    rows = json.loads(rest)
    assert sum(r["invocations"] for r in rows) == 200
