"""The agreement task (notebook 05, ``wordembed agreement``): do two models agree on which words are alike?

Why a task: notebook 05 sampled its words from the study vocabulary and added the anisotropy controls, the
CLI took a whole word list and wrote other file names; one class now does both (``agreement_words`` None:
every word of the vocabulary). The analysis is :func:`wordembed.analyses.agreement.model_agreement`; the
controls (Spearman again on centred and standardised vectors) are
:func:`wordembed.analyses.controls.agreement_controls`.

Files (see :mod:`wordembed.tasks.result` for the folder contract):

``agreement`` (CSV + Parquet)
    one row per measure, pair set, model pair and variant: measure, pairs, model_a, model_b, value, ci_low,
    ci_high, n, variant (``raw``, and ``centered`` / ``standardized`` Spearman rows with ``controls``).
``matrix_<key>`` (CSV + Parquet)
    one square matrix per key of the raw vectors (``spearman_random``, ``knn_jaccard``, ...).
``scores``
    task ``agreement``; ``model`` = model_a and ``subset`` = model_b (level ``model_pair``); ``dataset`` = the
    pair set (``random``, ``related``; ``words`` for the word-level measures); ``method`` = ``metric`` = the
    measure; ``n`` = pairs or words; ``coverage`` = shared words over the words asked.
``metrics.json``
    ``models``, ``n_words``, ``n_pairs``, ``pair_sources``, ``options``, ``matrices`` and ``table`` (the raw rows).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np
import pandas as pd
from pydantic import StrictBool, StrictInt, StrictStr, field_validator

from wordembed.embeddings import Embeddings
from wordembed.tasks.base import TASKS, Task, study_field
from wordembed.tasks.result import Result

SECTION = "agreement"
TABLE = "agreement"


def _measures() -> tuple[str, ...]:
    from wordembed.analyses.agreement import MEASURES

    return MEASURES


class Agreement(Task):
    """Spearman / Kendall of cosines (random and related pairs apart), k-NN overlap and (debiased) CKA for every
    pair of models, on the words all of them cover.

    Words: ``agreement_words`` seeded draws from ``vocabulary`` (None: all of it) plus the BATS words.
    ``related`` False: random pairs only. ``controls``: Spearman again on centred and standardised vectors.
    ``kendall_bootstrap`` / ``cka_bootstrap`` None: the analysis' defaults (min(bootstrap, 200 / 100)).
    """

    name: ClassVar[str] = SECTION

    vocabulary: StrictStr = study_field("vocabulary")
    vocab_limit: StrictInt = study_field("vocab_limit")
    seed: StrictInt = study_field("seed")
    agreement_words: StrictInt | None = study_field("agreement_words")
    n_random_pairs: StrictInt = study_field("n_random_pairs")
    knn_k: StrictInt = study_field("knn_k")
    bootstrap: StrictInt = study_field("bootstrap")
    kendall_bootstrap: StrictInt | None = study_field("kendall_bootstrap")
    cka_bootstrap: StrictInt | None = study_field("cka_bootstrap")
    measures: list[str] | None = None
    related: StrictBool = True
    controls: StrictBool = True
    device: str | None = None

    @field_validator("measures")
    @classmethod
    def _known(cls, measures: list[str] | None) -> list[str] | None:
        if measures is not None:
            bad = [m for m in measures if m not in _measures()]
            if bad or not measures:
                raise ValueError(f"unknown measure(s) {bad}; valid: {', '.join(_measures())}")
            return list(dict.fromkeys(measures))
        return measures

    def parameters(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude={"device"}) | {"measures": list(self.measures or _measures())}

    def sample(self) -> list[str]:
        """The vocabulary words the task draws (all of them when ``agreement_words`` is None)."""
        from wordembed.vocabulary import select_vocabulary

        vocab = select_vocabulary(self.vocabulary, self.vocab_limit, self.seed)
        if self.agreement_words is None:
            return vocab
        rng = np.random.default_rng(self.seed)
        chosen = rng.choice(len(vocab), size=min(self.agreement_words, len(vocab)), replace=False)
        return [vocab[i] for i in sorted(chosen)]

    def words(self) -> list[str]:
        from wordembed.datasets import bats_words, load_bats

        return sorted(set(self.sample()) | set(bats_words(load_bats())))

    def run(self, embeddings: Mapping[str, Embeddings]) -> Result:  # type: ignore[override]
        """``embeddings``: model key -> its vectors of :meth:`words` (two or more models)."""
        from wordembed.analyses.agreement import model_agreement
        from wordembed.analyses.controls import agreement_controls
        from wordembed.datasets import bats_pairs, load_bats
        from wordembed.errors import ParameterError

        if len(embeddings) < 2:
            raise ParameterError(f"agreement: give at least 2 models, got {list(embeddings)}")
        related = bats_pairs(load_bats()) if self.related else None
        measures = tuple(self.measures or _measures())
        device = self.device if self.device and self.device.startswith("cuda") else None
        common = {"n_random": self.n_random_pairs, "k": self.knn_k, "seed": self.seed, "n_boot": self.bootstrap}
        result = model_agreement(embeddings, related, kendall_boot=self.kendall_bootstrap,
                                 cka_boot=self.cka_bootstrap, measures=measures, device=device, **common)  # fmt: skip
        frames = [result.table.assign(variant="raw")]
        if self.controls and "spearman" in measures:
            frames.append(agreement_controls(embeddings, related, **common))
        table = pd.concat(frames, ignore_index=True)
        tables = {TABLE: table} | {f"matrix_{k}": m.reset_index(names="model") for k, m in result.matrices.items()}
        asked = len(self.words())
        coverage = {k: {"covered": len(e.words), "asked": len(e.words) + len(e.missing)} for k, e in embeddings.items()}
        metrics = {**result.to_dict(), "table": result.table.to_dict(orient="records"), "coverage": coverage,
                   "measures": list(_measures())}  # fmt: skip
        return AgreementResult.of(self, SECTION, tables, agreement_scores(table, result.n_words / asked), metrics)


class AgreementResult(Result):
    """A :class:`Result` with the agreement ``table`` and its ``matrices`` (raw vectors)."""

    @property
    def table(self) -> pd.DataFrame:
        return self.tables[TABLE]

    @property
    def matrices(self) -> dict[str, pd.DataFrame]:
        return {n.removeprefix("matrix_"): t.set_index("model") for n, t in self.tables.items() if n.startswith("matrix_")}


def agreement_scores(table: pd.DataFrame, coverage: float) -> pd.DataFrame:
    """One scores row per agreement row: the pair of models in ``model`` / ``subset``."""
    out = pd.DataFrame(
        {
            "model": table["model_a"], "task": SECTION, "dataset": table["pairs"], "variant": table["variant"],
            "level": "model_pair", "subset": table["model_b"], "method": table["measure"], "metric": table["measure"],
            "value": table["value"], "ci_low": table["ci_low"], "ci_high": table["ci_high"], "n": table["n"],
            "coverage": coverage,
        }
    )  # fmt: skip
    return out


def agreement_table(scores: pd.DataFrame) -> pd.DataFrame:
    """The agreement table (measure, pairs, model_a, model_b, value, ci_low, ci_high, n, variant) back from
    the long scores, e.g. :func:`wordembed.results.load_results` of a study."""
    part = scores[scores["task"] == SECTION]
    return pd.DataFrame(
        {
            "measure": part["metric"], "pairs": part["dataset"], "model_a": part["model"], "model_b": part["subset"],
            "value": part["value"], "ci_low": part["ci_low"], "ci_high": part["ci_high"], "n": part["n"],
            "variant": part["variant"],
        }
    ).reset_index(drop=True)  # fmt: skip


def agreement_matrices(scores: pd.DataFrame, variant: str = "raw") -> dict[str, pd.DataFrame]:
    """Square matrices (key ``spearman_random``, ``knn_jaccard``, ...) of one variant from the long scores;
    models in order of first appearance, 1 on the diagonal."""
    from wordembed.analyses.agreement import matrix_key

    table = agreement_table(scores)
    table = table[table["variant"] == variant]
    names = list(dict.fromkeys([*table["model_a"], *table["model_b"]]))
    out = {}
    for (measure, pairs), part in table.groupby(["measure", "pairs"], sort=False):
        mat = pd.DataFrame(np.eye(len(names)), index=names, columns=names)
        for r in part.itertuples():
            mat.loc[r.model_a, r.model_b] = mat.loc[r.model_b, r.model_a] = r.value
        out[matrix_key(str(measure), str(pairs))] = mat
    return out


TASKS.register(Agreement.name, Agreement, replace=True)
