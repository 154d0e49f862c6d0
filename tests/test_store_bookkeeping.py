"""Store bookkeeping a hostile reviewer broke: an entry deleted mid-run, `list --verify`, a full disk."""

from __future__ import annotations

import errno
import json
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pytest
from test_store import WORDS_A, CountingEncoder, chunk_files, data_file, expected, flip_vector_byte

import wordembed.store as store_module
from wordembed.errors import WordembedError
from wordembed.store import DATA_SUFFIX, EmbeddingStore, StoreError, atomic_write_bytes


@pytest.fixture
def store(tmp_path: Path) -> EmbeddingStore:
    return EmbeddingStore(tmp_path / "store")


def test_entry_recreated_after_its_folder_is_deleted_mid_run_keeps_its_meta(
    store: EmbeddingStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The reviewer's case: the folder goes while the run is on, chunks re-create it, `store list` said empty."""
    enc = CountingEncoder(chunk_size=4)
    store.embed(enc, ["early"], progress=False)  # meta.json exists when the next run opens the entry
    entry = store.entry_dir(enc)
    real = EmbeddingStore.write_chunk
    writes: list[object] = []

    def delete_before_second(self: EmbeddingStore, *args: object, **kwargs: object) -> Path:
        writes.append(args)
        if len(writes) == 2:  # in the writer thread, between two chunk writes: no race with a pending one
            shutil.rmtree(entry)
        return real(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(EmbeddingStore, "write_chunk", delete_before_second)
    store.embed(enc, WORDS_A, progress=False)  # 11 words in chunks of 4: 3 chunk writes
    assert len(writes) == 3
    meta = json.loads((entry / "meta.json").read_text(encoding="utf-8"))
    assert meta["fingerprint"] == enc.fingerprint() and meta["shape"] == [8]
    (listed,) = store.entries()
    assert (listed.key, listed.fingerprint, listed.problems) == ("toy", enc.fingerprint(), ())
    assert (listed.n_chunks, listed.n_words, listed.n_missing) == (2, 6, 1)  # chunks 2 and 3 survived
    monkeypatch.setattr(EmbeddingStore, "write_chunk", real)
    again = CountingEncoder(chunk_size=4)
    emb = store.embed(again, WORDS_A, progress=False)
    assert again.encoded == WORDS_A[:4]  # only the deleted chunk's words are computed again
    np.testing.assert_array_equal(emb.vectors, expected(enc, emb.words))


def test_entry_with_chunks_but_no_meta_is_listed_not_hidden(store: EmbeddingStore) -> None:
    enc = CountingEncoder(chunk_size=4)
    store.embed(enc, WORDS_A, progress=False)
    (store.entry_dir(enc) / "meta.json").unlink()
    (listed,) = store.entries()
    assert listed.key == "toy" and listed.n_words == 10 and listed.n_chunks == 3 and listed.shape == (8,)
    assert listed.problems == ("meta.json: missing (written again by the next embed of this model)",)
    with pytest.raises(Exception, match="no store entry matches"):
        store.remove("e3b0c442")  # the hash of an empty fingerprint must not match a meta-less entry
    suffix = store.entry_dir(enc).name.rsplit("-", 1)[-1]
    (removed,) = store.remove(suffix[:8])
    assert not removed.path.exists()


def test_list_verify_rehashes_every_chunk_and_reports_bad_ones(store: EmbeddingStore) -> None:
    enc = CountingEncoder(chunk_size=4)
    store.embed(enc, WORDS_A, progress=False)
    sidecar = chunk_files(store, enc)[1]
    word = next(w for w in store_module.read_header(sidecar).words if not w.startswith("zz"))
    victim = flip_vector_byte(enc, sidecar, word)  # the vectors, not a header: only the checksum can tell
    damaged = victim.read_bytes()

    (quick,) = store.entries()
    assert quick.problems == () and quick.n_chunks == 3 and not quick.verified  # headers only: looks fine

    (checked,) = store.entries(verify=True)
    assert checked.verified
    assert checked.problems == (f"{victim.name}: checksum mismatch",)
    assert checked.n_chunks == 2 and checked.n_words == 10 - 4
    assert victim.exists(), "a listing reports; it does not change the store"

    again = CountingEncoder(chunk_size=4)
    with pytest.warns(store_module.StoreWarning, match="checksum mismatch"):
        store.embed(again, WORDS_A, progress=False)
    assert again.encoded == store_module.read_header(sidecar).words  # the next embed recomputes that chunk ...
    assert victim.read_bytes() != damaged  # ... rewritten under the same names (its words' and data's hashes)
    (clean,) = store.entries(verify=True)
    assert clean.problems == () and clean.n_words == 10


def test_list_verify_reports_a_truncated_chunk_too(store: EmbeddingStore) -> None:
    enc = CountingEncoder(chunk_size=4)
    store.embed(enc, WORDS_A, progress=False)
    victim = data_file(chunk_files(store, enc)[0])
    victim.write_bytes(victim.read_bytes()[:-7])
    for verify in (False, True):
        (listed,) = store.entries(verify=verify)
        assert len(listed.problems) == 1 and listed.problems[0].startswith(f"{victim.name}: ")
        assert "expected" in listed.problems[0]


def _full_after(n_ok: int, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """``tempfile.mkstemp`` that hands out /dev/full for chunk files after the first ``n_ok``."""
    if not Path("/dev/full").exists():
        pytest.skip("no /dev/full on this system")
    real = tempfile.mkstemp
    chunk_tmps: list[str] = []

    def mkstemp(suffix: str | None = None, prefix: str | None = None, dir: str | None = None, **kw: object):
        if prefix and DATA_SUFFIX in prefix:
            chunk_tmps.append(prefix)
            if len(chunk_tmps) > n_ok:
                return os.open("/dev/full", os.O_WRONLY), str(Path(dir or ".") / f"{prefix}full{suffix}")
        return real(suffix=suffix, prefix=prefix, dir=dir, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(tempfile, "mkstemp", mkstemp)
    return chunk_tmps


def test_disk_full_in_the_store_is_one_line_naming_the_chunk(
    store: EmbeddingStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    _full_after(1, monkeypatch)
    enc = CountingEncoder(chunk_size=4)
    with pytest.raises(StoreError) as err:
        store.embed(enc, WORDS_A, progress=False)
    message = str(err.value)
    assert "\n" not in message
    assert message.startswith(f"embedding store: cannot write {store.entry_dir(enc) / 'chunks'}/")
    assert "No space left on device" in message and "the vectors stored before are kept" in message
    assert err.value.path.name.endswith(DATA_SUFFIX)
    assert isinstance(err.value, WordembedError) and isinstance(err.value, OSError)
    assert err.value.__cause__.errno == errno.ENOSPC
    monkeypatch.undo()
    (listed,) = store.entries(verify=True)
    assert listed.problems == () and listed.n_chunks == 1  # the chunk written before is whole
    again = CountingEncoder(chunk_size=4)
    emb = store.embed(again, WORDS_A, progress=False)
    assert again.encoded == WORDS_A[4:]
    np.testing.assert_array_equal(emb.vectors, expected(enc, emb.words))


def test_atomic_write_error_names_the_file(tmp_path: Path) -> None:
    blocker = tmp_path / "entry"
    blocker.write_bytes(b"a file where the entry folder should be")
    target = blocker / "meta.json"
    with pytest.raises(StoreError, match=rf"^embedding store: cannot write {target}: ") as err:
        atomic_write_bytes(target, b"new")
    assert err.value.path == target and "\n" not in str(err.value)
    assert blocker.read_bytes() == b"a file where the entry folder should be"


def test_store_list_verify_and_models_fetch_force_on_the_command_line(
    store: EmbeddingStore, capsys: pytest.CaptureFixture[str]
) -> None:
    """`wordembed store list --verify` re-hashes chunks and exits 1 naming a bad one; `models fetch --force`."""
    from wordembed.cli import build_parser, main

    enc = CountingEncoder(chunk_size=4)
    store.embed(enc, WORDS_A, progress=False)
    assert main(["store", "--store", str(store.root), "list", "--verify"]) == 0
    assert "chunks re-hashed" in capsys.readouterr().out
    sidecar = chunk_files(store, enc)[0]
    word = next(w for w in store_module.read_header(sidecar).words if not w.startswith("zz"))
    flip_vector_byte(enc, sidecar, word)  # one flipped byte in a vector
    assert main(["store", "--store", str(store.root), "list"]) == 0  # a plain listing does not read chunks
    capsys.readouterr()
    assert main(["store", "--store", str(store.root), "list", "--verify"]) == 1
    out = capsys.readouterr().out
    assert f"toy {store.entry_dir(enc).name.rsplit('-', 1)[-1]}: " in out
    assert build_parser().parse_args(["models", "fetch", "glove-50d", "--force"]).force is True
