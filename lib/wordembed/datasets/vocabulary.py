"""Word lists the store embeds: named study vocabularies, or a user's file of one word per line.

The named lists contain exactly the words the default loaders return (Google lower-cased, word-similarity
sets in their own case), so every word an analysis looks up has been embedded.
"""

from __future__ import annotations

from pathlib import Path

from wordembed.datasets._io import read_lines
from wordembed.datasets.bats import bats_words, load_bats
from wordembed.datasets.google import load_google_analogy
from wordembed.datasets.similarity import WORD_SIMILARITY_SETS, load_word_similarity
from wordembed.datasets.wordnet import load_wordnet_lemmas
from wordembed.errors import DataFormatError

VOCABULARIES: tuple[str, ...] = ("wordnet", "bats", "google", "wordsim", "study")


def google_words(root: str | Path | None = None) -> list[str]:
    frame = load_google_analogy(root)
    return sorted(set(frame[["a", "b", "c", "d"]].to_numpy().ravel().tolist()))


def wordsim_words(root: str | Path | None = None) -> list[str]:
    words: set[str] = set()
    for name in WORD_SIMILARITY_SETS:
        frame = load_word_similarity(name, root)
        words.update(frame["word1"].tolist())
        words.update(frame["word2"].tolist())
    return sorted(words)


def read_word_list(path: str | Path) -> list[str]:
    """Words of a file with one word per line, in file order, first occurrence of a repeat kept.

    A blank line or a line with whitespace in it is an error naming file and line: it is almost always a
    wrong file (a vector file, a sentence list), and silently dropping or splitting it would embed the wrong
    words.
    """
    path = Path(path).expanduser()
    words: dict[str, None] = {}
    for number, line in enumerate(read_lines(path), start=1):
        if not line.strip():
            raise DataFormatError(path, number, "blank line (a word list has one word per line)")
        if any(character.isspace() for character in line):
            raise DataFormatError(path, number, f"whitespace in {line!r} (a word list has one word per line)")
        words.setdefault(line, None)
    if not words:
        raise DataFormatError(path, None, "empty word list")
    return list(words)


def load_vocabulary(name_or_path: str | Path, *, root: str | Path | None = None) -> list[str]:
    """A named vocabulary (sorted unique) or the words of a word-list file (file order).

    ``wordnet``: the 77,503 filtered WordNet lemmas; ``bats``: BATS sources and answers; ``google``: the
    Google analogy words (lower-cased); ``wordsim``: every word of the word-similarity sets; ``study``: the
    union of all four. ``root`` is the data directory (default: ``WORDEMBED_DATA``); WordNet is found as
    :func:`~wordembed.datasets.load_wordnet_lemmas` finds it.
    """
    if isinstance(name_or_path, str) and name_or_path in VOCABULARIES:
        name = name_or_path
        if name == "wordnet":
            return load_wordnet_lemmas()
        if name == "bats":
            return bats_words(load_bats(root))
        if name == "google":
            return google_words(root)
        if name == "wordsim":
            return wordsim_words(root)
        union = set(load_wordnet_lemmas())
        union.update(bats_words(load_bats(root)))
        union.update(google_words(root))
        union.update(wordsim_words(root))
        return sorted(union)
    path = Path(name_or_path).expanduser()
    if not path.is_file():
        raise DataFormatError(
            path,
            None,
            f"missing file: not a word list (one word per line) nor one of the vocabularies {', '.join(VOCABULARIES)}",
        )
    return read_word_list(path)
