"""Anisotropy controls: centring and all-but-the-top (against scikit-learn's PCA), standardisation (against
StandardScaler), Mu & Viswanath's D = d/100, and the rogue-dimension split (against every pair explicitly)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from sklearn.decomposition import PCA

from wordembed.analyses.allpairs import mean_pair_cosine, normalize_rows
from wordembed.analyses.postprocess import (
    abtt_dimensions,
    all_but_the_top,
    anisotropy_variants,
    center,
    cosine_contributions,
    postprocess,
    rogue_dimensions,
    standardize,
    top_directions,
)
from wordembed.embeddings import Embeddings
from wordembed.errors import ParameterError


def _anisotropic(n: int = 500, d: int = 12, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    scales = np.linspace(4.0, 0.5, d)  # distinct variances: well-separated principal directions
    return (rng.standard_normal((n, d)) * scales + 3.0).astype(np.float32)


def test_center_removes_the_mean_and_the_anisotropy():
    x = _anisotropic()
    assert mean_pair_cosine(x) > 0.3
    c = center(x)
    assert c.dtype == np.float32
    assert np.allclose(c.mean(axis=0), 0.0, atol=1e-5)
    assert abs(mean_pair_cosine(c)) < 0.01


def test_all_but_the_top_matches_sklearn_pca():
    x = _anisotropic()
    for d in (1, 3):
        pca = PCA(n_components=d, svd_solver="full").fit(x.astype(np.float64))
        ours = top_directions(x, d)
        # same directions up to sign
        assert np.allclose(np.abs(np.sum(ours * pca.components_, axis=1)), 1.0, atol=1e-8)
        xc = x.astype(np.float64) - pca.mean_
        expected = xc - (xc @ pca.components_.T) @ pca.components_
        got = all_but_the_top(x, d)
        assert np.allclose(got, expected, atol=1e-4)
        # nothing is left along the removed directions
        assert np.abs(got.astype(np.float64) @ ours.T).max() < 1e-3
    assert np.allclose(all_but_the_top(x, 0), center(x), atol=1e-5)


def test_postprocess_embeddings_and_bad_parameters():
    x = _anisotropic(50, 6)
    emb = Embeddings([f"w{i}" for i in range(50)], x, missing=["zz"], model="m")
    assert postprocess(emb) is emb
    c = postprocess(emb, center_vectors=True)
    assert c.model == "m+centered" and c.words == emb.words and c.missing == ["zz"]
    a = postprocess(emb, abtt=2)
    assert a.model == "m+abtt2" and np.allclose(a.vectors, all_but_the_top(x, 2))
    with pytest.raises(ParameterError):
        all_but_the_top(x, 6)
    with pytest.raises(ParameterError):
        postprocess(emb, abtt=-2)
    with pytest.raises(ParameterError):
        center(np.ones(3))


# ---------------------------------------------------------------------------------------------------------
# D = d/100 by default, standardisation, the variants, the rogue-dimension table


def _brute_contributions(unit_rows: np.ndarray) -> tuple[float, np.ndarray]:
    """Mean cosine over all pairs j < k of unit rows and its per-dimension parts, from every pair explicitly."""
    u = unit_rows.astype(np.float64)
    j, k = np.triu_indices(len(u), 1)
    parts = u[j] * u[k]  # (pairs, dims): dimension i's term of each pair's cosine
    return float(parts.sum(axis=1).mean()), parts.mean(axis=0)


@pytest.mark.parametrize(
    ("dims", "expected"),
    [(50, 1), (100, 1), (300, 3), (384, 4), (576, 6), (768, 8), (1024, 10), (4096, 41), (2, 1), (1, 0)],
)
def test_abtt_dimensions_auto_is_d_over_100(dims, expected):
    assert abtt_dimensions(dims) == abtt_dimensions(dims, -1) == expected


def test_abtt_dimensions_explicit_and_bad_values():
    assert abtt_dimensions(50, 0) == 0
    assert abtt_dimensions(50, 3) == 3 and abtt_dimensions(50, 49) == 49
    with pytest.raises(ParameterError, match="-1 .auto"):
        abtt_dimensions(50, -2)
    with pytest.raises(ParameterError, match="at most 49"):
        abtt_dimensions(50, 50)
    with pytest.raises(ParameterError):
        abtt_dimensions(0, -1)
    with pytest.raises(ParameterError):
        abtt_dimensions(50, True)
    with pytest.raises(ParameterError):
        abtt_dimensions(50, 2.0)


def test_standardize_matches_sklearn_and_zeroes_constant_dimensions():
    from sklearn.preprocessing import StandardScaler

    x = _anisotropic(300, 8)
    x[:, 3] = 7.25  # constant: z-score 0, not NaN
    z = standardize(x)
    assert z.dtype == np.float32 and np.isfinite(z).all()
    expected = StandardScaler().fit_transform(x.astype(np.float64))
    assert np.allclose(z, expected, atol=1e-5)
    assert np.all(z[:, 3] == 0)
    keep = [i for i in range(8) if i != 3]
    assert np.allclose(z[:, keep].mean(axis=0), 0, atol=1e-6)
    assert np.allclose(z[:, keep].std(axis=0), 1, atol=1e-5)
    # a constant dimension whose float64 mean is not exactly its value still gives 0
    y = np.full((3, 2), 0.1, dtype=np.float32)
    y[:, 1] = [1, 2, 3]
    assert np.all(standardize(y)[:, 0] == 0)


def test_chunked_transforms_equal_one_pass(monkeypatch):
    """Row chunks (so 77k x 4096 never exists in float64) must not change a single result."""
    from wordembed.analyses import postprocess as pp

    x = _anisotropic(257, 9)
    x[5] = 0.0
    whole = (center(x), standardize(x), all_but_the_top(x, 2), cosine_contributions(x)[1])
    monkeypatch.setattr(pp, "_CHUNK_VALUES", 9 * 10)  # 10 rows a chunk, the last one short
    parts = (center(x), standardize(x), all_but_the_top(x, 2), cosine_contributions(x)[1])
    for a, b in zip(whole, parts, strict=True):
        assert np.allclose(a, b, rtol=0, atol=1e-6)


def test_anisotropy_variants_equal_the_separate_transforms_bit_for_bit(monkeypatch):
    """anisotropy_variants makes all three in two passes; each must equal its own function exactly, chunked
    or not (the same float64 chunks go through the same operations)."""
    from wordembed.analyses import postprocess as pp

    x = _anisotropic(257, 9)
    x[5] = 0.0
    x[:, 3] = 0.25  # a constant dimension
    emb = Embeddings([f"w{i}" for i in range(257)], x, model="m")
    for chunk in (None, 9 * 10):
        if chunk:
            monkeypatch.setattr(pp, "_CHUNK_VALUES", chunk)  # 10 rows a chunk, the last one short
        v = anisotropy_variants(emb, 2)
        np.testing.assert_array_equal(v["centered"].vectors, center(x))
        np.testing.assert_array_equal(v["abtt2"].vectors, all_but_the_top(x, 2))
        np.testing.assert_array_equal(v["standardized"].vectors, standardize(x))
        assert all(e.vectors.dtype == np.float32 for e in v.values())
    empty = Embeddings([], np.zeros((0, 9), np.float32), model="m")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # the mean of no rows, as the separate functions give
        assert list(anisotropy_variants(empty, 2)) == ["raw", "centered", "abtt2", "standardized"]


def test_anisotropy_variants_order_names_and_options():
    x = _anisotropic(60, 6)
    emb = Embeddings([f"w{i}" for i in range(60)], x, missing=["zz"], model="m")
    v = anisotropy_variants(emb)
    assert list(v) == ["raw", "centered", "abtt1", "standardized"]  # 6 dims: D = max(1, round(0.06)) = 1
    assert v["raw"] is emb
    assert [e.model for e in v.values()] == ["m", "m+centered", "m+abtt1", "m+standardized"]
    assert all(e.words == emb.words and e.missing == ["zz"] for e in v.values())
    assert np.allclose(v["abtt1"].vectors, all_but_the_top(x, 1))
    assert np.allclose(v["standardized"].vectors, standardize(x))
    assert list(anisotropy_variants(emb, 0)) == ["raw", "centered", "standardized"]
    assert list(anisotropy_variants(emb, 3, standardized=False)) == ["raw", "centered", "abtt3"]
    with pytest.raises(ParameterError):
        anisotropy_variants(emb, 6)
    with pytest.raises(ParameterError):
        anisotropy_variants(emb, -2)


def test_postprocess_standardize_and_auto_abtt():
    x = _anisotropic(50, 6)
    emb = Embeddings([f"w{i}" for i in range(50)], x, model="m")
    s = postprocess(emb, standardize=True)
    assert s.model == "m+standardized" and np.allclose(s.vectors, standardize(x))
    assert postprocess(emb, center_vectors=True, standardize=True).model == "m+standardized"
    assert postprocess(emb, abtt=-1).model == "m+abtt1"
    with pytest.raises(ParameterError, match="not both"):
        postprocess(emb, abtt=2, standardize=True)


def test_rogue_dimensions_match_brute_force_all_pairs():
    rng = np.random.default_rng(3)
    x = (rng.standard_normal((40, 7)) + np.linspace(0.0, 1.5, 7)).astype(np.float32)
    x[11] = 0.0  # a zero row: its cosines count as 0, as in the histogram
    mean, parts = _brute_contributions(normalize_rows(x))
    got_mean, c = cosine_contributions(x)
    assert got_mean == pytest.approx(mean, abs=1e-9)
    assert np.allclose(c, parts, rtol=0, atol=1e-9)
    assert c.sum() == pytest.approx(got_mean, abs=1e-12)
    assert got_mean == pytest.approx(mean_pair_cosine(x), abs=1e-9)
    r = rogue_dimensions(x)
    assert r["n_words"] == 40 and r["dims"] == 7 and r["mean_cos"] == got_mean
    order = np.argsort(-parts)
    assert r["top_dimensions"] == list(order)  # max(tops) = 10 > 7 dims: all of them, largest first
    assert np.allclose(r["top_contributions"], parts[order], atol=1e-9)
    for k in (1, 3):
        assert r[f"share_top{k}"] == pytest.approx(parts[order[:k]].sum() / mean, abs=1e-9)
    assert r["share_top10"] == pytest.approx(1.0, abs=1e-12)  # more than 7: every dimension
    assert list(rogue_dimensions(x, tops=(2,))) == [
        "n_words",
        "dims",
        "mean_cos",
        "share_top2",
        "top_dimensions",
        "top_contributions",
    ]


def test_one_large_offset_dimension_carries_the_whole_cosine():
    rng = np.random.default_rng(4)
    x = rng.standard_normal((500, 30)).astype(np.float32)
    x[:, 17] += 100.0  # a rogue dimension: a huge shared offset
    r = rogue_dimensions(x)
    assert r["mean_cos"] > 0.99
    assert r["top_dimensions"][0] == 17
    assert r["share_top1"] == pytest.approx(1.0, abs=1e-3)
    assert r["share_top3"] == pytest.approx(1.0, abs=1e-3)
    # standardising removes it: no mean left to share out, so the shares are undefined
    s = rogue_dimensions(standardize(x))
    assert s["mean_cos"] < 1e-3 and np.isnan(s["share_top1"])  # about -1/(n-1)


def test_rogue_shares_are_nan_without_a_mean_to_share():
    x = center(_anisotropic(200, 10))
    r = rogue_dimensions(x)
    assert r["mean_cos"] < 1e-3  # about -1/(n-1) after centring
    assert all(np.isnan(r[f"share_top{k}"]) for k in (1, 3, 10))
    assert len(r["top_dimensions"]) == 10 and len(r["top_contributions"]) == 10
    # the threshold is a parameter: a strongly anisotropic space is defined under any small one
    a = rogue_dimensions(_anisotropic(200, 10), min_mean=0.5)
    assert a["mean_cos"] > 0.5 and 0 < a["share_top1"] <= 1
    assert np.isnan(rogue_dimensions(_anisotropic(200, 10), min_mean=1.0)["share_top1"])
    with pytest.raises(ParameterError):
        rogue_dimensions(x, tops=(0,))
    with pytest.raises(ParameterError):
        rogue_dimensions(x[:1])
