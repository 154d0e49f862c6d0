"""The study's job graph as Dask futures: ``StudyRunner(cluster=...)`` / ``wordembed run --workers N``.

Only *where* a job runs changes. Each task calls the runner's own step on its worker
(``StudyRunner._per_model_step`` / ``_cross_step``: plan the job, hash its inputs, skip it if unchanged, run
it with papermill, store its outputs and statuses), with the same arguments the sequential loop passes; the
runner is scattered to the workers once. The graph is the sequential order's data dependencies, submitted
up front with ``client.submit`` and the upstream futures as arguments (Dask's scheduler does the rest):

- ``M/01_embed``: no upstream.
- ``M/<notebook>`` (02, 03, 04, then 07): the model's previous notebook, whose :class:`~wordembed.runner.Outcome`
  says whether the model may go on (blocked otherwise, as in the sequential runner); a notebook that takes the
  list of models that embedded (``models``: the analogies' common candidate vocabulary) also waits for every
  model's ``01_embed`` and is told the same list. Different models' chains run side by side.
- ``_all/05_agreement``, ``_all/06_report``: every per-model job (they hash their results and are told
  which models succeeded and which failed, from the outcomes in run order), and the cross-model job before.

Resources: a job asks for ``resources={"GPU": 1}`` when it needs a GPU (:func:`needs_gpu`) *and* some worker
declares a GPU resource when the run starts; on a cluster whose workers declare none the request could never
be met and the job would wait forever, so there it is not made and the job runs where it is put (on the CPU,
or on a GPU the worker sees without declaring it). Start the GPU workers before the run.

Failures: a failing notebook is a result (``failed``), never an exception, so downstream jobs see it and
block or go on exactly as in the sequential runner. An error that is not a notebook's (a worker lost more
often than ``distributed.scheduler.allowed-failures`` allows, a bug) stops the run as it would stop the
sequential one: the other futures are cancelled, ``run.json`` records what finished and marks the jobs that
had started ``interrupted``, and the error is raised. ``run.json`` names the worker of each job
(``worker``: address, name, host, pid) and the cluster (``cluster``).

Log lines come back live through a Dask event topic, each with the worker's name.
"""

from __future__ import annotations

import contextlib
import copy
import os
import socket
import time
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from wordembed import job_keys
from wordembed.errors import ParameterError
from wordembed.runner import (
    ALL_MODELS_DIR,
    JobResult,
    Outcome,
    RunReport,
    failed_model_lines,
    model_ok_after,
    ok_model_refs,
)

if TYPE_CHECKING:
    from wordembed.runner import StudyRunner

# Notebooks that run the model itself (the others read its vectors from the store)
MODEL_NOTEBOOKS = frozenset({"01_embed", "07_layers"})
# Backends that compute on a torch device (the rest: NumPy, TensorFlow on the CPU, or a remote API)
TORCH_BACKENDS = frozenset({"sentence-transformers", "decoder", "laser"})
_TOPIC = "wordembed-run"

Resolved = Sequence[tuple[str, str, dict[str, Any]]]


def needs_gpu(runner: StudyRunner, ref: str | None, notebook: str) -> bool:
    """A job needs a GPU when the study says ``device: cuda`` and its notebook takes the device, or when it
    runs a torch model (``01_embed``, ``07_layers`` of a sentence-transformers, decoder or LASER model)."""
    device = str(runner.study.notebook_parameters().get("device") or "auto")
    if device.startswith("cuda") and "device" in runner._declared.get(notebook, {}):
        return True
    if ref is None or notebook not in MODEL_NOTEBOOKS:
        return False
    from wordembed.models.spec import load_spec

    return load_spec(ref).backend in TORCH_BACKENDS


# ---------------------------------------------------------------------------------------- on the workers


def _where() -> dict[str, Any]:
    from distributed import get_worker

    worker = get_worker()
    return {"address": worker.address, "name": worker.name, "host": socket.gethostname(), "pid": os.getpid()}


def _on_worker(shipped: StudyRunner, topic: str, index: int) -> tuple[StudyRunner, dict[str, Any], Any]:
    """This task's own copy of the scattered runner (tasks of one worker share the scattered object), its
    log lines sent to the client as events; refused where the libraries differ from the client's, whose
    versions the job keys record."""
    from distributed import get_worker

    where = _where()
    theirs = job_keys.installed_versions()
    differ = {k: (v, theirs.get(k)) for k, v in shipped._versions.items() if theirs.get(k) != v}
    if differ:
        name, (ours, other) = next(iter(differ.items()))
        raise ParameterError(
            f"worker {where['name']} ({where['address']}) runs {name} {other}, the run was started with {ours}: "
            "the workers must run the environment of the process that starts the run"
        )
    worker = get_worker()

    def send(msg: dict[str, Any]) -> None:
        worker.log_event(topic, {"index": index, **msg})

    runner = copy.copy(shipped)
    runner.log = lambda text: send({"text": text, "name": str(where["name"])})
    send({"start": where})
    return runner, where, send


def per_model_task(
    shipped: StudyRunner,
    topic: str,
    step: tuple[str, str, dict[str, Any], str, int, int],
    all_refs: list[str],
    previous: Outcome | None,
    embeds: list[Outcome],
) -> Outcome:
    """One per-model job on a worker: blocked unless ``previous`` (the model's notebook before) left the
    model ok; told which models embedded (``embeds``, when the notebook takes the list)."""
    ref, key, fingerprint, notebook, index, total = step
    runner, where, send = _on_worker(shipped, topic, index)
    model_ok = previous.model_ok if previous is not None else True
    embedded = [o.ref for o in sorted(embeds, key=lambda o: o.index) if o.model_ok] if embeds else all_refs
    result = runner._per_model_step(ref, key, fingerprint, notebook, embedded, model_ok, index, total)
    result.worker = where
    send({"done": True})
    return Outcome(index, ref, key, notebook, result, model_ok_after(model_ok, notebook, result))


def cross_task(
    shipped: StudyRunner,
    topic: str,
    step: tuple[str, int, int],
    resolved: list[tuple[str, str, dict[str, Any]]],
    outcomes: list[Outcome],
    previous: Outcome | None,
) -> Outcome:
    """One cross-model job on a worker, over the models every per-model ``outcomes`` left ok (``previous``:
    the cross-model job before it, which it only waits for)."""
    del previous
    notebook, index, total = step
    runner, where, send = _on_worker(shipped, topic, index)
    ordered = sorted(outcomes, key=lambda o: o.index)
    result = runner._cross_step(notebook, ok_model_refs(resolved, ordered), failed_model_lines(ordered), index, total)
    result.worker = where
    send({"done": True})
    return Outcome(index, None, None, notebook, result)


def _no_log(text: str) -> None:
    """The shipped runner's log until a task gives its copy one (the client's may not pickle)."""


# ---------------------------------------------------------------------------------------- on the client


def run_on_cluster(runner: StudyRunner, report: RunReport, resolved: Resolved) -> None:
    """Run the study's jobs on ``runner.cluster`` and put their results into ``report`` in run order."""
    from wordembed.distributed.cluster import connect, describe, gpu_workers

    with connect(runner.cluster) as (client, kind):
        gpu = bool(gpu_workers(client))
        report.cluster = {**describe(client, kind), "gpu_resources": gpu}
        try:
            _Graph(runner, report, list(resolved), client, gpu).run()
        finally:
            with contextlib.suppress(Exception):  # a cluster going away: run.json must still be written
                report.cluster = {**describe(client, kind), "gpu_resources": gpu}  # workers that joined later


class _Graph:
    """Submits the job graph, prints the workers' log lines as they come, gathers the outcomes."""

    def __init__(
        self, runner: StudyRunner, report: RunReport, resolved: list[tuple[str, str, dict[str, Any]]],
        client: Any, gpu: bool,
    ) -> None:  # fmt: skip
        self.runner = runner
        self.report = report
        self.resolved = resolved
        self.client = client
        self.gpu = gpu
        self.run_id = uuid.uuid4().hex[:12]
        self.topic = f"{_TOPIC}-{self.run_id}"
        self.labels: dict[int, str] = {}
        self.started: dict[int, dict[str, Any]] = {}
        self.done: set[int] = set()
        self.outcomes: dict[int, Outcome] = {}

    def _on_event(self, event: tuple[float, dict[str, Any]]) -> None:
        _, msg = event
        if "start" in msg:
            self.started[int(msg["index"])] = msg["start"]
        elif "done" in msg:
            self.done.add(int(msg["index"]))
        else:
            self.runner.log(f"{msg['text']}  [worker {msg['name']}]")

    def _submit(self, fn: Any, label: str, index: int, resources: dict[str, int] | None, *args: Any) -> Any:
        self.labels[index] = label
        key = f"wordembed {label} #{index} {self.run_id}"
        return self.client.submit(fn, *args, key=key, pure=False, resources=resources)

    def _resources(self, ref: str | None, notebook: str) -> dict[str, int] | None:
        return {"GPU": 1} if self.gpu and needs_gpu(self.runner, ref, notebook) else None

    def submit(self) -> list[Any]:
        runner = self.runner
        portable = copy.copy(runner)
        portable.log = _no_log
        portable.cluster = None
        portable._in_flight = None
        shipped = self.client.scatter(portable, broadcast=True, hash=False)
        total = len(self.resolved) * len(runner.per_model) + len(runner.cross)
        all_refs = [ref for ref, _, _ in self.resolved]
        first, rest = runner.phases()
        index = 0
        futures: list[Any] = []
        embeds: dict[str, Any] = {}
        for ref, key, fingerprint in self.resolved:
            for notebook in first:
                index += 1
                step = (ref, key, fingerprint, notebook, index, total)
                embeds[key] = self._submit(per_model_task, f"{key}/{notebook}", index, self._resources(ref, notebook),
                                           shipped, self.topic, step, all_refs, None, [])  # fmt: skip
                futures.append(embeds[key])
        for ref, key, fingerprint in self.resolved:
            previous = embeds.get(key)
            for notebook in rest:
                index += 1
                step = (ref, key, fingerprint, notebook, index, total)
                wants = list(embeds.values()) if "models" in runner._declared[notebook] else []
                previous = self._submit(per_model_task, f"{key}/{notebook}", index, self._resources(ref, notebook),
                                        shipped, self.topic, step, all_refs, previous, wants)  # fmt: skip
                futures.append(previous)
        per_model = list(futures)
        previous = None
        for notebook in runner.cross:
            index += 1
            step = (notebook, index, total)
            previous = self._submit(cross_task, f"{ALL_MODELS_DIR}/{notebook}", index, self._resources(None, notebook),
                                    shipped, self.topic, step, self.resolved, per_model, previous)  # fmt: skip
            futures.append(previous)
        return futures

    def run(self) -> None:
        from distributed import as_completed

        self.client.subscribe_topic(self.topic, self._on_event)
        futures: list[Any] = []
        try:
            futures = self.submit()
            for future in as_completed(futures):
                outcome = future.result()  # a task's own error (not a notebook's: those are results) raises
                self.outcomes[outcome.index] = outcome
        except BaseException as exc:
            with contextlib.suppress(Exception):
                self.client.cancel(futures, force=True)
            self._settle()
            self.report.results = self._results(exc)
            raise
        else:
            self._settle()
            self.report.results = self._results(None)
        finally:
            with contextlib.suppress(Exception):
                self.client.unsubscribe_topic(self.topic)

    def _settle(self, wait_s: float = 5.0) -> None:
        """Let the log lines of the finished jobs arrive (events travel apart from results): each job sends
        ``done`` after its last line."""
        deadline = time.monotonic() + wait_s
        while time.monotonic() < deadline and not set(self.outcomes) <= self.done:
            time.sleep(0.02)

    def _results(self, error: BaseException | None) -> list[JobResult]:
        """The finished jobs' results in run order; after an error, the jobs that had started and not
        finished are marked ``interrupted`` (their own ``.run.json`` still says ``running``, so they re-run)."""
        results = [self.outcomes[i].result for i in sorted(self.outcomes)]
        if error is None:
            return results
        from wordembed.runner import _error_text

        for index in sorted(set(self.started) - set(self.outcomes)):
            label = self.labels.get(index, f"#{index}")
            good = self.runner.out_root / f"{label}.ipynb"
            results.append(JobResult(label, "interrupted", error=_error_text(error),
                                     kept=str(good) if Path(good).is_file() else None,
                                     worker=self.started[index]))  # fmt: skip
        return results
