"""Fixtures of the no-loss matrix: the suite's OTLP sink and rotel (``tests.support``):
``via_rotel`` (rotel forwarding to the sink) and ``direct`` (the sink itself)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from tests.support.net import closed_port, free_port  # noqa: F401 (the tests import them here)


@dataclass
class Collector:
    """Where the scenario sends OTLP/HTTP (``endpoint``) and where it is counted (``sink``)."""

    name: str
    endpoint: str
    sink: Any
    log: Any = None  # rotel's log file, for failure messages

    def tail(self) -> str:
        return self.log.read_text()[-2000:] if self.log is not None else ""


@pytest.fixture
def via_rotel(rotel: Any, otlp_sink: Any) -> Collector:
    """rotel (a real collector) receiving OTLP/HTTP and forwarding to the sink."""
    return Collector("rotel", rotel.http_endpoint, otlp_sink, rotel.log)


@pytest.fixture
def direct(otlp_sink: Any) -> Collector:
    """The sink itself as the OTLP/HTTP endpoint."""
    return Collector("sink", otlp_sink.endpoint, otlp_sink)
