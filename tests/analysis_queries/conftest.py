"""Fixtures: an in-memory fnlens database loaded with the deterministic data set."""

from __future__ import annotations

from typing import Any

import pytest

from fnlens.analysis.db import memory_db

from .datagen import generate, insert


@pytest.fixture(scope="session")
def rows() -> list[dict[str, Any]]:
    return generate()


@pytest.fixture(scope="session")
def con(rows: list[dict[str, Any]]) -> Any:
    connection = memory_db()
    insert(connection, rows)
    yield connection
    connection.close()
