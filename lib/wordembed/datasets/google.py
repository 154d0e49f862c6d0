"""The Google analogy questions (Mikolov et al. 2013): 19,544 questions ``a b c d`` in 14 sections.

The file capitalises proper nouns (``Athens Greece Baghdad Iraq``); ``lowercase=True`` (the default) matches
the lower-cased vocabularies of the classical models and of BATS. Sections starting ``gram`` are the
syntactic ones, the rest semantic.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from wordembed.datasets._io import not_found, read_lines, resolve_data_root, sums_dirs_for, verify_file
from wordembed.errors import DataFormatError

GOOGLE_FOLDER = "google_analogy"
GOOGLE_FILE = "questions-words.txt"


def _google_file(root: str | Path | None) -> tuple[Path, Path]:
    """``(questions file, data root)``; ``root`` may be the data directory or the google_analogy folder."""
    base = resolve_data_root(root)
    for folder, data_root in ((base / GOOGLE_FOLDER, base), (base, base.parent)):
        if (folder / GOOGLE_FILE).is_file():
            return folder / GOOGLE_FILE, data_root
    raise not_found("Google analogy", base / GOOGLE_FOLDER / GOOGLE_FILE, "google")


def parse_google_analogy(path: Path, *, lowercase: bool = True) -> pd.DataFrame:
    rows: list[tuple[str, str, str, str, str]] = []
    section: str | None = None
    for number, line in enumerate(read_lines(path), start=1):
        if line.startswith(":"):
            section = line[1:].strip()
            if not section:
                raise DataFormatError(path, number, "section header without a name")
            continue
        words = line.split()
        if len(words) != 4:
            raise DataFormatError(path, number, f"expected 4 words 'a b c d', got {len(words)}: {line!r}")
        if section is None:
            raise DataFormatError(path, number, "question before the first ': section' header")
        if lowercase:
            words = [word.lower() for word in words]
        rows.append((section, *words))
    if not rows:
        raise DataFormatError(path, None, "no analogy questions")
    return pd.DataFrame(rows, columns=["section", "a", "b", "c", "d"])


def load_google_analogy(
    root: str | Path | None = None, *, lowercase: bool = True, verify: bool = True
) -> pd.DataFrame:
    """DataFrame[section, a, b, c, d], one row per question, in file order."""
    path, data_root = _google_file(root)
    if verify:
        verify_file(path, sums_dirs_for(path.parent, data_root))
    return parse_google_analogy(path, lowercase=lowercase)
