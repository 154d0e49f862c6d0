"""Kill a real embedding run midway (SIGKILL) and check that the rerun computes only what was missing."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from wordembed.store import CHUNK_SUFFIX, TMP_SUFFIX, EmbeddingStore, read_header

N_WORDS = 5000
CHUNK = 250
KILL_AFTER = 6  # chunk files on disk when the run is killed

SCRIPT = (
    textwrap.dedent(
        """
    import hashlib, sys, time
    import numpy as np
    from wordembed.store import EmbeddingStore

    class SlowEncoder:
        key = "slow"
        chunk_size = @CHUNK@

        def __init__(self, log=None, delay=0.0):
            self.log, self.delay = log, delay

        def fingerprint(self):
            return "slow|v1|dims=16"

        def encode(self, words):
            if self.log:
                with open(self.log, "a") as fh:  # logged before the chunk is written: a kill may lose it
                    fh.write("".join(w + "\\n" for w in words))
            time.sleep(self.delay)
            seeds = [int.from_bytes(hashlib.sha256(w.encode()).digest()[:8], "little") for w in words]
            vectors = np.stack([np.random.default_rng(s).standard_normal(16) for s in seeds]).astype(np.float32)
            present = np.array([not w.endswith("7") for w in words])
            vectors[~present] = 0
            return vectors, present

    def words():
        return [f"word{i:05d}" for i in range(@N@)]

    if __name__ == "__main__":
        store_root, log, delay, out = sys.argv[1], sys.argv[2], float(sys.argv[3]), sys.argv[4]
        emb = EmbeddingStore(store_root).embed(SlowEncoder(log, delay), words(), progress=False)
        np.save(out, emb.vectors)
        with open(out + ".missing", "w") as fh:
            fh.write("\\n".join(emb.missing))
    """
    )
    .replace("@CHUNK@", str(CHUNK))
    .replace("@N@", str(N_WORDS))
)


def _run(script: Path, store: Path, log: Path, delay: float, out: Path) -> subprocess.Popen[bytes]:
    env = dict(os.environ, PYTHONPATH=str(script.parent) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    return subprocess.Popen(
        [sys.executable, str(script), str(store), str(log), str(delay), str(out)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def test_killed_run_resumes_without_recomputing_finished_chunks(tmp_path: Path) -> None:
    script = tmp_path / "slow_embed.py"
    script.write_text(SCRIPT)
    store_root = tmp_path / "store"

    first = _run(script, store_root, tmp_path / "first.log", 0.08, tmp_path / "first.npy")
    deadline = time.monotonic() + 60
    try:
        while time.monotonic() < deadline:
            found = list(store_root.glob(f"*/chunks/*{CHUNK_SUFFIX}"))
            if len(found) >= KILL_AFTER:
                break
            assert first.poll() is None, first.stderr.read().decode() if first.stderr else ""
            time.sleep(0.005)
        else:
            pytest.fail("the first run wrote no chunks in 60 s")
        os.kill(first.pid, signal.SIGKILL)
    finally:
        first.wait(timeout=30)
    assert first.returncode == -signal.SIGKILL
    assert not (tmp_path / "first.npy").exists()  # it really died before finishing

    (entry,) = [p for p in store_root.iterdir() if p.is_dir()]
    chunks = sorted((entry / "chunks").glob(f"*{CHUNK_SUFFIX}"))
    done = {w for path in chunks for w in read_header(path).words}
    n_done = len(chunks)
    assert KILL_AFTER <= n_done < N_WORDS // CHUNK
    assert len(done) == n_done * CHUNK
    all_words = [f"word{i:05d}" for i in range(N_WORDS)]
    unfinished = [w for w in all_words if w not in done]
    logged_first = (tmp_path / "first.log").read_text().split()
    assert set(logged_first) >= done  # everything stored was encoded by the killed run

    second = _run(script, store_root, tmp_path / "second.log", 0.0, tmp_path / "second.npy")
    _, err = second.communicate(timeout=120)
    assert second.returncode == 0, err.decode()
    assert (tmp_path / "second.log").read_text().split() == unfinished
    assert not [p for p in entry.rglob("*") if p.name.endswith(TMP_SUFFIX)]

    # An uninterrupted run, in a fresh store, gives the same vectors and the same missing words.
    sys.path.insert(0, str(tmp_path))
    try:
        import slow_embed  # type: ignore[import-not-found]
    finally:
        sys.path.remove(str(tmp_path))
    clean = EmbeddingStore(tmp_path / "clean").embed(
        slow_embed.SlowEncoder(), slow_embed.words(), progress=False
    )
    resumed = np.load(tmp_path / "second.npy")
    np.testing.assert_array_equal(resumed, clean.vectors)
    assert (tmp_path / "second.npy.missing").read_text().split() == clean.missing
    assert len(clean.missing) == N_WORDS // 10 and len(clean.words) == N_WORDS - N_WORDS // 10

    meta = json.loads((entry / "meta.json").read_text())
    assert meta["shape"] == [16] and meta["key"] == "slow"
    (listed,) = EmbeddingStore(store_root).entries()
    assert (listed.n_words, listed.n_missing) == (N_WORDS - N_WORDS // 10, N_WORDS // 10)
