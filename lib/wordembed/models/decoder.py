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
Decoder hidden states are strongly anisotropic (cosines of 0.85-0.99 between any two words), and a 4-bit
GGUF adds quantisation noise: raw cosines are not comparable across models.
"""

from __future__ import annotations

import contextlib
import copy
import json
import logging
import os
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from wordembed.errors import ModelError, ParameterError
from wordembed.models.fetch import artifact_checksum, entry_dir, sha256_file, source_kind
from wordembed.models.spec import ModelSpec, fingerprint, merge_options
from wordembed.paths import model_cache_dir

log = logging.getLogger(__name__)

DEFAULTS: dict[str, Any] = {
    "layer": "middle",
    "pooling": "mean",
    "prompt": "The word: {word}",
    "bos": True,
    "batch_size": 128,  # prompts of a single word are short: measured 2.5x faster than 32 on 2 CPU cores
    "dtype": "auto",
    "check_memory": True,
    "cache_converted": True,
    "revision": None,
    "prefix_cache": True,
}
POOLINGS = ("mean", "last", "prompt_last")
LAYER_WORDS = ("middle", "all")
DTYPES = ("auto", "float32", "bfloat16", "float16")
TOKEN_ENV = ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN")
CONVERTED_MARKER = ".wordembed-converted.json"
_BYTES = {"float32": 4, "bfloat16": 2, "float16": 2}
_MEMORY_FACTOR = 1.2
_MEMORY_EXTRA = 512 * 1024**2


def _bad(spec: ModelSpec, name: str, value: Any, valid: str) -> ParameterError:
    return ParameterError(f"{spec.where}: option {name!r} = {value!r} is invalid; valid values: {valid}")


def validate_options(spec: ModelSpec) -> dict[str, Any]:
    """The spec's options over :data:`DEFAULTS`, each checked; errors name the option and its valid values."""
    opts = merge_options(spec, DEFAULTS)
    layer = opts["layer"]
    if isinstance(layer, bool) or not (isinstance(layer, int) or layer in LAYER_WORDS):
        raise _bad(spec, "layer", layer, "an int (0 = embeddings, negative from the end), 'middle' or 'all'")
    if opts["pooling"] not in POOLINGS:
        raise _bad(spec, "pooling", opts["pooling"], ", ".join(POOLINGS))
    prompt = opts["prompt"]
    if not isinstance(prompt, str) or prompt.count("{word}") not in (1, 2):
        raise _bad(
            spec, "prompt", prompt,
            "a string with exactly one '{word}', e.g. 'The word: {word}', or two for an echo prompt "
            "(the second copy is pooled), e.g. '{word} {word}'",
        )  # fmt: skip
    for name in ("bos", "check_memory", "cache_converted"):
        if not isinstance(opts[name], bool):
            raise _bad(spec, name, opts[name], "true or false")
    if not opts["bos"] and prompt.startswith("{word}"):
        raise ParameterError(
            f"{spec.where}: option 'prompt' = {prompt!r} with 'bos' = false makes the word the first token "
            "(position 0 is an attention sink); valid values: bos true, or a prompt with text before {word}"
        )
    bs = opts["batch_size"]
    if isinstance(bs, bool) or not isinstance(bs, int) or bs < 1:
        raise _bad(spec, "batch_size", bs, "a positive int")
    if opts["dtype"] not in DTYPES:
        raise _bad(spec, "dtype", opts["dtype"], ", ".join(DTYPES))
    if opts["revision"] is not None and not isinstance(opts["revision"], str):
        raise _bad(spec, "revision", opts["revision"], "null or a branch, tag or commit string")
    return opts


def resolve_dtype(dtype: str, device: str) -> str:
    """``auto``: bfloat16 on CUDA (half the memory, the usual inference precision), float32 elsewhere."""
    if dtype != "auto":
        return dtype
    return "bfloat16" if str(device).startswith("cuda") else "float32"


def required_bytes(params: int, dtype: str) -> int:
    """Weights plus a margin for activations and the framework."""
    return int(params * _BYTES[dtype] * _MEMORY_FACTOR) + _MEMORY_EXTRA


def available_bytes(device: str) -> int | None:
    """Free memory where the model will live: the GPU's free memory on CUDA, available RAM otherwise."""
    if str(device).startswith("cuda"):
        import torch

        free, _total = torch.cuda.mem_get_info(torch.device(device))
        return int(free)
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def ensure_fits(spec: ModelSpec, params: int | None, dtype: str, device: str) -> None:
    """Raise :class:`ModelError` when ``params`` in ``dtype`` will not fit on ``device``."""
    if not params:
        log.info("%s: parameter count unknown, memory not checked", spec.key)
        return
    need = required_bytes(params, dtype)
    have = available_bytes(device)
    if have is None:
        log.info("%s: free memory unknown, memory not checked", spec.key)
        return
    if need > have:
        where = f"free GPU memory on {device}" if str(device).startswith("cuda") else "available RAM"
        raise ModelError(
            f"{spec.where}: model {spec.key!r} ({params / 1e9:.2f}e9 parameters in {dtype}) needs about "
            f"{need / 1024**3:.1f} GiB but only {have / 1024**3:.1f} GiB of {where} is left; use a machine "
            "with more memory (e.g. a GPU with bfloat16), or set option check_memory: false to try anyway"
        )


def hub_token() -> str | None:
    """The Hugging Face token from the environment (never logged)."""
    for name in TOKEN_ENV:
        value = os.environ.get(name)
        if value:
            return value
    return None


def _gguf_file(artifact: Path) -> Path | None:
    if artifact.is_file():
        return artifact if artifact.suffix == ".gguf" else None
    if artifact.is_dir() and not (artifact / "config.json").is_file():
        ggufs = sorted(artifact.glob("*.gguf"))
        if len(ggufs) == 1:
            return ggufs[0]
    return None


def _gguf_sha256(spec: ModelSpec, gguf: Path) -> str:
    pypi = spec.pypi
    if source_kind(spec) == "pypi" and pypi and gguf == entry_dir(spec) / pypi["verify"]:
        return pypi["sha256"]  # verified when fetched
    return sha256_file(gguf)


def converted_dir(spec: ModelSpec, gguf: Path, sha: str) -> Path:
    """Where the dequantised copy of ``gguf`` lives: in its cache entry, or in the shared cache for a user file."""
    name = f"hf-converted-{sha[:16]}"
    cache = model_cache_dir()
    try:
        gguf.resolve().relative_to(cache.resolve())
        return gguf.parent / name
    except ValueError:
        return cache / ".converted" / name


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
        parts = options["prompt"].split("{word}")
        self.prefix, self.suffix = parts[0], parts[-1]
        self.echo: str | None = parts[1] if len(parts) == 3 else None
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
        vector_options = {k: self.options[k] for k in ("layer", "pooling", "prompt", "bos", "revision")}
        vector_options["dtype"] = self.dtype
        return vector_options

    def fingerprint(self) -> str:
        return fingerprint(self.spec, self.vector_options(), self._checksum)

    # ----------------------------------------------------------------------------------------- loading
    def check_memory(self) -> None:
        if self.options["check_memory"]:
            ensure_fits(self.spec, self.spec.params, self.dtype, self.device)

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
        layer = self.options["layer"]
        if layer == "all":
            return None
        if layer == "middle":
            return num_layers // 2
        if not -(num_layers + 1) <= layer <= num_layers:
            raise ParameterError(
                f"{self.spec.where}: option 'layer' = {layer} is out of range for a model with {num_layers} "
                f"layers; valid values: {-(num_layers + 1)} .. {num_layers}, 'middle' or 'all'"
            )
        return layer % (num_layers + 1)

    def _place(self, model: Any, torch_dtype: Any) -> Any:
        return model.to(device=self.device, dtype=torch_dtype)

    def _load_checkpoint(self, torch_dtype: Any) -> tuple[Any, Any]:
        from transformers import AutoModelForCausalLM, AutoTokenizer

        if self.artifact is not None:
            where, kwargs = str(self.artifact), {}
            self.source_description = where
        else:
            where = self.spec.source["hf"]
            kwargs = {"token": hub_token(), "revision": self.options["revision"]}
            self.source_description = f"hf:{where}"
        if str(self.device).startswith("cuda"):
            kwargs["device_map"] = {"": self.device}  # straight onto the GPU, no full copy in RAM
        try:
            tokenizer = AutoTokenizer.from_pretrained(
                where, **{k: v for k, v in kwargs.items() if k != "device_map"}
            )
            model = AutoModelForCausalLM.from_pretrained(where, dtype=torch_dtype, **kwargs)
        except (OSError, ValueError) as exc:
            hint = ""
            if self.artifact is None:
                hint = (
                    " A hub model needs network access; a gated one (such as meta-llama/Llama-2-7b-hf) also "
                    f"needs its licence accepted and a token in {' or '.join(TOKEN_ENV)}."
                )
            raise ModelError(
                f"{self.spec.where}: could not load {where}: {type(exc).__name__}: {exc}.{hint}"
            ) from exc
        return tokenizer, self._place(model, torch_dtype)

    def _load_gguf(self, gguf: Path, torch_dtype: Any) -> tuple[Any, Any]:
        from transformers import AutoModelForCausalLM, AutoTokenizer

        sha = _gguf_sha256(self.spec, gguf)
        target = converted_dir(self.spec, gguf, sha)
        if self.options["cache_converted"] and (target / CONVERTED_MARKER).is_file():
            self.source_description = str(target)
            tokenizer = AutoTokenizer.from_pretrained(target)
            model = AutoModelForCausalLM.from_pretrained(target, dtype=torch_dtype)
            return tokenizer, self._place(model, torch_dtype)
        if self.options["check_memory"]:
            ensure_fits(self.spec, self.spec.params, "float32", "cpu")  # dequantised in float32 in RAM
        log.info("%s: dequantising %s (30-110 s, once)", self.key, gguf.name)
        self.source_description = str(gguf)
        kwargs: dict[str, Any] = {}
        try:
            from transformers.utils.quantization_config import GgufConfig

            kwargs["quantization_config"] = GgufConfig(dequantize=True)  # plain float32 weights, saveable
        except ImportError:  # older transformers always dequantises
            pass
        import torch

        try:
            tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
            model = AutoModelForCausalLM.from_pretrained(
                gguf.parent, gguf_file=gguf.name, dtype=torch.float32, **kwargs
            )
        except (OSError, ValueError, KeyError, RuntimeError) as exc:
            raise ModelError(
                f"{self.spec.where}: could not load GGUF {gguf}: {type(exc).__name__}: {exc}"
            ) from exc
        if getattr(model, "hf_quantizer", None) is not None:
            model.hf_quantizer = None
        if hasattr(model.config, "quantization_config"):
            del model.config.quantization_config
        if self.options["cache_converted"]:
            self._save_converted(tokenizer, model, target, gguf, sha)
        return tokenizer, self._place(model, torch_dtype)

    def _save_converted(self, tokenizer: Any, model: Any, target: Path, gguf: Path, sha: str) -> None:
        """Write to a temporary folder and rename, so a crash never leaves a half-written model to reuse.
        A failure (a full disk) costs only the next load's time, so it is logged, not raised."""
        import transformers

        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
        try:
            model.save_pretrained(tmp)
            tokenizer.save_pretrained(tmp)
            marker = {"gguf": gguf.name, "sha256": sha, "transformers": transformers.__version__}
            (tmp / CONVERTED_MARKER).write_text(json.dumps(marker, indent=2) + "\n", encoding="utf-8")
            if target.exists():  # a concurrent load won, or an incomplete copy without a marker
                if (target / CONVERTED_MARKER).is_file():
                    return
                shutil.rmtree(target)
            os.rename(tmp, target)
            log.info("%s: dequantised model cached in %s", self.key, target)
        except OSError as exc:
            log.warning("%s: could not cache the dequantised model in %s: %s", self.key, target, exc)
        finally:
            if tmp.exists():
                shutil.rmtree(tmp, ignore_errors=True)

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
                weight = torch.zeros((len(rows), width), dtype=torch.float32)
                for r, i in enumerate(rows):
                    tail = ids[i][shared:]
                    input_ids[r, : len(tail)] = torch.tensor(tail)
                    mask[r, shared : shared + len(tail)] = 1
                    if pooling == "mean":
                        weight[r, [p - shared for p in positions[i]]] = 1.0 / len(positions[i])
                    elif pooling == "last":
                        weight[r, positions[i][-1] - shared] = 1.0
                    else:  # prompt_last: right padding puts the prompt's last token at len - 1
                        weight[r, len(tail) - 1] = 1.0
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
                weight = weight.to(self.device)
                keep = (weight > 0)[..., None]
                if self.layer_index is None:
                    h = torch.stack(hidden, dim=1).float()  # (b, L+1, t, d)
                    h = h.masked_fill(~keep[:, None], 0.0)  # padding never leaks in, even as NaN
                    vec = torch.einsum("bt,bltd->bld", weight, h)
                else:
                    h = hidden[self.layer_index].float().masked_fill(~keep, 0.0)
                    vec = torch.einsum("bt,btd->bd", weight, h)
                out[rows] = vec.cpu().numpy()
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
    if device in (None, "", "auto"):
        import torch

        device = "cuda" if torch.cuda.is_available() else "cpu"
    encoder = DecoderEncoder(spec, artifact, str(device), options)
    encoder.check_memory()
    return encoder
