"""Would the Lambda runtime fail to serialise this result (``Runtime.MarshalError``)?

Inside the Lambda runtime loop the handler's return value is serialised by the
runtime interface client after the handler returns; when that fails, the caller
gets ``Runtime.MarshalError`` although the handler "succeeded". fnlens records the
invocation before (or without seeing) that step, so it asks the same question:

1. a quick walk over the result settles the common shapes (dicts and lists of
   strings, numbers, booleans, ``None``, ``Decimal``) without encoding anything —
   an API Gateway response's body is a string, checked in O(1) whatever its size;
2. anything the walk is unsure of (another type, nested ``bytes``, keys that are not
   strings or numbers, deep nesting, cycles) is handed to the runtime's own
   marshaller, ``LambdaRuntimeClient.marshaller.marshal_response`` (the override
   point awslambdaric documents; an application's replacement is honoured), or,
   for runtime clients without one, to the same encoder they use (simplejson with
   their ``Decimal`` handling).

No runtime client loaded (a handler called directly, a web framework, tests): the
result goes to nobody's encoder, and nothing is checked.
"""

from __future__ import annotations

import decimal
import math
import sys
from typing import Any

from fnlens.runtime._response_phase import MODULES, runtime_client_class

MARSHAL_ERROR = "Runtime.MarshalError"
_WALK_DEPTH = 64  # deeper results are left to the real encoder
_LEAVES = frozenset({str, int, float, bool, type(None), decimal.Decimal})
_KEYS = frozenset({str, int, float, bool, type(None)})


_seen: list[Any] = [None, None]  # [the runtime client's module, its class]


def _runtime_client() -> type | None:
    """The loaded runtime client class; one dict lookup per call once found (a test
    may load another stand-in module: it is looked up again then)."""
    modules = sys.modules
    for name in MODULES:
        module = modules.get(name)
        if module is not None:
            if module is not _seen[0]:
                _seen[0], _seen[1] = module, runtime_client_class()
            return _seen[1]
    return None


def marshal_error(result: Any) -> tuple[str, str] | None:
    """``(error_type, message)`` as the runtime would report them, or None when the
    runtime can serialise ``result`` (or no runtime client is there to do it)."""
    if type(result) in _LEAVES:
        return None
    cls = _runtime_client()  # (two dict lookups when none is loaded)
    if cls is None:
        return None
    marshaller = getattr(cls, "marshaller", None)
    if type(result) is bytes:
        if marshaller is not None:
            return None  # sent as is (application/unknown) by clients with a marshaller
        return _encode_error(result)
    if _plainly_serialisable(result, 0):
        return None
    if marshaller is not None and callable(getattr(marshaller, "marshal_response", None)):
        try:
            marshaller.marshal_response(result)
        except Exception as exc:
            error_type = getattr(exc, "exception_type", None)
            message = getattr(exc, "msg", None)
            return (
                error_type if isinstance(error_type, str) and error_type else MARSHAL_ERROR,
                message if isinstance(message, str) and message else _message(exc),
            )
        return None
    return _encode_error(result)


def _plainly_serialisable(value: Any, depth: int) -> bool:
    """True when any JSON encoder the runtime uses takes ``value``; False when unsure."""
    if depth > _WALK_DEPTH:
        return False
    leaves = _LEAVES
    kind = type(value)
    if kind is dict:
        keys = _KEYS
        for key, item in value.items():
            if type(key) not in keys:
                return False
            if type(item) not in leaves and not _plainly_serialisable(item, depth + 1):
                return False
        return True
    if kind is list or kind is tuple:
        for item in value:
            if type(item) not in leaves and not _plainly_serialisable(item, depth + 1):
                return False
        return True
    return kind in leaves


def _encode_error(result: Any) -> tuple[str, str] | None:
    """The runtime clients' encoder without a marshaller object: simplejson (their
    dependency) with ``Decimal`` as a number, NaN allowed."""
    try:
        import simplejson as encoder_module
    except ImportError:  # pragma: no cover - awslambdaric depends on simplejson
        import json as encoder_module

    def default(obj: Any) -> Any:
        if isinstance(obj, decimal.Decimal):
            return math.nan if obj.is_nan() else float(obj)
        raise TypeError(f"Object of type {type(obj).__name__} is not JSON serializable")

    try:
        encoder_module.dumps(result, default=default)
    except Exception as exc:
        return MARSHAL_ERROR, _message(exc)
    return None


def _message(exc: BaseException) -> str:
    try:
        text = str(exc)
    except Exception:
        text = type(exc).__name__
    return f"Unable to marshal response: {text}"
