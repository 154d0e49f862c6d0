"""What the README's "Extending" section promises, done in a temporary registry: a word-similarity set from a
file, a task, an analogy solver and a model backend.

Each extension is one registration; the registry is as it was after the ``with`` block, so nothing leaks into
the other tests.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import numpy as np
import pandas as pd
import pytest

from wordembed.embeddings import Embeddings
from wordembed.errors import ParameterError, WordembedError
from wordembed.results import load_results
from wordembed.tasks.base import TASKS, Task
from wordembed.tasks.result import Result
from wordembed.tasks.scores import Metric, melt
from wordembed.tasks.word_similarity import SIMILARITY_SETS, WordSimilarity, similarity_set_from_file

COSINES = (0.95, 0.7, 0.4, 0.0, -0.5)
SCORES = (5.0, 4.0, 2.0, 3.0, 1.0)
RHO = 0.9  # ranks (5, 4, 3, 2, 1) against (5, 4, 2, 3, 1): 1 - 6 * 2 / (5 * 24)


def _circle(cosines: tuple[float, ...]) -> Embeddings:
    """Words x_i on the first axis and y_i at angle arccos(cosines[i]) from it: cos(x_i, y_i) is exact."""
    words, rows = [], []
    for i, cos in enumerate(cosines):
        words += [f"x{i}", f"y{i}"]
        rows += [[1.0, 0.0], [cos, np.sqrt(1 - cos**2)]]
    return Embeddings(words, np.array(rows, dtype=np.float32), model="circle")


def test_a_new_word_similarity_set_from_a_file(tmp_path: Path) -> None:
    path = tmp_path / "tiny.tsv"
    path.write_text("".join(f"X{i}\ty{i}\t{s}\n" for i, s in enumerate(SCORES)), encoding="utf-8")  # X: lowercased
    emb = _circle(COSINES)
    with SIMILARITY_SETS.temporary(tiny=similarity_set_from_file(path)):
        task = WordSimilarity(sets=["tiny"], bootstrap=0)
        assert task.words() == sorted(f"{c}{i}" for i in range(5) for c in "xy")
        result = task.run(emb)
    summary = result.tables["wordsim_summary"].iloc[0]
    assert (summary["benchmark"], summary["pairs"], summary["covered"]) == ("tiny", 5, 5)
    assert summary["spearman"] == pytest.approx(RHO)
    np.testing.assert_allclose(result.tables["wordsim_pairs"]["cosine"], COSINES, atol=1e-6)
    assert result.scores.loc[0, "value"] == pytest.approx(RHO) and result.scores.loc[0, "dataset"] == "tiny"
    assert "tiny" not in SIMILARITY_SETS  # the registry is back as it was
    with pytest.raises(ParameterError, match=r"parameter 'sets': unknown set\(s\) \['tiny'\]; valid: simlex999"):
        WordSimilarity(sets=["tiny"])


class MeanNorm(Task):
    """A new task: the mean vector length of some words (a toy, with everything a real one needs)."""

    name: ClassVar[str] = "mean_norm"
    vocabulary: list[str]

    def words(self) -> list[str]:
        return list(self.vocabulary)

    def run(self, embeddings: Embeddings) -> Result:
        covered = embeddings.subset(self.vocabulary)
        summary = pd.DataFrame(
            {"asked": [len(self.vocabulary)], "words": [len(covered)],
             "mean_norm": [float(np.linalg.norm(covered.vectors, axis=1).mean())]}
        )  # fmt: skip
        summary["coverage"] = summary["words"] / summary["asked"]
        scores = melt(
            summary, [Metric("mean_norm", "mean_norm", "words")], coverage="coverage", model=embeddings.model,
            task=self.name, dataset="toy", variant="raw", level="overall", subset="all", method="l2",
        )  # fmt: skip
        metrics = {"model": embeddings.model, "norms": summary.iloc[0].to_dict()}
        return Result.of(self, "norms", {"norms_summary": summary}, scores, metrics)


def test_a_new_task_in_a_temporary_registry(tmp_path: Path) -> None:
    emb = Embeddings(["a", "b"], np.array([[3.0, 0.0], [0.0, 4.0]], dtype=np.float32), model="toy-model")
    with TASKS.temporary(mean_norm=MeanNorm):
        task = TASKS["mean_norm"](vocabulary=["a", "b", "absent"])
        task.run(emb).save(tmp_path / "toy-model" / "08_norms")
        with pytest.raises(ParameterError, match="mean_norm: parameter 'vocabulary' is required; unknown parameter 'vocab'; valid: vocabulary"):
            TASKS["mean_norm"](vocab=["a"])
    assert "mean_norm" not in TASKS
    scores = load_results(tmp_path)
    row = scores.iloc[0]
    assert (row["model"], row["task"], row["metric"], row["n"]) == ("toy-model", "mean_norm", "mean_norm", 2)
    assert row["value"] == pytest.approx(3.5) and row["coverage"] == pytest.approx(2 / 3)
    back = Result.load(tmp_path / "toy-model" / "08_norms")
    assert back.setup["norms"]["parameters"] == {"vocabulary": ["a", "b", "absent"]}
    assert back.tables["norms_summary"]["mean_norm"].iloc[0] == pytest.approx(3.5)


def _cos_a_prime(s_a: np.ndarray, s_ap: np.ndarray) -> np.ndarray:
    return s_ap


def _nothing(s_b: np.ndarray, cand_sq: np.ndarray) -> np.ndarray:
    return np.zeros_like(s_b)


def _left_only(left: np.ndarray, right: np.ndarray, shift: np.ndarray | None, out: np.ndarray) -> np.ndarray:
    out[...] = left
    return out


@dataclass(frozen=True)
class _Relation:
    id: str
    name: str
    group: str
    kind: str
    pairs: tuple[tuple[str, tuple[str, ...]], ...]


def test_a_new_analogy_solver_in_a_temporary_registry() -> None:
    """A solver is one registry entry (its left and right terms and how they combine): here ``argmax cos(d,
    a')``, whose predictions are checked against a brute-force nearest neighbour; BATS and Google both ask it."""
    from wordembed.analyses.analogy import solve_bats, solve_google
    from wordembed.tasks.analogies import Analogies
    from wordembed.tasks.solvers import SOLVERS, Solver

    rng = np.random.default_rng(0)
    words = [f"w{i}" for i in range(30)]
    emb = Embeddings(words, rng.normal(size=(30, 5)).astype(np.float32), model="toy")
    rel = _Relation("X01", "toy", "toy", "semantic", tuple((f"w{i}", (f"w{i + 10}",)) for i in range(5)))
    near = Solver("NearAPrime", "pairwise", ("bats", "google"), "argmax cos(d, a')", "-", _cos_a_prime, _nothing,
                  _left_only)  # fmt: skip
    with SOLVERS.temporary(NearAPrime=near):
        assert Analogies(methods=["NearAPrime"], dataset="google").solvers == ["NearAPrime"]
        q = solve_bats(emb, [rel], methods=["NearAPrime"], candidates=words, n_boot=0).questions
        google = pd.DataFrame({"section": "s", "a": ["w0", "w1"], "b": ["w10", "w11"], "c": ["w1", "w0"],
                               "d": ["w11", "w10"]})  # fmt: skip
        g = solve_google(emb, google, methods=["NearAPrime"], candidates=words, n_boot=0).questions
    assert "NearAPrime" not in SOLVERS
    unit = emb.vectors / np.linalg.norm(emb.vectors, axis=1, keepdims=True)
    index = {w: i for i, w in enumerate(words)}
    for frame, answers in ((q, {f"w{i}": f"w{i + 10}" for i in range(5)}), (g, {})):
        for row in frame.itertuples():
            cos = unit @ unit[index[row.a_prime]]
            for w in {row.a, row.b, row.a_prime, answers.get(row.a, row.a_prime)}:
                cos[index[w]] = -np.inf  # exclusions: a, its answers, b
            assert row.prediction == words[int(np.argmax(cos))]
    assert len(q) == 20 and len(g) == 2
    with pytest.raises(ParameterError, match=r"analogy method\(s\) \['NearAPrime'\] unknown"):
        solve_bats(emb, [rel], methods=["NearAPrime"], candidates=words, n_boot=0)


TOY_BACKEND = '''
"""A toy backend: each word's vector is seeded by the artefact's seed and the word's bytes."""
import hashlib

import numpy as np

CALLS = []


class ToyEncoder:
    def __init__(self, key, seed, dims):
        self.key, self.seed, self.dims, self.chunk_size = key, seed, dims, 1024

    def fingerprint(self):
        return f"toy seed={self.seed} dims={self.dims}"

    def encode(self, words):
        CALLS.append(list(words))
        rows = [np.random.default_rng([self.seed, int(hashlib.sha256(w.encode()).hexdigest()[:8], 16)])
                .standard_normal(self.dims) for w in words]
        return np.asarray(rows, dtype=np.float32).reshape(len(words), self.dims), np.ones(len(words), dtype=bool)


def from_spec(spec, artifact, device):
    return ToyEncoder(spec.key, int(artifact.read_text()), int(spec.options["dims"]))
'''


def test_a_new_model_backend_in_a_temporary_registry(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The README's two files: a backend module (``from_spec``) and its entries in BACKENDS / BACKEND_OPTIONS;
    then a YAML. The vectors come through the store like any model's, and a typo in its options is refused."""
    import importlib
    import sys

    import yaml

    from wordembed.models.backends import BACKEND_OPTIONS, BACKENDS, BackendOptions
    from wordembed.sources import get_embeddings

    (tmp_path / "toy_backend_for_test.py").write_text(TOY_BACKEND, encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))

    class ToyOptions(BackendOptions):
        dims: int = 4

    monkeypatch.setitem(BACKENDS, "toy", "toy_backend_for_test")
    monkeypatch.setitem(BACKEND_OPTIONS, "toy", ToyOptions)
    monkeypatch.setenv("WORDEMBED_STORE", str(tmp_path / "store"))
    (tmp_path / "toy.seed").write_text("7", encoding="utf-8")
    spec = {"key": "toy", "family": "encoder", "backend": "toy", "description": "toy", "params": 10, "dims": 3,
            "source": {"path": str(tmp_path / "toy.seed")}, "options": {"dims": 3}}
    path = tmp_path / "toy.yaml"
    path.write_text(yaml.safe_dump(spec), encoding="utf-8")
    module = importlib.import_module("toy_backend_for_test")

    emb = get_embeddings(str(path), ["cat", "dog", "cat"], progress=False)
    expected = module.ToyEncoder("toy", 7, 3).encode(["cat", "dog"])[0]
    assert emb.words == ["cat", "dog"] and np.array_equal(emb.vectors, expected)
    calls = len(module.CALLS)
    again = get_embeddings(str(path), ["dog"], progress=False)  # from the store: the backend is not called
    assert np.array_equal(again.vectors, expected[1:]) and len(module.CALLS) == calls

    spec["options"] = {"dimz": 3}
    path.write_text(yaml.safe_dump(spec), encoding="utf-8")
    with pytest.raises(WordembedError, match="dimz") as info:
        get_embeddings(str(path), ["cat"], progress=False)
    assert "\n" not in str(info.value)
    sys.modules.pop("toy_backend_for_test", None)
