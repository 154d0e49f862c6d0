"""The layer-sweep task (notebook 07, ``wordembed layers``): every hidden layer of a decoder scored as its word
embedding, one layer chosen on development data and reported on test data.

Why a task: notebook 07 and the CLI each called :func:`wordembed.analyses.layers.run_sweep` and
:func:`~wordembed.analyses.layers.write_sweep` with their own defaults; the parameters now live once, in the
study schema. Unlike the other tasks it takes a model reference, not vectors: it needs every layer of one
forward pass, which :func:`~wordembed.analyses.layers.layer_vectors` reads through the store (``layer: all``).

Files (see :mod:`wordembed.tasks.result` for the folder contract):

``layers`` (long: config, layer, relative_depth, part, metric, value, n), ``layers_wide``, ``grid`` (CSV + Parquet)
    as :func:`~wordembed.analyses.layers.write_sweep` writes them.
``split.json``
    every relation and word pair of the development and the test half.
``scores``
    task ``layer_sweep``, dataset = the part (``dev``, ``test``; ``all`` for anisotropy), method = the prompt
    configuration, level ``layer`` with subset = the layer, and level ``chosen`` (subset = the chosen layer)
    for each configuration's test numbers (and anisotropy, dataset ``all``) at its layer.
``metrics.json``
    the sweep's record (choice, test numbers, grid, setup), ``split`` (ids and checksums) and ``curves``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Literal

import pandas as pd
from pydantic import StrictInt, field_validator

from wordembed.tasks.base import TASKS, Task, study_field
from wordembed.tasks.result import Result
from wordembed.tasks.scores import normalise

SECTION = "layer_sweep"
SPLIT_FILE = "split.json"


class LayerSweep(Task):
    """Score every layer (and each ``prompt_grid`` configuration, at the chosen layer or, with
    ``grid_layers="all"``, at every layer) on the sweep vocabulary: the BATS, SimLex-999 and MEN words plus
    ``layer_words`` seeded WordNet lemmas. ``dtype`` float16 halves the memory of the layers held at once."""

    name: ClassVar[str] = SECTION

    layer_words: StrictInt = study_field("layer_words")
    prompt_grid: list[str] = study_field("prompt_grid")
    grid_layers: Literal["chosen", "all"] = study_field("grid_layers")
    n_random_pairs: StrictInt = study_field("n_random_pairs")
    seed: StrictInt = study_field("seed")
    dtype: Literal["float32", "float16"] = "float32"
    device: str | None = None

    @field_validator("prompt_grid")
    @classmethod
    def _known(cls, grid: list[str]) -> list[str]:
        from wordembed.study import PROMPT_GRID_NAMES

        bad = [g for g in grid if g not in PROMPT_GRID_NAMES]
        if bad:
            raise ValueError(f"unknown configuration(s) {bad}; valid: {', '.join(PROMPT_GRID_NAMES)}")
        return list(dict.fromkeys(grid))

    def parameters(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude={"device"})

    def data(self) -> Any:
        from wordembed.analyses.layers import SweepData

        return SweepData.load(seed=self.seed)

    def words(self) -> list[str]:
        from wordembed.vocabulary import layer_sweep_words

        return layer_sweep_words(self.layer_words, self.seed)

    def run(self, model: str | Path, *, log: Any = None) -> LayerSweepResult:  # type: ignore[override]
        """Sweep ``model`` (a key or a YAML path); ``log`` receives progress lines."""
        from wordembed.analyses.layers import curves, run_sweep

        data = self.data()
        sweep = run_sweep(
            model, data, self.words(), grid=self.prompt_grid, grid_layers=self.grid_layers,
            n_random=self.n_random_pairs, seed=self.seed, device=self.device, dtype=self.dtype, log=log,
        )  # fmt: skip
        record = data.split_record()
        split = {
            "seed": record["seed"], "rule": record["rule"], "bats": record["bats"],
            "similarity": {name: {part: {"n": e["n"], "sha256": e.get("sha256")} for part, e in parts.items()}
                           for name, parts in record["similarity"].items()},
            "file": SPLIT_FILE,
        }  # fmt: skip
        metrics = {**sweep.to_dict(), "split": split, "curves": curves(sweep.own_table())}
        from wordembed.analyses.layers import wide_table

        tables = {"layers": sweep.table, "layers_wide": wide_table(sweep.table), "grid": sweep.grid_table()}
        texts = {SPLIT_FILE: json.dumps(record, indent=1) + "\n"}
        result = LayerSweepResult.of(self, SECTION, tables, layer_scores(sweep), metrics, texts=texts)
        result.sweep = sweep
        return result


@dataclass
class LayerSweepResult(Result):
    """A :class:`Result` that also holds the analysis' :class:`~wordembed.analyses.layers.SweepResult` (for
    its figures; a loaded result has None)."""

    sweep: Any = field(default=None)


def layer_scores(sweep: Any) -> pd.DataFrame:
    """Every (config, layer, part, metric) of the sweep, then each config's test numbers at its layer."""
    table = sweep.table
    per_layer = pd.DataFrame(
        {"model": sweep.model, "task": SECTION, "dataset": table["part"], "variant": "raw", "level": "layer",
         "subset": table["layer"].astype(str), "method": table["config"], "metric": table["metric"],
         "value": table["value"], "n": table["n"]}
    )  # fmt: skip
    chosen = []
    for config, choice in sweep.choices.items():
        at = (table["config"] == config) & (table["layer"] == choice["layer"])
        part = table[at & table["part"].isin(["test", "all"])]  # anisotropy has no split (as at_layer reads it)
        chosen.append(per_layer.loc[part.index].assign(level="chosen"))
    return normalise(pd.concat([per_layer, *chosen], ignore_index=True))


TASKS.register(LayerSweep.name, LayerSweep, replace=True)
