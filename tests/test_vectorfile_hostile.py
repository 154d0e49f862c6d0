"""Vector files a hostile reviewer built: non-finite values, empty files, damaged headers, full disks."""

from __future__ import annotations

import errno
import os
import tempfile
from pathlib import Path

import numpy as np
import pytest

from wordembed.embeddings import Embeddings
from wordembed.errors import DataFormatError, ParameterError, WordembedError
from wordembed.vectorfile import VectorFileWriteError, detect_format, read_vectors, write_word2vec


@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "NaN", "1e39"])  # 1e39 overflows float32 to inf
@pytest.mark.parametrize("header", [True, False])
def test_non_finite_text_value_is_refused_naming_file_and_line(
    tmp_path: Path, value: str, header: bool
) -> None:
    path = tmp_path / "v.txt"
    rows = ["a 1 2 3", f"b 1 {value} 3", "c 4 5 6"]
    path.write_text("\n".join((["3 3"] if header else []) + rows) + "\n", encoding="utf-8")
    line = 3 if header else 2
    with pytest.raises(
        DataFormatError, match=r"value 2 of word 'b' is .*inf|value 2 of word 'b' is nan"
    ) as err:
        read_vectors(path)
    assert (err.value.path, err.value.line) == (path, line)
    assert str(err.value).startswith(f"{path}:{line}: ")
    with pytest.raises(DataFormatError):
        read_vectors(path, words=["b", "c"])  # a requested word's vector is checked too
    assert read_vectors(path, words=["a", "c"]).words == ["a", "c"]  # unrequested rows are not parsed


def test_non_finite_binary_value_is_refused_naming_the_entry(tmp_path: Path) -> None:
    path = tmp_path / "v.bin"
    vectors = np.array([[1, 2], [3, np.nan], [5, 6]], dtype="<f4")
    body = b"".join(w.encode() + b" " + row.tobytes() + b"\n" for w, row in zip("abc", vectors, strict=True))
    path.write_bytes(b"3 2\n" + body)
    with pytest.raises(DataFormatError, match="value 2 of word 'b' is nan") as err:
        read_vectors(path, fmt="word2vec-binary")
    assert err.value.line == 3  # the header is line 1, entry b "line" 3


@pytest.mark.parametrize("fmt", ["auto", "glove", "word2vec", "word2vec-binary"])
def test_empty_file_is_an_error_naming_it(tmp_path: Path, fmt: str) -> None:
    path = tmp_path / "empty.txt"
    path.write_bytes(b"")
    with pytest.raises(DataFormatError, match="empty file") as err:
        read_vectors(path, fmt=fmt)
    assert err.value.path == path
    with pytest.raises(DataFormatError, match="empty file"):
        detect_format(path)


def test_a_word2vec_file_with_zero_words_is_still_valid(tmp_path: Path) -> None:
    path = tmp_path / "none.txt"
    path.write_text("0 5\n", encoding="utf-8")
    got = read_vectors(path)
    assert got.words == [] and got.vectors.shape == (0, 5)


@pytest.mark.parametrize("first", ["4 x", "4 300.5", "4 -3", "4 3x"])
@pytest.mark.parametrize("fmt", ["auto", "glove"])
def test_damaged_word2vec_header_is_reported_on_line_1(tmp_path: Path, first: str, fmt: str) -> None:
    path = tmp_path / "v.txt"
    path.write_text(f"{first}\na 1 2 3\nb 1 2 3\nc 1 2 3\nd 1 2 3\n", encoding="utf-8")
    with pytest.raises(DataFormatError, match="bad word2vec header") as err:
        read_vectors(path, fmt=fmt, words=["a"])  # with a word list line 1 used to be skipped, line 2 blamed
    assert (err.value.path, err.value.line) == (path, 1)


def test_one_dimensional_glove_with_a_numeral_first_word_is_still_glove(tmp_path: Path) -> None:
    path = tmp_path / "v.txt"
    path.write_text("4 0.5\nfive 0.25\n", encoding="utf-8")
    assert detect_format(path) == "glove"
    got = read_vectors(path)
    assert got.words == ["4", "five"]
    np.testing.assert_array_equal(got.vectors, [[0.5], [0.25]])


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf, 1e39])
def test_export_refuses_non_finite_vectors(tmp_path: Path, bad: float) -> None:
    vectors = np.array([[1.0, 2.0], [3.0, bad]])  # float64: 1e39 only overflows when cast to float32
    emb = Embeddings(["ok", "broken"], vectors)
    target = tmp_path / "out.txt"
    with pytest.raises(ParameterError, match=r"1 vector\(s\) hold nan, inf .*\['broken'\].*out\.txt"):
        write_word2vec(emb, target)
    with pytest.raises(ParameterError, match="broken"):
        write_word2vec(emb, target, binary=True)
    assert not target.exists() and list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("binary", [False, True])
def test_export_on_a_full_disk_is_one_line_naming_the_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, binary: bool
) -> None:
    """The temporary file is opened on /dev/full, so the kernel itself answers ENOSPC."""
    target = tmp_path / "out.txt"
    target.write_text("1 2\nold 1 2\n", encoding="utf-8")
    made: list[str] = []

    def full_mkstemp(
        prefix: str = "", dir: str | os.PathLike[str] | None = None, **_: object
    ) -> tuple[int, str]:
        name = str(Path(dir or tempfile.gettempdir()) / f"{prefix}full")
        made.append(name)
        return os.open("/dev/full", os.O_WRONLY), name

    if not Path("/dev/full").exists():
        pytest.skip("no /dev/full on this system")
    monkeypatch.setattr(tempfile, "mkstemp", full_mkstemp)
    emb = Embeddings(["king", "queen"], np.ones((2, 2), dtype=np.float32))
    with pytest.raises(VectorFileWriteError) as err:
        write_word2vec(emb, target, binary=binary)
    message = str(err.value)
    assert (
        message
        == f"cannot write vector file {target}: No space left on device; an earlier file of that name is unchanged"
    )
    assert "\n" not in message and err.value.path == target
    assert isinstance(err.value, WordembedError) and isinstance(err.value, OSError)
    assert isinstance(err.value.__cause__, OSError) and err.value.__cause__.errno == errno.ENOSPC
    assert target.read_text(encoding="utf-8") == "1 2\nold 1 2\n"  # the earlier export is intact
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.txt"]
