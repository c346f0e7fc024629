"""Issue 19, item 11: redaction at any depth, through every container, and in query
strings and URLs (parameter names from the same list as keys)."""

from __future__ import annotations

import dataclasses
import json
from collections import OrderedDict, deque
from types import MappingProxyType

import pytest

import fnlens
from fnlens._config import DEFAULT_REDACT_KEYS
from fnlens.runtime._redaction import REDACTED, Redactor
from fnlens.testing import LambdaContext, events

SECRETS = ("hunter2", "tok-123", "key-456", "pw-789")


@pytest.fixture(autouse=True)
def _default_redactor():
    """Log lines outside an invocation use the redactor of the handler decorated last:
    here one with the default settings (the autouse reset forgets it afterwards)."""
    fnlens.instrument(lambda event, context: None)


def _out_lines(capsys) -> list[dict]:
    return [json.loads(x) for x in capsys.readouterr().out.splitlines() if x.startswith("{")]


def _nested(levels: int, leaf: dict) -> dict:
    root = cur = {}
    for _ in range(levels - 1):
        cur["level"] = {}
        cur = cur["level"]
    cur.update(leaf)
    return root


@pytest.mark.parametrize("levels", [9, 12, 50, 99])
def test_keys_deeper_than_eight_levels_are_redacted(levels, capsys):
    fnlens.get_logger().info("deep", data=_nested(levels, {"password": "hunter2", "ok": 1}))
    out_line = next(line for line in _out_lines(capsys) if line["event"] == "deep")
    leaf = out_line["data"]
    for _ in range(levels - 1):
        leaf = leaf["level"]
    assert leaf == {"password": REDACTED, "ok": 1}


def test_nothing_below_the_depth_cut_is_written(capsys):
    fnlens.get_logger().info("deeper", data=_nested(500, {"password": "hunter2"}))
    assert "hunter2" not in capsys.readouterr().out


@pytest.mark.parametrize(
    "container",
    [
        lambda d: (d,),
        lambda d: [(1, (d,))],
        lambda d: {"set_of_tuples": frozenset({("a", "b")}), "inner": (d,)},
        lambda d: deque([d]),
        lambda d: MappingProxyType({"inner": d}),
        lambda d: OrderedDict(inner=d),
    ],
    ids=["tuple", "list-of-tuples", "frozenset-and-tuple", "deque", "mappingproxy", "ordered"],
)
def test_dicts_inside_any_container_are_visited(container, capsys):
    fnlens.get_logger().info("wrapped", data=container({"api_key": "key-456", "keep": "me"}))
    out = capsys.readouterr().out
    assert "key-456" not in out and '"keep":"me"' in out


def test_dataclasses_are_redacted_like_the_dicts_orjson_writes_for_them(capsys):
    @dataclasses.dataclass
    class Login:
        user: str
        password: str

    fnlens.get_logger().info("dc", login=Login("ada", "pw-789"))
    line = next(x for x in _out_lines(capsys) if x["event"] == "dc")
    assert line["login"] == {"user": "ada", "password": REDACTED}


def test_a_self_referencing_dict_never_leaks_through_its_cycle(capsys):
    data: dict = {"password": "hunter2"}
    data["again"] = data
    fnlens.get_logger().info("cycle", data=data)
    out = capsys.readouterr().out
    assert "hunter2" not in out


def test_input_is_never_mutated():
    redactor = Redactor(DEFAULT_REDACT_KEYS)
    original = {"a": ({"token": "tok-123"},), "url": "https://h/p?token=tok-123"}
    copy = redactor.redact(original)
    assert original == {"a": ({"token": "tok-123"},), "url": "https://h/p?token=tok-123"}
    assert copy == {"a": ({"token": REDACTED},), "url": f"https://h/p?token={REDACTED}"}


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        ("rawQueryString", "token=tok-123&api_key=key-456&page=2", None),
        ("query_string", "page=2&access%5Ftoken=tok-123", "page=2&access%5Ftoken=[REDACTED]"),
        (
            "url",
            "https://ada:hunter2@example.com/a?x=1",
            "https://ada:[REDACTED]@example.com/a?x=1",
        ),
        ("redirectUrl", "https://e.com/cb#access_token=tok-123&state=s", None),
        ("rawPath", "/items;access_token=tok-123/7", "/items;access_token=[REDACTED]/7"),
        ("referer", "https://e.com/?X-Amz-Credential=key-456&X-Amz-Security-Token=tok-123", None),
        ("path", "/orders/42", "/orders/42"),
        ("url", "https://e.com/search?q=token", "https://e.com/search?q=token"),
    ],
)
def test_secret_parameters_in_query_strings_and_urls(key, value, expected):
    redacted = Redactor(DEFAULT_REDACT_KEYS).redact({key: value})[key]
    for secret in SECRETS:
        assert secret not in redacted
    if expected is not None:
        assert redacted == expected
    assert redacted.count("=") == value.count("=")  # every other parameter kept


def test_logged_event_masks_raw_query_string_and_raw_path(telemetry, capsys):
    event = events.api_gateway_v2("GET /items/{id}")
    event["rawQueryString"] = "token=tok-123&api_key=key-456&page=2"
    event["queryStringParameters"] = {"token": "tok-123", "api_key": "key-456", "page": "2"}
    event["rawPath"] = "/items/7;sessiontoken=tok-123"
    event["headers"]["referer"] = "https://app.example.com/login?password=pw-789"

    @fnlens.instrument(log_event=True)
    def handler(event, context):
        return {"statusCode": 200}

    handler(event, LambdaContext())
    out = capsys.readouterr().out
    for secret in SECRETS:
        assert secret not in out, secret
    logged = next(x for x in telemetry.logs if x["event"] == "event received")["lambda_event"]
    assert logged["rawQueryString"] == f"token={REDACTED}&api_key={REDACTED}&page=2"
    assert logged["queryStringParameters"]["page"] == "2"
    assert logged["rawPath"] == f"/items/7;sessiontoken={REDACTED}"


def test_log_line_url_fields_are_masked_too(capsys):
    fnlens.get_logger().info("call", url="https://api.example.com/v1?api_key=key-456&n=1")
    line = next(x for x in _out_lines(capsys) if x["event"] == "call")
    assert line["url"] == f"https://api.example.com/v1?api_key={REDACTED}&n=1"
