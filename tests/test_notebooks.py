"""Every study notebook through papermill on tiny parameters, checked on the values of its metrics.json.

One run of the grid (GloVe-50d and a tiny random llama built here, a 300-word WordNet sample) serves every
test of this module. The store lives in a temporary folder (``WORDEMBED_STORE``; the kernels inherit the
environment), so the user's store is neither read nor written; GloVe's artefact comes from the model cache.
Values are checked against independent computations: pair counts from the number of covered words, the exact
mean and standard deviation of all pair cosines recomputed from the stored vectors, the BATS/Google question
counts from the data sets, and what a random network cannot know (semantic relations).
"""

from __future__ import annotations

import json
from typing import Any

import nbformat
import numpy as np
import pytest
from tiny_models import write_tiny_decoder_yaml

from wordembed import paths
from wordembed.datasets import bats_pairs, bats_words, load_bats, load_google_analogy, load_word_similarity
from wordembed.results import read_table
from wordembed.runner import ALL_MODELS_DIR, RunReport, StudyRunner
from wordembed.study import CROSS_MODEL_NOTEBOOKS, PER_MODEL_NOTEBOOKS, load_study
from wordembed.vocabulary import embedding_words, select_vocabulary

pytestmark = pytest.mark.slow

VOCAB_LIMIT = 300
N_RANDOM = 500
BATS_ROWS = 7643  # one row per (source, listed answer) of BATS 3.0
BATS_PAIRWISE_QUESTIONS = 40 * 50 * 49
BATS_SET_QUESTIONS = 40 * 50
GOOGLE_QUESTIONS = 19_544
DECODER = "tiny-llama"
GLOVE = "glove-50d"
CONTROL = f"{DECODER}@random"  # the tiny decoder's seeded random-weight control: in every per-model notebook
MODELS = (GLOVE, DECODER, CONTROL)


def _existing_notebooks() -> list[str]:
    """The study's notebooks present in notebooks/ (06_report is optional while it is being written;
    tests/test_study.py fails on a missing one)."""
    # 07_layers (decoders only, opt-in) is run by tests/test_layers.py
    return [n for n in PER_MODEL_NOTEBOOKS + CROSS_MODEL_NOTEBOOKS if (paths.notebooks_dir() / f"{n}.ipynb").is_file()]


@pytest.fixture(scope="module")
def grid(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    root = tmp_path_factory.mktemp("grid")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("WORDEMBED_STORE", str(root / "store"))
        mp.setenv("WORDEMBED_OUTPUTS", str(root / "outputs"))
        decoder_yaml = write_tiny_decoder_yaml(root / "models", key=DECODER)
        study_yaml = root / "tiny.yaml"
        study_yaml.write_text(
            "name: tiny\n"
            f"models: [{GLOVE}, {decoder_yaml}, {decoder_yaml}@random]\n"
            "parameters:\n"
            "  vocabulary: wordnet\n"
            f"  vocab_limit: {VOCAB_LIMIT}\n"
            "  seed: 0\n"
            f"  n_random_pairs: {N_RANDOM}\n"
            "  analogy_methods: [3CosAdd, LRCos]\n"
            "  bootstrap: 20\n"
            "  agreement_words: 200\n"
            "  map_words: 40\n",
            encoding="utf-8",
        )
        study = load_study(study_yaml)
        notebooks = _existing_notebooks()
        runner = StudyRunner(study, notebooks=notebooks, out_root=root / "out", log=lambda _: None)
        report = runner.run()
        yield {
            "root": root,
            "out": root / "out",
            "report": report,
            "notebooks": notebooks,
            "decoder_yaml": decoder_yaml,
            "store": root / "store",
        }


def _metrics(grid: dict[str, Any], model: str, notebook: str) -> dict[str, Any]:
    return json.loads((grid["out"] / model / notebook / "metrics.json").read_text(encoding="utf-8"))


def _vocab() -> list[str]:
    return select_vocabulary("wordnet", VOCAB_LIMIT, 0)


def _stored(grid: dict[str, Any], model: str, words: list[str]):
    """The vectors the notebooks stored, read back through the store (nothing is encoded again)."""
    from wordembed.sources import get_embeddings
    from wordembed.store import EmbeddingStore

    ref = str(grid["decoder_yaml"]) if model == DECODER else model
    return get_embeddings(ref, words, store=EmbeddingStore(grid["store"]), progress=False)


def _pair_moments(vectors: np.ndarray) -> tuple[float, float, int]:
    """Mean and standard deviation of the cosine over all pairs i < j, from the Gram matrix (float64)."""
    x = np.asarray(vectors, dtype=np.float64)
    u = x / np.linalg.norm(x, axis=1, keepdims=True)
    gram = u @ u.T
    upper = gram[np.triu_indices(len(u), k=1)]
    return float(upper.mean()), float(upper.std()), int(upper.size)


def test_every_job_ran_and_was_rendered(grid: dict[str, Any]) -> None:
    report: RunReport = grid["report"]
    per_model = [n for n in grid["notebooks"] if n in PER_MODEL_NOTEBOOKS]
    cross = [n for n in grid["notebooks"] if n not in PER_MODEL_NOTEBOOKS]
    # every model embeds first, then each model's analyses, then the cross-model notebooks
    embed = [n for n in per_model if n == "01_embed"]
    rest = [n for n in per_model if n != "01_embed"]
    expected = (
        [f"{m}/{n}" for m in MODELS for n in embed]
        + [f"{m}/{n}" for m in MODELS for n in rest]
        + [f"{ALL_MODELS_DIR}/{n}" for n in cross]
    )
    assert [r.label for r in report.results] == expected
    assert {r.label: r.status for r in report.results} == dict.fromkeys(expected, "ok"), [
        (r.label, r.error) for r in report.results if r.status != "ok"
    ]
    assert report.exit_code == 0
    for label in expected:
        ipynb = grid["out"] / f"{label}.ipynb"
        assert ipynb.is_file() and ipynb.with_suffix(".html").stat().st_size > 10_000
        assert (grid["out"] / label / "metrics.json").is_file()
        nb = nbformat.read(str(ipynb), as_version=4)
        injected = nb.metadata["papermill"]["parameters"]
        assert injected["output_dir"] == str(grid["out"] / label)
        errors = [
            o
            for c in nb.cells
            if c.cell_type == "code"
            for o in c.get("outputs", [])
            if o.get("output_type") == "error"
        ]
        assert not errors
    run = json.loads((grid["out"] / "run.json").read_text())
    assert run["failed"] == 0 and [r["label"] for r in run["results"]] == expected


def test_01_embed_counts_match_the_store(grid: dict[str, Any]) -> None:
    vocab = _vocab()
    words = embedding_words(vocab)
    for model, dims in ((GLOVE, 50), (DECODER, 32)):
        m = _metrics(grid, model, "01_embed")
        emb = _stored(grid, model, words)
        covered = emb.subset(vocab)
        assert m["model"] == model and m["dims"] == dims
        assert m["vocabulary_size"] == VOCAB_LIMIT
        assert m["words_asked"] == len(words)
        assert m["words_present"] == len(emb) and m["vocabulary_covered"] == len(covered)
        assert m["coverage"] == pytest.approx(len(emb) / len(words))
        assert m["vocabulary_coverage"] == pytest.approx(len(covered) / VOCAB_LIMIT)
        missing = read_table(grid["out"] / model / "01_embed", "missing_words")
        assert sorted(missing["missing"]) == sorted(emb.missing)
        assert len(missing) == m["words_asked"] - m["words_present"]
    # a byte-level tokenizer embeds every word; a static vocabulary misses some WordNet lemmas
    assert _metrics(grid, DECODER, "01_embed")["coverage"] == 1.0
    glove = _metrics(grid, GLOVE, "01_embed")
    assert 0.5 < glove["vocabulary_coverage"] < 1.0 and glove["params"] == 20_000_000
    decoder = _metrics(grid, DECODER, "01_embed")
    assert decoder["role"] == "llm" and decoder["backend"] == "decoder"
    import yaml

    assert decoder["params"] == yaml.safe_load(grid["decoder_yaml"].read_text())["params"] > 10_000


def test_02_distribution_is_exact(grid: dict[str, Any]) -> None:
    vocab = _vocab()
    for model in (GLOVE, DECODER):
        m = _metrics(grid, model, "02_similarity_distribution")
        emb = _stored(grid, model, vocab)
        n = len(emb)
        assert m["n_words"] == n == _metrics(grid, model, "01_embed")["vocabulary_covered"]
        assert m["exact"] is True
        assert set(m["variants"]) == {"raw", "centered", "abtt1", "standardized"}  # D = max(1, dims / 100)
        assert m["abtt_components"] == 1
        assert m["rogue_dimensions"]["raw"]["mean_cos"] == pytest.approx(m["anisotropy"], abs=1e-5)
        for variant in m["variants"].values():
            assert variant["n_pairs"] == n * (n - 1) // 2
            assert variant["mode"] == "exact" and -1 <= variant["mean"] <= 1
            q = list(variant["quantiles"].values())
            assert q == sorted(q) and -1 <= q[0] and q[-1] <= 1
        mean, std, pairs = _pair_moments(emb.vectors)
        raw = m["variants"]["raw"]
        assert raw["n_pairs"] == pairs
        assert raw["mean"] == pytest.approx(mean, abs=1e-6) and m["anisotropy"] == raw["mean"]
        assert raw["std"] == pytest.approx(std, abs=1e-5)
        x = emb.vectors.astype(np.float64)
        c_mean, c_std, _ = _pair_moments(x - x.mean(axis=0))
        centred = m["variants"]["centered"]
        assert centred["mean"] == pytest.approx(c_mean, abs=1e-6)
        assert centred["std"] == pytest.approx(c_std, abs=1e-5)
        # centred vectors sum to zero, so their mean pair cosine is about -1/(n-1), i.e. ~0 for large n
        assert -1 / (n - 1) - 1e-6 <= centred["mean"] < 0.01
        assert abs(centred["mean"]) < abs(raw["mean"])
    # the random decoder is anisotropic, GloVe nearly isotropic
    assert _metrics(grid, DECODER, "02_similarity_distribution")["anisotropy"] > 0.1
    assert abs(_metrics(grid, GLOVE, "02_similarity_distribution")["anisotropy"]) < 0.1


def _aurocs(node: Any) -> list[float]:
    found = []
    if isinstance(node, dict):
        for k, v in node.items():
            if k.startswith("auroc") and v is not None:
                found.append(v)
            else:
                found.extend(_aurocs(v))
    return found


def test_03_related_pairs(grid: dict[str, Any]) -> None:
    assert len(bats_pairs(load_bats())) == BATS_ROWS
    for model in (GLOVE, DECODER):
        m = _metrics(grid, model, "03_related_pairs")
        dims = _metrics(grid, model, "01_embed")["dims"]
        abtt = f"abtt{max(1, round(dims / 100))}"  # Mu & Viswanath's D = dims / 100
        assert m["variants"] == ["raw", "centered", abtt, "standardized"]
        for variant in m["variants"]:
            r = m[variant]
            assert r["n_self_pairs"] == 8  # series -> series and the like: dropped, counted
            assert r["n_related"] + r["n_dropped"] + r["n_self_pairs"] == BATS_ROWS
            assert r["coverage"] == pytest.approx(r["n_related"] / (BATS_ROWS - 8))
            assert r["n_random"] == N_RANDOM and r["baseline"] == "same_words"
            assert r["interval_unit"] == {"relation": "source", "kind/group/all": "relation"}
            assert set(r["kind"]) == {"morphological", "semantic"}
            assert set(r["group"]) == {"inflectional", "derivational", "encyclopedic", "lexicographic"}
            assert sum(g["n_pairs"] for g in r["group"].values()) == BATS_ROWS
        values = _aurocs(m)
        assert len(values) > 30 and all(0 <= v <= 1 for v in values)
    glove = _metrics(grid, GLOVE, "03_related_pairs")["raw"]
    assert glove["kind"]["morphological"]["auroc"] > 0.8
    assert glove["kind"]["semantic"]["auroc"] > 0.7
    assert 0 < glove["n_dropped"] < BATS_ROWS  # GloVe lacks some BATS words
    decoder = _metrics(grid, DECODER, "03_related_pairs")["raw"]
    assert decoder["n_dropped"] == 0
    # a random network knows no meaning: semantic pairs are no closer than random ones
    assert abs(decoder["kind"]["semantic"]["auroc"] - 0.5) < 0.15


def test_04_analogies_and_word_similarity(grid: dict[str, Any]) -> None:
    assert len(load_google_analogy()) == GOOGLE_QUESTIONS
    for model in (GLOVE, DECODER):
        m = _metrics(grid, model, "04_analogies")
        overall = m["bats"]["overall"]
        assert set(overall) == {"3CosAdd", "LRCos"}
        assert overall["3CosAdd"]["questions"] == BATS_PAIRWISE_QUESTIONS
        assert overall["LRCos"]["questions"] == BATS_SET_QUESTIONS
        for row in overall.values():
            assert 0 <= row["accuracy_low"] <= row["accuracy"] <= row["accuracy_high"] <= 1
            assert row["correct"] == round(row["accuracy"] * row["questions"])
            assert row["accuracy"] <= row["top5"] <= 1 and 0 < row["coverage"] <= 1
        for method, groups in m["bats"]["by_group"].items():
            inflectional = groups["inflectional"]["questions"]
            assert (
                inflectional == (BATS_PAIRWISE_QUESTIONS if method == "3CosAdd" else BATS_SET_QUESTIONS) // 4
            )
        google = m["google"]["overall"]
        assert list(google) == ["3CosAdd"] and google["3CosAdd"]["questions"] == GOOGLE_QUESTIONS
        sims = m["word_similarity"]["benchmarks"]
        simlex = sims["simlex999"]
        assert simlex["pairs"] == len(load_word_similarity("simlex999")) == 999
        assert simlex["covered"] + simlex["dropped"] == 999
        assert simlex["coverage"] == pytest.approx(simlex["covered"] / 999)
    glove = _metrics(grid, GLOVE, "04_analogies")
    assert glove["bats"]["overall"]["3CosAdd"]["accuracy"] > 0.1
    assert glove["google"]["overall"]["3CosAdd"]["accuracy"] > 0.3
    assert glove["word_similarity"]["benchmarks"]["simlex999"]["coverage"] == 1.0
    assert glove["word_similarity"]["benchmarks"]["simlex999"]["spearman"] > 0.15
    assert glove["word_similarity"]["benchmarks"]["men"]["spearman"] > 0.5
    decoder = _metrics(grid, DECODER, "04_analogies")
    # one candidate vocabulary for both models: the words both cover (a question whose answers GloVe lacks is
    # uncovered for the decoder too, so neither model faces an easier test)
    assert decoder["candidates"]["name"] == glove["candidates"]["name"] == "common"
    assert decoder["candidates"]["sha256"] == glove["candidates"]["sha256"]
    # the control covers what its trained model covers (same tokenizer): listed, the intersection unchanged
    listed = decoder["candidates"]["models"]  # the study's model references, as the runner passed them
    assert len(listed) == len(MODELS) and f"{grid['decoder_yaml']}@random" in listed and GLOVE in listed
    control = _metrics(grid, CONTROL, "04_analogies")
    assert control["candidates"]["sha256"] == glove["candidates"]["sha256"]
    assert 0.95 < decoder["bats"]["overall"]["3CosAdd"]["coverage"] < 1.0
    assert decoder["bats"]["overall"]["3CosAdd"]["coverage"] >= glove["bats"]["overall"]["3CosAdd"]["coverage"]
    assert decoder["bats"]["setup"]["interval_unit"]["overall"] == "relation"
    # the anisotropy controls: 3CosAdd and word similarity on centred, abtt and standardised vectors
    for m in (glove, decoder):
        assert set(m["controls"]) == {"centered", "abtt1", "standardized"}
        for ctl in m["controls"].values():
            row = ctl["bats"]["overall"]["3CosAdd"]
            assert row["questions"] == BATS_PAIRWISE_QUESTIONS and 0 <= row["accuracy"] <= 1
            assert ctl["word_similarity"]["benchmarks"]["simlex999"]["pairs"] == 999
    # without training, semantic analogies (capitals, hypernyms) are out of reach; GloVe solves some
    decoder_semantic = decoder["bats"]["by_group"]["3CosAdd"]["semantic"]["accuracy"]
    assert decoder_semantic < 0.1 < glove["bats"]["by_group"]["3CosAdd"]["semantic"]["accuracy"]


def test_05_agreement_matrices(grid: dict[str, Any]) -> None:
    if "05_agreement" not in grid["notebooks"]:
        pytest.fail("notebooks/05_agreement.ipynb is missing")
    m = _metrics(grid, ALL_MODELS_DIR, "05_agreement")
    assert m["models"] == [GLOVE, DECODER]  # the control is left out of agreement
    assert m["roles"] == {GLOVE: "classical", DECODER: "llm"}
    assert set(m["measures"]) == {"spearman", "kendall", "knn_jaccard", "cka", "cka_debiased"}
    # correlations on random and on related pairs, never pooled
    assert set(m["matrices"]) == {"spearman_random", "spearman_related", "kendall_random", "kendall_related",
                                  "knn_jaccard", "cka", "cka_debiased"}
    for measure, matrix in m["matrices"].items():
        values = np.array([[matrix[a][b] for b in m["models"]] for a in m["models"]], dtype=float)
        np.testing.assert_allclose(values, values.T, err_msg=measure)
        np.testing.assert_allclose(np.diag(values), 1.0, err_msg=measure)
        assert -1 <= values[0, 1] < 1
    # the shared words: BATS words GloVe covers, plus part of the sample; the decoder covers everything
    bats = set(bats_words(load_bats()))
    glove_bats = len(_stored(grid, GLOVE, sorted(bats)))
    union = len(_stored(grid, GLOVE, sorted(bats | set(_vocab()))))
    assert glove_bats <= m["n_words"] <= union
    assert m["pair_sources"]["random"] == N_RANDOM
    src = m["pair_sources"]
    assert m["n_pairs"] == src["random"] + src["related"]
    assert src["related_self_pairs_dropped"] == 8
    assert src["related_listed"] == BATS_ROWS == src["related"] + src["related_self_pairs_dropped"] + src[
        "related_not_shared_dropped"] + src["related_duplicates_dropped"]
    assert len(m["table"]) == 7 and all(r["model_a"] == GLOVE and r["model_b"] == DECODER for r in m["table"])
    assert m["options"]["n_boot"] == 20 and m["options"]["kendall_boot"] == 200 and m["options"]["cka_boot"] == 100
    import pandas as pd

    written = pd.read_parquet(grid["out"] / ALL_MODELS_DIR / "05_agreement" / "agreement.parquet")
    assert set(written["variant"]) == {"raw", "centered", "standardized"}
    assert len(written[written["variant"] == "raw"]) == 7
    assert set(written.loc[written["variant"] != "raw", "measure"]) == {"spearman"}
    for row in m["table"]:
        assert row["ci_low"] <= row["value"] <= row["ci_high"]
        key = row["measure"] if row["pairs"] == "words" else f"{row['measure']}_{row['pairs']}"
        assert row["value"] == pytest.approx(m["matrices"][key][GLOVE][DECODER])


def test_06_report_headline_matches_the_per_model_metrics(grid: dict[str, Any]) -> None:
    if "06_report" not in grid["notebooks"]:
        pytest.fail("notebooks/06_report.ipynb is missing (tests/test_study.py names it too)")
    import pandas as pd

    folder = grid["out"] / ALL_MODELS_DIR / "06_report"
    m = json.loads((folder / "metrics.json").read_text())
    assert m["models"] == list(MODELS) and m["failed_models"] == [] and m["study"] == "tiny"
    table = pd.read_csv(folder / "headline.csv")
    assert list(table["model"]) == list(MODELS) and list(table["role"]) == ["classical", "llm", "llm"]
    assert list(table["family"]) == ["static", "decoder", "decoder"]
    assert list(table["control_of"].fillna("")) == ["", "", DECODER]
    assert [r["model"] for r in m["headline"]] == list(MODELS)
    # every headline metric minus the random control: what training added to the tiny decoder
    minus = pd.read_csv(folder / "control_differences.csv").set_index("metric")
    assert set(minus["model"]) == {DECODER} and set(minus["control"]) == {CONTROL}
    by_model = table.set_index("model")
    for metric in ("bats_3CosAdd", "auroc", "rho_simlex999"):
        assert minus.loc[metric, "difference"] == pytest.approx(by_model.loc[DECODER, metric] - by_model.loc[CONTROL, metric])
    assert [r["bats_3CosAdd"] for r in m["headline"]] == pytest.approx(list(table["bats_3CosAdd"]))
    for row in table.to_dict(orient="records"):
        model = row["model"]
        embed = _metrics(grid, model, "01_embed")
        assert row["params"] == embed["params"] and row["dims"] == embed["dims"]
        assert row["anisotropy"] == pytest.approx(
            _metrics(grid, model, "02_similarity_distribution")["anisotropy"]
        )
        related = _metrics(grid, model, "03_related_pairs")
        assert row["auroc_morph"] == pytest.approx(related["raw"]["kind"]["morphological"]["auroc"])
        assert row["auroc_sem_centered"] == pytest.approx(related["centered"]["kind"]["semantic"]["auroc"])
        analogies = _metrics(grid, model, "04_analogies")
        assert row["bats_3CosAdd"] == pytest.approx(analogies["bats"]["overall"]["3CosAdd"]["accuracy"])
        assert row["bats_3CosAdd_standardized"] == pytest.approx(
            analogies["controls"]["standardized"]["bats"]["overall"]["3CosAdd"]["accuracy"]
        )
        assert row["google_3CosAdd"] == pytest.approx(analogies["google"]["overall"]["3CosAdd"]["accuracy"])
        simlex = analogies["word_similarity"]["benchmarks"]["simlex999"]["spearman"]
        assert row["rho_simlex999"] == pytest.approx(simlex)
    verdicts = {v["claim"]: v["verdict"] for v in m["verdicts"]}
    assert len(verdicts) == 4
    bats = table.set_index("model")["bats_3CosAdd"]
    expected = "holds" if bats[DECODER] > bats[GLOVE] else "does not hold"
    assert verdicts["LLMs score higher on BATS (3CosAdd)"].startswith(expected)
    # a random decoder averaging sub-word tokens solves inflections, not semantics: the verdict must say so
    sem = table.set_index("model")["bats_3CosAdd_sem"]
    assert sem[DECODER] < sem[GLOVE]
    if bats[DECODER] > bats[GLOVE]:
        assert verdicts["LLMs score higher on BATS (3CosAdd)"].endswith("only on morphological relations")
    # one model of each kind, sizes apart: size and kind cannot be told apart; there is no SBERT model here
    outcomes = {v["claim"]: v["outcome"] for v in m["verdicts"]}
    assert outcomes["The LLM/classical difference is only scale"] == "cannot_separate"
    assert verdicts["Some LLMs agree with SBERT"].startswith("cannot be judged")
    assert all(v["n_llm"] <= 1 and v["n_classical"] <= 1 for v in m["verdicts"])
    assert (grid["out"] / ALL_MODELS_DIR / "06_report.reading.html").stat().st_size > 1000
    reading = (grid["out"] / ALL_MODELS_DIR / "06_report.reading.html").read_text(encoding="utf-8")
    assert "import matplotlib" not in reading and "claims, checked" in reading  # the reading copy hides code
    for figure in ("distributions", "related_by_group", "bats", "agreement"):
        assert (folder / f"{figure}.png").stat().st_size > 1000 and (folder / f"{figure}.svg").is_file()


def test_06_reading_copy_loads_in_a_real_browser(grid: dict[str, Any], tmp_path) -> None:
    """The report as a reader opens it: headless Chromium (Debian's; `make install` installs it) renders the
    reading copy without a script error, with the verdicts and the headline table in the page."""
    import shutil
    import subprocess

    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    assert chromium, "headless Chromium is needed: apt-get install chromium (make install does it as root)"
    page = grid["out"] / ALL_MODELS_DIR / "06_report.reading.html"
    run = subprocess.run(
        [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--enable-logging=stderr", "--v=0",
         f"--user-data-dir={tmp_path / 'profile'}", "--dump-dom", page.as_uri()],
        capture_output=True, text=True, timeout=120,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    dom = run.stdout
    assert "claims, checked" in dom and "Headline table" in dom and "<table" in dom
    assert "Traceback" not in dom and "import pandas" not in dom
    errors = [line for line in run.stderr.splitlines() if "CONSOLE" in line and "Uncaught" in line]
    assert not errors, errors


MAX_CODE_LINES = 40


def code_lines(path) -> int:
    """Non-blank, non-comment lines of a notebook's code cells outside its ``parameters`` cell."""
    nb = nbformat.read(str(path), as_version=4)
    cells = [c for c in nb.cells if c.cell_type == "code" and "parameters" not in c.metadata.get("tags", [])]
    return sum(1 for c in cells for line in c.source.splitlines() if line.strip() and not line.strip().startswith("#"))


def test_code_line_counter_on_a_constructed_notebook(tmp_path) -> None:
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell("x = 1\ny = 2", metadata={"tags": ["parameters"]}),
        nbformat.v4.new_markdown_cell("# not code\ntext"),
        nbformat.v4.new_code_cell("import numpy as np\n\n# a comment\n    # an indented comment\nprint(x)  # counted"),
    ])  # fmt: skip
    nbformat.write(nb, str(tmp_path / "n.ipynb"))
    assert code_lines(tmp_path / "n.ipynb") == 2


@pytest.mark.parametrize("name", sorted(p.stem for p in paths.notebooks_dir().glob("*.ipynb")))
def test_every_notebook_is_a_few_lines_around_the_library(name: str) -> None:
    """A notebook builds tasks and shows their results; what it computes lives in wordembed (issue 9)."""
    assert code_lines(paths.notebooks_dir() / f"{name}.ipynb") <= MAX_CODE_LINES


@pytest.mark.parametrize("name", sorted(p.stem for p in paths.notebooks_dir().glob("*.ipynb")))
def test_no_notebook_reads_another_notebooks_files(name: str) -> None:
    """Results cross notebooks only through wordembed.results.load_results (vectors come from the store)."""
    nb = nbformat.read(str(paths.notebooks_dir() / f"{name}.ipynb"), as_version=4)
    code = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
    for reader in ("read_parquet", "read_csv", "read_table", "read_metrics", "json.load", "collect_metrics", "open("):
        assert reader not in code, f"{name} reads files with {reader}"
