"""The embedding store: every word's vector is computed once per encoder fingerprint and reused.

Why it looks like this:

- One folder per fingerprint (``<key>-<sha256(fingerprint)[:16]>/``) with a small ``meta.json``, so a change
  of model, backend option or artefact checksum starts a new entry and never mixes vectors.
- Vectors live in *chunk files* of up to ``encoder.chunk_size`` words (1024 by default), each written as soon
  as it is encoded: an interrupted run over 77k words loses at most one chunk, and a paid API batch is kept.
  Hashing, writing and fsync run on one background thread while the next chunk is encoded, so the store
  costs a cold run almost nothing over calling the model directly.
- A chunk is named by the hash of its words and written to a temporary file, fsynced, then ``os.replace``-d
  into place: readers never see half a file, and two writers of the same entry at worst repeat work.
- Each chunk ends with a sha256 of everything before it. A truncated, corrupt or stale chunk is reported
  (a warning naming the file), removed, and its words computed again.
- The word -> chunk index is rebuilt on every call from the chunk headers (no vectors read, no index file
  that could disagree with the chunks).
- ``meta.json`` is (re)written before any chunk lands in an entry that lacks it, so an entry whose folder was
  deleted and re-created mid-run is still listed with its model and fingerprint.
- :meth:`EmbeddingStore.entries` reads headers only; ``verify=True`` re-hashes every chunk and reports the
  bad ones (``wordembed store list --verify``) without removing them: listing never changes the store.
- A failed write (disk full, read-only folder) is a one-line :class:`StoreError` naming the file; chunks
  already written stay valid and are reused by the next run.

Chunk file layout (little-endian)::

    b"WEMBCHK\\x01" | u64 header length | header JSON | words JSON | present mask (n x u8)
    | float32 vectors of the present words (n_present x *shape) | sha256 of all the preceding bytes
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
import socket
import struct
import tempfile
import warnings
from collections.abc import Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm  # plain text bars: no "IProgress not found" warning in rendered notebooks

from wordembed import paths
from wordembed.embeddings import Embeddings
from wordembed.errors import ModelError, ParameterError, WordembedError
from wordembed.models.base import Encoder

FORMAT_VERSION = 1
DEFAULT_CHUNK_SIZE = 1024
MAGIC = b"WEMBCHK\x01"
_PREFIX = struct.Struct("<8sQ")
_DIGEST = 32
CHUNK_SUFFIX = ".chunk"
TMP_SUFFIX = ".tmp"
_STALE_TMP_SECONDS = 24 * 3600


class StoreWarning(UserWarning):
    """A store file was corrupt or stale and is being recomputed."""


class CorruptChunkError(Exception):
    """Internal: a chunk file cannot be trusted (the message says why)."""


class StoreError(WordembedError, OSError):
    """A store file could not be written (disk full, no permission); the message names the file.

    Also an ``OSError``, so callers that handled the raw error keep working. Chunks written before the
    failure are complete (each one is renamed into place only once fsynced), so nothing stored is lost.
    """

    def __init__(self, path: Path, exc: OSError) -> None:
        self.path = path
        reason = exc.strerror or str(exc) or exc.__class__.__name__
        super().__init__(
            f"embedding store: cannot write {path}: {reason}; the vectors stored before are kept, free space "
            "or fix permissions and run again to compute the rest"
        )


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
    #: ``"<chunk file name>: <why>"`` for every chunk that cannot be trusted (a bad header always; a
    #: checksum mismatch only when listed with ``verify=True``), plus a missing ``meta.json``
    problems: tuple[str, ...] = ()
    #: whether every chunk's checksum was recomputed for this listing
    verified: bool = False


@dataclass
class _ChunkHeader:
    path: Path
    fingerprint: str
    shape: tuple[int, ...]
    words: list[str]
    n_present: int
    payload_offset: int


def _fingerprint_hash(fingerprint: str) -> str:
    return hashlib.sha256(fingerprint.encode("utf-8")).hexdigest()


def _slug(text: str) -> str:
    slug = re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("._")
    return slug[:60] or "model"


def _fsync_dir(path: Path) -> None:
    with contextlib.suppress(OSError):  # not every platform/filesystem lets a directory be fsynced
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _tmp_name(final: Path) -> str:
    return f".{final.name}.{socket.gethostname()}.{os.getpid()}."


def atomic_write_bytes(path: Path, data: bytes | Iterable[bytes]) -> None:
    """Write ``path`` so that readers see the old file or the whole new one, never a part.

    An ``OSError`` (disk full, permissions) becomes a :class:`StoreError` naming ``path``, after the
    temporary file is removed: the one-line message is what a user sees, not a traceback from a thread.
    """
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=_tmp_name(path), suffix=TMP_SUFFIX, dir=path.parent)
    except OSError as exc:
        raise StoreError(path, exc) from exc
    try:
        with os.fdopen(fd, "wb") as fh:
            if isinstance(data, bytes | bytearray | memoryview):
                fh.write(data)
            else:
                for part in data:
                    fh.write(part)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException as exc:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        if isinstance(exc, OSError) and not isinstance(exc, StoreError):
            raise StoreError(path, exc) from exc
        raise
    _fsync_dir(path.parent)


def _encode_chunk(
    fp_hash: str, words: Sequence[str], vectors: np.ndarray, present: np.ndarray
) -> list[bytes]:
    kept = np.ascontiguousarray(vectors[present], dtype="<f4")
    words_blob = json.dumps(list(words), ensure_ascii=False).encode("utf-8")
    header = json.dumps(
        {
            "format": FORMAT_VERSION,
            "fingerprint": fp_hash,
            "shape": list(vectors.shape[1:]),
            "n": len(words),
            "n_present": int(kept.shape[0]),
            "words_bytes": len(words_blob),
            "dtype": "<f4",
        }
    ).encode("utf-8")
    parts = [
        _PREFIX.pack(MAGIC, len(header)),
        header,
        words_blob,
        np.ascontiguousarray(present, dtype=np.uint8).tobytes(),
        kept.data.cast("B") if kept.size else b"",
    ]
    digest = hashlib.sha256()
    for part in parts:
        digest.update(part)
    parts.append(digest.digest())
    return parts


def _write_chunk(
    path: Path,
    fp_hash: str,
    words: Sequence[str],
    vectors: np.ndarray,
    present: np.ndarray,
    meta: bytes | None = None,
) -> None:
    """Write one chunk; first ``meta`` as the entry's ``meta.json`` when that file is missing.

    Checked per chunk (one stat) because the entry may have been deleted since the run began: the chunk
    write re-creates the folders, and without its meta the entry would be listed as empty.
    """
    if meta is not None:
        meta_path = path.parent.parent / "meta.json"
        if not meta_path.exists():
            atomic_write_bytes(meta_path, meta)
    atomic_write_bytes(path, _encode_chunk(fp_hash, words, vectors, present))


def _read_header(path: Path) -> _ChunkHeader:
    """Header and words of a chunk, checked against the file size; vectors are not read."""
    try:
        with open(path, "rb") as fh:
            size = os.fstat(fh.fileno()).st_size
            prefix = fh.read(_PREFIX.size)
            if len(prefix) < _PREFIX.size:
                raise CorruptChunkError(f"truncated ({size} bytes)")
            magic, hlen = _PREFIX.unpack(prefix)
            if magic != MAGIC:
                raise CorruptChunkError("not a chunk file (bad magic bytes)")
            if hlen > size:
                raise CorruptChunkError(f"truncated ({size} bytes, header says {hlen})")
            header = json.loads(fh.read(hlen))
            if header.get("format") != FORMAT_VERSION or header.get("dtype") != "<f4":
                raise CorruptChunkError(f"unsupported chunk format {header.get('format')!r}")
            n, n_present = int(header["n"]), int(header["n_present"])
            shape = tuple(int(s) for s in header["shape"])
            wbytes = int(header["words_bytes"])
            expected = (
                _PREFIX.size
                + hlen
                + wbytes
                + n
                + n_present * int(np.prod(shape, dtype=np.int64)) * 4
                + _DIGEST
            )
            if size != expected:
                raise CorruptChunkError(f"{size} bytes, expected {expected} (truncated or padded)")
            words = json.loads(fh.read(wbytes).decode("utf-8"))
    except CorruptChunkError:
        raise
    except (OSError, ValueError, KeyError, TypeError, UnicodeDecodeError, struct.error) as exc:
        if isinstance(exc, FileNotFoundError):
            raise
        raise CorruptChunkError(f"unreadable header ({exc.__class__.__name__}: {exc})") from exc
    if not isinstance(words, list) or len(words) != n or not all(isinstance(w, str) for w in words):
        raise CorruptChunkError("word list does not match the header")
    return _ChunkHeader(
        path, str(header["fingerprint"]), shape, words, n_present, _PREFIX.size + hlen + wbytes
    )


def _check_digest(data: bytes) -> None:
    if len(data) < _DIGEST or hashlib.sha256(memoryview(data)[:-_DIGEST]).digest() != data[-_DIGEST:]:
        raise CorruptChunkError("checksum mismatch")


def _read_payload(head: _ChunkHeader) -> tuple[np.ndarray, np.ndarray]:
    """The chunk's ``(present mask, vectors of present words)``, after verifying the checksum."""
    data = head.path.read_bytes()
    _check_digest(data)
    n = len(head.words)
    off = head.payload_offset
    present = np.frombuffer(data, dtype=np.uint8, count=n, offset=off).astype(bool)
    if int(present.sum()) != head.n_present:
        raise CorruptChunkError("present mask does not match the header")
    vectors = np.frombuffer(
        data, dtype="<f4", count=head.n_present * int(np.prod(head.shape, dtype=np.int64)), offset=off + n
    ).reshape((head.n_present, *head.shape))
    return present, vectors


def _unique(words: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(words))


class EmbeddingStore:
    """Vectors per encoder fingerprint on disk, under ``root`` (default :func:`wordembed.paths.store_dir`)."""

    def __init__(self, root: str | os.PathLike[str] | None = None) -> None:
        self.root = Path(root).expanduser() if root is not None else paths.store_dir()

    # ----------------------------------------------------------------- layout
    def entry_dir(self, encoder: Encoder) -> Path:
        """The folder holding ``encoder``'s vectors (it may not exist yet)."""
        return self.root / f"{_slug(encoder.key)}-{_fingerprint_hash(encoder.fingerprint())[:16]}"

    @staticmethod
    def _chunk_dir(entry: Path) -> Path:
        return entry / "chunks"

    # ----------------------------------------------------------------- embed
    def embed(self, encoder: Encoder, words: Iterable[str], *, progress: bool = True) -> Embeddings:
        """Vectors of ``words`` (deduplicated, in the caller's order); only words not stored are encoded.

        Words the encoder reports as absent come back in ``Embeddings.missing``, without a vector.
        """
        wanted = _unique(words)
        fingerprint = encoder.fingerprint()
        fp_hash = _fingerprint_hash(fingerprint)
        entry = self.entry_dir(encoder)
        meta = self._open_entry(entry, encoder.key, fingerprint)
        shape = tuple(meta["shape"]) if meta.get("shape") is not None else None
        meta_bytes = self._meta_bytes(meta) if meta else None

        heads = self._scan(entry, fp_hash, shape)
        if shape is None and heads:
            shape = heads[0].shape
            meta_bytes = self._meta_bytes(self._write_meta(entry, encoder.key, fingerprint, shape))

        # Which stored chunk answers which wanted word (first chunk listing it wins).
        want_set = set(wanted)
        owner: dict[str, int] = {}
        for i, head in enumerate(heads):
            for w in head.words:
                if w in want_set and w not in owner:
                    owner[w] = i

        found_vec: dict[str, tuple[int, int]] = {}  # word -> (loaded chunk slot, row)
        found_missing: set[str] = set()
        loaded: list[np.ndarray] = []
        for i in sorted(set(owner.values())):
            head = heads[i]
            try:
                present, vectors = _read_payload(head)
            except FileNotFoundError:  # removed by a concurrent writer: compute again
                continue
            except CorruptChunkError as exc:
                self._discard(head.path, str(exc))
                continue
            # Keep only the rows asked for, so a few words from many chunks do not hold every chunk in memory.
            rows = np.cumsum(present) - 1
            take: list[int] = []
            slot = len(loaded)
            for j, w in enumerate(head.words):
                if owner.get(w) != i:
                    continue
                if present[j]:
                    found_vec[w] = (slot, len(take))
                    take.append(int(rows[j]))
                else:
                    found_missing.add(w)
            loaded.append(
                vectors if len(take) == len(vectors) and take == list(range(len(take))) else vectors[take]
            )

        todo = [w for w in wanted if w not in found_vec and w not in found_missing]
        new_vec: dict[str, tuple[int, int]] = {}
        new_blocks: list[np.ndarray] = []
        if todo:
            chunk_size = max(1, int(getattr(encoder, "chunk_size", DEFAULT_CHUNK_SIZE) or DEFAULT_CHUNK_SIZE))
            chunk_dir = self._chunk_dir(entry)
            try:
                chunk_dir.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise StoreError(chunk_dir, exc) from exc
            bar = tqdm(
                total=len(wanted),
                initial=len(wanted) - len(todo),
                unit="word",
                desc=f"embed {encoder.key}",
                disable=not progress,
                dynamic_ncols=True,
            )
            # Chunks are hashed, written and fsynced by one background thread while the next chunk is
            # encoded; at most one write is pending, and it is always finished (kept) before we return/raise.
            pending: Future[None] | None = None
            pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="wordembed-store")
            try:
                for start in range(0, len(todo), chunk_size):
                    batch = todo[start : start + chunk_size]
                    vectors, present = self._encode(encoder, batch)
                    if shape is None:
                        shape = tuple(vectors.shape[1:])
                        meta_bytes = self._meta_bytes(
                            self._write_meta(entry, encoder.key, fingerprint, shape)
                        )
                    elif tuple(vectors.shape[1:]) != shape:
                        raise ModelError(
                            f"{encoder.key}: the encoder now gives vectors of shape {vectors.shape[1:]} but the "
                            f"store entry {entry} holds {shape} for the same fingerprint; the backend's "
                            f"fingerprint misses an option. Remove the entry (`wordembed store remove "
                            f"{fp_hash[:16]}`) or fix the fingerprint."
                        )
                    if pending is not None:
                        pending.result()  # surfaces a write error; bounds memory to one chunk in flight
                    name = hashlib.sha256("\n".join(batch).encode("utf-8")).hexdigest()[:32] + CHUNK_SUFFIX
                    pending = pool.submit(
                        _write_chunk, chunk_dir / name, fp_hash, batch, vectors, present, meta_bytes
                    )
                    slot = len(new_blocks)
                    new_blocks.append(vectors)
                    for j, w in enumerate(batch):
                        if present[j]:
                            new_vec[w] = (slot, j)
                        else:
                            found_missing.add(w)
                    bar.update(len(batch))
                if pending is not None:
                    pending.result()
            finally:
                if pending is not None:
                    wait([pending])  # an encoded chunk is kept even when a later one fails
                pool.shutdown(wait=True)
                bar.close()

        return self._assemble(
            encoder.key, wanted, shape, loaded, found_vec, new_blocks, new_vec, found_missing
        )

    @staticmethod
    def _assemble(
        key: str,
        wanted: list[str],
        shape: tuple[int, ...] | None,
        loaded: list[np.ndarray],
        found_vec: dict[str, tuple[int, int]],
        new_blocks: list[np.ndarray],
        new_vec: dict[str, tuple[int, int]],
        missing_set: set[str],
    ) -> Embeddings:
        covered = [w for w in wanted if w not in missing_set]
        missing = [w for w in wanted if w in missing_set]
        out = np.empty((len(covered), *(shape or (0,))), dtype=np.float32)
        # Gather block by block with fancy indexing rather than row by row.
        blocks = loaded + new_blocks
        offset = len(loaded)
        src_block = np.empty(len(covered), dtype=np.int64)
        src_row = np.empty(len(covered), dtype=np.int64)
        for i, w in enumerate(covered):
            hit = found_vec.get(w)
            if hit is None:
                slot, row = new_vec[w]
                slot += offset
            else:
                slot, row = hit
            src_block[i] = slot
            src_row[i] = row
        order = np.argsort(src_block, kind="stable")
        bounds = np.searchsorted(src_block[order], np.arange(len(blocks) + 1))
        for b, block in enumerate(blocks):
            sel = order[bounds[b] : bounds[b + 1]]
            if sel.size:
                out[sel] = block[src_row[sel]]
        return Embeddings(covered, out, missing=missing, model=key)

    @staticmethod
    def _encode(encoder: Encoder, batch: list[str]) -> tuple[np.ndarray, np.ndarray]:
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

    # ----------------------------------------------------------------- entry bookkeeping
    def _open_entry(self, entry: Path, key: str, fingerprint: str) -> dict[str, Any]:
        """The entry's meta, or {} when there is none or it cannot be trusted.

        A bad meta.json is only rewritten: each chunk carries its own fingerprint hash and shape, so good
        chunks are kept and foreign ones are caught by :meth:`_scan`.
        """
        meta_path = entry / "meta.json"
        if not meta_path.exists():
            return {}
        try:
            meta = json.loads(meta_path.read_text(encoding="utf-8"))
            shape = meta.get("shape")
            if meta.get("format") != FORMAT_VERSION or meta.get("fingerprint") != fingerprint:
                reason = "written for another fingerprint or format"
            elif not (isinstance(shape, list) and shape and all(isinstance(s, int) and s > 0 for s in shape)):
                reason = f"holds an invalid shape {shape!r}"
            else:
                return meta
        except (OSError, ValueError, AttributeError) as exc:
            reason = f"unreadable ({exc.__class__.__name__}: {exc})"
        warnings.warn(
            f"embedding store: {meta_path} is {reason}; it is rewritten and each chunk is checked on its own",
            StoreWarning,
            stacklevel=3,
        )
        with contextlib.suppress(FileNotFoundError):
            meta_path.unlink()
        return {}

    @staticmethod
    def _meta_bytes(meta: dict[str, Any]) -> bytes:
        return json.dumps(meta, indent=2).encode("utf-8")

    def _write_meta(self, entry: Path, key: str, fingerprint: str, shape: tuple[int, ...]) -> dict[str, Any]:
        meta = {
            "format": FORMAT_VERSION,
            "key": key,
            "fingerprint": fingerprint,
            "dims": int(shape[-1]),
            "shape": list(shape),
            "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        }
        atomic_write_bytes(entry / "meta.json", self._meta_bytes(meta))
        return meta

    def _scan(self, entry: Path, fp_hash: str, shape: tuple[int, ...] | None) -> list[_ChunkHeader]:
        """Headers of the entry's valid chunks; corrupt or stale ones are reported and removed."""
        chunk_dir = self._chunk_dir(entry)
        if not chunk_dir.is_dir():
            return []
        heads: list[_ChunkHeader] = []
        for path in sorted(chunk_dir.iterdir()):
            if path.name.endswith(TMP_SUFFIX):
                self._maybe_clean_tmp(path)
                continue
            if not path.name.endswith(CHUNK_SUFFIX):
                continue
            try:
                head = _read_header(path)
            except FileNotFoundError:
                continue
            except CorruptChunkError as exc:
                self._discard(path, str(exc))
                continue
            if head.fingerprint != fp_hash:
                self._discard(path, "stale: written for another fingerprint")
                continue
            heads.append(head)
        if shape is None and heads:  # no meta: the shape most words have wins
            counts: dict[tuple[int, ...], int] = {}
            for head in heads:
                counts[head.shape] = counts.get(head.shape, 0) + len(head.words)
            shape = max(counts, key=lambda s: counts[s])
        kept = []
        for head in heads:
            if head.shape != shape:
                self._discard(head.path, f"stale: vectors of shape {head.shape}, the entry holds {shape}")
            else:
                kept.append(head)
        return kept

    @staticmethod
    def _discard(path: Path, reason: str) -> None:
        warnings.warn(
            f"embedding store: {path}: {reason}; removed, its words are recomputed",
            StoreWarning,
            stacklevel=4,
        )
        with contextlib.suppress(FileNotFoundError):
            path.unlink()

    @staticmethod
    def _maybe_clean_tmp(path: Path) -> None:
        """Remove a temp file left by a killed writer (its pid is gone, or it is a day old)."""
        parts = path.name.split(".")
        try:
            host, pid = parts[-4], int(parts[-3])
        except (IndexError, ValueError):
            host, pid = "", -1
        dead = False
        if host == socket.gethostname() and pid > 0:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                dead = True
            except PermissionError:
                dead = False
        try:
            old = (datetime.now().timestamp() - path.stat().st_mtime) > _STALE_TMP_SECONDS
        except FileNotFoundError:
            return
        if dead or old:
            with contextlib.suppress(FileNotFoundError):
                path.unlink()

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

    # ----------------------------------------------------------------- list / remove
    def entries(self, *, verify: bool = False) -> list[StoreEntry]:
        """Every entry under the root, sorted by key, with its word count and size on disk.

        Reads chunk headers only, unless ``verify``: then every chunk is read in full and its sha256
        compared with the one it carries, and each mismatch is listed in :attr:`StoreEntry.problems`
        (and its words left out of the counts). Nothing is removed: a listing is a report, and the next
        ``embed`` that needs those words discards the bad chunk and computes them again. An entry folder
        holding chunks but no ``meta.json`` is listed too (key from its folder name, a problem noted),
        rather than passed over as if empty.
        """
        if not self.root.is_dir():
            return []
        found: list[StoreEntry] = []
        for entry in sorted(self.root.iterdir()):
            if entry.name.startswith(".") or not entry.is_dir() or entry.name == "aliases":
                continue
            meta_path = entry / "meta.json"
            chunk_dir = self._chunk_dir(entry)
            chunk_paths = sorted(chunk_dir.glob(f"*{CHUNK_SUFFIX}")) if chunk_dir.is_dir() else []
            problems: list[str] = []
            if meta_path.is_file():
                try:
                    meta = json.loads(meta_path.read_text(encoding="utf-8"))
                except (OSError, ValueError):
                    meta = {}
                    problems.append("meta.json: unreadable")
                size = meta_path.stat().st_size
            elif chunk_paths:
                meta, size = {}, 0
                problems.append("meta.json: missing (written again by the next embed of this model)")
            else:
                continue
            covered: set[str] = set()
            absent: set[str] = set()
            n_chunks = 0
            shapes: dict[tuple[int, ...], int] = {}
            for path in chunk_paths:
                with contextlib.suppress(OSError):
                    size += path.stat().st_size
                try:
                    head = _read_header(path)
                    if verify:
                        data = path.read_bytes()
                        _check_digest(data)
                        mask = data[head.payload_offset : head.payload_offset + len(head.words)]
                    else:
                        with open(path, "rb") as fh:
                            fh.seek(head.payload_offset)
                            mask = fh.read(len(head.words))
                    present = np.frombuffer(mask, np.uint8)
                except FileNotFoundError:
                    continue  # removed by a concurrent embed since the folder was listed
                except CorruptChunkError as exc:
                    problems.append(f"{path.name}: {exc}")
                    continue
                except (OSError, ValueError) as exc:
                    problems.append(f"{path.name}: unreadable ({exc.__class__.__name__}: {exc})")
                    continue
                n_chunks += 1
                shapes[head.shape] = shapes.get(head.shape, 0) + len(head.words)
                for w, p in zip(head.words, present, strict=True):
                    (covered if p else absent).add(w)
            shape = meta.get("shape")
            if not shape and shapes:
                shape = list(max(shapes, key=lambda s: shapes[s]))
            found.append(
                StoreEntry(
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
            )
        return sorted(found, key=lambda e: (e.key, e.created))

    def remove(self, key_or_fingerprint: str) -> list[StoreEntry]:
        """Remove every entry of a model key, or the one entry whose fingerprint (or its hash prefix) matches."""
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
                        (e.fingerprint and _fingerprint_hash(e.fingerprint).startswith(prefix))
                        or (len(token) <= 16 and e.path.name.rsplit("-", 1)[-1].startswith(prefix))
                    )
                )
            ]
        if not chosen:
            valid = ", ".join(sorted({e.key for e in entries})) or "(the store is empty)"
            raise ParameterError(
                f"no store entry matches {key_or_fingerprint!r} under {self.root}; stored models: {valid}"
            )
        for e in chosen:
            self._remove_dir(e.path)
        return chosen
