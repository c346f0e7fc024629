from __future__ import annotations

import pytest

from fnlens.testing import capture


@pytest.fixture
def telemetry():
    """Captured records and log lines (cold start and the rest of fnlens's state are
    fresh: the suite's autouse ``fnlens.testing.reset()`` runs after every test)."""
    with capture() as captured:
        yield captured
