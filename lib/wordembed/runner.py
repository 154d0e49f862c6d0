"""Executes a study's notebooks with papermill: the only module that knows about papermill.

Per-model notebooks run once per model, then the cross-model notebooks once over the models that succeeded.
Each job's inputs (notebook source, parameters, model YAML, library source, upstream results) are hashed: a job
whose inputs have not changed since its last successful run is skipped. A failing job is recorded and the run
goes on; finished work is never deleted.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from wordembed import paths
from wordembed.errors import ParameterError
from wordembed.study import (
    ALL_NOTEBOOKS,
    CROSS_MODEL_NOTEBOOKS,
    PER_MODEL_NOTEBOOKS,
    Study,
    check_models,
)

ALL_MODELS_DIR = "_all"
# Cross-model notebooks that mean nothing with fewer models: skipped, not failed, when fewer succeed.
MIN_MODELS: dict[str, int] = {"05_agreement": 2}


@dataclass
class Job:
    notebook: str
    model: str | None  # model key; None for cross-model notebooks
    model_ref: str | None  # what the notebook receives: a key or a YAML path
    input_path: Path
    output_path: Path  # rendered .ipynb
    results_dir: Path  # tables, figures, metrics.json
    parameters: dict[str, Any]
    inputs_hash: str = ""

    @property
    def label(self) -> str:
        return f"{self.model or ALL_MODELS_DIR}/{self.notebook}"

    @property
    def status_path(self) -> Path:
        return self.output_path.with_suffix(".run.json")


@dataclass
class JobResult:
    label: str
    status: str  # ok | skipped | failed | blocked
    seconds: float = 0.0
    error: str | None = None
    output: str | None = None


@dataclass
class RunReport:
    study: str
    out_root: Path
    results: list[JobResult] = field(default_factory=list)

    @property
    def failed(self) -> list[JobResult]:
        return [r for r in self.results if r.status in ("failed", "blocked")]

    @property
    def exit_code(self) -> int:
        return 1 if self.failed else 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "study": self.study,
            "out_root": str(self.out_root),
            "results": [asdict(r) for r in self.results],
            "failed": len(self.failed),
        }


def _sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def library_hash() -> str:
    """Hash of the wordembed sources: a change in the library invalidates the results it made."""
    digest = hashlib.sha256()
    for path in sorted(paths.PACKAGE_DIR.rglob("*.py")):
        digest.update(path.relative_to(paths.PACKAGE_DIR).as_posix().encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def _model_key_and_yaml(model: str) -> tuple[str, bytes]:
    from wordembed.models.spec import load_spec

    spec = load_spec(model)
    yaml_bytes = spec.path.read_bytes() if getattr(spec, "path", None) else json.dumps(model).encode()
    return spec.key, yaml_bytes


def notebook_path(name: str) -> Path:
    if name not in ALL_NOTEBOOKS:
        raise ParameterError(f"unknown notebook '{name}'; valid: {', '.join(ALL_NOTEBOOKS)}")
    path = paths.notebooks_dir() / f"{name}.ipynb"
    if not path.is_file():
        raise ParameterError(f"notebook file {path} is missing")
    return path


def declared_parameters(path: Path) -> dict[str, Any]:
    """The names (and papermill's view) of the parameters a notebook's `parameters` cell declares."""
    import papermill

    return papermill.inspect_notebook(str(path))


def _job_parameters(study: Study, declared: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    values = study.notebook_parameters()
    values.update(extra)
    return {k: v for k, v in values.items() if k in declared}


def _hash_inputs(job: Job, library: str, model_yaml: bytes | None, upstream: Sequence[Path]) -> str:
    digest = hashlib.sha256()
    digest.update(job.input_path.read_bytes())
    digest.update(json.dumps(job.parameters, sort_keys=True, default=str).encode())
    digest.update(library.encode())
    if model_yaml is not None:
        digest.update(model_yaml)
    for path in upstream:
        digest.update(str(path).encode())
        digest.update(path.read_bytes() if path.is_file() else b"<missing>")
    return digest.hexdigest()


def _is_fresh(job: Job) -> bool:
    if not (job.status_path.is_file() and job.output_path.is_file()):
        return False
    try:
        status = json.loads(job.status_path.read_text())
    except (OSError, json.JSONDecodeError):
        return False
    return status.get("status") == "ok" and status.get("inputs") == job.inputs_hash


def _write_json_atomic(path: Path, data: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data, indent=2, default=str))
    os.replace(tmp, path)


def render_html(ipynb: Path) -> Path:
    """HTML copies of a rendered notebook for readers without Jupyter: ``X.html`` with the code, and the
    reading copy ``X.reading.html`` without it (nbconvert's ``--no-input``), each written atomically."""
    import nbconvert
    import nbformat

    nb = nbformat.read(str(ipynb), as_version=4)
    html = ipynb.with_suffix(".html")
    for path, exporter in (
        (html, nbconvert.HTMLExporter()),
        (ipynb.with_suffix(".reading.html"), nbconvert.HTMLExporter(exclude_input=True, exclude_input_prompt=True,
                                                                     exclude_output_prompt=True)),
    ):
        body, _ = exporter.from_notebook_node(nb)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        tmp.write_text(body, encoding="utf-8")
        os.replace(tmp, path)
    return html


def _error_text(exc: BaseException) -> str:
    ename = getattr(exc, "ename", None)
    evalue = getattr(exc, "evalue", None)
    if ename:
        return f"{ename}: {evalue}"
    return "".join(traceback.format_exception_only(type(exc), exc)).strip()


def execute(job: Job, *, kernel_name: str | None = None) -> None:
    import papermill

    job.output_path.parent.mkdir(parents=True, exist_ok=True)
    job.results_dir.mkdir(parents=True, exist_ok=True)
    papermill.execute_notebook(
        str(job.input_path),
        str(job.output_path),
        parameters=job.parameters,
        kernel_name=kernel_name or "python3",
        progress_bar=False,
        cwd=str(paths.project_root()),
    )


class StudyRunner:
    """Plans and runs the grid of (model x notebook) jobs of one study."""

    def __init__(
        self,
        study: Study,
        *,
        models: Sequence[str] | None = None,
        notebooks: Sequence[str] | None = None,
        out_root: Path | None = None,
        force: bool = False,
        kernel_name: str | None = None,
        log: Callable[[str], None] = print,
        html: bool = True,
    ) -> None:
        self.study = study
        self.models = list(models) if models else list(study.models)
        check_models(self.models, "--models")
        chosen = list(notebooks) if notebooks else study.per_model_notebooks + study.cross_model_notebooks
        unknown = [n for n in chosen if n not in ALL_NOTEBOOKS]
        if unknown:
            raise ParameterError(f"unknown notebook(s) {unknown}; valid: {', '.join(ALL_NOTEBOOKS)}")
        self.per_model = [n for n in PER_MODEL_NOTEBOOKS if n in chosen]
        self.cross = [n for n in CROSS_MODEL_NOTEBOOKS if n in chosen]
        self.out_root = Path(out_root) if out_root else paths.outputs_dir() / study.name
        self.force = force
        self.kernel_name = kernel_name
        self.log = log
        self.html = html
        self._library = library_hash()
        self._declared = {n: declared_parameters(notebook_path(n)) for n in self.per_model + self.cross}

    def _job(self, notebook: str, key: str | None, model_ref: str | None, extra: dict[str, Any]) -> Job:
        """A job whose outputs go to ``<out_root>/<model key or _all>/``, with the study's parameters."""
        out_dir = self.out_root / (key or ALL_MODELS_DIR)
        job = Job(
            notebook=notebook,
            model=key,
            model_ref=model_ref,
            input_path=notebook_path(notebook),
            output_path=out_dir / f"{notebook}.ipynb",
            results_dir=out_dir / notebook,
            parameters={},
        )
        extra = {**extra, "output_dir": str(job.results_dir), "results_dir": str(self.out_root)}
        job.parameters = _job_parameters(self.study, self._declared[notebook], extra)
        return job

    def _per_model_job(
        self, model_ref: str, key: str, yaml_bytes: bytes, notebook: str, models: Sequence[str]
    ) -> Job:
        # `models`: the study's models that embedded, for analyses that compare like with like (the common
        # candidate vocabulary of analogies)
        job = self._job(notebook, key, model_ref, {"model": model_ref, "models": list(models)})
        job.inputs_hash = _hash_inputs(job, self._library, yaml_bytes, [])
        return job

    def _cross_job(self, notebook: str, ok_models: list[str], failed: list[str]) -> Job:
        job = self._job(notebook, None, None, {"models": ok_models, "failed_models": failed})
        # Inputs: every model's results and the earlier cross-model notebooks' (never this job's own).
        earlier = CROSS_MODEL_NOTEBOOKS[: CROSS_MODEL_NOTEBOOKS.index(notebook)]
        upstream = sorted(
            p
            for p in self.out_root.glob("*/*/metrics.json")
            if p.parent.parent.name != ALL_MODELS_DIR or p.parent.name in earlier
        )
        job.inputs_hash = _hash_inputs(job, self._library, None, upstream)
        return job

    def _run_job(self, job: Job, index: int, total: int) -> JobResult:
        prefix = f"[{index}/{total}] {job.label}"
        models = job.parameters.get("models")
        needed = MIN_MODELS.get(job.notebook, 1)
        if models is not None and len(models) < needed:
            self.log(f"{prefix}: skipped (needs at least {needed} models, {len(models)} succeeded)")
            return JobResult(job.label, "skipped", error=f"needs at least {needed} models; {len(models)} succeeded")
        if not self.force and _is_fresh(job):
            self.log(f"{prefix}: unchanged, skipped")
            return JobResult(job.label, "skipped", output=str(job.output_path))
        self.log(f"{prefix}: running")
        start = time.perf_counter()
        try:
            execute(job, kernel_name=self.kernel_name)
        except Exception as exc:  # a failing notebook must not stop the study
            seconds = time.perf_counter() - start
            error = _error_text(exc)
            _write_json_atomic(
                job.status_path, {"status": "failed", "inputs": job.inputs_hash, "error": error, "seconds": seconds}
            )
            if self.html and job.output_path.is_file():
                try:
                    render_html(job.output_path)
                except Exception:  # the HTML copy is a convenience; the .ipynb holds the error
                    pass
            self.log(f"{prefix}: FAILED after {seconds:.1f} s: {error}")
            return JobResult(job.label, "failed", seconds, error, str(job.output_path))
        seconds = time.perf_counter() - start
        if self.html:
            render_html(job.output_path)
        _write_json_atomic(job.status_path, {"status": "ok", "inputs": job.inputs_hash, "seconds": seconds})
        self.log(f"{prefix}: ok in {seconds:.1f} s")
        return JobResult(job.label, "ok", seconds, output=str(job.output_path))

    def run(self) -> RunReport:
        report = RunReport(self.study.name, self.out_root)
        resolved = [(ref, *_model_key_and_yaml(ref)) for ref in self.models]
        total = len(resolved) * len(self.per_model) + len(self.cross)
        index = 0
        ok_models: list[str] = []
        failed: list[str] = []
        model_ok = {key: True for _, key, _ in resolved}
        # Every model embeds first, so a per-model analysis that needs the other models' coverage (the common
        # candidate vocabulary of analogies) reads their vectors from the store instead of computing them.
        phases = [[n for n in self.per_model if n == "01_embed"], [n for n in self.per_model if n != "01_embed"]]
        for phase in phases:
            embedded = [ref for ref, key, _ in resolved if model_ok[key]]
            for notebook, (ref, key, yaml_bytes) in ((nb, model) for model in resolved for nb in phase):
                index += 1
                job = self._per_model_job(ref, key, yaml_bytes, notebook, embedded)
                if not model_ok[key] and notebook != "01_embed":
                    result = JobResult(job.label, "blocked", error="an earlier notebook of this model failed")
                    self.log(f"[{index}/{total}] {job.label}: blocked (an earlier notebook of {key} failed)")
                else:
                    result = self._run_job(job, index, total)
                report.results.append(result)
                if result.status == "failed":
                    failed.append(f"{key} ({notebook}): {result.error}")
                if result.status in ("failed", "blocked"):
                    model_ok[key] = False
        ok_models = [ref for ref, key, _ in resolved if model_ok[key]]
        for notebook in self.cross:
            index += 1
            if not ok_models:
                label = f"{ALL_MODELS_DIR}/{notebook}"
                self.log(f"[{index}/{total}] {label}: blocked (no model succeeded)")
                report.results.append(JobResult(label, "blocked", error="no model succeeded"))
                continue
            report.results.append(self._run_job(self._cross_job(notebook, ok_models, failed), index, total))
        _write_json_atomic(self.out_root / "run.json", report.to_dict())
        return report


def run_study(study: Study, **kwargs: Any) -> RunReport:
    return StudyRunner(study, **kwargs).run()
