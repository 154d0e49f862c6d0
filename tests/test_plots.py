"""The shared figures stay legible when one model dominates: checked on what matplotlib actually drew.

A spike (Gemma-3's raw cosines reach a density of about 110) must not flatten the other models' curves, and
the agreement heatmaps' model names must not overlap, whatever the number of models.
"""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from wordembed import plots  # noqa: E402
from wordembed.analyses.allpairs import histogram_edges  # noqa: E402


def _histogram(model: str, centre: float, width: float, variant: str = "raw") -> pd.DataFrame:
    """A normal curve of cosines on the study's 2,000 bins, as notebook 02 writes it."""
    edges = histogram_edges(2000)
    mids = (edges[:-1] + edges[1:]) / 2
    counts = np.round(1e6 * np.exp(-0.5 * ((mids - centre) / width) ** 2)).astype(np.int64)
    density = counts / counts.sum() / np.diff(edges)
    return pd.DataFrame({"bin_left": edges[:-1], "bin_right": edges[1:], "count": counts, "density": density,
                         "variant": variant, "model": model})  # fmt: skip


def test_a_spike_keeps_its_own_panel_and_scale() -> None:
    hist = pd.concat([_histogram("gemma", 0.95, 0.0036), _histogram("gemma", 0.0, 0.1, "abtt4"),
                      _histogram("glove", 0.1, 0.15), _histogram("glove", 0.0, 0.14, "abtt1")])  # fmt: skip
    peak = hist.groupby("model")["density"].max()
    assert peak["gemma"] > 100 and peak["glove"] < 3  # one model 40x the other
    fig = plots.distributions_by_model(hist, {"gemma": "gemma (decoder)"})
    shown = [ax for ax in fig.axes if ax.get_visible()]
    assert [ax.get_title() for ax in shown] == ["gemma (decoder): raw", "glove: raw", "gemma (decoder): controls",
                                                "glove: controls"]  # fmt: skip
    gemma_raw, glove_raw, gemma_controls, _ = shown
    # each panel's y-axis ends near its own peak: the spike flattens neither glove nor gemma's own controls
    assert gemma_raw.get_ylim()[1] == pytest.approx(peak["gemma"], rel=0.1)
    assert glove_raw.get_ylim()[1] == pytest.approx(peak["glove"], rel=0.1)
    controls_peak = hist[(hist.model == "gemma") & (hist.variant == "abtt4")]["density"].max()
    assert gemma_controls.get_ylim()[1] == pytest.approx(controls_peak, rel=0.1) and controls_peak < 5
    assert gemma_raw.get_xlim()[1] - gemma_raw.get_xlim()[0] < 0.1 < glove_raw.get_xlim()[1] - glove_raw.get_xlim()[0]
    assert [line.get_gid() for line in gemma_controls.lines] == ["gemma:abtt"]  # abttD read as abtt across models
    plt.close(fig)


def _overlap(boxes: list) -> bool:
    return any(a.overlaps(b) for i, a in enumerate(boxes) for b in boxes[i + 1 :])


@pytest.mark.parametrize("n_models", [3, 9, 13])
def test_agreement_heatmap_labels_do_not_overlap(n_models: int) -> None:
    names = [f"model-with-a-long-key-{i}" for i in range(n_models)]
    rng = np.random.default_rng(0)
    matrices = {}
    for key in ("spearman_random", "spearman_related", "knn_jaccard", "cka_debiased"):
        m = rng.uniform(0, 1, (n_models, n_models))
        m = (m + m.T) / 2
        np.fill_diagonal(m, 1.0)
        matrices[key] = pd.DataFrame(m, index=names, columns=names)
    fig = plots.agreement_heatmaps(matrices)
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    checked = 0
    for ax in fig.axes:
        xlabels = [t for t in ax.get_xticklabels() if t.get_text()]
        if not xlabels:
            continue
        # x labels are rotated: the gap between neighbours across the text direction must exceed a line of text
        anchors = sorted(ax.transData.transform((x, 0))[0] for x in ax.get_xticks())
        across = np.diff(anchors).min() * np.sin(np.radians(xlabels[0].get_rotation()))
        assert across > xlabels[0].get_fontsize() * fig.dpi / 72, (n_models, ax.get_title())
        ylabels = [t.get_window_extent(renderer) for t in ax.get_yticklabels() if t.get_text()]
        assert not _overlap(ylabels), (n_models, ax.get_title())
        checked += 1
    assert checked == 4
    plt.close(fig)


def test_related_by_group_reads_the_scores() -> None:
    rows = [{"model": m, "task": "related_pairs", "dataset": "bats", "variant": v, "level": "group", "subset": g,
             "method": "same_words", "metric": "auroc", "value": 0.6 + 0.1 * i, "ci_low": 0.55, "ci_high": 0.9,
             "n": 10, "coverage": 1.0}
            for i, m in enumerate(("a", "b")) for v in ("raw", "abtt3")
            for g in ("inflectional", "derivational", "encyclopedic", "lexicographic")]  # fmt: skip
    fig = plots.related_by_group(pd.DataFrame(rows))
    titles = sorted(ax.get_title() for ax in fig.axes if ax.get_title())
    assert titles == ["abtt", "raw"]
    low, high = fig.axes[0].get_ylim()
    assert low == pytest.approx(0.45) and high == 1.0
    plt.close(fig)
