"""Bootstrap confidence intervals: every estimate that comes from a sample carries one."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np

DEFAULT_REPLICATES = 1000
#: resample indices per block of replicates (8 MB of int64): memory stays flat whatever ``n_boot``
_BLOCK_ITEMS = 1_000_000


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


def bootstrap_index_blocks(
    n: int, n_boot: int, *, seed: int = 0, block_items: int = _BLOCK_ITEMS
) -> Iterator[np.ndarray]:
    """The resamples :func:`bootstrap_ci` draws, as (replicates, n) index blocks of about ``block_items``.

    ``Generator.integers`` fills an array from the same stream as that many calls of ``size=n`` in a row
    (tested), so a statistic can evaluate a block of replicates as one array operation and still see
    exactly the draws of the per-replicate loop.
    """
    if n <= 0 or n_boot < 1:
        return
    rng = np.random.default_rng(seed)
    block = max(1, min(n_boot, block_items // n))
    for start in range(0, n_boot, block):
        yield rng.integers(0, n, size=(min(block, n_boot - start), n))


def counts_from_indices(idx: np.ndarray, n: int) -> np.ndarray:
    """Multiplicity of each of ``n`` items in every row of resample indices ``idx`` (replicates x draws)."""
    idx = np.atleast_2d(idx)
    offsets = (np.arange(idx.shape[0]) * n)[:, None]
    return np.bincount((idx + offsets).ravel(), minlength=idx.shape[0] * n).reshape(idx.shape[0], n)


def bootstrap_spearman_ci(
    x: np.ndarray, y: np.ndarray, *, n_boot: int = DEFAULT_REPLICATES, ci: float = 0.95, seed: int = 0
) -> tuple[float, float]:
    """``bootstrap_ci(lambda idx: spearmanr(x[idx], y[idx]).statistic, len(x), ...)``, replicates batched.

    The same resamples (:func:`bootstrap_index_blocks`), each turned into multiplicity counts whose
    mid-rank correlation (:func:`spearman_from_counts`) equals scipy's on the resample to float rounding:
    one sort of ``x`` and of ``y`` serves every replicate instead of two rankings per replicate.
    """
    x, y = np.asarray(x).ravel(), np.asarray(y).ravel()
    n = x.size
    if n <= 0:
        return (float("nan"), float("nan"))
    px, py = RankPlan.of(x), RankPlan.of(y)
    rho = [
        _spearman_planned(px, py, counts_from_indices(idx, n))
        for idx in bootstrap_index_blocks(n, n_boot, seed=seed)
    ]
    return percentile_interval(np.concatenate(rho) if rho else np.empty(0), ci)


@dataclass(frozen=True)
class RankPlan:
    """One array's sort order and tie groups, so that any reweighting of it is ranked without sorting."""

    order: np.ndarray  # argsort of the values
    ends: np.ndarray | None  # last sorted position of each tie group (None: no ties)
    index: np.ndarray  # for each item, its tie group (its sorted position when there are no ties)

    @classmethod
    def of(cls, x: np.ndarray) -> RankPlan:
        x = np.asarray(x)
        order = np.argsort(x, kind="stable")
        xs = x[order]
        new = np.r_[True, xs[1:] != xs[:-1]] if xs.size else np.zeros(0, bool)
        inverse = np.empty_like(order)
        inverse[order] = np.arange(order.size)
        if new.all():  # no ties (real-valued cosines): every item is its own group
            return cls(order, None, inverse)
        starts = np.flatnonzero(new)
        group = np.cumsum(new) - 1
        return cls(order, np.r_[starts[1:] - 1, xs.size - 1].astype(np.int64), group[inverse])

    def doubled_ranks_t(self, counts_t: np.ndarray) -> np.ndarray:
        """Twice the centred mid-ranks of every resample, items x replicates (``counts_t``: counts transposed).

        In a resample, item k's copies and every item tied with it form one tie group; its mid-rank is the
        number of resampled items below the group plus (group size + 1) / 2, i.e. (cum_below + cum_upto + 1)
        / 2 with cumulative counts, so twice the centred rank (minus (N + 1) / 2) is the integer cum_below +
        cum_upto - N. Integers keep every weighted sum of a correlation exact (below 2**53), so its value
        does not depend on the order of summation, and the doubling cancels in the ratio. Items x replicates
        so that the running sum and the gathers move whole rows of replicates.
        """
        cum = np.cumsum(counts_t[self.order], axis=0, dtype=np.float64)
        if self.ends is not None:
            cum = cum[self.ends]
        doubled = np.empty_like(cum)
        doubled[:1] = cum[:1]
        np.add(cum[1:], cum[:-1], out=doubled[1:])
        doubled -= cum[-1]
        return doubled[self.index]

    def doubled_centred_ranks(self, counts: np.ndarray) -> np.ndarray:
        """:meth:`doubled_ranks_t` for counts of shape (replicates, items), same shape out."""
        return self.doubled_ranks_t(np.ascontiguousarray(np.atleast_2d(counts).T)).T

    def centred_ranks(self, counts: np.ndarray) -> np.ndarray:
        """Mid-ranks each item would have in the resample ``counts`` describes, minus the mean rank (N+1)/2."""
        return self.doubled_centred_ranks(counts) / 2.0


def spearman_from_counts(x: np.ndarray, y: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Spearman's rho of every resample ``counts`` (replicates x items) describes, without forming it.

    Equal to ``scipy.stats.spearmanr(x[idx], y[idx])`` for the index array ``idx`` with those counts: the
    Pearson correlation of mid-ranks, weighted by the counts.
    """
    return _spearman_planned(RankPlan.of(x), RankPlan.of(y), np.atleast_2d(counts))


def _spearman_planned(px: RankPlan, py: RankPlan, counts: np.ndarray) -> np.ndarray:
    ct = np.ascontiguousarray(counts.T)
    rx, ry = px.doubled_ranks_t(ct), py.doubled_ranks_t(ct)
    wx = ct * rx
    return weighted_corr(wx, column_dots(wx, rx), ry, column_dots(ct * ry, ry))


def column_dots(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Per column, sum(a * b) (items x replicates)."""
    return np.einsum("ij,ij->j", a, b)


def weighted_corr(wx: np.ndarray, vx: np.ndarray, ry: np.ndarray, vy: np.ndarray) -> np.ndarray:
    """Per column (items x replicates), sum(wx * ry) / sqrt(vx * vy): a weighted Pearson correlation of
    centred values whose weighted sums of squares ``vx``, ``vy`` are made once per array (NaN where 0)."""
    with np.errstate(invalid="ignore", divide="ignore"):
        return column_dots(wx, ry) / np.sqrt(vx * vy)


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
    clusters or ``n_boot`` < 1 give (nan, nan). The interval is ``scipy.stats.bootstrap``'s (paired,
    vectorised, percentile) to the last bit, computed as that function does it (one (n_boot, clusters) draw,
    the ratio per row, ``scipy.stats.quantile``) without its per-call validation and wrapping, which cost
    several times the arithmetic on 40 clusters (tested against it: :func:`_cluster_bootstrap_ratio_scipy`).
    """
    from scipy import stats

    s, c = _cluster_inputs(sums, counts)
    if n_boot < 1 or s.size < 2:
        return (float("nan"), float("nan"))
    if np.ptp(s / c) == 0 and np.ptp(c) == 0:
        return (float(s[0] / c[0]),) * 2
    idx = np.random.default_rng(seed).integers(0, s.size, size=(int(n_boot), s.size))
    theta = s[idx].sum(axis=-1) / c[idx].sum(axis=-1)
    alpha = (1 - ci) / 2
    low, high = stats.quantile(theta, np.stack([np.asarray(alpha), 1 - np.asarray(alpha)]), axis=-1)
    return float(low), float(high)


def _cluster_inputs(sums: np.ndarray, counts: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    s = np.asarray(sums, dtype=np.float64).ravel()
    c = np.ones_like(s) if counts is None else np.asarray(counts, dtype=np.float64).ravel()
    if s.shape != c.shape:
        raise ValueError(f"sums and counts differ in shape: {s.shape} vs {c.shape}")
    keep = np.isfinite(s) & (c > 0)
    return s[keep], c[keep]


def _cluster_bootstrap_ratio_scipy(
    sums: np.ndarray, counts: np.ndarray | None = None, *, n_boot: int, ci: float = 0.95, seed: int = 0
) -> tuple[float, float]:
    """The straightforward form through ``scipy.stats.bootstrap`` (the reference of the tests)."""
    from scipy import stats

    s, c = _cluster_inputs(sums, counts)
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
