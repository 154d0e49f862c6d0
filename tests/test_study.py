"""Study presets and the notebook parameter schema: bad input fails before anything runs."""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import papermill
import pytest

from wordembed import paths
from wordembed.errors import ParameterError
from wordembed.study import (
    ALL_NOTEBOOKS,
    PARAMETERS,
    check_notebook_parameters,
    list_studies,
    load_study,
    validate_parameters,
)


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


# --------------------------------------------------------------------- notebooks run directly by papermill
@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"map_words": -3}, "04_analogies: parameter 'map_words'=-3 is below its minimum 10"),
        ({"vocab_limit": "abc"}, "04_analogies: parameter 'vocab_limit' must be int, got 'abc'"),  # papermill -p
        ({"keep_question_words": "false"}, "parameter 'keep_question_words' must be bool, got 'false'"),
        ({"device": "tpu"}, "parameter 'device'='tpu' is not one of: auto, cpu, cuda"),
        ({"analogy_methods": ["3CosFoo"]}, "parameter 'analogy_methods' has unknown value(s) ['3CosFoo']"),
        ({"hist_bins": 10**9}, "parameter 'hist_bins'=1000000000 is above its maximum 200000"),
    ],
)
def test_check_notebook_parameters_names_the_parameter(values: dict, message: str) -> None:
    with pytest.raises(ParameterError) as err:
        check_notebook_parameters(values, "04_analogies")
    assert message in str(err.value)


def test_check_notebook_parameters_ignores_other_globals() -> None:
    """A notebook passes its globals(): IPython's own names (In, Out, get_ipython) are not parameters."""
    defaults = {name: spec.default for name, spec in PARAMETERS.items()}
    check_notebook_parameters({**defaults, "In": [""], "Out": {}, "get_ipython": print, "_": None}, "01_embed")
    check_notebook_parameters({"seed": 3, "bootstrap": 0}, "02_similarity_distribution")


CHECK_LINE = re.compile(r'^check_notebook_parameters\(globals\(\), "(?P<name>[^"]+)"\)', re.M)


@pytest.mark.parametrize("name", ALL_NOTEBOOKS)
def test_each_notebook_checks_its_parameters_first(name: str) -> None:
    """The first code cell after `parameters` (and papermill's injected cell) checks the values before it
    uses any: its only statements before the check are imports (ruff wants them at the top of the cell)."""
    nb = json.loads((paths.notebooks_dir() / f"{name}.ipynb").read_text())
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    first = next(i for i, c in enumerate(code) if "parameters" in c.get("metadata", {}).get("tags", []))
    source = "".join(code[first + 1]["source"])
    match = CHECK_LINE.search(source)
    assert match and match["name"] == name, f"{name}: no check_notebook_parameters(globals(), {name!r})"
    before = ast.parse(source[: match.start()]).body
    assert all(isinstance(node, ast.Import | ast.ImportFrom) for node in before)
    assert any("check_notebook_parameters" in ast.unparse(node) for node in before)
    # globals() then holds the imports too: none may take a parameter's name (it would be checked instead)
    bound = {(a.asname or a.name).split(".")[0] for node in before for a in node.names}
    assert not bound & set(PARAMETERS), f"{name}: imports shadow parameters {bound & set(PARAMETERS)}"


def test_papermill_run_with_a_bad_value_fails_on_the_check(tmp_path: Path) -> None:
    """`papermill notebooks/01_embed.ipynb out.ipynb -p map_words -3` skips the study schema; the notebook's
    own check names the parameter before any data or model is touched (about 3 s: a kernel start)."""
    out = tmp_path / "01.ipynb"
    with pytest.raises(papermill.PapermillExecutionError) as err:
        papermill.execute_notebook(
            str(paths.notebooks_dir() / "01_embed.ipynb"),
            str(out),
            parameters={"map_words": -3},
            kernel_name="python3",
            progress_bar=False,
            cwd=str(tmp_path),
        )
    assert err.value.ename == "ParameterError"
    assert "01_embed: parameter 'map_words'=-3 is below its minimum 10" in err.value.evalue
    code = [c for c in json.loads(out.read_text())["cells"] if c["cell_type"] == "code"]
    failed = [i for i, c in enumerate(code) if any(o["output_type"] == "error" for o in c.get("outputs", []))]
    assert len(failed) == 1 and "check_notebook_parameters" in "".join(code[failed[0]]["source"])
    assert all(c.get("execution_count") is None for c in code[failed[0] + 1 :])  # nothing after the check ran


# ------------------------------------------------------------------------------------------- extends
def test_extends_inherits_and_overrides(tmp_path: Path) -> None:
    """A child names its parent; it inherits models, notebooks, description and parameters, and what it sets
    wins (parameters one by one). Here a child of the shipped default study, and a grandchild beside it."""
    (tmp_path / "small.yaml").write_text(
        "extends: default\nparameters: {vocab_limit: 500, bootstrap: 20}\nnotebooks: [01_embed, 04_analogies]\n"
    )
    (tmp_path / "smaller.yaml").write_text("extends: small\nmodels: [glove-50d]\nparameters: {bootstrap: 5}\n")
    default = load_study("default")
    small = load_study(tmp_path / "small.yaml")
    assert small.name == "small" and small.models == default.models and small.description == default.description
    assert small.parameters == default.parameters | {"vocab_limit": 500, "bootstrap": 20}
    assert small.per_model_notebooks == ["01_embed", "04_analogies"]
    assert small.cross_model_notebooks == default.cross_model_notebooks
    assert small.extends == (default.path,)
    smaller = load_study(tmp_path / "smaller.yaml")
    assert smaller.models == ["glove-50d"] and smaller.per_model_notebooks == ["01_embed", "04_analogies"]
    assert smaller.parameters == default.parameters | {"vocab_limit": 500, "bootstrap": 5}
    assert smaller.extends == (default.path, tmp_path / "small.yaml")
    assert default.extends == ()


def test_extends_cycles_and_unknown_parents_name_the_file(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text("extends: b\n")
    (tmp_path / "b.yaml").write_text("extends: a\nmodels: [glove-50d]\n")
    (tmp_path / "self.yaml").write_text("extends: self.yaml\nmodels: [glove-50d]\n")
    (tmp_path / "orphan.yaml").write_text("extends: nosuchstudy\n")
    cases = {
        "a.yaml": r"b\.yaml: extends makes a cycle: a\.yaml -> b\.yaml -> a\.yaml$",
        "self.yaml": r"self\.yaml: extends makes a cycle: self\.yaml -> self\.yaml$",
        "orphan.yaml": r"orphan\.yaml: extends unknown study 'nosuchstudy' \(no file .*\); valid: .*default",
    }
    for name, message in cases.items():
        with pytest.raises(ParameterError, match=message) as info:
            load_study(tmp_path / name)
        assert "\n" not in str(info.value)


def test_a_misspelt_field_names_the_file_and_the_field(tmp_path: Path) -> None:
    """pydantic with extra="forbid" checks a study file's fields; a bad parameter names the file that has it,
    also when it sits in a parent."""
    path = tmp_path / "typo.yaml"
    path.write_text("models: [glove-50d]\nparamaters: {seed: 1}\n")
    with pytest.raises(ParameterError, match=rf"^{path}: unknown field 'paramaters'; valid: name, .*parameters$"):
        load_study(path)
    (tmp_path / "parent.yaml").write_text("models: [glove-50d]\nparameters: {bootstrap: -1}\n")
    (tmp_path / "child.yaml").write_text("extends: parent\n")
    with pytest.raises(ParameterError, match=r"parent\.yaml: parameter 'bootstrap'=-1 is below its minimum"):
        load_study(tmp_path / "child.yaml")
    (tmp_path / "lonely.yaml").write_text("parameters: {seed: 1}\n")
    with pytest.raises(ParameterError, match=r"lonely\.yaml: 'models' must be a non-empty list"):
        load_study(tmp_path / "lonely.yaml")


def test_schema_lines_show_bounds_and_choices() -> None:
    from wordembed.study import schema_lines

    lines = schema_lines()
    assert "bootstrap (int, default 1000; range 0..100000): bootstrap replicates of every confidence interval" in lines
    assert any(line.startswith("device (str, default 'auto'; one of auto, cpu, cuda)") for line in lines)
    assert lines[-1].startswith("study file fields: name, description, extends, models")


def test_the_studies_command_prints_the_schema_with_its_bounds(capsys: pytest.CaptureFixture) -> None:
    from wordembed.cli import main
    from wordembed.study import bounds_text, schema_lines

    assert main(["studies"]) == 0
    out = capsys.readouterr().out
    assert "extended: minilm, mpnet" in out and f"range {bounds_text('bootstrap')}" in out
    assert all(f"  {line}" in out for line in schema_lines())
