"""Anisotropy removal: mean-centring and all-but-the-top, checked against scikit-learn's PCA."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.decomposition import PCA

from wordembed.analyses.allpairs import mean_pair_cosine
from wordembed.analyses.postprocess import all_but_the_top, center, postprocess, top_directions
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
        postprocess(emb, abtt=-1)
    with pytest.raises(ParameterError):
        center(np.ones(3))
