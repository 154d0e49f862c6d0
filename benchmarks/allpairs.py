"""Benchmark of analysis 1 (all-pairs cosine histogram); prints one JSON object.

Measures, in one run on this machine:
- ``blocks``: pairs/s of the full pipeline (products + exact binning + float64 moments) against the bare BLAS
  products over the very same blocks (goal: ratio >= 0.6, i.e. bound by the products);
- ``naive``: the full-matrix ``sklearn.metrics.pairwise.cosine_similarity`` + ``numpy.histogram`` of its
  strict upper triangle on 20,000 words: identical counts required, and the speed-up;
- ``full``: the 77,503 x 384 run in a fresh process: wall time (goal <= 40 s) and peak resident memory beyond
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
import time

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
    """The pipeline is timed from raw vectors (its normalisation included); BLAS from normalised ones."""
    from wordembed.analyses.allpairs import all_pairs_distribution, normalize_rows, upper_blocks

    xn = normalize_rows(x)

    n = xn.shape[0]
    pairs = n * (n - 1) // 2
    blocks = upper_blocks(n, block_rows, block_cols)
    buffers: dict = {}

    def bare() -> None:
        for r0, r1, c0, c1 in blocks:
            shape = (r1 - r0, c1 - c0)
            out = buffers.get(shape)
            if out is None:
                out = buffers[shape] = np.empty(shape, dtype=np.float32)
            np.matmul(xn[r0:r1], xn[c0:c1].T, out=out)

    bare_t, pipe_t = [], []
    for _ in range(repeat):  # interleaved, so a burst of load from other jobs hits both alike
        t = time.perf_counter()
        bare()
        bare_t.append(time.perf_counter() - t)
        t = time.perf_counter()
        dist = all_pairs_distribution(x, block_rows=block_rows, block_cols=block_cols)
        pipe_t.append(time.perf_counter() - t)
    bare_s, pipe_s = min(bare_t), min(pipe_t)
    return {
        "words": n,
        "pairs": pairs,
        "block_rows": block_rows,
        "block_cols": block_cols,
        "blas_seconds": bare_s,
        "pipeline_seconds": pipe_s,
        "blas_pairs_per_s": pairs / bare_s,
        "pipeline_pairs_per_s": pairs / pipe_s,
        "ratio": bare_s / pipe_s,
        "ratio_goal": 0.6,
        "_dist": dist,
    }


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
    out["seconds_goal"] = 40
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
    args = ap.parse_args()

    from wordembed.analyses import allpairs

    br = args.block_rows or allpairs.DEFAULT_BLOCK_ROWS
    bc = args.block_cols or allpairs.DEFAULT_BLOCK_COLS
    allpairs.all_pairs_distribution(np.eye(4, dtype=np.float32))  # compile / load kernels before timing
    x = make_vectors(args.words, args.dims, vectors=args.vectors)
    blocks = bench_blocks(x, br, bc, repeat=args.repeat)
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
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
