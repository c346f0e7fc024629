"""One SparkSession for the whole test session (local[2], UI off, 127.0.0.1 only).

Starting Spark costs tens of seconds on a loaded 2-core machine, so every Spark test
shares this one. Outside CI a missing pyspark or Java skips them with the reason; under
``CI=true`` it fails them (``.ci/run`` installs pyspark and checks Java first).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest


@pytest.fixture(scope="session")
def spark() -> Iterator[Any]:
    in_ci = os.environ.get("CI") == "true"
    if not in_ci:
        pytest.importorskip("pyspark")
    from fnlens.analysis._spark import check_java, spark_session
    from fnlens.exceptions import SparkUnavailableError

    try:
        check_java()
    except SparkUnavailableError as exc:
        if in_ci:  # CI must run them: a missing Java is a broken machine, not a skip
            pytest.fail(str(exc))
        pytest.skip(str(exc))
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    # tiny data: interpreted expressions and no adaptive re-planning cost less than codegen
    session = spark_session(
        "local[2]",
        shuffle_partitions=2,
        conf={"spark.sql.codegen.wholeStage": "false", "spark.sql.adaptive.enabled": "false"},
    )
    yield session
    session.stop()
