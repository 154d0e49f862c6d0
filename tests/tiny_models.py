"""A tiny random llama checkpoint and its model YAML, for tests that need a decoder without any download.

The tokenizer is a real byte-level BPE trained here, so every word splits into known tokens (the byte
alphabet is in the vocabulary) and the decoder backend meets the same offsets a GPT-2/Llama-3 tokenizer gives.
Built the way tests/test_decoder.py builds its model; kept in its own module so the runner and notebook tests
share it. torch and transformers are imported only when a decoder is built (the static stand-in needs neither).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

CORPUS = [
    "The word: king. The word: queen. The word: man. The word: woman.",
    "the king and the queen met a man and a woman in the word of the day",
    "cats dogs walked walking talks talked happiness quickly slowly",
] * 20


def tiny_tokenizer(corpus: Sequence[str] = CORPUS) -> Any:
    """A byte-level BPE trained on a few lines (a ``PreTrainedTokenizerFast``)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE(unk_token=None))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=320,
        special_tokens=["<pad>", "<s>", "</s>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(corpus, trainer=trainer)
    return PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<s>", eos_token="</s>", pad_token="<pad>")


def save_tiny_llama(
    folder: Path, *, seed: int = 0, hidden: int = 32, layers: int = 2, tokenizer: Any = None
) -> int:
    """Save a random llama checkpoint (config, safetensors, tokenizer) in ``folder``; returns its parameter count.

    ``tokenizer`` defaults to :func:`tiny_tokenizer` on this module's corpus.
    """
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    tok = tokenizer if tokenizer is not None else tiny_tokenizer()
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
        "options": {
            "layer": "middle",
            "pooling": "mean",
            "prompt": "The word: {word}",
            "bos": True,
            "batch_size": 1024,
            **(options or {}),
        },
    }
    path = root / f"{key}.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False), encoding="utf-8")
    return path


def write_tiny_static_yaml(
    root: Path,
    words: list[str],
    *,
    key: str = "tiny-static",
    dims: int = 8,
    seed: int = 0,
    source_path: Path | None = None,
    options: dict[str, Any] | None = None,
) -> Path:
    """A classical model in an instant: seeded random vectors for ``words`` in a word2vec text file.

    Embedding with it costs a file read, so runner tests can run real notebooks on two models cheaply.
    Words outside ``words`` are missing, as for any static model. ``source_path`` overrides the artefact
    (point it at a missing file to make the model fail).
    """
    import numpy as np

    root.mkdir(parents=True, exist_ok=True)
    params = None
    if source_path is None:
        params = len(words) * dims
        source_path = root / f"{key}.txt"
        vectors = np.random.default_rng(seed).standard_normal((len(words), dims)).astype(np.float32)
        lines = [f"{len(words)} {dims}"] + [
            w + " " + " ".join(f"{x:.6f}" for x in row) for w, row in zip(words, vectors, strict=True)
        ]
        source_path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    spec = {
        "key": key,
        "role": "classical",
        "backend": "static",
        "description": "seeded random static vectors written by the tests",
        "params": params,
        "dims": dims,
        "source": {"path": str(source_path)},
        "options": {"format": "word2vec", **(options or {})},
    }
    path = root / f"{key}.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False), encoding="utf-8")
    return path


def tiny_wordpiece_tokenizer(corpus: Sequence[str] = CORPUS) -> Any:
    """A BERT-style WordPiece tokenizer trained on a few lines, adding [CLS] ... [SEP] as BERT's does."""
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    tok = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tok.normalizer = normalizers.BertNormalizer(lowercase=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.decoder = decoders.WordPiece()
    trainer = trainers.WordPieceTrainer(vocab_size=200, special_tokens=specials, show_progress=False)
    tok.train_from_iterator(corpus, trainer=trainer)
    cls, sep = tok.token_to_id("[CLS]"), tok.token_to_id("[SEP]")
    tok.post_processor = processors.BertProcessing(("[SEP]", sep), ("[CLS]", cls))
    return PreTrainedTokenizerFast(
        tokenizer_object=tok, unk_token="[UNK]", pad_token="[PAD]", cls_token="[CLS]", sep_token="[SEP]",
        mask_token="[MASK]",
    )  # fmt: skip


def save_tiny_sentence_transformer(folder: Path, *, seed: int = 0, hidden: int = 32, layers: int = 2) -> int:
    """Save a random 2-layer BERT with mean pooling as a sentence-transformers folder; returns its parameter count.

    Built the way all-MiniLM-L6-v2 is laid out (a Transformer module, then Pooling), so the
    sentence-transformers backend loads it as it loads MiniLM, without any download.
    """
    import torch
    from sentence_transformers import SentenceTransformer
    from transformers import BertConfig, BertModel

    try:
        from sentence_transformers.sentence_transformer.modules import Pooling, Transformer
    except ImportError:  # sentence-transformers < 6
        from sentence_transformers.models import Pooling, Transformer

    tok = tiny_wordpiece_tokenizer()
    torch.manual_seed(seed)
    config = BertConfig(
        vocab_size=len(tok),
        hidden_size=hidden,
        intermediate_size=2 * hidden,
        num_hidden_layers=layers,
        num_attention_heads=4,
        max_position_embeddings=64,
        pad_token_id=tok.pad_token_id,
    )
    bert = BertModel(config, add_pooling_layer=False)
    hf = folder.parent / f".{folder.name}-hf"
    bert.save_pretrained(hf)
    tok.save_pretrained(hf)
    model = SentenceTransformer(
        modules=[Transformer(str(hf)), Pooling(hidden, pooling_mode="mean")], device="cpu"
    )
    model.save(str(folder))
    return sum(p.numel() for p in bert.parameters())


def write_tiny_sbert_yaml(root: Path, *, key: str = "tiny-sbert", seed: int = 0, hidden: int = 32) -> Path:
    """Build a tiny sentence-transformers model under ``root/key`` and write ``root/key.yaml`` for it."""
    root.mkdir(parents=True, exist_ok=True)
    params = save_tiny_sentence_transformer(root / key, seed=seed, hidden=hidden)
    spec = {
        "key": key,
        "family": "encoder",
        "backend": "sentence-transformers",
        "description": "random 2-layer BERT with mean pooling built by the tests (WordPiece tokenizer)",
        "params": params,
        "dims": hidden,
        "source": {"path": str(root / key)},
        "options": {"normalize": False},
    }
    path = root / f"{key}.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False), encoding="utf-8")
    return path
