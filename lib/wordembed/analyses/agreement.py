"""Analysis 4: how much do two models agree about which words are alike?

Every view is a square matrix over models with a bootstrap interval per cell, on the words all models cover:

- **rank correlation** (Spearman, Kendall) of the two models' cosines, on two pair sets kept apart:
  ``random`` (seeded pairs of distinct shared words) and ``related`` (the BATS pairs whose two words are
  shared, each unordered pair once, self-pairs dropped). They are never pooled: two models that both put
  related pairs above random ones correlate on the pooled set even when they agree on nothing else, and
  the pooled value then depends on the mix (on the study's vectors MiniLM-GloVe gives 0.22 on random pairs,
  0.61 on related ones and 0.32-0.67 pooled, depending only on how many random pairs are drawn). Ranks make
  both correlations indifferent to anisotropy (a uniform cosine shift);
- **neighbour overlap**: mean Jaccard index of each word's k nearest neighbours (exact kNN);
- **linear CKA** (Kornblith et al. 2019, "Similarity of Neural Network Representations Revisited"),
  ``||Y'X||_F^2 / (||X'X||_F ||Y'Y||_F)`` on centred matrices, and **debiased linear CKA**, the same ratio
  of the unbiased HSIC estimator (Song et al. 2012; used for CKA by Nguyen, Raghu & Kornblith 2021 and
  Murphy et al. 2024, "Correcting biased centered kernel alignment"). Plain CKA is biased upwards when the
  dimension is large relative to the number of words (two independent random matrices score well above 0);
  the debiased one is ~0 there. Both are computed in feature space, O(n d^2), never with an n x n matrix.

Intervals resample the unit that was sampled: random pairs are i.i.d. draws, so their correlations are
bootstrapped over pairs; related pairs come in BATS relations (50 sources each, pairs of one relation alike),
so theirs resample whole relations (a cluster bootstrap); Jaccard resamples words. Replicates are drawn as
multiplicity counts, so Spearman's replicates are exact mid-rank correlations computed for all model pairs at
once without sorting a resample (:func:`spearman_from_counts`). Kendall's tau has no such shortcut (one
O(n log n) scipy call per replicate and model pair), so ``kendall_boot`` (default
``min(n_boot, DEFAULT_KENDALL_BOOT)``) may differ from ``n_boot``. CKA replicates cost O(m d^2) each, hence
``cka_boot`` (default ``min(n_boot, DEFAULT_CKA_BOOT)``) subsamples of at most half the words, drawn without
replacement (duplicated rows are what debiased CKA assumes away) and shared by both CKAs, their spread scaled
to the full sample (:func:`cka_subsample_interval`). Every count used is recorded in ``options``; ``n_boot``
itself is honoured as given (0 = NaN intervals).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from wordembed.analyses.allpairs import normalize_rows, pair_cosines, random_pairs
from wordembed.analyses.bootstrap import bootstrap_mean_ci, percentile_interval
from wordembed.embeddings import Embeddings
from wordembed.errors import ParameterError

MEASURES = ("spearman", "kendall", "knn_jaccard", "cka", "cka_debiased")
#: measures computed on each pair set separately (the others are over words)
CORRELATIONS = ("spearman", "kendall")
PAIR_SETS = ("random", "related")
TABLE_COLUMNS = ["measure", "pairs", "model_a", "model_b", "value", "ci_low", "ci_high", "n"]
#: CKA replicates when ``cka_boot`` is not given: ``min(n_boot, DEFAULT_CKA_BOOT)``. Each costs O(m x dims^2)
#: per model and O(m x dims_a x dims_b) per model pair (~0.9 s for 5 models of 50-640 dims and m = 5,000 on
#: a loaded 2-core machine) and serves linear and debiased CKA at once
DEFAULT_CKA_BOOT = 100
#: Kendall replicates when ``kendall_boot`` is not given: ``min(n_boot, DEFAULT_KENDALL_BOOT)``. Each costs one
#: O(n log n) scipy call per model pair (measured ~8 ms for 20,000 pairs on a loaded 2-core machine, so 1000
#: replicates for 10 model pairs take ~90 s, for the 36 pairs of 9 models ~5 min); Spearman's 1000 take ~5 s
DEFAULT_KENDALL_BOOT = 200
#: the most rows per CKA subsample (at most half the words are drawn) when ``cka_boot_words`` is not given
DEFAULT_CKA_BOOT_WORDS = 10_000
#: a rank correlation of fewer pairs than this is reported as NaN (two points always give +-1)
MIN_PAIRS = 3


# ----------------------------------------------------------------------------------------------------------
# CKA (arrays in, numbers out)


def _centred(x: np.ndarray, dtype: type) -> np.ndarray:
    x = np.asarray(x).astype(dtype, copy=False)
    return x - x.mean(axis=0, dtype=np.float64).astype(dtype)


def _as_pair(x: np.ndarray, y: np.ndarray, what: str) -> tuple[np.ndarray, np.ndarray, type]:
    x, y = np.asarray(x), np.asarray(y)
    if x.ndim != 2 or y.ndim != 2 or x.shape[0] != y.shape[0]:
        raise ParameterError(
            f"{what}: the two matrices have shapes {x.shape} and {y.shape} (need the same rows)"
        )
    dtype = np.float32 if x.dtype == y.dtype == np.float32 else np.float64
    return x, y, dtype


def linear_cka(x: np.ndarray, y: np.ndarray) -> float:
    """Linear CKA of two representations of the same rows (float64, or float32 if both are float32)."""
    x, y, dtype = _as_pair(x, y, "CKA")
    xc, yc = _centred(x, dtype), _centred(y, dtype)
    cross = float(np.linalg.norm(yc.T @ xc)) ** 2
    denom = float(np.linalg.norm(xc.T @ xc)) * float(np.linalg.norm(yc.T @ yc))
    return cross / denom if denom > 0 else float("nan")


def _hsic_u_centred(cross_sq: float, sq_x: np.ndarray, sq_y: np.ndarray) -> float:
    """Unbiased HSIC of linear kernels from column-centred rows: ``cross_sq = ||X'Y||_F^2``, ``sq_*`` row norms^2.

    With K = XX', K~ = K - diag(K) and centred columns, K~1 = -sq_x and 1'K~1 = -sum(sq_x), so Song et al.'s
    [tr(K~L~) + (1'K~1)(1'L~1)/((n-1)(n-2)) - 2/(n-2) 1'K~L~1] / (n(n-3)) reduces to the expression below
    (the estimator is invariant to centring, which only keeps the terms small).
    """
    n = sq_x.size
    dot = float(sq_x @ sq_y)
    total = float(sq_x.sum()) * float(sq_y.sum())
    return (cross_sq - dot * n / (n - 2) + total / ((n - 1) * (n - 2))) / (n * (n - 3))


def hsic_unbiased(x: np.ndarray, y: np.ndarray) -> float:
    """Song et al.'s (2012) unbiased HSIC estimator with linear kernels, in O(n d^2) (needs n >= 4)."""
    x, y, dtype = _as_pair(x, y, "HSIC")
    if x.shape[0] < 4:
        raise ParameterError(f"unbiased HSIC needs at least 4 rows, got {x.shape[0]}")
    xc, yc = _centred(x, dtype), _centred(y, dtype)
    cross_sq = float(np.linalg.norm(yc.T @ xc)) ** 2
    sq = lambda a: np.einsum("ij,ij->i", a, a, dtype=np.float64)  # noqa: E731
    return _hsic_u_centred(cross_sq, sq(xc), sq(yc))


def debiased_cka(x: np.ndarray, y: np.ndarray) -> float:
    """Debiased linear CKA: HSIC_u(K, L) / sqrt(HSIC_u(K, K) HSIC_u(L, L)), NaN if a self term is not > 0.

    Unlike :func:`linear_cka` its expectation for independent representations is ~0 however large the
    dimension is relative to the number of rows; it can be slightly negative.
    """
    x, y, dtype = _as_pair(x, y, "CKA")
    if x.shape[0] < 4:
        raise ParameterError(f"debiased CKA needs at least 4 rows, got {x.shape[0]}")
    return _cka_from_parts(_CkaParts.of(_centred(x, dtype)), _CkaParts.of(_centred(y, dtype)), debiased=True)


@dataclass(frozen=True)
class _CkaParts:
    """Per-model pieces of CKA on one sample of rows, shared by every model pair on that sample."""

    xc: np.ndarray  # centred rows
    gram_sq: float  # ||X'X||_F^2
    sq: np.ndarray  # row norms^2 (float64)

    @classmethod
    def of(cls, xc: np.ndarray) -> _CkaParts:
        return cls(xc, float(np.linalg.norm(xc.T @ xc)) ** 2, np.einsum("ij,ij->i", xc, xc, dtype=np.float64))


def _cka_from_parts(a: _CkaParts, b: _CkaParts, *, debiased: bool) -> float:
    return _cka_both(a, b)[1 if debiased else 0]


def _cka_both(a: _CkaParts, b: _CkaParts) -> tuple[float, float]:
    """(linear CKA, debiased linear CKA) of two models on the same rows; one cross product serves both."""
    cross_sq = float(np.linalg.norm(b.xc.T @ a.xc)) ** 2
    denom = np.sqrt(a.gram_sq * b.gram_sq)
    linear = cross_sq / denom if denom > 0 else float("nan")
    if a.sq.size < 4:
        return linear, float("nan")
    hab = _hsic_u_centred(cross_sq, a.sq, b.sq)
    haa = _hsic_u_centred(a.gram_sq, a.sq, a.sq)
    hbb = _hsic_u_centred(b.gram_sq, b.sq, b.sq)
    return linear, (hab / np.sqrt(haa * hbb) if haa > 0 and hbb > 0 else float("nan"))


def cka_values(mats: Sequence[np.ndarray], model_pairs: Sequence[tuple[int, int]]) -> dict[str, list[float]]:
    """Linear and debiased CKA (float64) of every model pair, each model's Gram matrix computed once."""
    parts = {
        k: _CkaParts.of(_centred(mats[k], np.float64)) for k in sorted({k for p in model_pairs for k in p})
    }
    both = [_cka_both(parts[a], parts[b]) for a, b in model_pairs]
    return {"cka": [v[0] for v in both], "cka_debiased": [v[1] for v in both]}


def cka_replicates(
    mats: Sequence[np.ndarray],
    model_pairs: Sequence[tuple[int, int]],
    *,
    m: int,
    n_boot: int,
    seed: int = 0,
    subsample: bool = True,
) -> dict[str, np.ndarray]:
    """CKA replicates on row samples shared by all models (float32): measure -> (n_boot, len(model_pairs)).

    ``subsample`` draws ``m`` distinct rows per replicate and gives both ``cka`` and ``cka_debiased``;
    otherwise ``m`` rows are drawn with replacement and only ``cka`` is given, since a repeated row re-creates
    exactly the "self" kernel entries the unbiased estimator removes (it would bias the debiased replicates
    upwards). Each model's Gram matrix is computed once per replicate, each cross product once per model pair.
    """
    n = mats[0].shape[0]
    rng = np.random.default_rng(seed)
    xf = [np.asarray(x, dtype=np.float32) for x in mats]
    used = sorted({k for pair in model_pairs for k in pair})
    keys = ("cka", "cka_debiased") if subsample else ("cka",)
    out = {key: np.full((n_boot, len(model_pairs)), np.nan) for key in keys}
    for b in range(n_boot):
        idx = rng.choice(n, size=m, replace=False) if subsample else rng.integers(0, n, size=m)
        parts = {k: _CkaParts.of(_centred(xf[k][idx], np.float32)) for k in used}
        for p, (ka, kb) in enumerate(model_pairs):
            linear, debiased = _cka_both(parts[ka], parts[kb])
            out["cka"][b, p] = linear
            if subsample:
                out["cka_debiased"][b, p] = debiased
    return out


def _shifted_interval(reps: np.ndarray, estimate: float, ci: float, shrink: float) -> tuple[float, float]:
    """The replicates' percentile interval, moved to sit around ``estimate`` and its spread scaled by ``shrink``."""
    lo, hi = percentile_interval(reps, ci)
    finite = reps[np.isfinite(reps)]
    if not np.isfinite(estimate) or finite.size == 0:
        return float("nan"), float("nan")
    centre = float(finite.mean())
    return estimate + shrink * (lo - centre), estimate + shrink * (hi - centre)


def cka_interval(
    x: np.ndarray,
    y: np.ndarray,
    estimate: float,
    *,
    m: int = 2000,
    n_boot: int = 100,
    ci: float = 0.95,
    seed: int = 0,
) -> tuple[float, float]:
    """Interval for linear CKA by an m-out-of-n bootstrap (Bickel, Goetze & van Zwet 1997).

    Each replicate draws ``m`` of the ``n`` rows with replacement (float32, O(m d^2)); the spread of the
    replicates around their own mean is shrunk by sqrt(m / n), the rate of a smooth statistic, and put
    around the full-data ``estimate`` (removing the small-sample upward bias of CKA from the interval).
    With ``m >= n`` it is the ordinary bootstrap. :func:`model_agreement` subsamples instead
    (:func:`cka_subsample_interval`), so that one set of Gram matrices serves linear and debiased CKA.
    """
    n = x.shape[0]
    m = min(int(m), n)
    if n_boot < 2 or m < 3:
        return float("nan"), float("nan")
    reps = cka_replicates([x, y], [(0, 1)], m=m, n_boot=n_boot, seed=seed, subsample=False)["cka"][:, 0]
    return _shifted_interval(reps, estimate, ci, np.sqrt(m / n))


def subsample_size(n: int, m: int) -> int:
    """Rows per CKA subsample: ``min(m, n // 2)``, half-samples at most (see :func:`cka_subsample_interval`)."""
    return int(min(int(m), n // 2))


def cka_subsample_interval(
    x: np.ndarray,
    y: np.ndarray,
    estimate: float,
    *,
    debiased: bool = True,
    m: int = 2000,
    n_boot: int = 100,
    ci: float = 0.95,
    seed: int = 0,
) -> tuple[float, float]:
    """Interval for (debiased) CKA by subsampling ``m = min(m, n // 2)`` distinct rows (Politis & Romano 1994).

    A subsample of m of n rows without replacement has the variance of an m-row sample times the
    finite-population factor (1 - m/n), so the spread is scaled by sqrt(m / (n - m)) (1 for half-samples,
    the delete-n/2 jackknife of Shao & Wu 1989) to the spread of an n-row estimate, and centred on
    ``estimate`` (removing the subsamples' own small-sample bias). Rows are not drawn with replacement,
    since duplicated rows are exactly what the unbiased estimator's zeroed diagonal assumes away.
    """
    n = x.shape[0]
    m = subsample_size(n, m)
    if n_boot < 2 or m < 4:
        return float("nan"), float("nan")
    reps = cka_replicates([x, y], [(0, 1)], m=m, n_boot=n_boot, seed=seed)
    return _shifted_interval(
        reps["cka_debiased" if debiased else "cka"][:, 0], estimate, ci, np.sqrt(m / (n - m))
    )


# ----------------------------------------------------------------------------------------------------------
# Neighbours


def knn_indices(xn: np.ndarray, k: int, *, block: int = 2048, device: str | None = None) -> np.ndarray:
    """Exact k nearest neighbours (by cosine, self excluded) of every row of unit rows ``xn``, blockwise.

    Ties at the k-th place are broken by torch.topk; with real-valued vectors they are vanishingly rare.
    """
    import torch

    n = xn.shape[0]
    if not 0 < k < n:
        raise ParameterError(f"k nearest neighbours: k must be in [1, {n - 1}], got {k}")
    dev = torch.device(device or "cpu")
    xt = torch.from_numpy(np.ascontiguousarray(xn, dtype=np.float32)).to(dev)
    out = np.empty((n, k), dtype=np.int64)
    with torch.no_grad():
        for r0 in range(0, n, block):
            r1 = min(n, r0 + block)
            sims = xt[r0:r1] @ xt.T
            rows = torch.arange(r1 - r0, device=dev)
            sims[rows, rows + r0] = -torch.inf
            out[r0:r1] = torch.topk(sims, k, dim=1, sorted=False).indices.cpu().numpy()
    return out


def neighbour_jaccard(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Per-row Jaccard index of two (n, k) neighbour-index arrays (each row's indices distinct)."""
    if a.shape != b.shape:
        raise ParameterError(f"neighbour sets of shapes {a.shape} and {b.shape}")
    k = a.shape[1]
    inter = (a[:, :, None] == b[:, None, :]).sum(axis=(1, 2))
    return inter / (2 * k - inter)


# ----------------------------------------------------------------------------------------------------------
# Rank correlations and their resampling


def resample_counts(
    n: int,
    n_boot: int,
    *,
    seed: int = 0,
    clusters: np.ndarray | None = None,
    block_items: int = 1_000_000,
) -> Iterator[np.ndarray]:
    """Bootstrap replicates of ``n`` items as blocks of multiplicity counts, shape (replicates, n).

    Without ``clusters`` each replicate draws n items with replacement (the i.i.d. bootstrap); with
    ``clusters`` (one label per item) it draws as many clusters as there are, with replacement, and every
    item counts as often as its cluster was drawn (the cluster bootstrap). Counts instead of index arrays
    let statistics weight items rather than gather and sort a resample. Blocks hold about ``block_items``
    counts; the draws depend only on ``seed``, ``n`` and ``n_boot``.
    """
    rng = np.random.default_rng(seed)
    if clusters is None:
        codes, units = None, n
    else:
        _, codes = np.unique(np.asarray(clusters), return_inverse=True)
        units = int(codes.max()) + 1 if codes.size else 0
    if n_boot < 1 or units < 1:
        return
    block = max(1, min(n_boot, block_items // max(n, units, 1)))
    for start in range(0, n_boot, block):
        b = min(block, n_boot - start)
        draws = rng.integers(0, units, size=(b, units))
        offsets = (np.arange(b) * units)[:, None]
        per_unit = np.bincount((draws + offsets).ravel(), minlength=b * units).reshape(b, units)
        yield per_unit if codes is None else per_unit[:, codes]


@dataclass(frozen=True)
class _RankPlan:
    """One array's sort order and tie groups, so that any reweighting of it is ranked without sorting."""

    order: np.ndarray  # argsort of the values
    group: np.ndarray  # tie group of each sorted position
    ends: np.ndarray  # last sorted position of each tie group

    @classmethod
    def of(cls, x: np.ndarray) -> _RankPlan:
        x = np.asarray(x)
        order = np.argsort(x, kind="stable")
        xs = x[order]
        new = np.r_[True, xs[1:] != xs[:-1]] if xs.size else np.zeros(0, bool)
        starts = np.flatnonzero(new)
        return cls(order, np.cumsum(new) - 1, np.r_[starts[1:] - 1, xs.size - 1].astype(np.int64))

    def centred_ranks(self, counts: np.ndarray) -> np.ndarray:
        """Mid-ranks each item would have in the resample ``counts`` describes, minus the mean rank (N+1)/2.

        In a resample, item k's copies and every item tied with it form one tie group; its mid-rank is the
        number of resampled items below the group plus (group size + 1) / 2, read off cumulative counts.
        """
        cum = np.cumsum(counts[:, self.order], axis=1)[:, self.ends].astype(np.float64)
        below = np.concatenate([np.zeros((cum.shape[0], 1)), cum[:, :-1]], axis=1)
        mid = below + (cum - below + 1.0) / 2.0
        ranks = np.empty(counts.shape, dtype=np.float64)
        ranks[:, self.order] = mid[:, self.group]
        return ranks - ((cum[:, -1] + 1.0) / 2.0)[:, None]


def spearman_from_counts(x: np.ndarray, y: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Spearman's rho of every resample ``counts`` (replicates x items) describes, without forming it.

    Equal to ``scipy.stats.spearmanr(x[idx], y[idx])`` for the index array ``idx`` with those counts: the
    Pearson correlation of mid-ranks, weighted by the counts.
    """
    counts = np.atleast_2d(counts)
    rx, ry = _RankPlan.of(x).centred_ranks(counts), _RankPlan.of(y).centred_ranks(counts)
    wx = counts * rx
    return _weighted_corr(wx, rx, counts * ry, ry)


def _weighted_corr(wx: np.ndarray, rx: np.ndarray, wy: np.ndarray, ry: np.ndarray) -> np.ndarray:
    vx = np.einsum("ij,ij->i", wx, rx)
    vy = np.einsum("ij,ij->i", wy, ry)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.einsum("ij,ij->i", wx, ry) / np.sqrt(vx * vy)


def kendall_from_counts(x: np.ndarray, y: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Kendall's tau-b of every resample ``counts`` describes (one scipy call per replicate)."""
    counts = np.atleast_2d(counts)
    items = np.arange(counts.shape[1])
    out = np.empty(counts.shape[0])
    for r, c in enumerate(counts):
        idx = np.repeat(items, c)
        out[r] = _rank_corr("kendall", x[idx], y[idx])
    return out


def _rank_corr(measure: str, x: np.ndarray, y: np.ndarray) -> float:
    if x.size < MIN_PAIRS or np.ptp(x) == 0 or np.ptp(y) == 0:
        return float("nan")
    fn = stats.spearmanr if measure == "spearman" else stats.kendalltau
    return float(fn(x, y)[0])


def correlation_replicates(
    cos: Mapping[str, np.ndarray],
    model_pairs: Sequence[tuple[str, str]],
    *,
    n_boot: int,
    kendall_boot: int,
    seed: int = 0,
    clusters: np.ndarray | None = None,
    measures: Sequence[str] = CORRELATIONS,
) -> dict[str, np.ndarray]:
    """Replicates of each rank correlation for every model pair, on one pair set: measure -> (reps, pairs).

    All model pairs see the same resamples; Kendall uses the first ``kendall_boot`` of Spearman's.
    ``clusters`` switches to the cluster bootstrap (see :func:`resample_counts`).
    """
    names = sorted({m for pair in model_pairs for m in pair})
    n = next(iter(cos.values())).size
    want = {
        "spearman": n_boot if "spearman" in measures else 0,
        "kendall": kendall_boot if "kendall" in measures else 0,
    }
    out = {m: np.full((want[m], len(model_pairs)), np.nan) for m in want}
    units = n if clusters is None else np.unique(np.asarray(clusters)).size
    if units < 2:  # one pair or one relation: nothing to resample
        return {m: out[m] for m in measures if m in CORRELATIONS}
    plans = {m: _RankPlan.of(cos[m]) for m in names} if want["spearman"] else {}
    done = 0
    for counts in resample_counts(n, max(want.values()), seed=seed, clusters=clusters):
        take = min(counts.shape[0], want["spearman"] - done)
        if take > 0:
            c = counts[:take]
            ranks = {m: plans[m].centred_ranks(c) for m in names}
            weighted = {m: c * ranks[m] for m in names}
            for p, (a, b) in enumerate(model_pairs):
                out["spearman"][done : done + take, p] = _weighted_corr(
                    weighted[a], ranks[a], weighted[b], ranks[b]
                )
        take = min(counts.shape[0], want["kendall"] - done)
        if take > 0:
            for p, (a, b) in enumerate(model_pairs):
                out["kendall"][done : done + take, p] = kendall_from_counts(cos[a], cos[b], counts[:take])
        done += counts.shape[0]
    return {m: out[m] for m in measures if m in CORRELATIONS}


# ----------------------------------------------------------------------------------------------------------
# The pair sets


@dataclass(frozen=True)
class AgreementPairs:
    """The two pair sets as row indices into the shared words; kept apart, never concatenated.

    ``related_relation`` is the BATS relation of each related pair (of its first listing), the cluster of the
    related-pair bootstrap. ``counts``: pairs per set and what was dropped from the related listing.
    """

    random_i: np.ndarray
    random_j: np.ndarray
    related_i: np.ndarray
    related_j: np.ndarray
    related_relation: np.ndarray
    counts: dict[str, int]

    def indices(self, pairs: str) -> tuple[np.ndarray, np.ndarray]:
        if pairs == "random":
            return self.random_i, self.random_j
        if pairs == "related":
            return self.related_i, self.related_j
        raise ParameterError(f"pair set must be one of {list(PAIR_SETS)}, got {pairs!r}")


def shared_words(embs: Mapping[str, Embeddings]) -> list[str]:
    """Words every model covers, in the first model's order."""
    first, *rest = embs.values()
    covered = set(first.words)
    for e in rest:
        covered &= set(e.words)
    return [w for w in first.words if w in covered]


def agreement_pairs(
    words: Sequence[str],
    related: pd.DataFrame | None,
    n_random: int,
    seed: int,
) -> AgreementPairs:
    """Seeded random pairs of distinct ``words``, and the related pairs whose two words are in ``words``.

    Related rows need columns relation, source, target (:func:`wordembed.datasets.bats_pairs`). A self-pair
    (source == target) is dropped; so is a pair of a word outside ``words``; a pair listed again (in either
    direction, in any relation) is kept once, with the relation of its first listing. ``counts`` has
    ``random``, ``related``, ``related_relations`` (relations with a pair left) and ``related_listed`` =
    related + ``related_self_pairs_dropped`` + ``related_not_shared_dropped`` + ``related_duplicates_dropped``.
    """
    if n_random < 0:
        raise ParameterError(f"agreement: n_random must be >= 0, got {n_random}")
    n = len(words)
    empty = np.empty(0, dtype=np.int64)
    ri, rj = random_pairs(n, n_random, seed=seed) if n_random else (empty, empty)
    counts = {"random": int(n_random)}
    if related is None:
        return AgreementPairs(ri, rj, empty, empty, np.empty(0, dtype=object), counts)
    lacking = [c for c in ("relation", "source", "target") if c not in related.columns]
    if lacking:
        raise ParameterError(
            f"agreement: related pairs need columns relation, source and target (the relation is the unit of "
            f"their bootstrap); they lack {lacking}"
        )
    index = {w: k for k, w in enumerate(words)}
    src = related["source"].astype(str).to_numpy()
    tgt = related["target"].astype(str).to_numpy()
    a = np.fromiter((index.get(w, -1) for w in src), dtype=np.int64, count=src.size)
    b = np.fromiter((index.get(w, -1) for w in tgt), dtype=np.int64, count=tgt.size)
    self_pair = src == tgt
    shared = (a >= 0) & (b >= 0) & ~self_pair
    rows = np.flatnonzero(shared)
    key = np.minimum(a[rows], b[rows]) * n + np.maximum(a[rows], b[rows])
    _, first = np.unique(key, return_index=True)
    rows = rows[np.sort(first)]  # first listing wins, listing order kept
    counts |= {
        "related": int(rows.size),
        "related_listed": int(src.size),
        "related_self_pairs_dropped": int(self_pair.sum()),
        "related_not_shared_dropped": int((~self_pair & ~((a >= 0) & (b >= 0))).sum()),
        "related_duplicates_dropped": int(shared.sum() - rows.size),
    }
    relation = related["relation"].astype(str).to_numpy()[rows]
    counts["related_relations"] = int(np.unique(relation).size)
    return AgreementPairs(ri, rj, a[rows], b[rows], relation, counts)


# ----------------------------------------------------------------------------------------------------------
# The analysis


@dataclass
class AgreementResult:
    """``table``: one row per measure, pair set and model pair (:data:`TABLE_COLUMNS`); ``matrices``: key ->
    square DataFrame, keyed ``<measure>_<pairs>`` for correlations (``spearman_random``...) and by measure
    for the word-level ones."""

    table: pd.DataFrame
    matrices: dict[str, pd.DataFrame]
    n_words: int
    n_pairs: int
    pair_sources: dict[str, int] = field(default_factory=dict)
    options: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "models": list(next(iter(self.matrices.values())).index) if self.matrices else [],
            "n_words": self.n_words,
            "n_pairs": self.n_pairs,
            "pair_sources": dict(self.pair_sources),
            "options": dict(self.options),
            "matrices": {m: frame.to_dict() for m, frame in self.matrices.items()},
        }


def matrix_key(measure: str, pairs: str) -> str:
    """Key of a measure's matrix: ``spearman_random`` for a correlation, the measure itself otherwise."""
    return f"{measure}_{pairs}" if measure in CORRELATIONS else measure


def model_agreement(
    embs: Mapping[str, Embeddings],
    related: pd.DataFrame | None = None,
    *,
    n_random: int = 20_000,
    k: int = 10,
    seed: int = 0,
    n_boot: int = 1000,
    kendall_boot: int | None = None,
    cka_boot: int | None = None,
    cka_boot_words: int = DEFAULT_CKA_BOOT_WORDS,
    ci: float = 0.95,
    measures: tuple[str, ...] = MEASURES,
    device: str | None = None,
) -> AgreementResult:
    """Every measure for every pair of models, on the words all of them cover.

    Pair sets: ``random`` (``n_random`` pairs, omitted when 0) and ``related`` (when ``related`` is given),
    see :func:`agreement_pairs`. Intervals (``ci``): correlations on random pairs resample pairs, on related
    pairs resample BATS relations, both with ``n_boot`` replicates, except Kendall's ``kendall_boot``
    (default ``min(n_boot, DEFAULT_KENDALL_BOOT)``, the expensive one); Jaccard resamples words
    (``n_boot``); both CKAs use the same ``cka_boot`` subsamples (default ``min(n_boot, DEFAULT_CKA_BOOT)``)
    of ``min(cka_boot_words, words // 2)`` distinct words (:func:`cka_subsample_interval`). ``n_boot`` 0
    gives NaN intervals everywhere (unless ``kendall_boot`` / ``cka_boot`` are given).
    """
    if len(embs) < 2:
        raise ParameterError(f"agreement needs at least 2 models, got {len(embs)}")
    unknown = [m for m in measures if m not in MEASURES]
    if unknown:
        raise ParameterError(f"agreement: unknown measure(s) {unknown}; choose from {list(MEASURES)}")
    for name, value in (("n_boot", n_boot), ("kendall_boot", kendall_boot), ("cka_boot", cka_boot)):
        if value is not None and value < 0:
            raise ParameterError(f"agreement: {name} must be >= 0, got {value}")
    kendall_boot = min(n_boot, DEFAULT_KENDALL_BOOT) if kendall_boot is None else int(kendall_boot)
    cka_boot = min(n_boot, DEFAULT_CKA_BOOT) if cka_boot is None else int(cka_boot)
    names = list(embs)
    words = shared_words(embs)
    if len(words) < max(4, k + 1):
        raise ParameterError(f"agreement: the models share only {len(words)} words (need more than k={k})")
    model_pairs = list(itertools.combinations(names, 2))
    pairs = agreement_pairs(words, related, n_random, seed)
    sets = [
        s for s in PAIR_SETS if (s == "random" and n_random > 0) or (s == "related" and related is not None)
    ]
    unit = {m: normalize_rows(embs[m].subset(words).vectors) for m in names}
    records: list[dict[str, Any]] = []

    def add(
        measure: str, pair_set: str, values: Sequence[float], bounds: Sequence[tuple[float, float]], n: int
    ):
        for (a, b), v, (lo, hi) in zip(model_pairs, values, bounds, strict=True):
            records.append(
                dict(zip(TABLE_COLUMNS, (measure, pair_set, a, b, float(v), lo, hi, int(n)), strict=True))
            )

    corr = [m for m in measures if m in CORRELATIONS]
    for pair_set in sets if corr else []:
        i, j = pairs.indices(pair_set)
        cos = {m: pair_cosines(unit[m], i, j).astype(np.float64) for m in names}
        reps = correlation_replicates(
            cos,
            model_pairs,
            n_boot=n_boot,
            kendall_boot=kendall_boot,
            seed=seed,
            clusters=pairs.related_relation if pair_set == "related" else None,
            measures=corr,
        )
        for measure in corr:
            values = [_rank_corr(measure, cos[a], cos[b]) for a, b in model_pairs]
            add(measure, pair_set, values, [percentile_interval(r, ci) for r in reps[measure].T], i.size)

    if "knn_jaccard" in measures:
        knn = {m: knn_indices(unit[m], k, device=device) for m in names}
        per_word = [neighbour_jaccard(knn[a], knn[b]) for a, b in model_pairs]
        bounds = [bootstrap_mean_ci(v, n_boot=n_boot, ci=ci, seed=seed) for v in per_word]
        add("knn_jaccard", "words", [v.mean() for v in per_word], bounds, len(words))

    cka_measures = [m for m in ("cka", "cka_debiased") if m in measures]
    m_sub = subsample_size(len(words), cka_boot_words)
    if cka_measures:
        raw = [np.asarray(embs[m].subset(words).vectors, dtype=np.float64) for m in names]
        pos = [(names.index(a), names.index(b)) for a, b in model_pairs]
        values = cka_values(raw, pos)
        reps = (
            cka_replicates(raw, pos, m=m_sub, n_boot=cka_boot, seed=seed)
            if cka_boot >= 2 and m_sub >= 4
            else {}
        )
        shrink = np.sqrt(m_sub / (len(words) - m_sub))
        for measure in cka_measures:
            if reps:
                bounds = [
                    _shifted_interval(r, v, ci, shrink)
                    for r, v in zip(reps[measure].T, values[measure], strict=True)
                ]
            else:
                bounds = [(np.nan, np.nan)] * len(pos)
            add(measure, "words", values[measure], bounds, len(words))

    # one fixed order: by measure (MEASURES), then pair set (random, related, words), then model pair
    rank = {m: i for i, m in enumerate(MEASURES)} | {p: i for i, p in enumerate((*PAIR_SETS, "words"))}
    records.sort(key=lambda r: (rank[r["measure"]], rank[r["pairs"]]))
    table = pd.DataFrame.from_records(records, columns=TABLE_COLUMNS)
    matrices = {}
    for (measure, pair_set), part in table.groupby(["measure", "pairs"], sort=False):
        mat = pd.DataFrame(np.eye(len(names)), index=names, columns=names)
        for r in part.itertuples():
            mat.loc[r.model_a, r.model_b] = mat.loc[r.model_b, r.model_a] = r.value
        matrices[matrix_key(measure, pair_set)] = mat
    return AgreementResult(
        table=table,
        matrices=matrices,
        n_words=len(words),
        n_pairs=int(sum(pairs.indices(s)[0].size for s in sets)),
        pair_sources=dict(pairs.counts),
        options={
            "k": k,
            "seed": seed,
            "pair_sets": sets,
            "n_boot": n_boot,
            "kendall_boot": kendall_boot,
            "cka_boot": cka_boot,
            "cka_subsample_words": m_sub,
            "ci": ci,
            "intervals": {
                "random": "bootstrap over pairs",
                "related": "cluster bootstrap over BATS relations",
                "knn_jaccard": "bootstrap over words",
                "cka": "subsamples of m distinct words (cka_subsample_words), spread x sqrt(m/(n-m))",
                "cka_debiased": "subsamples of m distinct words (cka_subsample_words), spread x sqrt(m/(n-m))",
            },
        },
    )


# ----------------------------------------------------------------------------------------------------------
# Presentation (shared by the notebooks)

_TITLES = {
    "spearman": "Spearman",
    "kendall": "Kendall",
    "knn_jaccard": "neighbour overlap (Jaccard)",
    "cka": "linear CKA",
    "cka_debiased": "debiased linear CKA",
}


def matrix_title(key: str) -> str:
    """A readable title for a matrix key: ``spearman_random`` -> "Spearman, random pairs"."""
    for measure in CORRELATIONS:
        for pair_set in PAIR_SETS:
            if key == matrix_key(measure, pair_set):
                return f"{_TITLES[measure]}, {pair_set} pairs"
    return _TITLES.get(key, key)


def agreement_with(
    table: pd.DataFrame,
    references: Sequence[str],
    roles: Mapping[str, str] | None = None,
    *,
    column: str = "reference",
) -> pd.DataFrame:
    """Each reference model's rows of an agreement ``table``, seen from the reference: who agrees with it.

    Columns: ``column`` (the reference), model (the other one), role (from ``roles``), then measure, pairs,
    value, ci_low, ci_high, n as in the table, so a correlation is never read without its pair set.
    """
    columns = [column, "model", "role", "measure", "pairs", "value", "ci_low", "ci_high", "n"]
    parts = []
    for ref in references:
        as_a = table[table["model_a"] == ref].rename(columns={"model_b": "model"}).drop(columns="model_a")
        as_b = table[table["model_b"] == ref].rename(columns={"model_a": "model"}).drop(columns="model_b")
        parts.append(pd.concat([as_a, as_b]).assign(**{column: ref}))
    if not parts:
        return pd.DataFrame(columns=columns)
    out = pd.concat(parts, ignore_index=True)
    out["role"] = out["model"].map(dict(roles or {})).fillna("")
    return out[columns]


def plot_matrices(matrices: Mapping[str, pd.DataFrame], *, title: str = "", ncols: int = 4) -> Any:
    """One heatmap per matrix on a shared 0..1 colour scale, sized by the number of models.

    Cells are annotated (small type, up to 14 models); model names are rotated so long keys stay readable.
    Values below 0 (a correlation or debiased CKA can be negative) take the lowest colour, their
    annotation still shows the sign. Returns the matplotlib figure.
    """
    import matplotlib.pyplot as plt
    import seaborn as sns
    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import Normalize

    order = {matrix_key(m, p): (i, j) for i, m in enumerate(MEASURES) for j, p in enumerate(PAIR_SETS)}
    keys = sorted(matrices, key=lambda k: order.get(k, (len(MEASURES), 0)))
    n_models = max((len(m) for m in matrices.values()), default=1)
    side = max(2.6, 0.5 * n_models + 1.2)
    ncols = max(1, min(ncols, len(keys)))
    nrows = max(1, -(-len(keys) // ncols))
    fig, axes = plt.subplots(
        nrows, ncols, figsize=(side * ncols + 1.5, side * nrows + 0.8), squeeze=False, layout="constrained"
    )
    cmap = "mako"
    font = 9 if n_models <= 5 else 7 if n_models <= 9 else 6
    for k, (ax, key) in enumerate(zip(axes.flat, keys, strict=False)):
        sns.heatmap(
            matrices[key].astype(float),
            vmin=0,
            vmax=1,
            cmap=cmap,
            annot=n_models <= 14,
            fmt=".2f",
            annot_kws={"size": font},
            square=True,
            cbar=False,
            yticklabels=k % ncols == 0,  # every matrix has the same models in the same order
            ax=ax,
        )
        ax.set_title(matrix_title(key), fontsize=10)
        ax.set_xlabel("")
        ax.set_ylabel("")
        ax.tick_params(labelsize=font + 1, length=0)
        plt.setp(ax.get_xticklabels(), rotation=45, ha="right", rotation_mode="anchor")
        plt.setp(ax.get_yticklabels(), rotation=0)
    for ax in list(axes.flat)[len(keys) :]:
        ax.axis("off")
    fig.colorbar(ScalarMappable(Normalize(0, 1), cmap=cmap), ax=axes, shrink=0.5, aspect=30)
    if title:
        fig.suptitle(title)
    return fig
