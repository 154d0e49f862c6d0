"""The core install (`pip install .`, no extras) runs the analyses on a word2vec file.

Each command runs in a subprocess in which the packages of every extra are unimportable
(tests/support/core_only.py), on vectors built so that the answers are known: one BATS relation whose pairs
differ by one offset (3CosAdd solves every question of it exactly), and SimLex-999 words with seeded vectors
(Spearman rho equal to scipy's on the same cosines).
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from wordembed.datasets.bats import parse_bats_file
from wordembed.datasets.similarity import load_word_similarity
from wordembed.paths import data_dir

ROOT = Path(__file__).resolve().parent.parent
CORE_ONLY = ROOT / "tests" / "support" / "core_only.py"
I01 = "1_Inflectional_morphology/I01 [noun - plural_reg].txt"


def _core_cli(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "lib")}
    return subprocess.run(
        [sys.executable, str(CORE_ONLY), *args], capture_output=True, text=True, env=env, timeout=300, check=False
    )


# Tried and fallen back from: torch (products on CUDA when present) and numba (the fused binning).
OPTIONAL = {"torch", "numba"}


def _assert_only_optional_imports(stderr: str) -> None:
    line = next(x for x in stderr.splitlines() if x.startswith("core-only: import attempts of extras: "))
    tried = set(ast.literal_eval(line.split(": ", 2)[2]))
    assert tried <= OPTIONAL, tried


@pytest.fixture(scope="module")
def vectors(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[tuple[str, str]], dict[str, np.ndarray]]:
    pairs = [(src, targets[0]) for src, targets in parse_bats_file(data_dir() / "BATS_3.0" / I01)]
    simlex = load_word_similarity("simlex999")
    rng = np.random.default_rng(7)
    dims = 64
    offset = np.zeros(dims)
    offset[0] = 6.0
    vec: dict[str, np.ndarray] = {}
    for src, tgt in pairs:
        vec[src] = rng.normal(size=dims)
        vec[tgt] = vec[src] + offset
    for w in pd.unique(simlex[["word1", "word2"]].to_numpy().ravel()):
        vec.setdefault(str(w), rng.normal(size=dims))
    path = tmp_path_factory.mktemp("core") / "vectors.txt"
    with path.open("w", encoding="utf-8") as f:
        f.write(f"{len(vec)} {dims}\n")
        for w, v in vec.items():
            f.write(w + " " + " ".join(f"{x:.6f}" for x in v) + "\n")
    return path, pairs, {w: np.array([float(f"{x:.6f}") for x in v]) for w, v in vec.items()}


@pytest.mark.slow
def test_core_install_solves_a_constructed_relation_exactly(vectors, tmp_path: Path) -> None:
    path, pairs, _ = vectors
    out = tmp_path / "analogy"
    done = _core_cli("analogy", "--model", str(path), "--method", "3CosAdd", "--n-boot", "0", "--out", str(out))
    assert done.returncode == 0, done.stderr
    _assert_only_optional_imports(done.stderr)
    rel = pd.read_csv(out / "analogy_by_relation.csv").set_index("relation")
    n = len(pairs)
    assert rel.loc["I01", "covered"] == n * (n - 1) and rel.loc["I01", "accuracy_covered"] == 1.0
    assert rel.loc["I01", "mrr"] == 1.0
    assert json.loads((out / "metrics.json").read_text())["provenance"]["versions"]["numpy"] == np.__version__


@pytest.mark.slow
def test_core_install_word_similarity_equals_scipy(vectors, tmp_path: Path) -> None:
    path, _, vec = vectors
    out = tmp_path / "wordsim"
    done = _core_cli("wordsim", "--model", str(path), "--out", str(out))
    assert done.returncode == 0, done.stderr
    _assert_only_optional_imports(done.stderr)
    simlex = load_word_similarity("simlex999")
    a = np.stack([vec[str(w)] for w in simlex["word1"]])
    b = np.stack([vec[str(w)] for w in simlex["word2"]])
    cos = (a * b).sum(1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)
    expected = stats.spearmanr(simlex["score"], cos).statistic
    summary = pd.read_csv(out / "wordsim_summary.csv").set_index("benchmark")
    assert summary.loc["simlex999", "covered"] == 999
    assert summary.loc["simlex999", "spearman"] == pytest.approx(expected, abs=1e-6)


@pytest.mark.slow
def test_core_install_all_pairs_distribution(vectors, tmp_path: Path) -> None:
    path, _, vec = vectors
    out = tmp_path / "similarity"
    words = tmp_path / "words.txt"
    words.write_text("\n".join(vec) + "\n", encoding="utf-8")
    done = _core_cli("similarity", "--model", str(path), "--words", str(words), "--out", str(out))
    assert done.returncode == 0, done.stderr
    _assert_only_optional_imports(done.stderr)
    m = json.loads((out / "metrics.json").read_text())["similarity"]
    x = np.stack(list(vec.values()))
    x = x / np.linalg.norm(x, axis=1, keepdims=True)
    iu = np.triu_indices(len(x), 1)
    cos = (x @ x.T)[iu]
    assert m["n_words"] == len(x) and m["n_pairs"] == len(cos)
    assert m["mean"] == pytest.approx(cos.mean(), abs=1e-6)


@pytest.mark.slow
def test_a_fresh_core_pip_install_runs_analogy_and_wordsim(vectors, tmp_path: Path) -> None:
    """The real thing: a new venv, `pip install <checkout>` with no extras (from the package registry, as a
    user's would), then the console script, from a folder outside the checkout."""
    path, pairs, _ = vectors
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    pip = subprocess.run(
        [str(venv / "bin" / "python"), "-m", "pip", "install", "-q", str(ROOT)],
        capture_output=True, text=True, timeout=900, check=False, cwd=tmp_path,
    )  # fmt: skip
    assert pip.returncode == 0, pip.stderr[-2000:]
    listed = subprocess.run(
        [str(venv / "bin" / "python"), "-m", "pip", "list", "--format=freeze"],
        capture_output=True, text=True, check=True,
    ).stdout.lower()  # fmt: skip
    installed = {line.split("==")[0].replace("_", "-") for line in listed.split()}
    assert "wordembed" in installed and not installed & {"torch", "transformers", "matplotlib", "papermill"}
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env["WORDEMBED_DATA"] = str(data_dir())
    cli = str(venv / "bin" / "wordembed")
    an = subprocess.run(
        [cli, "analogy", "--model", str(path), "--method", "3CosAdd", "--n-boot", "0", "--out", str(tmp_path / "a")],
        capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300, check=False,
    )  # fmt: skip
    assert an.returncode == 0, an.stderr
    rel = pd.read_csv(tmp_path / "a" / "analogy_by_relation.csv").set_index("relation")
    assert rel.loc["I01", "covered"] == len(pairs) * (len(pairs) - 1) and rel.loc["I01", "accuracy_covered"] == 1.0
    ws = subprocess.run(
        [cli, "wordsim", "--model", str(path), "--out", str(tmp_path / "w")],
        capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300, check=False,
    )  # fmt: skip
    assert ws.returncode == 0, ws.stderr
    summary = pd.read_csv(tmp_path / "w" / "wordsim_summary.csv").set_index("benchmark")
    assert summary.loc["simlex999", "covered"] == 999
