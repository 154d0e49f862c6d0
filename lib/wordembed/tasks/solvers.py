"""The analogy solvers as a registry: one entry per method, its left and right terms and how they combine.

Why: the solvers were named in string ``if`` chains in four places of :mod:`wordembed.analyses.analogy` and
again as tuples. Here each solver is one :class:`Solver`: a question ``a : a' :: b : ?`` is scored for every
candidate ``d`` as ``combine(left(S[a], S[a']), right(S[b]))``, where ``S = U @ C.T`` are the cosines of the
question's words ``U`` with the unit candidates ``C`` (so every term is a row operation on ``S``, batched by
broadcasting).

:mod:`wordembed.analyses.analogy` takes every term from here (``_Scorer.left`` is ``SOLVERS[method].left``)
and dispatches once, on ``kind`` (its ``KINDS``): ``pairwise`` solvers are broadcast over every (train, test)
pair, ``set`` solvers average their left term over the other pairs (leave-one-out, in float64), and
``fitted`` is LRCos's logistic recipe. A new solver is one registration (``SOLVERS.register`` or, for a
while, ``SOLVERS.temporary``; tests/test_extending.py adds one). The task layer reads ``kind`` and
``datasets`` (which methods a data set can ask). This module imports only numpy, so the analysis imports it
without a cycle.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import numpy as np

from wordembed.tasks.registry import Registry

EPSILON = 0.001
"""3CosMul's denominator guard (vecto's ``ThreeCosMul``; :data:`wordembed.analyses.analogy.EPSILON`)."""

Left = Callable[[np.ndarray, np.ndarray], np.ndarray]
"""``(S[a], S[a'])`` (k, V) -> the train-pair term (k, V)."""
Right = Callable[[np.ndarray, np.ndarray], np.ndarray]
"""``(S[b], |c|^2)`` ((m, V), (V,)) -> the test-word term (m, V)."""
Combine = Callable[[np.ndarray, np.ndarray, "np.ndarray | None", np.ndarray], np.ndarray]
"""``(L, R, shift, out)`` -> scores written into ``out`` (broadcast shape); ``shift`` is PairDistance's
``b . (a' - a)``, None for the others."""


@dataclass(frozen=True)
class Solver:
    """One analogy method.

    ``kind``: ``pairwise`` (every ordered pair of pairs is a question: 50 x 49 per BATS relation), ``set``
    (one question per test pair, the left term averaged over all other pairs) or ``fitted`` (LRCos: a logistic
    regression per test pair; no left/right terms). ``datasets``: where it can be asked (the Google set has
    no relation sets, so only pair-wise solvers).
    """

    name: str
    kind: Literal["pairwise", "set", "fitted"]
    datasets: tuple[str, ...]
    formula: str
    vecto: str
    left: Left | None = None
    right: Right | None = None
    combine: Combine | None = None
    needs_shift: bool = False


def _offset(s_a: np.ndarray, s_ap: np.ndarray) -> np.ndarray:
    return s_ap - s_a


def _cos_b(s_b: np.ndarray, cand_sq: np.ndarray) -> np.ndarray:
    return s_b


def _add(left: np.ndarray, right: np.ndarray, shift: np.ndarray | None, out: np.ndarray) -> np.ndarray:
    return np.add(left, right, out=out)


def _mul_left(s_a: np.ndarray, s_ap: np.ndarray) -> np.ndarray:
    return ((s_ap + 1) / 2) / ((s_a + 1) / 2 + EPSILON)


def _mul_right(s_b: np.ndarray, cand_sq: np.ndarray) -> np.ndarray:
    return (s_b + 1) / 2


def _mul(left: np.ndarray, right: np.ndarray, shift: np.ndarray | None, out: np.ndarray) -> np.ndarray:
    return np.multiply(left, right, out=out)


def _inverse_distance(s_b: np.ndarray, cand_sq: np.ndarray) -> np.ndarray:
    """``1 / ||d - b||`` for unit ``b`` (0 where ``d == b``, so a candidate equal to ``b`` scores 0, as in vecto)."""
    sq = cand_sq[None, :] + 1.0 - 2.0 * s_b
    with np.errstate(divide="ignore", invalid="ignore"):
        inv = np.where(sq > 1e-12, 1.0 / np.sqrt(np.maximum(sq, 1e-30)), 0.0)
    return inv.astype(np.float32)


def _pair_direction(left: np.ndarray, right: np.ndarray, shift: np.ndarray | None, out: np.ndarray) -> np.ndarray:
    if shift is None:
        raise ValueError("PairDistance needs the shift term b . (a' - a)")
    np.subtract(left, shift, out=out)
    out *= right
    return out


def _zeros(s_a: np.ndarray, s_ap: np.ndarray) -> np.ndarray:
    return np.zeros_like(s_a)


def _right_only(left: np.ndarray, right: np.ndarray, shift: np.ndarray | None, out: np.ndarray) -> np.ndarray:
    out[...] = right
    return out


BOTH = ("bats", "google")
SOLVERS: Registry[Solver] = Registry(
    "analogy solver",
    {
        s.name: s
        for s in (
            Solver("3CosAdd", "pairwise", BOTH, "argmax cos(d, a' - a + b)", "LinearOffset", _offset, _cos_b, _add),
            Solver("3CosMul", "pairwise", BOTH, "argmax s(d, a') s(d, b) / (s(d, a) + eps), s = (cos + 1) / 2",
                   "ThreeCosMul", _mul_left, _mul_right, _mul),
            Solver("PairDistance", "pairwise", BOTH, "argmax cos(d - b, a' - a)", "PairDistance", _offset,
                   _inverse_distance, _pair_direction, needs_shift=True),
            Solver("3CosAvg", "set", ("bats",), "argmax cos(d, mean(a') - mean(a) + b)", "ThreeCosAvg", _offset,
                   _cos_b, _add),
            Solver("LRCos", "fitted", ("bats",), "argmax P(d in the target class) cos(d, b)", "LRCos"),
            Solver("SimilarToB", "pairwise", BOTH, "argmax cos(d, b)", "SimilarToB", _zeros, _cos_b, _right_only),
        )
    },
)  # fmt: skip
