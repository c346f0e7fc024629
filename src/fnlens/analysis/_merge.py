"""The invocations merge: records from every source into one row per request id and attempt.

The rule (docs/ingest.md, "Merging and idempotency"):

* An invocation is a request id *and* an attempt. Lambda retries an asynchronous
  invocation with the same request id; records of one id whose time spans
  ``[ts, ts + duration]`` overlap (within :data:`ATTEMPT_GAP`) are one attempt, a record
  starting later is the next attempt and becomes its own row (``attempt`` 1, 2, ...).
  Records without a time join the latest attempt of their id.
* Within an attempt the records are ordered by source precedence (fnlens > Powertools >
  OTLP > Lambda JSON > text platform lines > EMF), then by outcome (timeout > error >
  success > none), then by content hash: a property of the records, never of the order
  they were read in. Every column takes its value from the first record that has one,
  so two complete records of the same kind never mix: the first one wins whole, and
  later ones only fill what it lacks. ``error_type``/``error_message`` come from the
  record that gave ``outcome``.
* The row is a function of the *set* of records, so ingesting files together, one after
  another, or in the other order gives the same rows, and reading a record again adds
  nothing. To recompute a row later, the records behind a merged row are kept in
  :data:`PARTS` (a row built from one record is that record, so nothing is kept for it).
* An empty or missing request id is no id: such an fnlens record is its own row, and
  only an identical record (already stored as often) is dropped as a duplicate.
"""

from __future__ import annotations

from collections.abc import Mapping

import duckdb

from fnlens.analysis._schema import INVOCATIONS_COLUMNS
from fnlens.analysis._sink import RANK, START_RANK

__all__ = [
    "ATTEMPT_GAP",
    "PARTS",
    "RECORD_COLUMNS",
    "combine_line_pairs",
    "create_parts_sql",
    "ensure_parts",
    "merge_invocations",
    "pair_exprs",
    "same_attempt_sql",
]

PARTS = "_invocation_parts"
ATTEMPT_GAP = "INTERVAL 10 SECOND"  # retries come a minute or more after the last attempt
_SLICE_RECORDS = 100_000  # records merged by one GROUP BY
_PAIR_MAX = 2  # attempts of at most this many records are merged by a join (0 or 2)

# the columns a record is made of (attempt is computed by the merge)
_RECORD = [c for c in INVOCATIONS_COLUMNS if c != "attempt"]
RECORD_COLUMNS = tuple(_RECORD)
_RECORD_LIST = ", ".join(_RECORD)
_KEY = f"hash({_RECORD_LIST})"
# outcome precedence within one source: timeout > error > success
_SEVERITY = "CASE outcome WHEN 'timeout' THEN 0 WHEN 'error' THEN 1 WHEN 'success' THEN 2 END"
# a stored row made of one record: its precedence from its source name
_STORED_RANK = (
    "CASE "
    + " ".join(
        f"WHEN list_contains(string_split(source, '+'), '{name}') THEN {rank}"
        for name, rank in sorted(RANK.items(), key=lambda item: item[1])
    )
    + " ELSE 90 END"
)


def create_parts_sql() -> str:
    """DDL of the table holding the records behind merged rows."""
    body = ", ".join(f"{name} {INVOCATIONS_COLUMNS[name]}" for name in _RECORD)
    return f"CREATE TABLE IF NOT EXISTS {PARTS} ({body}, _rank DOUBLE, _key UBIGINT)"


def ensure_parts(con: duckdb.DuckDBPyConnection) -> None:
    """Create the parts table, or give one from an older fnlens the columns added since.

    The merge writes every record column into it (restore and billed restore durations,
    the Telemetry API's response figures, ...), so a table lacking one would make every
    later merge fail; and a record's ``_key`` hashes all its columns, so keys written
    before are recomputed, or re-reading an old file would not recognise its records.
    """
    con.execute(create_parts_sql())
    existing = {
        row[0]
        for row in con.execute(
            "SELECT column_name FROM information_schema.columns "
            "WHERE table_schema = 'main' AND table_name = ?",
            [PARTS],
        ).fetchall()
    }
    missing = [name for name in _RECORD if name not in existing]
    for name in missing:
        con.execute(f"ALTER TABLE {PARTS} ADD COLUMN {name} {INVOCATIONS_COLUMNS[name]}")
    if missing:
        con.execute(f"UPDATE {PARTS} SET _key = {_KEY}")


def merge_invocations(con: duckdb.DuckDBPyConnection, stage: str) -> int:
    """Merge the staged records into ``invocations``; returns how many stored rows changed."""
    _insert_without_id(con, stage)
    con.execute(f"DELETE FROM {stage} WHERE request_id IS NULL")
    _drop_known(con, stage)
    con.execute(
        "CREATE OR REPLACE TEMP TABLE _merge_ids AS "
        f"SELECT request_id FROM {stage} GROUP BY request_id HAVING count(*) > 1 "
        f"UNION SELECT request_id FROM invocations "
        f"WHERE request_id IN (SELECT request_id FROM {stage})"
    )
    # one record for an id nobody has seen: it is the row
    con.execute(
        f"INSERT INTO invocations ({_RECORD_LIST}, attempt) "
        f"SELECT {_RECORD_LIST}, 1 FROM {stage} s ANTI JOIN _merge_ids USING (request_id)"
    )
    changed = con.execute(
        "SELECT count(*) FROM invocations WHERE request_id IN (SELECT request_id FROM _merge_ids)"
    ).fetchall()[0][0]
    if con.execute("SELECT count(*) FROM _merge_ids").fetchall()[0][0]:
        _merge_records(con, stage)
    con.execute("DROP TABLE _merge_ids")
    return int(changed)


def same_attempt_sql(start_ts: str, report_ts: str, duration_ms: str) -> str:
    """True when a START record at ``start_ts`` and a REPORT record (its invocation's
    start ``report_ts``, ``duration_ms``) are one attempt by the rule of
    :func:`_number_attempts` (their spans overlap within :data:`ATTEMPT_GAP`), or
    either has no time."""
    end = f"{report_ts} + to_microseconds(CAST(greatest({duration_ms}, 0) * 1000 AS BIGINT))"
    return (
        f"({start_ts} IS NULL OR {report_ts} IS NULL OR ({report_ts} <= {start_ts} + "
        f"{ATTEMPT_GAP} AND {start_ts} <= {end} + {ATTEMPT_GAP}))"
    )


def combine_line_pairs(con: duckdb.DuckDBPyConnection, stage: str) -> int:
    """One staged record for each attempt's START and REPORT lines in one file; how many.

    Among the records one text file (``_file``) gives a request id, in line order
    (``_line``), a START line's record directly followed by its REPORT line's record of
    the same attempt (the time spans overlap as the attempt rule reads them) is replaced
    by the record the merge would make of the two (:func:`_pair_exprs`, START first).
    The merge then sees one record for the common invocation, stores it as it is and
    keeps no parts for it; the rows are those of merging the two lines, since no other
    source ranks between a START and its REPORT (a timeout or crash line of the attempt,
    which does, sits between them and keeps the two apart).
    """
    report = RANK["report"]
    con.execute(
        "CREATE OR REPLACE TEMP TABLE _line_pairs AS "
        "SELECT s_row, r_row FROM ("
        "  SELECT rowid AS s_row, _rank, ts, lead(rowid) OVER w AS r_row,"
        "    lead(_rank) OVER w AS r_rank, lead(ts) OVER w AS r_ts,"
        "    lead(duration_ms) OVER w AS r_duration, request_id, _file,"
        "    lead(request_id) OVER w AS r_id, lead(_file) OVER w AS r_file"
        f"  FROM {stage} WHERE _line IS NOT NULL AND request_id IS NOT NULL"
        # by a hash (cheaper to sort than strings); a collision shares a partition,
        # and r_id / r_file keep the records apart
        "  WINDOW w AS (PARTITION BY hash(_file, request_id) ORDER BY _line)"
        f") WHERE _rank = {START_RANK} AND r_rank = {report} AND r_duration IS NOT NULL"
        "  AND r_id = request_id AND r_file = _file"
        f"  AND {same_attempt_sql('ts', 'r_ts', 'r_duration')}"
    )
    try:
        pairs = con.execute("SELECT count(*) FROM _line_pairs").fetchall()[0][0]
        if pairs:
            con.execute(
                f"INSERT INTO {stage} ({_RECORD_LIST}, _rank, _file, _line) "
                f"SELECT {', '.join(pair_exprs('s', 'r').values())}, s._rank, s._file, s._line "
                f"FROM _line_pairs p JOIN {stage} s ON s.rowid = p.s_row "
                f"JOIN {stage} r ON r.rowid = p.r_row"
            )
            con.execute(
                f"DELETE FROM {stage} WHERE rowid IN ("
                "  SELECT s_row FROM _line_pairs UNION ALL SELECT r_row FROM _line_pairs)"
            )
    finally:
        con.execute("DROP TABLE _line_pairs")
    return int(pairs)


def _insert_without_id(con: duckdb.DuckDBPyConnection, stage: str) -> None:
    """Rows without a request id are kept one by one; a re-read of the same ones adds none."""
    numbered = (
        "SELECT *, {key} AS _key, row_number() OVER (PARTITION BY {key}) AS _n FROM {src} "
        "WHERE request_id IS NULL"
    )
    con.execute(
        f"INSERT INTO invocations ({_RECORD_LIST}, attempt) "
        f"SELECT {_RECORD_LIST}, 1 FROM ({numbered.format(key=_KEY, src=stage)}) s "
        f"ANTI JOIN ({numbered.format(key=_KEY, src='invocations')}) i USING (_key, _n)"
    )


def _drop_known(con: duckdb.DuckDBPyConnection, stage: str) -> None:
    """Forget staged records already stored, so re-reading a file costs a join, not a merge."""
    if not con.execute("SELECT count(*) FROM (SELECT 1 FROM invocations LIMIT 1)").fetchall()[0][0]:
        return
    same = " AND ".join(f"s.{c} IS NOT DISTINCT FROM i.{c}" for c in _RECORD if c != "request_id")
    con.execute(
        f"DELETE FROM {stage} s USING invocations i "
        f"WHERE s.request_id = i.request_id AND {same} "
        f"AND i.request_id NOT IN (SELECT request_id FROM {PARTS})"
    )
    con.execute(f"DELETE FROM {stage} WHERE {_KEY} IN (SELECT _key FROM {PARTS})")


def _merge_records(con: duckdb.DuckDBPyConnection, stage: str) -> None:
    stored_single = (
        f"SELECT {_RECORD_LIST}, {_STORED_RANK} AS _rank FROM invocations "
        f"WHERE request_id IN (SELECT request_id FROM _merge_ids) "
        f"AND request_id NOT IN (SELECT request_id FROM {PARTS})"
    )
    # gather first (a plain streaming insert), then drop exact duplicates by a window over
    # three narrow columns: both stay within memory_limit where a sort of wide rows would not
    con.execute(
        "CREATE OR REPLACE TEMP TABLE _records AS "
        f"SELECT *, {_KEY} AS _key FROM ("
        f"  SELECT {_RECORD_LIST}, _rank FROM {stage} "
        f"    WHERE request_id IN (SELECT request_id FROM _merge_ids)"
        f"  UNION ALL {stored_single}"
        ")"
    )
    con.execute(
        f"INSERT INTO _records SELECT {_RECORD_LIST}, _rank, _key FROM {PARTS} "
        "WHERE request_id IN (SELECT request_id FROM _merge_ids)"
    )
    con.execute(
        "DELETE FROM _records WHERE rowid IN (SELECT rowid FROM ("
        "  SELECT rowid, row_number() OVER (PARTITION BY _key ORDER BY _rank, rowid) AS n"
        "  FROM _records) WHERE n > 1)"
    )
    _number_attempts(con)
    _order_records(con)
    con.execute("DELETE FROM invocations WHERE request_id IN (SELECT request_id FROM _merge_ids)")
    # an attempt of one or two records (START and REPORT, a record and its re-read) is
    # the common case: one join gives its row, far cheaper than a GROUP BY of aggregates
    con.execute(f"INSERT INTO invocations ({_RECORD_LIST}, attempt) {_pair_select()}")
    # the GROUP BY holds one aggregate state per column and row: run it over slices of
    # request ids so each slice fits in memory_limit however many records there are
    total = con.execute(
        "SELECT count(*) FROM _ordered WHERE _size > $max", {"max": _PAIR_MAX}
    ).fetchall()[0][0]
    if total:
        slices = max(1, -(-total // _SLICE_RECORDS))
        for part in range(slices):
            con.execute(
                f"INSERT INTO invocations ({_RECORD_LIST}, attempt) {_merged_select()}",
                {"slices": slices, "part": part},
            )
    con.execute(f"DELETE FROM {PARTS} WHERE request_id IN (SELECT request_id FROM _merge_ids)")
    con.execute(
        f"INSERT INTO {PARTS} ({_RECORD_LIST}, _rank, _key) "
        f"SELECT {_RECORD_LIST}, _rank, _key FROM _records SEMI JOIN ("
        "  SELECT _key FROM _ordered WHERE _id_size > 1) USING (_key)"
    )
    con.execute("DROP TABLE _records")
    con.execute("DROP TABLE _attempts")
    con.execute("DROP TABLE _ordered")


def _number_attempts(con: duckdb.DuckDBPyConnection) -> None:
    """Give every record its attempt: islands of overlapping time spans, per request id."""
    con.execute(
        "CREATE OR REPLACE TEMP TABLE _attempts AS "
        "WITH spans AS ("
        "  SELECT _key, request_id, ts AS _start,"
        "    ts + to_microseconds(CAST(coalesce(greatest(duration_ms, 0), 0) * 1000 AS BIGINT))"
        "      AS _end"
        "  FROM _records WHERE ts IS NOT NULL"
        "), edges AS ("
        "  SELECT *, max(_end) OVER (PARTITION BY request_id ORDER BY _start, _key"
        "    ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS _reach FROM spans"
        "), dated AS ("
        "  SELECT _key, request_id, sum(CASE WHEN _reach IS NULL"
        f"    OR _start > _reach + {ATTEMPT_GAP} THEN 1 ELSE 0 END)"
        "    OVER (PARTITION BY request_id ORDER BY _start, _key ROWS UNBOUNDED PRECEDING)"
        "    AS attempt FROM edges"
        "), latest AS (SELECT request_id, max(attempt) AS attempt FROM dated GROUP BY 1)"
        " SELECT _key, attempt FROM dated"
        " UNION ALL SELECT r._key, coalesce(l.attempt, 1) FROM _records r"
        "   LEFT JOIN latest l USING (request_id) WHERE r.ts IS NULL"
    )


def _order_records(con: duckdb.DuckDBPyConnection) -> None:
    """Each record's place within its attempt (``_ord``), the attempt's size, its id's size."""
    con.execute(
        "CREATE OR REPLACE TEMP TABLE _ordered AS "
        "SELECT a._key, x.request_id, a.attempt,"
        "  row_number() OVER (PARTITION BY x.request_id, a.attempt"
        f"    ORDER BY x._rank, {_SEVERITY.replace('outcome', 'x.outcome')} NULLS LAST, x._key)"
        "    AS _ord,"
        "  count(*) OVER (PARTITION BY x.request_id, a.attempt) AS _size,"
        "  count(*) OVER (PARTITION BY x.request_id) AS _id_size"
        " FROM _attempts a JOIN _records x USING (_key)"
    )


def pair_exprs(a: str | Mapping[str, str], b: str | Mapping[str, str]) -> dict[str, str]:
    """Each record column of the merge of two records (its SQL), ``a`` first by precedence.

    ``a`` and ``b`` name the two rows (``a.col``), or give each column's SQL. A column's
    first non-NULL value is ``coalesce(a.col, b.col)``, as ``arg_min`` skips NULLs; the
    sources are united; ``error_type``/``error_message`` come from the record that gave
    ``outcome``.
    """
    x, y = _columns(a), _columns(b)
    exprs: list[str] = []
    for col in _RECORD:
        if col == "request_id":
            exprs.append(x["request_id"])
        elif col == "source":
            exprs.append(
                "array_to_string(list_sort(list_distinct(flatten(list_value("
                f"string_split({x['source']}, '+'), string_split({y['source']}, '+'))))), '+')"
            )
        elif col == "version":
            exprs.append(
                f"coalesce(nullif(coalesce({x['service_version']}, {y['service_version']}), ''),"
                f" {x['function_version']}, {y['function_version']})"
            )
        elif col in ("error_type", "error_message"):  # from the record that gave outcome
            exprs.append(
                f"CASE WHEN {x['outcome']} IS NOT NULL THEN {x[col]} "
                f"WHEN {y['outcome']} IS NOT NULL THEN {y[col]} END"
            )
        else:
            exprs.append(f"coalesce({x[col]}, {y[col]})")
    return dict(zip(_RECORD, exprs, strict=True))


def _columns(row: str | Mapping[str, str]) -> Mapping[str, str]:
    return {c: f"{row}.{c}" for c in _RECORD} if isinstance(row, str) else row


def _pair_select() -> str:
    """Rows of the attempts made of at most two records: what _merged_select gives them.

    ``a`` is the first record by precedence, ``b`` the second (NULLs when there is none).
    """
    side = (
        "(SELECT r.*, o.attempt FROM _records r JOIN _ordered o USING (_key) "
        f"WHERE o._size <= {_PAIR_MAX} AND o._ord = {{ord}})"
    )
    return (
        "SELECT " + ", ".join(pair_exprs("a", "b").values()) + ", a.attempt"
        f" FROM {side.format(ord=1)} a LEFT JOIN {side.format(ord=2)} b"
        " ON b.request_id = a.request_id AND b.attempt = a.attempt"
    )


def _merged_select() -> str:
    """One row per (request_id, attempt): column-wise precedence over its records."""
    aggs = []
    for col in _RECORD:
        if col == "request_id":
            aggs.append("request_id")
        elif col == "source":
            aggs.append(
                "array_to_string(list_sort(list_distinct("
                "flatten(list(string_split(source, '+'))))), '+') AS source"
            )
        elif col == "version":
            aggs.append(
                "coalesce(nullif(arg_min(service_version, _ord), ''),"
                " arg_min(function_version, _ord)) AS version"
            )
        elif col in ("error_type", "error_message"):  # from the record that gave outcome
            aggs.append(f"arg_min_null({col}, _ord) FILTER (WHERE outcome IS NOT NULL) AS {col}")
        else:
            aggs.append(f"arg_min({col}, _ord) AS {col}")
    return (
        "SELECT " + ", ".join(aggs) + ", attempt FROM ("
        "  SELECT r.*, o.attempt, o._ord FROM _records r JOIN _ordered o USING (_key)"
        f"  WHERE o._size > {_PAIR_MAX} AND hash(o.request_id) % $slices = $part"
        ") GROUP BY request_id, attempt"
    )
