"""The vocabulary a study embeds: a named word list, optionally a seeded sample of it.

A sample keeps quick runs quick without changing code paths; the full list is the study's real setting.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping

import numpy as np

from wordembed.errors import ParameterError


def select_vocabulary(name: str, limit: int = 0, seed: int = 0) -> list[str]:
    """Words of the named vocabulary (see ``wordembed.datasets.load_vocabulary``), sorted.

    ``limit`` > 0 draws that many words without replacement with ``seed``; the result stays sorted so it
    is the same whatever order the sample was drawn in.
    """
    from wordembed.datasets import load_vocabulary

    if limit < 0:
        raise ParameterError(f"vocab_limit must be >= 0, got {limit}")
    words = sorted(set(load_vocabulary(name)))
    if limit and limit < len(words):
        rng = np.random.default_rng(seed)
        chosen = rng.choice(len(words), size=limit, replace=False)
        words = [words[i] for i in sorted(chosen)]
    return words


ANALOGY_CANDIDATE_MODES: tuple[str, ...] = ("common", "bats+vocabulary", "bats")


def analogy_candidates(vocabulary: list[str], bats_words: list[str], mode: str) -> list[str]:
    """Candidate answers for analogies: the BATS words, plus the study vocabulary unless mode is 'bats'.

    ``"common"`` returns the same list as ``"bats+vocabulary"``: its restriction to the words every model of
    the study covers needs the models' coverage, which :func:`common_candidates` applies.
    """
    if mode == "bats":
        return sorted(set(bats_words))
    if mode in ("bats+vocabulary", "common"):
        return sorted(set(bats_words) | set(vocabulary))
    raise ParameterError(f"analogy_candidates={mode!r}; valid: {', '.join(ANALOGY_CANDIDATE_MODES)}")


def common_candidates(words: Iterable[str], coverage: Mapping[str, Collection[str]]) -> list[str]:
    """The ``words`` (deduplicated, in order) that every model of ``coverage`` has a vector for.

    ``coverage`` maps a model key to the words it covers (an Embeddings' ``.words``, say). A model scored on
    the candidates it alone covers faces fewer distractors than one with a larger vocabulary, so a
    cross-model comparison ranks every model over this one shared list. Fails when no model is given or
    when no word is left, naming the model that covers least.
    """
    if not coverage:
        raise ParameterError("common candidates: give the coverage of at least one model")
    wanted = list(dict.fromkeys(words))
    covers = {model: c if isinstance(c, (set, frozenset)) else set(c) for model, c in coverage.items()}
    kept = [w for w in wanted if all(w in c for c in covers.values())]
    if wanted and not kept:
        least = min(covers, key=lambda m: sum(w in covers[m] for w in wanted))
        raise ParameterError(
            f"common candidates: no word of {len(wanted)} is covered by every model of {sorted(covers)} "
            f"({least} covers fewest)"
        )
    return kept


def embedding_words(vocabulary: list[str]) -> list[str]:
    """Every word a per-model run needs vectors for: the study vocabulary plus the words of BATS, the Google
    analogy set and the word-similarity sets (lower-cased, as the analyses look them up), so later notebooks
    find them all in the store."""
    from wordembed.datasets import (
        WORD_SIMILARITY_SETS,
        bats_words,
        load_bats,
        load_google_analogy,
        load_word_similarity,
    )

    words = set(vocabulary) | set(bats_words(load_bats()))
    google = load_google_analogy()
    for column in ("a", "b", "c", "d"):
        words |= set(google[column])
    for name in WORD_SIMILARITY_SETS:
        table = load_word_similarity(name)
        words |= {w.lower() for w in table["word1"]} | {w.lower() for w in table["word2"]}
    return sorted(w for w in words if w)


LAYER_SIMILARITY_SETS: tuple[str, ...] = ("simlex999", "men")
DEFAULT_LAYER_SAMPLE = 10_000


def layer_sweep_words(
    sample: int = DEFAULT_LAYER_SAMPLE, seed: int = 0, similarity: Iterable[str] = LAYER_SIMILARITY_SETS
) -> list[str]:
    """The vocabulary of a layer sweep: every BATS word, the words of the ``similarity`` sets (lower-cased,
    as the analyses look them up) and a seeded sample of ``sample`` WordNet lemmas, sorted.

    Why not the whole WordNet list: a sweep keeps every hidden layer of every word ((L + 1) x d floats a
    word: 71 KB for SmolLM2-135M), so all 77,503 lemmas would need 5.5 GB, where the default (16,328 words
    with the benchmark words) needs 1.2 GB. The sample is there so that the analogy candidates, the centring and
    standardisation statistics and the anisotropy are not those of benchmark words alone. ``sample`` 0 leaves
    WordNet out.
    """
    from wordembed.datasets import bats_words, load_bats, load_word_similarity

    if isinstance(sample, bool) or not isinstance(sample, int) or sample < 0:
        raise ParameterError(f"layer_words (the WordNet sample of a layer sweep) must be an int >= 0, got {sample!r}")
    words = set(bats_words(load_bats()))
    for name in similarity:
        table = load_word_similarity(name)
        words |= {w.lower() for w in table["word1"]} | {w.lower() for w in table["word2"]}
    if sample:
        words |= set(select_vocabulary("wordnet", sample, seed))
    return sorted(w for w in words if w)
