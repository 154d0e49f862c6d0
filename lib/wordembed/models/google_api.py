"""Google embeddings: PaLM-2 ``textembedding-gecko@003`` (the paper's model), ``text-embedding-005`` and
``gemini-embedding-001``, through Google's ``google-genai`` client (``client.models.embed_content``).

Which route each model takes (option ``route``; the default follows where Google serves the model):

- ``vertex`` (default for gecko@003 and text-embedding-005, which only Vertex AI serves): google-genai sends
  ``POST {base}/v1beta1/projects/{project}/locations/{location}/publishers/google/models/{model}:predict``
  with ``{"instances": [{"content": text, "task_type": ...}], "parameters": {"outputDimensionality": d}}``
  and reads ``predictions[i].embeddings.values``. At most 250 instances (and 20k tokens) per request, so
  the default batch is 250; Google's older docs limit regions other than us-central1 to 5 (set
  ``batch_size: 5`` there). Auth: with a project (option ``project`` or ``$GOOGLE_CLOUD_PROJECT``) the
  Application Default Credentials (``$GOOGLE_APPLICATION_CREDENTIALS`` or ``gcloud auth
  application-default login``) give a bearer token; without one, a Vertex AI express-mode API key from
  ``$GOOGLE_API_KEY`` is sent as ``x-goog-api-key`` and the path has no project/location. A Gemini model on
  Vertex goes to ``...:batchEmbedContents`` instead (google-genai's choice); its batch default is 100.
- ``gemini`` (default for gemini-embedding-001): the Gemini Developer API, ``POST
  {base}/v1/models/{model}:batchEmbedContents`` with ``{"requests": [{"model", "content": {"parts":
  [{"text"}]}, "taskType", "outputDimensionality"}]}`` and ``x-goog-api-key`` from ``$GOOGLE_API_KEY`` or
  ``$GEMINI_API_KEY``; reads ``embeddings[i].values``. At most 100 requests per batch.

Options (``spec.options``):

- ``task_type``: e.g. ``SEMANTIC_SIMILARITY``, ``RETRIEVAL_QUERY`` (null: the API's default, as the paper).
- ``dimensions``: ``outputDimensionality`` (shortened vectors).
- ``route``: ``vertex`` or ``gemini``; ``project``, ``location`` (default ``$GOOGLE_CLOUD_LOCATION``, else
  ``us-central1``) for Vertex.
- ``batch_size``; ``base_url`` (default ``$GOOGLE_VERTEX_BASE_URL`` / ``$GOOGLE_GEMINI_BASE_URL``, the
  variables google-genai itself reads); ``max_tries``, ``initial_backoff``, ``max_backoff``,
  ``max_retry_after``, ``timeout``: see :mod:`wordembed.models.api_common`.

The fingerprint holds the model, route, task type and dimensions, never the key, project or base URL.
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
    check_options,
    env_secret,
    float_option,
    int_option,
    parse_retry_after,
    retry_policy,
)

ROUTES = ("vertex", "gemini")
OPTIONS = (*COMMON_OPTIONS, "task_type", "route", "project", "location")
TASK_TYPES = (
    "RETRIEVAL_QUERY",
    "RETRIEVAL_DOCUMENT",
    "SEMANTIC_SIMILARITY",
    "CLASSIFICATION",
    "CLUSTERING",
    "QUESTION_ANSWERING",
    "FACT_VERIFICATION",
    "CODE_RETRIEVAL_QUERY",
)
MAX_BATCH = {"predict": 250, "batchEmbedContents": 100}
GEMINI_KEY_ENVS = ("GOOGLE_API_KEY", "GEMINI_API_KEY")
VERTEX_KEY_ENVS = ("GOOGLE_API_KEY",)
BASE_URL_ENVS = {"vertex": "GOOGLE_VERTEX_BASE_URL", "gemini": "GOOGLE_GEMINI_BASE_URL"}
DEFAULT_LOCATION = "us-central1"
_SCOPES = ["https://www.googleapis.com/auth/cloud-platform"]
_RETRY_STATUS = {408, 429}


def default_route(model: str) -> str:
    """Gemini models live on the Gemini API; gecko and text-embedding-00x only on Vertex AI."""
    return "gemini" if model.rsplit("/", 1)[-1].startswith("gemini") else "vertex"


def endpoint(model: str, route: str) -> str:
    """The REST method google-genai calls for ``model`` on ``route`` (it decides; we mirror its rule)."""
    if route == "gemini" or "gemini" in model.rsplit("/", 1)[-1]:
        return "batchEmbedContents"
    return "predict"


def _transport_errors() -> tuple[type[BaseException], ...]:
    """Transport failures (refused, dropped, timed out) of whichever httpx the SDK uses."""
    found: list[type[BaseException]] = []
    for name in ("httpx", "httpx2"):
        try:
            module = __import__(name)
        except ImportError:
            continue
        cls = getattr(module, "TransportError", None)
        if isinstance(cls, type):
            found.append(cls)
    try:
        from google.auth import exceptions as auth_exceptions

        found.append(auth_exceptions.TransportError)
    except ImportError:
        pass
    return tuple(found)


class GoogleEncoder(ApiEncoder):
    """Words -> vectors through ``client.models.embed_content``."""

    backend = "google"

    def __init__(
        self,
        key: str,
        model: str,
        *,
        route: str,
        task_type: str | None,
        dimensions: int | None,
        dims: int | None,
        batch_size: int,
        base_url: str | None,
        project: str | None,
        location: str | None,
        timeout: float,
        policy: Any,
    ) -> None:
        fields = {"route": route, "task_type": task_type, "dimensions": dimensions}
        super().__init__(
            key, model, batch_size=batch_size, dims=dims, policy=policy, fingerprint_fields=fields
        )
        self.route = route
        self.task_type = task_type
        self.dimensions = dimensions
        from google import genai
        from google.genai import errors, types

        self._errors = errors
        self._transport = _transport_errors()
        self._credentials: Any = None
        http_options = types.HttpOptions(
            base_url=base_url,
            timeout=int(timeout * 1000),  # milliseconds
            retry_options=types.HttpRetryOptions(attempts=1),  # retries are ours
        )
        what = f"model {key} (Google {model} via {route})"
        if route == "gemini":
            self.key_env, secret = env_secret(GEMINI_KEY_ENVS, what)
            self._secrets = [secret]
            self._client = genai.Client(vertexai=False, api_key=secret, http_options=http_options)
        elif project:
            self.key_env = "GOOGLE_APPLICATION_CREDENTIALS"
            self._credentials = _default_credentials(what)
            self._client = genai.Client(
                vertexai=True,
                project=project,
                location=location or DEFAULT_LOCATION,
                credentials=self._credentials,
                http_options=http_options,
            )
        else:
            try:
                self.key_env, secret = env_secret(VERTEX_KEY_ENVS, what)
            except ModelError:
                raise ModelError(
                    f"{what}: no credentials; set GOOGLE_CLOUD_PROJECT (with application default credentials: "
                    f"GOOGLE_APPLICATION_CREDENTIALS or `gcloud auth application-default login`), or "
                    f"GOOGLE_API_KEY for Vertex AI express mode"
                ) from None
            self._secrets = [secret]
            self._client = genai.Client(vertexai=True, api_key=secret, http_options=http_options)
        self._config = types.EmbedContentConfig(task_type=task_type, output_dimensionality=dimensions)

    def _secret_values(self) -> list[str]:
        token = getattr(self._credentials, "token", None)
        return [*self._secrets, *([token] if isinstance(token, str) else [])]

    def _send(self, batch: Sequence[str]) -> Sequence[Any]:
        response = self._client.models.embed_content(
            model=self.model, contents=list(batch), config=self._config
        )
        return [e.values for e in (response.embeddings or [])]

    def _classify(self, exc: BaseException) -> Failure | None:
        if isinstance(exc, self._errors.APIError):
            status = int(exc.code) if exc.code is not None else None
            headers = getattr(exc.response, "headers", None) or {}
            retry_after = parse_retry_after(headers.get("retry-after") if hasattr(headers, "get") else None)
            detail = f"HTTP {status} {exc.status or ''}: {exc.message or ''}".strip()
            details = json.dumps(exc.details, default=str) if exc.details is not None else ""
            if "API_KEY_INVALID" in details or status == 401:
                return Failure(
                    False, f"the server rejected the credentials in {self.key_env} ({detail})", status
                )
            if status == 403:
                return Failure(
                    False, f"the credentials in {self.key_env} may not use this model ({detail})", status
                )
            if status is not None and (status in _RETRY_STATUS or status >= 500):
                return Failure(True, detail, status, retry_after)
            return Failure(False, detail, status)
        if self._transport and isinstance(exc, self._transport):
            return Failure(True, f"connection failed ({type(exc).__name__}: {exc})")
        try:
            from google.auth import exceptions as auth_exceptions

            if isinstance(exc, auth_exceptions.GoogleAuthError):
                return Failure(False, f"could not get an access token ({type(exc).__name__}: {exc})")
        except ImportError:
            pass
        if isinstance(exc, json.JSONDecodeError | ValueError | TypeError | KeyError):
            # json.loads of the body, or pydantic validation of its shape (ValidationError is a ValueError)
            return Failure(False, f"malformed response ({type(exc).__name__}: {str(exc)[:300]})")
        return None


def _default_credentials(what: str) -> Any:
    try:
        import google.auth
        from google.auth import exceptions as auth_exceptions
    except ImportError as exc:  # google-auth is a dependency of google-genai
        raise ModelError(f"{what}: google-auth is not installed ({exc})") from None
    try:
        credentials, _ = google.auth.default(scopes=_SCOPES)
    except auth_exceptions.DefaultCredentialsError:
        raise ModelError(
            f"{what}: no application default credentials; set GOOGLE_APPLICATION_CREDENTIALS to a "
            f"credentials file or run `gcloud auth application-default login` (or leave GOOGLE_CLOUD_PROJECT "
            f"unset and use GOOGLE_API_KEY for Vertex AI express mode)"
        ) from None
    return credentials


def from_spec(
    spec: Any, artifact: Path | None, device: str | None, *, sleep: Callable[[float], None] | None = None
) -> GoogleEncoder:
    """An encoder for ``spec`` (``source.api`` names the model); ``sleep`` is injectable for tests."""
    del artifact, device
    key = spec.key
    options = dict(spec.options or {})
    check_options(options, OPTIONS, key=key, backend="google")
    model = (spec.source or {}).get("api")
    if not model:
        raise ModelError(f"model {key}: source.api must name the Google model, e.g. textembedding-gecko@003")
    route = options.get("route") or default_route(model)
    if route not in ROUTES:
        raise ParameterError(f"model {key}: option route={route!r}; valid: {list(ROUTES)}")
    task_type = options.get("task_type")
    if task_type is not None:
        task_type = str(task_type).upper()
        if task_type not in TASK_TYPES:
            raise ParameterError(
                f"model {key}: option task_type={options['task_type']!r}; valid: {list(TASK_TYPES)}"
            )
    dimensions = int_option(options, "dimensions", None, key=key)
    limit = MAX_BATCH[endpoint(model, route)]
    batch_size = int_option(options, "batch_size", limit, key=key, hi=limit) or limit
    base_url = options.get("base_url") or os.environ.get(BASE_URL_ENVS[route]) or None
    project = options.get("project") or os.environ.get("GOOGLE_CLOUD_PROJECT") or None
    location = options.get("location") or os.environ.get("GOOGLE_CLOUD_LOCATION") or None
    return GoogleEncoder(
        key,
        model,
        route=route,
        task_type=task_type,
        dimensions=dimensions,
        dims=dimensions if dimensions is not None else spec.dims,
        batch_size=batch_size,
        base_url=base_url,
        project=project if route == "vertex" else None,
        location=location,
        timeout=float_option(options, "timeout", 60.0, key=key),
        policy=retry_policy(options, key=key, sleep=sleep),
    )
