"""The coverage task (notebook 01): which words of the study a model can embed, as a result folder.

Why a task: the report needs each model's width and coverage; it used to read them from notebook 01's
``metrics.json`` by key. Here they are rows of the long scores table (read back with
:func:`wordembed.results.load_results`), so a renamed key fails where it is read instead of becoming NaN.

Files (see :mod:`wordembed.tasks.result` for the folder contract):

``coverage`` (CSV + Parquet)
    one row per word list (``study vocabulary``, ``all needed by the study``): asked, covered, coverage.
``missing_words`` (CSV + Parquet)
    the words the model has no vector for.
``scores``
    task ``embed``, dataset = the vocabulary, method ``lookup``: metric ``coverage`` (subset ``vocabulary``:
    the study vocabulary; ``all``: every word a study needs; ``n`` = covered words) and ``dims`` (``n`` =
    covered words).
``metrics.json``
    ``model``, ``dims``, ``vocabulary``, ``vocabulary_size``, ``vocabulary_covered``, ``words_asked``,
    ``words_present``, ``coverage``, ``vocabulary_coverage`` (and what the caller adds: the model's card).
"""

from __future__ import annotations

from typing import Any, ClassVar

import pandas as pd
from pydantic import StrictInt, StrictStr

from wordembed.embeddings import Embeddings
from wordembed.tasks.base import TASKS, Task, study_field
from wordembed.tasks.result import Result
from wordembed.tasks.scores import normalise

SECTION = "embed"


class Coverage(Task):
    """The model's coverage of the study vocabulary and of every word the later notebooks look up."""

    name: ClassVar[str] = SECTION

    vocabulary: StrictStr = study_field("vocabulary")
    vocab_limit: StrictInt = study_field("vocab_limit")
    seed: StrictInt = study_field("seed")

    def vocabulary_words(self) -> list[str]:
        from wordembed.vocabulary import select_vocabulary

        return select_vocabulary(self.vocabulary, self.vocab_limit, self.seed)

    def words(self) -> list[str]:
        from wordembed.vocabulary import embedding_words

        return embedding_words(self.vocabulary_words())

    def run(self, embeddings: Embeddings) -> Result:
        vocab = self.vocabulary_words()
        covered = embeddings.subset(vocab)
        asked = len(embeddings) + len(embeddings.missing)
        coverage = pd.DataFrame(
            [
                {"words": "study vocabulary", "asked": len(vocab), "covered": len(covered)},
                {"words": "all needed by the study", "asked": asked, "covered": len(embeddings)},
            ]
        )
        coverage["coverage"] = coverage["covered"] / coverage["asked"]
        missing = pd.DataFrame({"missing": sorted(embeddings.missing)})
        metrics: dict[str, Any] = {
            "model": embeddings.model,
            "dims": int(embeddings.dim),
            "vocabulary": self.vocabulary,
            "vocabulary_size": len(vocab),
            "vocabulary_covered": len(covered),
            "words_asked": asked,
            "words_present": len(embeddings),
            "coverage": len(embeddings) / asked if asked else float("nan"),
            "vocabulary_coverage": len(covered) / len(vocab) if vocab else float("nan"),
        }
        labels = {"model": embeddings.model, "task": SECTION, "dataset": self.vocabulary, "variant": "raw",
                  "level": "overall", "method": "lookup"}  # fmt: skip
        rows = [
            {**labels, "subset": "vocabulary", "metric": "coverage", "value": metrics["vocabulary_coverage"],
             "n": len(covered), "coverage": metrics["vocabulary_coverage"]},
            {**labels, "subset": "all", "metric": "coverage", "value": metrics["coverage"], "n": len(embeddings),
             "coverage": metrics["coverage"]},
            {**labels, "subset": "all", "metric": "dims", "value": float(embeddings.dim), "n": len(embeddings),
             "coverage": metrics["coverage"]},
        ]  # fmt: skip
        tables = {"coverage": coverage, "missing_words": missing}
        return Result.of(self, SECTION, tables, normalise(pd.DataFrame(rows)), metrics)


TASKS.register(Coverage.name, Coverage, replace=True)
