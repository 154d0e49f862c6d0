"""BATS 3.0, the Bigger Analogy Test Set: 4 groups x 10 relations x 50 word pairs.

Layout (the official BATS_3.0.zip): ``BATS_3.0/<n>_<Group>_<kind>/<ID> [<name>].txt``, each line
``source<TAB>answer1/answer2/...``. The relation id and name come from the file name, the group from the
folder. Two quirks of the official files are part of the data, not errors, and are handled explicitly:
30 lines of L01/L02 end with a trailing ``/`` (no further answer) and 62 lines list an answer twice; both are
normalised (answers deduplicated, first occurrence kept, in file order). Any other empty answer is an error.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from wordembed.datasets._io import not_found, read_lines, resolve_data_root, sums_dirs_for, verify_file
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


def load_bats(root: str | Path | None = None, *, verify: bool = True) -> list[BatsRelation]:
    """All 40 relations in BATS order (I01..I10, D01..D10, E01..E10, L01..L10); checked against ``SHA256SUMS`` when ``verify`` and sums are present.

    The layout must be complete (4 group folders x 10 relation files): a missing relation is an error rather
    than a smaller benchmark whose scores would not be comparable to published ones.
    """
    bats_dir, data_root = _bats_dir(root)
    sums_dirs = sums_dirs_for(bats_dir, data_root)
    relations: list[BatsRelation] = []
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
        for number in expected:
            path = by_number[number]
            if verify:
                verify_file(path, sums_dirs)
            match = _FILE_NAME.match(path.name)
            assert match is not None
            relations.append(
                BatsRelation(
                    id=f"{letter}{number:02d}",
                    name=match.group(3),
                    group=group,
                    kind=kind,
                    pairs=parse_bats_file(path),
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
