"""Connects the layers: the exporters register with the runtime here.

``fnlens.runtime`` must not import ``fnlens.exporters`` (the hot path stays light, the
layers one way); this module, imported by the ``fnlens`` package, gives the runtime
the function that installs exporters from the environment. ``fnlens.exporters`` is
imported only when that function runs, i.e. when an exporter is asked for.
"""

from __future__ import annotations

from typing import Any

from fnlens.runtime._setup import register_configurator


def configure_exporters_from_env(telemetry: Any, settings: Any) -> None:
    from fnlens.exporters._setup import configure_from_env

    configure_from_env(telemetry, settings)


register_configurator(configure_exporters_from_env, permanent=True)
