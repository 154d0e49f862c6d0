"""Several processes embedding one model into one store at once (Dask workers on a shared filesystem).

Two real processes, started together by a file-based start signal, embed overlapping word lists with a tiny
deterministic encoder; then every vector read back must equal a single-process run's, bit for bit, no
temporary file may be left, no chunk may be corrupt (``verify=True``), and each chunk must be one sidecar and
the one data file it names. Run with the ``filelock`` locks and with the rename-only protocol.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from wordembed.store import DATA_SUFFIX, SIDECAR_SUFFIX, TMP_SUFFIX, EmbeddingStore, read_header

SCRIPT = textwrap.dedent(
    """
    import hashlib, json, sys, time
    from pathlib import Path

    import numpy as np
    from wordembed.store import EmbeddingStore

    class TinyEncoder:
        \"\"\"A word's vector from its sha256; words ending in 7 are absent. It logs what it encodes.\"\"\"

        key = "tiny"
        chunk_size = 16

        def __init__(self, log=None, delay=0.0):
            self.log, self.delay = log, delay

        def fingerprint(self):
            return "tiny|v1|dims=12"

        def encode(self, words):
            if self.log:
                with open(self.log, "a") as fh:
                    fh.write("".join(w + "\\n" for w in words))
            time.sleep(self.delay)
            seeds = [int.from_bytes(hashlib.sha256(w.encode()).digest()[:8], "little") for w in words]
            vectors = np.stack([np.random.default_rng(s).standard_normal(12) for s in seeds]).astype(np.float32)
            present = np.array([not w.endswith("7") for w in words])
            vectors[~present] = 0
            return vectors, present

    def words(lo, hi):
        return [f"w{i:04d}" for i in range(lo, hi)]

    if __name__ == "__main__":
        root, lo, hi, log, out, locking, ready, go = sys.argv[1:]
        Path(ready).touch()
        deadline = time.monotonic() + 120
        while not Path(go).exists():  # the start signal: both processes begin within a millisecond
            if time.monotonic() > deadline:
                sys.exit("no start signal")
            time.sleep(0.0005)
        store = EmbeddingStore(root, locking=locking == "1")
        emb = store.embed(TinyEncoder(log, 0.01), words(int(lo), int(hi)), progress=False)
        np.save(out, emb.vectors)
        Path(out + ".json").write_text(json.dumps({"words": emb.words, "missing": emb.missing}))
    """
)


class _Refuses:
    """The stored fingerprint, and an error if the store asks it to compute anything."""

    key = "tiny"
    chunk_size = 16

    def fingerprint(self) -> str:
        return "tiny|v1|dims=12"

    def encode(self, words: list[str]) -> tuple[np.ndarray, np.ndarray]:
        raise AssertionError(f"the store recomputed {list(words)[:5]}")


def _writers(tmp_path: Path, ranges: list[tuple[int, int]], locking: bool) -> tuple[Path, list[dict], object]:
    script = tmp_path / "tiny_writer.py"
    script.write_text(SCRIPT, encoding="utf-8")
    root = tmp_path / "store"
    go = tmp_path / "go"
    env = dict(os.environ, PYTHONPATH=str(tmp_path) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    runs = []
    for n, (lo, hi) in enumerate(ranges):
        run = {k: tmp_path / f"{k}{n}" for k in ("log", "out", "ready")}
        run["out"] = tmp_path / f"out{n}.npy"
        argv = [sys.executable, str(script), str(root), str(lo), str(hi), str(run["log"]), str(run["out"]),
                "1" if locking else "0", str(run["ready"]), str(go)]  # fmt: skip
        run["proc"] = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        run["range"] = (lo, hi)
        runs.append(run)
    deadline = time.monotonic() + 120
    while not all(r["ready"].exists() for r in runs):
        for r in runs:
            assert r["proc"].poll() is None, r["proc"].communicate()[1].decode()
        assert time.monotonic() < deadline, "the writers did not start"
        time.sleep(0.01)
    go.touch()
    for r in runs:
        _, err = r["proc"].communicate(timeout=300)
        assert r["proc"].returncode == 0, err.decode()
    sys.path.insert(0, str(tmp_path))
    try:
        import tiny_writer  # type: ignore[import-not-found]
    finally:
        sys.path.remove(str(tmp_path))
    return root, runs, tiny_writer


def _logged(log: Path) -> list[str]:
    """The words a writer encoded (none, and no log, when the other stored everything first)."""
    return log.read_text().split() if log.exists() else []


def _check_store(root: Path, words: list[str], reference: object) -> None:
    """Everything a concurrent run must leave: exact vectors, no temp file, nothing corrupt or doubled."""
    assert not [p for p in root.rglob("*") if p.name.endswith(TMP_SUFFIX)]
    (listed,) = EmbeddingStore(root).entries(verify=True)
    assert listed.problems == ()
    assert (listed.n_words, listed.n_missing) == (len(reference.words), len(reference.missing))
    back = EmbeddingStore(root).embed(_Refuses(), words, progress=False)
    assert back.words == reference.words and back.missing == reference.missing
    np.testing.assert_array_equal(back.vectors, reference.vectors)
    folder = listed.path / "chunks"
    sidecars = sorted(folder.glob(f"*{SIDECAR_SUFFIX}"))
    named = sorted(read_header(p).data_path.name for p in sidecars)
    datas = sorted(p.name for p in folder.glob(f"*{DATA_SUFFIX}"))
    assert datas == named  # one data file per chunk, the one its sidecar names: no orphan, no second copy
    assert sorted(os.listdir(folder)) == sorted(datas + [p.name for p in sidecars])


@pytest.mark.parametrize("locking", [True, False], ids=["filelock", "rename-only"])
def test_two_processes_with_overlapping_words(tmp_path: Path, locking: bool) -> None:
    if locking:
        pytest.importorskip("filelock")
    ranges = [(0, 600), (300, 900)]
    root, runs, tiny = _writers(tmp_path, ranges, locking)
    reference_store = EmbeddingStore(tmp_path / "single")
    for run in runs:
        lo, hi = run["range"]
        ref = reference_store.embed(tiny.TinyEncoder(), tiny.words(lo, hi), progress=False)
        got = json.loads(Path(str(run["out"]) + ".json").read_text())
        assert (got["words"], got["missing"]) == (ref.words, ref.missing)
        np.testing.assert_array_equal(np.load(run["out"]), ref.vectors)
    union = tiny.words(0, 900)
    _check_store(root, union, reference_store.embed(tiny.TinyEncoder(), union, progress=False))
    encoded = [w for run in runs for w in _logged(run["log"])]
    assert set(encoded) == set(union)  # every word encoded by one of them


def test_two_processes_with_the_same_words_encode_each_chunk_once(tmp_path: Path) -> None:
    """With locks, the second writer of a chunk waits for the first and reads it: no word is encoded twice."""
    pytest.importorskip("filelock")
    root, runs, tiny = _writers(tmp_path, [(0, 480), (0, 480)], locking=True)
    words = tiny.words(0, 480)
    reference = EmbeddingStore(tmp_path / "single").embed(tiny.TinyEncoder(), words, progress=False)
    for run in runs:
        np.testing.assert_array_equal(np.load(run["out"]), reference.vectors)
    encoded = [w for run in runs for w in _logged(run["log"])]
    assert sorted(encoded) == words  # each of the 30 chunks encoded by exactly one of the two
    _check_store(root, words, reference)
    assert len(list((root / next(p.name for p in root.iterdir()) / "chunks").glob(f"*{SIDECAR_SUFFIX}"))) == 30
