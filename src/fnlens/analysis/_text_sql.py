"""The text path in DuckDB: Lambda platform and runtime lines parsed with SQL, not Python.

For files detected as ``lambda-text``, ``cloudwatch-s3-export``, ``aws-logs-tail`` or
``sam-logs``: DuckDB reads the file with ``read_csv`` (one column; a line's number is its
rowid, the file's order kept), joins continuation lines to their event with a window
sum, cuts the timestamp / log stream prefixes (canonical times at fixed places, the
rest with ``regexp_replace``, their parts from the short head alone), classifies each
event with ``starts_with`` / ``regexp_matches``, then appends the same rows the Python
parsers (:mod:`fnlens.analysis._formats.lambda_text`) would to the staging tables.

SQL parses the common shapes exactly like the Python path: canonical REPORT lines,
START / END, timeouts, the runtimes' application lines, INIT_* lines and plain text.
The rest (JSON lines, crashes, an X-Ray line on its own, unusual REPORT lines) is handed
row by row to the Python parser together with the state it would have had at that line
(the open request id, the last REPORT), computed with window functions. A file SQL cannot
follow at all (not UTF-8, JSON platform records mixed into text, stream names changing
mid-file) is left entirely to the Python path: :func:`stage_text` returns None and
stages nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb

from fnlens.analysis._formats.lambda_text import (
    CONTINUATION_PATTERN,
    LEVEL_PATTERN,
    STREAM_PATTERN,
    TIMEOUT_RANK,
    TS_PATTERN,
    UUID_PATTERN,
)
from fnlens.analysis._merge import RECORD_COLUMNS, pair_exprs, same_attempt_sql
from fnlens.analysis._sink import RANK, STAGE_COLUMNS, START_RANK

__all__ = ["FORMATS", "MAX_LINE", "SPACE_CODES", "PythonRows", "stage_text"]

_LOG = logging.getLogger("fnlens")

# rows only the Python parser reads, in line order, with its state at each:
# (line number, raw event text, log stream, stream version, open request id, last REPORT id)
PythonRows = Callable[[list[tuple[Any, ...]]], None]

FORMATS = frozenset({"lambda-text", "cloudwatch-s3-export", "aws-logs-tail", "sam-logs"})

_TS = TS_PATTERN
_STREAM = STREAM_PATTERN
_UUID = UUID_PATTERN
_LEVEL = LEVEL_PATTERN
# where an event starts, per format (the rest are continuation lines)
_EVENT_START = {
    "cloudwatch-s3-export": rf"^{_TS}[ \t]",
    "aws-logs-tail": rf"^{_TS}[ \t]",
    "sam-logs": rf"^{_STREAM}[ \t]",
}
_RAW_CONTINUATION = CONTINUATION_PATTERN
# the longest line read_csv takes (longer: the Python path reads the file and reports it);
# its buffer holds _BUFFERS lines, per thread: DuckDB's default of 16 would ask for one
# 256 MiB block per thread, beyond a 512MB memory limit by itself
MAX_LINE = 16 << 20
_BUFFERS = 2
# a line without its trailing CR (a file written on Windows), never NULL
_CLEAN_LINE = (
    "coalesce(CASE WHEN ends_with(line, chr(13)) THEN rtrim(line, chr(13)) ELSE line END, '')"
)
# at most four prefixes, in the orders the formats write them; only the prefixes are
# captured (capturing the rest too makes RE2 walk every line with its slow engine)
_PREFIXES = rf"^((?:({_TS})[ \t]+)?(?:({_STREAM})[ \t]+)?(?:({_TS})[ \t]+)?(?:({_TS})[ \t]+)?)"
_MORE_PREFIX = rf"^(?:{_TS}|{_STREAM})[ \t]"
# one or two canonical times (milliseconds, UTC: what S3 exports and the runtimes write),
# each and a blank, then text that starts no other prefix (a time or a stream name starts
# with four digits and a dash or a slash; a request id's digits are followed by others)
_FAST_TS = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z"
_FAST_LEN = 24
_NO_PREFIX = r"(?:[^ \t0-9]|\d{1,3}[^0-9]|\d{4}[^-/])"
_FAST_ONE = rf"^{_FAST_TS}[ \t]{_NO_PREFIX}"
_FAST_TWO = rf"^{_FAST_TS}[ \t]{_FAST_TS}[ \t]{_NO_PREFIX}"
_TIMEOUT = r"^(?:\S+\s+)?Task timed out after\s+[\d.]+\s+seconds"
_TIMEOUT_SECS = r"^(?:\S+\s+)?Task timed out after\s+([\d.]+)\s+seconds"
_TIMEOUT_ID = r"^(?:(\S+)\s+)?Task timed out"
_CRASH = r"^(?:RequestId: \S+\s+)?Error: Runtime exited"
_PY_LEVELS = r"DEBUG|INFO|WARNING|WARN|ERROR|CRITICAL|FATAL"
# a runtime line (Python's, Python's without a request id, Node.js', Java's) up to its
# message: the groups before it and the blanks after it. The lines they match are those
# the Python parser's whole-line patterns match (what follows a head is any text); taking
# the message as what follows the head is several times cheaper than capturing it (RE2's
# capturing engine walks all of it), and the DFA need not read a line to its end
_PY_HEAD = rf"^\[({_PY_LEVELS})\]\s+(\d{{4}}-\d\d-\d\dT\S+)\s+(\S+)\s+"
_PY_BARE_HEAD = rf"^\[({_PY_LEVELS})\]\s"
_NODE_HEAD = rf"^({_UUID}|undefined)[ \t]+({_LEVEL})(?:[ \t]+|$)"
_JAVA_HEAD = (
    r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(?:[.,]\d+)?(?:Z|[+-]\d\d:?\d\d)?)[ \t]+"
    rf"({_UUID})[ \t]+({_LEVEL})[ \t]+"
)
# the head pattern of each runtime line kind
_HEADS = {
    "py_app": _PY_HEAD,
    "node_app": _NODE_HEAD,
    "java_app": _JAVA_HEAD,
    "py_bare": _PY_BARE_HEAD,
}
_PLATFORM = (
    r"^(INIT_START|INIT_REPORT|INIT_RUNTIME_DONE|RESTORE_START|RESTORE_REPORT|"
    r"RESTORE_RUNTIME_DONE|EXTENSION|TELEMETRY|LOGS)\b"
)
_STREAM_VERSION = r"^\d{4}/\d{2}/\d{2}/\[([^\]]*)\]"
# the request id a line the Python parser reads names (a platform line, a crash, a timeout)
_ANY_ID = r"^(?:(?:START |END |REPORT )?RequestId: (\S+)|(\S+)\s+Task timed out)"
_XRAY_ID = r"1-([0-9a-fA-F]{8})-([0-9a-fA-F]{24})"
# rows that may take the open invocation's id (the Python parser's state): lines without
# one of their own, a runtime line whose id is "undefined" (one naming it somewhere is
# taken too: harmless), the lines Python parses
_STATEFUL = (
    "(kind IN ('text', 'py_bare', 'timeout', 'py') "
    "OR (kind = 'node_app' AND starts_with(msg, 'undefined')) "
    "OR (kind = 'py_app' AND contains(msg, 'undefined')))"
)
# what Python's str.strip() removes (its whitespace: ASCII blanks, the information
# separators, Unicode's spaces): the Python parser strips each message of them
SPACE_CODES = (
    *(9, 10, 11, 12, 13, 28, 29, 30, 31, 32),
    *(133, 160, 5760, *range(8192, 8203), 8232, 8233, 8239, 8287, 12288),
)
_WS = " || ".join(f"chr({c})" for c in SPACE_CODES)
# a line holding a blank other than tab and space (a joined multi-line event)
_ODD_BLANKS = "(" + " OR ".join(f"contains(msg, chr({c}))" for c in (10, 11, 12, 13)) + ")"
# a message starting with one is trimmed (a list: `IN (...)` of five values or more is
# planned as a join)
_BLANK_CODES = "[" + ", ".join(map(str, SPACE_CODES)) + "]"


def _starts_blank(text: str) -> str:
    """True when ``text`` starts with a blank (the list is only searched for a first
    character that could be one: a control character, a space, or beyond ASCII)."""
    first = f"ascii({text})"
    return f"(({first} <= 32 OR {first} > 127) AND list_contains({_BLANK_CODES}, {first}))"


# one ending with one: byte-wise for the ASCII ones (a character count, as in
# ``msg[-1:]``, walks the whole line), by a pattern only on text beyond ASCII
_WIDE_SPACE = "".join(f"\\x{{{c:x}}}" for c in SPACE_CODES if c > 127)
_ENDS_BLANK = (
    "("
    + " OR ".join(f"ends_with(msg, chr({c}))" for c in SPACE_CODES if c < 128)
    + f" OR (strlen(msg) <> length(msg) AND regexp_matches(msg, '[{_WIDE_SPACE}]$')))"
)
# numbers of at most nine digits (a duration under 11 days, a size within INTEGER): a
# longer one may not fit its column, and the Python parser reports that line (file:line)
_NUM = r"\d{1,9}(?:\.\d+)?"
_REPORT = (
    rf"^REPORT RequestId: (\S+)\s+Duration: ({_NUM}) ms\s+"
    rf"Billed Duration: ({_NUM}) ms\s+Memory Size: (\d{{1,9}}) MB\s+"
    r"Max Memory Used: (\d{1,9}) MB"
    rf"(?:\s+Init Duration: ({_NUM}) ms)?"
    rf"(?:\s+Restore Duration: ({_NUM}) ms"
    rf"(?:\s+Billed Restore Duration: ({_NUM}) ms)?)?"
    r"(?:\s+Status: (\S+))?(?:\s+Error Type: (\S+))?"
    r"(?:\s+XRAY TraceId: (\S+)\s+SegmentId: (\S+)(?:\s+Sampled: (\S+))?)?\s*$"
)
_LEVEL_SQL = (
    "CASE lower({x}) WHEN 'warn' THEN 'warning' WHEN 'information' THEN 'info' "
    "WHEN 'fail' THEN 'error' WHEN 'crit' THEN 'critical' WHEN 'trce' THEN 'trace' "
    "WHEN 'dbug' THEN 'debug' ELSE lower({x}) END"
)


def _q(pattern: str) -> str:
    return "'" + pattern.replace("'", "''") + "'"


def _ts(expr: str) -> str:
    return f"TRY_CAST({expr} AS TIMESTAMPTZ)::TIMESTAMP"


def _word(text: str) -> str:
    """``text`` up to its first space (all of it without one): ``split_part(text, ' ',
    1)``, which costs about three times as much."""
    return (
        f"CASE WHEN strpos({text}, ' ') > 0 "
        f"THEN substring({text}, 1, strpos({text}, ' ') - 1) ELSE {text} END"
    )


def stage_text(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    fmt: str,
    source_file: str,
    file_number: int,
    stream: str | None,
    gzip: bool,
    handle_python: PythonRows,
    max_line: int = MAX_LINE,
) -> tuple[int, int] | None:
    """Stage a text file's rows with SQL; (invocation records, log rows), or None.

    None means the file holds something only the Python path parses (or DuckDB cannot
    read it as UTF-8 text, or a line is longer than ``max_line`` bytes): nothing was
    staged, and the caller reads it with Python.
    """
    if fmt not in FORMATS:
        return None
    try:
        return _stage(
            con, path, fmt, source_file, file_number, stream, gzip, handle_python, max_line
        )
    except duckdb.Error as exc:
        _LOG.warning("%s: read by the Python parser (the SQL text path failed: %s)", path, exc)
        return None
    finally:
        for t in ("_tx_lines", "_tx_events", "_tx_parsed"):
            con.execute(f"DROP TABLE IF EXISTS {t}")


def _stage(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    fmt: str,
    source_file: str,
    file_number: int,
    stream: str | None,
    gzip: bool,
    handle_python: PythonRows,
    max_line: int = MAX_LINE,
) -> tuple[int, int] | None:
    cont = (
        f"NOT regexp_matches(line, {_q(_EVENT_START[fmt])})"
        if fmt in _EVENT_START
        # (behind the first characters a continuation line can start with)
        else f"(list_contains([9, 32, 67, 84, 93, 125], ascii(line)) "
        "OR starts_with(line, 'Runtime.')) "
        f"AND regexp_matches(line, {_q(_RAW_CONTINUATION)})"
    )
    # the same, from the prefixes the parse cuts (an event starts with its time, or in
    # `sam logs` output with its stream name): no second pattern over every line
    cont_parsed = {
        "cloudwatch-s3-export": "p_ts1 = ''",
        "aws-logs-tail": "p_ts1 = ''",
        "sam-logs": "NOT (p_ts1 = '' AND p_stream <> '')",
    }.get(fmt, cont)
    reader = (
        "read_csv(?, columns = {'line': 'VARCHAR'}, delim = chr(0), quote = '', escape = '', "
        f"header = false, auto_detect = false, max_line_size = {max_line}, "
        f"buffer_size = {_BUFFERS * max_line}, "
        f"compression = '{'gzip' if gzip else 'none'}')"
    )
    # the lines as they are, in the file's order, so that a line's rowid is its place
    # (as DuckDB documents for a table written with insertion order preserved, which
    # the loader otherwise turns off to save memory): read in parallel, where WITH
    # ORDINALITY numbers them in one thread. A trailing CR is cut by the parse.
    preserve = con.execute("SELECT current_setting('preserve_insertion_order')").fetchone()[0]
    con.execute("SET preserve_insertion_order = true")
    try:
        con.execute(f"CREATE TEMP TABLE _tx_lines AS SELECT line FROM {reader}", [str(path)])
    finally:
        con.execute(f"SET preserve_insertion_order = {'true' if preserve else 'false'}")
    numbered = "(SELECT rowid + 1 AS n, line FROM _tx_lines)"
    # every line is parsed as an event of its own; only a file with continuation lines
    # (a stack trace, a pretty-printed object) is parsed again, its events joined first
    parse = _parse_sql(fmt, stream)
    con.execute(
        "CREATE TEMP TABLE _tx_parsed AS "
        + parse.replace("__EVENTS__", numbered).replace("__CONT__", f"n > 1 AND {cont_parsed}")
    )
    if con.execute("SELECT count(*) FROM _tx_parsed WHERE cont").fetchone()[0]:
        con.execute("DROP TABLE _tx_parsed")
        # an event is a line that starts one and the continuation lines after it
        con.execute(
            "CREATE TEMP TABLE _tx_events AS "
            "SELECT min(n) AS n, string_agg(line, chr(10) ORDER BY n) AS line FROM ("
            f"  SELECT n, line, sum(CASE WHEN n = 1 OR NOT ({cont}) "
            "    THEN 1 ELSE 0 END) OVER (ORDER BY n ROWS UNBOUNDED PRECEDING) AS event"
            f"  FROM (SELECT n, {_CLEAN_LINE} AS line FROM {numbered})"
            ") GROUP BY event"
        )
        con.execute("DROP TABLE _tx_lines")
        con.execute(
            "CREATE TEMP TABLE _tx_parsed AS "
            + parse.replace("__EVENTS__", "_tx_events").replace("__CONT__", "false")
        )
        con.execute("DROP TABLE _tx_events")
    else:
        # the file's text is not needed again: its memory (or spill) goes before the rest
        con.execute("DROP TABLE _tx_lines")
    other, needs_current = con.execute(
        f"SELECT count_if(kind = 'other'), count_if({_STATEFUL}) FROM _tx_parsed"
    ).fetchone()
    if other:
        return None
    # lines without a request id between START and END belong to that invocation
    return _insert(con, source_file, file_number, bool(needs_current), handle_python)


def _parse_sql(fmt: str, stream: str | None) -> str:
    """The statement classifying and cutting each event of ``{events}`` (one per row).

    ``__EVENTS__`` stands for the relation of events (``n``, ``line``), ``__CONT__`` for
    what is true of a line that continues the event before it. A REPORT line's id and
    its five fields every line has are typed columns (``marker_id``, ``r_dur``, ...);
    a line with optional fields too is kept as ``rb``, its blanks made spaces, for
    :func:`_report_struct` to cut them (NULL on every other row: most lines have none).
    """
    path_stream = _lit(stream)
    path_version = _lit(_version(stream))
    # a prefix time that is no time, or finer than microseconds, is the Python parser's
    # (a canonical one, cut by the fast lane, has milliseconds)
    bad_ts = " OR ".join(
        f"(p_{k} <> '' AND (t_{k} IS NULL OR (lane = 3 AND regexp_matches(p_{k}, '\\.\\d{{7,}}'))))"
        for k in ("ts1", "ts2", "ts3")
    )
    # each prefix time cast once; a canonical one (UTC, "Z") straight to TIMESTAMP, which
    # reads it as the UTC time the session's TIMESTAMPTZ would give, at less cost
    fast_lanes = {"ts1": "(1, 2)", "ts2": "(2)", "ts3": "(-1)"}
    casts = ", ".join(
        f"CASE WHEN lane IN {fast_lanes[k]} THEN TRY_CAST(p_{k} AS TIMESTAMP) "
        f"WHEN p_{k} <> '' THEN {_ts('p_' + k)} END AS t_{k}"
        for k in ("ts1", "ts2", "ts3")
    )
    own_stream = "true" if fmt in ("aws-logs-tail", "sam-logs") else "false"
    py_ts = _ts(f"regexp_extract(msg, {_q(_PY_HEAD)}, 2)")
    java_ts = _ts(f"regexp_extract(msg, {_q(_JAVA_HEAD)}, 1)")
    # the prefixes cut by regexp_replace (it only finds where the match ends, which is
    # cheap); their parts are then extracted from the short cut-off head alone
    rest = f"regexp_replace(line, {_q(_PREFIXES)}, '')"
    parts = (
        f"regexp_extract(substring(line, 1, length(line) - length(pre_v)), {_q(_PREFIXES)}, "
        "['whole', 'ts1', 'stream', 'ts2', 'ts3'])"
    )
    # a Python runtime line's message after the head's blanks, all of them: Python's \\s
    # also takes the Unicode spaces RE2's leaves (the other heads end in [ \\t] or one blank)
    cut_head = {k: f"regexp_replace(full_msg, {_q(h)}, '')" for k, h in _HEADS.items()}
    cut_head["py_app"] = (
        f"CASE WHEN {_starts_blank(cut_head['py_app'])} "
        f"THEN ltrim({cut_head['py_app']}, {_WS}) ELSE {cut_head['py_app']} END"
    )
    body = "CASE kind " + " ".join(f"WHEN '{k}' THEN {e}" for k, e in cut_head.items()) + " END"
    report_fields = ", ".join(
        f"CAST({_word(f'parts[{i}]')} AS {kind}) AS r_{name}"
        for i, (name, kind) in enumerate(_REPORT_FIELDS.items(), start=_FIRST_FIELD_PART)
    )
    # lane 1 / 2: one or two canonical times (an S3 export's, a runtime's) and a blank,
    # then no other prefix: cut at fixed places; lane 3: other prefixes, by the pattern;
    # lane 0: a line not starting with a digit has none
    return f"""WITH lanes AS (
          SELECT n, line, CASE WHEN ascii(line) NOT BETWEEN 48 AND 57 THEN 0
              WHEN substring(line, {_FAST_LEN + 6}, 1) = '-'
                AND regexp_matches(line, {_q(_FAST_TWO)}) THEN 2
              WHEN regexp_matches(line, {_q(_FAST_ONE)}) THEN 1
              ELSE 3 END AS lane
          FROM (SELECT n, {_CLEAN_LINE} AS line FROM __EVENTS__)
        ), rest AS (
          SELECT n, line, lane, CASE lane WHEN 0 THEN line
              WHEN 1 THEN substring(line, {_FAST_LEN + 2})
              WHEN 2 THEN substring(line, {2 * _FAST_LEN + 3})
              ELSE {rest} END AS pre_v
          FROM lanes
        ), pre AS (
          SELECT n, line, lane, pre_v,
            CASE WHEN lane = 3 AND strlen(pre_v) < strlen(line) THEN {parts} END AS p FROM rest
        ), cut AS (
          SELECT n, line, lane, pre_v,
            CASE WHEN lane IN (1, 2) THEN substring(line, 1, {_FAST_LEN})
              ELSE coalesce(p.ts1, '') END
              AS p_ts1,
            coalesce(p.stream, '') AS p_stream,
            CASE WHEN lane = 2 THEN substring(line, {_FAST_LEN + 2}, {_FAST_LEN})
              ELSE coalesce(p.ts2, '') END AS p_ts2,
            coalesce(p.ts3, '') AS p_ts3
          FROM pre
        ),
        stripped AS (
          SELECT n, line, lane, __CONT__ AS cont, pre_v AS rest,
            -- blanks cut in front only (the patterns allow them at the end): trimming
            -- both ends of every line would cost more than the rest of the parse
            CASE WHEN {_starts_blank("pre_v")} THEN trim(pre_v, {_WS})
              ELSE pre_v END AS msg,
            nullif(p_stream, '') AS line_stream, p_ts1, p_ts2, p_ts3, {casts}
          FROM cut
        ), classified AS (
          SELECT *, CASE
            WHEN msg = '' THEN 'empty'
            WHEN line_stream IS NOT NULL AND NOT {own_stream} THEN 'other'
            -- a fifth prefix (the fast lanes rule it out)
            WHEN lane = 3 AND ascii(rest) BETWEEN 48 AND 57
              AND regexp_matches(rest, {_q(_MORE_PREFIX)}) THEN 'py'
            WHEN {bad_ts} THEN 'py'
            WHEN starts_with(msg, 'REPORT RequestId:') THEN
              CASE WHEN regexp_matches(msg, {_q(_REPORT)}) THEN 'report' ELSE 'py' END
            -- the id's first character no blank (ascii of nothing is 0)
            WHEN starts_with(msg, 'START RequestId: ')
              AND NOT list_contains([0, 9, 10, 12, 13, 32], ascii(substring(msg, 18, 1)))
              THEN 'start'
            WHEN starts_with(msg, 'END RequestId: ')
              AND NOT list_contains([0, 9, 10, 12, 13, 32], ascii(substring(msg, 16, 1)))
              THEN 'end'
            WHEN starts_with(msg, '{{') THEN
              CASE WHEN contains(msg, '"platform.') THEN 'other' ELSE 'py' END
            WHEN starts_with(msg, 'XRAY TraceId:') THEN 'py'
            -- each pattern behind a cheap test the lines it matches pass, and the
            -- runtime lines matched by their heads (the same lines: what follows a
            -- head is any text, which the DFA would otherwise read to its end)
            WHEN contains(msg, 'Task timed out after')
              AND regexp_matches(msg, {_q(_TIMEOUT)}) THEN 'timeout'
            WHEN contains(msg, 'Error: Runtime exited')
              AND regexp_matches(msg, {_q(_CRASH)}) THEN 'py'
            WHEN starts_with(msg, '[') AND regexp_matches(msg, {_q(_PY_HEAD)}) THEN
              CASE WHEN {py_ts} IS NULL THEN 'py' ELSE 'py_app' END
            WHEN regexp_matches(msg, {_q(_NODE_HEAD)}) THEN 'node_app'
            WHEN ascii(msg) BETWEEN 48 AND 57 AND regexp_matches(msg, {_q(_JAVA_HEAD)}) THEN
              CASE WHEN {java_ts} IS NULL THEN 'py' ELSE 'java_app' END
            WHEN starts_with(msg, '[') AND regexp_matches(msg, {_q(_PY_BARE_HEAD)})
              THEN 'py_bare'
            ELSE 'text' END AS kind
          FROM stripped
        ), blanked AS (
          -- a REPORT line with every blank a space, computed once for all its fields
          -- (tabs alone, unless the line holds rarer blanks);
          -- the message kept (a log row's) without blanks at its end
          SELECT *, CASE WHEN kind <> 'report' THEN NULL
              WHEN {_ODD_BLANKS} THEN {_blanked("msg")} ELSE replace(msg, chr(9), ' ') END AS rb,
            CASE WHEN kind IN ('start', 'end', 'report', 'empty') THEN NULL
              WHEN {_ENDS_BLANK} THEN trim(msg, {_WS}) ELSE msg END AS full_msg
          FROM classified
        ), split AS (
          SELECT *,
            CASE WHEN kind = 'start' THEN regexp_extract(msg,
              '^START RequestId: (\\S+)(?:\\s+Version: (\\S+))?', ['id', 'version'])
              END AS start_fields,
            -- (see _report_struct)
            CASE WHEN kind = 'report' THEN string_split(rb, ': ') END AS parts
          FROM blanked
        )
        SELECT n, cont, kind,
          CASE WHEN p_ts3 <> '' THEN t_ts3 WHEN p_ts2 <> '' THEN t_ts2 ELSE t_ts1 END AS ts,
          -- the message where a row needs it (the rest have their fields cut out below)
          full_msg AS msg,
          CASE WHEN kind = 'py' THEN line END AS raw,
          CASE WHEN kind = 'py' AND regexp_matches(msg, '(?:^|\\s)Duration:\\s*\\S') THEN
            nullif(regexp_extract(msg, '^REPORT RequestId: (\\S+)', 1), '') END AS py_report,
          coalesce(line_stream, {path_stream}) AS log_stream,
          coalesce(nullif(regexp_extract(line_stream, {_q(_STREAM_VERSION)}, 1), ''),
            {path_version}) AS stream_version,
          -- (an END line's id is never read: any END closes the open invocation)
          CASE kind WHEN 'start' THEN start_fields.id
            WHEN 'report' THEN {_word("parts[2]")} END AS marker_id,
          nullif(start_fields.version, '') AS start_version,
          {body} AS body,
          {report_fields},
          -- the optional fields are cut where they are read (ten columns on every row
          -- would be most of the table's memory)
          CASE WHEN len(parts) > 6 THEN rb END AS rb
        FROM split"""


def _blanked(msg: str, codes: tuple[int, ...] = (9, 10, 11, 12, 13)) -> str:
    """``msg`` with every blank (tab, newline, …; those of ``codes``) a space."""
    for code in codes:
        msg = f"replace({msg}, chr({code}), ' ')"
    return msg


# the fields every REPORT line has after its id, in _REPORT's order, from the line's
# third part (split at ": "; see _report_struct)
_REPORT_FIELDS = {"dur": "DOUBLE", "billed": "DOUBLE", "mem": "INTEGER", "maxmem": "INTEGER"}
_FIRST_FIELD_PART = 3
# the optional fields of a REPORT line, in the order _REPORT allows them
_REPORT_OPTIONAL = {
    "init": ("Init Duration", "DOUBLE"),
    "restore": ("Restore Duration", "DOUBLE"),
    "billed_restore": ("Billed Restore Duration", "DOUBLE"),
    "status": ("Status", "VARCHAR"),
    "error_type": ("Error Type", "VARCHAR"),
    "xray": ("XRAY TraceId", "VARCHAR"),
}


def _report_struct(blank: str, parts: str) -> str:
    """The optional fields of a canonical REPORT line (checked by _REPORT) with string
    functions; their columns' empty values on a line without any (``blank`` NULL).

    ``parts`` is the line (``blank``: its blanks made spaces) split at ``": "``: in a
    canonical line every value follows its label's ``": "`` and runs to the next blank,
    and the labels come in _REPORT's order, so the n-th part starts with the n-th
    value: RequestId, Duration, Billed Duration, Memory Size and Max Memory Used are
    parts 2 to 6 (typed by the parse), and each optional field present moves the ones
    after it by one. One split and a few short ones are several times cheaper than a
    regular expression with a capture group per field, or a search for every label.
    """

    def value(index: str, kind: str = "VARCHAR") -> str:
        text = _word(f"{parts}[{index}]")
        return text if kind == "VARCHAR" else f"CAST({text} AS {kind})"

    fields = {}
    absent = {}
    index = str(_FIRST_FIELD_PART + len(_REPORT_FIELDS))
    for name, (label, kind) in _REPORT_OPTIONAL.items():
        # "Restore Duration: " is also in "Billed Restore Duration: ", which _REPORT
        # only allows after it: found either way, it is there
        present = f"contains({blank}, '{label}: ')"
        none = "''" if kind == "VARCHAR" else f"NULL::{kind}"
        fields[name] = f"CASE WHEN {present} THEN {value(index, kind)} ELSE {none} END"
        absent[name] = none
        index += f" + {present}::INTEGER"
    full = "struct_pack(" + ", ".join(f"{k} := {v}" for k, v in fields.items()) + ")"
    plain = "struct_pack(" + ", ".join(f"{k} := {v}" for k, v in absent.items()) + ")"
    return f"CASE WHEN {blank} IS NULL THEN {plain} ELSE {full} END"


def _insert(
    con: duckdb.DuckDBPyConnection,
    source_file: str,
    file_number: int,
    needs_current: bool,
    handle_python: PythonRows,
) -> tuple[int, int]:
    if needs_current:
        # the Python parser's state at each line, from the lines before it: the open
        # invocation (START not yet closed by an END or its REPORT) and, for the lines
        # Python reads, the REPORT an `XRAY TraceId:` line belongs to (none since the last
        # START). A line's START is found by an ASOF join, the first line closing each
        # START by one aggregate (three windows over every line cost twice as much).
        con.execute(
            f"""CREATE TEMP TABLE _tx_current AS
            WITH marks AS (
              SELECT n, kind,
                coalesce(CASE WHEN kind = 'report' THEN marker_id END, py_report) AS rid
              FROM _tx_parsed WHERE kind IN ('start', 'end', 'report') OR {_STATEFUL}
            ), starts AS (
              SELECT n AS open_n, marker_id AS open_id FROM _tx_parsed WHERE kind = 'start'
            ), opened AS MATERIALIZED (
              SELECT m.*, s.open_n, s.open_id FROM marks m
              ASOF LEFT JOIN starts s ON m.n >= s.open_n
            ), closing AS (
              SELECT open_n, min(n) AS close_n FROM opened
              WHERE n > open_n AND (kind = 'end' OR rid = open_id) GROUP BY open_n
            ), state AS (
              SELECT n, kind, coalesce(open_n, 0) AS segment,
                CASE WHEN open_n IS NOT NULL AND (close_n IS NULL OR close_n > n)
                  THEN open_id END AS current_id
              FROM opened LEFT JOIN closing USING (open_n)
              WHERE kind NOT IN ('start', 'end', 'report')
            ), reports AS (
              SELECT n AS r_n, rid, coalesce(open_n, 0) AS segment FROM opened
              WHERE rid IS NOT NULL
            )
            SELECT n, current_id, NULL::VARCHAR AS last_report FROM state WHERE kind <> 'py'
            UNION ALL
            SELECT p.n, p.current_id, r.rid FROM (SELECT * FROM state WHERE kind = 'py') p
            ASOF LEFT JOIN reports r ON p.segment = r.segment AND p.n > r.r_n"""
        )
        join = "LEFT JOIN _tx_current c USING (n)"
        cur = "c.current_id"
    else:
        join = ""
        cur = "NULL"
    try:
        counts = _insert_rows(con, source_file, file_number, join, cur)
        if needs_current:
            cursor = con.execute(
                "SELECT n, raw, log_stream, stream_version, current_id, last_report "
                "FROM _tx_parsed JOIN _tx_current USING (n) WHERE kind = 'py' ORDER BY n"
            )
            while batch := cursor.fetchmany(10_000):
                handle_python(batch)
        return counts
    finally:
        con.execute("DROP TABLE IF EXISTS _tx_current")


def _insert_rows(
    con: duckdb.DuckDBPyConnection, source_file: str, file_number: int, join: str, cur: str
) -> tuple[int, int]:
    inv_cols = list(STAGE_COLUMNS["invocations"])
    report_rank = RANK["report"]
    dur = "r_dur"
    restore = "r.restore"
    init = "r.init"
    status = "lower(r.status)"
    outcome = (
        f"CASE {status} WHEN 'timeout' THEN 'timeout' WHEN 'error' THEN 'error' "
        "WHEN 'failure' THEN 'error' ELSE 'success' END"
    )
    xray = (
        f"CASE WHEN r.xray <> '' THEN nullif(lower(regexp_extract(r.xray, {_q(_XRAY_ID)}, 1) || "
        f"regexp_extract(r.xray, {_q(_XRAY_ID)}, 2)), '') END"
    )
    timeout_id = f"regexp_extract(msg, {_q(_TIMEOUT_ID)}, 1)"
    timeout_msg = (
        f"CASE WHEN {timeout_id} = '' THEN msg "
        f"ELSE trim(substring(msg, length({timeout_id}) + 1), {_WS}) END"
    )
    report = {
        "ts": _began("ts", dur),
        "log_stream": "log_stream",
        "function_version": "stream_version",
        "request_id": "marker_id",
        "duration_ms": dur,
        "billed_duration_ms": "r_billed",
        "memory_size_mb": "r_mem",
        "max_memory_used_mb": "r_maxmem",
        "init_duration_ms": init,
        "restore_duration_ms": restore,
        "billed_restore_duration_ms": "r.billed_restore",
        "cold_start": f"({init} IS NOT NULL OR {restore} IS NOT NULL)",
        "init_type": f"CASE WHEN {restore} IS NOT NULL THEN 'snap-start' END",
        "trace_id": xray,
        "outcome": outcome,
        "error_type": f"coalesce(nullif(r.error_type, ''), CASE WHEN {outcome} = 'timeout' "
        "THEN 'Sandbox.Timedout' END)",
        "version": "stream_version",
        "source": "'report'",
        "_rank": str(report_rank),
        "_file": str(file_number),
        "_line": "n",
    }

    version = "coalesce(start_version, stream_version)"
    start = {
        "ts": "ts",
        "log_stream": "log_stream",
        "function_version": version,
        "version": version,
        "request_id": "marker_id",
        "source": "'report'",
        "_rank": str(START_RANK),
        "_file": str(file_number),
        "_line": "n",
    }
    # the start of a timed-out invocation (its line's time less the timeout), as
    # lambda_text.timeout_start gives it
    secs = f"TRY_CAST(regexp_extract(msg, {_q(_TIMEOUT_SECS)}, 1) AS DOUBLE)"
    timeout = {
        "ts": f"CASE WHEN {secs} >= 0 AND {secs} < 1e6 THEN "
        f"ts - to_microseconds(CAST(round({secs} * 1000000) AS BIGINT)) END",
        "log_stream": "log_stream",
        "function_version": "stream_version",
        "version": "stream_version",
        "request_id": timeout_id,
        "outcome": "'timeout'",
        "error_type": "'Sandbox.Timedout'",
        "error_message": timeout_msg,
        "source": "'report'",
        "_rank": str(TIMEOUT_RANK),
        "_file": str(file_number),
        "_line": "n",
    }

    def select(exprs: dict[str, str]) -> str:
        return ", ".join(f"{exprs.get(c, 'NULL')} AS {c}" for c in inv_cols)

    # an attempt's START and REPORT lines are one record, as combine_line_pairs makes
    # them: a REPORT directly after its START among the lines naming that id, of the
    # same attempt (the lines Python parses count among them: a crash line between the
    # two keeps them apart, as it does on the Python path). An id that two lines name,
    # START then REPORT, is such a pair as it stands (the common invocation: one
    # aggregate finds them all); only the lines of ids named more often (retries,
    # timeouts) are put in order by a window. Pairs are found by line number and their
    # fields joined after: a window carrying the fields costs several times as much.
    ids = (
        "CASE kind WHEN 'start' THEN marker_id WHEN 'report' THEN marker_id "
        f"WHEN 'timeout' THEN nullif({timeout_id}, '') "
        f"WHEN 'py' THEN nullif(regexp_extract(msg, {_q(_ANY_ID)}, 1) || "
        f"regexp_extract(msg, {_q(_ANY_ID)}, 2), '') END"
    )
    # by the id's hash (numbers are cheaper to group, sort and keep than strings): ids
    # whose hashes collide look like one; the join below compares the ids and drops a
    # pair of two, and a pair missed so stays two records, which the merge makes the
    # same row (pairing only saves it the work)
    candidates = (
        f"WITH named AS MATERIALIZED (SELECT n, kind = 'start' AS is_start,"
        f"  kind = 'report' AS is_report, hash(rid) AS h FROM (SELECT n, kind, {ids} AS rid"
        "  FROM _tx_parsed WHERE kind IN ('start', 'report', 'timeout', 'py'))"
        "  WHERE rid IS NOT NULL),"
        # (the first line a START, the last a REPORT)
        " counted AS MATERIALIZED (SELECT h, count(*) AS lines, min(n) AS s_n,"
        "  max(n) AS r_n, min(CASE WHEN is_start THEN n END) AS first_start,"
        "  max(CASE WHEN is_report THEN n END) AS last_report FROM named GROUP BY h)"
        " SELECT s_n, r_n FROM counted"
        "  WHERE lines = 2 AND first_start = s_n AND last_report = r_n"
        " UNION ALL SELECT n, next_n FROM ("
        "  SELECT n, is_start, lead(n) OVER o AS next_n, lead(is_report) OVER o AS next_report"
        "  FROM named SEMI JOIN (SELECT h FROM counted WHERE lines > 2) USING (h)"
        "  WINDOW o AS (PARTITION BY h ORDER BY n)"
        ") WHERE is_start AND next_report"
    )
    typed = STAGE_COLUMNS["invocations"]

    def record(exprs: dict[str, str]) -> str:
        """The record columns ``exprs`` gives (the joins carry no NULL columns)."""
        return ", ".join(f"{exprs[c]} AS {c}" for c in RECORD_COLUMNS if c in exprs)

    # what a pair takes from its START line (its request id is the REPORT's)
    from_start = [c for c in RECORD_COLUMNS if c in start and c not in ("request_id", "source")]
    rep_dur = "rep.r_dur"
    con.execute(
        "CREATE TEMP TABLE _tx_pairs AS SELECT c.s_n, c.r_n, "
        + ", ".join(f"s.{c} AS s_{c}" for c in from_start)
        + " FROM ("
        + candidates
        + f") c JOIN (SELECT n, {record(start)} FROM _tx_parsed WHERE kind = 'start') s"
        " ON s.n = c.s_n JOIN (SELECT n, ts, marker_id, r_dur "
        "FROM _tx_parsed WHERE kind = 'report') rep ON rep.n = c.r_n"
        f" WHERE s.request_id = rep.marker_id"
        f" AND {same_attempt_sql('s.ts', _began('rep.ts', rep_dur), rep_dur)}"
    )
    # each REPORT line's record, or (paired) the merge of its START's and its own;
    # _line NULL on a pair: it is made, combine_line_pairs leaves it alone
    first = {c: f"p.s_{c}" for c in from_start} | {"request_id": "r_rec.request_id"}
    second = {c: f"r_rec.{c}" for c in RECORD_COLUMNS if c in report}
    merged = pair_exprs(
        {c: first.get(c, f"NULL::{typed[c]}") for c in RECORD_COLUMNS},
        {c: second.get(c, f"NULL::{typed[c]}") for c in RECORD_COLUMNS},
    )
    merged["source"] = "'report'"  # both records' (the list union pair_exprs makes costs)
    # a REPORT without its START meets NULLs for them: the merge of an empty record
    # and another is that other, so the same expressions give the REPORT's own record
    alone = "p.r_n IS NULL"
    reports = merged | {
        "_rank": f"CASE WHEN {alone} THEN {report_rank} ELSE {START_RANK} END",
        "_file": str(file_number),
        "_line": f"CASE WHEN {alone} THEN r_rec._n END",
    }
    sides = {
        "s": f"SELECT {select(start)} FROM _tx_parsed ANTI JOIN _tx_pairs p"
        " ON _tx_parsed.n = p.s_n WHERE kind = 'start'",
        "r": f"SELECT {select(reports)} FROM (SELECT n AS _n, {record(report)} FROM ("
        f"  SELECT *, {_report_struct('rb', 'parts')} AS r FROM ("
        "   SELECT *, string_split(rb, ': ') AS parts FROM _tx_parsed WHERE kind = 'report'))"
        ") r_rec LEFT JOIN _tx_pairs p ON p.r_n = r_rec._n",
        "t": f"SELECT {select(timeout)} FROM _tx_parsed "
        f"WHERE kind = 'timeout' AND {timeout_id} <> ''",
    }
    try:
        n_inv = con.execute(
            "INSERT INTO _stage_invocations " + " UNION ALL ".join(sides.values())
        ).fetchone()[0]
        # a file's records are counted as read (a pair is two, as on the Python path)
        n_inv += con.execute("SELECT count(*) FROM _tx_pairs").fetchone()[0]
    finally:
        con.execute("DROP TABLE _tx_pairs")
    level = _LEVEL_SQL
    # a runtime line's fields from its head (the text before ``body``, its message), cut
    # with string functions where the head's shape allows (a Node.js line: an id of fixed
    # length or "undefined", blanks, a level; a Python line: [level], blanks between
    # the time and the id): several times cheaper than a pattern's capture groups
    head = "substring(msg, 1, length(msg) - length(body))"
    java = f"regexp_extract(head, {_q(_JAVA_HEAD)}, "
    bracketed = "substring(head, 2, strpos(head, ']') - 2)"
    node_id = (
        "CASE WHEN starts_with(head, 'undefined') THEN 'undefined' ELSE substring(head, 1, 36) END"
    )
    node_level = (
        "trim(substring(head, CASE WHEN starts_with(head, 'undefined') THEN 10 ELSE 37 END), "
        "' ' || chr(9))"
    )
    py_after = "ltrim(" + _blanked("substring(head, strpos(head, ']') + 1)", (9, 10, 12, 13)) + ")"
    py_ts = "py_ts"  # (a column of its own: the id is cut after it)
    py_id = _word("ltrim(substring(py_after, length(py_ts) + 1))")
    msg_expr = (
        "CASE kind"
        f" WHEN 'py_app' THEN body WHEN 'node_app' THEN body"
        f" WHEN 'java_app' THEN body WHEN 'py_bare' THEN body"
        f" WHEN 'timeout' THEN {timeout_msg}"
        " ELSE msg END"
    )
    # each field of a runtime line is extracted once, in a materialized step: an
    # expression used twice (CASE lower(x) WHEN ..., nullif(x, ...)) would be computed twice
    raw = {
        "f_level": {"py_app": bracketed, "node_app": node_level, "java_app": java + "3)"}
        | {"py_bare": bracketed},
        "f_rid": {"py_app": py_id, "node_app": node_id, "java_app": java + "2)"}
        | {"timeout": timeout_id},
        "f_ts": {"py_app": py_ts, "java_app": java + "1)"},
    }
    fields = ", ".join(
        "CASE kind " + " ".join(f"WHEN '{k}' THEN {e}" for k, e in by_kind.items()) + f" END AS {f}"
        for f, by_kind in raw.items()
    )
    level_expr = (
        "CASE WHEN f_level IS NOT NULL THEN "
        f"{level.format(x='f_level')}"
        " WHEN kind = 'timeout' THEN 'error'"
        f" ELSE CASE WHEN regexp_matches(msg, {_q(_PLATFORM)}) "
        "AND contains(msg, 'Status: error') THEN 'error' END END"
    )
    ts_expr = f"coalesce({_ts('f_ts')}, ts)"
    rid_expr = (
        "coalesce(CASE kind"
        " WHEN 'py_app' THEN nullif(nullif(f_rid, 'undefined'), '')"
        " WHEN 'node_app' THEN nullif(f_rid, 'undefined')"
        " WHEN 'java_app' THEN f_rid"
        " WHEN 'timeout' THEN nullif(f_rid, '')"
        " END, cur_id)"
    )
    log_exprs = {
        "ts": ts_expr,
        "level": level_expr,
        "message": msg_expr,
        "request_id": rid_expr,
        "source_file": _lit(source_file),
        "source_line": "n",
        "source_index": "0",  # one log row per event, as the Python parser gives
    }
    log_cols = ", ".join(f"{log_exprs.get(c, 'NULL')} AS {c}" for c in STAGE_COLUMNS["logs"])
    n_logs = con.execute(
        f"INSERT INTO _stage_logs WITH h AS ("
        f"  SELECT n, kind, msg, body, ts, {cur} AS cur_id,"
        f"    CASE WHEN kind IN ({', '.join(repr(k) for k in _HEADS)}) THEN {head} END AS head"
        f"  FROM _tx_parsed {join} WHERE kind NOT IN ('report', 'start', 'end', 'empty', 'py')"
        f"), a AS (SELECT *, CASE WHEN kind = 'py_app' THEN {py_after} END AS py_after FROM h"
        f"), t AS (SELECT *, {_word('py_after')} AS py_ts FROM a"
        f"), f AS MATERIALIZED (SELECT n, kind, msg, body, ts, cur_id, {fields} FROM t"
        f") SELECT {log_cols} FROM f"
    ).fetchone()[0]
    return int(n_inv), int(n_logs)


def _began(ts: str, duration_ms: str) -> str:
    """When an invocation began: its REPORT line's time less its duration."""
    return f"{ts} - to_microseconds(CAST(round({duration_ms} * 1000) AS BIGINT))"


def _version(stream: str | None) -> str | None:
    if not stream or "[" not in stream or "]" not in stream:
        return None
    return stream.split("[", 1)[1].split("]", 1)[0]


def _lit(value: str | None) -> str:
    return "NULL" if value is None else "'" + value.replace("'", "''") + "'"
