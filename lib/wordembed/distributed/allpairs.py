"""``all_pairs_distribution(..., engine="dask")``: the upper triangle's blocks as tasks on a Dask cluster.

The unit rows are scattered once to every worker (``client.scatter(..., broadcast=True)``), so a task carries
only its block's corners. Each task is :func:`wordembed.analyses.allpairs.block_counts` of one block of
:func:`~wordembed.analyses.allpairs.upper_blocks`: its histogram counts (int64) and its [sum, sum of squares]
from zero (float64). The client adds the counts as they arrive (integers: any order gives the same) and the
sums in block order (:func:`~wordembed.analyses.allpairs.reduce_block_sums`), as the local engine does, so
counts, mean and std are the local engine's bit for bit on the same block sizes.

Devices: ``device=None`` is numpy's BLAS on every worker; a torch device runs the torch path there, asking
for ``resources={"GPU": 1}`` when it is CUDA and the workers declare GPUs; ``"auto"`` chooses per worker, as
the notebooks do (CUDA where torch sees a GPU, numpy elsewhere; the counts are equal either way, the last bits
of the sums may differ between a GPU's blocks and a CPU's).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from wordembed.errors import ParameterError


class AlignedRows:
    """The unit rows as scattered to the workers: unpickled once per worker into an aligned array.

    A deserialised array can start at any byte of its message (here: 31 bytes past a 64-byte boundary), and
    numpy multiplies unaligned arrays with its own loops, not BLAS: other rounding, ten times slower.
    """

    def __init__(self, array: np.ndarray) -> None:
        self.array = array

    def __getstate__(self) -> dict[str, Any]:
        return {"array": self.array}

    def __setstate__(self, state: dict[str, Any]) -> None:
        array = state["array"]
        self.array = array if array.flags.aligned else np.array(array, copy=True)


def _task(rows: AlignedRows, edges: np.ndarray, index: int, block: tuple[int, int, int, int], device: str | None
          ) -> tuple[int, np.ndarray, np.ndarray, str]:  # fmt: skip
    """One block on a worker (``device="auto"`` resolved there); returns the worker's address too."""
    from distributed import get_worker

    from wordembed.analyses.allpairs import block_counts

    if device == "auto":
        from wordembed.models.registry import resolve_device

        device = "cuda" if resolve_device("auto") == "cuda" else None
    counts, sums = block_counts(rows.array, edges, block, device=device)
    return index, counts, sums, get_worker().address


def _client(client: Any) -> Any:
    from wordembed.distributed.cluster import require_distributed

    distributed = require_distributed()
    if client is not None:
        return client
    try:
        return distributed.get_client()
    except ValueError:
        raise ParameterError(
            "engine='dask' needs a Dask client: pass client=, or create one first (distributed.Client(...))"
        ) from None


def counts(
    xn: np.ndarray,
    edges: np.ndarray,
    block_rows: int,
    block_cols: int,
    *,
    device: str | None = None,
    client: Any = None,
    progress: bool = False,
) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    """Counts and [sum, sum of squares] of every pair i < j of the unit rows ``xn``, block by block on the
    cluster of ``client`` (default: the current client); plus what ran where (tasks, workers)."""
    client = _client(client)  # first: without the extra, one line naming it
    from distributed import as_completed

    from wordembed.analyses.allpairs import _pairs_in_block, _progress, reduce_block_sums, upper_blocks
    from wordembed.distributed.cluster import gpu_workers

    n = xn.shape[0]
    blocks = upper_blocks(n, block_rows, block_cols)
    gpu = device is not None and str(device).startswith("cuda") and bool(gpu_workers(client))
    resources = {"GPU": 1} if gpu else None
    shared = client.scatter(AlignedRows(np.ascontiguousarray(xn)), broadcast=True, hash=False)
    total = np.zeros(edges.size - 1, dtype=np.int64)
    block_sums = np.zeros((len(blocks), 2), dtype=np.float64)
    futures = [
        client.submit(_task, shared, edges, k, block, device, pure=False, resources=resources)
        for k, block in enumerate(blocks)
    ]
    workers: set[str] = set()
    try:
        with _progress(n * (n - 1) // 2, progress) as bar:
            for future in as_completed(futures):
                k, c, s, worker = future.result()
                total += c
                block_sums[k] = s
                workers.add(worker)
                bar.update(_pairs_in_block(*blocks[k]))
    finally:
        client.cancel([*futures, shared])
    sums = np.zeros(2, dtype=np.float64)
    reduce_block_sums(block_sums, sums)
    return total, sums, {"tasks": len(blocks), "workers": len(workers)}
