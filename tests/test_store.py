"""The embedding store: reuse across word lists, order, missing words, 3-D vectors, corruption, staleness."""

from __future__ import annotations

import hashlib
import json
import os
import socket
import threading
import time
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from wordembed.errors import ModelError, ParameterError
from wordembed.store import (
    CHUNK_SUFFIX,
    DATA_SUFFIX,
    TMP_SUFFIX,
    EmbeddingStore,
    StoreWarning,
    atomic_write_bytes,
    read_header,
)


class CountingEncoder:
    """Deterministic stand-in: a word's vector comes from its sha256; words starting with "zz" are absent.

    It records every word it was asked to encode, so tests can assert what the store recomputed.
    """

    def __init__(
        self,
        key: str = "toy",
        *,
        dims: int = 8,
        layers: int | None = None,
        chunk_size: int = 4,
        version: str = "v1",
        fail_after: int | None = None,
        delay: float = 0.0,
    ) -> None:
        self.key = key
        self.dims = dims
        self.layers = layers
        self.chunk_size = chunk_size
        self.version = version
        self.fail_after = fail_after
        self.delay = delay
        self.encoded: list[str] = []
        self.calls = 0

    def fingerprint(self) -> str:
        return f"{self.key}|{self.version}|dims={self.dims}|layers={self.layers}"

    def vector(self, word: str) -> np.ndarray:
        n = self.dims * (self.layers or 1)
        seed = int.from_bytes(hashlib.sha256(f"{self.version}:{word}".encode()).digest()[:8], "little")
        v = np.random.default_rng(seed).standard_normal(n).astype(np.float32)
        return v.reshape(self.layers, self.dims) if self.layers else v

    def encode(self, words: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        if self.fail_after is not None and self.calls >= self.fail_after:
            raise RuntimeError("encoder crashed")
        self.calls += 1
        if self.delay:
            time.sleep(self.delay)
        self.encoded.extend(words)
        present = np.array([not w.startswith("zz") for w in words], dtype=bool)
        shape = (len(words), self.layers, self.dims) if self.layers else (len(words), self.dims)
        vectors = np.zeros(shape, dtype=np.float32)
        for i, w in enumerate(words):
            if present[i]:
                vectors[i] = self.vector(w)
        return vectors, present


WORDS_A = [f"w{i:03d}" for i in range(10)] + ["zzgap"]
WORDS_B = [f"w{i:03d}" for i in range(6, 15)] + ["zzgap", "zzhole"]


def expected(enc: CountingEncoder, words: Sequence[str]) -> np.ndarray:
    return np.stack([enc.vector(w) for w in words])


def chunk_files(store: EmbeddingStore, enc: CountingEncoder) -> list[Path]:
    """The sidecars of ``enc``'s entry: one per chunk."""
    return sorted((store.entry_dir(enc) / "chunks").glob(f"*{CHUNK_SUFFIX}"))


def data_file(sidecar: Path) -> Path:
    """The ``.npz`` a sidecar names."""
    return read_header(sidecar).data_path


def flip_vector_byte(enc: CountingEncoder, sidecar: Path, word: str) -> Path:
    """Damage one byte inside ``word``'s stored vector (not a header): only the checksum can tell."""
    path = data_file(sidecar)
    data = bytearray(path.read_bytes())
    at = bytes(data).find(enc.vector(word).astype("<f4").tobytes())
    assert at > 0
    data[at + 2] ^= 0xFF
    path.write_bytes(bytes(data))
    return path


def copy_chunk(sidecar: Path, folder: Path, name: str | None = None) -> Path:
    """Copy a chunk (sidecar and data) into another entry's chunk folder; returns the new sidecar."""
    folder.mkdir(parents=True, exist_ok=True)
    data = data_file(sidecar)
    (folder / data.name).write_bytes(data.read_bytes())
    target = folder / (name or sidecar.name)
    target.write_bytes(sidecar.read_bytes())
    return target


@pytest.fixture
def store(tmp_path: Path) -> EmbeddingStore:
    return EmbeddingStore(tmp_path / "store")


def test_default_root_follows_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("WORDEMBED_STORE", str(tmp_path / "elsewhere"))
    assert EmbeddingStore().root == (tmp_path / "elsewhere").resolve()


def test_second_word_list_computes_only_new_words(store: EmbeddingStore) -> None:
    enc = CountingEncoder()
    first = store.embed(enc, WORDS_A, progress=False)
    assert enc.encoded == WORDS_A
    assert first.words == WORDS_A[:-1] and first.missing == ["zzgap"]
    np.testing.assert_array_equal(first.vectors, expected(enc, first.words))
    assert first.vectors.dtype == np.float32 and first.model == "toy"

    enc2 = CountingEncoder()  # a fresh process would build a new encoder with the same fingerprint
    second = store.embed(enc2, WORDS_B, progress=False)
    assert enc2.encoded == [f"w{i:03d}" for i in range(10, 15)] + ["zzhole"]
    assert second.words == [f"w{i:03d}" for i in range(6, 15)]
    assert second.missing == ["zzgap", "zzhole"]
    np.testing.assert_array_equal(second.vectors, expected(enc, second.words))

    enc3 = CountingEncoder()
    third = store.embed(enc3, WORDS_A + WORDS_B, progress=False)
    assert enc3.encoded == [] and enc3.calls == 0
    assert len(third.words) == 15


def test_other_fingerprint_gets_its_own_entry(store: EmbeddingStore) -> None:
    store.embed(CountingEncoder(version="v1"), WORDS_A, progress=False)
    other = CountingEncoder(version="v2")
    emb = store.embed(other, WORDS_A, progress=False)
    assert other.encoded == WORDS_A
    np.testing.assert_array_equal(emb.vectors, expected(other, emb.words))
    assert len(store.entries()) == 2


def test_order_is_the_callers_and_duplicates_collapse(store: EmbeddingStore) -> None:
    enc = CountingEncoder()
    store.embed(enc, WORDS_A, progress=False)
    query = ["w009", "w002", "zzgap", "w002", "new1", "w009", "w000", "new1"]
    emb = store.embed(enc, query, progress=False)
    assert emb.words == ["w009", "w002", "new1", "w000"]
    assert emb.missing == ["zzgap"]
    np.testing.assert_array_equal(emb.vectors, expected(enc, emb.words))
    assert enc.encoded.count("new1") == 1
    assert store.embed(enc, [], progress=False).words == []


def test_missing_words_are_recorded_not_given_vectors(store: EmbeddingStore) -> None:
    enc = CountingEncoder()
    words = ["zza", "b", "zzc", "d", "e", "zzf"]
    emb = store.embed(enc, words, progress=False)
    assert emb.words == ["b", "d", "e"] and emb.missing == ["zza", "zzc", "zzf"]
    assert emb.coverage() == pytest.approx(0.5)
    again = CountingEncoder()
    emb2 = store.embed(again, ["zzc", "d"], progress=False)
    assert again.encoded == []  # a missing word is remembered as missing, not re-asked
    assert emb2.words == ["d"] and emb2.missing == ["zzc"]
    (entry,) = store.entries()
    assert (entry.n_words, entry.n_missing) == (3, 3)


def test_all_layer_vectors(store: EmbeddingStore) -> None:
    enc = CountingEncoder("decoder-all", dims=6, layers=5, chunk_size=3)
    emb = store.embed(enc, WORDS_A, progress=False)
    assert emb.vectors.shape == (10, 5, 6)
    np.testing.assert_array_equal(emb.vectors, expected(enc, emb.words))
    enc2 = CountingEncoder("decoder-all", dims=6, layers=5, chunk_size=3)
    emb2 = store.embed(enc2, list(reversed(WORDS_A)), progress=False)
    assert enc2.encoded == []
    np.testing.assert_array_equal(emb2.vectors, expected(enc, emb2.words))
    meta = json.loads((store.entry_dir(enc) / "meta.json").read_text())
    assert meta["shape"] == [5, 6] and meta["dims"] == 6 and meta["fingerprint"] == enc.fingerprint()
    assert meta["key"] == "decoder-all" and meta["created"]


def test_chunks_follow_chunk_size(store: EmbeddingStore) -> None:
    enc = CountingEncoder(chunk_size=4)
    store.embed(enc, WORDS_A, progress=False)
    files = chunk_files(store, enc)
    assert len(files) == 3  # 11 words in chunks of 4, 4, 3
    assert enc.calls == 3


def _chunk_of(store: EmbeddingStore, enc: CountingEncoder, word: str) -> Path:
    for path in chunk_files(store, enc):
        if word in read_header(path).words:
            return path
    raise AssertionError(word)


@pytest.mark.parametrize(
    "damage",
    ["truncate_data", "flip_vector", "garbage_data", "missing_data", "sidecar_word", "sidecar_absent", "garbage_sidecar"],
)
def test_corrupt_chunk_is_reported_removed_and_recomputed(store: EmbeddingStore, damage: str) -> None:
    enc = CountingEncoder(chunk_size=4)
    reference = store.embed(enc, WORDS_A, progress=False)
    sidecar = _chunk_of(store, enc, "w005")  # the second chunk: w004..w007
    data = data_file(sidecar)
    stem = sidecar.name.split(".")[0]
    if damage == "truncate_data":
        data.write_bytes(data.read_bytes()[:-100])
    elif damage == "flip_vector":
        flip_vector_byte(enc, sidecar, "w006")
    elif damage == "garbage_data":
        data.write_bytes(b"\x00" * 64)
    elif damage == "missing_data":
        data.unlink()
    elif damage == "sidecar_word":  # still valid JSON, but no longer the words the data holds
        sidecar.write_text(sidecar.read_text(encoding="utf-8").replace('"w005"', '"w0X5"'), encoding="utf-8")
    elif damage == "sidecar_absent":  # claims a present word is absent
        head = json.loads(sidecar.read_text(encoding="utf-8"))
        head.update(absent=[1], n_present=head["n"] - 1)
        sidecar.write_text(json.dumps(head), encoding="utf-8")
    else:
        sidecar.write_bytes(b"\x00" * 64)

    enc2 = CountingEncoder(chunk_size=4)
    with pytest.warns(StoreWarning, match=stem):
        emb = store.embed(enc2, WORDS_A, progress=False)
    assert enc2.encoded == ["w004", "w005", "w006", "w007"]
    assert emb.words == reference.words
    np.testing.assert_array_equal(emb.vectors, reference.vectors)
    # The recomputed chunk is whole again: a third run neither warns nor encodes.
    with warnings.catch_warnings():
        warnings.simplefilter("error", StoreWarning)
        enc3 = CountingEncoder(chunk_size=4)
        store.embed(enc3, WORDS_A, progress=False)
    assert enc3.encoded == []
    (listed,) = store.entries(verify=True)
    assert listed.problems == () and listed.n_chunks == 3


def test_stale_chunk_of_another_fingerprint_is_removed(store: EmbeddingStore) -> None:
    enc = CountingEncoder(chunk_size=4)
    store.embed(enc, WORDS_A, progress=False)
    other = CountingEncoder(chunk_size=4, version="v2")
    store.embed(other, ["x1", "x2"], progress=False)
    (foreign,) = chunk_files(store, other)
    stray = copy_chunk(foreign, store.entry_dir(enc) / "chunks")
    stray_data = data_file(stray)

    enc2 = CountingEncoder(chunk_size=4)
    with pytest.warns(StoreWarning, match=rf"{stray.name}.*another fingerprint"):
        emb = store.embed(enc2, ["x1", "w001"], progress=False)
    assert not stray.exists() and not stray_data.exists()
    assert enc2.encoded == ["x1"]
    np.testing.assert_array_equal(emb.vectors, expected(enc, ["x1", "w001"]))


def test_stale_chunk_of_other_dims_is_removed(store: EmbeddingStore, tmp_path: Path) -> None:
    enc = CountingEncoder(chunk_size=4)
    store.embed(enc, WORDS_A, progress=False)
    # Same fingerprint string, other dims: written by a backend whose fingerprint missed an option.
    wide = CountingEncoder(chunk_size=4, dims=16)
    wide.fingerprint = enc.fingerprint  # type: ignore[method-assign]
    scratch = EmbeddingStore(tmp_path / "scratch")
    scratch.embed(wide, ["y1"], progress=False)
    (odd,) = sorted((scratch.entry_dir(wide) / "chunks").glob(f"*{CHUNK_SUFFIX}"))
    stray = copy_chunk(odd, store.entry_dir(enc) / "chunks")
    enc2 = CountingEncoder(chunk_size=4)
    with pytest.warns(StoreWarning, match=rf"{stray.name}.*shape \(16,\)"):
        emb = store.embed(enc2, ["y1", "w002"], progress=False)
    assert enc2.encoded == ["y1"]  # the stray chunk's name is taken again by the recomputed y1 chunk
    np.testing.assert_array_equal(emb.vectors, expected(enc, ["y1", "w002"]))
    with warnings.catch_warnings():
        warnings.simplefilter("error", StoreWarning)
        enc3 = CountingEncoder(chunk_size=4)
        store.embed(enc3, ["y1", "w002"], progress=False)
    assert enc3.encoded == []


def test_encoder_changing_shape_under_one_fingerprint_is_an_error(store: EmbeddingStore) -> None:
    enc = CountingEncoder(chunk_size=4)
    store.embed(enc, ["a"], progress=False)
    wide = CountingEncoder(chunk_size=4, dims=16)
    wide.fingerprint = enc.fingerprint  # type: ignore[method-assign]
    with pytest.raises(ModelError, match="fingerprint"):
        store.embed(wide, ["b"], progress=False)


@pytest.mark.parametrize("damage", ["other_fingerprint", "garbage", "bad_shape"])
def test_bad_meta_is_rewritten_and_good_chunks_kept(store: EmbeddingStore, damage: str) -> None:
    enc = CountingEncoder(chunk_size=4)
    store.embed(enc, WORDS_A, progress=False)
    meta_path = store.entry_dir(enc) / "meta.json"
    meta = json.loads(meta_path.read_text())
    if damage == "garbage":
        meta_path.write_bytes(b"\x00{not json")
    else:
        meta.update({"fingerprint": "something else"} if damage == "other_fingerprint" else {"shape": "8"})
        meta_path.write_text(json.dumps(meta))
    enc2 = CountingEncoder(chunk_size=4)
    with pytest.warns(StoreWarning, match="meta.json"):
        emb = store.embed(enc2, WORDS_A + ["new"], progress=False)
    assert enc2.encoded == ["new"]  # the chunks carry their own fingerprint: nothing computed is lost
    np.testing.assert_array_equal(emb.vectors, expected(enc, emb.words))
    rewritten = json.loads(meta_path.read_text())
    assert rewritten["fingerprint"] == enc.fingerprint() and rewritten["shape"] == [8]


def test_no_temp_files_left_and_crash_keeps_finished_chunks(store: EmbeddingStore) -> None:
    enc = CountingEncoder(chunk_size=4, fail_after=2)
    with pytest.raises(RuntimeError, match="crashed"):
        store.embed(enc, WORDS_A, progress=False)
    entry = store.entry_dir(enc)
    assert len(chunk_files(store, enc)) == 2
    assert not [p for p in entry.rglob("*") if p.name.endswith(TMP_SUFFIX)]
    enc2 = CountingEncoder(chunk_size=4)
    emb = store.embed(enc2, WORDS_A, progress=False)
    assert enc2.encoded == WORDS_A[8:]
    np.testing.assert_array_equal(emb.vectors, expected(enc, emb.words))
    locks = ["locks"] if store.locking else []
    assert sorted(p.name for p in entry.iterdir()) == ["chunks", *locks, "meta.json"]
    sidecars = chunk_files(store, enc)
    # Exactly a sidecar and the data file it names per chunk: nothing half written, nothing left over.
    assert sorted(p.name for p in (entry / "chunks").iterdir()) == sorted(
        [p.name for p in sidecars] + [data_file(p).name for p in sidecars]
    )
    assert all(data_file(p).name.endswith(DATA_SUFFIX) for p in sidecars)


def test_atomic_write_leaves_old_file_when_replace_fails(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "f.bin"
    atomic_write_bytes(target, b"old")

    def broken_replace(src: str, dst: str) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(OSError, match="disk full"):
        atomic_write_bytes(target, [b"new", b"er"])
    assert target.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f.bin"]


def test_temp_file_of_a_dead_writer_is_cleaned(store: EmbeddingStore) -> None:
    enc = CountingEncoder(chunk_size=4)
    store.embed(enc, ["a"], progress=False)
    chunks = store.entry_dir(enc) / "chunks"
    dead_pid = 2**22 + 12345  # above the default pid_max range: no such process
    leftover = chunks / f".abc.chunk.{socket.gethostname()}.{dead_pid}.xyz{TMP_SUFFIX}"
    leftover.write_bytes(b"partial")
    live = chunks / f".def.chunk.{socket.gethostname()}.{os.getpid()}.xyz{TMP_SUFFIX}"
    live.write_bytes(b"in flight")
    store.embed(enc, ["a"], progress=False)
    assert not leftover.exists()
    assert live.exists()  # a running writer's temp file is left alone


def test_two_concurrent_writers_do_not_corrupt(store: EmbeddingStore) -> None:
    words = [f"c{i:02d}" for i in range(24)]
    results = {}

    def worker(name: str) -> None:
        enc = CountingEncoder(chunk_size=4, delay=0.01)
        results[name] = store.embed(enc, words, progress=False)

    threads = [threading.Thread(target=worker, args=(n,)) for n in ("a", "b")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    ref = CountingEncoder()
    for emb in results.values():
        np.testing.assert_array_equal(emb.vectors, expected(ref, words))
    with warnings.catch_warnings():
        warnings.simplefilter("error", StoreWarning)
        enc = CountingEncoder(chunk_size=4)
        emb = store.embed(enc, words, progress=False)
    assert enc.encoded == []
    np.testing.assert_array_equal(emb.vectors, expected(ref, words))


def test_bad_encoder_output_is_a_model_error(store: EmbeddingStore) -> None:
    class Short(CountingEncoder):
        def encode(self, words: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
            v, p = super().encode(words)
            return v[:-1], p[:-1]

    with pytest.raises(ModelError, match=r"encode\(\) of 4 words"):
        store.embed(Short(chunk_size=4), WORDS_A, progress=False)

    class NaNs(CountingEncoder):
        def encode(self, words: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
            v, p = super().encode(words)
            v[0] = np.nan
            return v, p

    with pytest.raises(ModelError, match="non-finite"):
        store.embed(NaNs(key="nan", chunk_size=4), WORDS_A, progress=False)


def test_entries_and_remove(store: EmbeddingStore) -> None:
    assert store.entries() == []
    a, b = CountingEncoder("alpha"), CountingEncoder("beta", dims=4, layers=3)
    store.embed(a, WORDS_A, progress=False)
    store.embed(b, WORDS_B, progress=False)
    entries = {e.key: e for e in store.entries()}
    assert set(entries) == {"alpha", "beta"}
    assert (entries["alpha"].n_words, entries["alpha"].n_missing, entries["alpha"].n_chunks) == (10, 1, 3)
    assert entries["beta"].shape == (3, 4) and entries["beta"].n_words == 9
    assert entries["alpha"].fingerprint == a.fingerprint()
    on_disk = sum(p.stat().st_size for p in entries["alpha"].path.rglob("*") if p.is_file())
    assert entries["alpha"].size_bytes == on_disk

    with pytest.raises(ParameterError, match="alpha, beta"):
        store.remove("gamma")
    prefix = entries["beta"].path.name.rsplit("-", 1)[-1][:8]
    with pytest.raises(ParameterError):
        store.remove(prefix[:3])  # too short a prefix to mean one entry
    (removed,) = store.remove(prefix)
    assert removed.key == "beta" and not removed.path.exists()
    (removed,) = store.remove("alpha")
    assert not removed.path.exists()
    assert store.entries() == []
    assert list(store.root.iterdir()) == []


def test_without_meta_the_majority_shape_wins(store: EmbeddingStore, tmp_path: Path) -> None:
    enc = CountingEncoder(chunk_size=4)
    store.embed(enc, WORDS_A, progress=False)
    wide = CountingEncoder(chunk_size=4, dims=16)
    wide.fingerprint = enc.fingerprint  # type: ignore[method-assign]
    scratch = EmbeddingStore(tmp_path / "scratch")
    scratch.embed(wide, ["y1"], progress=False)
    (odd,) = sorted((scratch.entry_dir(wide) / "chunks").glob(f"*{CHUNK_SUFFIX}"))
    stray = copy_chunk(odd, store.entry_dir(enc) / "chunks", f"000{CHUNK_SUFFIX}")  # sorts first
    (store.entry_dir(enc) / "meta.json").unlink()
    enc2 = CountingEncoder(chunk_size=4)
    with pytest.warns(StoreWarning, match=rf"{stray.name}.*shape \(16,\)"):
        emb = store.embed(enc2, WORDS_A, progress=False)
    assert enc2.encoded == [] and not stray.exists()
    np.testing.assert_array_equal(emb.vectors, expected(enc, emb.words))
    assert json.loads((store.entry_dir(enc) / "meta.json").read_text())["shape"] == [8]


def test_write_error_surfaces_and_earlier_chunks_stay(
    store: EmbeddingStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    from wordembed.store.files import Staged

    real = Staged.commit
    commits: list[int] = []

    def failing_second(self: Staged, **kwargs: object) -> None:
        commits.append(1)
        if len(commits) == 3:  # meta.json, the first chunk, then the second chunk: its renames fail
            raise OSError("No space left on device")
        real(self, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(Staged, "commit", failing_second)
    enc = CountingEncoder(chunk_size=4)
    with pytest.raises(OSError, match="No space left"):
        store.embed(enc, WORDS_A, progress=False)
    monkeypatch.setattr(Staged, "commit", real)
    assert len(chunk_files(store, enc)) == 1
    assert not [p for p in store.entry_dir(enc).rglob("*") if p.name.endswith(TMP_SUFFIX)]
    enc2 = CountingEncoder(chunk_size=4)
    emb = store.embed(enc2, WORDS_A, progress=False)
    assert enc2.encoded == WORDS_A[4:]  # the first chunk was kept; the failed one and the rest recomputed
    np.testing.assert_array_equal(emb.vectors, expected(enc, emb.words))


def test_cached_encoder_wraps_any_encoder_and_is_one(store: EmbeddingStore) -> None:
    """The orchestration (what is missing, encode in chunks, write) lives in CachedEncoder; its encode()
    keeps the Encoder contract, so it can stand where an encoder goes (rows aligned, zeros where absent)."""
    from wordembed.models.base import Encoder
    from wordembed.store import CachedEncoder, embed_with_store

    enc = CountingEncoder(chunk_size=3)
    cached = CachedEncoder(enc, store)
    assert isinstance(cached, Encoder) and cached.key == "toy" and cached.fingerprint() == enc.fingerprint()
    vectors, present = cached.encode(["w001", "zzgap", "w002", "w001"])
    np.testing.assert_array_equal(present, [True, False, True, True])
    np.testing.assert_array_equal(vectors, np.stack([enc.vector("w001"), np.zeros(8), enc.vector("w002"),
                                                     enc.vector("w001")]))  # fmt: skip
    assert enc.encoded == ["w001", "zzgap", "w002"]
    again = CountingEncoder(chunk_size=3)
    emb = embed_with_store(again, ["w002", "w003"], store, progress=False)
    assert again.encoded == ["w003"]
    np.testing.assert_array_equal(emb.vectors, expected(enc, ["w002", "w003"]))
