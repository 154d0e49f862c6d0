"""Anisotropy controls: the same vectors after post-processing, so cosines can be compared beside raw ones.

LLM hidden states share a large common direction (every cosine 0.85-0.99), so "LLMs put related words closer"
may only mean "LLM cosines are all high". Every cosine analysis therefore reports, beside the raw vectors, the
variants of :func:`anisotropy_variants`:

* ``centered``: the mean vector subtracted, which removes the common direction.
* ``abttD``, all-but-the-top (Mu & Viswanath 2018, "All-but-the-Top: Simple and Effective Postprocessing for
  Word Representations"): centring, then projecting out the top ``D`` principal directions, which carry
  word frequency and other non-semantic signal. Their rule of thumb is ``D ≈ d / 100`` (2-3 for 300-d
  word2vec/GloVe); a fixed ``D`` would remove 6% of a 50-d GloVe's directions but 0.07% of a 4096-d LLaMA's,
  so the default scales with the width (:func:`abtt_dimensions`).
* ``standardized``: every dimension z-scored over the vocabulary (Timkey & van Schijndel 2021, "All Bark and
  No Bite: Rogue Dimensions in Transformer Language Models Obscure Representational Quality"). In
  transformer hidden states 1-3 "rogue" dimensions with huge mean and variance dominate every cosine; centring
  removes their mean, standardising also their variance, so no single dimension decides the similarity.

:func:`rogue_dimensions` measures that dominance: the exact mean cosine over all pairs split into one additive
contribution per dimension, and the share carried by the top 1, 3 and 10. If a difference between models
survives these controls, it is not just anisotropy.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np
import pandas as pd

from wordembed.embeddings import Embeddings
from wordembed.errors import ParameterError

AUTO = -1
"""``abtt_components`` / ``--abtt`` value meaning Mu & Viswanath's ``D = max(1, round(dims / 100))``."""

_CHUNK_VALUES = 1 << 22  # float64 work arrays of about 32 MB: a 77,503 x 4096 matrix never exists in float64


def _array(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x)
    if x.ndim != 2:
        raise ParameterError(f"vectors must be a 2-D array (words x dims), got shape {x.shape}")
    return x


def _chunks(x: np.ndarray) -> Iterator[slice]:
    """Row slices small enough that a float64 copy of one stays around 32 MB."""
    step = max(1, _CHUNK_VALUES // max(1, x.shape[1]))
    return (slice(s, s + step) for s in range(0, x.shape[0], step))


def _map_rows(x: np.ndarray, fn: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
    """``fn`` applied to float64 row chunks, float32 out: row-wise maps without a full float64 copy."""
    out = np.empty(x.shape, dtype=np.float32)
    for rows in _chunks(x):
        out[rows] = fn(x[rows].astype(np.float64))
    return out


def abtt_dimensions(dims: int, requested: int = AUTO) -> int:
    """How many principal directions all-but-the-top removes from ``dims``-dimensional vectors.

    ``requested`` -1 (the default) is Mu & Viswanath's ``D = max(1, round(dims / 100))`` (Python's round, half
    to even): 1 for GloVe-50d, 4 for 384-d MiniLM, 6 for 576-d SmolLM2, 41 for 4096-d LLaMA-2; never more
    than ``dims - 1``. 0 means no all-but-the-top; ``k > 0`` is taken as is and must be below ``dims``.
    """
    if isinstance(dims, bool) or not isinstance(dims, (int, np.integer)) or dims < 1:
        raise ParameterError(f"abtt: the vectors' dimensionality must be a positive integer, got {dims!r}")
    if isinstance(requested, bool) or not isinstance(requested, (int, np.integer)):
        raise ParameterError(f"abtt: the number of directions must be an integer, got {requested!r}")
    dims, requested = int(dims), int(requested)
    if requested == AUTO:
        return min(max(1, round(dims / 100)), dims - 1)
    if requested < AUTO:
        raise ParameterError(
            f"abtt must be -1 (auto: max(1, round(dims / 100))), 0 (none) or 1..{dims - 1}, got {requested}"
        )
    if requested >= dims:
        raise ParameterError(
            f"abtt: cannot remove {requested} principal directions from {dims}-dimensional vectors "
            f"(at most {dims - 1}; -1 = auto gives {abtt_dimensions(dims)})"
        )
    return requested


def center(x: np.ndarray) -> np.ndarray:
    """Subtract the mean vector (computed in float64); float32 out."""
    x = _array(x)
    mean = x.mean(axis=0, dtype=np.float64)
    return _map_rows(x, lambda rows: rows - mean)


def standardize(x: np.ndarray) -> np.ndarray:
    """Z-score every dimension over the rows (float64 mean and population std); float32 out.

    A constant dimension (all values equal) becomes 0, not NaN: it carries no information about which words
    are alike, and 0 leaves every cosine to the other dimensions. Tiny but non-zero variances are scaled up
    like any other: that is what standardising means.
    """
    x = _array(x)
    if x.shape[0] == 0:
        return x.astype(np.float32)
    mean = x.mean(axis=0, dtype=np.float64)
    sq = np.zeros(x.shape[1], dtype=np.float64)
    for rows in _chunks(x):
        d = x[rows].astype(np.float64) - mean
        sq += np.einsum("ij,ij->j", d, d)
    std = np.sqrt(sq / x.shape[0])
    constant = (x.max(axis=0) == x.min(axis=0)) | ~(std > 0)
    scale = np.divide(1.0, std, out=np.zeros_like(std), where=~constant)
    return _map_rows(x, lambda rows: (rows - mean) * scale)


_zscore = standardize  # postprocess's keyword of the same name hides the function there


def top_directions(x: np.ndarray, d: int) -> np.ndarray:
    """The ``d`` leading principal directions of ``x`` (rows of a ``(d, dims)`` array), largest first.

    An eigendecomposition of the ``dims x dims`` covariance in float64: exact and cheap when words >> dims.
    """
    x = _array(x)
    if not 0 <= int(d) < x.shape[1]:
        raise ParameterError(f"abtt: the number of directions must be in [0, {x.shape[1] - 1}], got {d!r}")
    mean = x.mean(axis=0, dtype=np.float64)
    scatter = np.zeros((x.shape[1], x.shape[1]), dtype=np.float64)
    for rows in _chunks(x):
        xc = x[rows].astype(np.float64) - mean
        scatter += xc.T @ xc
    _, vecs = np.linalg.eigh(scatter)
    return vecs[:, ::-1][:, : int(d)].T.copy()


def all_but_the_top(x: np.ndarray, d: int) -> np.ndarray:
    """Mu & Viswanath's post-processing: centre, then remove the projection on the top ``d`` directions."""
    x = _array(x)
    u = top_directions(x, d)
    mean = x.mean(axis=0, dtype=np.float64)

    def project_out(rows: np.ndarray) -> np.ndarray:
        xc = rows - mean
        return xc - (xc @ u.T) @ u

    return _map_rows(x, project_out)


def postprocess(
    emb: Embeddings, *, center_vectors: bool = False, abtt: int = 0, standardize: bool = False
) -> Embeddings:
    """The same words with post-processed vectors; the model name records which (``m+centered`` ...).

    ``abtt`` > 0 removes that many principal directions (and implies centring), -1 Mu & Viswanath's
    ``max(1, round(dims / 100))``; ``standardize`` z-scores every dimension (which implies centring). The two
    are different controls, so asking for both is an error rather than a silent order of operations.
    """
    d = abtt_dimensions(emb.dim, abtt) if abtt else 0
    if d and standardize:
        raise ParameterError("postprocess: choose all-but-the-top or standardisation, not both")
    if d:
        vectors, tag = all_but_the_top(emb.vectors, d), f"abtt{d}"
    elif standardize:
        vectors, tag = _zscore(emb.vectors), "standardized"
    elif center_vectors:
        vectors, tag = center(emb.vectors), "centered"
    else:
        return emb
    return Embeddings(list(emb.words), vectors, missing=list(emb.missing), model=f"{emb.model}+{tag}")


def anisotropy_variants(
    emb: Embeddings, abtt_components: int = AUTO, *, standardized: bool = True
) -> dict[str, Embeddings]:
    """The variants every cosine analysis reports: raw, centered, ``abttD``, standardized, in that order.

    ``abtt_components`` as in :func:`abtt_dimensions` (-1: ``D = max(1, round(dims / 100))``; 0 leaves
    ``abttD`` out). ``standardized=False`` leaves that variant out (it costs one more all-pairs pass). "raw"
    is ``emb`` itself; the others are new :class:`Embeddings` whose model name carries the tag.
    """
    x = _array(emb.vectors)
    d = abtt_dimensions(x.shape[1], abtt_components)
    if x.shape[0] == 0:
        variants = {"raw": emb, "centered": postprocess(emb, center_vectors=True)}
        if d:
            variants[f"abtt{d}"] = postprocess(emb, abtt=d)
        if standardized:
            variants["standardized"] = postprocess(emb, standardize=True)
        return variants
    tags = {"centered": "centered", **({f"abtt{d}": f"abtt{d}"} if d else {})}
    if standardized:
        tags["standardized"] = "standardized"
    vectors = _variant_vectors(x, d, standardized)
    missing = list(emb.missing)
    return {"raw": emb} | {
        name: Embeddings(list(emb.words), vectors[name], missing=missing, model=f"{emb.model}+{tag}")
        for name, tag in tags.items()
    }


def _variant_vectors(x: np.ndarray, d: int, standardized: bool) -> dict[str, np.ndarray]:
    """:func:`center`, :func:`all_but_the_top` (``d`` > 0) and :func:`standardize` of ``x`` in two passes.

    The same operations on the same float64 chunks as the three functions, hence the same float32 values
    (tested), but the mean once, the scatter matrix and the squared deviations from one pass, and the three
    outputs from one more: each chunk is converted and centred once instead of five times.
    """
    mean = x.mean(axis=0, dtype=np.float64)
    scatter = np.zeros((x.shape[1], x.shape[1]), dtype=np.float64) if d else None
    sq = np.zeros(x.shape[1], dtype=np.float64) if standardized else None
    if d or standardized:
        for rows in _chunks(x):
            xc = x[rows].astype(np.float64) - mean
            if scatter is not None:
                scatter += xc.T @ xc
            if sq is not None:
                sq += np.einsum("ij,ij->j", xc, xc)
    u = np.linalg.eigh(scatter)[1][:, ::-1][:, :d].T.copy() if scatter is not None else None
    scale = None
    if sq is not None:
        std = np.sqrt(sq / x.shape[0])
        constant = (x.max(axis=0) == x.min(axis=0)) | ~(std > 0)
        scale = np.divide(1.0, std, out=np.zeros_like(std), where=~constant)
    out = {"centered": np.empty(x.shape, dtype=np.float32)}
    if u is not None:
        out[f"abtt{d}"] = np.empty(x.shape, dtype=np.float32)
    if scale is not None:
        out["standardized"] = np.empty(x.shape, dtype=np.float32)
    for rows in _chunks(x):
        xc = x[rows].astype(np.float64) - mean
        out["centered"][rows] = xc
        if u is not None:
            out[f"abtt{d}"][rows] = xc - (xc @ u.T) @ u
        if scale is not None:
            out["standardized"][rows] = xc * scale
    return out


def cosine_contributions(x: np.ndarray) -> tuple[float, np.ndarray]:
    """The exact mean cosine over all unordered pairs of distinct rows, and its split over dimensions.

    For unit rows u_j (float32 as :func:`wordembed.analyses.allpairs.normalize_rows` makes them, then float64)
    and S = sum_j u_j, the pair sum is sum_{j<k} u_j . u_k = (|S|^2 - sum_j |u_j|^2) / 2, and dimension i's
    part of it is (S_i^2 - sum_j u_ji^2) / 2. Divided by the n(n-1)/2 pairs: ``mean_cos = sum_i c_i`` with
    ``c_i = (S_i^2 - sum_j u_ji^2) / (n (n - 1))``, in O(n d) instead of the O(n^2 d) of all pairs. A zero row
    stays zero (its cosines count as 0, as in the all-pairs histogram).
    """
    from wordembed.analyses.allpairs import normalize_rows

    x = _array(x)
    n = x.shape[0]
    if n < 2:
        raise ParameterError(f"need at least 2 words for pairs, got {n}")
    total = np.zeros(x.shape[1], dtype=np.float64)
    squares = np.zeros(x.shape[1], dtype=np.float64)
    for rows in _chunks(x):
        u = normalize_rows(x[rows]).astype(np.float64)
        total += u.sum(axis=0)
        squares += np.einsum("ij,ij->j", u, u)
    c = (total * total - squares) / (n * (n - 1))
    return float(c.sum()), c


def rogue_dimensions(
    x: np.ndarray, tops: Sequence[int] = (1, 3, 10), *, min_mean: float = 1e-3
) -> dict[str, Any]:
    """How much of the mean pair cosine the few largest dimensions carry (Timkey & van Schijndel 2021).

    Returns ``n_words``, ``dims``, ``mean_cos`` (exact, see :func:`cosine_contributions`), ``share_top{k}``
    for each k of ``tops`` (the sum of the k largest contributions c_i over ``mean_cos``; k above ``dims``
    takes them all, giving 1), ``top_dimensions`` (indices of the ``max(tops)`` largest, largest first) and
    ``top_contributions`` (their c_i). In LLM hidden states 1-3 dimensions carry most of the cosine; in an
    isotropic space none does.

    A share is only meaningful when there is a mean to share out: when ``mean_cos <= min_mean`` (an isotropic
    or centred space, whose mean is about -1/(n-1), a sum of contributions that cancel) every share is NaN
    (null in metrics.json) rather than a ratio of noise.
    """
    ks = [int(k) for k in tops]
    if not ks or any(k < 1 for k in ks):
        raise ParameterError(f"rogue_dimensions: tops must be positive integers, got {list(tops)!r}")
    mean_cos, c = cosine_contributions(x)
    order = np.argsort(-c, kind="stable")[: max(ks)]
    ranked = np.cumsum(c[order])
    defined = mean_cos > min_mean
    out: dict[str, Any] = {"n_words": int(x.shape[0]), "dims": int(c.size), "mean_cos": mean_cos}
    for k in ks:
        top = ranked[min(k, ranked.size) - 1]
        out[f"share_top{k}"] = float(top / mean_cos) if defined else float("nan")
    out["top_dimensions"] = [int(i) for i in order]
    out["top_contributions"] = [float(v) for v in c[order]]
    return out


def rogue_dimension_table(variants: dict[str, Embeddings], tops: Sequence[int] = (1, 3, 10)) -> pd.DataFrame:
    """One :func:`rogue_dimensions` row per variant (``variant`` first): raw's rogue dimensions beside what
    centring, all-but-the-top and standardising leave of them. O(n d) each, negligible beside all pairs."""
    rows = [{"variant": name, **rogue_dimensions(e.vectors, tops)} for name, e in variants.items()]
    return pd.DataFrame(rows)
