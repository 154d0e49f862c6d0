"""The storage half of the store: entry folders, the word -> chunk index, reading and writing chunks,
listing, removing, exporting reads, and the spec -> fingerprint aliases.

Why separate from :mod:`wordembed.store.cached`: deciding which words are missing, encoding them in chunks
and handing the chunks to a writer thread is orchestration around *an* encoder; this module only knows
files. A second orchestrator (a Dask task, a notebook) can read and write chunks through the same calls.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from wordembed import paths
from wordembed.embeddings import Embeddings
from wordembed.errors import ParameterError, WordembedError
from wordembed.models.base import Encoder
from wordembed.store import chunks
from wordembed.store.chunks import (
    DATA_SUFFIX,
    LEGACY_SUFFIX,
    SIDECAR_SUFFIX,
    ChunkHeader,
    check_data_size,
    present_mask,
    read_chunk,
    read_header,
)
from wordembed.store.files import (
    TMP_SUFFIX,
    ChunkLock,
    CorruptChunkError,
    NoLock,
    StoreWarning,
    atomic_write_bytes,
    chunk_lock,
    is_stale,
    maybe_clean_tmp,
    resolve_locking,
)

FORMAT_VERSION = 1  # of meta.json; the chunk format is chunks.CHUNK_FORMAT (2; legacy chunks are 1)
DEFAULT_CHUNK_SIZE = 1024
ALIASES = "aliases"
LOCKS = "locks"
MAX_DISAGREEMENTS_LISTED = 10


@dataclass(frozen=True)
class StoreEntry:
    """One fingerprint's folder, as ``wordembed store list`` shows it."""

    key: str
    fingerprint: str
    path: Path
    n_words: int
    n_missing: int
    n_chunks: int
    size_bytes: int
    shape: tuple[int, ...] | None
    created: str
    #: ``"<file name>: <why>"`` for every chunk that cannot be trusted (a bad header or a missing or
    #: truncated data file always; a checksum mismatch only when listed with ``verify=True``), a word two
    #: chunks give different vectors (``verify=True``), plus a missing ``meta.json``
    problems: tuple[str, ...] = ()
    #: whether every chunk's checksum was recomputed for this listing
    verified: bool = False


@dataclass
class OpenEntry:
    """One encoder's entry while it is read or written: where, for which fingerprint, vectors of which shape."""

    path: Path
    key: str
    fingerprint: str
    fp_hash: str
    shape: tuple[int, ...] | None = None
    meta_bytes: bytes | None = None
    #: chunk files already considered (listed by :meth:`EmbeddingStore.scan`, found, or written by us)
    seen: set[str] = field(default_factory=set)

    @property
    def chunk_dir(self) -> Path:
        """Where the entry's chunk files are (``<entry>/chunks``)."""
        return self.path / "chunks"


@dataclass
class Gathered:
    """Vectors collected for some words, block by block (no per-word copies until :meth:`embeddings`).

    A word is taken once: the first block that answers it (present or absent) wins.
    """

    blocks: list[np.ndarray] = field(default_factory=list)
    where: dict[str, tuple[int, int]] = field(default_factory=dict)  # word -> (block, row)
    missing: set[str] = field(default_factory=set)

    def __contains__(self, word: object) -> bool:
        return word in self.where or word in self.missing

    def take(
        self,
        words: Sequence[str],
        present: np.ndarray,
        vectors: np.ndarray,
        *,
        dense: bool,
        only: Collection[str] | None = None,
    ) -> int:
        """Record the words of one chunk (those in ``only``, when given); returns how many were new.

        ``dense``: ``vectors`` has a row per word (an encoder's output); else a row per present word (a
        stored chunk). Only the rows taken are kept, so a few words from many chunks do not hold every chunk.
        """
        rows = None if dense else np.cumsum(present) - 1
        slot = len(self.blocks)
        picked: list[int] = []
        added = 0
        for j, w in enumerate(words):
            if (only is not None and w not in only) or w in self.where or w in self.missing:
                continue
            added += 1
            if not present[j]:
                self.missing.add(w)
            elif rows is None:  # the encoder's block is kept whole: its rows are the words' positions
                self.where[w] = (slot, j)
                picked.append(j)
            else:
                self.where[w] = (slot, len(picked))
                picked.append(int(rows[j]))
        if picked:
            whole = rows is None or (len(picked) == len(vectors) and picked == list(range(len(vectors))))
            self.blocks.append(vectors if whole else vectors[picked])
        return added

    def embeddings(self, key: str, wanted: Sequence[str], shape: tuple[int, ...] | None) -> Embeddings:
        """The wanted words in order (the absent ones in ``missing``), gathered block by block."""
        covered = [w for w in wanted if w not in self.missing]
        missing = [w for w in wanted if w in self.missing]
        out = np.empty((len(covered), *(shape or (0,))), dtype=np.float32)
        src = np.array([self.where[w] for w in covered], dtype=np.int64).reshape(-1, 2)
        order = np.argsort(src[:, 0], kind="stable")
        bounds = np.searchsorted(src[order, 0], np.arange(len(self.blocks) + 1))
        for b, block in enumerate(self.blocks):
            sel = order[bounds[b] : bounds[b + 1]]
            if sel.size:
                out[sel] = block[src[sel, 1]]
        return Embeddings(covered, out, missing=missing, model=key)


def fingerprint_hash(fingerprint: str) -> str:
    """The sha256 every chunk carries: a chunk copied into another entry is caught as stale by it."""
    return hashlib.sha256(fingerprint.encode("utf-8")).hexdigest()


def _slug(text: str) -> str:
    """A model key as a safe folder-name prefix (the fingerprint hash after it keeps entries apart)."""
    slug = re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("._")
    return slug[:60] or "model"


def _is_chunk_name(name: str) -> bool:
    """A file that makes a chunk exist: a sidecar or a legacy chunk (not a temporary or hidden file)."""
    return not name.startswith(".") and (name.endswith(SIDECAR_SUFFIX) or name.endswith(LEGACY_SUFFIX))


class EmbeddingStore:
    """Vectors per encoder fingerprint on disk, under ``root`` (default :func:`wordembed.paths.store_dir`).

    ``locking``: take a per-chunk ``filelock`` lock while a chunk is encoded and written (default: when
    ``filelock`` is installed), so a second process wanting the same chunk waits and reads it instead of
    encoding it again. Without it the rename-only protocol keeps every reader safe; see the package docs.
    """

    def __init__(self, root: str | os.PathLike[str] | None = None, *, locking: bool | None = None) -> None:
        self.root = Path(root).expanduser() if root is not None else paths.store_dir()
        self.locking = resolve_locking(locking)

    # ----------------------------------------------------------------- layout
    def entry_dir(self, encoder: Encoder) -> Path:
        """The folder holding ``encoder``'s vectors (it may not exist yet)."""
        return self.entry_path(encoder.key, encoder.fingerprint())

    def entry_path(self, key: str, fingerprint: str) -> Path:
        """``<root>/<key>-<sha256(fingerprint)[:16]>``: a new fingerprint is a new folder, never mixed vectors."""
        return self.root / f"{_slug(key)}-{fingerprint_hash(fingerprint)[:16]}"

    # ----------------------------------------------------------------- embedding (see cached.py)
    def embed(self, encoder: Encoder, words: Iterable[str], *, progress: bool = True) -> Embeddings:
        """Vectors of ``words`` (deduplicated, in the caller's order); only words not stored are encoded.

        Words the encoder reports as absent come back in ``Embeddings.missing``, without a vector. The work
        is :func:`wordembed.store.cached.embed_with_store`'s; this method is kept for its callers.
        """
        from wordembed.store.cached import embed_with_store

        return embed_with_store(encoder, words, self, progress=progress)

    # ----------------------------------------------------------------- entry bookkeeping
    def open_entry(self, key: str, fingerprint: str) -> OpenEntry:
        """The entry of ``(key, fingerprint)``, its meta checked (a bad one is warned about and dropped)."""
        entry = OpenEntry(self.entry_path(key, fingerprint), key, fingerprint, fingerprint_hash(fingerprint))
        meta = self._read_meta(entry)
        if meta:
            entry.shape = tuple(meta["shape"])
            entry.meta_bytes = self._meta_bytes(meta)
        return entry

    def _read_meta(self, entry: OpenEntry) -> dict[str, Any]:
        """The entry's meta, or {} when there is none or it cannot be trusted.

        A bad meta.json is only rewritten: each chunk carries its own fingerprint hash and shape, so good
        chunks are kept and foreign ones are caught by :meth:`scan`.
        """
        meta_path = entry.path / "meta.json"
        if not meta_path.exists():
            return {}
        try:
            meta = json.loads(meta_path.read_text(encoding="utf-8"))
            shape = meta.get("shape")
            if meta.get("format") != FORMAT_VERSION or meta.get("fingerprint") != entry.fingerprint:
                reason = "written for another fingerprint or format"
            elif not (isinstance(shape, list) and shape and all(isinstance(s, int) and s > 0 for s in shape)):
                reason = f"holds an invalid shape {shape!r}"
            else:
                return meta
        except (OSError, ValueError, AttributeError) as exc:
            reason = f"unreadable ({exc.__class__.__name__}: {exc})"
        _warn(f"embedding store: {meta_path} is {reason}; it is rewritten and each chunk is checked on its own")
        with contextlib.suppress(FileNotFoundError):
            meta_path.unlink()
        return {}

    @staticmethod
    def _meta_bytes(meta: dict[str, Any]) -> bytes:
        return json.dumps(meta, indent=2).encode("utf-8")

    def set_shape(self, entry: OpenEntry, shape: tuple[int, ...]) -> None:
        """Record the entry's vector shape in a new ``meta.json`` (before any chunk of that shape lands)."""
        meta = {
            "format": FORMAT_VERSION,
            "key": entry.key,
            "fingerprint": entry.fingerprint,
            "dims": int(shape[-1]),
            "shape": list(shape),
            "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        }
        atomic_write_bytes(entry.path / "meta.json", self._meta_bytes(meta))
        entry.shape = tuple(shape)
        entry.meta_bytes = self._meta_bytes(meta)

    def ensure_meta(self, entry: OpenEntry, shape: tuple[int, ...]) -> None:
        """Make sure ``meta.json`` records ``shape`` before our first chunk lands: an entry whose shape we
        took from another writer's chunks has its meta already (kept, with its creation time), or gets one."""
        if entry.meta_bytes is not None:
            return
        meta = self._read_meta(entry)
        if meta and tuple(meta["shape"]) == tuple(shape):
            entry.shape, entry.meta_bytes = tuple(shape), self._meta_bytes(meta)
        else:
            self.set_shape(entry, shape)

    # ----------------------------------------------------------------- the index
    def scan(self, entry: OpenEntry) -> list[ChunkHeader]:
        """Headers of the entry's valid chunks in index order; corrupt or stale ones are reported and removed.

        Sets ``entry.shape`` when the entry had no meta (the shape most words have wins). Temporary files of
        dead writers and data files no sidecar names are removed once a day old.
        """
        names, datas = self._chunk_names(entry, sweep=True)
        entry.seen = set(names)
        heads = self._headers(entry, names)
        referenced = {h.data_path.name for h in heads}
        for name in datas:  # left by a writer that died between its two renames, or that lost a race
            if name not in referenced and is_stale(entry.chunk_dir / name):
                with contextlib.suppress(OSError):
                    (entry.chunk_dir / name).unlink()
        if entry.shape is None and heads:
            counts: dict[tuple[int, ...], int] = {}
            for head in heads:
                counts[head.shape] = counts.get(head.shape, 0) + len(head.words)
            entry.shape = max(counts, key=lambda s: counts[s])
        return self._same_shape(entry, heads)

    def refresh(self, entry: OpenEntry, seen: set[str]) -> list[ChunkHeader]:
        """Chunks that appeared since :meth:`scan` (names not in ``seen``, which is updated), in index order.

        Between two chunks of a run, so that words another writer has stored meanwhile are read, not encoded.
        """
        names = [n for n in self._chunk_names(entry, sweep=False)[0] if n not in seen]
        seen.update(names)
        heads = self._headers(entry, names)
        if entry.shape is None and heads:
            entry.shape = heads[0].shape
        return self._same_shape(entry, heads)

    def find_chunk(self, entry: OpenEntry, words: Sequence[str], stem: str | None = None) -> ChunkHeader | None:
        """The stored chunk of exactly ``words`` (whose :func:`~wordembed.store.chunks.chunk_stem` is
        ``stem``, when the caller has it), if one exists now: written by another process meanwhile."""
        stem = stem or chunks.chunk_stem(words)
        try:  # one failed open in the common case; a legacy twin (old writers take no locks) waits for refresh
            head = read_header(entry.chunk_dir / f"{stem}{SIDECAR_SUFFIX}")
        except (FileNotFoundError, CorruptChunkError):
            return None  # a corrupt one is left to the next scan, which reports it
        if head.fingerprint != entry.fp_hash or head.words != list(words):
            return None
        if entry.shape is None:  # an entry another writer started: its first chunk tells the shape
            entry.shape = head.shape
        return head if head.shape == entry.shape else None

    def _chunk_names(self, entry: OpenEntry, *, sweep: bool) -> tuple[list[str], list[str]]:
        """``(chunk files: sidecars and legacy chunks, data files)``; ``sweep`` also removes the temporary
        files of dead writers."""
        try:
            names = sorted(os.listdir(entry.chunk_dir))
        except (FileNotFoundError, NotADirectoryError):
            return [], []
        if sweep:
            for name in names:
                if name.endswith(TMP_SUFFIX):
                    maybe_clean_tmp(entry.chunk_dir / name)
        return [n for n in names if _is_chunk_name(n)], [n for n in names if n.endswith(DATA_SUFFIX)]

    def _headers(self, entry: OpenEntry, names: Iterable[str]) -> list[ChunkHeader]:
        """Parsed headers of ``names`` in index order; unreadable or foreign ones are discarded with a warning."""
        heads: list[ChunkHeader] = []
        for name in names:
            path = entry.chunk_dir / name
            try:
                head = read_header(path)
            except FileNotFoundError:
                continue
            except CorruptChunkError as exc:
                self._discard(path, None, str(exc))
                continue
            if head.fingerprint != entry.fp_hash:
                self._discard(path, head, "stale: written for another fingerprint")
                continue
            heads.append(head)
        return sorted(heads, key=lambda h: h.order)

    def _same_shape(self, entry: OpenEntry, heads: list[ChunkHeader]) -> list[ChunkHeader]:
        """Chunks of the entry's shape; others (a backend whose fingerprint missed an option) are discarded."""
        kept = []
        for head in heads:
            if entry.shape is not None and head.shape != entry.shape:
                self._discard(head.path, head, f"stale: vectors of shape {head.shape}, the entry holds {entry.shape}")
            else:
                kept.append(head)
        return kept

    @staticmethod
    def _discard(path: Path, head: ChunkHeader | None, reason: str, *, shown: Path | None = None) -> None:
        """Warn, then remove a chunk: its sidecar first (readers stop seeing it), then its data file.

        A concurrent writer that rewrote this very chunk in between loses it too, and it is computed again:
        the cost of not locking here (the caller may hold the chunk's lock already).
        """
        _warn(f"embedding store: {shown or path}: {reason}; removed, its words are recomputed")
        with contextlib.suppress(OSError):
            path.unlink()
        if head is not None and head.data_path != path:
            with contextlib.suppress(OSError):
                head.data_path.unlink()

    # ----------------------------------------------------------------- reading and writing chunks
    def lookup(
        self,
        entry: OpenEntry,
        heads: Sequence[ChunkHeader],
        words: Collection[str],
        into: Gathered,
        *,
        on_corrupt: Callable[[ChunkHeader, CorruptChunkError], None] | None = None,
    ) -> None:
        """Read into ``into`` the stored vectors of ``words`` not in it yet; each word from the first chunk
        (in ``heads``' order) that lists it. A corrupt chunk is discarded and warned about (or handed to
        ``on_corrupt``), and its words are left out for the caller to compute again."""
        owner: dict[str, int] = {}
        for i, head in enumerate(heads):
            for w in head.words:
                if w in words and w not in owner and w not in into:
                    owner[w] = i
        owned: dict[int, set[str]] = {}
        for w, i in owner.items():
            owned.setdefault(i, set()).add(w)
        for i in sorted(owned):
            head = heads[i]
            try:
                present, vectors = read_chunk(head)
            except FileNotFoundError:  # removed by a concurrent writer: computed again
                continue
            except CorruptChunkError as exc:
                if on_corrupt is None:
                    self._discard(head.path, head, str(exc), shown=head.data_path)
                else:
                    on_corrupt(head, exc)
                continue
            into.take(head.words, present, vectors, dense=False, only=owned[i])

    def write_chunk(
        self,
        entry: OpenEntry,
        words: Sequence[str],
        vectors: np.ndarray,
        present: np.ndarray,
        *,
        sync_dir: bool = True,
    ) -> Path:
        """Write one chunk (see :func:`wordembed.store.chunks.write_chunk`); first ``meta.json`` if missing.

        Checked per chunk (one stat) because the entry may have been deleted since the run began: the chunk
        write re-creates the folders, and without its meta the entry would be listed as empty.
        ``sync_dir=False`` defers the folder fsync (see :func:`~wordembed.store.chunks.write_chunk`).
        """
        if entry.meta_bytes is not None:
            meta_path = entry.path / "meta.json"
            if not meta_path.exists():
                atomic_write_bytes(meta_path, entry.meta_bytes)
        return chunks.write_chunk(
            entry.chunk_dir, words, vectors, present, key=entry.key, fingerprint=entry.fingerprint,
            fp_hash=entry.fp_hash, prune=self.locking, sync_dir=sync_dir,
        )  # fmt: skip

    def lock(self, entry: OpenEntry, stem: str) -> ChunkLock:
        """The lock of the chunk named ``stem`` (a no-op without ``filelock`` or with ``locking=False``)."""
        if not self.locking:
            return NoLock()
        return chunk_lock(entry.path / LOCKS / f"{stem}.lock")

    # ----------------------------------------------------------------- list / find / remove / read all
    def entries(self, *, verify: bool = False) -> list[StoreEntry]:
        """Every entry under the root, sorted by key, with its word count and size on disk.

        Reads chunk headers (sidecars) only, and checks that each data file has the size its sidecar says,
        unless ``verify``: then every chunk is read in full and its sha256 compared with the one it carries
        (and, for the current format, its words and present flags with the sidecar's), each mismatch is listed
        in :attr:`StoreEntry.problems` (and its words left out of the counts), and so is every word that two
        chunks give different vectors. Nothing is removed: a listing is a report, and the next ``embed`` that
        needs those words discards the bad chunk and computes them again. An entry folder holding chunks but
        no ``meta.json`` is listed too (key from its folder name, a problem noted), rather than passed over.
        """
        if not self.root.is_dir():
            return []
        found: list[StoreEntry] = []
        for entry in sorted(self.root.iterdir()):
            if entry.name.startswith(".") or not entry.is_dir() or entry.name == ALIASES:
                continue
            listed = self._list_entry(entry, verify)
            if listed is not None:
                found.append(listed)
        return sorted(found, key=lambda e: (e.key, e.created))

    def _list_entry(self, entry: Path, verify: bool) -> StoreEntry | None:
        """One entry folder as :meth:`entries` lists it (None: no meta and no chunks, nothing to list)."""
        meta_path = entry / "meta.json"
        chunk_dir = entry / "chunks"
        try:
            names = sorted(n for n in os.listdir(chunk_dir) if _is_chunk_name(n))
        except (FileNotFoundError, NotADirectoryError):
            names = []
        problems: list[str] = []
        if meta_path.is_file():
            try:
                meta = json.loads(meta_path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                meta = {}
                problems.append("meta.json: unreadable")
        elif names:
            meta = {}
            problems.append("meta.json: missing (written again by the next embed of this model)")
        else:
            return None
        covered: set[str] = set()
        absent: set[str] = set()
        n_chunks = 0
        shapes: dict[tuple[int, ...], int] = {}
        heads: list[ChunkHeader] = []
        for name in names:
            try:
                head = read_header(chunk_dir / name)
                check_data_size(head)
            except FileNotFoundError:
                continue  # removed by a concurrent embed since the folder was listed
            except CorruptChunkError as exc:
                problems.append(f"{_bad_file(chunk_dir / name, exc)}: {exc}")
                continue
            heads.append(head)
        heads.sort(key=lambda h: h.order)
        seen_vectors: dict[str, tuple[str, bytes | None]] = {}
        duplicated = _duplicated_words(heads) if verify else set()
        disagreements: list[str] = []
        for head in heads:
            try:
                if verify:
                    present, vectors = read_chunk(head)
                    _compare_duplicates(head, present, vectors, duplicated, seen_vectors, disagreements)
                else:
                    present = present_mask(head)
            except FileNotFoundError:
                continue
            except CorruptChunkError as exc:
                problems.append(f"{head.data_path.name}: {exc}")
                continue
            except OSError as exc:
                problems.append(f"{head.data_path.name}: unreadable ({exc.__class__.__name__}: {exc})")
                continue
            n_chunks += 1
            shapes[head.shape] = shapes.get(head.shape, 0) + len(head.words)
            for w, p in zip(head.words, present, strict=True):
                (covered if p else absent).add(w)
        problems += disagreements[:MAX_DISAGREEMENTS_LISTED]
        if len(disagreements) > MAX_DISAGREEMENTS_LISTED:
            problems.append(f"... and {len(disagreements) - MAX_DISAGREEMENTS_LISTED} more words stored twice "
                            "with different vectors")  # fmt: skip
        shape = meta.get("shape")
        if not shape and shapes:
            shape = list(max(shapes, key=lambda s: shapes[s]))
        size = 0
        for path in entry.rglob("*"):
            with contextlib.suppress(OSError):
                if path.is_file():
                    size += path.stat().st_size
        return StoreEntry(
            key=str(meta.get("key", entry.name.rsplit("-", 1)[0])),
            fingerprint=str(meta.get("fingerprint", "")),
            path=entry,
            n_words=len(covered),
            n_missing=len(absent - covered),
            n_chunks=n_chunks,
            size_bytes=size,
            shape=tuple(shape) if shape else None,
            created=str(meta.get("created", "")),
            problems=tuple(problems),
            verified=verify,
        )

    def find(self, key_or_fingerprint: str) -> list[StoreEntry]:
        """The entries of a model key, or the one whose fingerprint (or its hash prefix, >= 6 characters) matches.

        No match is a :class:`ParameterError` listing the stored models.
        """
        entries = self.entries()
        token = key_or_fingerprint.strip()
        chosen = [e for e in entries if e.key == token]
        if not chosen and token:
            prefix = token.lower()
            chosen = [
                e
                for e in entries
                if (e.fingerprint and e.fingerprint == token)
                or e.path.name == token
                or (
                    len(token) >= 6
                    and (
                        (e.fingerprint and fingerprint_hash(e.fingerprint).startswith(prefix))
                        or (len(token) <= 16 and e.path.name.rsplit("-", 1)[-1].startswith(prefix))
                    )
                )
            ]
        if not chosen:
            valid = ", ".join(sorted({e.key for e in entries})) or "(the store is empty)"
            raise ParameterError(
                f"no store entry matches {key_or_fingerprint!r} under {self.root}; stored models: {valid}"
            )
        return chosen

    def remove(self, key_or_fingerprint: str) -> list[StoreEntry]:
        """Remove every entry of a model key, or the one entry whose fingerprint (or its hash prefix) matches.

        The aliases that pointed at a removed fingerprint go with it.
        """
        chosen = self.find(key_or_fingerprint)
        for e in chosen:
            self._remove_dir(e.path)
        self._drop_aliases({e.fingerprint for e in chosen if e.fingerprint})
        return chosen

    @staticmethod
    def _remove_dir(path: Path) -> None:
        """Rename first so a concurrent reader sees the whole entry or none of it, then delete."""
        if not path.exists():
            return
        trash = path.with_name(f".{path.name}.{os.getpid()}.removing")
        try:
            os.replace(path, trash)
        except OSError:
            trash = path
        shutil.rmtree(trash, ignore_errors=True)

    def load_entry(self, listed: StoreEntry, words: Sequence[str] | None = None) -> Embeddings:
        """Every stored vector of an entry (``words=None``: its covered words, sorted) or of ``words``.

        Read-only, unlike an embed: a corrupt chunk is a :class:`WordembedError` naming it, not a warning and
        a recomputation (there is no encoder here). Words the entry has no vector for are in ``missing``.
        """
        fingerprint = listed.fingerprint
        fp_hash = fingerprint_hash(fingerprint) if fingerprint else ""
        entry = OpenEntry(listed.path, listed.key, fingerprint, fp_hash, listed.shape)
        heads: list[ChunkHeader] = []
        for name in sorted(n for n in _listdir(entry.chunk_dir) if _is_chunk_name(n)):
            try:
                head = read_header(entry.chunk_dir / name)
            except FileNotFoundError:
                continue
            except CorruptChunkError as exc:
                raise _corrupt_for_export(listed, entry.chunk_dir / name, exc) from None
            if (not fp_hash or head.fingerprint == fp_hash) and (listed.shape is None or head.shape == listed.shape):
                heads.append(head)
        heads.sort(key=lambda h: h.order)
        if words is None:
            stored: set[str] = set()
            for head in heads:
                stored.update(w for w, p in zip(head.words, present_mask(head), strict=True) if p)
            wanted = sorted(stored)
        else:
            wanted = list(dict.fromkeys(words))

        def fail(head: ChunkHeader, exc: CorruptChunkError) -> None:
            raise _corrupt_for_export(listed, head.data_path, exc)

        got = Gathered()
        self.lookup(entry, heads, set(wanted), got, on_corrupt=fail)
        got.missing.update(w for w in wanted if w not in got)  # never stored counts as missing here
        shape = listed.shape or (heads[0].shape if heads else None)
        return got.embeddings(listed.key, wanted, shape)

    # ----------------------------------------------------------------- aliases
    def alias_path(self, alias: str) -> Path:
        """``<root>/aliases/<alias>.json``, beside the entries (``entries`` skips the folder)."""
        return self.root / ALIASES / f"{alias}.json"

    def read_alias(self, alias: str) -> str | None:
        """The fingerprint recorded for ``alias`` (what identifies a model before it is loaded), if any."""
        try:
            return str(json.loads(self.alias_path(alias).read_text(encoding="utf-8"))["fingerprint"])
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def write_alias(self, alias: str, key: str, fingerprint: str) -> None:
        """Record that ``alias`` gives the vectors of ``fingerprint``, so a warm run need not load the model."""
        atomic_write_bytes(
            self.alias_path(alias), json.dumps({"key": key, "fingerprint": fingerprint}).encode("utf-8")
        )

    def _drop_aliases(self, fingerprints: set[str]) -> None:
        """Remove the aliases of removed fingerprints, which would otherwise name vectors that are gone."""
        folder = self.root / ALIASES
        if not fingerprints or not folder.is_dir():
            return
        for path in folder.glob("*.json"):
            with contextlib.suppress(OSError, ValueError, KeyError, TypeError):
                if json.loads(path.read_text(encoding="utf-8"))["fingerprint"] in fingerprints:
                    path.unlink()


# ------------------------------------------------------------------------------------------------ helpers


def _warn(message: str) -> None:
    """A :class:`StoreWarning`: the store repairs itself, but a user should know a file was bad."""
    import warnings

    warnings.warn(message, StoreWarning, stacklevel=4)


def _listdir(path: Path) -> list[str]:
    """The names in ``path``, none when it is missing (an entry removed or not started yet)."""
    try:
        return os.listdir(path)
    except (FileNotFoundError, NotADirectoryError):
        return []


def _bad_file(path: Path, exc: CorruptChunkError) -> str:
    """The name a problem is reported under: the data file when that is what is wrong, else the header."""
    text = str(exc)
    if path.name.endswith(SIDECAR_SUFFIX) and ("bytes, expected" in text or "data file" in text):
        with contextlib.suppress(OSError, ValueError, TypeError, AttributeError):
            return str(json.loads(path.read_bytes())["data"])
    return path.name


def _corrupt_for_export(listed: StoreEntry, path: Path, exc: CorruptChunkError) -> WordembedError:
    return WordembedError(
        f"store entry {listed.key} ({listed.path.name}): chunk {path.name} cannot be trusted ({exc}); "
        f"embed the model again to recompute it (`wordembed store list --verify` lists every bad chunk)"
    )


def _duplicated_words(heads: Sequence[ChunkHeader]) -> set[str]:
    """Words listed by more than one chunk (from the sidecars): only those need their vectors compared."""
    seen: set[str] = set()
    dup: set[str] = set()
    for head in heads:
        for w in head.words:
            (dup if w in seen else seen).add(w)
    return dup


def _compare_duplicates(
    head: ChunkHeader,
    present: np.ndarray,
    vectors: np.ndarray,
    duplicated: set[str],
    seen: dict[str, tuple[str, bytes | None]],
    out: list[str],
) -> None:
    """A word stored in two chunks is fine when both give the same vector (or both lack it); else a problem."""
    if not duplicated:
        return
    rows = np.cumsum(present) - 1
    for j, w in enumerate(head.words):
        if w not in duplicated:
            continue
        value = vectors[rows[j]].tobytes() if present[j] else None
        first = seen.get(w)
        if first is None:
            seen[w] = (head.data_path.name, value)
        elif first[1] != value:
            out.append(f"word {w!r}: chunks {first[0]} and {head.data_path.name} disagree (the index uses the first)")
