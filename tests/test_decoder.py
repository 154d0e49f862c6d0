"""The decoder backend's options, checked against a hand computation on a tiny random llama built here.

The tokenizer is a real byte-level BPE (leading-space tokens like ``Ġking``) trained in the test, so words
split into several tokens and the word-locating code meets the same offsets a GPT-2/Llama-3 style tokenizer
gives. The reference vectors come straight from ``model(**enc, output_hidden_states=True)`` with the word's
positions found by tokenising the prompt's parts separately, an independent route to the same tokens.
"""

from __future__ import annotations

import hashlib
import os
import string
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from tiny_models import save_tiny_llama, tiny_tokenizer
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import AutoModelForCausalLM, PreTrainedTokenizerFast

from wordembed.errors import ModelError, ParameterError
from wordembed.models import decoder
from wordembed.models.registry import load_encoder
from wordembed.models.spec import load_spec

N_LAYERS = 4
CORPUS = [
    "The word: king. The word: queen. The word: man. The word: woman.",
    'This word : "king" means in one word:"ruler". This word : "queen" means in one word:"ruler".',
    "the king and the queen met a man and a woman in the word of the day",
] * 20
LONG = "antidisestablishmentarianism"


def _tokenizer() -> PreTrainedTokenizerFast:
    return tiny_tokenizer(CORPUS)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> dict:
    root = tmp_path_factory.mktemp("tiny-llama")
    tok = _tokenizer()
    params = save_tiny_llama(root / "model", seed=0, layers=N_LAYERS, tokenizer=tok)
    save_tiny_llama(root / "other", seed=1, layers=N_LAYERS, tokenizer=tok)
    spec = {
        "key": "tiny-llama",
        "role": "llm",
        "backend": "decoder",
        "description": "random 4-layer llama for tests",
        "params": params,
        "dims": 32,
        "source": {"path": str(root / "model")},
        "options": {"layer": "middle", "pooling": "mean", "prompt": "The word: {word}", "bos": True},
    }
    (root / "tiny-llama.yaml").write_text(yaml.safe_dump(spec), encoding="utf-8")
    spec["source"] = {"path": str(root / "other")}
    (root / "other").mkdir(exist_ok=True)
    (root / "tiny-other.yaml").write_text(yaml.safe_dump({**spec, "key": "tiny-other"}), encoding="utf-8")
    model = AutoModelForCausalLM.from_pretrained(root / "model", dtype=torch.float32).eval()
    return {"root": root, "yaml": root / "tiny-llama.yaml", "tok": tok, "model": model, "params": params}


@pytest.fixture(autouse=True)
def _cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WORDEMBED_CACHE", str(tmp_path / "cache"))


def _encoder(tiny: dict, **options):
    return load_encoder(tiny["yaml"], device="cpu", options=options)


def _reference(tiny: dict, word: str, *, layer: int, prompt="The word: {word}", bos=True, how="mean"):
    """Hidden state by hand: word positions from tokenising the prompt's parts one by one."""
    tok, model = tiny["tok"], tiny["model"]
    prefix, suffix = prompt.split("{word}")
    pre = tok(prefix.rstrip(" "), add_special_tokens=False)["input_ids"] if prefix.strip() else []
    spaced = " " + word if prefix.endswith(" ") else word
    mid = tok(spaced, add_special_tokens=False)["input_ids"]
    post = tok(suffix, add_special_tokens=False)["input_ids"] if suffix else []
    full = tok(prefix + word + suffix, add_special_tokens=False)["input_ids"]
    assert pre + mid + post == full  # the parts tokenise as the whole prompt does
    head = [tok.bos_token_id] if bos else []
    ids = torch.tensor([head + full])
    with torch.no_grad():
        hs = model(
            input_ids=ids, attention_mask=torch.ones_like(ids), output_hidden_states=True
        ).hidden_states
    start = len(head) + len(pre)
    positions = list(range(start, start + len(mid)))
    h = hs[layer][0]
    if how == "mean":
        return h[positions].mean(0).numpy()
    if how == "last":
        return h[positions[-1]].numpy()
    return h[-1].numpy()  # prompt_last


def test_long_word_is_several_tokens(tiny):
    """Otherwise mean and last pooling could not be told apart."""
    assert len(tiny["tok"](" " + LONG, add_special_tokens=False)["input_ids"]) >= 4
    assert len(tiny["tok"](" king", add_special_tokens=False)["input_ids"]) == 1


def test_middle_layer_mean_matches_manual(tiny):
    enc = _encoder(tiny)
    vecs, present = enc.encode(["king", LONG, "queen"])
    assert vecs.shape == (3, 32) and vecs.dtype == np.float32 and present.all()
    assert enc.layer_index == N_LAYERS // 2 == 2
    for row, word in enumerate(["king", LONG, "queen"]):
        np.testing.assert_allclose(vecs[row], _reference(tiny, word, layer=2), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("layer", [0, 1, -2, -(N_LAYERS + 1)])
def test_layer_index_and_negative_index(tiny, layer):
    vecs, _ = _encoder(tiny, layer=layer).encode([LONG])
    np.testing.assert_allclose(vecs[0], _reference(tiny, LONG, layer=layer), rtol=1e-5, atol=1e-5)


def test_negative_index_counts_from_the_end(tiny):
    last, _ = _encoder(tiny, layer=-1).encode(["queen", LONG])
    top, _ = _encoder(tiny, layer=N_LAYERS).encode(["queen", LONG])
    np.testing.assert_array_equal(last, top)


def test_all_layers_shape_and_content(tiny):
    words = ["king", LONG]
    allv, present = _encoder(tiny, layer="all").encode(words)
    assert allv.shape == (2, N_LAYERS + 1, 32) and present.all()
    for layer in range(N_LAYERS + 1):
        for row, word in enumerate(words):
            ref = _reference(tiny, word, layer=layer)
            np.testing.assert_allclose(allv[row, layer], ref, rtol=1e-5, atol=1e-5)
    middle, _ = _encoder(tiny).encode(words)
    np.testing.assert_array_equal(allv[:, N_LAYERS // 2], middle)


def test_last_pooling(tiny):
    vecs, _ = _encoder(tiny, pooling="last", layer=3).encode([LONG, "man"])
    np.testing.assert_allclose(vecs[0], _reference(tiny, LONG, layer=3, how="last"), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(vecs[1], _reference(tiny, "man", layer=3, how="last"), rtol=1e-5, atol=1e-5)
    mean, _ = _encoder(tiny, pooling="mean", layer=3).encode([LONG])
    assert not np.allclose(mean[0], vecs[0], atol=1e-3)


def test_prompteol_prompt_last_and_mean(tiny):
    eol = 'This word : "{word}" means in one word:"'
    vecs, _ = _encoder(tiny, prompt=eol, pooling="prompt_last", layer=-1).encode(["queen", LONG])
    for row, word in enumerate(["queen", LONG]):
        ref = _reference(tiny, word, layer=-1, prompt=eol, how="prompt_last")
        np.testing.assert_allclose(vecs[row], ref, rtol=1e-5, atol=1e-5)
    mean, _ = _encoder(tiny, prompt=eol, pooling="mean", layer=2).encode([LONG])
    np.testing.assert_allclose(mean[0], _reference(tiny, LONG, layer=2, prompt=eol), rtol=1e-5, atol=1e-5)


def test_bos_on_and_off(tiny):
    on, _ = _encoder(tiny, bos=True, layer=2).encode([LONG])
    off, _ = _encoder(tiny, bos=False, layer=2).encode([LONG])
    np.testing.assert_allclose(off[0], _reference(tiny, LONG, layer=2, bos=False), rtol=1e-5, atol=1e-5)
    assert not np.allclose(on, off, atol=1e-3)
    ids, positions = _encoder(tiny, bos=True).load().tokenize(["king"])
    assert ids[0][0] == tiny["tok"].bos_token_id and positions[0][0] > 0
    ids, _ = _encoder(tiny, bos=False).load().tokenize(["king"])
    assert tiny["tok"].bos_token_id not in ids[0]


def test_word_right_after_bos_is_allowed(tiny):
    vecs, _ = _encoder(tiny, prompt="{word}", bos=True, layer=1).encode([LONG])
    np.testing.assert_allclose(
        vecs[0], _reference(tiny, LONG, layer=1, prompt="{word}"), rtol=1e-5, atol=1e-5
    )


def test_word_as_first_token_is_refused(tiny):
    with pytest.raises(ParameterError, match="first token"):
        _encoder(tiny, prompt="{word} is a word", bos=False)
    # a prefix that tokenises into the word's own token still puts the word at position 0
    enc = _encoder(tiny, prompt=" {word}", bos=False)
    with pytest.raises(ParameterError, match="first token"):
        enc.encode(["king"])


def test_padding_invariance(tiny):
    alone, _ = _encoder(tiny, batch_size=1).encode(["man"])
    batch, _ = _encoder(tiny, batch_size=8).encode([LONG, "man", LONG + "s", "woman queen king"])
    np.testing.assert_allclose(batch[1], alone[0], rtol=1e-5, atol=1e-6)
    last_alone, _ = _encoder(tiny, pooling="prompt_last", batch_size=1).encode(["man"])
    last_batch, _ = _encoder(tiny, pooling="prompt_last", batch_size=8).encode([LONG, "man"])
    np.testing.assert_allclose(last_batch[1], last_alone[0], rtol=1e-5, atol=1e-6)


def test_batches_keep_word_order(tiny):
    words = [LONG, "king", "queen", "man", "woman", LONG[:10], "word"]
    one, _ = _encoder(tiny, batch_size=1).encode(words)
    three, _ = _encoder(tiny, batch_size=3).encode(words)
    np.testing.assert_allclose(three, one, rtol=1e-5, atol=1e-6)
    empty, present = _encoder(tiny).encode([])
    assert empty.shape == (0, 32) and present.shape == (0,)


@pytest.mark.parametrize(
    ("option", "value", "valid"),
    [
        ("layer", "top", "'middle' or 'all'"),
        ("layer", 1.5, "'middle' or 'all'"),
        ("layer", True, "'middle' or 'all'"),
        ("pooling", "max", "mean, last, prompt_last"),
        ("prompt", "no placeholder", "exactly one '{word}'"),
        ("prompt", "{word} and {word} and {word}", "exactly one '{word}'"),
        ("bos", "yes", "true or false"),
        ("batch_size", 0, "a positive int"),
        ("dtype", "int8", "auto, float32, bfloat16, float16"),
        ("check_memory", 1, "true or false"),
    ],
)
def test_bad_options_raise_parameter_error(tiny, option, value, valid):
    with pytest.raises(ParameterError) as err:
        _encoder(tiny, **{option: value})
    assert f"option {option!r}" in str(err.value) and valid in str(err.value)


def test_unknown_option_and_out_of_range_layer(tiny):
    with pytest.raises(ParameterError, match="unknown option 'pool'.*valid options: .*pooling"):
        _encoder(tiny, pool="mean")
    enc = _encoder(tiny, layer=N_LAYERS + 1)  # range needs the model's depth: checked on load
    with pytest.raises(ParameterError, match=r"'layer' = 5 is out of range.*-5 \.\. 4"):
        enc.encode(["king"])
    with pytest.raises(ParameterError, match="non-empty"):
        _encoder(tiny).encode(["king", ""])


def test_fingerprint_covers_vector_options_and_artifact(tiny):
    base = _encoder(tiny).fingerprint()
    assert _encoder(tiny, batch_size=3).fingerprint() == base  # batching does not change vectors
    assert _encoder(tiny, check_memory=False).fingerprint() == base
    changed = [
        _encoder(tiny, layer=1),
        _encoder(tiny, layer="all"),
        _encoder(tiny, pooling="last"),
        _encoder(tiny, prompt="Word: {word}"),
        _encoder(tiny, bos=False),
        _encoder(tiny, dtype="bfloat16"),
    ]
    prints = {e.fingerprint() for e in changed}
    assert len(prints) == len(changed) and base not in prints
    assert _encoder(tiny, dtype="float32").fingerprint() == base  # auto is float32 on CPU
    other = load_encoder(tiny["root"] / "tiny-other.yaml", device="cpu")
    assert other.fingerprint() != base  # same options, other weights


def test_dtype_auto_and_bfloat16(tiny):
    assert decoder.resolve_dtype("auto", "cpu") == "float32"
    assert decoder.resolve_dtype("auto", "cuda") == "bfloat16"
    assert decoder.resolve_dtype("auto", "cuda:1") == "bfloat16"
    bf, _ = _encoder(tiny, dtype="bfloat16", layer=2).encode([LONG])
    assert next(_encoder(tiny, dtype="bfloat16").load().model.parameters()).dtype == torch.bfloat16
    ref = _reference(tiny, LONG, layer=2)
    assert bf.dtype == np.float32
    cos = float(bf[0] @ ref / np.linalg.norm(bf[0]) / np.linalg.norm(ref))
    assert cos > 0.99  # same vector up to bfloat16 rounding


def test_memory_refusal_and_override(tiny, monkeypatch):
    """The same check that protects a 7B load, on the tiny llama with its real parameter count."""
    need = decoder.required_bytes(tiny["params"], "float32")
    assert need == int(tiny["params"] * 4 * 1.2) + 512 * 1024**2
    monkeypatch.setattr(decoder.loading, "available_bytes", lambda device: need - 1)
    with pytest.raises(ModelError, match=r"needs about 0\.5 GiB .*available RAM.*check_memory: false"):
        _encoder(tiny)
    enc = _encoder(tiny, check_memory=False)
    vecs, _ = enc.encode(["king"])
    np.testing.assert_allclose(vecs[0], _reference(tiny, "king", layer=2), rtol=1e-5, atol=1e-5)
    monkeypatch.setattr(decoder.loading, "available_bytes", lambda device: need)
    assert _encoder(tiny).encode(["king"])[0].shape == (1, 32)


def test_llama2_7b_is_refused_before_loading(monkeypatch):
    """A 6.74e9-parameter model on a 12 GiB GPU (bfloat16) or a 24 GiB CPU (float32): refused, no download."""
    monkeypatch.setenv("HF_TOKEN", "hf_SECRET_must_not_leak")
    seen: list[str] = []

    def free(device: str) -> int:
        seen.append(device)
        return 12 * 1024**3 if device.startswith("cuda") else 24 * 1024**3

    monkeypatch.setattr(decoder.loading, "available_bytes", free)
    with pytest.raises(ModelError) as err:
        load_encoder("llama2-7b", device="cuda")
    msg = str(err.value)
    assert "6.74e9 parameters in bfloat16) needs about 15.6 GiB but only 12.0 GiB" in msg
    assert "free GPU memory on cuda" in msg and "SECRET" not in msg
    with pytest.raises(
        ModelError, match=r"float32\) needs about 30\.6 GiB but only 24\.0 GiB of available RAM"
    ):
        load_encoder("llama2-7b", device="cpu")
    assert seen == ["cuda", "cpu"]
    monkeypatch.setattr(decoder.loading, "available_bytes", lambda device: 80 * 1024**3)
    enc = load_encoder("llama2-7b", device="cuda")  # an 80 GiB GPU: accepted, nothing loaded yet
    assert enc.dtype == "bfloat16" and enc.model is None and len(enc.fingerprint()) == 64


def test_hub_id_without_network_is_a_clear_error(monkeypatch):
    """Offline, the hub route fails inside transformers; the error names the model and the token variables."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_TOKEN", "hf_SECRET_must_not_leak")
    enc = load_encoder("llama2-7b", device="cpu", options={"check_memory": False})
    with pytest.raises(ModelError) as err:
        enc.encode(["king"])
    msg = str(err.value)
    assert "meta-llama/Llama-2-7b-hf" in msg and "HF_TOKEN" in msg and "SECRET" not in msg


def test_hub_id_loads_from_a_hub_cache(tiny, tmp_path, monkeypatch):
    """The hub-id route (token and revision passed along) on a snapshot laid out as huggingface_hub stores it."""
    import huggingface_hub.constants as hub_constants

    commit = hashlib.sha1(b"tiny").hexdigest()
    repo = tmp_path / "hub" / "models--wordembed--tiny-llama"
    snapshot = repo / "snapshots" / commit
    snapshot.mkdir(parents=True)
    for f in (tiny["root"] / "model").iterdir():
        os.symlink(f, snapshot / f.name)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(commit)
    monkeypatch.setattr(hub_constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.setenv("HF_TOKEN", "hf_test_token")
    spec = yaml.safe_load(tiny["yaml"].read_text())
    spec["source"] = {"hf": "wordembed/tiny-llama"}
    spec["key"] = "tiny-hub"
    path = tmp_path / "tiny-hub.yaml"
    path.write_text(yaml.safe_dump(spec))
    enc = load_encoder(path, device="cpu", options={"layer": 3})
    vecs, _ = enc.encode([LONG])
    np.testing.assert_allclose(vecs[0], _reference(tiny, LONG, layer=3), rtol=1e-5, atol=1e-5)
    assert enc.source_description == "hf:wordembed/tiny-llama"
    pinned = load_encoder(path, device="cpu", options={"revision": commit})
    assert pinned.fingerprint() != load_encoder(path, device="cpu").fingerprint()


def _metaspace_tokenizer() -> PreTrainedTokenizerFast:
    """SentencePiece-style ``▁word`` tokens with a ``▁`` put before the text, as Llama-2's fast tokenizer."""
    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    tok.normalizer = None
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="first")
    tok.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="first")
    trainer = trainers.BpeTrainer(
        vocab_size=200,
        special_tokens=["<unk>", "<s>", "</s>"],
        initial_alphabet=list(string.ascii_letters + string.punctuation),
        show_progress=False,
    )
    tok.train_from_iterator(CORPUS, trainer=trainer)
    return PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<s>", eos_token="</s>", unk_token="<unk>")


@pytest.mark.parametrize("kind", ["byte-level", "metaspace"])
@pytest.mark.parametrize("prompt", ["The word: {word}", 'This word : "{word}" means in one word:"', "{word}"])
def test_word_tokens_are_located_exactly(tiny, kind, prompt):
    """The located tokens decode to the word itself: no token of the prompt, none of the word missed."""
    tok = tiny["tok"] if kind == "byte-level" else _metaspace_tokenizer()
    enc = _encoder(tiny, prompt=prompt)
    enc.tokenizer = tok  # locating words needs only the tokenizer
    words = ["king", "queen", LONG, "woman"]
    ids, positions = enc.tokenize(words)
    for word, row, pos in zip(words, ids, positions, strict=True):
        assert row[0] == tok.bos_token_id and pos[0] > 0
        # a token partly inside the word belongs to it: Metaspace BPE learnt '"king"' as one token here
        assert tok.decode([row[p] for p in pos]).strip().strip('"') == word
        rest = [t for j, t in enumerate(row) if j not in pos]
        assert word not in tok.decode(rest[1:])
    assert len(positions[2]) > 1  # the long word spans several tokens in both tokenizers


@pytest.mark.parametrize(("layer", "expected_runs"), [(1, 2), ("middle", 3), (-1, 4), (4, 4)])
def test_only_the_needed_layers_run(tiny, layer, expected_runs):
    """A middle-layer vector needs the layers up to it (plus one, so the final norm misses it): no more."""
    enc = _encoder(tiny, layer=layer)
    enc.load()
    base = enc.model.model
    calls = []
    hooks = [m.register_forward_hook(lambda *_, i=i: calls.append(i)) for i, m in enumerate(base.layers)]
    try:
        vectors, _ = enc.encode([LONG])
    finally:
        for h in hooks:
            h.remove()
    assert sorted(set(calls)) == list(range(expected_runs))
    assert len(base.layers) == 4  # restored after the pass
    index = {1: 1, "middle": 2, -1: 4, 4: 4}[layer]
    np.testing.assert_allclose(vectors[0], _reference(tiny, LONG, layer=index), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("options", [{}, {"pooling": "last"}, {"layer": "all"}, {"layer": -1},
                                     {"prompt": 'This word : "{word}" means in one word:"', "pooling": "prompt_last"}])
def test_shared_prefix_cache_gives_the_full_pass_vectors(tiny, options):
    """The prompt's common head is computed once and reused; the vectors must not change."""
    words = ["king", LONG, "queen", "a", "cat"]
    cached, _ = _encoder(tiny, **options).encode(words)
    full, _ = _encoder(tiny, prefix_cache=False, **options).encode(words)
    np.testing.assert_allclose(cached, full, rtol=1e-5, atol=1e-5)
    assert _encoder(tiny, **options).fingerprint() == _encoder(tiny, prefix_cache=False, **options).fingerprint()


# ---- echo prompts: the word twice, pooled over the second copy ----

def _echo_reference(tiny: dict, word: str, *, layer: int, middle: str = " ", how: str = "mean", copy: int = 2):
    """Hidden state by hand for the prompt ``{word}MIDDLE{word}``: positions from tokenising its parts."""
    tok, model = tiny["tok"], tiny["model"]
    first = tok(word, add_special_tokens=False)["input_ids"]
    sep = tok(middle.rstrip(" "), add_special_tokens=False)["input_ids"] if middle.strip() else []
    second = tok((" " + word) if middle.endswith(" ") else word, add_special_tokens=False)["input_ids"]
    full = tok(word + middle + word, add_special_tokens=False)["input_ids"]
    assert first + sep + second == full  # the parts tokenise as the whole prompt does
    ids = torch.tensor([[tok.bos_token_id, *full]])
    with torch.no_grad():
        hs = model(input_ids=ids, attention_mask=torch.ones_like(ids), output_hidden_states=True).hidden_states
    start = 1 + (len(first) + len(sep) if copy == 2 else 0)
    positions = list(range(start, start + len(second if copy == 2 else first)))
    h = hs[layer][0]
    return h[positions].mean(0).numpy() if how == "mean" else h[positions[-1]].numpy()


@pytest.mark.parametrize("how", ["mean", "last"])
@pytest.mark.parametrize("middle", [" ", ", again: "])
def test_echo_prompt_pools_the_second_copy(tiny, how, middle):
    words = ["king", LONG, "queen"]
    enc = _encoder(tiny, prompt="{word}" + middle + "{word}", pooling=how, layer=2)
    vecs, present = enc.encode(words)
    assert present.all() and vecs.shape == (3, 32)
    ids, positions = enc.tokenize(words)
    for row, word in enumerate(words):
        np.testing.assert_allclose(
            vecs[row], _echo_reference(tiny, word, layer=2, middle=middle, how=how), rtol=1e-5, atol=1e-5
        )
        # the located tokens are the second copy: they decode to the word and the prompt ends with them or
        # with the text after them, and the word's first copy lies before them
        assert tiny["tok"].decode([ids[row][p] for p in positions[row]]).strip() == word
        assert word in tiny["tok"].decode(ids[row][1 : positions[row][0]])
    first_copy = _echo_reference(tiny, LONG, layer=2, middle=middle, how=how, copy=1)
    assert not np.allclose(vecs[1], first_copy, atol=1e-3)  # the first copy's states are not what we pool


def test_echo_prompt_with_prompt_last_all_layers_and_cache(tiny):
    """prompt_last keeps its meaning (the prompt's last token); layer all and the prefix cache are exact."""
    echo = "The word: {word}. Again: {word}"
    words = ["king", LONG, "queen", "a"]
    last, _ = _encoder(tiny, prompt=echo, pooling="prompt_last", layer=2).encode(words)
    second, _ = _encoder(tiny, prompt=echo, pooling="last", layer=2).encode(words)
    np.testing.assert_allclose(last, second, rtol=1e-5, atol=1e-5)  # the prompt ends with the second copy
    allv, _ = _encoder(tiny, prompt=echo, layer="all").encode(words)
    one, _ = _encoder(tiny, prompt=echo, layer=3).encode(words)
    np.testing.assert_allclose(allv[:, 3], one, rtol=1e-5, atol=1e-5)
    full, _ = _encoder(tiny, prompt=echo, layer="all", prefix_cache=False, batch_size=1).encode(words)
    np.testing.assert_allclose(allv, full, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("prompt", ["no placeholder", "{word}, {word} and {word}", "{word}" * 4])
def test_prompt_needs_one_or_two_words(tiny, prompt):
    """One-line errors naming the option, from the options check and from the backend's own validation."""
    with pytest.raises(ParameterError) as err:
        _encoder(tiny, prompt=prompt)
    text = str(err.value)
    assert "option 'prompt'" in text and "exactly one '{word}'" in text and "two for an echo" in text
    assert "\n" not in text
    spec = load_spec(tiny["yaml"]).with_options({"prompt": prompt})
    with pytest.raises(ParameterError, match=r"option 'prompt' = .* exactly one '\{word\}'.*echo") as err:
        decoder.validate_options(spec)
    assert "\n" not in str(err.value)


# Fingerprints of shipped configurations, computed before echo prompts and random controls were added: the
# store holds vectors under them, so no change to the decoder backend may move them.
SHIPPED_FINGERPRINTS = {
    ("smollm2-135m", ()): "c35e1e6485e02ff2991f098898c46be2f1ecb29005bc21c4dfd1710d60b65fdd",
    ("smollm2-135m", (("pooling", "last"),)): "be48852f49e63793849aa72158dd253940491f5cbcd7176379b2b4c70bd2048e",
    ("smollm2-135m", (("layer", "all"),)): "74bb23b7cbf4e3455c46cfea3f3e839bf867930e3d5664d44749cc86f678f313",
    ("smollm2-135m", (("pooling", "prompt_last"), ("prompt", 'This word: "{word}" means in one word:"'))):
        "e6e6f30bc4d64957f8d0a7dc134e941f62b11d58a78f6850792034c9b0796699",
    ("smollm2-135m", (("dtype", "bfloat16"),)): "b72310b5e5ad2bddd5177b629e51456fd7404d16b1e8580621e37aa159b3ff34",
    ("gemma3-270m", ()): "b90656308d7c7dccf7c25e132675987f9fd356c6914983877ba0bc228ded2fa9",
    ("qwen2.5-coder-0.5b", ()): "4ccbab94dcaf351cdb58f3a415fbb7b16d86cdcebf0d92588f3066a9c9a81f50",
    ("qwen2.5-coder-1.5b", ()): "cf8c36dd951023eef0c55db67440c596eab4c24adde5fca9f4a3e0a58185b1d1",
}  # fmt: skip


@pytest.mark.parametrize(("key", "options"), list(SHIPPED_FINGERPRINTS))
def test_shipped_fingerprints_are_unchanged(key, options):
    """No artefact is needed: a PyPI spec's fingerprint stands on its recorded sha256 and its options."""
    encoder = decoder.from_spec(load_spec(key).with_options(dict(options)), None, "cpu")
    assert encoder.fingerprint() == SHIPPED_FINGERPRINTS[key, options]
    assert encoder.model is None  # the fingerprint needs no model


# --------------------------------------------------------------------------------------------------- pooling
def test_pooling_on_a_hand_built_tensor() -> None:
    """Known answers without a model: hidden states [batch, seq, d] with the word at positions 1..2 (row 0)
    and 2 (row 1), a shared prefix of one token (offset), and NaN in the padding that must not leak in."""
    hidden = torch.tensor(
        [
            [[1.0, 2.0], [3.0, 4.0], [5.0, 8.0], [7.0, 0.0]],
            [[0.5, 0.5], [2.0, 6.0], [9.0, 1.0], [float("nan"), float("inf")]],  # last: padding
        ]
    )
    positions, lengths = [[2, 3], [3]], [5, 4]  # in the full prompts, one cached token ahead of each row
    mean = decoder.pooling_weights(positions, lengths, "mean", width=4, offset=1)
    np.testing.assert_array_equal(mean, [[0, 0.5, 0.5, 0], [0, 0, 1, 0]])
    np.testing.assert_array_equal(decoder.pool(hidden, torch.from_numpy(mean)).numpy(), [[4.0, 6.0], [9.0, 1.0]])
    last = decoder.pooling_weights(positions, lengths, "last", width=4, offset=1)
    np.testing.assert_array_equal(decoder.pool(hidden, last).numpy(), [[5.0, 8.0], [9.0, 1.0]])
    prompt_last = decoder.pooling_weights(positions, lengths, "prompt_last", width=4, offset=1)
    np.testing.assert_array_equal(prompt_last, [[0, 0, 0, 1], [0, 0, 1, 0]])
    np.testing.assert_array_equal(decoder.pool(hidden, prompt_last).numpy(), [[7.0, 0.0], [9.0, 1.0]])
    layers = torch.stack([hidden, 2 * hidden], dim=1)  # [batch, layers, seq, d]
    np.testing.assert_array_equal(decoder.pool(layers, mean).numpy(), [[[4, 6], [8, 12]], [[9, 1], [18, 2]]])
    with pytest.raises(ParameterError, match="pooling='max'; valid: mean, last, prompt_last"):
        decoder.pooling_weights(positions, lengths, "max", width=4)


def test_vector_options_are_what_the_fingerprint_hashes(tiny) -> None:
    """The options that change no vector (batch size, memory check, caches) are not in the fingerprint."""
    enc = _encoder(tiny, batch_size=7, check_memory=False, prefix_cache=False)
    assert enc.vector_options() == {
        "layer": "middle", "pooling": "mean", "prompt": "The word: {word}", "bos": True, "revision": None,
        "dtype": "float32",
    }  # fmt: skip
    assert decoder.VECTOR_OPTIONS == ("layer", "pooling", "prompt", "bos", "revision")
    assert decoder.layer_index("middle", 4, "x") == 2 and decoder.layer_index(-1, 4, "x") == 4
    with pytest.raises(ParameterError, match="x: option 'layer' = 9 is out of range .* valid values: -5 .. 4"):
        decoder.layer_index(9, 4, "x")
