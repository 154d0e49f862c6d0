"""The cross-model report: one headline table from every model's metrics, and a verdict per paper claim.

The paper (Freestone & Karmaker Santu 2024) claims that LLM embeddings (1) cluster related words more tightly,
(2) score higher on BATS analogies, and (3) some agree with SBERT; (4) asks whether differences follow model
size rather than kind. Each verdict is a row of data: the statistic, each model's value and interval, the
means per kind with the number of models on each side, the exact permutation p over role labels (with three
models on a side no test can be significant, and the row says the smallest p the design allows), the decision
rule, and the outcome. Raw-cosine branches read raw AUROC (never raw mean cosines, which an anisotropic model
inflates for random pairs too); the anisotropy controls (centred, all-but-the-top, standardised) must agree
before a claim "holds".
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

SECTIONS: dict[str, str] = {
    "embed": "01_embed",
    "similarity": "02_similarity_distribution",
    "related": "03_related_pairs",
    "analogies": "04_analogies",
}
WORDSIM_COLUMNS = ("simlex999", "ws353", "men", "rw")
CONTROLS = ("centered", "abtt", "standardized")
# Decision thresholds, printed in the report next to the verdicts.
THRESHOLDS: dict[str, float] = {
    "alpha": 0.05,  # a permutation p below this is called significant (only reachable with enough models)
}


def collect_metrics(results_dir: str | Path, models: Sequence[str]) -> dict[str, dict[str, dict[str, Any]]]:
    """model -> section -> metrics.json contents ({} where a notebook has no results)."""
    root = Path(results_dir)
    out: dict[str, dict[str, dict[str, Any]]] = {}
    for model in models:
        out[model] = {}
        for section, notebook in SECTIONS.items():
            path = root / model / notebook / "metrics.json"
            out[model][section] = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
    return out


def _get(d: Mapping[str, Any], *keys: str) -> float:
    cur: Any = d
    for key in keys:
        if not isinstance(cur, Mapping) or key not in cur:
            return float("nan")
        cur = cur[key]
    try:
        return float(cur) if cur is not None else float("nan")
    except (TypeError, ValueError):
        return float("nan")


def _variant_key(section: Mapping[str, Any], control: str) -> str:
    """The metrics key of a post-processing variant: all-but-the-top is named by its D (``abtt4``)."""
    if control != "abtt":
        return control
    return next((k for k in section if k.startswith("abtt") and k[4:].isdigit()), "abtt")


def headline_table(collected: Mapping[str, Mapping[str, Mapping[str, Any]]]) -> pd.DataFrame:
    """One row per model: size, coverage, anisotropy, related-pair scores per variant, analogies, similarity.

    Interval columns end in ``_ci_low`` / ``_ci_high`` everywhere.
    """
    rows = []
    for model, m in collected.items():
        embed, sim, rel, ana = (m.get(s, {}) for s in ("embed", "similarity", "related", "analogies"))
        row: dict[str, Any] = {
            "model": model,
            "role": embed.get("role", ""),
            "params": embed.get("params"),
            "dims": embed.get("dims"),
            "coverage": _get(embed, "vocabulary_coverage"),
            "anisotropy": _get(sim, "anisotropy"),
            # share of the mean cosine carried by the single largest dimension (Timkey & van Schijndel 2021)
            "rogue_top1": _get(sim, "rogue_dimensions", "raw", "share_top1"),
            "rogue_top3": _get(sim, "rogue_dimensions", "raw", "share_top3"),
            "pairs_std": _get(sim, "variants", "raw", "std"),
            "pairs_std_centered": _get(sim, "variants", "centered", "std"),
            "related_mean": _get(rel, "raw", "all", "mean"),
            "random_mean": _get(rel, "raw", "random", "mean"),
        }
        for variant in ("raw", *CONTROLS):
            key = _variant_key(rel, variant)
            suffix = "" if variant == "raw" else f"_{variant}"
            for stat in ("auroc", "separation"):
                for level, short in (("all", ""), ("semantic", "_sem"), ("morphological", "_morph")):
                    path = ("all",) if level == "all" else ("kind", level)
                    base = f"{stat}{short}{suffix}"
                    row[base] = _get(rel, key, *path, stat)
                    if level == "all" or stat == "auroc":
                        row[f"{base}_ci_low"] = _get(rel, key, *path, f"{stat}_ci_low")
                        row[f"{base}_ci_high"] = _get(rel, key, *path, f"{stat}_ci_high")
        for method in ana.get("bats", {}).get("overall", {}):
            row[f"bats_{method}"] = _get(ana, "bats", "overall", method, "accuracy")
            row[f"bats_{method}_ci_low"] = _get(ana, "bats", "overall", method, "accuracy_low")
            row[f"bats_{method}_ci_high"] = _get(ana, "bats", "overall", method, "accuracy_high")
        for kind, short in (("morphological", "morph"), ("semantic", "sem")):
            row[f"bats_3CosAdd_{short}"] = _get(ana, "bats", "by_group", "3CosAdd", kind, "accuracy")
            row[f"bats_3CosAdd_{short}_ci_low"] = _get(ana, "bats", "by_group", "3CosAdd", kind, "accuracy_low")
            row[f"bats_3CosAdd_{short}_ci_high"] = _get(ana, "bats", "by_group", "3CosAdd", kind, "accuracy_high")
        controls = ana.get("controls", {})
        for variant in CONTROLS:  # 3CosAdd and SimLex on post-processed vectors (notebook 04)
            key = _variant_key(controls, variant)
            row[f"bats_3CosAdd_{variant}"] = _get(controls, key, "bats", "overall", "3CosAdd", "accuracy")
            row[f"bats_3CosAdd_{variant}_ci_low"] = _get(controls, key, "bats", "overall", "3CosAdd", "accuracy_low")
            row[f"bats_3CosAdd_{variant}_ci_high"] = _get(controls, key, "bats", "overall", "3CosAdd", "accuracy_high")
            row[f"rho_simlex999_{variant}"] = _get(
                controls, key, "word_similarity", "benchmarks", "simlex999", "spearman"
            )
        row["bats_coverage"] = _get(ana, "bats", "overall", "3CosAdd", "coverage")
        row["bats_candidates"] = _get(ana, "bats", "setup", "candidates", "size")
        row["google_3CosAdd"] = _get(ana, "google", "overall", "3CosAdd", "accuracy")
        for bench in WORDSIM_COLUMNS:
            row[f"rho_{bench}"] = _get(ana, "word_similarity", "benchmarks", bench, "spearman")
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
    """Kind means, exact permutation p over role labels and per-model values (with their intervals)."""
    part = table[table["role"].isin(["llm", "classical"])] if "role" in table else table.iloc[0:0]
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

    def row(self) -> dict[str, Any]:
        """A flat record (per-model values as JSON text) for the verdicts table."""
        d = asdict(self)
        d["values"] = json.dumps({k: round(v, 6) for k, v in self.values.items()})
        d["intervals"] = json.dumps({k: [round(a, 6), round(b, 6)] for k, (a, b) in self.intervals.items()})
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
        verdict = (f"holds: {', '.join(agreeing)} agree with SBERT at least as much as the best other classical "
                   f"model ({top_name})")
    elif close:
        verdict = (f"does not hold, narrowly: {', '.join(close)} agree with SBERT less than {top_name}, but their "
                   "intervals overlap")
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


SCALE_RULE = (
    "Size and kind can only be told apart when the kinds' parameter ranges overlap. Where they do, models "
    "inside the overlap are compared on each metric: 'kind matters at comparable size' when, on some metric, "
    "every LLM in the overlap is on the same side of every classical model in it, and the LLMs' side matches "
    "the overall kind difference; 'consistent with size alone' when no metric separates the kinds inside the "
    "overlap. Without overlap: cannot separate size from kind."
)


def deciding_models(
    table: pd.DataFrame, registry: Mapping[str, tuple[str, float]]
) -> tuple[float, float, list[str]]:
    """Models (``registry``: key -> (role, params), e.g. every YAML of params/models) that would put the two
    kinds' size ranges into overlap: classical models above the smallest LLM, LLMs below the largest classical
    model. Returns (smallest LLM, largest classical, the deciding models not already in ``table``)."""
    part = table[np.isfinite(table["params"].astype(float))]
    min_llm = float(part.loc[part["role"] == "llm", "params"].min())
    max_cls = float(part.loc[part["role"] == "classical", "params"].max())
    present = set(table["model"])
    found = [
        f"{key} ({role}, {format_count(params)})"
        for key, (role, params) in sorted(registry.items(), key=lambda kv: kv[1][1] or 0)
        if key not in present and params and math.isfinite(params)
        and ((role == "classical" and params > min_llm) or (role == "llm" and params < max_cls))
    ]
    return min_llm, max_cls, found


def claim_scale(
    table: pd.DataFrame, columns: Sequence[str], registry: Mapping[str, tuple[str, float]] | None = None
) -> Verdict:
    """``registry`` (key -> (role, params)): the models that could be added, to name the ones that would decide."""
    claim = "The LLM/classical difference is only scale"
    part = table[table["role"].isin(["llm", "classical"]) & np.isfinite(table["params"].astype(float))]
    llm, classical = part[part["role"] == "llm"], part[part["role"] == "classical"]
    base = dict(claim=claim, statistic="params", rule=SCALE_RULE, n_llm=len(llm), n_classical=len(classical),
                values={str(m): float(p) for m, p in zip(part["model"], part["params"], strict=True)})
    if llm.empty or classical.empty:
        return Verdict(verdict="cannot be judged (needs models of both kinds with parameter counts)",
                       evidence="", outcome="cannot_judge", **base)
    lo = max(llm["params"].min(), classical["params"].min())
    hi = min(llm["params"].max(), classical["params"].max())
    ranges = (f"LLMs {format_count(llm['params'].min())}–{format_count(llm['params'].max())}, classical "
              f"{format_count(classical['params'].min())}–{format_count(classical['params'].max())}")
    if lo > hi:
        if llm["params"].min() > classical["params"].max():
            need = (f"a classical model above {format_count(llm['params'].min())} parameters or an LLM below "
                    f"{format_count(classical['params'].max())} would decide")
            _, _, found = deciding_models(part, registry or {})
            need += (f"; of the defined models: {', '.join(found)}" if found
                     else "; no model defined in params/models is such a model")
        else:
            need = (f"an LLM above {format_count(classical['params'].min())} parameters or a classical model below "
                    f"{format_count(llm['params'].max())} would decide")
        return Verdict(
            verdict="cannot separate size from kind with these models: every LLM is "
            + ("larger" if llm["params"].min() > classical["params"].max() else "smaller")
            + " than every classical model",
            evidence=f"Parameter ranges: {ranges}; {need}.", outcome="cannot_separate", **base)
    inside = part[(part["params"] >= lo) & (part["params"] <= hi)]
    in_llm, in_cls = inside[inside["role"] == "llm"], inside[inside["role"] == "classical"]
    separating = []
    for column in columns:
        if column not in inside:
            continue
        a, c = in_llm[column].astype(float).dropna(), in_cls[column].astype(float).dropna()
        if a.empty or c.empty:
            continue
        overall = compare(table, column).direction
        if a.min() > c.max() and overall:
            separating.append(f"{column} (LLMs higher)")
        elif a.max() < c.min() and overall is False:
            separating.append(f"{column} (LLMs lower)")
    models = ", ".join(f"{r.model} ({r.role}, {format_count(r.params)})" for r in inside.itertuples())
    if in_llm.empty or in_cls.empty:
        return Verdict(verdict="cannot separate size from kind: no model of each kind inside the overlap",
                       evidence=f"Parameter ranges: {ranges}.", outcome="cannot_separate", **base)
    if separating:
        return Verdict(verdict="not only scale: kind matters at comparable size",
                       evidence=f"Overlap {format_count(lo)}–{format_count(hi)}: {models}. Separating metrics: "
                       f"{', '.join(separating)}. Parameter ranges: {ranges}.",
                       outcome="kind_matters", **base)
    return Verdict(verdict="consistent with size alone: no metric separates the kinds at comparable size",
                   evidence=f"Overlap {format_count(lo)}–{format_count(hi)}: {models}. Parameter ranges: {ranges}.",
                   outcome="size_alone", **base)


def verdicts(
    table: pd.DataFrame,
    agreement: pd.DataFrame | None,
    sbert: Sequence[str],
    registry: Mapping[str, tuple[str, float]] | None = None,
) -> list[Verdict]:
    roles = dict(zip(table["model"], table["role"], strict=True))
    scale_metrics = [c for c in ("auroc_centered", "bats_3CosAdd", "bats_3CosAdd_sem", "rho_simlex999") if c in table]
    return [
        claim_tighter_clusters(table),
        claim_bats(table),
        claim_agree_with_sbert(agreement, roles, sbert),
        claim_scale(table, scale_metrics, registry),
    ]


def model_registry() -> dict[str, tuple[str, float]]:
    """key -> (role, parameter count) of every model YAML in params/models (for "which models would decide")."""
    from wordembed.models.spec import list_specs

    return {s.key: (s.role, float(s.params) if s.params else float("nan")) for s in list_specs()}


def verdict_table(checked: Sequence[Verdict]) -> pd.DataFrame:
    return pd.DataFrame([v.row() for v in checked])


# ----------------------------------------------------------------------------------------------------------
# Reading copy


def format_count(n: float) -> str:
    """22713216 -> '22.7M', 1540000000 -> '1.54B'."""
    if n is None or not math.isfinite(float(n)):
        return "n/a"
    n = float(n)
    for unit, size in (("B", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(n) >= size:
            v = n / size
            return f"{v:.3g}{unit}" if v < 100 else f"{v:.0f}{unit}"
    return f"{n:.0f}"


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


def readable_headline(table: pd.DataFrame) -> pd.DataFrame:
    """The headline table as a reader sees it: a few columns, intervals inline, sizes as 22.7M."""
    out = pd.DataFrame({"model": table["model"], "role": table["role"],
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
