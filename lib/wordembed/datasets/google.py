"""The Google analogy questions (Mikolov et al. 2013): 19,544 questions ``a b c d`` in 14 sections.

The file capitalises proper nouns (``Athens Greece Baghdad Iraq``); ``lowercase=True`` (the default) matches
the lower-cased vocabularies of the classical models and of BATS. Sections starting ``gram`` are the
syntactic ones, the rest semantic.

The loader checks the published structure whether or not ``SHA256SUMS`` is present: the 14 sections in
their order, each with its number of questions (:data:`GOOGLE_SECTIONS`), so a file cut at a line boundary
is named with the section it shortened instead of loading as a smaller benchmark.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from wordembed.datasets._io import not_found, read_lines, resolve_data_root, sums_dirs_for, verify_files
from wordembed.errors import DataFormatError

GOOGLE_FOLDER = "google_analogy"
GOOGLE_FILE = "questions-words.txt"

#: section -> questions, in file order, as published (19,544 questions in 14 sections)
GOOGLE_SECTIONS: dict[str, int] = {
    "capital-common-countries": 506,
    "capital-world": 4524,
    "currency": 866,
    "city-in-state": 2467,
    "family": 506,
    "gram1-adjective-to-adverb": 992,
    "gram2-opposite": 812,
    "gram3-comparative": 1332,
    "gram4-superlative": 1122,
    "gram5-present-participle": 1056,
    "gram6-nationality-adjective": 1599,
    "gram7-past-tense": 1560,
    "gram8-plural": 1332,
    "gram9-plural-verbs": 870,
}
GOOGLE_QUESTIONS = sum(GOOGLE_SECTIONS.values())


def _google_file(root: str | Path | None) -> tuple[Path, Path]:
    """``(questions file, data root)``; ``root`` may be the data directory or the google_analogy folder."""
    base = resolve_data_root(root)
    for folder, data_root in ((base / GOOGLE_FOLDER, base), (base, base.parent)):
        if (folder / GOOGLE_FILE).is_file():
            return folder / GOOGLE_FILE, data_root
    raise not_found("Google analogy", base / GOOGLE_FOLDER / GOOGLE_FILE, "google")


def _parse(path: Path, lowercase: bool) -> tuple[pd.DataFrame, list[tuple[str, int, int]]]:
    """The questions, and ``(section, header line, questions)`` per section header in file order."""
    rows: list[tuple[str, str, str, str, str]] = []
    sections: list[tuple[str, int, int]] = []
    section: str | None = None
    for number, line in enumerate(read_lines(path), start=1):
        if line.startswith(":"):
            section = line[1:].strip()
            if not section:
                raise DataFormatError(path, number, "section header without a name")
            sections.append((section, number, 0))
            continue
        words = line.split()
        if len(words) != 4:
            raise DataFormatError(path, number, f"expected 4 words 'a b c d', got {len(words)}: {line!r}")
        if section is None:
            raise DataFormatError(path, number, "question before the first ': section' header")
        if lowercase:
            words = [word.lower() for word in words]
        rows.append((section, *words))
        name, header_line, count = sections[-1]
        sections[-1] = (name, header_line, count + 1)
    if not rows:
        raise DataFormatError(path, None, "no analogy questions")
    return pd.DataFrame(rows, columns=["section", "a", "b", "c", "d"]), sections


def parse_google_analogy(path: Path, *, lowercase: bool = True) -> pd.DataFrame:
    """DataFrame[section, a, b, c, d] of any file in the questions' format (no size check: see the loader)."""
    return _parse(path, lowercase)[0]


def check_sections(path: Path, sections: list[tuple[str, int, int]]) -> None:
    """The published sections in order with their sizes, else a :class:`DataFormatError` at the header line."""
    expected = list(GOOGLE_SECTIONS.items())
    for index, (name, line, count) in enumerate(sections):
        if index >= len(expected):
            raise DataFormatError(
                path,
                line,
                f"section {name!r} after the {len(expected)} published sections; pass strict=False "
                "for a custom set",
            )
        want_name, want_count = expected[index]
        if name != want_name:
            raise DataFormatError(
                path, line, f"section {index + 1} is {name!r}, the published file has {want_name!r} there"
            )
        if count != want_count:
            raise DataFormatError(
                path,
                line,
                f"section {name!r} has {count} questions, the published file {want_count} (a cut or "
                "edited copy?); restore questions-words.txt, or pass strict=False for a custom set",
            )
    if len(sections) < len(expected):
        lost = [name for name, _ in expected[len(sections) :]]
        raise DataFormatError(
            path,
            None,
            f"{len(sections)} of the {len(expected)} published sections; missing {', '.join(lost)}",
        )


def load_google_analogy(
    root: str | Path | None = None, *, lowercase: bool = True, verify: bool = True, strict: bool = True
) -> pd.DataFrame:
    """DataFrame[section, a, b, c, d], one row per question, in file order.

    ``strict`` (default) requires the published 19,544 questions in 14 sections (:func:`check_sections`);
    ``verify`` checks the file against ``SHA256SUMS``, warning when no checksum is recorded for it.
    """
    path, data_root = _google_file(root)
    if verify:
        verify_files([path], sums_dirs_for(path.parent, data_root), what="Google analogy", folder=path.parent)
    frame, sections = _parse(path, lowercase)
    if strict:
        check_sections(path, sections)
    return frame
