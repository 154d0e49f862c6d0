"""The figures notebooks 02-07 draw, in one place, each from a task's tables or the long scores table.

Why here: the same figure (a cosine distribution, AUROC per BATS group, accuracy per relation, an agreement
heatmap) was drawn in several notebooks with slightly different code, and one model with an extreme value
made the shared version unreadable: Gemma-3's raw cosines sit in a spike of density about 110 that flattened
every other model's curve on a shared axis. So every figure here gives each model (or variant) its own panel
and scale where magnitudes differ, rotates and sizes tick labels by the number of names, and returns the
matplotlib figure (the caller saves it with :func:`wordembed.results.save_figure`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

ABTT = r"abtt\d+"
"""All-but-the-top is named by its D (``abtt4``), which differs by model: figures across models say ``abtt``."""


def _plt() -> Any:
    import matplotlib.pyplot as plt

    return plt


def _centres(hist: pd.DataFrame) -> pd.Series:
    return (hist["bin_left"] + hist["bin_right"]) / 2


def _shown(hist: pd.DataFrame, lo: float = 0.0005, hi: float = 0.9995) -> pd.DataFrame:
    """The bins between two quantiles of one histogram (plus a margin): a spike keeps a readable x-range."""
    cum = hist["count"].cumsum() / max(int(hist["count"].sum()), 1)
    centres = _centres(hist)
    left = centres[cum >= lo].min() if (cum >= lo).any() else centres.min()
    right = centres[cum >= hi].min() if (cum >= hi).any() else centres.max()
    pad = 0.05 * (right - left) + float((hist["bin_right"] - hist["bin_left"]).mean())
    return hist[(centres >= left - pad) & (centres <= right + pad)]


def distribution_figure(histogram: pd.DataFrame, summary: pd.DataFrame, title: str = "") -> Any:
    """Notebook 02: one panel per variant of one model, each with its own x-range and y-scale, the exact mean
    (``summary``'s, not the histogram's) dashed."""
    plt = _plt()
    variants = list(dict.fromkeys(histogram["variant"]))
    means = dict(zip(summary["variant"], summary["mean"], strict=True))
    fig, axes = plt.subplots(1, len(variants), figsize=(3.2 * len(variants), 3.4), squeeze=False)
    for ax, name in zip(axes[0], variants, strict=True):
        hist = histogram[histogram["variant"] == name]
        mean = float(means[name])
        part = _shown(hist)
        ax.plot(_centres(part), part["density"])
        ax.axvline(mean, color="gray", linestyle="--", linewidth=0.8)
        ax.set_title(f"{name}: mean {mean:.3f}", fontsize=10)
        ax.set_xlabel("cosine similarity")
    axes[0][0].set_ylabel("density")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def distributions_by_model(histogram: pd.DataFrame, labels: Mapping[str, str] | None = None, ncols: int = 4) -> Any:
    """Notebook 06: small multiples, two panels per model: its raw cosines above, the anisotropy controls
    below, each panel on its own x-range and y-scale, so a spike (Gemma-3's raw density reaches 110) flattens
    neither another model's curve nor its own controls.

    ``histogram``: the stacked ``histogram`` tables (columns model, variant, bin_left, bin_right, count,
    density); ``labels``: model -> panel title (e.g. with its family). Lines carry a ``gid``
    (``model:variant``) so what is drawn can be checked.
    """
    plt = _plt()
    hist = histogram.assign(variant=histogram["variant"].str.replace(ABTT, "abtt", regex=True))
    models = list(dict.fromkeys(hist["model"]))
    cols = max(1, min(ncols, len(models)))
    blocks = -(-len(models) // cols)
    fig, axes = plt.subplots(2 * blocks, cols, figsize=(3.4 * cols, 4.4 * blocks), squeeze=False)
    colours = {"raw": "black", "centered": "#1f77b4", "abtt": "#2ca02c", "standardized": "#d62728"}
    for ax in axes.flat:
        ax.set_visible(False)
    for i, model in enumerate(models):
        part = hist[hist["model"] == model]
        top, bottom = axes[2 * (i // cols)][i % cols], axes[2 * (i // cols) + 1][i % cols]
        for variant, curve in part.groupby("variant", sort=False):
            ax = top if variant == "raw" else bottom
            shown = _shown(curve)
            ax.plot(_centres(shown), shown["density"], lw=1.4, color=colours.get(str(variant)), label=str(variant),
                    gid=f"{model}:{variant}")  # fmt: skip
        for ax, what in ((top, "raw"), (bottom, "controls")):
            ax.set_visible(True)
            ax.tick_params(labelsize=7)
            ax.set_title(f"{(labels or {}).get(model, model)}: {what}", fontsize=8)
        bottom.set_xlabel("cosine", fontsize=8)
    for row in axes:
        row[0].set_ylabel("density (own scale)", fontsize=7)
    handles = {}
    for ax in axes.flat:
        for handle, name in zip(*ax.get_legend_handles_labels(), strict=True):
            handles.setdefault(name, handle)
    fig.legend(list(handles.values()), list(handles), loc="lower center", ncol=len(handles), frameon=False, fontsize=8)
    fig.tight_layout(rect=(0, 0.04 / blocks, 1, 1))
    return fig


def related_figure(pairs: pd.DataFrame, random: pd.DataFrame, summary: pd.DataFrame, title: str = "") -> Any:
    """Notebook 03: raw cosines of BATS pairs by group against random pairs (violins), and AUROC per relation
    and variant (a heatmap on 0.5..1)."""
    import seaborn as sns

    plt = _plt()
    frame = pd.concat([pairs.assign(set=pairs["group"]), random.assign(set="random")], ignore_index=True)
    fig, axes = plt.subplots(1, 2, figsize=(15, 5), gridspec_kw={"width_ratios": [1, 2]})
    sns.violinplot(data=frame, x="set", y="cosine", ax=axes[0], cut=0)
    axes[0].tick_params(axis="x", rotation=30)
    axes[0].set_title(f"{title}: BATS pairs by group vs random pairs (raw cosine)", fontsize=10)
    rel = summary[summary["level"] == "relation"].pivot(index="variant", columns="name", values="auroc")
    order = list(dict.fromkeys(summary["variant"]))
    sns.heatmap(rel.loc[order], ax=axes[1], vmin=0.5, vmax=1.0, cmap="viridis", cbar_kws={"label": "AUROC"})
    axes[1].tick_params(axis="x", labelsize=7)
    axes[1].set_title("AUROC of related vs random pairs, per relation and variant", fontsize=10)
    fig.tight_layout()
    return fig


def related_by_group(scores: pd.DataFrame, order: Sequence[str] | None = None) -> Any:
    """Notebook 06: AUROC per BATS group, one panel per variant, one bar per model (in ``order``)."""
    import seaborn as sns

    part = scores[(scores["task"] == "related_pairs") & (scores["level"] == "group") & (scores["metric"] == "auroc")]
    part = part.assign(variant=part["variant"].str.replace(ABTT, "abtt", regex=True), group=part["subset"])
    hue_order = list(order) if order else list(dict.fromkeys(part["model"]))
    grid = sns.catplot(data=part, x="group", y="value", hue="model", hue_order=hue_order, col="variant", kind="bar",
                       height=3.2, aspect=1.2, col_wrap=2, errorbar=None)  # fmt: skip
    for ax in grid.axes.flat:
        ax.axhline(0.5, color="grey", lw=0.8, ls=":")
        ax.tick_params(axis="x", rotation=20)
    # AUROCs sit between 0.5 and 1: a 0..1 axis would leave the differences between models a few pixels tall
    low = float(np.nanmin(part["value"])) if len(part) else 0.5
    grid.set(ylim=(max(0.0, min(0.5, low) - 0.05), 1.0))
    grid.set_axis_labels("BATS group", "AUROC related vs random")
    grid.set_titles("{col_name}")
    return grid.figure


def bats_figure(by_group: pd.DataFrame, by_relation: pd.DataFrame, title: str = "") -> Any:
    """Notebook 04: accuracy per BATS group (one bar per solver) and per relation (a heatmap on 0..1)."""
    import seaborn as sns

    plt = _plt()
    groups = by_group[by_group["level"] == "group"] if "level" in by_group else by_group
    fig, axes = plt.subplots(1, 2, figsize=(16, 5), gridspec_kw={"width_ratios": [1, 3]})
    sns.barplot(data=groups, x="group", y="accuracy", hue="method", ax=axes[0])
    axes[0].tick_params(axis="x", rotation=30)
    axes[0].set_title(f"{title}: BATS accuracy per group")
    heat = by_relation.pivot(index="method", columns="relation", values="accuracy")
    sns.heatmap(heat, vmin=0, vmax=1, cmap="viridis", ax=axes[1], cbar_kws={"label": "accuracy"})
    axes[1].set_title("BATS accuracy per relation")
    fig.tight_layout()
    return fig


def bats_by_model(scores: pd.DataFrame, method: str = "3CosAdd", order: Sequence[str] | None = None) -> Any:
    """Notebook 06: one solver's BATS accuracy per group (bars) and per relation (heatmap), one row per model
    (in ``order``)."""
    import seaborn as sns

    plt = _plt()
    bats = scores[(scores["task"] == "analogies") & (scores["dataset"] == "bats") & (scores["variant"] == "raw")
                  & (scores["method"] == method) & (scores["metric"] == "accuracy")]  # fmt: skip
    models = [m for m in (order or dict.fromkeys(bats["model"])) if m in set(bats["model"])]
    fig, axes = plt.subplots(2, 1, figsize=(14, 0.5 * len(models) + 6))
    groups = bats[bats["level"] == "group"]
    sns.barplot(data=groups, y="model", x="value", hue="subset", order=models, ax=axes[0])
    axes[0].set_xlabel("accuracy")
    axes[0].set_title(f"BATS {method} accuracy per group (mean of relations)")
    heat = bats[bats["level"] == "relation"].pivot(index="model", columns="subset", values="value").reindex(models)
    sns.heatmap(heat, vmin=0, vmax=1, cmap="viridis", ax=axes[1], cbar_kws={"label": "accuracy"})
    axes[1].set_xlabel("relation")
    axes[1].set_ylabel("")
    axes[1].tick_params(axis="x", labelsize=7)
    axes[1].set_title(f"BATS {method} accuracy per relation")
    fig.tight_layout()
    return fig


def word_similarity_figure(summary: pd.DataFrame, title: str = "") -> Any:
    """Notebook 04: Spearman rho per benchmark."""
    import seaborn as sns

    fig, ax = _plt().subplots(figsize=(8, 4))
    sns.barplot(data=summary, x="benchmark", y="spearman", ax=ax)
    ax.set_title(f"{title}: word similarity")
    return fig


def agreement_heatmaps(matrices: Mapping[str, pd.DataFrame], keys: Sequence[str] | None = None, title: str = "") -> Any:
    """Notebooks 05 and 06: one heatmap per agreement matrix on a shared 0..1 scale
    (:func:`wordembed.analyses.agreement.plot_matrices`: cells annotated, type sized by the number of models,
    x labels rotated 45 degrees and anchored, y labels on the first column only, so long keys do not overlap)."""
    from wordembed.analyses.agreement import plot_matrices

    shown = {k: matrices[k] for k in (keys or list(matrices)) if k in matrices}
    return plot_matrices(shown, title=title, ncols=4 if len(shown) > 4 else max(1, len(shown)))


def bats_map(emb: Any, map_words: int, seed: int, relations: Sequence[str] = ("I01", "D02", "E01", "E10")) -> Any:
    """Notebook 01: PCA of the unit vectors of about ``map_words`` words from one BATS relation of each group
    (sources and targets), 40 of them labelled. Returns (figure, the points drawn: word, relation, role, x, y)."""
    import seaborn as sns
    from sklearn.decomposition import PCA

    from wordembed.datasets import bats_pairs, load_bats

    pairs = bats_pairs(load_bats())
    sample = pairs[pairs["relation"].isin(relations)].drop_duplicates("source")
    sample = sample.groupby("relation").head(max(2, map_words // (2 * len(relations))))
    rows = [
        {"word": word, "relation": f"{r.relation} {r.relation_name}", "role": role}
        for r in sample.itertuples() for role, word in (("source", r.source), ("target", r.target)) if word in emb
    ]  # fmt: skip
    points = pd.DataFrame(rows).drop_duplicates("word")
    vectors = emb.subset(list(points["word"])).normalized().reshape(len(points), -1)
    xy = PCA(n_components=2, random_state=seed).fit_transform(vectors)
    points["x"], points["y"] = xy[:, 0], xy[:, 1]
    fig, ax = _plt().subplots(figsize=(9, 7))
    sns.scatterplot(data=points, x="x", y="y", hue="relation", style="role", ax=ax, s=40)
    for row in points.sample(min(len(points), 40), random_state=seed).itertuples():
        ax.annotate(row.word, (row.x, row.y), fontsize=8, alpha=0.8)
    ax.set_title(f"{emb.model}: PCA of {len(points)} BATS words")
    return fig, points
