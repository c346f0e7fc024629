"""The statistics behind ``fnlens compare``, on aggregates rather than raw rows.

DuckDB reduces millions of invocations to counts per value (or per 0.1 % wide
log bin), so every test here takes *grouped* data: sorted distinct values and a
count per value for each side. On ungrouped data (every count 1) the results are
the textbook ones, which is what the tests check against scipy.

Conventions: ``b`` is the baseline, ``c`` the candidate; every p-value is one
sided and asks "is the candidate worse (higher)?"; intervals are two sided at
``1 - alpha``.

Distribution functions come from ``scipy.special`` (``ndtr``, ``ndtri``,
``bdtrc``, ``stdtr``, ``gammaln``); the tests check every result against the
matching ``scipy.stats`` function.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import special  # scipy.special only: scipy.stats costs seconds to import

__all__ = [
    "Estimate",
    "adjust_pvalues",
    "fisher_greater",
    "hodges_lehmann",
    "kth_difference",
    "mann_whitney",
    "newcombe_interval",
    "quantile_bootstrap",
    "quantile_rank",
    "ratio_of_means",
    "required_n_proportions",
    "two_proportions",
]


@dataclass(frozen=True)
class Estimate:
    """A change with its interval and one-sided p-value (candidate worse)."""

    change: float | None
    low: float | None
    high: float | None
    p_value: float | None
    test: str


# ---------------------------------------------------------------- proportions


def _z(p: float) -> float:
    """The standard normal quantile."""
    return float(special.ndtri(p))


def _sf(z: float) -> float:
    """P(Z > z) for a standard normal Z."""
    return float(special.ndtr(-z))


def fisher_greater(x_b: int, n_b: int, x_c: int, n_c: int) -> float:
    """One-sided Fisher exact p-value: P(candidate events >= x_c) given the margins.

    The candidate's count is hypergeometric (n_b + n_c items, x_b + x_c events,
    n_c drawn); the tail is summed in log space, as ``scipy.stats.fisher_exact``
    with ``alternative="greater"`` does.
    """
    total, events = n_b + n_c, x_b + x_c
    k = np.arange(x_c, min(events, n_c) + 1)
    if k.size == 0:
        return 0.0

    def log_comb(n: float, r: np.ndarray | float) -> np.ndarray:
        return special.gammaln(n + 1) - special.gammaln(r + 1) - special.gammaln(n - r + 1)

    log_pmf = log_comb(events, k) + log_comb(total - events, n_c - k) - log_comb(total, n_c)
    return float(min(1.0, np.exp(log_pmf).sum()))


def _wilson(x: int, n: int, z: float) -> tuple[float, float]:
    p = x / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


def newcombe_interval(
    x_b: int, n_b: int, x_c: int, n_c: int, alpha: float = 0.05
) -> tuple[float, float]:
    """Newcombe's hybrid score interval for p_c - p_b (his method 10).

    Unlike the Wald interval it stays inside [-1, 1] and is honest at 0 events,
    which is the usual baseline error count of a healthy function.
    """
    z = _z(1 - alpha / 2)
    p_b, p_c = x_b / n_b, x_c / n_c
    l_b, u_b = _wilson(x_b, n_b, z)
    l_c, u_c = _wilson(x_c, n_c, z)
    d = p_c - p_b
    low = d - math.sqrt((p_c - l_c) ** 2 + (u_b - p_b) ** 2)
    high = d + math.sqrt((u_c - p_c) ** 2 + (p_b - l_b) ** 2)
    return low, high


def two_proportions(
    x_b: int, n_b: int, x_c: int, n_c: int, alpha: float = 0.05, *, exact_below: float = 5.0
) -> Estimate:
    """Change in a rate (p_c - p_b, as a fraction) with a one-sided test.

    The pooled two-proportion z-test, or Fisher's exact test when an expected
    cell count is below ``exact_below`` (the usual rule of thumb: the normal
    approximation is poor there).
    """
    if n_b <= 0 or n_c <= 0:
        return Estimate(None, None, None, None, "none")
    p_b, p_c = x_b / n_b, x_c / n_c
    low, high = newcombe_interval(x_b, n_b, x_c, n_c, alpha)
    pooled = (x_b + x_c) / (n_b + n_c)
    expected = min(pooled * n_b, pooled * n_c, (1 - pooled) * n_b, (1 - pooled) * n_c)
    if expected < exact_below:
        p = fisher_greater(x_b, n_b, x_c, n_c)
        return Estimate(p_c - p_b, low, high, p, "fisher-exact")
    se = math.sqrt(pooled * (1 - pooled) * (1 / n_b + 1 / n_c))
    p = _sf((p_c - p_b) / se) if se > 0 else (1.0 if p_c <= p_b else 0.0)
    return Estimate(p_c - p_b, low, high, p, "two-proportion-z")


def required_n_proportions(p_b: float, delta: float, alpha: float, power: float) -> int:
    """Invocations per side to detect a rise of ``delta`` from rate ``p_b``.

    The classical formula for a one-sided two-proportion test at level
    ``alpha`` with the given power (Fleiss, without continuity correction).
    """
    if delta <= 0:
        raise ValueError("delta must be positive")
    p1 = min(max(p_b, 0.0), 1.0)
    p2 = min(p1 + delta, 1.0)
    bar = (p1 + p2) / 2
    z_a, z_b = _z(1 - alpha), _z(power)
    top = z_a * math.sqrt(2 * bar * (1 - bar)) + z_b * math.sqrt(p1 * (1 - p1) + p2 * (1 - p2))
    return max(2, math.ceil((top / (p2 - p1)) ** 2))


# ------------------------------------------------------------ rank-based tests


def mann_whitney(
    keys_b: np.ndarray, counts_b: np.ndarray, keys_c: np.ndarray, counts_c: np.ndarray
) -> tuple[float, float, float]:
    """Mann-Whitney U of the candidate over the baseline, on grouped data.

    Returns ``(U_c, p, P(C > B) + P(C = B) / 2)``: ``p`` is the asymptotic
    one-sided p-value with tie and continuity correction, as
    ``scipy.stats.mannwhitneyu(c, b, alternative="greater")`` computes it.
    Equal keys on both sides are ties (DuckDB's bins make values within 0.1 % tie).
    """
    n_b, n_c = float(counts_b.sum()), float(counts_c.sum())
    if n_b == 0 or n_c == 0:
        return math.nan, math.nan, math.nan
    keys = np.union1d(keys_b, keys_c)
    cb = np.zeros(len(keys))
    cc = np.zeros(len(keys))
    cb[np.searchsorted(keys, keys_b)] = counts_b
    cc[np.searchsorted(keys, keys_c)] = counts_c
    t = cb + cc
    below = np.cumsum(t) - t  # how many observations rank before each key
    midrank = below + (t + 1) / 2
    rank_sum_c = float(np.dot(cc, midrank))
    u_c = rank_sum_c - n_c * (n_c + 1) / 2
    n = n_b + n_c
    tie_term = float(np.sum(t**3 - t)) / (n * (n - 1)) if n > 1 else 0.0
    var = n_b * n_c / 12 * ((n + 1) - tie_term)
    if var <= 0:
        return u_c, 1.0, 0.5
    z = (u_c - n_b * n_c / 2 - 0.5) / math.sqrt(var)
    return u_c, _sf(z), u_c / (n_b * n_c)


def _pairs_at_most(
    d: float, vx: np.ndarray, cx: np.ndarray, vy: np.ndarray, cum_y: np.ndarray
) -> float:
    """How many pairs (x, y) have x - y <= d (values sorted, counts as weights)."""
    first = np.searchsorted(vy, vx - d, side="left")  # first y >= x - d
    return float(np.dot(cx, cum_y[-1] - cum_y[first]))


def kth_difference(
    vx: np.ndarray, cx: np.ndarray, vy: np.ndarray, cy: np.ndarray, k: float
) -> float:
    """The k-th smallest (1-based) of all pairwise differences x - y, weighted.

    Bisection on the value: counting the pairs below a value is one
    ``searchsorted``, so this never builds the n*m differences.
    """
    cum_y = np.concatenate(([0.0], np.cumsum(cy, dtype=float)))
    lo = float(vx[0] - vy[-1])
    hi = float(vx[-1] - vy[0])
    if _pairs_at_most(lo, vx, cx, vy, cum_y) >= k:
        return lo
    scale = max(abs(lo), abs(hi), 1e-300)
    for _ in range(200):
        mid = (lo + hi) / 2
        if mid in (lo, hi) or hi - lo <= 1e-13 * scale:
            break
        if _pairs_at_most(mid, vx, cx, vy, cum_y) >= k:
            hi = mid
        else:
            lo = mid
    # snap to the nearest actual difference at or below hi
    candidates = vx - vy[np.clip(np.searchsorted(vy, vx - hi, side="left"), 0, len(vy) - 1)]
    at_most = candidates[candidates <= hi + 1e-12 * scale]
    return float(at_most.max()) if at_most.size else hi


def hodges_lehmann(
    vx: np.ndarray, cx: np.ndarray, vy: np.ndarray, cy: np.ndarray, alpha: float = 0.05
) -> tuple[float, float, float]:
    """Hodges-Lehmann shift of x over y with Moses' distribution-free interval.

    The estimate is the median of all pairwise differences x - y; the interval
    bounds are the C-th smallest and C-th largest differences, with C from the
    normal approximation of U (Hollander & Wolfe).
    """
    n, m = float(cx.sum()), float(cy.sum())
    total = n * m
    if total % 2 == 0:
        est = (
            kth_difference(vx, cx, vy, cy, total / 2)
            + kth_difference(vx, cx, vy, cy, total / 2 + 1)
        ) / 2
    else:
        est = kth_difference(vx, cx, vy, cy, (total + 1) / 2)
    z = _z(1 - alpha / 2)
    c = math.floor(total / 2 - z * math.sqrt(total * (n + m + 1) / 12))
    if c < 1:
        return est, float(vx[0] - vy[-1]), float(vx[-1] - vy[0])
    low = kth_difference(vx, cx, vy, cy, c)
    high = kth_difference(vx, cx, vy, cy, total - c + 1)
    return est, low, high


# -------------------------------------------------------------------- quantiles


def quantile_rank(n: int, q: float) -> int:
    """The 1-based rank DuckDB's ``quantile_disc`` returns: ceil(n q), at least 1."""
    return max(1, min(n, math.ceil(n * q - 1e-9)))


def _quantile_cdf(counts: np.ndarray, q: float) -> np.ndarray:
    """P(bootstrap quantile <= value j) for every value j, exactly.

    The bootstrap quantile is at most v_j when at least r resampled values are
    at most v_j, and that count is Binomial(n, F(v_j)): no resampling needed.
    """
    n = int(counts.sum())
    r = quantile_rank(n, q)
    cdf_values = np.cumsum(counts) / n
    out = special.bdtrc(r - 1, n, np.clip(cdf_values, 0.0, 1.0))
    out[-1] = 1.0
    return np.maximum.accumulate(out)


def quantile_bootstrap(
    values_b: np.ndarray,
    counts_b: np.ndarray,
    values_c: np.ndarray,
    counts_c: np.ndarray,
    q: float,
    *,
    alpha: float = 0.05,
    draws: int = 20_000,
    seed: int = 0,
) -> Estimate:
    """Relative change of the q-quantile (c / b - 1) with a bootstrap interval.

    Each side's bootstrap distribution of the quantile is exact (see
    :func:`_quantile_cdf`); the ratio's distribution is sampled from the two with
    a fixed seed, so the same data always gives the same verdict. The p-value is
    the bootstrap share of draws where the candidate is not higher.
    """
    rng = np.random.default_rng(seed)
    cdf_b, cdf_c = _quantile_cdf(counts_b, q), _quantile_cdf(counts_c, q)
    qb = values_b[np.searchsorted(cdf_b, rng.random(draws), side="right").clip(0, len(cdf_b) - 1)]
    qc = values_c[np.searchsorted(cdf_c, rng.random(draws), side="right").clip(0, len(cdf_c) - 1)]
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(qb > 0, qc / qb, np.where(qc > 0, np.inf, 1.0))
    low, high = np.quantile(ratio, [alpha / 2, 1 - alpha / 2])
    p = (1 + int(np.count_nonzero(ratio <= 1.0))) / (draws + 1)
    return Estimate(None, float(low) - 1, float(high) - 1, p, "bootstrap")


# ------------------------------------------------------------------------ means


def ratio_of_means(
    n_b: int, mean_b: float, var_b: float, n_c: int, mean_c: float, var_c: float, alpha: float
) -> Estimate:
    """Relative change of a mean (c / b - 1): Welch's t-test, delta-method interval.

    Used for the cost per invocation, where the mean is the quantity billed.
    """
    if n_b < 2 or n_c < 2 or mean_b <= 0:
        return Estimate(None, None, None, None, "none")
    se2_b, se2_c = var_b / n_b, var_c / n_c
    se = math.sqrt(se2_b + se2_c)
    if se == 0:
        p = 1.0 if mean_c <= mean_b else 0.0
    else:
        df = (se2_b + se2_c) ** 2 / (
            (se2_b**2 / (n_b - 1) if se2_b else 0.0) + (se2_c**2 / (n_c - 1) if se2_c else 0.0)
        )
        p = float(special.stdtr(df, -(mean_c - mean_b) / se))
    ratio = mean_c / mean_b
    se_ratio = math.sqrt(se2_c / mean_b**2 + mean_c**2 * se2_b / mean_b**4)
    z = _z(1 - alpha / 2)
    return Estimate(ratio - 1, ratio - 1 - z * se_ratio, ratio - 1 + z * se_ratio, p, "welch-t")


# ----------------------------------------------------------- multiple testing


def adjust_pvalues(p_values: list[float], method: str = "holm") -> list[float]:
    """Holm (family-wise error) or Benjamini-Hochberg (false discovery rate) adjustment."""
    m = len(p_values)
    if m == 0:
        return []
    order = sorted(range(m), key=lambda i: p_values[i])
    adjusted = [0.0] * m
    if method == "holm":
        running = 0.0
        for rank, i in enumerate(order):
            running = max(running, min(1.0, (m - rank) * p_values[i]))
            adjusted[i] = running
    elif method in ("bh", "fdr_bh", "benjamini-hochberg"):
        running = 1.0
        for rank in range(m - 1, -1, -1):
            i = order[rank]
            running = min(running, 1.0, m * p_values[i] / (rank + 1))
            adjusted[i] = running
    elif method == "none":
        adjusted = [min(1.0, p) for p in p_values]
    else:
        raise ValueError(f"unknown correction {method!r}: use holm, bh or none")
    return adjusted
