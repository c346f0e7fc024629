"""The benchmark sets up on a fresh machine (issue 12): a new virtualenv, ``pip install
-e '.[bench]' -c bench/constraints.txt``, then the benchmark's quickest run.

Slow (a cold pip cache downloads the bench extra, ~45 packages): everything it
installs or caches stays under the test's tmp directory.
"""

from __future__ import annotations

import os
import re
import subprocess
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CONSTRAINTS = ROOT / "bench" / "constraints.txt"

pytestmark = [pytest.mark.slow, pytest.mark.e2e, pytest.mark.timeout(1500)]


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def pins(text: str) -> dict[str, str]:
    """``name==version`` lines (comments and blanks skipped), by canonical name."""
    found = {}
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        name, sep, version = line.partition("==")
        assert sep, f"{CONSTRAINTS.name}: not an exact pin: {line!r}"
        found[canonical(name)] = version.strip()
    return found


def test_constraints_pin_the_bench_extras_own_requirements():
    pinned = pins(CONSTRAINTS.read_text())
    for name in (
        "aws-lambda-powertools",
        "opentelemetry-instrumentation-aws-lambda",
        "opentelemetry-sdk",
        "opentelemetry-semantic-conventions",
        "awslambdaric",
        "rotel",
        "structlog",
    ):
        assert name in pinned, name
    # the SDK and the contrib instrumentation of one release train
    assert pinned["opentelemetry-semantic-conventions"] == pinned["opentelemetry-instrumentation"]
    assert pinned["opentelemetry-api"] == pinned["opentelemetry-sdk"]


def _run(cmd: list[str], env: dict[str, str], timeout: int) -> subprocess.CompletedProcess:
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, f"{cmd[:4]} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return proc


def test_bench_installs_in_a_fresh_venv_and_runs(tmp_path: Path):
    target = tmp_path / "venv"
    venv.EnvBuilder(with_pip=True).create(target)
    python = str(target / "bin" / "python")
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("VIRTUAL_ENV", "PYTHONPATH", "PIP_CACHE_DIR", "PIP_NO_CACHE"))
    }
    env.update(
        {
            "PIP_CACHE_DIR": str(tmp_path / "pip-cache"),  # nothing cached outside tmp
            "PIP_DISABLE_PIP_VERSION_CHECK": "1",
            "TMPDIR": str(tmp_path),
        }
    )
    _run(
        [python, "-m", "pip", "install", "-q", "-e", f"{ROOT}[bench]", "-c", str(CONSTRAINTS)],
        env,
        timeout=900,
    )
    _run([python, "-m", "pip", "check"], env, timeout=120)
    # the exact versions measured: every installed distribution is pinned, at its pin
    frozen = _run([python, "-m", "pip", "freeze", "--exclude-editable"], env, timeout=120)
    installed = pins(
        "\n".join(x for x in frozen.stdout.splitlines() if not x.startswith(("-e ", "#")))
    )
    pinned = pins(CONSTRAINTS.read_text())
    unpinned = sorted(set(installed) - set(pinned))
    assert unpinned == [], f"installed but not in {CONSTRAINTS.name}: {unpinned}"
    moved = {n: (v, pinned[n]) for n, v in installed.items() if pinned[n] != v}
    assert moved == {}

    proc = _run([python, str(ROOT / "bench" / "bench_middleware.py"), "--quick"], env, 900)
    out = proc.stdout
    for heading in (
        "### Awslambdaric runtime loop",
        "### Called directly, a process that never freezes",
        "### Called directly with Lambda's environment (the platform freezes)",
    ):
        assert heading in out, out
    assert "| Powertools Logger+Tracer+Metrics (X-Ray UDP) |" in out
    assert "| OTel AwsLambdaInstrumentor + BatchSpanProcessor + OTLP/HTTP |" in out
    assert "Targets for fnlens logs+spans+EMF" in out
