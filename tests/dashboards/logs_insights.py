"""A small reader for CloudWatch Logs Insights queries: which fields does a query name?

Good enough for the queries fnlens ships: it strips SOURCE clauses and string
literals, then treats every identifier that is not a command, keyword,
function call, number or an alias defined with ``as`` as a field reference.
"""

from __future__ import annotations

import re

COMMANDS = {"fields", "filter", "stats", "sort", "limit", "display", "parse", "dedup", "unmask"}
KEYWORDS = {"by", "as", "and", "or", "not", "in", "like", "asc", "desc", "bin"}
_SOURCE = re.compile(r"^(\s*SOURCE\s+'[^']*'\s*\|)+")
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'')
_REGEX_AFTER_LIKE = re.compile(r"(\blike\s+|=~\s*)/(?:[^/\\]|\\.)*/")
_TOKEN = re.compile(r"@?[A-Za-z_][A-Za-z0-9_.]*|\d+(?:\.\d+)?|[^\sA-Za-z0-9_@]")


def named_fields(query: str) -> set[str]:
    """The log fields ``query`` reads (aliases it defines are not fields)."""
    text = _SOURCE.sub("", query)
    text = _REGEX_AFTER_LIKE.sub(r"\1''", text)
    text = _STRING.sub("''", text)
    tokens = _TOKEN.findall(text)
    aliases: set[str] = set()
    fields: set[str] = set()
    for i, tok in enumerate(tokens):
        if not re.match(r"@?[A-Za-z_]", tok):
            continue
        prev = tokens[i - 1].lower() if i else ""
        nxt = tokens[i + 1] if i + 1 < len(tokens) else ""
        low = tok.lower()
        if prev == "as":
            aliases.add(tok)
        elif nxt == "(":
            continue  # a function
        elif low in COMMANDS or low in KEYWORDS:
            continue
        else:
            fields.add(tok)
    return fields - aliases


def commands(query: str) -> list[str]:
    """The command word of each pipeline stage, e.g. ``['filter', 'stats', 'sort']``."""
    text = _STRING.sub("''", _SOURCE.sub("", query))
    return [stage.strip().split()[0].lower() for stage in text.split("|") if stage.strip()]
