"""Word-similarity benchmarks in one shape: DataFrame[word1, word2, score] (+ set-specific columns).

Each set keeps its original scale (see :data:`SIMILARITY_SCALES`): Spearman correlation, the usual metric,
does not care, and a score outside the scale is reported as malformed rather than rescaled. Words keep the
case of the file (WordSim-353 capitalises names such as ``Jerusalem``); pass ``lowercase=True`` to fold.

The loader checks each set's published number of pairs (:data:`SIMILARITY_SIZES`) whether or not
``SHA256SUMS`` is present: a file cut at a line boundary parses cleanly and would otherwise report a
correlation over fewer pairs than the benchmark has.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from wordembed.datasets._io import (
    not_found,
    parse_score,
    read_lines,
    resolve_data_root,
    sums_dirs_for,
    verify_files,
)
from wordembed.errors import DataFormatError, ParameterError


@dataclass(frozen=True)
class _SimilaritySet:
    title: str
    relpath: str  # relative to the data directory
    source_key: str  # key of DATA_SOURCES
    scale: tuple[float, float]
    pairs: int  # word pairs of the published file (header excluded), counted on the released files
    separator: str | None = "\t"  # None: any run of whitespace
    header: tuple[str, ...] | None = None  # exact header fields, when the file has a header line
    columns: tuple[str, str, str] = ("", "", "")  # header names of word1, word2, score (header files only)
    extra: dict[str, str] = field(default_factory=dict)  # output column -> header name


_SETS: dict[str, _SimilaritySet] = {
    "simlex999": _SimilaritySet(
        "SimLex-999",
        "simlex999/SimLex-999/SimLex-999.txt",
        "simlex999",
        (0.0, 10.0),
        999,
        header=(
            "word1",
            "word2",
            "POS",
            "SimLex999",
            "conc(w1)",
            "conc(w2)",
            "concQ",
            "Assoc(USF)",
            "SimAssoc333",
            "SD(SimLex)",
        ),
        columns=("word1", "word2", "SimLex999"),
        extra={"pos": "POS"},
    ),
    "ws353": _SimilaritySet(
        "WordSim-353 (combined)",
        "wordsim353/combined.tab",
        "ws353",
        (0.0, 10.0),
        353,
        header=("Word 1", "Word 2", "Human (mean)"),
        columns=("Word 1", "Word 2", "Human (mean)"),
    ),
    "ws353_sim": _SimilaritySet(
        "WordSim-353 similarity split", "wordsim353/similarity.tab", "ws353", (0.0, 10.0), 203
    ),
    "ws353_rel": _SimilaritySet(
        "WordSim-353 relatedness split", "wordsim353/relatedness.tab", "ws353", (0.0, 10.0), 252
    ),
    "men": _SimilaritySet(
        "MEN (natural form)", "men/MEN/MEN_dataset_natural_form_full", "men", (0.0, 50.0), 3000, separator=" "
    ),
    "rg65": _SimilaritySet("RG-65", "word_similarity/EN-RG-65.txt", "word_similarity", (0.0, 4.0), 65),
    "rw": _SimilaritySet(
        "Stanford Rare Words", "word_similarity/EN-RW-STANFORD.txt", "word_similarity", (0.0, 10.0), 2034
    ),
}

WORD_SIMILARITY_SETS: tuple[str, ...] = ("simlex999", "ws353", "ws353_sim", "ws353_rel", "men", "rg65", "rw")
#: name -> (lowest, highest) score of the set's rating scale
SIMILARITY_SCALES: dict[str, tuple[float, float]] = {name: _SETS[name].scale for name in WORD_SIMILARITY_SETS}
#: name -> word pairs of the published file (SimLex-999 999, WS-353 353 = 203 similarity / 252 relatedness
#: pairs of the Agirre et al. split, MEN 3,000, RG-65 65, Stanford Rare Words 2,034)
SIMILARITY_SIZES: dict[str, int] = {name: _SETS[name].pairs for name in WORD_SIMILARITY_SETS}


def _split(line: str, separator: str | None) -> list[str]:
    return line.split() if separator is None else line.split(separator)


def parse_word_similarity(path: Path, name: str) -> pd.DataFrame:
    """Parse one file laid out like set ``name``; every malformed line raises naming file and line."""
    spec = _spec(name)
    lines = read_lines(path)
    start = 0
    if spec.header is not None:
        if not lines:
            raise DataFormatError(path, 1, "empty file (expected a header line)")
        found = tuple(field.strip() for field in _split(lines[0], spec.separator))
        if found != spec.header:
            raise DataFormatError(path, 1, f"header {found!r} differs from the expected {spec.header!r}")
        index = {column: position for position, column in enumerate(spec.header)}
        w1, w2, sc = (index[column] for column in spec.columns)
        extra = {out: index[column] for out, column in spec.extra.items()}
        width = len(spec.header)
        start = 1
    else:
        w1, w2, sc, extra, width = 0, 1, 2, {}, 3
    low, high = spec.scale
    rows: list[tuple] = []
    for number, line in enumerate(lines[start:], start=start + 1):
        fields = [field.strip() for field in _split(line, spec.separator)]
        if len(fields) != width:
            raise DataFormatError(path, number, f"expected {width} fields, got {len(fields)}: {line!r}")
        word1, word2 = fields[w1], fields[w2]
        if not word1 or not word2:
            raise DataFormatError(path, number, f"empty word in {line!r}")
        score = parse_score(path, number, fields[sc])
        if not low <= score <= high:
            raise DataFormatError(path, number, f"score {score} outside the {spec.title} scale {low}-{high}")
        rows.append((word1, word2, score, *(fields[position] for position in extra.values())))
    if not rows:
        raise DataFormatError(path, None, "no word pairs")
    frame = pd.DataFrame(rows, columns=["word1", "word2", "score", *extra])
    frame["score"] = frame["score"].astype("float64")
    return frame


def _spec(name: str) -> _SimilaritySet:
    try:
        return _SETS[name]
    except KeyError:
        raise ParameterError(
            f"unknown word-similarity set {name!r}; choose one of {', '.join(WORD_SIMILARITY_SETS)}"
        ) from None


def word_similarity_path(name: str, root: str | Path | None = None) -> Path:
    """Where set ``name`` is expected under the data directory ``root`` (default: ``WORDEMBED_DATA``)."""
    return resolve_data_root(root) / _spec(name).relpath


def load_word_similarity(
    name: str,
    root: str | Path | None = None,
    *,
    lowercase: bool = False,
    verify: bool = True,
    strict: bool = True,
) -> pd.DataFrame:
    """DataFrame[word1, word2, score] of set ``name`` (SimLex-999 adds ``pos``), in file order.

    ``root`` is the data directory holding the sets' folders (``simlex999/``, ``wordsim353/``, ...).
    ``strict`` (default) requires the published number of pairs (:data:`SIMILARITY_SIZES`); ``verify``
    checks the file against ``SHA256SUMS``, warning when no checksum is recorded for it.
    """
    spec = _spec(name)
    data_root = resolve_data_root(root)
    path = data_root / spec.relpath
    if not path.is_file():
        raise not_found(spec.title, path, spec.source_key)
    if verify:
        verify_files([path], sums_dirs_for(path.parent, data_root), what=spec.title, folder=path.parent)
    frame = parse_word_similarity(path, name)
    if strict and len(frame) != spec.pairs:
        raise DataFormatError(
            path,
            None,
            f"{len(frame)} word pairs, but the published {spec.title} has {spec.pairs} (a cut or edited "
            "copy?); restore the file, or pass strict=False for a custom set",
        )
    if lowercase:
        frame["word1"] = frame["word1"].str.lower()
        frame["word2"] = frame["word2"].str.lower()
    return frame
