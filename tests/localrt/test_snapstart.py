"""SnapStart emulation: init and the before-snapshot hooks once per snapshot, then a
restore per new environment (after-restore hooks, RESTORE_START / RESTORE_REPORT,
``Restore Duration`` and ``Billed Restore Duration`` in REPORT)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from fnlens.localrt import LATEST, FunctionCode, LocalLambda

from .conftest import HANDLERS

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]
pytest.importorskip("snapshot_restore_py")

RESTORE_SLEEP_S = 0.2


def _fn(out_dir: Path, log_format: str = "text", **env: str) -> tuple[LocalLambda, str]:
    fn = LocalLambda("snap-fn", out_dir=out_dir)
    environment = {"SNAP_RESTORE_SLEEP_S": str(RESTORE_SLEEP_S), **env}
    code = FunctionCode(
        "snap_app.handler",
        HANDLERS,
        snap_start=True,
        log_format=log_format,
        environment=environment,
    )
    fn.update_code(code)
    return fn, fn.publish_version()


def _report_fields(line: str) -> dict[str, str]:
    return dict(re.findall(r"([A-Za-z ]+): ([^\t]+?)(?: ms| MB)?\t", line.split("\t", 1)[1] + "\t"))


def _record(result) -> dict:
    return next(json.loads(x) for x in result.logs if '"event":"invocation"' in x)


def test_restore_runs_hooks_and_reports_restore_duration(out_dir: Path) -> None:
    fn, version = _fn(out_dir)
    try:
        first = fn.invoke({}, version)
        warm = fn.invoke({}, version)
        barrier = threading.Barrier(2, timeout=30)
        results: list = []

        def call() -> None:
            barrier.wait()
            results.append(fn.invoke({"n": 1}, version))

        threads = [threading.Thread(target=call) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
    finally:
        fn.close()
    assert first.outcome == warm.outcome == "success", first.payload
    assert {r.outcome for r in results} == {"success"}
    payload = first.json()
    assert payload["init_type"] == "snap-start"
    rid = first.request_id
    assert payload["events"] == [
        "before:second_registered",
        "before:first_registered",
        "after:reconnect",
        f"invoke:{rid}",
    ]
    # the log stream of a restored environment: RESTORE_START, RESTORE_REPORT, START ...
    kinds = [line.split(" ", 1)[0] for line in first.logs if line.split(" ", 1)[0].isupper()]
    assert kinds[:3] == ["RESTORE_START", "RESTORE_REPORT", "START"], first.logs
    assert "INIT_START" not in kinds
    report = next(x for x in first.logs if x.startswith("REPORT "))
    fields = _report_fields(report)
    assert "Init Duration" not in fields
    restore_ms = float(fields["Restore Duration"])
    assert restore_ms >= RESTORE_SLEEP_S * 1000  # the after-restore hook's time counts
    assert int(fields["Billed Restore Duration"]) == -int(-restore_ms // 1)
    assert first.init_duration_ms is None
    restore_line = next(x for x in first.logs if x.startswith("RESTORE_REPORT"))
    assert f"Restore Duration: {restore_ms:.2f} ms" in restore_line
    record = _record(first)
    assert record["init_type"] == "snap-start" and record["cold_start"] is False
    assert record.get("snapstart_restore") is True

    # warm: same environment, no restore
    assert warm.environment_id == first.environment_id
    assert "Restore Duration" not in next(x for x in warm.logs if x.startswith("REPORT "))
    assert not any(x.startswith("RESTORE_") for x in warm.logs)
    # two at once: one reuses the environment, the other restores a new one
    restored = [r for r in results if any(x.startswith("RESTORE_START") for x in r.logs)]
    assert len(restored) == 1
    assert restored[0].environment_id != first.environment_id
    assert "Restore Duration" in next(x for x in restored[0].logs if x.startswith("REPORT "))
    assert restored[0].json()["events"][:3] == payload["events"][:3]


def test_json_format_restore_events(out_dir: Path) -> None:
    fn, version = _fn(out_dir, log_format="json")
    try:
        result = fn.invoke({}, version)
    finally:
        fn.close()
    assert result.outcome == "success", result.payload
    events = [json.loads(x) for x in result.logs if x.startswith('{"time"')]
    kinds = [e["type"] for e in events]
    assert kinds == [
        "platform.restoreStart",
        "platform.restoreReport",
        "platform.start",
        "platform.report",
    ]
    start = events[0]["record"]
    assert start["functionName"] == "snap-fn" and start["functionVersion"] == version
    restore = events[1]["record"]
    assert restore["status"] == "success"
    metrics = events[3]["record"]["metrics"]
    assert metrics["restoreDurationMs"] == restore["metrics"]["durationMs"]
    assert metrics["billedRestoreDurationMs"] == -int(-metrics["restoreDurationMs"] // 1)
    assert "initDurationMs" not in metrics


def test_latest_runs_on_demand(out_dir: Path) -> None:
    fn, _ = _fn(out_dir)
    try:
        result = fn.invoke({}, LATEST)
    finally:
        fn.close()
    assert result.json()["init_type"] == "on-demand"
    assert result.cold_start and result.init_duration_ms is not None
    assert not any(x.startswith("RESTORE_") for x in result.logs)


def test_after_restore_hook_failure(out_dir: Path) -> None:
    fn, version = _fn(out_dir, SNAP_FAIL_RESTORE="1")
    try:
        result = fn.invoke({}, version)
    finally:
        fn.close()
    assert result.outcome == "init_error"
    assert result.error_type == "Runtime.AfterRestoreError"
    assert "cannot reconnect after restore" in result.payload.decode()
    assert any(x.startswith("RESTORE_REPORT") and "Status: error" in x for x in result.logs)


RESTORED = 3


def _kinds(logs: list[str]) -> list[str]:
    return [line.split(" ", 1)[0] for line in logs if line.split(" ", 1)[0].isupper()]


def test_one_snapshot_many_restores(out_dir: Path, tmp_path: Path) -> None:
    """Init runs once, in the snapshot; three environments restored at once share what
    it left in memory, each restored copy draws its own ids."""
    init_log = tmp_path / "init.log"
    fn, version = _fn(out_dir, SNAP_INIT_LOG=str(init_log))
    try:
        barrier = threading.Barrier(RESTORED, timeout=30)
        results: list = []

        def call() -> None:
            barrier.wait()
            # each holds its environment for a while: the others need their own
            results.append(fn.invoke({"sleep_s": 1.0}, version))

        threads = [threading.Thread(target=call) for _ in range(RESTORED)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        again = fn.invoke({}, version)  # a warm environment: no restore
    finally:
        fn.close()
    assert len(results) == RESTORED
    assert [r.outcome for r in results] == ["success"] * RESTORED, [r.payload for r in results]
    payloads = [r.json() for r in results]
    # init ran once: one line in the init log, written by the snapshot's process
    init_pids = init_log.read_text().split()
    assert len(init_pids) == 1
    assert {p["init_pid"] for p in payloads} == {int(init_pids[0])}
    # three environments, three processes, none of them the one that ran init
    assert len({r.environment_id for r in results}) == RESTORED
    pids = {p["pid"] for p in payloads}
    assert len(pids) == RESTORED and int(init_pids[0]) not in pids
    assert {r.process_id for r in results} == pids
    # module state from init is the snapshot's: same token, same counter start
    assert len({p["init_token"] for p in payloads}) == 1
    assert [p["counter"] for p in payloads] == [42] * RESTORED
    # the before-snapshot hooks ran once, before the snapshot; after-restore in each copy
    for result, payload in zip(results, payloads, strict=True):
        assert payload["events"] == [
            "before:second_registered",
            "before:first_registered",
            "after:reconnect",
            f"invoke:{result.request_id}",
        ]
    # ids drawn after the restore differ between restored copies
    assert len({p["draw"] for p in payloads}) == RESTORED
    assert len({p["uuid"] for p in payloads}) == RESTORED
    records = [_record(r) for r in results]
    assert len({rec["span_id"] for rec in records}) == RESTORED
    for rec in records:
        assert rec["init_type"] == "snap-start"
        assert rec["cold_start"] is False and rec["snapstart_restore"] is True
    # each restored environment's log: RESTORE_START, RESTORE_REPORT, START, END, REPORT
    for result in results:
        assert _kinds(result.logs) == ["RESTORE_START", "RESTORE_REPORT", "START", "END", "REPORT"]
        fields = _report_fields(next(x for x in result.logs if x.startswith("REPORT ")))
        restore_ms = float(fields["Restore Duration"])
        assert restore_ms >= RESTORE_SLEEP_S * 1000
        assert int(fields["Billed Restore Duration"]) == -int(-restore_ms // 1)
        restore_line = next(x for x in result.logs if x.startswith("RESTORE_REPORT"))
        assert restore_line == f"RESTORE_REPORT Restore Duration: {restore_ms:.2f} ms"
    assert again.outcome == "success"
    assert again.environment_id in {r.environment_id for r in results}
    assert _kinds(again.logs) == ["START", "END", "REPORT"]
    assert again.json()["counter"] == 43 and again.json()["init_pid"] == int(init_pids[0])
    # the snapshot's own stream holds the one init (INIT_START), no invocation
    streams = sorted((out_dir / "snap-fn").rglob("*.log"))
    assert len(streams) == RESTORED + 1
    init_streams = [p for p in streams if "INIT_START" in p.read_text()]
    assert len(init_streams) == 1 and "START RequestId" not in init_streams[0].read_text()


EXTENSION = Path(__file__).parent / "extensions" / "telemetry_ext.py"


def test_telemetry_api_restore_events(out_dir: Path, tmp_path: Path) -> None:
    """A real extension in a restored environment receives restoreStart,
    restoreRuntimeDone and restoreReport before the invocation's events."""
    received_at = tmp_path / "received.jsonl"
    fn = LocalLambda("snap-fn", out_dir=out_dir)
    fn.update_code(
        FunctionCode(
            "snap_app.handler",
            HANDLERS,
            snap_start=True,
            extensions=(EXTENSION,),
            environment={
                "SNAP_RESTORE_SLEEP_S": str(RESTORE_SLEEP_S),
                "TELEMETRY_OUT": str(received_at),
                "TELEMETRY_EXPECT_REPORTS": "1",
            },
            timeout_s=10,
        )
    )
    version = fn.publish_version()
    try:
        result = fn.invoke({}, version)
    finally:
        fn.close()
    assert result.outcome == "success", result.payload
    received = [json.loads(x) for x in received_at.read_text().splitlines()]
    platform = [e for e in received if e["type"].startswith("platform.")]
    kinds = [e["type"] for e in platform]
    restore = kinds.index("platform.restoreStart")
    assert kinds[restore:] == [
        "platform.restoreStart",
        "platform.restoreRuntimeDone",
        "platform.restoreReport",
        "platform.start",
        "platform.runtimeDone",
        "platform.report",
    ], kinds
    assert "platform.initStart" not in kinds  # init belongs to the snapshot, not here
    by_kind = {e["type"]: e["record"] for e in platform}
    start = by_kind["platform.restoreStart"]
    assert start["functionName"] == "snap-fn" and start["functionVersion"] == version
    assert start["runtimeVersion"] and start["runtimeVersionArn"].endswith(start["runtimeVersion"])
    assert start["instanceMaxMemory"] == 128
    assert by_kind["platform.restoreRuntimeDone"]["status"] == "success"
    report = by_kind["platform.restoreReport"]
    assert report["status"] == "success"
    fields = _report_fields(next(x for x in result.logs if x.startswith("REPORT ")))
    assert report["metrics"]["durationMs"] == float(fields["Restore Duration"])
    metrics = by_kind["platform.report"]["metrics"]
    assert metrics["restoreDurationMs"] == report["metrics"]["durationMs"]
    assert metrics["billedRestoreDurationMs"] == int(fields["Billed Restore Duration"])
    assert by_kind["platform.start"]["requestId"] == result.request_id

    # what the extension received is a file `fnlens ingest` reads (the CLI, as users run it)
    duckdb = pytest.importorskip("duckdb")
    events_file = tmp_path / "telemetry.jsonl"
    events_file.write_text(
        "".join(json.dumps(e) + "\n" for e in received if e["type"] != "shutdown"),
        encoding="utf-8",
    )
    db = tmp_path / "t.duckdb"
    cli = Path(sys.executable).with_name("fnlens")
    run = subprocess.run(
        [str(cli), "ingest", "--strict", "--no-progress", "--db", str(db), str(events_file)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    con = duckdb.connect(str(db), read_only=True)
    try:
        rows = con.execute(
            "SELECT request_id, init_type, billed_duration_ms, restore_duration_ms,"
            " billed_restore_duration_ms FROM invocations"
        ).fetchall()
    finally:
        con.close()
    assert rows == [
        (
            result.request_id,
            "snap-start",
            float(metrics["billedDurationMs"]),  # (duration_ms: fnlens's own record wins)
            metrics["restoreDurationMs"],
            float(metrics["billedRestoreDurationMs"]),
        )
    ]


def test_init_error_in_the_snapshot(out_dir: Path) -> None:
    """Init failing while the snapshot is taken: the invocation reports init's error."""
    fn, version = _fn(out_dir, SNAP_FAIL_INIT="1")
    try:
        result = fn.invoke({}, version)
    finally:
        fn.close()
    assert result.outcome == "init_error"
    assert result.error_type == "RuntimeError"  # what awslambdaric posts to init/error
    assert "init failed on purpose" in result.payload.decode()
    assert not any(x.startswith("RESTORE_START") for x in result.logs)


def test_a_restored_process_that_exits(out_dir: Path) -> None:
    """The template reaps its forks: a restored runtime's exit status reaches REPORT's
    error as it does for an on-demand process, and the next call restores anew."""
    fn, version = _fn(out_dir)
    try:
        crashed = fn.invoke({"exit_code": 3}, version)
        after = fn.invoke({}, version)
    finally:
        fn.close()
    assert crashed.outcome == "crash" and crashed.error_type == "Runtime.ExitError"
    assert "exit status 3" in crashed.payload.decode()
    assert after.outcome == "success" and after.environment_id != crashed.environment_id
    assert any(x.startswith("RESTORE_START") for x in after.logs)


@pytest.mark.parametrize("log_format", ["text", "json"])
def test_ingest_reads_restores_from_the_streams(out_dir: Path, log_format: str) -> None:
    """The first invocation after a restore carries the platform's Restore Duration into
    the invocations table, with init_type snap-start; a warm one carries none."""
    pytest.importorskip("duckdb")
    ingest_mod = pytest.importorskip("fnlens.analysis.ingest")
    import duckdb

    fn, version = _fn(out_dir, log_format=log_format)
    try:
        restored = fn.invoke({}, version)
        warm = fn.invoke({}, version)
    finally:
        fn.close()
    assert restored.outcome == warm.outcome == "success"
    if log_format == "text":
        fields = _report_fields(next(x for x in restored.logs if x.startswith("REPORT ")))
        expected = (float(fields["Restore Duration"]), float(fields["Billed Restore Duration"]))
    else:
        report = next(
            json.loads(x)["record"] for x in restored.logs if '"type":"platform.report"' in x
        )
        metrics = report["metrics"]
        expected = (metrics["restoreDurationMs"], float(metrics["billedRestoreDurationMs"]))
    db = out_dir.parent / "snap.duckdb"
    result = ingest_mod.ingest([out_dir], db=str(db), progress=False)
    assert result.malformed_count == 0, result.files
    con = duckdb.connect(str(db), read_only=True)
    try:
        rows = con.execute(
            "SELECT request_id, init_type, cold_start, restore_duration_ms,"
            " billed_restore_duration_ms, init_duration_ms FROM invocations"
        ).fetchall()
    finally:
        con.close()
    by_id = {row[0]: row[1:] for row in rows}
    assert set(by_id) == {restored.request_id, warm.request_id}
    assert by_id[restored.request_id] == ("snap-start", False, *expected, None)
    assert by_id[warm.request_id] == ("snap-start", False, None, None, None)


def _otlp_sink():
    """The suite's OTLP/HTTP receiver (tests/support/otlp_sink.py), started."""
    pytest.importorskip("opentelemetry.proto")
    from tests.support.otlp_sink import OTLPSink

    return OTLPSink().start()


def test_exporters_flush_before_the_snapshot_and_export_from_each_restore(
    out_dir: Path,
) -> None:
    """fnlens's SnapStart hooks with a real OTLP export: what init queued leaves once,
    before the snapshot (not once per restored copy); each restored environment then
    exports its own invocations, exactly once each."""
    sink = _otlp_sink()
    try:
        fn = LocalLambda("snap-x", out_dir=out_dir)
        fn.update_code(
            FunctionCode(
                "snap_export_app.handler",
                HANDLERS,
                snap_start=True,
                environment={
                    "FNLENS_EXPORTERS": "otlp",
                    "OTEL_EXPORTER_OTLP_ENDPOINT": sink.endpoint,
                },
            )
        )
        version = fn.publish_version()
        deadline = time.monotonic() + 10  # the before-snapshot flush is under way or done
        while not sink.logs and time.monotonic() < deadline:
            time.sleep(0.02)
        at_publish = [log["body"] for log in sink.logs]
        try:
            barrier = threading.Barrier(RESTORED, timeout=30)
            results: list = []

            def call() -> None:
                barrier.wait()
                results.append(fn.invoke({}, version))

            threads = [threading.Thread(target=call) for _ in range(RESTORED)]
            for t in threads:
                t.start()
            for t in threads:
                t.join(60)

            # each invocation flushes within its budget; on a loaded machine the last
            # batches land later, from the background export (closing kills the processes)
            def arrived() -> bool:
                logs = [x for x in sink.logs if x["body"] == "in the invocation"]
                return len(sink.spans) >= RESTORED and len(logs) >= RESTORED

            deadline = time.monotonic() + 30
            while not arrived() and time.monotonic() < deadline:
                time.sleep(0.02)
        finally:
            fn.close()
    finally:
        sink.stop()
    assert [r.outcome for r in results] == ["success"] * RESTORED, [r.payload for r in results]
    assert len({r.environment_id for r in results}) == RESTORED
    assert at_publish == ["queued at init"]  # flushed by the before-snapshot hook
    bodies = [log["body"] for log in sink.logs]
    assert bodies.count("queued at init") == 1
    seen = sorted(
        log["attributes"]["request_id"] for log in sink.logs if log["body"] == "in the invocation"
    )
    assert seen == sorted(r.request_id for r in results)
    assert len(sink.spans) == RESTORED
    assert len({span["span_id"] for span in sink.spans}) == RESTORED


def test_after_restore_hooks_reseed_fnlens_ids(tmp_path: Path) -> None:
    """Lambda resumes the snapshot's memory without any fork handler: without
    fnlens's after-restore hook every restored copy would draw the same ids. Here the
    snapshot's generator state is put back by hand, then awslambdaric runs the
    registered after-restore hooks as it does after a restore."""
    script = tmp_path / "reseed.py"
    script.write_text(
        "import json\n"
        "from awslambdaric.lambda_runtime_hooks_runner import run_after_restore\n"
        "from fnlens.runtime import _ids as ids\n"
        "snapshot = ids._rng.getstate()\n"
        "first = [ids.new_span_id() for _ in range(4)]\n"
        "ids._rng.setstate(snapshot)  # resumed without hooks: the same ids again\n"
        "again = [ids.new_span_id() for _ in range(4)]\n"
        "ids._rng.setstate(snapshot)\n"
        "run_after_restore()\n"
        "restored = [ids.new_span_id() for _ in range(4)]\n"
        "print(json.dumps({'first': first, 'again': again, 'restored': restored}))\n",
        encoding="utf-8",
    )
    run = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=60, check=False
    )
    assert run.returncode == 0, run.stderr
    drawn = json.loads(run.stdout)
    assert drawn["again"] == drawn["first"]  # the premise: same state, same ids
    assert not set(drawn["restored"]) & set(drawn["first"])
