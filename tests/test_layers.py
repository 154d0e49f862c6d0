"""The layer sweep (wordembed.analyses.layers), its development / test split (wordembed.analyses.split), the
``wordembed layers`` command and the runner's decoder-only notebook.

Vectors: a tiny random llama built here (tests/tiny_models.py), whose ``layer: all`` sweep must equal each
layer taken alone. Metrics: a constructed data set whose layers have answers known by hand (identical vectors,
related pairs with identical vectors, similarity pairs whose cosine follows the ratings). The split: real BATS,
MEN and SimLex-999, and the claim that nothing of the test half reaches the layer choice, checked by changing
the test half and watching the choice (and every development number) stay put.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import nbformat
import numpy as np
import pandas as pd
import pytest
from tiny_models import write_tiny_decoder_yaml, write_tiny_static_yaml

from wordembed import runner
from wordembed.analyses import layers
from wordembed.analyses.layers import (
    METRICS,
    PROMPT_GRID,
    RULE_METRICS,
    SweepData,
    at_layer,
    choose_layer,
    layer_metrics,
    layer_vectors,
)
from wordembed.analyses.split import Split, make_split, men_official_split, neighbour_pairs, split_relations
from wordembed.cli import main
from wordembed.datasets import load_bats, load_word_similarity
from wordembed.datasets.bats import BatsRelation
from wordembed.errors import DataFormatError, ParameterError
from wordembed.results import read_table
from wordembed.store import EmbeddingStore
from wordembed.study import DECODER_NOTEBOOKS, PER_MODEL_NOTEBOOKS, PROMPT_GRID_NAMES, load_study

WORDS = ["king", "queen", "man", "woman", "cats", "dogs", "walked", "walking", "happiness", "quickly", "the"]


@pytest.fixture(scope="module")
def tiny_decoder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_tiny_decoder_yaml(tmp_path_factory.mktemp("tiny") / "models")


@pytest.fixture
def store(tmp_path: Path) -> EmbeddingStore:
    return EmbeddingStore(tmp_path / "store")


# ------------------------------------------------------------------------------------------------ vectors


def test_the_sweep_equals_each_layer_taken_alone(tiny_decoder: Path, store: EmbeddingStore) -> None:
    x, covered, missing = layer_vectors(tiny_decoder, WORDS, store=store)
    assert covered == WORDS and missing == [] and x.dtype == np.float32
    assert x.shape == (len(WORDS), 3, 32)  # the embedding output and 2 layers
    for k in range(3):
        alone, words, _ = layer_vectors(tiny_decoder, WORDS, layer=k, store=store)
        assert words == WORDS and alone.shape == (len(WORDS), 1, 32)
        np.testing.assert_allclose(x[:, k], alone[:, 0], rtol=1e-5, atol=1e-6, err_msg=f"layer {k}")
    # the layers differ from each other (the comparison above is not of one array with itself)
    assert not np.allclose(x[:, 1], x[:, 2], atol=1e-3)
    # a grid entry's prompt and pooling: the same equality
    bare = dict(PROMPT_GRID["bare-last"])
    xb, _, _ = layer_vectors(tiny_decoder, WORDS, options=bare, store=store)
    lone, _, _ = layer_vectors(tiny_decoder, WORDS, options=bare, layer=2, store=store)
    np.testing.assert_allclose(xb[:, 2], lone[:, 0], rtol=1e-5, atol=1e-6)
    assert not np.allclose(xb[:, 2], x[:, 2], atol=1e-3)  # another prompt gives other vectors


def test_chunks_and_float16_give_the_same_sweep(tiny_decoder: Path, store: EmbeddingStore) -> None:
    x, _, _ = layer_vectors(tiny_decoder, WORDS, store=store)
    chunked, words, _ = layer_vectors(tiny_decoder, WORDS, store=store, chunk_words=3)
    assert words == WORDS
    np.testing.assert_array_equal(chunked, x)  # read back from the store, assembled chunk by chunk
    half, _, _ = layer_vectors(tiny_decoder, WORDS, store=store, dtype="float16")
    assert half.dtype == np.float16 and half.nbytes * 2 == x.nbytes
    np.testing.assert_allclose(half.astype(np.float32), x, rtol=2e-3, atol=2e-3)
    with pytest.raises(ParameterError, match="dtype 'float64'"):
        layer_vectors(tiny_decoder, WORDS, store=store, dtype="float64")
    with pytest.raises(ParameterError, match="chunk_words"):
        layer_vectors(tiny_decoder, WORDS, store=store, chunk_words=0)


def test_a_static_model_is_a_sweep_of_one_layer(tmp_path: Path, store: EmbeddingStore) -> None:
    yaml_path = write_tiny_static_yaml(tmp_path, WORDS[:6], dims=8)
    x, covered, missing = layer_vectors(yaml_path, WORDS, store=store)
    assert x.shape == (6, 1, 8) and covered == WORDS[:6] and missing == WORDS[6:]
    with pytest.raises(ParameterError, match="apply to decoders only"):
        layer_vectors(yaml_path, WORDS, options={"prompt": "{word}"}, store=store)


# ------------------------------------------------------------------------------------------------ constructed data


def _relation(rid: str, kind: str, n: int = 5) -> BatsRelation:
    group = {"I": "inflectional", "E": "encyclopedic"}[rid[0]]
    pairs = tuple((f"{rid.lower()}s{i}", (f"{rid.lower()}t{i}",)) for i in range(n))
    return BatsRelation(id=rid, name=rid, group=group, kind=kind, pairs=pairs)


def _sim_set(name: str, n: int = 6) -> pd.DataFrame:
    return pd.DataFrame(
        {"word1": [f"{name}a{k}" for k in range(n)], "word2": [f"{name}b{k}" for k in range(n)],
         "score": np.arange(1.0, n + 1.0)}  # fmt: skip
    )


def _constructed() -> tuple[SweepData, list[str], np.ndarray]:
    """Four relations, two similarity sets, 20 filler words; three layers with known answers:

    layer 0: every word the same vector (mean cosine 1, every centred cosine 0: AUROC 0.5; every analogy
    candidate ties: 3CosAdd 0; constant cosines: rho undefined);
    layer 1: each BATS target the same vector as its source (AUROC 1, 3CosAdd 1) and the cosine of each
    similarity pair rising with its rating (rho 1 on either half);
    layer 2: independent random BATS targets and the similarity cosines falling with the ratings (rho -1).
    """
    relations = [_relation("I01", "morphological"), _relation("I02", "morphological"),
                 _relation("E01", "semantic"), _relation("E02", "semantic")]  # fmt: skip
    sims = {"simlex999": _sim_set("sl"), "men": _sim_set("mn")}
    split = Split(
        seed=0,
        relations={"dev": ("I01", "E02"), "test": ("I02", "E01")},
        pairs=(("I01", "I02"), ("E02", "E01")),
        similarity={name: {"dev": (0, 2, 4), "test": (1, 3, 5)} for name in sims},
    )
    data = SweepData(relations, sims, split)
    filler = [f"filler{i}" for i in range(20)]
    words = sorted(set(data.words()) | set(filler))
    index = {w: i for i, w in enumerate(words)}
    dims = 128
    rng = np.random.default_rng(7)
    x = np.zeros((len(words), 3, dims), dtype=np.float32)
    x[:, 0, :] = rng.standard_normal(dims)  # one vector for every word
    for layer in (1, 2):
        x[:, layer, 24:] = rng.standard_normal((len(words), dims - 24))
    for rel in relations:
        for source, (target,) in rel.pairs:
            x[index[target], 1] = x[index[source], 1]
    for s, frame in enumerate(sims.values()):
        for k, (a, b) in enumerate(zip(frame["word1"], frame["word2"], strict=True)):
            dim = 2 * (6 * s + k)
            rising, falling = np.linspace(1.3, 0.2, 6)[k], np.linspace(0.2, 1.3, 6)[k]
            for layer, angle in ((1, rising), (2, falling)):
                x[index[a], layer] = 0.0
                x[index[b], layer] = 0.0
                x[index[a], layer, dim] = 1.0
                x[index[b], layer, dim] = np.cos(angle)
                x[index[b], layer, dim + 1] = np.sin(angle)
    return data, words, x


def _value(table: pd.DataFrame, layer: int, part: str, metric: str) -> float:
    row = table[(table["layer"] == layer) & (table["part"] == part) & (table["metric"] == metric)]
    assert len(row) == 1, (layer, part, metric)
    return float(row["value"].iloc[0])


def _mean_pair_cosine(v: np.ndarray) -> float:
    u = v.astype(np.float64) / np.linalg.norm(v.astype(np.float64), axis=1, keepdims=True)
    g = u @ u.T
    return float(g[np.triu_indices(len(u), 1)].mean())


def test_per_layer_metrics_on_constructed_layers() -> None:
    data, words, x = _constructed()
    table = layer_metrics(x, words, data, n_random=300, seed=0)
    assert set(table["metric"]) == set(METRICS)
    assert sorted(table["layer"].unique()) == [0, 1, 2]
    assert list(table.drop_duplicates("layer")["relative_depth"]) == [0.0, 0.5, 1.0]
    # every metric but anisotropy once per part; anisotropy once per layer (part "all")
    assert len(table) == 3 * (1 + 2 * (len(METRICS) - 1))
    for layer in range(3):
        assert _value(table, layer, "all", "anisotropy") == pytest.approx(_mean_pair_cosine(x[:, layer]), abs=1e-6)
    assert _value(table, 0, "all", "anisotropy") == pytest.approx(1.0, abs=1e-6)
    for part in ("dev", "test"):
        for kind in ("morphological", "semantic"):
            for variant in ("centered", "standardized"):
                assert _value(table, 0, part, f"auroc_{variant}_{kind}") == 0.5  # all ties
                assert _value(table, 1, part, f"auroc_{variant}_{kind}") == 1.0
            assert _value(table, 0, part, f"bats_3CosAdd_{kind}") == 0.0  # degenerate: all candidates level
            assert _value(table, 1, part, f"bats_3CosAdd_{kind}") == 1.0
            assert _value(table, 2, part, f"bats_3CosAdd_{kind}") < 0.5
        for name in ("simlex999", "men"):
            assert np.isnan(_value(table, 0, part, f"rho_{name}"))
            assert _value(table, 1, part, f"rho_{name}") == pytest.approx(1.0)
            assert _value(table, 2, part, f"rho_{name}") == pytest.approx(-1.0)
    # n: relations of the part and kind; covered pairs of the part
    row = table[(table["layer"] == 1) & (table["part"] == "dev") & (table["metric"] == "rho_men")]
    assert int(row["n"].iloc[0]) == 3
    row = table[(table["layer"] == 1) & (table["part"] == "test") & (table["metric"] == "bats_3CosAdd_semantic")]
    assert int(row["n"].iloc[0]) == 1
    # the layer the rule picks: layer 1 is best on every ranked metric
    choice = choose_layer(table)
    assert choice["layer"] == 1 and choice["relative_depth"] == 0.5
    assert choice["ranks"] == dict.fromkeys(RULE_METRICS, 1.0) and choice["mean_rank"] == 1.0
    assert at_layer(table, 1)["rho_men"] == pytest.approx(1.0) and "anisotropy" in at_layer(table, 1)


def test_layer_metrics_refuses_a_bad_array() -> None:
    data, words, x = _constructed()
    with pytest.raises(ParameterError, match="3-D array"):
        layer_metrics(x[:, 0], words, data)
    with pytest.raises(ParameterError, match="rows but"):
        layer_metrics(x, words[:-1], data)
    with pytest.raises(ParameterError, match=r"layers \[5\] out of range"):
        layer_metrics(x, words, data, layers=[5])


def test_choose_layer_rule_on_a_hand_table() -> None:
    """Mean rank over the rule's metrics, ties share a rank, a missing value ranks last, a tie in mean rank goes
    to the shallower layer, and nothing but the development rows is read."""
    dev = {  # layer -> value of each rule metric
        0: [0.6, 0.6, 0.1, 0.1, 0.2, 0.2],
        1: [0.8, 0.7, 0.3, 0.2, np.nan, 0.3],
        2: [0.7, 0.8, 0.2, 0.3, 0.4, 0.3],
        3: [0.5, 0.5, 0.0, 0.0, 0.1, 0.1],
    }
    rows = [{"layer": k, "relative_depth": k / 3, "part": "dev", "metric": m, "value": v}
            for k, values in dev.items() for m, v in zip(RULE_METRICS, values, strict=True)]  # fmt: skip
    table = pd.DataFrame(rows)
    choice = choose_layer(table)
    # layer 1: ranks 1, 2, 1, 2, 4 (missing), 1.5 -> 11.5 / 6; layer 2: 2, 1, 2, 1, 1, 1.5 -> 8.5 / 6
    assert choice["mean_ranks"][1] == pytest.approx(11.5 / 6) and choice["mean_ranks"][2] == pytest.approx(8.5 / 6)
    assert choice["layer"] == 2 and choice["ranks"]["rho_simlex999"] == 1.0
    # test rows of any value do not move it
    poison = table.assign(part="test", value=np.where(table["layer"] == 3, 99.0, -99.0))
    assert choose_layer(pd.concat([table, poison]))["layer"] == 2
    # two layers level on mean rank: the shallower wins
    level = pd.DataFrame(
        [{"layer": k, "relative_depth": k, "part": "dev", "metric": m, "value": 1.0} for k in (4, 2) for m in RULE_METRICS]
    )
    assert choose_layer(level)["layer"] == 2
    with pytest.raises(ParameterError, match="no development values"):
        choose_layer(table.assign(part="test"))


def test_changing_the_test_half_never_moves_the_choice() -> None:
    data, words, x = _constructed()
    table = layer_metrics(x, words, data, n_random=300, seed=0)
    # the test half changed: test relations get other targets, test ratings are reversed
    other = [
        r if r.id in data.split.relations["dev"] else BatsRelation(
            r.id, r.name, r.group, r.kind, tuple((s, (f"filler{i}",)) for i, (s, _) in enumerate(r.pairs))
        )
        for r in data.relations
    ]
    sims = {}
    for name, frame in data.similarity.items():
        changed = frame.copy()
        rows = list(data.split.similarity[name]["test"])
        changed.loc[rows, "score"] = changed.loc[rows, "score"].to_numpy()[::-1]
        sims[name] = changed
    perturbed = layer_metrics(x, words, SweepData(other, sims, data.split), n_random=300, seed=0)
    dev_before = table[table["part"] != "test"].reset_index(drop=True)
    dev_after = perturbed[perturbed["part"] != "test"].reset_index(drop=True)
    pd.testing.assert_frame_equal(dev_before, dev_after)  # every development number, to the bit
    assert choose_layer(perturbed) == choose_layer(table)
    # ... while the perturbation did reach the test numbers
    assert _value(perturbed, 1, "test", "rho_men") == pytest.approx(-1.0)
    assert _value(perturbed, 1, "test", "bats_3CosAdd_morphological") < 1.0


# ------------------------------------------------------------------------------------------------ the split


@pytest.fixture(scope="module")
def real_split() -> tuple[list[BatsRelation], dict[str, pd.DataFrame], Split]:
    relations = load_bats()
    sims = {name: load_word_similarity(name, lowercase=True) for name in ("simlex999", "men")}
    return relations, sims, make_split([r.id for r in relations], sims, seed=0)


def test_bats_split_takes_one_of_each_neighbour_pair(real_split) -> None:
    relations, _, split = real_split
    ids = [r.id for r in relations]
    dev, test = split.relations["dev"], split.relations["test"]
    assert not set(dev) & set(test) and sorted(dev + test) == sorted(ids) and len(dev) == len(test) == 20
    assert len(split.pairs) == 20
    for d, t in split.pairs:
        assert d in dev and t in test and d[0] == t[0] and {int(d[1:]), int(t[1:])} in [{n, n + 1} for n in range(1, 10, 2)]
    for letter in "IDEL":  # five of every group on each side: ten morphological, ten semantic
        assert sum(r.startswith(letter) for r in dev) == sum(r.startswith(letter) for r in test) == 5
    kinds = {r.id: r.kind for r in relations}
    assert sum(kinds[r] == "semantic" for r in dev) == 10
    assert [r.id for r in split.bats(relations, "dev")] == list(dev)
    # seeded: the same seed gives the same split, another seed another one
    assert split_relations(ids, 0)[0] == list(dev)
    others = {tuple(split_relations(ids, s)[0]) for s in range(1, 6)}
    assert len(others | {tuple(dev)}) > 1


def test_men_uses_the_official_split_and_simlex_a_seeded_half(real_split) -> None:
    _, sims, split = real_split
    men = split.similarity["men"]
    assert len(men["dev"]) == 2000 and len(men["test"]) == 1000
    assert not set(men["dev"]) & set(men["test"]) and sorted(men["dev"] + men["test"]) == list(range(3000))
    # the official files' first pairs (lemma form) land on the natural-form rows of the same pairs
    dev = split.similarity_sets(sims, "dev")["men"]
    test = split.similarity_sets(sims, "test")["men"]
    assert ("berry", "seed", 37.0) in set(zip(dev["word1"], dev["word2"], dev["score"], strict=True))
    assert ("display", "pond", 10.0) in set(zip(test["word1"], test["word2"], test["score"], strict=True))
    simlex = split.similarity["simlex999"]
    assert (len(simlex["dev"]), len(simlex["test"])) == (500, 499)
    assert sorted(simlex["dev"] + simlex["test"]) == list(range(999))
    assert "official" in split.methods["men"] and "seeded half" in split.methods["simlex999"]
    # a natural-form table that is not line-aligned with the lemma files is refused, naming the line
    shifted = sims["men"].copy()
    shifted.loc[5, "score"] += 1
    with pytest.raises(DataFormatError, match=r"MEN_dataset_lemma_form_full:6: score differs"):
        men_official_split(shifted)


def test_split_refuses_relations_without_their_neighbour() -> None:
    assert neighbour_pairs(["I01", "I02", "E09", "E10"]) == [("I01", "I02"), ("E09", "E10")]
    with pytest.raises(ParameterError, match="relation I03 has no neighbour I04"):
        neighbour_pairs(["I01", "I02", "I03"])
    with pytest.raises(ParameterError, match="not a BATS id"):
        neighbour_pairs(["first"])
    with pytest.raises(ParameterError, match="not split"):
        make_split(["I01", "I02"], {}, seed=0).similarity_sets({"rw": _sim_set("rw")}, "dev")


def test_grid_names_agree_with_the_schema() -> None:
    assert tuple(PROMPT_GRID) == PROMPT_GRID_NAMES
    assert PROMPT_GRID["prompteol"] == {"prompt": 'This word : "{word}" means in one word:"', "pooling": "prompt_last"}
    assert PROMPT_GRID["echo-mean"]["prompt"].count("{word}") == 2


# ------------------------------------------------------------------------------------------------ the command


def _recorded_split_is_disjoint_and_whole(record: dict[str, Any]) -> None:
    ids = [r.id for r in load_bats()]
    dev, test = record["bats"]["dev"], record["bats"]["test"]
    assert not set(dev) & set(test) and sorted(dev + test) == sorted(ids)
    for name, size in (("simlex999", 999), ("men", 3000)):
        entry = record["similarity"][name]
        rows_dev, rows_test = entry["dev"]["rows"], entry["test"]["rows"]
        assert not set(rows_dev) & set(rows_test) and sorted(rows_dev + rows_test) == list(range(size))
        pairs_dev = {tuple(p) for p in entry["dev"]["pairs"]}
        pairs_test = {tuple(p) for p in entry["test"]["pairs"]}
        assert not pairs_dev & pairs_test and len(pairs_dev) + len(pairs_test) == size


@pytest.mark.slow
def test_layers_command_on_a_tiny_decoder(
    tiny_decoder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    monkeypatch.setenv("WORDEMBED_STORE", str(tmp_path / "store"))
    out = tmp_path / "out"
    args = ["layers", "--model", str(tiny_decoder), "--sample", "0", "--grid", "bare-mean", "--random-pairs", "500",
            "--out", str(out)]  # fmt: skip
    assert main(args) == 0
    printed = capsys.readouterr().out
    metrics = json.loads((out / "metrics.json").read_text())
    table = read_table(out, "layers")
    own = table[table["config"] == "the-word-mean"]  # the tiny YAML's own prompt and pooling
    assert sorted(own["layer"].unique()) == [0, 1, 2] and set(own["metric"]) == set(METRICS)
    # the recorded choice is the rule's on the written development rows, and the headline is test at it
    assert choose_layer(own)["layer"] == metrics["chosen_layer"] == metrics["choice"]["layer"]
    k = metrics["chosen_layer"]
    assert metrics["headline_test"] == pytest.approx(at_layer(own, k, "test"), nan_ok=True)
    assert f"layer {k} of 0..2 chosen on dev" in printed
    # the grid entry scored at that layer only, its table row naming the configuration that chose it
    bare = table[table["config"] == "bare-mean"]
    assert set(bare["layer"]) == {k}
    grid = read_table(out, "grid")
    assert list(grid["config"]) == ["the-word-mean", "bare-mean"] and set(grid["layer"]) == {k}
    assert list(grid["chosen_on"]) == ["the-word-mean"] * 2 and list(grid["prompt"]) == ["The word: {word}", "{word}"]
    assert metrics["grid_errors"] == {} and metrics["setup"]["n_layers"] == 3
    # the words: every BATS, SimLex-999 and MEN word (a byte-level tokenizer covers them all)
    data = SweepData.load()
    assert metrics["setup"]["n_words"] == len(data.words()) and metrics["setup"]["missing_words"] == 0
    # the split, recorded in full beside the tables and summarised in metrics.json
    record = json.loads((out / "split.json").read_text())
    _recorded_split_is_disjoint_and_whole(record)
    assert metrics["split"]["bats"]["dev"] == record["bats"]["dev"]
    assert metrics["split"]["similarity"]["men"]["test"]["n"] == 1000
    wide = read_table(out, "layers_wide")
    assert set(wide["part"]) == {"dev", "test", "all"} and set(METRICS) <= set(wide.columns)
    assert metrics["curves"]["test"]["rho_men"] == pytest.approx(
        list(own[(own["part"] == "test") & (own["metric"] == "rho_men")].sort_values("layer")["value"])
    )
    assert (out / "layers.png").stat().st_size > 5000 and (out / "layers.svg").is_file()
    # run again: the vectors come from the store, the numbers are the same
    assert main(args) == 0
    pd.testing.assert_frame_equal(read_table(out, "layers"), table)


def test_layers_command_refuses_bad_values(capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["layers", "--model", "x", "--sample", "-1"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "argument --sample: must be an integer in 0..200000" in err and len(err.strip().splitlines()) == 1
    with pytest.raises(SystemExit):
        main(["layers", "--model", "x", "--grid", "3CosFoo"])
    assert "invalid choice: '3CosFoo'" in capsys.readouterr().err


# ------------------------------------------------------------------------------------------------ the runner


class _Kernel:
    """Stands in for papermill (as in tests/test_runner.py): records the jobs, writes a notebook and metrics."""

    def __init__(self, fail: set[str] | None = None) -> None:
        self.calls: list[str] = []
        self.fail = fail or set()

    def __call__(self, job: runner.Job, *, kernel_name: str | None = None) -> None:
        self.calls.append(job.label)
        job.output_path.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("1")]), str(job.output_path))
        if job.label in self.fail:
            raise ParameterError(f"{job.label}: told to fail")
        job.results_dir.mkdir(parents=True, exist_ok=True)
        (job.results_dir / "metrics.json").write_text(json.dumps({"p": sorted(job.parameters)}))


def test_the_default_studies_do_not_run_the_sweep() -> None:
    assert DECODER_NOTEBOOKS == ("07_layers",) and "07_layers" not in PER_MODEL_NOTEBOOKS
    for name in ("default", "extended", "quick"):
        assert "07_layers" not in load_study(name).per_model_notebooks


def test_the_sweep_runs_for_decoders_only_and_its_failure_blocks_nothing(
    tmp_path: Path, tiny_decoder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WORDEMBED_OUTPUTS", str(tmp_path / "outputs"))
    monkeypatch.setattr(runner, "code_hash", lambda path: {})  # other work on the package is not an input here
    static = write_tiny_static_yaml(tmp_path / "models", ["cat", "dog"], key="tiny-static")
    study = tmp_path / "s.yaml"
    study.write_text(
        f"name: s\nmodels: [{static}, {tiny_decoder}]\nnotebooks: [01_embed, 07_layers]\n"
        "cross_notebooks: [06_report]\nparameters:\n  layer_words: 500\n",
        encoding="utf-8",
    )
    loaded = load_study(study)
    assert loaded.per_model_notebooks == ["01_embed", "07_layers"]
    kernel = _Kernel(fail={"tiny-llama/07_layers"})
    monkeypatch.setattr(runner, "execute", kernel)
    report = runner.StudyRunner(loaded, out_root=tmp_path / "out", log=lambda _: None, html=False).run()
    statuses = {r.label: r.status for r in report.results}
    assert statuses == {
        "tiny-static/01_embed": "ok",
        "tiny-llama/01_embed": "ok",
        "tiny-static/07_layers": "skipped",
        "tiny-llama/07_layers": "failed",
        "_all/06_report": "ok",
    }
    assert "tiny-static/07_layers" not in kernel.calls
    skipped = next(r for r in report.results if r.label == "tiny-static/07_layers")
    assert skipped.error == "for decoder models only; tiny-static is family static"
    # the failed sweep is reported, but the decoder's other results still reach the report
    assert report.exit_code == 1
    status = json.loads((tmp_path / "out" / "tiny-llama" / "07_layers.run.json").read_text())
    assert status["status"] == "failed"
    job = json.loads((tmp_path / "out" / "tiny-llama" / "01_embed.run.json").read_text())
    assert job["status"] == "ok"
    # the sweep's job key covers the data it reads (BATS, SimLex/MEN, WordNet) whatever the study vocabulary
    inputs = json.loads((tmp_path / "out" / "tiny-llama" / "07_layers.run.json").read_text())
    assert inputs["inputs"]
    decl = runner.declared_parameters(runner.notebook_path("07_layers"))
    assert {"layer_words", "prompt_grid", "grid_layers"} <= set(decl)
    k = runner.StudyRunner(loaded, out_root=tmp_path / "out2", log=lambda _: None, html=False)
    plan = k._per_model_job(str(tiny_decoder), "tiny-llama", {}, "07_layers", [])
    assert {"bats", "wordsim", "wordnet"} <= set(plan.inputs_detail["data"])
    assert plan.parameters["layer_words"] == 500


@pytest.mark.slow
def test_the_notebook_runs_on_a_tiny_decoder(tiny_decoder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """notebooks/07_layers.ipynb through papermill (a kernel start and one sweep of the benchmark words)."""
    import papermill

    from wordembed import paths

    monkeypatch.setenv("WORDEMBED_STORE", str(tmp_path / "store"))
    out = tmp_path / "out"
    papermill.execute_notebook(
        str(paths.notebooks_dir() / "07_layers.ipynb"),
        str(tmp_path / "07.ipynb"),
        parameters={"model": str(tiny_decoder), "layer_words": 0, "prompt_grid": ["prompteol"], "n_random_pairs": 500,
                    "output_dir": str(out)},  # fmt: skip
        kernel_name="python3",
        progress_bar=False,
        cwd=str(tmp_path),
    )
    metrics = json.loads((out / "metrics.json").read_text())
    own = read_table(out, "layers")
    own = own[own["config"] == metrics["config"]]
    assert metrics["chosen_layer"] == choose_layer(own)["layer"]
    assert set(metrics["grid"]) == {"the-word-mean", "prompteol"}
    for figure in ("layers", "layers_dev"):
        assert (out / f"{figure}.png").stat().st_size > 5000
    _recorded_split_is_disjoint_and_whole(json.loads((out / "split.json").read_text()))
    # the CLI on the same parameters (the layers read back from the store) writes the same tables and scores
    cli = tmp_path / "cli"
    assert main(["layers", "--model", str(tiny_decoder), "--sample", "0", "--grid", "prompteol", "--random-pairs",
                 "500", "--out", str(cli)]) == 0  # fmt: skip
    for name in ("layers", "layers_wide", "grid", "scores"):
        pd.testing.assert_frame_equal(read_table(cli, name), read_table(out, name), obj=name)
        assert (cli / f"{name}.csv").read_bytes() == (out / f"{name}.csv").read_bytes(), name
    assert (cli / "split.json").read_bytes() == (out / "split.json").read_bytes()
    scores = read_table(out, "scores")
    chosen = scores[(scores["level"] == "chosen") & (scores["method"] == metrics["config"])]
    assert set(chosen["subset"]) == {str(metrics["chosen_layer"])} and set(chosen["dataset"]) == {"test", "all"}
    assert dict(zip(chosen["metric"], chosen["value"], strict=True)) == pytest.approx(metrics["headline_test"], nan_ok=True)


def test_module_docstrings_state_the_rule() -> None:
    assert "development" in layers.RULE and all(m in layers.RULE for m in RULE_METRICS)
