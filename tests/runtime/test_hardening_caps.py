"""Issue 19, item 13 (the record's part): error text is cut to a documented size with a
marker, so a 5 MB exception message does not become a 10 MB stdout line."""

from __future__ import annotations

import json

import pytest

import fnlens
from fnlens.runtime._truncate import MAX_ERROR_MESSAGE_CHARS, MAX_STACK_TRACE_CHARS, truncate
from fnlens.testing import LambdaContext

FIVE_MB = 5 * 1024 * 1024


def test_a_5_mb_message_is_cut_in_the_record_and_the_error_passes_through(capsys):
    error = ValueError("m" * FIVE_MB + "THE-END")

    @fnlens.instrument
    def handler(event, context):
        raise error

    with pytest.raises(ValueError) as raised:
        handler({}, LambdaContext())
    assert raised.value is error  # the same object, message untouched
    assert len(str(raised.value)) == FIVE_MB + len("THE-END")
    lines = [x for x in capsys.readouterr().out.splitlines() if '"event":"invocation"' in x]
    assert len(lines) == 1
    assert len(lines[0].encode()) < 256 * 1024  # one CloudWatch Logs event
    record = json.loads(lines[0])
    message, trace = record["error_message"], record["exception"]
    assert len(message) <= MAX_ERROR_MESSAGE_CHARS and len(trace) <= MAX_STACK_TRACE_CHARS
    assert message.startswith("m" * 1000) and message.endswith("THE-END")
    assert "characters cut]" in message
    assert trace.startswith("Traceback (most recent call last):") and trace.endswith("THE-END")


def test_user_lines_with_exc_info_have_their_trace_cut_too(capsys):
    try:
        raise RuntimeError("x" * 100_000)
    except RuntimeError:
        fnlens.get_logger().exception("failed")
    line = json.loads(capsys.readouterr().out.splitlines()[-1])
    assert len(line["exception"]) <= MAX_STACK_TRACE_CHARS
    assert "characters cut]" in line["exception"]


@pytest.mark.parametrize("length", [0, 10, 100, 101, 10_000])
def test_truncate_keeps_short_text_and_says_how_much_it_cut(length):
    text = "".join(chr(97 + i % 26) for i in range(length))
    out = truncate(text, 100)
    if length <= 100:
        assert out == text
        return
    assert len(out) <= 100
    head, _, rest = out.partition("…[fnlens: ")
    count, _, tail = rest.partition(" characters cut]…")
    assert text.startswith(head) and text.endswith(tail)
    assert len(head) + int(count) + len(tail) == length  # every character accounted for
