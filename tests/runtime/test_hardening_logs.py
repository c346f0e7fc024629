"""Issue 19, items 1-2: a log call never raises into the handler.

Values neither orjson nor ``json`` can encode are rendered as far as they can be
(keys as strings, cycles and depth cut with a marker, ``repr`` failures replaced);
an application processor that raises or returns a non-dict is reported once and
skipped, and the invocation record is still written.
"""

from __future__ import annotations

import json

import pytest

import fnlens
from fnlens.runtime import _safe_json
from fnlens.testing import LambdaContext


class BadRepr:
    def __repr__(self) -> str:
        raise RuntimeError("no repr for you")


def _stdout_lines(capsys) -> list[dict]:
    out = capsys.readouterr().out
    return [json.loads(line) for line in out.splitlines() if line.startswith("{")]


def _line(capsys, event: str) -> dict:
    found = [line for line in _stdout_lines(capsys) if line.get("event") == event]
    assert len(found) == 1, found
    return found[0]


def _deep(levels: int) -> dict:
    root = cur = {}
    for _ in range(levels):
        cur["a"] = {}
        cur = cur["a"]
    return root


def _depth(value: object) -> int:
    """Nesting depth of a parsed JSON value (counted independently of fnlens)."""
    depth = 0
    while isinstance(value, dict) and value:
        value = next(iter(value.values()))
        depth += 1
    return depth


def test_tuple_and_bytes_keys_render_as_strings(capsys):
    fnlens.get_logger().info("keys", data={(1, 2): "t", b"raw": "b", 3: "i"})
    line = _line(capsys, "keys")
    assert line["data"] == {"(1, 2)": "t", "raw": "b", "3": "i"}


def test_self_referencing_dict_and_list_are_cut_with_a_marker(capsys):
    looped: dict = {"name": "root"}
    looped["self"] = looped
    items: list = [1]
    items.append(items)
    fnlens.get_logger().info("cycles", looped=looped, items=items)
    line = _line(capsys, "cycles")
    assert line["looped"] == {"name": "root", "self": _safe_json.CYCLE}
    assert line["items"] == [1, _safe_json.CYCLE]


def test_a_shared_child_is_not_a_cycle(capsys):
    shared = {"k": 1}
    # (a tuple key forces the rebuilding path, where cycles are looked for)
    fnlens.get_logger().info("shared", data={"a": shared, "b": shared, (0,): 0})
    assert _line(capsys, "shared")["data"] == {"a": {"k": 1}, "b": {"k": 1}, "(0,)": 0}


def test_nesting_deeper_than_the_recursion_limit_is_cut(capsys):
    fnlens.get_logger().info("deep", data=_deep(5000))
    line = _line(capsys, "deep")
    value = line["data"]
    depth = _depth(value)
    for _ in range(depth):
        value = value["a"]
    assert value == _safe_json.DEPTH_CUT
    assert depth == _safe_json.MAX_DEPTH - 1  # data sits one level below the line


def test_repr_that_raises_is_replaced(capsys):
    fnlens.get_logger().info("repr", obj=BadRepr(), fine=1)
    line = _line(capsys, "repr")
    assert line["obj"] == "[UNREPRESENTABLE BadRepr]"
    assert line["fine"] == 1


def test_big_integers_still_render_exactly(capsys):
    fnlens.get_logger().info("big", n=10**30, keys={(1,): 10**25})
    line = _line(capsys, "big")
    assert line["n"] == 10**30 and line["keys"] == {"(1,)": 10**25}


def test_nan_renders_as_null_on_every_path(capsys):
    fnlens.get_logger().info("nan", x=float("nan"), big=10**30)  # the json path
    assert _line(capsys, "nan")["x"] is None


def test_handler_that_logs_everything_hostile_still_gets_its_record(capsys):
    looped: dict = {}
    looped["me"] = looped

    @fnlens.instrument
    def handler(event, context):
        log = fnlens.get_logger()
        log.info("one", k={(1,): 1})
        log.info("two", k=looped)
        log.info("three", k=_deep(3000))
        log.info("four", k=BadRepr())
        return {"ok": True}

    result = handler({}, LambdaContext())
    assert result == {"ok": True}
    lines = _stdout_lines(capsys)
    assert [line["event"] for line in lines] == ["one", "two", "three", "four", "invocation"]
    assert lines[-1]["outcome"] == "success"


# --- item 2: application processors -------------------------------------------------


@pytest.fixture
def processors():
    yield lambda *procs: fnlens.configure(processors=list(procs))
    fnlens.configure(processors=[])


def _raising(_logger, _method, event_dict):
    raise ValueError("processor bug")


def _returns_string(_logger, _method, event_dict):
    return "not a dict"


def _adds_team(_logger, _method, event_dict):
    event_dict["team"] = "payments"
    return event_dict


@pytest.mark.parametrize("bad", [_raising, _returns_string], ids=["raises", "non-dict"])
def test_a_broken_processor_is_skipped_and_reported_once(bad, processors, capsys, caplog):
    processors(bad, _adds_team)  # (warnings start over after each test: the autouse reset)

    @fnlens.instrument
    def handler(event, context):
        log = fnlens.get_logger()
        log.info("first")
        log.info("second")
        return "result"

    assert handler({}, LambdaContext()) == "result"
    assert handler({}, LambdaContext()) == "result"
    captured = capsys.readouterr()
    lines = [json.loads(x) for x in captured.out.splitlines() if x.startswith("{")]
    events = [line["event"] for line in lines]
    assert events == ["first", "second", "invocation"] * 2
    assert all(line["team"] == "payments" for line in lines)  # the next processor ran
    records = [line for line in lines if line["event"] == "invocation"]
    assert [r["outcome"] for r in records] == ["success", "success"]
    warnings = [x for x in caplog.text.splitlines() if bad.__name__ in x]  # the fnlens logger
    assert len(warnings) == 1, caplog.text


def test_drop_event_still_drops(processors, capsys):
    from structlog.exceptions import DropEvent

    def drop_debugish(_logger, _method, event_dict):
        if event_dict.get("event") == "noise":
            raise DropEvent
        return event_dict

    processors(drop_debugish)
    log = fnlens.get_logger()
    log.info("noise")
    log.info("signal")
    assert [line["event"] for line in _stdout_lines(capsys)] == ["signal"]


def test_a_mapping_returned_by_a_processor_is_taken(processors, capsys):
    from types import MappingProxyType

    processors(lambda _l, _m, event_dict: MappingProxyType({**event_dict, "via": "proxy"}))
    fnlens.get_logger().info("mapped")
    assert _line(capsys, "mapped")["via"] == "proxy"
