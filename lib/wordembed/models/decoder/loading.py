"""Loading a decoder: memory checks, hub tokens, checkpoints and GGUF files with their conversion cache.

Why a module of its own: loading is the slow, stateful part of the backend (30-110 s to dequantise a GGUF,
gigabytes on disk), and it is the same whatever the options; keeping it apart leaves the encoder with
tokenising, running and pooling. A GGUF's dequantised copy is saved once (safetensors) in a folder keyed by
the GGUF's sha256 (:func:`converted_dir`), written to a temporary folder and renamed when complete, so a
crash never leaves half a model to reuse.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from wordembed.errors import ModelError
from wordembed.models.fetch import entry_dir, sha256_file, source_kind
from wordembed.models.spec import ModelSpec
from wordembed.paths import model_cache_dir

log = logging.getLogger("wordembed.models.decoder")

TOKEN_ENV = ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN")
CONVERTED_MARKER = ".wordembed-converted.json"
_BYTES = {"float32": 4, "bfloat16": 2, "float16": 2}
_MEMORY_FACTOR = 1.2
_MEMORY_EXTRA = 512 * 1024**2


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


def load_checkpoint(
    spec: ModelSpec, artifact: Path | None, device: str, revision: str | None, torch_dtype: Any
) -> tuple[Any, Any, str]:
    """Tokenizer, model (not yet placed) and a description of the source, from a checkpoint folder or the hub."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    if artifact is not None:
        where, kwargs = str(artifact), {}
        description = where
    else:
        where = spec.source["hf"]
        kwargs = {"token": hub_token(), "revision": revision}
        description = f"hf:{where}"
    if str(device).startswith("cuda"):
        kwargs["device_map"] = {"": device}  # straight onto the GPU, no full copy in RAM
    try:
        tokenizer = AutoTokenizer.from_pretrained(
            where, **{k: v for k, v in kwargs.items() if k != "device_map"}
        )
        model = AutoModelForCausalLM.from_pretrained(where, dtype=torch_dtype, **kwargs)
    except (OSError, ValueError) as exc:
        hint = ""
        if artifact is None:
            hint = (
                " A hub model needs network access; a gated one (such as meta-llama/Llama-2-7b-hf) also "
                f"needs its licence accepted and a token in {' or '.join(TOKEN_ENV)}."
            )
        raise ModelError(f"{spec.where}: could not load {where}: {type(exc).__name__}: {exc}.{hint}") from exc
    return tokenizer, model, description


def load_gguf(spec: ModelSpec, gguf: Path, options: dict[str, Any], torch_dtype: Any) -> tuple[Any, Any, str]:
    """Tokenizer, model (not yet placed) and source description of a GGUF: its converted copy when cached,
    else dequantised now (float32, in RAM) and, with ``cache_converted``, saved for the next load."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    sha = _gguf_sha256(spec, gguf)
    target = converted_dir(spec, gguf, sha)
    if options["cache_converted"] and (target / CONVERTED_MARKER).is_file():
        tokenizer = AutoTokenizer.from_pretrained(target)
        model = AutoModelForCausalLM.from_pretrained(target, dtype=torch_dtype)
        return tokenizer, model, str(target)
    if options["check_memory"]:
        ensure_fits(spec, spec.params, "float32", "cpu")  # dequantised in float32 in RAM
    log.info("%s: dequantising %s (30-110 s, once)", spec.key, gguf.name)
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
        raise ModelError(f"{spec.where}: could not load GGUF {gguf}: {type(exc).__name__}: {exc}") from exc
    if getattr(model, "hf_quantizer", None) is not None:
        model.hf_quantizer = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    if options["cache_converted"]:
        save_converted(spec.key, tokenizer, model, target, gguf, sha)
    return tokenizer, model, str(gguf)


def save_converted(key: str, tokenizer: Any, model: Any, target: Path, gguf: Path, sha: str) -> None:
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
        log.info("%s: dequantised model cached in %s", key, target)
    except OSError as exc:
        log.warning("%s: could not cache the dequantised model in %s: %s", key, target, exc)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
