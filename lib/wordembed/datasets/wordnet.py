"""WordNet 3.0 lemmas, read from the dictionary's ``index.{noun,verb,adj,adv}`` files.

The study's vocabulary is WordNet's single-word, letters-only, lower-case lemmas (77,503 of 147,306), the
list of the paper being reproduced. The dict files come from Debian's ``wordnet-base`` package
(``/usr/share/wordnet``), from NLTK's ``wordnet`` corpus when NLTK and the corpus are installed, or from any
folder given explicitly. NLTK is never required: the index format is the same and trivial to read.
"""

from __future__ import annotations

import importlib.util
import os
import re
import zipfile
from functools import lru_cache
from pathlib import Path

from wordembed.errors import DataFormatError, DatasetNotFoundError, ParameterError

INDEX_FILES: tuple[str, ...] = ("index.noun", "index.verb", "index.adj", "index.adv")
DEBIAN_DIRS: tuple[Path, ...] = (Path("/usr/share/wordnet"),)
HOW_TO_GET = (
    "install Debian's wordnet-base package (`apt-get install wordnet-base`, giving /usr/share/wordnet/index.*), "
    "or NLTK's corpus (`pip install nltk && python -m nltk.downloader wordnet`), or pass source=<folder holding "
    "index.noun, index.verb, index.adj, index.adv>"
)

_LETTERS = re.compile(r"[A-Za-z]+")


def _debian_dirs() -> list[Path]:
    dirs = []
    env = os.environ.get("WNSEARCHDIR")  # WordNet's own variable for its dict folder
    if env:
        dirs.append(Path(env).expanduser())
    dirs.extend(DEBIAN_DIRS)
    return dirs


def _nltk_locations() -> list[Path]:
    """NLTK's wordnet corpus folders/zips, if NLTK is importable (its data path honours NLTK_DATA)."""
    try:
        import nltk.data  # type: ignore[import-not-found]
    except ImportError:
        return []
    locations: list[Path] = []
    for base in nltk.data.path:
        corpora = Path(base) / "corpora"
        locations += [corpora / "wordnet", corpora / "wordnet.zip"]
    return locations


def _has_index(location: Path) -> bool:
    if location.suffix == ".zip":
        if not location.is_file():
            return False
        with zipfile.ZipFile(location) as archive:
            return "wordnet/index.noun" in archive.namelist()
    return (location / "index.noun").is_file()


def _read_index_bytes(location: Path) -> list[tuple[Path, bytes]]:
    """Raw bytes of the four index files of a dict folder or an NLTK ``wordnet.zip``."""
    out: list[tuple[Path, bytes]] = []
    if location.suffix == ".zip":
        with zipfile.ZipFile(location) as archive:
            names = set(archive.namelist())
            for name in INDEX_FILES:
                member = f"wordnet/{name}"
                if member not in names:
                    raise DataFormatError(location / member, None, "missing file in the WordNet archive")
                out.append((location / member, archive.read(member)))
        return out
    for name in INDEX_FILES:
        path = location / name
        if not path.is_file():
            raise DataFormatError(
                path, None, f"missing file (a WordNet dict folder has {', '.join(INDEX_FILES)})"
            )
        out.append((path, path.read_bytes()))
    return out


def find_wordnet(source: str | Path = "auto") -> Path:
    """The dict folder (or NLTK zip) that ``source`` selects: "auto", "debian", "nltk" or a folder path."""
    if isinstance(source, str) and source in ("auto", "debian", "nltk"):
        looked: list[Path] = []
        groups = []
        if source in ("auto", "debian"):
            groups.append(_debian_dirs)
        if source in ("auto", "nltk"):
            groups.append(_nltk_locations)  # imported only when needed: importing NLTK takes seconds
        for group in groups:
            for candidate in group():
                looked.append(candidate)
                if _has_index(candidate):
                    return candidate
        note = ""
        if source in ("auto", "nltk") and importlib.util.find_spec("nltk") is None:
            note = " (NLTK is not installed, so its data folders were not searched)"
        raise DatasetNotFoundError(
            f"data set WordNet 3.0 not found (source={source!r}): looked for index.noun in "
            f"{', '.join(str(path) for path in looked) or 'nowhere'}{note}. To obtain it: {HOW_TO_GET}"
        )
    if isinstance(source, str) and "/" not in source and os.sep not in source and not Path(source).exists():
        raise ParameterError(f"WordNet source {source!r}: use 'auto', 'debian', 'nltk' or a folder path")
    location = Path(source).expanduser()
    if not location.exists():
        raise DatasetNotFoundError(
            f"data set WordNet 3.0 not found: {location} does not exist. To obtain it: {HOW_TO_GET}"
        )
    if location.is_dir() and not _has_index(location) and _has_index(location / "dict"):
        location = location / "dict"  # a WordNet-3.0 source tree: the index files live in dict/
    return location


def parse_index(path: Path, data: bytes) -> list[str]:
    """Lemmas of one ``index.*`` file: the first token of each line not starting with two spaces."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        line = data.count(b"\n", 0, err.start) + 1
        raise DataFormatError(path, line, f"not valid UTF-8 (byte {data[err.start : err.end]!r})") from None
    lemmas: list[str] = []
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    for number, line in enumerate(lines, start=1):
        if line.startswith("  "):
            continue  # licence header
        lemma = line.split(" ", 1)[0]
        if not lemma.strip():
            raise DataFormatError(
                path, number, f"expected a lemma at the start of the line, got {line[:40]!r}"
            )
        lemmas.append(lemma)
    if not lemmas:
        raise DataFormatError(path, None, "no lemmas in WordNet index file")
    return lemmas


@lru_cache(maxsize=8)
def _all_lemmas(location: Path, stamp: tuple[int, ...]) -> frozenset[str]:
    lemmas: set[str] = set()
    for path, data in _read_index_bytes(location):
        lemmas.update(parse_index(path, data))
    return frozenset(lemmas)


def _stamp(location: Path) -> tuple[int, ...]:
    if location.suffix == ".zip":
        return (location.stat().st_mtime_ns, location.stat().st_size)
    stamp: list[int] = []
    for name in INDEX_FILES:
        path = location / name
        if path.is_file():
            stat = path.stat()
            stamp += [stat.st_mtime_ns, stat.st_size]
    return tuple(stamp)


def load_wordnet_lemmas(
    source: str | Path = "auto",
    *,
    single_word: bool = True,
    letters_only: bool = True,
    lowercase: bool = True,
) -> list[str]:
    """Sorted unique lemmas; with the default filters 77,503 single lower-case a-z words (147,306 unfiltered).

    ``single_word`` drops collocations (``ice_cream``), ``letters_only`` keeps ASCII letters only (drops
    ``x-ray``, ``a.d.``, ``1st``), ``lowercase`` folds case before deduplicating.
    """
    location = find_wordnet(source).resolve()
    lemmas: set[str] | frozenset[str] = _all_lemmas(location, _stamp(location))
    if lowercase:
        lemmas = {lemma.lower() for lemma in lemmas}
    if single_word:
        lemmas = {lemma for lemma in lemmas if "_" not in lemma and " " not in lemma}
    if letters_only:
        lemmas = {lemma for lemma in lemmas if _LETTERS.fullmatch(lemma)}
    return sorted(lemmas)
