"""``wordembed similarity`` (analysis 1, all-pairs cosine distribution) and ``wordembed related`` (analysis 2).

Both take a model key or a vector file, write tables (CSV + Parquet) and ``metrics.json`` into ``--out``.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from wordembed.embeddings import Embeddings
from wordembed.errors import ParameterError


def _source_arguments(parser: argparse.ArgumentParser, default_words: str) -> None:
    parser.add_argument(
        "--model", required=True, help="model key of params/models, a model YAML file, or a vector file"
    )
    parser.add_argument(
        "--words",
        default=default_words,
        help=f"vocabulary: wordnet, bats, google, wordsim, study, or a file with one word per line (default {default_words})",
    )
    parser.add_argument("--center", action="store_true", help="mean-centre the vectors first")
    parser.add_argument(
        "--abtt",
        type=int,
        default=0,
        metavar="D",
        help="all-but-the-top: centre and remove the top D principal directions",
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of every random draw (default 0)")
    parser.add_argument("--out", type=Path, help="output folder (default: outputs/cli/MODEL/ANALYSIS)")
    parser.add_argument("--device", help="torch device for the model (and, for similarity, the products)")
    parser.add_argument("--store", type=Path, help="store folder (default: $WORDEMBED_STORE or the cache)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")


def register(subparsers: argparse._SubParsersAction) -> None:
    sim = subparsers.add_parser(
        "similarity",
        help="distribution of the cosine of every pair of words (exact histogram), or of N random pairs",
        description="Exact all-pairs cosine histogram with mean, std and quantiles; --sample N for a quick look.",
    )
    _source_arguments(sim, "wordnet")
    sim.add_argument("--sample", type=int, metavar="N", help="N random pairs instead of all pairs")
    sim.add_argument("--bins", type=int, default=2000, help="histogram bins over [-1, 1] (default 2000)")
    sim.set_defaults(func=run_similarity)

    rel = subparsers.add_parser(
        "related",
        help="cosine of BATS related pairs against random pairs (AUROC, separation) per relation and group",
        description="Related (BATS) versus random pairs of the same words; random pairs from --words if given.",
    )
    _source_arguments(rel, "bats")
    rel.add_argument("--n-random", type=int, help="random pairs (default: 10x the related pairs)")
    rel.add_argument("--n-boot", type=int, default=1000, help="bootstrap replicates (default 1000)")
    rel.set_defaults(func=run_related)


def _output_dir(args: argparse.Namespace, analysis: str) -> Path:
    if args.out is not None:
        return Path(args.out)
    from wordembed.results import default_output_dir

    return default_output_dir("cli", Path(str(args.model)).name, analysis)


def _load(args: argparse.Namespace, words: list[str]) -> Embeddings:
    from wordembed.sources import get_embeddings
    from wordembed.store import EmbeddingStore

    store = EmbeddingStore(args.store) if args.store else None
    emb = get_embeddings(args.model, words, store=store, progress=not args.no_progress, device=args.device)
    if emb.vectors.ndim != 2:
        raise ParameterError(
            f"--model {args.model}: vectors of shape {emb.vectors.shape[1:]} (several layers); choose one layer "
            "in the model's options"
        )
    if not emb.model:
        emb.model = Path(str(args.model)).name
    return _postprocess(emb, args)


def _postprocess(emb: Embeddings, args: argparse.Namespace) -> Embeddings:
    from wordembed.analyses.postprocess import postprocess

    if args.abtt < 0:
        raise ParameterError(f"--abtt must be >= 0, got {args.abtt}")
    return postprocess(emb, center_vectors=args.center, abtt=args.abtt)


def _coverage(emb: Embeddings) -> dict[str, Any]:
    return {
        "words_asked": len(emb.words) + len(emb.missing),
        "words_covered": len(emb.words),
        "coverage": emb.coverage(),
    }


def _products_device(device: str | None) -> str | None:
    """CUDA (asked for, or present when no device is named) runs the products in torch; else numpy's BLAS."""
    if device is not None:
        return device if device.startswith("cuda") else None
    import torch

    return "cuda" if torch.cuda.is_available() else None


def run_similarity(args: argparse.Namespace) -> int:
    from wordembed.analyses.allpairs import all_pairs_distribution, sampled_pairs_distribution
    from wordembed.datasets import load_vocabulary
    from wordembed.results import write_metrics, write_table

    words = list(dict.fromkeys(load_vocabulary(args.words)))
    emb = _load(args, words)
    if args.sample is not None:
        dist = sampled_pairs_distribution(emb, args.sample, seed=args.seed, bins=args.bins)
    else:
        dist = all_pairs_distribution(
            emb, bins=args.bins, device=_products_device(args.device), progress=not args.no_progress
        )
    out = _output_dir(args, "similarity")
    write_table(out, "similarity_histogram", dist.to_frame())
    metrics = (
        dist.to_dict() | _coverage(emb) | {"words": args.words, "center": args.center, "abtt": args.abtt}
    )
    write_metrics(out, {"similarity": metrics})
    print(
        f"{emb.model}: {dist.n_pairs:,} pairs of {dist.n_words:,} words ({'all' if dist.exact else 'sampled'}): "
        f"mean {dist.mean:.4f}, std {dist.std:.4f}, median {dist.quantile(0.5):.4f}; wrote {out}"
    )
    return 0


def run_related(args: argparse.Namespace) -> int:
    from wordembed.analyses.related import related_similarity
    from wordembed.datasets import bats_pairs, load_bats, load_vocabulary
    from wordembed.results import write_metrics, write_table

    pairs = bats_pairs(load_bats())
    related_words = list(dict.fromkeys([*pairs["source"], *pairs["target"]]))
    vocabulary = None if args.words == "bats" else list(dict.fromkeys(load_vocabulary(args.words)))
    emb = _load(args, list(dict.fromkeys(related_words + (vocabulary or []))))
    result = related_similarity(
        emb, pairs, n_random=args.n_random, vocabulary=vocabulary, seed=args.seed, n_boot=args.n_boot
    )
    out = _output_dir(args, "related")
    write_table(out, "related_summary", result.summary)
    write_table(out, "related_pairs", result.pairs)
    write_table(out, "related_random", result.random)
    metrics = result.to_dict() | {"words": args.words, "center": args.center, "abtt": args.abtt}
    write_metrics(out, {"related": metrics})
    s = result.summary.set_index(["level", "name"])
    parts = [
        f"{kind} AUROC {s.loc[('kind', kind), 'auroc']:.3f}"
        for kind in ("morphological", "semantic")
        if ("kind", kind) in s.index
    ]
    print(
        f"{emb.model}: {len(result.pairs):,} related pairs ({result.n_dropped} dropped); {', '.join(parts)}; wrote {out}"
    )
    return 0
