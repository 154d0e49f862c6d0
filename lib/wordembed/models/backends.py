"""Backend name -> module implementing it, and the options each backend takes.

Modules are imported lazily, so a missing optional dependency (TensorFlow, an API client) only matters to
users of that backend. Each module defines ``from_spec(spec: ModelSpec, artifact: Path | None, device: str |
None) -> Encoder``; ``artifact`` is the verified local file or folder from
:func:`wordembed.models.fetch.resolve_artifact`, or None for sources that need none (a hub id the backend
loads itself, a network API).

Why the options are declared here and not only in the backend modules: a spec's options must be checked
when its YAML is read, before any artefact is downloaded (an option typo reported after an 88 MB download
wastes the download), and without importing the backend (torch, TensorFlow). So every option a backend reads
is declared below with its type, default and bounds, one pydantic model per backend. The models are strict:
YAML ``"false"`` is a string and is refused where a boolean is expected (pydantic's lax mode would turn
``"false"`` into False but ``"yes please"`` into an error only by luck), ``2.0`` is not an integer, and an
unknown option is an error (``extra="forbid"``). They only check: a spec keeps the values it was given, so
fingerprints do not change. ``tests/test_model_specs.py`` checks that the names, defaults and choices agree
with each backend module's own ``DEFAULTS`` / ``OPTIONS`` and constants.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic_core import PydanticCustomError

from wordembed.models.google_api import TASK_TYPES as GOOGLE_TASK_TYPES  # one list of the API's task types

BACKENDS: dict[str, str] = {
    "sentence-transformers": "wordembed.models.sbert",
    "use-m3": "wordembed.models.use_m3",
    "static": "wordembed.models.static",
    "decoder": "wordembed.models.decoder",
    "tfhub": "wordembed.models.tfhub",
    "laser": "wordembed.models.laser",
    "openai": "wordembed.models.openai_api",
    "google": "wordembed.models.google_api",
}

PositiveInt = Annotated[int, Field(ge=1)]
Seconds = Annotated[float, Field(ge=0, allow_inf_nan=False)]

VectorFormat = Literal["auto", "word2vec", "word2vec-binary", "glove"]  # wordembed.vectorfile.FORMATS
Pooling = Literal["mean", "last", "prompt_last"]  # wordembed.models.decoder.POOLINGS
Dtype = Literal["auto", "float32", "bfloat16", "float16"]  # wordembed.models.decoder.DTYPES
Route = Literal["vertex", "gemini"]  # wordembed.models.google_api.ROUTES
LAYER_WORDS = ("middle", "all")


def option_error(problem: str) -> PydanticCustomError:
    """An error whose text is ours (``problem`` reads after "options.NAME: ", e.g. "must be ...")."""
    return PydanticCustomError("option", problem)


class BackendOptions(BaseModel):
    """Strict, closed set of options: see the module docstring for why."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class SentenceTransformerOptions(BackendOptions):
    """:mod:`wordembed.models.sbert`."""

    batch_size: PositiveInt = 256
    normalize: bool = False
    prompt_name: str | None = None  # checked against the model's prompts once it is loaded
    trust_remote_code: bool = False


class UseM3Options(BackendOptions):
    """:mod:`wordembed.models.use_m3`."""

    threads: PositiveInt = 2
    denoise: bool = False


class StaticOptions(BackendOptions):
    """:mod:`wordembed.models.static`."""

    vectors: str | None = None
    index: str | None = None
    column: Annotated[str, Field(min_length=1)] = "index"
    format: VectorFormat = "auto"
    lowercase: bool | Literal["auto"] = "auto"

    @field_validator("lowercase", mode="before")
    @classmethod
    def _lowercase(cls, value: Any) -> Any:
        if value != "auto" and not isinstance(value, bool):
            raise option_error("must be auto, true or false")
        return value

    @model_validator(mode="after")
    def _vectors_with_index(self) -> StaticOptions:
        if bool(self.vectors) != bool(self.index):
            raise option_error("vectors and index go together (a .npy and a .parquet member)")
        return self


class DecoderOptions(BackendOptions):
    """:mod:`wordembed.models.decoder`; the layer's range needs the model's depth and is checked on load."""

    layer: int | Literal["middle", "all"] = "middle"
    pooling: Pooling = "mean"
    prompt: str = "The word: {word}"
    bos: bool = True
    batch_size: PositiveInt = 128
    dtype: Dtype = "auto"
    check_memory: bool = True
    cache_converted: bool = True
    revision: str | None = None
    prefix_cache: bool = True

    @field_validator("layer", mode="before")
    @classmethod
    def _layer(cls, value: Any) -> Any:
        if isinstance(value, bool) or not (isinstance(value, int) or value in LAYER_WORDS):
            raise option_error("must be an int (0 = embeddings, negative from the end), 'middle' or 'all'")
        return value

    @field_validator("prompt")
    @classmethod
    def _prompt(cls, value: str) -> str:
        if value.count("{word}") not in (1, 2):
            raise option_error(
                "must be a string with exactly one '{word}', e.g. 'The word: {word}', or two for an echo prompt "
                "(the second copy is pooled), e.g. '{word} {word}'"
            )
        return value

    @model_validator(mode="after")
    def _word_not_first(self) -> DecoderOptions:
        if not self.bos and self.prompt.startswith("{word}"):
            raise option_error(
                "bos false with a prompt that starts with {word} makes the word the first token (position 0 "
                "is an attention sink); set bos true or put text before {word}"
            )
        return self


class TFHubOptions(BackendOptions):
    """:mod:`wordembed.models.tfhub`."""

    handle: str | None = None
    batch_size: PositiveInt = 256
    signature: str | None = None
    output_key: str | None = None


class LaserOptions(BackendOptions):
    """:mod:`wordembed.models.laser`; the pins' keys and digests are checked by the backend, before it
    downloads anything (its messages name ``options.sha256.KEY``)."""

    name: Annotated[str, Field(min_length=1)] = "laser2"
    model_dir: str | None = None
    download: bool = True
    base_url: str = "https://dl.fbaipublicfiles.com/nllb/laser"
    sha256: dict[str, str | None] | None = None
    max_tokens: PositiveInt | None = 12000
    max_sentences: PositiveInt | None = None
    lang: Annotated[str, Field(min_length=1)] = "en"
    lower_case: bool = True
    normalize_punct: bool = True
    descape: bool = False
    normalize_embeddings: bool = False


class ApiOptions(BackendOptions):
    """What :mod:`wordembed.models.api_common` reads for both vendors (``COMMON_OPTIONS``)."""

    base_url: str | None = None
    dimensions: PositiveInt | None = None
    max_tries: PositiveInt = 8
    initial_backoff: Seconds = 1.0
    max_backoff: Seconds = 60.0
    max_retry_after: Seconds = 600.0
    timeout: Annotated[float, Field(gt=0, allow_inf_nan=False)] = 60.0


class OpenAIOptions(ApiOptions):
    """:mod:`wordembed.models.openai_api`; at most 2048 inputs per request."""

    batch_size: Annotated[int, Field(ge=1, le=2048)] = 2048
    api_key_env: str | None = None


class GoogleOptions(ApiOptions):
    """:mod:`wordembed.models.google_api`. The batch limit is 250 on ``predict`` and 100 on
    ``batchEmbedContents``; which one a model uses is the backend's to decide, so it checks the lower one."""

    batch_size: Annotated[int, Field(ge=1, le=250)] | None = None
    task_type: str | None = None
    route: Route | None = None
    project: str | None = None
    location: str | None = None

    @field_validator("task_type")
    @classmethod
    def _task_type(cls, value: str | None) -> str | None:
        if value is not None and value.upper() not in GOOGLE_TASK_TYPES:
            raise option_error(f"must be one of {', '.join(GOOGLE_TASK_TYPES)} (any case) or null")
        return value


BACKEND_OPTIONS: dict[str, type[BackendOptions]] = {
    "sentence-transformers": SentenceTransformerOptions,
    "use-m3": UseM3Options,
    "static": StaticOptions,
    "decoder": DecoderOptions,
    "tfhub": TFHubOptions,
    "laser": LaserOptions,
    "openai": OpenAIOptions,
    "google": GoogleOptions,
}
