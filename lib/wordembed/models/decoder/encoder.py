"""The decoder encoder: prompts, tokens, one forward pass per batch, and the pooled hidden states.

Options are :mod:`wordembed.models.decoder.options`, loading :mod:`wordembed.models.decoder.loading` and the
pooling :mod:`wordembed.models.decoder.pooling`; this module ties them together (see the package docstring
for what each option does). Why the split: the pooling has a closed-form answer and the options a
fingerprint, and both should be testable without loading a model.
"""

from __future__ import annotations

import contextlib
import copy
import logging
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from wordembed.errors import ModelError, ParameterError
from wordembed.models.decoder import loading
from wordembed.models.decoder.loading import _gguf_file, load_checkpoint, load_gguf
from wordembed.models.decoder.options import (
    layer_index,
    resolve_dtype,
    split_prompt,
    validate_options,
    vector_options,
)
from wordembed.models.decoder.pooling import pool, pooling_weights
from wordembed.models.fetch import artifact_checksum
from wordembed.models.spec import ModelSpec, fingerprint
from wordembed.util import choose_device

log = logging.getLogger("wordembed.models.decoder")


class DecoderEncoder:
    """Loads lazily: the fingerprint needs no model, so a store that has every vector never loads one."""

    def __init__(self, spec: ModelSpec, artifact: Path | None, device: str, options: dict[str, Any]) -> None:
        self.spec = spec
        self.key = spec.key
        self.artifact = Path(artifact) if artifact is not None else None
        self.device = device
        self.options = options
        self.dtype = resolve_dtype(options["dtype"], device)
        # prefix WORD suffix, or for an echo prompt prefix WORD echo WORD suffix (the second copy is pooled)
        self.prefix, self.suffix, self.echo = split_prompt(options["prompt"])
        self.model: Any = None
        self.tokenizer: Any = None
        self.num_layers: int | None = None
        self.dims: int | None = spec.dims
        self.layer_index: int | None = None
        self.source_description = ""
        if self.artifact is None and not spec.source.get("hf"):
            raise ModelError(
                f"{spec.where}: the decoder backend needs a local artefact or a source.hf hub id"
            )
        self._checksum = artifact_checksum(spec, self.artifact)

    def vector_options(self) -> dict[str, Any]:
        """The options that change the vectors (batch size, memory checks and caching do not)."""
        return vector_options(self.options, self.dtype)

    def fingerprint(self) -> str:
        return fingerprint(self.spec, self.vector_options(), self._checksum)

    # ----------------------------------------------------------------------------------------- loading
    def check_memory(self) -> None:
        if self.options["check_memory"]:
            loading.ensure_fits(self.spec, self.spec.params, self.dtype, self.device)

    def load(self) -> DecoderEncoder:
        """Load tokenizer and model onto the device (once)."""
        if self.model is not None:
            return self
        import torch

        self.check_memory()
        tokenizer, model = self._load_weights(getattr(torch, self.dtype))
        if not getattr(tokenizer, "is_fast", False):
            raise ModelError(
                f"{self.spec.where}: the tokenizer must be a fast tokenizer (it gives character offsets)"
            )
        model.eval()
        config = model.config.get_text_config() if hasattr(model.config, "get_text_config") else model.config
        self.num_layers = int(config.num_hidden_layers)
        hidden = int(config.hidden_size)
        if self.spec.dims is not None and self.spec.dims != hidden:
            raise ModelError(
                f"{self.spec.where}: dims is {self.spec.dims} but the model's hidden size is {hidden}"
            )
        self.dims = hidden
        self.layer_index = self._layer_index(self.num_layers)
        if self.options["bos"] and tokenizer.bos_token_id is None:
            raise ParameterError(
                f"{self.spec.where}: option 'bos' = true but this tokenizer has no BOS token; valid values: false "
                "(with text before {word} in the prompt)"
            )
        self.tokenizer, self.model = tokenizer, model
        return self

    def _load_weights(self, torch_dtype: Any) -> tuple[Any, Any]:
        """Tokenizer and model, placed on the device; a random-weight control
        (:mod:`wordembed.models.random_weights`) replaces this and keeps everything else."""
        gguf = _gguf_file(self.artifact) if self.artifact is not None else None
        if gguf is not None:
            return self._load_gguf(gguf, torch_dtype)
        return self._load_checkpoint(torch_dtype)

    def _layer_index(self, num_layers: int) -> int | None:
        return layer_index(self.options["layer"], num_layers, self.spec.where)

    def _place(self, model: Any, torch_dtype: Any) -> Any:
        return model.to(device=self.device, dtype=torch_dtype)

    def _load_checkpoint(self, torch_dtype: Any) -> tuple[Any, Any]:
        revision = self.options["revision"]
        tokenizer, model, self.source_description = load_checkpoint(
            self.spec, self.artifact, self.device, revision, torch_dtype
        )
        return tokenizer, self._place(model, torch_dtype)

    def _load_gguf(self, gguf: Path, torch_dtype: Any) -> tuple[Any, Any]:
        tokenizer, model, self.source_description = load_gguf(self.spec, gguf, self.options, torch_dtype)
        return tokenizer, self._place(model, torch_dtype)

    # ----------------------------------------------------------------------------------------- encoding
    def tokenize(self, words: Sequence[str]) -> tuple[list[list[int]], list[list[int]]]:
        """Token ids of each prompt (BOS first when asked) and the positions of the word's tokens in them
        (of its second copy in an echo prompt)."""
        tok = self.tokenizer
        for w in words:
            if not isinstance(w, str) or not w.strip():
                raise ParameterError(
                    f"{self.spec.where}: cannot embed {w!r}: words must be non-empty strings"
                )
        echo = self.echo
        if echo is None:
            texts = [f"{self.prefix}{w}{self.suffix}" for w in words]
        else:
            texts = [f"{self.prefix}{w}{echo}{w}{self.suffix}" for w in words]
        enc = tok(texts, add_special_tokens=False, return_offsets_mapping=True)
        head = [tok.bos_token_id] if self.options["bos"] else []
        all_ids: list[list[int]] = []
        all_pos: list[list[int]] = []
        for w, ids, offsets in zip(words, enc["input_ids"], enc["offset_mapping"], strict=True):
            # the characters of the pooled copy: the only one, or the second of an echo prompt
            start = len(self.prefix) if echo is None else len(self.prefix) + len(w) + len(echo)
            end = start + len(w)
            pos = [len(head) + j for j, (a, b) in enumerate(offsets) if b > a and a < end and b > start]
            if not pos:
                raise ModelError(f"{self.spec.where}: the tokenizer's offsets locate no token of {w!r}")
            if pos[0] == 0:
                raise ParameterError(
                    f"{self.spec.where}: with option 'prompt' = {self.options['prompt']!r} and 'bos' = false, "
                    f"{w!r} is the first token (position 0 is an attention sink); valid values: bos true, or "
                    "more text before {word}"
                )
            if pos != list(range(pos[0], pos[-1] + 1)):
                raise ModelError(f"{self.spec.where}: the tokens of {w!r} are not contiguous: {pos}")
            all_ids.append(head + list(ids))
            all_pos.append(pos)
        return all_ids, all_pos

    def encode(self, words: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        import torch

        self.load()
        words = list(words)
        n = len(words)
        shape_tail = (self.num_layers + 1, self.dims) if self.layer_index is None else (self.dims,)
        out = np.zeros((n, *shape_tail), dtype=np.float32)
        if n == 0:
            return out, np.zeros(0, dtype=bool)
        ids, positions = self.tokenize(words)
        # similar lengths share a batch: less padding
        order = np.argsort([len(x) for x in ids], kind="stable")
        pad = self.tokenizer.pad_token_id
        pad = pad if pad is not None else (self.tokenizer.eos_token_id or 0)
        # the base model gives the hidden states without computing vocabulary-sized logits
        base = getattr(self.model, self.model.base_model_prefix, self.model)
        bs = self.options["batch_size"]
        pooling = self.options["pooling"]
        # Every prompt starts with the same tokens (BOS, "The word:"): run them once and reuse their keys and
        # values, so each word costs only its own tokens (about a third of the work for one-word prompts).
        shared = _shared_head(ids, positions) if self.options["prefix_cache"] else 0
        with torch.inference_mode(), _layers_up_to(base, self.layer_index, self.num_layers):
            prefix_cache = None
            if shared:
                head = torch.tensor([ids[0][:shared]], device=self.device)
                first = base(input_ids=head, attention_mask=torch.ones_like(head), use_cache=True)
                prefix_cache = first.get("cache", None) or first.get("past_key_values", None)
            for lo in range(0, n, bs):
                rows = order[lo : lo + bs]
                width = max(len(ids[i]) for i in rows) - shared
                input_ids = torch.full((len(rows), width), pad, dtype=torch.long)
                mask = torch.zeros((len(rows), shared + width), dtype=torch.long)
                mask[:, :shared] = 1
                for r, i in enumerate(rows):
                    tail = ids[i][shared:]
                    input_ids[r, : len(tail)] = torch.tensor(tail)
                    mask[r, shared : shared + len(tail)] = 1
                weight = pooling_weights(
                    [positions[i] for i in rows], [len(ids[i]) for i in rows], pooling, width, offset=shared
                )
                kwargs: dict[str, Any] = {"use_cache": False}
                if prefix_cache is not None:
                    cache = copy.deepcopy(prefix_cache)
                    cache.batch_repeat_interleave(len(rows))
                    kwargs = {_cache_argument(base): cache, "use_cache": True}
                hidden = base(
                    input_ids=input_ids.to(self.device),
                    attention_mask=mask.to(self.device),
                    output_hidden_states=True,
                    **kwargs,
                ).hidden_states
                states = torch.stack(hidden, dim=1) if self.layer_index is None else hidden[self.layer_index]
                out[rows] = pool(states, torch.from_numpy(weight)).cpu().numpy()  # (b, [L+1,] d)
        return out, np.ones(n, dtype=bool)

    def __repr__(self) -> str:
        return (
            f"DecoderEncoder({self.key!r}, layer={self.options['layer']!r}, pooling={self.options['pooling']!r}, "
            f"prompt={self.options['prompt']!r}, bos={self.options['bos']}, dtype={self.dtype}, device={self.device})"
        )


def _cache_argument(base: Any) -> str:
    """transformers renamed ``past_key_values`` to ``cache`` (5.x); accept both generations."""
    import inspect

    return "cache" if "cache" in inspect.signature(base.forward).parameters else "past_key_values"


def _shared_head(ids: Sequence[Sequence[int]], positions: Sequence[Sequence[int]]) -> int:
    """Length of the token prefix every prompt shares before its word (0 when none is worth caching)."""
    limit = min(min(p[0] for p in positions), min(len(x) for x in ids) - 1)
    first = ids[0]
    shared = 0
    while shared < limit and all(x[shared] == first[shared] for x in ids):
        shared += 1
    return shared if shared >= 2 else 0


@contextlib.contextmanager
def _layers_up_to(base: Any, layer_index: int | None, num_layers: int) -> Iterator[None]:
    """Run only the decoder layers the chosen hidden state depends on.

    ``hidden_states[k]`` (k < L) is the output of layer k, which later layers do not change; computing up to
    layer k + 1 keeps it exact (the final norm lands on the last state computed, which we do not read) and
    halves the work for the middle layer. Checked equal to the full pass in tests/test_decoder.py.
    """
    layers = getattr(base, "layers", None)
    if layer_index is None or layer_index >= num_layers or layers is None or len(layers) != num_layers:
        yield
        return
    import torch

    base.layers = torch.nn.ModuleList(list(layers)[: layer_index + 1])
    try:
        yield
    finally:
        base.layers = layers


def from_spec(spec: ModelSpec, artifact: Path | None, device: str | None) -> DecoderEncoder:
    """Validate options and memory now (cheap); load the model on first use."""
    options = validate_options(spec)
    encoder = DecoderEncoder(spec, artifact, choose_device(device), options)
    encoder.check_memory()
    return encoder
