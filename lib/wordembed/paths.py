"""Where data, model artefacts, the embedding store and outputs live.

Every location can be moved by an environment variable, so CI, a laptop and a cluster can share the code:

- ``WORDEMBED_DATA``: the data sets (default: ``../shared/data`` beside the project root, the layout of our
  workspace; otherwise ``~/.local/share/wordembed/data``).
- ``WORDEMBED_CACHE``: fetched model artefacts and the embedding store (default ``~/.cache/wordembed``).
- ``WORDEMBED_OUTPUTS``: rendered notebooks and results (default ``<project root>/outputs``).
"""

from __future__ import annotations

import os
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent


def project_root() -> Path:
    """The checkout root (holds ``params/`` and ``notebooks/``); falls back to the working directory."""
    env = os.environ.get("WORDEMBED_ROOT")
    if env:
        return Path(env).resolve()
    for candidate in [PACKAGE_DIR.parent.parent, Path.cwd(), *Path.cwd().parents]:
        if (candidate / "params").is_dir() and (candidate / "pyproject.toml").is_file():
            return candidate
    return Path.cwd()


def data_dir() -> Path:
    env = os.environ.get("WORDEMBED_DATA")
    if env:
        return Path(env).expanduser().resolve()
    beside = project_root().parent / "shared" / "data"
    if beside.is_dir():
        return beside
    return Path("~/.local/share/wordembed/data").expanduser()


def cache_dir() -> Path:
    env = os.environ.get("WORDEMBED_CACHE")
    path = Path(env).expanduser() if env else Path("~/.cache/wordembed").expanduser()
    return path.resolve()


def model_cache_dir() -> Path:
    return cache_dir() / "models"


def store_dir() -> Path:
    env = os.environ.get("WORDEMBED_STORE")
    return Path(env).expanduser().resolve() if env else cache_dir() / "store"


def outputs_dir() -> Path:
    env = os.environ.get("WORDEMBED_OUTPUTS")
    return Path(env).expanduser().resolve() if env else project_root() / "outputs"


def params_dir() -> Path:
    return project_root() / "params"


def notebooks_dir() -> Path:
    return project_root() / "notebooks"
