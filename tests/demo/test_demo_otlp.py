"""`fnlens demo` with a collector configured: spans go over OTLP instead of files,
one SERVER span per request, tied to the request ids the demo ingested."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("awslambdaric")
pytest.importorskip("duckdb")

from fnlens.demo import DemoOptions, run_demo
from tests.support.otlp_sink import OTLPSink

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.timeout(240)]

SERVER = 2  # SpanKind.SERVER in OTLP


def test_demo_ships_spans_to_the_configured_collector(tmp_path: Path, monkeypatch) -> None:
    import duckdb

    sink = OTLPSink().start()
    try:
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", sink.endpoint)
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf")
        result = run_demo(
            DemoOptions(out_dir=tmp_path, invocations=120, canary_weight=0.4, seed=5, html=False)
        )
        assert result.sent == 120
        # every environment flushes at exit; the sink may still be decoding the last ones
        assert sink.wait_for(
            lambda s: sum(sp["kind"] == SERVER for sp in s.spans) >= 120, timeout_s=20
        ), len(sink.spans)
        server_spans = [s for s in sink.spans if s["kind"] == SERVER]
    finally:
        sink.stop()

    # no span files when a collector is configured
    assert not list(tmp_path.rglob("traces.otlp.jsonl"))
    invocation_ids = {s["attributes"]["faas.invocation_id"] for s in server_spans}
    assert len(server_spans) == len(invocation_ids) == 120
    con = duckdb.connect(str(result.db_path), read_only=True)
    try:
        ingested = {r[0] for r in con.execute("SELECT request_id FROM invocations").fetchall()}
    finally:
        con.close()
    assert invocation_ids == ingested
    versions = {s["resource"].get("faas.version") for s in server_spans}
    assert versions == {"1", "2"}
