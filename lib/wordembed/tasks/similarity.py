"""The similarity-distribution task (notebook 02, ``wordembed similarity``): the cosine of every pair of words.

Why a task: notebook 02 and the CLI computed the same histogram with different names, variants and records.
Here one class builds the exact all-pairs histogram (or a seeded sample of pairs) for the raw vectors and each
anisotropy control of :func:`~wordembed.analyses.postprocess.anisotropy_variants` (centred, ``abttD``,
standardised), with the rogue-dimension shares beside them (Timkey & van Schijndel 2021).

Files (see :mod:`wordembed.tasks.result` for the folder contract):

``summary`` (CSV + Parquet)
    one row per variant: n_pairs, mean, std, quantiles ``q0.001`` .. ``q0.999`` (read from the histogram).
``histogram`` (CSV + Parquet)
    one row per (variant, bin): bin_left, bin_right, count, density, variant, model.
``rogue_dimensions`` (CSV + Parquet)
    one row per variant: mean_cos, share_top1/3/10, top_dimensions, top_contributions.
``scores``
    task ``similarity_distribution``, dataset = the vocabulary; method ``all_pairs`` (or ``sampled_pairs``):
    metrics ``mean`` (interval only when sampled), ``std`` and ``q50``, ``n`` = pairs; method
    ``rogue_dimensions``: ``mean_cos``, ``share_top1``, ``share_top3``, ``share_top10``, ``n`` = words.
``metrics.json``
    ``model``, ``n_words``, ``vocabulary_size``, ``coverage``, ``exact``, ``anisotropy`` (the raw mean),
    ``abtt_components`` (the D used), ``rogue_dimensions`` and ``variants`` (variant -> the distribution's record).
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import pandas as pd
from pydantic import StrictBool, StrictInt, StrictStr

from wordembed.embeddings import Embeddings
from wordembed.tasks.base import TASKS, Task, study_field
from wordembed.tasks.result import Result
from wordembed.tasks.scores import Metric, melt

SECTION = "similarity_distribution"
ROGUE_METRICS: tuple[Metric, ...] = tuple(
    Metric(m, m, "n_words") for m in ("mean_cos", "share_top1", "share_top3", "share_top10")
)


class SimilarityDistribution(Task):
    """The cosine of every unordered pair of the covered words of ``vocabulary``, raw and under each control.

    ``sample_pairs`` > 0 draws that many random pairs instead (one seed: every variant sees the same pairs;
    ``bootstrap`` replicates give the mean an interval). ``abtt_components`` -1 is Mu & Viswanath's
    D = max(1, round(dims / 100)), 0 leaves all-but-the-top out; ``standardized`` False leaves the z-scored
    variant out (one all-pairs pass less). ``device`` "cuda" runs the products in torch (counts equal numpy's,
    tested), anything else numpy's BLAS.
    """

    name: ClassVar[str] = SECTION

    vocabulary: StrictStr = study_field("vocabulary")
    vocab_limit: StrictInt = study_field("vocab_limit")
    seed: StrictInt = study_field("seed")
    hist_bins: StrictInt = study_field("hist_bins")
    sample_pairs: StrictInt = study_field("sample_pairs")
    abtt_components: StrictInt = study_field("abtt_components")
    standardized: StrictBool = True
    bootstrap: StrictInt = study_field("bootstrap")
    device: str | None = None
    progress: StrictBool = False

    def parameters(self) -> dict[str, Any]:
        # where the products ran changes no count (tested), and a progress bar no number
        return self.model_dump(mode="json", exclude={"device", "progress"})

    def words(self) -> list[str]:
        from wordembed.vocabulary import select_vocabulary

        return select_vocabulary(self.vocabulary, self.vocab_limit, self.seed)

    def distributions(self, variants: dict[str, Embeddings]) -> dict[str, Any]:
        """Variant -> :class:`~wordembed.analyses.allpairs.SimilarityDistribution`."""
        from wordembed.analyses.allpairs import all_pairs_distribution, sampled_pairs_distribution

        device = self.device if self.device and self.device.startswith("cuda") else None
        if self.sample_pairs:
            return {
                name: sampled_pairs_distribution(v, self.sample_pairs, seed=self.seed, bins=self.hist_bins,
                                                 n_boot=self.bootstrap)
                for name, v in variants.items()
            }  # fmt: skip
        return {
            name: all_pairs_distribution(v, bins=self.hist_bins, device=device, progress=self.progress)
            for name, v in variants.items()
        }

    def run(self, embeddings: Embeddings) -> Result:
        from wordembed.analyses.postprocess import abtt_dimensions, anisotropy_variants, rogue_dimension_table

        d = abtt_dimensions(embeddings.dim, self.abtt_components)
        variants = anisotropy_variants(embeddings, d, standardized=self.standardized)
        results = self.distributions(variants)
        rogue = rogue_dimension_table(variants)
        summary = summary_table(results)
        histogram = pd.concat(
            [dist.to_frame().assign(variant=name, model=embeddings.model) for name, dist in results.items()],
            ignore_index=True,
        )
        asked = len(embeddings) + len(embeddings.missing)
        metrics = {
            "model": embeddings.model,
            "n_words": len(embeddings),
            "vocabulary_size": asked,
            "coverage": len(embeddings) / asked if asked else float("nan"),
            "exact": not self.sample_pairs,
            "anisotropy": results["raw"].mean,
            "abtt_components": d,
            "rogue_dimensions": rogue.set_index("variant").to_dict("index"),
            "variants": {name: dist.to_dict() for name, dist in results.items()},
        }
        tables = {"summary": summary, "histogram": histogram, "rogue_dimensions": rogue}
        scores = similarity_scores(self, results, rogue, embeddings.model, metrics["coverage"])
        return Result.of(self, SECTION, tables, scores, metrics)


def summary_table(results: dict[str, Any]) -> pd.DataFrame:
    """One row per variant: pairs, mean, std and the histogram's quantiles (what notebook 02 shows)."""
    rows = []
    for name, dist in results.items():
        d = dist.to_dict()
        rows.append({"variant": name, "n_pairs": d["n_pairs"], "mean": d["mean"], "std": d["std"],
                     **{f"q{k}": v for k, v in d["quantiles"].items()}})  # fmt: skip
    return pd.DataFrame(rows)


def similarity_scores(
    task: SimilarityDistribution, results: dict[str, Any], rogue: pd.DataFrame, model: str, coverage: float
) -> pd.DataFrame:
    """The distribution's mean (with its interval when sampled), std and median per variant, and the
    rogue-dimension shares per variant."""
    frame = pd.DataFrame(
        {
            "variant": list(results),
            "mean": [r.mean for r in results.values()],
            "mean_low": [r.mean_ci[0] if r.mean_ci else np.nan for r in results.values()],
            "mean_high": [r.mean_ci[1] if r.mean_ci else np.nan for r in results.values()],
            "std": [r.std for r in results.values()],
            "q50": [float(r.quantile(0.5)) for r in results.values()],
            "n_pairs": [r.n_pairs for r in results.values()],
            "coverage": coverage,
        }
    )
    method = "sampled_pairs" if task.sample_pairs else "all_pairs"
    labels = {"model": model, "task": task.name, "dataset": task.vocabulary, "level": "overall", "subset": "all"}
    metrics = (Metric("mean", "mean", "n_pairs", ("mean_low", "mean_high")), Metric("std", "std", "n_pairs"),
               Metric("q50", "q50", "n_pairs"))  # fmt: skip
    dist = melt(frame, metrics, coverage="coverage", variant=frame["variant"], method=method, **labels)
    shares = rogue.assign(coverage=coverage)
    rogue_rows = melt(shares, ROGUE_METRICS, coverage="coverage", variant=shares["variant"], method="rogue_dimensions",
                      **labels)  # fmt: skip
    return pd.concat([dist, rogue_rows], ignore_index=True)


TASKS.register(SimilarityDistribution.name, SimilarityDistribution, replace=True)
