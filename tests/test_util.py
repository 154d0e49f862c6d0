"""The shared helpers of :mod:`wordembed.util`: known answers, and the bits of the copies they replace."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest

from wordembed.util import (
    atomic_open,
    atomic_write_bytes,
    atomic_write_text,
    choose_device,
    sha256_file,
    unit_rows,
)


def test_unit_rows_known_answer_and_zero_rows() -> None:
    x = np.array([[3.0, 4.0], [0.0, 0.0], [0.0, -2.0]])
    got = unit_rows(x)
    assert got.dtype == np.float32
    np.testing.assert_array_equal(got, np.array([[0.6, 0.8], [0.0, 0.0], [0.0, -1.0]], dtype=np.float32))
    assert unit_rows(x, np.float64).dtype == np.float64 and not np.isnan(unit_rows(x)).any()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_unit_rows_has_the_bits_of_the_copies_it_replaced(dtype: type) -> None:
    """analogy._unit (float32, axis -1) and word_similarity._unit (float64, axis 1), as they were."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 37)).astype(np.float32) * 10.0 ** rng.integers(-3, 4, size=(200, 1))
    x[[5, 50]] = 0.0
    old = np.asarray(x, dtype=dtype)
    norms = np.linalg.norm(old, axis=1, keepdims=True)
    old = np.divide(old, norms, out=np.zeros_like(old), where=norms > 0)
    assert unit_rows(x, dtype).tobytes() == old.tobytes()


def test_sha256_file_known_digest(tmp_path: Path) -> None:
    path = tmp_path / "abc"
    path.write_bytes(b"abc")
    assert sha256_file(path) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    big = tmp_path / "big"
    data = np.random.default_rng(1).bytes(3 * 1024 + 17)
    big.write_bytes(data)
    assert sha256_file(big, block=1024) == hashlib.sha256(data).hexdigest()  # several blocks and a tail


def test_atomic_writes_replace_whole_or_not_at_all(tmp_path: Path) -> None:
    path = tmp_path / "out.txt"
    atomic_write_text(path, "first\n")
    assert path.read_text(encoding="utf-8") == "first\n"
    atomic_write_bytes(path, b"second")
    with atomic_open(path, "wb", fsync=True, suffix=".part") as handle:
        handle.write(b"second")
    assert path.read_bytes() == b"second"
    with pytest.raises(RuntimeError, match="midway"), atomic_open(path, "w", encoding="utf-8") as handle:
        handle.write("half a file")
        raise RuntimeError("midway")
    assert path.read_bytes() == b"second"  # the old content stays
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.txt"]  # no temporary file left
    with pytest.raises(ValueError, match="mode='a'; valid: w, wb"), atomic_open(path, "a"):
        pass


def test_choose_device() -> None:
    torch = pytest.importorskip("torch")
    assert choose_device("cpu") == "cpu" and choose_device("cuda:1") == "cuda:1"
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert choose_device() == choose_device("auto") == choose_device("") == expected
