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

    spec: Any = where
    from wordembed.models.spec import load_spec

    store = store or EmbeddingStore()
    spec = load_spec(spec).with_options(options)
    alias = _alias_key(spec, device)
    known = _read_alias(store, alias)
    if known is not None:
        # A warm run: the store may hold every word already, so do not load the model unless a word is new.
        lazy = _LazyEncoder(spec.key, known, lambda: load_encoder(spec, device=device))
        try:
            return store.embed(lazy, wanted, progress=progress)
        except _StaleAlias:
            pass  # the model's fingerprint changed under the same spec: fall through and embed for real
    encoder = load_encoder(spec, device=device)
    result = store.embed(encoder, wanted, progress=progress)
    _write_alias(store, alias, encoder.key, encoder.fingerprint())
    return result


class _StaleAlias(Exception):
    """The fingerprint recorded for a spec is not the one its loaded encoder reports."""


class _LazyEncoder:
    """An encoder whose fingerprint is known from an earlier run; it loads the model only to encode.

    Loading a model costs seconds to minutes (a GGUF conversion, a TensorFlow graph) while reading stored
    vectors costs milliseconds: warm notebook runs must not pay for a model they never call.
    """

    def __init__(self, key: str, fingerprint: str, load: Any) -> None:
        self.key = key
        self._fingerprint = fingerprint
        self._load = load
        self._encoder: Any = None

    def _real(self) -> Any:
        if self._encoder is None:
            encoder = self._load()
            if encoder.fingerprint() != self._fingerprint:
                raise _StaleAlias(self.key)
            self._encoder = encoder
        return self._encoder

    def fingerprint(self) -> str:
        return self._fingerprint

    @property
    def chunk_size(self) -> int | None:
        return getattr(self._real(), "chunk_size", None)

    def encode(self, words: list[str]) -> Any:
        return self._real().encode(words)


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


def _alias_path(store: EmbeddingStore, alias: str) -> Path:
    return store.root / "aliases" / f"{alias}.json"


def _read_alias(store: EmbeddingStore, alias: str) -> str | None:
    import json

    try:
        return str(json.loads(_alias_path(store, alias).read_text())["fingerprint"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _write_alias(store: EmbeddingStore, alias: str, key: str, fingerprint: str) -> None:
    import json

    from wordembed.store import atomic_write_bytes

    path = _alias_path(store, alias)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(path, json.dumps({"key": key, "fingerprint": fingerprint}).encode())
