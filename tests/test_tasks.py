"""The task layer: one contract for the CLI and notebook 04 (issue 9).

Unit tests run on planted vectors: BATS I01 (regular plurals) with ``plural = singular + offset``, so 3CosAdd
answers every I01 question (2,450 of the 98,000 BATS questions; every other relation is uncovered), and a tiny
word-similarity set whose cosines are built to a known rank order. The slow test runs ``wordembed analogy`` /
``wordembed wordsim`` and notebook 04 (papermill) on the same parameters and compares every file.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from wordembed.datasets import load_bats
from wordembed.embeddings import Embeddings
from wordembed.errors import ParameterError
from wordembed.results import SCORE_COLUMNS, load_results
from wordembed.tasks.analogies import Analogies, AnalogiesResult
from wordembed.tasks.candidates import CandidateWords, candidate_name
from wordembed.tasks.result import Result
from wordembed.tasks.word_similarity import SIMILARITY_SETS, WordSimilarity

I01_PAIRS = 50
BATS_PAIRWISE = 40 * 50 * 49
DISTRACTORS = 300
TINY_SET = pd.DataFrame(
    {"word1": ["a0", "a1", "a2", "a3"], "word2": ["b0", "b1", "b2", "b3"], "score": [4.0, 2.0, 3.0, 1.0]}
)
TINY_COSINES = (0.9, 0.5, 0.1, -0.3)
TINY_RHO = 0.8  # ranks (4, 3, 2, 1) against (4, 2, 3, 1): 1 - 6 * 2 / (4 * 15)


def _planted(model: str = "planted") -> tuple[Embeddings, list[str]]:
    """I01's words with plural = singular + offset, random distractors, and the tiny set's pairs on a circle
    (cos(a_i, b_i) = TINY_COSINES[i]); returns the embeddings and the analogy candidates."""
    rng = np.random.default_rng(7)
    dims = 64
    offset = np.zeros(dims)
    offset[0] = 6.0
    vec: dict[str, np.ndarray] = {}
    for source, answers in next(r for r in load_bats() if r.id == "I01").pairs:
        vec.setdefault(source, rng.normal(size=dims))
        for answer in answers:
            vec.setdefault(answer, vec[source] + offset)
    candidates = [*vec, *(f"distractor{i}" for i in range(DISTRACTORS))]
    for word in candidates[len(vec) :]:
        vec[word] = rng.normal(size=dims)
    for i, cos in enumerate(TINY_COSINES):
        a, b = np.zeros(dims), np.zeros(dims)
        a[1], b[1], b[2] = 1.0, cos, np.sqrt(1 - cos**2)
        vec[f"a{i}"], vec[f"b{i}"] = a, b
    return Embeddings(list(vec), np.stack(list(vec.values())).astype(np.float32), model=model), candidates


@pytest.fixture(scope="module")
def planted() -> tuple[Embeddings, list[str]]:
    return _planted()


@pytest.fixture(scope="module")
def bats(planted: tuple[Embeddings, list[str]]) -> AnalogiesResult:
    emb, words = planted
    task = Analogies(methods=["3CosAdd", "SimilarToB"], candidates=CandidateWords(words=words, name="planted"),
                     bootstrap=20)  # fmt: skip
    return task.run(emb)


@pytest.fixture(scope="module")
def wordsim(planted: tuple[Embeddings, list[str]]) -> Result:
    with SIMILARITY_SETS.temporary(tiny=lambda: TINY_SET.copy()):
        return WordSimilarity(sets=["tiny"], bootstrap=0).run(planted[0])


# ------------------------------------------------------------------------------------------- the analyses
def test_analogies_solve_the_planted_relation(bats: AnalogiesResult) -> None:
    rel = bats.by_relation.set_index(["method", "relation"])
    assert rel.loc[("3CosAdd", "I01"), "covered"] == I01_PAIRS * (I01_PAIRS - 1)
    assert rel.loc[("3CosAdd", "I01"), "accuracy_covered"] == 1.0
    overall = bats.overall.set_index("method")
    assert overall.loc["3CosAdd", "questions"] == BATS_PAIRWISE
    assert overall.loc["3CosAdd", "accuracy"] == pytest.approx(I01_PAIRS * (I01_PAIRS - 1) / BATS_PAIRWISE)
    i01_words = {w for s, answers in next(r for r in load_bats() if r.id == "I01").pairs for w in (s, *answers)}
    assert bats.metrics["candidates"]["size"] == len(bats.texts["candidates.txt"].split())
    assert bats.metrics["candidates"]["size"] == len(i01_words) + DISTRACTORS
    assert bats.setup["bats"]["parameters"]["methods"] == ["3CosAdd", "SimilarToB"]


def test_word_similarity_has_the_planted_rho(wordsim: Result) -> None:
    row = wordsim.tables["wordsim_summary"].iloc[0]
    assert row["benchmark"] == "tiny" and row["covered"] == 4
    assert row["spearman"] == pytest.approx(TINY_RHO)
    np.testing.assert_allclose(wordsim.tables["wordsim_pairs"]["cosine"], TINY_COSINES, atol=1e-6)


# ------------------------------------------------------------------------------------------- the scores
def test_scores_equal_the_summary_tables(bats: AnalogiesResult, wordsim: Result) -> None:
    assert list(bats.scores.columns) == list(SCORE_COLUMNS)
    s = bats.scores.set_index(["level", "subset", "method", "metric"])
    for row in bats.overall.to_dict("records"):
        got = s.loc[("overall", "all", row["method"], "accuracy")]
        assert (got["value"], got["ci_low"], got["ci_high"]) == (row["accuracy"], row["accuracy_low"], row["accuracy_high"])
        assert got["n"] == row["questions"] and got["coverage"] == row["coverage"]
        assert s.loc[("overall", "all", row["method"], "top5"), "value"] == row["top5"]
        assert s.loc[("overall", "all", row["method"], "accuracy_covered"), "n"] == row["covered"]
    for row in bats.by_group.to_dict("records"):
        assert s.loc[(row["level"], row["group"], row["method"], "mrr"), "value"] == row["mrr"]
    for row in bats.by_relation.to_dict("records"):
        got = s.loc[("relation", row["relation"], row["method"], "accuracy")]
        assert got["value"] == row["accuracy"] or (np.isnan(got["value"]) and np.isnan(row["accuracy"]))
    # every summary row appears once per metric: 5 metrics x (2 overall + 12 group/kind + 80 relation rows)
    assert len(bats.scores) == 5 * (len(bats.overall) + len(bats.by_group) + len(bats.by_relation))
    assert set(bats.scores["task"]) == {"analogies"} and set(bats.scores["variant"]) == {"raw"}
    ws = wordsim.scores.iloc[0]
    assert (ws["task"], ws["dataset"], ws["metric"], ws["n"]) == ("word_similarity", "tiny", "spearman", 4)
    assert ws["value"] == pytest.approx(TINY_RHO) and np.isnan(ws["ci_low"])  # bootstrap 0: no interval


# ------------------------------------------------------------------------------------------- save / load
def test_result_save_load_round_trip(bats: AnalogiesResult, wordsim: Result, tmp_path: Path) -> None:
    combined = Result.combine(bats, wordsim)
    combined.save(tmp_path)
    assert (tmp_path / "bats_questions.parquet").is_file() and not (tmp_path / "bats_questions.csv").exists()
    assert (tmp_path / "scores.csv").is_file() and (tmp_path / "scores.meta.json").is_file()
    back = Result.load(tmp_path)
    assert set(back.tables) == set(combined.tables)
    for name, table in combined.tables.items():
        pd.testing.assert_frame_equal(back.tables[name], table, check_dtype=False, obj=name)
    pd.testing.assert_frame_equal(back.scores, combined.scores)
    assert back.texts == combined.texts and back.setup == json.loads(json.dumps(combined.setup))
    assert back.metrics["bats"]["overall"]["3CosAdd"]["accuracy"] == bats.overall["accuracy"].iloc[0]
    assert "commit" in back.metrics["provenance"]
    typed = AnalogiesResult(**{k: getattr(back, k) for k in ("tables", "scores", "setup", "metrics", "texts")})
    pd.testing.assert_frame_equal(typed.overall, bats.overall, check_dtype=False)  # its one analogies section
    typed.setup["google"] = typed.setup["bats"]
    with pytest.raises(ValueError, match="one dataset"):
        _ = typed.overall  # two analogies sections: say which table (typed.tables["google_overall"])
    one = AnalogiesResult.load(_saved(bats, tmp_path / "bats"))
    pd.testing.assert_frame_equal(one.overall, bats.overall, check_dtype=False)
    assert one.analysis().to_dict()["overall"].keys() == bats.analysis().to_dict()["overall"].keys()


def _saved(result: Result, folder: Path) -> Path:
    result.save(folder)
    return folder


def test_combine_refuses_clashing_contents(bats: AnalogiesResult, planted: tuple[Embeddings, list[str]]) -> None:
    emb, words = planted
    other = Analogies(methods=["3CosAdd"], candidates=CandidateWords(words=words[:150], name="fewer"), bootstrap=0)
    with pytest.raises(ParameterError, match="different contents"):
        Result.combine(bats, other.run(emb))


def test_load_results_stacks_every_scores_table(tmp_path: Path) -> None:
    for model in ("m1", "m2"):
        emb = _planted(model)[0]
        with SIMILARITY_SETS.temporary(tiny=lambda: TINY_SET.copy()):
            WordSimilarity(sets=["tiny"], bootstrap=0).run(emb).save(tmp_path / model / "04_analogies")
    (tmp_path / "m2" / "notes").mkdir()  # folders without scores are skipped
    scores = load_results(tmp_path)
    assert list(scores.columns) == [*SCORE_COLUMNS, "source"]
    assert list(scores["model"]) == ["m1", "m2"] and list(scores["source"]) == ["m1/04_analogies", "m2/04_analogies"]
    assert scores["value"].to_numpy() == pytest.approx([TINY_RHO, TINY_RHO])
    assert load_results(tmp_path / "m2" / "notes").empty
    with pytest.raises(ParameterError, match="not a folder"):
        load_results(tmp_path / "absent")


# ------------------------------------------------------------------------------------------- parameters
@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"methods": ["3CosFoo"]}, "analogies: parameter 'methods': unknown solver(s) ['3CosFoo']"),
        ({"bootstrap": -1}, "analogies: parameter 'bootstrap': Input should be greater than or equal to 0"),
        ({"bootstrap": 10**6}, "parameter 'bootstrap': Input should be less than or equal to 100000"),
        ({"seed": "3"}, "parameter 'seed': Input should be a valid integer"),
        ({"boostrap": 10}, "analogies: unknown parameter 'boostrap'; valid: dataset, methods, candidates"),
        ({"dataset": "google", "methods": ["LRCos"]}, "methods ['LRCos'] cannot be asked on google"),
        ({"keep_question_words": "no"}, "parameter 'keep_question_words': Input should be a valid boolean"),
    ],
)
def test_a_bad_parameter_is_one_line_naming_it(values: dict, message: str) -> None:
    with pytest.raises(ParameterError) as err:
        Analogies(**values)
    assert message in str(err.value) and "\n" not in str(err.value)


def test_defaults_come_from_the_study_schema() -> None:
    from wordembed.study import PARAMETERS
    from wordembed.tasks.analogies import supported_methods

    task = Analogies(candidates=CandidateWords(words=["x"]))
    assert task.solvers == PARAMETERS["analogy_methods"].default == ["3CosAdd", "3CosMul", "LRCos"]
    assert task.bootstrap == PARAMETERS["bootstrap"].default and task.seed == PARAMETERS["seed"].default
    assert Analogies(dataset="google", candidates=CandidateWords(words=["x"])).solvers == ["3CosAdd", "3CosMul"]
    assert supported_methods("google", ["3CosAdd", "LRCos"]) == ["3CosAdd"] == supported_methods("google", ["LRCos"])
    assert [candidate_name(m, "wordnet") for m in ("common", "bats", "bats+vocabulary")] == [
        "common", "bats", "bats+wordnet"]  # fmt: skip
    assert candidate_name("bats+vocabulary", "bats") == "bats"
    assert candidate_name("bats+vocabulary", "/tmp/my_words.txt") == "bats+my_words"


# ------------------------------------------------------------------------------------------- controls
def test_controls_table_equals_analogy_controls(planted: tuple[Embeddings, list[str]]) -> None:
    """The task re-runs the Analogies and WordSimilarity tasks per variant; the analysis function the notebook
    used before gives the same table and records."""
    from wordembed.analyses.analogy import Candidates
    from wordembed.analyses.controls import analogy_controls
    from wordembed.tasks.controls import AnisotropyControls
    from wordembed.tasks.result import _same

    emb, words = planted
    task = AnisotropyControls(candidates=CandidateWords(words=words, name="planted", models=["planted"]), bootstrap=20)
    result = task.run(emb)
    cand = Candidates.from_embeddings(emb, words, name="planted", models=["planted"])
    records, table = analogy_controls(emb, load_bats(), cand, abtt_components=-1, n_boot=20, seed=0)
    pd.testing.assert_frame_equal(result.tables["controls"], table)
    assert list(table["variant"]) == ["centered", "abtt1", "standardized"]
    assert _same(result.metrics["controls"], records)
    scores = result.scores
    assert set(scores["variant"]) == {"centered", "abtt1", "standardized"} and set(scores["model"]) == {"planted"}
    got = scores[(scores.metric == "accuracy") & (scores.level == "overall")].set_index("variant")["value"]
    assert got.to_dict() == dict(zip(table["variant"], table["bats_3CosAdd"], strict=True))


# ------------------------------------------------------------------------------------------- solvers
def test_solver_registry_terms_equal_the_scorer() -> None:
    """Each registry entry scores like :mod:`wordembed.analyses.analogy`'s ``_Scorer`` (its if chains), so
    analogy.py can take its terms from the registry without changing a number."""
    from wordembed.analyses import analogy
    from wordembed.study import ANALOGY_METHODS
    from wordembed.tasks.solvers import EPSILON, SOLVERS

    assert tuple(SOLVERS) == analogy.METHODS == ANALOGY_METHODS and EPSILON == analogy.EPSILON
    assert tuple(m for m in SOLVERS if SOLVERS[m].kind == "pairwise") == analogy.PAIRWISE_METHODS
    assert tuple(m for m in SOLVERS if "google" in SOLVERS[m].datasets) == analogy.GOOGLE_METHODS
    assert tuple(m for m in SOLVERS if SOLVERS[m].kind != "pairwise") == analogy.SET_METHODS
    rng = np.random.default_rng(1)
    words = [f"w{i}" for i in range(12)]
    emb = Embeddings(words, rng.normal(size=(12, 8)).astype(np.float32))
    cand = analogy.Candidates.from_embeddings(emb, [*words[6:], *words[:2]])
    scorer = analogy._Scorer(words[:6], emb, cand)
    ia, iap, ib = np.array([0, 1, 2]), np.array([3, 4, 5]), np.array([1, 5])
    s, g = scorer.s, scorer.gram
    for name in analogy.PAIRWISE_METHODS:
        solver = SOLVERS[name]
        left, right = solver.left(s[ia], s[iap]), solver.right(s[ib], cand.squared_norms)
        np.testing.assert_allclose(left, scorer.left(name, ia, iap), rtol=1e-6, err_msg=name)
        np.testing.assert_allclose(right, scorer.right(name, ib), rtol=1e-6, err_msg=name)
        shift = (g[ib][:, iap] - g[ib][:, ia])[:, :, None] if solver.needs_shift else None
        shape = (len(ib), len(ia), s.shape[1])
        mine = solver.combine(left[None], right[:, None], shift, np.empty(shape, np.float32))
        theirs = scorer.combine(name, left[None], right[:, None], shift)
        np.testing.assert_allclose(mine, theirs, rtol=1e-6, err_msg=name)


# ------------------------------------------------------------------------------------------- CLI = notebook
NOTEBOOK_PARAMETERS = {
    "model": "glove-50d",
    "models": ["glove-50d"],
    "vocabulary": "wordnet",
    "vocab_limit": 300,
    "seed": 0,
    "analogy_methods": ["3CosAdd", "3CosMul"],
    "analogy_candidates": "common",
    "bootstrap": 20,
}


@pytest.mark.slow
@pytest.mark.notebooks
def test_cli_and_notebook_04_write_identical_tables(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import papermill

    from wordembed import paths
    from wordembed.cli import main

    monkeypatch.setenv("WORDEMBED_STORE", str(tmp_path / "store"))  # GloVe from the model cache, nothing kept
    p = NOTEBOOK_PARAMETERS
    notebook = tmp_path / "notebook"
    papermill.execute_notebook(
        str(paths.notebooks_dir() / "04_analogies.ipynb"), str(tmp_path / "04.ipynb"),
        parameters={**p, "output_dir": str(notebook)}, kernel_name="python3", progress_bar=False,
        cwd=str(paths.project_root()),
    )  # fmt: skip
    cli = tmp_path / "cli"
    argv = ["analogy", "--model", p["model"], "--vocab", p["vocabulary"], "--vocab-limit", str(p["vocab_limit"]),
            "--seed", str(p["seed"]), "--method", *p["analogy_methods"], "--candidates", p["analogy_candidates"],
            "--models", *p["models"], "--n-boot", str(p["bootstrap"]), "--out", str(cli / "analogy")]  # fmt: skip
    assert main(argv) == 0
    assert main(["wordsim", "--model", p["model"], "--n-boot", str(p["bootstrap"]), "--out", str(cli / "wordsim")]) == 0

    tables = ["bats_questions", "bats_by_relation", "bats_by_group", "bats_overall"]
    for name in tables:
        pd.testing.assert_frame_equal(pd.read_parquet(cli / "analogy" / f"{name}.parquet"),
                                      pd.read_parquet(notebook / f"{name}.parquet"), obj=name)  # fmt: skip
    for name in tables[1:]:
        assert (cli / "analogy" / f"{name}.csv").read_bytes() == (notebook / f"{name}.csv").read_bytes(), name
    assert (cli / "analogy" / "candidates.txt").read_bytes() == (notebook / "candidates.txt").read_bytes()
    for name in ("wordsim_summary", "wordsim_pairs"):
        assert (cli / "wordsim" / f"{name}.csv").read_bytes() == (notebook / f"{name}.csv").read_bytes(), name
    # the scores: the CLI's are the notebook's raw BATS and word-similarity rows
    nb_scores = load_results(notebook)
    cli_scores = load_results(cli).drop(columns="source")
    raw = nb_scores[(nb_scores.variant == "raw") & (nb_scores.dataset != "google")].drop(columns="source")
    key = ["task", "dataset", "level", "subset", "method", "metric"]
    pd.testing.assert_frame_equal(cli_scores.sort_values(key).reset_index(drop=True),
                                  raw.sort_values(key).reset_index(drop=True))  # fmt: skip
    # the same records, and the notebook's keeps what notebook 06 reads (wordembed.report.headline_table)
    nb_metrics = json.loads((notebook / "metrics.json").read_text())
    cli_metrics = json.loads((cli / "analogy" / "metrics.json").read_text())
    assert nb_metrics["bats"] == cli_metrics["bats"] and nb_metrics["candidates"] == cli_metrics["candidates"]
    assert nb_metrics["candidates"]["name"] == "common" and nb_metrics["candidates"]["models"] == ["glove-50d"]
    assert {"model", "candidates", "bats", "google", "word_similarity", "controls", "abtt_components"} <= set(nb_metrics)
    assert set(nb_metrics["controls"]) == {"centered", "abtt1", "standardized"}
    assert nb_metrics["google"]["overall"]["3CosAdd"]["questions"] == 19_544
    assert nb_metrics["bats"]["overall"]["3CosAdd"]["accuracy"] > 0.1  # GloVe solves BATS questions
    assert nb_metrics["word_similarity"]["benchmarks"]["simlex999"]["covered"] == 999
    # the pre-task names the CLI still writes (tests/test_analogy.py, tests/test_core_install.py read them)
    pd.testing.assert_frame_equal(pd.read_parquet(cli / "analogy" / "analogy_by_relation.parquet"),
                                  pd.read_parquet(notebook / "bats_by_relation.parquet"))  # fmt: skip
    assert cli_metrics["overall"] == cli_metrics["bats"]["overall"]


# ------------------------------------------------------------------------------------------- 02, 03, 05: CLI = notebook
def _run_notebook(name: str, tmp_path: Path, parameters: dict) -> Path:
    """Run notebooks/NAME.ipynb through papermill into tmp_path/NAME; returns its output folder."""
    import papermill

    from wordembed import paths

    out = tmp_path / name
    papermill.execute_notebook(
        str(paths.notebooks_dir() / f"{name}.ipynb"), str(tmp_path / f"{name}.ipynb"),
        parameters={**parameters, "output_dir": str(out)}, kernel_name="python3", progress_bar=False,
        cwd=str(paths.project_root()),
    )  # fmt: skip
    return out


def _same_tables(cli: Path, notebook: Path, names: list[str], *, raw_only: bool = False) -> None:
    """Every named table equal, Parquet and CSV bytes alike; the scores equal (the raw rows, ``raw_only``)."""
    for name in names:
        mine, theirs = pd.read_parquet(cli / f"{name}.parquet"), pd.read_parquet(notebook / f"{name}.parquet")
        if raw_only and "variant" in theirs:
            theirs = theirs[theirs["variant"].isin(set(mine["variant"]))].reset_index(drop=True)
        pd.testing.assert_frame_equal(mine, theirs, obj=name)
        if not raw_only:
            a, b = ((d / f"{name}.csv").read_text(encoding="utf-8").splitlines() for d in (cli, notebook))
            if name == "matrix_cka":
                continue  # every value is a CKA (see below): compared above, to rtol 1e-5
            if name == "agreement":
                # CKA is computed in float32 products whose BLAS thread split varies with the machine's load
                # (MKL's dynamic threads), so its last digits can differ between two processes: those rows are
                # compared above, to assert_frame_equal's rtol 1e-5; every other row must be identical bytes
                a, b = ([line for line in x if not line.startswith("cka")] for x in (a, b))
            assert a == b, name
    mine, theirs = load_results(cli).drop(columns="source"), load_results(notebook).drop(columns="source")
    if raw_only:
        theirs = theirs[theirs["variant"].isin(set(mine["variant"]))].reset_index(drop=True)
    assert len(mine) > 0
    pd.testing.assert_frame_equal(mine, theirs)


@pytest.mark.slow
@pytest.mark.notebooks
def test_cli_and_notebook_02_write_identical_tables(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from wordembed.cli import main

    monkeypatch.setenv("WORDEMBED_STORE", str(tmp_path / "store"))
    notebook = _run_notebook("02_similarity_distribution", tmp_path, {
        "model": "glove-50d", "vocabulary": "wordnet", "vocab_limit": 300, "seed": 0})  # fmt: skip
    cli = tmp_path / "cli"
    assert main(["similarity", "--model", "glove-50d", "--words", "wordnet", "--vocab-limit", "300", "--seed", "0",
                 "--standardize", "--no-progress", "--out", str(cli)]) == 0  # fmt: skip
    _same_tables(cli, notebook, ["summary", "histogram", "rogue_dimensions"])
    nb, mine = json.loads((notebook / "metrics.json").read_text()), json.loads((cli / "metrics.json").read_text())
    assert nb["tasks"] == mine["tasks"] and nb["anisotropy"] == mine["anisotropy"] == mine["similarity"]["mean"]
    assert set(nb["variants"]) == {"raw", "centered", "abtt1", "standardized"} and nb["n_words"] < 300  # GloVe misses some


@pytest.mark.slow
@pytest.mark.notebooks
def test_cli_and_notebook_03_write_identical_tables(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The CLI scores one version of the vectors; the notebook's rows of that version are the same."""
    from wordembed.cli import main

    monkeypatch.setenv("WORDEMBED_STORE", str(tmp_path / "store"))
    notebook = _run_notebook("03_related_pairs", tmp_path, {
        "model": "glove-50d", "vocabulary": "bats", "seed": 0, "n_random_pairs": 500, "bootstrap": 20})  # fmt: skip
    for flags, variant in (([], "raw"), (["--center"], "centered")):
        cli = tmp_path / f"cli-{variant}"
        assert main(["related", "--model", "glove-50d", "--words", "bats", "--seed", "0", "--n-random", "500",
                     "--n-boot", "20", "--out", str(cli), *flags]) == 0  # fmt: skip
        _same_tables(cli, notebook, ["summary"], raw_only=True)
        if variant == "raw":  # the per-pair tables hold the first variant's cosines
            _same_tables(cli, notebook, ["pairs", "random_pairs"], raw_only=True)
    scores = load_results(notebook)
    auroc = scores[(scores.metric == "auroc") & (scores.level == "kind")].set_index(["variant", "subset"])["value"]
    assert auroc[("raw", "morphological")] > 0.8 and set(scores["variant"]) == {"raw", "centered", "abtt1", "standardized"}


@pytest.mark.slow
@pytest.mark.notebooks
def test_cli_and_notebook_05_write_identical_tables(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from tiny_models import write_tiny_static_yaml

    from wordembed.cli import main
    from wordembed.tasks.agreement import Agreement, agreement_matrices, agreement_table

    monkeypatch.setenv("WORDEMBED_STORE", str(tmp_path / "store"))
    params = {"vocabulary": "wordnet", "vocab_limit": 2000, "seed": 0, "agreement_words": 300, "n_random_pairs": 500,
              "bootstrap": 20, "kendall_bootstrap": 20, "cka_bootstrap": 10}  # fmt: skip
    static = write_tiny_static_yaml(tmp_path / "models", Agreement(**params).words())
    models = ["glove-50d", str(static)]
    notebook = _run_notebook("05_agreement", tmp_path, {**params, "models": models})
    cli = tmp_path / "cli"
    assert main(["agreement", "--models", *models, "--words", "wordnet", "--vocab-limit", "2000", "--seed", "0",
                 "--sample", "300", "--n-random", "500", "--n-boot", "20", "--kendall-boot", "20", "--cka-boot", "10",
                 "--controls", "--no-progress", "--out", str(cli)]) == 0  # fmt: skip
    matrices = [f"matrix_{k}" for k in ("spearman_random", "spearman_related", "kendall_random", "knn_jaccard", "cka")]
    _same_tables(cli, notebook, ["agreement", *matrices])
    # the scores give the agreement table and its matrices back
    scores = load_results(notebook)
    table = pd.read_parquet(notebook / "agreement.parquet")
    pd.testing.assert_frame_equal(agreement_table(scores), table, check_dtype=False)
    back = agreement_matrices(scores)["spearman_random"]
    pd.testing.assert_frame_equal(back, pd.read_parquet(notebook / "matrix_spearman_random.parquet").set_index("model"),
                                  check_names=False)  # fmt: skip
    assert set(table["variant"]) == {"raw", "centered", "standardized"} and list(back.index) == ["glove-50d", "tiny-static"]


# ------------------------------------------------------------------------------------------- 01, 02, 03, 05 tasks
def _rogue(n: int = 120, dims: int = 10, seed: int = 0, model: str = "rogue") -> Embeddings:
    """Random vectors with a large shared offset on dimension 3: anisotropic, one rogue dimension."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, dims)).astype(np.float32)
    x[:, 3] += 6.0
    return Embeddings([f"w{i}" for i in range(n)], x, missing=["absent"], model=model)


def _exact_mean(x: np.ndarray) -> float:
    u = x.astype(np.float64) / np.linalg.norm(x.astype(np.float64), axis=1, keepdims=True)
    return float((u @ u.T)[np.triu_indices(len(u), 1)].mean())


def test_similarity_distribution_scores_are_the_exact_moments() -> None:
    from wordembed.tasks.similarity import SimilarityDistribution

    emb = _rogue()
    result = SimilarityDistribution(vocabulary="toy", bootstrap=0).run(emb)
    s = result.scores.set_index(["variant", "method", "metric"])
    pairs = 120 * 119 // 2
    assert s.loc[("raw", "all_pairs", "mean"), "value"] == pytest.approx(_exact_mean(emb.vectors), abs=1e-6)
    assert s.loc[("raw", "all_pairs", "mean"), "n"] == pairs and s.loc[("raw", "all_pairs", "mean"), "coverage"] == 120 / 121
    centred = emb.vectors.astype(np.float64) - emb.vectors.mean(axis=0)
    assert s.loc[("centered", "all_pairs", "mean"), "value"] == pytest.approx(_exact_mean(centred), abs=1e-6)
    assert s.loc[("raw", "rogue_dimensions", "share_top1"), "value"] > 0.9  # the planted dimension
    assert np.isnan(s.loc[("centered", "rogue_dimensions", "share_top1"), "value"])  # no mean left to share
    assert list(result.tables["summary"]["variant"]) == ["raw", "centered", "abtt1", "standardized"]
    assert result.tables["histogram"].groupby("variant")["count"].sum().eq(pairs).all()
    assert result.metrics["anisotropy"] == s.loc[("raw", "all_pairs", "mean"), "value"]
    sampled = SimilarityDistribution(vocabulary="toy", sample_pairs=5000, bootstrap=50, standardized=False).run(emb)
    row = sampled.scores.set_index(["variant", "method", "metric"]).loc[("raw", "sampled_pairs", "mean")]
    assert row["n"] == 5000 and row["ci_low"] < row["value"] < row["ci_high"]
    assert set(sampled.scores["variant"]) == {"raw", "centered", "abtt1"}


def test_related_pairs_scores_are_the_summary_rows(planted: tuple[Embeddings, list[str]]) -> None:
    from wordembed.tasks.related import RelatedPairs

    emb = planted[0]
    result = RelatedPairs(vocabulary="bats", n_random_pairs=500, bootstrap=20, variants=["raw", "abtt"]).run(emb)
    assert result.metrics["variants"] == ["raw", "abtt1"] and result.setup["related_pairs"]["parameters"]["variants"] == ["raw", "abtt"]
    summary = result.tables["summary"]
    s = result.scores.set_index(["variant", "level", "subset", "metric"])
    for row in summary[summary["level"] != "random"].to_dict("records"):
        got = s.loc[(row["variant"], row["level"], row["name"], "auroc")]
        assert [got["value"], got["ci_low"], got["ci_high"], got["n"]] == pytest.approx(
            [row["auroc"], row["auroc_ci_low"], row["auroc_ci_high"], row["n_kept"]], nan_ok=True)
    # I01's plural = singular + offset: every kept I01 pair beats every random pair (raw and after abtt)
    assert s.loc[("raw", "relation", "I01", "auroc"), "value"] == pytest.approx(1.0)
    random = s.loc[("raw", "random", "random", "mean")]
    assert random["n"] == 500 and set(s.loc[("raw", "random", "random")].index) == {"mean"}
    with pytest.raises(ParameterError, match="parameter 'variants': unknown variant"):
        RelatedPairs(variants=["whitened"])


def test_agreement_scores_give_the_table_back() -> None:
    from wordembed.tasks.agreement import Agreement, agreement_matrices, agreement_table

    a = _rogue(model="a")
    b = Embeddings(a.words, a.vectors * 2.0, model="b")  # the same directions: every cosine equal
    c = _rogue(seed=5, model="c")
    task = Agreement(vocabulary="bats", n_random_pairs=500, bootstrap=10, kendall_bootstrap=5, cka_bootstrap=5,
                     measures=["spearman", "knn_jaccard"], related=False)  # fmt: skip
    result = task.run({"a": a, "b": b, "c": c})
    back = agreement_table(result.scores)
    pd.testing.assert_frame_equal(back, result.table, check_dtype=False)
    rho = agreement_matrices(result.scores)["spearman_random"]
    assert rho.loc["a", "b"] == pytest.approx(1.0) and abs(rho.loc["a", "c"]) < 0.3
    assert agreement_matrices(result.scores)["knn_jaccard"].loc["a", "b"] == pytest.approx(1.0)
    assert set(result.table["variant"]) == {"raw", "centered", "standardized"}
    with pytest.raises(ParameterError, match="at least 2 models"):
        task.run({"a": a})
    with pytest.raises(ParameterError, match=r"parameter 'measures': unknown measure\(s\) \['pearson'\]"):
        Agreement(measures=["pearson"])


def test_coverage_counts_the_study_words() -> None:
    from wordembed.tasks.embed import Coverage

    task = Coverage(vocabulary="bats")
    words = task.words()
    vocab = task.vocabulary_words()
    keep = [w for w in words if w not in set(vocab[:10])]  # ten vocabulary words missing
    emb = Embeddings(keep, np.ones((len(keep), 4), np.float32), missing=vocab[:10], model="m")
    result = task.run(emb)
    s = result.scores.set_index(["subset", "metric"])["value"]
    assert s[("vocabulary", "coverage")] == pytest.approx((len(vocab) - 10) / len(vocab))
    assert s[("all", "coverage")] == pytest.approx(len(keep) / len(words)) and s[("all", "dims")] == 4
    assert sorted(result.tables["missing_words"]["missing"]) == sorted(vocab[:10])
