"""`wordembed embed` end to end on the real GloVe-50d, its word2vec export read back by gensim, and `store`."""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest
from gensim.models import KeyedVectors

from wordembed.cli import main
from wordembed.errors import ParameterError
from wordembed.sources import get_embeddings
from wordembed.store import EmbeddingStore

WORDS = ["king", "queen", "man", "woman", "prince", "apple", "car", "river", "zzqxjvw", "king", "the"]


@pytest.fixture
def word_file(tmp_path: Path) -> Path:
    path = tmp_path / "words.txt"
    path.write_text("\n".join(WORDS) + "\n", encoding="utf-8")
    return path


@pytest.mark.slow
def test_embed_glove_exports_word2vec_that_gensim_loads(
    tmp_path: Path, word_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store_root = tmp_path / "store"
    out = tmp_path / "out" / "glove.txt"
    argv = ["embed", "--model", "glove-50d", "--words", str(word_file), "--store", str(store_root)]
    assert main([*argv, "--out", str(out), "--no-progress"]) == 0
    printed = capsys.readouterr().out
    assert "9 / 10 words have vectors" in printed
    assert re.search(r"missing: zzqxjvw\b", printed)
    assert f"wrote 9 vectors to {out}" in printed

    kv = KeyedVectors.load_word2vec_format(str(out), binary=False)
    assert kv.vector_size == 50 and len(kv.index_to_key) == 9
    assert kv.index_to_key == [w for w in dict.fromkeys(WORDS) if w != "zzqxjvw"]
    # The first row of the published glove.6B.50d.txt: "the 0.418 0.24968 -0.41242 0.1217 ..."
    np.testing.assert_allclose(kv["the"][:4], [0.418, 0.24968, -0.41242, 0.1217], rtol=0, atol=1e-6)
    # The real GloVe geometry survives the round trip: king - man + woman is nearest to queen.
    best = kv.most_similar(positive=["king", "woman"], negative=["man"], topn=1)[0][0]
    assert best == "queen"

    # The store holds every word: an encoder with the stored fingerprint that refuses to encode gets them all.
    (entry,) = EmbeddingStore(store_root).entries()
    assert (entry.key, entry.n_words, entry.n_missing, entry.shape) == ("glove-50d", 9, 1, (50,))
    stored = EmbeddingStore(store_root).embed(
        _StoredOnly(entry.key, entry.fingerprint), WORDS, progress=False
    )
    assert stored.missing == ["zzqxjvw"] and stored.words == kv.index_to_key
    np.testing.assert_allclose(kv.vectors, stored.vectors, rtol=0, atol=1e-5)

    assert main(["store", "--store", str(store_root), "list"]) == 0
    listing = capsys.readouterr().out
    assert re.search(r"^glove-50d\s+[0-9a-f]{16}\s+9\s+1\s+50\s", listing, re.M), listing
    assert main(["store", "--store", str(store_root), "remove", "glove-50d"]) == 0
    assert "removed glove-50d (9 words" in capsys.readouterr().out
    assert EmbeddingStore(store_root).entries() == []


class _StoredOnly:
    """Has a stored entry's key and fingerprint, and fails if the store asks it to compute anything."""

    chunk_size = 1024

    def __init__(self, key: str, fingerprint: str) -> None:
        self.key, self._fingerprint = key, fingerprint

    def fingerprint(self) -> str:
        return self._fingerprint

    def encode(self, words: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        raise AssertionError(f"the store recomputed {list(words)}")


def test_bad_model_lists_valid_keys(
    word_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["embed", "--model", "no-such-model", "--words", str(word_file), "--store", str(tmp_path)])
    assert code == 2
    err = capsys.readouterr().err
    assert "'no-such-model' is neither a model key nor an existing file" in err
    for key in ("glove-50d", "minilm", "smollm2-135m"):
        assert key in err
    with pytest.raises(ParameterError, match="glove-50d"):
        get_embeddings("no-such-model", ["king"])


def test_vector_file_source_keeps_order_and_missing(tmp_path: Path) -> None:
    path = tmp_path / "tiny.txt"
    path.write_text("3 2\ncat 1.0 0.0\ndog 0.0 1.0\nemu 0.5 0.5\n", encoding="utf-8")
    emb = get_embeddings(path, ["emu", "yak", "cat", "emu"], progress=False)
    assert emb.words == ["emu", "cat"] and emb.missing == ["yak"]
    np.testing.assert_array_equal(emb.vectors, np.array([[0.5, 0.5], [1.0, 0.0]], dtype=np.float32))


class _ToyEncoder:
    key = "toy"
    chunk_size = 2

    def fingerprint(self) -> str:
        return "toy|1"

    def encode(self, words: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        vectors = np.array([[len(w), ord(w[0])] for w in words], dtype=np.float32)
        return vectors, np.array([w != "nope" for w in words])


def test_store_list_and_remove_commands(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    store = EmbeddingStore(tmp_path)
    assert main(["store", "--store", str(tmp_path), "list"]) == 0
    assert "is empty" in capsys.readouterr().out
    store.embed(_ToyEncoder(), ["a", "bb", "nope", "ccc"], progress=False)
    assert main(["store", "--store", str(tmp_path), "list"]) == 0
    listing = capsys.readouterr().out
    (entry,) = store.entries()
    short = entry.path.name.rsplit("-", 1)[-1]
    assert re.search(rf"^toy\s+{short}\s+3\s+1\s+2\s", listing, re.M), listing
    assert main(["store", "--store", str(tmp_path), "remove", "other"]) == 2
    assert "stored models: toy" in capsys.readouterr().err
    assert main(["store", "--store", str(tmp_path), "remove", short[:6]]) == 0
    assert "removed toy (3 words" in capsys.readouterr().out
    assert not entry.path.exists()
