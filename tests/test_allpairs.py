"""Analysis 1: the exact all-pairs histogram equals a brute-force numpy count, ties on edges included."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from sklearn.metrics.pairwise import cosine_similarity

from wordembed.analyses import allpairs
from wordembed.analyses.allpairs import (
    all_pairs_distribution,
    bin_block,
    histogram_edges,
    mean_pair_cosine,
    random_pairs,
    sampled_pairs_distribution,
    torch_bin_index,
    upper_blocks,
)
from wordembed.embeddings import Embeddings
from wordembed.errors import ParameterError

ENGINES = ["numpy"] + (["numba"] if allpairs._numba is not None else [])


def _brute(x: np.ndarray, bins: int) -> tuple[np.ndarray, np.ndarray]:
    """numpy.histogram of the strict upper triangle of the full cosine matrix (the reference)."""
    full = cosine_similarity(np.asarray(x, dtype=np.float32))
    upper = np.clip(full[np.triu_indices(len(x), 1)], -1.0, 1.0)
    return np.histogram(upper, bins=bins, range=(-1.0, 1.0))[0], upper.astype(np.float64)


def _exact_vectors(n: int, seed: int = 0) -> np.ndarray:
    """Unit rows of 64 entries +-1/8 in 256 dims: every partial sum of a dot product is a multiple of 1/64, so
    each cosine is exact whatever order a BLAS adds in (and many fall on bin edges: 0, +-0.5, +-0.25, ...)."""
    rng = np.random.default_rng(seed)
    x = np.zeros((n, 256), np.float32)
    for r in range(n):
        cols = rng.choice(256, size=64, replace=False)
        x[r, cols] = rng.choice([-0.125, 0.125], size=64)
    x[-2] = x[0]  # cosine exactly 1 (the closed last bin)
    x[-1] = -x[1]  # cosine exactly -1
    return x


def _edge_vectors() -> np.ndarray:
    """Unit vectors with exact float32 components whose cosines are exactly -1, -0.5, 0, 0.5 or 1."""
    halves = [np.array(s, dtype=np.float32) * 0.5 for s in itertools.product([1, -1], repeat=4)]
    axes = [np.eye(4, dtype=np.float32)[i] * s for i in range(4) for s in (1, -1)]
    return np.array(halves + axes + halves[:3], dtype=np.float32)  # duplicates give cosine exactly 1


def test_edges_are_numpys():
    for bins in (4, 2000, 2048):
        assert np.array_equal(
            histogram_edges(bins), np.histogram(np.zeros(3, np.float32), bins=bins, range=(-1, 1))[1]
        )
    with pytest.raises(ParameterError):
        histogram_edges(0)


@pytest.mark.parametrize("engine", ENGINES)
def test_bin_block_equals_numpy_histogram_on_edges_and_neighbours(engine):
    edges = histogram_edges(2000)
    e = edges.astype(np.float32)
    values = np.concatenate(
        [
            e,
            np.nextafter(e, np.float32(2)),
            np.nextafter(e, np.float32(-2)),
            np.float32([1.0000002, 1.5, -1.0000001, -3.0, 0.0, -0.0]),  # out of range: clipped
            np.random.default_rng(0).uniform(-1, 1, 5000).astype(np.float32),
        ]
    ).astype(np.float32)
    counts = np.zeros(2000, np.int64)
    sums = np.zeros(2)
    bin_block(values.reshape(3, -1) if values.size % 3 == 0 else values, edges, counts, sums, engine=engine)
    clipped = np.clip(values, -1, 1)
    assert np.array_equal(counts, np.histogram(clipped, bins=2000, range=(-1, 1))[0])
    assert sums[0] == pytest.approx(clipped.astype(np.float64).sum(), abs=1e-9)
    assert sums[1] == pytest.approx((clipped.astype(np.float64) ** 2).sum(), rel=1e-12)


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("bins", [4, 2000])
def test_exact_cosines_on_bin_edges(engine, bins):
    x = _edge_vectors()
    expected, upper = _brute(x, bins)
    assert set(np.unique(upper)) == {-1.0, -0.5, 0.0, 0.5, 1.0}  # every cosine is an edge when bins=4
    got = all_pairs_distribution(x, bins=bins, block_rows=5, block_cols=7, engine=engine)
    assert np.array_equal(got.counts, expected)
    for threads in (1, 3):  # one worker, and more workers than cores
        other = all_pairs_distribution(
            x, bins=bins, block_rows=5, block_cols=7, engine=engine, threads=threads
        )
        assert np.array_equal(other.counts, expected) and other.mean == pytest.approx(got.mean, abs=1e-15)
    assert got.counts[-1] == np.sum(upper == 1.0) + (np.sum(upper == 0.5) if bins == 4 else 0)
    assert got.counts[0] == np.sum(upper == -1.0)
    assert got.n_pairs == len(x) * (len(x) - 1) // 2
    assert got.mean == pytest.approx(upper.mean(), abs=1e-15)
    assert got.std == pytest.approx(upper.std(), rel=1e-12)


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("blocks", [(50, 170), (170, 50), (13, 1000)])
def test_exact_vectors_match_brute_force(engine, blocks):
    x = _exact_vectors(201)
    expected, upper = _brute(x, 2000)
    assert np.all(upper * 64 == np.round(upper * 64))  # the reference cosines are exact
    got = all_pairs_distribution(x, block_rows=blocks[0], block_cols=blocks[1], engine=engine)
    assert np.array_equal(got.counts, expected)
    assert got.mean == pytest.approx(upper.mean(), abs=1e-15)
    assert got.std == pytest.approx(upper.std(), rel=1e-12)


@pytest.mark.parametrize("engine", ENGINES)
def test_random_vectors_match_float64_reference(engine):
    """BLAS kernels may round the last bit differently from the full-matrix product; only cosines within
    rounding of an edge may move, so the counts must agree everywhere else."""
    rng = np.random.default_rng(3)
    x = (rng.standard_normal((301, 24)) + 0.4).astype(np.float32)
    xn = x.astype(np.float64) / np.linalg.norm(x.astype(np.float64), axis=1, keepdims=True)
    ref = (xn @ xn.T)[np.triu_indices(301, 1)]
    expected = np.histogram(np.clip(ref, -1, 1), bins=2000, range=(-1, 1))[0]
    edges = histogram_edges(2000).astype(np.float64)
    k = np.clip(np.searchsorted(edges, ref), 1, 2000)
    near = np.minimum(np.abs(ref - edges[k - 1]), np.abs(ref - edges[k])) < 1e-6
    got = all_pairs_distribution(x, block_rows=50, block_cols=170, engine=engine)
    assert np.abs(got.counts - expected).sum() <= 2 * near.sum()
    assert got.mean == pytest.approx(ref.mean(), abs=1e-7)
    assert got.std == pytest.approx(ref.std(), rel=1e-6)
    # analytic O(n d) mean agrees with the mean over every pair
    assert mean_pair_cosine(x) == pytest.approx(got.mean, abs=1e-7)


def test_upper_blocks_cover_each_pair_once():
    n = 23
    seen = np.zeros((n, n), int)
    for r0, r1, c0, c1 in upper_blocks(n, 5, 3):
        rows, cols = np.meshgrid(np.arange(r0, r1), np.arange(c0, c1), indexing="ij")
        keep = cols > rows
        np.add.at(seen, (rows[keep], cols[keep]), 1)
    assert np.array_equal(seen, np.triu(np.ones((n, n), int), 1))


def test_torch_path_on_cpu():
    for x, blocks in ((_edge_vectors(), (6, 4)), (_exact_vectors(150, seed=2), (40, 64))):
        expected, upper = _brute(x, 2000)
        got = all_pairs_distribution(x, device="cpu", block_rows=blocks[0], block_cols=blocks[1])
        assert np.array_equal(got.counts, expected)
        assert got.mean == pytest.approx(upper.mean(), abs=1e-15)
    # on random vectors torch's BLAS may round differently from numpy's in the last bit: allow a few moves
    rng = np.random.default_rng(5)
    y = (rng.standard_normal((200, 32)) + 0.3).astype(np.float32)
    ref, upper = _brute(y, 2000)
    tor = all_pairs_distribution(y, device="cpu", block_rows=64, block_cols=96)
    assert tor.counts.sum() == ref.sum() == 200 * 199 // 2
    assert np.abs(tor.counts - ref).sum() <= 10
    assert tor.mean == pytest.approx(upper.mean(), abs=1e-6)


def test_torch_bin_index_matches_numpy():
    import torch

    edges = histogram_edges(2000)
    e = edges.astype(np.float32)
    v = np.clip(np.concatenate([e, np.nextafter(e, np.float32(2)), np.nextafter(e, np.float32(-2))]), -1, 1)
    idx = torch_bin_index(torch.from_numpy(v), torch.from_numpy(edges), np.float32(1000.0)).numpy()
    assert np.array_equal(np.bincount(idx, minlength=2000), np.histogram(v, bins=2000, range=(-1, 1))[0])


def test_quantiles_from_histogram_within_one_bin():
    rng = np.random.default_rng(1)
    x = (rng.standard_normal((400, 16)) + 0.2).astype(np.float32)
    dist = all_pairs_distribution(Embeddings([f"w{i}" for i in range(400)], x, model="m"))
    _, upper = _brute(x, 2000)
    qs = [0.01, 0.25, 0.5, 0.75, 0.99]
    assert np.allclose(dist.quantile(qs), np.quantile(upper, qs), atol=0.001)
    d = dist.to_dict()
    assert d["model"] == "m" and d["mode"] == "exact" and d["n_pairs"] == 400 * 399 // 2
    assert d["anisotropy"] == d["mean"]
    frame = dist.to_frame()
    assert len(frame) == 2000 and frame["count"].sum() == d["n_pairs"]
    assert (frame["density"] * (frame["bin_right"] - frame["bin_left"])).sum() == pytest.approx(1.0)


def test_sampled_mode_is_seeded_and_unbiased():
    i, j = random_pairs(50, 100_000, seed=2)
    assert np.all(i != j) and i.min() == 0 and j.max() == 49
    rng = np.random.default_rng(7)
    x = (rng.standard_normal((300, 20)) + 0.5).astype(np.float32)
    exact = all_pairs_distribution(x)
    a = sampled_pairs_distribution(x, 200_000, seed=4, n_boot=200)
    b = sampled_pairs_distribution(x, 200_000, seed=4, n_boot=200)
    assert np.array_equal(a.counts, b.counts) and a.counts.sum() == 200_000
    assert not a.exact and a.mean_ci[0] <= a.mean <= a.mean_ci[1]
    assert abs(a.mean - exact.mean) < 4 * exact.std / np.sqrt(200_000)
    assert a.std == pytest.approx(exact.std, rel=0.02)


def test_bad_input_is_named():
    x = np.ones((4, 3), np.float32)
    x[2, 1] = np.nan
    with pytest.raises(ParameterError, match="row 2"):
        all_pairs_distribution(x)
    with pytest.raises(ParameterError, match="at least 2"):
        all_pairs_distribution(np.ones((1, 3)))
    with pytest.raises(ParameterError):
        sampled_pairs_distribution(np.eye(3), 0)
    with pytest.raises(ParameterError):
        bin_block(np.zeros(3, np.float32), histogram_edges(4), np.zeros(4, np.int64), np.zeros(2), engine="x")


def test_similarity_command_writes_histogram_and_metrics(tmp_path):
    from wordembed.cli import main
    from wordembed.results import read_metrics, read_table
    from wordembed.vectorfile import write_word2vec_text

    rng = np.random.default_rng(0)
    words = [f"word{i}" for i in range(120)]
    vecs = (rng.standard_normal((120, 10)) + 1.0).astype(np.float32)
    write_word2vec_text(Embeddings(words, vecs, model="toy"), tmp_path / "toy.txt")
    (tmp_path / "words.txt").write_text("\n".join(words[:100] + ["notinfile"]) + "\n")
    out = tmp_path / "out"
    args = ["similarity", "--model", str(tmp_path / "toy.txt"), "--words", str(tmp_path / "words.txt")]
    assert main([*args, "--out", str(out), "--no-progress"]) == 0
    m = read_metrics(out)["similarity"]
    assert m["mode"] == "exact" and m["n_words"] == 100 and m["n_pairs"] == 4950
    assert m["words_asked"] == 101 and m["coverage"] == pytest.approx(100 / 101)
    expected, upper = _brute(vecs[:100], 2000)
    assert m["mean"] == pytest.approx(upper.mean(), abs=1e-6) and m["mean"] > 0.3
    table = read_table(out, "similarity_histogram")
    raw = table[table["variant"] == "raw"]
    assert raw["count"].sum() == 4950 and np.abs(raw["count"].to_numpy() - expected).sum() <= 4
    # anisotropy removed: centring pulls the mean cosine of all pairs to about -1/(n-1)
    assert abs(m["variants"]["centered"]["mean"]) < 0.02
    assert (
        main([*args, "--out", str(tmp_path / "s"), "--sample", "5000", "--abtt", "1", "--no-progress"]) == 0
    )
    s = read_metrics(tmp_path / "s")["similarity"]
    assert s["mode"] == "sampled" and s["n_pairs"] == 5000 and s["abtt"] == 1 and len(s["mean_ci"]) == 2
    assert main([*args, "--abtt", "-2"]) == 2  # a clear error, not a traceback


def test_threaded_binning_of_large_blocks_with_offsets():
    rng = np.random.default_rng(11)
    block = np.clip(rng.normal(0.3, 0.2, size=(700, 500)), -1.2, 1.2).astype(np.float32)
    block[::7, ::5] = histogram_edges(2000)[rng.integers(0, 2001, size=block[::7, ::5].shape)]
    edges = histogram_edges(2000)
    for offset in (None, 0, 123, -50):
        counts, sums = np.zeros(2000, np.int64), np.zeros(2)
        bin_block(block, edges, counts, sums, offset=offset, threads=3)
        rows, cols = np.indices(block.shape)
        keep = np.ones(block.shape, bool) if offset is None else cols + offset > rows
        v = np.clip(block[keep], -1, 1)
        assert np.array_equal(counts, np.histogram(v, bins=2000, range=(-1, 1))[0]), offset
        assert sums[0] == pytest.approx(v.astype(np.float64).sum(), rel=1e-12)


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("blocks", [(128, 256), (100, 700), (700, 64)])
def test_random_matrix_counts_equal_numpy_histogram_of_all_pairs(engine, blocks):
    """The block pipeline's counts are numpy.histogram's of the same float32 cosines, exactly.

    The reference makes every pair's cosine with one full product of the normalised rows (the blocks'
    products are the same BLAS kernel, so the same float32 numbers) and bins the strict upper triangle with
    ``np.histogram``; at 2000 bins about one cosine in 8000 is within rounding of an edge and takes the
    pipeline's exact path, and vectors repeated and negated put cosines on the edges -1 and 1 themselves.
    """
    rng = np.random.default_rng(21)
    x = (rng.standard_normal((640, 384)) + 0.5).astype(np.float32)
    x[600:620] = x[:20]  # cosine 1: the closed last bin
    x[620:640] = -x[20:40]  # cosine -1: the first bin's edge
    xn = allpairs.normalize_rows(x)
    cos = (xn @ xn.T)[np.triu_indices(len(x), 1)]
    expected = np.histogram(np.clip(cos, -1, 1), bins=2000, range=(-1, 1))[0]
    edges = histogram_edges(2000)
    idx = np.clip(np.searchsorted(edges, np.clip(cos, -1, 1), side="right") - 1, 0, 1999)
    grid = (np.clip(cos, -1, 1).astype(np.float64) + 1.0) * 1000.0
    assert (np.abs(grid - np.round(grid)) < 2000 * 2.0**-25).sum() > 10  # entries the exact path decides
    assert np.array_equal(np.bincount(idx, minlength=2000), expected)  # the reference is numpy's convention
    got = all_pairs_distribution(x, block_rows=blocks[0], block_cols=blocks[1], engine=engine, threads=2)
    assert np.array_equal(got.counts, expected)
    assert got.counts.sum() == len(x) * (len(x) - 1) // 2
    ref = np.clip(cos, -1, 1).astype(np.float64)
    assert got.mean == pytest.approx(ref.mean(), rel=1e-12)
    assert got.std == pytest.approx(ref.std(), rel=1e-10)


def test_one_long_row_is_binned_in_rows_with_the_same_counts():
    """Sampled pairs come as one long row; it is cut into rows of allpairs._ROW (ragged tail included)."""
    rng = np.random.default_rng(4)
    v = np.clip(rng.normal(0.3, 0.3, size=3 * allpairs._ROW + 12345), -1.2, 1.2).astype(np.float32)
    v[::97] = histogram_edges(2000)[rng.integers(0, 2001, size=v[::97].size)]  # on edges
    for engine in ENGINES:
        counts, sums = np.zeros(2000, np.int64), np.zeros(2)
        bin_block(v, histogram_edges(2000), counts, sums, engine=engine, threads=2)
        clipped = np.clip(v, -1, 1)
        assert np.array_equal(counts, np.histogram(clipped, bins=2000, range=(-1, 1))[0]), engine
        assert sums[0] == pytest.approx(clipped.astype(np.float64).sum(), rel=1e-12)


def test_sums_do_not_depend_on_threads_and_equal_the_blocks_reduced_in_order():
    """Each block's moments start from zero and the blocks are added in block order: the same floats with 1,
    2 or 5 threads, and the same as single blocks computed apart (what a Dask task returns) in any order,
    even from an unaligned copy of the rows (a deserialised message: numpy would not use BLAS on it)."""
    from wordembed.analyses.allpairs import block_counts, normalize_rows, reduce_block_sums

    rng = np.random.default_rng(9)
    x = (rng.standard_normal((901, 64)) + 0.4).astype(np.float32)
    one = all_pairs_distribution(x, block_rows=100, block_cols=250, threads=1)
    for threads in (2, 5):
        other = all_pairs_distribution(x, block_rows=100, block_cols=250, threads=threads)
        assert np.array_equal(other.counts, one.counts) and other.mean == one.mean and other.std == one.std
    xn = normalize_rows(x)
    raw = bytearray(xn.nbytes + 1)
    unaligned = np.frombuffer(raw, dtype=np.float32, count=xn.size, offset=1).reshape(xn.shape)
    assert not unaligned.flags.aligned
    unaligned[...] = xn
    edges = histogram_edges(2000)
    blocks = upper_blocks(len(x), 100, 250)
    parts = {k: block_counts(unaligned if k % 2 else xn, edges, b) for k, b in reversed(list(enumerate(blocks)))}
    counts = np.sum([parts[k][0] for k in range(len(blocks))], axis=0)
    sums = np.zeros(2)
    reduce_block_sums(np.array([parts[k][1] for k in range(len(blocks))]), sums)
    assert np.array_equal(counts, one.counts) and counts.dtype == np.int64
    assert sums[0] / one.n_pairs == one.mean
