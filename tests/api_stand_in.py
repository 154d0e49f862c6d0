"""A local stand-in for the OpenAI and Google embedding APIs: a real HTTP server on 127.0.0.1.

It speaks the wire protocols the real clients use (checked against openai 3.x and google-genai 3.x):

- OpenAI: ``POST /v1/embeddings``, ``Authorization: Bearer <key>``, body ``{"model", "input": [...],
  "encoding_format": "base64"|"float", "dimensions"?}``; answers ``{"object": "list", "data": [{"object":
  "embedding", "index", "embedding"}], "model", "usage"}``; at most 2048 inputs.
- Gemini API: ``POST /{version}/models/{model}:batchEmbedContents``, ``x-goog-api-key``, body ``{"requests":
  [{"model": "models/..", "content": {"parts": [{"text"}]}, "taskType"?, "outputDimensionality"?}]}``;
  answers ``{"embeddings": [{"values"}]}``; at most 100 requests; a bad key is a 400 ``API_KEY_INVALID``.
- Vertex AI: ``POST /{version}/[projects/{p}/locations/{l}/]publishers/google/models/{model}:predict`` with
  ``{"instances": [{"content", "task_type"?}], "parameters": {"outputDimensionality"?}}`` answering
  ``{"predictions": [{"embeddings": {"values", "statistics"}}]}`` (at most 250 instances), plus
  ``:batchEmbedContents`` / ``:embedContent`` for Gemini models. With a project in the path it wants
  ``Authorization: Bearer <token>`` (401 otherwise); without, an express-mode ``x-goog-api-key``.
- OAuth: ``POST /token`` (a service account's JWT-bearer grant, or a refresh-token grant) hands out the
  bearer token, so Application Default Credentials can be tested end to end.

Vectors are deterministic per (model, task type, text): a unit vector from a generator seeded by a hash,
shortened and renormalised when fewer dimensions are asked for. Faults are injected by request number
(see :meth:`StandIn.inject`); every request is logged in :attr:`StandIn.requests`.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import socket
import threading
import urllib.parse
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import numpy as np

MODEL_DIMS = {
    "text-embedding-ada-002": 1536,
    "text-embedding-3-small": 1536,
    "text-embedding-3-large": 3072,
    "textembedding-gecko@003": 768,
    "text-embedding-005": 768,
    "gemini-embedding-001": 3072,
}
LIMITS = {"openai": 2048, "gemini": 100, "vertex-predict": 250, "vertex-batch": 250}
FAULTS = ("429", "500", "503", "drop", "malformed", "wrong_count", "shuffled")
_ERROR_FAULTS = ("429", "500", "503", "drop", "malformed")  # answered instead of vectors


def _fault_status(kind: str) -> int:
    """The status logged for an error-type fault (0: no response at all)."""
    return 0 if kind == "drop" else int(kind) if kind.isdigit() else 200


_GEMINI = re.compile(r"^/(v1|v1beta|v1alpha)/models/([^/:]+):batchEmbedContents$")
_VERTEX = re.compile(
    r"^/(v1|v1beta1)/(?:projects/([^/]+)/locations/([^/]+)/)?publishers/google/models/([^/:]+)"
    r":(predict|batchEmbedContents|embedContent)$"
)


@dataclass
class Logged:
    """One request as the server saw it."""

    protocol: str
    path: str
    model: str | None
    texts: list[str]
    status: int
    fault: str | None = None
    task_type: str | None = None
    dims: int | None = None
    project: str | None = None
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class _Fault:
    kind: str
    start: int
    times: int
    retry_after: str | None


def vector(
    model: str,
    text: str,
    *,
    task_type: str | None = None,
    dims: int | None = None,
    full_dims: int | None = None,
) -> np.ndarray:
    """The stand-in's float32 vector of ``text``."""
    full = full_dims or MODEL_DIMS.get(model, 8)
    seed = int.from_bytes(
        hashlib.sha256(f"{model}\0{task_type or ''}\0{text}".encode()).digest()[:8], "little"
    )
    v = np.random.default_rng(seed).standard_normal(full)
    if dims is not None:
        v = v[:dims]
    return (v / np.linalg.norm(v)).astype(np.float32)


class StandIn:
    """The server. Use as a context manager; ``url`` is ``http://127.0.0.1:<port>``."""

    def __init__(
        self,
        *,
        openai_key: str = "sk-stand-in-openai-0123456789",
        google_key: str = "AIza-stand-in-google-0123456789",
        vertex_token: str = "ya29.stand-in-token",
        refresh_token: str = "1//stand-in-refresh",
        service_account: str = "embed@stand-in.iam.gserviceaccount.com",
        dims: dict[str, int] | None = None,
        limits: dict[str, int] | None = None,
    ) -> None:
        self.openai_key = openai_key
        self.google_key = google_key
        self.vertex_token = vertex_token
        self.refresh_token = refresh_token
        self.service_account = service_account
        self.dims = {**MODEL_DIMS, **(dims or {})}
        self.limits = {**LIMITS, **(limits or {})}
        self.requests: list[Logged] = []
        self._faults: list[_Fault] = []
        self._count = 0
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # ----------------------------------------------------------------- lifecycle
    def start(self) -> StandIn:
        handler = type("Handler", (_Handler,), {"stand_in": self})
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> StandIn:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        assert self._server is not None, "start() the stand-in first"
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    # ----------------------------------------------------------------- faults and expectations
    def inject(
        self, kind: str, *, times: int = 1, at: int | None = None, retry_after: str | None = None
    ) -> None:
        """Answer ``times`` embedding requests, from the ``at``-th (1-based; default: the next), with a fault.

        Kinds: ``429`` (with ``Retry-After: retry_after`` if given), ``500``, ``503``, ``drop`` (close the
        socket without a response), ``malformed`` (200 with a body that is not JSON), ``wrong_count`` (200
        with one vector too few), ``shuffled`` (OpenAI: the right vectors in reverse order, indices intact).
        """
        if kind not in FAULTS:
            raise ValueError(f"unknown fault {kind!r}; valid: {FAULTS}")
        with self._lock:
            start = at if at is not None else self._count + 1
            self._faults.append(_Fault(kind, start, times, retry_after))

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()

    def expected(
        self, model: str, texts: list[str], *, task_type: str | None = None, dims: int | None = None
    ) -> np.ndarray:
        full = self.dims.get(model, 8)
        return np.stack([vector(model, t, task_type=task_type, dims=dims, full_dims=full) for t in texts])

    def embedded(self, protocol_prefix: str = "") -> list[list[str]]:
        """Texts of the requests answered with vectors (status 200, no fault), in order."""
        return [
            r.texts
            for r in self.requests
            if r.status == 200
            and r.fault is None
            and r.protocol.startswith(protocol_prefix)
            and r.protocol != "token"
        ]

    def _next_fault(self) -> _Fault | None:
        with self._lock:
            self._count += 1
            for fault in self._faults:
                if fault.start <= self._count and fault.times > 0:
                    fault.times -= 1
                    return fault
        return None

    def _log(self, entry: Logged) -> None:
        with self._lock:
            self.requests.append(entry)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    stand_in: StandIn

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - keep test output clean
        pass

    # ----------------------------------------------------------------- plumbing
    def _send_json(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
        self._send_raw(status, json.dumps(payload).encode(), headers)

    def _send_raw(
        self,
        status: int,
        body: bytes,
        headers: dict[str, str] | None = None,
        content_type: str = "application/json",
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def _drop(self) -> None:
        self.close_connection = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length)
        path = urllib.parse.urlsplit(self.path).path
        if path == "/token":
            self._token(raw)
            return
        try:
            body = json.loads(raw or b"{}")
        except json.JSONDecodeError:
            self._send_json(400, {"error": {"message": "request body is not JSON"}})
            return
        if path == "/v1/embeddings":
            self._openai(body)
        elif m := _GEMINI.match(path):
            self._gemini(m.group(2), body)
        elif m := _VERTEX.match(path):
            self._vertex(m.group(2), m.group(4), m.group(5), body)
        else:
            self._send_json(
                404, {"error": {"code": 404, "message": f"no such method {path}", "status": "NOT_FOUND"}}
            )

    def _token(self, raw: bytes) -> None:
        """OAuth token endpoint: a refresh-token grant, or a service account's signed JWT assertion."""
        form = urllib.parse.parse_qs(raw.decode())
        si = self.stand_in
        grant = (form.get("grant_type") or [""])[0]
        if grant == "refresh_token":
            ok = form.get("refresh_token") == [si.refresh_token]
        elif grant == "urn:ietf:params:oauth:grant-type:jwt-bearer":
            claims = _jwt_claims((form.get("assertion") or [""])[0])
            ok = (
                claims.get("iss") == si.service_account
                and claims.get("aud") == "https://oauth2.googleapis.com/token"  # google-auth's fixed audience
                and "cloud-platform" in str(claims.get("scope"))
            )
        else:
            ok = False
        si._log(Logged("token", "/token", None, [], 200 if ok else 400))
        if not ok:
            self._send_json(400, {"error": "invalid_grant", "error_description": "Bad Request"})
            return
        self._send_json(
            200,
            {
                "access_token": si.vertex_token,
                "expires_in": 3600,
                "token_type": "Bearer",
                "scope": "https://www.googleapis.com/auth/cloud-platform",
            },
        )

    # ----------------------------------------------------------------- shared fault handling
    def _fault_response(self, fault: _Fault, google: bool) -> None:
        """Answer with an error-type fault (one of ``_ERROR_FAULTS``)."""
        if fault.kind == "drop":
            self._drop()
            return
        if fault.kind in ("429", "500", "503"):
            status = int(fault.kind)
            headers = {"Retry-After": fault.retry_after} if fault.retry_after is not None else {}
            if google:
                names = {429: "RESOURCE_EXHAUSTED", 500: "INTERNAL", 503: "UNAVAILABLE"}
                payload = {
                    "error": {"code": status, "message": f"stand-in fault {status}", "status": names[status]}
                }
            else:
                kinds = {
                    429: ("rate_limit_exceeded", "requests"),
                    500: (None, "server_error"),
                    503: (None, "server_error"),
                }
                code, etype = kinds[status]
                payload = {
                    "error": {
                        "message": f"stand-in fault {status}",
                        "type": etype,
                        "param": None,
                        "code": code,
                    }
                }
            self._send_json(status, payload, headers)
            return
        if fault.kind == "malformed":
            self._send_raw(200, b'{"data": [{"embedding": [0.1, 0.2')

    # ----------------------------------------------------------------- OpenAI
    def _openai(self, body: dict[str, Any]) -> None:
        si = self.stand_in
        model = body.get("model")
        texts = body.get("input")
        if isinstance(texts, str):
            texts = [texts]
        entry = Logged(
            "openai",
            self.path,
            model,
            list(texts or []),
            200,
            dims=body.get("dimensions"),
            headers={k.lower(): v for k, v in self.headers.items()},
        )
        auth = self.headers.get("Authorization", "")
        given = auth.removeprefix("Bearer ")
        if auth != f"Bearer {si.openai_key}":
            entry.status = 401
            si._log(entry)
            # Worst case: a server (or proxy) that echoes the whole key back.
            self._send_json(
                401,
                {
                    "error": {
                        "message": f"Incorrect API key provided: {given}.",
                        "type": "invalid_request_error",
                        "param": None,
                        "code": "invalid_api_key",
                    }
                },
            )
            return
        error = None
        if not model or not isinstance(texts, list) or not all(isinstance(t, str) for t in texts):
            error = "'model' and 'input' (a string or a list of strings) are required"
        elif len(texts) > si.limits["openai"]:
            error = f"'$.input' is invalid: at most {si.limits['openai']} inputs, got {len(texts)}"
        elif any(t == "" for t in texts):
            error = "'$.input' is invalid: an input is an empty string"
        elif body.get("dimensions") is not None and not str(model).startswith("text-embedding-3"):
            error = "This model does not support specifying dimensions."
        if error:
            entry.status = 400
            si._log(entry)
            self._send_json(
                400,
                {"error": {"message": error, "type": "invalid_request_error", "param": None, "code": None}},
            )
            return
        fault = si._next_fault()
        entry.fault = fault.kind if fault else None
        if fault and fault.kind in _ERROR_FAULTS:
            entry.status = _fault_status(fault.kind)
            si._log(entry)  # before answering: the client may look at the log as soon as it has the answer
            self._fault_response(fault, google=False)
            return
        vectors = si.expected(model, texts, dims=body.get("dimensions"))
        order = list(range(len(texts)))
        if fault and fault.kind == "wrong_count":
            order = order[:-1]
        if fault and fault.kind == "shuffled":
            order = order[::-1]
        b64 = body.get("encoding_format") == "base64"
        data = [
            {
                "object": "embedding",
                "index": i,
                "embedding": base64.b64encode(vectors[i].astype("<f4").tobytes()).decode()
                if b64
                else [float(x) for x in vectors[i]],
            }
            for i in order
        ]
        si._log(entry)
        tokens = sum(len(t.split()) for t in texts)
        self._send_json(
            200,
            {
                "object": "list",
                "data": data,
                "model": model,
                "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
            },
        )

    # ----------------------------------------------------------------- Google
    def _google_key_ok(self) -> bool:
        return self.headers.get("x-goog-api-key") == self.stand_in.google_key

    def _bad_google_key(self, entry: Logged) -> None:
        entry.status = 400
        self.stand_in._log(entry)
        self._send_json(
            400,
            {
                "error": {
                    "code": 400,
                    "message": "API key not valid. Please pass a valid API key.",
                    "status": "INVALID_ARGUMENT",
                    "details": [
                        {
                            "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                            "reason": "API_KEY_INVALID",
                            "domain": "googleapis.com",
                        }
                    ],
                }
            },
        )

    def _google_error(self, entry: Logged, status: int, message: str, name: str) -> None:
        entry.status = status
        self.stand_in._log(entry)
        self._send_json(status, {"error": {"code": status, "message": message, "status": name}})

    def _gemini(self, model: str, body: dict[str, Any]) -> None:
        si = self.stand_in
        requests = body.get("requests") or []
        texts = [_parts_text(r.get("content")) for r in requests]
        task = requests[0].get("taskType") if requests else None
        dims = requests[0].get("outputDimensionality") if requests else None
        entry = Logged(
            "gemini",
            self.path,
            model,
            texts,
            200,
            task_type=task,
            dims=dims,
            headers={k.lower(): v for k, v in self.headers.items()},
        )
        if not self._google_key_ok():
            self._bad_google_key(entry)
            return
        if len(requests) > si.limits["gemini"]:
            self._google_error(
                entry,
                400,
                f"* BatchEmbedContentsRequest.requests: at most {si.limits['gemini']} "
                "requests can be in one batch\n",
                "INVALID_ARGUMENT",
            )
            return
        if any(r.get("model") != f"models/{model}" for r in requests) or any(t is None for t in texts):
            self._google_error(
                entry, 400, "each request needs the batch's model and a text content", "INVALID_ARGUMENT"
            )
            return
        self._google_answer(
            entry, model, texts, task, dims, lambda vs: {"embeddings": [{"values": v} for v in vs]}
        )

    def _vertex(self, project: str | None, model: str, method: str, body: dict[str, Any]) -> None:
        si = self.stand_in
        if method == "predict":
            instances = body.get("instances") or []
            texts = [i.get("content") if isinstance(i.get("content"), str) else None for i in instances]
            task = instances[0].get("task_type") if instances else None
            dims = (body.get("parameters") or {}).get("outputDimensionality")
            protocol, limit = "vertex-predict", si.limits["vertex-predict"]

            def shape(vs: list[list[float]]) -> dict[str, Any]:
                return {
                    "predictions": [
                        {"embeddings": {"values": v, "statistics": {"truncated": False, "token_count": 1}}}
                        for v in vs
                    ],
                    "metadata": {"billableCharacterCount": sum(len(t or "") for t in texts)},
                }
        elif method == "batchEmbedContents":
            reqs = body.get("requests") or []
            texts = [_parts_text(r.get("content")) for r in reqs]
            config = (reqs[0].get("embedContentConfig") or {}) if reqs else {}
            task, dims = config.get("taskType"), config.get("outputDimensionality")
            protocol, limit = "vertex-batch", si.limits["vertex-batch"]

            def shape(vs: list[list[float]]) -> dict[str, Any]:
                return {"embeddings": [{"values": v} for v in vs]}
        else:  # embedContent: one content
            texts = [_parts_text(body.get("content"))]
            config = body.get("embedContentConfig") or {}
            task, dims = config.get("taskType"), config.get("outputDimensionality")
            protocol, limit = "vertex-embed", 1

            def shape(vs: list[list[float]]) -> dict[str, Any]:
                return {
                    "embedding": {"values": vs[0]} if vs else None,
                    "usageMetadata": {"promptTokenCount": 1},
                }

        entry = Logged(
            protocol,
            self.path,
            model,
            texts,
            200,
            task_type=task,
            dims=dims,
            project=project,
            headers={k.lower(): v for k, v in self.headers.items()},
        )
        if project is not None:
            if self.headers.get("Authorization") != f"Bearer {si.vertex_token}":
                self._google_error(
                    entry, 401, "Request had invalid authentication credentials.", "UNAUTHENTICATED"
                )
                return
        elif not self._google_key_ok():
            self._bad_google_key(entry)
            return
        if len(texts) > limit:
            self._google_error(
                entry,
                400,
                f"{len(texts)} instances in one request; the limit is {limit}.",
                "INVALID_ARGUMENT",
            )
            return
        if any(t is None for t in texts):
            self._google_error(entry, 400, "every instance needs a text content", "INVALID_ARGUMENT")
            return
        self._google_answer(entry, model, texts, task, dims, shape)

    def _google_answer(
        self, entry: Logged, model: str, texts: list[str], task: str | None, dims: int | None, shape: Any
    ) -> None:
        si = self.stand_in
        fault = si._next_fault()
        entry.fault = fault.kind if fault else None
        if fault and fault.kind in _ERROR_FAULTS:
            entry.status = _fault_status(fault.kind)
            si._log(entry)
            self._fault_response(fault, google=True)
            return
        vectors = si.expected(model, texts, task_type=task, dims=dims)
        rows = [[float(x) for x in v] for v in vectors]
        if fault and fault.kind == "wrong_count":
            rows = rows[:-1]
        si._log(entry)
        self._send_json(200, shape(rows))


def _parts_text(content: Any) -> str | None:
    if not isinstance(content, dict):
        return None
    parts = content.get("parts") or []
    texts = [p.get("text") for p in parts if isinstance(p, dict) and isinstance(p.get("text"), str)]
    return "".join(texts) if texts else None


def _jwt_claims(assertion: str) -> dict[str, Any]:
    """The payload of a JWT (signature not checked: the stand-in trusts its own test's key)."""
    parts = assertion.split(".")
    if len(parts) != 3:
        return {}
    payload = parts[1] + "=" * (-len(parts[1]) % 4)
    try:
        return json.loads(base64.urlsafe_b64decode(payload))
    except (ValueError, json.JSONDecodeError):
        return {}


# --------------------------------------------------------------------- helpers for the tests
API_ENV = (
    "OPENAI_API_KEY",
    "OPENAI_BASE_URL",
    "OPENAI_ORG_ID",
    "OPENAI_PROJECT_ID",
    "GOOGLE_API_KEY",
    "GEMINI_API_KEY",
    "GOOGLE_CLOUD_PROJECT",
    "GOOGLE_CLOUD_LOCATION",
    "GOOGLE_APPLICATION_CREDENTIALS",
    "GOOGLE_GENAI_USE_VERTEXAI",
    "GOOGLE_GENAI_USE_ENTERPRISE",
    "GOOGLE_GEMINI_BASE_URL",
    "GOOGLE_VERTEX_BASE_URL",
    "GOOGLE_GENAI_API_VERSION",
)


def isolate_api_env(monkeypatch: Any, tmp_path: Any) -> None:
    """No key, project or gcloud config of the machine running the tests leaks in; no metadata-server probe."""
    for name in API_ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("CLOUDSDK_CONFIG", str(tmp_path / "gcloud"))  # no user ADC file
    monkeypatch.setenv("NO_GCE_CHECK", "True")  # google-auth: do not probe 169.254.169.254
    monkeypatch.setenv("WORDEMBED_STORE", str(tmp_path / "store"))


class RecordingSleep:
    """A ``sleep`` that records each wait; ``real`` also waits (to measure Retry-After)."""

    def __init__(self, real: bool = False) -> None:
        self.waits: list[float] = []
        self.real = real

    def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)
        if self.real:
            import time

            time.sleep(seconds)


def service_account_file(path: Any, stand_in: StandIn, project: str = "stand-in-project") -> str:
    """A service-account key file whose token_uri is the stand-in (a fresh RSA key; google-auth signs with it)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    info = {
        "type": "service_account",
        "project_id": project,
        "private_key_id": "stand-in-key-1",
        "private_key": pem,
        "client_email": stand_in.service_account,
        "client_id": "1",
        "token_uri": f"{stand_in.url}/token",
    }
    path.write_text(json.dumps(info))
    return pem
