"""``managed_instances=N``: N awslambdaric processes per environment take invocations at
once; every record and log line carries its own invocation's request id."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest

from fnlens.localrt import FunctionCode, LocalLambda

from .conftest import HANDLERS

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]

PROCESSES = 3


def _fn(out_dir: Path, tmp_path: Path, timeout_s: float = 10.0) -> LocalLambda:
    fn = LocalLambda("mi-fn", out_dir=out_dir, managed_instances=PROCESSES)
    env = {"MI_SHUTDOWN_FILE": str(tmp_path / "shutdown")}
    fn.update_code(FunctionCode("mi_app.handler", HANDLERS, timeout_s=timeout_s, environment=env))
    return fn


def _concurrently(fn: LocalLambda, events: list[dict]) -> list:
    barrier = threading.Barrier(len(events), timeout=30)
    results: list = [None] * len(events)

    def call(i: int) -> None:
        barrier.wait()
        results[i] = fn.invoke(events[i])

    threads = [threading.Thread(target=call, args=(i,)) for i in range(len(events))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return results


def _json_lines(path: Path) -> list[dict]:
    """The stream file's events that are JSON objects (the time prefix dropped)."""
    out = []
    for raw in path.read_text(encoding="utf-8").splitlines():
        _, _, event = raw.partition(" ")
        if event.startswith("{"):
            out.append(json.loads(event))
    return out


def test_concurrent_invocations_run_in_separate_processes_with_their_own_ids(
    out_dir: Path, tmp_path: Path
) -> None:
    fn = _fn(out_dir, tmp_path)
    try:
        rounds = [
            _concurrently(
                fn, [{"seq": r * PROCESSES + i, "sleep_s": 0.4} for i in range(PROCESSES)]
            )
            for r in range(2)
        ]
        (env,) = fn.managed_environments()
        env_id = env.id
    finally:
        fn.close()
    results = [r for batch in rounds for r in batch]
    assert all(r.outcome == "success" for r in results), [r.payload for r in results]
    assert fn.environments_started == 1
    assert {r.environment_id for r in results} == {env_id}
    pids = {r.json()["pid"] for r in results}
    assert len(pids) == PROCESSES  # each round ran in all three processes at once
    assert {r.process_id for r in results} == pids
    for batch in rounds:  # within a round: one invocation per process
        assert len({r.process_id for r in batch}) == PROCESSES
    payloads = [r.json() for r in results]
    assert {p["init_type"] for p in payloads} == {"lambda-managed-instances"}
    assert {p["log_format"] for p in payloads} == {"JSON"}  # forced
    # extensions: INVOKE refused, SHUTDOWN accepted
    assert {p["invoke_registration"][0] for p in payloads} == {403}
    assert {p["invoke_registration"][1]["errorType"] for p in payloads} == {
        "Extension.InvalidEventType"
    }
    assert {p["shutdown_registration"] for p in payloads} == {200}
    # each process got SHUTDOWN when the environment closed
    shutdowns = sorted(tmp_path.glob("shutdown.*"))
    assert len(shutdowns) == PROCESSES
    for path in shutdowns:
        event = json.loads(path.read_text())
        assert event["eventType"] == "SHUTDOWN" and event["shutdownReason"] == "spindown"

    # the stream: one file for the environment, every line with its own ids
    (stream,) = sorted(out_dir.rglob("*.log"))
    lines = _json_lines(stream)
    seq_of = {r.request_id: p["seq"] for r, p in zip(results, payloads, strict=True)}
    by_type: dict[str, list[dict]] = {}
    for line in lines:
        by_type.setdefault(line.get("type") or line.get("event") or "app", []).append(line)
    (init,) = by_type["platform.initStart"]
    assert init["record"]["initializationType"] == "lambda-managed-instances"
    assert sorted(e["record"]["requestId"] for e in by_type["platform.start"]) == sorted(seq_of)
    reports = by_type["platform.report"]
    assert sorted(e["record"]["requestId"] for e in reports) == sorted(seq_of)
    assert all("initDurationMs" not in e["record"]["metrics"] for e in reports)

    records = by_type["invocation"]
    assert sorted(r["request_id"] for r in records) == sorted(seq_of)
    assert all(r["init_type"] == "managed-instances" for r in records)
    assert sum(1 for r in records if r["cold_start"]) == PROCESSES  # one per process
    trace_of = {r["request_id"]: r["trace_id"] for r in records}
    assert len(set(trace_of.values())) == len(results)

    user = by_type["working"] + by_type["done"]
    assert len(user) == 2 * len(results)
    for line in user:  # fnlens log lines: the invocation's own request and trace ids
        assert line["request_id"] == line["rid_seen"], line
        assert line["seq"] == seq_of[line["request_id"]], line
        assert line["trace_id"] == trace_of[line["request_id"]], line
    std_lines = [x for x in by_type["app"] if "std line" in str(x.get("message"))]
    assert len(std_lines) == len(results)
    for line in std_lines:  # the runtime's JSON format: requestId of that invocation
        assert line["message"] == f"std line seq={seq_of[line['requestId']]}", line

    # each result's captured lines are its own
    for r in results:
        ids = {json.loads(x).get("request_id") for x in r.logs if x.startswith('{"')}
        assert ids - {None} == {r.request_id}, r.logs


def test_all_processes_busy_starts_another_environment(out_dir: Path, tmp_path: Path) -> None:
    fn = _fn(out_dir, tmp_path)
    try:
        results = _concurrently(fn, [{"seq": i, "sleep_s": 0.6} for i in range(PROCESSES + 1)])
        envs = fn.managed_environments()
    finally:
        fn.close()
    assert all(r.outcome == "success" for r in results)
    assert fn.environments_started == 2 == len(envs)
    assert len({r.process_id for r in results}) == PROCESSES + 1


def test_timeout_is_reported_but_the_process_runs_on(out_dir: Path, tmp_path: Path) -> None:
    fn = _fn(out_dir, tmp_path, timeout_s=0.5)
    try:
        slow, fast = _concurrently(fn, [{"seq": 1, "sleep_s": 1.5}, {"seq": 2}])
        (env,) = fn.managed_environments()
        overrun = next(p for p in env.processes if p.proc.pid == slow.process_id)
        assert overrun.alive and not overrun.settled  # still running the handler
        assert overrun.wait_settled(10)  # and free again once it returned
        after = fn.invoke({"seq": 3})
    finally:
        fn.close()
    assert slow.outcome == "timeout" and slow.error_type == "Sandbox.Timedout"
    assert fast.outcome == "success"
    assert after.outcome == "success" and after.environment_id == slow.environment_id
    assert fn.environments_started == 1


def test_new_code_lets_running_invocations_finish(out_dir: Path, tmp_path: Path) -> None:
    fn = _fn(out_dir, tmp_path)
    try:
        results: list = []
        slow = threading.Thread(target=lambda: results.append(fn.invoke({"sleep_s": 1.0})))
        slow.start()
        pause = threading.Event()
        for _ in range(1500):  # until the slow invocation is under way (bounded)
            envs = fn.managed_environments()
            if envs and any(not p.settled for e in envs for p in e.processes):
                break
            pause.wait(0.02)
        (old,) = fn.managed_environments()
        fn.update_code(FunctionCode("mi_app.handler", HANDLERS, timeout_s=10))
        after = fn.invoke({"seq": 2})
        slow.join(30)
    finally:
        fn.close()
    (first,) = results
    assert first.outcome == "success" and after.outcome == "success"
    assert after.environment_id != first.environment_id == old.id
    assert fn.environments_started == 2
    assert not old.alive  # closed once its invocation was over


def test_external_extensions_are_refused_with_a_clear_error(out_dir: Path) -> None:
    fn = LocalLambda("mi-fn", out_dir=out_dir, managed_instances=2)
    ext = HANDLERS.parent / "extensions" / "telemetry_ext.py"
    fn.update_code(FunctionCode("mi_app.handler", HANDLERS, extensions=(ext,)))
    try:
        with pytest.raises(ValueError, match="not emulated under managed_instances"):
            fn.invoke({})
        assert fn.managed_environments() == []
    finally:
        fn.close()


def test_awslambdaric_forks_its_workers_each_with_its_own_init(
    out_dir: Path, tmp_path: Path
) -> None:
    """As Lambda runs the Python runtime: one awslambdaric per environment reads
    AWS_LAMBDA_MAX_CONCURRENCY and forks that many workers; each runs init once and
    then one invocation at a time."""
    init_log = tmp_path / "init.log"
    fn = LocalLambda("mi-fn", out_dir=out_dir, managed_instances=PROCESSES)
    env = {"MI_SHUTDOWN_FILE": str(tmp_path / "shutdown"), "MI_INIT_LOG": str(init_log)}
    fn.update_code(FunctionCode("mi_app.handler", HANDLERS, timeout_s=10, environment=env))
    try:
        first = _concurrently(fn, [{"seq": i, "sleep_s": 0.4} for i in range(PROCESSES)])
        second = _concurrently(fn, [{"seq": i, "sleep_s": 0.4} for i in range(PROCESSES)])
        (environment,) = fn.managed_environments()
        main_pid = environment.pool.main.proc.pid if environment.pool else None
    finally:
        fn.close()
    results = first + second
    assert all(r.outcome == "success" for r in results), [r.payload for r in results]
    payloads = [r.json() for r in results]
    assert {p["max_concurrency"] for p in payloads} == {str(PROCESSES)}
    pids = {p["pid"] for p in payloads}
    assert len(pids) == PROCESSES
    # one parent for every worker: the awslambdaric main process, not the local runtime
    (parent,) = {p["ppid"] for p in payloads}
    assert parent == main_pid and parent not in pids
    # init ran once in each worker, never in the main process, never again
    inits = init_log.read_text().split()
    assert sorted(int(x) for x in inits) == sorted(pids)
    for batch in (first, second):  # each worker took one invocation of each round
        assert {r.process_id for r in batch} == pids


def test_a_worker_that_exits_leaves_the_others_serving(out_dir: Path) -> None:
    """awslambdaric is the workers' parent, not localrt: a worker's exit is reported as a
    crash with an unknown status; the environment's other worker takes the next call."""
    fn = LocalLambda("mi-fn", out_dir=out_dir, managed_instances=2)
    fn.update_code(FunctionCode("lrt_app.handler", HANDLERS, timeout_s=5))
    try:
        crashed = fn.invoke({"exit": 3})
        after = fn.invoke({})
        (environment,) = fn.managed_environments()
        alive = [p for p in environment.processes if p.alive]
    finally:
        fn.close()
    assert crashed.outcome == "crash" and crashed.error_type == "Runtime.ExitError"
    assert "Runtime exited with error: exit status unknown" in crashed.payload.decode()
    assert after.outcome == "success"
    assert after.environment_id == crashed.environment_id
    assert after.process_id != crashed.process_id
    assert [p.proc.pid for p in alive] == [after.process_id]
