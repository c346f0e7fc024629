"""``fnlens ingest`` reads fnlens's Powertools-shaped lines as it reads real Powertools lines.

Both log streams of the migration page's handlers (before: aws-lambda-powertools; after:
fnlens with ``log_fields="powertools"``) are written as raw log-stream copies and loaded
with the ``fnlens ingest`` command; the log rows of the handlers' lines must agree column
by column, with values counted here from the runtime's own request ids and trace headers,
and fnlens's invocation records must still give each invocation its outcome and duration."""

from __future__ import annotations

import subprocess
import sys

import duckdb
import pytest

from .conftest import EVENTS

pytestmark = pytest.mark.e2e


def _w3c(trace_header: str) -> str:
    root = dict(part.split("=", 1) for part in trace_header.split(";"))["Root"]
    _version, epoch, unique = root.split("-")
    return epoch + unique


@pytest.fixture(scope="module")
def ingested(migration_runs, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("ingest")
    databases = {}
    for which, run in migration_runs.items():
        stream = tmp / f"{which}.log"
        stream.write_text("\n".join(run.log_lines) + "\n")
        db = tmp / f"{which}.duckdb"
        done = subprocess.run(
            [sys.executable, "-m", "fnlens.cli.main", "ingest", str(stream), "--db", str(db)],
            capture_output=True,
            text=True,
            timeout=240,
        )
        assert done.returncode == 0, done.stdout + done.stderr
        databases[which] = duckdb.connect(str(db), read_only=True)
    yield databases
    for con in databases.values():
        con.close()


LOG_COLUMNS = "level, message, request_id, trace_id, service, function_name"


def _app_logs(con) -> list[tuple]:
    return con.execute(
        f"SELECT {LOG_COLUMNS} FROM logs WHERE message IN ('Collecting payment', 'payment failed')"
        " ORDER BY source_line"
    ).fetchall()


def test_handler_lines_load_as_powertools_lines(migration_runs, ingested):
    for which in ("before", "after"):
        run = migration_runs[which]
        expected = []
        for invocation, event in zip(run.invocations, EVENTS, strict=True):
            result = invocation.result
            ids = (result.request_id, _w3c(result.trace_header), "payment", "payment-fn")
            expected.append(("info", "Collecting payment", *ids))
            if event.get("fail"):
                expected.append(("error", "payment failed", *ids))
        assert _app_logs(ingested[which]) == expected, which


def test_attributes_keep_the_powertools_extras(ingested):
    for which in ("before", "after"):
        rows = (
            ingested[which]
            .execute(
                "SELECT attributes->>'location', attributes->>'order_id' FROM logs"
                " WHERE message = 'Collecting payment' ORDER BY source_line"
            )
            .fetchall()
        )
        assert [order for _location, order in rows] == [str(e["order_id"]) for e in EVENTS]
        assert all(location.startswith("handler:") for location, _order in rows)


def test_fnlens_records_still_give_outcome_and_duration(migration_runs, ingested):
    run = migration_runs["after"]
    rows = {
        row[0]: row[1:]
        for row in ingested["after"]
        .execute(
            "SELECT request_id, outcome, duration_ms, cold_start, memory_size_mb FROM invocations"
        )
        .fetchall()
    }
    assert len(rows) == len(EVENTS)
    for invocation in run.invocations:
        (record,) = [x for x in invocation.lines if x.get("event") == "invocation"]
        outcome, duration_ms, cold_start, memory = rows[invocation.result.request_id]
        # the handler caught its exception: the record's outcome, not the ERROR line's
        assert outcome == record["outcome"] == "success"
        assert duration_ms == pytest.approx(record["duration_ms"])
        assert (cold_start, memory) == (invocation.result.cold_start, 256)
