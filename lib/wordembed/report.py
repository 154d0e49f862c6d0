"""The cross-model report: one headline table from every model's metrics, and a verdict per paper claim.

The paper (Freestone & Karmaker Santu 2024) claims that LLM embeddings (1) cluster related words more tightly,
(2) score higher on BATS analogies, and (3) some agree with SBERT; (4) asks whether differences follow model
size rather than kind. Each verdict is a row of data: the statistic, each model's value and interval, the
means per kind with the number of models on each side, the exact permutation p over role labels (with three
models on a side no test can be significant, and the row says the smallest p the design allows), the decision
rule, and the outcome. Raw-cosine branches read raw AUROC (never raw mean cosines, which an anisotropic model
inflates for random pairs too); the anisotropy controls (centred, all-but-the-top, standardised) must agree
before a claim "holds". Claim 4 reads a least-squares fit of each headline metric on kind and log10(params)
(:mod:`wordembed.analyses.scale`), not role means: with every LLM larger than every classical model a
difference of means is a difference of sizes too.

Beside the verdicts: the families apart (decoder and llm-embedding separately as well as together), matched
pairs of models that isolate one factor, and every headline metric minus its random-weight control
(``KEY@random``). Controls are shown, never counted in a kind or scale verdict.

Every number comes from one place: the study's long scores table (:func:`wordembed.results.load_results`),
read cell by cell through :class:`StudyScores`, which fails with one line naming a metric it cannot find
rather than showing NaN; the models' cards (role, family, size) come from their specs. :class:`StudyReport`
is notebook 06 as an object (tables, verdicts, figures from :mod:`wordembed.plots`, the files it writes).
"""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from wordembed.analyses.scale import (  # noqa: F401  (deciding_models: part of the report's interface)
    CLASSICAL_FAMILIES,
    FAMILIES,
    LLM_FAMILIES,
    MIN_MODELS,
    MIN_PER_SIDE,
    ScaleFit,
    deciding_models,
    fit_scale,
    format_count,
    is_control,
    within_family_slopes,
)
from wordembed.errors import ParameterError
from wordembed.models.spec import _family_from
from wordembed.results import SCORE_COLUMNS

WORDSIM_COLUMNS = ("simlex999", "ws353", "men", "rw")
CONTROLS = ("centered", "abtt", "standardized")
# Decision thresholds, printed in the report next to the verdicts.
THRESHOLDS: dict[str, float] = {
    "alpha": 0.05,  # a permutation p below this is called significant (only reachable with enough models)
}


ABTT_VARIANT = r"^abtt\d+$"
"""All-but-the-top is named by its D (``abtt4``), which differs by model: the report reads it as ``abtt``."""


@dataclass(frozen=True)
class ScoreKey:
    """Which rows of the long scores table (:data:`wordembed.results.SCORE_COLUMNS`) one headline cell reads:
    every field given must match (``variant`` ``abtt`` matches ``abttD``); None matches anything."""

    task: str
    metric: str
    dataset: str | None = None
    variant: str = "raw"
    level: str | None = None
    subset: str | None = None
    method: str | None = None

    def describe(self) -> str:
        fields = {k: v for k, v in asdict(self).items() if v is not None and k not in ("task", "metric")}
        return ", ".join(f"{k}={v}" for k, v in fields.items())


class StudyScores:
    """The long scores of a study (:func:`wordembed.results.load_results`), looked up one headline cell at a time.

    Why a class: a headline cell that finds no row must say so. A model without any scores of a task on some
    vectors (its notebook failed, or a study without anisotropy controls) gives NaN, as a missing result is
    shown; a model that has them but lacks the metric asked for (a renamed metric, a changed level) raises one
    line naming the metric, instead of turning into a NaN nobody notices.
    """

    def __init__(self, scores: pd.DataFrame) -> None:
        missing = [c for c in SCORE_COLUMNS if c not in scores]
        if missing:
            raise ParameterError(f"report: the scores table lacks column(s) {missing}; expected {list(SCORE_COLUMNS)}")
        frame = scores.assign(variant=scores["variant"].astype(str).str.replace(ABTT_VARIANT, "abtt", regex=True))
        self.frame = frame
        self._parts = {key: part for key, part in frame.groupby(["model", "task", "variant"], sort=False)}

    def has(self, model: str, task: str, variant: str = "raw") -> bool:
        return (model, task, variant) in self._parts

    def row(self, model: str, key: ScoreKey) -> dict[str, float]:
        """``value``, ``ci_low``, ``ci_high``, ``n``, ``coverage`` of the one row ``key`` names (NaN when the model
        has no ``key.task`` scores on ``key.variant`` vectors; a one-line error when it has but not this one)."""
        part = self._parts.get((model, key.task, key.variant))
        if part is None:
            return dict.fromkeys(("value", "ci_low", "ci_high", "n", "coverage"), float("nan"))
        mask = part["metric"] == key.metric
        for column in ("dataset", "level", "subset", "method"):
            wanted = getattr(key, column)
            if wanted is not None:
                mask &= part[column] == wanted
        found = part[mask]
        if len(found) != 1:
            what = "no" if found.empty else f"{len(found)} rows of"
            raise ParameterError(
                f"report: {model} has {what} metric '{key.metric}' ({key.describe()}) among its {len(part)} "
                f"{key.task} scores; metrics there: {', '.join(sorted(set(part['metric'])))}"
            )
        first = found.iloc[0]
        return {c: float(first[c]) for c in ("value", "ci_low", "ci_high", "n", "coverage")}

    def value(self, model: str, key: ScoreKey) -> float:
        return self.row(model, key)["value"]

    def methods(self, model: str, task: str, dataset: str, level: str = "overall", metric: str = "accuracy") -> list[str]:
        """The methods (solvers) of one task and dataset a model has scores of, in the order they were written."""
        part = self._parts.get((model, task, "raw"))
        if part is None:
            return []
        part = part[(part["dataset"] == dataset) & (part["level"] == level) & (part["metric"] == metric)]
        return list(dict.fromkeys(part["method"]))


def model_cards(specs: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """key -> role, family, control_of, backend, params of each model spec (:func:`wordembed.models.spec.load_spec`):
    what the report knows of a model besides its scores (its card, not a result)."""
    return {
        key: {"role": s.role, "family": s.family, "control_of": s.control_of, "backend": s.backend, "params": s.params}
        for key, s in specs.items()
    }


def _with_interval(row: dict[str, Any], name: str, cell: Mapping[str, float]) -> None:
    row[name], row[f"{name}_ci_low"], row[f"{name}_ci_high"] = cell["value"], cell["ci_low"], cell["ci_high"]


def headline_table(scores: pd.DataFrame | StudyScores, cards: Mapping[str, Mapping[str, Any]]) -> pd.DataFrame:
    """One row per model of ``cards`` (in that order): family, size, coverage, anisotropy, related-pair scores
    per variant, analogies, similarity, every number read from the long ``scores`` (:class:`StudyScores`).

    Interval columns end in ``_ci_low`` / ``_ci_high`` everywhere. ``control_of`` names the trained model of a
    random-weight control (None otherwise). A card without ``family`` (an older one) takes it from role and
    backend, as :mod:`wordembed.models.spec` does; a control's key names its trained model when the card does not.
    """
    s = scores if isinstance(scores, StudyScores) else StudyScores(scores)
    rows = []
    for model, card in cards.items():
        role = card.get("role") or ""
        control_of = card.get("control_of") or (model.split("@random")[0] if "@random" in model else None)
        row: dict[str, Any] = {
            "model": model,
            "role": role,
            "family": card.get("family") or (_family_from(role, card.get("backend") or "") if role else ""),
            "control_of": control_of,
            "params": card.get("params"),
            "dims": s.value(model, ScoreKey("embed", "dims")),
            "coverage": s.value(model, ScoreKey("embed", "coverage", subset="vocabulary")),
        }
        dist = "similarity_distribution"
        row["anisotropy"] = s.value(model, ScoreKey(dist, "mean", level="overall"))
        # share of the mean cosine carried by the single largest dimension (Timkey & van Schijndel 2021)
        row["rogue_top1"] = s.value(model, ScoreKey(dist, "share_top1", method="rogue_dimensions"))
        row["rogue_top3"] = s.value(model, ScoreKey(dist, "share_top3", method="rogue_dimensions"))
        row["pairs_std"] = s.value(model, ScoreKey(dist, "std"))
        row["pairs_std_centered"] = s.value(model, ScoreKey(dist, "std", variant="centered"))
        row["related_mean"] = s.value(model, ScoreKey("related_pairs", "mean", level="all", subset="all"))
        row["random_mean"] = s.value(model, ScoreKey("related_pairs", "mean", level="random", subset="random"))
        for variant in ("raw", *CONTROLS):
            suffix = "" if variant == "raw" else f"_{variant}"
            for stat in ("auroc", "separation"):
                for level, subset, short in (("all", "all", ""), ("kind", "semantic", "_sem"),
                                             ("kind", "morphological", "_morph")):  # fmt: skip
                    cell = s.row(model, ScoreKey("related_pairs", stat, variant=variant, level=level, subset=subset))
                    base = f"{stat}{short}{suffix}"
                    row[base] = cell["value"]
                    if level == "all" or stat == "auroc":
                        _with_interval(row, base, cell)
        bats = {"task": "analogies", "dataset": "bats"}
        for method in s.methods(model, "analogies", "bats"):
            _with_interval(row, f"bats_{method}", s.row(model, ScoreKey(metric="accuracy", level="overall", method=method, **bats)))
        for kind, short in (("morphological", "morph"), ("semantic", "sem")):
            cell = s.row(model, ScoreKey(metric="accuracy", level="kind", subset=kind, method="3CosAdd", **bats))
            _with_interval(row, f"bats_3CosAdd_{short}", cell)
        for variant in CONTROLS:  # 3CosAdd and SimLex on post-processed vectors (notebook 04)
            cell = s.row(model, ScoreKey(metric="accuracy", level="overall", method="3CosAdd", variant=variant, **bats))
            _with_interval(row, f"bats_3CosAdd_{variant}", cell)
            row[f"rho_simlex999_{variant}"] = s.value(
                model, ScoreKey("word_similarity", "spearman", dataset="simlex999", variant=variant))
        overall = s.row(model, ScoreKey(metric="accuracy", level="overall", method="3CosAdd", **bats))
        row["bats_coverage"] = overall["coverage"]
        row["google_3CosAdd"] = s.value(model, ScoreKey("analogies", "accuracy", dataset="google", level="overall",
                                                        method="3CosAdd"))  # fmt: skip
        for bench in WORDSIM_COLUMNS:
            row[f"rho_{bench}"] = s.value(model, ScoreKey("word_similarity", "spearman", dataset=bench))
        rows.append(row)
    table = pd.DataFrame(rows)
    if "params" in table:
        table["params"] = pd.to_numeric(table["params"], errors="coerce")
    return table


# ----------------------------------------------------------------------------------------------------------
# Model-level statistics


def permutation_test(values: Sequence[float], is_llm: Sequence[bool]) -> tuple[float, float, int]:
    """Exact one-sided permutation test of mean(LLM) - mean(classical) > 0 over every relabelling of roles.

    Returns (observed difference, p, number of relabellings). With n models and k LLMs there are C(n, k)
    relabellings, so the smallest p is 1 / C(n, k): 0.1 with 2 LLMs against 3 classical models.
    """
    x = np.asarray(values, dtype=np.float64)
    lab = np.asarray(is_llm, dtype=bool)
    n, k = x.size, int(lab.sum())
    if k == 0 or k == n:
        return float("nan"), float("nan"), 0
    observed = x[lab].mean() - x[~lab].mean()
    total = x.sum()
    combos = np.array(list(itertools.combinations(range(n), k)))  # C(n, k) rows: small for a study's models
    sums = x[combos].sum(axis=1)
    diffs = sums / k - (total - sums) / (n - k)
    p = float(np.mean(diffs >= observed - 1e-12))
    return float(observed), p, len(combos)


def min_p_value(n_llm: int, n_classical: int) -> float:
    """The smallest one-sided exact permutation p with these many models on each side."""
    if n_llm == 0 or n_classical == 0:
        return float("nan")
    return 1.0 / math.comb(n_llm + n_classical, n_llm)


@dataclass
class Comparison:
    """LLM against classical models on one column of the headline table."""

    statistic: str
    values: dict[str, float]
    intervals: dict[str, tuple[float, float]]
    llm_mean: float
    classical_mean: float
    difference: float
    n_llm: int
    n_classical: int
    p_value: float
    min_p: float
    separated: bool  # every LLM on one side of every classical model

    @property
    def direction(self) -> bool | None:
        """True when LLMs score higher on average, None when one side has no model."""
        if not (math.isfinite(self.llm_mean) and math.isfinite(self.classical_mean)):
            return None
        return self.llm_mean > self.classical_mean

    def describe(self) -> str:
        if self.direction is None:
            return f"{self.statistic}: not available for both kinds"
        p = f"exact permutation p = {self.p_value:.2f} (smallest possible {self.min_p:.2f})"
        return (
            f"{self.statistic}: LLMs {_fmt(self.llm_mean)} (n={self.n_llm}) vs classical "
            f"{_fmt(self.classical_mean)} (n={self.n_classical}), {p}"
        )


def compare(table: pd.DataFrame, column: str) -> Comparison:
    """Kind means, exact permutation p over role labels and per-model values (with their intervals).

    Random-weight controls are left out: they are neither kind of model."""
    part = table[table["role"].isin(["llm", "classical"]) & ~is_control(table)] if "role" in table else table.iloc[0:0]
    values = part[column].astype(float) if column in part else pd.Series(np.nan, index=part.index)
    ok = np.isfinite(values.to_numpy())
    part, values = part[ok], values[ok]
    llm = (part["role"] == "llm").to_numpy()
    lo_col, hi_col = f"{column}_ci_low", f"{column}_ci_high"
    intervals = {
        str(m): (float(part.loc[i, lo_col]), float(part.loc[i, hi_col]))
        for i, m in zip(part.index, part["model"], strict=True)
        if lo_col in part and hi_col in part
    }
    diff, p, _ = permutation_test(values.to_numpy(), llm)
    v = values.to_numpy()
    separated = bool(llm.any() and (~llm).any() and (v[llm].min() > v[~llm].max() or v[llm].max() < v[~llm].min()))
    return Comparison(
        statistic=column,
        values={str(m): float(x) for m, x in zip(part["model"], v, strict=True)},
        intervals=intervals,
        llm_mean=float(v[llm].mean()) if llm.any() else float("nan"),
        classical_mean=float(v[~llm].mean()) if (~llm).any() else float("nan"),
        difference=diff,
        n_llm=int(llm.sum()),
        n_classical=int((~llm).sum()),
        p_value=p,
        min_p=min_p_value(int(llm.sum()), int((~llm).sum())),
        separated=separated,
    )


# ----------------------------------------------------------------------------------------------------------
# Verdicts


@dataclass
class Verdict:
    """One claim, as data: what was measured, the rule that decides, and the outcome."""

    claim: str
    verdict: str
    evidence: str
    outcome: str = ""  # a short code per branch: holds, raw_only, does_not_hold, cannot_judge, ...
    statistic: str = ""
    rule: str = ""
    llm_mean: float = float("nan")
    classical_mean: float = float("nan")
    n_llm: int = 0
    n_classical: int = 0
    p_value: float = float("nan")
    min_p: float = float("nan")
    values: dict[str, float] = field(default_factory=dict)
    intervals: dict[str, tuple[float, float]] = field(default_factory=dict)
    # the claim's own estimate and interval (scale: the kind effect at fixed size of the deciding metric)
    estimate: float = float("nan")
    ci_low: float = float("nan")
    ci_high: float = float("nan")
    rests_on: list[str] = field(default_factory=list)  # the models behind the numbers, 'key (family, size)'

    def row(self) -> dict[str, Any]:
        """A flat record (per-model values as JSON text) for the verdicts table."""
        d = asdict(self)
        d["values"] = json.dumps({k: round(v, 6) for k, v in self.values.items()})
        d["intervals"] = json.dumps({k: [round(a, 6), round(b, 6)] for k, (a, b) in self.intervals.items()})
        d["rests_on"] = json.dumps(self.rests_on)
        return d


def _fmt(x: float) -> str:
    return "n/a" if not math.isfinite(x) else f"{x:.3f}"


def _significance(c: Comparison) -> str:
    if not math.isfinite(c.min_p):
        return ""
    if c.min_p > THRESHOLDS["alpha"]:
        return (
            f"With {c.n_llm} LLM(s) against {c.n_classical} classical model(s) no permutation test can reach "
            f"p < {THRESHOLDS['alpha']} (smallest possible p {c.min_p:.2f}): a description of these models, not "
            "a test of kinds."
        )
    sig = "significant" if c.p_value < THRESHOLDS["alpha"] else "not significant"
    return f"Exact permutation p = {c.p_value:.3f} ({sig} at {THRESHOLDS['alpha']})."


def _from(c: Comparison, **kwargs: Any) -> Verdict:
    return Verdict(
        statistic=c.statistic,
        llm_mean=c.llm_mean,
        classical_mean=c.classical_mean,
        n_llm=c.n_llm,
        n_classical=c.n_classical,
        p_value=c.p_value,
        min_p=c.min_p,
        values=c.values,
        intervals=c.intervals,
        estimate=c.difference,
        **kwargs,
    )


TIGHTER_RULE = (
    "Compare the mean over models of each kind of the AUROC of related vs random pairs (all relations, each "
    "relation weighted equally, random pairs of the same words), raw and after each anisotropy control "
    "(centred, all-but-the-top, standardised). Holds: LLMs higher raw and under every control. Raw only: "
    "higher raw, not under some control. Controls only: higher under every control, not raw. Otherwise "
    "does not hold."
)


def claim_tighter_clusters(table: pd.DataFrame) -> Verdict:
    claim = "LLMs cluster related words more tightly"
    raw = compare(table, "auroc")
    controls = {c: compare(table, f"auroc_{c}") for c in CONTROLS}
    controls = {c: v for c, v in controls.items() if v.direction is not None}
    if raw.direction is None or not controls:
        return Verdict(claim, "cannot be judged (needs LLM and classical models with related-pair results)", "",
                       outcome="cannot_judge", statistic="auroc", rule=TIGHTER_RULE)
    robust = [v.direction for v in controls.values()]
    if raw.direction and all(robust):
        outcome, verdict = "holds", "holds, on raw cosines and under every anisotropy control"
    elif raw.direction:
        failing = [c for c, v in controls.items() if not v.direction]
        outcome, verdict = "raw_only", f"holds on raw cosines only (not after {', '.join(failing)}): anisotropy"
    elif all(robust):
        outcome, verdict = "controls_only", "does not hold on raw cosines, but holds under every anisotropy control"
    else:
        outcome, verdict = "does_not_hold", "does not hold"
    sep = compare(table, "separation")
    sep_c = compare(table, "separation_centered")
    evidence = " ".join(
        [
            raw.describe() + ";",
            "; ".join(v.describe() for v in controls.values()) + ".",
            f"Separation (related minus random, in random-pair SDs): raw LLMs {_fmt(sep.llm_mean)} vs classical "
            f"{_fmt(sep.classical_mean)}; centred {_fmt(sep_c.llm_mean)} vs {_fmt(sep_c.classical_mean)}.",
            _significance(raw),
        ]
    )
    return _from(raw, claim=claim, verdict=verdict, evidence=evidence, outcome=outcome, rule=TIGHTER_RULE)


def claim_bats(table: pd.DataFrame, method: str = "3CosAdd") -> Verdict:
    """Overall, and separately for morphological and semantic relations: sub-word pooling alone can solve
    inflections (a random decoder averaging its sub-word tokens does), so an overall win can hide a semantic loss."""
    claim = f"LLMs score higher on BATS ({method})"
    rule = (
        f"Mean over models of each kind of BATS {method} accuracy (every relation weighted equally, one common "
        "candidate vocabulary); the same for morphological and semantic relations. The verdict names the kind "
        "of relation on which LLMs are ahead when the two kinds disagree, and the anisotropy controls (centred, "
        "all-but-the-top, standardised vectors) under which the overall direction flips."
    )
    overall = compare(table, f"bats_{method}")
    if overall.direction is None:
        return Verdict(claim, "cannot be judged (no BATS results for both kinds of model)", "",
                       outcome="cannot_judge", statistic=f"bats_{method}", rule=rule)
    kinds = {kind: compare(table, f"bats_{method}_{short}") for kind, short in
             (("morphological", "morph"), ("semantic", "sem"))}
    ahead = [k for k, c in kinds.items() if c.direction]
    behind = [k for k, c in kinds.items() if c.direction is False]
    if overall.direction:
        verdict, outcome = "holds", "holds"
        if behind:
            verdict, outcome = f"holds overall, but only on {', '.join(ahead) or 'neither kind of'} relations", "holds_partly"
    else:
        verdict, outcome = "does not hold", "does_not_hold"
        if ahead:
            verdict, outcome = f"does not hold overall; LLMs are ahead only on {', '.join(ahead)} relations", "does_not_hold_partly"
    controls = {c: compare(table, f"bats_{method}_{c}") for c in CONTROLS}
    controls = {c: v for c, v in controls.items() if v.direction is not None}
    flipped = [c for c, v in controls.items() if v.direction != overall.direction]
    if flipped:
        verdict += f" (not after {', '.join(flipped)})"
        outcome += "_not_under_controls"
    best = max(overall.values, key=overall.values.get)
    baseline = ""
    if "bats_SimilarToB" in table:
        b = compare(table, "bats_SimilarToB")
        baseline = f" The baseline SimilarToB (nearest word to b) scores LLMs {_fmt(b.llm_mean)}, classical {_fmt(b.classical_mean)}."
    evidence = (
        f"{overall.describe()}; " + "; ".join(f"{k} relations: {c.describe()}" for k, c in kinds.items())
        + f"; best model {best} ({_fmt(overall.values[best])}).{baseline}"
        + "".join(f" After {c}: {v.describe()}." for c, v in controls.items())
        + f" {_significance(overall)}"
    )
    return _from(overall, claim=claim, verdict=verdict, evidence=evidence, outcome=outcome, rule=rule)


SBERT_RULE = (
    "Primary: Spearman correlation of two models' cosines over random pairs of the words all models share "
    "(never pooled with related pairs). Holds: some LLM agrees with an SBERT model at least as much as the best "
    "other classical model does. The same rule is applied to 10-NN overlap and debiased CKA; when the measures "
    "disagree, the verdict says the claim depends on the measure. Needs an SBERT model and another classical "
    "model to compare with."
)
# (measure, pair set): the primary statistic first, then the robustness checks
SBERT_MEASURES: tuple[tuple[str, str], ...] = (
    ("spearman", "random"), ("knn_jaccard", "words"), ("cka_debiased", "words"),
)  # fmt: skip


def _with_sbert(
    agreement: pd.DataFrame, sbert: Sequence[str], measure: str, pairs: str, variant: str = "raw"
) -> tuple[dict[str, float], dict[str, tuple[float, float]]]:
    """Each non-SBERT model's highest agreement with any SBERT model on one measure, pair set and vector
    variant (``raw``, or an anisotropy control when the table has a ``variant`` column)."""
    part = agreement[agreement["measure"] == measure]
    if "pairs" in part:
        part = part[part["pairs"] == pairs]
    if "variant" in part:
        part = part[part["variant"] == variant]
    scores: dict[str, float] = {}
    intervals: dict[str, tuple[float, float]] = {}
    for row in part.itertuples():
        for ref, other in ((row.model_a, row.model_b), (row.model_b, row.model_a)):
            if ref in sbert and other not in sbert and float(row.value) > scores.get(other, -np.inf):
                scores[other] = float(row.value)
                intervals[other] = (float(row.ci_low), float(row.ci_high))
    return scores, intervals


def _sbert_rule(
    scores: Mapping[str, float], intervals: Mapping[str, tuple[float, float]], roles: Mapping[str, str]
) -> tuple[str, list[str], list[str], str]:
    """(outcome, LLMs at least as close as the best other classical model, LLMs within its interval, it)."""
    llm = {m: v for m, v in scores.items() if roles.get(m) == "llm"}
    classical = {m: v for m, v in scores.items() if roles.get(m) == "classical"}
    if not llm or not classical:
        return "cannot_judge", [], [], ""
    top_name = max(classical, key=classical.get)
    agreeing = sorted(m for m, v in llm.items() if v >= classical[top_name])
    close = sorted(m for m, v in llm.items() if v < classical[top_name] and intervals[m][1] >= intervals[top_name][0])
    outcome = "holds" if agreeing else "does_not_hold_narrowly" if close else "does_not_hold"
    return outcome, agreeing, close, top_name


def sbert_references(specs: Mapping[str, Any]) -> list[str]:
    """The SBERT models the agreement claim measures against: trained sentence-transformers encoders.

    A random-weight control of MiniLM has MiniLM's backend and role, but agreeing with it is no claim of the
    paper (and notebook 05 computes no agreement with controls), so it is never a reference.
    """
    return [k for k, s in specs.items()
            if s.backend == "sentence-transformers" and s.role == "classical" and not s.control_of]


def claim_agree_with_sbert(
    agreement: pd.DataFrame | None,
    roles: Mapping[str, str],
    sbert: Sequence[str],
    measure: str = "spearman",
    pairs: str = "random",
) -> Verdict:
    claim = "Some LLMs agree with SBERT"
    statistic = f"{measure} ({pairs} pairs) with SBERT"
    if agreement is None or agreement.empty or not sbert:
        return Verdict(claim, "cannot be judged (needs an SBERT model and the agreement results)", "",
                       outcome="cannot_judge", statistic=statistic, rule=SBERT_RULE)
    scores, intervals = _with_sbert(agreement, sbert, measure, pairs)
    llm = {m: v for m, v in scores.items() if roles.get(m) == "llm"}
    classical = {m: v for m, v in scores.items() if roles.get(m) == "classical"}
    listing = "; ".join(
        f"{m} ({roles.get(m, '?')}) {v:.3f} [{intervals[m][0]:.3f}, {intervals[m][1]:.3f}]"
        for m, v in sorted(scores.items(), key=lambda kv: -kv[1])
    )
    base = dict(claim=claim, statistic=statistic, rule=SBERT_RULE, values=scores, intervals=intervals,
                n_llm=len(llm), n_classical=len(classical))
    if not llm:
        return Verdict(verdict="cannot be judged (no LLM in the agreement results)", evidence=listing,
                       outcome="cannot_judge", **base)
    if not classical:
        return Verdict(
            verdict="cannot be judged with these models: no classical model besides SBERT to compare with "
            "(add e.g. GloVe or USE)", evidence=listing, outcome="cannot_judge", **base)
    outcome, agreeing, close, top_name = _sbert_rule(scores, intervals, roles)
    checks: dict[str, tuple[str, list[str]]] = {}
    for m, p in SBERT_MEASURES:
        if (m, p) == (measure, pairs):
            continue
        s2, i2 = _with_sbert(agreement, sbert, m, p)
        o2, a2, _, _ = _sbert_rule(s2, i2, roles)
        if o2 != "cannot_judge":
            checks[m] = (o2, a2)
    variants = sorted(set(agreement["variant"]) - {"raw"}) if "variant" in agreement else []
    for v in variants:  # the primary statistic on centred / standardised vectors
        s2, i2 = _with_sbert(agreement, sbert, measure, pairs, v)
        o2, a2, _, _ = _sbert_rule(s2, i2, roles)
        if o2 != "cannot_judge":
            checks[f"{measure} after {v}"] = (o2, a2)
    primary_holds = outcome == "holds"
    disagree = sorted(m for m, (o2, _) in checks.items() if (o2 == "holds") != primary_holds)
    if disagree:
        other_side = "holds" if not primary_holds else "does not hold"
        who = sorted({w for m in disagree for w in checks[m][1]})
        verdict = (f"depends on the measure: {'holds' if primary_holds else 'does not hold'} on {measure} of "
                   f"{pairs}-pair cosines, {other_side} on {', '.join(disagree)}"
                   + (f" ({', '.join(who)})" if who and not primary_holds else ""))
        outcome = "depends_on_measure"
    elif agreeing:
        verdict = (f"holds: {', '.join(agreeing)} {'agrees' if len(agreeing) == 1 else 'agree'} with SBERT at least "
                   "as much as the best other classical "
                   f"model ({top_name})")
    elif close:
        verdict = (f"does not hold, narrowly: {', '.join(close)} {'agrees' if len(close) == 1 else 'agree'} with "
                   f"SBERT less than {top_name}, but {'its interval overlaps' if len(close) == 1 else 'their intervals overlap'}")
    else:
        verdict = f"does not hold: every LLM agrees with SBERT less than the best other classical model ({top_name})"
    evidence = f"{measure} of cosines with {', '.join(sbert)} over {pairs} pairs of shared words: {listing}."
    for m, p in SBERT_MEASURES[1:] if (measure, pairs) == SBERT_MEASURES[0] else SBERT_MEASURES:
        if (m, p) == (measure, pairs):
            continue
        s2, _ = _with_sbert(agreement, sbert, m, p)
        if s2:
            evidence += f" {m}: " + "; ".join(f"{k} {v:.3f}" for k, v in sorted(s2.items(), key=lambda kv: -kv[1])) + "."
    for v in variants:
        s2, _ = _with_sbert(agreement, sbert, measure, pairs, v)
        if s2:
            evidence += f" {measure} after {v}: " + "; ".join(
                f"{k} {x:.3f}" for k, x in sorted(s2.items(), key=lambda kv: -kv[1])) + "."
    if "pairs" in agreement:
        s2, _ = _with_sbert(agreement, sbert, measure, "related")
        if s2 and pairs != "related":
            evidence += (f" {measure} on related pairs (not used by the rule: every model ranks related pairs high): "
                         + "; ".join(f"{k} {v:.3f}" for k, v in sorted(s2.items(), key=lambda kv: -kv[1])) + ".")
    return Verdict(verdict=verdict, evidence=evidence, outcome=outcome,
                   llm_mean=float(np.mean(list(llm.values()))),
                   classical_mean=float(np.mean(list(classical.values()))), **base)


def scale_correlations(table: pd.DataFrame, columns: Sequence[str]) -> pd.DataFrame:
    """Spearman correlation of log parameter count with each metric across models (descriptive only)."""
    rows = []
    logp = np.log10(table["params"].astype(float)) if "params" in table else pd.Series(dtype=float)
    for column in columns:
        if column not in table:
            continue
        ok = np.isfinite(logp) & np.isfinite(table[column].astype(float))
        n = int(ok.sum())
        rho = float(stats.spearmanr(logp[ok], table.loc[ok, column].astype(float))[0]) if n >= 3 else float("nan")
        rows.append({"metric": column, "models": n, "spearman_with_log_params": rho})
    return pd.DataFrame(rows, columns=["metric", "models", "spearman_with_log_params"])


SCALE_METRICS = ("auroc_centered", "bats_3CosAdd", "bats_3CosAdd_sem", "rho_simlex999")
SCALE_RULE = (
    "For each headline metric (centred AUROC, BATS 3CosAdd overall and semantic, SimLex-999 ρ): an ordinary "
    "least-squares fit across the models (random-weight controls left out) of metric = a + b·[LLM] + "
    "c·log10(params); b is the LLM − classical difference at fixed size. Its p is an exact two-sided permutation "
    "p over every relabelling of which models are LLMs (each model keeps its size and value), its interval the "
    "central 1 − α/m bootstrap interval over models resampled within each side; each of the m metrics is "
    "tested at α/m (Bonferroni). Kind matters at fixed size: on some metric p < α/m and the interval excludes "
    "0. Consistent with size alone: the design can decide and no metric does so. Cannot separate with these "
    f"models: fewer than {MIN_MODELS} models, fewer than {MIN_PER_SIDE} on a side, the two sides' parameter "
    "ranges do not overlap (b would be an extrapolation), or the smallest achievable p is not below α/m; the "
    "defined models that would decide are named. Decoders and LLM-embedding models are also fitted alone "
    "against the classical models, and within-family slopes per 10× parameters are given (reported, not part "
    "of the rule)."
)


def _fits_text(fits: Sequence[ScaleFit]) -> str:
    """The fits of one contrast over the metrics; a design problem they share is said once, and numbers of a
    design that cannot decide are marked as not read."""
    label = fits[0].label[0].upper() + fits[0].label[1:]
    if all(f.outcome == "cannot_separate" for f in fits) and len({f.reason for f in fits}) == 1:
        numbers = "; ".join(f"{f.metric} {f.short()}" for f in fits if math.isfinite(f.effect))
        return (f"{label} vs classical: cannot separate, {fits[0].reason}"
                + (f"; the fit's numbers, not read: {numbers}" if numbers else "") + ".")
    parts = []
    for f in fits:
        text = f"{f.metric}: {f.verdict}"
        if f.outcome == "cannot_separate":
            text += f" ({f.reason}" + (f"; not read: {f.short()})" if math.isfinite(f.effect) else ")")
        else:
            text += f", {f.short()} ({f.reason})"
        parts.append(text)
    return f"{label} vs classical: " + "; ".join(parts) + "."


def _need(fit: ScaleFit) -> str:
    """What would decide, in words, for a design that cannot."""
    if fit.design == "no_overlap":
        kind = [fit.params[m] for m in fit.models if fit.models[m] in LLM_FAMILIES]
        cls = [fit.params[m] for m in fit.models if fit.models[m] in CLASSICAL_FAMILIES]
        if min(kind) > max(cls):
            return (f"a classical model above {format_count(min(kind))} parameters or an LLM below "
                    f"{format_count(max(cls))} would decide")
        return (f"a classical model below {format_count(max(kind))} parameters or an LLM above "
                f"{format_count(min(cls))} would decide")
    if fit.design == "one_model":
        return "a second model on the side with one would decide"
    if fit.design == "min_p":
        return "more models on either side would let the test reach α"
    return "more models would decide"


def claim_scale(
    table: pd.DataFrame,
    columns: Sequence[str],
    registry: Mapping[str, Sequence[Any]] | None = None,
    *,
    n_boot: int = 4000,
    seed: int = 0,
) -> Verdict:
    """Read the fits of :func:`wordembed.analyses.scale.fit_scale` (LLM vs classical; decoders and LLM-embedding
    models alone as evidence). ``registry`` (key -> (role, params[, family]), e.g. :func:`model_registry`): the
    defined models, to name the ones that would decide."""
    claim = "The LLM/classical difference is only scale"
    alpha = THRESHOLDS["alpha"]
    metrics = [c for c in columns if c in table]
    each = alpha / max(1, len(metrics))
    trained = table[~is_control(table)]
    params = pd.to_numeric(trained["params"], errors="coerce") if "params" in trained else pd.Series(dtype=float)
    part = trained[trained["role"].isin(["llm", "classical"]) & np.isfinite(params)]
    llm, classical = part[part["role"] == "llm"], part[part["role"] == "classical"]
    base = dict(claim=claim, rule=SCALE_RULE, n_llm=len(llm), n_classical=len(classical))
    sizes = {str(m): float(p) for m, p in zip(part["model"], part["params"], strict=True)}
    if llm.empty or classical.empty or not metrics:
        why = "models of both kinds with parameter counts" if metrics else "a headline metric to fit"
        return Verdict(verdict=f"cannot be judged (needs {why})", evidence="", outcome="cannot_judge",
                       statistic="params", values=sizes, **base)
    ranges = (f"LLMs {format_count(llm['params'].min())}–{format_count(llm['params'].max())}, classical "
              f"{format_count(classical['params'].min())}–{format_count(classical['params'].max())}")
    fits = [fit_scale(table, m, "llm", registry, alpha=each, n_boot=n_boot, seed=seed) for m in metrics]
    by_family = {c: [fit_scale(table, m, c, registry, alpha=each, n_boot=n_boot, seed=seed) for m in metrics]
                 for c in ("decoder", "llm-embedding")}
    kind = [f for f in fits if f.outcome == "kind_matters"]
    decided = [f for f in fits if f.outcome != "cannot_separate"]
    need = ""
    if kind:
        primary = min(kind, key=lambda f: (f.p_value, -abs(f.effect)))
        outcome = "kind_matters"
        verdict = "not only scale: kind matters at fixed size (" + ", ".join(
            f"{f.metric}: LLMs {'higher' if f.effect > 0 else 'lower'}" for f in kind) + ")"
    elif decided:
        primary = min(decided, key=lambda f: (f.p_value, -abs(f.effect)))
        outcome = "size_alone"
        verdict = ("consistent with size alone: on no metric is the LLM − classical difference at fixed size "
                   "distinguishable from zero")
    else:
        primary = max(fits, key=lambda f: (f.n_kind + f.n_classical, -metrics.index(f.metric)))
        outcome = "cannot_separate"
        if primary.design == "no_overlap":
            bigger = "larger" if llm["params"].min() > classical["params"].max() else "smaller"
            verdict = (f"cannot separate size from kind with these models: every LLM is {bigger} than every "
                       "classical model")
        else:
            verdict = f"cannot separate size from kind with these models: {primary.reason}"
        need = _need(primary) if primary.models else "more models would decide"
        need += (f"; of the defined models: {', '.join(primary.deciding)}" if primary.deciding
                 else "; no model defined in params/models is such a model")
    slopes = pd.concat([within_family_slopes(table, m) for m in metrics], ignore_index=True)
    slope_text = "; ".join(
        f"{family} ({part['models'].iloc[0][0]} → {part['models'].iloc[0][-1]}, {part['n_models'].max()} models): "
        + ", ".join(f"{r.metric} {r.slope:+.3f}" for r in part.itertuples())
        for family, part in slopes.groupby("family", sort=False))
    # a family contrast is only news when its models differ from the LLM side's
    shown = [fs for fs in by_family.values()
             if not (fs[0].outcome == "cannot_separate" and fs[0].design == "no_side")
             and set(fs[0].models) != set(fits[0].models)]
    evidence = " ".join(filter(None, [
        f"Parameter ranges: {ranges}" + (f"; {need}." if need else "."),
        f"Fits of metric = a + b·[kind] + c·log10(params), b [{1 - each:.1%} interval], each metric at "
        f"α/{len(metrics)} = {each:.4g}: " + _fits_text(fits),
        f"Models of the fit: {', '.join(primary.rests_on())}.",
        " ".join(_fits_text(fs) for fs in shown),
        f"Within-family slopes per 10× parameters: {slope_text}." if slope_text else "",
    ]))
    values = primary.values
    kind_side = [v for m, v in values.items() if primary.models[m] in LLM_FAMILIES]
    cls_side = [v for m, v in values.items() if primary.models[m] in CLASSICAL_FAMILIES]
    return Verdict(
        verdict=verdict, evidence=evidence, outcome=outcome,
        statistic=f"{primary.metric}: LLM − classical at fixed log10(params) (OLS)",
        p_value=primary.p_value, min_p=primary.min_p, values=values,
        llm_mean=float(np.mean(kind_side)) if kind_side else float("nan"),
        classical_mean=float(np.mean(cls_side)) if cls_side else float("nan"),
        estimate=primary.effect, ci_low=primary.ci_low, ci_high=primary.ci_high, rests_on=primary.rests_on(),
        **base,
    )


def verdicts(
    table: pd.DataFrame,
    agreement: pd.DataFrame | None,
    sbert: Sequence[str],
    registry: Mapping[str, tuple[str, float]] | None = None,
) -> list[Verdict]:
    """The four claims; random-weight controls are left out of every one (their role is "control")."""
    control = is_control(table)
    roles = {m: ("control" if c else r) for m, r, c in zip(table["model"], table["role"], control, strict=True)}
    scale_metrics = [c for c in SCALE_METRICS if c in table]
    return [
        claim_tighter_clusters(table),
        claim_bats(table),
        claim_agree_with_sbert(agreement, roles, sbert),
        claim_scale(table, scale_metrics, registry),
    ]


def model_registry() -> dict[str, tuple[str, float, str]]:
    """key -> (role, parameter count, family) of every model YAML in params/models (for "which models would
    decide"; random-weight controls have no YAML and are never named)."""
    from wordembed.models.spec import list_specs

    return {s.key: (s.role, float(s.params) if s.params else float("nan"), s.family) for s in list_specs()}


def verdict_table(checked: Sequence[Verdict]) -> pd.DataFrame:
    return pd.DataFrame([v.row() for v in checked])


# ----------------------------------------------------------------------------------------------------------
# Families, matched pairs, random-weight controls


# Every headline metric, for the family means and the minus-control table.
HEADLINE_METRICS = (
    "anisotropy", "auroc", "auroc_centered", "auroc_standardized", "separation_centered", "bats_3CosAdd",
    "bats_3CosAdd_morph", "bats_3CosAdd_sem", "google_3CosAdd", "rho_simlex999", "rho_men",
)  # fmt: skip
# (label, families): each family alone, then the paper's two sides
FAMILY_GROUPS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("static", ("static",)),
    ("encoder", ("encoder",)),
    ("classical (static + encoder)", CLASSICAL_FAMILIES),
    ("decoder", ("decoder",)),
    ("llm-embedding", ("llm-embedding",)),
    ("LLM (decoder + llm-embedding)", LLM_FAMILIES),
)


def family_table(table: pd.DataFrame, columns: Sequence[str] = HEADLINE_METRICS) -> pd.DataFrame:
    """Mean of each metric per family and per side, controls left out.

    Why both: the paper's "LLM" side averages API embedding models with raw decoder hidden states, which hides
    the difference that matters most; each family's own mean shows it. One row per group with a model.
    """
    trained = table[~is_control(table)]
    fam = trained["family"] if "family" in trained else pd.Series("", index=trained.index)
    rows = []
    for label, families in FAMILY_GROUPS:
        part = trained[fam.isin(families)]
        if part.empty:
            continue
        params = pd.to_numeric(part["params"], errors="coerce")
        row: dict[str, Any] = {"group": label, "models": len(part), "members": ", ".join(part["model"]),
                               "params_min": float(params.min()), "params_max": float(params.max())}
        for column in columns:
            if column in part:
                row[column] = float(pd.to_numeric(part[column], errors="coerce").mean())
        rows.append(row)
    return pd.DataFrame(rows)


@dataclass(frozen=True)
class MatchedPair:
    """Two models that differ (mostly) in one factor; the table reports ``a`` minus ``b``."""

    a: str
    b: str
    isolates: str
    note: str


MATCHED_PAIRS: tuple[MatchedPair, ...] = (
    MatchedPair("smollm2-135m", "mpnet", "kind at similar size", "a 135M decoder against a 109M sentence encoder"),
    MatchedPair("smollm2-135m", "minilm", "kind, 6x apart in size", "a 135M decoder against a 23M sentence encoder"),
    MatchedPair("embeddinggemma-300m", "gemma3-270m", "objective at fixed size",
                "one Gemma-3 backbone trained as an embedding model against the causal LM: kind at fixed size"),
    MatchedPair("qwen2.5-coder-1.5b", "qwen2.5-coder-0.5b", "size within a family",
                "one family and training recipe, 3.1x the parameters"),
)

MATCHED_COLUMNS = ["pair", "isolates", "note", "model_a", "model_b", "family_a", "family_b", "params_a", "params_b",
                   "size_ratio", "metric", "value_a", "value_b", "difference", "ci_low_a", "ci_high_a", "ci_low_b",
                   "ci_high_b", "intervals_overlap"]


def matched_pairs(
    table: pd.DataFrame, columns: Sequence[str] = HEADLINE_METRICS, pairs: Sequence[MatchedPair] = MATCHED_PAIRS
) -> pd.DataFrame:
    """One row per (pair, metric) for the pairs whose two models are both in ``table`` (controls never are).

    ``difference`` is a minus b; ``intervals_overlap`` says whether the two models' intervals (over relations
    or pairs) overlap, None where a metric has none. A pair says more than a fit over kinds where the fit
    cannot decide, and less where it can: it is two models.
    """
    trained = table[~is_control(table)].set_index("model")
    rows = []
    for pair in pairs:
        if pair.a not in trained.index or pair.b not in trained.index:
            continue
        ra, rb = trained.loc[pair.a], trained.loc[pair.b]
        pa, pb = float(ra.get("params", np.nan)), float(rb.get("params", np.nan))
        for column in columns:
            if column not in trained:
                continue
            va, vb = float(ra[column]), float(rb[column])
            lo, hi = f"{column}_ci_low", f"{column}_ci_high"
            ia = (float(ra.get(lo, np.nan)), float(ra.get(hi, np.nan)))
            ib = (float(rb.get(lo, np.nan)), float(rb.get(hi, np.nan)))
            has = all(math.isfinite(v) for v in (*ia, *ib))
            rows.append({
                "pair": f"{pair.a} − {pair.b}", "isolates": pair.isolates, "note": pair.note,
                "model_a": pair.a, "model_b": pair.b, "family_a": ra.get("family", ""),
                "family_b": rb.get("family", ""), "params_a": pa, "params_b": pb,
                "size_ratio": pa / pb if pb else float("nan"), "metric": column, "value_a": va, "value_b": vb,
                "difference": va - vb, "ci_low_a": ia[0], "ci_high_a": ia[1], "ci_low_b": ib[0], "ci_high_b": ib[1],
                "intervals_overlap": (ia[0] <= ib[1] and ib[0] <= ia[1]) if has else None,
            })
    return pd.DataFrame(rows, columns=MATCHED_COLUMNS)


def readable_pairs(long: pd.DataFrame, columns: Sequence[str] | None = None) -> pd.DataFrame:
    """The matched pairs as a reader sees them: one row per pair, a − b per metric ('+0.031', with '*' where the
    two models' intervals do not overlap)."""
    if long.empty:
        return pd.DataFrame()
    shown = [c for c in (columns or list(dict.fromkeys(long["metric"]))) if c in set(long["metric"])]
    out = []
    for pair, part in long.groupby("pair", sort=False):
        first = part.iloc[0]
        row = {"pair": pair, "isolates": first["isolates"],
               "sizes": f"{format_count(first['params_a'])} vs {format_count(first['params_b'])}"}
        by_metric = part.set_index("metric")
        for column in shown:
            d = float(by_metric.loc[column, "difference"])
            overlap = by_metric.loc[column, "intervals_overlap"]
            apart = overlap is not None and not pd.isna(overlap) and not bool(overlap)
            row[METRIC_LABELS.get(column, column)] = "n/a" if not math.isfinite(d) else f"{d:+.3f}" + (
                "*" if apart else "")
        out.append(row)
    return pd.DataFrame(out).set_index("pair")


CONTROL_COLUMNS = ["model", "control", "metric", "value", "control_value", "difference"]


def control_differences(table: pd.DataFrame, columns: Sequence[str] = HEADLINE_METRICS) -> pd.DataFrame:
    """Every headline metric of a trained model minus that of its random-weight control (``KEY@random``).

    Why: a random decoder with the same tokenizer and architecture already solves many inflectional analogies
    by sub-word pooling; the difference is what training added. One row per (control, metric) whose trained
    model is in ``table``.
    """
    control = is_control(table)
    trained = table[~control].set_index("model")
    rows = []
    for row in table[control].itertuples(index=False):
        base = row.control_of
        if base not in trained.index:
            continue
        for column in columns:
            if column not in table:
                continue
            value, ctl = float(trained.loc[base, column]), float(getattr(row, column))
            rows.append({"model": base, "control": row.model, "metric": column, "value": value,
                         "control_value": ctl, "difference": value - ctl})
    return pd.DataFrame(rows, columns=CONTROL_COLUMNS)


def readable_controls(long: pd.DataFrame) -> pd.DataFrame:
    """The minus-control table as a reader sees it: one row per control (a model may have one per seed),
    trained − control per metric."""
    if long.empty:
        return pd.DataFrame()
    order = list(dict.fromkeys(long["metric"]))
    wide = long.pivot(index="control", columns="metric", values="difference").reindex(columns=order)
    wide.index = [f"{m} − {c}" for c, m in zip(wide.index, long.drop_duplicates("control").set_index("control")
                                                  .loc[wide.index, "model"], strict=True)]
    wide.columns = [METRIC_LABELS.get(c, c) for c in wide.columns]
    return wide.map(lambda v: "n/a" if not math.isfinite(v) else f"{v:+.3f}")


FAMILY_STYLE: dict[str, tuple[str, str]] = {  # colour, marker
    "static": ("#7f7f7f", "s"), "encoder": ("#1f77b4", "o"), "decoder": ("#d62728", "^"),
    "llm-embedding": ("#9467bd", "D"),
}  # fmt: skip


def scale_figure(
    table: pd.DataFrame, columns: Sequence[str], fits: Mapping[str, ScaleFit] | None = None, ncols: int = 2
) -> Any:
    """Each metric against parameter count (log axis): one colour per family, a line through a family's sizes
    (the within-family slope), each random-weight control as a black x below or above its trained model with a
    dotted connector (the minus-control difference), and the fit's kind effect at fixed size in the title.

    ``ncols`` panels per row. Returns the matplotlib figure. Lines carry a ``gid`` (``family:decoder``, ``control:KEY@random``) so what
    is drawn can be checked.
    """
    import matplotlib.pyplot as plt
    from matplotlib.ticker import LogLocator

    shown = [c for c in columns if c in table]
    cols = max(1, min(ncols, len(shown)))
    nrows = max(1, math.ceil(len(shown) / cols))
    fig, axes = plt.subplots(nrows, cols, figsize=(5.2 * cols, 3.9 * nrows), squeeze=False)
    for ax in axes.flat[len(shown):]:
        ax.set_visible(False)
    params = pd.to_numeric(table["params"], errors="coerce").to_numpy(dtype=float)
    control = is_control(table)
    fam = (table["family"] if "family" in table else pd.Series("", index=table.index)).to_numpy()
    models = table["model"].astype(str).to_numpy()
    handles: dict[str, Any] = {}
    for ax, column in zip(axes.flat, shown, strict=False):
        y = pd.to_numeric(table[column], errors="coerce").to_numpy(dtype=float)
        ok = np.isfinite(params) & (params > 0) & np.isfinite(y)
        for family in FAMILIES:
            sel = ok & ~control & (fam == family)
            if not sel.any():
                continue
            order = np.argsort(params[sel])
            xs, ys, names = params[sel][order], y[sel][order], models[sel][order]
            colour, marker = FAMILY_STYLE[family]
            handles[family] = ax.scatter(xs, ys, color=colour, marker=marker, s=50, zorder=3, label=family)
            if np.unique(xs).size >= 2:
                ax.plot(xs, ys, color=colour, lw=1.3, alpha=0.75, zorder=2, gid=f"family:{family}")
            for xv, yv, name in zip(xs, ys, names, strict=True):
                ax.annotate(name, (xv, yv), fontsize=6.5, xytext=(3, 3), textcoords="offset points")
        index = {m: i for i, m in enumerate(models)}
        for i in np.flatnonzero(ok & control):
            handles["random-weight control"] = ax.scatter(params[i], y[i], color="black", marker="x", s=40,
                                                          zorder=4, label="random-weight control")
            j = index.get(str(table["control_of"].iloc[i]))
            if j is not None and ok[j]:
                ax.plot([params[i], params[j]], [y[i], y[j]], color="black", lw=0.8, ls=":", zorder=1,
                        gid=f"control:{models[i]}")
        ax.set_xscale("log")
        ax.margins(x=0.12)  # room for the labels of the largest models
        ax.xaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
        ax.xaxis.set_major_formatter(plt.FuncFormatter(lambda v, _: format_count(v)))
        ax.xaxis.set_minor_formatter(plt.NullFormatter())
        ax.set_xlabel("parameters")
        ax.set_ylabel(column)
        title = column
        fit = (fits or {}).get(column)
        if fit is not None and math.isfinite(fit.effect):
            title += f"\nLLM {fit.effect:+.3f} at fixed size, p = {fit.p_value:.2f}" + (
                " (cannot separate)" if fit.outcome == "cannot_separate" else "")
        ax.set_title(title, fontsize=9)
    if handles:
        fig.legend(list(handles.values()), list(handles), loc="lower center", ncol=len(handles), frameon=False,
                   fontsize=8)
    fig.tight_layout(rect=(0, 0.06 / nrows if handles else 0, 1, 1))
    return fig


# ----------------------------------------------------------------------------------------------------------
# Reading copy


def format_interval(value: float, low: float, high: float, digits: int = 3) -> str:
    """'0.288 [0.19, 0.30]': the estimate to ``digits`` places, the interval to two."""
    if not math.isfinite(value):
        return "n/a"
    if not (math.isfinite(low) and math.isfinite(high)):
        return f"{value:.{digits}f}"
    return f"{value:.{digits}f} [{low:.2f}, {high:.2f}]"


HEADLINE_COLUMNS: dict[str, str] = {
    "auroc": "AUROC raw",
    "auroc_centered": "AUROC centred",
    "auroc_standardized": "AUROC z-scored",
    "separation_centered": "separation centred",
    "bats_3CosAdd": "BATS 3CosAdd",
    "bats_3CosAdd_morph": "morph",
    "bats_3CosAdd_sem": "sem",
}


# Short names of every headline metric, for the tables a reader sees.
METRIC_LABELS: dict[str, str] = {
    "anisotropy": "anisotropy", **HEADLINE_COLUMNS, "google_3CosAdd": "Google", "rho_simlex999": "SimLex ρ",
    "rho_men": "MEN ρ",
}


def readable_headline(table: pd.DataFrame) -> pd.DataFrame:
    """The headline table as a reader sees it: a few columns, intervals inline, sizes as 22.7M."""
    family = table["family"] if "family" in table else table["role"]
    out = pd.DataFrame({"model": table["model"], "family": family,
                        "params": [format_count(p) for p in table["params"]],
                        "anisotropy": [f"{a:.3f}" if math.isfinite(a) else "n/a" for a in table["anisotropy"]]})
    if "rogue_top1" in table:
        out["top-1 dim share"] = [f"{a:.2f}" if math.isfinite(a) else "n/a" for a in table["rogue_top1"]]
    for column, label in HEADLINE_COLUMNS.items():
        if column not in table:
            continue
        lo, hi = f"{column}_ci_low", f"{column}_ci_high"
        out[label] = [
            format_interval(float(r[column]), float(r.get(lo, np.nan)), float(r.get(hi, np.nan)))
            for _, r in table.iterrows()
        ]
    for column, label in (("google_3CosAdd", "Google"), ("rho_simlex999", "SimLex ρ"), ("rho_men", "MEN ρ")):
        if column in table:
            out[label] = [f"{v:.3f}" if math.isfinite(v) else "n/a" for v in table[column].astype(float)]
    return out.set_index("model")


# ----------------------------------------------------------------------------------------------------------
# The report notebook (06): everything it shows, from the study's long scores table


def readable_verdicts(checked: Sequence[Verdict], trained: pd.DataFrame) -> str:
    """The verdicts as the report opens: each claim, its outcome, the kind means and every model's value with
    its interval (``0.288 [0.19, 0.30]``), then the evidence and the rule in small type."""
    sides = f"{(trained.role == 'llm').sum()} LLM(s) and {(trained.role == 'classical').sum()} classical model(s)"
    parts = [f"*{sides}; significance level α = {THRESHOLDS['alpha']}. With so few models a kind-level difference is "
             "a description of these models; the exact permutation p over role labels and the smallest p the design "
             "allows are given.*"]  # fmt: skip
    for v in checked:
        values = "; ".join(
            f"{m} {format_interval(x, *v.intervals.get(m, (float('nan'), float('nan'))))}"
            for m, x in sorted(v.values.items(), key=lambda kv: -kv[1])
        )
        means = (f"LLMs {_fmt(v.llm_mean)} (n={v.n_llm}) vs classical {_fmt(v.classical_mean)} (n={v.n_classical})"
                 if math.isfinite(v.llm_mean) else "")  # fmt: skip
        head = f"**{v.claim}: {v.verdict}.**"
        lines = [head, f"{v.statistic}: {means}" + (f"; {values}" if values else "") if means or values else ""]
        lines += [v.evidence, f"<small>Rule: {v.rule}</small>"]
        parts.append("\n\n".join(line for line in lines if line))
    return "\n\n".join(parts)


@dataclass
class StudyReport:
    """Notebook 06 as one object: the headline table, the verdicts and every table and figure beside them,
    all computed from :func:`wordembed.results.load_results` of the study's output folder (and the models'
    cards): the report reads no other file another notebook wrote, except the per-bin ``histogram`` tables of
    notebook 02 through the same function (``table="histogram"``), for the distribution figure."""

    models: list[str]
    scores: pd.DataFrame
    table: pd.DataFrame
    checked: list[Verdict]
    families: pd.DataFrame
    pairs: pd.DataFrame
    controls: pd.DataFrame
    scale: pd.DataFrame
    slopes: pd.DataFrame
    fits: list[ScaleFit]
    agreement: pd.DataFrame | None
    histogram: pd.DataFrame
    labels: dict[str, str] = field(default_factory=dict)

    @classmethod
    def build(cls, root: str | Path, models: Sequence[str], registry: Mapping[str, Sequence[Any]] | None = None) -> StudyReport:
        """Read the study under ``root`` for ``models`` (keys or YAML paths) and compute every table."""
        from wordembed.analyses.scale import fits_table, scale_fits
        from wordembed.models.spec import load_spec
        from wordembed.results import load_results
        from wordembed.tasks.agreement import agreement_table

        specs = {load_spec(m).key: load_spec(m) for m in models}
        scores = load_results(root)
        table = headline_table(scores, model_cards(specs))
        registry = model_registry() if registry is None else registry
        agreement = agreement_table(scores) if (scores["task"] == "agreement").any() else None
        sbert = sbert_references(specs)
        shown = [c for c in SCALE_METRICS if c in table]
        fits = scale_fits(table, shown, registry=registry, alpha=THRESHOLDS["alpha"])
        slopes = [within_family_slopes(table, c) for c in shown]
        histogram = load_results(root, table="histogram")
        if "model" in histogram:  # the study's order, not the folders'
            histogram = pd.concat([histogram[histogram["model"] == m] for m in specs], ignore_index=True)
        return cls(
            models=list(specs), scores=scores, table=table, checked=verdicts(table, agreement, sbert, registry),
            families=family_table(table), pairs=matched_pairs(table[~is_control(table)]),
            controls=control_differences(table), scale=fits_table(fits),
            slopes=pd.concat(slopes, ignore_index=True) if slopes else pd.DataFrame(), fits=fits,
            agreement=agreement, histogram=histogram, labels={k: f"{k} ({s.family})" for k, s in specs.items()},
        )  # fmt: skip

    @property
    def trained(self) -> pd.DataFrame:
        """The headline rows of trained models (random-weight controls are shown, never counted)."""
        return self.table[~is_control(self.table)]

    def verdicts_markdown(self) -> str:
        return readable_verdicts(self.checked, self.trained)

    def headline(self) -> pd.DataFrame:
        return readable_headline(self.table)

    def family_view(self) -> pd.DataFrame:
        sizes = [f"{format_count(a)}–{format_count(b)}"
                 for a, b in zip(self.families["params_min"], self.families["params_max"], strict=True)]  # fmt: skip
        shown = self.families.drop(columns=["params_min", "params_max", "members"]).set_index("group")
        shown.insert(1, "params", sizes)
        return shown.rename(columns=METRIC_LABELS).round(3)

    def pairs_view(self) -> Any:
        if len(self.pairs):
            return readable_pairs(self.pairs, [*HEADLINE_COLUMNS, "rho_simlex999", "rho_men"])
        return _markdown("*None of the matched pairs has both of its models in this study (the `extended` study "
                         "has all four).*")  # fmt: skip

    def controls_view(self) -> Any:
        if len(self.controls):
            return readable_controls(self.controls)
        return _markdown("*No random-weight control in this study (add `KEY@random` models to compare with).*")

    def scale_view(self) -> pd.DataFrame:
        columns = ["metric", "contrast", "verdict", "effect", "ci_low", "ci_high", "p_value", "min_p", "size_slope",
                   "n_kind", "n_classical", "reason", "deciding"]  # fmt: skip
        return self.scale[[c for c in columns if c in self.scale]].round(3)

    def figure(self, name: str) -> Any:
        """One of the report's figures (``distributions``, ``related_by_group``, ``bats``, ``agreement``,
        ``scale``), or None when the study has no results for it."""
        from wordembed import plots
        from wordembed.tasks.agreement import agreement_matrices

        s = self.scores
        if name == "distributions":
            return plots.distributions_by_model(self.histogram, self.labels) if len(self.histogram) else None
        if name == "related_by_group":
            part = s[(s["task"] == "related_pairs") & s["model"].isin(self.models)]
            return plots.related_by_group(part, self.models) if len(part) else None
        if name == "bats":
            part = s[(s["task"] == "analogies") & s["model"].isin(self.models)]
            return plots.bats_by_model(part, order=self.models) if len(part) else None
        if name == "agreement":
            keys = ("spearman_random", "spearman_related", "knn_jaccard", "cka_debiased")
            return plots.agreement_heatmaps(agreement_matrices(s), keys) if self.agreement is not None else None
        if name == "scale":
            shown = [c for c in SCALE_METRICS if c in self.table]
            if not shown or not self.table["params"].notna().any():
                return None
            return scale_figure(self.table, shown, {f.metric: f for f in self.fits if f.contrast == "llm"})
        raise ParameterError(f"report figure {name!r}; valid: distributions, related_by_group, bats, agreement, scale")

    def show(self, name: str, out: str | Path) -> None:
        """Draw figure ``name``, save it (PNG + SVG) under ``out`` and display it; nothing when it has no data."""
        import matplotlib.pyplot as plt

        from wordembed.results import save_figure

        fig = self.figure(name)
        if fig is not None:
            save_figure(out, name, fig)
            plt.show()

    def save(self, out: str | Path, study: str, failed_models: Sequence[str] = ()) -> Path:
        """Every table (CSV + Parquet) and ``metrics.json`` of the report."""
        from wordembed.results import write_metrics, write_table

        tables = {"verdicts": verdict_table(self.checked), "headline": self.table, "families": self.families,
                  "matched_pairs": self.pairs, "control_differences": self.controls, "scale": self.scale,
                  "within_family": self.slopes}  # fmt: skip
        related = self.scores[(self.scores["task"] == "related_pairs") & (self.scores["level"] == "group")]
        tables["related_by_group"] = related
        for name, frame in tables.items():
            write_table(out, name, frame)
        metrics = {"study": study, "models": self.models, "failed_models": list(failed_models),
                   "thresholds": THRESHOLDS, "headline": self.table.to_dict(orient="records")}  # fmt: skip
        metrics |= {name: frame.to_dict(orient="records") for name, frame in tables.items()
                    if name not in ("headline", "related_by_group")}  # fmt: skip
        write_metrics(out, metrics)
        return Path(out)


def _markdown(text: str) -> Any:
    from IPython.display import Markdown

    return Markdown(text)
