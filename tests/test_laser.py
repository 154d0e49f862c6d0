"""The LASER backend on a tiny checkpoint, SentencePiece model and cvocab built here in LASER-2's format.

The real laser2.pt/.spm/.cvocab need the network, so the test writes files of the same format (a torch dict
``{params, model, dictionary}`` for ``LaserLstmEncoder``, a trained SentencePiece model, a fairseq dictionary)
and checks the backend against an independent computation: the same weights in a plain ``nn.LSTM`` run on one
unpadded word at a time, max-pooled over time.

Downloads are served by a local HTTP server on 127.0.0.1 (the one plain-http host the loader accepts). The
security tests: a hostile ``.pt`` (a pickle that runs code) is refused and its code never runs, a download or
file whose sha256 differs from its pin is refused before torch.load, an unpinned file is not downloaded, and
plain http to another host (also through a redirect) is refused before any connection.
"""

from __future__ import annotations

import functools
import hashlib
import http.server
import inspect
import io
import threading
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import sentencepiece as spm
import torch
from torch import nn

from wordembed.errors import ModelError, ParameterError
from wordembed.models import laser, registry
from wordembed.models.spec import ModelSpec

EMBED, HIDDEN, LAYERS = 8, 6, 2
WORDS = ["cat", "Dog", "kalomi", "rutoveziné", "a", "‘quoted’", "don‘t", "zzzzzzzzzzzz", "Hello, World!"]


def load_encoder(spec: ModelSpec, device: str | None = "cpu") -> Any:
    return registry.load_encoder(spec, device=device)


def make_spec(**kw: Any) -> ModelSpec:
    base: dict[str, Any] = dict(
        key="laser-tiny",
        role="classical",
        backend="laser",
        description="tiny random LASER-format BiLSTM",
        params=None,
        dims=2 * HIDDEN,
        source={"path": None},
        options={"name": "tiny"},
    )
    base.update(kw)
    return ModelSpec(**base)


def training_words() -> list[str]:
    syllables = ["ka", "lo", "mi", "ne", "ru", "to", "ve", "zi", "sa", "po"]
    words = [a + b for a in syllables for b in syllables]
    words += [a + b + c for a in syllables[:6] for b in syllables[3:9] for c in syllables[::2]]
    words += "the cat dog sat on a mat and ran to the hello world don't quoted".split()
    return words  # 100 + 180 + 15 words


class Reference(nn.Module):
    """Same parameter names as LaserLstmEncoder, no packing, no padding: one word at a time."""

    def __init__(self, vocab: int) -> None:
        super().__init__()
        self.embed_tokens = nn.Embedding(vocab, EMBED, padding_idx=1)
        self.lstm = nn.LSTM(EMBED, HIDDEN, num_layers=LAYERS, bidirectional=True)

    def forward(self, ids: list[int]) -> np.ndarray:
        x = self.embed_tokens(torch.tensor(ids)).unsqueeze(1)  # T x 1 x C
        out, _ = self.lstm(x)
        return out[:, 0].max(dim=0).values.detach().numpy()


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    folder = tmp_path_factory.mktemp("laser")
    buf = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(training_words()),
        model_writer=buf,
        vocab_size=80,
        model_type="unigram",
        character_coverage=1.0,
        num_threads=1,
        minloglevel=2,
    )
    (folder / "tiny.spm").write_bytes(buf.getvalue())
    sp = spm.SentencePieceProcessor(model_proto=buf.getvalue())
    pieces = [
        sp.id_to_piece(i) for i in range(sp.get_piece_size()) if not sp.is_control(i) and not sp.is_unknown(i)
    ]
    (folder / "tiny.cvocab").write_text(
        "".join(f"{p} {1000 - i}\n" for i, p in enumerate(pieces)), encoding="utf-8"
    )
    dictionary = {"<s>": 0, "<pad>": 1, "</s>": 2, "<unk>": 3} | {p: 4 + i for i, p in enumerate(pieces)}
    torch.manual_seed(0)
    ref = Reference(len(dictionary)).eval()
    params = dict(
        num_embeddings=len(dictionary),
        padding_idx=1,
        embed_dim=EMBED,
        hidden_size=HIDDEN,
        num_layers=LAYERS,
        bidirectional=True,
        left_pad=True,
        padding_value=0.0,
    )
    state = {k: v.clone() for k, v in ref.state_dict().items()}
    torch.save({"params": params, "model": state, "dictionary": dictionary}, folder / "tiny.pt")
    return {"folder": folder, "sp": sp, "dictionary": dictionary, "ref": ref}


def reference_ids(tiny: dict[str, Any], normalized: str) -> list[int]:
    pieces = tiny["sp"].encode(normalized, out_type=str)
    return [tiny["dictionary"].get(p, 3) for p in pieces] + [2]


def test_tokenizer_follows_laser_tokenizer(tiny: dict[str, Any]) -> None:
    enc = load_encoder(make_spec(source={"path": str(tiny["folder"])}))
    tok = enc.tokenizer
    # category-C characters become spaces, Moses strips and squeezes, LASER maps both single quotes to '"'
    assert tok.normalize("  ‘Hello’ World\u200b ") == '"hello" world'
    assert tok.normalize("don‘t") == "don't"  # between letters the quote is an apostrophe
    assert tok.normalize("«Bonjour» a – b") == '"bonjour" a - b'
    assert tok.tokenize("cat") == " ".join(tiny["sp"].encode("cat", out_type=str))
    assert enc.token_ids("Cat") == reference_ids(tiny, "cat")
    assert enc.token_ids("cat")[-1] == 2
    assert 3 in enc.token_ids('"')  # a piece outside the dictionary is <unk>


def test_matches_plain_lstm_reference(tiny: dict[str, Any]) -> None:
    enc = load_encoder(
        make_spec(source={"path": str(tiny["folder"])}, options={"name": "tiny", "max_tokens": 12})
    )
    vectors, present = enc.encode(WORDS)
    assert vectors.shape == (len(WORDS), 2 * HIDDEN) and vectors.dtype == np.float32 and present.all()
    normalized = [enc.tokenizer.normalize(w) for w in WORDS]
    with torch.no_grad():
        expected = np.stack([tiny["ref"](reference_ids(tiny, n)) for n in normalized])
    np.testing.assert_allclose(vectors, expected, atol=1e-5, rtol=0)
    # several batches were used (max_tokens 12) and the lengths differ, so padding and packing were exercised
    lengths = sorted(len(enc.token_ids(w)) for w in WORDS)
    assert lengths[0] < lengths[-1] and sum(lengths) > 12
    # lower-casing and quote normalisation reach the vectors
    np.testing.assert_allclose(vectors[1], enc.encode(["dog"])[0][0], atol=1e-6, rtol=0)
    np.testing.assert_allclose(vectors[6], enc.encode(["don't"])[0][0], atol=1e-6, rtol=0)
    assert not np.allclose(vectors[1], enc.encode(["cat"])[0][0], atol=1e-3)


def test_padding_and_batching_do_not_change_vectors(tiny: dict[str, Any]) -> None:
    one_by_one = load_encoder(
        make_spec(source={"path": str(tiny["folder"])}, options={"name": "tiny", "max_sentences": 1})
    )
    batched = load_encoder(make_spec(source={"path": str(tiny["folder"])}))
    alone = np.concatenate([one_by_one.encode([w])[0] for w in WORDS])
    together, _ = batched.encode(WORDS)
    np.testing.assert_allclose(together, alone, atol=1e-6, rtol=0)
    assert batched.encode([])[0].shape == (0, 2 * HIDDEN)
    assert batched.fingerprint() == one_by_one.fingerprint()  # batch limits do not change vectors
    normed = load_encoder(
        make_spec(
            source={"path": str(tiny["folder"])}, options={"name": "tiny", "normalize_embeddings": True}
        )
    )
    np.testing.assert_allclose(np.linalg.norm(normed.encode(WORDS)[0], axis=1), 1.0, atol=1e-6)
    assert normed.fingerprint() != batched.fingerprint()


def test_cvocab_stands_in_for_a_missing_dictionary(tiny: dict[str, Any], tmp_path: Path) -> None:
    ckpt = torch.load(tiny["folder"] / "tiny.pt", weights_only=True)
    del ckpt["dictionary"]
    torch.save(ckpt, tmp_path / "tiny.pt")
    for suffix in (".spm", ".cvocab"):
        (tmp_path / f"tiny{suffix}").write_bytes((tiny["folder"] / f"tiny{suffix}").read_bytes())
    with_dict = load_encoder(make_spec(source={"path": str(tiny["folder"])})).encode(WORDS)[0]
    from_cvocab = load_encoder(make_spec(source={"path": str(tmp_path)})).encode(WORDS)[0]
    np.testing.assert_array_equal(from_cvocab, with_dict)


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture()
def file_server(tiny: dict[str, Any]) -> Iterator[str]:
    handler = functools.partial(_Quiet, directory=str(tiny["folder"]))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
    thread.join()


def pinned(folder: Path, name: str = "tiny") -> dict[str, str]:
    """options.sha256 for the files in ``folder``."""
    return {
        s.lstrip("."): hashlib.sha256((folder / f"{name}{s}").read_bytes()).hexdigest()
        for s in laser.SUFFIXES
    }


def test_downloads_into_the_model_cache(
    tiny: dict[str, Any], file_server: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WORDEMBED_CACHE", str(tmp_path / "cache"))
    spec = make_spec(options={"name": "tiny", "base_url": file_server, "sha256": pinned(tiny["folder"])})
    enc = load_encoder(spec)
    entry = tmp_path / "cache" / "models" / "laser-tiny"
    assert sorted(p.name for p in entry.iterdir()) == ["tiny.cvocab", "tiny.pt", "tiny.spm"]
    for p in entry.iterdir():
        assert p.read_bytes() == (tiny["folder"] / p.name).read_bytes()
    local = load_encoder(make_spec(source={"path": str(tiny["folder"])}))
    np.testing.assert_array_equal(enc.encode(WORDS)[0], local.encode(WORDS)[0])
    assert enc.fingerprint() == local.fingerprint()  # same file contents, same cache key
    # a local folder serves as base_url too (a path or a file:// URL): no network, same checks
    for base in (str(tiny["folder"]), tiny["folder"].as_uri()):
        folder = tmp_path / f"from-{len(base)}"
        options = {
            "name": "tiny",
            "base_url": base,
            "sha256": pinned(tiny["folder"]),
            "model_dir": str(folder),
        }
        assert load_encoder(make_spec(options=options)).fingerprint() == local.fingerprint()


def test_failed_download_is_a_clear_error(file_server: str, tmp_path: Path) -> None:
    folder = tmp_path / "models"
    pins = {"pt": "0" * 64, "spm": "1" * 64, "cvocab": "2" * 64}
    spec = make_spec(
        options={"name": "absent", "base_url": file_server, "model_dir": str(folder), "sha256": pins}
    )
    with pytest.raises(
        ModelError,
        match=r"model 'laser-tiny': cannot download http://127\.0\.0\.1:\d+/absent\.pt .*404.*source\.path",
    ):
        load_encoder(spec)
    assert list(folder.iterdir()) == []  # no partial file left behind
    spec = make_spec(options={"name": "absent", "model_dir": str(folder), "download": False})
    with pytest.raises(ModelError, match="lacks .*absent.pt.* options.download is false"):
        load_encoder(spec)


class _Hostile:
    """Unpickling this runs code: it writes ``marker``. torch.load(weights_only=False) would do so."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, ...]:
        return (exec, (f"open({str(self.marker)!r}, 'w').write('the checkpoint ran code')",))


def test_a_hostile_checkpoint_is_refused_and_never_runs(tiny: dict[str, Any], tmp_path: Path) -> None:
    folder = tmp_path / "hostile"
    folder.mkdir()
    for suffix in (".spm", ".cvocab"):
        (folder / f"tiny{suffix}").write_bytes((tiny["folder"] / f"tiny{suffix}").read_bytes())
    marker = tmp_path / "marker"
    good = torch.load(tiny["folder"] / "tiny.pt", weights_only=True)
    torch.save({**good, "params": _Hostile(marker)}, folder / "tiny.pt")
    assert not marker.exists()
    with pytest.raises(
        ModelError, match=r"tiny\.pt: refusing to unpickle the LASER checkpoint: it needs exec"
    ):
        load_encoder(make_spec(source={"path": str(folder)}))
    assert not marker.exists(), "loading the checkpoint ran its code"
    # the loader has no way to unpickle at all
    assert "weights_only=False" not in inspect.getsource(laser)


def test_a_checksum_mismatch_is_refused_before_torch_load(
    tiny: dict[str, Any], file_server: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    loads: list[Any] = []
    real_load = torch.load
    monkeypatch.setattr(laser.torch, "load", lambda *a, **kw: loads.append(a) or real_load(*a, **kw))
    wrong = {**pinned(tiny["folder"]), "pt": hashlib.sha256(b"another file").hexdigest()}
    folder = tmp_path / "models"
    spec = make_spec(
        options={"name": "tiny", "base_url": file_server, "model_dir": str(folder), "sha256": wrong}
    )
    with pytest.raises(
        ModelError, match=r"tiny\.pt has sha256 [0-9a-f]{64} but options\.sha256\.pt pins .*discarded"
    ):
        load_encoder(spec)
    assert loads == [] and not (folder / "tiny.pt").exists() and not list(folder.glob(".*part"))
    # the same pin on a folder that holds the file: checked before loading too
    with pytest.raises(ModelError, match=r"tiny\.pt has sha256 .* pins .*refusing to load it"):
        load_encoder(
            make_spec(source={"path": str(tiny["folder"])}, options={"name": "tiny", "sha256": wrong})
        )
    assert loads == []
    load_encoder(
        make_spec(
            source={"path": str(tiny["folder"])}, options={"name": "tiny", "sha256": pinned(tiny["folder"])}
        )
    )
    assert len(loads) == 1


def test_downloads_need_pins_and_https(
    tiny: dict[str, Any], file_server: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    opened: list[str] = []
    monkeypatch.setattr(urllib.request.OpenerDirector, "open", lambda self, url, *a, **kw: opened.append(url))
    folder = tmp_path / "models"
    pins = pinned(tiny["folder"])
    unpinned = make_spec(options={"name": "tiny", "base_url": file_server, "model_dir": str(folder)})
    with pytest.raises(
        ModelError,
        match=r"^model 'laser-tiny': field 'options\.sha256\.pt' is required to download tiny\.pt: set it to the "
        r"file's sha256 .*set source\.path to it$",
    ):
        load_encoder(unpinned)
    partly = make_spec(
        options={
            "name": "tiny",
            "base_url": file_server,
            "model_dir": str(folder),
            "sha256": {"pt": pins["pt"]},
        }
    )
    with pytest.raises(ModelError, match=r"'options\.sha256\.spm' is required to download tiny\.spm"):
        load_encoder(partly)  # every pin is checked before anything is fetched
    for url in ("http://dl.fbaipublicfiles.com/nllb/laser", "ftp://127.0.0.1/laser", "http://127.0.0.2:8000"):
        spec = make_spec(options={"name": "tiny", "base_url": url, "model_dir": str(folder), "sha256": pins})
        with pytest.raises(ModelError, match=r"option base_url .* is refused: downloads must use https://"):
            load_encoder(spec)
    assert opened == [] and not folder.exists()
    with pytest.raises(ParameterError, match=r"field 'options\.sha256\.pt' must be 64 lower-case hex digits"):
        load_encoder(make_spec(options={"name": "tiny", "sha256": {"pt": "ABC"}}))
    with pytest.raises(
        ParameterError, match=r"unknown field 'options\.sha256\.bin'; valid fields: pt, spm, cvocab"
    ):
        load_encoder(make_spec(options={"name": "tiny", "sha256": {"bin": "0" * 64}}))


class _RedirectToHttp(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 (the http.server API)
        self.send_response(302)
        self.send_header("Location", "http://example.invalid/laser/tiny.pt")
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


def test_a_redirect_to_plain_http_elsewhere_is_refused(tiny: dict[str, Any], tmp_path: Path) -> None:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _RedirectToHttp)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    try:
        base = f"http://127.0.0.1:{server.server_address[1]}"
        folder = tmp_path / "models"
        options = {
            "name": "tiny",
            "base_url": base,
            "model_dir": str(folder),
            "sha256": pinned(tiny["folder"]),
        }
        with pytest.raises(
            ModelError, match=r"redirects to 'http://example\.invalid/laser/tiny\.pt', which is refused"
        ):
            load_encoder(make_spec(options=options))
        assert list(folder.iterdir()) == []
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_bad_inputs(tiny: dict[str, Any], tmp_path: Path) -> None:
    with pytest.raises(ParameterError, match="unknown option 'hidden' for backend 'laser'"):
        load_encoder(make_spec(options={"hidden": 3}))
    with pytest.raises(ModelError, match="12-dim vectors but the spec says dims: 1024"):
        load_encoder(make_spec(dims=1024, source={"path": str(tiny["folder"])}))
    for suffix in (".spm", ".cvocab"):
        (tmp_path / f"tiny{suffix}").write_bytes((tiny["folder"] / f"tiny{suffix}").read_bytes())
    torch.save({"cfg": {}, "model": {}}, tmp_path / "tiny.pt")
    with pytest.raises(ModelError, match="not a LASER LSTM checkpoint"):
        load_encoder(make_spec(source={"path": str(tmp_path)}))


def test_laser2_yaml_matches_the_laser2_architecture() -> None:
    import yaml

    from wordembed.paths import params_dir

    spec = yaml.safe_load((params_dir() / "models" / "laser2.yaml").read_text())
    assert (spec["key"], spec["backend"], spec["role"], spec["dims"]) == (
        "laser2",
        "laser",
        "classical",
        1024,
    )
    # LASER-2: 50k SentencePiece vocabulary (+4 specials), 320-dim embeddings, 5 BiLSTM layers of 512 units
    model = laser.LaserLstmEncoder(
        num_embeddings=50004, padding_idx=1, embed_dim=320, hidden_size=512, num_layers=5, bidirectional=True
    )
    assert model.output_units == 1024
    assert sum(p.numel() for p in model.parameters()) == spec["params"] == 44_615_936
    with torch.no_grad():
        out = model.eval()(torch.tensor([[5, 6, 2], [7, 2, 1]]), torch.tensor([3, 2]))
    assert out.shape == (2, 1024) and torch.isfinite(out).all()
