"""Hostile command lines: every bad number, device or ``--out`` ends in one line on stderr and exit code 2.

Numbers are checked by argparse against the study schema (:data:`wordembed.study.PARAMETERS`), so a CLI run
and a study run accept the same values, and a refused value allocates nothing: the command never starts.
The model given is a file that does not exist, so a check that did not happen shows up as a different error,
fast, instead of as a 12 GB histogram or a run that never ends.
"""

from __future__ import annotations

import errno
from pathlib import Path

import numpy as np
import pytest

from wordembed.cli import build_parser, main
from wordembed.embeddings import Embeddings
from wordembed.errors import ParameterError
from wordembed.study import PARAMETERS

# (command, option, schema parameter) for every number option of the CLI but --abtt (checked in the command)
NUMBER_OPTIONS = [
    ("similarity", "--seed", "seed"),
    ("similarity", "--bins", "hist_bins"),
    ("similarity", "--sample", "sample_pairs"),
    ("related", "--seed", "seed"),
    ("related", "--n-random", "n_random_pairs"),
    ("related", "--n-boot", "bootstrap"),
    ("analogy", "--seed", "seed"),
    ("analogy", "--n-boot", "bootstrap"),
    ("wordsim", "--seed", "seed"),
    ("wordsim", "--n-boot", "bootstrap"),
    ("agreement", "--seed", "seed"),
    ("agreement", "--n-random", "n_random_pairs"),
    ("agreement", "--k", "knn_k"),
    ("agreement", "--n-boot", "bootstrap"),
    ("agreement", "--kendall-boot", "kendall_bootstrap"),
    ("agreement", "--cka-boot", "cka_bootstrap"),
]

# The reviewer's cases, each with the value that crashed, allocated or gave NaN intervals.
REVIEWED = [
    ("similarity", "--bins", "1000000000"),
    ("similarity", "--bins", "lots"),
    ("similarity", "--seed", "-1"),
    ("similarity", "--sample", "-5"),
    ("analogy", "--n-boot", "-1"),
    ("analogy", "--n-boot", "1000000000"),
    ("agreement", "--n-boot", "-1"),
    ("agreement", "--n-boot", "1000000000"),
    ("agreement", "--n-random", "-1"),
    ("agreement", "--cka-boot", "-1"),
    ("agreement", "--kendall-boot", "-1"),
    ("agreement", "--k", "0"),
    ("wordsim", "--n-boot", "-1"),
    ("related", "--n-boot", "-1"),
    ("related", "--n-random", "-1"),
]


def _argv(command: str, missing: Path, *extra: str) -> list[str]:
    """A command line whose model is a missing file (any work at all fails at once, and differently)."""
    model = (
        ["--models", str(missing), str(missing) + "2"]
        if command == "agreement"
        else ["--model", str(missing)]
    )
    return [command, *model, *extra]


def _one_line_error(capsys: pytest.CaptureFixture[str], argv: list[str]) -> str:
    """Run the CLI, expect exit code 2 (parse error or handled error) and exactly one line on stderr."""
    try:
        code = main(argv)
    except SystemExit as exc:
        code = exc.code
    assert code == 2
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert "Traceback" not in err
    return lines[0]


def _bounds(param: str) -> str:
    spec = PARAMETERS[param]
    return f"{int(spec.minimum)}..{int(spec.maximum)}"


@pytest.mark.parametrize(("command", "option", "value"), REVIEWED)
def test_reviewed_numbers_fail_in_one_line_naming_option_and_bounds(
    command: str, option: str, value: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    param = dict(((c, o), p) for c, o, p in NUMBER_OPTIONS)[(command, option)]
    line = _one_line_error(capsys, _argv(command, tmp_path / "absent.txt", option, value))
    assert option in line and _bounds(param) in line and param in line, line
    assert "neither a model key" not in line  # refused before the command looked for its model


@pytest.mark.parametrize(("command", "option", "param"), NUMBER_OPTIONS)
def test_cli_numbers_have_the_study_schema_bounds(command: str, option: str, param: str) -> None:
    """At the schema's bounds a value parses; one step beyond (or not a number) it is refused."""
    parser = build_parser()
    spec = PARAMETERS[param]
    lo, hi = int(spec.minimum), int(spec.maximum)
    base = _argv(command, Path("m"))
    dest = option.lstrip("-").replace("-", "_")
    for ok in (lo, hi):
        assert getattr(parser.parse_args([*base, option, str(ok)]), dest) == ok
    for bad in (str(lo - 1), str(hi + 1), "1.5", "ten", ""):
        with pytest.raises(SystemExit) as exc:
            parser.parse_args([*base, option, bad])
        assert exc.value.code == 2


@pytest.mark.parametrize("command", ["similarity", "related"])
def test_abtt_has_the_schema_upper_bound(
    command: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    line = _one_line_error(capsys, _argv(command, tmp_path / "absent.txt", "--abtt", "101"))
    assert "--abtt" in line and "100" in line and "neither a model key" not in line


# ------------------------------------------------------------------------------------------------ devices
@pytest.mark.parametrize("command", ["embed", "similarity", "related", "analogy", "wordsim", "agreement"])
def test_unknown_device_is_one_line(command: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    extra = ["--words", "bats"] if command == "embed" else []
    line = _one_line_error(capsys, [*_argv(command, tmp_path / "absent.txt"), *extra, "--device", "foo"])
    assert "--device" in line and "'foo'" in line and "cpu" in line and "cuda" in line


def test_cuda_without_a_gpu_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    torch = pytest.importorskip("torch")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    for device in ("cuda", "cuda:0"):
        line = _one_line_error(
            capsys, ["embed", "--model", str(tmp_path / "a.txt"), "--words", "bats", "--device", device]
        )
        assert "--device" in line and "no CUDA GPU" in line


def test_device_names_and_gpus_are_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    """resolve_device (used by load_encoder and the notebooks) refuses a name torch does not know; the CLI's
    check_device also wants the GPU to be there."""
    from wordembed.models.registry import check_device, resolve_device

    assert resolve_device("cpu") == "cpu"
    for bad in ("foo", "cuda:x", "gpu", "CPU"):
        with pytest.raises(ParameterError, match=f"device '{bad}' is not one of auto, cpu, cuda, cuda:N"):
            resolve_device(bad)
    torch = pytest.importorskip("torch")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert resolve_device("auto") == resolve_device(None) == "cpu"
    check_device("cpu")
    with pytest.raises(ParameterError, match="no CUDA GPU"):
        check_device("cuda")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    check_device("cuda:0")
    with pytest.raises(ParameterError, match="'cuda:3': torch sees 1 CUDA device"):
        check_device("cuda:3")


def test_load_encoder_refuses_a_bad_device_before_fetching(monkeypatch: pytest.MonkeyPatch) -> None:
    import wordembed.models.registry
    from wordembed.models.registry import load_encoder

    def no_fetch(*args: object, **kwargs: object) -> None:
        raise AssertionError("fetched before the device was checked")

    monkeypatch.setattr(wordembed.models.registry, "resolve_artifact", no_fetch)
    with pytest.raises(ParameterError, match="device 'foo'"):
        load_encoder("minilm", device="foo")


# ------------------------------------------------------------------------------------------------ --out
@pytest.fixture
def toy(tmp_path: Path) -> tuple[Path, Path]:
    """A 4-word vector file and a word list: a model that loads in milliseconds."""
    from wordembed.vectorfile import write_word2vec_text

    vectors = tmp_path / "toy.txt"
    words = ["cat", "dog", "emu", "yak"]
    write_word2vec_text(Embeddings(words, np.eye(4, dtype=np.float32), model="toy"), vectors)
    word_list = tmp_path / "words.txt"
    word_list.write_text("\n".join(words) + "\n", encoding="utf-8")
    return vectors, word_list


def test_embed_out_that_is_a_directory_or_under_a_file(
    toy: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    vectors, words = toy
    base = [
        "embed",
        "--model",
        str(vectors),
        "--words",
        str(words),
        "--store",
        str(tmp_path / "s"),
        "--no-progress",
    ]
    folder = tmp_path / "folder"
    folder.mkdir()
    line = _one_line_error(capsys, [*base, "--out", str(folder)])
    assert "--out" in line and str(folder) in line and "directory" in line
    line = _one_line_error(capsys, [*base, "--out", str(words / "x.txt")])
    assert "--out" in line and str(words) in line and "not a directory" in line
    assert not (tmp_path / "s").exists()  # refused before anything was embedded


@pytest.mark.parametrize("command", ["similarity", "related", "analogy", "wordsim", "agreement"])
def test_folder_out_that_is_an_existing_file(
    command: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    existing = tmp_path / "results.csv"
    existing.write_text("x\n", encoding="utf-8")
    for out in (existing, existing / "sub"):
        line = _one_line_error(capsys, [*_argv(command, tmp_path / "absent.txt"), "--out", str(out)])
        assert "--out" in line and str(existing) in line and "not a directory" in line
        assert "neither a model key" not in line


def test_run_out_that_is_an_existing_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    existing = tmp_path / "root"
    existing.write_text("", encoding="utf-8")
    line = _one_line_error(capsys, ["run", "--study", str(tmp_path / "none.yaml"), "--out", str(existing)])
    assert "--out" in line and "not a directory" in line


def test_sample_zero_means_all_pairs_as_in_the_schema(toy: tuple[Path, Path], tmp_path: Path) -> None:
    """The schema's sample_pairs = 0 is "exact all pairs"; `--sample 0` means the same (it used to ask for a
    sample of no pairs)."""
    from wordembed.results import read_metrics

    vectors, words = toy
    out = tmp_path / "sim"
    argv = ["similarity", "--model", str(vectors), "--words", str(words), "--sample", "0", "--no-progress"]
    assert main([*argv, "--device", "cpu", "--out", str(out)]) == 0
    metrics = read_metrics(out)["similarity"]
    assert metrics["mode"] == "exact" and metrics["n_pairs"] == 6


def _no_space(*args: object, **kwargs: object) -> None:
    raise OSError(errno.ENOSPC, "No space left on device")


def test_disk_full_during_export_is_one_line(
    toy: tuple[Path, Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import wordembed.vectorfile

    vectors, words = toy
    monkeypatch.setattr(wordembed.vectorfile, "write_word2vec_text", _no_space)
    out = tmp_path / "out.txt"
    argv = [
        "embed",
        "--model",
        str(vectors),
        "--words",
        str(words),
        "--store",
        str(tmp_path / "s"),
        "--no-progress",
    ]
    line = _one_line_error(capsys, [*argv, "--out", str(out)])
    assert "--out" in line and str(out) in line and "No space left on device" in line


def test_disk_full_while_writing_tables_is_one_line(
    toy: tuple[Path, Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import wordembed.results

    vectors, words = toy
    monkeypatch.setattr(wordembed.results, "write_table", _no_space)
    out = tmp_path / "sim"
    argv = ["similarity", "--model", str(vectors), "--words", str(words), "--no-progress", "--device", "cpu"]
    line = _one_line_error(capsys, [*argv, "--out", str(out)])
    assert "--out" in line and str(out) in line and "No space left on device" in line
