"""Word-vector files: our reader/writer against gensim's, and malformed files named by file:line."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
from gensim.models import KeyedVectors

from wordembed.embeddings import Embeddings
from wordembed.errors import DataFormatError, ParameterError
from wordembed.vectorfile import detect_format, read_vectors, write_word2vec, write_word2vec_text

WORDS = ["king", "queen", "Paris", "naïve", "café", "x"]


@pytest.fixture
def emb() -> Embeddings:
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(len(WORDS), 7)).astype(np.float32)
    vectors[5] = [1e-30, -3.4e38, 0.0, 1.0, -1.0, 123456.789, 1e-7]  # extremes must round-trip exactly
    return Embeddings(list(WORDS), vectors, model="t")


def _gensim_vectors(kv: KeyedVectors, words: list[str]) -> np.ndarray:
    return np.stack([kv[w] for w in words])


@pytest.mark.parametrize("binary", [False, True])
def test_ours_written_gensim_reads_equal(tmp_path: Path, emb: Embeddings, binary: bool) -> None:
    path = write_word2vec(emb, tmp_path / "v.txt", binary=binary)
    kv = KeyedVectors.load_word2vec_format(str(path), binary=binary)
    assert kv.index_to_key == WORDS
    np.testing.assert_array_equal(_gensim_vectors(kv, WORDS), emb.vectors)
    assert detect_format(path) == ("word2vec-binary" if binary else "word2vec")


@pytest.mark.parametrize("binary", [False, True])
def test_gensim_written_ours_reads_equal(tmp_path: Path, emb: Embeddings, binary: bool) -> None:
    kv = KeyedVectors(vector_size=emb.dim)
    kv.add_vectors(emb.words, emb.vectors)
    path = tmp_path / ("g.bin" if binary else "g.txt")
    kv.save_word2vec_format(str(path), binary=binary)
    got = read_vectors(path)  # format detected
    assert got.words == WORDS
    if binary:
        np.testing.assert_array_equal(got.vectors, emb.vectors)
    else:  # gensim writes text with its own precision: compare with what gensim itself reads back
        back = KeyedVectors.load_word2vec_format(str(path), binary=False)
        np.testing.assert_array_equal(got.vectors, _gensim_vectors(back, WORDS))
        np.testing.assert_allclose(got.vectors, emb.vectors, rtol=1e-5)


def test_binary_with_c_tool_newlines(tmp_path: Path, emb: Embeddings) -> None:
    """The original word2vec C tool ends each binary vector with a newline; gensim does not."""
    path = write_word2vec(emb, tmp_path / "c.bin", binary=True)  # ours writes the newline
    got = read_vectors(path, fmt="word2vec-binary")
    np.testing.assert_array_equal(got.vectors, emb.vectors)


def test_glove_text_no_header_and_subset(tmp_path: Path) -> None:
    path = tmp_path / "glove.txt"
    path.write_text("the 0.5 -1 2\nking 1 2 3\nqueen 1.5 2.5 3.5\n", encoding="utf-8")
    assert detect_format(path) == "glove"
    full = read_vectors(path)
    assert full.words == ["the", "king", "queen"]
    np.testing.assert_array_equal(full.vectors[1], [1, 2, 3])
    sub = read_vectors(path, words=["Queen", "carrot", "king"], lowercase=True)
    assert sub.words == ["Queen", "king"] and sub.missing == ["carrot"]
    np.testing.assert_array_equal(sub.vectors, [[1.5, 2.5, 3.5], [1, 2, 3]])
    strict = read_vectors(path, words=["Queen", "king"])
    assert strict.words == ["king"] and strict.missing == ["Queen"]


def test_write_text_is_atomic_and_skips_missing(tmp_path: Path, emb: Embeddings) -> None:
    sub = emb.subset(["king", "nope", "queen"])
    path = write_word2vec_text(sub, tmp_path / "out" / "v.txt")
    lines = path.read_text(encoding="utf-8").splitlines()
    assert lines[0] == "2 7" and lines[1].startswith("king ") and len(lines) == 3
    assert [p.name for p in path.parent.iterdir()] == ["v.txt"]
    with pytest.raises(ParameterError, match="whitespace"):
        write_word2vec_text(Embeddings(["a b"], np.zeros((1, 2))), tmp_path / "bad.txt")


@pytest.mark.parametrize(
    ("content", "line", "problem"),
    [
        ("2 3\na 1 2 3\nb 1 2\n", 3, "expected a word and 3 values, got 2"),
        ("2 3\na 1 2 3\nb 1 zwei 3\n", 3, "bad number 'zwei'"),
        ("3 3\na 1 2 3\nb 1 2 3\n", 1, "header says 3 words but the file has 2"),
        ("a 1 2 3\nb 1 2 3 4\n", 2, "expected a word and 3 values, got 4"),
        ("a 1 2 3\n\nb 1 2 3\n", 2, "empty line"),
    ],
)
def test_text_errors_name_file_and_line(tmp_path: Path, content: str, line: int, problem: str) -> None:
    path = tmp_path / "bad.txt"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(DataFormatError, match=problem) as err:
        read_vectors(path)
    assert err.value.path == path and err.value.line == line
    assert str(err.value).startswith(f"{path}:{line}: ")


def test_not_utf8_line_named(tmp_path: Path) -> None:
    path = tmp_path / "latin1.txt"
    path.write_bytes(b"a 1 2\ncaf\xe9 1 2\n")
    with pytest.raises(DataFormatError, match="not UTF-8") as err:
        read_vectors(path, fmt="glove")
    assert err.value.line == 2


def test_binary_truncated_and_count_mismatch(tmp_path: Path, emb: Embeddings) -> None:
    path = write_word2vec(emb, tmp_path / "v.bin", binary=True)
    data = path.read_bytes()
    cut = tmp_path / "cut.bin"
    cut.write_bytes(data[:-20])
    with pytest.raises(DataFormatError, match="fewer than 7 values") as err:
        read_vectors(cut, fmt="word2vec-binary")
    assert err.value.line == len(WORDS) + 1  # the last word, counting the header as line 1
    more = tmp_path / "more.bin"
    more.write_bytes(data.replace(b"6 7\n", b"7 7\n", 1))
    with pytest.raises(DataFormatError, match="header says 7 words but the file has 6"):
        read_vectors(more, fmt="word2vec-binary")
    fewer = tmp_path / "fewer.bin"
    fewer.write_bytes(data.replace(b"6 7\n", b"5 7\n", 1))
    with pytest.raises(DataFormatError, match="data after the 5 words"):
        read_vectors(fewer, fmt="word2vec-binary")


def test_duplicate_word_warns_keeps_first(tmp_path: Path) -> None:
    path = tmp_path / "dup.txt"
    path.write_text("a 1 2\nb 3 4\na 5 6\n", encoding="utf-8")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        got = read_vectors(path)
    assert got.words == ["a", "b"]
    np.testing.assert_array_equal(got.vectors[0], [1, 2])
    assert any(f"{path}:3" in str(w.message) for w in caught)


def test_bad_arguments(tmp_path: Path) -> None:
    with pytest.raises(ParameterError, match="valid formats"):
        read_vectors(tmp_path / "x.txt", fmt="fasttext")
    with pytest.raises(DataFormatError, match="does not exist"):
        read_vectors(tmp_path / "missing.txt")
