"""From an analysis' wide summary table to rows of the long ``scores`` table (:data:`SCORE_COLUMNS`).

Why long: every analysis summarises differently (an analogy row has accuracy, MRR and top-5 with ``*_low`` /
``*_high``; a word-similarity row has ``spearman_low``), so a reader of wide tables must know each schema.
Melted into one row per number with ``ci_low`` / ``ci_high``, every task's numbers stack into one frame
(:func:`wordembed.results.load_results`) that a report filters instead of parsing nested JSON.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from wordembed.results import SCORE_COLUMNS

TEXT_COLUMNS: tuple[str, ...] = ("model", "task", "dataset", "variant", "level", "subset", "method", "metric")
FLOAT_COLUMNS: tuple[str, ...] = ("value", "ci_low", "ci_high", "coverage")


@dataclass(frozen=True)
class Metric:
    """One statistic of a summary table: its name in ``scores``, the column holding it, its interval columns
    (None: no interval) and the column counting what it is computed over."""

    name: str
    column: str
    n: str
    ci: tuple[str, str] | None = None


def empty_scores() -> pd.DataFrame:
    return normalise(pd.DataFrame(columns=list(SCORE_COLUMNS)))


def normalise(scores: pd.DataFrame) -> pd.DataFrame:
    """The columns of :data:`SCORE_COLUMNS` in order, with one dtype each (text, float64, int64), so two
    scores tables concatenate and a saved one reads back equal."""
    out = scores.reindex(columns=list(SCORE_COLUMNS)).reset_index(drop=True)
    for column in TEXT_COLUMNS:
        out[column] = out[column].astype(object).where(out[column].notna(), "").astype(str)
    for column in FLOAT_COLUMNS:
        out[column] = pd.to_numeric(out[column], errors="coerce").astype(np.float64)
    out["n"] = pd.to_numeric(out["n"], errors="coerce").fillna(0).astype(np.int64)
    return out


def melt(
    frame: pd.DataFrame,
    metrics: Sequence[Metric],
    *,
    coverage: str,
    **labels: str | pd.Series,
) -> pd.DataFrame:
    """One scores row per (row of ``frame``, metric): ``labels`` fill the text columns, each a constant or a
    column of ``frame`` (a Series aligned with it); ``coverage`` names the frame's coverage column."""
    parts = []
    for metric in metrics:
        low, high = (frame[metric.ci[0]], frame[metric.ci[1]]) if metric.ci else (np.nan, np.nan)
        parts.append(
            pd.DataFrame(
                {
                    **labels,
                    "metric": metric.name,
                    "value": frame[metric.column],
                    "ci_low": low,
                    "ci_high": high,
                    "n": frame[metric.n],
                    "coverage": frame[coverage],
                },
                index=frame.index,
            )
        )
    return normalise(pd.concat(parts, ignore_index=True)) if parts else empty_scores()
