"""Evaluation data sets: BATS 3.0, Google analogies, word-similarity sets, WordNet lemmas, vocabularies.

Every loader reads from the data directory (:func:`wordembed.paths.data_dir`, env ``WORDEMBED_DATA``) unless
given ``root``, verifies files against ``SHA256SUMS`` (warning with :class:`UnverifiedDataWarning` when a file
has no recorded checksum), checks the published structure and sizes independently of the checksums
(``strict=True``), and reports malformed input with file and line (:class:`wordembed.errors.DataFormatError`)
instead of skipping it.
"""

from wordembed.datasets._io import (
    DATA_SOURCES,
    UnverifiedDataWarning,
    clear_checksum_cache,
    read_lines,
    sha256_file,
    verify_file,
    verify_files,
)
from wordembed.datasets.bats import (
    BATS_GROUPS,
    PAIRS_PER_RELATION,
    BatsRelation,
    bats_pairs,
    bats_words,
    load_bats,
    parse_bats_file,
)
from wordembed.datasets.google import (
    GOOGLE_QUESTIONS,
    GOOGLE_SECTIONS,
    load_google_analogy,
    parse_google_analogy,
)
from wordembed.datasets.similarity import (
    SIMILARITY_SCALES,
    SIMILARITY_SIZES,
    WORD_SIMILARITY_SETS,
    load_word_similarity,
    parse_word_similarity,
    word_similarity_path,
)
from wordembed.datasets.vocabulary import VOCABULARIES, load_vocabulary, read_word_list
from wordembed.datasets.wordnet import find_wordnet, load_wordnet_lemmas

__all__ = [
    "BATS_GROUPS",
    "DATA_SOURCES",
    "GOOGLE_QUESTIONS",
    "GOOGLE_SECTIONS",
    "PAIRS_PER_RELATION",
    "SIMILARITY_SCALES",
    "SIMILARITY_SIZES",
    "VOCABULARIES",
    "WORD_SIMILARITY_SETS",
    "BatsRelation",
    "UnverifiedDataWarning",
    "bats_pairs",
    "bats_words",
    "clear_checksum_cache",
    "find_wordnet",
    "load_bats",
    "load_google_analogy",
    "load_vocabulary",
    "load_word_similarity",
    "load_wordnet_lemmas",
    "parse_bats_file",
    "parse_google_analogy",
    "parse_word_similarity",
    "read_lines",
    "read_word_list",
    "sha256_file",
    "verify_file",
    "verify_files",
    "word_similarity_path",
]
