"""How telemetry leaves the process: OTLP, EMF, X-Ray, CloudWatch Logs API, files.

Nothing here is imported by ``import fnlens``; ``fnlens.runtime._setup`` imports
:mod:`fnlens.exporters._setup` only when an exporter is asked for, and each
exporter imports its SDK inside the function that installs it.
"""

from __future__ import annotations

from typing import Any

__all__ = ["configure_exporters", "reset_exporters"]


def __getattr__(name: str) -> Any:  # PEP 562: keep ``import fnlens.exporters`` free
    if name in __all__:
        from fnlens.exporters import _setup as setup

        return getattr(setup, name)
    raise AttributeError(f"module 'fnlens.exporters' has no attribute {name!r}")
