"""How much a timing bound in a test may allow for a loaded machine.

Tests run on 2 cores shared with other work (load average 15 and more): one thread can
wait for a CPU for hundreds of milliseconds. An upper bound on elapsed time is therefore
"what is under test plus :data:`SLACK_S`", and what the bound must exclude (a wait for a
hung collector, an export timeout, a slow response post) is made several times longer
than the bound, so a real wait still fails the test. Orderings and counts (the record
arrived before the handler returned; no flush ran inside the invocation) need no slack
and are preferred where the code under test offers them.
"""

from __future__ import annotations

SLACK_S = 1.0
SLACK_MS = SLACK_S * 1000.0


def bound_ms(budget_ms: float) -> float:
    """The most a wait bounded by ``budget_ms`` may be seen to take on a loaded machine."""
    return budget_ms + SLACK_MS
