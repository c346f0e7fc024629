"""`fnlens demo`: the example orders API as v1 and v2 behind a canary alias, on the
local Lambda runtime, with traffic, ingest, canned queries and the report."""

from __future__ import annotations

from fnlens.demo._runner import DemoOptions, DemoResult, run_demo

__all__ = ["DemoOptions", "DemoResult", "run_demo"]
