"""The papermill runner: skipping unchanged work, rerunning what changed, carrying on past a failing model,
refusing bad parameters before anything runs, and the ``wordembed run`` command.

Most tests replace the kernel (``wordembed.runner.execute``) by a recorder that writes what a notebook would
(the rendered .ipynb and a metrics.json derived from its parameters), so the planning, hashing and status
logic is checked in milliseconds. One slow test runs real notebooks through papermill with a model whose
artefact is missing. The library hash is pinned in every test: other work on the package while the suite
runs must not look like an input change (``library_hash`` itself is checked on a folder of its own).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import nbformat
import pytest
from tiny_models import write_tiny_static_yaml

from wordembed import paths, runner
from wordembed.cli import main
from wordembed.errors import ModelError, ParameterError
from wordembed.runner import ALL_MODELS_DIR, Job, StudyRunner
from wordembed.study import ALL_NOTEBOOKS, CROSS_MODEL_NOTEBOOKS, PER_MODEL_NOTEBOOKS, load_study

GLOVE = "glove-50d"
STATIC = "tiny-static"
BROKEN = "broken"
CODE_HASH = runner.code_hash  # the real one; the autouse fixture pins the module attribute


class FakeKernel:
    """Stands in for papermill: records each job and writes its outputs; fails the jobs it is told to."""

    def __init__(self, fail: set[str] | None = None) -> None:
        self.fail = fail or set()
        self.calls: list[str] = []
        self.parameters: dict[str, dict[str, Any]] = {}

    def __call__(self, job: Job, *, kernel_name: str | None = None) -> None:
        self.calls.append(job.label)
        self.parameters[job.label] = dict(job.parameters)
        job.output_path.parent.mkdir(parents=True, exist_ok=True)
        nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("1 + 1")])
        nbformat.write(nb, str(job.output_path))
        if job.label in self.fail or f"{job.model}/*" in self.fail:
            raise ModelError(f"{job.label}: the stand-in kernel was told to fail")
        job.results_dir.mkdir(parents=True, exist_ok=True)
        metrics = {k: v for k, v in job.parameters.items() if k not in ("output_dir", "results_dir")}
        metrics["run"] = len(self.calls)  # like the timings real notebooks record: every run differs
        (job.results_dir / "metrics.json").write_text(json.dumps(metrics, sort_keys=True))


def pinned_code_hash():
    """The real code hash, taken once per notebook: other work on the package while the suite runs must not
    look like an input change."""
    taken: dict[str, dict[str, str]] = {}
    return lambda path: taken.setdefault(str(path), CODE_HASH(path))


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WORDEMBED_STORE", str(tmp_path / "store"))
    monkeypatch.setenv("WORDEMBED_OUTPUTS", str(tmp_path / "outputs"))
    monkeypatch.setattr(runner, "code_hash", pinned_code_hash())


@pytest.fixture
def kernel(monkeypatch: pytest.MonkeyPatch) -> FakeKernel:
    fake = FakeKernel()
    monkeypatch.setattr(runner, "execute", fake)
    return fake


def _static(root: Path, key: str = STATIC, **kw: Any) -> Path:
    return write_tiny_static_yaml(root / "models", ["cat", "dog", "cats", "dogs"], key=key, **kw)


def _changed_model_reruns(changed: str, others: list[str]) -> list[str]:
    """What a change to one model re-runs: its own jobs, the notebooks of other models that take the list
    of models (analogies' common candidate vocabulary), and the cross-model notebooks."""
    takes_models = [n for n in PER_MODEL_NOTEBOOKS if "models" in runner.declared_parameters(runner.notebook_path(n))]
    own = [f"{changed}/{n}" for n in PER_MODEL_NOTEBOOKS]
    return (
        own[:1]
        + [f"{m}/{n}" for m in others for n in takes_models if n != "01_embed"]
        + own[1:]
        + [f"{ALL_MODELS_DIR}/{n}" for n in CROSS_MODEL_NOTEBOOKS]
    )


def _study(tmp_path: Path, models: list[str], parameters: str = "", name: str = "s") -> Path:
    path = tmp_path / f"{name}.yaml"
    body = "\n".join(
        [
            f"name: {name}",
            f"models: [{', '.join(models)}]",
            "parameters:",
            "  vocab_limit: 300",
            "  n_random_pairs: 500",
            "  bootstrap: 20",
            "  agreement_words: 200",
            parameters,
        ]
    )
    path.write_text(body + "\n", encoding="utf-8")
    return path


def _run(study_path: Path, out: Path, **kw: Any) -> runner.RunReport:
    kw.setdefault("html", False)
    return StudyRunner(load_study(study_path), out_root=out, log=lambda _: None, **kw).run()


def _statuses(report: runner.RunReport) -> dict[str, str]:
    return {r.label: r.status for r in report.results}


def _labels(models: list[str]) -> list[str]:
    """Run order: every model embeds first, then each model's analyses, then the cross-model notebooks."""
    rest = [n for n in PER_MODEL_NOTEBOOKS if n != "01_embed"]
    return (
        [f"{m}/01_embed" for m in models]
        + [f"{m}/{n}" for m in models for n in rest]
        + [f"{ALL_MODELS_DIR}/{n}" for n in CROSS_MODEL_NOTEBOOKS]
    )


# ------------------------------------------------------------------------------------ skipping and rerunning


def test_unchanged_inputs_skip_every_job(tmp_path: Path, kernel: FakeKernel) -> None:
    study = _study(tmp_path, [GLOVE, str(_static(tmp_path))])
    out = tmp_path / "out"
    first = _run(study, out)
    labels = _labels([GLOVE, STATIC])
    assert kernel.calls == labels and set(_statuses(first).values()) == {"ok"} and first.exit_code == 0
    kernel.calls.clear()
    second = _run(study, out)
    assert kernel.calls == [], "unchanged jobs were run again"
    assert _statuses(second) == dict.fromkeys(labels, "skipped")
    assert second.exit_code == 0
    run = json.loads((out / "run.json").read_text())
    assert [r["status"] for r in run["results"]] == ["skipped"] * len(labels) and run["failed"] == 0


def test_a_cross_model_job_is_not_its_own_input(tmp_path: Path, kernel: FakeKernel) -> None:
    """The cross-model notebooks hash the per-model results; their own metrics.json must not count."""
    study = _study(tmp_path, [GLOVE, str(_static(tmp_path))])
    out = tmp_path / "out"
    _run(study, out, notebooks=["01_embed", "05_agreement"])
    kernel.calls.clear()
    report = _run(study, out, notebooks=["01_embed", "05_agreement"])
    assert _statuses(report)[f"{ALL_MODELS_DIR}/05_agreement"] == "skipped"


@pytest.mark.parametrize(
    ("parameter", "rerun"),
    [
        # declared by 05_agreement only
        ("knn_k: 5", {"_all/05_agreement", "_all/06_report"}),
        # declared by 02 only; the cross-model notebooks read the per-model results, so they follow
        (
            "hist_bins: 4000",
            {
                f"{GLOVE}/02_similarity_distribution",
                f"{STATIC}/02_similarity_distribution",
                "_all/05_agreement",
                "_all/06_report",
            },
        ),
        ("map_words: 50", {f"{GLOVE}/01_embed", f"{STATIC}/01_embed", "_all/05_agreement", "_all/06_report"}),
    ],
)
def test_a_changed_parameter_reruns_only_the_jobs_it_affects(
    tmp_path: Path, kernel: FakeKernel, parameter: str, rerun: set[str]
) -> None:
    models = [GLOVE, str(_static(tmp_path))]
    out = tmp_path / "out"
    _run(_study(tmp_path, models), out)
    kernel.calls.clear()
    report = _run(_study(tmp_path, models, f"  {parameter}"), out)
    assert set(kernel.calls) == rerun
    assert {label for label, status in _statuses(report).items() if status == "ok"} == rerun
    assert {label for label, status in _statuses(report).items() if status == "skipped"} == (
        set(_labels([GLOVE, STATIC])) - rerun
    )
    name, value = parameter.split(": ")
    assert [str(kernel.parameters[label][name]) for label in rerun if name in kernel.parameters[label]] == [
        value
    ] * (1 if name == "knn_k" else 2)


def test_a_changed_model_spec_or_notebook_reruns_its_jobs(
    tmp_path: Path, kernel: FakeKernel, monkeypatch: pytest.MonkeyPatch
) -> None:
    static = _static(tmp_path)
    study = _study(tmp_path, [GLOVE, str(static)])
    out = tmp_path / "out"
    notebooks = tmp_path / "notebooks"
    notebooks.mkdir()
    for name in ALL_NOTEBOOKS:
        (notebooks / f"{name}.ipynb").write_bytes((paths.notebooks_dir() / f"{name}.ipynb").read_bytes())
    monkeypatch.setattr(paths, "notebooks_dir", lambda: notebooks)
    _run(study, out)

    kernel.calls.clear()
    static.write_text(static.read_text() + "# a comment changes the spec's bytes\n")
    _run(study, out)
    # the model's own jobs, and the other models' analogies (their common candidate vocabulary includes it)
    assert kernel.calls == _changed_model_reruns(STATIC, [GLOVE])

    kernel.calls.clear()
    nb = nbformat.read(str(notebooks / "03_related_pairs.ipynb"), as_version=4)
    nb.cells.append(nbformat.v4.new_markdown_cell("One more line of explanation."))
    nbformat.write(nb, str(notebooks / "03_related_pairs.ipynb"))
    _run(study, out)
    assert kernel.calls == [f"{GLOVE}/03_related_pairs", f"{STATIC}/03_related_pairs"] + [
        f"{ALL_MODELS_DIR}/{n}" for n in CROSS_MODEL_NOTEBOOKS
    ]


def test_force_and_a_library_change_rerun_everything(
    tmp_path: Path, kernel: FakeKernel, monkeypatch: pytest.MonkeyPatch
) -> None:
    study = _study(tmp_path, [GLOVE, str(_static(tmp_path))])
    out = tmp_path / "out"
    labels = _labels([GLOVE, STATIC])
    _run(study, out)
    kernel.calls.clear()
    assert _statuses(_run(study, out, force=True)) == dict.fromkeys(labels, "ok")
    assert kernel.calls == labels
    kernel.calls.clear()
    monkeypatch.setattr(runner, "code_hash", lambda path: {"wordembed.analyses": "another version"})
    _run(study, out)
    assert kernel.calls == labels


def test_code_hash_follows_imports_not_docstrings(tmp_path: Path) -> None:
    from wordembed.job_keys import code_modules

    pkg = tmp_path / "wordembed"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text('"""The package."""\n')
    (pkg / "sub" / "__init__.py").write_text("")
    (pkg / "a.py").write_text('"""Module a."""\nfrom wordembed.sub import b\n\n\ndef f():\n    """Why f."""\n    return b.y\n')
    (pkg / "sub" / "b.py").write_text("y = 2\n")
    (pkg / "cli.py").write_text("import wordembed.a\n")  # imports a, but nothing imports it
    cell = "from wordembed.a import f\nprint(f())"
    before = code_modules([cell], pkg)
    assert set(before) == {"wordembed", "wordembed.a", "wordembed.sub", "wordembed.sub.b"}
    (pkg / "a.py").write_text('"""Module a, reworded."""\nfrom wordembed.sub import b\n\n\ndef f():\n    """Other words."""\n    # a comment\n    return b.y\n')
    assert code_modules([cell], pkg) == before  # docstrings and comments are not code
    (pkg / "cli.py").write_text("import wordembed.a\nprint(1)\n")
    assert code_modules([cell], pkg) == before  # a module the notebook never imports
    (pkg / "sub" / "b.py").write_text("y = 3\n")  # a module imported through another one
    after = code_modules([cell], pkg)
    assert after["wordembed.sub.b"] != before["wordembed.sub.b"] and after["wordembed.a"] == before["wordembed.a"]


def _copy_package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    import shutil

    copy = tmp_path / "pkg" / "wordembed"
    shutil.copytree(paths.PACKAGE_DIR, copy, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(paths, "PACKAGE_DIR", copy)
    monkeypatch.setattr(runner, "code_hash", CODE_HASH)
    return copy


def test_a_docstring_edit_reruns_nothing_and_a_code_edit_reruns_its_importers(
    tmp_path: Path, kernel: FakeKernel, monkeypatch: pytest.MonkeyPatch
) -> None:
    package = _copy_package(tmp_path, monkeypatch)
    study = _study(tmp_path, [GLOVE, str(_static(tmp_path))])
    out = tmp_path / "out"
    _run(study, out)
    analogy = package / "analyses" / "analogy.py"
    text = analogy.read_text()
    analogy.write_text(text.replace('"""Word analogies by vector arithmetic', '"""Analogies, reworded: by vector arithmetic', 1))
    cli = package / "cli.py"
    cli.write_text(cli.read_text() + "\nUNUSED_BY_NOTEBOOKS = 1\n")
    kernel.calls.clear()
    _run(study, out)
    assert kernel.calls == []  # a docstring, and code no notebook imports
    analogy.write_text(text + "\nEXTRA_CONSTANT = 1\n")
    kernel.calls.clear()
    _run(study, out)
    importers = {n for n in ALL_NOTEBOOKS if "wordembed.analyses.analogy" in CODE_HASH(runner.notebook_path(n))}
    assert "04_analogies" in importers and "02_similarity_distribution" not in importers
    per_model = {c for c in kernel.calls if not c.startswith(ALL_MODELS_DIR)}
    assert per_model == {f"{m}/{n}" for m in (GLOVE, STATIC) for n in importers if n in PER_MODEL_NOTEBOOKS}


def test_a_changed_data_file_reruns_exactly_the_jobs_that_read_it(
    tmp_path: Path, kernel: FakeKernel, monkeypatch: pytest.MonkeyPatch
) -> None:
    import shutil

    data = tmp_path / "data"
    shutil.copytree(paths.data_dir(), data)
    monkeypatch.setenv("WORDEMBED_DATA", str(data))
    study = _study(tmp_path, [GLOVE, str(_static(tmp_path))])
    out = tmp_path / "out"
    _run(study, out)
    kernel.calls.clear()
    _run(study, out)
    assert kernel.calls == []
    google = data / "google_analogy" / "questions-words.txt"
    google.write_text(google.read_text() + "\n")
    _run(study, out)
    readers = [f"{m}/{n}" for m in (GLOVE, STATIC) for n in ("01_embed",)] + [
        f"{m}/04_analogies" for m in (GLOVE, STATIC)
    ]
    # the Google set is read by 01 (to embed its words) and 04; the cross-model notebooks follow their inputs
    assert [c for c in kernel.calls if not c.startswith(ALL_MODELS_DIR)] == readers
    status = json.loads((out / GLOVE / "04_analogies.run.json").read_text())
    sha = status["depends_on"]["data"]["google"]["google_analogy/questions-words.txt"]
    # the results' own metrics.json carries the same record, so it says how it was made without the runner
    stamped = json.loads((out / GLOVE / "04_analogies" / "metrics.json").read_text())["provenance"]
    assert stamped["inputs"] == status["depends_on"] and stamped["inputs_sha256"] == status["inputs"]
    import hashlib

    assert sha == hashlib.sha256(google.read_bytes()).hexdigest()
    assert status["depends_on"]["versions"]["numpy"] and "wordembed.analyses.analogy" in status["depends_on"]["code"]


def test_a_changed_local_model_artefact_reruns_that_model(
    tmp_path: Path, kernel: FakeKernel
) -> None:
    static = _static(tmp_path)
    study = _study(tmp_path, [GLOVE, str(static)])
    out = tmp_path / "out"
    _run(study, out)
    artefact = static.with_suffix(".txt")  # the word2vec file its source.path names
    artefact.write_bytes(artefact.read_bytes() + b"\n")
    kernel.calls.clear()
    _run(study, out)
    assert kernel.calls == _changed_model_reruns(STATIC, [GLOVE])


# ----------------------------------------------------------------------------------------- failing models


def test_a_failing_model_is_reported_and_the_rest_goes_on(tmp_path: Path, kernel: FakeKernel) -> None:
    static = str(_static(tmp_path))
    broken = str(_static(tmp_path, key=BROKEN))
    study = _study(tmp_path, [GLOVE, broken, static])
    out = tmp_path / "out"
    kernel.fail = {f"{BROKEN}/01_embed", f"{STATIC}/03_related_pairs"}
    report = _run(study, out)
    statuses = _statuses(report)
    assert statuses == {
        **{f"{GLOVE}/{n}": "ok" for n in PER_MODEL_NOTEBOOKS},
        f"{BROKEN}/01_embed": "failed",
        **{f"{BROKEN}/{n}": "blocked" for n in PER_MODEL_NOTEBOOKS[1:]},
        f"{STATIC}/01_embed": "ok",
        f"{STATIC}/02_similarity_distribution": "ok",
        f"{STATIC}/03_related_pairs": "failed",
        f"{STATIC}/04_analogies": "blocked",
        f"{ALL_MODELS_DIR}/05_agreement": "skipped",  # one model left: nothing to compare
        f"{ALL_MODELS_DIR}/06_report": "ok",
    }
    assert f"{BROKEN}/02_similarity_distribution" not in kernel.calls  # blocked jobs never start
    assert report.exit_code == 1
    assert {r.label for r in report.failed} == {k for k, v in statuses.items() if v in ("failed", "blocked")}
    assert f"{ALL_MODELS_DIR}/05_agreement" not in kernel.calls
    failed = next(r for r in report.results if r.label == f"{BROKEN}/01_embed")
    assert failed.error and "stand-in kernel was told to fail" in failed.error
    # analyses after the embedding phase are told which models embedded (the broken one did not)
    assert kernel.parameters[f"{GLOVE}/04_analogies"]["models"] == [GLOVE, static]
    # the cross-model notebooks run over the model that finished everything, and are told about the others
    assert kernel.parameters[f"{ALL_MODELS_DIR}/06_report"]["models"] == [GLOVE]
    failed_models = kernel.parameters[f"{ALL_MODELS_DIR}/06_report"]["failed_models"]
    assert len(failed_models) == 2  # one line per model: its first failure, not the notebooks it blocked
    assert failed_models[0].startswith(f"{BROKEN} (01_embed)") and failed_models[1].startswith(
        f"{STATIC} (03_"
    )
    run = json.loads((out / "run.json").read_text())
    assert run["failed"] == 6
    assert {r["label"]: r["status"] for r in run["results"]} == statuses
    status = json.loads((out / BROKEN / "01_embed.run.json").read_text())
    assert status["status"] == "failed" and "told to fail" in status["error"]

    # the failed run is kept beside where a good one would be; X.ipynb only ever holds a successful run
    assert status["output"] == str(out / BROKEN / "01_embed.failed.ipynb") and status["kept"] is None
    assert (out / BROKEN / "01_embed.failed.ipynb").is_file()
    assert not (out / BROKEN / "01_embed.ipynb").exists()

    # a second run keeps what finished (same files, untouched) and retries what failed or was blocked; the
    # analyses told which models embedded (a `models` parameter) rerun for every model, as the broken one now has
    rest = [n for n in PER_MODEL_NOTEBOOKS if n != "01_embed"]
    takes_models = {n for n in rest if "models" in runner.declared_parameters(runner.notebook_path(n))}
    retried = {f"{STATIC}/03_related_pairs", f"{STATIC}/04_analogies"}
    finished = [f"{GLOVE}/01_embed", f"{STATIC}/01_embed"] + [
        f"{m}/{n}"
        for m in (GLOVE, STATIC)
        for n in rest
        if n not in takes_models and f"{m}/{n}" not in retried
    ]
    kept = {
        f: f.stat().st_mtime_ns
        for label in finished
        for f in [out / f"{label}.ipynb", *(out / label).rglob("*")]
    }
    assert len(kept) >= 6
    kernel.calls.clear()
    kernel.fail = set()
    second = _run(study, out)
    assert kernel.calls == [f"{BROKEN}/01_embed"] + [
        f"{m}/{n}" for m in (GLOVE, BROKEN, STATIC) for n in rest
        if m == BROKEN or f"{m}/{n}" in retried or n in takes_models
    ] + [f"{ALL_MODELS_DIR}/{n}" for n in CROSS_MODEL_NOTEBOOKS]  # fmt: skip
    assert second.exit_code == 0
    assert all(_statuses(second)[label] == "skipped" for label in finished)
    assert {f: f.stat().st_mtime_ns for f in kept} == kept
    assert kernel.parameters[f"{ALL_MODELS_DIR}/05_agreement"]["models"] == [GLOVE, broken, static]
    assert kernel.parameters[f"{ALL_MODELS_DIR}/06_report"]["failed_models"] == []
    # the job succeeded: its stale failed copy is gone, the good notebook in place
    assert (out / BROKEN / "01_embed.ipynb").is_file()
    assert not (out / BROKEN / "01_embed.failed.ipynb").exists()


def test_no_successful_model_blocks_the_cross_model_notebooks(tmp_path: Path, kernel: FakeKernel) -> None:
    study = _study(tmp_path, [GLOVE])
    kernel.fail = {f"{GLOVE}/*"}
    report = _run(study, tmp_path / "out", notebooks=["01_embed", "05_agreement"])
    assert _statuses(report) == {f"{GLOVE}/01_embed": "failed", "_all/05_agreement": "blocked"}
    assert kernel.calls == [f"{GLOVE}/01_embed"] and report.exit_code == 1


def test_agreement_with_a_single_model_is_not_a_failure(tmp_path: Path, kernel: FakeKernel) -> None:
    """Agreement compares models: with one model (by choice, or the others failed) there is nothing to run,
    and a one-model study must not exit 1 for it."""
    study = _study(tmp_path, [GLOVE])
    report = _run(study, tmp_path / "out", notebooks=["01_embed", *CROSS_MODEL_NOTEBOOKS])
    assert kernel.calls == [f"{GLOVE}/01_embed", f"{ALL_MODELS_DIR}/06_report"]
    assert _statuses(report)[f"{ALL_MODELS_DIR}/05_agreement"] == "skipped"
    assert report.exit_code == 0
    assert kernel.parameters[f"{ALL_MODELS_DIR}/06_report"]["models"] == [GLOVE]


# ------------------------------------------------------------------------ bad parameters fail before running


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"models": ["glove-50d", "gpt-9"]}, r"unknown model\(s\) \['gpt-9'\].*valid: .*glove-50d.*minilm"),
        (
            {"notebooks": ["01_embed", "07_extra"]},
            r"unknown notebook\(s\) \['07_extra'\].*valid: 01_embed.*06_report",
        ),
    ],
)
def test_bad_runner_arguments_fail_before_anything_runs(
    tmp_path: Path, kernel: FakeKernel, kwargs: dict[str, Any], message: str
) -> None:
    study = load_study(_study(tmp_path, [GLOVE]))
    out = tmp_path / "out"
    with pytest.raises(ParameterError, match=message):
        StudyRunner(study, out_root=out, log=lambda _: None, **kwargs).run()
    assert kernel.calls == [] and not out.exists()


@pytest.mark.parametrize(
    ("parameter", "message"),
    [
        ("agreement_words: 5", "agreement_words'=5 is below its minimum 100"),
        ("bootstrap: 1000000", "bootstrap'=1000000 is above its maximum 100000"),
        ("vocab_limit: -1", "vocab_limit'=-1 is below its minimum 0"),
        ("analogy_methods: [3CosAdd, 4CosAdd]", r"\['4CosAdd'\]; valid: 3CosAdd, 3CosMul"),
        ("device: tpu", "not one of: auto, cpu, cuda"),
    ],
)
def test_bad_study_parameters_fail_before_anything_runs(
    tmp_path: Path, kernel: FakeKernel, parameter: str, message: str
) -> None:
    path = _study(tmp_path, [GLOVE], f"  {parameter}")
    with pytest.raises(ParameterError, match=message) as info:
        load_study(path)
    assert str(path) in str(info.value)
    assert kernel.calls == [] and not (tmp_path / "outputs").exists()


def test_an_invalid_model_spec_fails_before_any_notebook(tmp_path: Path, kernel: FakeKernel) -> None:
    bad = tmp_path / "models" / "odd.yaml"
    bad.parent.mkdir()
    bad.write_text("key: odd\nrole: llm\nbackend: telepathy\nsource: {}\n")
    study = load_study(_study(tmp_path, [GLOVE, str(bad)]))
    out = tmp_path / "out"
    with pytest.raises(ParameterError, match="telepathy.*not one of"):
        StudyRunner(study, out_root=out, log=lambda _: None).run()
    assert kernel.calls == [] and not out.exists()


# --------------------------------------------------------------------------------------------- the command


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--study", "nosuchstudy"], ["unknown study 'nosuchstudy'", "default", "quick"]),
        (["--study", "quick", "--notebooks", "01_embed", "09_x"], ["09_x", "01_embed", "06_report"]),
        (["--study", "quick", "--models", "gpt-9"], ["gpt-9", "glove-50d", "smollm2-135m"]),
    ],
)
def test_cli_rejects_bad_arguments_with_the_valid_choices(
    tmp_path: Path,
    kernel: FakeKernel,
    capsys: pytest.CaptureFixture[str],
    args: list[str],
    expected: list[str],
) -> None:
    out = tmp_path / "out"
    assert main(["run", *args, "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("wordembed: error:") and "valid" in err
    for text in expected:
        assert text in err
    assert kernel.calls == [] and not out.exists()


def test_cli_on_a_bad_study_file_exits_2(
    tmp_path: Path, kernel: FakeKernel, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _study(tmp_path, [GLOVE], "  hist_bins: 10")
    assert main(["run", "--study", str(path), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert str(path) in err and "hist_bins'=10 is below its minimum 2000" in err
    assert kernel.calls == []


def test_cli_reports_a_failing_model_and_exits_1(
    tmp_path: Path, kernel: FakeKernel, capsys: pytest.CaptureFixture[str]
) -> None:
    broken = str(_static(tmp_path, key=BROKEN))
    path = _study(tmp_path, [GLOVE, broken])
    kernel.fail = {f"{BROKEN}/01_embed"}
    out = tmp_path / "out"
    code = main(["run", "--study", str(path), "--notebooks", "01_embed", "02_similarity_distribution",
                 "--out", str(out), "--no-html"])  # fmt: skip
    assert code == 1
    printed = capsys.readouterr().out
    assert "2 ok" in printed and "1 failed" in printed and "1 blocked" in printed
    assert (
        f"failed: {BROKEN}/01_embed: " in printed
        and f"blocked: {BROKEN}/02_similarity_distribution" in printed
    )
    assert (out / GLOVE / "01_embed.ipynb").is_file() and not (out / GLOVE / "01_embed.html").exists()
    kernel.calls.clear()
    kernel.fail = set()
    assert main(["run", "--study", str(path), "--notebooks", "01_embed", "--out", str(out), "--no-html"]) == 0
    assert kernel.calls == [f"{BROKEN}/01_embed"]
    assert "1 ok, 1 skipped" in capsys.readouterr().out


# ------------------------------------------------------------------------------------- real notebooks, once


@pytest.mark.slow
def test_real_notebooks_carry_on_past_a_model_whose_artefact_is_missing(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    """papermill end to end: the model that cannot load fails in its kernel; the study goes on without it."""
    from wordembed.datasets import bats_words, load_bats
    from wordembed.vocabulary import select_vocabulary

    words = sorted(set(select_vocabulary("wordnet", 300, 0)) | set(bats_words(load_bats())))
    static = str(write_tiny_static_yaml(tmp_path / "models", words, key=STATIC))
    missing = tmp_path / "models" / "no-such-vectors.txt"
    broken = str(write_tiny_static_yaml(tmp_path / "models", [], key=BROKEN, source_path=missing))
    path = _study(tmp_path, [GLOVE, broken, static])
    out = tmp_path / "out"
    notebooks = ["01_embed", "05_agreement", "06_report"]
    report = StudyRunner(load_study(path), notebooks=notebooks, out_root=out, log=lambda _: None).run()

    assert _statuses(report) == {
        f"{GLOVE}/01_embed": "ok",
        f"{BROKEN}/01_embed": "failed",
        f"{STATIC}/01_embed": "ok",
        "_all/05_agreement": "ok",
        "_all/06_report": "ok",
    }, [(r.label, r.error) for r in report.results]
    assert report.exit_code == 1
    # the kernels talk over local IPC sockets: no "Kernel is running over TCP without encryption" in the log
    kernel_log = capfd.readouterr().err
    # (a kernel stopped while busy may still log "KeyboardInterrupt caught in kernel" under load: not checked)
    assert "Kernel is running over TCP" not in kernel_log
    (failure,) = report.failed
    assert failure.error.startswith("ModelError") and f"{missing} does not exist" in failure.error
    # the failing notebook is kept as X.failed.ipynb, rendered, with the error in it
    nb = nbformat.read(str(out / BROKEN / "01_embed.failed.ipynb"), as_version=4)
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    assert len(errors) == 1 and errors[0].ename == "ModelError"
    assert (out / BROKEN / "01_embed.failed.html").is_file()
    assert not (out / BROKEN / "01_embed.ipynb").exists()
    assert (out / GLOVE / "01_embed.html").is_file() and (out / GLOVE / "01_embed.reading.html").is_file()
    assert not list(out.rglob("*.partial.ipynb")) and not list(out.rglob(".*.tmp"))
    assert not (out / BROKEN / "01_embed" / "metrics.json").exists()
    run = json.loads((out / "run.json").read_text())
    assert (
        run["failed"] == 1
        and run["results"][1]["status"] == "failed"
        and "does not exist" in run["results"][1]["error"]
    )

    agreement = json.loads((out / ALL_MODELS_DIR / "05_agreement" / "metrics.json").read_text())
    assert agreement["models"] == [GLOVE, STATIC] and set(agreement["matrices"]["cka"]) == {GLOVE, STATIC}
    # shared words: GloVe's among the BATS words and the 200-word sample (the static model has them all)
    bats = sorted(set(bats_words(load_bats())))
    assert len(_covered(GLOVE, bats)) < agreement["n_words"] <= len(_covered(GLOVE, words))
    report_metrics = json.loads((out / ALL_MODELS_DIR / "06_report" / "metrics.json").read_text())
    assert report_metrics["models"] == [GLOVE, STATIC]
    (line,) = report_metrics["failed_models"]
    assert line.startswith(f"{BROKEN} (01_embed): ModelError") and "does not exist" in line
    assert [r["model"] for r in report_metrics["headline"]] == [GLOVE, STATIC]
    html = (out / ALL_MODELS_DIR / "06_report.html").read_text()
    assert "Models that failed" in html and BROKEN in html

    # the command, run again: finished work is skipped and kept, the broken model is tried again
    before = {p: p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file() and BROKEN not in p.parts}
    before = {p: t for p, t in before.items() if p.name != "run.json"}
    code = main(["run", "--study", str(path), "--notebooks", *notebooks, "--out", str(out)])
    assert code == 1
    printed = capfd.readouterr().out
    assert "1 failed, 4 skipped" in printed and f"failed: {BROKEN}/01_embed: ModelError" in printed
    assert {p: p.stat().st_mtime_ns for p in before} == before


def _covered(model: str, words: list[str]) -> list[str]:
    from wordembed.sources import get_embeddings

    return list(get_embeddings(model, words, progress=False).words)
