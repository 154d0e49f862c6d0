"""BATS 3.0, the Bigger Analogy Test Set: 4 groups x 10 relations x 50 word pairs.

Layout (the official BATS_3.0.zip): ``BATS_3.0/<n>_<Group>_<kind>/<ID> [<name>].txt``, each line
``source<TAB>answer1/answer2/...``. The relation id and name come from the file name, the group from the
folder. Two quirks of the official files are part of the data, not errors, and are handled explicitly:
30 lines of L01/L02 end with a trailing ``/`` (no further answer) and 62 lines list an answer twice; both are
normalised (answers deduplicated, first occurrence kept, in file order). Any other empty answer is an error.

The loader also checks the published structure, independently of ``SHA256SUMS``: 4 group folders of 10
relation files, each of exactly 50 pairs with 50 different source words. A file cut at a line boundary or
padded with a repeated line is otherwise well-formed, and would quietly score a smaller benchmark.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from wordembed.datasets._io import not_found, read_lines, resolve_data_root, sums_dirs_for, verify_files
from wordembed.errors import DataFormatError

BATS_FOLDER = "BATS_3.0"

#: group folder -> (group, kind, relation-id letter)
BATS_GROUPS: dict[str, tuple[str, str, str]] = {
    "1_Inflectional_morphology": ("inflectional", "morphological", "I"),
    "2_Derivational_morphology": ("derivational", "morphological", "D"),
    "3_Encyclopedic_semantics": ("encyclopedic", "semantic", "E"),
    "4_Lexicographic_semantics": ("lexicographic", "semantic", "L"),
}
RELATIONS_PER_GROUP = 10
#: word pairs in every relation file of the published BATS 3.0 (2,000 pairs in all)
PAIRS_PER_RELATION = 50

_FILE_NAME = re.compile(r"^([IDEL])(\d\d) \[(.+)\]\.txt$")


@dataclass(frozen=True)
class BatsRelation:
    """One BATS relation: ``pairs`` holds ``(source, answers)`` with every accepted answer, in file order."""

    id: str
    name: str
    group: str
    kind: str
    pairs: tuple[tuple[str, tuple[str, ...]], ...]
    path: Path | None = field(default=None, compare=False, repr=False)

    def __len__(self) -> int:
        return len(self.pairs)


def _bats_dir(root: str | Path | None) -> tuple[Path, Path]:
    """``(BATS folder, data root)``; ``root`` may be the data directory or the BATS folder itself."""
    base = resolve_data_root(root)
    candidate = base / BATS_FOLDER
    if candidate.is_dir():
        return candidate, base
    if base.is_dir() and any((base / group).is_dir() for group in BATS_GROUPS):
        return base, base.parent
    raise not_found("BATS 3.0", candidate, "bats")


def parse_bats_file(path: Path) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """The ``(source, answers)`` pairs of one relation file; a malformed line raises naming file and line."""
    pairs: list[tuple[str, tuple[str, ...]]] = []
    for number, line in enumerate(read_lines(path), start=1):
        if not line.strip():
            raise DataFormatError(path, number, "empty line (expected 'source<TAB>answer1/answer2/...')")
        fields = line.split("\t")
        if len(fields) != 2:
            raise DataFormatError(
                path,
                number,
                f"expected 2 tab-separated fields 'source<TAB>answers', got {len(fields)}: {line!r}",
            )
        source, answer_field = fields[0].strip(), fields[1].strip()
        if not source:
            raise DataFormatError(path, number, "empty source word")
        if not answer_field:
            raise DataFormatError(path, number, f"no answer for {source!r}")
        answers = answer_field.split("/")
        if len(answers) > 1 and answers[-1] == "":
            answers.pop()  # trailing separator of the official L01/L02 files
        answers = [answer.strip() for answer in answers]
        if any(not answer for answer in answers):
            raise DataFormatError(path, number, f"empty answer in {answer_field!r}")
        pairs.append((source, tuple(dict.fromkeys(answers))))
    if not pairs:
        raise DataFormatError(path, None, "no word pairs in relation file")
    return tuple(pairs)


def check_relation_size(path: Path, pairs: tuple[tuple[str, tuple[str, ...]], ...]) -> None:
    """The published size: 50 pairs with 50 different sources, else a :class:`DataFormatError` naming the file.

    Repeated sources are looked for first, so a file padded back to 50 lines with a copied line is named
    at that line rather than passed.
    """
    first_line: dict[str, int] = {}
    for number, (source, _answers) in enumerate(pairs, start=1):
        if source in first_line:
            raise DataFormatError(
                path,
                number,
                f"source word {source!r} repeats line {first_line[source]} (a BATS 3.0 relation has "
                f"{PAIRS_PER_RELATION} different source words)",
            )
        first_line[source] = number
    if len(pairs) > PAIRS_PER_RELATION:
        raise DataFormatError(
            path,
            PAIRS_PER_RELATION + 1,
            f"more than {PAIRS_PER_RELATION} word pairs ({len(pairs)}), "
            f"the size of every BATS 3.0 relation; pass strict=False for a custom set",
        )
    if len(pairs) < PAIRS_PER_RELATION:
        raise DataFormatError(
            path,
            None,
            f"{len(pairs)} word pairs, but every BATS 3.0 relation has {PAIRS_PER_RELATION} (a cut or "
            "edited copy?); restore the file from BATS_3.0.zip, or pass strict=False for a custom set",
        )


def load_bats(
    root: str | Path | None = None, *, verify: bool = True, strict: bool = True
) -> list[BatsRelation]:
    """All 40 relations in BATS order (I01..I10, D01..D10, E01..E10, L01..L10).

    The layout must be complete (4 group folders x 10 relation files): a missing relation is an error rather
    than a smaller benchmark whose scores would not be comparable to published ones. ``strict`` (default)
    also requires the published 50 pairs per relation (:func:`check_relation_size`), which catches a cut
    file whether or not checksums are present; pass False for a custom set laid out like BATS. ``verify``
    checks each file against ``SHA256SUMS``; a file with no recorded checksum is read with one
    :class:`~wordembed.datasets._io.UnverifiedDataWarning` for the set.
    """
    bats_dir, data_root = _bats_dir(root)
    sums_dirs = sums_dirs_for(bats_dir, data_root)
    files: list[tuple[str, str, str, int, Path]] = []  # (letter, group, kind, number, path)
    for folder, (group, kind, letter) in BATS_GROUPS.items():
        group_dir = bats_dir / folder
        if not group_dir.is_dir():
            raise DataFormatError(group_dir, None, f"missing folder of BATS group {group!r}")
        by_number: dict[int, Path] = {}
        for path in sorted(group_dir.iterdir()):
            if path.suffix != ".txt":
                continue
            match = _FILE_NAME.match(path.name)
            if not match or match.group(1) != letter:
                raise DataFormatError(
                    path, None, f"unexpected file name: expected '{letter}NN [relation name].txt' in {folder}"
                )
            number = int(match.group(2))
            if number in by_number:
                raise DataFormatError(
                    path, None, f"relation {letter}{number:02d} also in {by_number[number].name}"
                )
            by_number[number] = path
        expected = range(1, RELATIONS_PER_GROUP + 1)
        missing = [f"{letter}{n:02d}" for n in expected if n not in by_number]
        if missing:
            raise DataFormatError(
                group_dir,
                None,
                f"missing file(s) for relation(s) {', '.join(missing)} ('{missing[0]} [name].txt')",
            )
        extra = sorted(set(by_number) - set(expected))
        if extra:
            raise DataFormatError(by_number[extra[0]], None, f"unexpected relation number in {folder}")
        files.extend((letter, group, kind, number, by_number[number]) for number in expected)
    if verify:
        verify_files([path for *_, path in files], sums_dirs, what="BATS 3.0", folder=bats_dir)
    relations: list[BatsRelation] = []
    for letter, group, kind, number, path in files:
        match = _FILE_NAME.match(path.name)
        assert match is not None
        pairs = parse_bats_file(path)
        if strict:
            check_relation_size(path, pairs)
        relations.append(
            BatsRelation(
                id=f"{letter}{number:02d}",
                name=match.group(3),
                group=group,
                kind=kind,
                pairs=pairs,
                path=path,
            )
        )
    return relations


def bats_pairs(relations: Iterable[BatsRelation]) -> pd.DataFrame:
    """One row per (relation, source, answer); ``answer_index`` 0 marks each source's first answer."""
    rows = [
        (relation.id, relation.name, relation.group, relation.kind, source, target, index)
        for relation in relations
        for source, answers in relation.pairs
        for index, target in enumerate(answers)
    ]
    return pd.DataFrame(
        rows, columns=["relation", "relation_name", "group", "kind", "source", "target", "answer_index"]
    )


def bats_words(relations: Iterable[BatsRelation]) -> list[str]:
    """Every source and answer word, sorted and unique (what the store must embed for BATS)."""
    words: set[str] = set()
    for relation in relations:
        for source, answers in relation.pairs:
            words.add(source)
            words.update(answers)
    return sorted(words)
