"""The analyses on post-processed vectors equal the analyses run directly on those vectors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from wordembed.analyses.agreement import model_agreement
from wordembed.analyses.controls import agreement_controls
from wordembed.analyses.postprocess import center, standardize
from wordembed.embeddings import Embeddings


def test_agreement_controls_are_model_agreement_on_centred_and_standardised_vectors() -> None:
    rng = np.random.default_rng(0)
    words = [f"w{i}" for i in range(60)]
    base = rng.standard_normal((60, 12))
    shift = np.zeros(12)
    shift[0] = 8.0  # a rogue dimension shared by both models
    embs = {
        "a": Embeddings(words, (base + shift).astype(np.float32), model="a"),
        "b": Embeddings(words, (base + rng.standard_normal((60, 12)) + shift).astype(np.float32), model="b"),
    }
    related = pd.DataFrame({"relation": ["R1"] * 10 + ["R2"] * 10, "source": words[:20], "target": words[20:40]})
    got = agreement_controls(embs, related, n_random=300, seed=1, n_boot=0)
    assert list(got["variant"].unique()) == ["centered", "standardized"]
    for name, fn in (("centered", center), ("standardized", standardize)):
        post = {k: Embeddings(words, fn(e.vectors), model=k) for k, e in embs.items()}
        direct = model_agreement(post, related, n_random=300, seed=1, n_boot=0, measures=("spearman",)).table
        mine = got[got["variant"] == name].drop(columns="variant").reset_index(drop=True)
        pd.testing.assert_frame_equal(mine, direct)
    raw = model_agreement(embs, related, n_random=300, seed=1, n_boot=0, measures=("spearman",)).table
    assert raw["value"].iloc[0] != pytest.approx(got["value"].iloc[0])
