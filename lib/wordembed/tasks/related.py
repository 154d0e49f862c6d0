"""The related-pairs task (notebook 03, ``wordembed related``): BATS pairs against random pairs of the same words.

Why a task: notebook 03 ran every anisotropy variant with the study's baseline while the CLI ran one
post-processed copy with a vocabulary baseline, under other file names. One class now does both: ``variants``
says which versions of the vectors are scored (default: raw and every control), ``related_baseline`` how
random pairs are drawn (:func:`wordembed.analyses.related.related_similarity`).

Files (see :mod:`wordembed.tasks.result` for the folder contract):

``summary`` (CSV + Parquet)
    the analysis' summary of every variant (``variant`` column): levels all, kind, group, relation, random.
``pairs``, ``random_pairs`` (CSV + Parquet)
    the kept related pairs with their cosine and weight, and the random pairs, of the first variant.
``scores``
    task ``related_pairs``, dataset ``bats``, method = the baseline; levels ``all`` (subset ``all``), ``kind``,
    ``group``, ``relation`` (subset = its name): metrics ``auroc``, ``separation``, ``mean`` with intervals,
    ``n`` = kept pairs; level ``random`` (subset ``random``): ``mean`` of the random pairs, ``n`` = pairs.
``metrics.json``
    ``model``, ``variants`` (their names, in order) and one key per variant (the analysis' record).
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

import pandas as pd
from pydantic import StrictInt, StrictStr, field_validator

from wordembed.embeddings import Embeddings
from wordembed.tasks.base import TASKS, Task, study_field
from wordembed.tasks.result import Result
from wordembed.tasks.scores import Metric, melt

SECTION = "related_pairs"
VARIANTS: tuple[str, ...] = ("raw", "centered", "abtt", "standardized")
SCORE_METRICS: tuple[Metric, ...] = (
    Metric("auroc", "auroc", "n_kept", ("auroc_ci_low", "auroc_ci_high")),
    Metric("separation", "separation", "n_kept", ("separation_ci_low", "separation_ci_high")),
    Metric("mean", "mean", "n_kept", ("mean_ci_low", "mean_ci_high")),
)


class RelatedPairs(Task):
    """AUROC and separation of BATS pairs against random pairs, per relation, group, kind and overall.

    ``vocabulary`` / ``vocab_limit``: the study vocabulary, whose words are embedded with the BATS words (the
    post-processing statistics come from all of them) and which the ``vocabulary`` baseline draws from.
    ``n_random_pairs`` None: ten times the kept related pairs. ``variants``: any of raw, centered, abtt,
    standardized (None: all four, in that order); ``abtt`` removes ``abtt_components`` directions (-1: D =
    max(1, round(dims / 100))).
    """

    name: ClassVar[str] = SECTION

    vocabulary: StrictStr = study_field("vocabulary")
    vocab_limit: StrictInt = study_field("vocab_limit")
    seed: StrictInt = study_field("seed")
    n_random_pairs: StrictInt | None = study_field("n_random_pairs")
    related_baseline: Literal["same_words", "frequency_matched", "vocabulary"] = study_field("related_baseline")
    abtt_components: StrictInt = study_field("abtt_components")
    variants: list[str] | None = None
    bootstrap: StrictInt = study_field("bootstrap")

    @field_validator("variants")
    @classmethod
    def _known(cls, variants: list[str] | None) -> list[str] | None:
        if variants is not None:
            bad = [v for v in variants if v not in VARIANTS]
            if bad or not variants:
                raise ValueError(f"unknown variant(s) {bad}; valid: {', '.join(VARIANTS)}")
            return list(dict.fromkeys(variants))
        return variants

    def parameters(self) -> dict[str, Any]:
        return self.model_dump(mode="json") | {"variants": self.variant_names}

    @property
    def variant_names(self) -> list[str]:
        return list(self.variants) if self.variants else list(VARIANTS)

    def vocabulary_words(self) -> list[str]:
        from wordembed.vocabulary import select_vocabulary

        return select_vocabulary(self.vocabulary, self.vocab_limit, self.seed)

    def words(self) -> list[str]:
        from wordembed.datasets import bats_words, load_bats

        return sorted(set(self.vocabulary_words()) | set(bats_words(load_bats())))

    def vectors(self, embeddings: Embeddings) -> dict[str, Embeddings]:
        """The versions of the vectors scored, by name (``abtt`` named by its D, as everywhere: ``abtt4``)."""
        from wordembed.analyses.postprocess import anisotropy_variants

        every = anisotropy_variants(embeddings, self.abtt_components, standardized="standardized" in self.variant_names)
        chosen = {v for v in self.variant_names}
        return {n: e for n, e in every.items() if (n[:4] if n.startswith("abtt") else n) in chosen}

    def run(self, embeddings: Embeddings) -> Result:
        from wordembed.analyses.related import related_similarity
        from wordembed.datasets import bats_pairs, load_bats

        pairs = bats_pairs(load_bats())
        frequencies = None
        if self.related_baseline == "frequency_matched":
            from wordembed.datasets.frequency import zipf_frequencies

            frequencies = zipf_frequencies(embeddings.words)
        vocabulary = self.vocabulary_words() if self.related_baseline != "same_words" else None
        results = {
            name: related_similarity(
                variant, pairs, n_random=self.n_random_pairs, seed=self.seed, n_boot=self.bootstrap,
                baseline=self.related_baseline, frequencies=frequencies, vocabulary=vocabulary,
            )
            for name, variant in self.vectors(embeddings).items()
        }  # fmt: skip
        first = next(iter(results.values()))
        summary = pd.concat([r.summary.assign(variant=name) for name, r in results.items()], ignore_index=True)
        tables = {"summary": summary, "pairs": first.pairs, "random_pairs": first.random}
        metrics = {"model": embeddings.model, "variants": list(results)} | {n: r.to_dict() for n, r in results.items()}
        return Result.of(self, SECTION, tables, related_scores(summary, embeddings.model, self.related_baseline), metrics)


def related_scores(summary: pd.DataFrame, model: str, baseline: str) -> pd.DataFrame:
    """One scores row per (variant, summary row, metric); the random row carries its mean alone."""
    labels = {"model": model, "task": SECTION, "dataset": "bats", "method": baseline}
    related = summary[summary["level"] != "random"]
    random = summary[summary["level"] == "random"]
    parts = [
        melt(related, SCORE_METRICS, coverage="coverage", variant=related["variant"], level=related["level"],
             subset=related["name"], **labels),
        melt(random, SCORE_METRICS[2:], coverage="coverage", variant=random["variant"], level="random",
             subset="random", **labels),
    ]  # fmt: skip
    return pd.concat(parts, ignore_index=True)


TASKS.register(RelatedPairs.name, RelatedPairs, replace=True)
