"""The "only scale?" fit: known coefficients on exactly linear tables, the permutation p against a brute-force
enumeration, the bootstrap against a loop, each outcome and each degenerate design reached by a constructed
table, and the size-ladder YAMLs named as the models that would decide."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pandas as pd
import pytest

from wordembed.analyses.scale import (
    bootstrap_effect,
    deciding_models,
    fit_scale,
    fits_table,
    kind_effects,
    ols,
    permutation_p,
    scale_fits,
    smallest_p,
    within_family_slopes,
)
from wordembed.errors import ParameterError

# Eight models whose sizes overlap across the two sides: classical 20M-300M, LLMs 80M-1B.
PARAMS = [2e7, 5e7, 1e8, 3e8, 8e7, 1.5e8, 4e8, 1e9]
FAMILY = ["static", "encoder", "encoder", "encoder", "decoder", "decoder", "llm-embedding", "decoder"]
IS_LLM = np.array([f in ("decoder", "llm-embedding") for f in FAMILY])
LOG_P = np.log10(PARAMS)


def _table(values, params=PARAMS, family=FAMILY, **extra) -> pd.DataFrame:
    role = ["llm" if f in ("decoder", "llm-embedding") else "classical" for f in family]
    t = pd.DataFrame({"model": [f"m{i}" for i in range(len(params))], "role": role, "family": family,
                      "params": params, "control_of": None, "metric": values})
    for k, v in extra.items():
        t[k] = v
    return t


def _brute_p(y, x, lab) -> tuple[float, float]:
    """Two-sided p of the kind coefficient over every relabelling, each refitted with lstsq."""
    n, k = len(y), int(np.sum(lab))
    design = np.column_stack([np.ones(n), lab, x])
    observed = np.linalg.lstsq(design, y, rcond=None)[0][1]
    betas = []
    for pick in itertools.combinations(range(n), k):
        d = np.isin(np.arange(n), pick).astype(float)
        betas.append(np.linalg.lstsq(np.column_stack([np.ones(n), d, x]), y, rcond=None)[0][1])
    betas = np.abs(np.array(betas))
    return float(observed), float(np.mean(betas >= abs(observed) - 1e-9))


# ------------------------------------------------------------------------------------------ the estimator


def test_ols_recovers_the_coefficients_of_an_exactly_linear_table() -> None:
    y = 0.1 + 0.2 * IS_LLM + 0.05 * LOG_P
    coef, rank = ols(y, LOG_P, IS_LLM)
    assert rank == 3 and coef == pytest.approx([0.1, 0.2, 0.05], abs=1e-12)


def test_vectorised_kind_effect_equals_lstsq_for_every_relabelling() -> None:
    rng = np.random.default_rng(3)
    y = rng.normal(size=8)
    labels = np.array([np.isin(np.arange(8), p) for p in itertools.combinations(range(8), 3)])
    fast = kind_effects(y, LOG_P, labels)
    slow = [np.linalg.lstsq(np.column_stack([np.ones(8), d, LOG_P]), y, rcond=None)[0][1] for d in labels]
    assert fast == pytest.approx(slow, abs=1e-10)


def test_permutation_p_matches_a_brute_force_enumeration() -> None:
    y = np.array([0.31, 0.35, 0.30, 0.42, 0.52, 0.47, 0.61, 0.55])
    observed, p, min_p, n, exact = permutation_p(y, LOG_P, IS_LLM)
    b_obs, b_p = _brute_p(y, LOG_P, IS_LLM)
    assert exact and n == math.comb(8, 4) == 70
    assert observed == pytest.approx(b_obs) and p == pytest.approx(b_p)
    # 4 against 4: swapping the sides only flips the sign, so the smallest p is 2 / 70
    assert min_p == pytest.approx(2 / 70) == smallest_p(8, 4)
    unbalanced = IS_LLM.copy()
    unbalanced[3] = True  # 5 against 3
    _, p5, min5, n5, _ = permutation_p(y, LOG_P, unbalanced)
    assert n5 == 56 and min5 == pytest.approx(1 / 56) and p5 == pytest.approx(_brute_p(y, LOG_P, unbalanced)[1])


def test_permutation_p_samples_beyond_max_exact() -> None:
    y = np.array([0.31, 0.35, 0.30, 0.42, 0.52, 0.47, 0.61, 0.55])
    _, p, min_p, n, exact = permutation_p(y, LOG_P, IS_LLM, max_exact=10, n_random=500, seed=1)
    assert not exact and n == 500 and min_p == pytest.approx(1 / 501)
    assert 0 < p <= 1 and abs(p - _brute_p(y, LOG_P, IS_LLM)[1]) < 0.1  # a sample of the same distribution
    assert math.isnan(permutation_p(y, LOG_P, np.ones(8, bool))[1])


def test_bootstrap_equals_a_loop_over_resampled_models() -> None:
    y = np.array([0.31, 0.35, 0.30, 0.42, 0.52, 0.47, 0.61, 0.55])
    low, high, used, dropped = bootstrap_effect(y, LOG_P, IS_LLM, n_boot=300, ci=0.9, seed=5)
    rng = np.random.default_rng(5)
    k_idx, c_idx = np.flatnonzero(IS_LLM), np.flatnonzero(~IS_LLM)
    draws = np.hstack([k_idx[rng.integers(0, 4, (300, 4))], c_idx[rng.integers(0, 4, (300, 4))]])
    betas = []
    for idx in draws:
        x = LOG_P[idx]
        design = np.column_stack([np.ones(8), IS_LLM[idx], x])
        if np.var(x) > 1e-12 and np.linalg.matrix_rank(design) == 3:
            betas.append(np.linalg.lstsq(design, y[idx], rcond=None)[0][1])
    assert used == len(betas) and used + dropped == 300
    assert (low, high) == pytest.approx(tuple(np.quantile(betas, [0.05, 0.95])))


# ------------------------------------------------------------------------------------------ the three outcomes


def test_kind_matters_at_fixed_size_on_an_exactly_linear_table() -> None:
    """LLMs 0.2 above classical models at every size, 0.05 per 10x for both: every resample recovers 0.2."""
    y = 0.1 + 0.2 * IS_LLM + 0.05 * LOG_P
    f = fit_scale(_table(y), "metric")
    assert f.outcome == "kind_matters" and f.design == "ok" and f.verdict == "kind matters at fixed size"
    assert (f.intercept, f.effect, f.size_slope) == pytest.approx((0.1, 0.2, 0.05), abs=1e-12)
    assert (f.ci_low, f.ci_high) == pytest.approx((0.2, 0.2), abs=1e-9) and f.ci == pytest.approx(0.95)
    assert f.p_value == pytest.approx(_brute_p(y, LOG_P, IS_LLM)[1]) == pytest.approx(2 / 70)
    assert f.residual_sd == pytest.approx(0, abs=1e-12) and (f.n_kind, f.n_classical) == (4, 4)
    assert f.overlap == (8e7, 3e8) and f.relabellings == 70 and f.exact
    assert "LLMs +0.200 at fixed size [+0.200, +0.200]" in f.describe()
    assert "size slope +0.050 per 10x parameters" in f.describe() and "m6 (llm-embedding, 400M)" in f.describe()


def test_consistent_with_size_alone() -> None:
    """The metric follows log10(params) exactly whatever the kind: the kind effect is 0 and p is 1."""
    y = 0.1 + 0.05 * LOG_P
    f = fit_scale(_table(y), "metric")
    assert f.outcome == "size_alone" and f.verdict == "consistent with size alone"
    assert f.effect == pytest.approx(0, abs=1e-12) and f.size_slope == pytest.approx(0.05)
    assert f.p_value == pytest.approx(1.0) and "the interval includes 0" in f.reason
    # a real kind difference the design cannot tell from the noise of eight models
    noisy = y + np.array([0.03, -0.04, 0.05, -0.02, 0.01, 0.04, -0.05, 0.02])
    g = fit_scale(_table(noisy), "metric")
    assert g.outcome == "size_alone" and g.p_value == pytest.approx(_brute_p(noisy, LOG_P, IS_LLM)[1])
    assert g.p_value >= 0.05


def test_the_interval_is_at_the_level_of_the_test() -> None:
    """alpha / m for m metrics: a p that passes alpha but not alpha / 2 is 'cannot separate' at m = 2 (the
    design cannot reach alpha / 2 with 4 vs 4 models) and 'kind matters' at m = 1."""
    t = _table(0.1 + 0.2 * IS_LLM + 0.05 * LOG_P, other=0.3 + 0.05 * LOG_P)
    one = scale_fits(t, ["metric"], contrasts=["llm"])
    two = scale_fits(t, ["metric", "other"], contrasts=["llm"])
    assert one[0].outcome == "kind_matters" and one[0].alpha == pytest.approx(0.05)
    assert [f.outcome for f in two] == ["cannot_separate", "cannot_separate"]
    assert two[0].design == "min_p" and two[0].alpha == pytest.approx(0.025) and two[0].ci == pytest.approx(0.975)
    assert "smallest achievable permutation p is 0.029, not below alpha = 0.025" in two[0].reason
    assert math.isfinite(two[0].effect)  # the numbers are still there, marked as not read
    assert "not read" in two[0].describe()


# ------------------------------------------------------------------------------------------ degenerate designs

REGISTRY = {
    "enc-big": ("classical", 6e8, "encoder"),
    "enc-mid": ("classical", 9e7, "encoder"),
    "dec-small": ("llm", 3e7, "decoder"),
    "emb-x": ("llm", 5e8, "llm-embedding"),
    "api": ("llm", float("nan"), "llm-embedding"),  # no parameter count: never named
    "m0": ("classical", 2e7, "static"),  # already in the table
}


def test_cannot_separate_when_the_size_ranges_do_not_overlap() -> None:
    """Every LLM larger than every classical model (kind and size collinear): the fit would extrapolate."""
    params = [2e7, 3e7, 5e7, 6e7, 1e8, 2e8, 4e8, 1e9]
    t = _table(0.1 + 0.2 * IS_LLM + 0.05 * np.log10(params), params=params)
    f = fit_scale(t, "metric", registry=REGISTRY)
    assert f.outcome == "cannot_separate" and f.design == "no_overlap" and f.overlap is None
    assert "the parameter ranges do not overlap, LLMs 100M–1B against classical 20M–60M" in f.reason
    # a classical model at or above the smallest LLM, or an LLM at or below the largest classical model
    assert f.deciding == ["dec-small (decoder, 30M)", "enc-big (encoder, 600M)"]
    assert deciding_models(t, REGISTRY) == ("no_overlap", f.deciding)


def test_cannot_separate_with_one_model_on_a_side_or_too_few_models() -> None:
    y = 0.1 + 0.2 * IS_LLM + 0.05 * LOG_P
    emb = fit_scale(_table(y), "metric", "llm-embedding", registry=REGISTRY)
    assert emb.outcome == "cannot_separate" and emb.design == "one_model" and emb.n_kind == 1
    assert "one model on a side (LLM-embedding models: m6)" in emb.reason
    assert emb.deciding == ["emb-x (llm-embedding, 500M)"]  # a second model of that family; 'api' has no size
    few = fit_scale(_table(y[[0, 1, 4]], params=[PARAMS[i] for i in (0, 1, 4)],
                           family=[FAMILY[i] for i in (0, 1, 4)]), "metric")
    assert few.design == "few_models" and "3 models: a fit of intercept, kind and size needs at least 4" in few.reason
    none = fit_scale(_table(y).query("role == 'classical'"), "metric")
    assert none.design == "no_side" and none.reason == "no LLM with this metric and a parameter count"


def test_cannot_separate_when_the_design_cannot_reach_alpha() -> None:
    """3 vs 3 overlapping models: 20 relabellings, balanced, so the smallest p is 0.1."""
    keep = [1, 2, 3, 4, 5, 6]
    t = _table((0.1 + 0.2 * IS_LLM + 0.05 * LOG_P)[keep], params=[PARAMS[i] for i in keep],
               family=[FAMILY[i] for i in keep])
    f = fit_scale(t, "metric", registry=REGISTRY)
    assert f.design == "min_p" and f.min_p == pytest.approx(0.1) and f.outcome == "cannot_separate"
    assert f.effect == pytest.approx(0.2)  # computed, not read
    # any model of either side lowers the smallest p; 'm0' names a model of the table, 'api' has no size
    assert f.deciding == ["dec-small (decoder, 30M)", "enc-mid (encoder, 90M)", "emb-x (llm-embedding, 500M)",
                          "enc-big (encoder, 600M)"]


def test_models_of_one_size_give_a_difference_of_means() -> None:
    """No size variation at all: size cannot confound the kind, the effect is the difference of means."""
    y = np.array([0.1, 0.2, 0.3, 0.2, 0.5, 0.6, 0.4, 0.5])
    f = fit_scale(_table(y, params=[1e8] * 8), "metric")
    assert f.effect == pytest.approx(0.5 - 0.2) and math.isnan(f.size_slope)
    diffs = [y[np.isin(np.arange(8), p)].mean() - y[~np.isin(np.arange(8), p)].mean()
             for p in itertools.combinations(range(8), 4)]
    assert f.p_value == pytest.approx(np.mean(np.abs(diffs) >= 0.3 - 1e-9))
    assert "no size term" in f.describe()


def test_random_weight_controls_are_never_in_a_fit() -> None:
    y = 0.1 + 0.2 * IS_LLM + 0.05 * LOG_P
    base = _table(y)
    controls = pd.DataFrame({"model": ["m4@random", "m1@random"], "role": ["llm", "classical"],
                             "family": ["decoder", "encoder"], "params": [8e7, 5e7],
                             "control_of": ["m4", "m1"], "metric": [5.0, -5.0]})
    with_controls = pd.concat([base, controls], ignore_index=True)
    a, b = fit_scale(base, "metric"), fit_scale(with_controls, "metric")
    assert (a.effect, a.p_value, a.outcome) == (b.effect, b.p_value, b.outcome)
    assert "m4@random" not in b.models
    assert within_family_slopes(with_controls, "metric").equals(within_family_slopes(base, "metric"))


def test_family_contrasts_fit_decoders_alone() -> None:
    """The decoder contrast drops the LLM-embedding model; its effect at fixed size is still 0.2."""
    y = 0.1 + 0.2 * IS_LLM + 0.05 * LOG_P
    fits = {f.contrast: f for f in scale_fits(_table(y), ["metric"])}
    assert set(fits) == {"llm", "decoder", "llm-embedding"}
    dec = fits["decoder"]
    assert "m6" not in dec.models and (dec.n_kind, dec.n_classical) == (3, 4)
    assert dec.effect == pytest.approx(0.2) and dec.min_p == pytest.approx(1 / 35)
    rows = fits_table(list(fits.values()))
    assert list(rows["contrast"]) == ["llm", "decoder", "llm-embedding"]
    assert {"verdict", "effect", "ci_low", "ci_high", "p_value", "min_p", "reason", "models", "deciding"} <= set(rows)
    with pytest.raises(ParameterError, match="contrast 'encoder' is not one of llm, decoder, llm-embedding"):
        fit_scale(_table(y), "metric", "encoder")
    with pytest.raises(ParameterError, match="alpha must be in"):
        fit_scale(_table(y), "metric", alpha=0)


def test_within_family_slopes_per_ten_times_the_parameters() -> None:
    y = np.array([0.30, 0.40, 0.44, 0.50, 0.30, 0.35, 0.9, 0.50])
    slopes = within_family_slopes(_table(y), "metric").set_index("family")
    assert set(slopes.index) == {"encoder", "decoder"}  # one static and one llm-embedding model: no slope
    x = np.log10([8e7, 1.5e8, 1e9])
    assert slopes.loc["decoder", "slope"] == pytest.approx(np.polyfit(x, [0.30, 0.35, 0.50], 1)[0])
    assert slopes.loc["decoder", "models"] == ["m4", "m5", "m7"] and slopes.loc["decoder", "n_sizes"] == 3
    two = within_family_slopes(_table([0.3, 0.5], params=[1e8, 1e9], family=["decoder", "decoder"]), "metric")
    assert two["slope"].iloc[0] == pytest.approx(0.2)  # 0.2 per 10x, by hand


# ------------------------------------------------------------------------------------------ the size ladder YAMLs

LADDER = {
    # key: (hf id, architecture, hidden, layers, heads, kv heads, intermediate, vocab, tied)
    "smollm2-360m": ("HuggingFaceTB/SmolLM2-360M", "llama", 960, 32, 15, 5, 2560, 49152, True),
    "smollm2-1.7b": ("HuggingFaceTB/SmolLM2-1.7B", "llama", 2048, 24, 32, 32, 8192, 49152, True),
    "pythia-70m": ("EleutherAI/pythia-70m", "neox", 512, 6, 8, 8, 2048, 50304, False),
    "pythia-160m": ("EleutherAI/pythia-160m", "neox", 768, 12, 12, 12, 3072, 50304, False),
    "pythia-410m": ("EleutherAI/pythia-410m", "neox", 1024, 24, 16, 16, 4096, 50304, False),
    "pythia-1b": ("EleutherAI/pythia-1b", "neox", 2048, 16, 8, 8, 8192, 50304, False),
}


def _count(arch: str, h: int, layers: int, heads: int, kv: int, inter: int, vocab: int, tied: bool) -> int:
    """Parameters from the architecture: llama (no biases, RMSNorm) or GPT-NeoX (biases, LayerNorm)."""
    if arch == "llama":
        head = h // heads
        per_layer = 2 * h * h + 2 * h * kv * head + 3 * h * inter + 2 * h
        return layers * per_layer + vocab * h * (1 if tied else 2) + h
    per_layer = (3 * h * h + 3 * h) + (h * h + h) + (h * inter + inter) + (inter * h + h) + 4 * h
    return layers * per_layer + vocab * h * (1 if tied else 2) + 2 * h


def test_size_ladder_yamls_load_with_exact_parameter_counts() -> None:
    from wordembed.models.spec import load_spec_file, models_dir

    for key, (hf, arch, h, layers, heads, kv, inter, vocab, tied) in LADDER.items():
        spec = load_spec_file(models_dir() / f"{key}.yaml")
        assert (spec.key, spec.family, spec.role, spec.backend) == (key, "decoder", "llm", "decoder")
        assert spec.source["hf"] == hf and spec.source["pypi"] is None and spec.source["path"] is None
        assert spec.dims == h and spec.params == _count(arch, h, layers, heads, kv, inter, vocab, tied)
        assert spec.options["layer"] == "middle" and spec.options["pooling"] == "mean"
    # the published totals (SmolLM2 model cards; Pythia paper, Table 1)
    assert _count(*LADDER["pythia-70m"][1:]) == 70_426_624
    assert _count(*LADDER["pythia-160m"][1:]) == 162_322_944 and _count(*LADDER["pythia-1b"][1:]) == 1_011_781_632
    assert load_spec_file(models_dir() / "smollm2-135m.yaml").params == _count(
        "llama", 576, 30, 9, 3, 1536, 49152, True)  # the count method reproduces the shipped 135M spec


def test_deciding_models_names_the_size_ladder() -> None:
    """Against the paper's models (classical up to 229M, LLMs in the billions), defined LLMs below 229M would
    decide; with one decoder, every other defined decoder would."""
    from wordembed.report import model_registry

    registry = model_registry()
    paper = pd.DataFrame({"model": ["laser2", "mpnet", "use-v4", "qwen2.5-coder-1.5b", "llama2-7b"],
                          "family": ["encoder", "encoder", "encoder", "decoder", "decoder"],
                          "params": [44615936, 109486464, 229000000, 1543714304, 6738415616]})
    reason, names = deciding_models(paper, registry)
    assert reason == "no_overlap"
    assert {"smollm2-135m (decoder, 135M)", "pythia-160m (decoder, 162M)"} <= set(names)
    assert all(registry[n.split(" ")[0]][1] <= 229e6 for n in names)
    one = pd.DataFrame({"model": ["glove-50d", "minilm", "mpnet", "smollm2-135m"],
                        "family": ["static", "encoder", "encoder", "decoder"],
                        "params": [20000000, 22713216, 109486464, 134515008]})
    reason, names = deciding_models(one, registry, contrast="decoder")
    assert reason == "one_model"
    for key in LADDER:
        assert any(n.startswith(f"{key} (decoder, ") for n in names)
