"""Bootstrap confidence intervals: every estimate that comes from a sample carries one."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

DEFAULT_REPLICATES = 1000


def bootstrap_ci(
    statistic: Callable[[np.ndarray], float],
    n: int,
    *,
    n_boot: int = DEFAULT_REPLICATES,
    ci: float = 0.95,
    seed: int = 0,
) -> tuple[float, float]:
    """Percentile interval of ``statistic(indices)`` over ``n_boot`` resamples of ``range(n)``.

    ``statistic`` receives an int array of resampled row indices, so it can index several aligned arrays
    (paired scores for a correlation, say) the same way.
    """
    if n <= 0:
        return (float("nan"), float("nan"))
    rng = np.random.default_rng(seed)
    values = np.fromiter(
        (statistic(rng.integers(0, n, size=n)) for _ in range(n_boot)), dtype=np.float64, count=n_boot
    )
    return percentile_interval(values, ci)


def bootstrap_mean_ci(
    values: np.ndarray, *, n_boot: int = DEFAULT_REPLICATES, ci: float = 0.95, seed: int = 0
) -> tuple[float, float]:
    """Percentile interval of the mean of ``values`` (accuracies as 0/1, cosines, reciprocal ranks).

    Resamples are drawn in blocks so memory stays near ``values.size * 64`` bytes whatever ``n_boot``.
    """
    x = np.asarray(values, dtype=np.float64).ravel()
    n = x.size
    if n == 0:
        return (float("nan"), float("nan"))
    rng = np.random.default_rng(seed)
    block = max(1, min(n_boot, 8_000_000 // max(n, 1)))
    means = np.empty(n_boot)
    for start in range(0, n_boot, block):
        stop = min(n_boot, start + block)
        idx = rng.integers(0, n, size=(stop - start, n))
        means[start:stop] = x[idx].mean(axis=1)
    return percentile_interval(means, ci)


def percentile_interval(values: np.ndarray, ci: float) -> tuple[float, float]:
    """The central ``ci`` percentile interval of replicate values (non-finite replicates ignored)."""
    if not 0 < ci < 1:
        raise ValueError(f"ci must be in (0, 1), got {ci}")
    values = values[np.isfinite(values)]
    if values.size == 0:
        return (float("nan"), float("nan"))
    alpha = (1 - ci) / 2
    low, high = np.quantile(values, [alpha, 1 - alpha])
    return float(low), float(high)


def cluster_bootstrap_ratio(
    sums: np.ndarray,
    counts: np.ndarray | None = None,
    *,
    n_boot: int = DEFAULT_REPLICATES,
    ci: float = 0.95,
    seed: int = 0,
) -> tuple[float, float]:
    """Percentile interval of ``sum(sums) / sum(counts)`` when whole clusters (BATS relations, test pairs,
    words) are resampled with replacement: the unit that was really sampled, not the rows it produced.

    ``sums[c]`` is a cluster's total (correct answers, say), ``counts[c]`` its size; ``counts=None`` weights
    every cluster by 1, i.e. the interval of the mean of per-cluster values (a macro average). Fewer than two
    clusters or ``n_boot`` < 1 give (nan, nan). Uses ``scipy.stats.bootstrap`` (paired, vectorised).
    """
    from scipy import stats

    s = np.asarray(sums, dtype=np.float64).ravel()
    c = np.ones_like(s) if counts is None else np.asarray(counts, dtype=np.float64).ravel()
    if s.shape != c.shape:
        raise ValueError(f"sums and counts differ in shape: {s.shape} vs {c.shape}")
    keep = np.isfinite(s) & (c > 0)
    s, c = s[keep], c[keep]
    if n_boot < 1 or s.size < 2:
        return (float("nan"), float("nan"))
    if np.ptp(s / c) == 0 and np.ptp(c) == 0:
        return (float(s[0] / c[0]),) * 2

    def ratio(a: np.ndarray, b: np.ndarray, axis: int = -1) -> np.ndarray:
        return a.sum(axis=axis) / b.sum(axis=axis)

    res = stats.bootstrap(
        (s, c),
        ratio,
        paired=True,
        vectorized=True,
        n_resamples=int(n_boot),
        confidence_level=ci,
        method="percentile",
        rng=np.random.default_rng(seed),
    )
    return float(res.confidence_interval.low), float(res.confidence_interval.high)


def cluster_totals(values: np.ndarray, clusters: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-cluster sums and sizes of ``values`` (for :func:`cluster_bootstrap_ratio`), clusters in sorted order."""
    _, inverse = np.unique(np.asarray(clusters), return_inverse=True)
    v = np.asarray(values, dtype=np.float64).ravel()
    return np.bincount(inverse, weights=v), np.bincount(inverse).astype(np.float64)
