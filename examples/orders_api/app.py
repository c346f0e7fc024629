"""A small orders API behind API Gateway (HTTP API, payload v2), instrumented with fnlens.

Routes: ``GET /health``, ``GET /orders``, ``GET /orders/{id}``, ``POST /orders``,
``DELETE /orders/{id}``. Orders live in memory (one store per execution
environment) and every "database call" is a short sleep, so latencies look like
a function talking to DynamoDB.

``ORDERS_API_VARIANT=v2`` is the next release, with a realistic regression:

* a heavier init: it loads a currency-rates table at import (more init time and memory);
* a slower route: ``GET /orders`` enriches every order with its customer (N+1 lookups);
* a new error: ``POST /orders`` converts prices and needs a ``currency`` field that
  older clients do not send (``KeyError: 'currency'``, an HTTP 500).
"""

from __future__ import annotations

import json
import os
import random
import time
import uuid
from typing import Any

from fnlens import get_logger, instrument

VARIANT = os.environ.get("ORDERS_API_VARIANT", "v1")
log = get_logger()
_rng = random.Random()


def _db_call(mean_ms: float) -> None:
    """A simulated DynamoDB round trip: mean_ms with a long-ish tail."""
    time.sleep(max(0.0005, _rng.lognormvariate(0, 0.35) * mean_ms / 1000.0))


def _seed_store() -> dict[str, dict[str, Any]]:
    items = ("keyboard", "mouse", "monitor", "dock", "headset", "webcam")
    return {
        f"ord-{i:04d}": {
            "id": f"ord-{i:04d}",
            "customer_id": f"cus-{i % 37:03d}",
            "item": items[i % len(items)],
            "quantity": 1 + i % 3,
            "amount": round(19.0 + (i * 7.3) % 280, 2),
            "status": "paid",
        }
        for i in range(1, 201)
    }


STORE = _seed_store()
if VARIANT == "v2":
    # v2 loads currency rates at import: a bigger init phase and more memory
    time.sleep(0.25)
    RATES = {f"C{i:03d}": 1.0 + (i % 97) / 100.0 for i in range(40_000)}
    RATES_BLOB = bytearray(b"\x01") * (24 * 1024 * 1024)
    RATES.update({"EUR": 0.92, "USD": 1.0, "GBP": 0.79})
else:
    RATES = {"EUR": 0.92, "USD": 1.0, "GBP": 0.79}


def _response(status: int, body: Any = None) -> dict[str, Any]:
    return {
        "statusCode": status,
        "headers": {"content-type": "application/json", "x-orders-api-variant": VARIANT},
        "body": json.dumps(body) if body is not None else "",
    }


def health(event: dict[str, Any]) -> dict[str, Any]:
    return _response(200, {"status": "ok", "variant": VARIANT})


def list_orders(event: dict[str, Any]) -> dict[str, Any]:
    _db_call(9)
    orders = list(STORE.values())[:25]
    if VARIANT == "v2":
        # the regression: one customer lookup per order instead of a batch get
        enriched = []
        for order in orders:
            _db_call(1.6)
            enriched.append({**order, "customer": {"id": order["customer_id"]}})
        orders = enriched
    log.info("orders listed", count=len(orders))
    return _response(200, {"orders": orders, "count": len(orders)})


def get_order(event: dict[str, Any]) -> dict[str, Any]:
    order_id = (event.get("pathParameters") or {}).get("id", "")
    _db_call(4)
    order = STORE.get(order_id)
    if order is None:
        log.warning("order not found", order_id=order_id)
        return _response(404, {"message": f"order {order_id} not found"})
    return _response(200, order)


def create_order(event: dict[str, Any]) -> dict[str, Any]:
    try:
        body = json.loads(event.get("body") or "{}")
    except ValueError:
        return _response(400, {"message": "body is not JSON"})
    if not isinstance(body, dict) or not body.get("item") or int(body.get("quantity", 0)) < 1:
        return _response(400, {"message": "item and quantity are required"})
    amount = float(body.get("amount", 0))
    if VARIANT == "v2":
        # the new error: v2 assumes every client sends a currency (older ones do not)
        amount = round(amount / RATES[body["currency"]], 2)
    _db_call(7)
    order_id = f"ord-{uuid.uuid4().hex[:8]}"
    STORE[order_id] = {
        "id": order_id,
        "customer_id": body.get("customer_id", "cus-000"),
        "item": body["item"],
        "quantity": int(body["quantity"]),
        "amount": amount,
        "status": "pending",
    }
    log.info("order created", order_id=order_id, amount=amount)
    return _response(201, STORE[order_id])


def delete_order(event: dict[str, Any]) -> dict[str, Any]:
    order_id = (event.get("pathParameters") or {}).get("id", "")
    _db_call(5)
    if STORE.pop(order_id, None) is None:
        return _response(404, {"message": f"order {order_id} not found"})
    log.info("order deleted", order_id=order_id)
    return _response(204)


ROUTES = {
    "GET /health": health,
    "GET /orders": list_orders,
    "GET /orders/{id}": get_order,
    "POST /orders": create_order,
    "DELETE /orders/{id}": delete_order,
}


@instrument(service="orders-api")
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """API Gateway HTTP API (v2) entry point: dispatch on the route key."""
    route = ROUTES.get(event.get("routeKey", ""))
    if route is None:
        return _response(404, {"message": f"no route for {event.get('routeKey')}"})
    return route(event)
