"""Is it only scale? A least-squares fit across models of a headline metric on kind and size.

Why a model and not role means: every LLM of the default study is larger than every classical model, so a
difference of means is as much a difference of sizes as of kinds. The fit (one row per model)

    metric = a + b * [model is of the kind] + c * log10(params)

reads ``b`` as the kind difference at fixed size and ``c`` as the size slope the two sides share. With a handful
of models the inference has to be at the level of models: the p of ``b`` comes from every relabelling of which
models are of the kind (each model keeps its size and its value, so a relabelling that puts the kind on the large
models is as likely as the observed one under "kind does not matter"), the interval from resampling models with
replacement within each side. Whether the models *can* decide is a property of the design, checked before any
number is read, and each failure is an outcome of its own, "cannot separate with these models":

- fewer than :data:`MIN_MODELS` models (three coefficients need a residual degree of freedom) or a side with
  fewer than :data:`MIN_PER_SIDE` (the kind effect would be one model's residual);
- the two sides' parameter ranges do not overlap: ``b`` is then one side's line extrapolated to sizes where the
  other side has no model (kind and size are collinear in the limit);
- the smallest p the design can reach is not below alpha: no data could say "kind matters".

Where the design decides: "kind matters at fixed size" when p < alpha and the interval excludes 0, otherwise
"consistent with size alone". The sides are a *contrast*: ``llm`` (decoder + llm-embedding against static +
encoder, the paper's question), ``decoder`` or ``llm-embedding`` alone against the classical models (averaging
API embedding models with raw hidden states hides the difference that matters most). Random-weight controls
(``KEY@random``, ``control_of`` set) are never part of a fit. Within-family slopes per 10x parameters are given
for each family with two or more sizes (a size effect with kind held fixed).
"""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from wordembed.analyses.bootstrap import percentile_interval
from wordembed.errors import ParameterError

CLASSICAL_FAMILIES = ("static", "encoder")
LLM_FAMILIES = ("decoder", "llm-embedding")
FAMILIES = CLASSICAL_FAMILIES + LLM_FAMILIES
# contrast -> the families on the kind side; the other side is always the classical families
CONTRASTS: dict[str, tuple[str, ...]] = {"llm": LLM_FAMILIES, "decoder": ("decoder",),
                                         "llm-embedding": ("llm-embedding",)}
CONTRAST_LABELS = {"llm": "LLMs", "decoder": "decoders", "llm-embedding": "LLM-embedding models"}
CONTRAST_SINGULAR = {"llm": "LLM", "decoder": "decoder", "llm-embedding": "LLM-embedding model"}
OUTCOMES = {
    "kind_matters": "kind matters at fixed size",
    "size_alone": "consistent with size alone",
    "cannot_separate": "cannot separate with these models",
}
MIN_MODELS = 4  # intercept, kind and size need one residual degree of freedom
MIN_PER_SIDE = 2
ALPHA = 0.05
MAX_EXACT = 200_000  # relabellings enumerated exactly up to this many; beyond, a seeded random sample
N_RANDOM_RELABELLINGS = 20_000
N_BOOT = 4000
_TOL = 1e-12


def format_count(n: float) -> str:
    """22713216 -> '22.7M', 1540000000 -> '1.54B' (the report's own format; here so the module stands alone)."""
    if n is None or not math.isfinite(float(n)):
        return "n/a"
    n = float(n)
    for unit, size in (("B", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(n) >= size:
            v = n / size
            return f"{v:.3g}{unit}" if v < 100 else f"{v:.0f}{unit}"
    return f"{n:.0f}"


# ----------------------------------------------------------------------------------------------------------
# Which rows take part


def is_control(table: pd.DataFrame) -> np.ndarray:
    """Rows that are random-weight controls (``control_of`` set): never in a fit or a kind verdict."""
    if "control_of" not in table:
        return np.zeros(len(table), dtype=bool)
    return np.array([isinstance(c, str) and c != "" for c in table["control_of"]], dtype=bool)


def _families(table: pd.DataFrame) -> pd.Series:
    """Each row's family; a table without the column (older code) falls back to the role's side."""
    if "family" in table:
        fam = table["family"].fillna("").astype(str)
        if "role" in table:  # a row whose metrics predate the family field
            fallback = table["role"].map({"classical": "encoder", "llm": "decoder"}).fillna("")
            fam = fam.where(fam != "", fallback)
        return fam
    if "role" in table:
        return table["role"].map({"classical": "encoder", "llm": "decoder"}).fillna("")
    return pd.Series("", index=table.index)


def _check_contrast(contrast: str) -> tuple[str, ...]:
    """The families on the kind side of ``contrast``."""
    if contrast not in CONTRASTS:
        raise ParameterError(f"contrast {contrast!r} is not one of {', '.join(CONTRASTS)}")
    return CONTRASTS[contrast]


def design_rows(table: pd.DataFrame, metric: str, contrast: str = "llm") -> pd.DataFrame:
    """The models of a fit: not a control, a family of either side, params > 0 and the metric finite.

    Returns columns model, family, params, value, kind (bool: on the kind side of the contrast).
    """
    kind_families = _check_contrast(contrast)
    fam = _families(table)
    params = pd.to_numeric(table["params"], errors="coerce") if "params" in table else pd.Series(np.nan, table.index)
    values = (pd.to_numeric(table[metric], errors="coerce") if metric in table
              else pd.Series(np.nan, index=table.index))
    side = fam.isin(kind_families) | fam.isin(CLASSICAL_FAMILIES)
    ok = (~is_control(table)) & side.to_numpy() & np.isfinite(params.to_numpy(dtype=float)) \
        & (params.to_numpy(dtype=float) > 0) & np.isfinite(values.to_numpy(dtype=float))
    out = pd.DataFrame({
        "model": table["model"].astype(str).to_numpy()[ok],
        "family": fam.to_numpy()[ok],
        "params": params.to_numpy(dtype=float)[ok],
        "value": values.to_numpy(dtype=float)[ok],
    })
    out["kind"] = out["family"].isin(kind_families)
    return out.reset_index(drop=True)


# ----------------------------------------------------------------------------------------------------------
# The estimator and its model-level inference


def ols(values: Sequence[float], log_params: Sequence[float], kind: Sequence[bool]) -> tuple[np.ndarray, int]:
    """(intercept, kind effect, size slope) of metric ~ 1 + kind + log10(params), and the design's rank.

    ``numpy.linalg.lstsq``; with rank < 3 the coefficients are the minimum-norm solution and not to be read.
    """
    y = np.asarray(values, dtype=np.float64)
    x = np.asarray(log_params, dtype=np.float64)
    d = np.asarray(kind, dtype=np.float64)
    design = np.column_stack([np.ones_like(x), d, x])
    coef, _, rank, _ = np.linalg.lstsq(design, y, rcond=None)
    return coef, int(rank)


def kind_effects(values: np.ndarray, log_params: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """The OLS kind coefficient for many label vectors at once (Frisch-Waugh-Lovell: residualise the labels on
    [1, log10 params], then regress the values on the residual), NaN where a design is singular.

    ``values`` and ``log_params`` are (n,) or (R, n) (one design per row, as a bootstrap draws them); ``labels``
    is (R, n). When every model has the same size the size term is dropped and the effect is the difference of
    means (size cannot confound it).
    """
    y = np.atleast_2d(np.asarray(values, dtype=np.float64))
    x = np.atleast_2d(np.asarray(log_params, dtype=np.float64))
    d = np.atleast_2d(np.asarray(labels, dtype=np.float64))
    n = d.shape[1]
    xc = x - x.mean(axis=1, keepdims=True)
    dc = d - d.mean(axis=1, keepdims=True)
    yc = y - y.mean(axis=1, keepdims=True)
    sxx = (xc * xc).sum(axis=1, keepdims=True)
    constant = bool(np.all(sxx <= _TOL * n))  # the size of every model the same in every design
    if constant:
        resid = dc
        bad = np.zeros(np.broadcast_shapes(sxx.shape, (d.shape[0], 1))[0], dtype=bool)
    else:
        safe = np.where(sxx > _TOL * n, sxx, 1.0)
        resid = dc - xc * ((xc * dc).sum(axis=1, keepdims=True) / safe)
        bad = np.broadcast_to((sxx <= _TOL * n)[:, 0], (resid.shape[0],))
    den = (resid * resid).sum(axis=1)
    num = (resid * yc).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        beta = num / den
    beta[(den <= _TOL * n) | bad] = np.nan
    return beta


def relabellings(n: int, k: int, *, max_exact: int = MAX_EXACT, n_random: int = N_RANDOM_RELABELLINGS,
                 seed: int = 0) -> tuple[np.ndarray, bool]:
    """(R, n) boolean label sets with ``k`` models on the kind side, and whether they are all of them.

    Every one of the C(n, k) sets when there are at most ``max_exact``; otherwise ``n_random`` seeded draws.
    """
    total = math.comb(n, k)
    if total <= max_exact:
        picks = np.array(list(itertools.combinations(range(n), k)), dtype=np.int64).reshape(total, k)
        labels = np.zeros((total, n), dtype=bool)
        np.put_along_axis(labels, picks, True, axis=1)
        return labels, True
    rng = np.random.default_rng(seed)
    order = np.argsort(rng.random((n_random, n)), axis=1)
    labels = np.zeros((n_random, n), dtype=bool)
    np.put_along_axis(labels, order[:, :k], True, axis=1)
    return labels, False


def permutation_p(values: Sequence[float], log_params: Sequence[float], kind: Sequence[bool], *,
                  max_exact: int = MAX_EXACT, n_random: int = N_RANDOM_RELABELLINGS,
                  seed: int = 0) -> tuple[float, float, float, int, bool]:
    """Two-sided permutation test of the kind coefficient over relabellings of which models are of the kind.

    Returns (observed coefficient, p, smallest achievable p, relabellings, exact). Exact: p is the share of all
    C(n, k) label sets whose |coefficient| is at least the observed one (a singular relabelling counts as at
    least as extreme: conservative); the smallest achievable p is 1 / C(n, k), or 2 / C(n, k) when the two
    sides are equal in size (swapping them only flips the sign). Sampled: p = (1 + as extreme) / (1 + draws).
    """
    y = np.asarray(values, dtype=np.float64)
    x = np.asarray(log_params, dtype=np.float64)
    lab = np.asarray(kind, dtype=bool)
    n, k = lab.size, int(lab.sum())
    if k == 0 or k == n:
        return float("nan"), float("nan"), float("nan"), 0, True
    observed = float(kind_effects(y, x, lab[None, :])[0])
    labels, exact = relabellings(n, k, max_exact=max_exact, n_random=n_random, seed=seed)
    betas = kind_effects(y, x, labels)
    if not math.isfinite(observed):
        return observed, float("nan"), float("nan"), len(labels), exact
    extreme = ~np.isfinite(betas) | (np.abs(betas) >= abs(observed) - 1e-9 * max(1.0, abs(observed)) - _TOL)
    if exact:
        p = float(extreme.mean())
        min_p = (2.0 if 2 * k == n else 1.0) / len(labels)
    else:
        p = float((1 + extreme.sum()) / (1 + len(labels)))
        min_p = 1.0 / (1 + len(labels))
    return observed, p, min_p, len(labels), exact


def bootstrap_effect(values: Sequence[float], log_params: Sequence[float], kind: Sequence[bool], *,
                     n_boot: int = N_BOOT, ci: float = 0.95, seed: int = 0) -> tuple[float, float, int, int]:
    """Percentile interval of the kind coefficient over resamples of models, with replacement within each side
    (so every resample has both kinds). Returns (low, high, resamples used, singular resamples dropped)."""
    y = np.asarray(values, dtype=np.float64)
    x = np.asarray(log_params, dtype=np.float64)
    lab = np.asarray(kind, dtype=bool)
    k_idx, c_idx = np.flatnonzero(lab), np.flatnonzero(~lab)
    if k_idx.size == 0 or c_idx.size == 0 or n_boot < 1:
        return float("nan"), float("nan"), 0, 0
    rng = np.random.default_rng(seed)
    idx = np.hstack([k_idx[rng.integers(0, k_idx.size, (n_boot, k_idx.size))],
                     c_idx[rng.integers(0, c_idx.size, (n_boot, c_idx.size))]])
    labels = np.zeros(idx.shape, dtype=bool)
    labels[:, : k_idx.size] = True
    size_varies = float(np.var(x)) > _TOL
    if size_varies:  # a resample whose sizes are all equal has no size term: drop it rather than change estimator
        xs = x[idx]
        flat = xs.var(axis=1) <= _TOL
    else:
        xs, flat = x, np.zeros(n_boot, dtype=bool)
    betas = kind_effects(y[idx], xs, labels)
    betas[flat] = np.nan
    used = int(np.isfinite(betas).sum())
    low, high = percentile_interval(betas, ci)
    return low, high, used, n_boot - used


def within_family_slopes(table: pd.DataFrame, metric: str) -> pd.DataFrame:
    """Per family with two or more distinct sizes: the OLS slope of the metric per 10x parameters (kind fixed).

    Controls are left out. Columns: family, models, n_models, n_sizes, params_min, params_max, slope (per
    log10 params), first, last (the metric at the smallest and the largest model).
    """
    rows = []
    fam = _families(table)
    params = pd.to_numeric(table["params"], errors="coerce") if "params" in table else pd.Series(np.nan, table.index)
    values = pd.to_numeric(table[metric], errors="coerce") if metric in table else pd.Series(np.nan, table.index)
    ok = (~is_control(table)) & np.isfinite(params.to_numpy(dtype=float)) & (params.to_numpy(dtype=float) > 0) \
        & np.isfinite(values.to_numpy(dtype=float))
    part = pd.DataFrame({"model": table["model"].astype(str), "family": fam, "params": params, "value": values})[ok]
    for family in [f for f in FAMILIES if f in set(part["family"])]:
        sub = part[part["family"] == family].sort_values("params")
        if sub["params"].nunique() < 2:
            continue
        x, y = np.log10(sub["params"].to_numpy()), sub["value"].to_numpy()
        slope = float(np.polyfit(x, y, 1)[0])
        rows.append({"metric": metric, "family": family, "models": list(sub["model"]), "n_models": len(sub),
                     "n_sizes": int(sub["params"].nunique()), "params_min": float(sub["params"].min()),
                     "params_max": float(sub["params"].max()), "slope": slope,
                     "first": float(y[0]), "last": float(y[-1])})
    return pd.DataFrame(rows, columns=["metric", "family", "models", "n_models", "n_sizes", "params_min",
                                       "params_max", "slope", "first", "last"])


# ----------------------------------------------------------------------------------------------------------
# Models that would decide


def _entries(registry: Mapping[str, Sequence[Any]] | None) -> list[tuple[str, str, float, str | None]]:
    """(key, role, params, family or None) from a registry of key -> (role, params[, family])."""
    out = []
    for key, entry in (registry or {}).items():
        role, params = entry[0], entry[1]
        family = entry[2] if len(entry) > 2 else None
        p = float(params) if params is not None else float("nan")
        out.append((str(key), str(role), p, family))
    return out


def _on_side(role: str, family: str | None, families: Sequence[str]) -> bool:
    if family:
        return family in families
    # a registry without families: a role stands for its families (llm-embedding and decoder not told apart)
    return (role == "classical" and set(families) <= set(CLASSICAL_FAMILIES)) or (
        role == "llm" and set(families) & set(LLM_FAMILIES) != set())


def _name(key: str, role: str, params: float, family: str | None) -> str:
    return f"{key} ({family or role}, {format_count(params)})"


def deciding_models(table: pd.DataFrame, registry: Mapping[str, Sequence[Any]] | None, *, contrast: str = "llm",
                    metric: str | None = None, alpha: float | None = None,
                    max_exact: int = MAX_EXACT) -> tuple[str, list[str]]:
    """What the design lacks and which defined models (``registry``: key -> (role, params[, family]), e.g.
    :func:`wordembed.report.model_registry`) not yet in ``table`` would supply it.

    Returns (the reason code: ``no_side``, ``few_models``, ``one_model``, ``no_overlap``, ``min_p`` or ``ok``,
    the models as 'key (family, 135M)', smallest first). ``metric``: the models that have it (default: every
    model with a parameter count); ``alpha``: also check that the design can reach it. A side short of models wants any model of that side;
    ranges that do not overlap want a classical model beyond the smallest model of the kind or a model of the
    kind below the largest classical model (or the mirror image); a design that cannot reach alpha wants any
    model of either side. Models without a parameter count cannot be placed and are never named.
    """
    kind_families = _check_contrast(contrast)
    rows = design_rows(table, metric or "params", contrast)
    present = set(table["model"].astype(str))
    candidates = [e for e in _entries(registry) if e[0] not in present and math.isfinite(e[2]) and e[2] > 0]
    candidates.sort(key=lambda e: e[2])
    kind_side = [e for e in candidates if _on_side(e[1], e[3], kind_families)]
    cls_side = [e for e in candidates if _on_side(e[1], e[3], CLASSICAL_FAMILIES)]
    k, c = rows[rows["kind"]], rows[~rows["kind"]]
    reason = design_problem(len(k), len(c), k["params"].to_numpy(), c["params"].to_numpy(), alpha, max_exact)
    if reason in ("no_side", "one_model"):
        wanted = ([] if len(k) >= MIN_PER_SIDE else kind_side) + ([] if len(c) >= MIN_PER_SIDE else cls_side)
    elif reason == "no_overlap":
        if k["params"].min() > c["params"].max():
            lo, hi = k["params"].min(), c["params"].max()
            wanted = [e for e in cls_side if e[2] >= lo] + [e for e in kind_side if e[2] <= hi]
        else:
            lo, hi = c["params"].min(), k["params"].max()
            wanted = [e for e in cls_side if e[2] <= hi] + [e for e in kind_side if e[2] >= lo]
    elif reason in ("few_models", "min_p"):
        wanted = kind_side + cls_side
    else:
        wanted = []
    wanted.sort(key=lambda e: e[2])
    return reason, [_name(*e) for e in wanted]


def smallest_p(n: int, k: int, max_exact: int = MAX_EXACT, n_random: int = N_RANDOM_RELABELLINGS) -> float:
    """The smallest p :func:`permutation_p` can return with ``k`` of ``n`` models on the kind side."""
    if k <= 0 or k >= n:
        return float("nan")
    total = math.comb(n, k)
    if total <= max_exact:
        return (2.0 if 2 * k == n else 1.0) / total
    return 1.0 / (1 + n_random)


def design_problem(n_kind: int, n_classical: int, kind_params: np.ndarray, classical_params: np.ndarray,
                   alpha: float | None = None, max_exact: int = MAX_EXACT) -> str:
    """The first reason a design cannot decide (see the module docstring), or ``ok``.

    ``min_p`` (the smallest achievable p is not below alpha) is only checked when ``alpha`` is given.
    """
    if n_kind == 0 or n_classical == 0:
        return "no_side"
    if n_kind + n_classical < MIN_MODELS:
        return "few_models"
    if min(n_kind, n_classical) < MIN_PER_SIDE:
        return "one_model"
    lo = max(float(np.min(kind_params)), float(np.min(classical_params)))
    hi = min(float(np.max(kind_params)), float(np.max(classical_params)))
    if lo > hi:
        return "no_overlap"
    if alpha is not None and smallest_p(n_kind + n_classical, n_kind, max_exact) >= alpha:
        return "min_p"
    return "ok"


# ----------------------------------------------------------------------------------------------------------
# One fit, as data


@dataclass
class ScaleFit:
    """The fit of one metric for one contrast: numbers, the models it rests on, the design's verdict."""

    metric: str
    contrast: str
    outcome: str  # kind_matters | size_alone | cannot_separate
    design: str  # ok | no_side | few_models | one_model | no_overlap | min_p | singular
    reason: str
    n_kind: int
    n_classical: int
    alpha: float
    effect: float = float("nan")  # b: kind minus classical at fixed log10(params)
    ci_low: float = float("nan")
    ci_high: float = float("nan")
    ci: float = float("nan")
    intercept: float = float("nan")
    size_slope: float = float("nan")  # c: per 10x parameters, shared by both sides
    residual_sd: float = float("nan")
    p_value: float = float("nan")
    min_p: float = float("nan")
    relabellings: int = 0
    exact: bool = True
    bootstrap_used: int = 0
    bootstrap_dropped: int = 0
    overlap: tuple[float, float] | None = None  # parameter range both sides cover
    models: dict[str, str] = field(default_factory=dict)  # model -> family
    params: dict[str, float] = field(default_factory=dict)
    values: dict[str, float] = field(default_factory=dict)
    deciding: list[str] = field(default_factory=list)

    @property
    def label(self) -> str:
        return CONTRAST_LABELS[self.contrast]

    @property
    def verdict(self) -> str:
        return OUTCOMES[self.outcome]

    def rests_on(self) -> list[str]:
        """'key (family, 135M)' for every model of the fit, smallest first."""
        return [f"{m} ({self.models[m]}, {format_count(self.params[m])})"
                for m in sorted(self.models, key=lambda m: self.params[m])]

    def _slope(self) -> str:
        if not math.isfinite(self.size_slope):
            return "no size term (every model the same size)"
        return f"size slope {self.size_slope:+.3f} per 10x parameters"

    def numbers(self) -> str:
        """The estimate, its interval, p and the size slope in one clause (empty when there is no fit)."""
        if not math.isfinite(self.effect):
            return ""
        ci = (f" [{self.ci_low:+.3f}, {self.ci_high:+.3f}] ({self.ci:.1%} bootstrap over models)"
              if math.isfinite(self.ci_low) else "")
        how = "exact" if self.exact else "sampled"
        p = (f", {how} permutation p = {self.p_value:.3f} over {self.relabellings} relabellings (smallest "
             f"achievable {self.min_p:.3f})" if math.isfinite(self.p_value) else "")
        return f"{self.label} {self.effect:+.3f} at fixed size{ci}{p}; {self._slope()}"

    def short(self) -> str:
        """The numbers in a few words: '+0.062 [-1.811, +0.257], p = 0.300, size slope +0.067 per 10x'."""
        if not math.isfinite(self.effect):
            return "no fit"
        ci = f" [{self.ci_low:+.3f}, {self.ci_high:+.3f}]" if math.isfinite(self.ci_low) else ""
        p = f", p = {self.p_value:.3f}" if math.isfinite(self.p_value) else ""
        return f"{self.effect:+.3f}{ci}{p}, {self._slope().replace(' parameters', '')}"

    def describe(self) -> str:
        text = f"{self.metric}, {self.label} vs classical: {self.verdict}"
        if self.outcome == "cannot_separate":
            text += f" ({self.reason})"
        numbers = self.numbers()
        if numbers:
            text += f"; {numbers}" + (" (not read: the design cannot decide)" if self.outcome == "cannot_separate"
                                      else "")
        return text + f"; models: {', '.join(self.rests_on())}"

    def row(self) -> dict[str, Any]:
        """A flat record (models and values as JSON text) for the scale table."""
        d = asdict(self)
        d["verdict"] = self.verdict
        d["overlap_low"], d["overlap_high"] = self.overlap if self.overlap else (float("nan"), float("nan"))
        del d["overlap"]
        d["models"] = json.dumps(self.rests_on())
        d["values"] = json.dumps({k: round(v, 6) for k, v in self.values.items()})
        d["params"] = json.dumps(self.params)
        d["deciding"] = json.dumps(self.deciding)
        return d


def _reason_text(design: str, k: pd.DataFrame, c: pd.DataFrame, label: str, alpha: float, min_p: float) -> str:
    n = len(k) + len(c)
    if design == "no_side":
        return f"no {'classical model' if c.empty else label} with this metric and a parameter count"
    if design == "few_models":
        return f"{n} models: a fit of intercept, kind and size needs at least {MIN_MODELS}"
    if design == "one_model":
        side, names = (label, k) if len(k) < MIN_PER_SIDE else ("classical models", c)
        return (f"one model on a side ({side}: {', '.join(names['model'])}), so its kind effect would be that one "
                "model's residual")
    if design == "no_overlap":
        return (f"the parameter ranges do not overlap, {label} {format_count(k['params'].min())}–"
                f"{format_count(k['params'].max())} against classical {format_count(c['params'].min())}–"
                f"{format_count(c['params'].max())}, so the kind effect would be an extrapolation of one side's line")
    if design == "min_p":
        return (f"{len(k)} vs {len(c)} models: the smallest achievable permutation p is {min_p:.3f}, not below "
                f"alpha = {alpha:.4g}")
    return "the design is singular: size is a function of kind"


def fit_scale(table: pd.DataFrame, metric: str, contrast: str = "llm",
              registry: Mapping[str, Sequence[Any]] | None = None, *, alpha: float = ALPHA,
              n_boot: int = N_BOOT, seed: int = 0, max_exact: int = MAX_EXACT) -> ScaleFit:
    """Fit ``metric ~ 1 + kind + log10(params)`` across the models of ``table`` (a headline table: columns
    model, family or role, params, control_of, the metric) and decide what the design allows.

    ``alpha`` is the level of this one test (the report passes alpha / number of metrics); the interval is the
    central 1 - alpha bootstrap interval, so "p < alpha" and "the interval excludes 0" are at one level. The
    numbers are computed whenever the design has full rank, also where it cannot decide (then they are
    reported, marked as not read). ``registry`` names the defined models that would decide.
    """
    if not 0 < alpha < 1:
        raise ParameterError(f"alpha must be in (0, 1), got {alpha}")
    if n_boot < 0:
        raise ParameterError(f"n_boot must be >= 0, got {n_boot}")
    rows = design_rows(table, metric, contrast)
    k, c = rows[rows["kind"]], rows[~rows["kind"]]
    design = design_problem(len(k), len(c), k["params"].to_numpy(), c["params"].to_numpy(), alpha, max_exact)
    fit = ScaleFit(metric=metric, contrast=contrast, outcome="cannot_separate", design=design, reason="",
                   n_kind=len(k), n_classical=len(c), alpha=alpha, ci=1 - alpha,
                   min_p=smallest_p(len(rows), len(k), max_exact),
                   models=dict(zip(rows["model"], rows["family"], strict=True)),
                   params=dict(zip(rows["model"], rows["params"].astype(float), strict=True)),
                   values=dict(zip(rows["model"], rows["value"].astype(float), strict=True)))
    if not k.empty and not c.empty:
        lo = max(k["params"].min(), c["params"].min())
        hi = min(k["params"].max(), c["params"].max())
        fit.overlap = (float(lo), float(hi)) if lo <= hi else None
    y, x, lab = rows["value"].to_numpy(), np.log10(rows["params"].to_numpy()), rows["kind"].to_numpy()
    if len(rows) >= 3 and not k.empty and not c.empty:
        same_size = float(np.var(x)) <= _TOL  # every model the same size: the effect is a difference of means
        coef, rank = ols(y, x, lab) if not same_size else ols(y, np.zeros_like(x), lab)
        if rank == 3 or (same_size and rank == 2):
            fit.intercept, fit.effect = float(coef[0]), float(coef[1])
            fit.size_slope = float(coef[2]) if not same_size else float("nan")
            used = np.column_stack([np.ones_like(x), lab, x]) if not same_size else np.column_stack(
                [np.ones_like(x), lab])
            resid = y - used @ coef[: used.shape[1]]
            dof = len(rows) - used.shape[1]
            fit.residual_sd = float(np.sqrt((resid @ resid) / dof)) if dof > 0 else float("nan")
            _, fit.p_value, fit.min_p, fit.relabellings, fit.exact = permutation_p(
                y, x, lab, max_exact=max_exact, seed=seed)
            fit.ci_low, fit.ci_high, fit.bootstrap_used, fit.bootstrap_dropped = bootstrap_effect(
                y, x, lab, n_boot=n_boot, ci=1 - alpha, seed=seed)
    if design == "ok" and not math.isfinite(fit.effect):
        design = fit.design = "singular"
    if design != "ok":
        fit.reason = _reason_text(design, k, c, CONTRAST_SINGULAR[contrast] if design == "no_side" else fit.label,
                                  alpha, fit.min_p)
        _, fit.deciding = deciding_models(table, registry, contrast=contrast, metric=metric, alpha=alpha,
                                          max_exact=max_exact)
        return fit
    tol = 1e-9 * max(1.0, abs(fit.effect))
    excludes_zero = fit.ci_low > tol or fit.ci_high < -tol
    if fit.p_value < alpha and excludes_zero:
        fit.outcome = "kind_matters"
        fit.reason = f"p = {fit.p_value:.3f} < {alpha:.4g} and the interval excludes 0"
    else:
        fit.outcome = "size_alone"
        why = []
        if not fit.p_value < alpha:
            why.append(f"p = {fit.p_value:.3f} is not below {alpha:.4g}")
        if not excludes_zero:
            why.append("the interval includes 0")
        fit.reason = " and ".join(why)
    return fit


def scale_fits(table: pd.DataFrame, metrics: Sequence[str], contrasts: Sequence[str] = tuple(CONTRASTS),
               registry: Mapping[str, Sequence[Any]] | None = None, *, alpha: float = ALPHA,
               n_boot: int = N_BOOT, seed: int = 0) -> list[ScaleFit]:
    """:func:`fit_scale` for every metric and contrast, each at ``alpha / len(metrics)`` (Bonferroni over the
    metrics: the verdict reads all of them, so one lucky metric must not decide)."""
    metrics = [m for m in metrics if m in table]
    each = alpha / max(1, len(metrics))
    return [fit_scale(table, m, contrast, registry, alpha=each, n_boot=n_boot, seed=seed)
            for contrast in contrasts for m in metrics]


def fits_table(fits: Sequence[ScaleFit]) -> pd.DataFrame:
    """One row per fit (metric x contrast)."""
    return pd.DataFrame([f.row() for f in fits])
