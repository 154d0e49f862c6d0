"""Beyond one machine: the study's jobs and the all-pairs blocks on a Dask cluster.

What must hold: on a LocalCluster of 2 worker processes the quick study gives the sequential runner's
metrics and tables value for value, each job's record names the worker that ran it, a failing model fails
alone with the sequential runner's blocking, and the job keys are the same (a sequential rerun of a Dask run
skips what it finished); the Dask all-pairs engine gives the local engine's counts, mean and std bit for bit
on every block size (a ragged last block included); the SLURM settings YAML makes a job script without
SLURM and refuses a typo'd key on one line; and without the `cluster` extra nothing but the cluster paths
needs it. The cluster runs are `slow` (the integration tier); one cluster of 2 workers serves the module.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from tiny_models import write_tiny_static_yaml

from wordembed.analyses.allpairs import all_pairs_distribution
from wordembed.cli import main
from wordembed.errors import ParameterError
from wordembed.runner import ALL_MODELS_DIR, RunReport, StudyRunner
from wordembed.study import load_study

distributed = pytest.importorskip("distributed", reason="the `cluster` extra is not installed")

from wordembed.distributed import cluster as dcluster  # noqa: E402 (needs the extra)
from wordembed.distributed.jobs import needs_gpu  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
GLOVE = "glove-50d"
BROKEN = "broken"


def _statuses(report: RunReport) -> dict[str, str]:
    return {r.label: r.status for r in report.results}


def _code_state() -> str:
    """A digest of the package's modules and the notebooks: other work on the checkout while a test runs
    changes the job keys' code digests (the runner tests pin them; a worker process cannot be pinned)."""
    import hashlib

    digest = hashlib.sha256()
    for path in sorted([*(ROOT / "lib" / "wordembed").rglob("*.py"), *(ROOT / "notebooks").glob("*.ipynb")]):
        digest.update(str(path).encode() + path.read_bytes())
    return digest.hexdigest()


# ------------------------------------------------------------------------------------- without a cluster


def test_without_the_extra_only_the_cluster_paths_fail_and_they_name_it(tmp_path: Path) -> None:
    """The core and the sequential runner import nothing of Dask; the cluster paths say which extra."""
    code = textwrap.dedent(
        """
        import importlib.abc, json, sys
        class NoDask(importlib.abc.MetaPathFinder):
            def find_spec(self, name, path, target=None):
                if name.split(".")[0] in {"dask", "distributed", "dask_jobqueue"}:
                    raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        sys.meta_path.insert(0, NoDask())
        import numpy as np
        import wordembed.runner, wordembed.commands.run, wordembed.distributed.jobs
        from wordembed.analyses.allpairs import all_pairs_distribution
        from wordembed.errors import ParameterError
        out = {"local": all_pairs_distribution(np.eye(3, dtype=np.float32) + 1).n_pairs}
        try:
            all_pairs_distribution(np.eye(3, dtype=np.float32), engine="dask")
        except ParameterError as exc:
            out["dask"] = str(exc)
        from wordembed.cli import main
        out["cli"] = main(["run", "--study", "quick", "--workers", "2", "--out", sys.argv[1]])
        print(json.dumps(out))
        """
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT / "lib"), "WORDEMBED_STORE": str(tmp_path / "store")}
    done = subprocess.run([sys.executable, "-c", code, str(tmp_path / "out")], capture_output=True, text=True,
                          env=env, timeout=300, check=False)  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert out["local"] == 3 and out["cli"] == 2
    assert "`cluster` extra" in out["dask"] and "wordembed[cluster]" in out["dask"] and "\n" not in out["dask"]
    (line,) = [x for x in done.stderr.splitlines() if x.startswith("wordembed: error:")]
    assert "`cluster` extra" in line
    assert not (tmp_path / "out").exists()  # refused before anything was written


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--scheduler", "tcp://127.0.0.1:1", "--workers", "2"], "--scheduler uses the workers"),
        (["--cluster-config", "params/clusters/slurm.yaml"], "--cluster-config is for --cluster slurm"),
        (["--threads-per-worker", "2"], "--threads-per-worker is for local workers"),
        (["--workers", "3", "--gpus", "0,1"], "--gpus names 2 GPU(s) for one worker each, but --workers is 3"),
        (["--gpus", "0,0"], "--gpus must list distinct GPUs"),
        (["--cluster", "slurm", "--gpus", "0"], "--gpus starts local GPU workers"),
    ],
)
def test_contradicting_cluster_options_are_refused_on_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    out = tmp_path / "out"
    assert main(["run", "--study", "quick", *args, "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("wordembed: error:") and message in err and err.count("\n") == 1
    assert not out.exists()


def test_a_worker_count_must_be_positive(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["run", "--study", "quick", "--workers", "0"])
    assert "--workers: must be a positive integer, got '0'" in capsys.readouterr().err


def test_which_jobs_ask_for_a_gpu(tmp_path: Path) -> None:
    """A job that runs a torch model; every job that takes the device when the study says cuda."""
    quick = StudyRunner(load_study("quick"), out_root=tmp_path / "q", log=lambda _: None)
    asks = {(m, n) for m in quick.models for n in quick.per_model if needs_gpu(quick, m, n)}
    assert asks == {("minilm", "01_embed")}  # GloVe is a static table; minilm's later notebooks read the store
    assert not any(needs_gpu(quick, None, n) for n in quick.cross)
    path = tmp_path / "cuda.yaml"
    path.write_text("name: cuda\nmodels: [glove-50d, minilm]\nparameters:\n  device: cuda\n")
    cuda = StudyRunner(load_study(path), out_root=tmp_path / "c", log=lambda _: None)
    assert {n for n in cuda.per_model if needs_gpu(cuda, GLOVE, n)} == set(cuda.per_model)
    assert {n for n in cuda.cross if needs_gpu(cuda, None, n)} == {"05_agreement"}  # 06 takes no device


# ------------------------------------------------------------------------------------------------- SLURM


def test_the_slurm_yaml_makes_a_job_script_without_slurm(tmp_path: Path) -> None:
    settings = dcluster.slurm_settings(dcluster.default_slurm_config())
    assert settings["job_cpu"] == 8 and settings["worker_extra_args"] == ["--resources", "GPU=1"]
    cluster = dcluster.slurm_cluster(log_directory=str(tmp_path / "logs"), dashboard_address=None)
    try:
        script, address = cluster.job_script(), cluster.scheduler_address
    finally:
        cluster.close()
    lines = script.splitlines()
    for directive in ("#SBATCH --cpus-per-task=8", "#SBATCH -t 04:00:00", "#SBATCH --gres=gpu:1",
                      f"#SBATCH -e {tmp_path / 'logs'}/dask-worker-%J.err"):  # fmt: skip
        assert directive in lines, script
    assert "source .venv/bin/activate" in lines
    assert any(x.startswith("export DASK_DISTRIBUTED__NANNY__PRE_SPAWN_ENVIRON=") and '"OMP_NUM_THREADS": 8' in x
               for x in lines)  # fmt: skip
    (worker,) = [x for x in lines if "distributed.cli.dask_worker" in x]
    assert worker.startswith(sys.executable) and "--nthreads 1" in worker and "--resources GPU=1" in worker
    assert "--death-timeout 120" in worker and address in worker


def test_a_typo_in_the_slurm_yaml_names_the_file_and_the_key(tmp_path: Path) -> None:
    path = tmp_path / "slurm.yaml"
    path.write_text(dcluster.default_slurm_config().read_text().replace("walltime:", "walltme:"))
    with pytest.raises(ParameterError) as info:
        dcluster.slurm_settings(path)
    message = str(info.value)
    assert message.startswith(f"{path}: unknown key 'walltme' (did you mean 'walltime'?); valid: ")
    assert "job_extra_directives" in message and "\n" not in message
    assert main(["run", "--study", "quick", "--cluster", "slurm", "--cluster-config", str(path), "--out",
                 str(tmp_path / "out")]) == 2  # fmt: skip
    assert not (tmp_path / "out").exists()
    path.write_text("- cores: 1\n")
    with pytest.raises(ParameterError, match=r"slurm.yaml: expected a mapping of SLURMCluster settings, got list"):
        dcluster.slurm_settings(path)


# -------------------------------------------------------------------------------------- on a LocalCluster


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Any, Path]]:
    """2 worker processes, 1 thread each (as `--workers 2` starts them), with a store of their own: the
    workers keep the environment they were started with."""
    root = tmp_path_factory.mktemp("dask")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("WORDEMBED_STORE", str(root / "store-dask"))
        mp.setenv("WORDEMBED_OUTPUTS", str(root / "outputs"))
        with dcluster.local_cluster(dcluster.ClusterOptions(workers=2)) as local, distributed.Client(local) as client:
            client.wait_for_workers(2)
            yield client, root


@pytest.mark.slow
@pytest.mark.parametrize("blocks", [(256, 512), (300, 700), (1000, 1001), (2048, 8192)])
def test_dask_all_pairs_equal_the_local_engine_bit_for_bit(cluster: tuple[Any, Path], blocks: tuple[int, int]) -> None:
    """Counts, mean and std identical to the local engine's on a seeded random matrix; 2,001 rows make
    every block size leave a ragged last row and column block. The local engine runs with 1 and 3 threads:
    its sums are reduced in block order too, so they do not depend on the threads either."""
    client, _ = cluster
    rng = np.random.default_rng(14)
    x = (rng.standard_normal((2001, 96)) + 0.4).astype(np.float32)
    x[1990:] = x[:11]  # cosines of exactly 1
    local = all_pairs_distribution(x, block_rows=blocks[0], block_cols=blocks[1])
    on_dask = all_pairs_distribution(x, block_rows=blocks[0], block_cols=blocks[1], engine="dask", client=client)
    assert on_dask.counts.dtype == np.int64 and np.array_equal(on_dask.counts, local.counts)
    assert on_dask.counts.sum() == 2001 * 2000 // 2 == on_dask.n_pairs
    assert on_dask.mean == local.mean and on_dask.std == local.std  # the same floats, not approximately
    for threads in (1, 3):
        other = all_pairs_distribution(x, block_rows=blocks[0], block_cols=blocks[1], threads=threads)
        assert other.mean == local.mean and other.std == local.std
    tasks = -(-2001 // blocks[0]) if blocks[1] >= 2001 else None
    assert on_dask.options["engine"] == "dask" and on_dask.options["workers"] in (1, 2)
    if tasks is not None:
        assert on_dask.options["tasks"] == tasks


@pytest.mark.slow
def test_dask_all_pairs_use_the_current_client_and_the_torch_path(cluster: tuple[Any, Path]) -> None:
    """No client passed: the current one. ``device="cpu"``: the torch path on each worker, equal to the local
    torch path; ``"auto"``: numpy on workers without CUDA."""
    rng = np.random.default_rng(5)
    x = (rng.standard_normal((701, 48)) + 0.3).astype(np.float32)
    got = all_pairs_distribution(x, block_rows=128, block_cols=300, engine="dask")
    assert np.array_equal(got.counts, all_pairs_distribution(x, block_rows=128, block_cols=300).counts)
    pytest.importorskip("torch")
    torch_local = all_pairs_distribution(x, block_rows=128, block_cols=300, device="cpu")
    torch_dask = all_pairs_distribution(x, block_rows=128, block_cols=300, device="cpu", engine="dask")
    assert np.array_equal(torch_dask.counts, torch_local.counts) and torch_dask.mean == torch_local.mean
    auto = all_pairs_distribution(x, block_rows=128, block_cols=300, device="auto", engine="dask")
    assert np.array_equal(auto.counts, got.counts) and auto.mean == got.mean


def _values(out: Path) -> dict[str, Any]:
    """Every metrics.json (without provenance and timings) and every CSV table of a run, by path."""

    def strip(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: strip(v) for k, v in value.items() if k not in ("provenance", "seconds")}
        if isinstance(value, list):
            return [strip(v) for v in value]
        return value

    found: dict[str, Any] = {}
    for path in sorted(out.glob("*/*/metrics.json")):
        found[str(path.relative_to(out))] = strip(json.loads(path.read_text()))
    for path in sorted(out.glob("*/*/**/*.csv")):
        found[str(path.relative_to(out))] = pd.read_csv(path)
    return found


@pytest.fixture(scope="module")
def quick_runs(cluster: tuple[Any, Path]) -> tuple[RunReport, Path, RunReport, Path, bool]:
    """The quick study once sequentially (a store of its own) and once on the cluster, both from cold; and
    whether the code stayed as it was meanwhile."""
    client, root = cluster
    study = load_study("quick")
    before = _code_state()
    seq_out, dask_out = root / "quick-seq", root / "quick-dask"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("WORDEMBED_STORE", str(root / "store-seq"))
        sequential = StudyRunner(study, out_root=seq_out, html=False, log=lambda _: None).run()
    lines: list[str] = []
    on_dask = StudyRunner(study, out_root=dask_out, html=False, log=lines.append, cluster=client).run()
    (dask_out / "log.txt").write_text("\n".join(lines))
    return sequential, seq_out, on_dask, dask_out, _code_state() == before


@pytest.mark.slow
def test_the_quick_study_on_two_workers_gives_the_sequential_metrics(
    quick_runs: tuple[RunReport, Path, RunReport, Path, bool],
) -> None:
    sequential, seq_out, on_dask, dask_out, code_unchanged = quick_runs
    labels = [r.label for r in sequential.results]
    assert len(labels) == 10 and set(_statuses(sequential).values()) == {"ok"}
    assert [r.label for r in on_dask.results] == labels and set(_statuses(on_dask).values()) == {"ok"}
    seq, got = _values(seq_out), _values(dask_out)
    assert sorted(got) == sorted(seq) and len([k for k in seq if k.endswith("metrics.json")]) == 10
    assert sum(k.endswith(".csv") for k in seq) > 40
    for name, value in seq.items():
        if isinstance(value, pd.DataFrame):
            pd.testing.assert_frame_equal(got[name], value, check_exact=True, obj=name)
        else:
            assert got[name] == value, name
    # the job keys are the same: each job's inputs (its .run.json) are the sequential run's; the digests of
    # the code too, unless someone changed the checkout while the two runs ran. The cross-model jobs' upstream
    # files are the per-model metrics.json of each run's own folder (other paths, other timings in them).
    for label in labels:
        ours = json.loads((dask_out / f"{label}.run.json").read_text())
        theirs = json.loads((seq_out / f"{label}.run.json").read_text())
        assert ours["status"] == "ok", label
        mine, other = ours["depends_on"], theirs["depends_on"]
        skip = {"upstream"} | (set() if code_unchanged else {"code"})
        assert {k: v for k, v in mine.items() if k not in skip} == {k: v for k, v in other.items() if k not in skip}
        assert [Path(p).relative_to(dask_out) for p in mine["upstream"]] == [
            Path(p).relative_to(seq_out) for p in other["upstream"]
        ]
        if code_unchanged and not label.startswith(ALL_MODELS_DIR):
            assert ours["inputs"] == theirs["inputs"], label


@pytest.mark.slow
def test_run_json_names_the_worker_of_every_job(quick_runs: tuple[RunReport, Path, RunReport, Path, bool]) -> None:
    sequential, seq_out, _, dask_out, _ = quick_runs
    run = json.loads((dask_out / "run.json").read_text())
    workers = run["cluster"]["workers"]
    assert run["cluster"]["kind"] == "client" and run["cluster"]["gpu_resources"] is False
    assert len(workers) == 2 and all(w["nthreads"] == 1 and w["resources"] == {} for w in workers.values())
    used = set()
    for result in run["results"]:
        worker = result["worker"]
        assert worker["address"] in workers and worker["name"] == workers[worker["address"]]["name"]
        assert isinstance(worker["pid"], int) and worker["pid"] != os.getpid() and worker["host"]
        used.add(worker["address"])
    assert len(used) == 2  # the two models embed at once, one per worker
    # the sequential run.json is as it always was: no worker, no cluster
    plain = json.loads((seq_out / "run.json").read_text())
    assert "cluster" not in plain and all("worker" not in r for r in plain["results"])
    assert [r.worker for r in sequential.results] == [None] * 10
    # the workers' log lines came back, each naming its worker
    log = (dask_out / "log.txt").read_text().splitlines()
    names = {str(w["name"]) for w in workers.values()}
    assert sum(": ok in " in line for line in log) == 10
    assert all(line.rsplit("[worker ", 1)[1].rstrip("]") in names for line in log)


@pytest.mark.slow
def test_a_failing_model_fails_alone_on_the_cluster_and_the_keys_match_a_sequential_rerun(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """`wordembed run --workers 2`: the model whose artefact is missing fails in its kernel, its next
    notebook is blocked, the report runs over the other model; then a sequential run skips all that finished."""
    monkeypatch.setenv("WORDEMBED_STORE", str(tmp_path / "store"))
    missing = tmp_path / "models" / "no-such-vectors.txt"
    broken = str(write_tiny_static_yaml(tmp_path / "models", [], key=BROKEN, source_path=missing))
    path = tmp_path / "s.yaml"
    path.write_text(f"name: s\nmodels: [{GLOVE}, {broken}]\nparameters:\n  vocab_limit: 300\n")
    out = tmp_path / "out"
    notebooks = ["01_embed", "02_similarity_distribution", "05_agreement", "06_report"]
    before = _code_state()
    code = main(["run", "--study", str(path), "--notebooks", *notebooks, "--out", str(out), "--no-html",
                 "--workers", "2"])  # fmt: skip
    printed = capsys.readouterr().out
    assert code == 1
    assert "on 2 Dask worker(s) (local)" in printed and f"failed: {BROKEN}/01_embed: ModelError" in printed
    run = json.loads((out / "run.json").read_text())
    expected = {
        f"{GLOVE}/01_embed": "ok",
        f"{BROKEN}/01_embed": "failed",
        f"{GLOVE}/02_similarity_distribution": "ok",
        f"{BROKEN}/02_similarity_distribution": "blocked",
        f"{ALL_MODELS_DIR}/05_agreement": "skipped",  # one model left: nothing to compare
        f"{ALL_MODELS_DIR}/06_report": "ok",
    }
    assert {r["label"]: r["status"] for r in run["results"]} == expected and run["failed"] == 2
    assert [r["label"] for r in run["results"]] == list(expected)  # the sequential runner's order
    assert all(r["worker"]["address"] in run["cluster"]["workers"] for r in run["results"])
    assert run["cluster"]["kind"] == "local" and len(run["cluster"]["workers"]) == 2
    status = json.loads((out / BROKEN / "01_embed.run.json").read_text())
    assert status["status"] == "failed" and f"{missing} does not exist" in status["error"]
    assert (out / BROKEN / "01_embed.failed.ipynb").is_file() and not (out / BROKEN / "01_embed.ipynb").exists()
    report = json.loads((out / ALL_MODELS_DIR / "06_report" / "metrics.json").read_text())
    assert report["models"] == [GLOVE]
    (line,) = report["failed_models"]
    assert line.startswith(f"{BROKEN} (01_embed): ModelError")

    again = StudyRunner(load_study(path), notebooks=notebooks, out_root=out, html=False, log=lambda _: None).run()
    statuses = _statuses(again)
    finished = [f"{GLOVE}/01_embed", f"{GLOVE}/02_similarity_distribution", f"{ALL_MODELS_DIR}/06_report"]
    assert {k: v for k, v in statuses.items() if k not in finished} == {
        k: v for k, v in expected.items() if k not in finished
    }
    if _code_state() == before:  # the keys the workers made are the ones made here
        assert [statuses[k] for k in finished] == ["skipped"] * 3
    else:  # someone changed the checkout meanwhile: what it touched re-runs
        assert {statuses[k] for k in finished} <= {"skipped", "ok"}


@pytest.mark.slow
def test_a_worker_with_other_library_versions_is_refused(cluster: tuple[Any, Path], tmp_path: Path) -> None:
    """The job keys record the versions of the process that starts the run: a worker whose differ must not
    run its jobs. The run stops with one line naming the worker and the library; run.json is written."""
    client, _ = cluster
    path = tmp_path / "s.yaml"
    path.write_text(f"name: s\nmodels: [{GLOVE}]\nparameters:\n  vocab_limit: 300\n")
    runner = StudyRunner(load_study(path), notebooks=["01_embed"], out_root=tmp_path / "out", html=False,
                         log=lambda _: None, cluster=client)  # fmt: skip
    runner._versions = {**runner._versions, "numpy": "0.0.1"}
    with pytest.raises(ParameterError) as info:
        runner.run()
    message = str(info.value)
    assert "runs numpy" in message and "started with 0.0.1" in message and "\n" not in message
    run = json.loads((tmp_path / "out" / "run.json").read_text())
    assert run["results"] == [] and len(run["cluster"]["workers"]) == 2
    assert not (tmp_path / "out" / GLOVE / "01_embed.run.json").exists()  # nothing started


@pytest.mark.slow
def test_gpu_workers_see_their_own_gpu_and_declare_it() -> None:
    """`--gpus 0,1`: one worker per GPU, each with CUDA_VISIBLE_DEVICES of its own and the resource GPU=1
    (checked without GPUs: what the workers are told, not what CUDA makes of it)."""
    options = dcluster.ClusterOptions(gpus=("0", "1"))
    with dcluster.local_cluster(options) as gpus, distributed.Client(gpus) as client:
        client.wait_for_workers(2)
        seen = client.run(lambda: os.environ.get("CUDA_VISIBLE_DEVICES"))
        table = dcluster.describe(client, "local")["workers"]
        assert sorted(seen.values()) == ["0", "1"]
        assert {table[a]["name"]: seen[a] for a in seen} == {"gpu0": "0", "gpu1": "1"}
        assert sorted(dcluster.gpu_workers(client)) == sorted(seen)
        future = client.submit(os.getpid, resources={"GPU": 1}, pure=False)
        assert future.result(timeout=60) > 0
