"""The decoder backend's options: defaults, validation, and the pure choices derived from them.

Why a module of its own: the options decide the vectors (and so the fingerprint the store keys them by),
and checking them must need neither torch nor a model: ``wordembed models`` and a study's validation read
them before anything loads. Every error is one line naming the spec, the option and its valid values.
"""

from __future__ import annotations

from typing import Any

from wordembed.errors import ParameterError
from wordembed.models.spec import ModelSpec, merge_options

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
VECTOR_OPTIONS: tuple[str, ...] = ("layer", "pooling", "prompt", "bos", "revision")
"""The options that change the vectors (with the resolved dtype): what the fingerprint hashes. Batch size,
memory checks, caching and the prefix cache do not change a vector, so changing them recomputes nothing."""


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


def vector_options(options: dict[str, Any], dtype: str) -> dict[str, Any]:
    """The options that change the vectors (:data:`VECTOR_OPTIONS`) plus the resolved ``dtype``, in this
    order: the dictionary the fingerprint hashes (its values, not its order, matter: the hash sorts keys)."""
    out = {k: options[k] for k in VECTOR_OPTIONS}
    out["dtype"] = dtype
    return out


def layer_index(layer: int | str, num_layers: int, where: str) -> int | None:
    """The index into ``hidden_states`` (0 .. L) of option ``layer`` for a model of ``num_layers`` layers;
    None for ``"all"``. Needs the model's depth, so it is checked on load, not in :func:`validate_options`."""
    if layer == "all":
        return None
    if layer == "middle":
        return num_layers // 2
    if not isinstance(layer, int) or not -(num_layers + 1) <= layer <= num_layers:
        raise ParameterError(
            f"{where}: option 'layer' = {layer} is out of range for a model with {num_layers} "
            f"layers; valid values: {-(num_layers + 1)} .. {num_layers}, 'middle' or 'all'"
        )
    return layer % (num_layers + 1)


def split_prompt(prompt: str) -> tuple[str, str, str | None]:
    """``(prefix, suffix, echo)`` of a validated prompt: ``prefix WORD suffix``, or for an echo prompt
    ``prefix WORD echo WORD suffix`` (the second copy is pooled; ``echo`` None otherwise)."""
    parts = prompt.split("{word}")
    return parts[0], parts[-1], parts[1] if len(parts) == 3 else None
