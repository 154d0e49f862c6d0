"""A development / test split of the evaluation data, so a decoder's layer is never tuned on its test data.

A decoder has one candidate "word embedding" per hidden layer. Picking the layer that scores best on BATS and
SimLex and then reporting BATS and SimLex at that layer would report a maximum over 25-31 noisy numbers as if
it were one measurement. So the data are split once, before any model is looked at, and the layer is chosen on
the development half only (:func:`wordembed.analyses.layers.choose_layer`) and reported on the test half.

The split (all of it recorded by :meth:`Split.to_dict`, which the notebook and the CLI write as ``split.json``):

- **BATS relations**: BATS numbers its relations so that neighbours are close cousins (I01 regular / I02
  irregular plurals, I03 comparatives / I04 superlatives, E01 capitals / E02 languages, L09 gradable / L10
  binary antonyms, ...). Splitting relations at random could put both cousins on one side and leave the other
  side without that kind of relation; so each neighbour pair (01/02, 03/04, ..., 09/10 of every group) sends
  one relation to development and the other to test, by a seeded coin. Each side then has 20 relations, five
  of every group, ten morphological and ten semantic. Relations, not questions or pairs, are split: the 2,450
  questions of a relation share its 50 pairs, so splitting inside a relation would leak.
- **MEN** has an official split (Bruni et al. 2014: 2,000 development and 1,000 test pairs), published for
  the lemma form. The natural-form file the study uses lists the same 3,000 pairs in the same order (line
  ``i`` of ``MEN_dataset_natural_form_full`` is line ``i`` of ``MEN_dataset_lemma_form_full`` with the words
  in their natural form and the same score, checked on load), so the official split carries over line by line.
- **SimLex-999** has no official split: a seeded half of its pairs (500) is development, the other 499 test.
  It is split rather than kept whole on the test side so that a similarity (not only a relatedness) benchmark
  has a say in the choice; MEN alone would tune the layer to relatedness.
- Any other similarity set: a seeded half, like SimLex-999.

Nothing of the test half is read to make the split, only the sets' sizes and the relation ids.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from wordembed.errors import DataFormatError, ParameterError

PARTS: tuple[str, ...] = ("dev", "test")
MEN_FULL_LEMMA = "men/MEN/MEN_dataset_lemma_form_full"
MEN_DEV = "men/MEN/MEN_dataset_lemma_form.dev"
MEN_TEST = "men/MEN/MEN_dataset_lemma_form.test"
MEN_SIZES = {"dev": 2000, "test": 1000}
SEEDED_DEV_SHARE = 0.5


@dataclass(frozen=True)
class Split:
    """Which BATS relations and which rows of each similarity set are development, which test.

    ``relations``: part -> relation ids (BATS order); ``pairs``: neighbour pairs ``(dev id, test id)``;
    ``similarity``: set name -> part -> row numbers (0-based, file order) of the set's DataFrame;
    ``methods``: set name -> how its split was made.
    """

    seed: int
    relations: dict[str, tuple[str, ...]]
    pairs: tuple[tuple[str, str], ...]
    similarity: dict[str, dict[str, tuple[int, ...]]]
    methods: dict[str, str] = field(default_factory=dict)

    def bats(self, relations: Sequence[Any], part: str) -> list[Any]:
        """The relations of ``part`` among ``relations`` (objects with an ``id``), in their order."""
        ids = set(self.relations[_part(part)])
        return [r for r in relations if r.id in ids]

    def similarity_sets(self, sets: Mapping[str, pd.DataFrame], part: str) -> dict[str, pd.DataFrame]:
        """Each set's rows of ``part`` (a set the split does not know is an error, not silently whole)."""
        part = _part(part)
        unknown = [name for name in sets if name not in self.similarity]
        if unknown:
            raise ParameterError(f"split: similarity set(s) {unknown} are not split; split: {sorted(self.similarity)}")
        return {
            name: frame.iloc[list(self.similarity[name][part])].reset_index(drop=True)
            for name, frame in sets.items()
        }

    def to_dict(self, sets: Mapping[str, pd.DataFrame] | None = None) -> dict[str, Any]:
        """The whole split as JSON data; with ``sets``, also each part's word pairs (so a reader can check
        them without re-deriving the split) and a sha256 of each part."""
        out: dict[str, Any] = {
            "seed": self.seed,
            "rule": {
                "bats": "one relation of each neighbour pair (01/02, 03/04, ... of every group) to dev, by a "
                "seeded coin; the other to test",
                **{name: self.methods.get(name, "") for name in self.similarity},
            },
            "bats": {
                "dev": list(self.relations["dev"]),
                "test": list(self.relations["test"]),
                "neighbour_pairs": [list(p) for p in self.pairs],
            },
            "similarity": {},
        }
        for name, parts in self.similarity.items():
            entry: dict[str, Any] = {part: {"rows": list(rows), "n": len(rows)} for part, rows in parts.items()}
            if sets is not None and name in sets:
                frame = sets[name]
                for part, rows in parts.items():
                    pairs = frame.iloc[list(rows)][["word1", "word2"]].astype(str).to_numpy().tolist()
                    entry[part]["pairs"] = pairs
                    entry[part]["sha256"] = hashlib.sha256(
                        "\n".join(f"{a}\t{b}" for a, b in pairs).encode()
                    ).hexdigest()
            out["similarity"][name] = entry
        return out


def _part(part: str) -> str:
    if part not in PARTS:
        raise ParameterError(f"split part {part!r} is not one of {', '.join(PARTS)}")
    return part


def neighbour_pairs(relation_ids: Sequence[str]) -> list[tuple[str, str]]:
    """BATS's neighbour pairs: (X01, X02), (X03, X04), ..., (X09, X10) of every group letter X.

    Each id must be a letter and a two-digit number; an odd number of relations in a group, or a relation
    without its neighbour, is an error naming it (a custom set laid out like BATS needs whole pairs).
    """
    by_id = {}
    for rid in relation_ids:
        if len(rid) != 3 or not rid[0].isalpha() or not rid[1:].isdigit():
            raise ParameterError(f"split: relation id {rid!r} is not a BATS id (a letter and two digits, e.g. I01)")
        by_id[rid] = (rid[0], int(rid[1:]))
    pairs = []
    for rid, (letter, number) in by_id.items():
        if number % 2 == 1:
            partner = f"{letter}{number + 1:02d}"
            if partner not in by_id:
                raise ParameterError(f"split: relation {rid} has no neighbour {partner} to be split against")
            pairs.append((rid, partner))
        elif f"{letter}{number - 1:02d}" not in by_id:
            raise ParameterError(f"split: relation {rid} has no neighbour {letter}{number - 1:02d} to be split against")
    return pairs


def split_relations(relation_ids: Sequence[str], seed: int = 0) -> tuple[list[str], list[str], list[tuple[str, str]]]:
    """``(dev ids, test ids, (dev, test) per neighbour pair)``: a seeded coin per neighbour pair."""
    pairs = neighbour_pairs(relation_ids)
    coins = np.random.default_rng([seed, 1]).integers(0, 2, size=len(pairs))
    chosen = [(a, b) if coin == 0 else (b, a) for (a, b), coin in zip(pairs, coins, strict=True)]
    dev = {d for d, _ in chosen}
    order = list(relation_ids)
    return [r for r in order if r in dev], [r for r in order if r not in dev], chosen


def seeded_half(n: int, seed: int, name: str) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """Rows ``0..n-1`` split into a dev half (``ceil(n / 2)`` rows) and the rest, both sorted; the draw
    depends on the seed and the set's name only, so adding a set never reshuffles another."""
    key = int.from_bytes(hashlib.sha256(name.encode()).digest()[:4], "little")
    order = np.random.default_rng([seed, key]).permutation(n)
    k = int(np.ceil(n * SEEDED_DEV_SHARE))
    return tuple(sorted(int(i) for i in order[:k])), tuple(sorted(int(i) for i in order[k:]))


def _men_rows(path: Path) -> list[tuple[str, str, str]]:
    from wordembed.datasets._io import read_lines

    rows = []
    for number, line in enumerate(read_lines(path), start=1):
        fields = line.split()
        if len(fields) != 3:
            raise DataFormatError(path, number, f"expected 3 fields 'word1-pos word2-pos score', got {line!r}")
        rows.append((fields[0], fields[1], fields[2]))
    return rows


def men_official_split(
    natural: pd.DataFrame, root: str | Path | None = None
) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """Rows of the natural-form MEN (``natural``, as ``load_word_similarity("men")`` gives it) in the
    official development and test files, found through the line-aligned lemma-form full file."""
    from wordembed.datasets._io import resolve_data_root, sums_dirs_for, verify_files

    base = resolve_data_root(root)
    paths = [base / MEN_FULL_LEMMA, base / MEN_DEV, base / MEN_TEST]
    verify_files(paths, sums_dirs_for(paths[0].parent, base), what="MEN split", folder=paths[0].parent)
    full, dev, test = (_men_rows(p) for p in paths)
    if len(full) != len(natural):
        raise DataFormatError(paths[0], None, f"{len(full)} pairs but the natural-form MEN has {len(natural)}")
    scores = natural["score"].to_numpy(dtype=float)
    lemma_scores = np.array([float(s) for *_, s in full])
    bad = np.flatnonzero(lemma_scores != scores)
    if bad.size:
        raise DataFormatError(
            paths[0], int(bad[0]) + 1, "score differs from the natural-form file's line: the two are not aligned"
        )
    row_of = {r: i for i, r in enumerate(full)}
    if len(row_of) != len(full):
        raise DataFormatError(paths[0], None, "a pair is listed twice: rows cannot be matched")
    found = {}
    for part, path, rows in (("dev", paths[1], dev), ("test", paths[2], test)):
        missing = [i for i, r in enumerate(rows) if r not in row_of]
        if missing:
            raise DataFormatError(path, missing[0] + 1, "pair not in the full lemma-form file")
        found[part] = tuple(sorted(row_of[r] for r in rows))
    if set(found["dev"]) & set(found["test"]) or len(found["dev"]) + len(found["test"]) != len(full):
        raise DataFormatError(paths[1], None, "the official dev and test files overlap or miss pairs")
    return found["dev"], found["test"]


def make_split(
    relation_ids: Sequence[str],
    similarity: Mapping[str, pd.DataFrame],
    *,
    seed: int = 0,
    root: str | Path | None = None,
) -> Split:
    """The split of the given BATS relations (ids) and similarity sets (name -> DataFrame): see the module
    docstring. Only the sets' sizes (and, for MEN, the official split files) are read."""
    dev, test, pairs = split_relations(relation_ids, seed)
    parts: dict[str, dict[str, tuple[int, ...]]] = {}
    methods: dict[str, str] = {}
    for name, frame in similarity.items():
        if name == "men":
            d, t = men_official_split(frame, root)
            methods[name] = "official MEN split (2,000 dev / 1,000 test), mapped to the natural form line by line"
        else:
            d, t = seeded_half(len(frame), seed, name)
            methods[name] = f"seeded half of the pairs ({len(d)} dev / {len(t)} test; no official split)"
        parts[name] = {"dev": d, "test": t}
    return Split(seed, {"dev": tuple(dev), "test": tuple(test)}, tuple(pairs), parts, methods)
