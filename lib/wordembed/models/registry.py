"""From a model key (or YAML path, or spec) to a ready :class:`~wordembed.models.base.Encoder`.

Backend modules are imported only here and only when used, so a missing optional dependency (TensorFlow,
an API client) matters only to that backend's users.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Mapping
from typing import Any

from wordembed.errors import ModelError, ParameterError
from wordembed.models.backends import BACKENDS
from wordembed.models.base import Encoder
from wordembed.models.fetch import resolve_artifact
from wordembed.models.spec import ModelSpec, check_spec_options, load_spec
from wordembed.util import choose_device

# Backends that compute with NumPy only: resolving "auto" for them must not import torch (seconds).
CPU_ONLY_BACKENDS = frozenset({"static", "use-m3"})
DEVICE_CHOICES = "auto, cpu, cuda, cuda:N"
_DEVICE = re.compile(r"^(auto|cpu|cuda(:[0-9]+)?)$")


def check_device_name(device: str | None) -> None:
    """Fail with one line unless ``device`` is None, auto, cpu, cuda or cuda:N.

    Why here and not left to torch: torch's refusal of a bad name ("Expected one of cpu, cuda, ... device
    type") comes as a traceback from deep inside a model's load, after its artefact was fetched.
    """
    if device in (None, "", "auto", "cpu"):
        return
    if not isinstance(device, str) or not _DEVICE.match(device):
        raise ParameterError(f"device {device!r} is not one of {DEVICE_CHOICES}")


def check_device(device: str | None) -> None:
    """:func:`check_device_name`, and for a CUDA device that torch sees it (what the CLI checks up front).

    Not part of :func:`resolve_device`: code may name a GPU it will have later (a test that simulates one, a
    spec resolved on one machine and run on another); a person typing ``--device cuda`` wants to know now.
    """
    check_device_name(device)
    if device in (None, "", "auto", "cpu"):
        return
    try:
        import torch
    except ImportError:
        raise ParameterError(f"device {device!r}: torch is not installed; use cpu") from None
    if not torch.cuda.is_available():
        raise ParameterError(
            f"device {device!r}: no CUDA GPU is visible to torch (torch.cuda.is_available() is false); "
            "use cpu or auto"
        )
    index = int(device.partition(":")[2] or 0)
    count = torch.cuda.device_count()
    if index >= count:
        raise ParameterError(f"device {device!r}: torch sees {count} CUDA device(s), numbered from 0")


def resolve_device(device: str | None = None) -> str:
    """``None`` or ``"auto"``: CUDA when torch sees a GPU, else CPU; any other name is checked for its form
    (:func:`check_device_name`) and passed through."""
    if device not in (None, "", "auto"):
        check_device_name(device)
    return choose_device(device)  # without torch (a NumPy-only backend): cpu


def load_encoder(
    spec_or_key: ModelSpec | str,
    *,
    device: str | None = None,
    options: Mapping[str, Any] | None = None,
    fetch: bool = True,
) -> Encoder:
    """Load a model: merge ``options`` over the spec's, fetch/verify its artefact, build its backend.

    Options and device are checked before the artefact is fetched: a typo must not cost a download.
    A random-weight control (``KEY@random``, ``KEY@random:SEED``; :mod:`wordembed.models.random_weights`)
    reads the trained model's artefact and is built by that module instead of the backend's ``from_spec``.
    """
    spec = load_spec(spec_or_key).with_options(options)
    module_name = BACKENDS[spec.backend]  # validated when the spec was loaded
    check_spec_options(spec)
    check_device_name(device)
    if spec.control_of is not None:
        from wordembed.models import random_weights

        module_name = random_weights.__name__
        artifact = resolve_artifact(random_weights.artifact_spec(spec), fetch=fetch)
    else:
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
