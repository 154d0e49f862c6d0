"""Benchmark of analysis 1 (all-pairs cosine histogram); prints one JSON object.

Measures, in one run on this machine:
- ``blocks``: pairs/s of the full pipeline (products + exact binning + float64 moments) against the bare BLAS
  products over the very same blocks, the faster of multithreaded BLAS and the pipeline's one-thread-per-
  worker arrangement (goal: ``ratio`` >= 0.9, i.e. the binning costs at most a tenth of the products), and
  the pipeline's GFLOP/s against the machine's own sgemm rate on a square 2048 product
  (``ratio_to_sgemm_peak``; ``useful_share``: the computed entries that are pairs i < j); ``cpu_time``: the
  same comparisons in one thread's CPU time on a sample of the blocks, and against one core's sgemm peak
  (steady when other jobs share the cores, where the wall-clock ratios swing either way);
- ``naive``: the full-matrix ``sklearn.metrics.pairwise.cosine_similarity`` + ``numpy.histogram`` of its
  strict upper triangle on 20,000 words: identical counts required, and the speed-up;
- ``full``: the 77,503 x 384 run in a fresh process: wall time (goal <= 22 s) and peak resident memory beyond
  the embeddings (VmHWM, reset once the embeddings are made, minus the resident size then; tracemalloc's peak
  of numpy allocations too; goal < 2 GB).

Vectors: ``--vectors FILE`` (word2vec/GloVe file, e.g. real MiniLM vectors exported from the store), else
random Gaussian with a mean offset that mimics the anisotropy of real models (mean cosine ~0.3).
Timings are noisy when other jobs share the machine's cores: compare ratios, not absolute times.

    python benchmarks/allpairs.py [--words 20000] [--full-words 77503] [--dims 384] [--skip-full]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np


def make_vectors(n: int, d: int, seed: int = 0, vectors: str | None = None) -> np.ndarray:
    if vectors:
        from wordembed.vectorfile import read_vectors

        x = np.asarray(read_vectors(vectors).vectors, dtype=np.float32)
        if x.shape[0] < n:
            raise SystemExit(f"{vectors}: {x.shape[0]} vectors, fewer than the {n} asked for")
        return np.ascontiguousarray(x[:n])
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, d), dtype=np.float32)
    x += np.float32(0.65)  # a shared offset: mean cosine ~0.3, like an anisotropic encoder
    return x


def bench_blocks(x: np.ndarray, block_rows: int, block_cols: int, repeat: int = 1) -> dict:
    """The pipeline against the bare products of the very same blocks, interleaved ``repeat`` times.

    The pipeline is timed from raw vectors (its normalisation included); BLAS from normalised ones, in the
    two arrangements a product-only pass could take: multithreaded BLAS over the blocks one by one
    (``blas_multithreaded_seconds``), and the pipeline's own (one worker per core, each taking the next
    block with one BLAS thread: ``blas_workers_seconds``). The peer is the faster of the two, so the
    ratio is not flattered by a BLAS arrangement that suffers more from load than the pipeline's.
    """
    from threadpoolctl import threadpool_limits

    from wordembed.analyses.allpairs import (
        all_pairs_distribution,
        default_threads,
        normalize_rows,
        upper_blocks,
    )

    xn = normalize_rows(x)

    n, d = xn.shape
    pairs = n * (n - 1) // 2
    blocks = upper_blocks(n, block_rows, block_cols)
    computed = sum((r1 - r0) * (c1 - c0) for r0, r1, c0, c1 in blocks)  # entries the products make
    buffers: dict = {}

    def bare() -> None:
        for r0, r1, c0, c1 in blocks:
            shape = (r1 - r0, c1 - c0)
            out = buffers.get(shape)
            if out is None:
                out = buffers[shape] = np.empty(shape, dtype=np.float32)
            np.matmul(xn[r0:r1], xn[c0:c1].T, out=out)

    workers = default_threads()

    def bare_workers() -> None:
        todo = iter(blocks)
        lock = threading.Lock()

        def work() -> None:
            flat = np.empty(min(block_rows, n) * min(block_cols, n), dtype=np.float32)
            while True:
                with lock:
                    block = next(todo, None)
                if block is None:
                    return
                r0, r1, c0, c1 = block
                np.matmul(xn[r0:r1], xn[c0:c1].T, out=flat[: (r1 - r0) * (c1 - c0)].reshape(r1 - r0, c1 - c0))

        with threadpool_limits(limits=1, user_api="blas"), ThreadPoolExecutor(workers) as pool:
            list(pool.map(lambda _: work(), range(workers)))

    bare_t, worker_t, pipe_t = [], [], []
    for _ in range(repeat):  # interleaved, so a burst of load from other jobs hits all alike
        t = time.perf_counter()
        bare()
        bare_t.append(time.perf_counter() - t)
        t = time.perf_counter()
        bare_workers()
        worker_t.append(time.perf_counter() - t)
        t = time.perf_counter()
        dist = all_pairs_distribution(x, block_rows=block_rows, block_cols=block_cols)
        pipe_t.append(time.perf_counter() - t)
    blas_s = min(min(bare_t), min(worker_t))
    pipe_s = min(pipe_t)
    peak = sgemm_peak()
    pipe_gflops = 2 * d * computed / pipe_s / 1e9
    return {
        "words": n,
        "dims": d,
        "pairs": pairs,
        "block_rows": block_rows,
        "block_cols": block_cols,
        "workers": workers,
        "blas_multithreaded_seconds": min(bare_t),
        "blas_workers_seconds": min(worker_t),
        "blas_seconds": blas_s,
        "pipeline_seconds": pipe_s,
        "pipeline_runs_seconds": pipe_t,
        "blas_pairs_per_s": pairs / blas_s,
        "pipeline_pairs_per_s": pairs / pipe_s,
        "ratio": blas_s / pipe_s,
        "ratio_goal": 0.9,
        "goal_met": blas_s / pipe_s >= 0.9,
        "sgemm_peak": peak,
        "blocks_blas_gflops": 2 * d * computed / blas_s / 1e9,
        "pipeline_gflops": pipe_gflops,
        "ratio_to_sgemm_peak": pipe_gflops / peak["all_cores_wall_gflops"],
        "useful_share": pairs / computed,  # the products' entries that are pairs i < j (diagonal blocks)
        "_dist": dist,
    }


def bench_cpu_time(x: np.ndarray, block_rows: int, block_cols: int, sample: int = 8, repeat: int = 3) -> dict:
    """The same comparison in CPU time of one thread, on a spread of the blocks (the first, diagonal, one
    included): ``sgemm`` alone against ``sgemm`` + the pipeline's binning of that block, each the fastest of
    ``repeat``. CPU time leaves out the time other jobs hold the core, so on a shared machine this ratio is
    the steadier measure of what the binning adds to the products (cache effects of sharing aside)."""
    from threadpoolctl import threadpool_limits

    from wordembed.analyses.allpairs import bin_block, histogram_edges, normalize_rows, upper_blocks

    xn = normalize_rows(x)
    blocks = upper_blocks(xn.shape[0], block_rows, block_cols)
    picked = [blocks[i] for i in np.unique(np.linspace(0, len(blocks) - 1, sample).astype(int))]
    edges = histogram_edges()
    counts, sums = np.zeros(edges.size - 1, np.int64), np.zeros(2)
    mm = np.full(len(picked), np.inf)
    both = np.full(len(picked), np.inf)
    with threadpool_limits(limits=1, user_api="blas"):
        for _ in range(repeat):
            for k, (r0, r1, c0, c1) in enumerate(picked):
                out = np.empty((r1 - r0, c1 - c0), np.float32)
                t = time.thread_time()
                np.matmul(xn[r0:r1], xn[c0:c1].T, out=out)
                mm[k] = min(mm[k], time.thread_time() - t)
                t = time.thread_time()
                np.matmul(xn[r0:r1], xn[c0:c1].T, out=out)
                bin_block(out, edges, counts, sums, offset=c0 - r0, threads=1)
                both[k] = min(both[k], time.thread_time() - t)
    flops = sum(2 * xn.shape[1] * (r1 - r0) * (c1 - c0) for r0, r1, c0, c1 in picked)
    peak = sgemm_peak()["one_core_cpu_gflops"]
    return {
        "blocks_sampled": len(picked),
        "sgemm_cpu_seconds": float(mm.sum()),
        "pipeline_cpu_seconds": float(both.sum()),
        "ratio": float(mm.sum() / both.sum()),
        "binning_share_of_sgemm": float((both.sum() - mm.sum()) / mm.sum()),
        "sgemm_gflops_one_core": float(flops / mm.sum() / 1e9),
        "pipeline_gflops_one_core": float(flops / both.sum() / 1e9),
        "sgemm_peak_one_core_gflops": peak,  # square 2048 product
        "ratio_to_sgemm_peak": float(flops / both.sum() / 1e9 / peak),
    }


def sgemm_peak(size: int = 2048, repeat: int = 3) -> dict:
    """The machine's sgemm rate (GFLOP/s, numpy's BLAS) on a square float32 product: all cores by the wall
    clock, and one core by its CPU time (steady under other jobs' load; x cores is the machine's peak)."""
    from threadpoolctl import threadpool_limits

    rng = np.random.default_rng(0)
    a = rng.standard_normal((size, size), dtype=np.float32)
    b = rng.standard_normal((size, size), dtype=np.float32)
    out = np.empty((size, size), dtype=np.float32)
    np.matmul(a, b, out=out)
    wall = cpu = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        np.matmul(a, b, out=out)
        wall = min(wall, time.perf_counter() - t)
    with threadpool_limits(limits=1, user_api="blas"):
        for _ in range(repeat):
            t = time.thread_time()
            np.matmul(a, b, out=out)
            cpu = min(cpu, time.thread_time() - t)
    flops = 2 * size**3
    return {"all_cores_wall_gflops": flops / wall / 1e9, "one_core_cpu_gflops": flops / cpu / 1e9}


def bench_naive(x: np.ndarray, dist) -> dict:
    from sklearn.metrics.pairwise import cosine_similarity

    n = x.shape[0]
    t = time.perf_counter()
    full = cosine_similarity(x)
    upper = full[np.triu_indices(n, 1)]
    np.clip(upper, -1.0, 1.0, out=upper)
    counts, _ = np.histogram(upper, bins=dist.counts.size, range=(-1.0, 1.0))
    naive_s = time.perf_counter() - t
    mean64 = float(upper.astype(np.float64).mean())
    std64 = float(upper.astype(np.float64).std())
    del full, upper
    diff = np.flatnonzero(counts != dist.counts)
    return {
        "naive_seconds": naive_s,
        "counts_identical": bool(diff.size == 0),
        "bins_differing": int(diff.size),
        "mean_abs_diff": abs(mean64 - dist.mean),
        "std_abs_diff": abs(std64 - dist.std),
    }


FULL_CHILD = r"""
import json, sys, time, tracemalloc
import numpy as np
sys.path.insert(0, {bench_dir!r})
from allpairs import make_vectors
from wordembed.analyses.allpairs import all_pairs_distribution
all_pairs_distribution(np.ones((3, 2), np.float32) + np.eye(3, 2, dtype=np.float32), device={device!r})  # warm up
x = make_vectors({n}, {d}, seed=1, vectors={vectors!r})
def status_kib(field):
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith(field + ":"))
try:  # reset the high-water mark (VmHWM), so the peak is this run's (ru_maxrss keeps the parent's at exec)
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")
except OSError:
    pass
base = status_kib("VmRSS")  # resident now, embeddings included
tracemalloc.start()
t = time.perf_counter()
dist = all_pairs_distribution(x, block_rows={br}, block_cols={bc}, device={device!r})
seconds = time.perf_counter() - t
_, traced_peak = tracemalloc.get_traced_memory()
peak = status_kib("VmHWM")
print(json.dumps({{"device": {device!r} or "numpy", "words": {n}, "dims": {d}, "pairs": dist.n_pairs, "seconds": seconds,
    "pairs_per_s": dist.n_pairs / seconds, "embeddings_bytes": x.nbytes,
    "peak_rss_delta_bytes": (peak - base) * 1024, "tracemalloc_peak_bytes": traced_peak,
    "mean": dist.mean, "std": dist.std, "median": dist.quantile(0.5)}}))
"""


def bench_full(
    n: int, d: int, br: int | None, bc: int | None, vectors: str | None, device: str | None
) -> dict:
    code = FULL_CHILD.format(
        bench_dir=os.path.dirname(os.path.abspath(__file__)),
        n=n,
        d=d,
        br=br,
        bc=bc,
        vectors=vectors,
        device=device,
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        return {"error": done.stderr[-2000:]}
    out = json.loads(done.stdout.strip().splitlines()[-1])
    out["seconds_goal"] = 22
    out["peak_goal_bytes"] = 2 * 1024**3
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--words", type=int, default=20000)
    ap.add_argument("--full-words", type=int, default=77503)
    ap.add_argument("--dims", type=int, default=384)
    ap.add_argument("--block-rows", type=int, default=None)
    ap.add_argument("--block-cols", type=int, default=None)
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--vectors", default=None)
    ap.add_argument("--skip-full", action="store_true")
    ap.add_argument("--device", default=None, help="torch device for the full run (e.g. cuda); default numpy")
    ap.add_argument("--out", default=None, help="also write the JSON here")
    args = ap.parse_args()

    from wordembed.analyses import allpairs

    br = args.block_rows or allpairs.DEFAULT_BLOCK_ROWS
    bc = args.block_cols or allpairs.DEFAULT_BLOCK_COLS
    allpairs.all_pairs_distribution(np.eye(4, dtype=np.float32))  # compile / load kernels before timing
    x = make_vectors(args.words, args.dims, vectors=args.vectors)
    blocks = bench_blocks(x, br, bc, repeat=args.repeat)
    blocks["cpu_time"] = bench_cpu_time(x, br, bc)
    dist = blocks.pop("_dist")
    naive = bench_naive(x, dist)
    naive["pipeline_seconds"] = blocks["pipeline_seconds"]
    naive["speedup"] = naive["naive_seconds"] / blocks["pipeline_seconds"]
    result = {
        "benchmark": "allpairs",
        "machine": {
            "cpus": os.cpu_count(),
            "processor": platform.processor() or platform.machine(),
            "numba": allpairs._numba is not None,
            "load_avg_1min_at_start": os.getloadavg()[0],
        },
        "vectors": args.vectors or "random gaussian + mean offset",
        "blocks": blocks,
        "naive": naive,
    }
    if not args.skip_full:
        full_br, full_bc = (args.block_rows, args.block_cols) if args.device else (br, bc)
        result["full"] = bench_full(args.full_words, args.dims, full_br, full_bc, args.vectors, args.device)
    result["machine"]["load_avg_1min_at_end"] = os.getloadavg()[0]
    result["machine"]["maxrss_parent_bytes"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    text = json.dumps(result, indent=2)
    print(text)
    if args.out:
        with open(args.out, "w") as f:
            f.write(text + "\n")


if __name__ == "__main__":
    main()
