"""Tasks: one class per analysis, built from validated parameters, ``run(embeddings) -> Result``.

One task per analysis (notebook: task): 01 :class:`Coverage`, 02 :class:`SimilarityDistribution`, 03
:class:`RelatedPairs`, 04 :class:`Analogies` + :class:`WordSimilarity` + :class:`AnisotropyControls`, 05
:class:`Agreement` (several models), 07 :class:`LayerSweep` (a model reference: it needs every layer). The CLI
commands and the notebooks are a few lines each around these (see docs/EXTENDING.md)::

    task = Analogies(dataset="bats", methods=["3CosAdd"], bootstrap=1000)
    result = task.run(get_embeddings("glove-50d", task.words()))
    result.save(out)                      # tables, scores, candidates.txt, metrics.json
    wordembed.results.load_results(root)  # every saved scores table of a study, one frame

Notebooks import from the modules (``from wordembed.tasks.analogies import Analogies``): the runner's code hash
(:mod:`wordembed.job_keys`) follows import statements, and these names resolve lazily (PEP 562), so that
``import wordembed.tasks.solvers`` imports numpy and the registry only:
:mod:`wordembed.analyses.analogy` can take its solver terms from there without an import cycle.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS: dict[str, str] = {
    "Task": "base",
    "TASKS": "base",
    "study_field": "base",
    "Result": "result",
    "Registry": "registry",
    "Analogies": "analogies",
    "AnalogiesResult": "analogies",
    "supported_methods": "analogies",
    "CandidateWords": "candidates",
    "candidate_name": "candidates",
    "candidate_pool": "candidates",
    "AnisotropyControls": "controls",
    "Solver": "solvers",
    "SOLVERS": "solvers",
    "WordSimilarity": "word_similarity",
    "WordSimilarityResult": "word_similarity",
    "SIMILARITY_SETS": "word_similarity",
    "similarity_set_from_file": "word_similarity",
    "Coverage": "embed",
    "SimilarityDistribution": "similarity",
    "RelatedPairs": "related",
    "Agreement": "agreement",
    "AgreementResult": "agreement",
    "LayerSweep": "layers",
    "LayerSweepResult": "layers",
}
BUILT_IN_TASK_MODULES: tuple[str, ...] = (
    "embed", "similarity", "related", "analogies", "word_similarity", "controls", "agreement", "layers",
)  # fmt: skip
"""Each registers its task in :data:`TASKS` when imported."""

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'wordembed.tasks' has no attribute {name!r}")
    if name == "TASKS":
        for module in BUILT_IN_TASK_MODULES:
            importlib.import_module(f"wordembed.tasks.{module}")
    return getattr(importlib.import_module(f"wordembed.tasks.{_EXPORTS[name]}"), name)
