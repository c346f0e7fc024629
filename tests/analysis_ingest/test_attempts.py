"""The merge rule (issue 19.9, 13.9): request id and attempt, order-independent, idempotent.

Async Lambda invocations are retried with the same request id (a minute or more after
the failed attempt): each attempt is its own row. Two complete records of the same kind
for one attempt never mix. An empty request id is no id. Log events that differ only by
position in a page stay apart.
"""

from __future__ import annotations

import itertools
import json
from datetime import datetime, timedelta
from pathlib import Path

import duckdb
import pytest

from fnlens.analysis.ingest import ingest

from .conftest import rows

RID = "3c1f0a2e-5b7d-4e9a-8c6b-1d2e3f4a5b6c"
T0 = datetime(2026, 11, 22, 10, 0, 0)


def _iso(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _ms(t: datetime) -> int:
    return int((t - datetime(1970, 1, 1)).total_seconds() * 1000)


def _fnlens(ts: datetime, **kw: object) -> str:
    rec = {
        "timestamp": _iso(ts),
        "level": "info",
        "event": "invocation",
        "service": "orders",
        "function_name": "orders-worker",
        "function_version": "7",
        "request_id": RID,
        "trigger": "pubsub",
        "duration_ms": 20.0,
        "outcome": "success",
    }
    rec.update(kw)
    return json.dumps(rec)


# attempt 1 at T0 times out after 3 s; Lambda retries 1 min later (attempt 2, succeeds)
T1 = T0 + timedelta(seconds=63, milliseconds=5)


def _retry_files(tmp_path: Path) -> list[Path]:
    records = tmp_path / "app.jsonl"
    records.write_text(
        _fnlens(
            T0 + timedelta(milliseconds=2),
            outcome="timeout",
            duration_ms=2998.0,
            error_type="TimeoutError",
            error_message="about to time out",
        )
        + "\n"
        + _fnlens(T1 + timedelta(milliseconds=2), duration_ms=20.5)
        + "\n"
    )
    events = [
        (T0, f"START RequestId: {RID} Version: 7\n"),
        (
            T0 + timedelta(milliseconds=3001),
            f"{_iso(T0 + timedelta(milliseconds=3001))} {RID} Task timed out after 3.00 seconds\n",
        ),
        (T0 + timedelta(milliseconds=3003), f"END RequestId: {RID}\n"),
        (
            T0 + timedelta(milliseconds=3003),
            (
                f"REPORT RequestId: {RID}\tDuration: 3000.00 ms\t"
                "Billed Duration: 3000 ms\tMemory Size: 256 MB\tMax Memory Used: 90 MB\t"
                "Status: timeout\n"
            ),
        ),
        (T1, f"START RequestId: {RID} Version: 7\n"),
        (T1 + timedelta(milliseconds=24), f"END RequestId: {RID}\n"),
        (
            T1 + timedelta(milliseconds=24),
            (
                f"REPORT RequestId: {RID}\tDuration: 22.10 ms\t"
                "Billed Duration: 23 ms\tMemory Size: 256 MB\tMax Memory Used: 91 MB\t\n"
            ),
        ),
    ]
    platform = tmp_path / "platform.json"
    platform.write_text(
        json.dumps(
            {
                "events": [
                    {"timestamp": _ms(t), "message": m, "ingestionTime": _ms(t) + 40}
                    for t, m in events
                ],
                "nextForwardToken": "f/1",
                "nextBackwardToken": "b/1",
            },
            indent=2,
        )
    )
    return [records, platform]


def _table(db: Path) -> list[tuple]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute("SELECT * FROM invocations ORDER BY request_id, attempt").fetchall()
    finally:
        con.close()


def _every_order(tmp_path: Path, files: list[Path]) -> dict[str, Path]:
    """The same files ingested together and one by one, in every order."""
    dbs = {}
    for n, order in enumerate(itertools.permutations(files)):
        together = tmp_path / f"together-{n}.duckdb"
        ingest(list(order), db=together, progress=False)
        dbs[f"together {[p.name for p in order]}"] = together
        one_by_one = tmp_path / f"sequence-{n}.duckdb"
        for path in order:
            ingest([path], db=one_by_one, progress=False)
        dbs[f"one by one {[p.name for p in order]}"] = one_by_one
    return dbs


def test_a_retry_is_its_own_row_whatever_the_order(tmp_path: Path) -> None:
    files = _retry_files(tmp_path)
    dbs = _every_order(tmp_path, files)
    first = next(iter(dbs.values()))
    got = rows(
        first,
        "SELECT attempt, ts, outcome, error_type, duration_ms, billed_duration_ms, "
        "max_memory_used_mb, source FROM invocations WHERE request_id = ? ORDER BY attempt",
        RID,
    )
    assert got == [
        (
            1,
            T0 + timedelta(milliseconds=2),
            "timeout",
            "TimeoutError",
            2998.0,
            3000,
            90,
            "fnlens+report",
        ),
        (2, T1 + timedelta(milliseconds=2), "success", None, 20.5, 23, 91, "fnlens+report"),
    ]
    reference = _table(first)
    for name, db in dbs.items():
        assert _table(db) == reference, name
    # reading everything again adds and changes nothing
    again = ingest(files, db=first, progress=False)
    assert again.added["invocations"] == 0
    assert _table(first) == reference


def test_two_complete_records_of_one_attempt_never_mix(tmp_path: Path) -> None:
    # the same invocation exported twice by two pipelines that disagree
    a = tmp_path / "a.jsonl"
    a.write_text(
        _fnlens(
            T0, outcome="error", error_type="ValueError", duration_ms=11.0, http_status_code=500
        )
        + "\n"
    )
    b = tmp_path / "b.jsonl"
    b.write_text(
        _fnlens(T0, outcome="success", duration_ms=22.0, http_route="/orders", http_status_code=200)
        + "\n"
    )
    dbs = _every_order(tmp_path, [a, b])
    reference = _table(next(iter(dbs.values())))
    for name, db in dbs.items():
        assert _table(db) == reference, name
    (row,) = rows(
        next(iter(dbs.values())),
        "SELECT outcome, error_type, duration_ms, http_status_code, http_route, attempt "
        "FROM invocations",
    )
    # the error record wins whole (outcome, then its duration and status); the success
    # record only fills what it lacks (the route)
    assert row == ("error", "ValueError", 11.0, 500, "/orders", 1)


@pytest.mark.parametrize("fast", [True, False])
def test_an_empty_request_id_is_no_id(tmp_path: Path, fast: bool) -> None:
    f = tmp_path / "noid.jsonl"
    lines = [
        _fnlens(T0 + timedelta(seconds=i), request_id="", duration_ms=float(i)) for i in range(20)
    ]
    lines += [_fnlens(T0 + timedelta(seconds=30), request_id="  ")]
    record = json.loads(_fnlens(T0 + timedelta(seconds=40)))
    del record["request_id"]
    lines += [json.dumps(record), json.dumps(record)]  # the same record twice: two lines
    lines += [_fnlens(T0 + timedelta(seconds=50), request_id="r-1")]
    f.write_text("\n".join(lines) + "\n")
    # counted from the file: every invocation record without a usable id is its own row
    no_id = sum(1 for ln in lines if not (json.loads(ln).get("request_id") or "").strip())
    assert no_id == 23

    db = tmp_path / "t.duckdb"
    report = ingest([f], db=db, progress=False, fast=fast)
    assert report.files[0].reader == ("read_json" if fast else "lines")
    assert rows(db, "SELECT count(*) FROM invocations WHERE request_id IS NULL") == [(no_id,)]
    assert rows(db, "SELECT count(*) FROM invocations WHERE request_id = ''") == [(0,)]
    assert rows(
        db,
        "SELECT list(duration_ms ORDER BY duration_ms) FROM invocations "
        "WHERE request_id IS NULL AND duration_ms < 20",
    ) == [([float(i) for i in range(20)],)]
    assert report.totals["invocations"] == no_id + 1
    before = _table_sorted(db)
    again = ingest([f], db=db, progress=False, fast=fast)
    assert again.added["invocations"] == 0
    assert _table_sorted(db) == before


def _table_sorted(db: Path) -> list[tuple]:
    return sorted(rows(db, "SELECT * FROM invocations"), key=repr)


def test_events_equal_in_time_and_message_are_kept_apart(tmp_path: Path) -> None:
    line = f"[INFO]\t2026-11-22T10:00:00.181Z\t{RID}\tretrying order 17\n"
    ts = _ms(T0)
    page = {
        "events": [
            {"timestamp": ts, "message": line, "ingestionTime": ts + 40},
            {"timestamp": ts, "message": line, "ingestionTime": ts + 41},  # other ingestionTime
            {"timestamp": ts, "message": line, "ingestionTime": ts + 41},  # only the position
            {"timestamp": ts, "message": "other\n", "ingestionTime": ts + 41},
        ],
        "nextForwardToken": "f/1",
    }
    filtered = {
        "events": [
            {
                "logStreamName": "2026/11/22/[7]abc",
                "timestamp": ts,
                "message": line,
                "ingestionTime": ts + 40,
                "eventId": f"3792{i}",
            }
            for i in range(3)
        ],
        "searchedLogStreams": [],
    }
    get_events = tmp_path / "get.json"
    get_events.write_text(json.dumps(page, indent=2))
    filter_events = tmp_path / "filter.json"
    filter_events.write_text(json.dumps(filtered) + "\n")
    expected = len(page["events"]) + len(filtered["events"])  # every event is one log line

    db = tmp_path / "t.duckdb"
    report = ingest([get_events, filter_events], db=db, progress=False)
    assert report.totals["logs"] == expected
    assert rows(db, "SELECT count(*) FROM logs WHERE message = 'retrying order 17'") == [(6,)]
    assert rows(
        db,
        "SELECT source_line, list(source_index ORDER BY source_index) FROM logs "
        "WHERE source_file = ? GROUP BY 1",
        str(filter_events.resolve()),
    ) == [(1, [0, 1, 2])]
    again = ingest([get_events, filter_events], db=db, progress=False)
    assert again.added["logs"] == 0 and again.totals["logs"] == expected


def test_a_database_from_before_the_new_columns_is_upgraded(tmp_path: Path) -> None:
    from fnlens.analysis._schema import TABLES

    db = tmp_path / "old.duckdb"
    with duckdb.connect(str(db)) as con:
        for table, columns in TABLES.items():
            old = {k: v for k, v in columns.items() if k not in ("attempt", "source_index")}
            body = ", ".join(f"{k} {v}" for k, v in old.items())
            con.execute(f"CREATE TABLE {table} ({body})")
        con.execute(
            "INSERT INTO invocations (request_id, outcome, source) "
            f"VALUES ('{RID}', 'success', 'fnlens')"
        )
    files = _retry_files(tmp_path)
    ingest(files, db=db, progress=False)
    assert rows(db, "SELECT count(*), max(attempt) FROM invocations") == [(2, 2)]


def test_the_merge_in_slices_gives_the_same_rows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from fnlens.analysis import _merge

    from .conftest import FIXTURES

    files = [FIXTURES / "fnlens.jsonl", FIXTURES / "lambda_text.log", *_retry_files(tmp_path)]
    whole = tmp_path / "whole.duckdb"
    ingest(files, db=whole, progress=False)
    monkeypatch.setattr(_merge, "_SLICE_RECORDS", 3)  # many slices of a few records each
    sliced = tmp_path / "sliced.duckdb"
    ingest(files, db=sliced, progress=False)
    assert _table(sliced) == _table(whole)
    assert len(_table(whole)) == 6  # R1..R4, and the retried request's two attempts


def test_the_pair_join_gives_the_rows_the_group_by_gives(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Attempts of one or two records are merged by a join: the same rows and parts."""
    from fnlens.analysis import _merge

    from .conftest import FIXTURES

    real = Path(__file__).parent / "real_exports"
    files = [FIXTURES, real, *_retry_files(tmp_path)]

    def everything(db: Path) -> tuple[list[tuple], list[tuple]]:
        inv = _table_sorted(db)
        parts = sorted(rows(db, "SELECT * FROM _invocation_parts"), key=repr)
        return inv, parts

    joined = tmp_path / "joined.duckdb"
    ingest(files, db=joined, progress=False)
    ingest([FIXTURES / "lambda_text.log"], db=joined, progress=False)  # stored rows re-merged
    monkeypatch.setattr(_merge, "_PAIR_MAX", 0)  # every attempt through the GROUP BY
    grouped = tmp_path / "grouped.duckdb"
    ingest(files, db=grouped, progress=False)
    ingest([FIXTURES / "lambda_text.log"], db=grouped, progress=False)
    inv, parts = everything(joined)
    assert (inv, parts) == everything(grouped)
    pairs = rows(joined, "SELECT count(*) FROM _invocation_parts GROUP BY request_id")
    assert len(inv) > 20 and any(n == 2 for (n,) in pairs) and any(n > 2 for (n,) in pairs)


def test_parts_from_before_the_new_columns_are_upgraded(tmp_path: Path) -> None:
    """A parts table written before the restore / response columns existed takes them."""
    from fnlens.analysis._schema import INVOCATIONS_COLUMNS

    from .conftest import FIXTURES

    files = [FIXTURES / "lambda_text.log", *_retry_files(tmp_path)]
    fresh = tmp_path / "fresh.duckdb"
    ingest(files, db=fresh, progress=False)
    names = list(INVOCATIONS_COLUMNS)
    newer = [c for c in names[names.index("source") + 1 :] if c != "attempt"]
    older = list(names[: names.index("source") + 1])
    old = tmp_path / "old.duckdb"
    ingest(files, db=old, progress=False)
    with duckdb.connect(str(old)) as con:  # what an older fnlens left: no newer columns
        for col in newer:
            con.execute(f"ALTER TABLE _invocation_parts DROP COLUMN {col}")
        con.execute(f"UPDATE _invocation_parts SET _key = hash({', '.join(older)})")
        n_parts = con.execute("SELECT count(*) FROM _invocation_parts").fetchone()[0]
    assert n_parts > 0 and newer
    again = ingest(files, db=old, progress=False)
    assert again.added["invocations"] == 0
    assert _table(old) == _table(fresh)
    cols = {r[0] for r in rows(old, "DESCRIBE _invocation_parts")}
    assert set(newer) <= cols
    assert rows(old, "SELECT count(*) FROM _invocation_parts") == [(n_parts,)]
