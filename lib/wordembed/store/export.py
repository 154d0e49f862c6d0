"""``wordembed store export``: a stored entry's vectors as a word2vec text file or one ``.npz``.

Why: the store's chunks are for the store (many small files, layer stacks, absent words); a researcher who
wants a model's vectors in gensim, or in one array, should not have to walk them. word2vec text is written
with 9 significant digits, which give back every float32 exactly (our reader and gensim's both read them
back bit for bit). A layer-stack entry (``(L + 1, d)`` per word) exports one chosen layer, or for ``.npz``
all of them.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from wordembed.embeddings import Embeddings
from wordembed.errors import ParameterError
from wordembed.store.storage import EmbeddingStore, StoreEntry

EXPORT_FORMATS = ("word2vec", "npz")


@dataclass(frozen=True)
class Exported:
    """What an export wrote: the entry, the file, its words, and the asked-for words it has no vector for."""

    entry: StoreEntry
    path: Path
    to: str
    words: list[str]
    missing: list[str]
    layer: int | str | None


def choose_entry(store: EmbeddingStore, target: str) -> StoreEntry:
    """The one entry ``target`` (a model key, a fingerprint or its hash prefix) names; else a ParameterError."""
    chosen = store.find(target)
    if len(chosen) > 1:
        listed = ", ".join(f"{e.path.name.rsplit('-', 1)[-1]} (created {e.created or '?'})" for e in chosen)
        raise ParameterError(
            f"store entry {target!r}: {len(chosen)} entries of this model are stored ({listed}); give one "
            "fingerprint prefix instead of the key"
        )
    return chosen[0]


def _entry_name(entry: StoreEntry) -> str:
    """``key (fingerprint hash prefix)``: how errors name an entry, the way ``store list`` shows it."""
    return f"{entry.key} ({entry.path.name.rsplit('-', 1)[-1]})"


def select_layer(entry: StoreEntry, vectors: np.ndarray, layer: int | str | None, to: str) -> np.ndarray:
    """One layer of a layer-stack entry (or, for npz, ``"all"``); a one-line error naming what is wrong."""
    name = _entry_name(entry)
    if vectors.ndim == 2:
        if layer is not None:
            raise ParameterError(
                f"--layer {layer}: store entry {name} holds one vector per word (shape {vectors.shape[1:]}); "
                "drop --layer"
            )
        return vectors
    n_layers = vectors.shape[1]
    valid = f"{-n_layers} .. {n_layers - 1} (0 = the embedding layer)"
    if layer is None:
        extra = ", or --layer all to keep every layer" if to == "npz" else ""
        raise ParameterError(
            f"--layer: store entry {name} holds {n_layers} layers per word (vectors of shape "
            f"{tuple(vectors.shape[1:])}); choose one with --layer N, N in {valid}{extra}"
        )
    if layer == "all":
        if to != "npz":
            raise ParameterError(
                f"--layer all: a {to} file holds one vector per word; choose one layer of store entry {name}, "
                f"N in {valid} (or export --to npz)"
            )
        return vectors
    if isinstance(layer, str) or not -n_layers <= layer < n_layers:
        raise ParameterError(f"--layer {layer}: store entry {name} has layers {valid}")
    return np.ascontiguousarray(vectors[:, layer, :])


def export_entry(
    store: EmbeddingStore,
    target: str,
    *,
    to: str,
    out: str | os.PathLike[str],
    words: Sequence[str] | None = None,
    layer: int | str | None = None,
) -> Exported:
    """Write the stored vectors of entry ``target`` to ``out`` as ``to`` (word2vec text or npz).

    ``words``: only these, in this order (the stored ones; the rest are returned as ``missing``); default
    every word the entry has a vector for, sorted. The file is written to a temporary name and renamed.
    """
    if to not in EXPORT_FORMATS:
        raise ParameterError(f"--to {to!r}: export formats are {', '.join(EXPORT_FORMATS)}")
    entry = choose_entry(store, target)
    emb = store.load_entry(entry, words)
    vectors = select_layer(entry, emb.vectors, layer, to)
    path = Path(out)
    if to == "word2vec":
        from wordembed.vectorfile import write_word2vec_text

        write_word2vec_text(Embeddings(emb.words, vectors, model=entry.key), path)
    else:
        _write_npz(path, entry, emb.words, vectors, emb.missing, layer)
    return Exported(entry, path, to, emb.words, emb.missing, layer)


def _str_array(words: Sequence[str]) -> np.ndarray:
    """Fixed-width unicode (loads without pickle); an empty list still has a string dtype."""
    return np.array(list(words), dtype=str) if words else np.zeros(0, dtype="<U1")


def _write_npz(
    path: Path,
    entry: StoreEntry,
    words: Sequence[str],
    vectors: np.ndarray,
    missing: Sequence[str],
    layer: int | str | None,
) -> None:
    """``words``, ``vectors`` (row i is words[i]), ``missing``, ``key``, ``fingerprint``, ``layer``: all plain
    arrays (``numpy.load(path)`` with its default ``allow_pickle=False`` opens it)."""
    from wordembed.vectorfile import VectorFileWriteError

    arrays = {
        "words": _str_array(words),
        "vectors": np.ascontiguousarray(vectors, dtype="<f4"),
        "missing": _str_array(missing),
        "key": np.array(entry.key),
        "fingerprint": np.array(entry.fingerprint),
        "layer": np.array("none" if layer is None else str(layer)),
    }
    from wordembed.util import atomic_open

    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_open(path, "wb", fsync=True) as fh:
            np.savez(fh, **arrays)
    except OSError as exc:
        raise VectorFileWriteError(path, exc) from exc
