"""What a task run leaves behind, and the one way it is written to and read from a folder.

Why one class: the CLI, the notebooks and the report used to write and read the same analysis under different
file names and JSON shapes. A :class:`Result` is tables + one long ``scores`` table + the ``setup`` (which task,
with which parameters, wrote which files) + the ``metrics.json`` record, and :meth:`Result.save` /
:meth:`Result.load` are the only code that knows the layout of a result folder:

``<name>.csv``, ``<name>.parquet``, ``<name>.meta.json``
    each table (``tables``); per-question tables are Parquet only (``setup[section]["tables"]`` says which).
``scores.csv``, ``scores.parquet``, ``scores.meta.json``
    the long scores table (:data:`wordembed.results.SCORE_COLUMNS`); :func:`wordembed.results.load_results`
    stacks these across a study.
``<name>.txt``
    text artefacts (``candidates.txt``: the candidate answers, one per line).
``metrics.json``
    the record (one key per section: ``bats``, ``google``, ``word_similarity``, ``controls``, plus shared
    keys ``model``, ``candidates``), ``tasks`` (the setup) and ``provenance`` (who made it, when, with what).

Several results share a folder through :meth:`Result.combine` (notebook 04 writes analogies, word similarity
and controls into one): names must not clash, except for equal values (the same ``model``, the same
``candidates.txt``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from wordembed.errors import ParameterError
from wordembed.results import (
    METRICS_FILE,
    SCORES_TABLE,
    _jsonable,
    read_metrics,
    read_table,
    write_metrics,
    write_table,
    write_text,
)
from wordembed.tasks.scores import empty_scores, normalise

SETUP_KEY = "tasks"
"""The key of ``metrics.json`` that holds a result's setup (section -> task, parameters, files)."""
PARQUET_ONLY = "parquet"
CSV_AND_PARQUET = "csv+parquet"


def _same(a: Any, b: Any) -> bool:
    """Equal as JSON (NaN and None alike, tuples and lists alike): what a saved record would say."""
    return json.dumps(_jsonable(a), sort_keys=True) == json.dumps(_jsonable(b), sort_keys=True)


@dataclass
class Result:
    """Tables, one long scores table, the setup of each section and the ``metrics.json`` record.

    ``setup`` maps a section (``bats``) to ``{"task", "parameters", "tables": {name: formats}, "texts": [...]}``;
    ``metrics`` is what ``metrics.json`` holds besides the setup (its ``provenance`` is kept when a loaded
    result is saved again, so a copy still says who made the numbers).
    """

    tables: dict[str, pd.DataFrame]
    scores: pd.DataFrame
    setup: dict[str, dict[str, Any]]
    metrics: dict[str, Any]
    texts: dict[str, str] = field(default_factory=dict)

    @classmethod
    def of(
        cls,
        task: Any,
        section: str,
        tables: dict[str, pd.DataFrame],
        scores: pd.DataFrame,
        metrics: dict[str, Any],
        *,
        texts: dict[str, str] | None = None,
        parquet_only: tuple[str, ...] = (),
    ) -> Any:
        """The result of one task (anything with ``name`` and ``parameters()``) as section ``section``: the
        setup is made here, so every task records the same things."""
        formats = {n: PARQUET_ONLY if n in parquet_only else CSV_AND_PARQUET for n in tables}
        texts = dict(texts or {})
        setup = {section: {"task": task.name, "parameters": task.parameters(), "tables": formats, "texts": list(texts)}}
        return cls(tables, normalise(scores), setup, metrics, texts)

    @classmethod
    def combine(cls, *results: Result, **metrics: Any) -> Result:
        """One result of several (one folder for several tasks), plus extra ``metrics`` keys."""
        tables: dict[str, pd.DataFrame] = {}
        texts: dict[str, str] = {}
        setup: dict[str, dict[str, Any]] = {}
        record: dict[str, Any] = {}
        for result in results:
            _merge(tables, result.tables, "table", lambda a, b: a.equals(b))
            _merge(texts, result.texts, "text file", lambda a, b: a == b)
            _merge(setup, result.setup, "section", _same)
            _merge(record, result.metrics, "metrics key", _same)
        _merge(record, metrics, "metrics key", _same)
        frames = [r.scores for r in results if len(r.scores)]
        scores = normalise(pd.concat(frames, ignore_index=True)) if frames else empty_scores()
        return Result(tables, scores, setup, record, texts)

    def save(self, out_dir: str | Path) -> Path:
        """Write every file of the folder contract (module docstring) into ``out_dir``; returns it."""
        out = Path(out_dir)
        formats = {n: f for s in self.setup.values() for n, f in s.get("tables", {}).items()}
        for name, table in self.tables.items():
            write_table(out, name, table, csv=formats.get(name, CSV_AND_PARQUET) != PARQUET_ONLY)
        write_table(out, SCORES_TABLE, self.scores)
        for name, text in self.texts.items():
            write_text(out, name, text)
        write_metrics(out, {**self.metrics, SETUP_KEY: self.setup})
        return out

    @classmethod
    def load(cls, out_dir: str | Path) -> Result:
        """Read a folder written by :meth:`save` (the tables and texts its setup lists, the scores, the record)."""
        folder = Path(out_dir)
        if not (folder / METRICS_FILE).is_file():
            raise ParameterError(f"Result.load: {folder} has no {METRICS_FILE} (not a result folder)")
        record = read_metrics(folder)
        setup = record.pop(SETUP_KEY, None)
        if not isinstance(setup, dict):
            raise ParameterError(f"Result.load: {folder / METRICS_FILE} has no '{SETUP_KEY}' (written before tasks?)")
        tables = {n: read_table(folder, n) for s in setup.values() for n in s.get("tables", {})}
        texts = {n: (folder / n).read_text(encoding="utf-8") for s in setup.values() for n in s.get("texts", [])}
        scores = normalise(read_table(folder, SCORES_TABLE))
        return cls(tables, scores, setup, record, texts)

    def section(self, name: str) -> dict[str, Any]:
        """The setup of one section, or a one-line error listing the sections there are."""
        if name not in self.setup:
            raise ParameterError(f"result has no section {name!r}; sections: {', '.join(self.setup) or 'none'}")
        return self.setup[name]

    def with_variant(self, variant: str) -> Result:
        """The same result, its scores labelled as computed on ``variant`` vectors (an anisotropy control)."""
        scores = self.scores.assign(variant=variant)
        return type(self)(dict(self.tables), scores, dict(self.setup), dict(self.metrics), dict(self.texts))


def _merge(into: dict[str, Any], new: Mapping[str, Any], what: str, same: Any) -> None:
    for key, value in new.items():
        if key in into and not same(into[key], value):
            raise ParameterError(f"Result.combine: two results write {what} {key!r} with different contents")
        into[key] = value
