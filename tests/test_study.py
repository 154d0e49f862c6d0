"""Study presets and the notebook parameter schema: bad input fails before anything runs."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import papermill
import pytest

from wordembed import paths
from wordembed.errors import ParameterError
from wordembed.study import ALL_NOTEBOOKS, PARAMETERS, list_studies, load_study, validate_parameters


def test_presets_exist_and_validate() -> None:
    assert {"default", "extended", "quick", "paper"} <= set(list_studies())
    default = load_study("default")
    assert default.models == ["minilm", "use-m3", "glove-50d", "smollm2-135m", "gemma3-270m"]
    assert default.parameters["vocabulary"] == "wordnet"
    assert load_study("quick").parameters["vocab_limit"] == 3000
    assert len(load_study("paper").models) == 6
    assert set(load_study("default").models) < set(load_study("extended").models)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("models: [nosuchmodel]\n", "unknown model"),
        ("models: [glove-50d]\nparameters: {hist_bins: 10}\n", "below its minimum 2000"),
        ("models: [glove-50d]\nparameters: {colour: red}\n", "unknown parameter 'colour'"),
        ("models: [glove-50d]\nparameters: {analogy_methods: [3CosFoo]}\n", "3CosFoo"),
        ("models: [glove-50d]\nnotebooks: [99_nothing]\n", "unknown notebook"),
        ("models: [glove-50d]\nparameters: {seed: 'one'}\n", "must be int"),
        ("models: [glove-50d]\nparameters: {model: minilm}\n", "set by the runner"),
        ("models: []\n", "non-empty list"),
    ],
)
def test_bad_studies_name_the_problem(tmp_path: Path, body: str, message: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(body)
    with pytest.raises(ParameterError, match=message) as info:
        load_study(path)
    assert str(path) in str(info.value)


def test_unknown_study_lists_valid_ones() -> None:
    with pytest.raises(ParameterError, match="valid: .*default"):
        load_study("nosuchstudy")


def test_unknown_model_lists_valid_keys(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text("models: [glove-50d, gpt-9]\n")
    with pytest.raises(ParameterError, match=r"\['gpt-9'\].*valid: .*glove-50d"):
        load_study(path)


def test_validate_parameters_coerces_and_checks() -> None:
    assert validate_parameters({"seed": 3, "keep_question_words": True}, "x") == {
        "seed": 3,
        "keep_question_words": True,
    }
    with pytest.raises(ParameterError, match="device"):
        validate_parameters({"device": "tpu"}, "x")


def _notebooks() -> list[Path]:
    return [paths.notebooks_dir() / f"{name}.ipynb" for name in ALL_NOTEBOOKS]


def test_every_notebook_exists() -> None:
    missing = [p.name for p in _notebooks() if not p.is_file()]
    assert not missing


@pytest.mark.parametrize("name", ALL_NOTEBOOKS)
def test_notebook_is_committed_without_outputs(name: str) -> None:
    nb = json.loads((paths.notebooks_dir() / f"{name}.ipynb").read_text())
    dirty = [
        i
        for i, cell in enumerate(nb["cells"])
        if cell["cell_type"] == "code" and (cell.get("outputs") or cell.get("execution_count"))
    ]
    assert not dirty, f"{name}.ipynb has outputs in cells {dirty}: strip them before committing"


@pytest.mark.parametrize("name", ALL_NOTEBOOKS)
def test_notebook_parameters_agree_with_schema(name: str) -> None:
    declared = papermill.inspect_notebook(str(paths.notebooks_dir() / f"{name}.ipynb"))
    assert declared, f"{name} has no parameters cell"
    for param, info in declared.items():
        assert param in PARAMETERS, f"{name}: parameter '{param}' is not in wordembed.study.PARAMETERS"
        default = ast.literal_eval(info["default"])
        assert default == PARAMETERS[param].default, (
            f"{name}: default of '{param}' is {default!r}, the schema says {PARAMETERS[param].default!r}"
        )


def test_every_schema_parameter_is_used_by_a_notebook() -> None:
    used: set[str] = set()
    for path in _notebooks():
        used |= set(papermill.inspect_notebook(str(path)))
    assert set(PARAMETERS) == used
