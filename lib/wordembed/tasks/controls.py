"""The anisotropy controls of notebook 04: BATS 3CosAdd and word similarity on post-processed vectors.

Why: a difference between models that vanishes once the common direction or a rogue dimension is removed
was anisotropy, not structure. This task runs the :class:`~wordembed.tasks.analogies.Analogies` and
:class:`~wordembed.tasks.word_similarity.WordSimilarity` tasks on each non-raw variant of
:func:`~wordembed.analyses.postprocess.anisotropy_variants` (centred, ``abttD``, standardised), ranking the
candidates the raw vectors cover, exactly what :func:`wordembed.analyses.controls.analogy_controls` does
(a test checks the two tables agree), but keeps each run's scores, labelled with the variant.

Files: ``controls`` (one row per variant: ``bats_3CosAdd`` with ``ci_low`` / ``ci_high``, ``rho_<set>``);
``scores`` (the variants' analogy and word-similarity rows, ``variant`` set); ``metrics.json``: ``controls``
(variant -> ``bats`` and ``word_similarity`` records) and ``abtt_components`` (as asked: -1 is automatic).
"""

from __future__ import annotations

from typing import ClassVar

import pandas as pd
from pydantic import StrictBool, StrictInt

from wordembed.embeddings import Embeddings
from wordembed.tasks.analogies import Analogies
from wordembed.tasks.base import TASKS, Task, study_field
from wordembed.tasks.candidates import CandidatesParameter, CandidateWords
from wordembed.tasks.result import Result
from wordembed.tasks.word_similarity import WordSimilarity

SECTION = "controls"
METHOD = "3CosAdd"


class AnisotropyControls(Task):
    """3CosAdd on BATS and every word-similarity set, per post-processed variant of the vectors."""

    name: ClassVar[str] = "anisotropy_controls"

    candidates: CandidatesParameter | None = None
    abtt_components: StrictInt = study_field("abtt_components")
    keep_question_words: StrictBool = study_field("keep_question_words")
    bootstrap: StrictInt = study_field("bootstrap")
    seed: StrictInt = study_field("seed")

    def _analogies(self, candidates: CandidateWords | None) -> Analogies:
        return Analogies(
            dataset="bats", methods=[METHOD], candidates=candidates, keep_question_words=self.keep_question_words,
            bootstrap=self.bootstrap, seed=self.seed,
        )  # fmt: skip

    def _similarity(self) -> WordSimilarity:
        return WordSimilarity(lowercase=True, bootstrap=self.bootstrap, seed=self.seed)

    def parameters(self) -> dict[str, object]:
        out = self.model_dump(mode="json", exclude={"candidates"})
        return out | {"candidates": self._analogies(self.candidates).parameters()["candidates"]}

    def words(self) -> list[str]:
        return sorted(set(self._analogies(self.candidates).words()) | set(self._similarity().words()))

    def run(self, embeddings: Embeddings) -> Result:
        from wordembed.analyses.postprocess import anisotropy_variants

        pool = self._analogies(self.candidates).candidate_words()
        covered = pool.ranked(embeddings)
        analogies = self._analogies(CandidateWords(words=covered.words, name=pool.name, models=pool.models))
        similarity = self._similarity()
        records: dict[str, dict[str, object]] = {}
        rows, scores = [], []
        for variant, vectors in anisotropy_variants(embeddings, self.abtt_components).items():
            if variant == "raw":
                continue
            bats = analogies.run(vectors)
            sims = similarity.run(vectors)
            records[variant] = {"bats": bats.metrics["bats"], "word_similarity": sims.metrics["word_similarity"]}
            scores += [bats.with_variant(variant).scores, sims.with_variant(variant).scores]
            rows.append(_row(variant, bats.overall, sims.summary))
        metrics = {SECTION: records, "abtt_components": self.abtt_components}
        table = pd.concat(scores, ignore_index=True).assign(model=embeddings.model)  # not the variant's tagged name
        return Result.of(self, SECTION, {SECTION: pd.DataFrame(rows)}, table, metrics)


def _row(variant: str, overall: pd.DataFrame, summary: pd.DataFrame) -> dict[str, object]:
    """The controls table's row of one variant (the columns :func:`analogy_controls` writes)."""
    first = overall.iloc[0]
    rho = dict(zip(summary["benchmark"], summary["spearman"], strict=True))
    return {"variant": variant, f"bats_{METHOD}": first["accuracy"], "ci_low": first["accuracy_low"],
            "ci_high": first["accuracy_high"], **{f"rho_{b}": r for b, r in rho.items()}}  # fmt: skip


TASKS.register(AnisotropyControls.name, AnisotropyControls, replace=True)
