"""The task contract: parameters validated once, ``words()`` to embed, ``run(embeddings) -> Result``.

Why: every analysis used to exist twice, orchestrated once in a notebook cell and once in a ``commands/``
module, with different defaults and checks. A task (in the spirit of sentence-transformers' evaluators and
MTEB's tasks) is built from its parameters, which pydantic validates in one place (unknown names refused, the
study schema's bounds and defaults, :data:`wordembed.study.PARAMETERS`, reused by :func:`study_field`); it
says which words it needs (the caller embeds them, through the store or a vector file: a task never loads a
model); and ``run`` calls the analysis functions of :mod:`wordembed.analyses` and wraps what they return in a
:class:`~wordembed.tasks.result.Result`. The CLI command and the notebook cell are then a few lines each.

A bad value is one line naming the task and the parameter (:class:`~wordembed.errors.ParameterError`), never
pydantic's multi-line report.
"""

from __future__ import annotations

import copy
import reprlib
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from wordembed.embeddings import Embeddings
from wordembed.errors import ParameterError
from wordembed.study import PARAMETERS
from wordembed.tasks.registry import Registry
from wordembed.tasks.result import Result

_short = reprlib.Repr()
_short.maxlist = 6
_short.maxstring = 60


def study_field(name: str, **overrides: Any) -> Any:
    """A pydantic field with the default, bounds and help of study parameter ``name``: one schema for a
    study YAML, a notebook's parameters, a CLI flag and a task."""
    spec = PARAMETERS[name]
    kwargs: dict[str, Any] = {"description": spec.help}
    if spec.minimum is not None:
        kwargs["ge"] = spec.minimum
    if spec.maximum is not None:
        kwargs["le"] = spec.maximum
    kwargs.update(overrides)
    default = spec.default
    if isinstance(default, (list, dict)):
        return Field(default_factory=lambda: copy.deepcopy(default), **kwargs)
    return Field(default, **kwargs)


def one_line(exc: ValidationError, where: str, fields: list[str]) -> str:
    """Pydantic's report as one line: each failing parameter, what is wrong and the value given."""
    parts = []
    for error in exc.errors():
        name = ".".join(str(part) for part in error["loc"]) or "(all)"
        message = str(error["msg"]).removeprefix("Value error, ")
        if error["type"] == "extra_forbidden":
            parts.append(f"unknown parameter '{name}'; valid: {', '.join(fields)}")
        elif error["type"] == "missing":
            parts.append(f"parameter '{name}' is required")
        elif not error["loc"]:  # a check across parameters: its message names them
            parts.append(message)
        elif error["type"] == "value_error":  # our validators' messages name the bad values themselves
            parts.append(f"parameter '{name}': {message}")
        else:
            parts.append(f"parameter '{name}': {message}, got {_short.repr(error.get('input'))}")
    return f"{where}: " + "; ".join(parts)


class Task(BaseModel):
    """Base of every task: frozen, unknown parameters refused, errors as one line naming the parameter.

    Subclasses set ``name`` (the ``task`` column of the scores, the key of :data:`TASKS`), declare their
    parameters as fields, and implement :meth:`words` and :meth:`run`.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)

    name: ClassVar[str] = ""

    def __init__(self, **values: Any) -> None:
        try:
            super().__init__(**values)
        except ValidationError as exc:
            raise ParameterError(one_line(exc, type(self).name or type(self).__name__, list(type(self).model_fields))) from None

    def parameters(self) -> dict[str, Any]:
        """The validated parameters as JSON-able values (what ``metrics.json`` records under ``tasks``)."""
        return self.model_dump(mode="json")

    def words(self) -> list[str]:
        """Every word :meth:`run` looks up: what the caller must embed."""
        raise NotImplementedError

    def run(self, embeddings: Embeddings) -> Result:
        raise NotImplementedError


TASKS: Registry[type[Task]] = Registry("task")
"""Task classes by name; :mod:`wordembed.tasks` registers the built-in ones."""
