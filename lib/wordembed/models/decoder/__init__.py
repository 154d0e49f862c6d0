"""Word vectors from the hidden states of a decoder LLM (LLaMA, SmolLM2, Gemma 3, Qwen 2.5) via transformers.

A decoder has no "word embedding" of its own: we place the word in a short prompt, run the model once, and
read the hidden states at the word's tokens. Which layer, how the tokens are pooled and what surrounds the
word all change the vectors, so they are options (and part of the fingerprint).

Artefacts (``from_spec``'s ``artifact``):

- a ``.gguf`` file (or a folder holding one ``.gguf`` and no ``config.json``): loaded with
  ``from_pretrained(folder, gguf_file=name)``; the ``gguf`` package dequantises the 4-bit weights to float32.
  That takes 30-110 s, so the dequantised model and its tokenizer are saved once (safetensors) in a folder
  beside the artefact, ``hf-converted-<sha256[:16]>/`` (inside the model's cache entry; for a GGUF given by
  ``source.path`` under ``model_cache_dir()/.converted/``), keyed by the GGUF's sha256, written to a temporary
  folder and renamed when complete, and reused by every later load. It costs 4 bytes per parameter on disk.
- a checkpoint folder (``config.json`` + weights): loaded as is.
- None: the spec's ``source.hf`` hub id is loaded by transformers itself (users with network). A gated model
  such as ``meta-llama/Llama-2-7b-hf`` needs a token: it is read from ``HF_TOKEN`` or
  ``HUGGING_FACE_HUB_TOKEN`` and handed to transformers, never logged or stored.

Options (``options:`` in the model YAML, or ``load_encoder(..., options=...)``):

``layer`` (default ``"middle"``)
    Index into ``hidden_states``: 0 is the embedding output, ``L`` (= ``num_hidden_layers``) the last
    layer (after the final norm, as transformers returns it); a negative int counts from the end (-1 = ``L``);
    ``"middle"`` is ``L // 2``; ``"all"`` returns every one, vectors of shape ``(n, L + 1, d)``.
``pooling`` (default ``"mean"``)
    ``"mean"`` over the word's own tokens; ``"last"``: the word's last token; ``"prompt_last"``: the last
    token of the whole prompt (PromptEOL, e.g. with ``'This word : "{word}" means in one word:"'``).
``prompt`` (default ``"The word: {word}"``)
    Template with exactly one ``{word}``, or exactly two for an echo prompt such as ``"{word} {word}"``. The
    word's tokens are found by the tokenizer's character offsets: every token that overlaps the word's
    characters (a leading-space token such as ``Ġking`` included). With two copies the pooled tokens are those
    of the second: a causal model's states at the first copy have seen only the text before it, those at the
    second have seen the whole word once already (echo embeddings, Springer et al. 2024), which is the point of
    repeating it. ``mean`` and ``last`` then pool the second copy; ``prompt_last`` is unchanged.
``bos`` (default true)
    Put the tokenizer's BOS token first. Position 0 is an attention sink whose hidden states carry little of
    the token, so a template/bos choice that makes the word the first token is refused.
``batch_size`` (default 32)
    Words per forward pass; words are sorted by token length and right-padded (with an attention mask), so a
    word's vector does not depend on its batch.
``dtype`` (default ``"auto"``)
    ``"auto"`` (bfloat16 on CUDA, float32 on CPU), ``"float32"``, ``"bfloat16"`` or ``"float16"``.
``check_memory`` (default true)
    Refuse, before loading, a model that does not fit: ``params`` x bytes per parameter x 1.2 (+ 0.5 GiB)
    against free GPU memory on CUDA or available RAM on CPU (and RAM for float32 when a GGUF is converted).
    Set false to try anyway.
``cache_converted`` (default true)
    Keep the dequantised model of a GGUF (see above); false converts on every load.
``revision`` (default null)
    Hub revision (branch, tag or commit) for a ``source.hf`` model; pin a commit for reproducible vectors.

The device is the one ``from_spec`` is given (the registry picks CUDA when torch sees a GPU).

The package: :mod:`~wordembed.models.decoder.options` (defaults, validation, the fingerprinted options),
:mod:`~wordembed.models.decoder.loading` (memory checks, checkpoints, GGUF conversion cache),
:mod:`~wordembed.models.decoder.pooling` (pure functions from hidden states to word vectors) and
:mod:`~wordembed.models.decoder.encoder` (:class:`DecoderEncoder`); every name is re-exported here, so
``wordembed.models.decoder.X`` is what it was when this was one module.
Decoder hidden states are strongly anisotropic (cosines of 0.85-0.99 between any two words), and a 4-bit
GGUF adds quantisation noise: raw cosines are not comparable across models.
"""

from __future__ import annotations

from wordembed.models.decoder.encoder import (
    DecoderEncoder,
    _cache_argument,
    _layers_up_to,
    _shared_head,
    from_spec,
)
from wordembed.models.decoder.loading import (
    _BYTES,
    _MEMORY_EXTRA,
    _MEMORY_FACTOR,
    CONVERTED_MARKER,
    TOKEN_ENV,
    _gguf_file,
    _gguf_sha256,
    available_bytes,
    converted_dir,
    ensure_fits,
    hub_token,
    load_checkpoint,
    load_gguf,
    required_bytes,
    save_converted,
)
from wordembed.models.decoder.options import (
    DEFAULTS,
    DTYPES,
    LAYER_WORDS,
    POOLINGS,
    VECTOR_OPTIONS,
    layer_index,
    resolve_dtype,
    split_prompt,
    validate_options,
    vector_options,
)
from wordembed.models.decoder.pooling import pool, pooling_weights

__all__ = [
    "CONVERTED_MARKER",
    "DEFAULTS",
    "DTYPES",
    "LAYER_WORDS",
    "POOLINGS",
    "TOKEN_ENV",
    "VECTOR_OPTIONS",
    "_BYTES",
    "_MEMORY_EXTRA",
    "_MEMORY_FACTOR",
    "DecoderEncoder",
    "_cache_argument",
    "_gguf_file",
    "_gguf_sha256",
    "_layers_up_to",
    "_shared_head",
    "available_bytes",
    "converted_dir",
    "ensure_fits",
    "from_spec",
    "hub_token",
    "layer_index",
    "load_checkpoint",
    "load_gguf",
    "pool",
    "pooling_weights",
    "required_bytes",
    "resolve_dtype",
    "save_converted",
    "split_prompt",
    "validate_options",
    "vector_options",
]
