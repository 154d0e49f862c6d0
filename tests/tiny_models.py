"""A tiny random llama checkpoint and its model YAML, for tests that need a decoder without any download.

The tokenizer is a real byte-level BPE trained here, so every word splits into known tokens (the byte
alphabet is in the vocabulary) and the decoder backend meets the same offsets a GPT-2/Llama-3 tokenizer gives.
Built the way tests/test_decoder.py builds its model; kept in its own module so the runner and notebook tests
share it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
import yaml
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

CORPUS = [
    "The word: king. The word: queen. The word: man. The word: woman.",
    "the king and the queen met a man and a woman in the word of the day",
    "cats dogs walked walking talks talked happiness quickly slowly",
] * 20


def tiny_tokenizer() -> PreTrainedTokenizerFast:
    tok = Tokenizer(models.BPE(unk_token=None))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=320,
        special_tokens=["<pad>", "<s>", "</s>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(CORPUS, trainer=trainer)
    return PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<s>", eos_token="</s>", pad_token="<pad>")


def save_tiny_llama(folder: Path, *, seed: int = 0, hidden: int = 32, layers: int = 2) -> int:
    """Save a random llama checkpoint (config, safetensors, tokenizer) in ``folder``; returns its parameter count."""
    tok = tiny_tokenizer()
    torch.manual_seed(seed)
    config = LlamaConfig(
        vocab_size=len(tok),
        hidden_size=hidden,
        intermediate_size=2 * hidden,
        num_hidden_layers=layers,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=128,
        bos_token_id=tok.bos_token_id,
        eos_token_id=tok.eos_token_id,
        pad_token_id=tok.pad_token_id,
    )
    model = LlamaForCausalLM(config)
    model.save_pretrained(folder)
    tok.save_pretrained(folder)
    return sum(p.numel() for p in model.parameters())


def write_tiny_decoder_yaml(
    root: Path,
    *,
    key: str = "tiny-llama",
    seed: int = 0,
    source_path: Path | None = None,
    options: dict[str, Any] | None = None,
    hidden: int = 32,
) -> Path:
    """Build the checkpoint under ``root/key`` (unless ``source_path`` is given) and write ``root/key.yaml``.

    ``source_path`` lets a test point the spec at something that is not a model (a missing file) to make
    the model fail; ``params`` is then None.
    """
    root.mkdir(parents=True, exist_ok=True)
    params = None
    dims = hidden
    if source_path is None:
        source_path = root / key
        params = save_tiny_llama(source_path, seed=seed, hidden=hidden)
    spec = {
        "key": key,
        "role": "llm",
        "backend": "decoder",
        "description": "random 2-layer llama built by the tests (byte-level BPE tokenizer)",
        "params": params,
        "dims": dims,
        "source": {"path": str(source_path)},
        "options": {"layer": "middle", "pooling": "mean", "prompt": "The word: {word}", "bos": True,
                    "batch_size": 256, **(options or {})},
    }
    path = root / f"{key}.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False), encoding="utf-8")
    return path
