"""rotel, the OTLP collector the suite runs on 127.0.0.1 (from the ``rotel`` wheel)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

_ROTEL_CHECKED: dict[str, str] = {}


def rotel_binary() -> str:
    """The rotel agent shipped in the wheel, checked to run on this machine once."""
    import rotel

    path = Path(rotel.__file__).parent / "rotel-agent"
    if not path.exists():
        pytest.skip("rotel wheel has no agent binary for this platform")
    if str(path) not in _ROTEL_CHECKED:
        probe = subprocess.run([str(path), "--version"], capture_output=True, text=True, timeout=30)
        if probe.returncode != 0:
            # e.g. the cp313 wheel's agent links libpython3.13.so, which a Python
            # built without --enable-shared does not have
            pytest.fail(
                f"rotel-agent cannot run here (exit {probe.returncode}): "
                f"{(probe.stderr or probe.stdout).strip()[:400]}"
            )
        _ROTEL_CHECKED[str(path)] = probe.stdout.strip()
    return str(path)


class Rotel:
    def __init__(self, proc: subprocess.Popen, grpc_port: int, http_port: int, log: Path):
        self.proc = proc
        self.grpc_endpoint = f"http://127.0.0.1:{grpc_port}"
        self.http_endpoint = f"http://127.0.0.1:{http_port}"
        self.log = log
