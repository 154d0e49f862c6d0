"""Exact counts and known entries of the real data sets in wordembed.paths.data_dir() (CI: ../shared/data)."""

from __future__ import annotations

import shutil
from collections import Counter

import pytest

from wordembed.datasets import (
    WORD_SIMILARITY_SETS,
    _io,
    bats_pairs,
    bats_words,
    load_bats,
    load_google_analogy,
    load_vocabulary,
    load_word_similarity,
    load_wordnet_lemmas,
)
from wordembed.errors import ChecksumError
from wordembed.paths import data_dir


@pytest.fixture(scope="module")
def relations():
    return load_bats()


def test_bats_counts(relations):
    assert len(relations) == 40
    assert [r.id for r in relations] == [f"{g}{n:02d}" for g in "IDEL" for n in range(1, 11)]
    assert all(len(r.pairs) == 50 for r in relations)
    assert sum(len(answers) > 1 for r in relations for _, answers in r.pairs) == 711
    assert Counter(r.group for r in relations) == {
        "inflectional": 10,
        "derivational": 10,
        "encyclopedic": 10,
        "lexicographic": 10,
    }
    assert Counter(r.kind for r in relations) == {"morphological": 20, "semantic": 20}
    pairs = bats_pairs(relations)
    # 7,827 slash-separated fields, minus 30 empty ones after a trailing '/' and 154 repeated answers
    assert len(pairs) == 7643
    assert (pairs.answer_index == 0).sum() == 2000
    assert pairs.groupby("kind").size().to_dict() == {"morphological": 1077, "semantic": 6566}
    assert not pairs.duplicated(["relation", "source", "target"]).any()
    assert len(bats_words(relations)) == 6208


def test_bats_known_entries(relations):
    by_id = {r.id: r for r in relations}
    i01 = by_id["I01"]
    assert (i01.name, i01.group, i01.kind) == ("noun - plural_reg", "inflectional", "morphological")
    assert i01.pairs[0] == ("album", ("albums",))
    assert i01.pairs[-1] == ("year", ("years",))  # last line, no final newline
    assert dict(by_id["D01"].pairs)["defence"] == ("defenceless", "defenseless")
    assert by_id["E02"].name == "country - language"
    e02 = dict(by_id["E02"].pairs)  # a CRLF file with UTF-8
    assert e02["norway"] == ("norwegian", "bokmål", "bokmal", "nynorsk")
    assert e02["venezuela"] == ("spanish",)
    l01 = dict(by_id["L01"].pairs)  # trailing '/' in the official file
    assert l01["allosaurus"] == (
        "dinosaur",
        "reptile",
        "bird",
        "archosaur",
        "archosaurian",
        "archosaurian_reptile",
    )
    assert l01["bee"].count("insect") == 1 and l01["bee"][0] == "insect"
    assert by_id["L10"].name == "antonyms - binary"
    assert (by_id["E10"].group, by_id["E10"].kind) == ("encyclopedic", "semantic")


def test_google_counts_and_entries():
    frame = load_google_analogy()
    assert len(frame) == 19544
    sections = frame.section.unique().tolist()
    assert len(sections) == 14
    assert sections[0] == "capital-common-countries" and sections[-1] == "gram9-plural-verbs"
    assert frame.section.str.startswith("gram").sum() == 10675
    assert (~frame.section.str.startswith("gram")).sum() == 8869
    assert frame.iloc[0].tolist() == ["capital-common-countries", "athens", "greece", "baghdad", "iraq"]
    assert frame.iloc[-1].tolist() == ["gram9-plural-verbs", "write", "writes", "work", "works"]
    cased = load_google_analogy(lowercase=False)
    assert cased.iloc[0].tolist()[1:] == ["Athens", "Greece", "Baghdad", "Iraq"]
    assert frame.groupby("section").size()["family"] == 506


EXPECTED_SIZES = {
    "simlex999": 999,
    "ws353": 353,
    "ws353_sim": 203,
    "ws353_rel": 252,
    "men": 3000,
    "rg65": 65,
    "rw": 2034,
}


@pytest.mark.parametrize("name", WORD_SIMILARITY_SETS)
def test_word_similarity_sizes(name):
    frame = load_word_similarity(name)
    assert len(frame) == EXPECTED_SIZES[name]
    assert list(frame.columns)[:3] == ["word1", "word2", "score"]
    assert frame.score.notna().all()


def test_word_similarity_known_entries():
    simlex = load_word_similarity("simlex999")
    assert simlex.iloc[0].tolist() == ["old", "new", 1.58, "A"]
    assert simlex.pos.value_counts().to_dict() == {"N": 666, "V": 222, "A": 111}
    ws = load_word_similarity("ws353")
    assert ws.iloc[0].tolist() == ["love", "sex", 6.77]
    assert ws.iloc[2].tolist() == ["tiger", "tiger", 10.0]
    rel = load_word_similarity("ws353_rel")
    assert rel.iloc[1].tolist() == ["Jerusalem", "Israel", 8.46]
    assert load_word_similarity("ws353_rel", lowercase=True).iloc[1].tolist() == ["jerusalem", "israel", 8.46]
    assert load_word_similarity("ws353_sim").iloc[0].tolist() == ["tiger", "cat", 7.35]
    men = load_word_similarity("men")
    assert men.iloc[0].tolist() == ["sun", "sunlight", 50.0]
    assert (men.score.min(), men.score.max()) == (0.0, 50.0)
    assert load_word_similarity("rg65").iloc[0].tolist() == ["gem", "jewel", 3.94]
    assert load_word_similarity("rw").iloc[0].tolist() == ["squishing", "squirt", 5.88]


def test_wordnet_counts():
    lemmas = load_wordnet_lemmas()
    assert len(lemmas) == 77503
    assert lemmas == sorted(set(lemmas))
    assert {"dog", "king", "queen", "run"} <= set(lemmas)
    assert all(lemma.isascii() and lemma.isalpha() and lemma.islower() for lemma in lemmas)
    everything = load_wordnet_lemmas(single_word=False, letters_only=False, lowercase=False)
    assert len(everything) == 147306
    assert {"ice_cream", "x-ray", "a.d."} <= set(everything)


def test_study_vocabulary_is_the_union():
    bats = load_vocabulary("bats")
    assert bats == bats_words(load_bats())
    google = load_vocabulary("google")
    assert len(google) == 905 and "athens" in google and "Athens" not in google
    wordsim = load_vocabulary("wordsim")
    assert len(wordsim) == 4532 and "Jerusalem" in wordsim
    wordnet = load_vocabulary("wordnet")
    study = load_vocabulary("study")
    assert study == sorted(set(bats) | set(google) | set(wordsim) | set(wordnet))
    assert len(study) == 79489


def test_real_files_are_listed_in_sums_and_verified():
    root = data_dir()
    assert (root / "SHA256SUMS").is_file()
    sums = _io.read_sums(root / "SHA256SUMS")
    bats_files = [f for f in sums if f.startswith("BATS_3.0/") and f.endswith(".txt")]
    assert len(bats_files) == 40
    _io.clear_checksum_cache()
    for rel in ["google_analogy/questions-words.txt", "simlex999/SimLex-999/SimLex-999.txt", bats_files[0]]:
        assert _io.verify_file(root / rel, [root]) is True


def test_corrupted_copy_of_real_file_fails_its_checksum(tmp_path):
    root = data_dir()
    rel = "google_analogy/questions-words.txt"
    expected = _io.read_sums(root / "SHA256SUMS")[rel]
    copy = tmp_path / rel
    copy.parent.mkdir()
    shutil.copy(root / rel, copy)
    (tmp_path / "SHA256SUMS").write_text(f"{expected}  ./{rel}\n", encoding="utf-8")
    assert len(load_google_analogy(tmp_path)) == 19544  # the intact copy verifies
    data = bytearray(copy.read_bytes())
    data[data.index(b"Baghdad")] = ord("b")  # one byte: Baghdad -> baghdad
    copy.write_bytes(bytes(data))
    with pytest.raises(ChecksumError) as info:
        load_google_analogy(tmp_path)
    message = str(info.value)
    assert str(copy) in message and expected in message and _io.sha256_file(copy) in message
