"""Fixtures of the no-loss matrix: the suite's OTLP sink and rotel (from
``tests/exporters/conftest.py``, loaded under its own name since that folder is no
package): ``via_rotel`` (rotel forwarding to the sink) and ``direct`` (the sink itself)."""

from __future__ import annotations

import importlib.util
import sys
from dataclasses import dataclass
from typing import Any

import pytest

from ._harness import EXPORTERS


def _exporters_conftest() -> Any:
    name = "noloss_exporters_conftest"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, EXPORTERS / "conftest.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


_exp = _exporters_conftest()
otlp_sink = _exp.otlp_sink
rotel = _exp.rotel
free_port = _exp.free_port
closed_port = _exp.closed_port


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
