"""Data-set parsers on small fixtures: layouts stand in for the real sets, malformed files must fail loudly.

The fixture layouts are smaller than the published sets, so the loaders read them with ``strict=False``
(the size checks are tested on copies of the real data in test_datasets_structure.py), and they have no
``SHA256SUMS`` unless a test writes one, so the warning about that is silenced here except where asserted.
"""

from __future__ import annotations

import shutil
import sys
import types
import zipfile
from pathlib import Path

import pytest

from wordembed.datasets import (
    BATS_GROUPS,
    SIMILARITY_SCALES,
    WORD_SIMILARITY_SETS,
    _io,
    bats_pairs,
    bats_words,
    find_wordnet,
    load_bats,
    load_google_analogy,
    load_vocabulary,
    load_word_similarity,
    load_wordnet_lemmas,
    parse_bats_file,
    parse_google_analogy,
    parse_word_similarity,
    read_word_list,
    word_similarity_path,
    wordnet,
)
from wordembed.datasets._io import UnverifiedDataWarning
from wordembed.errors import ChecksumError, DataFormatError, DatasetNotFoundError, ParameterError

FIXTURES = Path(__file__).parent / "fixtures" / "datasets"
pytestmark = pytest.mark.filterwarnings("ignore::wordembed.datasets.UnverifiedDataWarning")


def make_bats(root: Path, pairs: int = 2) -> Path:
    """A complete BATS_3.0 layout of 40 files under ``root``; returns the BATS folder.

    Each file has two distinctive pairs (the second with two answers), then ``pairs - 2`` plain ones:
    ``pairs=50`` gives the published size, which the default (strict) loaders require.
    """
    bats = root / "BATS_3.0"
    for folder, (_group, _kind, letter) in BATS_GROUPS.items():
        (bats / folder).mkdir(parents=True)
        for number in range(1, 11):
            rel = f"{letter}{number:02d}"
            lines = [f"src{rel}\tans{rel}", f"src{rel}b\tans{rel}b/alt{rel}b"]
            lines += [f"src{rel}_{k}\tans{rel}_{k}" for k in range(pairs - 2)]
            (bats / folder / f"{rel} [rel {number}].txt").write_text("\n".join(lines), encoding="utf-8")
    return bats


def put_sums(root: Path, files: list[Path]) -> None:
    lines = [f"{_io.sha256_file(path)}  ./{path.relative_to(root).as_posix()}" for path in files]
    (root / "SHA256SUMS").write_text("\n".join(lines) + "\n", encoding="utf-8")


@pytest.fixture(autouse=True)
def _fresh_checksum_cache():
    _io.clear_checksum_cache()
    yield
    _io.clear_checksum_cache()


# --------------------------------------------------------------------------------------------------- BATS


def test_bats_file_quirks_are_normalised():
    pairs = parse_bats_file(FIXTURES / "bats" / "valid.txt")
    assert pairs == (
        ("album", ("albums",)),  # CRLF line ending stripped
        ("defence", ("defenceless", "defenseless")),  # answers in file order
        ("bee", ("insect", "animal")),  # repeated answer once, trailing '/' dropped
        ("norway", ("norwegian", "bokmål")),  # UTF-8, no final newline
    )


@pytest.mark.parametrize(
    ("name", "line", "problem"),
    [
        ("short_line.txt", 2, "expected 2 tab-separated fields"),
        ("three_fields.txt", 2, "expected 2 tab-separated fields"),
        ("empty_answer.txt", 2, "empty answer"),
        ("no_answer.txt", 2, "no answer for 'car'"),
        ("blank_line.txt", 2, "empty line"),
        ("latin1.txt", 3, "not valid UTF-8"),
    ],
)
def test_bats_malformed_lines_name_file_and_line(name, line, problem):
    path = FIXTURES / "bats" / name
    with pytest.raises(DataFormatError) as info:
        parse_bats_file(path)
    assert info.value.path == path
    assert info.value.line == line
    assert problem in info.value.problem
    assert f"{path}:{line}:" in str(info.value)


def test_missing_file_is_a_format_error(tmp_path):
    with pytest.raises(DataFormatError, match=r"nope\.txt: missing file"):
        parse_bats_file(tmp_path / "nope.txt")
    with pytest.raises(DataFormatError, match=r"nope\.tab: missing file"):
        parse_word_similarity(tmp_path / "nope.tab", "rg65")


def test_load_bats_from_a_root_layout(tmp_path):
    make_bats(tmp_path)
    relations = load_bats(tmp_path, strict=False)
    assert [r.id for r in relations][:3] == ["I01", "I02", "I03"]
    assert [r.id for r in relations][-1] == "L10"
    assert len(relations) == 40
    first = relations[0]
    assert (first.name, first.group, first.kind) == ("rel 1", "inflectional", "morphological")
    assert first.pairs == (("srcI01", ("ansI01",)), ("srcI01b", ("ansI01b", "altI01b")))
    assert {r.kind for r in relations if r.id[0] in "EL"} == {"semantic"}
    assert {r.group for r in relations if r.id[0] == "D"} == {"derivational"}
    # the BATS folder itself is accepted as root too
    assert load_bats(tmp_path / "BATS_3.0", strict=False) == relations

    pairs = bats_pairs(relations)
    assert list(pairs.columns) == [
        "relation",
        "relation_name",
        "group",
        "kind",
        "source",
        "target",
        "answer_index",
    ]
    assert len(pairs) == 40 * 3
    row = pairs[(pairs.relation == "E05") & (pairs.source == "srcE05b")]
    assert row.target.tolist() == ["ansE05b", "altE05b"]
    assert row.answer_index.tolist() == [0, 1]
    assert row.kind.tolist() == ["semantic", "semantic"]
    words = bats_words(relations)
    assert len(words) == 40 * 5
    assert words == sorted(set(words))
    assert "altL10b" in words


def test_load_bats_malformed_relation_file_in_layout(tmp_path):
    bats = make_bats(tmp_path)
    target = bats / "4_Lexicographic_semantics" / "L03 [rel 3].txt"
    shutil.copy(FIXTURES / "bats" / "empty_answer.txt", target)
    with pytest.raises(DataFormatError) as info:
        load_bats(tmp_path, strict=False)
    assert (info.value.path, info.value.line) == (target, 2)


def test_load_bats_missing_relation_file(tmp_path):
    bats = make_bats(tmp_path)
    (bats / "2_Derivational_morphology" / "D07 [rel 7].txt").unlink()
    with pytest.raises(DataFormatError, match=r"2_Derivational_morphology: missing file.*D07"):
        load_bats(tmp_path)


def test_load_bats_rejects_misnamed_relation_file(tmp_path):
    bats = make_bats(tmp_path)
    (bats / "3_Encyclopedic_semantics" / "E01 [rel 1].txt").rename(
        bats / "3_Encyclopedic_semantics" / "E01.txt"
    )
    with pytest.raises(DataFormatError, match=r"E01\.txt: unexpected file name"):
        load_bats(tmp_path)


def test_load_bats_missing_set_says_where_and_how(tmp_path):
    with pytest.raises(DatasetNotFoundError) as info:
        load_bats(tmp_path)
    message = str(info.value)
    assert "BATS 3.0" in message
    assert str(tmp_path / "BATS_3.0") in message
    assert "vecto.space" in message and "WORDEMBED_DATA" in message


def test_default_root_follows_wordembed_data(tmp_path, monkeypatch):
    make_bats(tmp_path, pairs=50)  # the published size: load_vocabulary reads strictly
    monkeypatch.setenv("WORDEMBED_DATA", str(tmp_path))
    assert len(load_bats()) == 40
    assert len(load_vocabulary("bats")) == 40 * (5 + 48 * 2)
    monkeypatch.setenv("WORDEMBED_DATA", str(tmp_path / "elsewhere"))
    with pytest.raises(DatasetNotFoundError, match="elsewhere"):
        load_bats()


# ------------------------------------------------------------------------------------------------ checksums


def test_checksum_verified_once_then_cached_and_corruption_detected(tmp_path, monkeypatch):
    bats = make_bats(tmp_path)
    files = sorted(bats.rglob("*.txt"))
    put_sums(tmp_path, files)
    calls: list[Path] = []
    real_hash = _io.sha256_file
    monkeypatch.setattr(_io, "sha256_file", lambda path: calls.append(path) or real_hash(path))
    load_bats(tmp_path, strict=False)
    assert len(calls) == 40
    load_bats(tmp_path, strict=False)
    assert len(calls) == 40  # same (path, size, mtime): not rehashed
    load_bats(tmp_path, verify=False, strict=False)
    assert len(calls) == 40

    victim = bats / "1_Inflectional_morphology" / "I05 [rel 5].txt"
    expected = real_hash(victim)
    victim.write_text(victim.read_text(encoding="utf-8").replace("ansI05", "ansI06"), encoding="utf-8")
    actual = real_hash(victim)
    with pytest.raises(ChecksumError) as info:
        load_bats(tmp_path, strict=False)
    message = str(info.value)
    assert str(victim) in message and expected in message and actual in message
    assert len(load_bats(tmp_path, verify=False, strict=False)) == 40  # the escape hatch still reads it


def test_malformed_sums_file_names_its_line(tmp_path):
    make_bats(tmp_path)
    (tmp_path / "SHA256SUMS").write_text("abc  ./BATS_3.0/x.txt\n", encoding="utf-8")
    with pytest.raises(DataFormatError) as info:
        load_bats(tmp_path)
    assert (info.value.path, info.value.line) == (tmp_path / "SHA256SUMS", 1)


def test_file_not_listed_in_sums_is_accepted_with_a_warning(tmp_path):
    folder = tmp_path / "google_analogy"
    folder.mkdir()
    shutil.copy(FIXTURES / "google" / "valid.txt", folder / "questions-words.txt")
    (tmp_path / "SHA256SUMS").write_text(f"{'0' * 64}  ./other.txt\n", encoding="utf-8")
    with pytest.warns(UnverifiedDataWarning, match=rf"no line for it in {tmp_path / 'SHA256SUMS'}"):
        assert _io.verify_file(folder / "questions-words.txt", [tmp_path]) is False
    with pytest.warns(UnverifiedDataWarning, match=rf"Google analogy in {folder}: 1 of 1 file"):
        assert len(load_google_analogy(tmp_path, strict=False)) == 2


# ------------------------------------------------------------------------------------------------- Google


def test_google_fixture_parses_with_and_without_lowercase(tmp_path):
    path = FIXTURES / "google" / "valid.txt"
    frame = parse_google_analogy(path)
    assert frame.values.tolist() == [
        ["capital-common-countries", "athens", "greece", "baghdad", "iraq"],
        ["gram8-plural", "banana", "bananas", "bird", "birds"],
    ]
    assert parse_google_analogy(path, lowercase=False).iloc[0].tolist()[1:] == [
        "Athens",
        "Greece",
        "Baghdad",
        "Iraq",
    ]
    folder = tmp_path / "google_analogy"
    folder.mkdir()
    shutil.copy(path, folder / "questions-words.txt")
    assert load_google_analogy(tmp_path, strict=False).equals(frame)
    assert load_google_analogy(folder, strict=False).equals(frame)  # the set folder itself as root
    with pytest.raises(DataFormatError, match="section .capital-common-countries. has 1 questions"):
        load_google_analogy(tmp_path)  # strict by default: a fixture is not the published set


@pytest.mark.parametrize(
    ("name", "line", "problem"),
    [
        ("no_header.txt", 1, "before the first ': section' header"),
        ("three_words.txt", 3, "expected 4 words"),
        ("blank_line.txt", 3, "expected 4 words"),
    ],
)
def test_google_malformed(name, line, problem):
    path = FIXTURES / "google" / name
    with pytest.raises(DataFormatError) as info:
        parse_google_analogy(path)
    assert (info.value.path, info.value.line) == (path, line)
    assert problem in info.value.problem


def test_google_missing(tmp_path):
    with pytest.raises(DatasetNotFoundError, match=r"Google analogy.*questions-words\.txt.*gensim"):
        load_google_analogy(tmp_path)


# ---------------------------------------------------------------------------------------- word similarity


def test_similarity_fixture_parses():
    frame = parse_word_similarity(FIXTURES / "similarity" / "valid.tab", "rg65")
    assert frame.values.tolist() == [["gem", "jewel", 3.94], ["noon", "string", 0.04]]
    assert str(frame.score.dtype) == "float64"
    simlex = parse_word_similarity(FIXTURES / "similarity" / "simlex_valid.txt", "simlex999")
    assert list(simlex.columns) == ["word1", "word2", "score", "pos"]
    assert simlex.values.tolist() == [["old", "new", 1.58, "A"], ["absorb", "withdraw", 2.97, "V"]]


@pytest.mark.parametrize(
    ("name", "set_name", "line", "problem"),
    [
        ("bad_score.tab", "rw", 2, "score 'n/a' is not a number"),
        ("nan_score.tab", "rw", 1, "not a finite number"),
        ("short_line.tab", "rw", 3, "expected 3 fields, got 2"),
        ("empty_word.tab", "rw", 1, "empty word"),
        ("out_of_scale.tab", "rg65", 2, "outside the RG-65 scale"),
        ("latin1.tab", "rw", 2, "not valid UTF-8"),
        ("simlex_bad_header.txt", "simlex999", 1, "header"),
        ("men_tab.txt", "men", 2, "expected 3 fields, got 1"),
    ],
)
def test_similarity_malformed(name, set_name, line, problem):
    path = FIXTURES / "similarity" / name
    with pytest.raises(DataFormatError) as info:
        parse_word_similarity(path, set_name)
    assert (info.value.path, info.value.line) == (path, line)
    assert problem in info.value.problem


def test_similarity_loader_uses_root_layout_and_lowercase(tmp_path):
    target = word_similarity_path("ws353_sim", tmp_path)
    assert target == tmp_path / "wordsim353" / "similarity.tab"
    target.parent.mkdir(parents=True)
    target.write_bytes(b"Jerusalem\tIsrael\t8.46\ntiger\tcat\t7.35\n")
    assert load_word_similarity("ws353_sim", tmp_path, strict=False).word1.tolist() == ["Jerusalem", "tiger"]
    lower = load_word_similarity("ws353_sim", tmp_path, lowercase=True, strict=False)
    assert lower.word2.tolist() == ["israel", "cat"]
    with pytest.raises(
        DataFormatError, match="2 word pairs, but the published WordSim-353 similarity split has 203"
    ):
        load_word_similarity("ws353_sim", tmp_path)


def test_similarity_missing_and_unknown(tmp_path):
    with pytest.raises(DatasetNotFoundError) as info:
        load_word_similarity("men", tmp_path)
    message = str(info.value)
    assert "MEN" in message and str(tmp_path / "men" / "MEN" / "MEN_dataset_natural_form_full") in message
    assert "e.bruni/MEN" in message
    with pytest.raises(ParameterError, match="simlex999, ws353"):
        load_word_similarity("simlex", tmp_path)


def test_similarity_scales_cover_every_set():
    assert set(SIMILARITY_SCALES) == set(WORD_SIMILARITY_SETS)
    assert SIMILARITY_SCALES["men"] == (0.0, 50.0)


# --------------------------------------------------------------------------------------------------- WordNet

FIXTURE_LEMMAS = ["big", "cat", "dog", "quickly", "run"]


def test_wordnet_folder_and_filters():
    folder = FIXTURES / "wordnet" / "dict"
    assert load_wordnet_lemmas(folder) == FIXTURE_LEMMAS
    assert load_wordnet_lemmas(str(folder)) == FIXTURE_LEMMAS
    assert load_wordnet_lemmas(FIXTURES / "wordnet") == FIXTURE_LEMMAS  # a WordNet tree with dict/
    everything = load_wordnet_lemmas(folder, single_word=False, letters_only=False, lowercase=False)
    assert everything == sorted(
        ["dog", "ice_cream", "x-ray", "Cat", "cat", "run", "break_down", "big", "1st", "quickly", "a.d."]
    )
    assert load_wordnet_lemmas(folder, lowercase=False) == ["Cat", *FIXTURE_LEMMAS]
    assert load_wordnet_lemmas(folder, letters_only=False) == sorted(
        ["1st", "a.d.", "x-ray", *FIXTURE_LEMMAS]
    )
    assert "ice_cream" in load_wordnet_lemmas(folder, single_word=False, letters_only=False)


def test_wordnet_incomplete_folder_names_missing_file():
    folder = FIXTURES / "wordnet" / "incomplete"
    with pytest.raises(DataFormatError, match=r"index\.adv: missing file"):
        load_wordnet_lemmas(folder)


def test_wordnet_bad_line_and_encoding(tmp_path):
    shutil.copytree(FIXTURES / "wordnet" / "dict", tmp_path, dirs_exist_ok=True)
    verb = tmp_path / "index.verb"
    verb.write_bytes(verb.read_bytes() + b"\n")
    with pytest.raises(DataFormatError) as info:
        load_wordnet_lemmas(tmp_path)
    assert (info.value.path, info.value.line) == (verb, 5)
    verb.write_bytes(b"run v 1\nr\xe9sum\xe9 v 1\n")
    with pytest.raises(DataFormatError) as info:
        load_wordnet_lemmas(tmp_path)
    assert (info.value.path, info.value.line) == (verb, 2)


def test_wordnet_not_found_says_where_and_how(tmp_path, monkeypatch):
    monkeypatch.setattr(wordnet, "DEBIAN_DIRS", (tmp_path / "usr-share-wordnet",))
    monkeypatch.delenv("WNSEARCHDIR", raising=False)
    monkeypatch.setitem(sys.modules, "nltk", None)  # NLTK absent, whatever is installed
    with pytest.raises(DatasetNotFoundError) as info:
        load_wordnet_lemmas("auto")
    message = str(info.value)
    assert str(tmp_path / "usr-share-wordnet") in message
    assert "apt-get install wordnet-base" in message and "nltk.downloader wordnet" in message
    with pytest.raises(DatasetNotFoundError, match="does not exist"):
        load_wordnet_lemmas(tmp_path / "nope")
    with pytest.raises(ParameterError, match="'auto', 'debian', 'nltk'"):
        load_wordnet_lemmas("debain")


def test_wordnet_wnsearchdir_is_searched(tmp_path, monkeypatch):
    monkeypatch.setattr(wordnet, "DEBIAN_DIRS", (tmp_path / "none",))
    monkeypatch.setenv("WNSEARCHDIR", str(FIXTURES / "wordnet" / "dict"))
    assert load_wordnet_lemmas("debian") == FIXTURE_LEMMAS


@pytest.mark.parametrize("as_zip", [False, True])
def test_wordnet_from_nltk_data_path(tmp_path, monkeypatch, as_zip):
    """A stand-in ``nltk`` module whose data path holds the corpus, as a folder or as NLTK's wordnet.zip."""
    corpora = tmp_path / "nltk_data" / "corpora"
    corpora.mkdir(parents=True)
    if as_zip:
        with zipfile.ZipFile(corpora / "wordnet.zip", "w") as archive:
            for path in sorted((FIXTURES / "wordnet" / "dict").iterdir()):
                archive.write(path, f"wordnet/{path.name}")
        expected_location = corpora / "wordnet.zip"
    else:
        shutil.copytree(FIXTURES / "wordnet" / "dict", corpora / "wordnet")
        expected_location = corpora / "wordnet"
    fake_nltk = types.ModuleType("nltk")
    fake_data = types.ModuleType("nltk.data")
    fake_data.path = [str(tmp_path / "empty"), str(tmp_path / "nltk_data")]
    fake_nltk.data = fake_data
    monkeypatch.setitem(sys.modules, "nltk", fake_nltk)
    monkeypatch.setitem(sys.modules, "nltk.data", fake_data)
    monkeypatch.setattr(wordnet, "DEBIAN_DIRS", (tmp_path / "none",))
    monkeypatch.delenv("WNSEARCHDIR", raising=False)
    assert find_wordnet("auto") == expected_location
    assert load_wordnet_lemmas("nltk") == FIXTURE_LEMMAS
    assert load_wordnet_lemmas("auto") == FIXTURE_LEMMAS


# ------------------------------------------------------------------------------------------------ word lists


def test_word_list_file():
    path = FIXTURES / "wordlists" / "valid.txt"
    assert read_word_list(path) == ["king", "queen", "bokmål"]  # file order, repeat kept once
    assert load_vocabulary(path) == ["king", "queen", "bokmål"]
    assert load_vocabulary(str(path)) == ["king", "queen", "bokmål"]


@pytest.mark.parametrize(
    ("name", "line", "problem"),
    [
        ("blank_line.txt", 2, "blank line"),
        ("inner_space.txt", 2, "whitespace in 'ice cream'"),
        ("vector_file.txt", 2, "whitespace in"),
    ],
)
def test_word_list_malformed(name, line, problem):
    path = FIXTURES / "wordlists" / name
    with pytest.raises(DataFormatError) as info:
        load_vocabulary(path)
    assert (info.value.path, info.value.line) == (path, line)
    assert problem in info.value.problem


def test_vocabulary_unknown_name_or_missing_file(tmp_path):
    with pytest.raises(DataFormatError, match=r"missing file.*wordnet, bats, google, wordsim, study"):
        load_vocabulary("wordnett")
    with pytest.raises(DataFormatError, match="missing file"):
        load_vocabulary(tmp_path / "words.txt")
