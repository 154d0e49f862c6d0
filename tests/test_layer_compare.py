"""Models side by side at their dev-chosen layers, on the test split (wordembed.analyses.layer_compare).

The sweeps are built from the constructed layers of tests/test_layers.py, whose answers are known by hand:
layer 1 of that construction is perfect (AUROC 1, 3CosAdd 1, rho 1) and layer 2 inverted (rho -1), so a
five-layer "decoder" [0, 1, 2, 2, 2] must be read at layer 1 (chosen on dev) while its middle layer is 2, and
a one-layer model made of layer 2 alone has rho -1 everywhere.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from test_layers import _constructed

from wordembed.analyses.layer_compare import (
    Sweep,
    compare_sweeps,
    comparison_figure,
    held_out_fits,
    read_sweep,
)
from wordembed.analyses.layers import RULE_METRICS, SweepResult, choose_layer, layer_metrics, write_sweep
from wordembed.errors import ParameterError


def _write(folder: Path, model: str, family: str, x: np.ndarray, words: list[str], data) -> Path:
    table = layer_metrics(x, words, data, n_random=300, seed=0, model=model)
    choice = {**choose_layer(table), "chosen_on": "own"}
    setup = {"model": model, "family": family, "n_layers": x.shape[1], "configs": {"own": {}}}
    result = SweepResult(model, table.assign(config="own"), {"own": choice}, "own", setup, {})
    write_sweep(folder, result, data)
    return folder


@pytest.fixture(scope="module")
def sweeps(tmp_path_factory: pytest.TempPathFactory) -> list[Sweep]:
    data, words, x = _constructed()
    root = tmp_path_factory.mktemp("sweeps")
    decoder = _write(root / "dec", "dec", "decoder", x[:, [0, 1, 2, 2, 2]], words, data)
    static = _write(root / "stat", "stat", "static", x[:, [2]], words, data)
    return [read_sweep(decoder), read_sweep(static)]


def test_each_model_is_read_at_its_dev_layer_and_the_decoder_also_at_its_middle(sweeps: list[Sweep]) -> None:
    table = compare_sweeps(sweeps, pd.DataFrame({"model": ["dec", "stat"], "params": [3e8, 5e7]}))
    dec, stat = table.set_index("model").loc["dec"], table.set_index("model").loc["stat"]
    assert (dec["n_layers"], dec["chosen_layer"], dec["middle_layer"]) == (5, 1, 2)
    assert dec["relative_depth"] == 0.25
    assert dec["test_rho_men"] == pytest.approx(1.0) and dec["middle_rho_men"] == pytest.approx(-1.0)
    assert dec["test_bats_3CosAdd_morphological"] == 1.0
    assert dec["test_auroc_centered_semantic"] == 1.0
    assert (stat["n_layers"], stat["chosen_layer"]) == (1, 0) and np.isnan(stat["middle_layer"])
    assert stat["test_rho_simlex999"] == pytest.approx(-1.0)
    assert list(table["params"]) == [3e8, 5e7] and list(table["family"]) == ["decoder", "static"]


def test_the_fit_reads_the_test_numbers_and_two_models_cannot_separate(sweeps: list[Sweep]) -> None:
    table = compare_sweeps(sweeps, pd.DataFrame({"model": ["dec", "stat"], "params": [3e8, 5e7]}))
    fits = held_out_fits(table, n_boot=50)
    men = next(f for f in fits if f.metric == "rho_men" and f.contrast == "llm")
    assert men.values == pytest.approx({"dec": 1.0, "stat": -1.0})
    assert men.outcome == "cannot_separate" and men.design == "few_models"
    assert men.alpha == pytest.approx(0.05 / 6)


def test_sweeps_on_different_splits_or_a_model_twice_are_refused(sweeps: list[Sweep], tmp_path: Path) -> None:
    other = Sweep(**{**sweeps[1].__dict__, "split": json.dumps({"seed": 1}), "folder": "elsewhere"})
    with pytest.raises(ParameterError, match="elsewhere: its split differs"):
        compare_sweeps([sweeps[0], other])
    with pytest.raises(ParameterError, match="model dec is also in"):
        compare_sweeps([sweeps[0], sweeps[0]])
    with pytest.raises(ParameterError, match="no metrics.json"):
        read_sweep(tmp_path)
    (tmp_path / "metrics.json").write_text("{}", encoding="utf-8")
    with pytest.raises(ParameterError, match="not a layer-sweep record"):
        read_sweep(tmp_path)


def test_the_figure_draws_a_line_per_decoder_and_a_reference_per_one_layer_model(sweeps: list[Sweep]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    fig = comparison_figure(sweeps, metrics=("rho_men",))
    ax = fig.axes[0]
    curve = next(line for line in ax.get_lines() if line.get_label() == "dec")
    assert list(curve.get_xdata()) == [0.0, 0.25, 0.5, 0.75, 1.0]
    assert np.allclose(curve.get_ydata()[1:], [1.0, -1.0, -1.0, -1.0])
    reference = next(line for line in ax.get_lines() if line.get_label() == "stat")
    assert np.allclose(reference.get_ydata(), -1.0)


def test_the_command_adds_params_and_families_from_the_model_yamls(tmp_path: Path, capsys) -> None:
    from wordembed.cli import main
    from wordembed.models.spec import load_spec
    from wordembed.results import read_table

    data, words, x = _constructed()
    dec = _write(tmp_path / "a", "smollm2-135m", "", x[:, [0, 1, 2, 2, 2]], words, data)
    stat = _write(tmp_path / "b", "glove-50d", "", x[:, [2]], words, data)
    assert main(["compare-layers", str(dec), str(stat), "--out", str(tmp_path / "out")]) == 0
    table = read_table(tmp_path / "out", "comparison").set_index("model")
    assert table.loc["smollm2-135m", "params"] == load_spec("smollm2-135m").params
    assert list(table["family"]) == ["decoder", "static"]
    assert table.loc["smollm2-135m", "test_rho_men"] == pytest.approx(1.0)
    fits = read_table(tmp_path / "out", "fits")
    assert set(fits["metric"]) == set(RULE_METRICS) and set(fits["outcome"]) == {"cannot_separate"}
    assert (tmp_path / "out" / "layers_compare.png").is_file()
    assert "results in" in capsys.readouterr().out
