"""Correlation for the standard library's ``logging``, for code that does not use
structlog (the Lambda runtime's default logger, third-party libraries).

    import logging, fnlens
    handler = logging.StreamHandler()
    handler.addFilter(fnlens.InvocationContextFilter())
    handler.setFormatter(logging.Formatter("%(request_id)s %(trace_id)s %(message)s"))
"""

from __future__ import annotations

import logging

from fnlens.runtime import _scope as scope

CONTEXT_FIELDS = (
    "request_id",
    "trace_id",
    "span_id",
    "cold_start",
    "service",
    "function_name",
    "function_version",
)


class InvocationContextFilter(logging.Filter):
    """Adds the current invocation's correlation fields to every ``LogRecord``.

    Outside an invocation the fields are ``None``, so format strings that name
    them never fail. Never drops a record.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        inv = scope.current_invocation()
        context = inv.log_context if inv is not None else {}
        for name in CONTEXT_FIELDS:
            if not hasattr(record, name):
                setattr(record, name, context.get(name))
        return True
