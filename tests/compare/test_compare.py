"""`compare()` on synthetic canaries: what it reports is what the rows hold, known
regressions fail, healthy canaries pass, thin ones are inconclusive; A/A and power."""

from __future__ import annotations

import math
from collections import Counter

import numpy as np
import pytest

pytest.importorskip("scipy")
pytest.importorskip("duckdb")

from fnlens.analysis._compare import (
    CompareError,
    CompareSettings,
    Selector,
    compare,
    load_settings,
)

from .synth import Shape, fresh_db, load


def by_metric(result, route=None):
    return {m.metric: m for m in result.metrics if m.route == route}


def nearest_rank(values, q):
    """quantile_disc by hand: the ceil(n q)-th smallest value."""
    ordered = sorted(values)
    return ordered[max(1, math.ceil(len(ordered) * q - 1e-9)) - 1]


@pytest.fixture(scope="module")
def regression():
    con = fresh_db()
    data = load(
        con,
        Shape("1", 3000, error_rate=0.01),
        Shape(
            "2", 2500, error_rate=0.05, timeout_rate=0.004, latency_factor=1.6,
            slow_route="GET /orders", extra_error="KeyError",
        ),
        seed=1,
    )  # fmt: skip
    yield con, data, compare(con, Selector("1"), Selector("2"))
    con.close()


def test_values_are_what_the_rows_hold(regression) -> None:
    _, data, result = regression
    assert (result.n_baseline, result.n_candidate) == (3000, 2500)
    m = by_metric(result)
    for side, version in (("baseline", "1"), ("candidate", "2")):
        rows = data[version]
        n = len(rows["outcome"])
        outcomes = Counter(rows["outcome"])
        durations = rows["duration_ms"]
        assert getattr(m["error_rate"], side) == pytest.approx(100 * (n - outcomes["success"]) / n)
        assert getattr(m["timeout_rate"], side) == pytest.approx(100 * outcomes["timeout"] / n)
        assert getattr(m["cold_start_rate"], side) == pytest.approx(
            100 * sum(rows["cold_start"]) / n
        )
        for name, q in (("p50", 0.5), ("p95", 0.95), ("p99", 0.99)):
            assert getattr(m[name], side) == nearest_rank(durations, q)  # exact, not binned
        gb_s = [
            b / 1000 * mem / 1024
            for b, mem in zip(rows["billed_duration_ms"], rows["memory_size_mb"], strict=True)
        ]
        per_million = 1e6 * (sum(gb_s) / n * 0.0000166667 + 0.0000002)
        assert getattr(m["cost_per_million"], side) == pytest.approx(per_million, rel=1e-9)
        memory = sorted(rows["max_memory_used_mb"])
        assert getattr(m["max_memory"], side) == nearest_rank(memory, 0.5)
    assert m["p95"].change == pytest.approx(m["p95"].candidate / m["p95"].baseline - 1)


def test_a_known_regression_fails_on_the_right_metrics(regression) -> None:
    _, data, result = regression
    assert result.verdict == "fail" and result.exit_code == 1
    m = by_metric(result)
    assert m["error_rate"].status == "fail"
    assert m["error_rate"].p_adjusted < 0.05
    assert m["cost_per_million"].status != "fail" or m["cost_per_million"].change > 0.10
    orders = by_metric(result, "GET /orders")
    assert orders["latency"].status == "fail" and orders["p95"].status == "fail"
    assert orders["latency"].change == pytest.approx(0.6, abs=0.12)  # the injected +60 %
    assert by_metric(result, "GET /orders/{id}")["latency"].status != "fail"
    assert set(result.routes) == {"GET /orders", "GET /orders/{id}", "POST /orders"}
    # the new error type, with a sample message from the candidate's own rows
    new = {e["error_type"]: e for e in result.new_error_types}
    assert set(new) == {"KeyError", "Timeout"}
    rows = data["2"]
    key_errors = [
        msg for t, msg in zip(rows["error_type"], rows["error_message"], strict=True)
        if t == "KeyError"
    ]  # fmt: skip
    assert new["KeyError"]["occurrences"] == len(key_errors)
    assert new["KeyError"]["sample_message"] in key_errors
    assert "error rate" in result.reason


def test_p_values_are_corrected_together(regression) -> None:
    _, _, result = regression
    tested = [m for m in result.metrics if m.p_value is not None]
    assert result.tests == len(tested) > 10  # overall and per-route checks, one family
    for m in tested:
        assert m.p_adjusted >= m.p_value
    smallest = min(tested, key=lambda m: m.p_value)
    assert smallest.p_adjusted == pytest.approx(min(1.0, len(tested) * smallest.p_value))


def test_a_healthy_canary_passes() -> None:
    con = fresh_db()
    load(con, Shape("1", 8000, error_rate=0.005), Shape("2", 8000, error_rate=0.005), seed=2)
    result = compare(con, Selector("1"), Selector("2"))
    assert result.verdict == "pass", result.reason
    assert result.exit_code == 0
    assert all(m.status in ("pass", "no-data") for m in result.overall if m.required)
    assert result.new_error_types == []


def test_a_thin_canary_is_inconclusive_and_says_how_much_data_it_needs() -> None:
    con = fresh_db()
    load(con, Shape("1", 2000), Shape("2", 150), seed=3)
    result = compare(con, Selector("1"), Selector("2"))
    assert result.verdict == "inconclusive" and result.exit_code == 2
    error_rate = by_metric(result)["error_rate"]
    assert error_rate.status == "inconclusive"
    assert error_rate.needed > 150
    assert f"not enough data: 150 invocations, need {error_rate.needed:,}" in result.reason
    assert "at 80 % power" in result.reason


def test_no_candidate_invocations_is_inconclusive() -> None:
    con = fresh_db()
    load(con, Shape("1", 500), seed=4)
    result = compare(con, Selector("1"), Selector("9"))
    assert result.verdict == "inconclusive"
    assert "no invocations for the candidate" in result.reason


def test_a_version_against_its_own_past_by_time_window() -> None:
    from datetime import timedelta

    con = fresh_db()
    first = Shape("7", 3000)
    later = Shape("7", 3000, error_rate=0.06, start=first.start + timedelta(hours=2))
    rng_rows = load(con, first, seed=5)
    del rng_rows
    load(con, later, seed=6)
    split = first.start + timedelta(hours=1, minutes=30)
    result = compare(
        con, Selector("7", until=split), Selector("7", since=split), function="orders-api"
    )
    assert (result.n_baseline, result.n_candidate) == (3000, 3000)
    assert by_metric(result)["error_rate"].status == "fail"
    with pytest.raises(CompareError, match="match both"):
        compare(con, Selector("7"), Selector("7", since=split))


def test_thresholds_change_the_verdict(tmp_path) -> None:
    con = fresh_db()
    load(con, Shape("1", 4000, error_rate=0.01), Shape("2", 4000, error_rate=0.025), seed=7)
    strict = compare(con, Selector("1"), Selector("2"))
    assert by_metric(strict)["error_rate"].status == "fail"
    config = tmp_path / "canary.toml"
    config.write_text("[compare]\nalpha = 0.01\n[compare.metrics.error_rate]\nallowed = 3.0\n")
    lenient = compare(con, Selector("1"), Selector("2"), settings=load_settings(config))
    assert by_metric(lenient)["error_rate"].status != "fail"
    assert lenient.settings.alpha == 0.01
    assert by_metric(lenient)["error_rate"].allowed == 3.0


def test_benjamini_hochberg_is_never_stricter_than_holm(regression) -> None:
    con, _, holm = regression
    bh = compare(con, Selector("1"), Selector("2"), settings=CompareSettings(correction="bh"))
    for a, b in zip(holm.metrics, bh.metrics, strict=True):
        assert (a.metric, a.route) == (b.metric, b.route)
        if a.p_adjusted is not None:
            assert b.p_adjusted <= a.p_adjusted + 1e-12


@pytest.mark.slow
def test_a_a_splits_fail_at_most_alpha() -> None:
    """200 random splits of one version's invocations: "fail" at most alpha (+ sampling error),
    and each uncorrected test rejects a true null at about alpha, not more."""
    con = fresh_db()
    load(con, Shape("1", 3000, error_rate=0.03, cold_rate=0.05), seed=8)
    settings = CompareSettings(bootstrap_draws=2000)
    trials, fails = 200, 0
    rejections: Counter = Counter()
    tested: Counter = Counter()
    for i in range(trials):
        con.execute(
            "UPDATE invocations SET version = CASE WHEN hash(request_id || $salt) % 2 = 0 "
            "THEN 'a' ELSE 'b' END",
            {"salt": f"split-{i}"},
        )
        result = compare(con, Selector("a"), Selector("b"), settings=settings)
        fails += result.verdict == "fail"
        for m in result.overall:
            if m.p_value is not None:
                tested[m.metric] += 1
                rejections[m.metric] += m.p_value < settings.alpha
    alpha = settings.alpha
    margin = 3 * math.sqrt(alpha * (1 - alpha) / trials)
    assert fails / trials <= alpha + margin
    for metric, n in tested.items():  # calibration of each one-sided test under the null
        assert rejections[metric] / n <= alpha + margin, (metric, rejections[metric], n)


@pytest.mark.slow
def test_an_injected_regression_is_detected_with_the_stated_power() -> None:
    """Errors +2 points and p95 +30 %, with as many invocations as the sample-size check asks
    for a 1-point change: the canary fails at least as often as the configured power says."""
    settings = CompareSettings(bootstrap_draws=4000)
    probe = fresh_db()
    load(probe, Shape("1", 400, error_rate=0.02), Shape("2", 400, error_rate=0.02), seed=9)
    needed = by_metric(compare(probe, Selector("1"), Selector("2"), settings=settings))[
        "error_rate"
    ].needed
    assert needed is not None and needed > 400
    runs, detected_errors, detected_p95 = 30, 0, 0
    for i in range(runs):
        con = fresh_db()
        load(
            con,
            Shape("1", needed, error_rate=0.02),
            Shape("2", needed, error_rate=0.04, latency_factor=1.3),
            seed=100 + i,
        )
        result = compare(con, Selector("1"), Selector("2"), settings=settings)
        m = by_metric(result)
        detected_errors += m["error_rate"].status == "fail"
        detected_p95 += m["p95"].status == "fail"
        assert result.verdict == "fail" or m["error_rate"].status != "fail"
        con.close()
    margin = 3 * math.sqrt(settings.power * (1 - settings.power) / runs)
    assert detected_errors / runs >= settings.power - margin
    assert detected_p95 / runs >= settings.power - margin


def test_grouped_histogram_ties_only_within_one_percent() -> None:
    """The duration bins are 1 % wide: two values 2 % apart never share a bin."""
    con = fresh_db()
    load(con, Shape("1", 300), seed=10)
    rows = con.execute(
        "SELECT floor(ln(duration_ms) * 100) AS b, max(duration_ms) / min(duration_ms) "
        "FROM invocations GROUP BY b"
    ).fetchall()
    assert rows and all(ratio < 1.0101 for _, ratio in rows)
    assert np.isfinite([r[1] for r in rows]).all()
