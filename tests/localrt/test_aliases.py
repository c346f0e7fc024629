"""Versions and weighted aliases: a canary splits traffic between two versions."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from fnlens.localrt import FunctionCode, LocalLambda

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]

HANDLERS = Path(__file__).parent / "handlers"


def _record(result) -> dict:
    return next(json.loads(x) for x in result.logs if x.startswith("{") and '"invocation"' in x)


def test_canary_alias_splits_traffic_by_weight(out_dir: Path) -> None:
    base = FunctionCode("lrt_app.handler", HANDLERS, environment={"VARIANT": "one"})
    n = 400
    with LocalLambda("canary-fn", out_dir=out_dir, seed=7) as fn:
        v1 = fn.publish_version(base)
        v2 = fn.publish_version(replace(base, environment={"VARIANT": "two"}))
        assert (v1, v2) == ("1", "2")
        fn.create_alias("live", v1, additional_version=v2, weight=0.25)
        results = [fn.invoke({}, "live") for _ in range(n)]

    by_version = {"1": 0, "2": 0}
    for r in results:
        by_version[r.version] += 1
        body = r.json()
        # each version runs its own code/env, and knows it was invoked through the alias
        assert body["variant"] == {"1": "one", "2": "two"}[r.version]
        assert body["version"] == r.version
        assert body["arn"].endswith(":function:canary-fn:live")
    share = by_version["2"] / n
    # binomial(400, 0.25): sd 0.022; 4 sd either way
    assert 0.16 <= share <= 0.34, by_version
    # one pool per version: each version had its own cold start
    assert sum(r.cold_start for r in results if r.version == "1") == 1
    assert sum(r.cold_start for r in results if r.version == "2") == 1
    # the fnlens record carries version and alias, the stream name the version
    for r in (results[0], next(r for r in results if r.version == "2")):
        rec = _record(r)
        assert rec["function_version"] == r.version
        assert rec["function_alias"] == "live"
        assert f"/[{r.version}]" in r.log_stream


def test_alias_without_weight_and_unknown_qualifiers(out_dir: Path) -> None:
    base = FunctionCode("lrt_app.handler", HANDLERS)
    with LocalLambda("alias-fn", out_dir=out_dir) as fn:
        v1 = fn.publish_version(base)
        fn.create_alias("prod", v1)
        assert all(fn.invoke({}, "prod").version == "1" for _ in range(5))
        with pytest.raises(KeyError):
            fn.invoke({}, "nope")
        with pytest.raises(ValueError):
            fn.create_alias("bad", v1, additional_version="9", weight=0.5)
        with pytest.raises(ValueError):
            fn.create_alias("bad", v1, additional_version=v1, weight=1.5)
