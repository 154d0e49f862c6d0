"""The runner under faults: killed, interrupted, failing on a rerun, or out of disk while storing a job.

What must hold: a job whose run did not finish is never reported "unchanged" afterwards (it re-runs, or is
reported failed); ``X.ipynb``/``X.html``/``X.reading.html`` always come from one whole successful run, and the
last good ones survive a failed or killed rerun; ``run.json`` is written whatever happens.

The kernel is a stand-in (as in tests/test_runner.py). Kills come two ways: in-process, a ``BaseException``
raised before each of the runner's side effects in turn (every step boundary, deterministically), and a real
SIGKILL of a child process at seeded random moments (tests/runner_fault_child.py), which also lands inside
writes.
"""

from __future__ import annotations

import errno
import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
import runner_fault_child as child

from wordembed import runner
from wordembed.cli import main
from wordembed.errors import ModelError
from wordembed.runner import ALL_MODELS_DIR, Job, StudyRunner
from wordembed.study import load_study

GLOVE = "glove-50d"
MINILM = "minilm"
EMBED = f"{GLOVE}/01_embed"
PINNED = {}  # notebook -> its code hash, taken once: other work on the package while the suite runs is no change


REAL_CODE_HASH = runner.code_hash


def _pinned(path: Path) -> dict[str, str]:
    return PINNED.setdefault(str(path), REAL_CODE_HASH(path))


class Killed(BaseException):
    """Stands in for SIGKILL in-process: no ``except Exception`` (nor ``KeyboardInterrupt``) handler sees it."""


def _stand_ins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Stand-ins for papermill's inspection, the kernel and nbconvert: the same as the child process uses."""
    monkeypatch.setenv("WORDEMBED_STORE", str(tmp_path / "store"))
    monkeypatch.setenv("WORDEMBED_OUTPUTS", str(tmp_path / "outputs"))
    monkeypatch.setattr(runner, "code_hash", _pinned)
    monkeypatch.setattr(runner, "declared_parameters", lambda path: child.DECLARED)
    monkeypatch.setattr(runner, "execute", child.kernel)
    monkeypatch.setattr(runner, "_html_bodies", child.html_bodies)
    monkeypatch.setattr(child, "CELL_SECONDS", 0.0)
    monkeypatch.setattr(child, "HTML_SECONDS", 0.0)


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _stand_ins(tmp_path, monkeypatch)


def _study(tmp_path: Path, models: list[str]) -> Path:
    path = tmp_path / "s.yaml"
    path.write_text(f"name: s\nmodels: [{', '.join(models)}]\nparameters:\n  vocab_limit: 300\n")
    return path


def _run(study: Path, out: Path, **kw: Any) -> runner.RunReport:
    kw.setdefault("html", True)
    kw.setdefault("notebooks", ["01_embed", "02_similarity_distribution", "06_report"])
    return StudyRunner(load_study(study), out_root=out, log=lambda _: None, **kw).run()


def _statuses(report: runner.RunReport) -> dict[str, str]:
    return {r.label: r.status for r in report.results}


def _status(out: Path, label: str) -> dict[str, Any]:
    return json.loads((out / f"{label}.run.json").read_text())


def _assert_whole(out: Path, label: str) -> None:
    """X.ipynb and its HTML, where present, are whole runs (all cells ran, HTML of a whole notebook)."""
    ipynb = out / f"{label}.ipynb"
    if ipynb.exists():
        assert child.cells_run(ipynb) == child.CELLS, f"{ipynb} holds a run that did not finish"
    for name, kind in (("html", "full"), ("reading.html", "reading")):
        html = out / f"{label}.{name}"
        if html.exists():
            assert html.read_text() == f"<html>{kind} {child.CELLS}</html>", (
                f"{html} is not a whole rendering"
            )


# ------------------------------------------------------------------------------------------ killed runs


class Steps:
    """Counts the runner's side effects and raises :class:`Killed` just before the ``kill_at``-th."""

    def __init__(self, kill_at: int | None = None) -> None:
        self.kill_at = kill_at
        self.events: list[str] = []

    def __call__(self, what: str) -> None:
        self.events.append(what)
        if len(self.events) == self.kill_at:
            raise Killed(what)


class _Os:
    """``os`` for the runner module, with each ``replace`` counted as a step."""

    def __init__(self, step: Steps) -> None:
        self._step = step

    def __getattr__(self, name: str) -> Any:
        return getattr(os, name)

    def replace(self, src: Any, dst: Any) -> None:
        self._step(f"replace -> {Path(dst).name}")
        os.replace(src, dst)


def _instrument(monkeypatch: pytest.MonkeyPatch, step: Steps) -> None:
    write_json = runner._write_json_atomic

    def status(path: Path, data: dict[str, Any]) -> None:
        step(f"write {path.name}: {data.get('status', '')}")
        write_json(path, data)

    def kernel(job: Job, *, kernel_name: str | None = None) -> None:
        job.output_path.parent.mkdir(parents=True, exist_ok=True)
        for i in (1, child.CELLS // 2, child.CELLS):  # a kernel writes the notebook as it goes
            step(f"kernel writes {i} cells")
            job.output_path.write_text(json.dumps(child.notebook(i)))
        job.results_dir.mkdir(parents=True, exist_ok=True)
        (job.results_dir / "metrics.json").write_text("{}")

    def bodies(ipynb: Path) -> tuple[str, str]:
        step("render HTML")
        return child.html_bodies(ipynb)

    monkeypatch.setattr(runner, "_write_json_atomic", status)
    monkeypatch.setattr(runner, "execute", kernel)
    monkeypatch.setattr(runner, "_html_bodies", bodies)
    monkeypatch.setattr(runner, "os", _Os(step))


def test_a_rerun_killed_at_any_step_is_never_unchanged(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`--force` rerun of one job killed before each of its side effects in turn: once its "running" status is
    down, the next plain run re-runs it (its inputs are unchanged: only the status can tell) until its "ok" is;
    the notebook and HTML are whole throughout, the last good ones untouched until the new ones replace them,
    and run.json marks the job interrupted."""
    study = _study(tmp_path, [GLOVE])
    status_replaced = "replace -> 01_embed.run.json"
    shown = ("replace -> 01_embed.html", "replace -> 01_embed.reading.html", "replace -> 01_embed.ipynb")
    counted = Steps()
    _run(study, tmp_path / "count", notebooks=["01_embed"])
    _instrument(monkeypatch, counted)
    _run(study, tmp_path / "count", notebooks=["01_embed"], force=True)
    assert counted.events[0] == "write 01_embed.run.json: running" and counted.events[1] == status_replaced
    assert "write 01_embed.run.json: ok" in counted.events and "render HTML" in counted.events
    assert set(shown) <= set(counted.events)
    monkeypatch.undo()
    for kill_at in range(1, len(counted.events) + 1):
        _stand_ins(tmp_path, monkeypatch)
        out = tmp_path / f"kill{kill_at}"
        _run(study, out, notebooks=["01_embed"])
        good = {p.name: p.read_bytes() for p in out.joinpath(GLOVE).glob("01_embed.*")}
        step = Steps(kill_at)
        _instrument(monkeypatch, step)
        with pytest.raises(Killed):
            _run(study, out, notebooks=["01_embed"], force=True)
        monkeypatch.undo()
        before = step.events[: kill_at - 1]  # what happened before the kill (run.json is written after it)
        where = f"killed before {step.events[kill_at - 1]!r} (step {kill_at})"
        began = status_replaced in before
        ok_at = (
            before.index("write 01_embed.run.json: ok") if "write 01_embed.run.json: ok" in before else None
        )
        done = ok_at is not None and status_replaced in before[ok_at:]
        _assert_whole(out, EMBED)
        if not any(e in shown for e in before):
            kept = {n: b for n, b in good.items() if not (began and n == "01_embed.run.json")}
            assert {n: (out / GLOVE / n).read_bytes() for n in kept} == kept, where
        run = json.loads((out / "run.json").read_text())
        assert [(r["label"], r["status"]) for r in run["results"]] == [
            (EMBED, "ok" if done else "interrupted")
        ]
        _stand_ins(tmp_path, monkeypatch)
        expected = "ok" if began and not done else "skipped"  # skipped: the old run or the new one is whole
        assert _statuses(_run(study, out, notebooks=["01_embed"])) == {EMBED: expected}, where
        _assert_whole(out, EMBED)
        assert _status(out, EMBED)["status"] == "ok"


def test_a_status_left_running_means_interrupted(tmp_path: Path) -> None:
    study = _study(tmp_path, [GLOVE])
    out = tmp_path / "out"
    _run(study, out, notebooks=["01_embed"])
    status = _status(out, EMBED)
    (out / f"{EMBED}.run.json").write_text(json.dumps({**status, "status": "running"}))
    assert _statuses(_run(study, out, notebooks=["01_embed"])) == {EMBED: "ok"}
    assert _statuses(_run(study, out, notebooks=["01_embed"])) == {EMBED: "skipped"}


def test_ctrl_c_writes_run_json_and_the_job_reruns(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Ctrl-C in the second job: run.json has the first job done and the second interrupted, the second's
    status says interrupted, its last good notebook is kept, the command exits 130; the next run re-runs it."""
    study = _study(tmp_path, [GLOVE, MINILM])
    out = tmp_path / "out"
    _run(study, out)
    good = (out / MINILM / "01_embed.ipynb").read_bytes()

    def interrupted(job: Job, *, kernel_name: str | None = None) -> None:
        if job.model == MINILM:
            job.output_path.write_text(json.dumps(child.notebook(3)))
            raise KeyboardInterrupt
        child.kernel(job)

    monkeypatch.setattr(runner, "execute", interrupted)
    args = [
        "run",
        "--study",
        str(study),
        "--out",
        str(out),
        "--force",
        "--notebooks",
        "01_embed",
        "06_report",
    ]
    assert main(args) == 130
    run = json.loads((out / "run.json").read_text())
    assert [(r["label"], r["status"]) for r in run["results"]] == [
        (EMBED, "ok"),
        (f"{MINILM}/01_embed", "interrupted"),
    ]
    assert run["results"][1]["kept"] == str(out / MINILM / "01_embed.ipynb")
    status = _status(out, f"{MINILM}/01_embed")
    assert status["status"] == "interrupted" and status["partial"] == str(
        out / MINILM / "01_embed.partial.ipynb"
    )
    assert (out / MINILM / "01_embed.ipynb").read_bytes() == good
    monkeypatch.setattr(runner, "execute", child.kernel)
    statuses = _statuses(_run(study, out, notebooks=["01_embed", "06_report"]))
    assert (statuses[EMBED], statuses[f"{MINILM}/01_embed"]) == ("skipped", "ok")
    assert not (out / MINILM / "01_embed.partial.ipynb").exists()


def _kill_after(proc: subprocess.Popen[str], delay: float, started: list[float]) -> None:
    line = proc.stdout.readline() if proc.stdout else ""
    if line.strip() == "started":
        started.append(time.monotonic())
        time.sleep(delay)
    proc.send_signal(signal.SIGKILL)


def test_sigkill_at_random_moments_never_leaves_unchanged(tmp_path: Path) -> None:
    """Three children rerun one job with ``--force`` and are SIGKILLed at seeded moments inside it; then a
    plain run must re-run the job (its inputs did not change: only its status can say it did not finish)."""
    study = _study(tmp_path, [GLOVE])
    # seeded moments in the first 80% of the job, so a slow-to-fire kill still lands before the job ends
    delays = [random.Random(seed).uniform(0.0, 0.8 * child.JOB_SECONDS) for seed in (0, 1, 2)]
    outs = [tmp_path / f"seed{seed}" for seed in range(3)]
    for out in outs:
        assert _statuses(_run(study, out, notebooks=["01_embed"])) == {EMBED: "ok"}
        assert _statuses(_run(study, out, notebooks=["01_embed"])) == {
            EMBED: "skipped"
        }  # same hash as before
    script = Path(__file__).with_name("runner_fault_child.py")
    procs = [
        subprocess.Popen(
            [sys.executable, str(script), str(study), str(out), json.dumps(PINNED)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=Path(__file__).parent.parent,
        )
        for out in outs
    ]
    started: list[float] = []
    killers = [
        threading.Thread(target=_kill_after, args=(p, d, started)) for p, d in zip(procs, delays, strict=True)
    ]
    for thread in killers:
        thread.start()
    for thread in killers:
        thread.join(timeout=30)
    codes = [p.wait(timeout=30) for p in procs]
    errors = [p.stderr.read() if p.stderr else "" for p in procs]
    assert len(started) == 3, errors
    assert codes == [-signal.SIGKILL] * 3, errors  # killed inside the job, never finished before it
    for out, delay in zip(outs, delays, strict=True):
        _assert_whole(out, EMBED)
        assert _status(out, EMBED)["status"] != "ok", f"killed {delay:.3f} s in, yet the status says ok"
        assert _statuses(_run(study, out, notebooks=["01_embed"])) == {EMBED: "ok"}, (
            f"killed {delay:.3f} s in"
        )
        _assert_whole(out, EMBED)


# ------------------------------------------------------------------------------------------- failed reruns


def test_a_failing_rerun_keeps_the_last_good_outputs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    study = _study(tmp_path, [GLOVE, MINILM])
    out = tmp_path / "out"
    _run(study, out)
    files = ("01_embed.ipynb", "01_embed.html", "01_embed.reading.html")
    good = {name: (out / GLOVE / name).read_bytes() for name in files}

    def failing(job: Job, *, kernel_name: str | None = None) -> None:
        if job.label == EMBED:
            job.output_path.write_text(json.dumps(child.notebook(3)))
            raise ModelError("the stand-in kernel was told to fail")
        child.kernel(job)

    monkeypatch.setattr(runner, "execute", failing)
    report = _run(study, out, force=True)
    assert _statuses(report)[EMBED] == "failed" and report.exit_code == 1
    assert {name: (out / GLOVE / name).read_bytes() for name in files} == good
    failed = out / GLOVE / "01_embed.failed.ipynb"
    assert child.cells_run(failed) == 3
    assert (out / GLOVE / "01_embed.failed.html").read_text() == "<html>full 3</html>"
    assert (out / GLOVE / "01_embed.failed.reading.html").read_text() == "<html>reading 3</html>"
    status = _status(out, EMBED)
    assert status["status"] == "failed" and "told to fail" in status["error"]
    assert status["output"] == str(failed) and status["kept"] == str(out / GLOVE / "01_embed.ipynb")
    assert status["last_ok"]["inputs"] == status["inputs"]  # the kept notebook is a run of these inputs
    run = json.loads((out / "run.json").read_text())
    (entry,) = [r for r in run["results"] if r["label"] == EMBED]
    assert entry["output"] == str(failed) and entry["kept"] == str(out / GLOVE / "01_embed.ipynb")
    assert not list(out.rglob("*.partial.ipynb")) and not list(out.rglob(".*.tmp"))

    monkeypatch.setattr(runner, "execute", child.kernel)
    assert _statuses(_run(study, out))[EMBED] == "ok"  # failed: tried again without --force
    assert not failed.exists() and not (out / GLOVE / "01_embed.failed.html").exists()
    _assert_whole(out, EMBED)


def test_a_full_disk_while_rendering_fails_that_job_not_the_study(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """ENOSPC half-way through the reading copy of one job: that job fails (its last good notebook and HTML
    whole and in place), the other model goes on, run.json is written, no truncated file is left."""
    study = _study(tmp_path, [GLOVE, MINILM])
    out = tmp_path / "out"
    _run(study, out)
    good = {
        p.name: p.read_bytes() for p in (out / GLOVE).glob("01_embed.*") if not p.name.endswith(".run.json")
    }
    real_write_text = Path.write_text
    full: list[Path] = []

    def write_text(self: Path, data: str, *args: Any, **kwargs: Any) -> int:
        if not full and self.parent == out / GLOVE and self.name.startswith(".01_embed.reading.html."):
            full.append(self)
            real_write_text(self, data[: len(data) // 2], *args, **kwargs)
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(self))
        return real_write_text(self, data, *args, **kwargs)

    monkeypatch.setattr(Path, "write_text", write_text)
    report = _run(study, out, force=True)
    monkeypatch.undo()
    assert full, "the full disk was never hit"
    statuses = _statuses(report)
    assert statuses == {
        EMBED: "failed",
        f"{MINILM}/01_embed": "ok",
        f"{GLOVE}/02_similarity_distribution": "blocked",
        f"{MINILM}/02_similarity_distribution": "ok",
        f"{ALL_MODELS_DIR}/06_report": "ok",
    }
    (failed,) = [r for r in report.results if r.status == "failed"]
    assert "storing its outputs failed" in failed.error and "No space left on device" in failed.error
    assert {n: (out / GLOVE / n).read_bytes() for n in good} == good
    assert not list(out.rglob(".*.tmp")) and not list(out.rglob("*.partial.ipynb"))
    run = json.loads((out / "run.json").read_text())
    assert {r["label"]: r["status"] for r in run["results"]} == statuses and run["failed"] == 2
    assert _status(out, EMBED)["status"] == "failed"
    _stand_ins(tmp_path, monkeypatch)
    assert _statuses(_run(study, out))[EMBED] == "ok"


def test_a_status_that_cannot_be_written_does_not_stop_the_study(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    study = _study(tmp_path, [GLOVE, MINILM])
    out = tmp_path / "out"
    write_json = runner._write_json_atomic

    def status(path: Path, data: dict[str, Any]) -> None:
        if path.name == "01_embed.run.json" and path.parent.name == GLOVE and data["status"] == "ok":
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))
        write_json(path, data)

    monkeypatch.setattr(runner, "_write_json_atomic", status)
    report = _run(study, out, notebooks=["01_embed"])
    assert _statuses(report) == {EMBED: "failed", f"{MINILM}/01_embed": "ok"}
    assert _status(out, EMBED)["status"] == "failed"
    monkeypatch.setattr(runner, "_write_json_atomic", write_json)
    assert _statuses(_run(study, out, notebooks=["01_embed"])) == {
        EMBED: "ok",
        f"{MINILM}/01_embed": "skipped",
    }
