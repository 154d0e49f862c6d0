"""Seeded random-weight controls: ``KEY@random`` (seed 0) and ``KEY@random:SEED``.

Why controls: part of what a model's word vectors show owes nothing to training. Words that share sub-word
tokens share input embeddings, and mean pooling over a word's tokens keeps that overlap through any stack of
layers, so even an untrained decoder solves many inflectional analogies (``walk : walked``), and a random
encoder's cosines still follow spelling. A control is the same tokenizer and architecture with seeded random
weights: a metric of the trained model minus the same metric of its control is what training added.

What a control is:

- Key: ``KEY@random`` or ``KEY@random:SEED`` (SEED an integer 0 .. 2**32 - 1; ``KEY@random:0`` *is*
  ``KEY@random``, one name per seed so the store never holds the same vectors twice). KEY is a model of the
  ``decoder`` or ``sentence-transformers`` backend: a key of ``params/models`` or a model YAML path.
  :func:`wordembed.models.spec.load_spec` resolves the key (so the CLI's ``--model``, a study's ``models:``
  list and ``load_encoder`` all take it); anything else after the ``@`` is a one-line error.
- Spec: the trained spec (``dataclasses.replace``) with that key, ``control_of`` = the trained key and a
  description naming the seed; source, options and size stay, so it reads the trained model's own artefact
  and nothing else is fetched (:func:`artifact_spec` names that artefact's cache entry).
- Config and tokenizer: read from that artefact. A GGUF decoder: the dequantised folder the decoder backend
  caches beside the GGUF when it exists (read in a second), else the config and tokenizer transformers
  derives from the GGUF itself (10-40 s; the two agree, the folder being saved from them). A checkpoint or
  sentence-transformers folder: its ``config.json`` and tokenizer (for a sentence-transformers model its
  pooling, prompts and normalisation too: only the weights change). A ``source.hf`` model: the hub's, as for
  the trained model (users with network).
- Weights: transformers' own initialisation (``from_config``: normal(0, ``initializer_range``) for linear
  and embedding weights, ones for norms), run on the CPU in float32 with ``torch.default_generator`` seeded
  with SEED inside ``torch.random.fork_rng``. So a seed gives bitwise the same weights whatever the device,
  the vectors never depend on what the caller drew before, and the caller's global RNG is as it was
  afterwards. Any other module of a sentence-transformers model that has weights (a ``Dense`` head) is reset
  under the same seed. The weights are then cast and moved like the trained model's (``dtype``, device).
- Fingerprint: the trained backend's vector options plus ``weights: random``, the seed, and the torch and
  transformers versions, since their initialisation code draws the weights: an upgrade that changed it would
  otherwise give different vectors under a fingerprint the store already holds.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import re
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path
from typing import Any

from wordembed.errors import ModelError, ParameterError
from wordembed.models.decoder import (
    CONVERTED_MARKER,
    DecoderEncoder,
    _gguf_file,
    _gguf_sha256,
    converted_dir,
    ensure_fits,
    hub_token,
    validate_options,
)
from wordembed.models.spec import ModelSpec, fingerprint
from wordembed.util import choose_device

CONTROL_BACKENDS = ("decoder", "sentence-transformers")
SEED_MAX = 2**32 - 1
RANDOM = "random"
_VARIANT = re.compile(r"^random(?::([0-9]+))?$")
SYNTAX = f"KEY@random or KEY@random:SEED (SEED an integer 0..{SEED_MAX}; KEY a decoder or sentence-transformers model)"


def is_control_key(text: str) -> bool:
    """Whether ``text`` asks for a control (it may still be a bad one: :func:`control_spec` says why)."""
    return "@" in text


def parse_control_key(text: str) -> tuple[str, int]:
    """``(KEY, SEED)`` of ``KEY@random[:SEED]``; a one-line :class:`ParameterError` naming ``text`` otherwise."""
    base, sep, variant = text.rpartition("@")
    if not sep or not base:
        raise ParameterError(f"model {text!r}: a random-weight control is named {SYNTAX}")
    match = _VARIANT.match(variant)
    if match is None:
        raise ParameterError(f"model {text!r}: unknown variant '@{variant}'; valid: {SYNTAX}")
    seed = int(match.group(1) or 0)
    if seed > SEED_MAX:
        raise ParameterError(f"model {text!r}: seed {seed} is above {SEED_MAX}; valid: {SYNTAX}")
    return base, seed


def control_key(key: str, seed: int) -> str:
    """The one name of a control: ``KEY@random`` for seed 0, ``KEY@random:SEED`` otherwise."""
    return f"{key}@{RANDOM}" if seed == 0 else f"{key}@{RANDOM}:{seed}"


def _capable_keys() -> str:
    from wordembed.models.spec import list_specs

    keys = [s.key for s in list_specs() if s.backend in CONTROL_BACKENDS]
    return ", ".join(keys) or "(none in params/models)"


def control_spec(key_or_spec: str | ModelSpec, seed: int | None = None) -> ModelSpec:
    """The spec of a random-weight control: from ``KEY@random[:SEED]``, or from a trained spec and ``seed``.

    ``seed`` goes with a :class:`ModelSpec` only (a key carries its own); default 0.
    """
    from wordembed.models.spec import load_spec

    if isinstance(key_or_spec, ModelSpec):
        trained = key_or_spec
        seed = 0 if seed is None else seed
        if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed <= SEED_MAX:
            raise ParameterError(f"random-weight control of {trained.key!r}: seed {seed!r} is not an integer 0..{SEED_MAX}")
        named = control_key(trained.key, seed)
    else:
        named = str(key_or_spec)
        if seed is not None:
            raise ParameterError(f"model {named!r}: give the seed in the key ({SYNTAX}), not as seed={seed!r}")
        base, seed = parse_control_key(named)
        try:
            trained = load_spec(base)
        except ParameterError as exc:
            raise ParameterError(f"model {named!r}: {exc}") from None
    if trained.control_of is not None:
        raise ParameterError(
            f"model {named!r}: {trained.key!r} is already a random-weight control; valid: a trained model's key "
            "followed by @random or @random:SEED"
        )
    if trained.backend not in CONTROL_BACKENDS:
        raise ParameterError(
            f"model {named!r}: {trained.key!r} (backend {trained.backend!r}) has no random-weight control; valid: "
            f"models of backend {' or '.join(CONTROL_BACKENDS)}: {_capable_keys()}"
        )
    return dataclasses.replace(
        trained,
        key=control_key(trained.key, seed),
        control_of=trained.key,
        description=(
            f"random-weight control of {trained.key}, seed {seed}: its tokenizer and architecture with untrained "
            f"weights (transformers' from_config under torch seed {seed}); trained model: {trained.description}"
        ),
    )


def control_seed(spec: ModelSpec) -> int:
    """The seed of a control spec (its key carries it)."""
    if spec.control_of is None:
        raise ParameterError(f"{spec.where}: model {spec.key!r} is not a random-weight control")
    base, seed = parse_control_key(spec.key)
    if base != spec.control_of:
        raise ParameterError(f"model {spec.key!r}: control_of is {spec.control_of!r}, not {base!r}")
    return seed


def artifact_spec(spec: ModelSpec) -> ModelSpec:
    """The spec whose artefact a control reads: the trained model's (its key names the cache entry)."""
    if spec.control_of is None:
        return spec
    return dataclasses.replace(spec, key=spec.control_of, control_of=None)


def control_fields(seed: int) -> dict[str, Any]:
    """What joins a control's fingerprint: the kind, the seed and the versions whose code draws the weights."""
    return {
        "weights": RANDOM,
        "seed": seed,
        "torch": metadata.version("torch").split("+")[0],  # a CUDA or CPU build draws the same CPU numbers
        "transformers": metadata.version("transformers"),
    }


@contextlib.contextmanager
def seeded(seed: int) -> Iterator[None]:
    """Draw from the CPU generator seeded with ``seed``; the caller's RNG state is restored on exit."""
    import torch

    with torch.random.fork_rng(devices=[]):
        torch.default_generator.manual_seed(seed)
        yield


def random_model(auto_class: Any, config: Any, seed: int) -> Any:
    """``auto_class.from_config(config)`` in float32 on the CPU, its initialisation drawn under ``seed``."""
    import torch

    with seeded(seed):
        return auto_class.from_config(copy.deepcopy(config), dtype=torch.float32)


# --------------------------------------------------------------------------------------------------- decoders
class RandomDecoderEncoder(DecoderEncoder):
    """A decoder with the trained model's tokenizer and config and seeded random weights; the prompt, layer,
    pooling and batching are the decoder backend's own."""

    def __init__(
        self, spec: ModelSpec, artifact: Path | None, device: str, options: dict[str, Any], seed: int
    ) -> None:
        super().__init__(spec, artifact, device, options)
        self.seed = seed
        self.config: Any = None

    def fingerprint(self) -> str:
        return fingerprint(self.spec, {**self.vector_options(), **control_fields(self.seed)}, self._checksum)

    def _load_weights(self, torch_dtype: Any) -> tuple[Any, Any]:
        from transformers import AutoModelForCausalLM

        tokenizer, config = self.tokenizer_and_config()
        if self.options["check_memory"]:
            ensure_fits(self.spec, self.spec.params, "float32", "cpu")  # drawn in float32 in RAM
        model = random_model(AutoModelForCausalLM, config, self.seed)
        self.config = config
        return tokenizer, self._place(model, torch_dtype)

    def tokenizer_and_config(self) -> tuple[Any, Any]:
        """The trained model's tokenizer and config, from its artefact (see the module docstring)."""
        from transformers import AutoConfig, AutoTokenizer

        kwargs: dict[str, Any] = {}
        gguf = _gguf_file(self.artifact) if self.artifact is not None else None
        if gguf is not None:
            trained = artifact_spec(self.spec)
            target = converted_dir(trained, gguf, _gguf_sha256(trained, gguf))
            if (target / CONVERTED_MARKER).is_file():
                where: Any = target
            else:
                where, kwargs = gguf.parent, {"gguf_file": gguf.name}
        elif self.artifact is not None:
            where = self.artifact
        else:
            where = self.spec.source["hf"]
            kwargs = {"token": hub_token(), "revision": self.options["revision"]}
        self.source_description = f"random weights (seed {self.seed}) in the architecture of {where}"
        try:
            tokenizer = AutoTokenizer.from_pretrained(where, **kwargs)
            config = AutoConfig.from_pretrained(where, **kwargs)
        except (OSError, ValueError, KeyError) as exc:
            raise ModelError(
                f"{self.spec.where}: could not read the tokenizer and config of {where}: {type(exc).__name__}: {exc}"
            ) from exc
        return tokenizer, config


def _decoder_control(spec: ModelSpec, artifact: Path | None, device: str | None, seed: int) -> RandomDecoderEncoder:
    options = validate_options(spec)
    encoder = RandomDecoderEncoder(spec, artifact, choose_device(device), options, seed)
    encoder.check_memory()
    return encoder


# ------------------------------------------------------------------------------------ sentence-transformers
def randomise_sentence_transformer(model: Any, seed: int, where: object = "model") -> None:
    """Replace every weight of a loaded ``SentenceTransformer`` by seeded random ones, in place.

    The transformer gets ``AutoModel.from_config`` of its own config (copied in, so its wrapper, tokenizer
    and settings stay); any other module with weights is reset with its ``reset_parameters``. Modules are
    visited in order under one seed, so the result depends on the seed alone.
    """
    import torch
    from transformers import AutoModel

    with seeded(seed):
        for module in model:
            auto = getattr(module, "auto_model", None)
            if isinstance(auto, torch.nn.Module) and getattr(auto, "config", None) is not None:
                fresh = AutoModel.from_config(copy.deepcopy(auto.config), dtype=torch.float32)
                if type(fresh) is not type(auto):
                    raise ModelError(
                        f"{where}: the random control's model is a {type(fresh).__name__}, the trained one a "
                        f"{type(auto).__name__}; a control needs the same architecture"
                    )
                auto.load_state_dict(fresh.state_dict(), strict=True)
                continue
            for sub in module.modules():
                reset = getattr(sub, "reset_parameters", None)
                if callable(reset) and next(sub.parameters(recurse=False), None) is not None:
                    reset()


def _sbert_control(spec: ModelSpec, artifact: Path | None, device: str | None, seed: int) -> Any:
    from wordembed.models import sbert

    model, opts = sbert.load_model(spec, artifact, device)
    randomise_sentence_transformer(model, seed, spec.where)
    model.eval()
    return sbert.make_encoder(spec, model, opts, artifact, extra=control_fields(seed))


def from_spec(spec: ModelSpec, artifact: Path | None, device: str | None) -> Any:
    """The encoder of a control spec; ``artifact`` is the trained model's (see :func:`artifact_spec`)."""
    seed = control_seed(spec)
    if spec.backend == "decoder":
        return _decoder_control(spec, artifact, device, seed)
    if spec.backend == "sentence-transformers":
        return _sbert_control(spec, artifact, device, seed)
    raise ParameterError(f"model {spec.key!r}: backend {spec.backend!r} has no random-weight control; valid: {', '.join(CONTROL_BACKENDS)}")
