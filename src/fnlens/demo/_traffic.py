"""Demo traffic: a realistic mix of API requests, in steady waves and concurrency bursts.

Bursts run more requests at once than there are warm environments, so the
local runtime must start new ones: that is where cold starts come from, as in
production when traffic spikes.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from typing import Any

# (route key, share of traffic)
MIX: tuple[tuple[str, float], ...] = (
    ("GET /orders/{id}", 0.55),
    ("GET /orders", 0.15),
    ("POST /orders", 0.15),
    ("GET /health", 0.10),
    ("DELETE /orders/{id}", 0.05),
)
LEGACY_CLIENT_SHARE = 0.2  # POSTs from older app versions that send no currency
UNKNOWN_ID_SHARE = 0.05  # lookups of orders that do not exist (404s)


@dataclass(frozen=True)
class Wave:
    """``count`` requests with at most ``concurrency`` in flight; ``pause_s`` before it."""

    count: int
    concurrency: int
    pause_s: float = 0.0
    burst: bool = False


def schedule(
    total: int,
    *,
    steady_concurrency: int = 3,
    burst_concurrency: int = 8,
    idle_s: float = 1.0,
) -> list[Wave]:
    """Steady waves with bursts in between; a pause before some bursts lets idle
    environments be reclaimed, so the burst meets a colder fleet."""
    if total <= 0:
        return []
    bursts = max(1, min(6, total // 500))
    burst_size = min(burst_concurrency * 2, max(1, total // (bursts * 3)))
    steady_total = max(0, total - bursts * burst_size)
    segments = bursts + 1
    waves: list[Wave] = []
    for i in range(segments):
        share = steady_total // segments + (1 if i < steady_total % segments else 0)
        if share:
            waves.append(Wave(share, steady_concurrency))
        if i < bursts:
            pause = idle_s + 0.2 if i % 2 == 1 else 0.0
            waves.append(Wave(burst_size, burst_concurrency, pause_s=pause, burst=True))
    sent = sum(w.count for w in waves)
    if sent < total:  # rounding: top up the last wave
        last = waves[-1]
        waves[-1] = Wave(last.count + total - sent, last.concurrency, last.pause_s, last.burst)
    return waves


class RequestFactory:
    """Builds API Gateway HTTP API (v2) events for the orders API."""

    def __init__(self, seed: int | None = None) -> None:
        self._rng = random.Random(seed)
        self._routes = [r for r, _ in MIX]
        self._weights = [w for _, w in MIX]

    def next_event(self) -> dict[str, Any]:
        from fnlens.testing import events

        route = self._rng.choices(self._routes, self._weights)[0]
        method, _, template = route.partition(" ")
        headers = {"user-agent": "orders-web/5.1"}
        params: dict[str, str] = {}
        body = None
        path = template
        if "{id}" in template:
            if self._rng.random() < UNKNOWN_ID_SHARE:
                order_id = f"ord-9{self._rng.randrange(1000):03d}"
            else:
                order_id = f"ord-{self._rng.randint(1, 200):04d}"
            params["id"] = order_id
            path = template.replace("{id}", order_id)
        if method == "POST":
            order: dict[str, Any] = {
                "item": self._rng.choice(("keyboard", "mouse", "monitor", "dock")),
                "quantity": self._rng.randint(1, 3),
                "amount": round(self._rng.uniform(10, 300), 2),
                "customer_id": f"cus-{self._rng.randrange(37):03d}",
            }
            if self._rng.random() < LEGACY_CLIENT_SHARE:
                headers["user-agent"] = "orders-ios/2.9"
            else:
                order["currency"] = self._rng.choice(("USD", "EUR", "GBP"))
            body = json.dumps(order)
        return events.api_gateway_v2(
            route, path=path, headers=headers, body=body, path_parameters=params
        )
