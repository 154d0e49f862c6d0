"""The OpenAI backend, real ``openai`` client against a local server speaking the embeddings protocol."""

from __future__ import annotations

import dataclasses
import logging
import time

import numpy as np
import pytest
from api_stand_in import RecordingSleep, StandIn, isolate_api_env

from wordembed.errors import ModelError, ParameterError
from wordembed.models import openai_api
from wordembed.models.api_common import parse_retry_after
from wordembed.models.spec import load_spec
from wordembed.store import EmbeddingStore

ADA = "text-embedding-ada-002"
DIMS = 8  # the stand-in's vector size, so tests move little data
WORDS = [f"word{i}" for i in range(12)]


@pytest.fixture
def server(monkeypatch, tmp_path):
    isolate_api_env(monkeypatch, tmp_path)
    with StandIn(dims={ADA: DIMS, "text-embedding-3-small": DIMS}) as s:
        monkeypatch.setenv("OPENAI_API_KEY", s.openai_key)
        yield s


def encoder(server: StandIn, key: str = "ada-002", sleep=None, **options):
    spec = dataclasses.replace(load_spec(key), dims=DIMS)
    opts = {"base_url": f"{server.url}/v1", "batch_size": 5, "initial_backoff": 0.001, **options}
    return openai_api.from_spec(spec.with_options(opts), None, None, sleep=sleep or RecordingSleep())


def test_multi_batch_gives_the_servers_vectors(server):
    enc = encoder(server)
    vectors, present = enc.encode(WORDS)
    assert enc.chunk_size == enc.batch_size == 5
    assert [len(t) for t in server.embedded()] == [5, 5, 2]
    assert [w for t in server.embedded() for w in t] == WORDS
    assert vectors.dtype == np.float32 and vectors.shape == (12, DIMS)
    np.testing.assert_array_equal(vectors, server.expected(ADA, WORDS))
    assert present.all()
    first = server.requests[0]
    assert first.path == "/v1/embeddings" and first.model == ADA
    assert first.headers["authorization"] == f"Bearer {server.openai_key}"


def test_blank_words_are_absent_and_never_sent(server):
    vectors, present = encoder(server).encode(["cat", "", "dog"])
    assert present.tolist() == [True, False, True]
    assert server.embedded() == [["cat", "dog"]]
    np.testing.assert_array_equal(vectors[[0, 2]], server.expected(ADA, ["cat", "dog"]))
    assert not vectors[1].any()


def test_default_batch_is_the_api_limit_of_2048(server):
    spec = dataclasses.replace(load_spec("ada-002"), dims=DIMS).with_options({"base_url": f"{server.url}/v1"})
    enc = openai_api.from_spec(spec, None, None)
    assert enc.batch_size == enc.chunk_size == 2048
    words = [f"w{i}" for i in range(2049)]
    vectors, _ = enc.encode(words)
    assert [len(t) for t in server.embedded()] == [2048, 1]
    np.testing.assert_array_equal(vectors[-3:], server.expected(ADA, words[-3:]))
    with pytest.raises(ParameterError, match="batch_size=2049"):
        openai_api.from_spec(spec.with_options({"batch_size": 2049}), None, None)


def test_a_rejected_request_is_not_retried(monkeypatch, tmp_path):
    isolate_api_env(monkeypatch, tmp_path)
    with StandIn(dims={ADA: DIMS}, limits={"openai": 4}) as s:
        monkeypatch.setenv("OPENAI_API_KEY", s.openai_key)
        with pytest.raises(ModelError, match=r"HTTP 400: .*at most 4 inputs, got 5"):
            encoder(s).encode(WORDS)
        assert len(s.requests) == 1


@pytest.mark.parametrize("fault", ["429", "500", "503", "drop", "shuffled"])
def test_transient_faults_end_in_the_right_vectors(server, fault):
    sleep = RecordingSleep()
    server.inject(fault, at=2)  # the second batch's first try
    vectors, present = encoder(server, sleep=sleep).encode(WORDS)
    np.testing.assert_array_equal(vectors, server.expected(ADA, WORDS))
    assert present.all()
    sent = [r.texts for r in server.requests]
    retried = fault != "shuffled"
    assert sent == (
        [WORDS[:5], WORDS[5:10], WORDS[5:10], WORDS[10:]] if retried else [WORDS[:5], WORDS[5:10], WORDS[10:]]
    )
    assert sleep.waits == ([0.001] if retried else [])
    assert server.requests[1].fault == fault


def test_retry_after_is_honoured(server):
    sleep = RecordingSleep(real=True)
    server.inject("429", retry_after="1")
    start = time.monotonic()
    vectors, _ = encoder(server, sleep=sleep).encode(WORDS[:3])
    elapsed = time.monotonic() - start
    assert sleep.waits == [1.0]
    assert 1.0 <= elapsed < 5.0
    np.testing.assert_array_equal(vectors, server.expected(ADA, WORDS[:3]))
    assert [r.status for r in server.requests] == [429, 200]


def test_retry_after_beyond_the_limit_gives_up_at_once(server):
    server.inject("429", retry_after="3600")
    with pytest.raises(ModelError, match=r"retry after 3600 s, more than max_retry_after=60 s"):
        encoder(server, max_retry_after=60).encode(WORDS[:3])
    assert len(server.requests) == 1


def test_retry_after_parsing():
    assert parse_retry_after("7") == 7.0
    assert parse_retry_after("0.5") == 0.5
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:10 GMT", now=1445412480.0) == 10.0
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:10 GMT", now=1445412500.0) == 0.0
    assert parse_retry_after("soon") is None and parse_retry_after(None) is None


def test_persistent_500_gives_up_after_max_tries(server):
    sleep = RecordingSleep()
    server.inject("500", times=100)
    with pytest.raises(ModelError, match=r"words 1-5 of 12: gave up after 4 tries; last error: HTTP 500"):
        encoder(server, sleep=sleep, max_tries=4, initial_backoff=0.5, max_backoff=1.5).encode(WORDS)
    assert len(server.requests) == 4
    assert sleep.waits == [0.5, 1.0, 1.5]


@pytest.mark.parametrize(
    ("fault", "message"),
    [
        ("malformed", r"malformed response \(JSONDecodeError"),
        ("wrong_count", "the server returned 4 vectors for 5 inputs"),
    ],
)
def test_bad_answers_end_in_a_clear_error(server, fault, message):
    server.inject(fault)
    with pytest.raises(
        ModelError, match=rf"ada-002 \(openai model {ADA}\): batch of words 1-5 of 12: {message}"
    ):
        encoder(server).encode(WORDS)
    assert len(server.requests) == 1  # not retried: the same answer would come back


def test_bad_key_is_a_clear_error_that_never_shows_the_key(server, monkeypatch, caplog):
    secret = "sk-wrong-but-secret-4f9a8b7c6d"
    monkeypatch.setenv("OPENAI_API_KEY", secret)
    enc = encoder(server)
    with caplog.at_level(logging.DEBUG), pytest.raises(ModelError) as info:
        enc.encode(WORDS)
    message = str(info.value)
    assert "rejected the key in OPENAI_API_KEY" in message and "HTTP 401" in message
    assert secret not in message and "***" in message  # the stand-in echoed the key; we scrubbed it
    assert info.value.__cause__ is None and info.value.__suppress_context__
    assert secret not in caplog.text and secret not in repr(enc) and secret not in enc.fingerprint()
    assert len(server.requests) == 1


def test_missing_key_names_the_variable(server, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY")
    with pytest.raises(ModelError, match="set the environment variable OPENAI_API_KEY"):
        encoder(server)
    monkeypatch.setenv("MY_OPENAI_KEY", server.openai_key)
    vectors, _ = encoder(server, api_key_env="MY_OPENAI_KEY").encode(["cat"])
    np.testing.assert_array_equal(vectors, server.expected(ADA, ["cat"]))


def test_base_url_from_the_environment(server, monkeypatch):
    monkeypatch.setenv("OPENAI_BASE_URL", f"{server.url}/v1")
    spec = dataclasses.replace(load_spec("ada-002"), dims=DIMS)
    vectors, _ = openai_api.from_spec(spec, None, None).encode(["cat", "dog"])
    np.testing.assert_array_equal(vectors, server.expected(ADA, ["cat", "dog"]))


def test_dimensions_option(server):
    enc = encoder(server, key="text-embedding-3-small", dimensions=4)
    vectors, _ = enc.encode(WORDS[:3])
    assert server.requests[0].dims == 4
    np.testing.assert_array_equal(vectors, server.expected("text-embedding-3-small", WORDS[:3], dims=4))
    with pytest.raises(ParameterError, match="dimensions=4 is not supported by text-embedding-ada-002"):
        encoder(server, dimensions=4)
    with pytest.raises(ParameterError, match="unknown option"):
        encoder(server, dimension=4)


def test_fingerprint_follows_model_and_dimensions_not_key_or_url(server, monkeypatch):
    a = encoder(server)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-another-key-123456")
    b = encoder(server, base_url="http://127.0.0.1:9/v1", batch_size=7)
    assert a.fingerprint() == b.fingerprint()
    small = encoder(server, key="text-embedding-3-small")
    short = encoder(server, key="text-embedding-3-small", dimensions=4)
    assert len({a.fingerprint(), small.fingerprint(), short.fingerprint()}) == 3
    assert server.url not in a.fingerprint() and server.openai_key not in a.fingerprint()


def test_yaml_specs_load():
    for key, model, dims in [
        ("ada-002", ADA, 1536),
        ("text-embedding-3-small", "text-embedding-3-small", 1536),
        ("text-embedding-3-large", "text-embedding-3-large", 3072),
    ]:
        spec = load_spec(key)
        assert (spec.backend, spec.source["api"], spec.dims, spec.options["batch_size"]) == (
            "openai",
            model,
            dims,
            2048,
        )


def test_store_keeps_finished_batches_and_the_rerun_pays_only_for_the_rest(server, tmp_path):
    words = [f"w{i:02d}" for i in range(15)]  # 5 batches of 3
    store = EmbeddingStore(tmp_path / "store")
    server.inject("500", at=3, times=1000)  # batch 3 fails for good
    with pytest.raises(ModelError, match="words 1-3 of 3: gave up after 2 tries"):
        store.embed(encoder(server, batch_size=3, max_tries=2), words, progress=False)
    assert server.embedded() == [words[0:3], words[3:6]]
    server.clear_faults()
    before = len(server.embedded())
    emb = store.embed(encoder(server, batch_size=3), words, progress=False)
    assert server.embedded()[before:] == [words[6:9], words[9:12], words[12:15]]
    assert emb.words == words and not emb.missing
    np.testing.assert_array_equal(emb.vectors, server.expected(ADA, words))
    # A third run is free.
    emb = store.embed(encoder(server, batch_size=3), words, progress=False)
    assert len(server.embedded()) == before + 3
    stored = b"".join(p.read_bytes() for p in (tmp_path / "store").rglob("*") if p.is_file())
    assert server.openai_key.encode() not in stored and server.url.encode() not in stored
