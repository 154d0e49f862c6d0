"""Word-similarity benchmarks: Spearman rho between a model's cosines and human similarity ratings.

Readers of an embedding study expect these numbers (SimLex-999, WordSim-353 all/similarity/relatedness,
MEN, RG-65, Stanford Rare Words). A pair with a word the model lacks is dropped and counted, never given a
made-up score, so every rho comes with its coverage; comparing models on different pair subsets is then
visible rather than hidden. Case: words are looked up as the data set spells them (all the sets we ship are
lower case, as are our vocabularies).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import spearmanr

from wordembed.analyses.bootstrap import DEFAULT_REPLICATES, bootstrap_spearman_ci
from wordembed.embeddings import Embeddings
from wordembed.errors import ParameterError
from wordembed.util import unit_rows


def pair_cosines(embeddings: Embeddings, word1: Sequence[str], word2: Sequence[str]) -> np.ndarray:
    """Cosine of each (word1[i], word2[i]); NaN where either word is missing (or has a zero vector)."""
    r1, r2 = embeddings.rows(word1), embeddings.rows(word2)
    ok = (r1 >= 0) & (r2 >= 0)
    out = np.full(len(r1), np.nan)
    if ok.any():
        a = unit_rows(embeddings.vectors[r1[ok]], np.float64)
        b = unit_rows(embeddings.vectors[r2[ok]], np.float64)
        cos = np.einsum("ij,ij->i", a, b)
        zero = ~(np.any(a != 0, axis=1) & np.any(b != 0, axis=1))
        cos[zero] = np.nan
        out[ok] = cos
    return out


def spearman(x: np.ndarray, y: np.ndarray) -> float:
    if len(x) < 2:
        return float("nan")
    rho = spearmanr(x, y).statistic
    return float(rho)


@dataclass
class WordSimilarityResult:
    """One row per benchmark (``summary``) and the per-pair cosines (``pairs``)."""

    summary: pd.DataFrame
    pairs: pd.DataFrame
    setup: dict[str, Any] = field(default_factory=dict)

    def tables(self) -> dict[str, pd.DataFrame]:
        return {"wordsim_summary": self.summary, "wordsim_pairs": self.pairs}

    def to_dict(self) -> dict[str, Any]:
        rows = {
            r["benchmark"]: {k: v for k, v in r.items() if k != "benchmark"}
            for r in self.summary.to_dict("records")
        }
        return {"setup": self.setup, "benchmarks": rows}


def evaluate_similarity(
    embeddings: Embeddings,
    pairs: pd.DataFrame,
    *,
    name: str = "",
    lowercase: bool = False,
    n_boot: int = DEFAULT_REPLICATES,
    seed: int = 0,
) -> tuple[dict[str, Any], pd.DataFrame]:
    """Spearman rho of cosine against ``pairs['score']`` over the covered pairs, with a bootstrap CI.

    The interval resamples the covered pairs (both columns together). ``lowercase`` looks words up in lower
    case, for models with a lower-case vocabulary (GloVe) on sets that capitalise names (WordSim-353). Returns the summary row and the
    per-pair table (``cosine`` NaN for dropped pairs).
    """
    missing = {"word1", "word2", "score"} - set(pairs.columns)
    if missing:
        raise ParameterError(
            f"word-similarity set {name or ''} needs columns word1, word2, score; missing {sorted(missing)}"
        )
    w1 = pairs["word1"].astype(str).tolist()
    w2 = pairs["word2"].astype(str).tolist()
    if lowercase:
        w1, w2 = [w.lower() for w in w1], [w.lower() for w in w2]
    human = pairs["score"].to_numpy(dtype=float)
    cos = pair_cosines(embeddings, w1, w2)
    ok = np.isfinite(cos)
    x, y = cos[ok], human[ok]
    rho = spearman(x, y)
    if n_boot and ok.sum() >= 3:
        # bootstrap_ci(lambda idx: spearman(x[idx], y[idx]), ...) with the same draws, replicates batched
        low, high = bootstrap_spearman_ci(x, y, n_boot=n_boot, seed=seed)
    else:
        low, high = float("nan"), float("nan")
    row = {
        "benchmark": name,
        "pairs": len(pairs),
        "covered": int(ok.sum()),
        "dropped": int((~ok).sum()),
        "coverage": float(ok.mean()) if len(pairs) else float("nan"),
        "spearman": rho,
        "spearman_low": low,
        "spearman_high": high,
    }
    table = pd.DataFrame({"benchmark": name, "word1": w1, "word2": w2, "score": human, "cosine": cos})
    return row, table


def evaluate_word_similarity(
    embeddings: Embeddings,
    benchmarks: Mapping[str, pd.DataFrame] | Sequence[str] | None = None,
    *,
    lowercase: bool = False,
    n_boot: int = DEFAULT_REPLICATES,
    seed: int = 0,
) -> WordSimilarityResult:
    """Every benchmark given (name -> DataFrame[word1, word2, score]); names are loaded from the data folder.

    ``None`` runs all of ``wordembed.datasets.WORD_SIMILARITY_SETS``.
    """
    if benchmarks is None or not isinstance(benchmarks, Mapping):
        from wordembed.datasets import WORD_SIMILARITY_SETS, load_word_similarity

        names = list(WORD_SIMILARITY_SETS) if benchmarks is None else list(benchmarks)
        benchmarks = {n: load_word_similarity(n) for n in names}
    rows, tables = [], []
    for name, frame in benchmarks.items():
        row, table = evaluate_similarity(
            embeddings, frame, name=name, lowercase=lowercase, n_boot=n_boot, seed=seed
        )
        rows.append(row)
        tables.append(table)
    pairs = pd.concat(tables, ignore_index=True) if tables else pd.DataFrame()
    setup = {
        "model": embeddings.model,
        "lowercase": lowercase,
        "n_boot": n_boot,
        "seed": seed,
        "benchmarks": list(benchmarks),
    }
    return WordSimilarityResult(pd.DataFrame(rows), pairs, setup)
