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
    if isinstance(where, Path):
        from wordembed.models.spec import load_spec

        spec = load_spec(where)
    encoder = load_encoder(spec, device=device, options=options)
    return (store or EmbeddingStore()).embed(encoder, wanted, progress=progress)
