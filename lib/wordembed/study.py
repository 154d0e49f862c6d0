"""Study presets (``params/studies/*.yaml``) and the one schema every notebook parameter must follow.

A study names its models, its vocabulary and parameter values; the schema says which parameters exist, their
types, defaults and allowed ranges. Bad values fail here, before anything runs, with the valid choices listed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, StrictStr, ValidationError

from wordembed import paths
from wordembed.errors import ParameterError
from wordembed.tasks.solvers import SOLVERS

PER_MODEL_NOTEBOOKS: tuple[str, ...] = (
    "01_embed",
    "02_similarity_distribution",
    "03_related_pairs",
    "04_analogies",
)
CROSS_MODEL_NOTEBOOKS: tuple[str, ...] = ("05_agreement", "06_report")
# Per-model notebooks that run for decoder models only (ModelSpec.family "decoder") and only in a study that
# lists them under `notebooks` (or `wordembed run --notebooks 07_layers`): a layer sweep scores every hidden
# layer (and a prompt grid), minutes per model on a CPU, so the default studies' jobs stay as they were.
DECODER_NOTEBOOKS: tuple[str, ...] = ("07_layers",)
ALL_NOTEBOOKS: tuple[str, ...] = PER_MODEL_NOTEBOOKS + CROSS_MODEL_NOTEBOOKS + DECODER_NOTEBOOKS
# The prompt/pooling configurations of the layer sweep (wordembed.analyses.layers.PROMPT_GRID, same order).
PROMPT_GRID_NAMES: tuple[str, ...] = ("bare-mean", "bare-last", "the-word-mean", "the-word-last", "prompteol", "echo-mean")
ANALOGY_METHODS: tuple[str, ...] = SOLVERS.names()  # the solver registry's names, in its order


@dataclass(frozen=True)
class ParamSpec:
    """One notebook parameter: its type, default and the values it may take."""

    type: type
    default: Any
    help: str
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple[str, ...] | None = None
    item_choices: tuple[str, ...] | None = None

    def check(self, name: str, value: Any, where: str) -> Any:
        if self.type is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if self.type is list and isinstance(value, tuple):
            value = list(value)
        if not isinstance(value, self.type) or (self.type is int and isinstance(value, bool)):
            raise ParameterError(
                f"{where}: parameter '{name}' must be {self.type.__name__}, got {value!r} ({self.help})"
            )
        if self.minimum is not None and value < self.minimum:
            raise ParameterError(f"{where}: parameter '{name}'={value} is below its minimum {self.minimum}")
        if self.maximum is not None and value > self.maximum:
            raise ParameterError(f"{where}: parameter '{name}'={value} is above its maximum {self.maximum}")
        if self.choices is not None and value not in self.choices:
            raise ParameterError(
                f"{where}: parameter '{name}'={value!r} is not one of: {', '.join(self.choices)}"
            )
        if self.item_choices is not None:
            bad = [v for v in value if v not in self.item_choices]
            if bad:
                raise ParameterError(
                    f"{where}: parameter '{name}' has unknown value(s) {bad}; valid: {', '.join(self.item_choices)}"
                )
        return value


# Every parameter any notebook declares. Notebooks' `parameters` cells must agree with it (a test checks).
PARAMETERS: dict[str, ParamSpec] = {
    "study": ParamSpec(str, "adhoc", "study name, used in output paths and titles"),
    "model": ParamSpec(str, "glove-50d", "model key of params/models, or a model YAML path"),
    "models": ParamSpec(list, ["glove-50d", "minilm"], "model keys for the cross-model notebooks"),
    "failed_models": ParamSpec(list, [], "models whose per-model notebooks failed (shown in the report)"),
    "vocabulary": ParamSpec(str, "wordnet", "wordnet | bats | google | wordsim | study | a word-list file"),
    "vocab_limit": ParamSpec(int, 0, "0 = whole vocabulary, else a seeded sample of this many words", 0, 10_000_000),
    "seed": ParamSpec(int, 0, "seed of every random draw", 0, 2**32 - 1),
    "device": ParamSpec(str, "auto", "where models and the all-pairs products run", choices=("auto", "cpu", "cuda")),
    "hist_bins": ParamSpec(int, 2000, "histogram bins over [-1, 1]", 2000, 200_000),
    "sample_pairs": ParamSpec(int, 0, "0 = exact all pairs; else this many random pairs", 0, 10_000_000_000),
    "abtt_components": ParamSpec(
        int, -1, "principal directions removed by all-but-the-top; -1 = max(1, round(dims / 100)), Mu & Viswanath's D", -1, 100
    ),
    "n_random_pairs": ParamSpec(int, 20_000, "random pairs against which related pairs are compared", 100, 10_000_000),
    "related_baseline": ParamSpec(
        str,
        "same_words",
        "random pairs of related-pairs analyses: drawn from the related pairs' own words, frequency-matched to "
        "them, or from the whole study vocabulary",
        choices=("same_words", "frequency_matched", "vocabulary"),
    ),
    "analogy_methods": ParamSpec(
        list, ["3CosAdd", "3CosMul", "LRCos"], "analogy solvers", item_choices=ANALOGY_METHODS
    ),
    "analogy_candidates": ParamSpec(
        str,
        "common",
        "candidate answers of analogies: the BATS words plus the study vocabulary, restricted to the words every "
        "model of the study covers ('common', so no model faces an easier test), per model ('bats+vocabulary'), "
        "or the BATS words alone ('bats')",
        choices=("common", "bats+vocabulary", "bats"),
    ),
    "keep_question_words": ParamSpec(bool, False, "honest mode: question words stay among the candidates"),
    "bootstrap": ParamSpec(int, 1000, "bootstrap replicates of every confidence interval", 0, 100_000),
    "kendall_bootstrap": ParamSpec(
        int, 200, "bootstrap replicates of Kendall's tau in the agreement analysis (one O(n log n) call each)", 0, 100_000
    ),
    "cka_bootstrap": ParamSpec(
        int, 100, "subsample replicates of the CKA intervals in the agreement analysis (O(words x dims^2) each)", 0, 100_000
    ),
    "map_words": ParamSpec(int, 300, "words shown on the 2-D map", 10, 5000),
    "knn_k": ParamSpec(int, 10, "neighbours compared by the agreement analysis", 1, 200),
    "agreement_words": ParamSpec(int, 5000, "words (shared by all models) used for neighbours and CKA", 100, 200_000),
    "layer_words": ParamSpec(
        int, 10_000, "WordNet lemmas (a seeded sample) in a layer sweep's vocabulary beside the BATS, SimLex-999 "
        "and MEN words; 0 = the benchmark words alone", 0, 200_000
    ),
    "prompt_grid": ParamSpec(
        list, list(PROMPT_GRID_NAMES), "decoder prompt/pooling configurations the layer sweep also scores",
        item_choices=PROMPT_GRID_NAMES,
    ),
    "grid_layers": ParamSpec(
        str, "chosen", "where the prompt grid is scored: at the layer chosen on dev for the model's own prompt "
        "('chosen'), or on every layer with a layer chosen on dev per configuration ('all', L + 1 times the work)",
        choices=("chosen", "all"),
    ),
    "output_dir": ParamSpec(str, "", "folder for tables, figures and metrics.json ('' = outputs/<study>/...)"),
    "results_dir": ParamSpec(str, "", "folder of a study's results (cross-model notebooks read it)"),
}


@dataclass
class Study:
    """A validated study: what the runner executes."""

    name: str
    description: str
    models: list[str]
    per_model_notebooks: list[str]
    cross_model_notebooks: list[str]
    parameters: dict[str, Any] = field(default_factory=dict)
    path: Path | None = None
    extends: tuple[Path, ...] = ()
    """The files this study inherits from (``extends:``), the root first; empty for a study on its own."""

    def notebook_parameters(self) -> dict[str, Any]:
        """Study-wide values, defaults filled in from the schema."""
        values = {name: spec.default for name, spec in PARAMETERS.items()}
        values.update(self.parameters)
        values["study"] = self.name
        return values


def study_dir() -> Path:
    return paths.params_dir() / "studies"


def list_studies() -> list[str]:
    return sorted(p.stem for p in study_dir().glob("*.yaml"))


def validate_parameters(values: Mapping[str, Any], where: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, value in values.items():
        if name not in PARAMETERS:
            raise ParameterError(f"{where}: unknown parameter '{name}'; valid: {', '.join(sorted(PARAMETERS))}")
        out[name] = PARAMETERS[name].check(name, value, where)
    return out


def bounds_text(name: str) -> str:
    """``"LO..HI"`` of a numeric parameter (``"LO.."`` or ``"..HI"`` when one side is open), for messages."""
    spec = PARAMETERS[name]

    def show(x: float | None) -> str:
        return "" if x is None else str(int(x)) if float(x).is_integer() else str(x)

    return f"{show(spec.minimum)}..{show(spec.maximum)}"


def check_notebook_parameters(values: Mapping[str, Any], notebook: str) -> None:
    """Check a notebook's parameters against the schema, from inside the notebook.

    Why: the runner validates a study before it starts, but ``papermill NOTEBOOK OUT -p map_words -3`` injects
    values no schema has seen (``-p vocab_limit abc`` arrives as the string "abc" and fails later with a
    TypeError that names nothing). Each notebook calls this right after the imports of the cell that follows
    its parameters, with ``globals()``: at that point its globals are its parameters (declared and injected),
    IPython's own names and those imports, and only the parameters are schema names (tests/test_study.py
    checks that no import shadows one), so names the schema does not know are skipped. The error names the
    notebook and the parameter, and fails the run before any data or model is read.
    """
    for name, value in values.items():
        if name in PARAMETERS:
            PARAMETERS[name].check(name, value, notebook)


def _notebooks(
    value: Any, allowed: Sequence[str], where: str, field_name: str, default: Sequence[str] | None = None
) -> list[str]:
    if value is None:
        return list(allowed if default is None else default)
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ParameterError(f"{where}: '{field_name}' must be a list of notebook names")
    unknown = [v for v in value if v not in allowed]
    if unknown:
        raise ParameterError(f"{where}: unknown notebook(s) {unknown} in '{field_name}'; valid: {', '.join(allowed)}")
    return value


def check_models(models: Sequence[str], where: str) -> None:
    """Fail unless every entry is a model key of params/models, an existing model YAML file, or the random-weight
    control of one (``KEY@random``, ``KEY@random:SEED``; a bad variant or an unknown KEY is one line naming it)."""
    from wordembed.models.spec import list_specs, load_spec

    known = {spec.key for spec in list_specs()}
    unknown = []
    for m in models:
        if m in known or Path(m).expanduser().is_file():
            continue
        if "@" in m:
            try:
                load_spec(m)
            except ParameterError as exc:
                raise ParameterError(f"{where}: {exc}") from None
            continue
        unknown.append(m)
    if unknown:
        raise ParameterError(f"{where}: unknown model(s) {unknown}; valid: {', '.join(sorted(known))}")


RESERVED_PARAMETERS: tuple[str, ...] = ("model", "models", "study", "output_dir", "results_dir", "failed_models")
"""Set by the runner for each job, never by a study."""


class StudyFile(BaseModel):
    """The fields a study YAML may have, each optional on its own (``models`` is required once ``extends``
    is resolved). ``extra="forbid"``: a misspelt field (``model:`` for ``models:``) is an error naming the
    file and the field, not a silently ignored line."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: StrictStr | None = None
    description: StrictStr | None = None
    extends: StrictStr | None = None
    models: list[StrictStr] | None = None
    notebooks: list[StrictStr] | None = None
    cross_notebooks: list[StrictStr] | None = None
    parameters: dict[StrictStr, Any] | None = None


STUDY_FIELDS: tuple[str, ...] = tuple(StudyFile.model_fields)


def _file_error(exc: ValidationError, where: str) -> ParameterError:
    """Pydantic's report as one line naming the file and each bad field."""
    parts = []
    for error in exc.errors():
        name = str(error["loc"][0]) if error["loc"] else "(file)"
        if error["type"] == "extra_forbidden":
            parts.append(f"unknown field '{name}'; valid: {', '.join(STUDY_FIELDS)}")
        elif name == "models":
            parts.append("'models' must be a non-empty list of model keys")
        elif name in ("notebooks", "cross_notebooks"):
            parts.append(f"'{name}' must be a list of notebook names")
        elif name == "parameters":
            parts.append("'parameters' must be a mapping of parameter names to values")
        else:
            parts.append(f"field '{name}': {error['msg']}")
    return ParameterError(f"{where}: " + "; ".join(dict.fromkeys(parts)))


def _study_path(name_or_path: str | Path, near: Path | None = None) -> Path:
    """A study's file: a path as given (relative to ``near``, the extending file's folder), or NAME.yaml
    beside ``near`` when there is one, else in params/studies."""
    path = Path(name_or_path)
    if path.suffix:
        return path if path.is_absolute() or near is None else near / path
    if near is not None and (near / f"{name_or_path}.yaml").is_file():
        return near / f"{name_or_path}.yaml"
    return study_dir() / f"{name_or_path}.yaml"


def _read_file(path: Path) -> StudyFile:
    where = str(path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise ParameterError(f"{where}: not valid YAML: {' '.join(str(exc).split())}") from exc
    if not isinstance(raw, dict):
        raise ParameterError(f"{where}: a study is a mapping with 'models' and 'parameters'")
    try:
        study = StudyFile(**{str(k): v for k, v in raw.items()})
    except ValidationError as exc:
        raise _file_error(exc, where) from None
    for reserved in RESERVED_PARAMETERS:
        if reserved in (study.parameters or {}):
            raise ParameterError(f"{where}: parameter '{reserved}' is set by the runner, not by a study")
    return study


def _resolve(path: Path, chain: tuple[Path, ...] = ()) -> tuple[dict[str, Any], tuple[Path, ...]]:
    """The study at ``path`` with its ``extends`` chain applied: the fields a child sets replace its
    parent's, and ``parameters`` merge name by name (the child's value wins). Returns the merged fields and
    the files read, parents first. Each file's parameters are checked against the schema where they are
    written, so an error names the file that has the bad value."""
    where = str(path)
    chain = (*chain, path.resolve())
    study = _read_file(path)
    params = validate_parameters(study.parameters or {}, where)
    fields = study.model_dump(exclude_none=True, exclude={"extends", "parameters"})
    if study.extends is None:
        return fields | {"parameters": params}, (path,)
    parent_path = _study_path(study.extends, path.parent)
    if not parent_path.is_file():
        raise ParameterError(
            f"{where}: extends unknown study '{study.extends}' (no file {parent_path}); valid: "
            f"{', '.join(list_studies())}"
        )
    if parent_path.resolve() in chain:
        cycle = " -> ".join(p.name for p in (*chain, parent_path.resolve()))
        raise ParameterError(f"{where}: extends makes a cycle: {cycle}")
    parent, files = _resolve(parent_path, chain)
    merged = {k: v for k, v in parent.items() if k != "name"} | fields  # a child never inherits the name
    merged["parameters"] = parent["parameters"] | params
    return merged, (*files, path)


def load_study(name_or_path: str | Path, *, check_model_keys: bool = True) -> Study:
    """Read and validate a study by name (``params/studies/NAME.yaml``) or path, its ``extends`` resolved.

    ``extends: PARENT`` (a study name, looked up beside the file and then in params/studies, or a path
    relative to the file) inherits the parent's models, notebooks, description and parameters; what the
    child sets replaces them, parameter by parameter. A cycle or an unknown parent is one line naming the
    file. Why: a variant of a study (a smaller vocabulary, more models) should state only what differs.
    """
    path = Path(name_or_path)
    if not path.suffix:
        path = study_dir() / f"{name_or_path}.yaml"
    if not path.is_file():
        raise ParameterError(f"unknown study '{name_or_path}' (no file {path}); valid: {', '.join(list_studies())}")
    where = str(path)
    raw, files = _resolve(path)
    models = raw.get("models")
    if not models:
        raise ParameterError(f"{where}: 'models' must be a non-empty list of model keys")
    if check_model_keys:
        check_models(models, where)
    return Study(
        name=str(raw.get("name") or path.stem),
        description=str(raw.get("description") or ""),
        models=list(models),
        per_model_notebooks=_notebooks(
            raw.get("notebooks"), PER_MODEL_NOTEBOOKS + DECODER_NOTEBOOKS, where, "notebooks", PER_MODEL_NOTEBOOKS
        ),
        cross_model_notebooks=_notebooks(raw.get("cross_notebooks"), CROSS_MODEL_NOTEBOOKS, where, "cross_notebooks"),
        parameters=raw["parameters"],
        path=path,
        extends=tuple(files[:-1]),
    )


def schema_lines() -> list[str]:
    """The parameter schema, one line per parameter: type, default, bounds or choices, help.

    Why: ``wordembed studies`` printed type, default and help only, so the valid range of ``bootstrap`` or
    the choices of ``related_baseline`` had to be read from the source.
    """
    lines = []
    for name, spec in PARAMETERS.items():
        limits = []
        if spec.minimum is not None or spec.maximum is not None:
            limits.append(f"range {bounds_text(name)}")
        if spec.choices is not None:
            limits.append(f"one of {', '.join(spec.choices)}")
        if spec.item_choices is not None:
            limits.append(f"items from {', '.join(spec.item_choices)}")
        extra = f"; {'; '.join(limits)}" if limits else ""
        lines.append(f"{name} ({spec.type.__name__}, default {spec.default!r}{extra}): {spec.help}")
    lines.append(f"study file fields: {', '.join(STUDY_FIELDS)} (parameters as above)")
    return lines
