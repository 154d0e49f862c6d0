"""Universal Sentence Encoder v4 (or any string-in, vector-out TF-Hub model) through ``tensorflow-hub``.

The paper used USE v4 from TF-Hub, so this backend calls ``hub.load`` exactly as TF-Hub users do rather
than converting the model. TensorFlow is an optional extra (``pip install wordembed[tfhub]``) so the main
install stays light; it is imported only when a tfhub model is loaded, and a missing install is a
:class:`ModelError` that says what to install.

Where the model comes from (first that is set wins):

- ``source.path``: a local SavedModel folder (for example the extracted
  ``universal-sentence-encoder_4`` archive from Kaggle/TF-Hub). It reaches :func:`from_spec` as ``artifact``
  once :func:`wordembed.models.fetch.resolve_artifact` has expanded it; a plain spec is read directly too.
- ``options.handle``: what ``hub.load`` accepts: a URL such as
  ``https://tfhub.dev/google/universal-sentence-encoder/4`` (needs network; hub caches the download under
  ``TFHUB_CACHE_DIR``, which defaults here to ``<model cache>/tfhub`` so it lives with our other artefacts),
  or a local folder.

Options:

- ``handle`` (str): see above.
- ``batch_size`` (int, default 256): strings per call of the model.
- ``signature`` (str, default none): call ``obj.signatures[NAME]`` instead of the loaded object itself, for
  SavedModels that only export a serving signature.
- ``output_key`` (str, default none): which entry to take when the model returns a dict of tensors (needed
  only when the dict has more than one entry).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from wordembed.errors import ModelError, ParameterError
from wordembed.models.spec import ModelSpec, fingerprint, merge_options
from wordembed.paths import model_cache_dir

INSTALL_HINT = "pip install 'wordembed[tfhub]'"
DEFAULTS: dict[str, Any] = {"handle": None, "batch_size": 256, "signature": None, "output_key": None}
# only these change the vectors; the handle enters the fingerprint through handle_identity()
VECTOR_OPTIONS = ("signature", "output_key")
_REMOTE_PREFIXES = ("http://", "https://", "gs://")
# Files that identify a SavedModel without reading its (possibly GB-sized) variable shards: the graph, and
# the variables index, which records a CRC32C of every tensor; TF >= 2.12 also writes fingerprint.pb.
_IDENTITY_FILES = ("saved_model.pb", "fingerprint.pb", "variables/variables.index")


def import_tensorflow() -> tuple[Any, Any]:
    """``(tensorflow, tensorflow_hub)``, or a ModelError naming the extra to install."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # TF's C++ start-up chatter hides real messages
    try:
        import tensorflow as tf
        import tensorflow_hub as hub
    except ImportError as exc:
        raise ModelError(
            f"the tfhub backend needs TensorFlow and tensorflow-hub, which are not importable ({exc}). "
            f"Install them with `{INSTALL_HINT}` (tensorflow-hub 0.16 also needs setuptools<81, which still "
            "ships pkg_resources)."
        ) from exc
    return tf, hub


def is_remote(handle: str) -> bool:
    return handle.startswith(_REMOTE_PREFIXES)


def handle_identity(handle: str) -> str:
    """What the cache fingerprint records for a handle: the URL itself (TF-Hub URLs carry the version), or
    a digest of a local SavedModel's graph and variable index, so replacing the folder's content changes it.
    """
    if is_remote(handle):
        return handle
    root = Path(handle)
    digest = hashlib.sha256()
    for name in _IDENTITY_FILES:
        path = root / name
        if path.is_file():
            digest.update(name.encode())
            digest.update(hashlib.sha256(path.read_bytes()).digest())
    return f"savedmodel:{digest.hexdigest()}"


def _tf_device(device: str | None) -> str | None:
    if device is None:
        return None
    name = device.lower()
    if name.startswith("cpu"):
        return "/CPU:0"
    if name.startswith(("cuda", "gpu")):
        index = name.split(":", 1)[1] if ":" in name else "0"
        return f"/GPU:{index}"
    raise ParameterError(f"tfhub backend: device {device!r} is not one of cpu, cuda, cuda:N, gpu:N")


class TFHubEncoder:
    """Encodes words with a TF-Hub model that maps a batch of strings to a ``(batch, d)`` float tensor."""

    def __init__(
        self, spec: ModelSpec, handle: str, options: dict[str, Any], device: str | None = None
    ) -> None:
        key = spec.key
        batch_size = int(options["batch_size"])
        if batch_size < 1:
            raise ParameterError(f"{spec.where}: option batch_size must be >= 1, got {batch_size}")
        if not is_remote(handle) and not Path(handle).is_dir():
            raise ModelError(
                f"{spec.where}: no SavedModel folder at {handle!r}. Set source.path (or options.handle) to the "
                "folder holding saved_model.pb, or to a TF-Hub URL where the network allows."
            )
        tf, hub = import_tensorflow()
        self._tf = tf
        self.spec = spec
        self.key = key
        self.handle = handle
        self.dims = spec.dims
        self.batch_size = batch_size
        self.signature = options["signature"]
        self.output_key = options["output_key"]
        self._device = _tf_device(device)
        os.environ.setdefault("TFHUB_CACHE_DIR", str(model_cache_dir() / "tfhub"))
        try:
            self._model = hub.load(handle)
        except Exception as exc:  # hub raises anything from OSError to tf.errors.* and ValueError
            hint = (
                " Without network, download the SavedModel elsewhere, extract it and set source.path to it."
                if is_remote(handle)
                else ""
            )
            raise ModelError(
                f"{spec.where}: hub.load({handle!r}) failed: {type(exc).__name__}: {exc}.{hint}"
            ) from exc
        self._fn = self._callable()
        self._identity = handle_identity(handle)

    def _callable(self) -> Callable[[Any], Any]:
        if self.signature is not None:
            signatures = getattr(self._model, "signatures", {})
            if self.signature not in signatures:
                raise ParameterError(
                    f"{self.spec.where}: option signature={self.signature!r} is not exported by {self.handle}; "
                    f"it has {sorted(signatures)}"
                )
            return signatures[self.signature]
        if callable(self._model):
            return self._model
        signatures = getattr(self._model, "signatures", {})
        if len(signatures) == 1:
            return next(iter(signatures.values()))
        raise ModelError(
            f"{self.spec.where}: {self.handle} is not callable and exports signatures {sorted(signatures)}; "
            "name one with options.signature"
        )

    def fingerprint(self) -> str:
        options = {"signature": self.signature, "output_key": self.output_key}
        return fingerprint(self.spec, options, self._identity)

    def _select(self, out: Any) -> Any:
        if not isinstance(out, dict):
            if self.output_key is not None:
                raise ParameterError(
                    f"{self.spec.where}: option output_key={self.output_key!r} is set but the model returns one tensor"
                )
            return out
        if self.output_key is not None:
            if self.output_key not in out:
                raise ParameterError(
                    f"{self.spec.where}: option output_key={self.output_key!r} is not among the outputs {sorted(out)}"
                )
            return out[self.output_key]
        if len(out) == 1:
            return next(iter(out.values()))
        raise ModelError(
            f"{self.spec.where}: the model returns several outputs {sorted(out)}; name one with options.output_key"
        )

    def _run(self, batch: list[str]) -> np.ndarray:
        tf = self._tf
        strings = tf.constant(batch, dtype=tf.string)
        scope = tf.device(self._device) if self._device else contextlib.nullcontext()
        with scope:
            out = self._select(self._fn(strings))
        arr = np.asarray(out.numpy() if hasattr(out, "numpy") else out, dtype=np.float32)
        if arr.ndim != 2 or arr.shape[0] != len(batch):
            raise ModelError(
                f"{self.spec.where}: the model returned shape {arr.shape} for {len(batch)} strings; a (batch, dims) "
                "output is needed"
            )
        if self.dims is not None and arr.shape[1] != self.dims:
            raise ModelError(
                f"{self.spec.where}: the model gives {arr.shape[1]}-dim vectors but the spec says dims: {self.dims}"
            )
        return arr

    def encode(self, words: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        words = list(words)
        if not words:
            return np.zeros((0, self.dims or 0), dtype=np.float32), np.zeros(0, dtype=bool)
        parts = [self._run(words[i : i + self.batch_size]) for i in range(0, len(words), self.batch_size)]
        vectors = np.ascontiguousarray(np.concatenate(parts, axis=0), dtype=np.float32)
        return vectors, np.ones(len(words), dtype=bool)


def resolve_handle(spec: ModelSpec, artifact: Path | None, options: dict[str, Any]) -> str:
    """The handle to load: the verified artefact, else ``source.path``, else ``options.handle``."""
    if artifact is not None:
        return str(artifact)
    path = (spec.source or {}).get("path")
    if path:
        return os.path.expandvars(os.path.expanduser(str(path)))
    handle = options.get("handle")
    if handle:
        handle = str(handle)
        return handle if is_remote(handle) else os.path.expandvars(os.path.expanduser(handle))
    raise ParameterError(
        f"{spec.where}: the tfhub backend needs source.path (a local SavedModel folder) or options.handle "
        "(a TF-Hub URL or folder)"
    )


def from_spec(spec: ModelSpec, artifact: Path | None, device: str | None) -> TFHubEncoder:
    options = merge_options(spec, DEFAULTS)
    return TFHubEncoder(spec, resolve_handle(spec, artifact, options), options, device)
