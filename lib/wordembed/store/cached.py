"""Embedding through the store, for any encoder: which words are missing, encode those in chunks, write them.

Why a wrapper (as MTEB wraps any model in its cache): the orchestration is the same for a static model, a
decoder or a paid API, and it is not storage. :class:`CachedEncoder` owns the loop; the
:class:`~wordembed.store.storage.EmbeddingStore` it is given only reads and writes chunks. The loop:

1. scan the entry's chunk headers and read the stored words asked for;
2. split the rest into chunks of ``encoder.chunk_size`` (1024 by default), in the caller's order;
3. before a chunk, look for chunks other writers stored meanwhile (a Dask worker on the same model; at most
   every :data:`REFRESH_SECONDS`) and read their words instead of encoding them; take the chunk's lock
   (when ``filelock`` is installed), and if another writer finished this very chunk meanwhile, read it;
4. encode the chunk and hand it to one background thread that writes it (and releases the lock) while the
   next chunk is encoded; at most one write is pending, and it is finished before we return or raise.

:func:`embed_by_alias` adds the warm path of a model known only by its spec: the store's alias records the
fingerprint, so a run whose words are all stored never loads the model.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, wait
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm  # plain text bars: no "IProgress not found" warning in rendered notebooks

from wordembed.embeddings import Embeddings
from wordembed.errors import ModelError
from wordembed.models.base import Encoder
from wordembed.store.chunks import SIDECAR_SUFFIX, chunk_stem
from wordembed.store.files import ChunkLock, StoreError, fsync_dir
from wordembed.store.storage import DEFAULT_CHUNK_SIZE, EmbeddingStore, Gathered, OpenEntry

#: how often (at most) a run lists the entry again for chunks other writers stored meanwhile: a listing per
#: chunk costs a fast encoder (a static model: 1024 words in a millisecond) more than it can save
REFRESH_SECONDS = 0.5


def embed_with_store(
    encoder: Encoder, words: Iterable[str], store: EmbeddingStore | None = None, *, progress: bool = True
) -> Embeddings:
    """Vectors of ``words`` (deduplicated, in the caller's order); only words not in ``store`` are encoded.

    Words the encoder reports as absent come back in ``Embeddings.missing``, without a vector.
    """
    return CachedEncoder(encoder, store).embed(words, progress=progress)


class CachedEncoder:
    """``encoder`` with its vectors kept in ``store`` (default: the user's store); an encoder itself.

    :meth:`embed` is the cached call; :meth:`encode` gives the ``(vectors, present)`` pair of the
    :class:`~wordembed.models.base.Encoder` protocol, so the wrapper can stand wherever an encoder goes.
    """

    def __init__(self, encoder: Encoder, store: EmbeddingStore | None = None) -> None:
        self.encoder = encoder
        self.store = store if store is not None else EmbeddingStore()

    @property
    def key(self) -> str:
        return self.encoder.key

    def fingerprint(self) -> str:
        return self.encoder.fingerprint()

    def encode(self, words: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """``(vectors, present)`` aligned with ``words`` (repeats allowed); zero rows where a word is absent."""
        emb = self.embed(words, progress=False)
        rows = emb.rows(words)
        present = rows >= 0
        out = np.zeros((len(words), *emb.vectors.shape[1:]), dtype=np.float32)
        out[present] = emb.vectors[rows[present]]
        return out, present

    def embed(self, words: Iterable[str], *, progress: bool = True) -> Embeddings:
        """Vectors of ``words`` (deduplicated, in the caller's order), encoding only what is not stored."""
        wanted = list(dict.fromkeys(words))
        store = self.store
        entry = store.open_entry(self.encoder.key, self.encoder.fingerprint())
        heads = store.scan(entry)
        if entry.shape is not None and entry.meta_bytes is None and heads:
            store.set_shape(entry, entry.shape)  # chunks without meta: the majority shape, written down
        got = Gathered()
        store.lookup(entry, heads, set(wanted), got)
        todo = [w for w in wanted if w not in got]
        if todo:
            self._fill(entry, todo, got, len(wanted), progress)
        return got.embeddings(self.encoder.key, wanted, entry.shape)

    def _fill(self, entry: OpenEntry, todo: list[str], got: Gathered, n_wanted: int, progress: bool) -> None:
        encoder, store = self.encoder, self.store
        chunk_size = max(1, int(getattr(encoder, "chunk_size", DEFAULT_CHUNK_SIZE) or DEFAULT_CHUNK_SIZE))
        try:
            entry.chunk_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(entry.chunk_dir, exc) from exc
        bar = tqdm(
            total=n_wanted,
            initial=n_wanted - len(todo),
            unit="word",
            desc=f"embed {encoder.key}",
            disable=not progress,
            dynamic_ncols=True,
        )
        pending: Future[Path] | None = None
        pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="wordembed-store")
        queue, pos = todo, 0
        refreshed = time.monotonic()
        try:
            while True:
                if time.monotonic() - refreshed >= REFRESH_SECONDS:
                    refreshed = time.monotonic()
                    fresh = store.refresh(entry, entry.seen)
                    if fresh:  # another writer stored some of our words since: read them, not encode
                        store.lookup(entry, fresh, set(queue[pos:]), got)
                        rest = [w for w in queue[pos:] if w not in got]
                        bar.update(len(queue) - pos - len(rest))
                        queue, pos = rest, 0
                batch = queue[pos : pos + chunk_size]
                if not batch:
                    break
                pos += len(batch)
                stem = chunk_stem(batch)
                lock = store.lock(entry, stem)
                lock.acquire()  # blocks while another process encodes or writes this very chunk
                handed = False
                try:
                    # Another process finished this chunk while we waited (with locks; without, the next
                    # refresh finds what others wrote, and the check per chunk would cost a fast encoder).
                    done = store.find_chunk(entry, batch, stem) if store.locking else None
                    if done is not None:
                        entry.seen.add(done.path.name)
                        store.lookup(entry, [done], set(batch), got)
                        if all(w in got for w in batch):
                            bar.update(len(batch))
                            continue
                    vectors, present = encode_checked(encoder, batch)
                    self._check_shape(entry, vectors)
                    if pending is not None:
                        pending.result()  # surfaces a write error; bounds memory to one chunk in flight
                    entry.seen.add(f"{stem}{SIDECAR_SUFFIX}")
                    pending = pool.submit(_write_then_release, store, entry, batch, vectors, present, lock)
                    handed = True
                    got.take(batch, present, vectors, dense=True)
                    bar.update(len(batch))
                finally:
                    if not handed:
                        lock.release()
            if pending is not None:
                pending.result()
        finally:
            if pending is not None:
                wait([pending])  # an encoded chunk is kept even when a later one fails
            pool.shutdown(wait=True)
            fsync_dir(entry.chunk_dir)  # the last chunk's renames (each chunk's made the one before durable)
            bar.close()

    def _check_shape(self, entry: OpenEntry, vectors: np.ndarray) -> None:
        shape = tuple(vectors.shape[1:])
        if entry.shape is None:
            self.store.set_shape(entry, shape)
        elif shape == entry.shape:
            self.store.ensure_meta(entry, shape)
        else:
            raise ModelError(
                f"{self.encoder.key}: the encoder now gives vectors of shape {shape} but the store entry "
                f"{entry.path} holds {entry.shape} for the same fingerprint; the backend's fingerprint misses "
                f"an option. Remove the entry (`wordembed store remove {entry.fp_hash[:16]}`) or fix the "
                "fingerprint."
            )


def _write_then_release(
    store: EmbeddingStore,
    entry: OpenEntry,
    words: list[str],
    vectors: np.ndarray,
    present: np.ndarray,
    lock: ChunkLock,
) -> Path:
    """The writer thread's job: the chunk on disk, then its lock free (even when the write failed)."""
    try:
        return store.write_chunk(entry, words, vectors, present, sync_dir=False)
    finally:
        lock.release()


def encode_checked(encoder: Encoder, batch: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """``encoder.encode(batch)`` as float32 and bool, its shapes and finiteness checked (a ModelError)."""
    vectors, present = encoder.encode(batch)
    vectors = np.asarray(vectors, dtype=np.float32)
    present = np.asarray(present, dtype=bool).reshape(-1)
    if vectors.ndim not in (2, 3) or vectors.shape[0] != len(batch) or present.shape[0] != len(batch):
        raise ModelError(
            f"{encoder.key}: encode() of {len(batch)} words returned vectors of shape {vectors.shape} and "
            f"a present mask of shape {present.shape}; expected ({len(batch)}, d) or ({len(batch)}, layers, "
            f"d) and ({len(batch)},)"
        )
    bad = ~np.isfinite(vectors.reshape(len(batch), -1)).all(axis=1) & present
    if bad.any():
        sample = [batch[i] for i in np.flatnonzero(bad)[:5]]
        raise ModelError(f"{encoder.key}: non-finite vectors for {int(bad.sum())} words, e.g. {sample}")
    return vectors, present


# ------------------------------------------------------------------------------------------------ aliases


class StaleAlias(Exception):
    """The fingerprint recorded for an alias is not the one its loaded encoder reports."""

    def __init__(self, key: str, encoder: Encoder) -> None:
        super().__init__(key)
        self.encoder = encoder


class LazyEncoder:
    """An encoder whose fingerprint is known from an earlier run; it loads the model only to encode.

    Loading a model costs seconds to minutes (a GGUF conversion, a TensorFlow graph) while reading stored
    vectors costs milliseconds: warm notebook runs must not pay for a model they never call.
    """

    def __init__(self, key: str, fingerprint: str, load: Callable[[], Encoder]) -> None:
        self.key = key
        self._fingerprint = fingerprint
        self._load = load
        self._encoder: Encoder | None = None

    def _real(self) -> Encoder:
        if self._encoder is None:
            encoder = self._load()
            if encoder.fingerprint() != self._fingerprint:
                raise StaleAlias(self.key, encoder)
            self._encoder = encoder
        return self._encoder

    def fingerprint(self) -> str:
        return self._fingerprint

    @property
    def chunk_size(self) -> int | None:
        return getattr(self._real(), "chunk_size", None)

    def encode(self, words: Sequence[str]) -> Any:
        return self._real().encode(words)


def embed_by_alias(
    store: EmbeddingStore,
    alias: str,
    key: str,
    load: Callable[[], Encoder],
    words: Iterable[str],
    *,
    progress: bool = True,
) -> Embeddings:
    """Embed with the model ``load()`` gives, loading it only when a word is not stored yet.

    ``alias`` names what the caller knows before loading (a spec, a device, the artefact's file times);
    the store records under it the fingerprint the loaded encoder reported. When the model changed under
    the same alias (its loaded fingerprint differs), the model just loaded embeds for real and the alias is
    rewritten.
    """
    wanted = list(words)
    known = store.read_alias(alias)
    encoder: Encoder | None = None
    if known is not None:
        try:
            return embed_with_store(LazyEncoder(key, known, load), wanted, store, progress=progress)
        except StaleAlias as stale:
            encoder = stale.encoder
    if encoder is None:
        encoder = load()
    result = embed_with_store(encoder, wanted, store, progress=progress)
    store.write_alias(alias, encoder.key, encoder.fingerprint())
    return result
