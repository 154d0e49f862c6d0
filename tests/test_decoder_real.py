"""SmolLM2-135M (GGUF Q4_1, the LlamaForCausalLM architecture of LLaMA-2) through the decoder backend.

The artefact is fetched once into the ordinary model cache; the test then works on a copy of that cache entry
in a temporary cache, so the first load really converts the GGUF (and the user's cache is left as it was),
and the second load shows what the converted-model cache saves.
"""

from __future__ import annotations

import shutil
import time

import numpy as np
import pytest

from wordembed.models.fetch import resolve_artifact
from wordembed.models.registry import load_encoder
from wordembed.models.spec import load_spec

pytestmark = pytest.mark.slow

SHA = "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"
WORDS = ["king", "man", "woman", "queen", "prince", "princess", "boy", "girl", "father", "mother", "emperor",
         "lady", "car", "apple", "city", "river", "computer", "table", "dog"]  # fmt: skip


@pytest.fixture(scope="module")
def smollm(tmp_path_factory: pytest.TempPathFactory) -> dict:
    artifact = resolve_artifact(load_spec("smollm2-135m"))  # the real cache: fetched at most once
    cache = tmp_path_factory.mktemp("cache")
    entry = cache / "models" / "smollm2-135m" / SHA[:16]
    shutil.copytree(
        artifact.parent, entry, ignore=shutil.ignore_patterns("hf-converted-*", ".hf-converted-*")
    )
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("WORDEMBED_CACHE", str(cache))
        t0 = time.perf_counter()
        cold = load_encoder("smollm2-135m", device="cpu").load()
        t1 = time.perf_counter()
        warm = load_encoder("smollm2-135m", device="cpu").load()
        t2 = time.perf_counter()
        vectors, present = cold.encode(WORDS)
        warm_vectors, _ = warm.encode(WORDS)
    print(
        f"\nsmollm2-135m load: converting the GGUF {t1 - t0:.1f} s, from the converted cache {t2 - t1:.1f} s"
    )
    return {"cold": cold, "warm": warm, "cold_s": t1 - t0, "warm_s": t2 - t1, "entry": entry,
            "vectors": vectors, "present": present, "warm_vectors": warm_vectors}  # fmt: skip


def test_converted_model_is_cached_beside_the_gguf(smollm):
    converted = smollm["entry"] / f"hf-converted-{SHA[:16]}"
    assert smollm["cold"].source_description.endswith("SmolLM2-135M-Instruct.Q4_1.gguf")
    assert smollm["warm"].source_description == str(converted)
    assert (converted / ".wordembed-converted.json").is_file()
    assert (converted / "model.safetensors").stat().st_size > 500_000_000  # 134.5e6 float32 weights
    assert not [p for p in smollm["entry"].iterdir() if p.name.startswith(".hf-converted")]  # no temp left
    assert smollm["warm_s"] < 0.5 * smollm["cold_s"]
    # the converted copy is the same model: identical vectors
    np.testing.assert_array_equal(smollm["warm_vectors"], smollm["vectors"])
    assert smollm["warm"].fingerprint() == smollm["cold"].fingerprint()


def test_real_vectors(smollm):
    v, present = smollm["vectors"], smollm["present"]
    assert v.shape == (len(WORDS), 576) and present.all() and np.isfinite(v).all()
    assert smollm["cold"].num_layers == 30 and smollm["cold"].layer_index == 15
    unit = v / np.linalg.norm(v, axis=1, keepdims=True)
    idx = {w: i for i, w in enumerate(WORDS)}
    target = v[idx["king"]] - v[idx["man"]] + v[idx["woman"]]
    sims = unit @ (target / np.linalg.norm(target))
    ranked = [WORDS[i] for i in np.argsort(-sims) if WORDS[i] not in ("king", "man", "woman")]
    assert ranked[0] == "queen", dict(zip(WORDS, sims.round(3), strict=True))
    assert sims[idx["queen"]] > 0.85  # MODELS.md: 0.90 for this layer and prompt
    assert sims[idx["queen"]] - max(sims[idx[w]] for w in ("car", "apple", "table", "computer")) > 0.1
    # one word at a time gives the batch's vectors (right padding, attention mask)
    alone, _ = smollm["cold"].encode(["queen"])
    np.testing.assert_allclose(alone[0], v[idx["queen"]], rtol=1e-4, atol=1e-3)
