"""From a model key (or YAML path, or spec) to a ready :class:`~wordembed.models.base.Encoder`.

Backend modules are imported only here and only when used, so a missing optional dependency (TensorFlow,
an API client) matters only to that backend's users.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import Any

from wordembed.errors import ModelError
from wordembed.models.backends import BACKENDS
from wordembed.models.base import Encoder
from wordembed.models.fetch import resolve_artifact
from wordembed.models.spec import ModelSpec, load_spec

# Backends that compute with NumPy only: resolving "auto" for them must not import torch (seconds).
CPU_ONLY_BACKENDS = frozenset({"static", "use-m3"})


def resolve_device(device: str | None = None) -> str:
    """``None`` or ``"auto"``: CUDA when torch sees a GPU, else CPU; anything else is passed through."""
    if device not in (None, "", "auto"):
        return str(device)
    try:
        import torch
    except ImportError:  # a NumPy-only backend on a machine without torch
        return "cpu"
    return "cuda" if torch.cuda.is_available() else "cpu"


def load_encoder(
    spec_or_key: ModelSpec | str,
    *,
    device: str | None = None,
    options: Mapping[str, Any] | None = None,
    fetch: bool = True,
) -> Encoder:
    """Load a model: merge ``options`` over the spec's, fetch/verify its artefact, build its backend."""
    spec = load_spec(spec_or_key).with_options(options)
    module_name = BACKENDS[spec.backend]  # validated when the spec was loaded
    artifact = resolve_artifact(spec, fetch=fetch)
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        raise ModelError(
            f"{spec.where}: backend {spec.backend!r} needs module {exc.name!r}, which is not installed "
            f"({exc})"
        ) from exc
    if spec.backend in CPU_ONLY_BACKENDS and device in (None, "", "auto"):
        return module.from_spec(spec, artifact, "cpu")
    return module.from_spec(spec, artifact, resolve_device(device))
