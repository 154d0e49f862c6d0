"""Analysis 4: how much do two models agree about which words are alike?

Three views, each a square matrix over models with bootstrap intervals:
- rank correlation (Spearman, Kendall) of the two models' cosines on one shared set of word pairs (random
  pairs plus BATS pairs, over the words every model covers); ranks, so anisotropy does not matter;
- mean Jaccard overlap of each word's k nearest neighbours (exact kNN over the shared words);
- linear CKA of the two embedding matrices (Kornblith et al. 2019, "Similarity of Neural Network
  Representations Revisited"), centred, in its feature-space form ``||Y'X||_F^2 / (||X'X||_F ||Y'Y||_F)``,
  which costs O(n d^2) rather than O(n^2) and is invariant to rotation and isotropic scaling.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from wordembed.analyses.allpairs import normalize_rows, pair_cosines, random_pairs
from wordembed.analyses.bootstrap import bootstrap_ci, bootstrap_mean_ci, percentile_interval
from wordembed.embeddings import Embeddings
from wordembed.errors import ParameterError

MEASURES = ("spearman", "kendall", "knn_jaccard", "cka")


# ----------------------------------------------------------------------------------------------------------
# Building blocks (arrays in, numbers out)


def linear_cka(x: np.ndarray, y: np.ndarray) -> float:
    """Linear CKA of two representations of the same rows (float64, or float32 if both are float32)."""
    x, y = np.asarray(x), np.asarray(y)
    dtype = np.float32 if x.dtype == y.dtype == np.float32 else np.float64
    x, y = x.astype(dtype, copy=False), y.astype(dtype, copy=False)
    if x.shape[0] != y.shape[0]:
        raise ParameterError(f"CKA: the two matrices have {x.shape[0]} and {y.shape[0]} rows")
    xc = x - x.mean(axis=0, dtype=np.float64).astype(dtype)
    yc = y - y.mean(axis=0, dtype=np.float64).astype(dtype)
    cross = float(np.linalg.norm(yc.T @ xc)) ** 2
    denom = float(np.linalg.norm(xc.T @ xc)) * float(np.linalg.norm(yc.T @ yc))
    return cross / denom if denom > 0 else float("nan")


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
    With ``m >= n`` it is the ordinary bootstrap.
    """
    n = x.shape[0]
    m = min(int(m), n)
    if n_boot < 2 or m < 3:
        return float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    xf = np.asarray(x, dtype=np.float32)
    yf = np.asarray(y, dtype=np.float32)
    reps = np.empty(n_boot)
    for b in range(n_boot):
        idx = rng.integers(0, n, size=m)
        reps[b] = linear_cka(xf[idx], yf[idx])
    lo, hi = percentile_interval(reps, ci)
    centre = float(np.mean(reps[np.isfinite(reps)]))
    shrink = np.sqrt(m / n)
    return estimate + shrink * (lo - centre), estimate + shrink * (hi - centre)


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
# The analysis


@dataclass
class AgreementResult:
    """``table``: one row per model pair and measure; ``matrices``: measure -> square DataFrame."""

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


def shared_words(embs: Mapping[str, Embeddings]) -> list[str]:
    """Words every model covers, in the first model's order."""
    first, *rest = embs.values()
    covered = set(first.words)
    for e in rest:
        covered &= set(e.words)
    return [w for w in first.words if w in covered]


def shared_pairs(
    words: list[str],
    related: pd.DataFrame | None,
    n_random: int,
    seed: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Row indices (into ``words``) of random pairs plus the related pairs whose words are all shared.

    Returns (i, j, is_related). Related pairs repeated in the frame are kept once; self-pairs are dropped.
    """
    index = {w: k for k, w in enumerate(words)}
    i, j = random_pairs(len(words), n_random, seed=seed) if n_random else (np.empty(0, int), np.empty(0, int))
    if related is not None and len(related):
        for col in ("source", "target"):
            if col not in related.columns:
                raise ParameterError(f"agreement: related pairs need columns source and target, lack {col!r}")
        a = np.fromiter((index.get(w, -1) for w in related["source"].astype(str)), dtype=np.int64)
        b = np.fromiter((index.get(w, -1) for w in related["target"].astype(str)), dtype=np.int64)
        ok = (a >= 0) & (b >= 0) & (a != b)
        key = np.unique(np.minimum(a[ok], b[ok]) * len(words) + np.maximum(a[ok], b[ok]))
        ra, rb = key // len(words), key % len(words)
        i, j = np.concatenate([i, ra]), np.concatenate([j, rb])
        flag = np.concatenate([np.zeros(n_random, bool), np.ones(ra.size, bool)])
    else:
        flag = np.zeros(i.size, bool)
    return i, j, flag


def model_agreement(
    embs: Mapping[str, Embeddings],
    related: pd.DataFrame | None = None,
    *,
    n_random: int = 20_000,
    k: int = 10,
    seed: int = 0,
    n_boot: int = 200,
    cka_boot: int = 100,
    cka_boot_words: int = 10_000,
    ci: float = 0.95,
    measures: tuple[str, ...] = MEASURES,
    device: str | None = None,
) -> AgreementResult:
    """Every measure for every pair of models, on the words all of them cover.

    Intervals: correlations resample pairs (``n_boot``), Jaccard resamples words (``n_boot``), CKA by an
    m-out-of-n bootstrap of words (:func:`cka_interval`, ``m = cka_boot_words``, ``cka_boot`` replicates),
    since a full bootstrap costs O(words x dims^2) per replicate.
    """
    if len(embs) < 2:
        raise ParameterError(f"agreement needs at least 2 models, got {len(embs)}")
    unknown = [m for m in measures if m not in MEASURES]
    if unknown:
        raise ParameterError(f"agreement: unknown measure(s) {unknown}; choose from {list(MEASURES)}")
    names = list(embs)
    words = shared_words(embs)
    if len(words) < max(3, k + 1):
        raise ParameterError(f"agreement: the models share only {len(words)} words (need more than k={k})")
    unit = {m: normalize_rows(embs[m].subset(words).vectors) for m in names}
    i, j, flag = shared_pairs(words, related, n_random, seed)
    cos = {m: pair_cosines(unit[m], i, j).astype(np.float64) for m in names}
    knn = {m: knn_indices(unit[m], k, device=device) for m in names} if "knn_jaccard" in measures else {}
    raw = {m: np.asarray(embs[m].subset(words).vectors, dtype=np.float64) for m in names}

    records = []
    for a, b in itertools.combinations(names, 2):
        for measure in measures:
            if measure in ("spearman", "kendall"):
                fn = stats.spearmanr if measure == "spearman" else stats.kendalltau
                value = float(fn(cos[a], cos[b])[0])
                lo, hi = bootstrap_ci(
                    lambda idx, fn=fn, a=a, b=b: fn(cos[a][idx], cos[b][idx])[0],
                    i.size,
                    n_boot=n_boot,
                    ci=ci,
                    seed=seed,
                )
                n = i.size
            elif measure == "knn_jaccard":
                per_word = neighbour_jaccard(knn[a], knn[b])
                value = float(per_word.mean())
                lo, hi = bootstrap_mean_ci(per_word, n_boot=n_boot, ci=ci, seed=seed)
                n = len(words)
            else:
                value = linear_cka(raw[a], raw[b])
                lo, hi = cka_interval(
                    raw[a], raw[b], value, m=cka_boot_words, n_boot=cka_boot, ci=ci, seed=seed
                )
                n = len(words)
            records.append(
                {
                    "measure": measure,
                    "model_a": a,
                    "model_b": b,
                    "value": value,
                    "ci_low": lo,
                    "ci_high": hi,
                    "n": n,
                }
            )
    table = pd.DataFrame.from_records(
        records, columns=["measure", "model_a", "model_b", "value", "ci_low", "ci_high", "n"]
    )
    matrices = {}
    for measure in measures:
        mat = pd.DataFrame(np.eye(len(names)), index=names, columns=names)
        for _, r in table[table["measure"] == measure].iterrows():
            mat.loc[r["model_a"], r["model_b"]] = mat.loc[r["model_b"], r["model_a"]] = r["value"]
        matrices[measure] = mat
    return AgreementResult(
        table=table,
        matrices=matrices,
        n_words=len(words),
        n_pairs=int(i.size),
        pair_sources={"random": int((~flag).sum()), "related": int(flag.sum())},
        options={
            "k": k,
            "seed": seed,
            "n_boot": n_boot,
            "cka_boot": cka_boot,
            "cka_boot_words": int(min(cka_boot_words, len(words))),
            "ci": ci,
        },
    )
