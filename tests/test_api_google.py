"""The Google backend, real ``google-genai`` client against a local server speaking the Gemini API and
Vertex AI protocols (API key, express mode, and service-account credentials through a local token endpoint)."""

from __future__ import annotations

import dataclasses
import logging
import time

import numpy as np
import pytest
from api_stand_in import RecordingSleep, StandIn, isolate_api_env, service_account_file

from wordembed.errors import ModelError, ParameterError
from wordembed.models import google_api
from wordembed.models.spec import load_spec
from wordembed.store import EmbeddingStore

GECKO = "textembedding-gecko@003"
GEMINI = "gemini-embedding-001"
DIMS = 8
WORDS = [f"word{i}" for i in range(12)]
#: spec key, API model, protocol the stand-in logs
ROUTES = {"gemini": ("gemini-embedding-001", GEMINI, "gemini"), "vertex": ("gecko", GECKO, "vertex-predict")}


@pytest.fixture
def server(monkeypatch, tmp_path):
    isolate_api_env(monkeypatch, tmp_path)
    with StandIn(dims={GECKO: DIMS, GEMINI: DIMS, "text-embedding-005": DIMS}) as s:
        monkeypatch.setenv("GOOGLE_API_KEY", s.google_key)
        yield s


def encoder(server: StandIn, key: str = "gecko", sleep=None, **options):
    spec = dataclasses.replace(load_spec(key), dims=options.get("dimensions") or DIMS)
    opts = {"base_url": server.url, "batch_size": 5, "initial_backoff": 0.001, **options}
    return google_api.from_spec(spec.with_options(opts), None, None, sleep=sleep or RecordingSleep())


def test_gemini_api_batches_with_task_type(server):
    enc = encoder(server, "gemini-embedding-001", task_type="semantic_similarity")
    vectors, present = enc.encode(WORDS)
    assert enc.chunk_size == enc.batch_size == 5
    assert [len(t) for t in server.embedded()] == [5, 5, 2]
    first = server.requests[0]
    assert first.protocol == "gemini" and first.path == f"/v1/models/{GEMINI}:batchEmbedContents"
    assert first.headers["x-goog-api-key"] == server.google_key and first.task_type == "SEMANTIC_SIMILARITY"
    np.testing.assert_allclose(
        vectors, server.expected(GEMINI, WORDS, task_type="SEMANTIC_SIMILARITY"), rtol=1e-6
    )
    assert present.all()
    # The task type changes the vectors (the stand-in, like the API, embeds per task).
    assert not np.allclose(vectors, server.expected(GEMINI, WORDS))


def test_vertex_express_mode_predict_for_gecko(server):
    vectors, _ = encoder(server, "gecko").encode(WORDS[:7])
    r = server.requests[0]
    assert r.protocol == "vertex-predict" and r.project is None
    assert r.path == f"/v1beta1/publishers/google/models/{GECKO}:predict"
    assert r.headers["x-goog-api-key"] == server.google_key and r.task_type is None
    np.testing.assert_allclose(vectors, server.expected(GECKO, WORDS[:7]), rtol=1e-6)


def test_default_batches_are_the_api_limits(server):
    spec = dataclasses.replace(load_spec("gecko"), dims=DIMS).with_options({"base_url": server.url})
    enc = google_api.from_spec(spec, None, None)
    assert enc.batch_size == enc.chunk_size == 250
    words = [f"w{i}" for i in range(251)]
    vectors, _ = enc.encode(words)
    assert [len(t) for t in server.embedded()] == [250, 1]
    np.testing.assert_allclose(vectors[-2:], server.expected(GECKO, words[-2:]), rtol=1e-6)
    gemini = dataclasses.replace(load_spec("gemini-embedding-001"), dims=DIMS).with_options(
        {"base_url": server.url}
    )
    assert google_api.from_spec(gemini, None, None).batch_size == 100
    with pytest.raises(ParameterError, match="batch_size=101"):
        google_api.from_spec(gemini.with_options({"batch_size": 101}), None, None)


def test_over_limit_batch_is_rejected_by_the_server_and_not_retried(monkeypatch, tmp_path):
    isolate_api_env(monkeypatch, tmp_path)
    with StandIn(dims={GEMINI: DIMS}, limits={"gemini": 4}) as s:
        monkeypatch.setenv("GOOGLE_API_KEY", s.google_key)
        with pytest.raises(
            ModelError, match="HTTP 400 INVALID_ARGUMENT: .*at most 4 requests can be in one batch"
        ):
            encoder(s, "gemini-embedding-001").encode(WORDS)
        assert len(s.requests) == 1


def test_vertex_with_service_account_credentials(server, monkeypatch, tmp_path):
    monkeypatch.delenv("GOOGLE_API_KEY")
    creds = tmp_path / "sa.json"
    service_account_file(creds, server)
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(creds))
    monkeypatch.setenv("GOOGLE_CLOUD_PROJECT", "stand-in-project")
    enc = encoder(server, "text-embedding-005", dimensions=4, task_type="CLUSTERING", batch_size=3)
    vectors, _ = enc.encode(WORDS[:7])
    token, *calls = server.requests
    assert token.protocol == "token" and token.status == 200
    assert [c.texts for c in calls] == [WORDS[0:3], WORDS[3:6], WORDS[6:7]]
    assert calls[0].path == (
        "/v1beta1/projects/stand-in-project/locations/us-central1/publishers/google/models/"
        "text-embedding-005:predict"
    )
    assert calls[0].headers["authorization"] == f"Bearer {server.vertex_token}" and calls[0].dims == 4
    np.testing.assert_allclose(
        vectors, server.expected("text-embedding-005", WORDS[:7], task_type="CLUSTERING", dims=4), rtol=1e-6
    )
    # A token the server no longer accepts is a clear, unretried error that never shows the token.
    old_token, server.vertex_token = server.vertex_token, "ya29.rotated-token"
    with pytest.raises(
        ModelError, match="rejected the credentials in GOOGLE_APPLICATION_CREDENTIALS .*HTTP 401"
    ):
        enc.encode(["x"])
    assert len(server.requests) == 5
    with pytest.raises(ModelError) as info:
        raise enc._error(f"echo {old_token}")
    assert old_token not in str(info.value)


def test_refused_service_account_is_a_clear_error(server, monkeypatch, tmp_path):
    monkeypatch.delenv("GOOGLE_API_KEY")
    creds = tmp_path / "sa.json"
    service_account_file(creds, server)
    server.service_account = "someone-else@stand-in.iam.gserviceaccount.com"  # the token endpoint refuses
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(creds))
    monkeypatch.setenv("GOOGLE_CLOUD_PROJECT", "stand-in-project")
    with pytest.raises(ModelError, match=r"could not get an access token \(RefreshError: .*invalid_grant"):
        encoder(server, "text-embedding-005").encode(["x"])
    assert [r.protocol for r in server.requests] == ["token"]


def test_gemini_model_on_vertex_uses_batch_and_single_embed_content(server):
    vectors, _ = encoder(server, "gemini-embedding-001", route="vertex", batch_size=2).encode(["a", "b", "c"])
    assert [r.protocol for r in server.requests] == ["vertex-batch", "vertex-embed"]
    assert server.requests[0].path == f"/v1beta1/publishers/google/models/{GEMINI}:batchEmbedContents"
    np.testing.assert_allclose(vectors, server.expected(GEMINI, ["a", "b", "c"]), rtol=1e-6)


@pytest.mark.parametrize("route", sorted(ROUTES))
@pytest.mark.parametrize("fault", ["429", "500", "503", "drop"])
def test_transient_faults_end_in_the_right_vectors(server, route, fault):
    key, model, protocol = ROUTES[route]
    sleep = RecordingSleep()
    server.inject(fault, at=2)
    vectors, present = encoder(server, key, sleep=sleep).encode(WORDS)
    np.testing.assert_allclose(vectors, server.expected(model, WORDS), rtol=1e-6)
    assert present.all()
    assert [r.texts for r in server.requests] == [WORDS[:5], WORDS[5:10], WORDS[5:10], WORDS[10:]]
    assert {r.protocol for r in server.requests} == {protocol}
    assert server.requests[1].fault == fault and sleep.waits == [0.001]


@pytest.mark.parametrize("route", sorted(ROUTES))
def test_retry_after_is_honoured(server, route):
    key, model, _ = ROUTES[route]
    sleep = RecordingSleep(real=True)
    server.inject("429", retry_after="1")
    start = time.monotonic()
    vectors, _ = encoder(server, key, sleep=sleep).encode(WORDS[:2])
    elapsed = time.monotonic() - start
    assert sleep.waits == [1.0] and 1.0 <= elapsed < 5.0
    assert [r.status for r in server.requests] == [429, 200]
    np.testing.assert_allclose(vectors, server.expected(model, WORDS[:2]), rtol=1e-6)


@pytest.mark.parametrize("route", sorted(ROUTES))
@pytest.mark.parametrize(
    ("fault", "message"),
    [
        ("malformed", r"malformed response \(JSONDecodeError"),
        ("wrong_count", "the server returned 4 vectors for 5"),
    ],
)
def test_bad_answers_end_in_a_clear_error(server, route, fault, message):
    key, model, _ = ROUTES[route]
    server.inject(fault)
    with pytest.raises(
        ModelError, match=rf"{key} \(google model {model}\): batch of words 1-5 of 12: {message}"
    ):
        encoder(server, key).encode(WORDS)
    assert len(server.requests) == 1


def test_persistent_server_error_gives_up(server):
    sleep = RecordingSleep()
    server.inject("503", times=100)
    with pytest.raises(ModelError, match="gave up after 3 tries; last error: HTTP 503 UNAVAILABLE"):
        encoder(server, "gecko", sleep=sleep, max_tries=3).encode(WORDS)
    assert len(server.requests) == 3 and sleep.waits == [0.001, 0.002]


@pytest.mark.parametrize("route", sorted(ROUTES))
def test_bad_key_is_a_clear_error_that_never_shows_the_key(server, monkeypatch, caplog, route):
    key, _, _ = ROUTES[route]
    secret = "AIza-wrong-but-secret-77aa88bb"
    monkeypatch.setenv("GOOGLE_API_KEY", secret)
    enc = encoder(server, key)
    with caplog.at_level(logging.DEBUG), pytest.raises(ModelError) as info:
        enc.encode(WORDS)
    message = str(info.value)
    assert "rejected the credentials in GOOGLE_API_KEY" in message and "API key not valid" in message
    assert secret not in message and secret not in caplog.text
    assert secret not in repr(enc) and secret not in enc.fingerprint()
    assert len(server.requests) == 1


def test_missing_credentials_name_the_variables(server, monkeypatch):
    monkeypatch.delenv("GOOGLE_API_KEY")
    with pytest.raises(ModelError, match="set the environment variable GOOGLE_API_KEY or GEMINI_API_KEY"):
        encoder(server, "gemini-embedding-001")
    with pytest.raises(
        ModelError, match="set GOOGLE_CLOUD_PROJECT .* or GOOGLE_API_KEY for Vertex AI express mode"
    ):
        encoder(server, "gecko")
    monkeypatch.setenv("GOOGLE_CLOUD_PROJECT", "p")
    with pytest.raises(
        ModelError, match="no application default credentials; set GOOGLE_APPLICATION_CREDENTIALS"
    ):
        encoder(server, "gecko")
    monkeypatch.setenv("GEMINI_API_KEY", server.google_key)
    vectors, _ = encoder(server, "gemini-embedding-001").encode(["cat"])
    np.testing.assert_allclose(vectors, server.expected(GEMINI, ["cat"]), rtol=1e-6)


def test_base_url_from_the_sdks_environment_variables(server, monkeypatch):
    monkeypatch.setenv("GOOGLE_VERTEX_BASE_URL", server.url)
    monkeypatch.setenv("GOOGLE_GEMINI_BASE_URL", server.url)
    for key, model in [("gecko", GECKO), ("gemini-embedding-001", GEMINI)]:
        spec = dataclasses.replace(load_spec(key), dims=DIMS)
        vectors, _ = google_api.from_spec(spec, None, None).encode(["cat"])
        np.testing.assert_allclose(vectors, server.expected(model, ["cat"]), rtol=1e-6)


def test_options_are_validated(server):
    with pytest.raises(ParameterError, match="task_type='SIMILARITY'"):
        encoder(server, task_type="SIMILARITY")
    with pytest.raises(ParameterError, match="route='palm'"):
        encoder(server, route="palm")
    with pytest.raises(ParameterError, match="unknown option"):
        encoder(server, tasktype="CLUSTERING")


def test_fingerprint_follows_model_task_and_dimensions_not_key_or_url(server, monkeypatch):
    a = encoder(server, "gecko")
    monkeypatch.setenv("GOOGLE_API_KEY", "AIza-another-key-000")
    assert (
        encoder(server, "gecko", base_url="http://127.0.0.1:9", batch_size=3).fingerprint() == a.fingerprint()
    )
    others = {
        encoder(server, "gecko", task_type="SEMANTIC_SIMILARITY").fingerprint(),
        encoder(server, "gecko", dimensions=4).fingerprint(),
        encoder(server, "text-embedding-005").fingerprint(),
        a.fingerprint(),
    }
    assert len(others) == 4
    assert server.url not in a.fingerprint() and "AIza" not in a.fingerprint()


def test_yaml_specs_and_routes():
    expected = {
        "gecko": (GECKO, "vertex", 768),
        "text-embedding-005": ("text-embedding-005", "vertex", 768),
        "gemini-embedding-001": (GEMINI, "gemini", 3072),
    }
    for key, (model, route, dims) in expected.items():
        spec = load_spec(key)
        assert (spec.backend, spec.source["api"], spec.options["route"], spec.dims) == (
            "google",
            model,
            route,
            dims,
        )
        assert google_api.default_route(model) == route


def test_store_keeps_finished_batches_and_the_rerun_pays_only_for_the_rest(server, tmp_path):
    words = [f"w{i:02d}" for i in range(10)]  # 5 batches of 2
    store = EmbeddingStore(tmp_path / "store")
    server.inject("drop", at=3, times=1000)
    with pytest.raises(ModelError, match="gave up after 2 tries; last error: connection failed"):
        store.embed(encoder(server, "gecko", batch_size=2, max_tries=2), words, progress=False)
    assert server.embedded() == [words[0:2], words[2:4]]
    server.clear_faults()
    before = len(server.embedded())
    emb = store.embed(encoder(server, "gecko", batch_size=2), words, progress=False)
    assert server.embedded()[before:] == [words[4:6], words[6:8], words[8:10]]
    np.testing.assert_allclose(emb.vectors, server.expected(GECKO, words), rtol=1e-6)
    stored = b"".join(p.read_bytes() for p in (tmp_path / "store").rglob("*") if p.is_file())
    assert server.google_key.encode() not in stored and server.url.encode() not in stored
