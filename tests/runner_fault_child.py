"""The child process of tests/test_runner_faults.py: a StudyRunner with a slow stand-in kernel, to be SIGKILLed.

Run as ``python tests/runner_fault_child.py STUDY_YAML OUT_DIR CODE_HASHES_JSON``: it reruns the study with
``force=True`` (the case where a killed run used to leave a half-run notebook under an "ok" status). The kernel
writes the notebook cell by cell, in place and non-atomically like a real kernel's output, prints ``started`` on
stdout when it begins (the parent's clock for the kill starts there), and the HTML stand-in takes a while too,
so a kill at a random moment lands in the kernel, the HTML or the runner's renames and status writes.

The parent imports this module for the same stand-ins (at full speed), so its runs hash the same inputs as the
child's: a job that re-runs after a kill does so because of its status, not because its inputs changed. Only
light modules are imported here (no nbformat, papermill or nbconvert): the child must start in a fraction of a
second.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

from wordembed import runner

CELLS = 8
CELL_SECONDS = 0.04  # per cell (the parent sets these to 0 for its own runs)
HTML_SECONDS = 0.2
JOB_SECONDS = CELLS * CELL_SECONDS + HTML_SECONDS  # at least, in the child: kills come before this
# What the stand-in notebooks declare (papermill's inspection is too slow to import in the child).
DECLARED: dict[str, Any] = {name: {} for name in ("study", "model", "models", "output_dir", "results_dir")}


def notebook(cells_run: int) -> dict[str, Any]:
    """A v4 notebook of CELLS code cells, the first ``cells_run`` of them executed."""
    cells = [
        {
            "cell_type": "code",
            "execution_count": i + 1 if i < cells_run else None,
            "id": f"cell-{i}",
            "metadata": {},
            "outputs": (
                [{"output_type": "stream", "name": "stdout", "text": f"cell {i} ran\n"}]
                if i < cells_run
                else []
            ),
            "source": f"print('cell {i} ran')",
        }
        for i in range(CELLS)
    ]
    return {"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5}


def cells_run(path: Path) -> int:
    """How many cells of a stand-in notebook ran; -1 when the file is not whole JSON (a truncated write)."""
    try:
        nb = json.loads(path.read_text())
    except ValueError:
        return -1
    return sum(1 for c in nb["cells"] if c["outputs"])


def kernel(job: runner.Job, *, kernel_name: str | None = None) -> None:
    """Writes ``job.output_path`` after every cell, like papermill does, then the job's metrics.json."""
    sys.stdout.write("started\n")
    sys.stdout.flush()
    job.output_path.parent.mkdir(parents=True, exist_ok=True)
    for i in range(1, CELLS + 1):
        time.sleep(CELL_SECONDS)
        with open(job.output_path, "w", encoding="utf-8") as fh:  # in place: a kill can truncate it
            json.dump(notebook(i), fh)
    job.results_dir.mkdir(parents=True, exist_ok=True)
    (job.results_dir / "metrics.json").write_text(json.dumps({"model": job.parameters.get("model")}))


def html_bodies(ipynb: Path) -> tuple[str, str]:
    """Stands in for nbconvert: slow, and the bodies say how many cells of the notebook ran."""
    time.sleep(HTML_SECONDS)
    n = cells_run(ipynb)
    return f"<html>full {n}</html>", f"<html>reading {n}</html>"


def main(argv: list[str]) -> int:
    study_path, out, pinned = argv
    from wordembed.study import load_study

    code = json.loads(pinned)  # the parent's code hashes: the same job keys as its own runs
    runner.code_hash = lambda path: code[str(path)]
    runner.declared_parameters = lambda path: DECLARED
    runner.execute = kernel
    runner._html_bodies = html_bodies
    study = load_study(study_path)
    job_runner = runner.StudyRunner(
        study,
        notebooks=["01_embed"],
        out_root=Path(out),
        force=True,
        log=lambda m: print(m, file=sys.stderr),
        html=True,
    )
    job_runner.run()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
