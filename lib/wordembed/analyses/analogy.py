"""Word analogies by vector arithmetic: BATS 3.0 (six solvers) and the Google set, batched.

Naming follows the BATS authors' ``vecto`` (``vecto.benchmarks.analogy.solvers``): a question is
``a : a' :: b : ?`` where ``(a, a')`` is a *train* pair and ``(b, b')`` the *test* pair of the same relation.
The expected answers are every word listed for ``b`` in the data set; a prediction is correct when it is any
of them.

Solvers (all on unit-length vectors; ``d`` runs over the candidate vocabulary, ``cos`` is the cosine):

- ``3CosAdd``: ``argmax cos(d, a' - a + b)`` (vecto ``LinearOffset``).
- ``3CosMul``: ``argmax s(d, a') s(d, b) / (s(d, a) + 0.001)`` with ``s = (cos + 1) / 2`` (vecto ``ThreeCosMul``).
- ``PairDistance``: ``argmax cos(d - b, a' - a)``, vecto's ``PairDistance`` (Levy & Goldberg's PairDirection):
  the offset from ``b`` to the candidate most parallel to the offset from ``a`` to ``a'``. A candidate equal
  to ``b`` scores 0, as in vecto.
- ``SimilarToB``: the baseline ``argmax cos(d, b)``, i.e. the nearest neighbour of the question word ``b``
  ignoring the pair ``(a, a')``; asked on the same questions and with the same exclusions as ``3CosAdd``, so
  the two compare question by question (vecto asks it once per test pair with only ``b`` excluded).
- ``3CosAvg``: ``argmax cos(d, mean(a') - mean(a) + b)`` with the means over every other pair of the relation.
- ``LRCos``: ``argmax P(d in target class) * cos(d, b)`` where ``P`` is a logistic regression (liblinear,
  balanced class weights, C = 1) fitted, for each test pair, on the other pairs' answers (label 1) against
  their sources repeated four times and as many random candidate words (label 0), exactly vecto's
  ``gen_vec_single`` recipe. The random words come from ``lrcos_noise`` (default :func:`seeded_noise`:
  reproducible per seed, relation and fold); vecto draws them with Python's unseeded ``random.choice``.

Each solver is one entry of :data:`wordembed.tasks.solvers.SOLVERS` (its left and right terms and how they
combine); this module dispatches once, on the entry's ``kind`` (:data:`KINDS`: pair-wise, set-based or
fitted), and BATS relations and Google sections are solved alike, as units of pairs (:func:`solve`). LRCos's
logistic fit is :mod:`wordembed.analyses.logistic` (numpy or torch, one implementation).

Questions. The pair-wise solvers (3CosAdd, 3CosMul, PairDistance, SimilarToB) ask every ordered pair of distinct
pairs of a relation: 50 x 49 = 2,450 questions per BATS relation. The set-based ones (3CosAvg, LRCos) ask one
question per test pair with all the other pairs as training set (vecto's leave-one-out): 50 per relation.

Which answer of ``a`` is ``a'``: BATS lists several answers for 711 sources. ``answer_rule="first_present"``
(default) takes the first listed answer the model has a vector for; ``"first"`` takes the first listed answer
only, and the pair is unusable when the model lacks it, which is vecto's convention (``is_pair_missing``
checks ``answers[0]``). The same rule decides whether a test pair is usable.

Excluded candidates (``exclude_question_words=True``, the default, vecto's ``exclude=True``): for the
pair-wise solvers ``a``, every listed answer of ``a``, and ``b``; for the set-based solvers only ``b`` (there is
no single ``a``), as in vecto. A correct answer that is itself excluded cannot be found. The honest mode
(``False``) ranks every candidate, so a solver that returns ``b`` is scored as wrong.

Coverage: a question is *covered* when the model has vectors for ``a``, ``a'`` and ``b`` (by the rule above;
set-based: ``b``, its ``b'`` and at least one usable training pair) and at least one answer of ``b`` is a
candidate. Uncovered questions count as wrong in every accuracy; the covered share is reported beside it.

Ranks and ties: a question is *correct* only when its prediction, the top non-excluded candidate, is an
answer, with ties broken against the answer. The rank (column ``rank``) is pessimistic: 1 + the number of
non-excluded candidates scoring strictly higher than the best-scoring answer + the number of non-excluded
*non-answer* candidates scoring exactly the same as it (answers tied with each other do not push each other
down). Accuracy is rank == 1 and top-5 is rank <= 5 on this rank, so a tie at the top is a wrong answer and
``prediction`` is then the tied non-answer; MRR averages ``1 / rank_mid``, the mid-rank that splits ties
evenly (1 + higher + tied non-answers / 2). Without ties the two ranks agree with vecto's 0-based ``rank`` + 1.

Degenerate questions: when every non-excluded candidate scores the same (max == min), the solver has said
nothing, e.g. PairDistance for a train pair with ``a == a'`` (``series -> series`` in BATS I02: the offset
``a' - a`` is zero, so every candidate scores 0; vecto's scores are NaN there and it counts them wrong). Such
a question is wrong: ``degenerate`` is True, ``rank`` and ``rank_mid`` are NaN, the reciprocal rank is 0 and the
prediction is empty; the summaries count them (column ``degenerate``). The rank is also NaN (reciprocal rank
0) for uncovered questions and when every answer is excluded.

Google set: ``a b c d`` is ``a : a' :: b : b'`` with the single answer ``d``; excluded are ``a``, ``b``, ``c``
(gensim's and word2vec's rule, the same as ours). Each section is pairs crossed with each other, so it is
solved like a BATS relation on the grid of its pairs and the asked questions are read off the grid.

Speed: a relation's distinct words ``U`` (about 100) are scored against all candidates once,
``S = U @ C.T``; every question's scores are rows of ``S`` combined by broadcasting (3CosAdd ranks like
``S[a'] - S[a] + S[b]`` since candidates are unit vectors), in blocks of questions that bound memory. Ranks are
counted (an argmax and two comparison passes, ``>`` and ``==``), so no sort or top-k selection is needed. No
Python loop runs over questions. LRCos fits all folds of a relation in one batched Newton's method (the rows
the folds share are one matrix with per-fold weights) and ranks the float64 scores without making them for
every candidate: only candidates with ``cos(d, b)`` at least the best answer's score can reach it, and a
float32 pass decides all but the few whose score is too close to call (see :func:`_lrcos_outcome`).

Summaries and intervals: every table row (``by_relation``, ``by_group``, ``overall``) has ``accuracy``, ``mrr``
and ``top5`` (means over its questions, uncovered ones counting as wrong), each with a 95 % percentile
interval ``*_low`` / ``*_high`` from a *cluster* bootstrap (``cluster_bootstrap_ratio`` of
:mod:`wordembed.analyses.bootstrap` on the clusters' sums and counts), because the questions are not
independent: the 2,450 questions of a BATS relation come from its 50 pairs, and the 40 relations are the
real sample. Overall
and group (and kind) rows resample relations (Google: sections); a relation's (section's) row resamples its
test pairs ``(b, b')``. Every BATS relation has the same number of questions, so an overall or group BATS
accuracy is also the mean over relations; on the Google set it stays the micro accuracy gensim reports (a
ratio over sections of unequal size). ``accuracy_macro`` is the unweighted mean of the row's clusters'
accuracies (relations or sections; test pairs in a relation's row) and ``clusters`` their number; fewer than
two clusters, or ``n_boot=0``, give NaN intervals. ``setup["interval_unit"]`` records the units.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Protocol

import numpy as np
import pandas as pd

from wordembed.analyses.bootstrap import DEFAULT_REPLICATES, cluster_bootstrap_ratio, cluster_totals
from wordembed.analyses.logistic import TORCH_NEWTON_MIN_DIMS as TORCH_NEWTON_MIN_DIMS
from wordembed.analyses.logistic import fit_logistic_folds as fit_logistic_folds
from wordembed.analyses.logistic import newton_padded, newton_shared
from wordembed.embeddings import Embeddings
from wordembed.errors import ParameterError
from wordembed.tasks.solvers import EPSILON as EPSILON
from wordembed.tasks.solvers import SOLVERS, Solver
from wordembed.util import thread_pool, unit_rows, usable_cores

# Snapshots of the registry at import (for the CLI's choices and docs); solving reads SOLVERS itself, so a
# solver added later (``SOLVERS.temporary``) is accepted everywhere.
METHODS: tuple[str, ...] = SOLVERS.names()
PAIRWISE_METHODS: tuple[str, ...] = tuple(m for m in SOLVERS if SOLVERS[m].kind == "pairwise")
SET_METHODS: tuple[str, ...] = tuple(m for m in SOLVERS if SOLVERS[m].kind != "pairwise")
GOOGLE_METHODS: tuple[str, ...] = tuple(m for m in SOLVERS if "google" in SOLVERS[m].datasets)
ANSWER_RULES: tuple[str, ...] = ("first_present", "first")
LRCOS_SOLVERS: tuple[str, ...] = ("newton", "liblinear")
TOP_K = 5
LRCOS_SOURCE_REPEATS = 4
BLOCK_BYTES = 16 * 2**20
CI_LEVEL = 0.95
SCORES: tuple[tuple[str, str], ...] = (("accuracy", "correct"), ("mrr", "reciprocal_rank"), ("top5", "top5"))
"""Summary name and the per-question column it averages."""

_newton_numpy = newton_padded  # its old name here (tests compare the paths by it)

NoiseSampler = Callable[[str, int, int], np.ndarray]
"""``(relation id, fold, k) -> k candidate row indices`` used as LRCos's random negatives."""


class RelationLike(Protocol):
    id: str
    name: str
    group: str
    kind: str
    pairs: tuple[tuple[str, tuple[str, ...]], ...]


@dataclass
class Candidates:
    """The words a solver may answer with, as unit vectors (rows of zeros stay zero).

    ``models``: when the list was restricted to the words several models cover (a cross-model comparison
    asks every model the same test), the models it was built from; recorded by :meth:`describe`.
    """

    words: list[str]
    vectors: np.ndarray
    requested: int
    name: str = ""
    models: tuple[str, ...] = ()

    @classmethod
    def from_embeddings(
        cls,
        embeddings: Embeddings,
        words: Iterable[str] | None = None,
        *,
        name: str = "",
        models: Sequence[str] = (),
    ) -> Candidates:
        """The covered words among ``words`` (deduplicated, in order); all the model's words when None."""
        if words is None:
            wanted = list(embeddings.words)
        else:
            wanted = list(dict.fromkeys(words))
        rows = embeddings.rows(wanted)
        keep = rows >= 0
        kept = [w for w, k in zip(wanted, keep, strict=True) if k]
        if not kept:
            raise ParameterError(
                f"candidates: none of the {len(wanted)} candidate words has a vector in {embeddings.model or 'the model'}"
            )
        return cls(
            kept,
            unit_rows(embeddings.vectors[rows[keep]]),
            requested=len(wanted),
            name=name,
            models=tuple(models),
        )

    @cached_property
    def index(self) -> dict[str, int]:
        return {w: i for i, w in enumerate(self.words)}

    @cached_property
    def squared_norms(self) -> np.ndarray:
        """1 for each candidate, 0 for a zero vector (PairDistance's ``||d - b||`` needs it)."""
        return np.einsum("ij,ij->i", self.vectors, self.vectors)

    def fingerprint(self) -> str:
        """sha256 of the candidate words (newline-joined), so results say exactly which vocabulary was ranked."""
        return self._fingerprint

    @cached_property
    def _fingerprint(self) -> str:
        # once per candidate list (like ``index``): every solve records it, and hashing 50,000 words is ms
        return hashlib.sha256("\n".join(self.words).encode()).hexdigest()

    @cached_property
    def _words_array(self) -> np.ndarray:
        """The words as an object array plus ``""`` last (prediction -1): built once, not per relation."""
        return np.array([*self.words, ""], dtype=object)

    def describe(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "name": self.name,
            "size": len(self.words),
            "requested": self.requested,
            "sha256": self.fingerprint(),
        }
        if self.models:
            out["models"] = list(self.models)
        return out


def default_candidates(extra: Iterable[str] = ()) -> list[str]:
    """The default candidate vocabulary: every BATS word plus the WordNet lemmas, plus ``extra`` words."""
    from wordembed.datasets import bats_words, load_bats, load_wordnet_lemmas

    words = set(bats_words(load_bats())) | set(load_wordnet_lemmas()) | set(extra)
    return sorted(words)


# --------------------------------------------------------------------------------------------------------
# Results
# --------------------------------------------------------------------------------------------------------


@dataclass
class AnalogyResult:
    """Per-question table and its summaries; ``to_dict()`` is the metrics JSON."""

    questions: pd.DataFrame
    by_relation: pd.DataFrame
    by_group: pd.DataFrame
    overall: pd.DataFrame
    setup: dict[str, Any] = field(default_factory=dict)

    def tables(self) -> dict[str, pd.DataFrame]:
        return {
            "analogy_questions": self.questions,
            "analogy_by_relation": self.by_relation,
            "analogy_by_group": self.by_group,
            "analogy_overall": self.overall,
        }

    def to_dict(self) -> dict[str, Any]:
        overall = {
            row["method"]: {k: v for k, v in row.items() if k != "method"}
            for row in self.overall.to_dict("records")
        }
        groups: dict[str, dict[str, Any]] = {}
        for row in self.by_group.to_dict("records"):
            groups.setdefault(row["method"], {})[row["group"]] = {
                k: v for k, v in row.items() if k not in ("method", "group")
            }
        return {"setup": self.setup, "overall": overall, "by_group": groups}


# --------------------------------------------------------------------------------------------------------
# Scoring kernels
# --------------------------------------------------------------------------------------------------------


@dataclass
class _Outcome:
    """What ranking the candidates yields for each question (aligned arrays: a batch, a grid or a table).

    ``rank``: pessimistic rank of the best answer (ties broken against it), NaN where undefined (no findable
    answer, a degenerate question, or a question not asked); ``mid``: its mid-rank (ties split evenly);
    ``degenerate``: every non-excluded candidate scored the same; ``pred``: candidate column of the top
    non-excluded candidate, a non-answer among tied ones, -1 for none.
    """

    rank: np.ndarray
    mid: np.ndarray
    degenerate: np.ndarray
    pred: np.ndarray

    @classmethod
    def blank(cls, shape: int | tuple[int, ...]) -> _Outcome:
        return cls(
            np.full(shape, np.nan),
            np.full(shape, np.nan),
            np.zeros(shape, dtype=bool),
            np.full(shape, -1, dtype=np.int64),
        )

    def __getitem__(self, idx: Any) -> _Outcome:
        return _Outcome(self.rank[idx], self.mid[idx], self.degenerate[idx], self.pred[idx])

    def __setitem__(self, idx: Any, other: _Outcome) -> None:
        self.rank[idx] = other.rank
        self.mid[idx] = other.mid
        self.degenerate[idx] = other.degenerate
        self.pred[idx] = other.pred

    def reshape(self, *shape: int) -> _Outcome:
        return _Outcome(*(x.reshape(shape) for x in (self.rank, self.mid, self.degenerate, self.pred)))

    def where(self, keep: np.ndarray) -> _Outcome:
        """The same, undefined wherever ``keep`` is False (questions that are not covered)."""
        return _Outcome(
            np.where(keep, self.rank, np.nan),
            np.where(keep, self.mid, np.nan),
            keep & self.degenerate,
            np.where(keep, self.pred, -1),
        )


def _distinct(cols: np.ndarray) -> np.ndarray:
    """Candidate columns per row with repeats within a row replaced by -1 (so each column counts once)."""
    out = np.sort(cols, axis=1)
    if out.shape[1] > 1:
        repeat = out[:, 1:] == out[:, :-1]
        out[:, 1:][repeat] = -1
    return out


def _row_counts(
    condition: Callable[..., np.ndarray], scores: np.ndarray, ref: np.ndarray, mask: np.ndarray
) -> np.ndarray:
    """Per row, how many ``condition(scores, ref)`` hold; ``mask`` is a reused bool buffer of the same shape.

    Into a reused buffer and summed as bytes: ``count_nonzero(cond, axis=1)`` allocates a fresh (rows, V)
    temporary and casts every element; this took half its time on a 16 MiB block (0.9 against 1.7 ms), which
    pays for the second comparison (``==``) that the tie rules need.
    """
    condition(scores, ref, out=mask)
    return mask.view(np.uint8).sum(axis=1, dtype=np.int32).astype(np.int64)


def _finish(
    scores: np.ndarray, excluded: np.ndarray | None, answers: np.ndarray, mask: np.ndarray | None = None
) -> _Outcome:
    """Rank of the best answer and the prediction for each row of ``scores`` (modified in place).

    ``excluded`` and ``answers`` are candidate columns per row, padded with -1; ``mask``: an optional bool
    buffer shaped like ``scores``, reused between blocks. Ties count against the answer
    (pessimistic rank: 1 + candidates above the best answer + non-answers level with it), so a question is
    correct only when its prediction, the top non-excluded candidate, is an answer. Three passes over the
    block (argmax, ``>``, ``==``); the per-row counts of tied answers and of distinct excluded columns come
    from the small ``(q, A)`` and ``(q, E)`` index arrays, so degenerate rows (every non-excluded candidate
    level) need no extra pass: they are the rows whose best answer is level with every live candidate.
    """
    q, v = scores.shape  # scores are finite: every solver's formula is, on finite vectors
    rows = np.arange(q)
    n_excluded = np.zeros(q, dtype=np.int64)
    if excluded is not None and excluded.size:
        distinct = _distinct(excluded)
        ok = distinct >= 0
        scores[np.broadcast_to(rows[:, None], distinct.shape)[ok], distinct[ok]] = -np.inf
        n_excluded = ok.sum(axis=1)
    live = v - n_excluded  # non-excluded candidates per row
    ans = _distinct(answers)
    valid = ans >= 0
    vals = scores[rows[:, None], np.maximum(ans, 0)]
    vals[~valid] = -np.inf  # an excluded answer is -inf too: it cannot be found
    best = vals.max(axis=1) if vals.shape[1] else np.full(q, -np.inf, dtype=scores.dtype)
    findable = np.isfinite(best)
    tied_answers = np.count_nonzero(valid & (vals == best[:, None]), axis=1)
    pred = scores.argmax(axis=1)
    if mask is None or mask.shape != scores.shape:
        mask = np.empty(scores.shape, dtype=bool)
    greater = _row_counts(np.greater, scores, best[:, None], mask)
    level = _row_counts(np.equal, scores, best[:, None], mask)  # tied answers + tied non-answers
    tied_others = level - tied_answers
    degenerate = findable & (level == live)  # the best answer is level with every live candidate
    if (~findable).any():  # no answer to rank: a degenerate row needs its own look (rare rows only)
        lost = np.flatnonzero(~findable & (live > 0))
        top = scores[lost, pred[lost]]
        degenerate[lost] = np.count_nonzero(scores[lost] == top[:, None], axis=1) == live[lost]
    ok = findable & ~degenerate
    rank = np.where(ok, 1.0 + greater + tied_others, np.nan)
    mid = np.where(ok, 1.0 + greater + tied_others / 2.0, np.nan)
    # a tie between an answer and a non-answer at the top: the prediction is the non-answer
    fix = np.flatnonzero(ok & (greater == 0) & (tied_others > 0))
    if fix.size:
        sub = scores[fix]
        a = ans[fix]
        r = np.broadcast_to(np.arange(fix.size)[:, None], a.shape)
        sub[r[a >= 0], a[a >= 0]] = -np.inf
        pred[fix] = sub.argmax(axis=1)
    pred = np.where(degenerate | (live == 0), -1, pred)
    return _Outcome(rank, mid, degenerate, pred)


def _block_rows(v: int, itemsize: int = 4) -> int:
    return max(1, BLOCK_BYTES // max(1, v * itemsize))


def _pad(lists: Sequence[Sequence[int]], fill: int = -1) -> np.ndarray:
    width = max((len(x) for x in lists), default=0)
    out = np.full((len(lists), max(width, 1)), fill, dtype=np.int64)
    for i, x in enumerate(lists):  # over pairs (~50), not questions
        out[i, : len(x)] = x
    return out


@dataclass
class _PairTable:
    """Pairs of one relation (or Google section) mapped to rows of ``U`` (model vectors) and candidate columns."""

    sources: list[str]
    answers: list[tuple[str, ...]]
    src_u: np.ndarray  # row of the source in U, -1 if the model lacks it
    ans_u: np.ndarray  # row of the chosen answer a' in U, -1 if none
    chosen: list[str]  # the chosen answer word ('' if none)
    src_col: np.ndarray  # candidate column of the source, -1 if not a candidate
    ans_cols: np.ndarray  # (n, A) candidate columns of every listed answer, -1 padded
    usable: np.ndarray  # source and chosen answer have vectors

    @property
    def n(self) -> int:
        return len(self.sources)

    def findable(self) -> np.ndarray:
        return (self.ans_cols >= 0).any(axis=1)


def _pair_table(
    pairs: Sequence[tuple[str, Sequence[str]]],
    model_index: dict[str, int],
    cand_index: dict[str, int],
    u_index: dict[str, int],
    answer_rule: str,
) -> _PairTable:
    sources = [p[0] for p in pairs]
    answers = [tuple(p[1]) for p in pairs]
    chosen = []
    for ans in answers:
        if answer_rule == "first":
            pick = ans[0] if ans and ans[0] in model_index else ""
        else:
            pick = next((w for w in ans if w in model_index), "")
        chosen.append(pick)
    src_u = np.array([u_index.get(s, -1) if s in model_index else -1 for s in sources], dtype=np.int64)
    ans_u = np.array([u_index.get(c, -1) if c else -1 for c in chosen], dtype=np.int64)
    src_col = np.array([cand_index.get(s, -1) for s in sources], dtype=np.int64)
    ans_cols = _pad([[cand_index[w] for w in ans if w in cand_index] for ans in answers])
    return _PairTable(sources, answers, src_u, ans_u, chosen, src_col, ans_cols, (src_u >= 0) & (ans_u >= 0))


class _Scorer:
    """Rows of ``S = U @ C.T`` for the words of one relation and the per-method terms built from them.

    The terms themselves are the registry's (:data:`wordembed.tasks.solvers.SOLVERS`): ``left``, ``right``
    and ``combine`` look the method up there, so a solver is defined once, in one place.
    """

    def __init__(
        self, words: list[str], embeddings: Embeddings, cand: Candidates, s: np.ndarray | None = None
    ) -> None:
        """``s``: ``U @ C.T`` when it was made already (rows of a group's product, see :func:`_solve_units`)."""
        self.words = words
        rows = embeddings.rows(words)
        if (rows < 0).any():
            raise AssertionError("scorer words must all have vectors")
        self.u = (
            unit_rows(embeddings.vectors[rows]) if words else np.zeros((0, cand.vectors.shape[1]), np.float32)
        )
        self.cand = cand
        self.cand_sq = cand.squared_norms
        if s is not None:
            self.__dict__["s"] = s  # the cached_property's slot

    @cached_property
    def s(self) -> np.ndarray:
        """``U @ C.T`` (U, V) float32, made on first use: LRCos alone needs only the rows of its ``b`` words."""
        return self.u @ self.cand.vectors.T

    @cached_property
    def gram(self) -> np.ndarray:
        return self.u @ self.u.T

    def left(self, method: str, ia: np.ndarray, iap: np.ndarray) -> np.ndarray:
        """Per train pair term L (k, V); ia/iap are rows of U."""
        return _terms(method).left(self.s[ia], self.s[iap])

    def right(self, method: str, ib: np.ndarray) -> np.ndarray:
        """Per test word term R (m, V)."""
        return _terms(method).right(self.s[ib], self.cand_sq)

    def shift(self, method: str, ib: np.ndarray, ia: np.ndarray, iap: np.ndarray) -> np.ndarray | None:
        """``b . (a' - a)`` as (m, k, 1) for a solver that asks for it (PairDistance), else None."""
        if not SOLVERS[method].needs_shift:
            return None
        g = self.gram[ib]  # (m, U)
        return (g[:, iap] - g[:, ia])[:, :, None]

    @staticmethod
    def combine(
        method: str,
        left: np.ndarray,
        right: np.ndarray,
        shift: np.ndarray | None = None,
        out: np.ndarray | None = None,
    ) -> np.ndarray:
        """float32 scores from broadcastable L and R; ``shift`` is PairDistance's b.(a' - a) term.

        ``out`` (the broadcast shape) is reused between blocks: fresh large arrays cost page faults.
        """
        if out is None:
            out = np.empty(np.broadcast_shapes(left.shape, right.shape), dtype=np.float32)
        return _terms(method).combine(left, right, shift, out)


def _terms(method: str) -> Solver:
    """The registry entry of a solver scored by its terms (every kind but ``fitted``)."""
    solver = SOLVERS[method]
    if solver.left is None or solver.right is None or solver.combine is None:
        valid = [m for m in SOLVERS if SOLVERS[m].combine is not None]
        raise ParameterError(f"method {method!r} has no left/right terms; valid: {', '.join(valid)}")
    return solver


def _check_methods(methods: Sequence[str], dataset: str) -> list[str]:
    """``methods`` deduplicated, each a registered solver that ``dataset`` can ask (read live, so a solver
    added with ``SOLVERS.temporary`` is accepted)."""
    methods = list(dict.fromkeys(methods))
    allowed = [m for m in SOLVERS if dataset in SOLVERS[m].datasets]
    bad = [m for m in methods if m not in allowed]
    if bad or not methods:
        raise ParameterError(f"analogy method(s) {bad or methods!r} unknown; valid: {', '.join(allowed)}")
    return methods


def _check_rule(answer_rule: str) -> None:
    if answer_rule not in ANSWER_RULES:
        raise ParameterError(f"answer_rule={answer_rule!r}; valid: {', '.join(ANSWER_RULES)}")


# --------------------------------------------------------------------------------------------------------
# One relation (BATS) or section (Google), by solver kind
# --------------------------------------------------------------------------------------------------------


@dataclass
class _Unit:
    """What one relation (BATS) or section (Google) asks: its pairs, its words and its pair-wise questions.

    ``train``/``test``: the asked (train pair, test pair) questions, as rows of ``table``; BATS asks every
    ordered pair of distinct pairs, the Google set the ones its file lists.
    """

    id: str
    table: _PairTable
    words: list[str]
    train: np.ndarray
    test: np.ndarray


Questions = tuple[np.ndarray, np.ndarray, np.ndarray, "_Outcome"]
"""``(train, test, covered, outcome)`` of one solver on one unit (train -1: a set-based question)."""


@dataclass(frozen=True)
class _Context:
    """What every solver kind may need beside the unit: the candidates and the run's options."""

    cand: Candidates
    exclude: bool
    noise: NoiseSampler
    lrcos_solver: str


def _pairwise_questions(method: str, unit: _Unit, scorer: _Scorer, ctx: _Context) -> Questions:
    """The unit's asked questions, read off the grid of every (test, train) pair."""
    table, train, test = unit.table, unit.train, unit.test
    covered = table.usable[train] & table.usable[test] & table.findable()[test]
    grid = _pairwise_grid(method, table, scorer, ctx.exclude, np.unique(test))
    return train, test, covered, grid[test, train].where(covered)


def _pairwise_grid(
    method: str, table: _PairTable, scorer: _Scorer, exclude: bool, tests: np.ndarray | None = None
) -> _Outcome:
    """The outcome of every (test j, train i) question, an ``(n, n)`` grid (undefined where not asked).

    Scores of a block of test pairs against all train pairs come from one broadcast of ``L[i]`` with
    ``R[j]`` into a reused buffer; the diagonal (i = j) is computed and ignored (2 % of the work). The blocks
    are shared out over :func:`solver_threads` workers; each row's outcome depends on its own scores alone,
    so the grid is the same with any number of them.
    """
    n = table.n
    v = scorer.s.shape[1]
    grid = _Outcome.blank((n, n))
    ok_test = table.usable & table.findable()
    if tests is not None:
        ok_test &= np.isin(np.arange(n), tests)
    usable_test = np.flatnonzero(ok_test)
    if not table.usable.any() or usable_test.size == 0:
        return grid
    ia = np.maximum(table.src_u, 0)
    iap = np.maximum(table.ans_u, 0)
    left = scorer.left(method, ia, iap)  # (n, V)
    excl_pair = _pad([[c for c in [table.src_col[i], *table.ans_cols[i]] if c >= 0] for i in range(n)])
    per_block = max(1, _block_rows(v) // n)
    if SOLVERS[method].needs_shift:
        scorer.gram  # noqa: B018 - made here, once, before the worker threads read it
    starts = range(0, usable_test.size, per_block)
    workers = min(solver_threads(), len(starts))

    def work(k: int) -> None:
        """Blocks k, k + workers, ...: each worker has its own buffers; numpy's passes release the GIL."""
        buffer = np.empty((min(per_block, usable_test.size), n, v), dtype=np.float32)
        mask = np.empty((buffer.shape[0] * n, v), dtype=bool)  # _finish's comparisons, reused like ``buffer``
        for start in starts[k::workers]:
            tj = usable_test[start : start + per_block]
            right = scorer.right(method, table.src_u[tj])  # (J, V)
            shift = scorer.shift(method, table.src_u[tj], ia, iap)
            scores = scorer.combine(method, left[None, :, :], right[:, None, :], shift, out=buffer[: tj.size])
            scores = scores.reshape(tj.size * n, v)
            answers = np.repeat(table.ans_cols[tj], n, axis=0)
            if exclude:
                b_col = np.repeat(table.src_col[tj], n)[:, None]
                excluded = np.concatenate([np.tile(excl_pair, (tj.size, 1)), b_col], axis=1)
            else:
                excluded = None
            grid[tj] = _finish(scores, excluded, answers, mask[: tj.size * n]).reshape(tj.size, n)

    if workers <= 1:
        work(0)
    else:
        list(thread_pool("solve", workers).map(work, range(workers)))  # disjoint grid rows; re-raises
    return grid


def _leave_one_out(unit: _Unit) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """One question per test pair j, trained on all other usable pairs: (train=-1, test, covered, n_other)."""
    table = unit.table
    n = table.n
    usable = table.usable
    n_other = usable.sum() - usable.astype(int)
    covered = usable & table.findable() & (n_other > 0)
    return np.full(n, -1, dtype=np.int64), np.arange(n), covered, n_other


def _set_questions(method: str, unit: _Unit, scorer: _Scorer, ctx: _Context) -> Questions:
    """A set-based solver (3CosAvg): its left term averaged over the other pairs, in float64."""
    table = unit.table
    train, test, covered, n_other = _leave_one_out(unit)
    outcome = _Outcome.blank(table.n)
    if not covered.any():
        return train, test, covered, outcome
    tj = np.flatnonzero(covered)
    usable = table.usable
    terms = _terms(method)
    if terms.needs_shift:
        raise ParameterError(f"method {method!r}: a set-based solver cannot use the shift term")
    right = terms.right(scorer.s[table.src_u[tj]], scorer.cand_sq)  # (J, V)
    per_pair = terms.left(scorer.s[table.src_u[usable]], scorer.s[table.ans_u[usable]])  # (k, V)
    total = per_pair.sum(axis=0, dtype=np.float64)
    own = np.zeros((table.n, per_pair.shape[1]))
    own[np.flatnonzero(usable)] = per_pair
    left = (total[None, :] - own[tj]) / n_other[tj][:, None]
    scores = terms.combine(left, right, None, np.empty(right.shape, dtype=np.float32))
    excluded = table.src_col[tj][:, None] if ctx.exclude else None
    outcome[tj] = _finish(np.ascontiguousarray(scores), excluded, table.ans_cols[tj])
    return train, test, covered, outcome


def _fitted_questions(method: str, unit: _Unit, scorer: _Scorer, ctx: _Context) -> Questions:
    """LRCos: a logistic regression per test pair (see :func:`_lrcos_outcome`)."""
    train, test, covered, _ = _leave_one_out(unit)
    outcome = _Outcome.blank(unit.table.n)
    if not covered.any():
        return train, test, covered, outcome
    tj = np.flatnonzero(covered)
    with _small_blas(scorer.u.shape[1]):
        outcome[tj] = _lrcos_outcome(
            unit.table, scorer, ctx.cand, tj, unit.id, ctx.noise, ctx.lrcos_solver, ctx.exclude
        )
    return train, test, covered, outcome


KINDS: dict[str, Callable[[str, _Unit, _Scorer, _Context], Questions]] = {
    "pairwise": _pairwise_questions,
    "set": _set_questions,
    "fitted": _fitted_questions,
}
"""How each solver kind (``Solver.kind``) turns a unit into questions: the one dispatch over solvers."""


def _solve_units(
    units: Sequence[_Unit], methods: Sequence[str], embeddings: Embeddings, ctx: _Context
) -> Iterator[tuple[_Unit, str, Questions]]:
    """Every (unit, method)'s questions, unit by unit: a unit's ``S = U @ C.T`` is made once for all methods.

    Where a method needs all of ``S`` (every kind but ``fitted``), consecutive units share one product
    (:func:`_group_products`): on one relation's ~150 rows BLAS ran at 70 GFLOP/s here, repacking the
    candidates for each, against ~110 on groups of ~600 rows (larger groups were slower: their fresh pages);
    each unit's rows are bit-equal to its own product (tests/test_analogy.py), so no rank moves.
    """
    whole = any(SOLVERS[m].kind != "fitted" for m in methods)
    groups = _unit_groups(units, len(ctx.cand.words)) if whole else ([unit] for unit in units)
    for group in groups:
        products = _group_products(group, embeddings, ctx.cand) if whole else {}
        for unit in group:
            scorer = _Scorer(unit.words, embeddings, ctx.cand, s=products.pop(unit.id, None))
            for method in methods:
                yield unit, method, KINDS[SOLVERS[method].kind](method, unit, scorer, ctx)


GROUP_BYTES = 128 * 2**20
"""The largest product ``S`` that :func:`_solve_units` makes for a group of units (float32 entries)."""


def _unit_groups(units: Sequence[_Unit], n_candidates: int) -> Iterator[list[_Unit]]:
    """Consecutive units whose words make at most GROUP_BYTES of ``S`` (a unit alone may exceed it)."""
    limit = max(2, GROUP_BYTES // max(1, 4 * n_candidates))
    group: list[_Unit] = []
    rows = 0
    for unit in units:
        if group and rows + len(unit.words) > limit:
            yield group
            group, rows = [], 0
        group.append(unit)
        rows += len(unit.words)
    if group:
        yield group


def _group_products(
    group: Sequence[_Unit], embeddings: Embeddings, cand: Candidates
) -> dict[str, np.ndarray]:
    """Unit id -> its rows of one product ``U @ C.T`` over the group's words, unit after unit, as views.

    A word two units share is a row of each (BATS: 7,441 rows for 6,208 distinct words), so no unit's rows
    are copied out: a product of the distinct words with each unit's rows copied from it cost more (3.0 s
    against 2.3 s for MiniLM's 40 relations, profiled here). At least two rows, so BLAS runs its matrix kernel, as for a unit's own
    product (see :func:`_s_rows`).
    """
    words = [w for unit in group for w in unit.words]
    if not words:
        return {}
    u = unit_rows(embeddings.vectors[embeddings.rows(words)])
    s = (u[[0, 0]] @ cand.vectors.T)[:1] if len(words) == 1 else u @ cand.vectors.T
    bounds = np.cumsum([0] + [len(unit.words) for unit in group])
    return {unit.id: s[a:b] for unit, a, b in zip(group, bounds[:-1], bounds[1:], strict=True) if b > a}


def _relation_unit(
    rel: RelationLike, model_index: dict[str, int], cand_index: dict[str, int], answer_rule: str
) -> _Unit:
    """A BATS relation as a unit: every ordered (train i, test j != i) pair is a question, test-major."""
    words = sorted({w for s, ans in rel.pairs for w in (s, *ans) if w in model_index})
    table = _pair_table(rel.pairs, model_index, cand_index, {w: i for i, w in enumerate(words)}, answer_rule)
    n = table.n
    jj, ii = np.meshgrid(np.arange(n), np.arange(n), indexing="ij")
    off = jj != ii
    return _Unit(rel.id, table, words, ii[off], jj[off])


def _lrcos_fit(
    table: _PairTable,
    u: np.ndarray,
    cand: Candidates,
    folds: np.ndarray,
    relation_id: str,
    noise: NoiseSampler,
    solver: str = "newton",
) -> tuple[np.ndarray, np.ndarray]:
    """The folds' logistic regressions, ``(coefs (F, D), intercepts (F,))``: one per test pair.

    ``newton``: every fold's training set is the relation's shared rows (all answers, all sources) with the
    fold's own pair weighted 0, plus the fold's random negatives; the folds are fitted together
    (:func:`_lrcos_newton`), so no Python loop runs over training arrays. ``liblinear``: vecto's recipe
    verbatim (sources repeated, one scikit-learn fit per fold), the reference the Newton fit is checked on.
    """
    if solver == "liblinear":
        return _lrcos_liblinear(table, u, cand, folds, relation_id, noise)
    if solver == "newton":
        return _lrcos_newton(table, u, cand, folds, relation_id, noise)
    raise ParameterError(f"lrcos_solver={solver!r}; valid: {', '.join(LRCOS_SOLVERS)}")


_U32 = 2.0**-24  # unit roundoff of float32


def _lrcos_outcome(
    table: _PairTable,
    scorer: _Scorer,
    cand: Candidates,
    folds: np.ndarray,
    relation_id: str,
    noise: NoiseSampler,
    solver: str,
    exclude: bool,
) -> _Outcome:
    """Rank and prediction of each fold's question under the score ``P(d) * cos(d, b)``, P in float64.

    What is ranked is every candidate's float64 score (``expit(w . d + b)`` as scikit-learn's
    ``predict_proba`` computes it, times the float32 cosine), exactly as :func:`_finish` ranks a full
    matrix of them, but that matrix is never made: its float64 product (F x D x V) took two thirds of
    LRCos's time. Two savings, both exact (see :func:`_lrcos_ranked`): since ``0 <= P <= 1`` a candidate
    scores at most ``max(cos, 0)``, so when the best answer scores ``best > 0`` only the candidates with
    ``cos >= best`` can reach it (a median 2 % of them on BATS); and the scores come from a float32 pass,
    with float64 only where float32 cannot tell a score from ``best`` or from the top.
    """
    coefs, intercepts = _lrcos_fit(table, scorer.u, cand, folds, relation_id, noise, solver)
    f = folds.size
    cos = _s_rows(scorer, table.src_u[folds])
    ans = table.ans_cols[folds]
    b_col = table.src_col[folds] if exclude else np.full(f, -1)
    best = _best_answer(coefs, intercepts, cos, cand, ans, b_col)
    reach, pruned = _reach(cos, best, b_col)
    outcome = _Outcome.blank(f)
    if pruned.any():
        p = slice(None) if pruned.all() else np.flatnonzero(pruned)  # a view, not a copy, in the usual case
        cols = np.flatnonzero(reach[p].any(axis=0))
        if cols.size * PRUNED_MAX_SHARE <= cand.vectors.shape[0]:
            outcome[p] = _lrcos_ranked(
                coefs[p], intercepts[p], cos[p], cand, ans[p], b_col[p], cols, reach[p]
            )
        else:  # the questions together reach most candidates: gathering them would cost more than it saves
            pruned[:] = False
    if not pruned.all():
        q = slice(None) if not pruned.any() else np.flatnonzero(~pruned)
        outcome[q] = _lrcos_ranked(coefs[q], intercepts[q], cos[q], cand, ans[q], b_col[q])
    return outcome


# The pruned questions are ranked on the union of their reachable candidates only when it is at most a
# quarter of them (BATS: E01, I05, I07 ...); most relations' questions together reach 55-95 %.
PRUNED_MAX_SHARE = 4


def _reach(cos: np.ndarray, best: np.ndarray, b_col: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The candidates that can score ``>= best`` (``cos >= best``, excluded ``b`` left out), and the rows
    that may be ranked on them alone: ``best > 0`` and some live candidate outside (so none is degenerate)."""
    f, v = cos.shape
    has_b = b_col >= 0
    reach = cos >= _f32_down(best)[:, None]
    reach[np.flatnonzero(has_b), b_col[has_b]] = False
    k = reach.view(np.uint8).sum(axis=1, dtype=np.int64)
    return reach, (best > 0) & (k < v - has_b)


def _s_rows(scorer: _Scorer, rows: np.ndarray) -> np.ndarray:
    """``S[rows]`` (the cosines of the ``b`` words), without making all of ``S`` when it is not there yet.

    A product of two or more rows runs the same BLAS kernel as the full one, so its entries are bit-equal
    to ``S``'s; a single row would go to ``gemv`` (another summation order), so it is multiplied as two.
    """
    if "s" in scorer.__dict__:
        return scorer.s[rows]
    if len(rows) == 1:
        return (scorer.u[np.repeat(rows, 2)] @ scorer.cand.vectors.T)[:1]
    return scorer.u[rows] @ scorer.cand.vectors.T


def _best_answer(
    coefs: np.ndarray,
    intercepts: np.ndarray,
    cos: np.ndarray,
    cand: Candidates,
    ans: np.ndarray,
    b_col: np.ndarray,
) -> np.ndarray:
    """Per row, the float64 score of its best answer that is not excluded (``b_col``), -inf if none."""
    rows = np.broadcast_to(np.arange(len(ans))[:, None], ans.shape)
    live = (ans >= 0) & (ans != b_col[:, None])
    best = np.full(len(ans), -np.inf)
    np.maximum.at(best, rows[live], _lrcos_exact(coefs, intercepts, cos, cand, rows[live], ans[live]))
    return best


def _lrcos_ranked(
    coefs: np.ndarray,
    intercepts: np.ndarray,
    cos: np.ndarray,
    cand: Candidates,
    ans: np.ndarray,
    b_col: np.ndarray,
    cols: np.ndarray | None = None,
    reach: np.ndarray | None = None,
) -> _Outcome:
    """:func:`_finish` of the float64 scores, from a float32 pass and float64 where float32 cannot decide.

    A float32 pass (the logits' product, ``1 / (1 + exp(-z))`` in place, the cosine) gives every score to
    within ``delta`` (:func:`_lrcos_delta`); the entries whose float32 score is within ``delta`` of the
    best answer's float64 score, or within ``2 delta`` of the row's top, get their float64 score
    (:func:`_lrcos_exact`); every other one keeps its float32 value, which lies on the same side of
    ``best`` as its float64 score and below the row's float64 maximum. So ``_finish``'s counts (``>`` and
    ``==`` the best answer) and its first-index argmax are those of the all-float64 matrix.

    ``cols``/``reach`` (the pruned questions, ``best > 0``): only those candidate columns are scored, and
    an entry outside ``reach`` (``cos < best``, so ``P * cos <= max(cos, 0) < best``; the rounded product
    is monotone too) is ``-inf``; a last ``-inf`` column stands for every candidate left out (so no row
    looks degenerate: some candidate is below ``best``), and answers left out map to it.
    """
    f = coefs.shape[0]
    rows = np.arange(f)
    if cols is None:
        vectors, cos_c, ans_c, b_c = cand.vectors, cos, ans, b_col
    else:
        vectors, cos_c, b_c = cand.vectors[cols], cos[:, cols], np.full(f, -1)
        at = np.minimum(np.searchsorted(cols, ans), cols.size - 1)
        ans_c = np.where(ans >= 0, np.where(cols[at] == ans, at, cols.size), -1)  # cols.size: the -inf column
    s32 = _float32_scores(coefs, intercepts, vectors, cos_c)
    if reach is not None:
        reach = reach[:, cols]
        np.copyto(s32, -np.inf, where=~reach)
    has_b = b_c >= 0
    s32[rows[has_b], b_c[has_b]] = -np.inf
    best = _best_answer(coefs, intercepts, cos, cand, ans, b_col)
    delta = _lrcos_delta(coefs, intercepts, cand)
    top = s32.max(axis=1).astype(np.float64)
    near = (s32 >= _f32_down(best - delta)[:, None]) & (s32 <= _f32_up(best + delta)[:, None])
    near |= s32 >= _f32_down(top - 2.0 * delta)[:, None]
    # no answer to rank against (best = -inf): the top set alone decides the prediction and, as every
    # candidate outside it is below the top, whether all tie (degenerate)
    if reach is not None:
        near &= reach
    rn, cn = np.divmod(np.flatnonzero(near), near.shape[1])  # 15x faster than a 2-D nonzero
    width = s32.shape[1] + (cols is not None)
    scores = np.empty((f, width))
    scores[:, : s32.shape[1]] = s32
    scores[:, s32.shape[1] :] = -np.inf
    scores[rn, cn] = _lrcos_exact(coefs, intercepts, cos, cand, rn, cn if cols is None else cols[cn])
    live = (ans_c >= 0) & (ans_c < s32.shape[1]) & (ans != b_col[:, None])
    ra = np.broadcast_to(rows[:, None], ans.shape)[live]
    scores[ra, ans_c[live]] = _lrcos_exact(coefs, intercepts, cos, cand, ra, ans[live])
    out = _finish(scores, b_c[:, None], ans_c)
    if cols is not None:
        picked = out.pred >= 0
        out.pred[picked] = cols[out.pred[picked]]
    return out


def _float32_scores(
    coefs: np.ndarray, intercepts: np.ndarray, vectors: np.ndarray, cos: np.ndarray
) -> np.ndarray:
    """``expit(w . d + b) * cos`` in float32 for every (fold, candidate): one product, then in place.

    Within :func:`_lrcos_delta` of the float64 score. ``1 / (1 + exp(-z))`` in four in-place passes:
    scipy's ``expit`` (libm, one element at a time) took 5x the time of numpy's vectorised ``exp``.
    """
    s32 = coefs.astype(np.float32) @ vectors.T
    s32 += intercepts.astype(np.float32)[:, None]
    np.negative(s32, out=s32)
    with np.errstate(over="ignore"):  # exp(-z) = inf for z < -88: P = 0, as it is to within 1e-38
        np.exp(s32, out=s32)
    s32 += np.float32(1.0)
    np.reciprocal(s32, out=s32)
    s32 *= cos
    return s32


def _lrcos_exact(
    coefs: np.ndarray, intercepts: np.ndarray, cos: np.ndarray, cand: Candidates, r: np.ndarray, c: np.ndarray
) -> np.ndarray:
    """float64 scores ``expit(w_r . d_c + b_r) * cos[r, c]`` of the entries (r, c), one row reduction each.

    Each entry is a function of its own row and column only (a contiguous sum over D), so equal inputs
    give equal scores wherever they are computed: the ties :func:`_finish` counts are real ties. In chunks
    of ``EXACT_CHUNK_ELEMENTS`` gathered numbers (a whole row at D = 4096 would be 1.8 GB at once).
    """
    z = np.empty(len(r))
    step = max(1, EXACT_CHUNK_ELEMENTS // max(1, coefs.shape[1]))
    for s in range(0, len(r), step):  # over chunks of entries, not entries
        rr, cc = r[s : s + step], c[s : s + step]
        z[s : s + step] = np.multiply(coefs[rr], cand.vectors[cc]).sum(
            axis=1
        )  # float32 rows: exact in float64
    z += intercepts[r]
    with np.errstate(over="ignore"):
        p = 1.0 / (1.0 + np.exp(-z))
    return p * cos[r, c]


EXACT_CHUNK_ELEMENTS = 1 << 21  # 16 MiB of float64 per chunk of gathered rows


def _lrcos_delta(coefs: np.ndarray, intercepts: np.ndarray, cand: Candidates) -> np.ndarray:
    """Per fold, a bound (x2) on |float32 score - float64 score| of any candidate (error analysis below).

    z in float32: the rounding of w to float32 and the product's sum of D terms are off by at most
    (D + 2) u |w| |d| (u = 2^-24, Cauchy-Schwarz), the intercept and its addition by 2u (|w| |d| + |b|);
    the sigmoid has slope <= 1/4; float32 ``exp`` (numpy: < 4 ulp), the ``1 +``, the reciprocal and the
    product with the cosine add < 8u of P * |cos| + u. float64's own errors are 2^29 times smaller.
    """
    d = coefs.shape[1]
    dmax = float(np.sqrt(cand.squared_norms.max(initial=0.0))) * (1.0 + 1e-6)
    scale = np.linalg.norm(coefs, axis=1) * dmax + np.abs(intercepts)
    cos_max = 1.0 + 1e-5  # cosines of unit float32 vectors
    return 2.0 * (cos_max * ((d + 4) * _U32 * scale / 4.0 + 8 * _U32) + 2 * _U32)


def _f32_down(x: np.ndarray) -> np.ndarray:
    """The largest float32 <= x (x float64): a threshold that keeps every float32 value >= x."""
    y = x.astype(np.float32)
    return np.where(y > x, np.nextafter(y, np.float32(-np.inf)), y)


def _f32_up(x: np.ndarray) -> np.ndarray:
    """The smallest float32 >= x (x float64)."""
    y = x.astype(np.float32)
    return np.where(y < x, np.nextafter(y, np.float32(np.inf)), y)


_BLAS_CONTROLLER: Any = None
# Up to this many dimensions LRCos's products are small (50 x D x V, 0.14 GFLOP at D = 50) and run on one
# BLAS thread; above it they are large enough for every core (and the machine's own thread count is kept).
SMALL_PRODUCT_DIMS = 128


def solver_threads() -> int:
    """Threads for the pair-wise solvers' blocks: this process's cores, capped by ``OMP_NUM_THREADS`` where it
    is set (a Dask worker's share of the machine, see :func:`wordembed.distributed.cluster.kernel_threads_env`).

    Why threads: scoring and ranking are numpy passes over (rows, candidates) blocks that release the GIL, and
    one of them at a time left the second core idle (BLAS is not involved: ``S`` is made before).
    """
    cores = usable_cores()
    cap = os.environ.get("OMP_NUM_THREADS", "")
    return max(1, min(cores, int(cap))) if cap.isdigit() and int(cap) > 0 else cores


def _small_blas(dims: int) -> Any:
    """One BLAS thread for LRCos's products at ``dims`` <= SMALL_PRODUCT_DIMS, else no change.

    On the 2-core machine with other jobs running, OpenBLAS's second thread made LRCos on BATS 1.8x slower
    (0.195 s against 0.110 s for two relations): it spins between the small products and takes the core
    the numpy passes after them need. The controller is made once (~30 ms: it lists the loaded libraries)
    and entering it costs ~10 us.
    """
    global _BLAS_CONTROLLER
    if dims > SMALL_PRODUCT_DIMS:
        return contextlib.nullcontext()
    if _BLAS_CONTROLLER is None:
        from threadpoolctl import ThreadpoolController

        _BLAS_CONTROLLER = ThreadpoolController()
    return _BLAS_CONTROLLER.limit(limits=1, user_api="blas")


def _lrcos_liblinear(
    table: _PairTable,
    u: np.ndarray,
    cand: Candidates,
    folds: np.ndarray,
    relation_id: str,
    noise: NoiseSampler,
) -> tuple[np.ndarray, np.ndarray]:
    """vecto's fits: scikit-learn's liblinear, one per fold, on ``gen_vec_single``'s rows (sources x 4)."""
    from sklearn.linear_model import LogisticRegression

    n = table.n
    coefs = np.zeros((folds.size, u.shape[1]))
    intercepts = np.zeros(folds.size)
    for k, j in enumerate(folds):  # the reference path: one fit per fold, as vecto
        others = np.arange(n) != j
        pos = u[table.ans_u[others & (table.ans_u >= 0)]]
        src = u[table.src_u[others & (table.src_u >= 0)]]
        noise_rows = np.asarray(noise(relation_id, int(j), len(src)), dtype=np.int64)
        x = np.concatenate([pos, *([src] * LRCOS_SOURCE_REPEATS), cand.vectors[noise_rows]])
        y = np.concatenate([np.ones(len(pos)), np.zeros(len(x) - len(pos))])
        model = LogisticRegression(solver="liblinear", class_weight="balanced", C=1.0).fit(x, y)
        coefs[k], intercepts[k] = model.coef_[0], model.intercept_[0]
    return coefs, intercepts


def _lrcos_newton(
    table: _PairTable,
    u: np.ndarray,
    cand: Candidates,
    folds: np.ndarray,
    relation_id: str,
    noise: NoiseSampler,
    c: float = 1.0,
) -> tuple[np.ndarray, np.ndarray]:
    """All folds' LRCos fits at once, at liblinear's optimum: ``(coefs (F, D), intercepts (F,))``.

    The rows shared by every fold (each pair's answer, label 1, and its source, label 0, weighted
    ``LRCOS_SOURCE_REPEATS`` times rather than repeated: the same objective on a third of the rows) are one
    matrix with a per-fold weight (0 for the fold's own pair, 0 for missing words); only the random
    negatives differ per fold. Weights are liblinear's balanced ones, counted on vecto's rows.
    """
    f = folds.size
    pos_ok = table.ans_u >= 0
    src_ok = table.src_u >= 0
    shared = np.concatenate([u[table.ans_u[pos_ok]], u[table.src_u[src_ok]]])
    shared = np.hstack([shared, np.ones((len(shared), 1), dtype=shared.dtype)]).astype(np.float64)
    labels = np.concatenate([np.ones(pos_ok.sum()), -np.ones(src_ok.sum())])
    pair_of_row = np.concatenate([np.flatnonzero(pos_ok), np.flatnonzero(src_ok)])
    in_fold = pair_of_row[None, :] != folds[:, None]  # (F, rows): the fold's own pair is held out
    n_pos = (in_fold & (labels > 0)).sum(axis=1)
    n_src = (in_fold & (labels < 0)).sum(axis=1)
    k = n_src  # vecto draws one random word per source row
    n_neg = LRCOS_SOURCE_REPEATS * n_src + k
    if (n_pos == 0).any() or (n_neg == 0).any():
        raise ParameterError("LRCos: a training fold needs both positive and negative words")
    total = n_pos + n_neg
    w_pos = c * total / (2 * n_pos)
    w_neg = c * total / (2 * n_neg)
    weights = np.where(labels > 0, w_pos[:, None], LRCOS_SOURCE_REPEATS * w_neg[:, None]) * in_fold
    k_max = int(k.max())
    noise_rows = np.zeros((f, k_max), dtype=np.int64)
    noise_w = np.zeros((f, k_max))
    for i, j in enumerate(folds):  # the sampler is a per-fold callable; only index arrays are made here
        noise_rows[i, : k[i]] = np.asarray(noise(relation_id, int(j), int(k[i])), dtype=np.int64)
        noise_w[i, : k[i]] = w_neg[i]
    xb = np.ones((f, k_max, shared.shape[1]))
    xb[:, :, :-1] = cand.vectors[noise_rows]
    w = newton_shared(shared, labels, weights, xb, -np.ones((f, k_max)), noise_w, max_iter=100, tol=1e-10)
    return w[:, :-1], w[:, -1]


def seeded_noise(candidates: int, seed: int = 0) -> NoiseSampler:
    """LRCos negatives: ``k`` uniform candidate rows, reproducible per (seed, relation, fold)."""

    def sample(relation: str, fold: int, k: int) -> np.ndarray:
        key = int.from_bytes(hashlib.sha256(relation.encode()).digest()[:4], "little")
        rng = np.random.default_rng([seed, key, fold])
        return rng.integers(0, candidates, size=k)

    return sample


def solve_bats(
    embeddings: Embeddings,
    relations: Sequence[RelationLike],
    *,
    methods: Sequence[str] = ("3CosAdd",),
    candidates: Sequence[str] | Candidates | None = None,
    exclude_question_words: bool = True,
    answer_rule: str = "first_present",
    n_boot: int = DEFAULT_REPLICATES,
    seed: int = 0,
    lrcos_noise: NoiseSampler | None = None,
    lrcos_solver: str = "newton",
) -> AnalogyResult:
    """Solve every BATS question with each method; see the module docstring for every convention.

    ``candidates``: words that may be answered (``None``: :func:`default_candidates`); words the model lacks
    are dropped and counted in ``setup['candidates']``. ``lrcos_solver``: ``"newton"`` (batched, exact
    optimum, see :func:`fit_logistic_folds`) or ``"liblinear"`` (scikit-learn, one fit per fold, as vecto).
    """
    methods = _check_methods(methods, "bats")
    _check_rule(answer_rule)
    cand = _as_candidates(embeddings, candidates)
    ctx = _Context(
        cand, exclude_question_words, lrcos_noise or seeded_noise(len(cand.words), seed), lrcos_solver
    )
    model_index, cand_index = embeddings.index, cand.index
    units = [_relation_unit(rel, model_index, cand_index, answer_rule) for rel in relations]
    by_id = {id(unit): rel for unit, rel in zip(units, relations, strict=True)}
    frames = [
        _question_frame(method, by_id[id(unit)], unit.table, cand, *out)
        for unit, method, out in _solve_units(units, methods, embeddings, ctx)
    ]
    questions = pd.concat(frames, ignore_index=True) if frames else _empty_questions()
    setup = {
        "dataset": "bats",
        "model": embeddings.model,
        "methods": methods,
        "exclude_question_words": exclude_question_words,
        "answer_rule": answer_rule,
        "epsilon_3cosmul": EPSILON,
        "lrcos_solver": lrcos_solver,
        "candidates": cand.describe(),
        "relations": len(relations),
        "n_boot": n_boot,
        "seed": seed,
    }
    return _summarize(questions, setup, n_boot, seed, group_cols=("group", "kind"), unit="relation")


def solve(
    embeddings: Embeddings,
    data: Sequence[RelationLike] | pd.DataFrame,
    *,
    dataset: str = "bats",
    **options: Any,
) -> AnalogyResult:
    """One entry for both data sets: BATS relations (:func:`solve_bats`) or the Google question table
    (:func:`solve_google`); both are planned as units of pairs and solved by :func:`_solve_units`, so a
    solver of the registry runs the same way on each. ``options``: those of the data set's function."""
    if dataset == "bats":
        return solve_bats(embeddings, data, **options)  # type: ignore[arg-type]
    if dataset == "google":
        return solve_google(embeddings, data, **options)  # type: ignore[arg-type]
    raise ParameterError(f"dataset={dataset!r}; valid: bats, google")


def _as_candidates(
    embeddings: Embeddings, candidates: Sequence[str] | Candidates | None, extra: Iterable[str] = ()
) -> Candidates:
    if isinstance(candidates, Candidates):
        return candidates
    if candidates is None:
        return Candidates.from_embeddings(embeddings, default_candidates(extra), name="bats+wordnet")
    return Candidates.from_embeddings(embeddings, candidates, name="custom")


def _question_frame(
    method: str,
    rel: RelationLike,
    table: _PairTable,
    cand: Candidates,
    train: np.ndarray,
    test: np.ndarray,
    covered: np.ndarray,
    outcome: _Outcome,
) -> pd.DataFrame:
    src = np.array(table.sources, dtype=object)
    chosen = np.array(table.chosen, dtype=object)
    expected = np.array(["/".join(a) for a in table.answers], dtype=object)
    cwords = cand._words_array
    has_train = train >= 0
    frame = pd.DataFrame(
        {
            "method": method,
            "relation": rel.id,
            "relation_name": rel.name,
            "group": rel.group,
            "kind": rel.kind,
            "a": np.where(has_train, src[np.maximum(train, 0)], ""),
            "a_prime": np.where(has_train, chosen[np.maximum(train, 0)], ""),
            "b": src[test],
            "b_prime": expected[test],
            "covered": covered,
        }
    )
    return _add_scores(frame, outcome, cwords)


def _add_scores(frame: pd.DataFrame, outcome: _Outcome, cwords: np.ndarray) -> pd.DataFrame:
    """The outcome's columns and the per-question scores every summary averages (see the module docstring)."""
    rank = outcome.rank
    found = np.isfinite(rank)
    frame["rank"] = rank
    frame["rank_mid"] = outcome.mid
    frame["degenerate"] = outcome.degenerate
    frame["prediction"] = cwords[outcome.pred]
    frame["correct"] = found & (rank == 1)
    frame["top5"] = found & (rank <= TOP_K)
    mid = outcome.mid
    frame["reciprocal_rank"] = np.where(found, 1.0 / np.where(found, mid, 1.0), 0.0)
    return frame


def _empty_questions() -> pd.DataFrame:
    return pd.DataFrame(
        columns=[
            "method",
            "relation",
            "relation_name",
            "group",
            "kind",
            "a",
            "a_prime",
            "b",
            "b_prime",
            "covered",
            "rank",
            "rank_mid",
            "degenerate",
            "prediction",
            "correct",
            "top5",
            "reciprocal_rank",
        ]
    )


def _stats(
    data: dict[str, np.ndarray], idx: np.ndarray, clusters: np.ndarray, n_boot: int, seed: int
) -> dict[str, Any]:
    """Means over the questions ``idx``, with percentile intervals from resampling whole ``clusters``.

    Each mean is ``sum / count`` over questions (uncovered ones count as wrong); its interval resamples the
    clusters' sums and counts together (:func:`cluster_bootstrap_ratio`), so questions that share pairs move
    together as they do in the data. ``accuracy_macro`` is the unweighted mean of the clusters' accuracies.
    ``data``: the question table's columns as numpy arrays (read once, not per group).
    """
    n = len(idx)
    covered = data["covered"][idx]
    correct = data["correct"][idx]
    out: dict[str, Any] = {"questions": n, "covered": int(covered.sum())}
    out["coverage"] = out["covered"] / n if n else float("nan")
    for name, col in SCORES:
        values = data[col][idx]
        out[name] = float(values.mean()) if n else float("nan")
        sums, counts = cluster_totals(values, clusters)
        low, high = cluster_bootstrap_ratio(sums, counts, n_boot=n_boot, ci=CI_LEVEL, seed=seed)
        out[f"{name}_low"], out[f"{name}_high"] = low, high
        if name == "accuracy":
            out["accuracy_macro"] = float((sums / counts).mean()) if n else float("nan")
            out["clusters"] = len(counts)
    out["accuracy_covered"] = float(correct[covered].mean()) if covered.any() else float("nan")
    out["correct"] = int(correct.sum())
    out["degenerate"] = int(data["degenerate"][idx].sum())
    return out


def _groups(codes: np.ndarray, within: np.ndarray) -> list[np.ndarray]:
    """The rows ``within`` split by ``codes``, groups in order of first appearance, rows in table order.

    What ``groupby(sort=False)`` yields, on integer codes: pandas' groupby on the string columns cost more
    than the statistics on small tables (the BATS benchmark's 100 questions).
    """
    sub = codes[within]
    uniq, first = np.unique(sub, return_index=True)
    return [within[sub == code] for code in uniq[np.argsort(first)]]


def _summarize(
    questions: pd.DataFrame,
    setup: dict[str, Any],
    n_boot: int,
    seed: int,
    *,
    group_cols: Sequence[str],
    unit: str,
) -> AnalogyResult:
    """Per-relation, per-group and overall rows; ``unit`` names what a relation is ("relation", "section").

    Overall and group intervals resample relations (the sampled unit of BATS: 40 relations, not 98,000
    independent questions); a relation's interval resamples its test pairs (clusters of its questions).
    """
    # integer codes (first appearance, as groupby(sort=False) numbers groups), so nothing sorts strings
    codes = {c: pd.factorize(questions[c], sort=False)[0] for c in ("method", "relation", *group_cols)}
    relation_code = codes["relation"]
    pair_key = [pd.factorize(questions[c], sort=False)[0].astype(np.int64) for c in ("b", "b_prime")]
    key = (relation_code.astype(np.int64) * (pair_key[0].max(initial=0) + 1) + pair_key[0]) * (
        pair_key[1].max(initial=0) + 1
    ) + pair_key[1]
    pair_code = pd.factorize(key, sort=False)[0]
    text = {c: questions[c].to_numpy() for c in ("method", "relation", "relation_name", *group_cols)}
    data = {c: questions[c].to_numpy(dtype=bool) for c in ("covered", "correct", "degenerate")}
    data |= {col: questions[col].to_numpy(dtype=float) for _, col in SCORES}
    rel_rows, group_rows, overall_rows = [], [], []
    for qm in _groups(codes["method"], np.arange(len(questions))):
        method = text["method"][qm[0]]
        for qr in _groups(relation_code, qm):
            row = {"method": method, "relation": text["relation"][qr[0]]}
            for col in ("relation_name", *group_cols):
                row[col] = text[col][qr[0]]
            rel_rows.append(row | _stats(data, qr, pair_code[qr], n_boot, seed))
        for col in group_cols:
            for qg in _groups(codes[col], qm):
                row = {"method": method, "level": col, "group": text[col][qg[0]]}
                group_rows.append(row | _stats(data, qg, relation_code[qg], n_boot, seed))
        overall_rows.append({"method": method} | _stats(data, qm, relation_code[qm], n_boot, seed))
    setup = setup | {
        "interval": f"{CI_LEVEL:.0%} percentile cluster bootstrap ({n_boot} replicates; none when 0)",
        "interval_unit": {"overall": unit, "group": unit, "relation": "test pair"},
        "ties": "pessimistic rank (ties count against the answer); MRR from the mid-rank",
    }
    return AnalogyResult(
        questions, pd.DataFrame(rel_rows), pd.DataFrame(group_rows), pd.DataFrame(overall_rows), setup
    )


# --------------------------------------------------------------------------------------------------------
# Google analogy set
# --------------------------------------------------------------------------------------------------------

GOOGLE_SEMANTIC_PREFIX = "gram"


def solve_google(
    embeddings: Embeddings,
    questions: pd.DataFrame,
    *,
    methods: Sequence[str] = ("3CosAdd", "3CosMul"),
    candidates: Sequence[str] | Candidates | None = None,
    exclude_question_words: bool = True,
    n_boot: int = DEFAULT_REPLICATES,
    seed: int = 0,
) -> AnalogyResult:
    """Mikolov et al.'s ``a b c d`` questions (``a : b :: c : d``, i.e. ``a : a' :: b : b'``).

    Sections starting with ``gram`` are syntactic, the others semantic (the set's own split). Exclusion:
    ``a``, ``b`` and ``c`` (what gensim and word2vec's compute-accuracy do). ``candidates=None``: the default
    vocabulary plus every word of the set.
    """
    methods = _check_methods(methods, "google")
    not_pairwise = [m for m in methods if SOLVERS[m].kind != "pairwise"]
    if not_pairwise:
        raise ParameterError(f"methods {not_pairwise}: the Google set asks pair-wise solvers only")
    missing_cols = {"section", "a", "b", "c", "d"} - set(questions.columns)
    if missing_cols:
        raise ParameterError(
            f"Google questions need columns section, a, b, c, d; missing {sorted(missing_cols)}"
        )
    qa, qb, qc, qd = (questions[c].astype(str).tolist() for c in ("a", "b", "c", "d"))
    cand = _as_candidates(embeddings, candidates, extra=[*qa, *qb, *qc, *qd])
    model_index = embeddings.index
    cidx = cand.index
    section = questions["section"].astype(str).to_numpy()
    n = len(qa)
    # each section is a set of (a, b) pairs crossed with each other, like a BATS relation: solve it on the
    # grid of its pairs (only the test pairs that are asked) and read the questions off the grid
    units, rows_of = [], {}
    for name in dict.fromkeys(section):
        rows = np.flatnonzero(section == name)
        pair_id: dict[tuple[str, str], int] = {}
        for r in rows:  # over the set's questions once, to number its pairs; the solving is batched
            pair_id.setdefault((qa[r], qb[r]), len(pair_id))
            pair_id.setdefault((qc[r], qd[r]), len(pair_id))
        pairs = [(x, (y,)) for x, y in pair_id]
        train = np.array([pair_id[qa[r], qb[r]] for r in rows], dtype=np.int64)
        test = np.array([pair_id[qc[r], qd[r]] for r in rows], dtype=np.int64)
        words = sorted({w for x, y in pair_id for w in (x, y) if w in model_index})
        table = _pair_table(pairs, model_index, cidx, {w: i for i, w in enumerate(words)}, "first")
        units.append(_Unit(name, table, words, train, test))
        rows_of[id(units[-1])] = rows
    ctx = _Context(cand, exclude_question_words, seeded_noise(len(cand.words), seed), "newton")
    covered = np.zeros(n, dtype=bool)
    outcomes = {method: _Outcome.blank(n) for method in methods}
    for unit, method, (_, _, cov, outcome) in _solve_units(units, methods, embeddings, ctx):
        rows = rows_of[id(unit)]
        covered[rows] = cov
        outcomes[method][rows] = outcome
    group = np.where(np.char.startswith(section.astype(str), GOOGLE_SEMANTIC_PREFIX), "syntactic", "semantic")
    cwords = cand._words_array
    frames = []
    for method in methods:
        frame = pd.DataFrame(
            {
                "method": method,
                "relation": section,
                "relation_name": section,
                "group": group,
                "a": qa,
                "a_prime": qb,
                "b": qc,
                "b_prime": qd,
                "covered": covered,
            }
        )
        frames.append(_add_scores(frame, outcomes[method], cwords))
    setup = {
        "dataset": "google",
        "model": embeddings.model,
        "methods": methods,
        "exclude_question_words": exclude_question_words,
        "epsilon_3cosmul": EPSILON,
        "candidates": cand.describe(),
        "n_boot": n_boot,
        "seed": seed,
    }
    return _summarize(
        pd.concat(frames, ignore_index=True), setup, n_boot, seed, group_cols=("group",), unit="section"
    )
