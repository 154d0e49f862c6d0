"""The one type that crosses from the store to the analyses: words and their vectors.

Analyses take an :class:`Embeddings` (or plain arrays) and never load a model.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np


@dataclass
class Embeddings:
    """Vectors of the words a model covers, plus the words it was asked for but lacks.

    ``vectors`` is ``(n, d)`` float32, row ``i`` belongs to ``words[i]``; words are unique.
    ``missing`` are words the model has no vector for (a static model's out-of-vocabulary words): they are
    recorded, never given a made-up vector, so analyses can report coverage.
    """

    words: list[str]
    vectors: np.ndarray
    missing: list[str] = field(default_factory=list)
    model: str = ""

    def __post_init__(self) -> None:
        self.vectors = np.asarray(self.vectors)
        if self.vectors.ndim < 2 or self.vectors.shape[0] != len(self.words):
            raise ValueError(
                f"Embeddings of {self.model or 'a model'}: {len(self.words)} words but vectors of shape "
                f"{self.vectors.shape}"
            )
        self._index: dict[str, int] | None = None

    @property
    def dim(self) -> int:
        return int(self.vectors.shape[-1])

    def __len__(self) -> int:
        return len(self.words)

    def __contains__(self, word: object) -> bool:
        return word in self.index

    @property
    def index(self) -> dict[str, int]:
        if self._index is None:
            self._index = {w: i for i, w in enumerate(self.words)}
            if len(self._index) != len(self.words):
                raise ValueError(f"Embeddings of {self.model or 'a model'}: duplicate words")
        return self._index

    def rows(self, words: Iterable[str]) -> np.ndarray:
        """Row indices of ``words``; -1 where a word is not covered."""
        idx = self.index
        return np.fromiter((idx.get(w, -1) for w in words), dtype=np.int64)

    def subset(self, words: Sequence[str]) -> Embeddings:
        """The covered words among ``words``, in that order; the rest become ``missing``."""
        rows = self.rows(words)
        keep = rows >= 0
        kept = [w for w, k in zip(words, keep, strict=True) if k]
        lost = [w for w, k in zip(words, keep, strict=True) if not k]
        return Embeddings(kept, self.vectors[rows[keep]], missing=lost, model=self.model)

    def coverage(self) -> float:
        asked = len(self.words) + len(self.missing)
        return len(self.words) / asked if asked else 0.0

    def normalized(self) -> np.ndarray:
        """Unit-length float32 rows (zero rows stay zero) for cosine work."""
        from wordembed.util import unit_rows

        return unit_rows(self.vectors)
