"""Writing and reading a notebook's results: tables (CSV + Parquet), figures (PNG + SVG), metrics.json.

Notebooks call these so every analysis leaves the same, machine-readable trail, and the report notebook can
read any model's results back without knowing how they were made.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from wordembed.util import atomic_write_text

METRICS_FILE = "metrics.json"


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return [_jsonable(v) for v in value.tolist()]
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.floating, float)):
        value = float(value)
        return value if math.isfinite(value) else None
    if isinstance(value, (np.bool_,)):
        return bool(value)
    if isinstance(value, Path):
        return str(value)
    return value


def _atomic_write_text(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, text)


PROVENANCE_KEY = "provenance"


def write_metrics(out_dir: str | Path, metrics: dict[str, Any]) -> Path:
    """Write ``metrics.json`` (NaN and inf become null, so any JSON reader takes it), stamped with how it was
    made (:func:`wordembed.provenance.environment`: version, commit, library versions, machine)."""
    from wordembed.provenance import environment

    path = Path(out_dir) / METRICS_FILE
    stamped = {**metrics, PROVENANCE_KEY: metrics.get(PROVENANCE_KEY) or environment()}
    _atomic_write_text(path, json.dumps(_jsonable(stamped), indent=2, sort_keys=True))
    return path


def read_metrics(out_dir: str | Path) -> dict[str, Any]:
    path = Path(out_dir) / METRICS_FILE
    return json.loads(path.read_text(encoding="utf-8"))


def write_table(out_dir: str | Path, name: str, table: pd.DataFrame, *, csv: bool = True) -> Path:
    """Write ``name.csv`` and ``name.parquet``; returns the Parquet path.

    ``csv=False`` writes the Parquet file alone (with its sidecar): a per-question table of 200,000 rows is
    25 MB of CSV that nobody opens in a spreadsheet.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    flat = table.copy()
    for column in flat.columns:
        if flat[column].map(lambda v: isinstance(v, (list, tuple))).any():
            flat[column] = flat[column].map(lambda v: "/".join(map(str, v)) if isinstance(v, (list, tuple)) else v)
    if csv:
        flat.to_csv(out / f"{name}.csv", index=False)
    flat.to_parquet(out / f"{name}.parquet", index=False)
    from wordembed.provenance import environment

    sidecar = {"table": name, "rows": len(flat), "columns": [str(c) for c in flat.columns], **environment()}
    _atomic_write_text(out / f"{name}.meta.json", json.dumps(_jsonable(sidecar), indent=2, sort_keys=True))
    return out / f"{name}.parquet"


def write_text(out_dir: str | Path, name: str, text: str) -> Path:
    """Write a text artefact (a candidate word list) atomically: a reader never sees half a file."""
    path = Path(out_dir) / name
    _atomic_write_text(path, text)
    return path


def read_table(out_dir: str | Path, name: str) -> pd.DataFrame:
    return pd.read_parquet(Path(out_dir) / f"{name}.parquet")


SCORES_TABLE = "scores"
SCORE_COLUMNS: tuple[str, ...] = (
    "model", "task", "dataset", "variant", "level", "subset", "method", "metric",
    "value", "ci_low", "ci_high", "n", "coverage",
)  # fmt: skip
"""The long ``scores`` table every result folder holds (``scores.csv`` / ``scores.parquet``), one row per number:

``model`` the model key; ``task`` the task that made it (``analogies``, ``word_similarity``); ``dataset`` what
it was measured on (``bats``, ``google``, ``simlex999``); ``variant`` the vectors (``raw`` or an anisotropy
control: ``centered``, ``abttD``, ``standardized``); ``level`` and ``subset`` the slice (``overall``/``all``,
``group``/``inflectional``, ``relation``/``I01``); ``method`` the solver or measure (``3CosAdd``, ``cosine``);
``metric`` the statistic (``accuracy``, ``spearman``); ``value`` with its 95 % interval ``ci_low`` / ``ci_high``
(NaN where none was computed); ``n`` the number of items the value is computed over (questions, covered
pairs, clusters); ``coverage`` the covered share of the slice's items.
"""


def load_results(root: str | Path, table: str = SCORES_TABLE) -> pd.DataFrame:
    """Every ``scores`` table under ``root`` (a study's output root, or one result folder) in one frame.

    Why: a reader (the report, a notebook, a paper's table) should not need to know which notebook or command
    wrote a number, nor the nested keys of each ``metrics.json``; each folder's scores table says it all in
    the columns of :data:`SCORE_COLUMNS`. A ``source`` column adds the folder (relative to ``root``) each row
    came from. Folders are read in sorted order, so the frame is the same on every machine.

    ``table`` names another table of the folder contract (:mod:`wordembed.tasks.result`) to stack the same
    way, e.g. ``histogram`` (notebook 02's bins, for a figure across models): the one way a notebook reads
    what another wrote.
    """
    base = Path(root)
    if not base.is_dir():
        from wordembed.errors import ParameterError

        raise ParameterError(f"load_results: root {base} is not a folder (give a study's output folder)")
    frames = [
        pd.read_parquet(path).assign(source=path.parent.relative_to(base).as_posix())
        for path in sorted(base.rglob(f"{table}.parquet"))
    ]
    if table != SCORES_TABLE:
        return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=["source"])
    if not frames:
        return pd.DataFrame(columns=[*SCORE_COLUMNS, "source"])
    return pd.concat(frames, ignore_index=True)[[*SCORE_COLUMNS, "source"]]


def save_figure(out_dir: str | Path, name: str, fig: Any) -> list[Path]:
    """Save a matplotlib figure as PNG (for reading) and SVG (for papers)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for ext in ("png", "svg"):
        path = out / f"{name}.{ext}"
        fig.savefig(path, bbox_inches="tight", dpi=120 if ext == "png" else None)
        written.append(path)
    return written


def default_output_dir(study: str, model: str, notebook: str) -> Path:
    """Where a notebook run by hand (JupyterLab, default parameters) writes its results."""
    from wordembed import paths

    safe_model = Path(model).stem if model.endswith((".yaml", ".yml")) else model
    return paths.outputs_dir() / study / safe_model / notebook


def show_provenance(folder: str | Path) -> str:
    """A readable account of how a results folder was made: its metrics' provenance and, when the runner
    made it, the job's recorded inputs (parameters, model fingerprint, data checksums, code, versions)."""
    folder = Path(folder)
    lines: list[str] = []
    metrics = folder / METRICS_FILE
    if not metrics.is_file():
        from wordembed.errors import ParameterError

        raise ParameterError(f"{folder}: no {METRICS_FILE} here (give a notebook's results folder)")
    prov = json.loads(metrics.read_text(encoding="utf-8")).get(PROVENANCE_KEY) or {}
    dirty = " (uncommitted changes)" if prov.get("dirty") else ""
    lines.append(f"results  {folder}")
    lines.append(f"made by  wordembed {prov.get('wordembed', '?')} at commit {prov.get('commit') or 'unknown'}{dirty}")
    versions = prov.get("versions", {})
    lines.append("versions " + ", ".join(f"{k} {v}" for k, v in versions.items()))
    mach = prov.get("machine", {})
    lines.append("machine  " + ", ".join(f"{k} {v}" for k, v in mach.items()))
    status = folder.parent / f"{folder.name}.run.json"
    if status.is_file():
        record = json.loads(status.read_text(encoding="utf-8"))
        deps = record.get("depends_on") or {}
        lines.append(f"job      {record.get('status')} in {record.get('seconds', float('nan')):.1f} s, finished {record.get('finished')}")
        for key, value in sorted((deps.get("parameters") or {}).items()):
            lines.append(f"  param  {key} = {value}")
        for model, fp in (deps.get("models") or {}).items():
            lines.append(f"  model  {model}: yaml {fp.get('yaml_sha256', '?')[:16]}…"
                         + (f", {len(fp['artefact'])} artefact file(s)" if "artefact" in fp else ""))
        for name, files in (deps.get("data") or {}).items():
            lines.append(f"  data   {name}: {len(files)} file(s)")
            lines.extend(f"           {sha[:16]}…  {rel}" for rel, sha in sorted(files.items())[:50])
        lines.append(f"  code   {len(deps.get('code') or {})} wordembed module(s)")
    return "\n".join(lines)
