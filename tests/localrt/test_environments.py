"""Execution environments: cold starts, reuse, concurrency, timeouts, crashes, init errors."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest

from fnlens.localrt import LocalLambda

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]


def _stream_files(out_dir: Path) -> list[Path]:
    return sorted(out_dir.rglob("*.log"))


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie still answers kill(0); look at its state
    with open(f"/proc/{pid}/status", encoding="ascii") as fh:
        state = next(line for line in fh if line.startswith("State:"))
    return "Z" not in state.split()[1]


def test_cold_start_exactly_when_a_new_environment_starts(make_fn, out_dir: Path) -> None:
    fn: LocalLambda = make_fn()
    results = []
    # sequential: one environment, one cold start
    for _ in range(3):
        results.append(fn.invoke({}))
    # 4 at once: 3 more environments must start (one is idle and reused)
    barrier = threading.Barrier(4, timeout=30)
    lock = threading.Lock()

    def call() -> None:
        barrier.wait()
        r = fn.invoke({"sleep_s": 0.5})
        with lock:
            results.append(r)

    threads = [threading.Thread(target=call) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    # afterwards: everything is warm again
    for _ in range(4):
        results.append(fn.invoke({}))

    assert all(r.outcome == "success" for r in results), [r.payload for r in results]
    envs = {r.environment_id for r in results}
    assert len(envs) == 4 == fn.environments_started
    colds = [r for r in results if r.cold_start]
    assert len(colds) == 4
    # each environment's first invocation, and only that one, was cold
    first_seen: dict[str, str] = {}
    for r in results:
        first_seen.setdefault(r.environment_id, r.request_id)
    assert {r.request_id for r in colds} == set(first_seen.values())
    assert all(r.init_duration_ms and r.init_duration_ms > 0 for r in colds)
    assert all(r.init_duration_ms is None for r in results if not r.cold_start)
    # the handler's pid is one per environment
    pids_by_env: dict[str, set[int]] = {}
    for r in results:
        pids_by_env.setdefault(r.environment_id, set()).add(r.json()["pid"])
    assert all(len(p) == 1 for p in pids_by_env.values())
    assert len({next(iter(p)) for p in pids_by_env.values()}) == 4

    # one log stream per environment, named like Lambda's, with one INIT_START and
    # Init Duration on its first REPORT only
    files = _stream_files(out_dir)
    assert len(files) == 4
    for path in files:
        rel = path.relative_to(out_dir / "lrt-fn").as_posix()
        assert rel[:11].count("/") == 3 and "/[$LATEST]" in rel, rel
        lines = path.read_text().splitlines()
        assert sum("INIT_START" in x for x in lines) == 1
        reports = [x for x in lines if " REPORT RequestId: " in x]
        assert reports and "Init Duration: " in reports[0]
        assert not any("Init Duration: " in x for x in reports[1:])


def test_timeout_is_enforced_reported_and_the_environment_replaced(make_fn, out_dir: Path) -> None:
    fn: LocalLambda = make_fn(timeout_s=1.0)
    first = fn.invoke({})
    pid = first.json()["pid"]
    started = time.monotonic()
    timed_out = fn.invoke({"sleep_s": 30})
    elapsed = time.monotonic() - started
    assert 0.95 <= elapsed < 5.0, elapsed
    assert timed_out.outcome == "timeout"
    assert timed_out.error_type == "Sandbox.Timedout"
    assert timed_out.function_error == "Unhandled"
    assert timed_out.json()["errorMessage"].endswith("Task timed out after 1.00 seconds")
    assert timed_out.duration_ms == 1000.0
    text = "\n".join(timed_out.logs)
    assert f"{timed_out.request_id} Task timed out after 1.00 seconds" in text
    report = next(x for x in timed_out.logs if x.startswith("REPORT "))
    assert "\tStatus: timeout" in report and "Duration: 1000.00 ms" in report
    # fnlens recorded the timeout before the platform killed the process
    assert '"outcome":"timeout"' in text.replace(" ", "")

    # the environment was killed and is replaced by a new, cold one
    deadline = time.monotonic() + 5
    while _pid_alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _pid_alive(pid)
    after = fn.invoke({})
    assert after.outcome == "success"
    assert after.cold_start is True
    assert after.environment_id != first.environment_id
    assert after.log_stream != first.log_stream
    assert after.json()["pid"] != pid
    assert len(_stream_files(out_dir)) == 2


def test_function_error_keeps_the_environment(make_fn) -> None:
    fn: LocalLambda = make_fn()
    ok = fn.invoke({})
    err = fn.invoke({"fail": True})
    again = fn.invoke({})
    assert err.outcome == "error" and err.error_type == "RuntimeError"
    assert err.json()["errorMessage"] == "asked to fail"
    assert any(x.startswith("[ERROR] RuntimeError: asked to fail") for x in err.logs)
    assert ok.environment_id == err.environment_id == again.environment_id
    assert again.cold_start is False


def test_runtime_crash_is_reported_and_the_environment_replaced(make_fn) -> None:
    fn: LocalLambda = make_fn()
    first = fn.invoke({})
    crash = fn.invoke({"exit": 3})
    assert crash.outcome == "crash" and crash.error_type == "Runtime.ExitError"
    assert any("Error: Runtime exited with error: exit status 3" in x for x in crash.logs)
    report = next(x for x in crash.logs if x.startswith("REPORT "))
    assert "Status: error" in report and "Error Type: Runtime.ExitError" in report
    after = fn.invoke({})
    assert after.cold_start and after.environment_id != first.environment_id


def test_init_error_is_reported(out_dir: Path) -> None:
    from fnlens.localrt import FunctionCode

    handlers = Path(__file__).parent / "handlers"
    with LocalLambda("bad-init", out_dir=out_dir) as fn:
        fn.update_code(FunctionCode("bad_init.handler", handlers, timeout_s=5))
        result = fn.invoke({})
    assert result.outcome == "init_error"
    assert result.error_type == "RuntimeError"
    assert "cannot connect to the database" in result.json()["errorMessage"]
    assert any(
        x.startswith("INIT_REPORT Init Duration:") and "Status: error" in x for x in result.logs
    )


def test_max_memory_used_is_the_peak_rss(make_fn) -> None:
    fn: LocalLambda = make_fn()
    before = fn.invoke({})
    after = fn.invoke({"allocate_mb": 60})
    assert before.max_memory_used_mb is not None and after.max_memory_used_mb is not None
    assert after.max_memory_used_mb - before.max_memory_used_mb >= 55
    assert f"Max Memory Used: {after.max_memory_used_mb} MB" in "\n".join(after.logs)


def test_idle_environments_are_reclaimed(make_fn) -> None:
    fn: LocalLambda = make_fn(max_idle_s=0.3)
    first = fn.invoke({})
    time.sleep(0.6)
    second = fn.invoke({})
    assert second.cold_start and second.environment_id != first.environment_id
    third = fn.invoke({})
    assert not third.cold_start and third.environment_id == second.environment_id
