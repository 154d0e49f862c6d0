"""The word-similarity task: Spearman rho of a model's cosines against human ratings, per benchmark.

Files (see :mod:`wordembed.tasks.result` for the folder contract):

``wordsim_summary`` (CSV + Parquet)
    one row per benchmark: pairs, covered, dropped, coverage, spearman, spearman_low, spearman_high.
``wordsim_pairs`` (CSV + Parquet)
    one row per pair: benchmark, word1, word2, score, cosine (NaN where a word is missing).
``scores``
    task ``word_similarity``, dataset = the benchmark, level ``overall``, subset ``all``, method ``cosine``,
    metric ``spearman``, ``n`` = the covered pairs the rho is computed on.
``metrics.json``
    ``word_similarity``: ``setup`` and ``benchmarks`` (name -> the summary row); ``model``.

The benchmarks come from :data:`SIMILARITY_SETS`, a registry of loaders (name -> a function returning
DataFrame[word1, word2, score]): the shipped sets are registered here, and a new one is one
:meth:`~wordembed.tasks.registry.Registry.register` call (:func:`similarity_set_from_file` reads a
tab-separated file of word1, word2, score with pandas).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import ClassVar

import pandas as pd
from pydantic import StrictBool, StrictInt, field_validator

from wordembed.analyses.word_similarity import WordSimilarityResult as Analysis
from wordembed.datasets import WORD_SIMILARITY_SETS, load_word_similarity
from wordembed.embeddings import Embeddings
from wordembed.tasks.base import TASKS, Task, study_field
from wordembed.tasks.registry import Registry
from wordembed.tasks.result import Result
from wordembed.tasks.scores import Metric, melt

SECTION = "word_similarity"
SUMMARY_TABLE = "wordsim_summary"
PAIRS_TABLE = "wordsim_pairs"
SCORE_METRICS = (Metric("spearman", "spearman", "covered", ("spearman_low", "spearman_high")),)

SimilaritySet = Callable[[], pd.DataFrame]
"""A loader: () -> DataFrame[word1, word2, score] (more columns are kept in no table)."""

SIMILARITY_SETS: Registry[SimilaritySet] = Registry(
    "word-similarity set", {name: functools.partial(load_word_similarity, name) for name in WORD_SIMILARITY_SETS}
)


def similarity_set_from_file(path: str | Path, *, sep: str = "\t", header: bool = False) -> SimilaritySet:
    """A loader of a file of ``word1 <sep> word2 <sep> score`` lines (``header``: its first line names them)."""
    path = Path(path)

    def load() -> pd.DataFrame:
        frame = pd.read_csv(
            path, sep=sep, header=0 if header else None, names=["word1", "word2", "score"], usecols=[0, 1, 2],
            dtype={"word1": str, "word2": str, "score": float}, keep_default_na=False,
        )  # fmt: skip
        return frame

    return load


class WordSimilarity(Task):
    """Spearman rho (with a bootstrap interval over covered pairs) on each of ``sets``.

    ``sets`` None: every registered set. ``lowercase`` looks words up in lower case (the study's choice: its
    vocabularies are lower case, and WordSim-353 capitalises names such as ``Jerusalem``).
    """

    name: ClassVar[str] = "word_similarity"

    sets: list[str] | None = None
    lowercase: StrictBool = True
    bootstrap: StrictInt = study_field("bootstrap")
    seed: StrictInt = study_field("seed")

    @field_validator("sets")
    @classmethod
    def _registered(cls, sets: list[str] | None) -> list[str] | None:
        if sets is not None:
            if not sets:
                raise ValueError(f"give at least one set; valid: {', '.join(SIMILARITY_SETS)}")
            if SIMILARITY_SETS.unknown(sets):
                raise ValueError(
                    f"unknown set(s) {SIMILARITY_SETS.unknown(sets)}; valid: {', '.join(SIMILARITY_SETS)}"
                )
            return list(dict.fromkeys(sets))
        return sets

    @property
    def benchmarks(self) -> list[str]:
        return list(self.sets) if self.sets else list(SIMILARITY_SETS)

    def parameters(self) -> dict[str, object]:
        return self.model_dump(mode="json") | {"sets": self.benchmarks}

    def load(self) -> dict[str, pd.DataFrame]:
        return {name: SIMILARITY_SETS[name]() for name in self.benchmarks}

    def words(self) -> list[str]:
        words = {w for f in self.load().values() for w in (*f["word1"].astype(str), *f["word2"].astype(str))}
        return sorted({w.lower() for w in words} if self.lowercase else words)

    def run(self, embeddings: Embeddings) -> WordSimilarityResult:
        from wordembed.analyses.word_similarity import evaluate_word_similarity

        analysis = evaluate_word_similarity(
            embeddings, self.load(), lowercase=self.lowercase, n_boot=self.bootstrap, seed=self.seed
        )
        return WordSimilarityResult.from_analysis(self, analysis, embeddings.model)


class WordSimilarityResult(Result):
    """A :class:`Result` with the analysis' ``summary`` and ``pairs``."""

    @classmethod
    def from_analysis(cls, task: WordSimilarity, analysis: Analysis, model: str) -> WordSimilarityResult:
        tables = {SUMMARY_TABLE: analysis.summary, PAIRS_TABLE: analysis.pairs}
        metrics = {"model": model, SECTION: analysis.to_dict()}
        return cls.of(task, SECTION, tables, summary_scores(analysis.summary, model), metrics)

    @property
    def summary(self) -> pd.DataFrame:
        return self.tables[SUMMARY_TABLE]

    @property
    def pairs(self) -> pd.DataFrame:
        return self.tables[PAIRS_TABLE]


def summary_scores(summary: pd.DataFrame, model: str) -> pd.DataFrame:
    """One scores row per benchmark (its rho, interval, covered pairs and coverage)."""
    return melt(
        summary, SCORE_METRICS, coverage="coverage", model=model, task=WordSimilarity.name,
        dataset=summary["benchmark"], variant="raw", level="overall", subset="all", method="cosine",
    )  # fmt: skip


TASKS.register(WordSimilarity.name, WordSimilarity, replace=True)
