"""Word frequencies for frequency-matched baselines, from the ``wordfreq`` package (its data ship inside it).

A related pair of common words compared against random pairs of rare lemmas measures frequency as well as
relatedness; matching the random pairs' frequencies to the related pairs' removes that (see
``wordembed.analyses.related``). Zipf scale: log10 of occurrences per billion words (``cat`` 4.8).
"""

from __future__ import annotations

from collections.abc import Iterable

from wordembed.errors import ParameterError


def zipf_frequencies(words: Iterable[str], lang: str = "en") -> dict[str, float]:
    """Zipf frequency of every word (0.0 for a word wordfreq has never seen)."""
    try:
        from wordfreq import zipf_frequency
    except ImportError as exc:
        raise ParameterError(
            "related_baseline=frequency_matched needs the wordfreq package: pip install 'wordembed[freq]'"
        ) from exc
    return {w: float(zipf_frequency(w.replace("_", " "), lang)) for w in dict.fromkeys(words)}
