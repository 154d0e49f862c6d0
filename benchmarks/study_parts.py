"""Benchmark of the default study's parts outside the analogy solvers and all pairs (issue 13); prints JSON.

Each part runs on the real cached vectors with the default study's parameters (params/studies/default.yaml),
through the library calls its notebook makes, twice in one run: ``before``, the straightforward reference
(kept below, or as a private function of the library: one scipy call per bootstrap replicate, the three
post-processings one after the other, CKA replicates one by one in feature space, all rows normalised),
and ``after``, the library as it is. ``ratio`` = before / after; ``max_abs_diff`` compares their numbers
(0.0: identical; ~1e-16: float64 rounding; ~1e-7: float32 rounding of the old CKA replicates).

- ``03_related_pairs`` (per model): the four anisotropy variants of ~79k words and related_similarity on each
  (20,000 random pairs, 1,000 replicates);
- ``04_word_similarity`` (per model): the variants again (04 makes them for its controls) and the seven
  word-similarity sets with 1,000 replicates on each of the four variants; the controls' BATS 3CosAdd
  (analogy.py, not part of this benchmark) is left out;
- ``05_rank_correlations``: Spearman (1,000) and Kendall (200 replicates) on random (20,000) and related pairs
  for the 10 pairs of 5 models; ``05_cka``: 100 subsamples of half the shared words, both CKAs;
  ``05_agreement_controls``: Spearman on the centred and standardised variants; ``05_model_agreement``: the
  whole call as the notebook makes it (after only; its kNN is timed apart).

Timings are noisy when other jobs share the machine's cores (``load`` is reported): compare the ratios.

    python benchmarks/study_parts.py [--models minilm glove-50d ...] [--parts 03 04 05]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

MODELS = ["minilm", "use-m3", "glove-50d", "smollm2-135m", "gemma3-270m"]


_CPU: list[float] = []  # process CPU seconds of the last timed() call


def timed(fn: Callable[[], Any]) -> tuple[Any, float]:
    """(result, wall seconds); the CPU seconds go to _CPU, steadier than wall time on a shared machine."""
    t, c = time.perf_counter(), time.process_time()
    out = fn()
    _CPU[:] = [time.process_time() - c]
    return out, time.perf_counter() - t


def max_diff(a: Any, b: Any) -> float:
    """Largest absolute difference between the numbers of two results (frames, dicts, arrays)."""
    if isinstance(a, pd.DataFrame):
        cols = [c for c in a.columns if a[c].dtype.kind in "fc"]
        return max((max_diff(a[c].to_numpy(float), b[c].to_numpy(float)) for c in cols), default=0.0)
    if isinstance(a, dict):
        return max((max_diff(a[k], b[k]) for k in a), default=0.0)
    if isinstance(a, list | tuple):
        return max((max_diff(x, y) for x, y in zip(a, b, strict=True)), default=0.0)
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if not np.array_equal(np.isnan(a), np.isnan(b)):
        return float("inf")
    return float(np.nanmax(np.abs(a - b))) if np.isfinite(a).any() else 0.0


def part(
    name: str, before: tuple[float, float], after: tuple[float, float], diff: float, **extra: Any
) -> dict:
    """One part's row; ``before`` and ``after`` are (wall, CPU) seconds."""
    return {
        "part": name,
        "before_s": round(before[0], 3),
        "after_s": round(after[0], 3),
        "ratio": round(before[0] / after[0], 2) if after[0] > 0 else None,
        "before_cpu_s": round(before[1], 3),
        "after_cpu_s": round(after[1], 3),
        "cpu_ratio": round(before[1] / after[1], 2) if after[1] > 0 else None,
        "max_abs_diff": diff,
        **extra,
    }


def both(before: Callable[[], Any], after: Callable[[], Any]) -> tuple[Any, Any, tuple, tuple]:
    """Run the reference, then the library: (old, new, (wall, cpu) before, (wall, cpu) after)."""
    old, wall = timed(before)
    t_old = (wall, _CPU[0])
    new, wall = timed(after)
    return old, new, t_old, (wall, _CPU[0])


# ------------------------------------------------------------------------------------------------------
# The straightforward references (what the library did before issue 13)


def reference_variants(emb: Any, abtt: int = -1) -> dict[str, Any]:
    """anisotropy_variants as three separate post-processings (each its own mean and passes)."""
    from wordembed.analyses.postprocess import abtt_dimensions, postprocess

    d = abtt_dimensions(emb.dim, abtt)
    out = {"raw": emb, "centered": postprocess(emb, center_vectors=True)}
    if d:
        out[f"abtt{d}"] = postprocess(emb, abtt=d)
    out["standardized"] = postprocess(emb, standardize=True)
    return out


def reference_wordsim(emb: Any, n_boot: int, seed: int) -> pd.DataFrame:
    """evaluate_word_similarity with one scipy spearmanr per bootstrap replicate (bootstrap_ci)."""
    from scipy.stats import spearmanr

    from wordembed.analyses.bootstrap import bootstrap_ci
    from wordembed.analyses.word_similarity import evaluate_word_similarity

    res = evaluate_word_similarity(emb, lowercase=True, n_boot=0, seed=seed)
    rows = []
    for name, part_ in res.pairs.groupby("benchmark", sort=False):
        ok = np.isfinite(part_["cosine"].to_numpy())
        x, y = part_["cosine"].to_numpy()[ok], part_["score"].to_numpy()[ok]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            lo, hi = bootstrap_ci(
                lambda i, x=x, y=y: spearmanr(x[i], y[i]).statistic, x.size, n_boot=n_boot, seed=seed
            )
        rows.append({"benchmark": name, "spearman_low": lo, "spearman_high": hi})
    return pd.DataFrame(rows)


class _OldRankPlan:
    """The rank plan as it was: ranks in (replicates, items) layout, a scatter back to item order."""

    def __init__(self, x: np.ndarray) -> None:
        self.order = np.argsort(x, kind="stable")
        xs = x[self.order]
        new = np.r_[True, xs[1:] != xs[:-1]]
        starts = np.flatnonzero(new)
        self.group = np.cumsum(new) - 1
        self.ends = np.r_[starts[1:] - 1, xs.size - 1].astype(np.int64)

    def centred_ranks(self, counts: np.ndarray) -> np.ndarray:
        cum = np.cumsum(counts[:, self.order], axis=1)[:, self.ends].astype(np.float64)
        below = np.concatenate([np.zeros((cum.shape[0], 1)), cum[:, :-1]], axis=1)
        mid = below + (cum - below + 1.0) / 2.0
        ranks = np.empty(counts.shape, dtype=np.float64)
        ranks[:, self.order] = mid[:, self.group]
        return ranks - ((cum[:, -1] + 1.0) / 2.0)[:, None]


def reference_correlations(
    cos: dict[str, np.ndarray], pairs: list, n_boot: int, kendall_boot: int, seed: int, clusters: Any
) -> dict[str, np.ndarray]:
    """correlation_replicates as it was: per model pair three weighted sums, one scipy Kendall per replicate."""
    from wordembed.analyses.agreement import _kendall_from_counts_scipy, resample_counts

    names = sorted({m for p in pairs for m in p})
    n = next(iter(cos.values())).size
    plans = {m: _OldRankPlan(cos[m]) for m in names}
    out = {
        "spearman": np.full((n_boot, len(pairs)), np.nan),
        "kendall": np.full((kendall_boot, len(pairs)), np.nan),
    }
    done = 0
    for counts in resample_counts(n, max(n_boot, kendall_boot), seed=seed, clusters=clusters):
        take = min(counts.shape[0], n_boot - done)
        if take > 0:
            c = counts[:take]
            ranks = {m: plans[m].centred_ranks(c) for m in names}
            weighted = {m: c * ranks[m] for m in names}
            for p, (a, b) in enumerate(pairs):
                vx = np.einsum("ij,ij->i", weighted[a], ranks[a])
                vy = np.einsum("ij,ij->i", weighted[b], ranks[b])
                with np.errstate(invalid="ignore", divide="ignore"):
                    out["spearman"][done : done + take, p] = np.einsum(
                        "ij,ij->i", weighted[a], ranks[b]
                    ) / np.sqrt(vx * vy)
        take = min(counts.shape[0], kendall_boot - done)
        if take > 0:
            for p, (a, b) in enumerate(pairs):
                out["kendall"][done : done + take, p] = _kendall_from_counts_scipy(
                    cos[a], cos[b], counts[:take]
                )
        done += counts.shape[0]
    return out


# ------------------------------------------------------------------------------------------------------
# The parts


def bench_03(models: list[str], params: dict[str, Any]) -> list[dict[str, Any]]:
    from wordembed.analyses.allpairs import normalize_rows
    from wordembed.analyses.postprocess import anisotropy_variants
    from wordembed.analyses.related import related_similarity
    from wordembed.datasets import bats_pairs, bats_words, load_bats
    from wordembed.sources import get_embeddings
    from wordembed.vocabulary import select_vocabulary

    relations = load_bats()
    pairs = bats_pairs(relations)
    vocab = select_vocabulary(params["vocabulary"], 0, params["seed"])
    words = sorted(set(vocab) | set(bats_words(relations)))
    kw = dict(n_random=params["n_random_pairs"], seed=params["seed"], n_boot=params["bootstrap"])
    rows = []
    for model in models:
        emb = get_embeddings(model, words, device=None, progress=False)

        def before(emb=emb):
            out = {}
            for name, v in reference_variants(emb, params["abtt_components"]).items():
                normalize_rows(v.vectors)  # the old related_similarity normalised every row of the variant
                out[name] = related_similarity(v, pairs, **kw).summary
            return out

        def after(emb=emb):
            variants = anisotropy_variants(emb, params["abtt_components"])
            return {name: related_similarity(v, pairs, **kw).summary for name, v in variants.items()}

        old, new, t_old, t_new = both(before, after)
        rows.append(part(f"03_related_pairs/{model}", t_old, t_new, max_diff(old, new), words=len(emb)))
    return rows


def bench_04(models: list[str], params: dict[str, Any]) -> list[dict[str, Any]]:
    from wordembed.analyses.postprocess import anisotropy_variants
    from wordembed.analyses.word_similarity import evaluate_word_similarity
    from wordembed.sources import get_embeddings
    from wordembed.vocabulary import embedding_words, select_vocabulary

    vocab = select_vocabulary(params["vocabulary"], 0, params["seed"])
    n_boot, seed = params["bootstrap"], params["seed"]
    rows = []
    for model in models:
        emb = get_embeddings(model, embedding_words(vocab), device=None, progress=False)

        def before(emb=emb):
            variants = reference_variants(emb, params["abtt_components"])
            return {k: reference_wordsim(v, n_boot, seed) for k, v in variants.items()}

        def after(emb=emb):
            variants = anisotropy_variants(emb, params["abtt_components"])
            cols = ["benchmark", "spearman_low", "spearman_high"]
            return {
                k: evaluate_word_similarity(v, lowercase=True, n_boot=n_boot, seed=seed).summary[cols]
                for k, v in variants.items()
            }

        old, new, t_old, t_new = both(before, after)
        rows.append(part(f"04_word_similarity/{model}", t_old, t_new, max_diff(old, new), words=len(emb)))
    return rows


def bench_05(models: list[str], params: dict[str, Any]) -> list[dict[str, Any]]:
    from wordembed.analyses import agreement as ag
    from wordembed.analyses.allpairs import normalize_rows, pair_cosines
    from wordembed.analyses.controls import agreement_controls
    from wordembed.datasets import bats_pairs, bats_words, load_bats
    from wordembed.sources import get_embeddings
    from wordembed.vocabulary import select_vocabulary

    relations = load_bats()
    related = bats_pairs(relations)
    vocab = select_vocabulary(params["vocabulary"], 0, params["seed"])
    rng = np.random.default_rng(params["seed"])
    size = min(params["agreement_words"], len(vocab))
    sample = [vocab[i] for i in sorted(rng.choice(len(vocab), size=size, replace=False))]
    words = sorted(set(sample) | set(bats_words(relations)))
    embs = {m: get_embeddings(m, words, device=None, progress=False) for m in models}
    seed, n_boot = params["seed"], params["bootstrap"]
    kb, cb = params["kendall_bootstrap"], params["cka_bootstrap"]
    shared = ag.shared_words(embs)
    names = list(embs)
    model_pairs = [(a, b) for i, a in enumerate(names) for b in names[i + 1 :]]
    pair_sets = ag.agreement_pairs(shared, related, params["n_random_pairs"], seed)
    rows = []

    def correlations(fn: Callable) -> dict[str, Any]:
        out = {}
        for pair_set in ag.PAIR_SETS:
            i, j = pair_sets.indices(pair_set)
            cos = {
                m: pair_cosines(normalize_rows(embs[m].subset(shared).vectors), i, j).astype(np.float64)
                for m in names
            }
            clusters = pair_sets.related_relation if pair_set == "related" else None
            out[pair_set] = fn(cos, clusters)
        return out

    old, new, t_old, t_new = both(
        lambda: correlations(lambda c, cl: reference_correlations(c, model_pairs, n_boot, kb, seed, cl)),
        lambda: correlations(
            lambda c, cl: ag.correlation_replicates(
                c, model_pairs, n_boot=n_boot, kendall_boot=kb, seed=seed, clusters=cl
            )
        ),
    )
    rows.append(part("05_rank_correlations", t_old, t_new, max_diff(old, new), shared_words=len(shared)))

    raw = [np.asarray(embs[m].subset(shared).vectors, dtype=np.float64) for m in names]
    pos = [(names.index(a), names.index(b)) for a, b in model_pairs]
    m_sub = ag.subsample_size(len(shared), ag.DEFAULT_CKA_BOOT_WORDS)
    r = np.random.default_rng(seed)
    draws = [r.choice(len(shared), size=m_sub, replace=False) for _ in range(cb)]
    old, new, t_old, t_new = both(
        lambda: ag._cka_replicates(raw, pos, draws, subsample=True, method="feature"),
        lambda: ag.cka_replicates(raw, pos, m=m_sub, n_boot=cb, seed=seed),
    )
    f64 = ag._cka_replicates(raw, pos, draws[:10], subsample=True, dtype=np.float64, method="kernel")
    rows.append(
        part(
            "05_cka",
            t_old,
            t_new,
            max_diff(old, new),
            subsample_words=m_sub,
            max_abs_diff_to_float64={
                "before": max_diff({k: old[k][:10] for k in f64}, f64),
                "after": max_diff({k: new[k][:10] for k in f64}, f64),
            },
        )
    )

    def controls_before() -> dict[str, Any]:
        per_model = {k: reference_variants(e, 0) for k, e in embs.items()}
        out = {}
        for variant in ("centered", "standardized"):
            cos_of = {m: normalize_rows(per_model[m][variant].subset(shared).vectors) for m in names}
            for pair_set in ag.PAIR_SETS:
                i, j = pair_sets.indices(pair_set)
                cos = {m: pair_cosines(cos_of[m], i, j).astype(np.float64) for m in names}
                clusters = pair_sets.related_relation if pair_set == "related" else None
                out[variant, pair_set] = reference_correlations(cos, model_pairs, n_boot, 0, seed, clusters)[
                    "spearman"
                ]
        return out

    kw = dict(n_random=params["n_random_pairs"], k=10, seed=seed, n_boot=n_boot)
    old, new, t_old, t_new = both(controls_before, lambda: agreement_controls(embs, related, **kw))
    table = new.set_index(["variant", "pairs", "model_a", "model_b"])
    mine = {
        key: np.stack([np.quantile(r[:, p], [0.025, 0.975]) for p in range(len(model_pairs))])
        for key, r in old.items()
    }
    theirs = {
        (variant, pair_set): np.stack(
            [
                table.loc[(variant, pair_set, a, b), ["ci_low", "ci_high"]].to_numpy(float)
                for a, b in model_pairs
            ]
        )
        for variant, pair_set in old
    }
    rows.append(part("05_agreement_controls", t_old, t_new, max_diff(mine, theirs)))

    _, t_all = timed(lambda: ag.model_agreement(embs, related, kendall_boot=kb, cka_boot=cb, **kw))
    cpu_all = _CPU[0]
    _, t_knn = timed(
        lambda: [ag.knn_indices(normalize_rows(embs[m].subset(shared).vectors), 10) for m in names]
    )
    rows.append(
        {
            "part": "05_model_agreement",
            "after_s": round(t_all, 3),
            "after_cpu_s": round(cpu_all, 3),
            "of_which_knn_s": round(t_knn, 3),
        }
    )
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", nargs="+", default=MODELS)
    ap.add_argument("--parts", nargs="+", default=["03", "04", "05"], choices=["03", "04", "05"])
    args = ap.parse_args()
    from wordembed.study import load_study

    params = dict(load_study("default").parameters)
    started = time.time()
    rows: list[dict[str, Any]] = []
    for name, fn in (("03", bench_03), ("04", bench_04), ("05", bench_05)):
        if name in args.parts:
            rows.extend(fn(args.models, params))
    before = sum(r["before_s"] for r in rows if "ratio" in r)
    after = sum(r["after_s"] for r in rows if "ratio" in r)
    cpu_before = sum(r["before_cpu_s"] for r in rows if "ratio" in r)
    cpu_after = sum(r["after_cpu_s"] for r in rows if "ratio" in r)
    largest = sorted((r for r in rows if "after_s" in r), key=lambda r: -r["after_s"])[:3]
    print(
        json.dumps(
            {
                "benchmark": "study_parts",
                "machine": {
                    "cpus": os.cpu_count(),
                    "python": platform.python_version(),
                    "load": os.getloadavg(),
                },
                "models": args.models,
                "parts": rows,
                "compared": {
                    "before_s": round(before, 1),
                    "after_s": round(after, 1),
                    "ratio": round(before / after, 2) if after else None,
                    "before_cpu_s": round(cpu_before, 1),
                    "after_cpu_s": round(cpu_after, 1),
                    "cpu_ratio": round(cpu_before / cpu_after, 2) if cpu_after else None,
                },
                "largest_after": [{"part": r["part"], "after_s": r["after_s"]} for r in largest],
                "wall_s": round(time.time() - started, 1),
            },
            indent=1,
            default=float,
        )
    )


if __name__ == "__main__":
    main()
