"""Bootstrap helpers: the batched replicates are the per-replicate loop's, draw for draw and value for value."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from scipy import stats

from wordembed.analyses.bootstrap import (
    RankPlan,
    bootstrap_ci,
    bootstrap_index_blocks,
    bootstrap_spearman_ci,
    counts_from_indices,
    spearman_from_counts,
)


@pytest.mark.parametrize("n", [1, 2, 7, 353, 999, 1000])
def test_index_blocks_are_the_draws_of_one_call_per_replicate(n):
    """What lets replicates be batched without changing a number: Generator.integers fills a block from the
    same stream as that many calls of size n, whatever the block (odd n included)."""
    rng = np.random.default_rng(3)
    loop = np.stack([rng.integers(0, n, size=n) for _ in range(37)])
    for block_items in (n, 5 * n, 10**6):
        blocks = list(bootstrap_index_blocks(n, 37, seed=3, block_items=block_items))
        np.testing.assert_array_equal(np.concatenate(blocks), loop)
    assert list(bootstrap_index_blocks(0, 5)) == [] and list(bootstrap_index_blocks(5, 0)) == []


def test_counts_from_indices():
    idx = np.array([[0, 0, 3, 1], [2, 2, 2, 2]])
    np.testing.assert_array_equal(counts_from_indices(idx, 5), [[2, 1, 0, 1, 0], [0, 0, 4, 0, 0]])


def test_doubled_ranks_are_twice_scipys_centred_mid_ranks_of_the_resample():
    rng = np.random.default_rng(1)
    for x in (np.round(rng.standard_normal(300), 1), rng.standard_normal(300)):  # with and without ties
        plan = RankPlan.of(x)
        idx = np.concatenate(list(bootstrap_index_blocks(x.size, 6, seed=2)))
        counts = counts_from_indices(idx, x.size)
        doubled = plan.doubled_centred_ranks(counts)
        for row, c, d in zip(idx, counts, doubled, strict=True):
            order = np.argsort(row, kind="stable")  # the resample grouped by item, as np.repeat lists it
            want = 2 * stats.rankdata(x[row[order]]) - (row.size + 1)
            np.testing.assert_array_equal(np.repeat(d, c), want)
        np.testing.assert_array_equal(plan.centred_ranks(counts) * 2, doubled)


def test_batched_spearman_interval_equals_the_per_replicate_scipy_bootstrap():
    rng = np.random.default_rng(4)
    for n in (3, 5, 40, 999):
        x = np.round(rng.standard_normal(n), 1)  # ties, and small resamples that are constant (NaN)
        y = np.round(0.5 * x + rng.standard_normal(n), 1)

        def rho(idx, x=x, y=y):
            return stats.spearmanr(x[idx], y[idx]).statistic

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # scipy warns on a constant resample
            want = bootstrap_ci(rho, n, n_boot=300, seed=5)
            idx = np.concatenate(list(bootstrap_index_blocks(n, 50, seed=6)))
            each = np.array([rho(i) for i in idx])
        got = bootstrap_spearman_ci(x, y, n_boot=300, seed=5)
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-12)
        batched = spearman_from_counts(x, y, counts_from_indices(idx, n))
        np.testing.assert_array_equal(np.isnan(batched), np.isnan(each))
        np.testing.assert_allclose(batched, each, rtol=0, atol=1e-12)


def test_cluster_bootstrap_ratio_is_scipys_bootstrap_bit_for_bit():
    """The interval computed as scipy.stats.bootstrap computes it (same draw, ratio, scipy.stats.quantile),
    without its per-call overhead, against the call itself."""
    from wordembed.analyses.bootstrap import _cluster_bootstrap_ratio_scipy, cluster_bootstrap_ratio

    rng = np.random.default_rng(8)
    for trial in range(60):
        n = int(rng.integers(2, 50))
        sums = rng.integers(0, 20, n).astype(float) if trial % 2 else rng.standard_normal(n)
        counts = None if trial % 3 == 0 else rng.integers(1, 30, n).astype(float)
        n_boot = int(rng.choice([2, 7, 1000]))
        ci = float(rng.choice([0.95, 0.9]))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # scipy's standard error of 2 replicates
            want = _cluster_bootstrap_ratio_scipy(sums, counts, n_boot=n_boot, ci=ci, seed=trial)
        assert cluster_bootstrap_ratio(sums, counts, n_boot=n_boot, ci=ci, seed=trial) == want
    assert np.isnan(cluster_bootstrap_ratio(np.ones(1), n_boot=10)).all()
    assert cluster_bootstrap_ratio(np.full(4, 2.0), np.ones(4), n_boot=10) == (2.0, 2.0)
