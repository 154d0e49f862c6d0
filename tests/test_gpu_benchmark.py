"""benchmarks/gpu.py run as a user runs it, on torch's CPU backend at its --quick sizes (no GPU needed).

One run covers the four parts: the all-pairs parity (exact vectors: identical counts), the full runs (every
pair counted), the embed part on the tiny random llama of tests/tiny_models.py in bfloat16 and float32 (and
a real model key whose artefact is absent from an empty --models-dir: its one-line error), and the memory
check against this machine's real available RAM, with its refusal of a model that cannot fit. Then: a part
that fails leaves the others running, and --device cuda where torch sees no GPU exits 2 with one line.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from tiny_models import write_tiny_decoder_yaml

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "gpu.py"
N_WORDS = 120  # embed part (--words)
WORDS = [f"{a}{b}" for a in ("king", "queen", "man", "woman", "cat", "dog") for b in ("", "s", "ly", "ness")]


def run_script(*args: str, env: dict | None = None, timeout: int = 180) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
        check=False,
    )


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory) -> dict:
    root = tmp_path_factory.mktemp("gpu-bench")
    tiny = write_tiny_decoder_yaml(root / "models")
    words = root / "words.txt"
    words.write_text("\n".join(f"{w}{i}" for i in range(5) for w in WORDS) + "\n", encoding="utf-8")
    empty = root / "empty-models"
    empty.mkdir()
    out = root / "gpu.json"
    done = run_script(
        "--device", "cpu", "--quick",
        "--parts", "allpairs_parity", "allpairs_full", "embed", "memory_check",
        "--models", str(tiny), "smollm2-135m",
        "--models-dir", str(empty),
        "--vocabulary", str(words), "--words", str(N_WORDS),
        "--out", str(out),
        env={"WORDEMBED_STORE": str(root / "store")},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(out.read_text(encoding="utf-8"))
    assert json.loads(done.stdout) == result  # stdout is the one JSON object, as --out writes it
    return {"result": result, "tiny": str(tiny), "empty": empty, "root": root}


@pytest.mark.slow
def test_header_and_model_cache(quick_run):
    r = quick_run["result"]
    assert r["benchmark"] == "gpu" and r["device"] == "cpu" and r["quick"] is True
    assert r["machine"]["device_name"] == "cpu (torch)" and r["machine"]["torch"]
    assert r["date"][:2] == "20" and r["wall_seconds"] > 0
    # --models-dir points the library's model cache (WORDEMBED_CACHE/models) at the folder
    assert Path(r["models_dir"]) == quick_run["empty"].resolve()
    assert Path(r["model_cache"]) == quick_run["empty"].resolve()
    assert not (quick_run["root"] / "store").exists()  # no embedding store was opened


@pytest.mark.slow
def test_allpairs_parity(quick_run):
    p = quick_run["result"]["allpairs_parity"]
    rand = p["random"]
    n = rand["words"]
    assert n == 2000 and rand["pairs"] == n * (n - 1) // 2
    assert rand["pairs_counted_numpy"] == rand["pairs_counted_device"] == rand["pairs"]
    assert rand["within_tolerance"] and rand["sum_abs_count_diff"] <= 200  # as tests/test_gpu.py allows
    assert rand["mean_abs_diff"] < 1e-6 and rand["std_abs_diff"] < 1e-6
    assert 0.2 < rand["mean"] < 0.4  # the mean offset's anisotropy
    exact = p["exact"]
    assert exact["pairs"] == exact["words"] * (exact["words"] - 1) // 2
    names = [f"{side}_{blocks}_blocks" for side in ("numpy", "device") for blocks in ("default", "small")]
    for name in names:
        assert exact[name]["counts_identical"] and exact[name]["sum_abs_count_diff"] == 0, name
        assert exact[name]["mean_abs_diff"] < 1e-15
    assert exact["all_identical"]


@pytest.mark.slow
def test_allpairs_full(quick_run):
    full = quick_run["result"]["allpairs_full"]
    for d in (384, 1536):
        row = full[f"5000x{d}"]
        assert row["dims"] == d and row["pairs"] == row["pairs_counted"] == 5000 * 4999 // 2
        assert row["seconds"] > 0 and row["pairs_per_s"] > 0
        assert "max_memory_allocated_bytes" not in row  # CUDA only


@pytest.mark.slow
def test_embed_tiny_model_both_dtypes(quick_run):
    models = quick_run["result"]["embed"]["models"]
    tiny = models[quick_run["tiny"]]
    for dtype in ("bfloat16", "float32"):
        row = tiny[dtype]
        assert row["dtype"] == dtype and row["device"] == "cpu" and row["dims"] == 32
        assert row["words"] == N_WORDS and row["words_per_s"] > 0
        assert row["all_embedded"] and row["finite"]
    drift = tiny["bf16_vs_fp32"]
    assert 0 < drift["max_one_minus_cos"] < 0.05  # bfloat16 moves the vectors, a little
    assert drift["pairs_sampled"] == N_WORDS * (N_WORDS - 1) // 2
    assert 0 < drift["max_abs_delta_pair_cos"] < 0.2
    assert drift["mean_abs_delta_pair_cos"] <= drift["max_abs_delta_pair_cos"]


@pytest.mark.slow
def test_embed_missing_artifact_is_one_line(quick_run):
    error = quick_run["result"]["embed"]["models"]["smollm2-135m"]["error"]
    assert "\n" not in error
    assert "SmolLM2-135M-Instruct.Q4_1.gguf" in error and str(quick_run["empty"].resolve()) in error
    assert "wordembed models fetch smollm2-135m" in error


@pytest.mark.slow
def test_memory_check_passes_and_refuses(quick_run):
    from wordembed.models.decoder.loading import required_bytes

    mem = quick_run["result"]["memory_check"]
    free = mem["free_bytes"]
    assert free > 0 and mem["available_ram_bytes"] > 0
    smol = mem["models"]["smollm2-135m"]  # the spec alone: no artefact needed
    for dtype in ("bfloat16", "float32"):
        assert smol[dtype]["need_bytes"] == required_bytes(134515008, dtype)
    tiny = mem["models"][quick_run["tiny"]]
    assert tiny["bfloat16"]["check_passes"] and tiny["float32"]["check_passes"]
    assert tiny["bfloat16"]["fits_by_estimate"]
    refusal = mem["refusal"]
    assert refusal["refused"] and refusal["ensure_fits_raised"]
    assert refusal["need_bytes"] == required_bytes(refusal["fake_params"], "bfloat16") > refusal["free_bytes"]
    assert "needs about" in refusal["error"] and "check_memory: false" in refusal["error"]
    assert "\n" not in refusal["error"]


def test_a_failing_part_leaves_the_others(tmp_path):
    done = run_script(
        "--device", "cpu", "--quick", "--parts", "embed", "memory_check",
        "--models", "smollm2-135m", "--vocabulary", str(tmp_path / "no-such-words.txt"),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout)
    assert "error" in result["embed"] and "no-such-words.txt" in result["embed"]["error"]
    assert "\n" not in result["embed"]["error"]
    assert result["memory_check"]["refusal"]["refused"]
    assert "allpairs_parity" not in result and "allpairs_full" not in result


def test_cuda_without_a_gpu_exits_2_with_one_line():
    torch = pytest.importorskip("torch")
    if torch.cuda.is_available():
        pytest.skip("torch sees a GPU here")
    done = run_script("--device", "cuda", "--parts", "allpairs_parity", timeout=120)
    assert done.returncode == 2
    assert done.stdout == ""
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("benchmarks/gpu.py: ")
    assert "no CUDA GPU is visible" in lines[0]
