"""The chunk format: a researcher opens it with numpy alone; legacy chunks are still read; what "valid" means."""

from __future__ import annotations

import hashlib
import json
import os
import struct
import time
import warnings
from pathlib import Path

import numpy as np
import pytest
from test_store import WORDS_A, CountingEncoder, chunk_files, data_file, expected

from wordembed.store import (
    CHUNK_FORMAT,
    DATA_SUFFIX,
    LEGACY_SUFFIX,
    MAGIC,
    SIDECAR_SUFFIX,
    EmbeddingStore,
    StoreWarning,
    chunk_stem,
    read_header,
)

LEGACY_WORDS = ["alpha", "zzbeta", "gamma", "délta"]


@pytest.fixture
def store(tmp_path: Path) -> EmbeddingStore:
    return EmbeddingStore(tmp_path / "store")


def fp_hash(enc: CountingEncoder) -> str:
    return hashlib.sha256(enc.fingerprint().encode("utf-8")).hexdigest()


def legacy_chunk_bytes(fingerprint_sha256: str, words: list[str], vectors: np.ndarray, present: np.ndarray) -> bytes:
    """A format-1 chunk built from the layout the store's docstring documents, not with the store's code."""
    kept = np.ascontiguousarray(vectors[present], dtype="<f4")
    words_blob = json.dumps(words, ensure_ascii=False).encode("utf-8")
    header = json.dumps(
        {
            "format": 1,
            "fingerprint": fingerprint_sha256,
            "shape": list(vectors.shape[1:]),
            "n": len(words),
            "n_present": int(present.sum()),
            "words_bytes": len(words_blob),
            "dtype": "<f4",
        }
    ).encode("utf-8")
    body = MAGIC + struct.pack("<Q", len(header)) + header + words_blob + present.astype(np.uint8).tobytes()
    body += kept.tobytes()
    return body + hashlib.sha256(body).digest()


def write_legacy_entry(store: EmbeddingStore, enc: CountingEncoder, words: list[str]) -> Path:
    """An entry as the previous store version left it: meta.json (format 1) and one ``.chunk`` file."""
    vectors, present = enc.encode(words)
    entry = store.entry_dir(enc)
    (entry / "chunks").mkdir(parents=True)
    meta = {"format": 1, "key": enc.key, "fingerprint": enc.fingerprint(), "dims": enc.dims,
            "shape": [enc.layers, enc.dims] if enc.layers else [enc.dims], "created": "2026-11-27T10:00:00+00:00"}  # fmt: skip
    (entry / "meta.json").write_text(json.dumps(meta, indent=2), encoding="utf-8")
    path = entry / "chunks" / f"{chunk_stem(words)}{LEGACY_SUFFIX}"
    path.write_bytes(legacy_chunk_bytes(fp_hash(enc), words, vectors, present))
    return path


def test_the_legacy_bytes_of_this_test_are_the_old_writers() -> None:
    """The bytes built here from the documented layout equal what the previous writer (store.py before the
    .npz format) wrote for the same chunk: its sha256 and size, recorded when that writer still existed."""
    enc = CountingEncoder()
    vectors, present = enc.encode(LEGACY_WORDS)
    data = legacy_chunk_bytes(fp_hash(enc), LEGACY_WORDS, vectors, present)
    assert len(data) == 355
    assert hashlib.sha256(data).hexdigest() == "46ee96f9cb333cfdb32c39a8f3116d307a03e9c8a7d3432f7d020342f2de6b65"
    assert chunk_stem(LEGACY_WORDS) == "09cf99801a857363c155372ae53621da"


def test_a_chunk_opens_with_numpy_alone(store: EmbeddingStore) -> None:
    enc = CountingEncoder(chunk_size=8)
    words = ["king", "zzgap", "queen", "naïve", "a b", "x"]
    store.embed(enc, words, progress=False)
    (sidecar,) = chunk_files(store, enc)
    head = json.loads(sidecar.read_text(encoding="utf-8"))
    stem = hashlib.sha256("\n".join(words).encode("utf-8")).hexdigest()[:32]
    data = sidecar.parent / head["data"]
    raw = data.read_bytes()
    assert sidecar.name == f"{stem}{SIDECAR_SUFFIX}"
    assert head["data"] == f"{stem}.{hashlib.sha256(raw).hexdigest()[:16]}{DATA_SUFFIX}"
    assert head["data_sha256"] == hashlib.sha256(raw).hexdigest() and head["data_bytes"] == len(raw)
    assert {k: head[k] for k in ("format", "kind", "key", "fingerprint", "fingerprint_sha256", "shape", "dtype")} == {
        "format": CHUNK_FORMAT, "kind": "wordembed-chunk", "key": "toy", "fingerprint": enc.fingerprint(),
        "fingerprint_sha256": fp_hash(enc), "shape": [8], "dtype": "<f4",
    }  # fmt: skip
    assert (head["words"], head["n"], head["n_present"], head["absent"]) == (words, 6, 5, [1])

    with np.load(data, allow_pickle=False) as npz:  # what a researcher does: no wordembed involved
        assert sorted(npz.files) == ["present", "vectors", "words"]
        assert npz["words"].tolist() == words
        np.testing.assert_array_equal(npz["present"], [True, False, True, True, True, True])
        assert npz["vectors"].dtype == np.dtype("<f4") and npz["vectors"].shape == (5, 8)
        np.testing.assert_array_equal(npz["vectors"], expected(enc, ["king", "queen", "naïve", "a b", "x"]))


def test_a_layer_stack_chunk_keeps_its_shape(store: EmbeddingStore) -> None:
    enc = CountingEncoder("decoder-all", dims=4, layers=3, chunk_size=5)
    store.embed(enc, WORDS_A[:5], progress=False)
    (sidecar,) = chunk_files(store, enc)
    with np.load(data_file(sidecar), allow_pickle=False) as npz:
        assert npz["vectors"].shape == (5, 3, 4)
        np.testing.assert_array_equal(npz["vectors"], expected(enc, WORDS_A[:5]))
    assert json.loads(sidecar.read_text(encoding="utf-8"))["shape"] == [3, 4]


def test_equal_chunks_are_equal_bytes(tmp_path: Path) -> None:
    """Two writers of the same chunk write the same file names and bytes (fixed zip dates, no time or host)."""
    names = []
    for name in ("one", "two"):
        s = EmbeddingStore(tmp_path / name)
        enc = CountingEncoder(chunk_size=4)
        s.embed(enc, WORDS_A, progress=False)
        time.sleep(1.1)  # a zip member dated "now" would differ between the two
        folder = s.entry_dir(enc) / "chunks"
        names.append({p.name: p.read_bytes() for p in folder.iterdir()})
    assert names[0] == names[1]


def test_legacy_chunks_are_read_not_recomputed(store: EmbeddingStore) -> None:
    enc = CountingEncoder()
    legacy = write_legacy_entry(store, enc, LEGACY_WORDS)
    again = CountingEncoder()
    with warnings.catch_warnings():
        warnings.simplefilter("error", StoreWarning)
        emb = store.embed(again, ["gamma", "zzbeta", "alpha", "délta"], progress=False)
    assert again.encoded == []
    assert emb.words == ["gamma", "alpha", "délta"] and emb.missing == ["zzbeta"]
    np.testing.assert_array_equal(emb.vectors, expected(enc, emb.words))
    (listed,) = store.entries(verify=True)
    assert (listed.n_words, listed.n_missing, listed.n_chunks, listed.problems) == (3, 1, 1, ())

    # New words go to a new chunk in the current format; the legacy chunk stays as it was.
    before = legacy.read_bytes()
    more = CountingEncoder()
    emb = store.embed(more, ["alpha", "omega", "psi"], progress=False)
    assert more.encoded == ["omega", "psi"]
    np.testing.assert_array_equal(emb.vectors, expected(enc, ["alpha", "omega", "psi"]))
    assert legacy.read_bytes() == before
    names = sorted(p.name for p in legacy.parent.iterdir())
    stem = chunk_stem(["omega", "psi"])
    assert names == sorted([legacy.name, f"{stem}{SIDECAR_SUFFIX}", data_file(legacy.parent / f"{stem}.json").name])
    (listed,) = store.entries(verify=True)
    assert (listed.n_words, listed.n_chunks, listed.problems) == (5, 2, ())


@pytest.mark.parametrize("damage", ["flip_vector", "truncate"])
def test_a_corrupt_legacy_chunk_is_replaced_by_a_current_one(store: EmbeddingStore, damage: str) -> None:
    enc = CountingEncoder()
    legacy = write_legacy_entry(store, enc, LEGACY_WORDS)
    data = bytearray(legacy.read_bytes())
    if damage == "flip_vector":
        data[-40] ^= 0xFF  # inside the last vector, before the checksum
    else:
        data = data[:-7]
    legacy.write_bytes(bytes(data))
    (listed,) = store.entries(verify=True)
    assert len(listed.problems) == 1 and listed.problems[0].startswith(f"{legacy.name}: ")

    again = CountingEncoder()
    with pytest.warns(StoreWarning, match=legacy.name):
        emb = store.embed(again, LEGACY_WORDS, progress=False)
    assert again.encoded == LEGACY_WORDS
    np.testing.assert_array_equal(emb.vectors, expected(enc, emb.words))
    assert not legacy.exists()
    (sidecar,) = chunk_files(store, enc)
    assert sidecar.name == legacy.name.replace(LEGACY_SUFFIX, SIDECAR_SUFFIX)  # same words, same stem


def test_a_data_file_without_its_sidecar_is_not_a_chunk(store: EmbeddingStore) -> None:
    """A writer killed between its two renames leaves a data file and no sidecar: the words are computed
    again (no warning: nothing was ever claimed), and the rewrite puts the same file in place."""
    enc = CountingEncoder(chunk_size=4)
    store.embed(enc, WORDS_A, progress=False)
    sidecar = chunk_files(store, enc)[0]
    words = read_header(sidecar).words
    data = data_file(sidecar)
    sidecar.unlink()
    (listed,) = store.entries(verify=True)
    assert listed.n_chunks == 2 and listed.problems == ()
    again = CountingEncoder(chunk_size=4)
    with warnings.catch_warnings():
        warnings.simplefilter("error", StoreWarning)
        store.embed(again, WORDS_A, progress=False)
    assert again.encoded == [w for w in WORDS_A if w in words]
    assert sidecar.exists() and data_file(sidecar) == data


def test_unreferenced_data_files_are_removed_once_a_day_old(store: EmbeddingStore) -> None:
    enc = CountingEncoder(chunk_size=4)
    store.embed(enc, WORDS_A, progress=False)
    folder = store.entry_dir(enc) / "chunks"
    real = data_file(chunk_files(store, enc)[0])
    old = folder / f"{'a' * 32}.{'b' * 16}{DATA_SUFFIX}"
    fresh = folder / f"{'c' * 32}.{'d' * 16}{DATA_SUFFIX}"
    for path in (old, fresh):
        path.write_bytes(real.read_bytes())
    two_days_ago = time.time() - 2 * 24 * 3600
    os.utime(old, (two_days_ago, two_days_ago))
    os.utime(real, (two_days_ago, two_days_ago))  # old but named by its sidecar: kept
    store.embed(CountingEncoder(chunk_size=4), WORDS_A, progress=False)
    assert not old.exists()
    assert fresh.exists(), "a young one may belong to a writer between its two renames"
    assert real.exists()


def test_listing_reads_sidecars_not_vectors(store: EmbeddingStore) -> None:
    """Garbage of the right size in a data file: a plain listing (sidecars and sizes) cannot tell, verify
    can; and an embed of words from the other chunks never opens it."""
    enc = CountingEncoder(chunk_size=4)
    store.embed(enc, WORDS_A, progress=False)
    sidecar = chunk_files(store, enc)[0]
    data = data_file(sidecar)
    data.write_bytes(b"\x00" * data.stat().st_size)
    (quick,) = store.entries()
    assert quick.problems == () and quick.n_words == 10
    (checked,) = store.entries(verify=True)
    assert checked.problems == (f"{data.name}: checksum mismatch",)
    others = [w for w in WORDS_A if w not in read_header(sidecar).words]
    again = CountingEncoder(chunk_size=4)
    with warnings.catch_warnings():
        warnings.simplefilter("error", StoreWarning)
        emb = store.embed(again, others, progress=False)
    assert again.encoded == [] and emb.words == [w for w in others if not w.startswith("zz")]


class _Marker:
    """Unpickling this creates a folder: proof that something was unpickled."""

    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (os.mkdir, (self.path,))


def test_an_object_array_is_refused_never_unpickled(store: EmbeddingStore, tmp_path: Path) -> None:
    enc = CountingEncoder(chunk_size=4)
    store.embed(enc, WORDS_A[:4], progress=False)
    (sidecar,) = chunk_files(store, enc)
    data = data_file(sidecar)
    marker = tmp_path / "unpickled"
    vectors = np.empty(4, dtype=object)
    vectors[:] = [_Marker(str(marker))] * 4
    with np.load(data, allow_pickle=False) as npz:
        words, present = npz["words"], npz["present"]
    with open(data, "wb") as fh:
        np.savez(fh, words=words, present=present, vectors=vectors)
    raw = data.read_bytes()
    head = json.loads(sidecar.read_text(encoding="utf-8"))
    head.update(data_sha256=hashlib.sha256(raw).hexdigest(), data_bytes=len(raw))  # a consistent forgery
    sidecar.write_text(json.dumps(head), encoding="utf-8")

    again = CountingEncoder(chunk_size=4)
    with pytest.warns(StoreWarning, match="holds objects"):
        emb = store.embed(again, WORDS_A[:4], progress=False)
    assert not marker.exists()
    assert again.encoded == WORDS_A[:4]
    np.testing.assert_array_equal(emb.vectors, expected(enc, WORDS_A[:4]))


def _write(store: EmbeddingStore, enc: CountingEncoder, words: list[str], vectors: np.ndarray) -> Path:
    entry = store.open_entry(enc.key, enc.fingerprint())
    if entry.shape is None:
        store.set_shape(entry, tuple(vectors.shape[1:]))
    return store.write_chunk(entry, words, vectors, np.ones(len(words), dtype=bool))


def test_a_word_in_two_chunks_is_read_from_the_first_by_name(store: EmbeddingStore) -> None:
    """Duplicates: allowed; every reader takes the chunk whose stem sorts first; verify flags disagreement."""
    enc = CountingEncoder()
    one, two = ["shared", "left"], ["shared", "right"]
    first, second = sorted([one, two], key=chunk_stem)
    v_first = np.stack([enc.vector(w) for w in first])
    v_second = np.stack([enc.vector(w) for w in second])
    _write(store, enc, second, v_second)  # written first, but sorts second
    _write(store, enc, first, v_first)
    (listed,) = store.entries(verify=True)
    assert listed.problems == () and listed.n_words == 3  # agreeing duplicates are fine

    v_second[0] += 1.0  # now the two chunks disagree on "shared"
    later = _write(store, enc, second, v_second)
    (listed,) = store.entries(verify=True)
    bad = data_file(later).name
    good = data_file(later.with_name(f"{chunk_stem(first)}{SIDECAR_SUFFIX}")).name
    assert listed.problems == (f"word 'shared': chunks {good} and {bad} disagree (the index uses the first)",)
    again = CountingEncoder()
    emb = store.embed(again, ["shared", "left", "right"], progress=False)
    assert again.encoded == []
    np.testing.assert_array_equal(emb.vectors, expected(enc, ["shared", "left", "right"]))


def test_a_current_chunk_wins_over_its_legacy_twin(store: EmbeddingStore) -> None:
    enc = CountingEncoder()
    legacy = write_legacy_entry(store, enc, LEGACY_WORDS)
    vectors, present = enc.encode(LEGACY_WORDS)
    vectors = vectors + 1.0  # what a later run of a non-deterministic encoder could have written
    entry = store.open_entry(enc.key, enc.fingerprint())
    store.write_chunk(entry, LEGACY_WORDS, vectors, present)
    emb = store.embed(CountingEncoder(), LEGACY_WORDS, progress=False)
    np.testing.assert_array_equal(emb.vectors, vectors[present])
    assert legacy.exists()
    (listed,) = store.entries(verify=True)
    assert len(listed.problems) == 3 and all("disagree" in p for p in listed.problems)
