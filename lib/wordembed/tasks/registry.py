"""A named registry: the one place a kind of plug-in (a task, a word-similarity set, an analogy solver) is listed.

Why a class and not a dict: an unknown name must fail with one line that says what kind of thing was asked
for and lists the valid names, whoever looks it up; and a test (or a user's notebook) must be able to add an
entry for a while and leave the registry as it found it (:meth:`Registry.temporary`), so one experiment
cannot leak a benchmark into the next.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from typing import Generic, TypeVar

from wordembed.errors import ParameterError

T = TypeVar("T")


class Registry(Generic[T]):
    """Entries by name, in registration order; ``what`` names the kind in error messages."""

    def __init__(self, what: str, entries: Mapping[str, T] | None = None) -> None:
        self.what = what
        self._entries: dict[str, T] = dict(entries or {})

    def register(self, name: str, entry: T, *, replace: bool = False) -> T:
        """Add ``entry`` under ``name``; a second entry of the same name fails unless ``replace``."""
        if not isinstance(name, str) or not name:
            raise ParameterError(f"{self.what} name must be a non-empty string, got {name!r}")
        if name in self._entries and not replace:
            raise ParameterError(f"{self.what} {name!r} is already registered (pass replace=True to override)")
        self._entries[name] = entry
        return entry

    def __getitem__(self, name: str) -> T:
        try:
            return self._entries[name]
        except KeyError:
            raise ParameterError(f"unknown {self.what} {name!r}; valid: {', '.join(self._entries)}") from None

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(list(self._entries))

    def __len__(self) -> int:
        return len(self._entries)

    def names(self) -> tuple[str, ...]:
        return tuple(self._entries)

    def unknown(self, names: list[str] | tuple[str, ...]) -> list[str]:
        """The ``names`` this registry lacks, in order (for a validator's one-line message)."""
        return [n for n in names if n not in self._entries]

    @contextlib.contextmanager
    def temporary(self, **entries: T) -> Iterator[Registry[T]]:
        """Add (or shadow) ``entries`` inside a ``with`` block; the registry is restored on exit."""
        saved = dict(self._entries)
        try:
            self._entries.update(entries)
            yield self
        finally:
            self._entries.clear()
            self._entries.update(saved)
