"""Per-file format detection from the first few hundred KB (decompressed).

Returns the format name and how to read the file: ``lines`` (one record or text
line per line), ``documents`` (concatenated or pretty-printed JSON) or ``array``
(a JSON array of pages/events). ``fast`` marks clean fnlens JSONL that DuckDB can
load by itself. Files matching nothing raise UnknownFormatError naming what was tried.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass

from fnlens.analysis._formats import FORMATS
from fnlens.analysis._formats.insights import is_insights_csv_header
from fnlens.analysis._formats.lambda_text import line_kind, unprefixed_platform_line
from fnlens.analysis._formats.messages import classify, python_repr
from fnlens.analysis._readers import Input
from fnlens.exceptions import UnknownFormatError

SAMPLE_LINES = 200


@dataclass
class Detection:
    format: str
    mode: str  # lines | documents | array | empty
    fast: bool = False


def detect(inp: Input) -> Detection:
    head_bytes = inp.head()
    if b"\x00" in head_bytes[:4096]:
        raise UnknownFormatError(_unknown(str(inp.path), "binary data"))
    head = head_bytes.decode("utf-8", errors="replace").lstrip("\ufeff")
    stripped = head.lstrip()
    if not stripped:
        return Detection("empty", "empty")
    lines = head.splitlines()
    if len(head_bytes) >= 256 * 1024 and lines:
        lines = lines[:-1]  # the last one may be cut in the middle
    lines = [ln for ln in lines if ln.strip()][:SAMPLE_LINES]
    if stripped[0] == "[":
        return Detection(_array_kind(inp), "array")
    if lines and is_insights_csv_header(lines[0]):
        return Detection("logs-insights-csv", "csv")
    if stripped[0] == "{":
        try:
            first = json.loads(lines[0])
        except (ValueError, IndexError, RecursionError):
            first = None
        if isinstance(first, dict):
            return _lines_detection(lines)
        try:
            doc, end = json.JSONDecoder().raw_decode(stripped)
        except (ValueError, RecursionError):
            if python_repr(stripped):  # `{'key': 'value'}` from print(dict): text
                return _text_detection(inp, lines)
            return Detection("json-lines", "documents")  # let the reader report the error
        kind = classify(doc) if isinstance(doc, dict) else "json-lines"
        if kind == "lambda-json":  # pretty-printed platform events: a Telemetry API dump
            kind = "lambda-telemetry"
        rest = stripped[end:].lstrip()
        if kind == "cloudwatch-subscription" and rest.startswith("{") and "awslogs" not in doc:
            kind = "firehose"
        return Detection(kind, "documents")
    return _text_detection(inp, lines)


def _text_detection(inp: Input, lines: list[str]) -> Detection:
    kinds: Counter[str] = Counter()
    raw_platform = False
    for ln in lines:
        if ln.lstrip().startswith("{"):
            continue
        kind = line_kind(ln.strip())
        if kind:
            kinds[kind] += 1
            raw_platform = raw_platform or unprefixed_platform_line(ln)
    if not kinds:
        raise UnknownFormatError(_unknown(str(inp.path), "no line looks like a supported record"))
    kind = kinds.most_common(1)[0][0]
    if raw_platform and kind == "cloudwatch-s3-export":
        # START/END/REPORT without a timestamp: a raw copy in which the runtime's own
        # lines (Node.js `<ts>\t<id>\t<LEVEL>`) start with a time
        kind = "lambda-text"
    return Detection(kind, "lines")


def _lines_detection(lines: list[str]) -> Detection:
    kinds: Counter[str] = Counter()
    all_fnlens = True
    for ln in lines:
        s = ln.strip()
        if s.startswith("{"):
            try:
                obj = json.loads(s)
            except (ValueError, RecursionError):  # too deep: the reader reports the line
                all_fnlens = False
                continue
            kind = classify(obj) if isinstance(obj, dict) else "json-lines"
        else:
            kind = "lambda-text"
        kinds[kind] += 1
        all_fnlens = all_fnlens and kind == "fnlens-jsonl"
    kind = kinds.most_common(1)[0][0] if kinds else "json-lines"
    if kind == "lambda-json" and "lambda-telemetry" in kinds:
        kind = "lambda-telemetry"
    if len(kinds) > 1 and "lambda-text" in kinds and kind != "lambda-text":
        kind = "lambda-text" if kinds["lambda-text"] >= kinds[kind] else kind
    return Detection(kind, "lines", fast=all_fnlens and kind == "fnlens-jsonl")


def _array_kind(inp: Input) -> str:
    head = inp.head(64 * 1024).decode("utf-8", errors="replace").lstrip("\ufeff").lstrip()[1:]
    decoder = json.JSONDecoder()
    kinds: Counter[str] = Counter()
    pos = 0
    for _ in range(SAMPLE_LINES):  # vote over the first items (a Telemetry API batch
        rest = head[pos:].lstrip(" \t\r\n,")  # starts with initStart, then the rest)
        if not rest or rest[0] == "]":
            break
        try:
            item, end = decoder.raw_decode(rest)
        except (ValueError, RecursionError):
            break
        pos = len(head) - len(rest) + end
        kinds[classify(item) if isinstance(item, dict) else "json-lines"] += 1
    if not kinds:
        return "json-lines"
    kind = kinds.most_common(1)[0][0]
    if kind == "lambda-json" or "lambda-telemetry" in kinds:
        return "lambda-telemetry"  # platform events in a JSON array: a Telemetry API batch
    return kind


def _unknown(path: str, why: str) -> str:
    return f"{path}: unknown format ({why}); tried: {', '.join(FORMATS)}"
