"""The contract every backend meets, so the store can cache any of them the same way."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

import numpy as np


@runtime_checkable
class Encoder(Protocol):
    """Turns single words into vectors.

    ``fingerprint`` identifies everything that changes the vectors (model key, backend options, artefact
    checksum): the store keys its cache on it, so two encoders with equal fingerprints must give equal
    vectors for equal words.
    """

    key: str

    def fingerprint(self) -> str: ...

    def encode(self, words: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """Return ``(vectors, present)``: float32 ``(n, d)`` (or ``(n, layers, d)``) and a bool ``(n,)`` mask.

        Rows where ``present`` is False (a word a static model lacks) are zeros and must not be used.
        """
        ...
