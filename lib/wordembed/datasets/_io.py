"""Reading data files strictly, finding data sets, and checking them against ``SHA256SUMS``.

Every parser reads through :func:`read_lines`, so an undecodable byte is reported with the line it sits on
rather than as a bare ``UnicodeDecodeError``; and every file is checked by :func:`verify_file` before it is
parsed, so a study never runs on a silently altered copy of a benchmark.
"""

from __future__ import annotations

import re
import warnings
from pathlib import Path

from wordembed.errors import ChecksumError, DataFormatError, DatasetNotFoundError
from wordembed.paths import data_dir
from wordembed.util import sha256_file as sha256_file  # re-exported: wordembed.datasets.sha256_file

SUMS_NAME = "SHA256SUMS"

#: How to obtain each data set (the sources named in the data README and the sets' SOURCE.md files).
DATA_SOURCES: dict[str, str] = {
    "bats": (
        "BATS 3.0 (Gladkova, Drozd & Matsuoka 2016): download BATS_3.0.zip from https://vecto.space/projects/BATS/ "
        "and unzip it so that BATS_3.0/1_Inflectional_morphology/... exists"
    ),
    "google": (
        "Google analogy questions (Mikolov et al. 2013): questions-words.txt from the word2vec release, also "
        "shipped in the gensim wheel as gensim/test/test_data/questions-words.txt; place it in google_analogy/"
    ),
    "simlex999": (
        "SimLex-999 (Hill, Reichart & Korhonen 2015): SimLex-999.zip from https://fh295.github.io/simlex.html, "
        "unzipped into simlex999/ (giving simlex999/SimLex-999/SimLex-999.txt)"
    ),
    "ws353": (
        "WordSim-353 (Finkelstein et al. 2002): wordsim353.zip from "
        "https://gabrilovich.com/resources/data/wordsim353/ unzipped into wordsim353/; the similarity/relatedness "
        "split (Agirre et al. 2009) wordsim_similarity_goldstandard.txt / wordsim_relatedness_goldstandard.txt "
        "from http://alfonseca.org/eng/research/wordsim353.html saved as wordsim353/similarity.tab and "
        "wordsim353/relatedness.tab"
    ),
    "men": (
        "MEN (Bruni, Tran & Baroni 2014): MEN.tar.gz from https://staff.fnwi.uva.nl/e.bruni/MEN unpacked into "
        "men/ (giving men/MEN/MEN_dataset_natural_form_full)"
    ),
    "word_similarity": (
        "RG-65 and Stanford Rare Words: EN-RG-65.txt and EN-RW-STANFORD.txt from "
        "https://github.com/mfaruqui/eval-word-vectors (data/word-sim/) placed in word_similarity/"
    ),
}


def resolve_data_root(root: str | Path | None) -> Path:
    """The data directory: ``root`` when given, else :func:`wordembed.paths.data_dir` (env ``WORDEMBED_DATA``)."""
    return Path(root).expanduser() if root is not None else data_dir()


def not_found(set_name: str, looked_at: Path, source_key: str) -> DatasetNotFoundError:
    return DatasetNotFoundError(
        f"data set {set_name} not found: looked at {looked_at}. To obtain it: {DATA_SOURCES[source_key]}. "
        f"Point WORDEMBED_DATA (now resolving to {data_dir()}) or the root= argument at the folder that holds it."
    )


def read_lines(path: Path) -> list[str]:
    """The file's lines without their ``\\n`` / ``\\r\\n`` endings; a final newline adds no empty line.

    Strict UTF-8 (ASCII included): a byte that does not decode is a :class:`DataFormatError` naming its line,
    because a mis-encoded word would otherwise become a different word without anyone noticing.
    """
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise DataFormatError(path, None, "missing file") from None
    except IsADirectoryError:
        raise DataFormatError(path, None, "expected a file, found a directory") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        line = raw.count(b"\n", 0, err.start) + 1
        bad = raw[err.start : err.end]
        raise DataFormatError(
            path, line, f"not valid UTF-8 (byte {bad!r} at offset {err.start}); re-save the file as UTF-8"
        ) from None
    text = text.removeprefix("\ufeff")
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return [line[:-1] if line.endswith("\r") else line for line in lines]


# ----------------------------------------------------------------------------------------------- checksums

_SUMS_LINE = re.compile(r"^([0-9a-fA-F]{64}) [ *](.+)$")
# (resolved sums path, size, mtime_ns) -> {relative path: sha256}
_SUMS_CACHE: dict[tuple[str, int, int], dict[str, str]] = {}
# (resolved file path, size, mtime_ns, expected sha256): files already found to match in this process
_VERIFIED: set[tuple[str, int, int, str]] = set()


def _stat_key(path: Path) -> tuple[str, int, int]:
    stat = path.stat()
    return str(path.resolve()), stat.st_size, stat.st_mtime_ns


def read_sums(sums_path: Path) -> dict[str, str]:
    """``relative/path -> sha256`` from a ``sha256sum``-style file (``./`` prefixes dropped)."""
    key = _stat_key(sums_path)
    cached = _SUMS_CACHE.get(key)
    if cached is not None:
        return cached
    sums: dict[str, str] = {}
    for number, line in enumerate(read_lines(sums_path), start=1):
        if not line.strip():
            continue
        match = _SUMS_LINE.match(line.rstrip())
        if not match:
            raise DataFormatError(sums_path, number, f"expected '<sha256>  <path>', got {line!r}")
        rel = match.group(2).removeprefix("./")
        sums[rel] = match.group(1).lower()
    _SUMS_CACHE[key] = sums
    return sums


class UnverifiedDataWarning(UserWarning):
    """A data file was read with no recorded checksum to compare it with.

    Structure and sizes are still checked, but a changed word or score would go unnoticed, so this is
    shown rather than passed over: a copy without ``SHA256SUMS`` is exactly where silent edits hide.
    """


def _check_one(path: Path, sums_dirs: list[Path]) -> str | None:
    """``None`` when ``path`` matches a recorded checksum, else why it could not be checked.

    A mismatch raises :class:`ChecksumError`; the first ``SHA256SUMS`` among ``sums_dirs`` that lists the
    file decides.
    """
    resolved = path.resolve()
    sums_seen: list[Path] = []
    for folder in sums_dirs:
        sums_path = folder / SUMS_NAME
        if not sums_path.is_file():
            continue
        sums_seen.append(sums_path)
        try:
            rel = resolved.relative_to(folder.resolve()).as_posix()
        except ValueError:
            continue
        expected = read_sums(sums_path).get(rel)
        if expected is None:
            continue
        key = (*_stat_key(path), expected)
        if key in _VERIFIED:
            return None
        actual = sha256_file(path)
        if actual != expected:
            raise ChecksumError(
                f"{path}: sha256 mismatch against {sums_path}: expected {expected}, actual {actual}. "
                "The file differs from the published data set; restore the original copy."
            )
        _VERIFIED.add(key)
        return None
    if not sums_seen:
        return f"no {SUMS_NAME} in {', '.join(str(folder) for folder in sums_dirs)}"
    return f"no line for it in {', '.join(str(sums) for sums in sums_seen)}"


def _warn_unverified(what: str, folder: Path, unchecked: list[tuple[Path, str]], total: int) -> None:
    first, reason = unchecked[0]
    others = f" and {len(unchecked) - 1} more" if len(unchecked) > 1 else ""
    warnings.warn(
        f"{what} in {folder}: {len(unchecked)} of {total} file(s) read without a checksum check "
        f"({reason}; {first.name}{others}). Structure and sizes were checked, but an edited word or score "
        f"would go unnoticed: restore {SUMS_NAME} from the data release, or pass verify=False to skip on purpose",
        UnverifiedDataWarning,
        stacklevel=4,
    )


def verify_file(path: Path, sums_dirs: list[Path], *, warn: bool = True) -> bool:
    """Check ``path`` against the first ``SHA256SUMS`` among ``sums_dirs`` that lists it.

    Returns whether a recorded checksum was found. A file no sums file lists is still read (a user's own
    copy may have none), but with an :class:`UnverifiedDataWarning` naming it and the folders searched
    unless ``warn`` is False. A match is remembered per (path, size, mtime) so loading the same set again
    in a session does not rehash it.
    """
    reason = _check_one(path, sums_dirs)
    if reason is None:
        return True
    if warn:
        _warn_unverified(f"data file {path.name}", path.parent, [(path, reason)], 1)
    return False


def verify_files(paths: list[Path], sums_dirs: list[Path], *, what: str, folder: Path) -> int:
    """:func:`verify_file` over one data set's files, with one warning for all that had no checksum.

    One line per set rather than per file: BATS without its sums would otherwise print 40 warnings and
    bury the point. Returns how many files were verified.
    """
    unchecked: list[tuple[Path, str]] = []
    for path in paths:
        reason = _check_one(path, sums_dirs)
        if reason is not None:
            unchecked.append((path, reason))
    if unchecked:
        _warn_unverified(what, folder, unchecked, len(paths))
    return len(paths) - len(unchecked)


def clear_checksum_cache() -> None:
    """Forget which files were verified (tests, or after replacing files in place within one mtime tick)."""
    _SUMS_CACHE.clear()
    _VERIFIED.clear()


def sums_dirs_for(set_dir: Path, data_root: Path) -> list[Path]:
    """Where a set's ``SHA256SUMS`` may be: the data root, and the set folder and its parent."""
    dirs: list[Path] = []
    for folder in (data_root, set_dir, set_dir.parent):
        if folder not in dirs:
            dirs.append(folder)
    return dirs


def parse_score(path: Path, line: int, text: str) -> float:
    """A finite number, or a :class:`DataFormatError` saying which line holds what."""
    try:
        value = float(text)
    except ValueError:
        raise DataFormatError(path, line, f"score {text!r} is not a number") from None
    if value != value or value in (float("inf"), float("-inf")):
        raise DataFormatError(path, line, f"score {text!r} is not a finite number")
    return value
