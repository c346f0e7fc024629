"""`fnlens demo`: an example orders API, end to end.

Versions 1 and 2 run behind a canary alias on the local Lambda runtime, with
traffic, ingest, canned queries and the report.
"""

from __future__ import annotations

from fnlens.demo._runner import DemoOptions, DemoResult, run_demo

__all__ = ["DemoOptions", "DemoResult", "run_demo"]
