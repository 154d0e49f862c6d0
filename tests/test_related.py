"""Analysis 2: related versus random pairs, on hand-made vectors where the answer is known."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from wordembed.analyses.related import auroc_from_placements, related_similarity
from wordembed.embeddings import Embeddings
from wordembed.errors import ParameterError


def _world(seed: int = 0):
    """60 source words; a morphological target is a near copy of its source, a semantic target a looser one."""
    rng = np.random.default_rng(seed)
    d = 32
    words, vecs, rows = [], [], []
    for r in range(60):
        base = rng.standard_normal(d)
        morph = base + 0.2 * rng.standard_normal(d)
        sem = base + 1.0 * rng.standard_normal(d)
        words += [f"s{r}", f"m{r}", f"t{r}"]
        vecs += [base, morph, sem]
        rel_m = "I01" if r < 30 else "D01"
        rel_s = "E01" if r < 30 else "L01"
        rows.append(
            (
                rel_m,
                "morph rel",
                "inflectional" if r < 30 else "derivational",
                "morphological",
                f"s{r}",
                f"m{r}",
            )
        )
        rows.append(
            (rel_s, "sem rel", "encyclopedic" if r < 30 else "lexicographic", "semantic", f"s{r}", f"t{r}")
        )
    rows.append(("E01", "sem rel", "encyclopedic", "semantic", "s0", "unknownword"))  # dropped: not covered
    rows.append(("L01", "sem rel", "lexicographic", "semantic", "nosuch", "t59"))  # dropped
    pairs = pd.DataFrame(rows, columns=["relation", "relation_name", "group", "kind", "source", "target"])
    emb = Embeddings(
        words, np.asarray(vecs, np.float32) + 0.5, missing=["unknownword", "nosuch"], model="toy"
    )
    return emb, pairs


def test_related_pairs_separate_from_random_and_coverage_is_counted():
    emb, pairs = _world()
    res = related_similarity(emb, pairs, seed=1, n_boot=200)
    s = res.summary.set_index(["level", "name"])
    assert res.n_dropped == 2 and len(res.pairs) == 120
    assert s.loc[("all", "all"), "n_pairs"] == 122 and s.loc[("all", "all"), "n_dropped"] == 2
    assert s.loc[("kind", "semantic"), "coverage"] == pytest.approx(60 / 62)
    assert s.loc[("relation", "E01"), "n_dropped"] == 1 and s.loc[("relation", "I01"), "coverage"] == 1.0
    assert len(res.random) == 10 * 120  # default: 10x the kept related pairs
    # morphological pairs are near copies: higher cosine, near-perfect AUROC; semantic ones separate less
    morph, sem = s.loc[("kind", "morphological")], s.loc[("kind", "semantic")]
    assert morph["auroc"] > 0.99 and morph["mean"] > sem["mean"]
    assert sem["auroc"] > 0.8 and morph["separation"] > sem["separation"] > 1.0
    for row in (morph, sem):
        assert row["auroc_ci_low"] <= row["auroc"] <= row["auroc_ci_high"]
        assert row["separation_ci_low"] <= row["separation"] <= row["separation_ci_high"]
        assert row["mean_ci_low"] <= row["mean"] <= row["mean_ci_high"]
    # per-group numbers are the direct computation on the pairs
    u = emb.normalized().astype(np.float64)
    idx = emb.index
    i01 = pairs[(pairs.relation == "I01")]
    direct = [u[idx[a]] @ u[idx[b]] for a, b in zip(i01.source, i01.target, strict=True)]
    assert s.loc[("relation", "I01"), "mean"] == pytest.approx(np.mean(direct), abs=1e-6)
    assert s.loc[("relation", "I01"), "group"] == "inflectional"
    rand = res.random["cosine"].to_numpy(np.float64)
    assert s.loc[("random", "random"), "mean"] == pytest.approx(rand.mean())
    assert s.loc[("group", "inflectional"), "separation"] == pytest.approx(
        (np.mean(direct) - rand.mean()) / rand.std(), abs=1e-5
    )
    d = res.to_dict()
    assert d["n_related"] == 120 and d["coverage"] == pytest.approx(120 / 122)
    assert set(d["group"]) == {"inflectional", "derivational", "encyclopedic", "lexicographic"}


def test_random_pairs_are_distinct_words_not_related_and_seeded():
    emb, pairs = _world()
    a = related_similarity(emb, pairs, n_random=3000, seed=5, n_boot=20)
    b = related_similarity(emb, pairs, n_random=3000, seed=5, n_boot=20)
    pd.testing.assert_frame_equal(a.random, b.random)
    pd.testing.assert_frame_equal(a.summary, b.summary)
    r = a.random
    assert len(r) == 3000 and (r.source != r.target).all()
    related = set(zip(a.pairs.source, a.pairs.target, strict=True))
    related |= {(t, s) for s, t in related}
    assert not any(p in related for p in zip(r.source, r.target, strict=True))
    vocab = set(a.pairs.source) | set(a.pairs.target)
    assert set(r.source) <= vocab and set(r.target) <= vocab


def test_auroc_from_placements_equals_sklearn_with_ties():
    rng = np.random.default_rng(0)
    rel = rng.integers(0, 5, 40).astype(float)
    rand = np.sort(rng.integers(0, 5, 300).astype(float))
    left, right = np.searchsorted(rand, rel, "left"), np.searchsorted(rand, rel, "right")
    expected = roc_auc_score(np.r_[np.ones(40), np.zeros(300)], np.r_[rel, rand])
    assert auroc_from_placements(left, right, rand.size) == pytest.approx(expected)


def test_bad_input():
    emb, pairs = _world()
    with pytest.raises(ParameterError, match="missing column"):
        related_similarity(emb, pairs.drop(columns=["kind"]))
    with pytest.raises(ParameterError, match="covers no pair"):
        related_similarity(emb, pairs.assign(source="nosuch"))


def test_related_command_on_bats(tmp_path):
    from wordembed.cli import main
    from wordembed.datasets import bats_pairs, load_bats
    from wordembed.results import read_metrics, read_table
    from wordembed.vectorfile import write_word2vec_text

    pairs = bats_pairs(load_bats())
    covered = pairs[pairs["relation"].isin(["I01", "D02", "E03", "L04"])]
    words = sorted(set(covered["source"]) | set(covered["target"]))
    rng = np.random.default_rng(0)
    write_word2vec_text(
        Embeddings(words, rng.standard_normal((len(words), 8)).astype(np.float32)), tmp_path / "v.txt"
    )
    out = tmp_path / "out"
    assert main(["related", "--model", str(tmp_path / "v.txt"), "--out", str(out), "--n-boot", "50"]) == 0
    m = read_metrics(out)["related"]
    assert m["n_related"] >= len(covered)  # other relations may share words with these four
    assert m["n_related"] + m["n_dropped"] == len(pairs) and m["n_random"] == 10 * m["n_related"]
    summary = read_table(out, "related_summary")
    i01 = summary[(summary.level == "relation") & (summary.name == "I01")].iloc[0]
    assert i01["coverage"] == 1.0 and i01["relation_name"] == "noun - plural_reg"
    # random vectors: related pairs are no closer than random ones
    assert 0.3 < m["all"]["auroc"] < 0.7
