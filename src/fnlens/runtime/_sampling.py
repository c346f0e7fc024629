"""The sampler of the invocation spans: ``OTEL_TRACES_SAMPLER`` / ``OTEL_TRACES_SAMPLER_ARG``.

The invocation span fnlens records itself (the fast path) follows the same sampler the
OpenTelemetry SDK builds from these variables for the function's own spans, as the
specification defines them: ``always_on``, ``always_off``, ``traceidratio`` and their
``parentbased_*`` forms (the default is ``parentbased_always_on``). The ratio sampler
keeps a trace when the lower 64 bits of its id are below ``ratio * 2**64``, the SDK's
rule, so a trace is kept or dropped alike by every service that samples it by ratio.
A sampler fnlens does not know (``jaeger_remote``, ``xray``…) warns once and falls back
to the default.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass

from fnlens._config import warn_once

__all__ = ["Sampler", "sampler_from_env"]

SAMPLERS = (
    "always_on",
    "always_off",
    "traceidratio",
    "parentbased_always_on",
    "parentbased_always_off",
    "parentbased_traceidratio",
)
_BOUND = 1 << 64


@dataclass(frozen=True)
class Sampler:
    """Decides whether an invocation span is sampled."""

    name: str = "parentbased_always_on"
    ratio: float = 1.0

    @property
    def parent_based(self) -> bool:
        return self.name.startswith("parentbased_")

    def root(self, trace_id: str) -> bool:
        """A new trace (no parent, or a parent-based sampler's root)."""
        base = self.name.removeprefix("parentbased_")
        if base == "always_on":
            return True
        if base == "always_off":
            return False
        try:
            low = int(trace_id[-16:], 16)
        except ValueError:
            return True
        return low < round(self.ratio * _BOUND)

    def sampled(self, parent_sampled: bool | None, trace_id: str) -> bool:
        """``parent_sampled``: None without a parent; else the parent's sampled flag."""
        if parent_sampled is not None and self.parent_based:
            return parent_sampled  # remote parent, sampled or not (the SDK's defaults)
        return self.root(trace_id)


def sampler_from_env(env: Mapping[str, str] | None = None) -> Sampler:
    env = os.environ if env is None else env
    raw = (env.get("OTEL_TRACES_SAMPLER") or "").strip().lower()
    if not raw:
        return Sampler()
    if raw not in SAMPLERS:
        warn_once(
            f"OTEL_TRACES_SAMPLER:{raw}",
            f"OTEL_TRACES_SAMPLER={raw!r} is not supported by fnlens "
            f"({', '.join(SAMPLERS)}); using parentbased_always_on",
        )
        return Sampler()
    ratio = 1.0
    if raw.endswith("traceidratio"):
        arg = env.get("OTEL_TRACES_SAMPLER_ARG")
        try:
            ratio = float(arg) if arg not in (None, "") else 1.0
            if not math.isfinite(ratio) or not 0.0 <= ratio <= 1.0:
                raise ValueError(arg)
        except ValueError:
            warn_once(
                "OTEL_TRACES_SAMPLER_ARG",
                f"OTEL_TRACES_SAMPLER_ARG={arg!r} is not a ratio between 0 and 1; using 1.0",
            )
            ratio = 1.0
    return Sampler(raw, ratio)
