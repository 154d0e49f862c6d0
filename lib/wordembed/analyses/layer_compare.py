"""Models compared at the layer each one's development split chose, on the test split only.

The headline reads a decoder at its middle layer, fixed before any data were seen; the layer sweep
(:mod:`wordembed.analyses.layers`) says another depth is often better. Whether that changes the study's answer is
a question about models side by side, on the same held-out data: this module gathers several sweeps (a
classical model's "sweep" is its one layer, scored on the same split), builds one row per model with the test
numbers at its dev-chosen layer (and, for a multi-layer model, at the middle layer too, so the reader sees what
the choice moved), and fits :func:`wordembed.analyses.scale.fit_scale` on those test numbers. No number here was
seen by the choice: :func:`~wordembed.analyses.layers.choose_layer` reads development rows only.

Sweeps are only comparable when they ran on the same split and the same seed (every score depends on which
relations and pairs are held out); :func:`compare_sweeps` refuses a mix, naming the folder.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from wordembed.analyses.layers import METRICS, RULE_METRICS, at_layer, plot_layers
from wordembed.analyses.scale import ScaleFit, scale_fits
from wordembed.errors import ParameterError

#: The test metrics the cross-model verdict reads: the development rule's six (anisotropy is a description).
VERDICT_METRICS: tuple[str, ...] = RULE_METRICS


@dataclass(frozen=True)
class Sweep:
    """What one sweep folder says: the own setting's long table, its chosen layer and its split's identity."""

    model: str
    family: str
    table: pd.DataFrame
    chosen_layer: int
    n_layers: int
    split: str  # the split's identity: seed and checksums of every part (equal across comparable sweeps)
    folder: str

    @property
    def middle_layer(self) -> int:
        """The layer the headline reads: ``hidden_states[L // 2]`` (the decoder backend's ``middle``)."""
        return (self.n_layers - 1) // 2


def read_sweep(folder: str | Path) -> Sweep:
    """The sweep written by :func:`wordembed.analyses.layers.write_sweep` into ``folder``."""
    from wordembed.results import read_table

    folder = Path(folder)
    path = folder / "metrics.json"
    if not path.is_file():
        raise ParameterError(f"{folder}: no metrics.json (not a layer-sweep output folder)")
    try:
        metrics = json.loads(path.read_text(encoding="utf-8"))
        config, split = metrics["config"], json.dumps(metrics["split"], sort_keys=True)
        table = read_table(folder, "layers")
        own = table[table["config"] == config] if "config" in table else table
        return Sweep(model=str(metrics["model"]), family=str(metrics["setup"].get("family") or ""),
                     table=own.reset_index(drop=True), chosen_layer=int(metrics["chosen_layer"]),
                     n_layers=int(metrics["setup"]["n_layers"]), split=split, folder=str(folder))
    except (KeyError, TypeError, ValueError, FileNotFoundError) as exc:
        raise ParameterError(f"{path}: not a layer-sweep record ({type(exc).__name__}: {exc})") from None


def compare_sweeps(sweeps: Sequence[Sweep], models: pd.DataFrame | None = None) -> pd.DataFrame:
    """One row per model: family, params, layers, the chosen layer and its relative depth, ``test_<metric>``
    at the chosen layer and ``middle_<metric>`` at the middle layer (multi-layer models only).

    ``models`` (columns model and any of params, family, control_of) adds what a sweep folder does not record;
    its family wins over the sweep's. Raises when two sweeps ran on different splits or one model appears twice.
    """
    if not sweeps:
        raise ParameterError("compare_sweeps: no sweeps given")
    first = sweeps[0]
    for s in sweeps[1:]:
        if s.split != first.split:
            raise ParameterError(f"{s.folder}: its split differs from {first.folder}'s; sweeps are comparable "
                                 "only on the same split (same seed and data)")
    seen: dict[str, str] = {}
    rows = []
    for s in sweeps:
        if s.model in seen:
            raise ParameterError(f"{s.folder}: model {s.model} is also in {seen[s.model]}")
        seen[s.model] = s.folder
        row: dict[str, Any] = {
            "model": s.model, "family": s.family, "n_layers": s.n_layers, "chosen_layer": s.chosen_layer,
            "relative_depth": s.chosen_layer / (s.n_layers - 1) if s.n_layers > 1 else 0.0,
        }
        row |= {f"test_{m}": v for m, v in at_layer(s.table, s.chosen_layer, "test").items()}
        if s.n_layers > 1:
            row["middle_layer"] = s.middle_layer
            row |= {f"middle_{m}": v for m, v in at_layer(s.table, s.middle_layer, "test").items()}
        rows.append(row)
    table = pd.DataFrame(rows)
    if models is not None:
        extra = models.set_index("model")
        for column in ("params", "family", "control_of"):
            if column in extra:
                mapped = table["model"].map(extra[column])
                table[column] = mapped.where(mapped.notna(), table.get(column)) if column in table else mapped
    order = ["model", "family", "params", "control_of", "n_layers", "chosen_layer", "relative_depth",
             "middle_layer"]
    front = [c for c in order if c in table]
    return table[front + [c for c in table.columns if c not in front]]


def held_out_fits(table: pd.DataFrame, *, metrics: Sequence[str] = VERDICT_METRICS,
                    registry: Mapping[str, Sequence[Any]] | None = None, n_boot: int = 4000,
                    seed: int = 0) -> list[ScaleFit]:
    """:func:`~wordembed.analyses.scale.scale_fits` of ``metric ~ kind + log10(params)`` on the test numbers at
    each model's dev-chosen layer (every metric at alpha / len(metrics))."""
    fit_table = table.rename(columns={f"test_{m}": m for m in metrics})
    return scale_fits(fit_table, list(metrics), registry=registry, n_boot=n_boot, seed=seed)


def comparison_figure(sweeps: Sequence[Sweep], *, metrics: Sequence[str] = METRICS) -> Any:
    """Each metric against relative depth on the test split: a line per multi-layer model (its chosen layer
    marked), a dotted horizontal line per one-layer model, one facet per metric."""
    lines = {s.model: s.table for s in sweeps if s.n_layers > 1}
    chosen = {s.model: s.chosen_layer for s in sweeps if s.n_layers > 1}
    references = {s.model: at_layer(s.table, s.chosen_layer, "test") for s in sweeps if s.n_layers == 1}
    return plot_layers(lines, part="test", metrics=metrics, chosen=chosen, references=references,
                       title="every model on the test split (layer chosen on dev)")
