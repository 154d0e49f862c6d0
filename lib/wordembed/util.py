"""Small helpers every part of wordembed needs, written once: unit rows, file hashes, atomic writes, device.

Why one module: each was written four to six times (``_unit`` in the analyses, ``sha256_file`` in the data
sets, the model fetcher and LASER, ``tmp`` + ``os.replace`` in the vector files, results and the store,
``"cuda" if torch.cuda.is_available()`` in four backends), and the copies had begun to differ in small ways
(float32 or float64 rows, 1 MiB or 8 MiB blocks). This module imports only the standard library and numpy,
so anything may import it.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import IO, Any

import numpy as np

HASH_BLOCK = 1 << 20
"""Bytes read per step when hashing a file: large enough to be I/O-bound, small enough never to matter."""


def unit_rows(x: Any, dtype: Any = np.float32) -> np.ndarray:
    """Rows of ``x`` divided by their Euclidean norms, as ``dtype``; a zero row stays zero (no NaN).

    Why zero rows stay zero: a word without a vector (or a vector of zeros) must score 0 against everything
    rather than poison a whole product with NaN. ``np.linalg.norm`` along the last axis, then one division
    into a zeroed array: the same bits as every copy this replaces (tests compare them exactly).
    """
    x = np.asarray(x, dtype=dtype)
    norms = np.linalg.norm(x, axis=-1, keepdims=True)
    return np.divide(x, norms, out=np.zeros_like(x), where=norms > 0)


def sha256_file(path: str | Path, block: int = HASH_BLOCK) -> str:
    """Hex sha256 of a file's bytes, streamed ``block`` bytes at a time (a 1 GB model never sits in memory)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(block), b""):
            digest.update(chunk)
    return digest.hexdigest()


@contextlib.contextmanager
def atomic_open(
    path: str | Path, mode: str = "wb", *, encoding: str | None = None, suffix: str = ".tmp", fsync: bool = False
) -> Iterator[IO[Any]]:
    """Write ``path`` through a temporary file in its folder, renamed over it only when the block succeeds.

    Why: a reader (or a crash) must see the old file or the whole new one, never half of one; the rename
    is atomic on POSIX because the temporary file is on the same file system. On any exception the
    temporary file is removed and ``path`` is untouched. ``mode`` is ``"wb"`` or ``"w"``; the temporary
    file is ``.NAME.<random><suffix>`` beside ``path`` (hidden, so a folder listing ignores it).
    ``fsync``: flush the data to disk before the rename (what a store that must survive a power cut needs;
    off by default, as the copies this replaces for results and vector files did not).
    """
    if mode not in ("w", "wb"):
        raise ValueError(f"mode={mode!r}; valid: w, wb")
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=suffix, dir=path.parent)
    os.fchmod(fd, 0o644)  # mkstemp's 0600 would hide results and vector files from a shared group
    try:
        with os.fdopen(fd, mode, encoding=encoding if mode == "w" else None) as handle:
            yield handle
            if fsync:
                handle.flush()
                os.fsync(handle.fileno())
        os.replace(tmp, path)
    finally:
        Path(tmp).unlink(missing_ok=True)


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    """``path`` holds ``data`` afterwards, or what it held before if the write failed (:func:`atomic_open`)."""
    with atomic_open(path, "wb") as handle:
        handle.write(data)


def atomic_write_text(path: str | Path, text: str, encoding: str = "utf-8") -> None:
    """Text version of :func:`atomic_write_bytes`."""
    with atomic_open(path, "w", encoding=encoding) as handle:
        handle.write(text)


def usable_cores() -> int:
    """Cores this process may use (its CPU affinity, which a container or ``taskset`` may narrow)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


_POOLS: dict[str, ThreadPoolExecutor] = {}


def thread_pool(name: str, threads: int) -> ThreadPoolExecutor:
    """A pool of at least ``threads`` workers, one per ``name``, kept for the process: made once, not per call
    (numpy and numba kernels release the GIL, so threads share out their blocks)."""
    pool = _POOLS.get(name)
    if pool is None or pool._max_workers < threads:
        pool = _POOLS[name] = ThreadPoolExecutor(max_workers=threads, thread_name_prefix=f"wordembed-{name}")
    return pool


def choose_device(device: str | None = None) -> str:
    """``None``, ``""`` or ``"auto"``: ``"cuda"`` when torch sees a GPU, else ``"cpu"`` (also without torch);
    any other name is returned as it is (checking it is :func:`wordembed.models.registry.check_device`'s job)."""
    if device not in (None, "", "auto"):
        return str(device)
    try:
        import torch
    except ImportError:  # a NumPy-only install
        return "cpu"
    return "cuda" if torch.cuda.is_available() else "cpu"
