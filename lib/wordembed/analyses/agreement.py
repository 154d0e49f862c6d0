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
  the debiased one is ~0 there. Both are computed in feature space, O(n d^2), never with an n x n matrix
  (their subsample replicates may come from row-kernel blocks instead, see :func:`cka_replicates`).

Intervals resample the unit that was sampled: random pairs are i.i.d. draws, so their correlations are
bootstrapped over pairs; related pairs come in BATS relations (50 sources each, pairs of one relation alike),
so theirs resample whole relations (a cluster bootstrap); Jaccard resamples words. Replicates are drawn as
multiplicity counts, so Spearman's replicates are exact mid-rank correlations computed for all model pairs at
once without sorting a resample (:func:`spearman_from_counts`). Kendall's replicates share one sort per model
pair too (:class:`_KendallPlan`: scipy's values to the last bit) but still cost O(n sqrt(n)) each against
Spearman's O(n), so ``kendall_boot`` (default ``min(n_boot, DEFAULT_KENDALL_BOOT)``) may differ from
``n_boot``. CKA replicates cost O(m d^2) each in feature space (or, all together, O(n^2) per replicate and
model pair from row kernels), hence ``cka_boot`` (default ``min(n_boot, DEFAULT_CKA_BOOT)``) subsamples of at
most half the words, drawn without replacement (duplicated rows are what debiased CKA assumes away) and shared
by both CKAs, their spread scaled to the full sample (:func:`cka_subsample_interval`). Every count used is
recorded in ``options``; ``n_boot`` itself is honoured as given (0 = NaN intervals).
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
from wordembed.analyses.bootstrap import RankPlan as _RankPlan
from wordembed.analyses.bootstrap import (
    bootstrap_mean_ci,
    column_dots,
    counts_from_indices,
    percentile_interval,
    spearman_from_counts,  # noqa: F401  (public here since the agreement analysis introduced it)
    weighted_corr,
)
from wordembed.embeddings import Embeddings
from wordembed.errors import ParameterError

MEASURES = ("spearman", "kendall", "knn_jaccard", "cka", "cka_debiased")
#: measures computed on each pair set separately (the others are over words)
CORRELATIONS = ("spearman", "kendall")
PAIR_SETS = ("random", "related")
TABLE_COLUMNS = ["measure", "pairs", "model_a", "model_b", "value", "ci_low", "ci_high", "n"]
#: CKA replicates when ``cka_boot`` is not given: ``min(n_boot, DEFAULT_CKA_BOOT)``. Each costs O(m x dims^2)
#: per model and O(m x dims_a x dims_b) per model pair in feature space, or O(n^2) per model and model pair
#: from row kernels (the default study's path: 5 models of 50-640 dims, n = 8,293, m = 4,146), and serves
#: linear and debiased CKA at once
DEFAULT_CKA_BOOT = 100
#: Kendall replicates when ``kendall_boot`` is not given: ``min(n_boot, DEFAULT_KENDALL_BOOT)``. Each costs
#: O(n sqrt(n)) per model pair from one shared sort (:class:`_KendallPlan`; one scipy call each was ~8 ms for
#: 20,000 pairs on a loaded 2-core machine, the shared sort is ~3x faster there and ~7x for 6,000 pairs),
#: several times a Spearman replicate
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
    upwards). The replicates are computed whichever way costs fewer products (:func:`_cka_cost`): per
    replicate in feature space (each model's Gram matrix once, each cross product once per model pair), or
    for all replicates at once from the row kernels (:func:`_cka_kernel_replicates`), the same numbers to
    float32 rounding.
    """
    n = mats[0].shape[0]
    rng = np.random.default_rng(seed)
    # one choice() per replicate: its stream cannot be drawn as one array (integers() can, tested)
    draws = (
        [rng.choice(n, size=m, replace=False) for _ in range(n_boot)]
        if subsample
        else list(rng.integers(0, n, size=(n_boot, m)))
    )
    return _cka_replicates(mats, model_pairs, draws, subsample=subsample, dtype=np.float32)


def _cka_cost(
    n: int, m: int, n_boot: int, dims: Mapping[int, int], model_pairs: Sequence[tuple[int, int]]
) -> dict[str, float]:
    """Multiply-adds of the two ways to n_boot CKA replicates on m of n rows (kernel: upper-triangle blocks)."""
    grams = sum(d * d for d in dims.values()) / 2  # symmetric products
    feature = n_boot * m * (grams + sum(dims[a] * dims[b] for a, b in model_pairs))
    combos = len(model_pairs) + len(dims)
    kernel = n * n / 2 * (sum(dims.values()) + n_boot * (2 * len(dims) + combos))
    return {"feature": feature, "kernel": kernel}


def _cka_replicates(
    mats: Sequence[np.ndarray],
    model_pairs: Sequence[tuple[int, int]],
    draws: Sequence[np.ndarray],
    *,
    subsample: bool,
    dtype: type = np.float32,
    method: str = "auto",
) -> dict[str, np.ndarray]:
    """CKA replicates on the given row draws, by ``method`` "feature", "kernel" or "auto" (the cheaper)."""
    n = mats[0].shape[0]
    used = sorted({k for pair in model_pairs for k in pair})
    keys = ("cka", "cka_debiased") if subsample else ("cka",)
    out = {key: np.full((len(draws), len(model_pairs)), np.nan) for key in keys}
    if not draws or not model_pairs:
        return out
    m = len(draws[0])
    if method == "auto":
        cost = _cka_cost(n, m, len(draws), {k: mats[k].shape[1] for k in used}, model_pairs)
        method = "kernel" if cost["kernel"] < cost["feature"] else "feature"
    if method == "kernel":
        weights = counts_from_indices(np.stack(draws), n).T.astype(dtype)
        pos = [(used.index(a), used.index(b)) for a, b in model_pairs]
        lin, deb = _cka_kernel_replicates([mats[k] for k in used], pos, weights, dtype)
        out["cka"][:] = lin
        if subsample:
            out["cka_debiased"][:] = deb
        return out
    xf = {k: np.asarray(mats[k], dtype=dtype) for k in used}
    for b, idx in enumerate(draws):
        parts = {k: _CkaParts.of(_centred(xf[k][idx], dtype)) for k in used}
        for p, (ka, kb) in enumerate(model_pairs):
            linear, debiased = _cka_both(parts[ka], parts[kb])
            out["cka"][b, p] = linear
            if subsample:
                out["cka_debiased"][b, p] = debiased
    return out


#: rows per kernel block in :func:`_cka_kernel_replicates` (a few MB per model per block)
CKA_KERNEL_BLOCK = 1024


def _cka_kernel_replicates(
    mats: Sequence[np.ndarray],
    model_pairs: Sequence[tuple[int, int]],
    weights: np.ndarray,
    dtype: type = np.float32,
    block: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Linear and debiased CKA of every replicate (columns of ``weights``: row counts) from row kernels.

    With K = XX' (X centred once over all rows) and a replicate's counts c (m = sum c), the centred cross
    term is ||X'CY - m mu nu'||^2 = c'(K o L)c - (2/m) sum_i c_i (Kc)_i (Lc)_i + (c'Kc)(c'Lc) / m^2, and the
    centred row norms^2 are K_ii - 2 (Kc)_i / m + c'Kc / m^2. So all replicates need only Kc and
    c'(K o L)c for each model and pair of models, one pass over the upper-triangle blocks of the n x n
    kernels: O(n^2 (dims + replicates x (models + pairs))) products in place of O(replicates x m x dims^2),
    cheaper when there are several models and replicates of many rows. The debiased values assume 0/1
    weights (subsamples). Returns two (replicates, pairs) arrays.
    """
    n, reps = weights.shape
    block = int(block or CKA_KERNEL_BLOCK)
    xc = [_centred(x, dtype) for x in mats]
    diag = [np.einsum("ij,ij->i", x, x, dtype=np.float64) for x in xc]
    combos = sorted({(min(a, b), max(a, b)) for a, b in model_pairs} | {(a, a) for a in range(len(xc))})
    kc = [np.zeros((n, reps)) for _ in xc]
    q = {c: np.zeros(reps) for c in combos}
    edges = list(range(0, n, max(1, block)))
    prod = np.empty((min(block, n),) * 2, dtype=dtype)
    for i0 in edges:
        i1 = min(n, i0 + block)
        ci = weights[i0:i1]
        for j0 in edges[edges.index(i0) :]:
            j1 = min(n, j0 + block)
            cj = weights[j0:j1]
            kern = [x[i0:i1] @ x[j0:j1].T for x in xc]
            for a, k in enumerate(kern):
                kc[a][i0:i1] += k @ cj
                if j0 != i0:
                    kc[a][j0:j1] += k.T @ ci
            twice = 1.0 if j0 == i0 else 2.0  # an off-diagonal block stands for its mirror image too
            p = prod[: i1 - i0, : j1 - j0]
            for a, b in combos:
                np.multiply(kern[a], kern[b], out=p)
                q[a, b] += twice * np.einsum("ib,ib->b", ci, p @ cj, dtype=np.float64)
    w = weights.astype(np.float64)
    m = w.sum(axis=0)
    t = [np.einsum("ib,ib->b", w, k) for k in kc]

    def cross(a: int, b: int) -> np.ndarray:
        mixed = np.einsum("ib,ib,ib->b", w, kc[a], kc[b])
        return q[min(a, b), max(a, b)] - 2.0 / m * mixed + t[a] * t[b] / m**2

    sq = [d[:, None] - 2.0 * k / m + tt / m**2 for d, k, tt in zip(diag, kc, t, strict=True)]
    total = [np.einsum("ib,ib->b", w, s) for s in sq]

    def hsic(a: int, b: int, cross_ab: np.ndarray) -> np.ndarray:
        dot = np.einsum("ib,ib,ib->b", w, sq[a], sq[b])
        return (cross_ab - dot * m / (m - 2) + total[a] * total[b] / ((m - 1) * (m - 2))) / (m * (m - 3))

    gram = [cross(a, a) for a in range(len(xc))]
    self_h = [hsic(a, a, gram[a]) for a in range(len(xc))]
    lin = np.full((reps, len(model_pairs)), np.nan)
    deb = np.full((reps, len(model_pairs)), np.nan)
    with np.errstate(invalid="ignore", divide="ignore"):
        for p, (a, b) in enumerate(model_pairs):
            c = cross(a, b)
            denom = np.sqrt(gram[a] * gram[b])
            lin[:, p] = np.where(denom > 0, c / denom, np.nan)
            ok = (self_h[a] > 0) & (self_h[b] > 0) & (m >= 4)
            deb[:, p] = np.where(ok, hsic(a, b, c) / np.sqrt(self_h[a] * self_h[b]), np.nan)
    return lin, deb


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


#: positions per dense block of the weighted inversion count (:class:`_KendallPlan`), ~sqrt(n) within these
#: bounds; float32 products of these blocks stay exact integers while block x the largest count < 2**24
KENDALL_BLOCKS = (32, 512)
_BLAS_CONTROLLER: Any = None


def _one_blas_thread() -> Any:
    """OpenBLAS limited to one thread: on 2 shared cores its second thread spins between many small products
    (the Kendall blocks) and made them up to 10x slower. The controller is made once (it lists libraries)."""
    global _BLAS_CONTROLLER
    if _BLAS_CONTROLLER is None:
        from threadpoolctl import ThreadpoolController

        _BLAS_CONTROLLER = ThreadpoolController()
    return _BLAS_CONTROLLER.limit(limits=1, user_api="blas")


def kendall_block(n: int) -> int:
    """Block size for n items: the power of two nearest 2 sqrt(n), within :data:`KENDALL_BLOCKS`. It balances
    the dense block products (O(n s) per replicate) against the block grid (O((n / s)^2) per replicate):
    measured best at 256 for 20,000 items and 128 for 6,000 (3x and 7x faster than scipy per replicate)."""
    lo, hi = KENDALL_BLOCKS
    return int(min(hi, max(lo, 2 ** round(np.log2(max(n, 1)) / 2 + 1))))


def _dense_inversions(w: np.ndarray, within: np.ndarray) -> np.ndarray:
    """sum_blocks w_blk' A_blk w_blk per row of ``w`` (replicates x positions), blocks of ``within.shape[1]``.

    One batched matrix product: exact, because every partial sum is an integer below 2**24 in float32
    (checked; float64 otherwise) and the final sums are taken in float64.
    """
    nb, s, _ = within.shape
    reps, n = w.shape
    dtype = np.float32 if int(w.max(initial=0)) * s < 2**24 else np.float64
    blk = np.zeros((reps, nb * s), dtype=dtype)
    blk[:, :n] = w
    blk = np.ascontiguousarray(blk.reshape(reps, nb, s).transpose(1, 0, 2))  # (blocks, replicates, s)
    with _one_blas_thread():
        prod = np.matmul(blk, within.astype(dtype, copy=False))
    return np.rint(np.einsum("kbs,kbs->b", prod, blk, dtype=np.float64)).astype(np.int64)


def _block_matrices(p: np.ndarray, q: np.ndarray, keep: np.ndarray | None, s: int) -> np.ndarray:
    """(blocks, s, s) 0/1 matrices [q_k < q_l and p_k > p_l (and keep_k != keep_l)] over blocks of s items."""
    nb = -(-p.size // s)
    pad = nb * s - p.size
    pp = np.r_[p, np.full(pad, -1)].reshape(nb, s)  # padding is never above anything: no inversions
    qq = np.r_[q, np.arange(p.size, p.size + pad)].reshape(nb, s)
    a = (qq[:, :, None] < qq[:, None, :]) & (pp[:, :, None] > pp[:, None, :])
    if keep is not None:
        kk = np.r_[keep, np.arange(-pad, 0)].reshape(nb, s)
        a &= kk[:, :, None] != kk[:, None, :]
    return a.astype(np.float32)


@dataclass(frozen=True)
class _KendallPlan:
    """Kendall's tau-b of any reweighting of one pair of arrays, from one shared sort (scipy's, exactly).

    scipy's tau-b is (tot - xtie - ytie + ntie - 2 dis) / sqrt(tot - xtie) / sqrt(tot - ytie), dis being
    the discordant pairs: the inversions of y's dense ranks p once the items are in (x, y) order. In a
    resample with counts w the copies of an item are tied with it in x, y and both, so every term is a
    sum over this one fixed order: tie totals sum w over tie groups, and dis = sum_{k<l} w_k w_l [p_k > p_l].
    For dis the positions are cut into blocks of ``s`` consecutive positions (x-blocks) and of ``s``
    consecutive places in (p, position) order (y-blocks): a pair in different x- and y-blocks is discordant
    exactly when its x-block order and y-block order disagree, which 2-D prefix sums of the block-grid
    totals count; pairs sharing an x-block, or a y-block but not an x-block, are counted by fixed 0/1
    block matrices, as one batched product per kind. Integer arithmetic throughout: the replicates are
    scipy's to the last bit, at O(n s) per replicate instead of a sort.
    """

    order: np.ndarray  # items in (x, y) order
    x_starts: np.ndarray | None  # first position of each tie group in x (None: no ties)
    y_order: np.ndarray  # positions in (p, position) order
    y_starts: np.ndarray | None  # first place of each tie group in y along y_order (None: no ties)
    xy_starts: np.ndarray | None  # first position of each joint tie group (None: none)
    within_x: np.ndarray  # (x-blocks, s, s)
    within_y: np.ndarray  # (y-blocks, s, s), pairs of one x-block masked out
    cell_order: np.ndarray  # positions sorted by grid cell
    cell_starts: np.ndarray  # first place of each non-empty cell along cell_order
    cells: np.ndarray  # flat index (x-block * G + y-block) of each non-empty cell
    grid: int  # G: blocks per side

    @classmethod
    def of(cls, x: np.ndarray, y: np.ndarray, block: int | None = None) -> _KendallPlan:
        x, y = np.asarray(x), np.asarray(y)
        order = np.lexsort((y, x))
        xs, ys = x[order], y[order]
        n = xs.size
        _, p = np.unique(ys, return_inverse=True)  # dense ranks of y, along the order
        pos = np.arange(n)

        def starts(new: np.ndarray) -> np.ndarray | None:
            return None if new.all() else np.flatnonzero(new)

        x_new = np.r_[True, xs[1:] != xs[:-1]] if n else np.zeros(0, bool)
        xy_new = x_new | np.r_[True, ys[1:] != ys[:-1]] if n else np.zeros(0, bool)
        y_order = np.lexsort((pos, p))
        py = p[y_order]
        y_new = np.r_[True, py[1:] != py[:-1]] if n else np.zeros(0, bool)
        s = int(max(1, block or kendall_block(n)))
        grid = max(1, -(-n // s))
        place = np.empty(n, dtype=np.int64)
        place[y_order] = pos
        cell = (pos // s) * grid + place // s
        cell_order = np.argsort(cell, kind="stable")
        cs = cell[cell_order]
        cell_new = np.r_[True, cs[1:] != cs[:-1]] if n else np.zeros(0, bool)
        return cls(
            order=order,
            x_starts=starts(x_new),
            y_order=y_order,
            y_starts=starts(y_new),
            xy_starts=starts(xy_new),
            within_x=_block_matrices(p, pos, None, s),
            within_y=_block_matrices(py, y_order, y_order // s, s),
            cell_order=cell_order,
            cell_starts=np.flatnonzero(cell_new),
            cells=cs[cell_new],
            grid=grid,
        )

    def discordant(self, w: np.ndarray) -> np.ndarray:
        """sum_{k<l} w_k w_l [p_k > p_l] per row of ``w`` (replicates x positions in (x, y) order), int64."""
        reps = w.shape[0]
        g = self.grid
        h = np.zeros((reps, g * g), dtype=np.int64)
        if w.shape[1]:
            h[:, self.cells] = np.add.reduceat(w[:, self.cell_order], self.cell_starts, axis=1)
        h = h.reshape(reps, g, g)  # [replicate, x-block, y-block]
        # a cell's discordant partners: earlier x-blocks, later y-blocks = (all of the earlier x-blocks) -
        # (their y-blocks up to this one's); float64 holds these integer sums exactly
        earlier = np.cumsum(h, axis=1, dtype=np.float64) - h
        upto = np.cumsum(earlier, axis=2)
        cross = np.einsum("bi,bi->b", h.sum(axis=2), upto[:, :, -1]) - np.einsum("bij,bij->b", h, upto)
        cross = np.rint(cross).astype(np.int64)
        same_x = _dense_inversions(w, self.within_x)
        return cross + same_x + _dense_inversions(w[:, self.y_order], self.within_y)

    def tau(self, counts: np.ndarray) -> np.ndarray:
        """Kendall's tau-b of every resample ``counts`` (replicates x items) describes; NaN as _rank_corr."""
        w = np.atleast_2d(counts)[:, self.order].astype(np.int64)

        def pairs_within(groups: np.ndarray) -> np.ndarray:
            return (groups * (groups - 1) // 2).sum(axis=1)

        copies = pairs_within(w)  # an item's copies: tied in x, y and both (all there is without ties)
        total = w.sum(axis=1)
        tot = total * (total - 1) // 2
        xtie = copies if self.x_starts is None else pairs_within(np.add.reduceat(w, self.x_starts, axis=1))
        ytie = (
            copies
            if self.y_starts is None
            else pairs_within(np.add.reduceat(w[:, self.y_order], self.y_starts, axis=1))
        )
        ntie = copies if self.xy_starts is None else pairs_within(np.add.reduceat(w, self.xy_starts, axis=1))
        con_minus_dis = tot - xtie - ytie + ntie - 2 * self.discordant(w)
        undefined = (total < MIN_PAIRS) | (xtie == tot) | (ytie == tot)
        with np.errstate(invalid="ignore", divide="ignore"):
            tau = con_minus_dis / np.sqrt(tot - xtie) / np.sqrt(tot - ytie)
        tau = np.minimum(1.0, np.maximum(-1.0, tau))
        tau[undefined] = np.nan
        return tau


def kendall_from_counts(x: np.ndarray, y: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Kendall's tau-b of every resample ``counts`` describes: scipy's value on each resample, bit for bit,
    with one shared sort for all replicates (:class:`_KendallPlan`) instead of one scipy call each."""
    return _KendallPlan.of(x, y).tau(np.atleast_2d(counts))


def _kendall_from_counts_scipy(x: np.ndarray, y: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """The straightforward form: one scipy call per replicate on the resample (the reference of the tests)."""
    counts = np.atleast_2d(counts)
    items = np.arange(counts.shape[1])
    return np.array([_rank_corr("kendall", x[idx], y[idx]) for idx in (np.repeat(items, c) for c in counts)])


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
    ``clusters`` switches to the cluster bootstrap (see :func:`resample_counts`). Each model's ranks of a
    block of replicates are made once and serve all its model pairs; Kendall's counts are kept and each
    model pair sorted once for all of them.
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
    kendall_counts: list[np.ndarray] = []
    done = 0
    for counts in resample_counts(n, max(want.values()), seed=seed, clusters=clusters):
        take = min(counts.shape[0], want["spearman"] - done)
        if take > 0:
            c = np.ascontiguousarray(counts[:take].T)  # items x replicates, see RankPlan.doubled_ranks_t
            ranks = {m: plans[m].doubled_ranks_t(c) for m in names}  # the doubling cancels in rho
            weighted = {m: c * ranks[m] for m in names}
            var = {m: column_dots(weighted[m], ranks[m]) for m in names}
            for p, (a, b) in enumerate(model_pairs):
                out["spearman"][done : done + take, p] = weighted_corr(weighted[a], var[a], ranks[b], var[b])
        take = min(counts.shape[0], want["kendall"] - done)
        if take > 0:
            kendall_counts.append(counts[:take])
        done += counts.shape[0]
    if kendall_counts:
        for p, (a, b) in enumerate(model_pairs):
            plan = _KendallPlan.of(cos[a], cos[b])
            out["kendall"][:, p] = np.concatenate([plan.tau(c) for c in kendall_counts])
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
