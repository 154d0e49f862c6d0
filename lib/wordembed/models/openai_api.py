"""OpenAI embeddings (``text-embedding-ada-002``, the paper's model; ``text-embedding-3-small/large``).

Uses the official ``openai`` client: ``OpenAI(api_key, base_url, max_retries=0).embeddings.create(model,
input=[...])``, i.e. ``POST {base_url}/embeddings`` with ``Authorization: Bearer <key>``. The API takes at most
2048 inputs per request (and 300k tokens, far above 2048 single words), so that is the default batch.

The key comes from ``OPENAI_API_KEY`` (or the variable named by ``api_key_env``); a missing key is a
:class:`~wordembed.errors.ModelError` naming the variable. Retries, backoff and Retry-After are handled in
:mod:`wordembed.models.api_common` (the SDK's own retries are off).

Options (``spec.options``):

- ``dimensions``: shorten the vectors (``text-embedding-3-*`` only; ada-002 is always 1536).
- ``batch_size``: inputs per request, 1..2048 (default 2048); also the store's chunk size.
- ``base_url``: API root, e.g. an Azure/OpenAI-compatible proxy (default ``$OPENAI_BASE_URL``, else the
  client's default ``https://api.openai.com/v1``). Not part of the fingerprint: it must serve the same model.
- ``api_key_env``: the environment variable holding the key (default ``OPENAI_API_KEY``).
- ``max_tries`` (8), ``initial_backoff`` (1 s), ``max_backoff`` (60 s), ``max_retry_after`` (600 s),
  ``timeout`` (60 s per request): see :class:`wordembed.models.api_common.RetryPolicy`.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from wordembed.errors import ModelError, ParameterError
from wordembed.models.api_common import (
    COMMON_OPTIONS,
    ApiEncoder,
    Failure,
    GiveUp,
    check_options,
    env_secret,
    float_option,
    int_option,
    parse_retry_after,
    retry_policy,
)

MAX_BATCH = 2048
DEFAULT_KEY_ENV = "OPENAI_API_KEY"
BASE_URL_ENV = "OPENAI_BASE_URL"
OPTIONS = (*COMMON_OPTIONS, "api_key_env")
#: Models whose vector length is fixed (no ``dimensions`` parameter).
FIXED_DIMS = {"text-embedding-ada-002": 1536}
_RETRY_STATUS = {408, 409, 429}


class OpenAIEncoder(ApiEncoder):
    """Words -> vectors through ``client.embeddings.create``."""

    backend = "openai"

    def __init__(
        self,
        key: str,
        model: str,
        *,
        dims: int | None,
        dimensions: int | None,
        batch_size: int,
        base_url: str | None,
        key_env: str,
        timeout: float,
        policy: Any,
    ) -> None:
        fields = {"dimensions": dimensions}
        super().__init__(
            key, model, batch_size=batch_size, dims=dims, policy=policy, fingerprint_fields=fields
        )
        self.dimensions = dimensions
        self.key_env = key_env
        _, secret = env_secret([key_env], f"model {key} (OpenAI {model})")
        self._secrets = [secret]
        import openai

        self._openai = openai
        self._client = openai.OpenAI(api_key=secret, base_url=base_url, max_retries=0, timeout=timeout)

    def _send(self, batch: Sequence[str]) -> Sequence[Any]:
        extra: dict[str, Any] = {}
        if self.dimensions is not None:
            extra["dimensions"] = self.dimensions
        response = self._client.embeddings.create(model=self.model, input=list(batch), **extra)
        data = list(response.data or [])
        if len(data) != len(batch):
            raise GiveUp(f"the server returned {len(data)} vectors for {len(batch)} inputs")
        # Each item carries the index of its input: order by it rather than trusting the list order.
        index = [getattr(item, "index", None) for item in data]
        if sorted(i for i in index if isinstance(i, int)) != list(range(len(batch))):
            raise GiveUp(
                f"the response's indices {index[:10]}... do not cover the {len(batch)} inputs once each"
            )
        rows: list[Any] = [None] * len(batch)
        for i, item in zip(index, data, strict=True):
            rows[i] = item.embedding
        return rows

    def _classify(self, exc: BaseException) -> Failure | None:
        oa = self._openai
        if isinstance(exc, oa.APIStatusError):
            status = exc.status_code
            headers = exc.response.headers
            retry_after = parse_retry_after(headers.get("retry-after"))
            if retry_after is None and headers.get("retry-after-ms"):
                ms = parse_retry_after(headers.get("retry-after-ms"))
                retry_after = None if ms is None else ms / 1000
            code = _error_code(exc.body)
            detail = f"HTTP {status}: {_error_message(exc)}"
            if status == 401:
                return Failure(False, f"the server rejected the key in {self.key_env} ({detail})", status)
            if status == 403:
                return Failure(False, f"the key in {self.key_env} may not use this model ({detail})", status)
            if status == 429 and code == "insufficient_quota":
                return Failure(
                    False, f"the account's quota is used up; retrying will not help ({detail})", status
                )
            if status in _RETRY_STATUS or status >= 500:
                return Failure(True, detail, status, retry_after)
            return Failure(False, detail, status)
        if isinstance(exc, oa.APIConnectionError):  # refused, dropped, timed out
            return Failure(True, f"connection failed ({type(exc).__name__}: {exc})")
        if isinstance(exc, oa.APIResponseValidationError | json.JSONDecodeError | ValueError | TypeError):
            return Failure(False, f"malformed response ({type(exc).__name__}: {exc})")
        if isinstance(exc, oa.OpenAIError):
            return Failure(False, f"{type(exc).__name__}: {exc}")
        return None


def _error_code(body: object) -> str | None:
    if isinstance(body, dict):
        inner = body.get("error", body)
        if isinstance(inner, dict) and isinstance(inner.get("code"), str):
            return inner["code"]
    return None


def _error_message(exc: Any) -> str:
    body = exc.body
    if isinstance(body, dict):
        inner = body.get("error", body)
        if isinstance(inner, dict) and inner.get("message"):
            return str(inner["message"])
    return str(getattr(exc, "message", exc))


def from_spec(
    spec: Any, artifact: Path | None, device: str | None, *, sleep: Callable[[float], None] | None = None
) -> OpenAIEncoder:
    """An encoder for ``spec`` (``source.api`` names the model); ``sleep`` is injectable for tests."""
    del artifact, device  # a network API needs neither
    key = spec.key
    options = dict(spec.options or {})
    check_options(options, OPTIONS, key=key, backend="openai")
    model = (spec.source or {}).get("api")
    if not model:
        raise ModelError(f"model {key}: source.api must name the OpenAI model, e.g. text-embedding-ada-002")
    dimensions = int_option(options, "dimensions", None, key=key)
    if dimensions is not None and model in FIXED_DIMS:
        raise ParameterError(
            f"model {key}: option dimensions={dimensions} is not supported by {model} "
            f"(always {FIXED_DIMS[model]}); use text-embedding-3-small/large to shorten vectors"
        )
    batch_size = int_option(options, "batch_size", MAX_BATCH, key=key, hi=MAX_BATCH) or MAX_BATCH
    base_url = options.get("base_url") or os.environ.get(BASE_URL_ENV) or None
    key_env = str(options.get("api_key_env") or DEFAULT_KEY_ENV)
    dims = dimensions if dimensions is not None else spec.dims
    return OpenAIEncoder(
        key,
        model,
        dims=dims,
        dimensions=dimensions,
        batch_size=batch_size,
        base_url=base_url,
        key_env=key_env,
        timeout=float_option(options, "timeout", 60.0, key=key),
        policy=retry_policy(options, key=key, sleep=sleep),
    )
