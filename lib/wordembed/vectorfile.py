"""Read and write word-vector files: word2vec text, word2vec binary, GloVe text.

These are the formats researchers exchange vectors in (gensim reads and writes the word2vec ones), so a
user's own vectors can enter the study and ours can leave it. Reading is strict: a malformed line is a
:class:`~wordembed.errors.DataFormatError` naming file and line, never a skipped row, because a silently
dropped word would change coverage and every count after it.

- word2vec text: a header ``"<count> <dims>"``, then ``word v1 ... vd`` per line;
- word2vec binary: the same header, then per word ``word<space>`` followed by ``d`` little-endian float32
  (and an optional newline, which the original C tool writes and gensim does not);
- GloVe text: ``word v1 ... vd`` per line, no header.

What is refused, and why:

- a value that is not finite (``nan``, ``inf``, or a number beyond float32 range, which becomes ``inf``):
  one such vector makes every similarity it enters NaN, and a mean over them NaN, far from where it came in;
  the error names file and line. Writing refuses non-finite vectors for the same reason, naming the word;
- an empty file: it holds no vectors, and reading it as a vocabulary of 0 words would only show up later
  as "every word missing";
- a first line of exactly two tokens where the first is a non-negative integer and the second is not
  (``4 x``, ``4 300.5``): that is a damaged word2vec header, reported as such on line 1. It is read as a
  GloVe row only when it really is one: the second token a number and the next line also a word and one
  number (a 1-dimensional GloVe file whose first word is a numeral). Otherwise the old reading of it as
  a GloVe row of width 1 blamed line 2 for a problem on line 1.
"""

from __future__ import annotations

import mmap
import warnings
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from wordembed.embeddings import Embeddings
from wordembed.errors import DataFormatError, ParameterError, WordembedError
from wordembed.util import atomic_open

FORMATS = ("auto", "word2vec", "word2vec-binary", "glove")


class VectorFileWriteError(WordembedError, OSError):
    """A vector file could not be written (disk full, no permission); the message names the file.

    The export is written to a temporary file and renamed into place, so an earlier file of that name is
    left as it was.
    """

    def __init__(self, path: Path, exc: OSError) -> None:
        self.path = path
        reason = exc.strerror or str(exc) or exc.__class__.__name__
        super().__init__(f"cannot write vector file {path}: {reason}; an earlier file of that name is unchanged")


def _header(line: str) -> tuple[int, int] | None:
    parts = line.split()
    if len(parts) == 2 and all(p.isdigit() for p in parts):
        return int(parts[0]), int(parts[1])
    return None


def _is_glove_row_pair(first: str, second: str) -> bool:
    """Both lines a word and exactly one number: a 1-dimensional GloVe file, not a damaged header."""
    rows = [line.split() for line in (first, second)]
    return all(len(parts) == 2 and _is_float(parts[1]) for parts in rows)


def _bad_header(first: str, second: str) -> str | None:
    """Why a first line of ``<integer> <something>`` is a damaged word2vec header, or None when it is not one."""
    parts = first.split()
    if len(parts) != 2 or not parts[0].isdigit() or parts[1].isdigit():
        return None
    if _is_glove_row_pair(first, second):
        return None
    return f"bad word2vec header {first.strip()[:60]!r}: expected '<count> <dims>' with <dims> a whole number"


def detect_format(path: str | Path) -> str:
    """word2vec binary when the header is followed by bytes that are not text; else text with or without
    a header. An empty file or a damaged header is a :class:`DataFormatError` (see the module docstring)."""
    path = Path(path)
    with open(path, "rb") as f:
        first = f.readline(4096)
        sample = f.read(4096)
    if not first.strip() and not sample.strip():
        raise DataFormatError(path, None, "empty file: no header and no vectors")
    try:
        first_text = first.decode("utf-8")
        header = _header(first_text)
    except UnicodeDecodeError:
        raise DataFormatError(path, 1, "the first line is not UTF-8 text: not a word-vector file") from None
    if header is None:
        second = sample.split(b"\n", 1)[0].decode("utf-8", "replace")
        problem = _bad_header(first_text, second)
        if problem is not None:
            raise DataFormatError(path, 1, problem)
        return "glove"
    try:
        text = sample.decode("utf-8")
    except UnicodeDecodeError as exc:  # a cut multi-byte character at the end of the sample is still text
        if exc.start < len(sample) - 4:
            return "word2vec-binary"
        text = sample[: exc.start].decode("utf-8")
    if "\x00" in text or any(ord(c) < 32 and c not in "\t\n\r " for c in text):
        return "word2vec-binary"
    return "word2vec"


def read_vectors(
    path: str | Path, *, words: Iterable[str] | None = None, fmt: str = "auto", lowercase: bool = False
) -> Embeddings:
    """Load a vector file; with ``words``, keep only those (in that order) and list the absent as missing.

    ``lowercase`` looks each requested word up in lower case (for lower-case vocabularies such as GloVe);
    the returned words are the requested spellings.
    """
    path = Path(path)
    if fmt not in FORMATS:
        raise ParameterError(f"unknown vector file format {fmt!r}; valid formats: {', '.join(FORMATS)}")
    if not path.is_file():
        raise DataFormatError(path, None, "vector file does not exist")
    if path.stat().st_size == 0:
        raise DataFormatError(path, None, "empty file: no header and no vectors")
    if fmt == "auto":
        fmt = detect_format(path)
    wanted = None if words is None else list(dict.fromkeys(words))
    lookup = None
    if wanted is not None:
        lookup = {(w.lower() if lowercase else w) for w in wanted}
    if fmt == "word2vec-binary":
        vocab, vectors = _read_binary(path, lookup)
    else:
        vocab, vectors = _read_text(path, lookup, header=(fmt == "word2vec"))
    if wanted is None:
        return Embeddings(vocab, vectors, model=str(path))
    index = {w: i for i, w in enumerate(vocab)}
    rows = np.array([index.get(w.lower() if lowercase else w, -1) for w in wanted], dtype=np.int64)
    keep = rows >= 0
    kept = [w for w, k in zip(wanted, keep, strict=True) if k]
    missing = [w for w, k in zip(wanted, keep, strict=True) if not k]
    return Embeddings(kept, vectors[rows[keep]], missing=missing, model=str(path))


def _add(vocab: list[str], seen: dict[str, int], word: str, path: Path, line: int) -> bool:
    """Record ``word``; a repeated word keeps its first vector and warns (never silently)."""
    if word in seen:
        warnings.warn(f"{path}:{line}: word {word!r} repeats line {seen[word]}; the first vector is kept",
                      stacklevel=3)  # fmt: skip
        return False
    seen[word] = line
    vocab.append(word)
    return True


def _check_finite(path: Path, vocab: list[str], vectors: np.ndarray, lines: list[int]) -> None:
    """A :class:`DataFormatError` at the first row holding nan, inf or a value beyond float32 range."""
    finite = np.isfinite(vectors).all(axis=1)
    if finite.all():
        return
    row = int(np.flatnonzero(~finite)[0])
    column = int(np.flatnonzero(~np.isfinite(vectors[row]))[0])
    raise DataFormatError(
        path,
        lines[row],
        f"value {column + 1} of word {vocab[row]!r} is {vectors[row, column]} (nan, inf, or beyond float32 "
        f"range); {int((~finite).sum())} of the {len(vocab)} vectors read are not finite",
    )


def _read_text(path: Path, lookup: set[str] | None, *, header: bool) -> tuple[list[str], np.ndarray]:
    vocab: list[str] = []
    rows: list[np.ndarray] = []
    row_lines: list[int] = []
    seen: dict[str, int] = {}
    count = dims = None
    n_lines = 0
    lineno = 0
    # A number beyond float32 range parses as inf; it is reported by _check_finite with its line.
    with open(path, "rb") as f, np.errstate(over="ignore"):
        for lineno, raw in enumerate(f, 1):
            try:
                line = raw.decode("utf-8").rstrip("\r\n")
            except UnicodeDecodeError as exc:
                raise DataFormatError(path, lineno, f"not UTF-8 text: {exc.reason}") from None
            if lineno == 1 and header:
                parsed = _header(line)
                if parsed is None:
                    raise DataFormatError(path, 1, f"expected a word2vec header '<count> <dims>', got {line[:60]!r}")
                count, dims = parsed
                continue
            if lineno == 1:  # GloVe: a first line like '4 x' is a damaged word2vec header, not a row
                after_first = f.tell()
                problem = _bad_header(line, f.readline().decode("utf-8", "replace"))
                f.seek(after_first)
                if problem is not None:
                    raise DataFormatError(path, 1, problem)
            if not line.strip():
                raise DataFormatError(path, lineno, "empty line")
            parts = line.rstrip(" ").split(" ")
            if dims is None:
                dims = len(parts) - 1
                if dims < 1:
                    raise DataFormatError(path, lineno, "a word without values")
            if len(parts) != dims + 1:
                raise DataFormatError(path, lineno, f"expected a word and {dims} values, got {len(parts) - 1} values")
            n_lines += 1
            word = parts[0]
            if lookup is not None and word not in lookup:
                continue
            try:
                vec = np.array(parts[1:], dtype=np.float32)
            except ValueError:
                bad = next(p for p in parts[1:] if not _is_float(p))
                raise DataFormatError(path, lineno, f"bad number {bad!r} for word {word!r}") from None
            if _add(vocab, seen, word, path, lineno):
                rows.append(vec)
                row_lines.append(lineno)
    if lineno == 0:
        raise DataFormatError(path, None, "empty file: no header and no vectors")
    if count is not None and n_lines != count:
        raise DataFormatError(path, 1, f"the header says {count} words but the file has {n_lines}")
    vectors = np.vstack(rows) if rows else np.zeros((0, dims or 0), dtype=np.float32)
    _check_finite(path, vocab, vectors, row_lines)
    return vocab, vectors


def _is_float(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _read_binary(path: Path, lookup: set[str] | None) -> tuple[list[str], np.ndarray]:
    with open(path, "rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as buf:
        end = buf.find(b"\n")
        parsed = _header(buf[:end].decode("utf-8", "replace")) if end > 0 else None
        if parsed is None:
            raise DataFormatError(path, 1, "expected a word2vec header '<count> <dims>'")
        count, dims = parsed
        width = 4 * dims
        pos = end + 1
        vocab: list[str] = []
        seen: dict[str, int] = {}
        rows: list[np.ndarray] = []
        row_lines: list[int] = []
        for i in range(count):
            entry = i + 1  # entries count like lines after the header: entry i is "line" i + 1
            while pos < len(buf) and buf[pos : pos + 1] == b"\n":
                pos += 1
            space = buf.find(b" ", pos)
            if pos >= len(buf) or space < 0:
                raise DataFormatError(path, entry + 1, f"the header says {count} words but the file has {i}")
            try:
                word = buf[pos:space].decode("utf-8")
            except UnicodeDecodeError:
                raise DataFormatError(path, entry + 1, "a word that is not UTF-8") from None
            if not word or "\n" in word:
                raise DataFormatError(path, entry + 1, f"bad word {word[:40]!r}: the vector sizes do not match the header")
            start = space + 1
            if start + width > len(buf):
                raise DataFormatError(path, entry + 1, f"word {word!r}: fewer than {dims} values before the end of the file")
            if lookup is None or word in lookup:
                if _add(vocab, seen, word, path, entry + 1):
                    rows.append(np.frombuffer(buf[start : start + width], dtype="<f4").copy())
                    row_lines.append(entry + 1)
            pos = start + width
        while pos < len(buf) and buf[pos : pos + 1] in (b"\n", b"\r", b" "):
            pos += 1
        if pos < len(buf):
            raise DataFormatError(path, count + 2, f"data after the {count} words the header announces")
    vectors = np.vstack(rows).astype(np.float32) if rows else np.zeros((0, dims), dtype=np.float32)
    _check_finite(path, vocab, vectors, row_lines)
    return vocab, vectors


def write_word2vec(emb: Embeddings, path: str | Path, *, binary: bool = False) -> Path:
    """Write the covered words (missing ones have no vector) atomically in word2vec format.

    Text values use 9 significant digits, which round-trip float32 exactly. Non-finite vectors are refused
    (a ParameterError naming the words) rather than written as ``nan`` for another tool to trip over. A
    write that fails (disk full) raises :class:`VectorFileWriteError` naming ``path``, and leaves any
    earlier file of that name as it was.
    """
    path = Path(path)
    with np.errstate(over="ignore"):  # float64 beyond float32 range becomes inf: refused below
        vectors = np.asarray(emb.vectors, dtype=np.float32)
    if vectors.ndim != 2:
        raise ParameterError(f"word2vec files hold one vector per word; got vectors of shape {vectors.shape}")
    bad = ~np.isfinite(vectors).all(axis=1)
    if bad.any():
        sample = [emb.words[i] for i in np.flatnonzero(bad)[:5]]
        raise ParameterError(
            f"{int(bad.sum())} vector(s) hold nan, inf or values beyond float32 range, e.g. of {sample}; "
            f"refusing to write them to {path}"
        )
    for w in emb.words:
        if not w or any(c.isspace() for c in w):
            raise ParameterError(f"word {w!r} cannot be written to a word2vec file (empty or with whitespace)")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_open(path, "wb") as f:
            n, d = vectors.shape
            f.write(f"{n} {d}\n".encode())
            if binary:
                le = vectors.astype("<f4")
                for word, row in zip(emb.words, le, strict=True):
                    f.write(word.encode("utf-8") + b" " + row.tobytes() + b"\n")
            else:
                for start in range(0, n, 4096):
                    block = vectors[start : start + 4096]
                    text = np.char.mod("%.9g", block)
                    lines = [
                        w + " " + " ".join(vals) + "\n"
                        for w, vals in zip(emb.words[start : start + 4096], text.tolist(), strict=True)
                    ]
                    f.write("".join(lines).encode("utf-8"))
    except OSError as exc:
        raise VectorFileWriteError(path, exc) from exc
    return path


def write_word2vec_text(emb: Embeddings, path: str | Path) -> Path:
    return write_word2vec(emb, path, binary=False)


def write_word2vec_binary(emb: Embeddings, path: str | Path) -> Path:
    return write_word2vec(emb, path, binary=True)
