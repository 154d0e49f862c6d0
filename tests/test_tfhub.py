"""The tfhub backend against a SavedModel built here with USE's string-in, vector-out signature.

USE v4 itself needs the network (TF-Hub/Kaggle), so the stand-in is a real SavedModel: a hashed
bag-of-characters embedding with a fixed seeded table, saved with ``tf.saved_model.save`` and loaded through
``hub.load`` by the backend, exactly the path a local USE folder takes.
"""

from __future__ import annotations

import functools
import http.server
import sys
import tarfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from wordembed.errors import ModelError, ParameterError
from wordembed.models import registry
from wordembed.models.spec import ModelSpec

DIMS = 16
BUCKETS = 97
WORDS = ["cat", "cats", "dog", "running", "ran", "Paris", "naïve", "a", "zebra-crossing"]


def load_encoder(spec: ModelSpec, device: str | None = "cpu") -> Any:
    return registry.load_encoder(spec, device=device)


def make_spec(**kw: Any) -> ModelSpec:
    base: dict[str, Any] = dict(
        key="use-stand-in",
        role="classical",
        backend="tfhub",
        description="hashed bag-of-characters SavedModel with USE v4's signature",
        params=BUCKETS * DIMS,
        dims=DIMS,
        source={"path": None},
        options={},
    )
    base.update(kw)
    return ModelSpec(**base)


# --- the SavedModel ------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def saved_model(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Any]:
    import tensorflow as tf

    class CharBag(tf.Module):
        def __init__(self) -> None:
            super().__init__()
            init = np.random.default_rng(7).standard_normal((BUCKETS, DIMS)).astype(np.float32)
            self.table = tf.Variable(init, trainable=False)

        @tf.function(input_signature=[tf.TensorSpec([None], tf.string)])
        def __call__(self, text: Any) -> Any:
            chars = tf.strings.unicode_split(text, "UTF-8")
            ids = tf.strings.to_hash_bucket_fast(chars, BUCKETS)
            return tf.reduce_mean(tf.gather(self.table, ids), axis=1)

    module = CharBag()
    folder = tmp_path_factory.mktemp("use") / "charbag"
    tf.saved_model.save(module, str(folder))
    return folder, module


@pytest.mark.slow
def test_savedmodel_through_load_encoder(saved_model: tuple[Path, Any]) -> None:
    folder, module = saved_model
    import tensorflow as tf

    expected = module(tf.constant(WORDS)).numpy()
    # independent check of the module itself: mean of the table rows of each character's bucket
    table = module.table.numpy()
    buckets = tf.strings.to_hash_bucket_fast(tf.strings.unicode_split(["Paris"], "UTF-8"), BUCKETS)
    np.testing.assert_allclose(expected[5], table[buckets.numpy()[0]].mean(axis=0), rtol=1e-6)

    encoder = load_encoder(make_spec(source={"path": str(folder)}, options={"batch_size": 4}))
    vectors, present = encoder.encode(WORDS)  # 9 words in batches of 4, 4, 1
    assert vectors.dtype == np.float32 and vectors.shape == (len(WORDS), DIMS)
    assert present.dtype == bool and present.all()
    np.testing.assert_allclose(vectors, expected, rtol=1e-6, atol=1e-7)
    # "cats" is 3/4 "cat" plus one character; "zebra-crossing" shares only 2 of its 14 characters with "cat"
    cos = vectors @ vectors.T / np.outer(np.linalg.norm(vectors, axis=1), np.linalg.norm(vectors, axis=1))
    assert cos[0, 1] > cos[0, 8]

    # the handle may also come from options.handle; the fingerprint follows the folder's content, not its name
    by_option = load_encoder(make_spec(options={"handle": str(folder)}))
    np.testing.assert_array_equal(by_option.encode(WORDS)[0], vectors)
    assert by_option.fingerprint() == encoder.fingerprint()
    assert encoder.encode([])[0].shape == (0, DIMS)

    # the serving signature (what tf.saved_model.save exports) returns a dict {"output_0": vectors}
    for options in (
        {"signature": "serving_default"},
        {"signature": "serving_default", "output_key": "output_0"},
    ):
        by_signature = load_encoder(make_spec(source={"path": str(folder)}, options=options))
        np.testing.assert_allclose(by_signature.encode(WORDS)[0], expected, rtol=1e-6, atol=1e-7)
    with pytest.raises(ParameterError, match=r"output_key='x' is not among the outputs \['output_0'\]"):
        spec = make_spec(
            source={"path": str(folder)}, options={"signature": "serving_default", "output_key": "x"}
        )
        load_encoder(spec).encode(WORDS)


@pytest.mark.slow
def test_wrong_dims_and_bad_handles(saved_model: tuple[Path, Any], tmp_path: Path) -> None:
    folder, _ = saved_model
    with pytest.raises(ModelError, match="16-dim vectors but the spec says dims: 512"):
        load_encoder(make_spec(dims=512, source={"path": str(folder)})).encode(["cat"])
    with pytest.raises(ModelError, match="no SavedModel folder"):
        load_encoder(make_spec(options={"handle": str(tmp_path / "missing")}))
    with pytest.raises(ParameterError, match="output_key='x' is set but the model returns one tensor"):
        load_encoder(make_spec(source={"path": str(folder)}, options={"output_key": "x"})).encode(["cat"])
    with pytest.raises(ParameterError, match=r"signature='nope' is not exported .* \['serving_default'\]"):
        load_encoder(make_spec(source={"path": str(folder)}, options={"signature": "nope"}))
    with pytest.raises(ParameterError, match="unknown option .batch. for backend .tfhub."):
        load_encoder(make_spec(source={"path": str(folder)}, options={"batch": 3}))


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture()
def hub_server(saved_model: tuple[Path, Any], tmp_path: Path) -> Iterator[str]:
    """A local server answering like a TF-Hub URL: ``GET /model?tf-hub-format=compressed`` -> a tar.gz."""
    folder, _ = saved_model
    site = tmp_path / "site"
    site.mkdir()
    with tarfile.open(site / "model", "w:gz") as tar:
        tar.add(folder, arcname=".")
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(site)))
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
    thread.join()


@pytest.mark.slow
def test_url_handle_downloads_through_hub(
    saved_model: tuple[Path, Any], hub_server: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder, module = saved_model
    import tensorflow as tf

    monkeypatch.setenv("TFHUB_CACHE_DIR", str(tmp_path / "hub-cache"))
    encoder = load_encoder(make_spec(options={"handle": f"{hub_server}/model"}))
    np.testing.assert_allclose(
        encoder.encode(WORDS)[0], module(tf.constant(WORDS)).numpy(), rtol=1e-6, atol=1e-7
    )
    assert any(p.is_dir() for p in (tmp_path / "hub-cache").iterdir())  # hub kept its download
    local = load_encoder(make_spec(source={"path": str(folder)}))
    assert encoder.fingerprint() != local.fingerprint()  # a URL is identified by the URL itself

    with pytest.raises(
        ModelError, match=r"hub\.load\('http://127\.0\.0\.1:\d+/absent'\) failed: .*404.*source\.path"
    ):
        load_encoder(make_spec(options={"handle": f"{hub_server}/absent"}))


def test_needs_a_handle() -> None:
    with pytest.raises(ParameterError, match="source.path .* or options.handle"):
        load_encoder(make_spec())


def test_missing_tensorflow_says_what_to_install(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    # None in sys.modules makes `import tensorflow_hub` raise ImportError, as on an install without the extra
    monkeypatch.setitem(sys.modules, "tensorflow", None)
    monkeypatch.setitem(sys.modules, "tensorflow_hub", None)
    (tmp_path / "saved_model.pb").write_bytes(b"")
    with pytest.raises(ModelError, match=r"pip install 'wordembed\[tfhub\]'"):
        load_encoder(make_spec(source={"path": str(tmp_path)}))


def test_params_yaml_is_use_v4() -> None:
    import yaml

    from wordembed.paths import params_dir

    spec = yaml.safe_load((params_dir() / "models" / "use-v4.yaml").read_text())
    assert spec["key"] == "use-v4" and spec["backend"] == "tfhub" and spec["role"] == "classical"
    assert spec["dims"] == 512
    assert spec["options"]["handle"] == "https://tfhub.dev/google/universal-sentence-encoder/4"
