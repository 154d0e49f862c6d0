"""Analysis 4: agreement between models, checked against direct formulas and scipy."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from wordembed.analyses.agreement import (
    cka_interval,
    knn_indices,
    linear_cka,
    model_agreement,
    neighbour_jaccard,
    shared_pairs,
    shared_words,
)
from wordembed.analyses.allpairs import normalize_rows, pair_cosines
from wordembed.embeddings import Embeddings
from wordembed.errors import ParameterError


def _kernel_cka(x: np.ndarray, y: np.ndarray) -> float:
    """The n x n form: HSIC(K, L) / sqrt(HSIC(K, K) HSIC(L, L)) with linear kernels and H = I - 11'/n."""
    n = x.shape[0]
    h = np.eye(n) - 1.0 / n
    k, l_ = h @ (x @ x.T) @ h, h @ (y @ y.T) @ h
    return float(np.sum(k * l_) / np.sqrt(np.sum(k * k) * np.sum(l_ * l_)))


def _models(seed: int = 0, n: int = 300):
    rng = np.random.default_rng(seed)
    base = rng.standard_normal((n, 16))
    words = [f"w{i}" for i in range(n)]
    a = Embeddings(words, (base + 0.1 * rng.standard_normal((n, 16))).astype(np.float32), model="a")
    mix = rng.standard_normal((16, 24))
    b = Embeddings(
        words[::-1], ((base @ mix) + 2.0 * rng.standard_normal((n, 24)))[::-1].astype(np.float32), model="b"
    )
    c = Embeddings(words[: n - 20], rng.standard_normal((n - 20, 8)).astype(np.float32), model="c")
    return a, b, c


def test_cka_equals_kernel_formula_and_is_invariant():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((60, 5)) + 1.0
    y = x @ rng.standard_normal((5, 7)) + rng.standard_normal((60, 7))
    assert linear_cka(x, y) == pytest.approx(_kernel_cka(x, y), rel=1e-10)
    q, _ = np.linalg.qr(rng.standard_normal((7, 7)))
    assert linear_cka(x, 3.5 * y @ q) == pytest.approx(linear_cka(x, y), rel=1e-10)
    assert linear_cka(x, x) == pytest.approx(1.0)
    assert linear_cka(x.astype(np.float32), y.astype(np.float32)) == pytest.approx(linear_cka(x, y), rel=1e-4)
    lo, hi = cka_interval(x, y, linear_cka(x, y), m=60, n_boot=200)
    assert lo < linear_cka(x, y) < hi
    with pytest.raises(ParameterError):
        linear_cka(x, y[:10])


def test_jaccard_and_knn_on_hand_made_cases():
    a = np.array([[1, 2, 3], [4, 5, 6]])
    b = np.array([[3, 9, 1], [7, 8, 0]])
    assert np.allclose(neighbour_jaccard(a, b), [2 / 4, 0.0])
    assert np.allclose(neighbour_jaccard(a, a[:, ::-1]), [1.0, 1.0])
    # unit vectors at 0, 10, 25, 45, 70 degrees: neighbours by angle
    ang = np.deg2rad([0, 10, 25, 45, 70])
    xn = np.c_[np.cos(ang), np.sin(ang)].astype(np.float32)
    nn = knn_indices(xn, 2, block=2)
    assert [sorted(r) for r in nn.tolist()] == [[1, 2], [0, 2], [1, 3], [2, 4], [2, 3]]
    with pytest.raises(ParameterError):
        knn_indices(xn, 5)


def test_a_model_agrees_with_itself():
    a, _, _ = _models()
    twin = Embeddings(list(a.words), a.vectors.copy(), model="twin")
    res = model_agreement({"a": a, "twin": twin}, n_random=2000, n_boot=20, cka_boot=10, k=5)
    for measure, frame in res.matrices.items():
        assert frame.loc["a", "twin"] == pytest.approx(1.0), measure
    assert (res.table["value"] > 0.999999).all()


def test_agreement_matrices_match_direct_computation():
    a, b, c = _models()
    related = pd.DataFrame(
        {"source": ["w1", "w2", "w3", "w299", "w1"], "target": ["w5", "w6", "nope", "w4", "w5"]}
    )
    embs = {"a": a, "b": b, "c": c}
    res = model_agreement(embs, related, n_random=3000, n_boot=30, cka_boot=20, k=10, seed=3)
    words = shared_words(embs)
    assert res.n_words == 280 and words == a.words[:280]
    i, j, flag = shared_pairs(words, related, 3000, 3)
    # w299 is not covered by c, nope by nobody, (w1, w5) is repeated: 2 related pairs kept
    assert res.n_pairs == 3002 and res.pair_sources == {"random": 3000, "related": 2} and flag.sum() == 2
    cos = {m: pair_cosines(normalize_rows(e.subset(words).vectors), i, j) for m, e in embs.items()}
    t = res.table.set_index(["measure", "model_a", "model_b"])
    assert t.loc[("spearman", "a", "b"), "value"] == pytest.approx(stats.spearmanr(cos["a"], cos["b"])[0])
    assert t.loc[("kendall", "a", "c"), "value"] == pytest.approx(stats.kendalltau(cos["a"], cos["c"])[0])
    xa, xb = a.subset(words).vectors.astype(np.float64), b.subset(words).vectors.astype(np.float64)
    assert t.loc[("cka", "a", "b"), "value"] == pytest.approx(_kernel_cka(xa, xb), rel=1e-8)
    ja = neighbour_jaccard(knn_indices(normalize_rows(xa), 10), knn_indices(normalize_rows(xb), 10)).mean()
    assert t.loc[("knn_jaccard", "a", "b"), "value"] == pytest.approx(ja)
    # a and b share structure, c is noise: the matrices say so
    for measure in ("spearman", "kendall", "knn_jaccard", "cka"):
        m = res.matrices[measure]
        assert m.loc["a", "b"] == m.loc["b", "a"] and m.loc["a", "a"] == 1.0
        assert m.loc["a", "b"] > m.loc["a", "c"], measure
        row = t.loc[(measure, "a", "b")]
        assert row["ci_low"] <= row["value"] <= row["ci_high"], measure
    assert res.to_dict()["models"] == ["a", "b", "c"]


def test_bad_input():
    a, _, _ = _models()
    with pytest.raises(ParameterError, match="at least 2"):
        model_agreement({"a": a})
    with pytest.raises(ParameterError, match="unknown measure"):
        model_agreement({"a": a, "b": a}, measures=("nope",))
    other = Embeddings(["zzz", "yyy"], np.eye(2, dtype=np.float32))
    with pytest.raises(ParameterError, match="share only"):
        model_agreement({"a": a, "o": other})


def test_agreement_command(tmp_path):
    from wordembed.cli import main
    from wordembed.results import read_metrics, read_table
    from wordembed.vectorfile import write_word2vec_text

    a, b, c = _models(n=200)
    for e in (a, b, c):
        write_word2vec_text(e, tmp_path / f"{e.model}.txt")
    (tmp_path / "words.txt").write_text("\n".join(a.words) + "\n")
    files = [str(tmp_path / f"{m}.txt") for m in "abc"]
    args = ["agreement", "--models", *files, "--words", str(tmp_path / "words.txt"), "--n-random", "2000"]
    assert (
        main([*args, "--n-boot", "20", "--cka-boot", "10", "--out", str(tmp_path / "out"), "--no-progress"])
        == 0
    )
    m = read_metrics(tmp_path / "out")["agreement"]
    assert m["n_words"] == 180 and m["pair_sources"]["random"] == 2000
    cka = read_table(tmp_path / "out", "agreement_cka").set_index("model")
    assert (
        list(cka.index) == ["a.txt", "b.txt", "c.txt"]
        and cka.loc["a.txt", "b.txt"] > cka.loc["a.txt", "c.txt"]
    )
    assert len(read_table(tmp_path / "out", "agreement_table")) == 3 * 4
    assert main(["agreement", "--models", files[0], files[0]]) == 2
