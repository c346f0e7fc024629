"""The statistics of `fnlens compare` against scipy's reference implementations,
brute force and published values, on generated data."""

from __future__ import annotations

import math
from statistics import NormalDist

import numpy as np
import pytest

stats = pytest.importorskip("scipy.stats")

from fnlens.analysis import _compare_stats as st  # noqa: E402


def grouped(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    values, counts = np.unique(x, return_counts=True)
    return values, counts.astype(float)


@pytest.fixture(scope="module")
def samples() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(42)
    b = np.round(rng.lognormal(3.0, 0.5, 400), 1)  # rounded: plenty of ties
    c = np.round(rng.lognormal(3.08, 0.5, 300), 1)
    return b, c


def test_mann_whitney_matches_scipy_with_ties(samples) -> None:
    b, c = samples
    vb, cb = grouped(b)
    vc, cc = grouped(c)
    u, p, effect = st.mann_whitney(vb, cb, vc, cc)
    ref = stats.mannwhitneyu(c, b, alternative="greater", method="asymptotic")
    assert u == pytest.approx(float(ref.statistic), rel=1e-12)
    assert p == pytest.approx(float(ref.pvalue), rel=1e-9)
    # P(C > B) + P(C = B) / 2 by brute force
    diff = np.subtract.outer(c, b)
    assert effect == pytest.approx(((diff > 0).sum() + 0.5 * (diff == 0).sum()) / diff.size)


def test_mann_whitney_is_symmetric_under_swap(samples) -> None:
    b, c = samples
    vb, cb = grouped(b)
    vc, cc = grouped(c)
    u_c, _, _ = st.mann_whitney(vb, cb, vc, cc)
    u_b, _, _ = st.mann_whitney(vc, cc, vb, cb)
    assert u_c + u_b == pytest.approx(len(b) * len(c))


def test_kth_difference_and_hodges_lehmann_match_brute_force(samples) -> None:
    b, c = samples
    vb, cb = grouped(b)
    vc, cc = grouped(c)
    diffs = np.sort(np.subtract.outer(c, b).ravel())
    for k in (1, 17, 5000, len(diffs) // 2, len(diffs)):
        assert st.kth_difference(vc, cc, vb, cb, k) == pytest.approx(diffs[k - 1], abs=1e-9)
    est, low, high = st.hodges_lehmann(vc, cc, vb, cb, alpha=0.05)
    assert est == pytest.approx(float(np.median(diffs)), abs=1e-9)
    n, m = len(c), len(b)
    z = NormalDist().inv_cdf(0.975)
    k = math.floor(n * m / 2 - z * math.sqrt(n * m * (n + m + 1) / 12))
    assert low == pytest.approx(diffs[k - 1], abs=1e-9)
    assert high == pytest.approx(diffs[n * m - k], abs=1e-9)


def test_hodges_lehmann_odd_pair_count() -> None:
    x = np.array([1.0, 4.0, 9.0])
    y = np.array([0.5, 2.0, 2.5])
    est, _, _ = st.hodges_lehmann(x, np.ones(3), y, np.ones(3))
    assert est == pytest.approx(float(np.median(np.subtract.outer(x, y))))  # 9 pairs


def test_newcombe_interval_matches_the_published_example() -> None:
    # Newcombe (1998), Stat Med 17:873, table II example (a): 56/70 vs 48/80 -> 0.0524, 0.3339
    low, high = st.newcombe_interval(48, 80, 56, 70, alpha=0.05)
    assert low == pytest.approx(0.0524, abs=5e-5)
    assert high == pytest.approx(0.3339, abs=5e-5)


def test_two_proportion_z_test_by_hand() -> None:
    est = st.two_proportions(20, 2000, 45, 2000)
    pooled = 65 / 4000
    z = (45 / 2000 - 20 / 2000) / math.sqrt(pooled * (1 - pooled) * (2 / 2000))
    assert est.test == "two-proportion-z"
    assert est.change == pytest.approx(0.0125)
    assert est.p_value == pytest.approx(1 - NormalDist().cdf(z), rel=1e-9)


def test_small_counts_use_fishers_exact_test() -> None:
    est = st.two_proportions(0, 60, 4, 50)
    ref = stats.fisher_exact([[4, 46], [0, 60]], alternative="greater")
    assert est.test == "fisher-exact"
    assert est.p_value == pytest.approx(float(ref.pvalue))
    # hypergeometric by hand: P(X >= 4) with 4 successes among 110, 50 drawn
    by_hand = sum(
        math.comb(4, k) * math.comb(106, 50 - k) / math.comb(110, 50) for k in range(4, 5)
    )
    assert est.p_value == pytest.approx(by_hand)


def test_required_sample_size_by_hand() -> None:
    # one-sided alpha 0.05, power 0.8, 5 % -> 6 %
    za, zb = NormalDist().inv_cdf(0.95), NormalDist().inv_cdf(0.8)
    p1, p2 = 0.05, 0.06
    bar = (p1 + p2) / 2
    n = (
        (za * math.sqrt(2 * bar * (1 - bar)) + zb * math.sqrt(p1 * (1 - p1) + p2 * (1 - p2))) / 0.01
    ) ** 2
    assert st.required_n_proportions(0.05, 0.01, 0.05, 0.8) == math.ceil(n)
    assert st.required_n_proportions(0.0, 0.01, 0.05, 0.8) < st.required_n_proportions(
        0.05, 0.01, 0.05, 0.8
    )


def test_welch_ratio_of_means_matches_scipy(samples) -> None:
    b, c = samples
    est = st.ratio_of_means(
        len(b), b.mean(), b.var(ddof=1), len(c), c.mean(), c.var(ddof=1), alpha=0.05
    )
    ref = stats.ttest_ind(c, b, equal_var=False, alternative="greater")
    assert est.p_value == pytest.approx(float(ref.pvalue), rel=1e-9)
    assert est.change == pytest.approx(c.mean() / b.mean() - 1)
    assert est.low < est.change < est.high


def test_quantile_bootstrap_marginal_matches_scipy_bootstrap(samples) -> None:
    b, _ = samples
    vb, cb = grouped(b)
    # (a unit test of the private module's own function)
    cdf = st._quantile_cdf(cb, 0.95)
    low, high = vb[np.searchsorted(cdf, 0.025)], vb[np.searchsorted(cdf, 0.975)]
    ref = stats.bootstrap(
        (b,),
        lambda x, axis: np.quantile(x, 0.95, axis=axis, method="inverted_cdf"),
        method="percentile",
        n_resamples=20000,
        random_state=np.random.default_rng(0),
    ).confidence_interval
    # ours is the exact bootstrap distribution; scipy's is Monte Carlo: equal to a grid step
    step = np.diff(vb).max()
    assert abs(low - ref.low) <= step and abs(high - ref.high) <= step


def test_quantile_rank_is_duckdb_quantile_disc() -> None:
    duckdb = pytest.importorskip("duckdb")
    con = duckdb.connect()
    for n in (1, 2, 10, 99, 1000):
        con.execute(
            "CREATE OR REPLACE TABLE t AS SELECT range::DOUBLE + 1 AS v FROM range($n)", {"n": n}
        )
        got = con.execute("SELECT quantile_disc(v, [0.5, 0.95, 0.99]) FROM t").fetchone()[0]
        assert got == [float(st.quantile_rank(n, q)) for q in (0.5, 0.95, 0.99)]


def test_quantile_bootstrap_detects_a_real_shift_and_not_a_null() -> None:
    rng = np.random.default_rng(7)
    b = np.round(rng.lognormal(3, 0.5, 3000), 2)
    same = np.round(rng.lognormal(3, 0.5, 3000), 2)
    slower = np.round(rng.lognormal(3, 0.5, 3000) * 1.3, 2)
    vb, cb = grouped(b)
    est = st.quantile_bootstrap(vb, cb, *grouped(slower), 0.95, seed=1)
    assert est.p_value < 0.001 and est.low > 0.1
    est = st.quantile_bootstrap(vb, cb, *grouped(same), 0.95, seed=1)
    assert est.p_value > 0.01 and est.low < 0 < est.high
    # fixed seed: the same data gives the same interval
    again = st.quantile_bootstrap(vb, cb, *grouped(same), 0.95, seed=1)
    assert (again.low, again.high, again.p_value) == (est.low, est.high, est.p_value)


def test_holm_and_benjamini_hochberg_by_hand() -> None:
    p = [0.01, 0.04, 0.03, 0.005]
    # Holm: sorted 0.005, 0.01, 0.03, 0.04 times 4, 3, 2, 1 -> 0.02, 0.03, 0.06, 0.04 -> monotone
    assert st.adjust_pvalues(p, "holm") == pytest.approx([0.03, 0.06, 0.06, 0.02])
    # BH: 0.04*4/4 = 0.04, 0.03*4/3 = 0.04, 0.01*4/2 = 0.02, 0.005*4/1 = 0.02
    assert st.adjust_pvalues(p, "bh") == pytest.approx([0.02, 0.04, 0.04, 0.02])
    assert st.adjust_pvalues([], "holm") == []
    with pytest.raises(ValueError, match="unknown correction"):
        st.adjust_pvalues(p, "bonferroni-ish")


@pytest.mark.parametrize(
    ("x_b", "n_b", "x_c", "n_c"),
    [(0, 60, 4, 50), (3, 40, 3, 40), (10, 12, 1, 9), (0, 5, 0, 5), (7, 300, 19, 280), (2, 9, 9, 9)],
)
def test_fisher_exact_matches_scipy(x_b: int, n_b: int, x_c: int, n_c: int) -> None:
    ref = stats.fisher_exact([[x_c, n_c - x_c], [x_b, n_b - x_b]], alternative="greater")
    assert st.fisher_greater(x_b, n_b, x_c, n_c) == pytest.approx(float(ref.pvalue), rel=1e-9)
