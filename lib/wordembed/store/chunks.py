"""Chunk files: the ``.npz`` + JSON sidecar format written now, and the legacy ``.chunk`` format still read.

Why ``.npz``: a researcher opens a chunk with ``numpy.load(path, allow_pickle=False)`` and nothing of ours;
numpy is a core dependency, unlike safetensors. Why a sidecar: the word -> chunk index is rebuilt from small
JSON files without opening any vectors, and the sidecar carries the sha256 of the data file, so a truncated
or corrupt ``.npz`` is caught before a vector is used. The layout is described in the package docstring.

Reading never unpickles: arrays are located through the zip directory and their ``.npy`` headers are parsed
with :mod:`numpy.lib.format`; an object dtype (the only one that needs pickle) is refused as corrupt. The
bytes are checked against the sidecar's sha256 first, so the zero-copy read sees exactly what was written.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import re
import struct
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
from numpy.lib import format as npy_format

from wordembed.store.files import CorruptChunkError, Staged, StoreError

CHUNK_FORMAT = 2
SIDECAR_SUFFIX = ".json"
DATA_SUFFIX = ".npz"
LEGACY_CHUNK_FORMAT = 1
LEGACY_SUFFIX = ".chunk"
MAGIC = b"WEMBCHK\x01"
_PREFIX = struct.Struct("<8sQ")
_DIGEST = 32
_ZIP_DATE = (1980, 1, 1, 0, 0, 0)  # a fixed date: equal chunks are equal bytes, whoever writes them
_DATA_NAME = re.compile(r"^[0-9A-Za-z_-][0-9A-Za-z._-]*\.npz$")
ARRAYS = ("words", "present", "vectors")
LAYOUT = (
    "words (n,) unicode; present (n,) bool; vectors (n_present, *shape) float32 little-endian: the rows of "
    "the words whose present flag is true, in word order"
)


@dataclass
class ChunkHeader:
    """What the index needs of one chunk, read without its vectors.

    ``path`` is the file whose presence makes the chunk exist: the sidecar (``<stem>.json``) of a chunk in
    the current format, or the ``<stem>.chunk`` file of a legacy one. ``data_path`` holds the vectors (the
    ``.npz``; the ``.chunk`` file itself for a legacy chunk).
    """

    path: Path
    stem: str
    legacy: bool
    fingerprint: str  # sha256 of the encoder fingerprint
    shape: tuple[int, ...]
    words: list[str]
    n_present: int
    data_path: Path
    data_bytes: int
    data_sha256: str = ""  # current format: the sha256 of the .npz
    absent: tuple[int, ...] | None = None  # current format: rows without a vector (legacy: in the payload)
    payload_offset: int = 0  # legacy format: where the present mask starts

    @property
    def order(self) -> tuple[str, int]:
        """The index order: by stem (the hash of the chunk's words), the current format before a legacy twin.

        The first chunk in this order that lists a word answers for it, so every reader of the same folder
        picks the same chunk however the files were written or listed.
        """
        return (self.stem, 1 if self.legacy else 0)


def chunk_stem(words: Sequence[str]) -> str:
    """The content address of a chunk: sha256 of its words joined by newlines (the legacy scheme too)."""
    return hashlib.sha256("\n".join(words).encode("utf-8")).hexdigest()[:32]


# ------------------------------------------------------------------------------------------------ writing


class _HashingWriter:
    """A write-only, non-seekable stream that hashes what passes through it.

    ``zipfile`` then writes each member's sizes and CRC after its data (a data descriptor) instead of seeking
    back, so the sha256 of the whole ``.npz`` is known once it is written, without reading it again.
    """

    def __init__(self, fh: BinaryIO) -> None:
        self._fh = fh
        self._sha = hashlib.sha256()
        self.size = 0

    def write(self, data: Any) -> int:
        view = memoryview(data)
        self._sha.update(view)
        self.size += view.nbytes
        self._fh.write(view)
        return view.nbytes

    def tell(self) -> int:
        return self.size

    def seek(self, *_: Any) -> int:
        raise OSError("not seekable")

    def seekable(self) -> bool:
        return False

    def flush(self) -> None:
        self._fh.flush()

    def hexdigest(self) -> str:
        return self._sha.hexdigest()


def _words_array(words: Sequence[str]) -> np.ndarray:
    """Fixed-width unicode, what ``np.load`` gives back without pickle (an empty list still has a dtype)."""
    return np.array(list(words), dtype=str) if words else np.zeros(0, dtype="<U1")


def write_npz(fh: BinaryIO, arrays: Sequence[tuple[str, np.ndarray]]) -> tuple[str, int]:
    """Write an uncompressed ``.npz`` (what :func:`numpy.savez` writes) to ``fh``; ``(sha256 hex, size)``."""
    out = _HashingWriter(fh)
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as zf:  # type: ignore[arg-type]
        for name, array in arrays:
            info = zipfile.ZipInfo(f"{name}.npy", date_time=_ZIP_DATE)
            info.compress_type = zipfile.ZIP_STORED
            info.external_attr = 0o644 << 16
            with zf.open(info, "w", force_zip64=True) as member:
                _write_npy(member, array)
    return out.hexdigest(), out.size


def _write_npy(fh: BinaryIO, array: np.ndarray) -> None:
    """What :func:`numpy.lib.format.write_array` writes for a plain array, without its copy through
    ``tobytes`` (1.5 MB per chunk of 1024 x 384)."""
    array = np.ascontiguousarray(array)
    if array.dtype.hasobject:
        raise ValueError("object arrays are not stored")
    npy_format.write_array_header_1_0(fh, npy_format.header_data_from_array_1_0(array))
    if array.size:
        fh.write(memoryview(array.reshape(-1).view(np.uint8)))


def sidecar_bytes(head: dict[str, Any]) -> bytes:
    """UTF-8 JSON, words unescaped so a person can read them; no time or host, so equal chunks are equal."""
    return json.dumps(head, ensure_ascii=False).encode("utf-8")


def write_chunk(
    chunk_dir: Path,
    words: Sequence[str],
    vectors: np.ndarray,
    present: np.ndarray,
    *,
    key: str,
    fingerprint: str,
    fp_hash: str,
    prune: bool = False,
    sync_dir: bool = True,
) -> Path:
    """Write one chunk: its ``.npz`` first, then its sidecar; returns the sidecar's path.

    Both files are written under temporary names and fsynced (together: one journal commit), then renamed,
    the sidecar last, so a reader that finds it finds the data it names, whole. The data file is named by its own hash
    (``<stem>.<sha256[:16]>.npz``): two writers of the same chunk write the same name when their vectors
    are equal (same bytes: the zip dates are fixed), and different names when not, so neither can replace
    the data under the other's sidecar. ``prune`` (set while the chunk's lock is held) removes the data
    files of this stem that the new sidecar no longer names. ``sync_dir=False``: the folder is fsynced with
    this chunk's files (making the previous chunk's renames durable) and the caller fsyncs it once at the end
    of its run, instead of a folder fsync after every chunk (one wait less per chunk).
    """
    stem = chunk_stem(words)
    present = np.ascontiguousarray(present, dtype=bool)
    kept = vectors if present.all() else vectors[present]  # no copy of a chunk with every word present
    kept = np.ascontiguousarray(kept, dtype="<f4")
    arrays = (("words", _words_array(words)), ("present", present), ("vectors", kept))
    sidecar = chunk_dir / f"{stem}{SIDECAR_SUFFIX}"
    with Staged() as staged:
        data_fh = staged.open(chunk_dir / f"{stem}{DATA_SUFFIX}")
        try:
            digest, size = write_npz(data_fh, arrays)
        except OSError as exc:
            raise StoreError(chunk_dir / f"{stem}{DATA_SUFFIX}", exc) from exc
        data_name = f"{stem}.{digest[:16]}{DATA_SUFFIX}"
        staged.rename_to(data_fh, chunk_dir / data_name)
        head = {
            "format": CHUNK_FORMAT,
            "kind": "wordembed-chunk",
            "key": key,
            "fingerprint": fingerprint,
            "fingerprint_sha256": fp_hash,
            "shape": [int(s) for s in vectors.shape[1:]],
            "dtype": "<f4",
            "n": len(words),
            "n_present": int(kept.shape[0]),
            "absent": [int(i) for i in np.flatnonzero(~present)],
            "data": data_name,
            "data_bytes": size,
            "data_sha256": digest,
            "layout": LAYOUT,
            "words": list(words),
        }
        staged.write(sidecar, sidecar_bytes(head))
        # Both files are fsynced together, then renamed: the data file first, the sidecar last.
        staged.commit(sync_dir=sync_dir, sync_before=None if sync_dir else chunk_dir)
    if prune:
        for other in chunk_dir.glob(f"{stem}.*{DATA_SUFFIX}"):
            if other.name != data_name:
                with contextlib.suppress(FileNotFoundError):
                    other.unlink()
    return sidecar


# ------------------------------------------------------------------------------------------------ reading


def read_sidecar(path: Path) -> ChunkHeader:
    """A current-format chunk's header, from its sidecar alone (the data file is not opened)."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise
    except OSError as exc:
        raise CorruptChunkError(f"unreadable ({exc.__class__.__name__}: {exc})") from exc
    try:
        head = json.loads(raw.decode("utf-8"))
        if not isinstance(head, dict):
            raise TypeError("not a JSON object")
        if head.get("format") != CHUNK_FORMAT or head.get("dtype") != "<f4":
            raise CorruptChunkError(f"unsupported chunk format {head.get('format')!r}")
        words = head["words"]
        n, n_present = int(head["n"]), int(head["n_present"])
        shape = tuple(int(s) for s in head["shape"])
        absent = tuple(int(i) for i in head["absent"])
        data = str(head["data"])
        data_bytes = int(head["data_bytes"])
        digest = str(head["data_sha256"])
        fingerprint = str(head["fingerprint_sha256"])
    except CorruptChunkError:
        raise
    except (ValueError, KeyError, TypeError, UnicodeDecodeError) as exc:
        raise CorruptChunkError(f"unreadable sidecar ({exc.__class__.__name__}: {exc})") from exc
    if not isinstance(words, list) or len(words) != n or not all(isinstance(w, str) for w in words):
        raise CorruptChunkError("sidecar: the word list does not match its count")
    if not shape or any(s <= 0 for s in shape):
        raise CorruptChunkError(f"sidecar: invalid shape {list(shape)}")
    if list(absent) != sorted(set(absent)) or any(i < 0 or i >= n for i in absent) or n - len(absent) != n_present:
        raise CorruptChunkError("sidecar: the absent rows do not match the present count")
    if not _DATA_NAME.match(data) or not re.fullmatch(r"[0-9a-f]{64}", digest):
        raise CorruptChunkError(f"sidecar: bad data file name {data[:80]!r} or checksum")
    stem = path.name[: -len(SIDECAR_SUFFIX)]
    return ChunkHeader(
        path, stem, False, fingerprint, shape, words, n_present, path.with_name(data), data_bytes, digest, absent
    )


def read_legacy_header(path: Path) -> ChunkHeader:
    """Header and words of a legacy ``.chunk``, checked against the file size; vectors are not read."""
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
            if header.get("format") != LEGACY_CHUNK_FORMAT or header.get("dtype") != "<f4":
                raise CorruptChunkError(f"unsupported chunk format {header.get('format')!r}")
            n, n_present = int(header["n"]), int(header["n_present"])
            shape = tuple(int(s) for s in header["shape"])
            wbytes = int(header["words_bytes"])
            expected = (
                _PREFIX.size + hlen + wbytes + n + n_present * int(np.prod(shape, dtype=np.int64)) * 4 + _DIGEST
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
    stem = path.name[: -len(LEGACY_SUFFIX)]
    return ChunkHeader(
        path, stem, True, str(header["fingerprint"]), shape, words, n_present, path, size,
        payload_offset=_PREFIX.size + hlen + wbytes,
    )  # fmt: skip


def read_header(path: Path) -> ChunkHeader:
    """The header of the chunk that ``path`` (a sidecar or a legacy ``.chunk`` file) makes exist."""
    return read_legacy_header(path) if path.name.endswith(LEGACY_SUFFIX) else read_sidecar(path)


def check_data_size(head: ChunkHeader) -> None:
    """Without reading it: the data file exists and has the size its header says (catches a truncation)."""
    if head.legacy:
        return  # read_legacy_header already compared the file size with the header
    try:
        size = head.data_path.stat().st_size
    except FileNotFoundError:
        raise CorruptChunkError(f"its data file {head.data_path.name} is missing") from None
    if size != head.data_bytes:
        raise CorruptChunkError(f"{size} bytes, expected {head.data_bytes} (truncated or padded)")


def present_mask(head: ChunkHeader) -> np.ndarray:
    """The chunk's present flags without its vectors (a sidecar lists them; a legacy file is read n bytes)."""
    if head.absent is not None:
        mask = np.ones(len(head.words), dtype=bool)
        mask[list(head.absent)] = False
        return mask
    with open(head.data_path, "rb") as fh:
        fh.seek(head.payload_offset)
        raw = fh.read(len(head.words))
    if len(raw) != len(head.words):
        raise CorruptChunkError("truncated present mask")
    return np.frombuffer(raw, np.uint8).astype(bool)


def read_chunk(head: ChunkHeader) -> tuple[np.ndarray, np.ndarray]:
    """The chunk's ``(present mask, vectors of present words)``, after verifying its checksum.

    Raises :class:`CorruptChunkError` when the data do not match their header (or, for the current format,
    their sidecar: words, present flags, shape), ``FileNotFoundError`` when the chunk went away meanwhile.
    """
    return _read_legacy(head) if head.legacy else _read_current(head)


def _read_current(head: ChunkHeader) -> tuple[np.ndarray, np.ndarray]:
    try:
        data = head.data_path.read_bytes()
    except FileNotFoundError:
        if not head.path.exists():
            raise  # the whole chunk went away (a concurrent remove): not corrupt, just gone
        raise CorruptChunkError(f"its data file {head.data_path.name} is missing") from None
    except OSError as exc:
        raise CorruptChunkError(f"unreadable ({exc.__class__.__name__}: {exc})") from exc
    if len(data) != head.data_bytes:
        raise CorruptChunkError(f"{len(data)} bytes, expected {head.data_bytes} (truncated or padded)")
    if hashlib.sha256(data).hexdigest() != head.data_sha256:
        raise CorruptChunkError("checksum mismatch")
    arrays = npz_arrays(data)
    if set(arrays) != set(ARRAYS):
        raise CorruptChunkError(f"holds arrays {sorted(arrays)}, expected {list(ARRAYS)}")
    words, present, vectors = (arrays[name] for name in ARRAYS)
    n = len(head.words)
    if present.dtype != np.bool_ or present.shape != (n,) or words.shape != (n,) or words.dtype.kind != "U":
        raise CorruptChunkError("the data's words or present flags do not match the sidecar")
    if words.tolist() != head.words and not np.array_equal(words, _words_array(head.words)):
        raise CorruptChunkError("the data's words differ from the sidecar's")  # (numpy drops trailing NULs)
    if not np.array_equal(present, present_mask(head)):
        raise CorruptChunkError("the data's present flags differ from the sidecar's")
    if vectors.dtype != np.dtype("<f4") or vectors.shape != (head.n_present, *head.shape):
        raise CorruptChunkError(
            f"vectors of shape {vectors.shape} and type {vectors.dtype}, the sidecar says "
            f"{(head.n_present, *head.shape)} float32"
        )
    return present, vectors


def npz_arrays(data: bytes) -> dict[str, np.ndarray]:
    """The arrays of an uncompressed ``.npz`` held in ``data``, as zero-copy views; never unpickles."""
    view = memoryview(data)
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            infos = zf.infolist()
    except (zipfile.BadZipFile, ValueError, OSError) as exc:
        raise CorruptChunkError(f"not a valid .npz ({exc})") from exc
    arrays: dict[str, np.ndarray] = {}
    for info in infos:
        if info.compress_type != zipfile.ZIP_STORED or not info.filename.endswith(".npy"):
            raise CorruptChunkError(f"unexpected member {info.filename!r} in the .npz")
        offset = info.header_offset
        if bytes(view[offset : offset + 4]) != b"PK\x03\x04":
            raise CorruptChunkError(f"bad zip entry for {info.filename!r}")
        name_len, extra_len = struct.unpack_from("<HH", data, offset + 26)
        start = offset + 30 + name_len + extra_len
        stream = io.BytesIO(view[start : start + min(info.file_size, 1 << 16)])
        try:
            version = npy_format.read_magic(stream)
            if version == (1, 0):
                shape, fortran, dtype = npy_format.read_array_header_1_0(stream)
            elif version == (2, 0):
                shape, fortran, dtype = npy_format.read_array_header_2_0(stream)
            else:
                raise ValueError(f"unsupported .npy version {version}")
        except ValueError as exc:
            raise CorruptChunkError(f"bad array {info.filename!r}: {exc}") from exc
        if dtype.hasobject or fortran:
            raise CorruptChunkError(f"array {info.filename!r} holds objects or is Fortran-ordered: refused")
        count = int(np.prod(shape, dtype=np.int64))
        body = start + stream.tell()
        if stream.tell() + count * dtype.itemsize != info.file_size or body + count * dtype.itemsize > len(data):
            raise CorruptChunkError(f"array {info.filename!r} does not fill its zip entry")
        arrays[info.filename[:-4]] = np.frombuffer(data, dtype=dtype, count=count, offset=body).reshape(shape)
    return arrays


def _check_legacy_digest(data: bytes) -> None:
    if len(data) < _DIGEST or hashlib.sha256(memoryview(data)[:-_DIGEST]).digest() != data[-_DIGEST:]:
        raise CorruptChunkError("checksum mismatch")


def _read_legacy(head: ChunkHeader) -> tuple[np.ndarray, np.ndarray]:
    data = head.path.read_bytes()
    _check_legacy_digest(data)
    n = len(head.words)
    off = head.payload_offset
    present = np.frombuffer(data, dtype=np.uint8, count=n, offset=off).astype(bool)
    if int(present.sum()) != head.n_present:
        raise CorruptChunkError("present mask does not match the header")
    vectors = np.frombuffer(
        data, dtype="<f4", count=head.n_present * int(np.prod(head.shape, dtype=np.int64)), offset=off + n
    ).reshape((head.n_present, *head.shape))
    return present, vectors
