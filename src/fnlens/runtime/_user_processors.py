"""Application processors in fnlens's log pipeline, isolated from each other and
from the handler.

A structlog processor the application adds (``fnlens.configure(processors=…)``)
runs on every log line and on every invocation record. One that raises, or
returns something other than a dict, must not make every ``log.info()`` raise
nor lose the invocation record. As the OpenTelemetry SDK does with span
processors, a failing processor is reported once and skipped: the line goes on
with the event dict as the processor received it (changes it made in place
before failing stay). structlog's ``DropEvent`` keeps its documented meaning.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from structlog.exceptions import DropEvent

from fnlens._config import warn_once
from fnlens.runtime._safe_json import safe_repr


class IsolatedProcessor:
    """Wraps one application processor: same call signature, never raises (except
    ``DropEvent``), always returns a dict."""

    __slots__ = ("failures", "processor")

    def __init__(self, processor: Any) -> None:
        self.processor = processor
        self.failures = 0  # lines on which it was skipped

    def __call__(self, logger: Any, method: str, event_dict: dict) -> dict:
        try:
            result = self.processor(logger, method, event_dict)
        except DropEvent:
            raise
        except Exception as exc:
            self._skip(f"raised {type(exc).__name__}: {_text(exc)[:200]}")
            return event_dict
        if type(result) is dict:
            return result
        if isinstance(result, Mapping):
            try:
                return dict(result)
            except Exception as exc:
                self._skip(f"returned a mapping that cannot be read ({type(exc).__name__})")
                return event_dict
        self._skip(f"returned {type(result).__name__}, not a dict")
        return event_dict

    def _skip(self, why: str) -> None:
        self.failures += 1
        warn_once(
            f"processor:{id(self.processor)}",
            f"log processor {_name(self.processor)} {why}; it is skipped on such lines "
            "(reported once; the handler is unaffected)",
        )

    def __repr__(self) -> str:
        return f"IsolatedProcessor({_name(self.processor)})"


def isolate(processors: list[Any]) -> list[IsolatedProcessor]:
    """Each processor wrapped once (wrapping an already isolated one is a no-op)."""
    return [p if isinstance(p, IsolatedProcessor) else IsolatedProcessor(p) for p in processors]


def _name(processor: Any) -> str:
    name = getattr(processor, "__qualname__", None) or type(processor).__qualname__
    return name if isinstance(name, str) else safe_repr(processor)


def _text(exc: BaseException) -> str:
    try:
        return str(exc)
    except Exception:
        return safe_repr(exc)
