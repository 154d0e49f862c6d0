"""Random-weight controls (``KEY@random[:SEED]``): key syntax, spec, reproducibility, fingerprint, wiring.

Controls are built on the tiny llama and the tiny sentence-transformers model of tests/tiny_models.py, so the
fast tests need no download; the slow test at the end builds the real ``smollm2-135m@random`` and
``minilm@random`` once from the fetched artefacts.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from tiny_models import write_tiny_decoder_yaml, write_tiny_sbert_yaml

from wordembed.errors import ParameterError
from wordembed.models import random_weights
from wordembed.models.random_weights import control_key, control_spec, parse_control_key
from wordembed.models.registry import load_encoder
from wordembed.models.spec import fingerprint, load_spec
from wordembed.sources import classify_source, get_embeddings
from wordembed.store import EmbeddingStore
from wordembed.study import check_models, load_study

WORDS = ["king", "queen", "antidisestablishmentarianism", "walked", "walking", "cats"]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> dict:
    root = tmp_path_factory.mktemp("controls")
    # seed 3: a tiny model's weights are transformers' init under its seed, so seed 0 would be its own control
    return {"decoder": write_tiny_decoder_yaml(root, key="tiny-llama", seed=3), "sbert": write_tiny_sbert_yaml(root, seed=3)}


@pytest.fixture(autouse=True)
def _cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WORDEMBED_CACHE", str(tmp_path / "cache"))


def _control(yaml_path: Path, suffix: str = "@random"):
    return load_encoder(f"{yaml_path}{suffix}", device="cpu")


# ---- key syntax and spec ----

def test_key_syntax_and_one_name_per_seed():
    assert parse_control_key("minilm@random") == ("minilm", 0)
    assert parse_control_key("smollm2-135m@random:17") == ("smollm2-135m", 17)
    assert parse_control_key("x@random:4294967295") == ("x", 2**32 - 1)
    assert control_key("minilm", 0) == "minilm@random" and control_key("minilm", 3) == "minilm@random:3"
    assert load_spec("minilm@random:0").key == "minilm@random"  # seed 0 is the default: one store entry
    assert load_spec("minilm@random:007").key == "minilm@random:7"


@pytest.mark.parametrize("key", ["smollm2-135m", "gemma3-270m", "qwen2.5-coder-0.5b", "minilm", "mpnet"])
def test_control_spec_is_the_trained_spec_renamed(key):
    trained = load_spec(key)
    spec = load_spec(f"{key}@random:5")
    assert (spec.key, spec.control_of) == (f"{key}@random:5", key)
    assert "random-weight control" in spec.description and "seed 5" in spec.description
    assert trained.description in spec.description
    # everything else is the trained spec's: same source (artefact), options, family, size
    assert dataclasses.replace(spec, key=key, control_of=None, description=trained.description) == trained
    assert random_weights.artifact_spec(spec).key == key  # it reads the trained model's cache entry


@pytest.mark.parametrize(
    ("key", "message"),
    [
        ("minilm@nonsense", "unknown variant '@nonsense'; valid: KEY@random or KEY@random:SEED"),
        ("minilm@random:", "unknown variant '@random:'"),
        ("minilm@random:-1", "unknown variant '@random:-1'"),
        ("minilm@random:1.5", "unknown variant '@random:1.5'"),
        ("minilm@Random", "unknown variant '@Random'"),
        ("minilm@random:4294967296", "seed 4294967296 is above 4294967295"),
        ("nosuch@random", "unknown model 'nosuch'; valid models: "),
        ("@random", "a random-weight control is named KEY@random"),
        ("glove-50d@random", "'glove-50d' (backend 'static') has no random-weight control; valid: models of backend"),
        ("text-embedding-3-small@random", "backend 'openai') has no random-weight control"),
        ("minilm@random@random", "'minilm@random' is already a random-weight control"),
    ],
)
def test_bad_control_keys_are_one_line_errors(key, message):
    with pytest.raises(ParameterError) as err:
        load_spec(key)
    text = str(err.value)
    assert text.startswith(f"model {key!r}: ") and message in text and "\n" not in text


def test_capable_models_are_listed_in_the_error():
    with pytest.raises(ParameterError) as err:
        load_spec("glove-50d@random")
    listed = str(err.value).rsplit(": ", 1)[1].split(", ")
    assert {"minilm", "mpnet", "smollm2-135m", "gemma3-270m"} <= set(listed) and "glove-50d" not in listed


def test_study_cli_and_runner_checks_accept_controls(tmp_path):
    check_models(["minilm@random", "smollm2-135m@random:3", "gemma3-270m@random", "glove-50d"], "study x")
    with pytest.raises(ParameterError) as err:
        check_models(["minilm", "minilm@nonsense"], "study x")
    assert str(err.value).startswith("study x: model 'minilm@nonsense': unknown variant") and "\n" not in str(err.value)
    with pytest.raises(ParameterError, match=r"^study x: model 'nosuch@random': unknown model 'nosuch'"):
        check_models(["nosuch@random"], "study x")
    with pytest.raises(ParameterError, match=r"unknown model\(s\) \['nosuch'\]"):
        check_models(["nosuch"], "study x")  # a plain unknown key keeps its old message
    study = tmp_path / "controls.yaml"
    study.write_text(yaml.safe_dump({"models": ["minilm", "minilm@random", "smollm2-135m@random:1"]}), encoding="utf-8")
    assert load_study(study).models == ["minilm", "minilm@random", "smollm2-135m@random:1"]
    study.write_text(yaml.safe_dump({"models": ["minilm@randm"]}), encoding="utf-8")
    with pytest.raises(ParameterError, match=r"controls\.yaml: model 'minilm@randm': unknown variant '@randm'"):
        load_study(study)
    # --model of the CLI commands goes through classify_source
    assert classify_source("minilm@random:2") == ("model", "minilm@random:2")
    with pytest.raises(ParameterError) as err:
        classify_source("minilm@bogus")
    assert str(err.value).startswith("embedding source 'minilm@bogus': model 'minilm@bogus': unknown variant")
    assert "\n" not in str(err.value)


# ---- decoder controls ----

def test_decoder_control_is_reproducible_from_its_seed(tiny):
    state = torch.get_rng_state()
    a, _ = _control(tiny["decoder"]).encode(WORDS)
    assert torch.equal(torch.get_rng_state(), state)  # the caller's RNG is as it was
    torch.manual_seed(12345)  # what the caller draws before must not matter either
    torch.rand(1000)
    b, _ = _control(tiny["decoder"], "@random:0").encode(WORDS)
    np.testing.assert_array_equal(a, b)  # bitwise
    c, _ = _control(tiny["decoder"], "@random:1").encode(WORDS)
    assert a.shape == c.shape == (len(WORDS), 32)
    assert not np.allclose(a, c, atol=1e-3)
    trained, _ = load_encoder(tiny["decoder"], device="cpu").encode(WORDS)
    assert not np.allclose(a, trained, atol=1e-3)
    # an independent route to the same weights: tiny_models built the "trained" model as
    # torch.manual_seed(3); LlamaForCausalLM(config), which is what seed 3 of the control must draw
    same, _ = _control(tiny["decoder"], "@random:3").encode(WORDS)
    np.testing.assert_array_equal(same, trained)


def test_decoder_control_has_the_trained_tokenizer_and_config_not_its_weights(tiny):
    trained = load_encoder(tiny["decoder"], device="cpu").load()
    control = _control(tiny["decoder"]).load()
    assert control.tokenizer.get_vocab() == trained.tokenizer.get_vocab()
    assert control.tokenize(WORDS) == trained.tokenize(WORDS)
    assert control.model.config.to_diff_dict() | {"dtype": None} == trained.model.config.to_diff_dict() | {"dtype": None}
    assert type(control.model) is type(trained.model)
    ours, theirs = control.model.state_dict(), trained.model.state_dict()
    assert ours.keys() == theirs.keys()
    matrices = [k for k, v in theirs.items() if v.ndim == 2]
    assert matrices and all(not torch.allclose(ours[k], theirs[k]) for k in matrices)
    std = ours["model.embed_tokens.weight"].std().item()  # transformers' init: normal(0, initializer_range)
    assert abs(std - trained.model.config.initializer_range) < 0.005


def test_decoder_control_fingerprint_has_random_and_the_seed(tiny):
    trained = load_encoder(tiny["decoder"], device="cpu")
    zero, one = _control(tiny["decoder"]), _control(tiny["decoder"], "@random:1")
    prints = {trained.fingerprint(), zero.fingerprint(), one.fingerprint()}
    assert len(prints) == 3
    assert zero.fingerprint() == _control(tiny["decoder"]).fingerprint() and zero.model is None  # lazy, stable
    fields = random_weights.control_fields(1)
    assert fields["weights"] == "random" and fields["seed"] == 1
    assert one.fingerprint() == fingerprint(one.spec, {**one.vector_options(), **fields}, one._checksum)
    # a prompt option still changes it, as for the trained model
    assert load_encoder(f"{tiny['decoder']}@random", device="cpu", options={"layer": 1}).fingerprint() != zero.fingerprint()


def test_control_from_a_spec_and_seed(tiny):
    spec = control_spec(load_spec(tiny["decoder"]), seed=4)
    assert (spec.key, spec.control_of) == ("tiny-llama@random:4", "tiny-llama")
    a, _ = load_encoder(spec, device="cpu").encode(WORDS[:2])
    b, _ = _control(tiny["decoder"], "@random:4").encode(WORDS[:2])
    np.testing.assert_array_equal(a, b)
    with pytest.raises(ParameterError, match="seed -1 is not an integer 0..4294967295"):
        control_spec(load_spec(tiny["decoder"]), seed=-1)
    with pytest.raises(ParameterError, match="give the seed in the key"):
        control_spec("minilm@random", seed=3)


def test_the_store_keeps_controls_apart(tiny, tmp_path):
    store = EmbeddingStore(tmp_path / "store")
    trained = get_embeddings(tiny["decoder"], WORDS, store=store, progress=False)
    control = get_embeddings(f"{tiny['decoder']}@random", WORDS, store=store, progress=False)
    again = get_embeddings(f"{tiny['decoder']}@random:0", WORDS, store=store, progress=False)
    assert control.model == "tiny-llama@random"
    assert not np.allclose(trained.vectors, control.vectors, atol=1e-3)
    np.testing.assert_array_equal(again.vectors, control.vectors)
    assert sorted(e.key for e in store.entries()) == ["tiny-llama", "tiny-llama@random"]


# ---- sentence-transformers controls ----

def test_sbert_control_is_reproducible_and_keeps_everything_but_the_weights(tiny):
    trained = load_encoder(tiny["sbert"], device="cpu")
    state = torch.get_rng_state()
    a = _control(tiny["sbert"])
    assert torch.equal(torch.get_rng_state(), state)
    torch.manual_seed(999)
    b = _control(tiny["sbert"])
    c = _control(tiny["sbert"], "@random:2")
    va, vb, vc = (e.encode(WORDS)[0] for e in (a, b, c))
    vt, _ = trained.encode(WORDS)
    np.testing.assert_array_equal(va, vb)
    assert not np.allclose(va, vc, atol=1e-3) and not np.allclose(va, vt, atol=1e-3)
    assert a.key == "tiny-sbert@random" and a.dims == trained.dims == 32
    ours, theirs = a.model[0].auto_model, trained.model[0].auto_model
    assert ours.config.to_diff_dict() == theirs.config.to_diff_dict()
    assert a.model.tokenizer.get_vocab() == trained.model.tokenizer.get_vocab()
    assert [type(m) for m in a.model] == [type(m) for m in trained.model]  # same pooling
    mine, orig = ours.state_dict(), theirs.state_dict()
    assert all(not torch.allclose(mine[k], orig[k]) for k, v in orig.items() if v.ndim == 2)
    assert len({trained.fingerprint(), a.fingerprint(), c.fingerprint()}) == 3
    assert a.fingerprint() == b.fingerprint()


# ---- the real models, once ----

@pytest.mark.slow
def test_real_controls_smollm2_and_minilm(monkeypatch):
    """Built from the fetched artefacts only; a GGUF decoder's config from the GGUF and from the dequantised
    folder give the same weights; MiniLM's trained fingerprint is unchanged by the backend's refactoring."""
    monkeypatch.delenv("WORDEMBED_CACHE")  # the real model cache (fetched at most once)
    from transformers import AutoConfig, AutoModelForCausalLM

    from wordembed.models.decoder import CONVERTED_MARKER, _gguf_file

    words = ["king", "queen", "walked", "walking", "happiness"]
    smol = load_encoder("smollm2-135m@random", device="cpu")
    vectors, present = smol.encode(words)
    assert vectors.shape == (5, 576) and present.all() and np.isfinite(vectors).all()
    again, _ = load_encoder("smollm2-135m@random", device="cpu").encode(words)
    np.testing.assert_array_equal(vectors, again)
    gguf = _gguf_file(smol.artifact)
    assert any((d / CONVERTED_MARKER).is_file() for d in gguf.parent.glob("hf-converted-*"))  # what smol read
    from_gguf = AutoConfig.from_pretrained(gguf.parent, gguf_file=gguf.name)
    model = random_weights.random_model(AutoModelForCausalLM, from_gguf, 0)
    for name, tensor in model.state_dict().items():
        assert torch.equal(tensor, smol.model.state_dict()[name]), name

    minilm = load_encoder("minilm", device="cpu")
    assert minilm.fingerprint() == "102e4415f199b4c94f4c6210813caca4581b6aae154a45b496524181c1428532"
    control = load_encoder("minilm@random", device="cpu")
    ours, theirs = control.encode(words)[0], minilm.encode(words)[0]
    assert ours.shape == theirs.shape == (5, 384) and not np.allclose(ours, theirs, atol=1e-3)
