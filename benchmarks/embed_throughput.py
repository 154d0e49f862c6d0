"""Words/s through the embedding store against calling the model library directly on the same words.

For each model: direct calls (sentence-transformers ``encode`` for SBERT models, the backend encoder's own
``encode`` otherwise, same batch size) and cold calls through a fresh temporary store (encode + chunk
writes, hashing, fsync, the index), interleaved segment by segment on the same words, then one warm rerun
over all words on that store (read + verify only). Goal: cold/direct >= 0.95.

Prints one JSON object per measurement, then one summary object per model (``"kind": "summary"``).
Example::

    python benchmarks/embed_throughput.py --words 3000 --models minilm smollm2-135m --threads 1
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from wordembed.store import EmbeddingStore

GOAL = 0.95


def emit(record: dict[str, Any]) -> None:
    print(json.dumps(record), flush=True)


def sample_words(vocabulary: str, n: int, seed: int) -> list[str]:
    from wordembed.datasets import load_vocabulary

    words = sorted(set(load_vocabulary(vocabulary)))
    rng = np.random.default_rng(seed)
    chosen = rng.choice(len(words), size=min(n, len(words)), replace=False)
    return [words[i] for i in chosen]  # shuffled: neither run profits from sorted, similar-length words


def direct_call(encoder: Any, spec: Any) -> tuple[str, Callable[[Sequence[str]], np.ndarray]]:
    """The library call the store wraps, with the encoder's batch size."""
    if spec.backend == "sentence-transformers":
        from sentence_transformers import SentenceTransformer

        model = next(
            (
                getattr(encoder, a)
                for a in ("model", "_model")
                if isinstance(getattr(encoder, a, None), SentenceTransformer)
            ),
            None,
        )
        if model is None:
            from wordembed.models.fetch import resolve_artifact

            model = SentenceTransformer(str(resolve_artifact(spec)), device=getattr(encoder, "device", None))
        opts = {**spec.options, **(getattr(encoder, "options", None) or {})}
        batch = int(getattr(encoder, "batch_size", None) or opts.get("batch_size", 32))
        normalize = bool(opts.get("normalize", False))

        def run(words: Sequence[str]) -> np.ndarray:
            return model.encode(
                list(words),
                batch_size=batch,
                convert_to_numpy=True,
                show_progress_bar=False,
                normalize_embeddings=normalize,
            )

        return f"SentenceTransformer.encode(batch_size={batch})", run

    def run_encoder(words: Sequence[str]) -> np.ndarray:
        return encoder.encode(list(words))[0]

    return f"{type(encoder).__name__}.encode (one call over all words)", run_encoder


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def bench_model(
    key: str, words: list[str], *, segment: int, device: str | None, tmp: str | None
) -> dict[str, Any]:
    """Direct and cold-store runs interleaved segment by segment, then one warm rerun over all words.

    Interleaving (alternating which goes first) gives both sides the same share of a noisy, shared machine;
    each segment is new to the store, so every store call is cold and writes its own chunk(s).
    """
    from wordembed.models.registry import load_encoder
    from wordembed.models.spec import load_spec

    spec = load_spec(key)
    load_s, encoder = timed(lambda: load_encoder(spec, device=device))
    how, direct = direct_call(encoder, spec)
    warmup = [f"warmup{i}" for i in range(64)]  # not in the measured words: lazy loads, caches, kernels
    warmup_s, _ = timed(lambda: direct(warmup))
    base = {
        "model": key,
        "words": len(words),
        "segment": segment,
        "chunk_size": getattr(encoder, "chunk_size", 1024),
    }
    emit({**base, "kind": "setup", "load_s": round(load_s, 3), "warmup_s": round(warmup_s, 3), "direct": how})

    totals = {"direct": 0.0, "store_cold": 0.0}
    max_diff = 0.0
    with tempfile.TemporaryDirectory(prefix="wordembed-bench-", dir=tmp) as root:
        store = EmbeddingStore(root)
        for number, start in enumerate(range(0, len(words), segment)):
            part = words[start : start + segment]
            seg: dict[str, float] = {}
            for mode in ("direct", "store_cold") if number % 2 == 0 else ("store_cold", "direct"):
                if mode == "direct":
                    seg[mode], ref = timed(lambda: direct(part))  # noqa: B023
                else:
                    seg[mode], cold = timed(lambda: store.embed(encoder, part, progress=False))  # noqa: B023
            rows = cold.rows(part)
            ok = rows >= 0
            diff = np.abs(np.asarray(ref)[ok] - cold.vectors[rows[ok]])
            max_diff = max(max_diff, float(np.max(diff, initial=0.0)))
            for mode, t in seg.items():
                totals[mode] += t
                emit({**base, "kind": "measurement", "mode": mode, "segment_index": number, "n": len(part),
                      "seconds": round(t, 4), "words_per_s": round(len(part) / t, 1)})  # fmt: skip
        t_warm, warm = timed(lambda: store.embed(encoder, words, progress=False))
        emit({**base, "kind": "measurement", "mode": "store_warm", "n": len(words), "seconds": round(t_warm, 4),
              "words_per_s": round(len(words) / t_warm, 1)})  # fmt: skip
        size = sum(p.stat().st_size for p in Path(root).rglob("*") if p.is_file())
    emit(
        {
            **base,
            "kind": "store_size",
            "bytes": size,
            "covered": len(warm.words),
            "missing": len(warm.missing),
        }
    )

    ratio = totals["direct"] / totals["store_cold"]
    summary = {
        **base,
        "kind": "summary",
        "direct_words_per_s": round(len(words) / totals["direct"], 1),
        "store_cold_words_per_s": round(len(words) / totals["store_cold"], 1),
        "store_warm_words_per_s": round(len(words) / t_warm, 1),
        "cold_vs_direct": round(ratio, 4),
        "goal": GOAL,
        "meets_goal": ratio >= GOAL,
        "warm_speedup_vs_cold": round(totals["store_cold"] / t_warm, 1),
        "max_abs_diff_store_vs_direct": max_diff,
    }
    emit(summary)
    return summary


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--words", type=int, default=3000, help="words per run (a seeded sample)")
    parser.add_argument("--models", nargs="+", default=["minilm", "smollm2-135m"], help="model keys")
    parser.add_argument(
        "--vocabulary", default="wordnet", help="vocabulary to sample from (see load_vocabulary)"
    )
    parser.add_argument("--segment", type=int, default=512, help="words per interleaved direct/store pair")
    parser.add_argument(
        "--threads",
        type=int,
        default=0,
        help="torch CPU threads (0: torch's default); 1 is steadier when busy",
    )
    parser.add_argument("--device", default=None, help="torch device (default: auto)")
    parser.add_argument("--tmp", default=None, help="folder for the temporary stores (default: system temp)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    words = sample_words(args.vocabulary, args.words, args.seed)
    summaries = [
        bench_model(key, words, segment=args.segment, device=args.device, tmp=args.tmp) for key in args.models
    ]
    for s in summaries:
        print(
            f"# {s['model']}: direct {s['direct_words_per_s']} w/s, store cold {s['store_cold_words_per_s']} w/s "
            f"(ratio {s['cold_vs_direct']:.3f}, goal {GOAL}: {'met' if s['meets_goal'] else 'NOT met'}), "
            f"warm {s['store_warm_words_per_s']} w/s ({s['warm_speedup_vs_cold']}x cold)",
            file=sys.stderr,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
