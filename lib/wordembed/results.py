"""Writing and reading a notebook's results: tables (CSV + Parquet), figures (PNG + SVG), metrics.json.

Notebooks call these so every analysis leaves the same, machine-readable trail, and the report notebook can
read any model's results back without knowing how they were made.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

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
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def write_metrics(out_dir: str | Path, metrics: dict[str, Any]) -> Path:
    """Write ``metrics.json`` (NaN and inf become null, so any JSON reader takes it)."""
    path = Path(out_dir) / METRICS_FILE
    _atomic_write_text(path, json.dumps(_jsonable(metrics), indent=2, sort_keys=True))
    return path


def read_metrics(out_dir: str | Path) -> dict[str, Any]:
    path = Path(out_dir) / METRICS_FILE
    return json.loads(path.read_text(encoding="utf-8"))


def write_table(out_dir: str | Path, name: str, table: pd.DataFrame) -> Path:
    """Write ``name.csv`` and ``name.parquet``; returns the Parquet path."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    flat = table.copy()
    for column in flat.columns:
        if flat[column].map(lambda v: isinstance(v, (list, tuple))).any():
            flat[column] = flat[column].map(lambda v: "/".join(map(str, v)) if isinstance(v, (list, tuple)) else v)
    flat.to_csv(out / f"{name}.csv", index=False)
    flat.to_parquet(out / f"{name}.parquet", index=False)
    return out / f"{name}.parquet"


def read_table(out_dir: str | Path, name: str) -> pd.DataFrame:
    return pd.read_parquet(Path(out_dir) / f"{name}.parquet")


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
