"""sentence-transformers models (MiniLM, mpnet, EmbeddingGemma): each word is encoded as a one-word sentence.

Loaded from the fetched folder, or from ``source.hf`` for users with network. Options:

- ``batch_size`` (64): words per forward pass; does not change the vectors beyond float rounding, so it
  is left out of the fingerprint;
- ``normalize`` (false): the store keeps raw vectors, analyses normalise when they need cosines
  (EmbeddingGemma's own pipeline ends in a Normalize module, so its vectors are unit length anyway);
- ``prompt_name`` (null = the model's ``default_prompt_name``, none for MiniLM/mpnet): the name of one of the
  model's prompts. EmbeddingGemma is trained with task prompts and has no default; its YAML uses ``STS``
  ("task: sentence similarity | query: "), because the study compares words with each other
  symmetrically, which is what that prompt was trained for; ``query``/``document`` are for retrieval;
- ``trust_remote_code`` (false): for hub models with custom code.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from wordembed.errors import ModelError, ParameterError
from wordembed.models.fetch import artifact_checksum
from wordembed.models.spec import ModelSpec, fingerprint, merge_options

DEFAULTS: dict[str, Any] = {
    "batch_size": 256,  # single words are short: large batches measured 1.4x faster on 2 CPU cores
    "normalize": False,
    "prompt_name": None,
    "trust_remote_code": False,
}
_NOT_IN_FINGERPRINT = ("batch_size",)


class SentenceTransformerEncoder:
    def __init__(self, key: str, model: Any, options: dict[str, Any], fingerprint_value: str) -> None:
        self.key = key
        self.model = model
        self.options = options
        self._fingerprint = fingerprint_value
        get_dims = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
        self.dims = int(get_dims())

    def fingerprint(self) -> str:
        return self._fingerprint

    def encode(self, words: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        words = list(words)
        if not words:
            return np.zeros((0, self.dims), dtype=np.float32), np.zeros(0, dtype=bool)
        vectors = self.model.encode(
            words,
            batch_size=int(self.options["batch_size"]),
            prompt_name=self.options["prompt_name"],
            normalize_embeddings=bool(self.options["normalize"]),
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.asarray(vectors, dtype=np.float32), np.ones(len(words), dtype=bool)


def from_spec(spec: ModelSpec, artifact: Path | None, device: str | None = None) -> SentenceTransformerEncoder:
    model, opts = load_model(spec, artifact, device)
    return make_encoder(spec, model, opts, artifact)


def load_model(spec: ModelSpec, artifact: Path | None, device: str | None = None) -> tuple[Any, dict[str, Any]]:
    """The sentence-transformers model and the merged options (``prompt_name`` resolved and checked).

    Apart from :func:`make_encoder` so that a random-weight control (:mod:`wordembed.models.random_weights`)
    can replace the weights between the two and keep everything else (tokenizer, pooling, prompts) as is.
    """
    from sentence_transformers import SentenceTransformer

    opts = merge_options(spec, DEFAULTS)
    name = str(artifact) if artifact is not None else spec.source.get("hf")
    if not name:
        raise ModelError(f"{spec.where}: needs source.path, source.pypi or source.hf")
    try:
        model = SentenceTransformer(
            name, device=device, trust_remote_code=bool(opts["trust_remote_code"]),
            local_files_only=artifact is not None,
        )  # fmt: skip
    except OSError as exc:
        raise ModelError(f"{spec.where}: sentence-transformers could not load {name}: {exc}") from exc
    model.eval()
    prompt = opts["prompt_name"]
    if prompt is None:
        prompt = model.default_prompt_name
    elif prompt not in model.prompts:
        valid = ", ".join(model.prompts) or "(the model has no prompts)"
        raise ParameterError(f"{spec.where}: option prompt_name {prompt!r} is not a prompt of {name}; valid: {valid}")
    opts["prompt_name"] = prompt
    return model, opts


def make_encoder(
    spec: ModelSpec,
    model: Any,
    opts: dict[str, Any],
    artifact: Path | None,
    extra: Mapping[str, Any] | None = None,
) -> SentenceTransformerEncoder:
    """The encoder around a loaded model; ``extra`` joins the fingerprint (a control's seed and kind)."""
    # The prompt text, not only its name, changes the vectors.
    effective = {k: v for k, v in opts.items() if k not in _NOT_IN_FINGERPRINT}
    prompt = opts["prompt_name"]
    effective["prompt"] = model.prompts.get(prompt) if prompt else None
    effective.update(extra or {})
    encoder = SentenceTransformerEncoder(spec.key, model, opts, fingerprint(spec, effective, artifact_checksum(spec, artifact)))
    if spec.dims is not None and encoder.dims != spec.dims:
        raise ModelError(f"{spec.where}: the model gives {encoder.dims}-dim vectors but the spec says dims: {spec.dims}")
    return encoder
