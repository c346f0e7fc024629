"""Shared helpers for the ingest tests: fixture paths and a small query helper."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

FIXTURES = Path(__file__).parent / "fixtures"

R = {i: f"8f507cfc-000{i}-4697-b07a-ac58fc914c95" for i in range(1, 10)}


def rows(db: Path, sql: str, *params: object) -> list[tuple]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute(sql, list(params)).fetchall()
    finally:
        con.close()


def one(db: Path, sql: str, *params: object) -> tuple:
    result = rows(db, sql, *params)
    assert len(result) == 1, result
    return result[0]


def invocation(db: Path, request_id: str) -> dict:
    con = duckdb.connect(str(db), read_only=True)
    try:
        cur = con.execute("SELECT * FROM invocations WHERE request_id = ?", [request_id])
        names = [d[0] for d in cur.description]
        found = cur.fetchall()
    finally:
        con.close()
    assert len(found) == 1, f"{request_id}: {len(found)} rows"
    return dict(zip(names, found[0], strict=True))


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "test.duckdb"
