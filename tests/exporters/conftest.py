"""Fixtures of the exporter tests: exporters installed in this process for one test.
The real components on 127.0.0.1 (``otlp_sink``, ``rotel``, ``black_hole``) come from
``tests.support.fixtures``, for every folder."""

from __future__ import annotations

from typing import Any

import pytest


@pytest.fixture
def install():
    """Install exporters in this process for one test; the suite's autouse
    ``fnlens.testing.reset()`` removes them afterwards."""
    from fnlens.exporters import configure_exporters

    def _install(*args: Any, **kwargs: Any):
        kwargs.setdefault("env", {})
        return configure_exporters(*args, **kwargs)

    return _install
