"""The published structure is checked with or without SHA256SUMS, and a missing checksum is never silent.

Every test works on a copy of the real data (``WORDEMBED_DATA``) in a tmp folder: a file cut at a line
boundary is still well-formed line by line, so only the sizes of the published sets can catch it once the
checksum file is gone.
"""

from __future__ import annotations

import shutil
import warnings
from pathlib import Path

import pytest

from wordembed.datasets import (
    GOOGLE_SECTIONS,
    SIMILARITY_SIZES,
    UnverifiedDataWarning,
    clear_checksum_cache,
    load_bats,
    load_google_analogy,
    load_vocabulary,
    load_word_similarity,
    word_similarity_path,
)
from wordembed.errors import ChecksumError, DataFormatError
from wordembed.paths import data_dir

I05 = "BATS_3.0/1_Inflectional_morphology/I05 [verb_inf - 3pSg].txt"
GOOGLE = "google_analogy/questions-words.txt"


@pytest.fixture
def data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A writable copy of the real data sets (STS-B left out: no loader reads it), set as WORDEMBED_DATA."""
    source = data_dir()
    if not (source / I05).is_file():
        pytest.skip(f"the real data sets are not in {source}")
    root = tmp_path / "data"
    shutil.copytree(source, root, copy_function=shutil.copyfile, ignore=shutil.ignore_patterns("stsb"))
    for folder in [root, *(p for p in root.rglob("*") if p.is_dir())]:
        folder.chmod(0o755)  # copytree copies the read-only modes of the shared folders
    monkeypatch.setenv("WORDEMBED_DATA", str(root))
    clear_checksum_cache()
    yield root
    clear_checksum_cache()


def keep_lines(path: Path, n: int) -> None:
    """Cut ``path`` after its first ``n`` lines, at a line boundary (what a truncated copy looks like)."""
    lines = path.read_bytes().split(b"\n")
    path.write_bytes(b"\n".join(lines[:n]))


def drop_sums(root: Path) -> None:
    (root / "SHA256SUMS").unlink()


def drop_sums_line(root: Path, rel: str) -> None:
    sums = root / "SHA256SUMS"
    lines = sums.read_text(encoding="utf-8").splitlines()
    kept = [line for line in lines if not line.endswith(f"  ./{rel}")]
    assert len(kept) == len(lines) - 1
    sums.write_text("\n".join(kept) + "\n", encoding="utf-8")


# --------------------------------------------------------------------------------- structure without sums


def test_cut_bats_relation_without_sums_is_an_error_naming_the_file(data: Path) -> None:
    """The reviewer's case: I05 cut to 19 lines, SHA256SUMS deleted, loaded as a 19-pair relation."""
    victim = data / I05
    keep_lines(victim, 19)
    drop_sums(data)
    with pytest.warns(UnverifiedDataWarning), pytest.raises(DataFormatError) as info:
        load_bats()
    assert info.value.path == victim and info.value.line is None
    assert "19 word pairs, but every BATS 3.0 relation has 50" in str(info.value)
    assert str(victim) in str(info.value)
    with pytest.warns(UnverifiedDataWarning):
        relations = load_bats(strict=False)  # the explicit escape hatch for a custom set
    assert len(next(r for r in relations if r.id == "I05").pairs) == 19


def test_bats_padded_back_to_50_with_a_repeated_line_is_named_at_that_line(data: Path) -> None:
    victim = data / I05
    lines = victim.read_bytes().split(b"\n")
    victim.write_bytes(b"\n".join([*lines[:49], lines[3]]))  # last pair lost, line 4 repeated as line 50
    drop_sums(data)
    with pytest.warns(UnverifiedDataWarning), pytest.raises(DataFormatError) as info:
        load_bats()
    assert (info.value.path, info.value.line) == (victim, 50)
    assert "repeats line 4" in info.value.problem


def test_bats_relation_with_an_extra_pair_is_named_at_line_51(data: Path) -> None:
    victim = data / I05
    victim.write_bytes(victim.read_bytes().rstrip(b"\n") + b"\nzzextra\tzzextras")
    drop_sums(data)
    with pytest.warns(UnverifiedDataWarning), pytest.raises(DataFormatError) as info:
        load_bats()
    assert (info.value.path, info.value.line) == (victim, 51)


def test_cut_bats_relation_with_sums_is_a_checksum_error(data: Path) -> None:
    keep_lines(data / I05, 19)
    with pytest.raises(ChecksumError, match="sha256 mismatch"):
        load_bats()


def test_cut_google_file_names_the_section_it_shortened(data: Path) -> None:
    path = data / GOOGLE
    lines = path.read_text(encoding="utf-8").split("\n")
    family = lines.index(": family") + 1  # 1-based line of the header
    del lines[family + 10]  # one question of 'family' gone, every line still well-formed
    path.write_text("\n".join(lines), encoding="utf-8")
    drop_sums(data)
    with pytest.warns(UnverifiedDataWarning), pytest.raises(DataFormatError) as info:
        load_google_analogy()
    assert (info.value.path, info.value.line) == (path, family)
    assert "section 'family' has 505 questions, the published file 506" in info.value.problem


def test_google_cut_before_its_last_sections_lists_what_is_missing(data: Path) -> None:
    path = data / GOOGLE
    lines = path.read_text(encoding="utf-8").split("\n")
    keep_lines(path, lines.index(": gram8-plural"))
    drop_sums(data)
    with pytest.warns(UnverifiedDataWarning), pytest.raises(DataFormatError) as info:
        load_google_analogy()
    assert info.value.path == path
    assert "12 of the 14 published sections; missing gram8-plural, gram9-plural-verbs" in info.value.problem


def test_google_published_sections_add_up() -> None:
    assert len(GOOGLE_SECTIONS) == 14 and sum(GOOGLE_SECTIONS.values()) == 19544


@pytest.mark.parametrize("name", sorted(SIMILARITY_SIZES))
def test_cut_similarity_set_without_sums_is_an_error_naming_the_file(data: Path, name: str) -> None:
    path = word_similarity_path(name, data)
    header = 1 if name in ("simlex999", "ws353") else 0
    keep_lines(path, header + SIMILARITY_SIZES[name] - 1)  # the last pair cut off
    drop_sums(data)
    with pytest.warns(UnverifiedDataWarning, match=str(path.parent)), pytest.raises(DataFormatError) as info:
        load_word_similarity(name)
    assert info.value.path == path
    assert f"{SIMILARITY_SIZES[name] - 1} word pairs, but the published" in info.value.problem
    assert f"has {SIMILARITY_SIZES[name]}" in info.value.problem


def test_similarity_sizes_are_those_of_the_released_files() -> None:
    assert SIMILARITY_SIZES == {
        "simlex999": 999,
        "ws353": 353,
        "ws353_sim": 203,
        "ws353_rel": 252,
        "men": 3000,
        "rg65": 65,
        "rw": 2034,
    }


# --------------------------------------------------------------------------------- missing checksums warn


def test_intact_copy_with_sums_reads_without_warnings(data: Path) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert len(load_bats()) == 40
        assert len(load_google_analogy()) == 19544
        assert len(load_word_similarity("men")) == 3000


def test_missing_sums_file_warns_once_per_set_naming_the_folder(data: Path) -> None:
    drop_sums(data)
    with pytest.warns(UnverifiedDataWarning) as caught:
        assert len(load_bats()) == 40
    assert len(caught) == 1  # one line for the set, not 40
    message = str(caught[0].message)
    assert f"BATS 3.0 in {data / 'BATS_3.0'}: 40 of 40 file(s) read without a checksum check" in message
    assert f"no SHA256SUMS in {data}" in message
    with pytest.warns(UnverifiedDataWarning, match=rf"Google analogy in {data / 'google_analogy'}"):
        assert len(load_google_analogy()) == 19544
    with pytest.warns(UnverifiedDataWarning, match=r"SimLex-999 in .*simlex999/SimLex-999: 1 of 1"):
        assert len(load_word_similarity("simlex999")) == 999
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert len(load_bats(verify=False)) == 40  # checksums skipped on purpose: nothing to warn about


def test_sums_file_lacking_a_line_for_a_read_file_warns(data: Path) -> None:
    drop_sums_line(data, I05)
    with pytest.warns(UnverifiedDataWarning) as caught:
        assert len(load_bats()) == 40
    (warning,) = caught
    message = str(warning.message)
    assert "1 of 40 file(s)" in message and "I05 [verb_inf - 3pSg].txt" in message
    assert f"no line for it in {data / 'SHA256SUMS'}" in message
    drop_sums_line(data, GOOGLE)
    with pytest.warns(UnverifiedDataWarning, match="questions-words.txt"):
        load_google_analogy()


def test_vocabulary_of_a_cut_copy_fails_too(data: Path) -> None:
    """The study's word lists go through the same strict loaders."""
    keep_lines(data / I05, 19)
    drop_sums(data)
    with pytest.warns(UnverifiedDataWarning), pytest.raises(DataFormatError, match="19 word pairs"):
        load_vocabulary("bats")
