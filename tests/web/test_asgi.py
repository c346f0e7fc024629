"""fnlens.asgi with a real Starlette app (its own test client), concurrent requests
through httpx's ASGI transport, and Mangum handlers called as Lambda calls them."""

from __future__ import annotations

import asyncio

import httpx
import mangum
import pytest
from starlette.applications import Starlette
from starlette.responses import JSONResponse, StreamingResponse
from starlette.routing import Route
from starlette.testclient import TestClient

import fnlens
from fnlens.asgi import Middleware
from fnlens.testing import LambdaContext, capture, events

log = fnlens.get_logger()


async def order(request):
    log.info("loading order", order_id=request.path_params["id"])
    await asyncio.sleep(0.01)
    return JSONResponse({"id": request.path_params["id"]}, status_code=201)


async def stream(request):
    async def chunks():
        yield b"first"
        await asyncio.sleep(0.05)
        yield b"second"

    return StreamingResponse(chunks())


async def boom(request):
    raise RuntimeError("kaput")


def make_app():
    return Starlette(
        routes=[
            Route("/orders/{id:int}", order),
            Route("/stream", stream),
            Route("/boom", boom),
        ]
    )


def records_of(captured):
    return [r for r in captured.records if r.get("event") == "invocation"]


def test_each_request_is_one_invocation_with_the_route_template():
    client = TestClient(Middleware(make_app(), service="orders"), raise_server_exceptions=True)
    traceparent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    with capture() as captured:
        response = client.get("/orders/42", headers={"traceparent": traceparent})
    assert response.status_code == 201 and response.json() == {"id": 42}
    (record,) = records_of(captured)
    assert record["trigger"] == "http" and record["event_source"] == "asgi"
    assert (record["http_method"], record["http_route"]) == ("GET", "/orders/{id}")
    assert record["http_status_code"] == 201 and record["outcome"] == "success"
    assert record["service"] == "orders"
    assert record["trace_id"] == "0af7651916cd43dd8448eb211c80319c"  # the caller's trace
    (line,) = [r for r in captured.logs if r.get("event") == "loading order"]
    assert line["request_id"] == record["request_id"] and line["order_id"] == 42


def test_a_streamed_response_records_time_to_first_byte_and_total_time():
    client = TestClient(Middleware(make_app()))
    with capture() as captured:
        response = client.get("/stream")
    assert response.content == b"firstsecond"
    (record,) = records_of(captured)
    assert record["http_route"] == "/stream" and record["http_status_code"] == 200
    assert 0 < record["http_ttfb_ms"] < record["duration_ms"]
    assert record["duration_ms"] - record["http_ttfb_ms"] >= 40  # the 50 ms between chunks


def test_an_exception_is_recorded_and_passes_through_unchanged():
    client = TestClient(Middleware(make_app()), raise_server_exceptions=True)
    with capture() as captured, pytest.raises(RuntimeError, match="kaput"):
        client.get("/boom")
    (record,) = records_of(captured)
    assert record["outcome"] == "error" and record["error_type"] == "RuntimeError"
    assert record["http_status_code"] == 500 and record["http_route"] == "/boom"


def test_concurrent_requests_keep_their_own_ids():
    app = Middleware(make_app())

    async def run() -> list:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            return await asyncio.wait_for(
                asyncio.gather(*(client.get(f"/orders/{i}") for i in range(30))), 30
            )

    with capture() as captured:
        responses = asyncio.run(run())
    assert [r.json()["id"] for r in responses] == list(range(30))
    records = records_of(captured)
    assert len(records) == 30 and len({r["request_id"] for r in records}) == 30
    lines = [r for r in captured.logs if r.get("event") == "loading order"]
    by_request = {r["request_id"]: r for r in records}
    assert len(lines) == 30
    for line in lines:  # each log line carries the ids of the request that wrote it
        assert by_request[line["request_id"]]["trace_id"] == line["trace_id"]
    assert sorted(line["order_id"] for line in lines) == list(range(30))


def test_under_mangum_the_lambda_context_is_used():
    handler = mangum.Mangum(Middleware(make_app()), lifespan="off")
    context = LambdaContext(function_name="orders-api", function_version="7")
    with capture() as captured:
        response = handler(events.api_gateway_v2("GET /{proxy+}", path="/orders/5"), context)
    assert response["statusCode"] == 201
    (record,) = records_of(captured)
    assert record["request_id"] == context.aws_request_id
    assert record["function_name"] == "orders-api" and record["function_version"] == "7"
    assert record["http_route"] == "/orders/{id}" and record["http_status_code"] == 201


def test_a_decorated_mangum_handler_is_still_one_invocation():
    handler = fnlens.instrument(mangum.Mangum(Middleware(make_app()), lifespan="off"))
    with capture() as captured:
        response = handler(
            events.api_gateway_v2("GET /{proxy+}", path="/orders/9"), LambdaContext()
        )
    assert response["statusCode"] == 201
    (record,) = records_of(captured)
    assert record["http_route"] == "/orders/{id}" and record["http_status_code"] == 201
