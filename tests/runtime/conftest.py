from __future__ import annotations

import pytest

from fnlens.testing import capture, reset_cold_start


@pytest.fixture
def telemetry():
    """Captured records and log lines, with a fresh cold-start state."""
    reset_cold_start()
    with capture() as captured:
        yield captured
