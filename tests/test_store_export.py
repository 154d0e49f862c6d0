"""`wordembed store export`: word2vec text that our reader and gensim read back bit for bit, and one .npz."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from gensim.models import KeyedVectors
from test_store import CountingEncoder, chunk_files, data_file, expected

from wordembed.cli import main
from wordembed.errors import ParameterError, WordembedError
from wordembed.store import EmbeddingStore, export_entry
from wordembed.vectorfile import read_vectors

# float32 values that a short decimal would not give back: the extremes, subnormals, -0.0, 1/3
HARD = np.array(
    [
        np.finfo(np.float32).max,
        -np.finfo(np.float32).max,
        np.finfo(np.float32).tiny,
        np.float32(1e-45),
        -0.0,
        np.float32(1) / np.float32(3),
        np.float32(0.1),
        np.nextafter(np.float32(1), np.float32(2)),
    ],
    dtype=np.float32,
)


class HardEncoder(CountingEncoder):
    """CountingEncoder's vectors, except that "hard" gets every awkward float32 at once."""

    def vector(self, word: str) -> np.ndarray:
        if word == "hard":
            return HARD.copy()
        return super().vector(word)


WORDS = ["king", "hard", "zzabsent", "queen", "émigré", "apple"]


@pytest.fixture
def store(tmp_path: Path) -> EmbeddingStore:
    s = EmbeddingStore(tmp_path / "store")
    s.embed(HardEncoder(chunk_size=4), WORDS, progress=False)
    return s


def _bits(a: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(a, dtype=np.float32).view(np.uint32)


def test_word2vec_export_round_trips_bit_for_bit(
    store: EmbeddingStore, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out" / "toy.txt"
    assert main(["store", "--store", str(store.root), "export", "toy", "--to", "word2vec", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    short = store.entries()[0].path.name.rsplit("-", 1)[-1]
    assert printed == f"wrote 5 vectors of toy ({short}) to {out} as word2vec\n"
    stored = sorted(w for w in WORDS if not w.startswith("zz"))
    reference = expected(HardEncoder(), stored)
    assert out.read_text(encoding="utf-8").splitlines()[0] == "5 8"

    ours = read_vectors(out)
    assert ours.words == stored  # every stored word, sorted
    np.testing.assert_array_equal(_bits(ours.vectors), _bits(reference))

    kv = KeyedVectors.load_word2vec_format(str(out), binary=False)
    assert kv.index_to_key == stored
    np.testing.assert_array_equal(_bits(kv.vectors), _bits(reference))
    np.testing.assert_array_equal(_bits(kv["hard"]), _bits(HARD))


def test_export_of_chosen_words_in_their_order(
    store: EmbeddingStore, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    words = tmp_path / "words.txt"
    words.write_text("queen\nnever-stored\nking\nzzabsent\nqueen\n", encoding="utf-8")
    out = tmp_path / "some.txt"
    argv = ["store", "--store", str(store.root), "export", "toy", "--to", "word2vec", "--out", str(out)]
    assert main([*argv, "--words", str(words)]) == 0
    printed = capsys.readouterr().out.splitlines()
    assert printed[1] == "no vector stored for 2 words: never-stored, zzabsent"
    back = read_vectors(out)
    assert back.words == ["queen", "king"]
    np.testing.assert_array_equal(back.vectors, expected(HardEncoder(), ["queen", "king"]))


def test_npz_export_opens_with_numpy_alone(store: EmbeddingStore, tmp_path: Path) -> None:
    out = tmp_path / "toy.npz"
    done = export_entry(store, "toy", to="npz", out=out, words=["apple", "zzabsent", "hard"])
    assert (done.words, done.missing) == (["apple", "hard"], ["zzabsent"])
    with np.load(out, allow_pickle=False) as npz:
        assert sorted(npz.files) == ["fingerprint", "key", "layer", "missing", "vectors", "words"]
        assert npz["words"].tolist() == ["apple", "hard"] and npz["missing"].tolist() == ["zzabsent"]
        assert str(npz["key"]) == "toy" and str(npz["fingerprint"]) == HardEncoder().fingerprint()
        assert npz["vectors"].dtype == np.dtype("<f4")
        np.testing.assert_array_equal(_bits(npz["vectors"]), _bits(expected(HardEncoder(), ["apple", "hard"])))


@pytest.fixture
def layered(tmp_path: Path) -> tuple[EmbeddingStore, CountingEncoder]:
    s = EmbeddingStore(tmp_path / "layers")
    enc = CountingEncoder("decoder-all", dims=4, layers=3, chunk_size=2)
    s.embed(enc, ["a", "b", "zzc", "d"], progress=False)
    return s, enc


def _export(s: EmbeddingStore, *extra: str, to: str = "word2vec", out: Path) -> list[str]:
    return ["store", "--store", str(s.root), "export", "decoder-all", "--to", to, "--out", str(out), *extra]


def test_a_layer_stack_exports_one_chosen_layer(
    layered: tuple[EmbeddingStore, CountingEncoder], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    s, enc = layered
    out = tmp_path / "layer.txt"
    assert main(_export(s, out=out)) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1
    assert "--layer: store entry decoder-all (" in err and "holds 3 layers per word" in err
    assert "--layer N, N in -3 .. 2" in err

    full = expected(enc, ["a", "b", "d"])
    for layer, index in (("1", 1), ("-1", 2), ("0", 0)):
        assert main(_export(s, "--layer", layer, out=out)) == 0
        back = read_vectors(out)
        assert back.words == ["a", "b", "d"]
        np.testing.assert_array_equal(_bits(back.vectors), _bits(full[:, index, :]))
    capsys.readouterr()

    assert main(_export(s, "--layer", "3", out=out)) == 2
    assert "--layer 3: store entry decoder-all (" in capsys.readouterr().err
    assert main(_export(s, "--layer", "all", out=out)) == 2
    assert "--layer all: a word2vec file holds one vector per word" in capsys.readouterr().err
    with pytest.raises(SystemExit) as parse_error:  # refused while the command line is parsed
        main(_export(s, "--layer", "two", out=out))
    assert parse_error.value.code == 2
    assert "argument --layer: must be an integer layer index or 'all', got 'two'" in capsys.readouterr().err

    npz = tmp_path / "all.npz"
    assert main(_export(s, "--layer", "all", to="npz", out=npz)) == 0
    with np.load(npz, allow_pickle=False) as arrays:
        assert arrays["vectors"].shape == (3, 3, 4) and str(arrays["layer"]) == "all"
        np.testing.assert_array_equal(arrays["vectors"], full)


def test_export_errors_name_the_entry_or_parameter(
    store: EmbeddingStore, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "x.txt"
    with pytest.raises(ParameterError, match=r"--layer 1: store entry toy \([0-9a-f]{16}\) holds one vector"):
        export_entry(store, "toy", to="word2vec", out=out, layer=1)
    with pytest.raises(ParameterError, match="no store entry matches 'nope'.*stored models: toy"):
        export_entry(store, "nope", to="word2vec", out=out)
    store.embed(HardEncoder(version="v2", chunk_size=4), ["king"], progress=False)  # a second toy entry
    with pytest.raises(ParameterError, match="store entry 'toy': 2 entries of this model are stored"):
        export_entry(store, "toy", to="npz", out=out)
    v2 = next(e for e in store.entries() if "v2" in e.fingerprint).path.name.rsplit("-", 1)[-1]
    done = export_entry(store, v2[:8], to="word2vec", out=out)
    assert done.words == ["king"]

    v1 = next(e for e in store.entries() if "v1" in e.fingerprint)
    sidecar = chunk_files(store, HardEncoder(chunk_size=4))[0]
    data = data_file(sidecar)
    data.write_bytes(data.read_bytes()[:-5])
    short = v1.path.name.rsplit("-", 1)[-1]
    with pytest.raises(WordembedError, match=rf"store entry toy \(toy-{short}\): chunk {data.name} cannot be"):
        export_entry(store, short, to="word2vec", out=out)
    assert main(["store", "--store", str(store.root), "export", short, "--to", "npz", "--out", str(out)]) == 2
    assert f"chunk {data.name} cannot be trusted" in capsys.readouterr().err


@pytest.mark.parametrize("to", ["word2vec", "npz"])
def test_a_failed_export_write_names_the_file(store: EmbeddingStore, tmp_path: Path, to: str) -> None:
    from wordembed.vectorfile import VectorFileWriteError

    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the output folder should be", encoding="utf-8")
    out = blocker / f"toy.{to}"
    with pytest.raises(VectorFileWriteError, match=rf"^cannot write vector file {out}: ") as err:
        export_entry(store, "toy", to=to, out=out)
    assert "\n" not in str(err.value)
    assert blocker.read_text(encoding="utf-8") == "a file where the output folder should be"
