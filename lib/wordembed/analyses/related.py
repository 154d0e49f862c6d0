"""Analysis 2: cosine of related word pairs (BATS) against random pairs of the same words.

Raw cosines cannot be compared across models: an anisotropic LLM gives every pair 0.9. So each relation's
pairs are scored against random pairs of the same model by two numbers that survive a shift of every cosine:
AUROC (the chance that a related pair beats a random one) and the difference of means in units of the random
pairs' standard deviation ("separation").

Like with like, as a reviewer reads it:

- **The baseline draws on the related pairs' own words** (``baseline="same_words"``, the default): random
  pairs of the words that occur in the kept BATS pairs, so AUROC measures "related vs unrelated", not "BATS
  words vs rare WordNet lemmas". ``"frequency_matched"`` draws each random pair's two words from the same
  frequency bins as a related pair's source and target (frequencies supplied by the caller, e.g.
  :func:`wordembed.datasets.frequency.zipf_frequencies`); ``"vocabulary"`` draws from a given word list (the
  old design, kept to show the artefact).
- **Every relation weighs the same, and every source once.** BATS lists several answers for some sources (L03
  alone has 1,472 of the 7,643 pair rows); within a relation a source's answers share one unit of weight, and
  every summary above a relation (kind, group, all) is the mean over its relations.
- **Self-pairs** (``series -> series``, cosine 1) are dropped and counted.
- **Intervals resample the real unit**: a relation's figures by a cluster bootstrap over its sources (the 50
  sampled pairs); kind, group and overall figures by a cluster bootstrap over relations (the 40 sampled
  relations). The random pairs are ten times as many as the related ones and resampling them changes these
  intervals little; the random row's own interval resamples random pairs.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from wordembed.analyses.allpairs import normalize_rows, pair_cosines, random_pairs
from wordembed.analyses.bootstrap import DEFAULT_REPLICATES, bootstrap_mean_ci, cluster_bootstrap_ratio
from wordembed.embeddings import Embeddings
from wordembed.errors import ParameterError

PAIR_COLUMNS = ("relation", "relation_name", "group", "kind", "source", "target")
QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)
LEVELS = ("all", "kind", "group", "relation")
BASELINES = ("same_words", "frequency_matched", "vocabulary")
DEFAULT_RANDOM_FACTOR = 10
FREQUENCY_BIN_WIDTH = 0.5  # Zipf units (log10 per billion words): fine enough to match, coarse enough to fill


@dataclass
class RelatedResult:
    """Per-pair cosines (``pairs``: kept related pairs with their weight; ``random``) and the ``summary``."""

    pairs: pd.DataFrame
    random: pd.DataFrame
    summary: pd.DataFrame
    model: str
    n_dropped: int
    seed: int
    n_self_pairs: int = 0
    baseline: str = "same_words"
    n_baseline_words: int = 0

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
            "n_self_pairs": int(self.n_self_pairs),
            "coverage": len(self.pairs) / n_asked if n_asked else float("nan"),
            "n_random": int(len(self.random)),
            "baseline": self.baseline,
            "baseline_words": int(self.n_baseline_words),
            "weighting": "relations equal; a source's answers share one unit",
            "interval_unit": {"relation": "source", "kind/group/all": "relation"},
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


def _redraw_related(
    a: np.ndarray, b: np.ndarray, exclude: np.ndarray, n_rows: int, redraw: Any, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Replace random pairs that happen to be related pairs (or self-pairs) until none is left."""
    for attempt in range(1, 50):
        key = np.minimum(a, b) * n_rows + np.maximum(a, b)
        bad = np.flatnonzero(np.isin(key, exclude) | (a == b))
        if bad.size == 0:
            break
        a[bad], b[bad] = redraw(bad, seed + 7919 * attempt)
    return a, b


def _draw_uniform(
    vocab_rows: np.ndarray, size: int, exclude: np.ndarray, n_rows: int, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Uniform pairs of distinct words of ``vocab_rows`` that are not themselves a related pair."""

    def redraw(idx: np.ndarray | int, s: int) -> tuple[np.ndarray, np.ndarray]:
        n = idx if isinstance(idx, int) else idx.size
        i, j = random_pairs(vocab_rows.size, n, seed=s)
        return vocab_rows[i], vocab_rows[j]

    a, b = redraw(size, seed)
    return _redraw_related(a, b, exclude, n_rows, redraw, seed)


def frequency_bins(freq: np.ndarray, fill: float, width: float = FREQUENCY_BIN_WIDTH) -> np.ndarray:
    """Bin number of each (Zipf-scale) frequency; a word without a frequency (NaN) counts as ``fill``."""
    return np.floor(np.where(np.isfinite(freq), freq, fill) / width).astype(np.int64)


def _draw_frequency_matched(
    rs: np.ndarray,
    rt: np.ndarray,
    vocab_rows: np.ndarray,
    freq_of_row: Mapping[int, float],
    size: int,
    exclude: np.ndarray,
    n_rows: int,
    seed: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Random pairs whose words have the frequencies of a related pair's source and target.

    Each random pair copies a uniformly chosen related pair's two frequency bins and draws one word of the
    baseline vocabulary from each bin (uniformly within it), vectorised over a vocabulary sorted by bin. A
    bin with no vocabulary word borrows the nearest bin that has one.
    """
    known = np.array([f for f in freq_of_row.values() if np.isfinite(f)])
    fill = float(known.min()) if known.size else 0.0

    def bins(rows: np.ndarray) -> np.ndarray:
        return frequency_bins(np.array([freq_of_row.get(int(r), np.nan) for r in rows]), fill)

    vbins = bins(vocab_rows)
    order = np.argsort(vbins, kind="stable")
    present, starts, counts = np.unique(vbins[order], return_index=True, return_counts=True)

    def slot(rows: np.ndarray) -> np.ndarray:
        return np.abs(bins(rows)[:, None] - present[None, :]).argmin(axis=1)

    src_slot, tgt_slot = slot(rs), slot(rt)

    def redraw(idx: np.ndarray | int, s: int) -> tuple[np.ndarray, np.ndarray]:
        n = idx if isinstance(idx, int) else idx.size
        rng = np.random.default_rng(s)
        which = rng.integers(0, rs.size, size=n)

        def pick(k: np.ndarray) -> np.ndarray:
            return vocab_rows[order[starts[k] + (rng.random(n) * counts[k]).astype(np.int64)]]

        return pick(src_slot[which]), pick(tgt_slot[which])

    a, b = redraw(size, seed)
    return _redraw_related(a, b, exclude, n_rows, redraw, seed)


def auroc_from_placements(left: np.ndarray, right: np.ndarray, n_random: int) -> float:
    """AUROC = P(related > random) + P(tie) / 2, from each related value's place among sorted random ones."""
    return float((left.sum() + right.sum()) / (2.0 * n_random * left.size))


def _weights(kept: pd.DataFrame) -> np.ndarray:
    """1 / (number of kept answers of the same source in the same relation): each source counts once."""
    size = kept.groupby(["relation", "source"], sort=False)["target"].transform("size")
    return 1.0 / size.to_numpy(dtype=np.float64)


def _per_source(
    kept: pd.DataFrame, values: np.ndarray, weights: np.ndarray
) -> pd.DataFrame:
    """One row per (relation, source): the weighted mean of ``values`` (a source's answers share a unit)."""
    frame = pd.DataFrame(
        {"relation": kept["relation"].to_numpy(), "source": kept["source"].to_numpy(), "wv": values * weights}
    )
    return frame.groupby(["relation", "source"], sort=True)["wv"].sum().rename("value").reset_index()


def related_similarity(
    emb: Embeddings,
    pairs: pd.DataFrame,
    *,
    n_random: int | None = None,
    random_factor: int = DEFAULT_RANDOM_FACTOR,
    vocabulary: Sequence[str] | None = None,
    baseline: str | None = None,
    frequencies: Mapping[str, float] | None = None,
    seed: int = 0,
    n_boot: int = DEFAULT_REPLICATES,
    ci: float = 0.95,
) -> RelatedResult:
    """Cosines of related pairs per relation, group, kind and overall, against random pairs.

    ``pairs``: the ``bats_pairs`` frame (relation, relation_name, group, kind, source, target). Self-pairs and
    pairs with a word the model lacks are dropped and counted. Random pairs: ``n_random`` (default
    ``random_factor`` x the kept related pairs), never themselves a related pair, seeded, drawn by
    ``baseline`` (see the module docstring; default ``"same_words"``, or ``"vocabulary"`` when a
    ``vocabulary`` is given, for the old call). ``frequencies``: word -> Zipf frequency, for
    ``"frequency_matched"`` (which draws from ``vocabulary`` when given, else from the related words).
    ``n_boot`` = 0 gives no intervals (NaN).
    """
    _check_pairs(pairs)
    if n_boot < 0:
        raise ParameterError(f"n_boot must be >= 0, got {n_boot}")
    baseline = baseline or ("vocabulary" if vocabulary is not None else "same_words")
    if baseline not in BASELINES:
        raise ParameterError(f"related pairs: baseline={baseline!r}; valid: {', '.join(BASELINES)}")
    if baseline == "vocabulary" and vocabulary is None:
        raise ParameterError("related pairs: baseline='vocabulary' needs a vocabulary")
    if baseline == "frequency_matched" and not frequencies:
        raise ParameterError("related pairs: baseline='frequency_matched' needs word frequencies")
    self_pair = pairs["source"].astype(str).to_numpy() == pairs["target"].astype(str).to_numpy()
    usable = pairs.loc[~self_pair]
    rows_s = emb.rows(usable["source"].astype(str))
    rows_t = emb.rows(usable["target"].astype(str))
    ok = (rows_s >= 0) & (rows_t >= 0)
    kept = usable.loc[ok, list(PAIR_COLUMNS)].reset_index(drop=True)
    if len(kept) == 0:
        raise ParameterError(
            f"related pairs: {emb.model or 'the model'} covers no pair (all {len(pairs)} dropped)"
        )
    vectors = np.asarray(emb.vectors)
    if not np.isfinite(vectors.astype(np.float32, copy=False)).all():
        normalize_rows(vectors)  # raises, naming the first bad row, as normalising every row did
    rs, rt = rows_s[ok], rows_t[ok]

    related_rows = np.unique(np.concatenate([rs, rt]))
    if baseline == "same_words" or (baseline == "frequency_matched" and vocabulary is None):
        vocab_rows = related_rows
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
    words = np.asarray(emb.words, dtype=object)
    if baseline == "frequency_matched":
        assert frequencies is not None
        freq_of = {int(r): float(frequencies.get(str(words[r]), np.nan)) for r in np.union1d(vocab_rows, related_rows)}
        ra, rb = _draw_frequency_matched(rs, rt, vocab_rows, freq_of, n_rand, exclude, n_rows, seed)
    else:
        ra, rb = _draw_uniform(vocab_rows, n_rand, exclude, n_rows, seed)
    # unit rows only for the words in a pair: row-wise, so the very values of normalising all rows (tested)
    used = np.unique(np.concatenate([rs, rt, ra, rb]))
    xn = normalize_rows(vectors[used])
    kept["cosine"] = pair_cosines(xn, np.searchsorted(used, rs), np.searchsorted(used, rt))
    kept["weight"] = _weights(kept)
    rand = pair_cosines(xn, np.searchsorted(used, ra), np.searchsorted(used, rb))
    random_frame = pd.DataFrame({"source": words[ra], "target": words[rb], "cosine": rand})

    summary = _summarize(kept, pairs, self_pair, rand, n_boot=n_boot, ci=ci, seed=seed)
    return RelatedResult(
        pairs=kept,
        random=random_frame,
        summary=summary,
        model=emb.model,
        n_dropped=int((~ok).sum()),
        seed=seed,
        n_self_pairs=int(self_pair.sum()),
        baseline=baseline,
        n_baseline_words=int(vocab_rows.size),
    )


def _summarize(
    kept: pd.DataFrame,
    pairs: pd.DataFrame,
    self_pair: np.ndarray,
    rand: np.ndarray,
    *,
    n_boot: int,
    ci: float,
    seed: int,
) -> pd.DataFrame:
    """Per relation (intervals over sources), then kind / group / all as means over relations (intervals
    over relations)."""
    r64 = rand.astype(np.float64)
    r_mean, r_std = float(r64.mean()), float(r64.std())
    random_sorted = np.sort(rand)
    cos = kept["cosine"].to_numpy(dtype=np.float32)
    # each related pair's place among the random ones, as a share: AUROC is its (weighted) mean
    place = (
        np.searchsorted(random_sorted, cos, "left") + np.searchsorted(random_sorted, cos, "right")
    ) / (2.0 * rand.size)
    w = kept["weight"].to_numpy()
    per_src = _per_source(kept, place, w).rename(columns={"value": "auroc"})
    per_src["mean"] = _per_source(kept, kept["cosine"].to_numpy(np.float64), w)["value"].to_numpy()
    n_asked = pairs.assign(_self=self_pair).groupby("relation")
    asked = n_asked.size()
    selfs = n_asked["_self"].sum()

    def sep(mean: float) -> float:
        return (mean - r_mean) / r_std if r_std > 0 else float("nan")

    def interval(values: np.ndarray) -> tuple[float, float]:
        return cluster_bootstrap_ratio(values, n_boot=n_boot, ci=ci, seed=seed)

    rel_records = []
    for rel, part in kept.groupby("relation", sort=True):
        src = per_src[per_src["relation"] == rel]
        lo_a, hi_a = interval(src["auroc"].to_numpy())
        lo_m, hi_m = interval(src["mean"].to_numpy())
        first = part.iloc[0]
        values = part["cosine"].to_numpy(np.float64)
        rel_records.append(
            _counts("relation", str(rel), str(first["relation_name"]), str(first["group"]), str(first["kind"]),
                    int(asked.get(rel, len(part))), int(selfs.get(rel, 0)), len(part), src.shape[0], 1, values)
            | {
                "mean": float(src["mean"].mean()),
                "mean_ci_low": lo_m,
                "mean_ci_high": hi_m,
                "auroc": float(src["auroc"].mean()),
                "auroc_ci_low": lo_a,
                "auroc_ci_high": hi_a,
                "separation": sep(float(src["mean"].mean())),
                "separation_ci_low": sep(lo_m),
                "separation_ci_high": sep(hi_m),
                "ci_unit": "source",
            }
        )
    rel_table = pd.DataFrame.from_records(rel_records)
    records = []
    for level in ("all", "kind", "group"):
        groups = [("all", rel_table)] if level == "all" else list(rel_table.groupby(level, sort=True))
        for name, part in groups:
            inside = kept[kept["relation"].isin(part["name"])]
            lo_a, hi_a = interval(part["auroc"].to_numpy())
            lo_s, hi_s = interval(part["separation"].to_numpy())
            lo_m, hi_m = interval(part["mean"].to_numpy())
            group = str(part["group"].iloc[0]) if level == "group" else ""
            kind = str(part["kind"].iloc[0]) if level in ("kind", "group") else ""
            records.append(
                _counts(level, str(name), "", group, kind, int(part["n_pairs"].sum()), int(part["n_self_pairs"].sum()),
                        len(inside), int(part["n_sources"].sum()), len(part), inside["cosine"].to_numpy(np.float64))
                | {
                    "mean": float(part["mean"].mean()),
                    "mean_ci_low": lo_m,
                    "mean_ci_high": hi_m,
                    "auroc": float(part["auroc"].mean()),
                    "auroc_ci_low": lo_a,
                    "auroc_ci_high": hi_a,
                    "separation": float(part["separation"].mean()),
                    "separation_ci_low": lo_s,
                    "separation_ci_high": hi_s,
                    "ci_unit": "relation",
                }
            )
    lo, hi = bootstrap_mean_ci(r64, n_boot=n_boot, ci=ci, seed=seed) if n_boot else (float("nan"),) * 2
    records.extend(rel_records)
    records.append(
        _counts("random", "random", "", "", "", rand.size, 0, rand.size, 0, 0, r64)
        | {"mean": r_mean, "mean_ci_low": lo, "mean_ci_high": hi, "ci_unit": "random pair"}
    )
    return pd.DataFrame.from_records(records)


def _counts(
    level: str,
    name: str,
    rel_name: str,
    group: str,
    kind: str,
    n_asked: int,
    n_self: int,
    n_kept: int,
    n_sources: int,
    n_relations: int,
    values: np.ndarray,
) -> dict[str, Any]:
    qs = np.quantile(values, QUANTILES) if values.size else np.full(len(QUANTILES), np.nan)
    usable = n_asked - n_self
    return {
        "level": level,
        "name": name,
        "relation_name": rel_name,
        "group": group,
        "kind": kind,
        "n_pairs": int(n_asked),
        "n_self_pairs": int(n_self),
        "n_kept": int(n_kept),
        "n_dropped": int(usable - n_kept),
        "n_sources": int(n_sources),
        "n_relations": int(n_relations),
        "coverage": n_kept / usable if usable else float("nan"),
        "std": float(values.std()) if values.size else float("nan"),
        **{f"q{round(q * 100):02d}": float(v) for q, v in zip(QUANTILES, qs, strict=True)},
    }
