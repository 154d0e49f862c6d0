"""``wordembed similarity``: raw cosines beside their anisotropy controls and the rogue-dimension shares.

Checked on a toy vector file with a planted rogue dimension, against cosines computed from every pair.
"""

from __future__ import annotations

import numpy as np
import pytest

from wordembed.analyses.allpairs import normalize_rows
from wordembed.embeddings import Embeddings

N_WORDS, DIMS, ROGUE = 100, 10, 3


def _moments(x: np.ndarray) -> tuple[float, float]:
    u = normalize_rows(x).astype(np.float64)
    upper = (u @ u.T)[np.triu_indices(len(u), 1)]
    return float(upper.mean()), float(upper.std())


@pytest.fixture()
def toy(tmp_path):
    """100 covered words (one asked word is missing), 10 dims, dimension 3 a large shared offset."""
    from wordembed.vectorfile import write_word2vec_text

    rng = np.random.default_rng(0)
    vecs = rng.standard_normal((N_WORDS + 20, DIMS)).astype(np.float32)
    vecs[:, ROGUE] += 6.0
    words = [f"word{i}" for i in range(len(vecs))]
    write_word2vec_text(Embeddings(words, vecs, model="toy"), tmp_path / "toy.txt")
    (tmp_path / "words.txt").write_text("\n".join(words[:N_WORDS] + ["notinfile"]) + "\n")
    args = ["similarity", "--model", str(tmp_path / "toy.txt"), "--words", str(tmp_path / "words.txt")]
    return args, vecs[:N_WORDS]


def test_variants_rogue_table_and_metrics(toy, tmp_path, capsys):
    from wordembed.cli import main
    from wordembed.results import read_metrics, read_table

    args, x = toy
    out = tmp_path / "out"
    assert main([*args, "--out", str(out), "--no-progress"]) == 0
    printed = capsys.readouterr().out
    m = read_metrics(out)["similarity"]
    pairs = N_WORDS * (N_WORDS - 1) // 2
    # the top level stays the raw distribution (what the report reads); D = max(1, round(10 / 100)) = 1
    assert m["mode"] == "exact" and m["n_words"] == N_WORDS and m["n_pairs"] == pairs
    assert m["words_asked"] == N_WORDS + 1 and m["abtt"] == 1 and m["abtt_requested"] == -1
    assert m["standardize"] is False
    assert set(m["variants"]) == {"raw", "centered", "abtt1"}  # metrics.json sorts keys; tables keep order
    mean, std = _moments(x)
    assert m["mean"] == m["variants"]["raw"]["mean"] == pytest.approx(mean, abs=1e-6) and mean > 0.5
    assert m["std"] == pytest.approx(std, abs=1e-5)
    xc = x.astype(np.float64) - x.mean(axis=0)
    assert m["variants"]["centered"]["mean"] == pytest.approx(_moments(xc)[0], abs=1e-6)
    histogram = read_table(out, "similarity_histogram")
    assert histogram.groupby("variant", sort=False)["count"].sum().to_dict() == {
        "raw": pairs,
        "centered": pairs,
        "abtt1": pairs,
    }
    # rogue dimensions: the planted offset carries the raw mean; centring leaves no mean to share (null)
    rogue = m["rogue_dimensions"]
    assert set(rogue) == {"raw", "centered", "abtt1"}
    assert rogue["raw"]["mean_cos"] == pytest.approx(mean, abs=1e-6)
    assert rogue["raw"]["top_dimensions"][0] == ROGUE and rogue["raw"]["share_top1"] > 0.9
    assert rogue["raw"]["share_top10"] == pytest.approx(1.0)
    assert rogue["centered"]["share_top1"] is None
    table = read_table(out, "rogue_dimensions")
    assert list(table["variant"]) == ["raw", "centered", "abtt1"]
    assert table.loc[0, "share_top1"] == pytest.approx(rogue["raw"]["share_top1"])
    lines = printed.splitlines()
    assert [line.split(":")[0].strip() for line in lines[1:4]] == ["raw", "centered", "abtt1"]
    assert f"(dims {ROGUE}," in lines[1] and "no mean cosine to share" in lines[2]


def test_abtt_and_standardize_options_and_sampling(toy, tmp_path):
    from wordembed.cli import main
    from wordembed.results import read_metrics

    args, _ = toy
    assert main([*args, "--out", str(tmp_path / "a"), "--abtt", "3", "--standardize", "--no-progress"]) == 0
    m = read_metrics(tmp_path / "a")["similarity"]
    assert set(m["variants"]) == {"raw", "centered", "abtt3", "standardized"} and m["abtt"] == 3
    assert m["rogue_dimensions"]["standardized"]["share_top1"] is None  # no mean left to share
    assert main([*args, "--out", str(tmp_path / "z"), "--abtt", "0", "--no-progress"]) == 0
    assert set(read_metrics(tmp_path / "z")["similarity"]["variants"]) == {"raw", "centered"}
    assert main([*args, "--out", str(tmp_path / "s"), "--sample", "5000", "--no-progress"]) == 0
    s = read_metrics(tmp_path / "s")["similarity"]
    assert s["mode"] == "sampled" and s["n_pairs"] == 5000 and len(s["mean_ci"]) == 2
    for variant in s["variants"].values():
        assert variant["mode"] == "sampled" and variant["n_pairs"] == 5000 and len(variant["mean_ci"]) == 2


@pytest.mark.parametrize(
    ("value", "message"),
    [("-2", "--abtt must be -1 (auto"), ("10", "--abtt 10: abtt: cannot remove 10"), ("50", "at most 9")],
)
def test_bad_abtt_is_a_one_line_error(toy, tmp_path, capsys, value, message):
    from wordembed.cli import main

    args, _ = toy
    assert main([*args, "--out", str(tmp_path / "bad"), "--abtt", value, "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1 and "Traceback" not in err
    assert not (tmp_path / "bad").exists()


def test_related_rejects_a_bad_abtt_before_loading_anything(tmp_path, capsys):
    from wordembed.cli import main

    assert main(["related", "--model", str(tmp_path / "absent.txt"), "--abtt", "-3"]) == 2
    assert "--abtt must be -1 (auto" in capsys.readouterr().err


def test_similarity_has_no_center_flag(toy):
    """Centring is always one of the variants; the old flag is refused rather than silently ignored."""
    from wordembed.cli import main

    args, _ = toy
    with pytest.raises(SystemExit) as exc:
        main([*args, "--center"])
    assert exc.value.code == 2


def test_the_scores_of_a_command_read_back_with_results_scores(toy, tmp_path, capsys):
    """``wordembed results scores`` prints the long table load_results reads: the raw mean is the exact one."""
    import pandas as pd

    from wordembed.cli import main
    from wordembed.results import SCORE_COLUMNS, load_results

    args, x = toy
    out = tmp_path / "out"
    assert main([*args, "--out", str(out), "--no-progress"]) == 0
    scores = load_results(out)
    row = scores[(scores.metric == "mean") & (scores.variant == "raw")].iloc[0]
    assert row["value"] == pytest.approx(_moments(x)[0], abs=1e-6) and row["n"] == N_WORDS * (N_WORDS - 1) // 2
    assert row["coverage"] == pytest.approx(N_WORDS / (N_WORDS + 1)) and row["task"] == "similarity_distribution"
    capsys.readouterr()
    assert main(["results", "scores", str(out), "--metric", "share_top1", "--variant", "raw"]) == 0
    printed = capsys.readouterr().out.splitlines()
    assert len(printed) == 2 and "rogue_dimensions" in printed[1]
    assert main(["results", "scores", str(out), "--csv", str(tmp_path / "s.csv")]) == 0
    written = pd.read_csv(tmp_path / "s.csv", keep_default_na=False, na_values=[""])
    assert list(written.columns) == [*SCORE_COLUMNS, "source"] and len(written) == len(scores)
