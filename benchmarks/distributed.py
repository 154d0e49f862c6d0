"""Benchmark of the Dask paths (issue 14); prints one JSON object.

Measures, in one run on this machine:
- ``study``: the quick study (``wordembed run --study quick --force --no-html``) on a local cluster of 2
  workers against 1 worker (``ratio``: 1-worker wall time / 2-worker wall time; > 1 is a speed-up), each a
  fresh process as a user runs it, cluster start-up included. The store is prepared *warm* first (the
  ``01_embed`` notebooks run once, untimed, into a temporary store) and every measured run re-executes
  every notebook (``--force``): so both runs do the same work from the same store state, neither profits
  from vectors the other computed, and it is the common case (a rerun after a change to the analyses; a
  cold run adds the models' one-off embedding, the same for both, which no number of workers splits).
  ``--sequential`` adds the in-process sequential runner on the same store, the runner's own peer.
- ``allpairs``: ``all_pairs_distribution(engine="dask")`` on a local cluster of one single-threaded worker
  per core against the local engine (one thread per core) on 20,000 x 384 random vectors: pairs/s ratio
  (goal >= 0.8 of local on one machine), interleaved runs, the fastest of each; the cluster is started and
  warmed (numba's cached kernels loaded in the workers) before timing, the scatter of the vectors is timed
  with each run (it is part of every call). Identical counts, mean and std are required. ``cpu_ratio``: the
  same comparison in CPU seconds (the local process's; the workers' and this client's together for Dask),
  steadier than the wall clock when other jobs hold the cores.

Timings are noisy when other jobs share the machine's cores (``load_avg_1min`` is recorded at start and end):
compare ratios, not absolute times.

    python benchmarks/distributed.py [--skip-study] [--sequential] [--words 20000] [--dims 384] [--out FILE]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
# This file has the name of Dask's package: with its folder first on sys.path (where `python
# benchmarks/distributed.py` puts it) `import distributed` would import this file, here and in the workers.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != ROOT / "benchmarks"]
WORDEMBED = [str(Path(sys.executable).with_name("wordembed"))]  # the console script of this environment


def _wordembed(args: list[str], env: dict[str, str]) -> tuple[float, subprocess.CompletedProcess[str]]:
    start = time.perf_counter()
    done = subprocess.run([*WORDEMBED, *args], cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    return time.perf_counter() - start, done


def _jobs(out: Path) -> dict:
    run = json.loads((out / "run.json").read_text())
    statuses: dict[str, int] = {}
    for r in run["results"]:
        statuses[r["status"]] = statuses.get(r["status"], 0) + 1
    workers = {r["worker"]["address"] for r in run["results"] if r.get("worker")}
    return {"statuses": statuses, "job_seconds_sum": sum(r["seconds"] for r in run["results"]),
            "workers_used": len(workers)}  # fmt: skip


def bench_study(sequential: bool) -> dict:
    root = Path(tempfile.mkdtemp(prefix="wordembed-bench-dist-"))
    try:
        return _bench_study(root, sequential)
    finally:
        shutil.rmtree(root, ignore_errors=True)


def _bench_study(root: Path, sequential: bool) -> dict:
    env = {**os.environ, "WORDEMBED_STORE": str(root / "store"), "WORDEMBED_OUTPUTS": str(root / "outputs")}
    prep_s, prep = _wordembed(["run", "--study", "quick", "--notebooks", "01_embed", "--no-html",
                               "--out", str(root / "prepare")], env)  # fmt: skip
    if prep.returncode != 0:
        return {"error": "preparing the warm store failed: " + (prep.stdout + prep.stderr)[-2000:]}
    result: dict = {"store": "warm (01_embed run once into a temporary store; every measured run --force)",
                    "prepare_seconds": prep_s, "runs": {}}  # fmt: skip
    plans = [("workers_1", ["--workers", "1"]), ("workers_2", ["--workers", "2"])]
    if sequential:
        plans.append(("sequential", []))
    for name, extra in plans:
        out = root / name
        seconds, done = _wordembed(["run", "--study", "quick", "--force", "--no-html", "--out", str(out), *extra], env)
        entry = {"wall_seconds": seconds, "exit_code": done.returncode, "summary": done.stdout.strip().splitlines()[-1:]}
        if (out / "run.json").is_file():
            entry.update(_jobs(out))
        if done.returncode != 0:
            entry["error"] = (done.stdout + done.stderr)[-2000:]
        result["runs"][name] = entry
    one, two = result["runs"]["workers_1"]["wall_seconds"], result["runs"]["workers_2"]["wall_seconds"]
    result["ratio"] = one / two
    result["ratio_meaning"] = "1-worker wall time / 2-worker wall time (> 1: two workers are faster)"
    return result


def bench_allpairs(words: int, dims: int, repeat: int) -> dict:
    import distributed

    spec = importlib.util.spec_from_file_location("bench_allpairs", ROOT / "benchmarks" / "allpairs.py")
    bench_allpairs_module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench_allpairs_module)
    make_vectors = bench_allpairs_module.make_vectors

    from wordembed.analyses import allpairs
    from wordembed.distributed.cluster import ClusterOptions, local_cluster

    x = make_vectors(words, dims)
    cores = allpairs.default_threads()
    allpairs.all_pairs_distribution(np.eye(4, dtype=np.float32))  # load the kernels before timing
    start = time.perf_counter()
    with local_cluster(ClusterOptions(workers=cores)) as cluster, distributed.Client(cluster) as client:
        client.wait_for_workers(cores)
        startup = time.perf_counter() - start
        warm = make_vectors(3000, dims, seed=2)
        allpairs.all_pairs_distribution(warm, engine="dask", client=client, block_rows=512, block_cols=1024)
        local_t, dask_t, local_cpu, dask_cpu = [], [], [], []
        local = on_dask = None

        def cpu() -> float:  # this process's CPU seconds plus the workers'
            return time.process_time() + sum(client.run(time.process_time).values())

        for _ in range(repeat):  # interleaved, so a burst of load from other jobs hits both alike
            c, t = time.process_time(), time.perf_counter()
            local = allpairs.all_pairs_distribution(x)
            local_t.append(time.perf_counter() - t)
            local_cpu.append(time.process_time() - c)
            c = cpu()
            t = time.perf_counter()
            on_dask = allpairs.all_pairs_distribution(x, engine="dask", client=client)
            dask_t.append(time.perf_counter() - t)
            dask_cpu.append(cpu() - c)
    assert local is not None and on_dask is not None
    pairs = local.n_pairs
    return {
        "words": words,
        "dims": dims,
        "pairs": pairs,
        "workers": cores,
        "threads_per_worker": 1,
        "local_threads": cores,
        "cluster_startup_seconds": startup,
        "tasks": on_dask.options["tasks"],
        "local_seconds": min(local_t),
        "dask_seconds": min(dask_t),
        "local_runs_seconds": local_t,
        "dask_runs_seconds": dask_t,
        "local_cpu_seconds": min(local_cpu),
        "dask_cpu_seconds": min(dask_cpu),
        "cpu_ratio": min(local_cpu) / min(dask_cpu),
        "local_pairs_per_s": pairs / min(local_t),
        "dask_pairs_per_s": pairs / min(dask_t),
        "ratio": min(local_t) / min(dask_t),
        "ratio_goal": 0.8,
        "goal_met": min(local_t) / min(dask_t) >= 0.8,
        "counts_identical": bool(np.array_equal(local.counts, on_dask.counts)),
        "mean_identical": local.mean == on_dask.mean,
        "std_identical": local.std == on_dask.std,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--words", type=int, default=20000)
    ap.add_argument("--dims", type=int, default=384)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--skip-study", action="store_true")
    ap.add_argument("--skip-allpairs", action="store_true")
    ap.add_argument("--sequential", action="store_true", help="also time the sequential runner")
    ap.add_argument("--out", default=None, help="also write the JSON here")
    args = ap.parse_args()
    result: dict = {
        "benchmark": "distributed",
        "machine": {
            "cpus": os.cpu_count(),
            "processor": platform.processor() or platform.machine(),
            "load_avg_1min_at_start": os.getloadavg()[0],
        },
    }
    if not args.skip_allpairs:
        result["allpairs"] = bench_allpairs(args.words, args.dims, args.repeat)
        result["machine"]["load_avg_1min_after_allpairs"] = os.getloadavg()[0]
    if not args.skip_study:
        result["study"] = bench_study(args.sequential)
    result["machine"]["load_avg_1min_at_end"] = os.getloadavg()[0]
    text = json.dumps(result, indent=2)
    print(text)
    if args.out:
        Path(args.out).write_text(text + "\n")


if __name__ == "__main__":
    main()
