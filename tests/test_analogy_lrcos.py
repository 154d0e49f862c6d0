"""LRCos's fast path against its plain definition: every fold's float64 score of every candidate, ranked.

The solver never makes that (F, V) float64 matrix (it prunes by ``cos >= best`` and screens in float32);
these tests make it, on data built to be hard for the shortcuts (exact duplicates of answers, vectors an ulp
away from them, saturated probabilities, negative best scores), and require the very same ranks, mid-ranks,
degenerate flags and predictions.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest

from wordembed.analyses import analogy
from wordembed.analyses.analogy import Candidates, fit_logistic_folds, seeded_noise, solve_bats
from wordembed.embeddings import Embeddings


@dataclass(frozen=True)
class Rel:
    id: str
    name: str
    group: str
    kind: str
    pairs: tuple[tuple[str, tuple[str, ...]], ...]


def hard_setup(seed: int, n_pairs: int = 12, dim: int = 16, n_noise: int = 1500):
    """Pairs sharing an offset, plus per answer: an exact copy, two near-copies and a far word."""
    rng = np.random.default_rng(seed)
    offset = rng.normal(size=dim) * 1.5
    vecs, words = [], []
    pairs = []
    for i in range(n_pairs):
        src = rng.normal(size=dim)
        tgt = src + offset + 0.5 * rng.normal(size=dim)
        if i % 4 == 3:  # an answer unrelated to its source: cos(b, b') < 0 happens, so best <= 0
            tgt = -src + 0.3 * rng.normal(size=dim)
        words += [f"s{i}", f"t{i}", f"t{i}_copy", f"t{i}_near", f"t{i}_near2", f"t{i}_ulp", f"t{i}_ulp2"]
        tiny = rng.normal(size=dim)
        t32 = tgt.astype(np.float32)
        up = t32.copy()  # a few ulps away: float32 cannot order their scores, float64 can
        up[::3] = np.nextafter(np.nextafter(up[::3], np.float32(np.inf)), np.float32(np.inf))
        down = t32.copy()
        down[1::3] = np.nextafter(down[1::3], np.float32(-np.inf))
        vecs += [src, tgt, tgt, tgt + 1e-7 * tiny, tgt - 3e-7 * tiny, up, down]
        answers = (f"t{i}",) if i % 3 else (f"t{i}", f"t{i}_near2")
        pairs.append((f"s{i}", answers))
    words.append("same")  # BATS's ``series -> series``: with b excluded its only answer cannot be found
    vecs.append(rng.normal(size=dim))
    pairs.append(("same", ("same",)))
    vecs += list(rng.normal(size=(n_noise, dim)))
    words += [f"n{i}" for i in range(n_noise)]
    emb = Embeddings(words, np.array(vecs, dtype=np.float32), model="hard")
    return emb, Rel("H01", "hard", "inflectional", "morphological", tuple(pairs))


def dense_reference(table, scorer, cand, folds, relation_id, noise, solver, exclude):
    """The definition: float64 scores of all candidates for all folds, then the generic ranking."""
    coefs, intercepts = analogy._lrcos_fit(table, scorer.u, cand, folds, relation_id, noise, solver)
    cos = scorer.s[table.src_u[folds]]
    f, v = cos.shape
    r, c = np.divmod(np.arange(f * v), v)
    scores = analogy._lrcos_exact(coefs, intercepts, cos, cand, r, c).reshape(f, v)
    excluded = table.src_col[folds][:, None] if exclude else None
    return analogy._finish(scores, excluded, table.ans_cols[folds])


@pytest.mark.parametrize("exclude", [True, False])
@pytest.mark.parametrize(("seed", "dim"), [(0, 16), (1, 16), (2, 16), (3, 200)])  # 200: the m x m Newton
@pytest.mark.parametrize("share", [1, 10**9])  # prune whenever allowed / never (every question screened)
def test_lrcos_ranks_equal_the_dense_float64_definition(monkeypatch, seed, dim, exclude, share):
    monkeypatch.setattr(analogy, "PRUNED_MAX_SHARE", share)
    emb, rel = hard_setup(seed, dim=dim)
    cand = Candidates.from_embeddings(emb, emb.words)
    seen: dict[str, int] = {"pruned": 0, "screened": 0, "questions": 0}
    references = []
    ranked = analogy._lrcos_ranked

    def spy(*args, **kw):
        seen["pruned" if len(args) > 6 and args[6] is not None else "screened"] += len(args[0])
        return ranked(*args, **kw)

    outcome = analogy._lrcos_outcome

    def check(table, scorer, cand_, folds, relation_id, noise, solver, exclude_):
        got = outcome(table, scorer, cand_, folds, relation_id, noise, solver, exclude_)
        references.append(
            (got, dense_reference(table, scorer, cand_, folds, relation_id, noise, solver, exclude_))
        )
        seen["questions"] += len(folds)
        return got

    monkeypatch.setattr(analogy, "_lrcos_ranked", spy)
    monkeypatch.setattr(analogy, "_lrcos_outcome", check)
    res = solve_bats(emb, [rel], methods=["LRCos"], candidates=cand, exclude_question_words=exclude, n_boot=0)
    assert seen["questions"] == len(rel.pairs) == len(res.questions)
    same = res.questions[res.questions.b == "same"].iloc[0]
    assert np.isnan(same["rank"]) == exclude and same.prediction != ""  # a prediction all the same
    assert seen["screened"] > 0 and (seen["pruned"] > 0) == (share == 1)  # best <= 0 rows are never pruned
    for got, want in references:
        np.testing.assert_array_equal(got.rank, want.rank)
        np.testing.assert_array_equal(got.mid, want.mid)
        np.testing.assert_array_equal(got.degenerate, want.degenerate)
        np.testing.assert_array_equal(got.pred, want.pred)
    # the planted copies really tie with their answer: some ranks are pushed down by them
    assert (res.questions["rank"] != res.questions["rank_mid"]).any()


def test_pruned_and_screened_paths_agree_row_by_row():
    """The same rows through both paths (best > 0 rows only), and saturated probabilities (P == 1.0)."""
    rng = np.random.default_rng(7)
    dim, v, f = 8, 800, 30
    base = rng.normal(size=(v // 2, dim)).astype(np.float32)
    c32 = np.repeat(base, 2, axis=0)  # every vector twice, the copy a few ulps away: float32 cannot order
    c32[1::2, ::2] = np.nextafter(c32[1::2, ::2], np.float32(np.inf))  # their scores, float64 can
    c32[1::2, 1::4] = np.nextafter(c32[1::2, 1::4], np.float32(-np.inf))
    c32[1::50] = c32[0::50]  # exact duplicate columns: true ties
    cand = Candidates.from_embeddings(Embeddings([f"w{i}" for i in range(v)], c32), None)
    b = cand.vectors[rng.integers(0, v, size=f)]
    cos = b @ cand.vectors.T
    coefs = rng.normal(size=(f, dim)) * np.r_[np.full(f // 2, 60.0), np.full(f - f // 2, 1.0)][:, None]
    intercepts = rng.normal(size=f)
    ans = np.stack([np.argsort(-cos[i])[[3, 40]] for i in range(f)])  # answers among the close ones
    # rows whose answer has a duplicate and P = 1.0 exactly (logit 100): the duplicate's cos equals best
    dup = np.arange(0, v, 50)
    for i in range(0, f, 3):
        a = dup[np.argmax(cos[i, dup])]
        ans[i] = [a, -1]
        coefs[i] = 100.0 * cand.vectors[a] / np.linalg.norm(cand.vectors[a]) ** 2
        intercepts[i] = 0.0
    b_col = np.full(f, -1)
    best = analogy._best_answer(coefs, intercepts, cos, cand, ans, b_col)
    assert (best > 0).all()
    reach, pruned = analogy._reach(cos, best, b_col)
    assert pruned.all()
    assert (best[::3] == cos[np.arange(0, f, 3), ans[::3, 0]]).all()  # saturated: best is the cosine
    cols = np.flatnonzero(reach.any(axis=0))
    screened = analogy._lrcos_ranked(coefs, intercepts, cos, cand, ans, b_col)
    pruned = analogy._lrcos_ranked(coefs, intercepts, cos, cand, ans, b_col, cols, reach)
    r, c = np.divmod(np.arange(f * v), v)
    dense = analogy._finish(analogy._lrcos_exact(coefs, intercepts, cos, cand, r, c).reshape(f, v), None, ans)
    for out in (screened, pruned):
        np.testing.assert_array_equal(out.rank, dense.rank)
        np.testing.assert_array_equal(out.mid, dense.mid)
        np.testing.assert_array_equal(out.pred, dense.pred)
    assert cols.size < v  # the pruning left candidates out
    assert (dense.rank[::3] > 1).all()  # the duplicate ties with the answer (and is the prediction)
    # float32 alone would pick another top than float64 on some rows (the ulp-apart copies)
    assert (analogy._float32_scores(coefs, intercepts, cand.vectors, cos).argmax(axis=1) != dense.pred).any()


def test_float32_scores_stay_within_delta():
    rng = np.random.default_rng(3)
    dim, v, f = 50, 5000, 20
    cand = Candidates.from_embeddings(
        Embeddings([f"w{i}" for i in range(v)], rng.normal(size=(v, dim))), None
    )
    cos = cand.vectors[:f] @ cand.vectors.T
    coefs = rng.normal(size=(f, dim)) * np.geomspace(0.1, 200.0, f)[:, None]
    intercepts = rng.normal(size=f) * 5
    s32 = analogy._float32_scores(coefs, intercepts, cand.vectors, cos)
    r, c = np.divmod(np.arange(f * v), v)
    exact = analogy._lrcos_exact(coefs, intercepts, cos, cand, r, c).reshape(f, v)
    err = np.abs(s32 - exact).max(axis=1)
    delta = analogy._lrcos_delta(coefs, intercepts, cand)
    assert (err <= delta / 2).all(), (err / delta).max()  # the bound holds without its factor 2 of margin
    assert (err > 0).any()


@pytest.mark.parametrize("dim", [16, 300])  # 300 > the 30 rows of a fold: Newton in the rows' span
def test_shared_row_newton_equals_vectos_explicit_rows(dim):
    """Sources weighted x4 in one shared matrix = vecto's rows with each source repeated four times."""
    emb, rel = hard_setup(5, n_pairs=10, dim=dim)
    cand = Candidates.from_embeddings(emb, emb.words)
    words = sorted({w for s, ans in rel.pairs for w in (s, *ans)})
    scorer = analogy._Scorer(words, emb, cand)
    table = analogy._pair_table(
        rel.pairs, emb.index, cand.index, {w: i for i, w in enumerate(words)}, "first"
    )
    noise = seeded_noise(len(cand.words), seed=2)
    folds = np.arange(table.n)
    coefs, intercepts = analogy._lrcos_newton(table, scorer.u, cand, folds, rel.id, noise)
    xs, ys = [], []
    for j in folds:
        others = np.arange(table.n) != j
        pos = scorer.u[table.ans_u[others]]
        src = scorer.u[table.src_u[others]]
        neg = np.concatenate([src] * 4 + [cand.vectors[noise(rel.id, int(j), len(src))]])
        xs.append(np.concatenate([pos, neg]))
        ys.append(np.r_[np.ones(len(pos)), np.zeros(len(neg))])
    ref_coefs, ref_intercepts = fit_logistic_folds(xs, ys)
    np.testing.assert_allclose(coefs, ref_coefs, rtol=0, atol=1e-11)
    np.testing.assert_allclose(intercepts, ref_intercepts, rtol=0, atol=1e-11)
    assert np.abs(coefs).max() > 0.1


@pytest.mark.parametrize("n_rows", [1, 2, 7])
def test_s_rows_are_the_rows_of_s_bit_for_bit(n_rows):
    emb, rel = hard_setup(4)
    cand = Candidates.from_embeddings(emb, emb.words)
    words = sorted({w for s, ans in rel.pairs for w in (s, *ans)})
    rows = np.arange(n_rows) * 3
    lazy = analogy._s_rows(analogy._Scorer(words, emb, cand), rows)
    full = analogy._Scorer(words, emb, cand).s[rows]
    assert lazy.dtype == np.float32
    np.testing.assert_array_equal(lazy, full)


def test_a_row_where_every_candidate_ties_is_not_pruned_and_is_degenerate():
    """All candidates the same vector: every score is equal, the question says nothing (degenerate)."""
    v, dim = 40, 6
    rng = np.random.default_rng(1)
    cand = Candidates.from_embeddings(Embeddings([f"w{i}" for i in range(v)], np.ones((v, dim))), None)
    cos = np.repeat(cand.vectors[:1] @ cand.vectors.T, 3, axis=0)
    coefs, intercepts = rng.normal(size=(3, dim)), rng.normal(size=3)
    ans, b_col = np.array([[0], [5], [7]]), np.full(3, -1)
    best = analogy._best_answer(coefs, intercepts, cos, cand, ans, b_col)
    reach, pruned = analogy._reach(cos, best, b_col)
    assert reach.all() and not pruned.any()
    out = analogy._lrcos_ranked(coefs, intercepts, cos, cand, ans, b_col)
    assert out.degenerate.all() and np.isnan(out.rank).all() and (out.pred == -1).all()
