"""The cross-model report: one headline table from every model's metrics, and a verdict per paper claim.

The paper (Freestone & Karmaker Santu 2024) claims that LLM embeddings (1) cluster related words more tightly,
(2) score higher on BATS analogies, and (3) some agree with SBERT. Each verdict here is computed from the
numbers, and says when a claim holds on raw cosines only: LLM hidden states are anisotropic, so a raw-cosine
difference may be an artefact. (4) asks whether differences follow model size rather than model kind.
With a handful of models these are descriptions of this study, not significance tests; intervals are in the
per-model tables.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
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


def headline_table(collected: Mapping[str, Mapping[str, Mapping[str, Any]]]) -> pd.DataFrame:
    """One row per model: size, coverage, anisotropy, related-pair separation, analogy and similarity scores."""
    rows = []
    for model, m in collected.items():
        embed, sim, rel, ana = (m.get(s, {}) for s in ("embed", "similarity", "related", "analogies"))
        centred = next((k for k in sim.get("variants", {}) if k == "centered"), "centered")
        row: dict[str, Any] = {
            "model": model,
            "role": embed.get("role", ""),
            "params": embed.get("params"),
            "dims": embed.get("dims"),
            "coverage": _get(embed, "vocabulary_coverage"),
            "anisotropy": _get(sim, "anisotropy"),
            "pairs_std": _get(sim, "variants", "raw", "std"),
            "pairs_std_centered": _get(sim, "variants", centred, "std"),
            "related_mean": _get(rel, "raw", "all", "mean"),
            "random_mean": _get(rel, "raw", "random", "mean"),
            "auroc_morph": _get(rel, "raw", "kind", "morphological", "auroc"),
            "auroc_sem": _get(rel, "raw", "kind", "semantic", "auroc"),
            "auroc_morph_centered": _get(rel, "centered", "kind", "morphological", "auroc"),
            "auroc_sem_centered": _get(rel, "centered", "kind", "semantic", "auroc"),
            "separation_centered": _get(rel, "centered", "all", "separation"),
        }
        for method in ana.get("bats", {}).get("overall", {}):
            row[f"bats_{method}"] = _get(ana, "bats", "overall", method, "accuracy")
        for kind, short in (("morphological", "morph"), ("semantic", "sem")):
            row[f"bats_3CosAdd_{short}"] = _get(ana, "bats", "by_group", "3CosAdd", kind, "accuracy")
        row["bats_coverage"] = _get(ana, "bats", "overall", "3CosAdd", "coverage")
        row["google_3CosAdd"] = _get(ana, "google", "overall", "3CosAdd", "accuracy")
        for bench in WORDSIM_COLUMNS:
            row[f"rho_{bench}"] = _get(ana, "word_similarity", "benchmarks", bench, "spearman")
        rows.append(row)
    table = pd.DataFrame(rows)
    if "params" in table:
        table["params"] = pd.to_numeric(table["params"], errors="coerce")
    return table


@dataclass
class Verdict:
    claim: str
    verdict: str
    evidence: str


def _role_means(table: pd.DataFrame, column: str) -> tuple[float, float]:
    if column not in table:
        return float("nan"), float("nan")
    llm = table.loc[table["role"] == "llm", column].astype(float)
    classical = table.loc[table["role"] == "classical", column].astype(float)
    return float(llm.mean()), float(classical.mean())


def _fmt(x: float) -> str:
    return "n/a" if not math.isfinite(x) else f"{x:.3f}"


def _compare(llm: float, classical: float) -> bool | None:
    if not (math.isfinite(llm) and math.isfinite(classical)):
        return None
    return llm > classical


def claim_tighter_clusters(table: pd.DataFrame) -> Verdict:
    claim = "LLMs cluster related words more tightly"
    raw_l, raw_c = _role_means(table, "related_mean")
    rnd_l, rnd_c = _role_means(table, "random_mean")
    rob_l, rob_c = _role_means(table, "separation_centered")
    auc_l, auc_c = _role_means(table, "auroc_sem_centered")
    raw, robust = _compare(raw_l, raw_c), _compare(rob_l, rob_c)
    if raw is None or robust is None:
        verdict = "cannot be judged (needs LLM and classical models with related-pair results)"
    elif raw and robust:
        verdict = "holds, also after mean-centring"
    elif raw and not robust:
        verdict = "holds on raw cosines only: an artefact of anisotropy"
    elif robust:
        verdict = "does not hold on raw cosines, but holds after mean-centring"
    else:
        verdict = "does not hold"
    evidence = (
        f"Mean raw cosine of BATS pairs: LLMs {_fmt(raw_l)}, classical {_fmt(raw_c)}; of random pairs: LLMs "
        f"{_fmt(rnd_l)}, classical {_fmt(rnd_c)}. After mean-centring, related-vs-random separation (difference "
        f"of means in random-pair standard deviations): LLMs {_fmt(rob_l)}, classical {_fmt(rob_c)}; AUROC on "
        f"semantic relations: LLMs {_fmt(auc_l)}, classical {_fmt(auc_c)}."
    )
    return Verdict(claim, verdict, evidence)


def claim_bats(table: pd.DataFrame, method: str = "3CosAdd") -> Verdict:
    """Overall, and separately for morphological and semantic relations: sub-word pooling alone can solve
    inflections (a random decoder averaging its sub-word tokens does), so an overall win can hide a semantic loss."""
    claim = f"LLMs score higher on BATS ({method})"
    column = f"bats_{method}"
    llm, classical = _role_means(table, column)
    better = _compare(llm, classical)
    if better is None:
        return Verdict(claim, "cannot be judged (no BATS results for both kinds of model)", "")
    best = table.loc[table[column].astype(float).idxmax()]
    by_kind = []
    kinds = {}
    for kind, short in (("morphological", "morph"), ("semantic", "sem")):
        kl, kc = _role_means(table, f"{column}_{short}")
        kinds[kind] = _compare(kl, kc)
        by_kind.append(f"{kind} relations LLMs {_fmt(kl)}, classical {_fmt(kc)}")
    baseline = ""
    if "bats_SimilarToB" in table:
        base_l, base_c = _role_means(table, "bats_SimilarToB")
        baseline = f" The baseline SimilarToB (nearest word to b) scores LLMs {_fmt(base_l)}, classical {_fmt(base_c)}."
    verdict = "holds" if better else "does not hold"
    if None not in kinds.values() and kinds["morphological"] != kinds["semantic"]:
        side = "morphological" if kinds["morphological"] == better else "semantic"
        verdict += f" overall, but only on {side} relations"
    evidence = (
        f"Mean accuracy over the 98,000 questions: LLMs {_fmt(llm)}, classical {_fmt(classical)}; "
        f"{'; '.join(by_kind)}; best model {best['model']} ({best['role']}, {_fmt(float(best[column]))}).{baseline}"
    )
    return Verdict(claim, verdict, evidence)


def claim_agree_with_sbert(agreement: pd.DataFrame | None, roles: Mapping[str, str], sbert: Sequence[str],
                           measure: str = "spearman") -> Verdict:
    claim = "Some LLMs agree with SBERT"
    if agreement is None or agreement.empty or not sbert:
        return Verdict(claim, "cannot be judged (needs an SBERT model and the agreement results)", "")
    part = agreement[agreement["measure"] == measure]
    scores: dict[str, float] = {}
    for row in part.itertuples():
        for ref, other in ((row.model_a, row.model_b), (row.model_b, row.model_a)):
            if ref in sbert and other not in sbert:
                scores[other] = max(scores.get(other, -1.0), float(row.value))
    llm = {m: v for m, v in scores.items() if roles.get(m) == "llm"}
    classical = {m: v for m, v in scores.items() if roles.get(m) == "classical"}
    if not llm:
        return Verdict(claim, "cannot be judged (no LLM in the agreement results)", "")
    top_classical = max(classical.values()) if classical else float("nan")
    agreeing = [m for m, v in llm.items() if not math.isfinite(top_classical) or v >= top_classical]
    verdict = (
        f"holds: {', '.join(agreeing)} agree with SBERT at least as much as any other classical model"
        if agreeing
        else "does not hold: every LLM agrees with SBERT less than the classical models do"
    )
    listing = "; ".join(f"{m} ({roles.get(m, '?')}) {v:.3f}" for m, v in sorted(scores.items(), key=lambda kv: -kv[1]))
    return Verdict(claim, verdict, f"{measure} of cosines with {', '.join(sbert)} over shared word pairs: {listing}.")


def scale_correlations(table: pd.DataFrame, columns: Sequence[str]) -> pd.DataFrame:
    """Spearman correlation of log parameter count with each metric across models (with the model count)."""
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


def claim_scale(table: pd.DataFrame, columns: Sequence[str]) -> Verdict:
    claim = "The LLM/classical difference is only scale"
    corr = scale_correlations(table, columns)
    if corr.empty or corr["models"].max() < 3:
        return Verdict(claim, "cannot be judged (needs at least three models with parameter counts)", "")
    parts = []
    for row in corr.itertuples():
        llm, classical = _role_means(table, row.metric)
        parts.append(
            f"{row.metric}: rho(log params) {_fmt(row.spearman_with_log_params)}, LLMs {_fmt(llm)} vs classical "
            f"{_fmt(classical)}"
        )
    # Where a small LLM beats a larger classical model, size alone does not explain the gap.
    inversions = []
    for column in columns:
        if column not in table:
            continue
        for a in table[table["role"] == "llm"].itertuples():
            for c in table[table["role"] == "classical"].itertuples():
                va, vc = float(getattr(a, column)), float(getattr(c, column))
                if a.params and c.params and a.params < c.params and va > vc:
                    inversions.append(f"{a.model} > {c.model} on {column}")
    strong = corr["spearman_with_log_params"].abs().fillna(0) >= 0.7
    if inversions:
        verdict = "not only scale: smaller LLMs beat larger classical models on some metrics"
    elif strong.all():
        verdict = "consistent with scale: every headline metric follows parameter count"
    else:
        verdict = "undecided: the metrics do not line up with parameter count, and no smaller LLM beats a larger classical model"
    evidence = "; ".join(parts) + (f". Inversions: {', '.join(inversions[:6])}." if inversions else ".")
    return Verdict(claim, verdict, evidence)


def verdicts(table: pd.DataFrame, agreement: pd.DataFrame | None, sbert: Sequence[str]) -> list[Verdict]:
    roles = dict(zip(table["model"], table["role"], strict=True))
    scale_metrics = [c for c in ("separation_centered", "bats_3CosAdd", "bats_3CosAdd_sem", "rho_simlex999") if c in table]
    return [
        claim_tighter_clusters(table),
        claim_bats(table),
        claim_agree_with_sbert(agreement, roles, sbert),
        claim_scale(table, scale_metrics),
    ]
