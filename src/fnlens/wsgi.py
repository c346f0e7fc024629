"""WSGI middleware: one invocation record and span per HTTP request of a web app.

Flask and other WSGI apps, on Lambda behind an adapter or in a container::

    from fnlens.wsgi import Middleware

    app.wsgi_app = Middleware(app.wsgi_app, service="orders", flask_app=app)

Each request becomes one invocation (trigger ``http``, ``event_source`` ``wsgi``),
recorded when the response has been sent — a streamed response's iterable included —
with ``http_ttfb_ms`` (time to the first body chunk) next to ``duration_ms``. The
route template comes from Flask's matched rule (``/orders/<int:id>`` recorded as
``/orders/{id}``) when ``flask_app`` is given, or from ``fnlens.set_route`` in the
view.
"""

from __future__ import annotations

import re
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from fnlens.runtime import _scope
from fnlens.runtime._decorator import instrumentation, set_route
from fnlens.runtime._triggers import WebRequest

__all__ = ["Middleware", "rule_template"]

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
_CONVERTER = re.compile(r"<(?:[^:<>]+:)?([^<>]+)>")


def rule_template(rule: str) -> str:
    """A Werkzeug rule as a route template: ``/orders/<int:id>`` -> ``/orders/{id}``."""
    return _CONVERTER.sub(r"{\1}", rule)


def _web_request(environ: dict[str, Any]) -> WebRequest:
    headers = {
        key[5:].replace("_", "-").lower(): value
        for key, value in environ.items()
        if key.startswith("HTTP_") and isinstance(value, str)
    }
    return WebRequest(
        method=str(environ.get("REQUEST_METHOD") or "GET"),
        path=str(environ.get("PATH_INFO") or "/"),
        headers=headers,
        source="wsgi",
    )


class Middleware:
    """Wrap a WSGI app; ``options`` are ``@instrument``'s (service, flush budget…)."""

    def __init__(self, app: WSGIApp, *, flask_app: Any = None, **options: Any) -> None:
        self.app = app
        self._recorder = instrumentation(app, **options)
        if flask_app is not None:
            flask_app.before_request(_flask_route)

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        """Serve one WSGI request, recorded as an invocation."""
        recorder = self._recorder
        if recorder is None:  # FNLENS_DISABLED
            return self.app(environ, start_response)
        context = environ.get("aws.context") or environ.get("serverless.context")
        event = environ.get("aws.event") or environ.get("serverless.event")
        inv, token = recorder.begin((event or _web_request(environ), context), {})
        if inv is None:
            return self.app(environ, start_response)
        started = time.perf_counter()
        status: dict[str, Any] = {"code": None}

        def starting(code: str, headers: Any, exc_info: Any = None) -> Any:
            try:
                status["code"] = int(str(code).split(" ", 1)[0])
            except ValueError:
                status["code"] = None
            if exc_info is not None:
                return start_response(code, headers, exc_info)
            return start_response(code, headers)

        try:
            body = self.app(environ, starting)
        except BaseException as error:
            recorder.finish(inv, None, error)
            recorder.leave(inv, token)
            raise
        return _Recorded(body, recorder, inv, token, status, started)


def _flask_route() -> None:
    """Flask's ``before_request``: the matched rule's template for this invocation."""
    flask = sys.modules.get("flask")
    request = getattr(flask, "request", None) if flask is not None else None
    rule = getattr(request, "url_rule", None) if request is not None else None
    if rule is not None and getattr(rule, "rule", None):
        set_route(rule_template(rule.rule))


class _Recorded:
    """The app's response iterable; the invocation ends when the server closes it."""

    def __init__(
        self,
        body: Iterable[bytes],
        recorder: Any,
        inv: Any,
        token: Any,
        status: dict[str, Any],
        started: float,
    ) -> None:
        self._body = body
        self._recorder = recorder
        self._inv = inv
        self._token = token
        self._status = status
        self._started = started
        self._error: BaseException | None = None
        self._done = False

    def __iter__(self) -> Iterator[bytes]:
        first = True
        try:
            for chunk in self._body:
                if first and chunk:
                    first = False
                    ttfb = round((time.perf_counter() - self._started) * 1000.0, 3)
                    self._inv.extra_fields = {"http_ttfb_ms": ttfb}
                yield chunk
        except BaseException as error:
            self._error = error
            raise

    def close(self) -> None:
        try:
            close = getattr(self._body, "close", None)
            if close is not None:
                close()
        finally:
            self._end()

    def __del__(self) -> None:  # a server that never closes the iterable (PEP 3333 says
        if not self._done:  # it must): record it; the context is not ours to reset here
            self._end(in_context=False)

    def _end(self, in_context: bool = True) -> None:
        if self._done:
            return
        self._done = True
        code = self._status["code"]
        result = {"statusCode": code if isinstance(code, int) else 500}
        self._recorder.finish(self._inv, None if self._error else result, self._error)
        if in_context:
            self._recorder.leave(self._inv, self._token)
        else:
            _scope.leave(self._inv, None)
