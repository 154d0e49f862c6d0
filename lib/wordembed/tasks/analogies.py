"""The analogy task: BATS 3.0 or the Google set, solved by :mod:`wordembed.analyses.analogy`.

Files (see :mod:`wordembed.tasks.result` for the folder contract), for ``dataset`` D (``bats`` or ``google``):

``D_questions.parquet``
    one row per (method, question): prediction, pessimistic rank, mid-rank, covered, degenerate (Parquet only).
``D_by_relation``, ``D_by_group``, ``D_overall`` (CSV + Parquet)
    accuracy, MRR, top-5 with ``*_low`` / ``*_high`` cluster-bootstrap intervals, coverage, degenerate counts;
    per relation (Google: section), per group and kind (``level`` column), and overall.
``candidates.txt``
    the candidate answers ranked, one per line (``metrics.json``'s ``candidates`` has their count and sha256).
``scores``
    task ``analogies``; levels ``overall`` (subset ``all``), ``group`` / ``kind`` and ``relation``; metrics
    ``accuracy``, ``mrr``, ``top5`` (with intervals, ``n`` = questions), ``accuracy_macro`` (``n`` = clusters)
    and ``accuracy_covered`` (``n`` = covered questions).
``metrics.json``
    ``D``: the analysis' record (``setup``, ``overall`` and ``by_group`` by method); ``model``; ``candidates``.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

import pandas as pd
from pydantic import StrictBool, StrictInt, field_validator, model_validator

from wordembed.analyses.analogy import ANSWER_RULES, AnalogyResult, Candidates
from wordembed.embeddings import Embeddings
from wordembed.study import PARAMETERS
from wordembed.tasks.base import TASKS, Task, study_field
from wordembed.tasks.candidates import CandidatesParameter, CandidateWords, candidate_pool
from wordembed.tasks.result import Result
from wordembed.tasks.scores import Metric, melt
from wordembed.tasks.solvers import SOLVERS

CANDIDATES_FILE = "candidates.txt"
DEFAULT_CANDIDATES = "bats+wordnet"
SUMMARIES: tuple[str, ...] = ("by_relation", "by_group", "overall")
SCORE_METRICS: tuple[Metric, ...] = (
    Metric("accuracy", "accuracy", "questions", ("accuracy_low", "accuracy_high")),
    Metric("mrr", "mrr", "questions", ("mrr_low", "mrr_high")),
    Metric("top5", "top5", "questions", ("top5_low", "top5_high")),
    Metric("accuracy_macro", "accuracy_macro", "clusters"),
    Metric("accuracy_covered", "accuracy_covered", "covered"),
)


def default_methods(dataset: str) -> list[str]:
    """The study's ``analogy_methods`` default, less the solvers ``dataset`` has no questions for."""
    return [m for m in PARAMETERS["analogy_methods"].default if dataset in SOLVERS[m].datasets]


def supported_methods(dataset: str, methods: list[str]) -> list[str]:
    """``methods`` less those ``dataset`` cannot ask (Google has no relation sets for 3CosAvg / LRCos), or
    3CosAdd when none is left: how a study's ``analogy_methods`` apply to the Google set."""
    kept = [m for m in methods if m in SOLVERS and dataset in SOLVERS[m].datasets]
    return kept or ["3CosAdd"]


class Analogies(Task):
    """Solve every question of ``dataset`` with each of ``methods``, ranking ``candidates``.

    ``candidates``: :class:`CandidateWords` or an analysis :class:`Candidates` (its words are ranked with the
    vectors of the embeddings the task runs on); None: BATS + every WordNet lemma + the Google words
    (``bats+wordnet``, read again on each use: pass a list to a task you run more than once). ``bootstrap``
    0 gives no intervals. ``answer_rule`` applies to BATS (Google lists one answer per question).
    """

    name: ClassVar[str] = "analogies"

    dataset: Literal["bats", "google"] = "bats"
    methods: list[str] | None = None
    candidates: CandidatesParameter | None = None
    keep_question_words: StrictBool = study_field("keep_question_words")
    answer_rule: Literal[ANSWER_RULES] = "first_present"  # type: ignore[valid-type]
    bootstrap: StrictInt = study_field("bootstrap")
    seed: StrictInt = study_field("seed")

    @field_validator("methods")
    @classmethod
    def _known(cls, methods: list[str] | None) -> list[str] | None:
        if methods is not None:
            if not methods:
                raise ValueError(f"give at least one solver; valid: {', '.join(SOLVERS)}")
            if SOLVERS.unknown(methods):
                raise ValueError(f"unknown solver(s) {SOLVERS.unknown(methods)}; valid: {', '.join(SOLVERS)}")
            return list(dict.fromkeys(methods))
        return methods

    @model_validator(mode="after")
    def _fits_dataset(self) -> Analogies:
        bad = [m for m in self.methods or () if self.dataset not in SOLVERS[m].datasets]
        if bad:
            valid = [m for m in SOLVERS if self.dataset in SOLVERS[m].datasets]
            raise ValueError(f"methods {bad} cannot be asked on {self.dataset}; valid: {', '.join(valid)}")
        if self.dataset == "google" and self.answer_rule != "first_present":
            raise ValueError("answer_rule applies to BATS only (each Google question has one answer)")
        return self

    @property
    def solvers(self) -> list[str]:
        return list(self.methods) if self.methods else default_methods(self.dataset)

    def parameters(self) -> dict[str, Any]:
        out = self.model_dump(mode="json", exclude={"candidates"})
        out["methods"] = self.solvers
        cand = self.candidate_words()
        out["candidates"] = {"name": cand.name, "models": cand.models, "requested": cand.requested or len(cand.words)}
        return out

    def candidate_words(self) -> CandidateWords:
        if self.candidates is not None:
            return self.candidates
        from wordembed.vocabulary import select_vocabulary

        return CandidateWords(words=candidate_pool(select_vocabulary("wordnet"), "bats+vocabulary"), name=DEFAULT_CANDIDATES)

    def _data(self) -> Any:
        from wordembed.datasets import load_bats, load_google_analogy

        return load_bats() if self.dataset == "bats" else load_google_analogy()

    def dataset_words(self) -> list[str]:
        from wordembed.datasets import bats_words

        data = self._data()
        if self.dataset == "bats":
            return bats_words(data)
        return sorted(set(data[["a", "b", "c", "d"]].to_numpy().ravel()))

    def words(self) -> list[str]:
        return sorted(set(self.dataset_words()) | set(self.candidate_words().words))

    def run(self, embeddings: Embeddings) -> AnalogiesResult:
        from wordembed.analyses.analogy import solve

        cand = self.candidate_words().ranked(embeddings)
        options = {
            "methods": self.solvers,
            "candidates": cand,
            "exclude_question_words": not self.keep_question_words,
            "n_boot": self.bootstrap,
            "seed": self.seed,
        }
        if self.dataset == "bats":
            options["answer_rule"] = self.answer_rule
        analysis = solve(embeddings, self._data(), dataset=self.dataset, **options)
        return AnalogiesResult.from_analysis(self, analysis, cand, embeddings.model)


class AnalogiesResult(Result):
    """A :class:`Result` with the analysis' tables by their short names (``overall``, ``by_relation`` ...)."""

    @classmethod
    def from_analysis(cls, task: Analogies, analysis: AnalogyResult, cand: Candidates, model: str) -> AnalogiesResult:
        d = task.dataset
        tables = {f"{d}_questions": analysis.questions} | {f"{d}_{s}": getattr(analysis, s) for s in SUMMARIES}
        metrics = {"model": model, "candidates": cand.describe(), d: analysis.to_dict()}
        texts = {CANDIDATES_FILE: "\n".join(cand.words) + "\n"}
        scores = analysis_scores(analysis, model, d)
        return cls.of(task, d, tables, scores, metrics, texts=texts, parquet_only=(f"{d}_questions",))

    @property
    def dataset(self) -> str:
        sections = [s for s, v in self.setup.items() if v.get("task") == Analogies.name]
        if len(sections) != 1:
            raise ValueError(f"an analogies result has one dataset; this one has {sections or 'none'}")
        return sections[0]

    def table(self, name: str) -> pd.DataFrame:
        return self.tables[f"{self.dataset}_{name}"]

    @property
    def questions(self) -> pd.DataFrame:
        return self.table("questions")

    @property
    def by_relation(self) -> pd.DataFrame:
        return self.table("by_relation")

    @property
    def by_group(self) -> pd.DataFrame:
        return self.table("by_group")

    @property
    def overall(self) -> pd.DataFrame:
        return self.table("overall")

    def analysis(self) -> AnalogyResult:
        """The analysis' own result (what :func:`solve_bats` returned), e.g. for :func:`analogy_controls`."""
        return AnalogyResult(
            self.questions, self.by_relation, self.by_group, self.overall, self.metrics[self.dataset]["setup"]
        )


def analysis_scores(analysis: AnalogyResult, model: str, dataset: str) -> pd.DataFrame:
    """The long scores of one analogy result: every summary row, every metric of :data:`SCORE_METRICS`."""
    labels = {"model": model, "task": Analogies.name, "dataset": dataset, "variant": "raw"}
    overall, group, relation = analysis.overall, analysis.by_group, analysis.by_relation
    parts = [
        melt(overall, SCORE_METRICS, coverage="coverage", level="overall", subset="all", method=overall["method"], **labels),
        melt(group, SCORE_METRICS, coverage="coverage", level=group["level"], subset=group["group"],
             method=group["method"], **labels),
        melt(relation, SCORE_METRICS, coverage="coverage", level="relation", subset=relation["relation"],
             method=relation["method"], **labels),
    ]  # fmt: skip
    return pd.concat(parts, ignore_index=True)


TASKS.register(Analogies.name, Analogies, replace=True)
