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
Python loop runs over questions; LRCos loops over its training folds (one fit each) only.

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

import hashlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Protocol

import numpy as np
import pandas as pd

from wordembed.analyses.bootstrap import DEFAULT_REPLICATES, cluster_bootstrap_ratio, cluster_totals
from wordembed.embeddings import Embeddings
from wordembed.errors import ParameterError

PAIRWISE_METHODS: tuple[str, ...] = ("3CosAdd", "3CosMul", "PairDistance", "SimilarToB")
SET_METHODS: tuple[str, ...] = ("3CosAvg", "LRCos")
METHODS: tuple[str, ...] = ("3CosAdd", "3CosMul", "PairDistance", "3CosAvg", "LRCos", "SimilarToB")
GOOGLE_METHODS: tuple[str, ...] = ("3CosAdd", "3CosMul", "PairDistance", "SimilarToB")
ANSWER_RULES: tuple[str, ...] = ("first_present", "first")
LRCOS_SOLVERS: tuple[str, ...] = ("newton", "liblinear")
EPSILON = 0.001
TOP_K = 5
LRCOS_SOURCE_REPEATS = 4
BLOCK_BYTES = 16 * 2**20
CI_LEVEL = 0.95
SCORES: tuple[tuple[str, str], ...] = (("accuracy", "correct"), ("mrr", "reciprocal_rank"), ("top5", "top5"))
"""Summary name and the per-question column it averages."""

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
            _unit(embeddings.vectors[rows[keep]]),
            requested=len(wanted),
            name=name,
            models=tuple(models),
        )

    @cached_property
    def index(self) -> dict[str, int]:
        return {w: i for i, w in enumerate(self.words)}

    @cached_property
    def vectors64(self) -> np.ndarray:
        """float64 copy for LRCos's class probabilities (one BLAS product, no mixed-precision cast per call)."""
        return self.vectors.astype(np.float64)

    @cached_property
    def squared_norms(self) -> np.ndarray:
        """1 for each candidate, 0 for a zero vector (PairDistance's ``||d - b||`` needs it)."""
        return np.einsum("ij,ij->i", self.vectors, self.vectors)

    def fingerprint(self) -> str:
        """sha256 of the candidate words (newline-joined), so results say exactly which vocabulary was ranked."""
        return hashlib.sha256("\n".join(self.words).encode()).hexdigest()

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


def _unit(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    norms = np.linalg.norm(x, axis=-1, keepdims=True)
    return np.divide(x, norms, out=np.zeros_like(x), where=norms > 0)


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
    """Rows of ``S = U @ C.T`` for the words of one relation and the per-method terms built from them."""

    def __init__(self, words: list[str], embeddings: Embeddings, cand: Candidates) -> None:
        self.words = words
        rows = embeddings.rows(words)
        if (rows < 0).any():
            raise AssertionError("scorer words must all have vectors")
        self.u = (
            _unit(embeddings.vectors[rows]) if words else np.zeros((0, cand.vectors.shape[1]), np.float32)
        )
        self.s = self.u @ cand.vectors.T  # (U, V) float32
        self.gram = self.u @ self.u.T
        self.cand_sq = cand.squared_norms

    def left(self, method: str, ia: np.ndarray, iap: np.ndarray) -> np.ndarray:
        """Per train pair term L (k, V); ia/iap are rows of U."""
        s = self.s
        if method in ("3CosAdd", "PairDistance", "3CosAvg"):
            return s[iap] - s[ia]
        if method == "3CosMul":
            return ((s[iap] + 1) / 2) / ((s[ia] + 1) / 2 + EPSILON)
        return np.zeros((len(ia), s.shape[1]), dtype=s.dtype)

    def right(self, method: str, ib: np.ndarray) -> np.ndarray:
        """Per test word term R (m, V)."""
        s = self.s[ib]
        if method == "3CosMul":
            return (s + 1) / 2
        if method == "PairDistance":
            sq = self.cand_sq[None, :] + 1.0 - 2.0 * s
            with np.errstate(divide="ignore", invalid="ignore"):
                inv = np.where(sq > 1e-12, 1.0 / np.sqrt(np.maximum(sq, 1e-30)), 0.0)
            return inv.astype(np.float32)
        return s

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
        shape = np.broadcast_shapes(left.shape, right.shape)
        if out is None:
            out = np.empty(shape, dtype=np.float32)
        if method in ("3CosAdd", "3CosAvg"):
            np.add(left, right, out=out)
        elif method == "3CosMul":
            np.multiply(left, right, out=out)
        elif method == "PairDistance":
            np.subtract(left, shift, out=out)
            out *= right
        elif method == "SimilarToB":
            out[...] = right
        else:
            raise ParameterError(
                f"method {method!r} is not a pair-wise solver; valid: {', '.join(PAIRWISE_METHODS)}"
            )
        return out


def _check_methods(methods: Sequence[str], allowed: Sequence[str]) -> list[str]:
    methods = list(dict.fromkeys(methods))
    bad = [m for m in methods if m not in allowed]
    if bad or not methods:
        raise ParameterError(f"analogy method(s) {bad or methods!r} unknown; valid: {', '.join(allowed)}")
    return methods


def _check_rule(answer_rule: str) -> None:
    if answer_rule not in ANSWER_RULES:
        raise ParameterError(f"answer_rule={answer_rule!r}; valid: {', '.join(ANSWER_RULES)}")


# --------------------------------------------------------------------------------------------------------
# BATS
# --------------------------------------------------------------------------------------------------------


def _pairwise_relation(
    method: str, table: _PairTable, scorer: _Scorer, exclude: bool
) -> tuple[np.ndarray, np.ndarray, np.ndarray, _Outcome]:
    """All ordered (test j, train i != j) questions: (train, test, covered, outcome)."""
    n = table.n
    jj, ii = np.meshgrid(np.arange(n), np.arange(n), indexing="ij")
    off = jj != ii
    train, test = ii[off], jj[off]
    covered = table.usable[train] & table.usable[test] & table.findable()[test]
    grid = _pairwise_grid(method, table, scorer, exclude)
    return train, test, covered, grid[test, train].where(covered)


def _pairwise_grid(
    method: str, table: _PairTable, scorer: _Scorer, exclude: bool, tests: np.ndarray | None = None
) -> _Outcome:
    """The outcome of every (test j, train i) question, an ``(n, n)`` grid (undefined where not asked).

    Scores of a block of test pairs against all train pairs come from one broadcast of ``L[i]`` with
    ``R[j]`` into a reused buffer; the diagonal (i = j) is computed and ignored (2 % of the work).
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
    buffer = np.empty((min(per_block, usable_test.size), n, v), dtype=np.float32)
    mask = np.empty((buffer.shape[0] * n, v), dtype=bool)  # _finish's comparisons, reused like ``buffer``
    for start in range(0, usable_test.size, per_block):
        tj = usable_test[start : start + per_block]
        right = scorer.right(method, table.src_u[tj])  # (J, V)
        shift = None
        if method == "PairDistance":
            g = scorer.gram[table.src_u[tj]]  # (J, U)
            shift = (g[:, iap] - g[:, ia])[:, :, None]
        scores = scorer.combine(method, left[None, :, :], right[:, None, :], shift, out=buffer[: tj.size])
        scores = scores.reshape(tj.size * n, v)
        answers = np.repeat(table.ans_cols[tj], n, axis=0)
        if exclude:
            b_col = np.repeat(table.src_col[tj], n)[:, None]
            excluded = np.concatenate([np.tile(excl_pair, (tj.size, 1)), b_col], axis=1)
        else:
            excluded = None
        grid[tj] = _finish(scores, excluded, answers, mask[: tj.size * n]).reshape(tj.size, n)
    return grid


def _set_relation(
    method: str,
    table: _PairTable,
    scorer: _Scorer,
    cand: Candidates,
    exclude: bool,
    relation_id: str,
    noise: NoiseSampler,
    lrcos_solver: str = "newton",
) -> tuple[np.ndarray, np.ndarray, np.ndarray, _Outcome]:
    """One question per test pair j, trained on all other pairs: (train=-1, test, covered, outcome)."""
    n = table.n
    test = np.arange(n)
    train = np.full(n, -1, dtype=np.int64)
    usable = table.usable
    n_other = usable.sum() - usable.astype(int)
    covered = usable & table.findable() & (n_other > 0)
    outcome = _Outcome.blank(n)
    if not covered.any():
        return train, test, covered, outcome
    tj = np.flatnonzero(covered)
    right = scorer.s[table.src_u[tj]]  # cos(d, b), (J, V)
    if method == "3CosAvg":
        ia = table.src_u[usable]
        iap = table.ans_u[usable]
        diffs = scorer.s[iap] - scorer.s[ia]  # (k, V)
        total = diffs.sum(axis=0, dtype=np.float64)
        own = np.zeros((n, diffs.shape[1]))
        own[np.flatnonzero(usable)] = diffs
        left = (total[None, :] - own[tj]) / n_other[tj][:, None]
        scores = (left + right).astype(np.float32)
    elif method == "LRCos":
        scores = _lrcos_scores(table, scorer, cand, tj, relation_id, noise, lrcos_solver) * right
    else:
        raise ParameterError(f"method {method!r} is not a set-based solver; valid: {', '.join(SET_METHODS)}")
    excluded = table.src_col[tj][:, None] if exclude else None
    outcome[tj] = _finish(np.ascontiguousarray(scores), excluded, table.ans_cols[tj])
    return train, test, covered, outcome


def _lrcos_scores(
    table: _PairTable,
    scorer: _Scorer,
    cand: Candidates,
    folds: np.ndarray,
    relation_id: str,
    noise: NoiseSampler,
    solver: str = "newton",
) -> np.ndarray:
    """P(target class | d) for every candidate d, one logistic regression per test pair (fold)."""
    from scipy.special import expit

    n = table.n
    u = scorer.u
    xs, ys = [], []
    for j in folds:  # the folds' training sets (small: about 300 x dims each)
        others = np.arange(n) != j
        pos = u[table.ans_u[others & (table.ans_u >= 0)]]
        src = u[table.src_u[others & (table.src_u >= 0)]]
        noise_rows = np.asarray(noise(relation_id, int(j), len(src)), dtype=np.int64)
        xs.append(np.concatenate([pos, *([src] * LRCOS_SOURCE_REPEATS), cand.vectors[noise_rows]]))
        ys.append(np.concatenate([np.ones(len(pos)), np.zeros(len(xs[-1]) - len(pos))]))
    if solver == "newton":
        coefs, intercepts = fit_logistic_folds(xs, ys, c=1.0)
    elif solver == "liblinear":
        from sklearn.linear_model import LogisticRegression

        coefs = np.zeros((folds.size, u.shape[1]))
        intercepts = np.zeros(folds.size)
        for k, (x, y) in enumerate(zip(xs, ys, strict=True)):
            model = LogisticRegression(solver="liblinear", class_weight="balanced", C=1.0).fit(x, y)
            coefs[k], intercepts[k] = model.coef_[0], model.intercept_[0]
    else:
        raise ParameterError(f"lrcos_solver={solver!r}; valid: {', '.join(LRCOS_SOLVERS)}")
    logits = coefs @ cand.vectors64.T  # (J, V) float64, as scikit-learn's predict_proba computes it
    logits += intercepts[:, None]
    return expit(logits, out=logits)


def fit_logistic_folds(
    xs: Sequence[np.ndarray],
    ys: Sequence[np.ndarray],
    *,
    c: float = 1.0,
    max_iter: int = 100,
    tol: float = 1e-10,
) -> tuple[np.ndarray, np.ndarray]:
    """Many small L2 logistic regressions at once, each at its exact optimum (batched Newton's method).

    The objective is liblinear's, which scikit-learn's ``LogisticRegression(solver="liblinear",
    class_weight="balanced", C=c)`` minimises: ``0.5 |[w, b]|^2 + c * sum_i weight(y_i) log(1 + exp(-y'_i
    ([w, b] . [x_i, 1])))`` with ``y' = +-1``, balanced class weights ``n / (2 n_class)`` and the intercept
    penalised like a weight (``intercept_scaling=1``). liblinear stops at a tolerance; this converges to the
    gradient norm ``tol``, so the two agree to liblinear's tolerance. One fit per LRCos fold costs vecto a
    liblinear call; here all of a relation's folds are one sequence of batched (D+1)-square solves.
    Returns ``(coefs (F, D), intercepts (F,))``.
    """
    f = len(xs)
    d = xs[0].shape[1] + 1
    m = max(len(x) for x in xs)
    x = np.zeros((f, m, d))
    yy = np.zeros((f, m))
    sw = np.zeros((f, m))  # sample weight c * class weight; 0 pads the shorter folds
    for k, (xk, yk) in enumerate(zip(xs, ys, strict=True)):
        x[k, : len(xk), :-1] = xk
        x[k, : len(xk), -1] = 1.0
        yk = np.asarray(yk)
        yy[k, : len(yk)] = np.where(yk > 0, 1.0, -1.0)
        n_pos, n_neg = int((yk > 0).sum()), int((yk <= 0).sum())
        if n_pos == 0 or n_neg == 0:
            raise ParameterError("LRCos: a training fold needs both positive and negative words")
        sw[k, : len(yk)] = c * np.where(yk > 0, len(yk) / (2 * n_pos), len(yk) / (2 * n_neg))
    if d > TORCH_NEWTON_MIN_DIMS:
        w = _newton_torch(x, yy, sw, max_iter, tol)
    else:
        w = _newton_numpy(x, yy, sw, max_iter, tol)
    return w[:, :-1], w[:, -1]


# Above this many features the batched (D+1)-square solves run in torch: its batched LAPACK calls were 5x
# faster than numpy's per-matrix loop at D = 384; below it numpy wins (no torch start-up, tiny systems).
TORCH_NEWTON_MIN_DIMS = 128


def _newton_numpy(x: np.ndarray, yy: np.ndarray, sw: np.ndarray, max_iter: int, tol: float) -> np.ndarray:
    from scipy.special import expit

    f, _, d = x.shape
    w = np.zeros((f, d))
    eye = np.eye(d)
    xt = x.transpose(0, 2, 1).copy()
    for _ in range(max_iter):
        p = expit(yy * (x @ w[:, :, None])[:, :, 0])
        grad = w + (((sw * (p - 1.0) * yy)[:, None, :]) @ x)[:, 0, :]
        if np.abs(grad).max() < tol:
            return w
        hess = eye + xt @ (x * (sw * p * (1.0 - p))[:, :, None])
        w = w - np.linalg.solve(hess, grad[:, :, None])[:, :, 0]
    raise ArithmeticError(f"LRCos: Newton's method did not converge in {max_iter} steps")


def _newton_torch(x: np.ndarray, yy: np.ndarray, sw: np.ndarray, max_iter: int, tol: float) -> np.ndarray:
    import torch

    xt = torch.from_numpy(x)
    yt = torch.from_numpy(yy)
    swt = torch.from_numpy(sw)
    f, _, d = x.shape
    w = torch.zeros((f, d), dtype=torch.float64)
    eye = torch.eye(d, dtype=torch.float64)
    for _ in range(max_iter):
        p = torch.sigmoid(yt * torch.bmm(xt, w[:, :, None])[:, :, 0])
        grad = w + torch.bmm(((swt * (p - 1.0) * yt)[:, None, :]), xt)[:, 0, :]
        if float(grad.abs().max()) < tol:
            return w.numpy()
        hess = eye + torch.bmm(xt.transpose(1, 2), xt * (swt * p * (1.0 - p))[:, :, None])
        w = w - torch.linalg.solve(hess, grad[:, :, None])[:, :, 0]
    raise ArithmeticError(f"LRCos: Newton's method did not converge in {max_iter} steps")


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
    methods = _check_methods(methods, METHODS)
    _check_rule(answer_rule)
    cand = _as_candidates(embeddings, candidates)
    noise = lrcos_noise or seeded_noise(len(cand.words), seed)
    model_index = embeddings.index
    cand_index = cand.index
    frames = []
    for rel in relations:
        words = sorted({w for s, ans in rel.pairs for w in (s, *ans) if w in model_index})
        scorer = _Scorer(words, embeddings, cand)
        table = _pair_table(
            rel.pairs, model_index, cand_index, {w: i for i, w in enumerate(words)}, answer_rule
        )
        for method in methods:
            if method in SET_METHODS:
                out = _set_relation(
                    method, table, scorer, cand, exclude_question_words, rel.id, noise, lrcos_solver
                )
            else:
                out = _pairwise_relation(method, table, scorer, exclude_question_words)
            frames.append(_question_frame(method, rel, table, cand, *out))
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
    cwords = np.array(cand.words + [""], dtype=object)
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


def _stats(frame: pd.DataFrame, clusters: np.ndarray, n_boot: int, seed: int) -> dict[str, Any]:
    """Means over the frame's questions, with percentile intervals from resampling whole ``clusters``.

    Each mean is ``sum / count`` over questions (uncovered ones count as wrong); its interval resamples the
    clusters' sums and counts together (:func:`cluster_bootstrap_ratio`), so questions that share pairs move
    together as they do in the data. ``accuracy_macro`` is the unweighted mean of the clusters' accuracies.
    """
    n = len(frame)
    covered = frame["covered"].to_numpy(dtype=bool)
    correct = frame["correct"].to_numpy(dtype=bool)
    out: dict[str, Any] = {"questions": n, "covered": int(covered.sum())}
    out["coverage"] = out["covered"] / n if n else float("nan")
    for name, col in SCORES:
        values = frame[col].to_numpy(dtype=float)
        out[name] = float(values.mean()) if n else float("nan")
        sums, counts = cluster_totals(values, clusters)
        low, high = cluster_bootstrap_ratio(sums, counts, n_boot=n_boot, ci=CI_LEVEL, seed=seed)
        out[f"{name}_low"], out[f"{name}_high"] = low, high
        if name == "accuracy":
            out["accuracy_macro"] = float((sums / counts).mean()) if n else float("nan")
            out["clusters"] = len(counts)
    out["accuracy_covered"] = float(correct[covered].mean()) if covered.any() else float("nan")
    out["correct"] = int(correct.sum())
    out["degenerate"] = int(frame["degenerate"].to_numpy(dtype=bool).sum())
    return out


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
    # integer cluster codes, so the per-level resampling never sorts strings
    relation_code = questions.groupby("relation", sort=False).ngroup().to_numpy()
    pair_code = questions.groupby(["relation", "b", "b_prime"], sort=False).ngroup().to_numpy()
    rel_rows, group_rows, overall_rows = [], [], []
    for method, qm in questions.groupby("method", sort=False):
        for rel, qr in qm.groupby("relation", sort=False):
            row = {"method": method, "relation": rel}
            for col in ("relation_name", *group_cols):
                row[col] = qr[col].iloc[0]
            rel_rows.append(row | _stats(qr, pair_code[qr.index], n_boot, seed))
        for col in group_cols:
            for value, qg in qm.groupby(col, sort=False):
                row = {"method": method, "level": col, "group": value}
                group_rows.append(row | _stats(qg, relation_code[qg.index], n_boot, seed))
        overall_rows.append({"method": method} | _stats(qm, relation_code[qm.index], n_boot, seed))
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
    methods = _check_methods(methods, GOOGLE_METHODS)
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
    plan = []
    for name in dict.fromkeys(section):
        rows = np.flatnonzero(section == name)
        pair_id: dict[tuple[str, str], int] = {}
        for r in rows:  # over the set's questions once, to number its pairs; the solving is batched
            pair_id.setdefault((qa[r], qb[r]), len(pair_id))
            pair_id.setdefault((qc[r], qd[r]), len(pair_id))
        pairs = [(x, (y,)) for x, y in pair_id]
        train = np.array([pair_id[qa[r], qb[r]] for r in rows])
        test = np.array([pair_id[qc[r], qd[r]] for r in rows])
        words = sorted({w for x, y in pair_id for w in (x, y) if w in model_index})
        table = _pair_table(pairs, model_index, cidx, {w: i for i, w in enumerate(words)}, "first")
        plan.append((rows, train, test, words, table))
    covered = np.zeros(n, dtype=bool)
    for rows, train, test, _, table in plan:
        covered[rows] = table.usable[train] & table.usable[test] & table.findable()[test]
    frames = []
    group = np.where(np.char.startswith(section.astype(str), GOOGLE_SEMANTIC_PREFIX), "syntactic", "semantic")
    cwords = np.array(cand.words + [""], dtype=object)
    for method in methods:
        outcome = _Outcome.blank(n)
        for rows, train, test, words, table in plan:
            scorer = _Scorer(words, embeddings, cand)
            grid = _pairwise_grid(method, table, scorer, exclude_question_words, np.unique(test))
            outcome[rows] = grid[test, train].where(covered[rows])
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
        frames.append(_add_scores(frame, outcome, cwords))
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
