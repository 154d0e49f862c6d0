"""Every result says how it was made: versions, commit, machine, and (from the runner) the job's inputs."""

from __future__ import annotations

import importlib.metadata
import json
import subprocess
from pathlib import Path

import pandas as pd

from wordembed import paths
from wordembed.provenance import environment, git_commit
from wordembed.results import read_metrics, show_provenance, write_metrics, write_table


def test_metrics_and_tables_carry_their_provenance(tmp_path: Path) -> None:
    write_metrics(tmp_path, {"accuracy": 0.5})
    prov = read_metrics(tmp_path)["provenance"]
    assert prov["versions"]["numpy"] == importlib.metadata.version("numpy")
    assert prov["versions"]["scikit-learn"] == importlib.metadata.version("scikit-learn")
    assert prov["machine"]["cpu_count"] >= 1 and prov["wordembed"]
    head = subprocess.run(["git", "-C", str(paths.project_root()), "rev-parse", "HEAD"],
                          capture_output=True, text=True).stdout.strip()
    assert prov["commit"] == head == git_commit()["commit"] and isinstance(prov["dirty"], bool)
    write_table(tmp_path, "scores", pd.DataFrame({"a": [1, 2], "b": [0.1, 0.2]}))
    sidecar = json.loads((tmp_path / "scores.meta.json").read_text())
    assert sidecar["rows"] == 2 and sidecar["columns"] == ["a", "b"] and sidecar["versions"] == prov["versions"]


def test_results_show_prints_the_runner_record(tmp_path: Path) -> None:
    folder = tmp_path / "glove-50d" / "04_analogies"
    write_metrics(folder, {"x": 1})
    record = {
        "status": "ok", "seconds": 12.5, "finished": "2026-12-01T09:00:00Z",
        "depends_on": {
            "parameters": {"seed": 0, "model": "glove-50d"},
            "models": {"glove-50d": {"yaml_sha256": "ab" * 32}},
            "data": {"bats": {"BATS_3.0/1_Inflectional_morphology/I01 [noun - plural_reg].txt": "cd" * 32}},
            "code": {"wordembed": "0" * 64, "wordembed.analyses.analogy": "1" * 64},
            "versions": environment()["versions"],
        },
    }  # fmt: skip
    (folder.parent / "04_analogies.run.json").write_text(json.dumps(record))
    text = show_provenance(folder)
    assert f"commit {git_commit()['commit']}" in text
    assert "param  seed = 0" in text and "model  glove-50d: yaml abababab" in text
    assert "data   bats: 1 file(s)" in text and "cdcdcdcd" in text and "code   2 wordembed module(s)" in text
    assert "numpy " + importlib.metadata.version("numpy") in text
