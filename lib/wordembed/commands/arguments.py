"""Argument types shared by the subcommands: numbers bounded by the study schema, devices, ``--out`` paths.

Why argparse ``type=`` functions: a value is refused while the command line is parsed, so a bad one costs
nothing (``--bins 1000000000`` used to reach a 12 GB allocation, ``--n-boot -1`` a crash deep in NumPy or a
silent NaN interval). Why the study schema: a CLI run and a study run of the same analysis then accept the
same values; :data:`wordembed.study.PARAMETERS` is the one place that says what they are.
"""

from __future__ import annotations

import argparse
import contextlib
import os
from collections.abc import Callable, Iterator
from pathlib import Path

from wordembed.errors import ParameterError, WordembedError
from wordembed.study import PARAMETERS, bounds_text


def schema_int(param: str) -> Callable[[str], int]:
    """An argparse type: an integer within the bounds of the study parameter ``param``."""
    spec = PARAMETERS[param]
    if spec.type is not int:
        raise TypeError(f"study parameter {param!r} is a {spec.type.__name__}, not an int")

    def parse(text: str) -> int:
        try:
            value = int(text.strip())
            spec.check(param, value, "")
        except (ValueError, ParameterError):  # ParameterError is a ValueError; both say the same here
            raise argparse.ArgumentTypeError(
                f"must be an integer in {bounds_text(param)} (the bounds of the study parameter {param}), got {text!r}"
            ) from None
        return value

    parse.__name__ = param  # argparse names the type in some of its own messages
    return parse


def device_arg(text: str) -> str | None:
    """An argparse type: auto (None: CUDA when torch sees a GPU, else CPU), cpu, or a CUDA device torch sees."""
    from wordembed.models.registry import check_device

    try:
        check_device(text)
    except ParameterError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return None if text == "auto" else text


def _first_existing(path: Path) -> Path:
    for candidate in (path, *path.parents):
        if candidate.exists():
            return candidate
    return Path.cwd()


def _creatable(path: Path) -> None:
    """Fail unless the missing folders above ``path`` can be made: the nearest existing one is a writable
    directory (a file there makes ``mkdir`` fail with NotADirectoryError or FileExistsError, after the work)."""
    base = _first_existing(path.parent)
    if not base.is_dir():
        raise argparse.ArgumentTypeError(f"{base} is not a directory, so {path} cannot be made under it")
    if not os.access(base, os.W_OK | os.X_OK):
        raise argparse.ArgumentTypeError(f"{base} is not writable, so {path} cannot be made under it")


def out_dir(text: str) -> Path:
    """An argparse type: a folder to write tables and metrics.json into (existing, or one that can be made)."""
    path = Path(text).expanduser()
    if path.exists() and not path.is_dir():
        raise argparse.ArgumentTypeError(
            f"{path} exists and is not a directory; give a folder (the tables and metrics.json go inside it)"
        )
    if not path.exists():
        _creatable(path)
    return path


def out_file(text: str) -> Path:
    """An argparse type: a file to write (replaced if it exists), never a directory or a device."""
    path = Path(text).expanduser()
    if path.is_dir():
        raise argparse.ArgumentTypeError(f"{path} is a directory; give the path of the file to write")
    if path.exists() and not path.is_file():  # /dev/full, a FIFO: the atomic rename would replace it
        raise argparse.ArgumentTypeError(f"{path} exists and is not a regular file")
    if not path.exists():
        _creatable(path)
    return path


@contextlib.contextmanager
def writing(option: str, path: Path) -> Iterator[None]:
    """Turn a failed write (a full disk, a lost mount, no permission) into one line naming ``option`` and
    ``path``; an OSError from inside a write names neither (``[Errno 28] No space left on device``)."""
    try:
        yield
    except OSError as exc:
        detail = exc.strerror or str(exc)
        if exc.filename and str(exc.filename) != str(path):
            detail += f" ({exc.filename})"
        raise WordembedError(f"{option} {path}: cannot write: {detail}") from exc
