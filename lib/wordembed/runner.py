"""Executes a study's notebooks with papermill: the only module that knows about papermill.

Per-model notebooks run once per model, then the cross-model notebooks once over the models that succeeded.
Decoder notebooks (``study.DECODER_NOTEBOOKS``: the layer sweep) run only when a study or ``--notebooks``
names them, and only for decoder models (listed as skipped for the others); their failure is reported but
does not keep the model out of the cross-model notebooks.
Each job's inputs are hashed (``wordembed.job_keys``: notebook, parameters, the models' fingerprints, the data
files it reads, the wordembed code it imports without docstrings, library versions, upstream results): a job
whose inputs have not changed since its last successful run is skipped, and its ``.run.json`` records them. A failing job is recorded and the run
goes on; finished work is never deleted.

Nothing is reported done before it is, so a killed or interrupted run can never pass for a finished one. Per
job, in ``<out>/<model or _all>/``:

- ``X.run.json`` says ``running`` (with the new inputs hash) before the job starts; only a completed job
  turns it into ``ok``. ``running`` or ``interrupted`` at the next start means that run did not finish, so
  the job re-runs.
- papermill writes ``X.partial.ipynb``; on success the HTML copies are rendered from it, then it is moved to
  ``X.ipynb`` (``os.replace``). ``X.ipynb``, ``X.html`` and ``X.reading.html`` are each always a whole
  successful run's, and the last good ones stay until a new run succeeds.
- a failing run is moved to ``X.failed.ipynb`` (and ``X.failed.html``) beside the good ones; ``X.run.json``
  and ``run.json`` name both (``output`` and ``kept``). Stale failed copies go when the job next succeeds.
- any error while storing a job's outputs (rendering HTML on a full disk, writing its status) fails that
  job, not the study; ``run.json`` is written at the end, also when the run is interrupted (the job in
  flight is marked ``interrupted`` there, then the interrupt goes on).

``cluster=`` (``wordembed run --workers N / --scheduler ADDRESS / --cluster slurm``) runs the same jobs on a
Dask cluster (:mod:`wordembed.distributed.jobs`): the per-model steps and cross-model steps below are the
very functions each Dask task calls on its worker, so a job is planned, keyed, skipped, run and recorded
exactly as here; only where it runs changes (and ``run.json`` names the worker).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import sys
import tempfile
import time
import traceback
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from wordembed import job_keys, paths
from wordembed.errors import ParameterError
from wordembed.study import (
    ALL_NOTEBOOKS,
    CROSS_MODEL_NOTEBOOKS,
    DECODER_NOTEBOOKS,
    PER_MODEL_NOTEBOOKS,
    Study,
    check_models,
)

ALL_MODELS_DIR = "_all"
# Cross-model notebooks that mean nothing with fewer models: skipped, not failed, when fewer succeed.
MIN_MODELS: dict[str, int] = {"05_agreement": 2}
# The data a decoder notebook reads whatever the study's vocabulary: the layer sweep reads BATS, SimLex-999 and
# MEN and samples WordNet ("study" hashes those and the Google set). To go once job_keys.NOTEBOOK_DATA names them.
NOTEBOOK_VOCABULARY: dict[str, str] = {"07_layers": "study"}


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
    inputs_detail: dict[str, Any] = field(default_factory=dict)

    @property
    def label(self) -> str:
        return f"{self.model or ALL_MODELS_DIR}/{self.notebook}"

    @property
    def status_path(self) -> Path:
        return self.output_path.with_suffix(".run.json")

    @property
    def partial_path(self) -> Path:
        """Where papermill writes: the final path is only ever replaced by a whole, successful run."""
        return self.output_path.with_suffix(".partial.ipynb")

    @property
    def failed_path(self) -> Path:
        """Where a failed run goes, beside (never over) the last good one."""
        return self.output_path.with_suffix(".failed.ipynb")


@dataclass
class JobResult:
    label: str
    status: str  # ok | skipped | failed | blocked | interrupted
    seconds: float = 0.0
    error: str | None = None
    output: str | None = None  # the notebook of this run (X.failed.ipynb when it failed)
    kept: str | None = None  # when this run failed or was interrupted: the last good notebook, kept
    worker: dict[str, Any] | None = None  # on a Dask cluster: where the job ran (address, name, host, pid)


@dataclass
class Outcome:
    """A job's result and what it leaves for the jobs after it: whether its model may go on (``model_ok``).

    The sequential loop and the Dask tasks hand these along, so both decide blocking, the list of models
    that embedded and the failed-model lines of the cross-model notebooks from the same data, the same way.
    """

    index: int
    ref: str | None  # the model as the study names it (key or YAML path); None for cross-model jobs
    key: str | None
    notebook: str
    result: JobResult
    model_ok: bool = True


def model_ok_after(ok_before: bool, notebook: str, result: JobResult) -> bool:
    """A failed or blocked notebook takes its model out of what follows, except a decoder notebook (the layer
    sweep): that adds to a model's results, and its failure is reported without dropping the others."""
    return ok_before and not (result.status in ("failed", "blocked") and notebook not in DECODER_NOTEBOOKS)


def failed_model_lines(outcomes: Sequence[Outcome]) -> list[str]:
    """What the cross-model notebooks are told failed: one line per failed job, in run order."""
    return [f"{o.key} ({o.notebook}): {o.result.error}" for o in outcomes if o.result.status == "failed"]


def ok_model_refs(resolved: Sequence[tuple[str, str, dict[str, Any]]], outcomes: Sequence[Outcome]) -> list[str]:
    """The models whose every (non-decoder) notebook succeeded: the last outcome of a model says it."""
    ok = {key: True for _, key, _ in resolved}
    for o in sorted(outcomes, key=lambda o: o.index):
        if o.key is not None:
            ok[o.key] = o.model_ok
    return [ref for ref, key, _ in resolved if ok[key]]


@dataclass
class RunReport:
    study: str
    out_root: Path
    results: list[JobResult] = field(default_factory=list)
    cluster: dict[str, Any] | None = None  # on a Dask cluster: its kind, scheduler address and workers

    @property
    def failed(self) -> list[JobResult]:
        return [r for r in self.results if r.status in ("failed", "blocked", "interrupted")]

    @property
    def exit_code(self) -> int:
        return 1 if self.failed else 0

    def to_dict(self) -> dict[str, Any]:
        # `worker` and `cluster` only where the run used a cluster: a sequential run.json is as it always was
        out: dict[str, Any] = {
            "study": self.study,
            "out_root": str(self.out_root),
            "results": [
                {k: v for k, v in asdict(r).items() if k != "worker" or v is not None} for r in self.results
            ],
            "failed": len(self.failed),
        }
        if self.cluster is not None:
            out["cluster"] = self.cluster
        return out


def _model_key_and_fingerprint(model: str) -> tuple[str, dict[str, Any]]:
    """A model's key and fingerprint: its YAML, and a local ``source.path`` artefact's file checksums."""
    from wordembed.models.spec import load_spec

    spec = load_spec(model)
    yaml_path = getattr(spec, "path", None)
    yaml_bytes = yaml_path.read_bytes() if yaml_path else json.dumps(model).encode()
    source = spec.source.get("path") if isinstance(spec.source, dict) else None
    return spec.key, job_keys.model_fingerprint(yaml_path, yaml_bytes, str(source) if source else None)


def _model_family(model: str) -> str:
    """The spec's family (static, encoder, decoder, llm-embedding): decoder notebooks run for decoders only."""
    from wordembed.models.spec import load_spec

    return load_spec(model).family


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


def code_hash(notebook: Path) -> dict[str, str]:
    """The wordembed modules a notebook imports (transitively), each as the digest of its docstring-free
    syntax tree: a docstring or a module the notebook never imports (``cli.py``) changes nothing."""
    return job_keys.code_modules(job_keys.notebook_code(notebook))


def job_inputs(
    job: Job, models: Mapping[str, dict[str, Any]], upstream: Sequence[Path], versions: Mapping[str, str]
) -> dict[str, Any]:
    """Everything a job's results depend on (see ``wordembed.job_keys``), as data for its ``.run.json``."""
    return {
        "notebook": hashlib.sha256(job.input_path.read_bytes()).hexdigest(),
        "parameters": {k: v for k, v in job.parameters.items() if k not in ("output_dir", "results_dir")},
        "models": dict(models),
        "code": code_hash(job.input_path),
        "data": job_keys.data_digests(
            job.notebook, NOTEBOOK_VOCABULARY.get(job.notebook, job.parameters.get("vocabulary"))
        ),
        "versions": dict(versions),
        "upstream": {str(p): job_keys.file_sha256(p) if p.is_file() else "<missing>" for p in upstream},
    }


def _stamp_metrics(job: Job) -> None:
    """Add the job's recorded inputs (parameters, model fingerprints, data checksums, code, versions) to the
    provenance of the ``metrics.json`` it wrote, so the file says how its numbers were made on its own."""
    path = job.results_dir / "metrics.json"
    if not path.is_file():
        return
    metrics = json.loads(path.read_text(encoding="utf-8"))
    provenance = metrics.get("provenance") if isinstance(metrics.get("provenance"), dict) else {}
    metrics["provenance"] = {**provenance, "inputs": job.inputs_detail, "inputs_sha256": job.inputs_hash}
    _write_json_atomic(path, metrics)


def _read_status(path: Path) -> dict[str, Any] | None:
    """A job's ``.run.json``, or None when it is missing or unreadable (then the job simply runs)."""
    try:
        status = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return status if isinstance(status, dict) else None


def _is_fresh(job: Job, status: dict[str, Any] | None) -> bool:
    """Only a completed run of the same inputs counts: ``running``/``interrupted``/``failed`` never do."""
    return (
        status is not None
        and status.get("status") == "ok"
        and status.get("inputs") == job.inputs_hash
        and job.output_path.is_file()
    )


def _last_ok(job: Job, status: dict[str, Any] | None) -> dict[str, Any] | None:
    """Which inputs the kept ``X.ipynb`` came from, carried through ``running``/``failed`` statuses so the
    ``.run.json`` always says what the good notebook on disk is."""
    if status is None or not job.output_path.is_file():
        return None
    if status.get("status") == "ok":
        return {"inputs": status.get("inputs"), "finished": status.get("finished")}
    last = status.get("last_ok")
    return last if isinstance(last, dict) else None


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S%z")


def _write_json_atomic(path: Path, data: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        tmp.write_text(json.dumps(data, indent=2, default=str))
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def _html_paths(ipynb: Path) -> tuple[Path, Path]:
    """``X.html`` (with the code) and the reading copy ``X.reading.html`` of ``X.ipynb``."""
    return ipynb.with_suffix(".html"), ipynb.with_suffix(".reading.html")


def _html_bodies(ipynb: Path) -> tuple[str, str]:
    """nbconvert's two renderings of a notebook: with the code, and without it (``--no-input``)."""
    import nbconvert
    import nbformat

    nb = nbformat.read(str(ipynb), as_version=4)
    full, _ = nbconvert.HTMLExporter().from_notebook_node(nb)
    reading, _ = nbconvert.HTMLExporter(
        exclude_input=True, exclude_input_prompt=True, exclude_output_prompt=True
    ).from_notebook_node(nb)
    return full, reading


def render_html(ipynb: Path, dest: Path | None = None) -> Path:
    """HTML copies of a rendered notebook for readers without Jupyter: ``X.html`` with the code, and the
    reading copy ``X.reading.html`` without it, beside ``dest`` (default: ``ipynb``); returns ``X.html``.

    Both are written to temporary files first and moved into place only when both are whole, so a full disk
    leaves the previous copies, never a truncated one.
    """
    targets = _html_paths(dest or ipynb)
    bodies = _html_bodies(ipynb)
    tmps = [path.with_name(f".{path.name}.{os.getpid()}.tmp") for path in targets]
    try:
        for tmp, body in zip(tmps, bodies, strict=True):
            tmp.write_text(body, encoding="utf-8")
        for tmp, path in zip(tmps, targets, strict=True):
            os.replace(tmp, path)
    finally:
        for tmp in tmps:
            tmp.unlink(missing_ok=True)
    return targets[0]


def _error_text(exc: BaseException) -> str:
    ename = getattr(exc, "ename", None)
    evalue = getattr(exc, "evalue", None)
    if ename:
        return f"{ename}: {evalue}"
    return "".join(traceback.format_exception_only(type(exc), exc)).strip()


def _ipc_kernel_manager() -> type:
    """A kernel manager that talks to its kernel over local IPC sockets, not TCP: the kernels run on this
    machine only, and the TCP default prints "Kernel is running over TCP without encryption" into every job's
    log.

    Each kernel's sockets get a path of their own in the temporary folder: jupyter_client's default
    (``kernel-ipc-N`` in the working directory, the project root for every job) made two kernels started at
    once (two Dask workers, or two runs) bind the same sockets and reject each other's messages ("Invalid
    Signature", then "Kernel didn't respond").
    """
    from jupyter_client.manager import AsyncKernelManager
    from traitlets import CaselessStrEnum

    class IpcKernelManager(AsyncKernelManager):
        transport = CaselessStrEnum(["tcp", "ipc"], default_value="ipc", config=True)

        def _ip_default(self) -> str:
            return os.path.join(tempfile.gettempdir(), f"wordembed-kernel-{uuid.uuid4().hex[:16]}-ipc")

    return IpcKernelManager


def execute(job: Job, *, kernel_name: str | None = None) -> None:
    import papermill

    job.output_path.parent.mkdir(parents=True, exist_ok=True)
    job.results_dir.mkdir(parents=True, exist_ok=True)
    papermill.execute_notebook(
        str(job.input_path),
        str(job.output_path),
        parameters=job.parameters,
        kernel_name=kernel_name or "python3",
        progress_bar=sys.stderr.isatty(),  # cells done / to do, on a terminal; logs and CI stay quiet
        cwd=str(paths.project_root()),
        kernel_manager_class=_ipc_kernel_manager(),
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
        cluster: Any = None,
    ) -> None:
        """``cluster``: None runs the jobs here, one after the other; a
        :class:`wordembed.distributed.cluster.ClusterOptions` (or a ``distributed.Client``) runs them on a
        Dask cluster (:mod:`wordembed.distributed.jobs`)."""
        if cluster is not None:  # a missing `cluster` extra or a bad SLURM YAML: refused before anything runs
            from wordembed.distributed.cluster import require_distributed

            require_distributed()
            if hasattr(cluster, "check"):
                cluster.check()
        self.study = study
        self.models = list(models) if models else list(study.models)
        check_models(self.models, "--models")
        chosen = list(notebooks) if notebooks else study.per_model_notebooks + study.cross_model_notebooks
        unknown = [n for n in chosen if n not in ALL_NOTEBOOKS]
        if unknown:
            raise ParameterError(f"unknown notebook(s) {unknown}; valid: {', '.join(ALL_NOTEBOOKS)}")
        self.per_model = [n for n in PER_MODEL_NOTEBOOKS + DECODER_NOTEBOOKS if n in chosen]
        self.cross = [n for n in CROSS_MODEL_NOTEBOOKS if n in chosen]
        self.out_root = Path(out_root) if out_root else paths.outputs_dir() / study.name
        self.force = force
        self.kernel_name = kernel_name
        self.log = log
        self.html = html
        self.cluster = cluster
        self._versions = job_keys.installed_versions()
        self._fingerprints: dict[str, dict[str, Any]] = {}
        self._families: dict[str, str] = {}
        self._declared = {n: declared_parameters(notebook_path(n)) for n in self.per_model + self.cross}
        self._in_flight: Job | None = None  # the job running now, for run.json if the run is interrupted

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
        self, model_ref: str, key: str, fingerprint: dict[str, Any], notebook: str, models: Sequence[str]
    ) -> Job:
        # `models`: the study's models that embedded, for analyses that compare like with like (the common
        # candidate vocabulary of analogies)
        job = self._job(notebook, key, model_ref, {"model": model_ref, "models": list(models)})
        # the other models count only where the notebook takes them (a common candidate vocabulary)
        others = job.parameters.get("models", []) if "models" in job.parameters else []
        prints = {key: fingerprint} | {m: self._fingerprints[m] for m in others if m in self._fingerprints}
        self._keyed(job, prints, [])
        return job

    def _keyed(self, job: Job, models: Mapping[str, dict[str, Any]], upstream: Sequence[Path]) -> None:
        job.inputs_detail = job_inputs(job, models, upstream, self._versions)
        job.inputs_hash = job_keys.job_key(job.inputs_detail)

    def _cross_job(self, notebook: str, ok_models: list[str], failed: list[str]) -> Job:
        job = self._job(notebook, None, None, {"models": ok_models, "failed_models": failed})
        # Inputs: every model's results and the earlier cross-model notebooks' (never this job's own).
        earlier = CROSS_MODEL_NOTEBOOKS[: CROSS_MODEL_NOTEBOOKS.index(notebook)]
        upstream = sorted(
            p
            for p in self.out_root.glob("*/*/metrics.json")
            if p.parent.parent.name != ALL_MODELS_DIR or p.parent.name in earlier
        )
        self._keyed(job, {}, upstream)
        return job

    def _run_job(self, job: Job, index: int, total: int) -> JobResult:
        prefix = f"[{index}/{total}] {job.label}"
        models = job.parameters.get("models")
        needed = MIN_MODELS.get(job.notebook, 1)
        if models is not None and len(models) < needed:
            self.log(f"{prefix}: skipped (needs at least {needed} models, {len(models)} succeeded)")
            return JobResult(job.label, "skipped", error=f"needs at least {needed} models; {len(models)} succeeded")
        previous = _read_status(job.status_path)
        if not self.force and _is_fresh(job, previous):
            self.log(f"{prefix}: unchanged, skipped")
            return JobResult(job.label, "skipped", output=str(job.output_path))
        interrupted = previous is not None and previous.get("status") in ("running", "interrupted")
        self.log(f"{prefix}: running" + (" (its last run did not finish)" if interrupted else ""))
        last_ok = _last_ok(job, previous)
        start = time.perf_counter()
        try:
            # Before anything else: from here until the job completes, its status says it is not done.
            _write_json_atomic(
                job.status_path,
                {"status": "running", "inputs": job.inputs_hash, "started": _now(), "pid": os.getpid(),
                 "last_ok": last_ok},
            )  # fmt: skip
        except OSError as exc:
            error = f"cannot write {job.status_path} ({_error_text(exc)}); the job was not started"
            self.log(f"{prefix}: FAILED: {error}")
            return JobResult(job.label, "failed", 0.0, error, kept=self._kept(job))
        try:
            return self._execute(job, prefix, start, last_ok)
        except KeyboardInterrupt:
            seconds = time.perf_counter() - start
            try:
                _write_json_atomic(
                    job.status_path,
                    {"status": "interrupted", "inputs": job.inputs_hash, "seconds": seconds,
                     "finished": _now(), "partial": str(job.partial_path) if job.partial_path.is_file() else None,
                     "kept": self._kept(job), "last_ok": last_ok},
                )  # fmt: skip
            except OSError:
                pass  # the 'running' status written above already says this run did not finish
            self.log(f"{prefix}: interrupted after {seconds:.1f} s")
            raise

    @staticmethod
    def _kept(job: Job) -> str | None:
        return str(job.output_path) if job.output_path.is_file() else None

    def _execute(self, job: Job, prefix: str, start: float, last_ok: dict[str, Any] | None) -> JobResult:
        """Run the notebook into ``X.partial.ipynb``; only a whole run replaces ``X.ipynb`` and its HTML."""
        try:
            job.partial_path.unlink(missing_ok=True)  # left by a killed run
            execute(dataclasses.replace(job, output_path=job.partial_path), kernel_name=self.kernel_name)
        except Exception as exc:  # a failing notebook must not stop the study
            return self._failure(job, prefix, start, last_ok, _error_text(exc))
        try:
            _stamp_metrics(job)
            if self.html:
                render_html(job.partial_path, job.output_path)
            os.replace(job.partial_path, job.output_path)
            seconds = time.perf_counter() - start
            _write_json_atomic(
                job.status_path,
                {"status": "ok", "inputs": job.inputs_hash, "seconds": seconds, "finished": _now(),
                 "output": str(job.output_path), "depends_on": job.inputs_detail},
            )  # fmt: skip
        except Exception as exc:  # the notebook ran, but its outputs could not be stored: not done
            error = f"the notebook ran but storing its outputs failed: {_error_text(exc)}"
            return self._failure(job, prefix, start, last_ok, error)
        for stale in (job.failed_path, *_html_paths(job.failed_path)):  # an earlier failure, now superseded
            try:
                stale.unlink(missing_ok=True)
            except OSError as exc:
                self.log(f"{prefix}: warning: cannot remove the stale {stale} ({exc})")
        self.log(f"{prefix}: ok in {seconds:.1f} s")
        return JobResult(job.label, "ok", seconds, output=str(job.output_path))

    def _failure(
        self, job: Job, prefix: str, start: float, last_ok: dict[str, Any] | None, error: str
    ) -> JobResult:
        """Keep the failed run as ``X.failed.ipynb`` (+ HTML) beside the last good one and record both."""
        seconds = time.perf_counter() - start
        failed: Path | None = None
        notes: list[str] = []
        try:
            if job.partial_path.is_file():
                os.replace(job.partial_path, job.failed_path)
                failed = job.failed_path
            else:  # nothing was written this time: an older failed copy must not pass for this run's
                for stale in (job.failed_path, *_html_paths(job.failed_path)):
                    stale.unlink(missing_ok=True)
        except OSError as exc:
            notes.append(f"cannot keep the failed notebook ({_error_text(exc)})")
        if failed is not None and self.html:
            try:
                render_html(failed)
            except Exception as exc:  # the HTML copy is a convenience; the .ipynb holds the error
                notes.append(f"cannot render {failed.name} as HTML ({_error_text(exc)})")
        kept = self._kept(job)
        record = {
            "status": "failed", "inputs": job.inputs_hash, "error": error, "seconds": seconds,
            "finished": _now(), "output": str(failed) if failed else None, "kept": kept, "last_ok": last_ok,
            "notes": notes,
        }  # fmt: skip
        try:
            _write_json_atomic(job.status_path, record)
        except OSError as exc:  # the 'running' status stays, which also makes the next run retry the job
            notes.append(f"cannot write {job.status_path.name} ({_error_text(exc)})")
        where = f"; the failed run is in {failed.name}" if failed else ""
        where += f"; the last good run is kept in {job.output_path.name}" if kept else ""
        note = f" ({'; '.join(notes)})" if notes else ""
        self.log(f"{prefix}: FAILED after {seconds:.1f} s: {error}{where}{note}")
        return JobResult(
            job.label, "failed", seconds, error + note, str(failed) if failed else None, kept=kept
        )

    def run(self) -> RunReport:
        """Run the grid; ``run.json`` is written at the end whatever happens, also when interrupted (the job
        in flight is then marked ``interrupted`` and the interrupt goes on)."""
        report = RunReport(self.study.name, self.out_root)
        resolved = [(ref, *_model_key_and_fingerprint(ref)) for ref in self.models]  # bad specs: before output
        self._fingerprints = {ref: fp for ref, _, fp in resolved}
        self._families = {ref: _model_family(ref) for ref in self.models}
        self._in_flight = None
        try:
            self._run_all(report, resolved)
        except BaseException as exc:
            job = self._in_flight
            if job is not None:
                report.results.append(
                    JobResult(job.label, "interrupted", error=_error_text(exc), kept=self._kept(job))
                )
            try:
                _write_json_atomic(self.out_root / "run.json", report.to_dict())
            except OSError as write_error:  # do not hide the interrupt behind this one
                self.log(f"cannot write {self.out_root / 'run.json'}: {write_error}")
            raise
        _write_json_atomic(self.out_root / "run.json", report.to_dict())
        return report

    def _per_model_step(
        self,
        ref: str,
        key: str,
        fingerprint: dict[str, Any],
        notebook: str,
        embedded: Sequence[str],
        model_ok: bool,
        index: int,
        total: int,
    ) -> JobResult:
        """One per-model job: skipped (a decoder notebook of another family), blocked (an earlier notebook of
        the model failed) or run. ``embedded``: the models that embedded; ``model_ok``: whether this model's
        notebooks so far succeeded. What a Dask task calls on its worker, with the same arguments."""
        job = self._per_model_job(ref, key, fingerprint, notebook, embedded)
        if notebook in DECODER_NOTEBOOKS and self._families.get(ref) != "decoder":
            reason = f"for decoder models only; {key} is family {self._families.get(ref)}"
            self.log(f"[{index}/{total}] {job.label}: skipped ({reason})")
            return JobResult(job.label, "skipped", error=reason)
        if not model_ok and notebook != "01_embed":
            self.log(f"[{index}/{total}] {job.label}: blocked (an earlier notebook of {key} failed)")
            return JobResult(job.label, "blocked", error="an earlier notebook of this model failed")
        self._in_flight = job
        result = self._run_job(job, index, total)
        self._in_flight = None
        return result

    def _cross_step(
        self, notebook: str, ok_models: list[str], failed: list[str], index: int, total: int
    ) -> JobResult:
        """One cross-model job over the models that succeeded (blocked when none did)."""
        label = f"{ALL_MODELS_DIR}/{notebook}"
        if not ok_models:
            self.log(f"[{index}/{total}] {label}: blocked (no model succeeded)")
            return JobResult(label, "blocked", error="no model succeeded")
        self._in_flight = job = self._cross_job(notebook, ok_models, failed)
        result = self._run_job(job, index, total)
        self._in_flight = None
        return result

    def phases(self) -> list[list[str]]:
        """Every model embeds first, so a per-model analysis that needs the other models' coverage (the
        common candidate vocabulary of analogies) reads their vectors from the store instead of computing
        them; then each model's other notebooks, in order."""
        return [[n for n in self.per_model if n == "01_embed"], [n for n in self.per_model if n != "01_embed"]]

    def _run_all(self, report: RunReport, resolved: list[tuple[str, str, dict[str, Any]]]) -> None:
        if self.cluster is not None:
            from wordembed.distributed.jobs import run_on_cluster

            run_on_cluster(self, report, resolved)
            return
        total = len(resolved) * len(self.per_model) + len(self.cross)
        index = 0
        outcomes: list[Outcome] = []
        model_ok = {key: True for _, key, _ in resolved}
        for phase in self.phases():
            embedded = [ref for ref, key, _ in resolved if model_ok[key]]
            for notebook, (ref, key, fingerprint) in ((nb, model) for model in resolved for nb in phase):
                index += 1
                result = self._per_model_step(ref, key, fingerprint, notebook, embedded, model_ok[key], index, total)
                report.results.append(result)
                model_ok[key] = model_ok_after(model_ok[key], notebook, result)
                outcomes.append(Outcome(index, ref, key, notebook, result, model_ok[key]))
        ok_models = ok_model_refs(resolved, outcomes)
        failed = failed_model_lines(outcomes)
        for notebook in self.cross:
            index += 1
            report.results.append(self._cross_step(notebook, ok_models, failed, index, total))


def run_study(study: Study, **kwargs: Any) -> RunReport:
    return StudyRunner(study, **kwargs).run()
