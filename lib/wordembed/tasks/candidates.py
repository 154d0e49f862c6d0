"""Which words an analogy solver may answer with: one rule for the CLI and notebook 04.

Why it matters: accuracy depends on the distractors. ``wordembed analogy`` used to rank BATS + WordNet while
notebook 04 ranked BATS + the study vocabulary + the Google words, so the same model got two different
numbers. Now both build the pool with :func:`candidate_pool` (the BATS words, the vocabulary unless the mode
is ``bats``, and the Google words, so BATS and Google share one list), restrict it for ``common`` with
:func:`wordembed.vocabulary.common_candidates` over the coverage of every model of the study (loading those
models is the caller's job), and name it with :func:`candidate_name`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from wordembed.analyses.analogy import Candidates
from wordembed.vocabulary import ANALOGY_CANDIDATE_MODES, analogy_candidates


class CandidateWords(BaseModel):
    """The candidate words (before the model's own coverage is applied), their name and, for ``common``, the
    models whose shared coverage they are. Parameters record ``name``, ``models`` and the count, not the
    words (``candidates.txt`` has them, ``metrics.json`` their sha256)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    words: list[str] = Field(min_length=1, repr=False)
    name: str = "custom"
    models: list[str] = []
    requested: int | None = Field(None, ge=1)
    """How many words were asked for before a model's coverage was applied (None: ``len(words)``)."""

    def ranked(self, embeddings: Any) -> Candidates:
        """The candidates ``embeddings`` cover, as the unit vectors a solver ranks (``describe()`` for records)."""
        from dataclasses import replace

        cand = Candidates.from_embeddings(embeddings, self.words, name=self.name, models=self.models)
        return cand if self.requested is None else replace(cand, requested=self.requested)


def _from_candidates(value: Any) -> Any:
    """An analysis :class:`Candidates` (what a notebook prints and records) as its words, name and count:
    a task re-derives the vectors from the embeddings it runs on, so a post-processed copy ranks its own."""
    if isinstance(value, Candidates):
        return CandidateWords(words=value.words, name=value.name, models=list(value.models), requested=value.requested)
    return value


CandidatesParameter = Annotated[CandidateWords, BeforeValidator(_from_candidates)]
"""A task's ``candidates``: :class:`CandidateWords`, or a :class:`Candidates` built by the caller."""


def candidate_pool(vocabulary: list[str], mode: str) -> list[str]:
    """BATS words, plus ``vocabulary`` unless ``mode`` is ``bats``, plus the Google analogy words; sorted."""
    from wordembed.datasets import bats_words, load_bats, load_google_analogy

    google = load_google_analogy()
    words = set(analogy_candidates(vocabulary, bats_words(load_bats()), mode))
    return sorted(words | set(google[["a", "b", "c", "d"]].to_numpy().ravel()))


def candidate_name(mode: str, vocabulary: str) -> str:
    """``common``, ``bats``, or ``bats+<vocabulary>`` (``bats`` when the vocabulary is BATS itself; a word-list
    file by its stem): what ``metrics.json`` calls the candidate list."""
    if mode not in ANALOGY_CANDIDATE_MODES:
        from wordembed.errors import ParameterError

        raise ParameterError(f"analogy candidates {mode!r}; valid: {', '.join(ANALOGY_CANDIDATE_MODES)}")
    if mode != "bats+vocabulary":
        return mode
    stem = Path(vocabulary).stem if Path(vocabulary).suffix else vocabulary
    return "bats" if stem == "bats" else f"bats+{stem}"


def study_candidates(
    emb: Any, model: str, vocab: list[str], mode: str, vocabulary: str, models: list[str], *, device: str | None = None
) -> Candidates:
    """Notebook 04's candidate answers for ``emb``, the vectors of ``model`` (a key or YAML path):
    :func:`candidate_pool` of ``vocab`` and, for ``common``, only the words every model of ``models`` covers
    (each read from the store: run after 01_embed), named by :func:`candidate_name`. The models are listed by
    reference, as the study gives them, which is what ``metrics.json`` records."""
    from wordembed.sources import get_embeddings
    from wordembed.vocabulary import common_candidates

    words = candidate_pool(vocab, mode)
    listed = [model]
    if mode == "common":  # one vocabulary for every model, so none faces an easier test
        listed = list(dict.fromkeys([model, *models]))
        coverage = {m: emb.words if m == model else get_embeddings(m, words, device=device, progress=False).words
                    for m in listed}  # fmt: skip
        words = common_candidates(words, coverage)
    return Candidates.from_embeddings(emb, words, name=candidate_name(mode, vocabulary), models=listed)
