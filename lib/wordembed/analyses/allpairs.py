"""Analysis 1: the distribution of the cosine similarity of every pair of distinct words of a vocabulary.

77,503 WordNet words make 3.0e9 unordered pairs; the full matrix would need 24 GB, so the cosines are made
block by block (upper-triangle blocks only; a diagonal block contributes its strict upper triangle) and each
block is binned at once into a fine histogram. Mean and standard deviation are accumulated in float64 over
every cosine, so they are exact, not read from the histogram; quantiles are read from the histogram and are
exact to within one bin (0.001 wide by default).

Why the counts are trustworthy: every cosine is binned with numpy's own convention (bins ``[e_k, e_k+1)``, the
last one closed, edges from ``numpy.histogram_bin_edges`` in float32), by an estimate of the bin index that is
either provably right (farther from an edge than its rounding error; see ``_bin_rows_numba``) or corrected
against the edges themselves. The counts therefore equal ``numpy.histogram`` of the same float32 cosines, ties
on edges included. The rows are normalised by ``sklearn.preprocessing.normalize`` and the
products are numpy's BLAS, so the cosines are bit-identical to ``sklearn.metrics.pairwise.cosine_similarity``
of the same vectors (checked by ``benchmarks/allpairs.py``).

Speed: one worker thread per core takes the next block, multiplies it (single-threaded BLAS) and bins it
(numba, if installed; numpy otherwise), so the pipeline is bound by the matrix products: at 384 dimensions
the binning costs about a tenth of them (~0.85 ns per cosine against ~7.7 ns of sgemm on this machine's
cores; ``benchmarks/allpairs.py`` measures the ratio against the bare products of the same blocks).
``device="cuda"`` runs the same algorithm in torch on a GPU (``device="cpu"`` runs the torch path on the CPU,
which is how it is tested; ``device="auto"``: CUDA where torch sees a GPU, numpy otherwise, as the notebooks
choose).

Reproducible sums: each block's sum and sum of squares start from zero, and the blocks' sums are added in the
order of :func:`upper_blocks` (:func:`reduce_block_sums`), whichever thread, process or machine made each
block. So the float64 moments do not depend on how the blocks were shared out: the same with 1 or 8 threads,
and the same on a Dask cluster (``engine="dask"``, :mod:`wordembed.distributed.allpairs`, which returns per
block what :func:`block_counts` computes), bit for bit; the counts are integers and equal in any case.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from wordembed.analyses.bootstrap import bootstrap_mean_ci
from wordembed.embeddings import Embeddings
from wordembed.errors import ParameterError
from wordembed.util import thread_pool, usable_cores

DEFAULT_BINS = 2000
DEFAULT_BLOCK_ROWS = 2048
DEFAULT_BLOCK_COLS = 8192
CUDA_BLOCK_ROWS = 8192  # a GPU wants big products: 8192 x 32768 float32 is 1 GiB (about 5 GiB in flight)
CUDA_BLOCK_COLS = 32768
DEFAULT_QUANTILES = (0.001, 0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99, 0.999)

try:  # numba is optional: a fused binning pass; the numpy fallback gives the same counts, slower
    import numba as _numba
except ImportError:  # pragma: no cover - exercised where numba is absent
    _numba = None


def histogram_edges(bins: int = DEFAULT_BINS) -> np.ndarray:
    """The float32 edges numpy uses for float32 data over [-1, 1]: ours must be the very same numbers."""
    if int(bins) < 1:
        raise ParameterError(f"bins must be a positive integer, got {bins!r}")
    return np.histogram_bin_edges(np.zeros(1, dtype=np.float32), bins=int(bins), range=(-1.0, 1.0))


def default_threads() -> int:
    """Cores this process may use (the binning runs one thread per core)."""
    return usable_cores()


# ----------------------------------------------------------------------------------------------------------
# Binning kernels: counts (int64, len bins) and sums (float64 [sum, sum of squares]) are updated in place.


def _bin_numpy(values: np.ndarray, edges: np.ndarray, counts: np.ndarray, sums: np.ndarray) -> None:
    """Exact binning of a 1-D float32 array with numpy's convention, vectorised (the fallback)."""
    nb = edges.size - 1
    v = np.clip(values, np.float32(-1.0), np.float32(1.0))
    scale = np.float32(nb) / (edges[-1] - edges[0])
    idx = ((v - edges[0]) * scale).astype(np.intp)
    np.minimum(idx, nb - 1, out=idx)
    idx -= v < edges[idx]
    idx += (v >= edges[idx + 1]) & (idx != nb - 1)
    counts += np.bincount(idx, minlength=nb)
    v64 = v.astype(np.float64)
    sums[0] += v64.sum()
    sums[1] += np.dot(v64, v64)


def _bin_block_numpy(
    block: np.ndarray, offset: int, edges: np.ndarray, counts: np.ndarray, sums: np.ndarray
) -> None:
    if offset < block.shape[0]:
        rows, cols = np.triu_indices(block.shape[0], 1 - offset, block.shape[1])
        _bin_numpy(block[rows, cols], edges, counts, sums)
    else:
        _bin_numpy(block.ravel(), edges, counts, sums)


if _numba is not None:

    @_numba.njit(fastmath={"reassoc", "contract"}, cache=True, boundscheck=False, nogil=True)
    def _exact_bin(v, edges, nb):  # pragma: no cover - compiled
        """numpy's bin of ``v`` (clipped): an estimate, then moved until ``edges[i] <= v < edges[i + 1]``."""
        i = min(max(np.int32((v - edges[0]) * (np.float32(nb) / (edges[nb] - edges[0]))), 0), nb - 1)
        while i > 0 and v < edges[i]:
            i -= 1
        while i < nb - 1 and v >= edges[i + 1]:
            i += 1
        return i

    @_numba.njit(fastmath={"reassoc", "contract"}, cache=True, boundscheck=False, nogil=True)
    def _bin_rows_numba(block, offset, edges, counts, sums, start, step):  # pragma: no cover - compiled
        """Rows start, start+step, ... of a block; releases the GIL, so one thread per core runs it.

        Per row, three passes over its entries i < j (a slice from 0: with a variable start LLVM did not
        vectorise the first pass, which then ran 10x slower).

        1. SIMD: clip, the float64 moments, and the bin index ``floor(t)``, ``t = (v + 1) * nb / 2`` in
           float32, unless ``t`` is within ``margin`` of an integer. ``t`` is off by at most
           nb 2^-25 (``v + 1`` rounded) + nb 2^-24 (the product rounded; an FMA rounds once), and the
           float32 edges lie within half a float32 ulp of the uniform grid (nb 2^-26 in index units): in
           all 1.75 nb 2^-24, so beyond ``margin`` = twice that the bin is certain. Entries nearer an
           edge (0.08 % at 2000 bins) are marked ``nb``.
        2. One counter per bin, int32 in L1 (a single histogram beat four interleaved ones here).
        3. Only in chunks holding a mark: numpy's own comparisons against the edges bin the marked
           entries (``_exact_bin``).

        So the counts are ``numpy.histogram``'s of the float32 cosines, ties on edges included, at 3.3x
        the speed of correcting every entry against the edges (at 384 dimensions that binning cost 0.41 of
        the products' CPU time, this one 0.08-0.12): the scatter of pass 2, ~1.5 cycles per entry, is
        now most of what is left.
        """
        nb = edges.size - 1
        nrows, ncols = block.shape
        hist = np.zeros(nb + 1, np.int32)  # the last counter collects the marks (reset per row)
        total = np.zeros(nb, np.int64)
        buf = np.empty(ncols, np.int32)
        first = edges[0]
        scale = np.float32(nb) / (edges[nb] - edges[0])
        lo = np.float32(3.5 * nb * 2.0**-24)
        hi = np.float32(1.0) - lo
        one = np.float32(1.0)
        a1 = 0.0
        a2 = 0.0
        pending = 0
        for r in range(start, nrows, step):
            seg = block[r, max(0, r + 1 - offset) :]
            m = seg.size
            for k in range(m):
                v = min(max(seg[k], -one), one)
                vd = np.float64(v)
                a1 += vd
                a2 += vd * vd
                t = (v - first) * scale
                fl = np.floor(t)
                f = t - fl
                buf[k] = np.int32(fl) if (f > lo) & (f < hi) else nb
            for k in range(m):
                hist[buf[k]] += 1
            if hist[nb]:
                for c in range(0, m, 128):
                    marks = buf[c : min(c + 128, m)]
                    top = np.int32(0)
                    for k in range(marks.size):
                        top = max(top, marks[k])
                    if top == nb:
                        vals = seg[c : min(c + 128, m)]
                        for k in range(marks.size):
                            if marks[k] == nb:
                                hist[_exact_bin(min(max(vals[k], -one), one), edges, nb)] += 1
                hist[nb] = 0
            pending += m
            if pending > (1 << 30):  # int32 counters: flush long before they could overflow
                for i in range(nb):
                    total[i] += hist[i]
                    hist[i] = 0
                pending = 0
        for i in range(nb):
            counts[i] += total[i] + hist[i]
        sums[0] += a1
        sums[1] += a2


# entries per row when one long row is binned (the kernel flushes its int32 counters between rows)
_ROW = 1 << 16
_SERIAL_BELOW = 1 << 18  # smaller blocks: starting threads costs more than it saves


def _bin_block_threads(block, offset, edges, counts, sums, threads: int) -> None:
    """Rows interleaved over threads (balancing a diagonal block's triangle), each with its own counts."""
    if threads <= 1 or block.size < _SERIAL_BELOW:
        _bin_rows_numba(block, offset, edges, counts, sums, 0, 1)
        return
    parts = [(np.zeros_like(counts), np.zeros(2)) for _ in range(threads)]
    futures = [
        thread_pool("bin", threads).submit(_bin_rows_numba, block, offset, edges, c, s, t, threads)
        for t, (c, s) in enumerate(parts)
    ]
    for f in futures:
        f.result()
    for c, s in parts:
        counts += c
        sums += s


def bin_block(
    block: np.ndarray,
    edges: np.ndarray,
    counts: np.ndarray,
    sums: np.ndarray,
    *,
    offset: int | None = None,
    engine: str = "auto",
    threads: int | None = None,
) -> None:
    """Add a block of float32 cosines to ``counts`` (per bin) and ``sums`` (sum, sum of squares; float64).

    ``offset=None`` takes every entry. Otherwise the block is ``X[r0:r1] @ X[c0:c1].T`` with
    ``offset = c0 - r0`` and only global pairs i < j are taken: entry (r, c) when ``c + offset > r``.
    ``engine``: "numba", "numpy" or "auto" (numba when installed). Both give identical counts.
    ``threads``: binning threads for the numba engine (default: the cores this process may use).
    """
    block = np.ascontiguousarray(block, dtype=np.float32)
    if block.ndim == 1:
        block = block[None, :]
        offset = None
    off = block.shape[0] if offset is None else int(offset)
    if engine == "auto":
        engine = "numba" if _numba is not None else "numpy"
    if engine == "numba":
        if _numba is None:
            raise ParameterError("engine='numba' needs the numba package (pip install numba)")
        if offset is None and block.shape[1] > _ROW:  # one long row (sampled pairs): rows of _ROW entries
            flat = block.ravel()  # so the threads share it and a row's int32 counters cannot overflow
            whole = flat.size // _ROW * _ROW
            _bin_block_threads(
                flat[:whole].reshape(-1, _ROW),
                whole // _ROW,
                edges,
                counts,
                sums,
                threads or default_threads(),
            )
            block, off = flat[whole:][None, :], 1
        _bin_block_threads(block, off, edges, counts, sums, threads or default_threads())
    elif engine == "numpy":
        _bin_block_numpy(block, off, edges, counts, sums)
    else:
        raise ParameterError(f"engine must be 'auto', 'numba' or 'numpy', got {engine!r}")


# ----------------------------------------------------------------------------------------------------------
# Result


@dataclass
class SimilarityDistribution:
    """A histogram of cosines plus exact moments; ``exact`` says whether it covers every pair or a sample."""

    edges: np.ndarray
    counts: np.ndarray
    n_pairs: int
    mean: float
    std: float
    exact: bool
    n_words: int
    model: str = ""
    mean_ci: tuple[float, float] | None = None
    seconds: float = float("nan")
    options: dict[str, Any] = field(default_factory=dict)

    def quantile(self, q: float | Sequence[float]) -> np.ndarray | float:
        """Quantiles read from the histogram: linear within a bin, so off by at most one bin width."""
        qs = np.atleast_1d(np.asarray(q, dtype=np.float64))
        if np.any((qs < 0) | (qs > 1)):
            raise ParameterError(f"quantiles must be in [0, 1], got {q!r}")
        cum = np.concatenate([[0.0], np.cumsum(self.counts, dtype=np.float64)])
        total = cum[-1]
        if total == 0:
            out = np.full(qs.shape, np.nan)
        else:
            edges = self.edges.astype(np.float64)
            target = qs * total
            k = np.clip(np.searchsorted(cum, target, side="left") - 1, 0, self.counts.size - 1)
            inbin = self.counts[k].astype(np.float64)
            frac = np.divide(target - cum[k], inbin, out=np.zeros_like(target), where=inbin > 0)
            out = edges[k] + np.clip(frac, 0.0, 1.0) * (edges[k + 1] - edges[k])
        return float(out[0]) if np.ndim(q) == 0 else out

    def to_frame(self) -> pd.DataFrame:
        """One row per bin: edges, count and density (so the areas sum to 1)."""
        width = np.diff(self.edges.astype(np.float64))
        total = max(int(self.counts.sum()), 1)
        return pd.DataFrame(
            {
                "bin_left": self.edges[:-1].astype(np.float64),
                "bin_right": self.edges[1:].astype(np.float64),
                "count": self.counts.astype(np.int64),
                "density": self.counts / total / width,
            }
        )

    def to_dict(self, quantiles: Sequence[float] = DEFAULT_QUANTILES) -> dict[str, Any]:
        qv = np.atleast_1d(self.quantile(list(quantiles)))
        out: dict[str, Any] = {
            "model": self.model,
            "mode": "exact" if self.exact else "sampled",
            "n_words": self.n_words,
            "n_pairs": self.n_pairs,
            "bins": int(self.counts.size),
            "mean": self.mean,
            "std": self.std,
            "anisotropy": self.mean,
            "quantiles": {f"{q:g}": float(v) for q, v in zip(quantiles, qv, strict=True)},
            "seconds": self.seconds,
            "options": dict(self.options),
        }
        if self.mean_ci is not None:
            out["mean_ci"] = list(self.mean_ci)
        return out


# ----------------------------------------------------------------------------------------------------------
# Entry points


def _as_array(x: Embeddings | np.ndarray) -> tuple[np.ndarray, str]:
    if isinstance(x, Embeddings):
        return np.asarray(x.vectors), x.model
    return np.asarray(x), ""


def normalize_rows(x: np.ndarray) -> np.ndarray:
    """Float32 unit rows exactly as scikit-learn makes them (zero rows stay zero): same cosines as sklearn."""
    from sklearn.preprocessing import normalize

    x = np.asarray(x, dtype=np.float32)
    if x.ndim != 2:
        raise ParameterError(f"vectors must be a 2-D array (words x dims), got shape {x.shape}")
    if not np.isfinite(x).all():
        bad = int(np.flatnonzero(~np.isfinite(x).all(axis=1))[0])
        raise ParameterError(f"vectors: row {bad} has a NaN or infinite value")
    return normalize(x, copy=True)


_BUFFERS = threading.local()
_CONTROLLER: Any = None


def _block_buffer(size: int) -> np.ndarray:
    """This thread's block memory, kept between calls: a fresh 64 MB block per task cost its page faults
    again each time (a third of the products' time in a Dask worker, measured)."""
    flat = getattr(_BUFFERS, "flat", None)
    if flat is None or flat.size < size:
        flat = _BUFFERS.flat = np.empty(size, dtype=np.float32)
    return flat[:size]


def _blas_controller() -> Any:
    """One threadpoolctl controller for the process: building one looks up every loaded library each time."""
    global _CONTROLLER
    if _CONTROLLER is None:
        from threadpoolctl import ThreadpoolController

        _CONTROLLER = ThreadpoolController()
    return _CONTROLLER


def reduce_block_sums(block_sums: np.ndarray, sums: np.ndarray) -> None:
    """Add the blocks' [sum, sum of squares] rows into ``sums`` one after the other, in block order.

    Float addition is not associative: adding the rows in one fixed order (not per thread, per worker or as
    results arrive) is what makes the moments the same bit for bit however the blocks were shared out.
    """
    for row in np.asarray(block_sums, dtype=np.float64).reshape(-1, 2):
        sums += row


def block_counts(
    xn: np.ndarray,
    edges: np.ndarray,
    block: tuple[int, int, int, int],
    *,
    device: str | None = None,
    engine: str = "auto",
) -> tuple[np.ndarray, np.ndarray]:
    """Counts (int64 per bin) and [sum, sum of squares] (float64, from zero) of one upper-triangle block
    ``(r0, r1, c0, c1)`` of the unit rows ``xn``: the pairs i < j it holds, exactly as the whole-matrix
    engines count them (numpy's BLAS and one binning thread; the torch path where ``device`` names one).

    What a task of the Dask engine computes; the per-block sums are reduced by :func:`reduce_block_sums`.
    """
    r0, r1, c0, c1 = block
    nb = edges.size - 1
    counts = np.zeros(nb, dtype=np.int64)
    sums = np.zeros(2, dtype=np.float64)
    if device is not None:
        import torch

        dev = torch.device(device)
        # copies of the rows the block needs (a scattered array is read-only, and the rest stays on the host)
        a = torch.tensor(xn[r0:r1], device=dev)
        b = a if (c0, c1) == (r0, r1) else torch.tensor(xn[c0:c1], device=dev)
        _torch_exact(lambda state: _torch_block(a, b, c0 - r0, *state), edges, counts, sums, dev)
        return counts, sums
    # numpy multiplies arrays that are not aligned (an array deserialised from a message may start at any
    # byte) with its own loops instead of BLAS: other rounding, and ten times slower. Aligned copies then.
    rows, cols = (part if part.flags.aligned else part.copy() for part in (xn[r0:r1], xn[c0:c1]))
    out = _block_buffer((r1 - r0) * (c1 - c0)).reshape(r1 - r0, c1 - c0)
    with _blas_controller().limit(limits=1, user_api="blas"):  # the engines' one BLAS thread per worker
        np.matmul(rows, cols.T, out=out)
    bin_block(out, edges, counts, sums, offset=c0 - r0, engine=engine, threads=1)
    return counts, sums


def _finish(
    edges: np.ndarray, counts: np.ndarray, sums: np.ndarray, n_pairs: int, **kw: Any
) -> SimilarityDistribution:
    if int(counts.sum()) != n_pairs:  # an internal invariant, cheap to check and fatal if broken
        raise RuntimeError(f"binned {int(counts.sum())} cosines for {n_pairs} pairs")
    mean = sums[0] / n_pairs if n_pairs else float("nan")
    var = sums[1] / n_pairs - mean * mean if n_pairs else float("nan")
    return SimilarityDistribution(
        edges=edges, counts=counts, n_pairs=n_pairs, mean=float(mean), std=math.sqrt(max(var, 0.0)), **kw
    )


def all_pairs_distribution(
    vectors: Embeddings | np.ndarray,
    *,
    bins: int = DEFAULT_BINS,
    block_rows: int | None = None,
    block_cols: int | None = None,
    device: str | None = None,
    engine: str = "auto",
    threads: int | None = None,
    progress: bool = False,
    client: Any = None,
) -> SimilarityDistribution:
    """Exact histogram, mean and std of the cosine of every unordered pair i < j of rows of ``vectors``.

    ``device=None`` uses numpy's BLAS and the fused binning (``engine``); a torch device ("cuda", "cpu") runs
    the torch implementation there; "auto" is CUDA where torch sees a GPU, else numpy. Memory beyond the
    normalised copy of the vectors is one ``block_rows x block_cols`` float32 block per thread (default
    2048 x 8192, 64 MB; 8192 x 32768 on CUDA); ``threads`` workers (default: the cores this process may use)
    each multiply and bin whole blocks.

    ``engine="dask"`` makes each block a task on a Dask cluster (``client``, default: the current one; see
    :mod:`wordembed.distributed.allpairs`): the same counts and, reduced in block order, the same sums as
    here, bit for bit; ``device`` then applies on each worker ("auto": per worker).
    """
    if engine == "dask":
        return _all_pairs_dask(vectors, bins, block_rows, block_cols, device, progress, client)
    if device == "auto":
        from wordembed.models.registry import resolve_device

        device = "cuda" if resolve_device("auto") == "cuda" else None
    start = time.perf_counter()
    xn, model, edges, block_rows, block_cols = _prepare(vectors, bins, block_rows, block_cols, device)
    n = xn.shape[0]
    counts = np.zeros(edges.size - 1, dtype=np.int64)
    sums = np.zeros(2, dtype=np.float64)
    if device is not None:
        _all_pairs_torch(xn, edges, counts, sums, block_rows, block_cols, device, progress)
    else:
        _all_pairs_numpy(
            xn, edges, counts, sums, block_rows, block_cols, engine, progress, threads or default_threads()
        )
    n_pairs = n * (n - 1) // 2
    return _finish(
        edges,
        counts,
        sums,
        n_pairs,
        exact=True,
        n_words=n,
        model=model,
        seconds=time.perf_counter() - start,
        options={"device": device or "numpy", "block_rows": block_rows, "block_cols": block_cols},
    )


def _prepare(
    vectors: Embeddings | np.ndarray, bins: int, block_rows: int | None, block_cols: int | None, device: str | None
) -> tuple[np.ndarray, str, np.ndarray, int, int]:
    """What both engines start from: unit rows, the model name, the bin edges and the block sizes (the CUDA
    defaults on a GPU), with the one-line errors for too few words or a bad block size."""
    on_gpu = device is not None and str(device).startswith("cuda")
    block_rows = block_rows or (CUDA_BLOCK_ROWS if on_gpu else DEFAULT_BLOCK_ROWS)
    block_cols = block_cols or (CUDA_BLOCK_COLS if on_gpu else DEFAULT_BLOCK_COLS)
    x, model = _as_array(vectors)
    xn = normalize_rows(x)
    if xn.shape[0] < 2:
        raise ParameterError(f"need at least 2 words for pairs, got {xn.shape[0]}")
    if block_rows < 1 or block_cols < 1:
        raise ParameterError(f"block sizes must be positive, got {block_rows} x {block_cols}")
    return xn, model, histogram_edges(bins), block_rows, block_cols


def _all_pairs_dask(
    vectors: Embeddings | np.ndarray,
    bins: int,
    block_rows: int | None,
    block_cols: int | None,
    device: str | None,
    progress: bool,
    client: Any,
) -> SimilarityDistribution:
    """``engine="dask"``: the blocks as tasks on a cluster (:func:`wordembed.distributed.allpairs.counts`)."""
    from wordembed.distributed.allpairs import counts as dask_counts

    start = time.perf_counter()
    xn, model, edges, block_rows, block_cols = _prepare(vectors, bins, block_rows, block_cols, device)
    n = xn.shape[0]
    counts, sums, where = dask_counts(xn, edges, block_rows, block_cols, device=device, client=client,
                                      progress=progress)  # fmt: skip
    return _finish(
        edges,
        counts,
        sums,
        n * (n - 1) // 2,
        exact=True,
        n_words=n,
        model=model,
        seconds=time.perf_counter() - start,
        options={"device": device or "numpy", "block_rows": block_rows, "block_cols": block_cols,
                 "engine": "dask", **where},
    )  # fmt: skip


def upper_blocks(n: int, block_rows: int, block_cols: int) -> list[tuple[int, int, int, int]]:
    """(row0, row1, col0, col1) of the blocks that cover the upper triangle i < j: each pair exactly once.

    Column blocks start at the row block's first row; a block that reaches the diagonal keeps only its
    entries above it (see :func:`bin_block`'s ``offset``), whatever the two block sizes.
    """
    out = []
    for r0 in range(0, n, block_rows):
        r1 = min(n, r0 + block_rows)
        for c0 in range(r0, n, block_cols):
            out.append((r0, r1, c0, min(n, c0 + block_cols)))
    return out


def _progress(total: int, enabled: bool):
    from tqdm import tqdm  # plain text bar (no ipywidgets warning in notebooks)

    return tqdm(total=total, unit="pair", unit_scale=True, disable=not enabled, desc="all pairs")


def _all_pairs_numpy(xn, edges, counts, sums, block_rows, block_cols, engine, progress, threads) -> None:
    """Workers each take the next block, multiply it with single-threaded BLAS and bin it.

    Coarse-grained threads rather than multithreaded BLAS followed by multithreaded binning: OpenBLAS's
    threads keep spinning for a while after each product and took half the cores from the binning that
    followed (measured: binning at 350 instead of 560 Mpairs/s). One BLAS thread per worker has no such
    hand-over, and the products are the same numbers (BLAS threads split rows and columns, never the sum).
    """
    n = xn.shape[0]
    planned = upper_blocks(n, block_rows, block_cols)
    blocks = iter(enumerate(planned))
    workers = max(1, int(threads))
    parts = [np.zeros_like(counts) for _ in range(workers)]
    block_sums = np.zeros((len(planned), 2))  # per block, from zero: reduced in block order below
    lock = threading.Lock()
    with _progress(n * (n - 1) // 2, progress) as bar:

        def work(k: int) -> None:
            part_counts = parts[k]
            flat = np.empty(min(block_rows, n) * min(block_cols, n), dtype=np.float32)  # one block's memory
            while True:
                with lock:
                    item = next(blocks, None)
                if item is None:
                    return
                b, (r0, r1, c0, c1) = item
                out = flat[: (r1 - r0) * (c1 - c0)].reshape(r1 - r0, c1 - c0)
                np.matmul(xn[r0:r1], xn[c0:c1].T, out=out)
                bin_block(out, edges, part_counts, block_sums[b], offset=c0 - r0, engine=engine, threads=1)
                with lock:
                    bar.update(_pairs_in_block(r0, r1, c0, c1))

        if workers == 1:
            work(0)
        else:
            from threadpoolctl import threadpool_limits

            with threadpool_limits(limits=1, user_api="blas"), ThreadPoolExecutor(workers) as pool:
                list(pool.map(work, range(workers)))  # re-raises a worker's error
    for part_counts in parts:
        counts += part_counts
    reduce_block_sums(block_sums, sums)


def _pairs_in_block(r0: int, r1: int, c0: int, c1: int) -> int:
    """Pairs i < j in the block: row r (global r0 + r) takes columns from max(0, r0 + r + 1 - c0)."""
    first = np.maximum(0, np.arange(r0, r1) + 1 - c0)
    return int(np.maximum(0, (c1 - c0) - first).sum())


def _all_pairs_torch(xn, edges, counts, sums, block_rows, block_cols, device, progress) -> None:
    import torch

    dev = torch.device(device)
    xt = torch.from_numpy(xn).to(dev)
    n = xn.shape[0]
    _torch_exact(
        lambda state: _torch_blocks(xt, n, block_rows, block_cols, progress, *state), edges, counts, sums, dev
    )


def _torch_exact(run, edges, counts, sums, dev) -> None:
    """Set up the device-side edges and accumulators, call ``run((et, nb, scale, acc, s, dev))`` with TF32
    off, and add the accumulated counts and sums into ``counts`` and ``sums``."""
    import torch

    et = torch.from_numpy(edges).to(dev)
    nb = edges.size - 1
    scale = np.float32(nb) / (edges[-1] - edges[0])
    acc = torch.zeros(nb + 1, dtype=torch.int64, device=dev)
    s = torch.zeros(2, dtype=torch.float64, device=dev)
    tf32 = torch.backends.cuda.matmul.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = False  # TF32 products would round cosines to ~1e-3: not exact
    try:
        with torch.no_grad():
            run((et, nb, scale, acc, s, dev))
    finally:
        torch.backends.cuda.matmul.allow_tf32 = tf32
    counts += acc[:nb].cpu().numpy()
    sums += s.cpu().numpy()


def _torch_blocks(xt, n, block_rows, block_cols, progress, et, nb, scale, acc, s, dev) -> None:
    with _progress(n * (n - 1) // 2, progress) as bar:
        for r0, r1, c0, c1 in upper_blocks(n, block_rows, block_cols):
            _torch_block(xt[r0:r1], xt[c0:c1], c0 - r0, et, nb, scale, acc, s, dev)
            bar.update(_pairs_in_block(r0, r1, c0, c1))


def _torch_block(a, b, offset, et, nb, scale, acc, s, dev) -> None:
    """One block ``a @ b.T`` (rows r0.., columns c0.., ``offset = c0 - r0``): its pairs i < j into ``acc``
    (the extra last bin takes the rest) and its moments into ``s``, in float64 on the device."""
    import torch

    v = torch.clamp(a @ b.T, -1.0, 1.0)
    idx = torch_bin_index(v, et, scale)
    if offset < a.shape[0]:  # keep pairs i < j only: the rest goes to a discarded extra bin
        keep = torch.ones_like(v, dtype=torch.bool).triu_(1 - offset)
        idx.masked_fill_(~keep, nb)
        v = torch.where(keep, v, torch.zeros((), dtype=v.dtype, device=dev))
    acc += torch.bincount(idx.ravel(), minlength=nb + 1)
    v64 = v.double()
    s[0] += v64.sum()
    s[1] += (v64 * v64).sum()


def torch_bin_index(v, edges_t, scale):
    """Bin index of each (clipped) cosine with numpy's convention, in torch: estimate, then correct."""
    import torch

    nb = edges_t.numel() - 1
    idx = ((v - edges_t[0]) * float(scale)).to(torch.int64).clamp_(0, nb - 1)
    idx -= (v < edges_t[idx]).to(torch.int64)
    idx += ((v >= edges_t[idx + 1]) & (idx != nb - 1)).to(torch.int64)
    return idx


def sampled_pairs_distribution(
    vectors: Embeddings | np.ndarray,
    n_pairs: int,
    *,
    seed: int = 0,
    bins: int = DEFAULT_BINS,
    n_boot: int = 1000,
    chunk: int = 1_000_000,
) -> SimilarityDistribution:
    """Histogram of ``n_pairs`` random pairs (i != j, uniform, seeded): a quick look, with a CI on the mean."""
    x, model = _as_array(vectors)
    start = time.perf_counter()
    xn = normalize_rows(x)
    n = xn.shape[0]
    if n < 2:
        raise ParameterError(f"need at least 2 words for pairs, got {n}")
    if int(n_pairs) < 1:
        raise ParameterError(f"--sample / n_pairs must be positive, got {n_pairs!r}")
    i, j = random_pairs(n, int(n_pairs), seed=seed)
    cos = pair_cosines(xn, i, j, chunk=chunk)
    edges = histogram_edges(bins)
    counts = np.zeros(edges.size - 1, dtype=np.int64)
    sums = np.zeros(2, dtype=np.float64)
    bin_block(cos, edges, counts, sums)
    ci = bootstrap_mean_ci(np.clip(cos, -1.0, 1.0), n_boot=n_boot, seed=seed) if n_boot else None
    return _finish(
        edges,
        counts,
        sums,
        int(n_pairs),
        exact=False,
        n_words=n,
        model=model,
        mean_ci=ci,
        seconds=time.perf_counter() - start,
        options={"seed": seed, "sample": int(n_pairs)},
    )


def random_pairs(n: int, size: int, *, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``size`` pairs of row indices, uniform over ordered pairs with i != j (so over unordered pairs too)."""
    if n < 2:
        raise ParameterError(f"need at least 2 words for random pairs, got {n}")
    rng = np.random.default_rng(seed)
    i = rng.integers(0, n, size=size)
    j = rng.integers(0, n - 1, size=size)
    j += j >= i
    return i, j


def pair_cosines(xn: np.ndarray, i: np.ndarray, j: np.ndarray, *, chunk: int = 1_000_000) -> np.ndarray:
    """Row-wise dot products of unit rows (float32), in chunks so the gathered rows stay small."""
    out = np.empty(len(i), dtype=np.float32)
    for s in range(0, len(i), chunk):
        a = xn[i[s : s + chunk]]
        b = xn[j[s : s + chunk]]
        out[s : s + chunk] = np.einsum("ij,ij->i", a, b)
    return out


def mean_pair_cosine(vectors: Embeddings | np.ndarray) -> float:
    """The anisotropy figure: mean cosine over all pairs i < j, exactly, in O(n d).

    sum_{i<j} u_i . u_j = (|sum_i u_i|^2 - sum_i |u_i|^2) / 2 for unit rows u_i (in float64).
    """
    x, _ = _as_array(vectors)
    u = normalize_rows(x).astype(np.float64)
    n = u.shape[0]
    if n < 2:
        raise ParameterError(f"need at least 2 words for pairs, got {n}")
    total = u.sum(axis=0)
    return float((total @ total - np.einsum("ij,ij->", u, u)) / (n * (n - 1)))
