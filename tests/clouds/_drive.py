"""Run a driver script in its own process (one worker process: its own cold start) and
split what it printed: fnlens's JSON lines, the spans the file exporter wrote, and the
driver's own account of what it sent (the last stdout line)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

APPS = Path(__file__).parent / "apps"


def run(script: str, args: list[str], env: dict[str, str], out_dir: Path) -> dict:
    clean = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("FNLENS_", "OTEL_", "AWS_", "K_", "FUNCTION", "WEBSITE_", "GOOGLE_"))
    }
    clean.update(env)
    clean.update({"FNLENS_EXPORTERS": "file", "FNLENS_FILE_DIR": str(out_dir)})
    done = subprocess.run(
        [sys.executable, str(APPS / script), *args],
        capture_output=True,
        text=True,
        env=clean,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    lines = done.stdout.strip().splitlines()
    sent = json.loads(lines[-1])
    logged = [json.loads(line) for line in lines[:-1]]
    return {"sent": sent, "lines": logged, "spans": spans(out_dir), "stderr": done.stderr}


def spans(directory: Path) -> list[dict]:
    path = directory / "traces.otlp.jsonl"
    found: list[dict] = []
    if not path.exists():
        return found
    for line in path.read_text().splitlines():
        for resource_spans in json.loads(line)["resourceSpans"]:
            resource = attributes(resource_spans["resource"]["attributes"])
            for scope_spans in resource_spans["scopeSpans"]:
                for span in scope_spans["spans"]:
                    span["resource"] = resource
                    span["attrs"] = attributes(span.get("attributes", []))
                    found.append(span)
    return found


def attributes(items: list[dict]) -> dict:
    out = {}
    for item in items:
        (value,) = item["value"].values()
        out[item["key"]] = value
    return out
