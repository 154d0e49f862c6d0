"""Errors that tell the user what to fix: which file, which line, which parameter."""

from __future__ import annotations

from pathlib import Path


class WordembedError(Exception):
    """Base of every error this package raises on purpose."""


class DataFormatError(WordembedError, ValueError):
    """A data file is malformed; the message names the file and the 1-based line."""

    def __init__(self, path: str | Path, line: int | None, problem: str) -> None:
        self.path = Path(path)
        self.line = line
        self.problem = problem
        where = f"{self.path}:{line}" if line is not None else str(self.path)
        super().__init__(f"{where}: {problem}")


class DatasetNotFoundError(WordembedError, FileNotFoundError):
    """A data set is missing; the message says which, where we looked and how to get it."""


class ChecksumError(WordembedError):
    """A file's sha256 differs from the recorded one."""


class ModelError(WordembedError):
    """A model cannot be fetched, loaded or run."""


class ParameterError(WordembedError, ValueError):
    """A parameter (model key, notebook, size, option) is invalid; the message lists the valid choices."""
