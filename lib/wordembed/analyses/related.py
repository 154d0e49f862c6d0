"""Analysis 2: cosine of related word pairs (BATS) against random pairs of the same vocabulary.

Raw cosines cannot be compared across models: an anisotropic LLM gives every pair 0.9. So each group of
related pairs is scored against random pairs of the same model and vocabulary, by two numbers that survive a
shift of every cosine: AUROC (the chance that a related pair beats a random one) and the difference of means
in units of the random pairs' standard deviation. Both carry a stratified two-sample bootstrap interval
(related and random pairs resampled separately, every replicate shared by all groups).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

from wordembed.analyses.allpairs import normalize_rows, pair_cosines, random_pairs
from wordembed.analyses.bootstrap import DEFAULT_REPLICATES, bootstrap_mean_ci, percentile_interval
from wordembed.embeddings import Embeddings
from wordembed.errors import ParameterError

PAIR_COLUMNS = ("relation", "relation_name", "group", "kind", "source", "target")
QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)
LEVELS = ("all", "kind", "group", "relation")
DEFAULT_RANDOM_FACTOR = 10


@dataclass
class RelatedResult:
    """Per-pair cosines (``pairs``: kept related pairs; ``random``: random pairs) and the ``summary`` table."""

    pairs: pd.DataFrame
    random: pd.DataFrame
    summary: pd.DataFrame
    model: str
    n_dropped: int
    seed: int

    def to_dict(self) -> dict[str, Any]:
        """Overall, per kind and per group (relations are in the table): what metrics.json keeps."""
        s = self.summary
        cols = [c for c in s.columns if c not in ("level", "name", "relation_name", "group", "kind")]

        def rows(level: str) -> dict[str, Any]:
            part = s[s["level"] == level]
            return {str(r["name"]): {c: r[c] for c in cols} for _, r in part.iterrows()}

        n_asked = int(len(self.pairs) + self.n_dropped)
        return {
            "model": self.model,
            "n_related": int(len(self.pairs)),
            "n_dropped": int(self.n_dropped),
            "coverage": len(self.pairs) / n_asked if n_asked else float("nan"),
            "n_random": int(len(self.random)),
            "seed": self.seed,
            "random": rows("random").get("random", {}),
            "all": rows("all").get("all", {}),
            "kind": rows("kind"),
            "group": rows("group"),
        }


def _check_pairs(pairs: pd.DataFrame) -> None:
    missing = [c for c in PAIR_COLUMNS if c not in pairs.columns]
    if missing:
        raise ParameterError(f"related pairs: missing column(s) {missing}; expected {list(PAIR_COLUMNS)}")
    if len(pairs) == 0:
        raise ParameterError("related pairs: the table is empty")


def _draw_random(
    n_vocab: int, size: int, vocab_rows: np.ndarray, exclude: np.ndarray, n_rows: int, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Uniform pairs of distinct vocabulary words that are not themselves a related pair (redrawn if so)."""
    i, j = random_pairs(n_vocab, size, seed=seed)
    a, b = vocab_rows[i], vocab_rows[j]
    for attempt in range(1, 50):
        key = np.minimum(a, b) * n_rows + np.maximum(a, b)
        bad = np.flatnonzero(np.isin(key, exclude))
        if bad.size == 0:
            break
        ii, jj = random_pairs(n_vocab, bad.size, seed=seed + 7919 * attempt)
        a[bad], b[bad] = vocab_rows[ii], vocab_rows[jj]
    return a, b


def _placement_bounds(related: np.ndarray, random_sorted: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return (
        np.searchsorted(random_sorted, related, side="left"),
        np.searchsorted(random_sorted, related, side="right"),
    )


def auroc_from_placements(left: np.ndarray, right: np.ndarray, n_random: int) -> float:
    """AUROC = P(related > random) + P(tie) / 2, from each related value's place among sorted random ones."""
    return float((left.sum() + right.sum()) / (2.0 * n_random * left.size))


def _bootstrap(
    groups: list[np.ndarray],
    related: np.ndarray,
    random_sorted: np.ndarray,
    *,
    n_boot: int,
    seed: int,
    chunk: int = 32,
) -> tuple[np.ndarray, np.ndarray]:
    """Replicates (n_boot x groups) of AUROC and separation; one random-pair resample per replicate."""
    rng = np.random.default_rng(seed)
    nr = random_sorted.size
    rand64 = random_sorted.astype(np.float64)
    bounds = [_placement_bounds(related[g], random_sorted) for g in groups]
    auc = np.empty((n_boot, len(groups)))
    sep = np.empty((n_boot, len(groups)))
    for start in range(0, n_boot, chunk):
        b = min(chunk, n_boot - start)
        draws = rng.integers(0, nr, size=(b, nr)) + (np.arange(b) * nr)[:, None]
        weights = np.bincount(draws.ravel(), minlength=b * nr).reshape(b, nr)
        cum = np.zeros((b, nr + 1), dtype=np.int64)
        np.cumsum(weights, axis=1, out=cum[:, 1:])
        r_mean = weights @ rand64 / nr
        r_std = np.sqrt(np.maximum(weights @ (rand64 * rand64) / nr - r_mean**2, 0.0))
        for k, g in enumerate(groups):
            m = g.size
            pick = rng.integers(0, m, size=(b, m))
            left, right = bounds[k]
            placed = np.take_along_axis(cum, left[pick], 1).sum(1) + np.take_along_axis(
                cum, right[pick], 1
            ).sum(1)
            auc[start : start + b, k] = placed / (2.0 * nr * m)
            rel_mean = related[g][pick].mean(axis=1, dtype=np.float64)
            with np.errstate(divide="ignore", invalid="ignore"):
                sep[start : start + b, k] = (rel_mean - r_mean) / r_std
    return auc, sep


def related_similarity(
    emb: Embeddings,
    pairs: pd.DataFrame,
    *,
    n_random: int | None = None,
    random_factor: int = DEFAULT_RANDOM_FACTOR,
    vocabulary: Sequence[str] | None = None,
    seed: int = 0,
    n_boot: int = DEFAULT_REPLICATES,
    ci: float = 0.95,
) -> RelatedResult:
    """Cosines of related pairs per relation, group, kind and overall, against random pairs.

    ``pairs``: the ``bats_pairs`` frame (relation, relation_name, group, kind, source, target). A pair with a
    word the model lacks is dropped and counted. Random pairs: ``n_random`` (default ``random_factor`` x the
    kept related pairs) uniform pairs of distinct words of ``vocabulary`` (default: the words of the kept
    related pairs, so both sides draw on the same words), never themselves a related pair; seeded.
    """
    _check_pairs(pairs)
    if n_boot < 1:
        raise ParameterError(f"n_boot must be >= 1, got {n_boot}")
    rows_s = emb.rows(pairs["source"].astype(str))
    rows_t = emb.rows(pairs["target"].astype(str))
    ok = (rows_s >= 0) & (rows_t >= 0)
    kept = pairs.loc[ok, list(PAIR_COLUMNS)].reset_index(drop=True)
    if len(kept) == 0:
        raise ParameterError(
            f"related pairs: {emb.model or 'the model'} covers no pair (all {len(pairs)} dropped)"
        )
    xn = normalize_rows(emb.vectors)
    rs, rt = rows_s[ok], rows_t[ok]
    kept["cosine"] = pair_cosines(xn, rs, rt)
    related = kept["cosine"].to_numpy(dtype=np.float32)

    if vocabulary is None:
        vocab_rows = np.unique(np.concatenate([rs, rt]))
    else:
        vocab_rows = np.unique(emb.rows(vocabulary))
        vocab_rows = vocab_rows[vocab_rows >= 0]
    if vocab_rows.size < 2:
        raise ParameterError("related pairs: the random-pair vocabulary has fewer than 2 covered words")
    n_rand = int(n_random) if n_random is not None else int(random_factor) * len(kept)
    if n_rand < 2:
        raise ParameterError(f"n_random must be >= 2, got {n_rand}")
    n_rows = len(emb)
    exclude = np.unique(np.minimum(rs, rt) * n_rows + np.maximum(rs, rt))
    ra, rb = _draw_random(vocab_rows.size, n_rand, vocab_rows, exclude, n_rows, seed)
    rand = pair_cosines(xn, ra, rb)
    words = np.asarray(emb.words, dtype=object)
    random_frame = pd.DataFrame({"source": words[ra], "target": words[rb], "cosine": rand})

    # groups of related pairs, summarised at each level
    specs: list[tuple[str, str, str, str, str, np.ndarray]] = [
        ("all", "all", "", "", "", np.arange(len(kept)))
    ]
    for level in ("kind", "group", "relation"):
        for name, idx in kept.groupby(level, sort=True).indices.items():
            first = kept.iloc[idx[0]]
            rel_name = first["relation_name"] if level == "relation" else ""
            group = first["group"] if level in ("group", "relation") else ""
            specs.append((level, str(name), str(rel_name), str(group), str(first["kind"]), np.asarray(idx)))

    asked = {"all": {"all": len(pairs)}}
    for level in ("kind", "group", "relation"):
        asked[level] = {str(k): int(v) for k, v in pairs.groupby(level).size().items()}

    random_sorted = np.sort(rand)
    auc_b, sep_b = _bootstrap([s[5] for s in specs], related, random_sorted, n_boot=n_boot, seed=seed + 1)
    r64 = rand.astype(np.float64)
    r_mean, r_std = float(r64.mean()), float(r64.std())
    records = []
    labels_rand = np.zeros(rand.size, dtype=np.int8)
    for k, (level, name, rel_name, group, kind, idx) in enumerate(specs):
        values = related[idx].astype(np.float64)
        n_asked = asked[level].get(name, len(idx))
        scores = np.concatenate([values, r64])
        auroc = float(roc_auc_score(np.concatenate([np.ones(values.size, np.int8), labels_rand]), scores))
        records.append(
            _stats_record(values, level, name, rel_name, group, kind, n_asked, n_boot, seed, ci)
            | {
                "auroc": auroc,
                "auroc_ci_low": percentile_interval(auc_b[:, k], ci)[0],
                "auroc_ci_high": percentile_interval(auc_b[:, k], ci)[1],
                "separation": (values.mean() - r_mean) / r_std if r_std > 0 else float("nan"),
                "separation_ci_low": percentile_interval(sep_b[:, k], ci)[0],
                "separation_ci_high": percentile_interval(sep_b[:, k], ci)[1],
            }
        )
    records.append(_stats_record(r64, "random", "random", "", "", "", rand.size, n_boot, seed, ci))
    summary = pd.DataFrame.from_records(records)
    return RelatedResult(
        pairs=kept,
        random=random_frame,
        summary=summary,
        model=emb.model,
        n_dropped=int((~ok).sum()),
        seed=seed,
    )


def _stats_record(
    values: np.ndarray,
    level: str,
    name: str,
    rel_name: str,
    group: str,
    kind: str,
    n_asked: int,
    n_boot: int,
    seed: int,
    ci: float,
) -> dict[str, Any]:
    lo, hi = bootstrap_mean_ci(values, n_boot=n_boot, ci=ci, seed=seed)
    qs = np.quantile(values, QUANTILES)
    return {
        "level": level,
        "name": name,
        "relation_name": rel_name,
        "group": group,
        "kind": kind,
        "n_pairs": int(n_asked),
        "n_kept": int(values.size),
        "n_dropped": int(n_asked - values.size),
        "coverage": values.size / n_asked if n_asked else float("nan"),
        "mean": float(values.mean()),
        "mean_ci_low": lo,
        "mean_ci_high": hi,
        "std": float(values.std()),
        **{f"q{round(q * 100):02d}": float(v) for q, v in zip(QUANTILES, qs, strict=True)},
    }
