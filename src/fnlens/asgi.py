"""ASGI middleware: one invocation record and span per HTTP request of a web app.

FastAPI, Starlette and other ASGI apps run on Lambda behind Mangum or the Lambda Web
Adapter, or in a container that never freezes::

    from fnlens.asgi import Middleware

    app = Middleware(app, service="orders")

Each ``http`` request becomes one invocation, as a decorated handler's would: the
record (trigger ``http``, ``event_source`` ``asgi``), the SERVER span with the
caller's ``traceparent`` as its parent, log lines carrying the ids. The route is the
router's template (``/orders/{id}``, from the route Starlette/FastAPI matched), never
the raw path; the status comes from ``http.response.start``; ``http_ttfb_ms`` (time to
the first body byte) stands next to ``duration_ms`` for streamed responses.

Under Mangum the Lambda event and context are in the scope (``aws.event``,
``aws.context``): they are used, so the request id, the cold start and the function's
identity are Lambda's. If the Mangum handler is itself decorated with ``@instrument``,
the middleware adds only the route template to that invocation.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from fnlens.runtime import _scope
from fnlens.runtime._decorator import instrument, set_route
from fnlens.runtime._triggers import WebRequest

__all__ = ["Middleware", "route_template"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


def route_template(scope: Scope) -> str | None:
    """The template of the route the framework matched, else None.

    Starlette and FastAPI: the ``route`` it put in the scope, or the endpoint's route.
    """
    route = scope.get("route")
    path = getattr(route, "path_format", None) or getattr(route, "path", None)
    if isinstance(path, str) and path:
        root = scope.get("root_path") or ""
        return f"{root}{path}" if root and not path.startswith(root) else path
    return None


def _web_request(scope: Scope) -> WebRequest:
    headers: dict[str, str] = {}
    for raw_name, raw_value in scope.get("headers") or ():
        try:
            headers[raw_name.decode("latin-1").lower()] = raw_value.decode("latin-1")
        except Exception:
            continue
    return WebRequest(
        method=str(scope.get("method") or "GET"),
        path=str(scope.get("path") or "/"),
        headers=headers,
        source="asgi",
    )


class Middleware:
    """Wrap an ASGI app; ``options`` are ``@instrument``'s (service, flush budget…)."""

    def __init__(self, app: ASGIApp, **options: Any) -> None:
        self.app = app
        self._handle = instrument(self._serve, **options)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve one ASGI connection; HTTP requests are instrumented, the rest pass through."""
        if scope.get("type") != "http":
            await self.app(scope, receive, send)
            return
        if _scope.current_invocation() is not None and "aws.event" in scope:
            # a Mangum handler decorated with @instrument: that invocation is this
            # request; add what only the router knows
            await self.app(scope, receive, send)
            template = route_template(scope)
            if template:
                set_route(template)
            return
        event: Any = scope.get("aws.event") or _web_request(scope)
        context = scope.get("aws.context")
        await self._handle(event, context, scope=scope, receive=receive, send=send)

    async def _serve(
        self, event: Any, context: Any, *, scope: Scope, receive: Receive, send: Send
    ) -> dict[str, Any]:
        """The instrumented "handler": runs the app.

        Its result tells the record the status (what the app sent in
        ``http.response.start``).
        """
        started = time.perf_counter()
        state: dict[str, Any] = {"status": None, "ttfb_ms": None}

        async def sending(message: Message) -> None:
            kind = message.get("type")
            if kind == "http.response.start":
                state["status"] = message.get("status")
            elif (
                kind == "http.response.body"
                and state["ttfb_ms"] is None
                and (message.get("body") or not message.get("more_body", False))
            ):
                state["ttfb_ms"] = round((time.perf_counter() - started) * 1000.0, 3)
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            template = route_template(scope)
            if template:
                set_route(template)
            inv = _scope.current_invocation()
            if inv is not None and state["ttfb_ms"] is not None:
                inv.extra_fields = {"http_ttfb_ms": state["ttfb_ms"]}
        status = state["status"]
        return {"statusCode": status if isinstance(status, int) else 500}
