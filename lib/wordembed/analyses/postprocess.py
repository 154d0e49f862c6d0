"""Post-processing that removes anisotropy before cosines are compared.

LLM hidden states share a large common direction (every cosine 0.85-0.99), so "LLMs put related words closer"
may only mean "LLM cosines are all high". Mean-centring removes the common vector; all-but-the-top
(Mu & Viswanath 2018, "All-but-the-Top: Simple and Effective Postprocessing for Word Representations")
also projects out the top principal directions, which carry frequency and other non-semantic signal. If a
difference between models survives these, it is not just anisotropy.
"""

from __future__ import annotations

import numpy as np

from wordembed.embeddings import Embeddings
from wordembed.errors import ParameterError


def _array(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x)
    if x.ndim != 2:
        raise ParameterError(f"vectors must be a 2-D array (words x dims), got shape {x.shape}")
    return x


def center(x: np.ndarray) -> np.ndarray:
    """Subtract the mean vector (computed in float64); float32 out."""
    x = _array(x)
    mean = x.mean(axis=0, dtype=np.float64)
    return (x.astype(np.float64) - mean).astype(np.float32)


def top_directions(x: np.ndarray, d: int) -> np.ndarray:
    """The ``d`` leading principal directions of ``x`` (rows of a ``(d, dims)`` array), largest first.

    An eigendecomposition of the ``dims x dims`` covariance in float64: exact and cheap when words >> dims.
    """
    x = _array(x)
    if not 0 <= int(d) < x.shape[1]:
        raise ParameterError(f"abtt: the number of directions must be in [0, {x.shape[1] - 1}], got {d!r}")
    xc = x.astype(np.float64) - x.mean(axis=0, dtype=np.float64)
    _, vecs = np.linalg.eigh(xc.T @ xc)
    return vecs[:, ::-1][:, : int(d)].T.copy()


def all_but_the_top(x: np.ndarray, d: int) -> np.ndarray:
    """Mu & Viswanath's post-processing: centre, then remove the projection on the top ``d`` directions."""
    x = _array(x)
    u = top_directions(x, d)
    xc = x.astype(np.float64) - x.mean(axis=0, dtype=np.float64)
    return (xc - (xc @ u.T) @ u).astype(np.float32)


def postprocess(emb: Embeddings, *, center_vectors: bool = False, abtt: int = 0) -> Embeddings:
    """The same words with post-processed vectors (``abtt`` > 0 implies centring); model name records it."""
    if abtt < 0:
        raise ParameterError(f"abtt must be >= 0, got {abtt}")
    if abtt:
        vectors, tag = all_but_the_top(emb.vectors, abtt), f"abtt{abtt}"
    elif center_vectors:
        vectors, tag = center(emb.vectors), "centered"
    else:
        return emb
    return Embeddings(list(emb.words), vectors, missing=list(emb.missing), model=f"{emb.model}+{tag}")
