"""Words/s through the embedding store against calling the model library directly on the same words.

For each model: a direct run (sentence-transformers ``encode`` for SBERT models, the backend encoder's own
``encode`` otherwise, same batch size), a cold run through a fresh temporary store (encode + chunk writes,
hashing, fsync, the index), and a warm rerun on that store (read + verify only). Goal: cold/direct >= 0.95.

Prints one JSON object per measurement, then one summary object per model (``"kind": "summary"``).
Example::

    python benchmarks/embed_throughput.py --words 3000 --models minilm smollm2-135m
"""

from __future__ import annotations

import argparse
import json
import statistics
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
    key: str, words: list[str], *, repeats: int, device: str | None, tmp: str | None
) -> dict[str, Any]:
    from wordembed.models.registry import load_encoder
    from wordembed.models.spec import load_spec

    spec = load_spec(key)
    load_s, encoder = timed(lambda: load_encoder(spec, device=device))
    how, direct = direct_call(encoder, spec)
    warmup_s, _ = timed(lambda: direct(words[:64]))  # lazy loads, kernels, tokenizer caches
    base = {"model": key, "words": len(words), "chunk_size": getattr(encoder, "chunk_size", 1024)}
    emit({**base, "kind": "setup", "load_s": round(load_s, 3), "warmup_s": round(warmup_s, 3), "direct": how})

    times: dict[str, list[float]] = {"direct": [], "store_cold": [], "store_warm": []}
    max_diff = 0.0
    for rep in range(repeats):
        # Odd repeats run the store first, so neither side always gets the warmer machine.
        if rep % 2 == 0:
            t_direct, ref = timed(lambda: direct(words))
        with tempfile.TemporaryDirectory(prefix="wordembed-bench-", dir=tmp) as root:
            store = EmbeddingStore(root)
            t_cold, cold = timed(lambda: store.embed(encoder, words, progress=False))  # noqa: B023
            t_warm, warm = timed(lambda: store.embed(encoder, words, progress=False))  # noqa: B023
            size = sum(p.stat().st_size for p in Path(root).rglob("*") if p.is_file())
        if rep % 2 == 1:
            t_direct, ref = timed(lambda: direct(words))
        rows = cold.rows(words)
        ok = rows >= 0
        max_diff = max(
            max_diff, float(np.max(np.abs(np.asarray(ref)[ok] - cold.vectors[rows[ok]]), initial=0.0))
        )
        assert np.array_equal(cold.vectors, warm.vectors) and cold.words == warm.words
        for mode, t in (("direct", t_direct), ("store_cold", t_cold), ("store_warm", t_warm)):
            times[mode].append(t)
            emit(
                {
                    **base,
                    "kind": "measurement",
                    "mode": mode,
                    "repeat": rep,
                    "seconds": round(t, 4),
                    "words_per_s": round(len(words) / t, 1),
                }
            )
        emit(
            {
                **base,
                "kind": "store_size",
                "repeat": rep,
                "bytes": size,
                "covered": len(cold.words),
                "missing": len(cold.missing),
            }
        )

    med = {mode: statistics.median(ts) for mode, ts in times.items()}
    ratio = med["direct"] / med["store_cold"]
    summary = {
        **base,
        "kind": "summary",
        "repeats": repeats,
        "direct_words_per_s": round(len(words) / med["direct"], 1),
        "store_cold_words_per_s": round(len(words) / med["store_cold"], 1),
        "store_warm_words_per_s": round(len(words) / med["store_warm"], 1),
        "cold_vs_direct": round(ratio, 4),
        "goal": GOAL,
        "meets_goal": ratio >= GOAL,
        "warm_speedup_vs_cold": round(med["store_cold"] / med["store_warm"], 1),
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
    parser.add_argument(
        "--repeats", type=int, default=1, help="repeat each measurement; medians are reported"
    )
    parser.add_argument("--device", default=None, help="torch device (default: auto)")
    parser.add_argument("--tmp", default=None, help="folder for the temporary stores (default: system temp)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    words = sample_words(args.vocabulary, args.words, args.seed)
    summaries = [
        bench_model(key, words, repeats=args.repeats, device=args.device, tmp=args.tmp) for key in args.models
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
