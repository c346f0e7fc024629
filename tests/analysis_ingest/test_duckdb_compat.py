"""A database written by `fnlens ingest` opens in an older DuckDB (issue 13.11).

The older DuckDB comes from PyPI into its own venv, cached under the temp dir keyed by
version, so the download happens once per machine. The test is skipped (saying why)
only when the registry cannot be reached.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import duckdb
import pytest

from fnlens.analysis._schema import TABLES
from fnlens.analysis.ingest import ingest

from .conftest import FIXTURES

OLD_DUCKDB = "1.1.3"  # the floor in pyproject.toml: the oldest DuckDB that must read our files
_NETWORK_ERRORS = (
    "NewConnectionError",
    "Name or service not known",
    "Temporary failure in name resolution",
    "Network is unreachable",
    "Connection refused",
    "ConnectTimeout",
    "ReadTimeout",
    "ProxyError",
    "Max retries exceeded",
)

_READER = """
import json, sys
import duckdb
con = duckdb.connect(sys.argv[1], read_only=True)
out = {"version": duckdb.__version__}
for table in sys.argv[2:]:
    out[table] = con.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
out["columns"] = con.execute(
    "SELECT table_name, count(*) FROM information_schema.columns GROUP BY 1 ORDER BY 1"
).fetchall()
out["rows"] = con.execute(
    "SELECT request_id, outcome, duration_ms, CAST(ts AS VARCHAR) FROM invocations "
    "ORDER BY request_id, ts"
).fetchall()
out["attrs"] = con.execute(
    "SELECT count(*) FROM spans WHERE cardinality(attributes) > 0"
).fetchone()[0]
print(json.dumps(out))
"""


def _old_duckdb_python(version: str) -> Path:
    """A venv with duckdb==version, built once and reused (keyed by version)."""
    root = Path(tempfile.gettempdir()) / f"fnlens-test-duckdb-{version}"
    python = root / "bin" / "python"
    probe = [str(python), "-c", "import duckdb; print(duckdb.__version__)"]
    if python.exists():
        done = subprocess.run(probe, capture_output=True, text=True, timeout=60)
        if done.returncode == 0 and done.stdout.strip() == version:
            return python
    building = Path(tempfile.mkdtemp(prefix=f"fnlens-test-duckdb-{version}-", dir=root.parent))
    try:
        subprocess.run([sys.executable, "-m", "venv", str(building)], check=True, timeout=120)
        pip = subprocess.run(
            [
                str(building / "bin" / "python"),
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
                "--retries",
                "1",
                "--timeout",
                "20",
                f"duckdb=={version}",
            ],
            capture_output=True,
            text=True,
            timeout=600,
        )
        if pip.returncode != 0:
            output = pip.stdout + pip.stderr
            if any(marker in output for marker in _NETWORK_ERRORS):
                pytest.skip(f"PyPI unreachable, cannot install duckdb=={version}: {output[-300:]}")
            raise AssertionError(f"pip install duckdb=={version} failed:\n{output[-2000:]}")
        shutil.rmtree(root, ignore_errors=True)
        os.replace(building, root)  # venvs hold absolute paths: rebuild scripts not needed
    finally:
        shutil.rmtree(building, ignore_errors=True)
    done = subprocess.run(probe, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and done.stdout.strip() == version, done.stderr
    return python


@pytest.mark.slow
def test_an_older_duckdb_reads_the_database(tmp_path: Path) -> None:
    db = tmp_path / "fnlens.duckdb"
    first = ingest([FIXTURES / "fnlens.jsonl"], db=db, progress=False)
    assert first.totals["invocations"] > 0
    ingest([FIXTURES], db=db, progress=False)  # a second run merges into the same file
    with duckdb.connect(str(db), read_only=True) as con:
        expected = {t: con.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in TABLES}
        rows = con.execute(
            "SELECT request_id, outcome, duration_ms, CAST(ts AS VARCHAR) FROM invocations "
            "ORDER BY request_id, ts"
        ).fetchall()
    assert all(expected.values()), expected

    python = _old_duckdb_python(OLD_DUCKDB)
    reader = tmp_path / "reader.py"
    reader.write_text(_READER)
    done = subprocess.run(
        [str(python), str(reader), str(db), *TABLES], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout)
    assert seen["version"] == OLD_DUCKDB
    assert {t: seen[t] for t in TABLES} == expected
    assert [tuple(r) for r in seen["rows"]] == [tuple(r) for r in rows]
    columns = dict(map(tuple, seen["columns"]))
    assert {t: columns[t] for t in TABLES} == {t: len(cols) for t, cols in TABLES.items()}
    assert seen["attrs"] > 0  # MAP columns read back
