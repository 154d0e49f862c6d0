"""The analyses again on post-processed vectors: what survives centring, all-but-the-top and standardisation.

A difference between models that vanishes once the common direction or a rogue dimension is removed was
anisotropy, not structure. These helpers run the cheap core of analogies (3CosAdd, word similarity) and of
agreement (Spearman of cosines) on each :func:`~wordembed.analyses.postprocess.anisotropy_variants` variant,
so the notebooks stay a call each.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from wordembed.analyses.agreement import model_agreement
from wordembed.analyses.analogy import Candidates, RelationLike, solve_bats
from wordembed.analyses.postprocess import anisotropy_variants
from wordembed.analyses.word_similarity import evaluate_word_similarity
from wordembed.embeddings import Embeddings

AGREEMENT_VARIANTS = ("centered", "standardized")


def analogy_controls(
    emb: Embeddings,
    relations: Sequence[RelationLike],
    candidates: Candidates,
    *,
    abtt_components: int = -1,
    exclude_question_words: bool = True,
    n_boot: int = 1000,
    seed: int = 0,
) -> tuple[dict[str, Any], pd.DataFrame]:
    """BATS 3CosAdd and word similarity per post-processed variant, on the same candidate words.

    Returns (variant -> {"bats": ..., "word_similarity": ...} for metrics.json, one summary row per variant).
    """
    controls: dict[str, Any] = {}
    rows = []
    for name, variant in anisotropy_variants(emb, abtt_components).items():
        if name == "raw":
            continue
        cand = Candidates.from_embeddings(variant, candidates.words, name=candidates.name, models=candidates.models)
        result = solve_bats(variant, relations, methods=["3CosAdd"], candidates=cand,
                            exclude_question_words=exclude_question_words, n_boot=n_boot, seed=seed)
        sims = evaluate_word_similarity(variant, lowercase=True, n_boot=n_boot, seed=seed)
        controls[name] = {"bats": result.to_dict(), "word_similarity": sims.to_dict()}
        overall = result.overall.iloc[0]
        rho = dict(zip(sims.summary["benchmark"], sims.summary["spearman"], strict=True))
        rows.append({"variant": name, "bats_3CosAdd": overall["accuracy"], "ci_low": overall["accuracy_low"],
                     "ci_high": overall["accuracy_high"], **{f"rho_{b}": r for b, r in rho.items()}})
    return controls, pd.DataFrame(rows)


def agreement_controls(
    embs: Mapping[str, Embeddings],
    related: pd.DataFrame | None,
    *,
    variants: Sequence[str] = AGREEMENT_VARIANTS,
    **kwargs: Any,
) -> pd.DataFrame:
    """Spearman agreement (random and related pairs) on centred and standardised vectors, one table with a
    ``variant`` column (``kwargs`` go to :func:`model_agreement`: n_random, seed, n_boot, ...)."""
    per_model = {k: anisotropy_variants(e, 0) for k, e in embs.items()}  # no abtt: not used here
    tables = [
        model_agreement({k: v[name] for k, v in per_model.items()}, related, measures=("spearman",), **kwargs)
        .table.assign(variant=name)
        for name in variants
    ]
    return pd.concat(tables, ignore_index=True)
