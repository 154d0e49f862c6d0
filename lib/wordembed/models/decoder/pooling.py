"""Pooling a word's hidden states into one vector: pure functions of arrays, testable without a model.

Why apart from the encoder: what a word's vector *is* (the mean of its tokens' states, its last token's, the
prompt's last) is the one step of the decoder backend with a closed-form answer, and it should be checked on
a hand-built tensor, not only through a forward pass. The encoder builds the weights once per batch
(:func:`pooling_weights`, numpy) and applies them to the model's states (:func:`pool`, torch).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from wordembed.errors import ParameterError
from wordembed.models.decoder.options import POOLINGS


def pooling_weights(
    positions: Sequence[Sequence[int]],
    lengths: Sequence[int],
    pooling: str,
    width: int,
    offset: int = 0,
) -> np.ndarray:
    """float32 ``(batch, width)`` weights over token positions: row r sums to 1 over the tokens it pools.

    ``positions[r]``: the positions of row r's word tokens in its full prompt; ``lengths[r]``: the prompt's
    length in tokens; ``offset``: how many leading tokens are not in the batch (a shared, cached prefix), so
    position p is column ``p - offset``. ``mean``: ``1 / n`` on each of the word's n tokens; ``last``: 1 on
    its last token; ``prompt_last``: 1 on the prompt's last token (right padding puts it at ``length - 1``).
    """
    if pooling not in POOLINGS:
        raise ParameterError(f"pooling={pooling!r}; valid: {', '.join(POOLINGS)}")
    weight = np.zeros((len(positions), width), dtype=np.float32)
    for r, (pos, length) in enumerate(zip(positions, lengths, strict=True)):  # over a batch's rows
        if pooling == "mean":
            weight[r, [p - offset for p in pos]] = 1.0 / len(pos)
        elif pooling == "last":
            weight[r, pos[-1] - offset] = 1.0
        else:
            weight[r, length - offset - 1] = 1.0
    return weight


def pool(hidden: Any, weight: Any) -> Any:
    """The weighted sum over tokens of hidden states, as float32 torch tensors.

    ``hidden``: ``(batch, seq, d)`` states of one layer, or ``(batch, layers, seq, d)`` of several;
    ``weight``: ``(batch, seq)`` from :func:`pooling_weights`. Positions of weight 0 are zeroed before the
    sum, so padding never leaks in, even as NaN or inf (0 * NaN would be NaN). Returns ``(batch, d)`` or
    ``(batch, layers, d)``.
    """
    import torch

    weight = torch.as_tensor(weight, device=hidden.device)
    keep = (weight > 0)[..., None]
    h = hidden.float()
    if h.dim() == 4:
        return torch.einsum("bt,bltd->bld", weight, h.masked_fill(~keep[:, None], 0.0))
    if h.dim() != 3:
        raise ParameterError(
            f"hidden: expected (batch, seq, d) or (batch, layers, seq, d), got shape {tuple(h.shape)}"
        )
    return torch.einsum("bt,btd->bd", weight, h.masked_fill(~keep, 0.0))
