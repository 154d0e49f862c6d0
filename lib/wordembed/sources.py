"""One entry point from "where the vectors come from" to :class:`~wordembed.embeddings.Embeddings`.

A source is a model key of ``params/models`` (or a model YAML path), embedded through the store so each word
is computed once; or a vector file a user brings (word2vec text/binary, GloVe text), read directly, since
reading it is already cheap and it has no model to cache.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from wordembed.embeddings import Embeddings
from wordembed.errors import ParameterError
from wordembed.store import EmbeddingStore

MODEL_SUFFIXES = (".yaml", ".yml")


def _model_keys() -> list[str]:
    from wordembed.models.spec import list_specs

    return sorted(spec.key for spec in list_specs())


def classify_source(source: str | os.PathLike[str]) -> tuple[str, str | Path]:
    """``("model", key_or_yaml_path)`` or ``("vectors", file)``; a clear ParameterError otherwise."""
    text = os.fspath(source)
    path = Path(text).expanduser()
    if path.is_file():
        if path.suffix.lower() in MODEL_SUFFIXES:
            return "model", path
        return "vectors", path
    keys = _model_keys()
    if text in keys:
        return "model", text
    if "@" in text:  # KEY@random[:SEED], a random-weight control: a bad one is a one-line error naming it
        from wordembed.models.spec import load_spec

        try:
            load_spec(text)
        except ParameterError as exc:
            raise ParameterError(f"embedding source {text!r}: {exc}") from None
        return "model", text
    raise ParameterError(
        f"embedding source {text!r} is neither a model key nor an existing file. Give a model key ({', '.join(keys) or 'none defined'}), "
        "a model YAML file, or a word2vec/GloVe vector file"
    )


def get_embeddings(
    source: str | os.PathLike[str],
    words: Iterable[str] | None,
    *,
    store: EmbeddingStore | None = None,
    progress: bool = True,
    device: str | None = None,
    options: dict[str, Any] | None = None,
) -> Embeddings:
    """Vectors of ``words`` (deduplicated, caller's order; uncovered words in ``missing``) from ``source``.

    ``words=None`` is allowed for a vector file only (all of its words); a model needs a word list.
    """
    kind, where = classify_source(source)
    wanted = None if words is None else list(dict.fromkeys(words))
    if kind == "vectors":
        from wordembed.vectorfile import read_vectors

        emb = read_vectors(where, words=wanted)
        return emb if wanted is None else emb.subset(wanted)
    if wanted is None:
        raise ParameterError(f"embedding source {os.fspath(source)!r} is a model: give the words to embed")
    from wordembed.models.registry import load_encoder
    from wordembed.models.spec import load_spec
    from wordembed.store import embed_by_alias

    store = store or EmbeddingStore()
    spec = load_spec(where).with_options(options)
    # The store keeps the alias (spec -> fingerprint), so a warm run reads the vectors without loading the model.
    return embed_by_alias(
        store, _alias_key(spec, device), spec.key, lambda: load_encoder(spec, device=device), wanted,
        progress=progress,
    )  # fmt: skip


def _alias_key(spec: Any, device: str | None) -> str:
    """What identifies a spec's vectors before its model is loaded: the spec itself, the device kind (dtype
    defaults differ on CUDA) and, for a local path, the files' sizes and modification times."""
    import hashlib
    import json

    from wordembed.models.registry import CPU_ONLY_BACKENDS, resolve_device

    kind = "cpu" if spec.backend in CPU_ONLY_BACKENDS and device in (None, "", "auto") else resolve_device(device)
    payload: dict[str, Any] = {
        "key": spec.key,
        "backend": spec.backend,
        "source": spec.source,
        "options": spec.options,
        "device": kind.split(":")[0],
    }
    local = spec.source.get("path") if isinstance(spec.source, dict) else None
    if local:
        path = Path(os.path.expandvars(str(local))).expanduser()
        files = sorted(path.rglob("*")) if path.is_dir() else [path]
        payload["files"] = [(str(f), f.stat().st_size, f.stat().st_mtime_ns) for f in files if f.is_file()]
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()
