"""``wordembed similarity`` (analysis 1, all-pairs cosine distribution) and ``wordembed related`` (analysis 2).

Both take a model key or a vector file and run the task of their notebook
(:class:`~wordembed.tasks.similarity.SimilarityDistribution`, notebook 02;
:class:`~wordembed.tasks.related.RelatedPairs`, notebook 03), so on the same parameters (``--words``,
``--vocab-limit``, ``--seed``, ...) a command and its notebook write the same tables and ``scores`` into
``--out`` (tested); the pre-task names stay beside them for older readers.

``similarity`` reports raw cosines beside their anisotropy controls: centred, all-but-the-top with ``--abtt`` D
(default -1: Mu & Viswanath's D = max(1, round(dims / 100)); 0 leaves it out) and, with ``--standardize`` (the
notebook always has it), every dimension z-scored; plus the rogue-dimension table (how much of the mean cosine
the top 1, 3 and 10 dimensions carry). ``related`` runs on one version of the vectors, chosen by ``--center`` /
``--abtt``: the notebook's rows of that version.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from wordembed.commands.arguments import device_arg, out_dir, schema_int, writing
from wordembed.embeddings import Embeddings
from wordembed.errors import ParameterError
from wordembed.study import PARAMETERS, bounds_text


def _source_arguments(parser: argparse.ArgumentParser, default_words: str) -> None:
    parser.add_argument(
        "--model", required=True, help="model key of params/models, a model YAML file, or a vector file"
    )
    parser.add_argument(
        "--words",
        default=default_words,
        help=f"vocabulary: wordnet, bats, google, wordsim, study, or a file with one word per line (default {default_words})",
    )
    parser.add_argument(
        "--vocab-limit",
        type=schema_int("vocab_limit"),
        default=0,
        help=f"a seeded sample of this many words of --words, {bounds_text('vocab_limit')} (default 0: all; "
        "the study parameter vocab_limit)",
    )
    parser.add_argument(
        "--seed",
        type=schema_int("seed"),
        default=0,
        help=f"seed of every random draw, {bounds_text('seed')} (default 0)",
    )
    parser.add_argument("--out", type=out_dir, help="output folder (default: outputs/cli/MODEL/ANALYSIS)")
    parser.add_argument(
        "--device",
        type=device_arg,
        help="auto, cpu, cuda or cuda:N: the model (and, for similarity, the products)",
    )
    parser.add_argument("--store", type=Path, help="store folder (default: $WORDEMBED_STORE or the cache)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")


def register(subparsers: argparse._SubParsersAction) -> None:
    sim = subparsers.add_parser(
        "similarity",
        help="distribution of the cosine of every pair of words (exact histogram), or of N random pairs",
        description="Exact all-pairs cosine histogram with mean, std and quantiles; --sample N for a quick look.",
    )
    _source_arguments(sim, "wordnet")
    sim.add_argument(
        "--abtt",
        type=int,
        default=-1,
        metavar="D",
        help="the all-but-the-top variant removes the top D principal directions; -1 (default) = "
        "max(1, round(dims / 100)) after Mu & Viswanath, 0 = no such variant",
    )
    sim.add_argument(
        "--standardize",
        action="store_true",
        help="also the variant with every dimension z-scored (Timkey & van Schijndel 2021); one more pass",
    )
    sim.add_argument(
        "--sample",
        type=schema_int("sample_pairs"),
        metavar="N",
        help=f"N random pairs instead of all pairs, {bounds_text('sample_pairs')} "
        "(0: all pairs, as in a study)",
    )
    sim.add_argument(
        "--bins",
        type=schema_int("hist_bins"),
        default=2000,
        help=f"histogram bins over [-1, 1], {bounds_text('hist_bins')} (default 2000)",
    )
    sim.set_defaults(func=run_similarity)

    rel = subparsers.add_parser(
        "related",
        help="cosine of BATS related pairs against random pairs (AUROC, separation) per relation and group",
        description="Related (BATS) versus random pairs of the same words; random pairs from --words if given.",
    )
    _source_arguments(rel, "bats")
    rel.add_argument("--center", action="store_true", help="mean-centre the vectors first")
    rel.add_argument(
        "--abtt",
        type=int,
        default=0,
        metavar="D",
        help="all-but-the-top: centre and remove the top D principal directions (-1 = max(1, round(dims / 100)))",
    )
    rel.add_argument(
        "--n-random",
        type=schema_int("n_random_pairs"),
        help=f"random pairs, {bounds_text('n_random_pairs')} (default: 10x the related pairs)",
    )
    rel.add_argument(
        "--n-boot",
        type=schema_int("bootstrap"),
        default=1000,
        help=f"bootstrap replicates, {bounds_text('bootstrap')} (default 1000)",
    )
    rel.set_defaults(func=run_related)


def _output_dir(args: argparse.Namespace, analysis: str) -> Path:
    if args.out is not None:
        return Path(args.out)
    from wordembed.results import default_output_dir

    return default_output_dir("cli", Path(str(args.model)).name, analysis)


def _check_abtt(requested: int) -> None:
    """Fail on a value no width can make valid before a model is loaded (the width is checked after); the
    upper bound is the study schema's (abtt_components), so a CLI run accepts what a study run does."""
    highest = PARAMETERS["abtt_components"].maximum
    if requested < -1 or (highest is not None and requested > highest):
        raise ParameterError(
            f"--abtt must be -1 (auto: max(1, round(dims / 100))), 0 (none) or a positive number of "
            f"directions up to {int(highest or 0)} ({bounds_text('abtt_components')}, as the study parameter "
            f"abtt_components), got {requested}"
        )


def _abtt(emb: Embeddings, requested: int) -> int:
    """The D that ``--abtt`` means for these vectors, or a one-line error naming the flag."""
    from wordembed.analyses.postprocess import abtt_dimensions

    _check_abtt(requested)
    try:
        return abtt_dimensions(emb.dim, requested)
    except ParameterError as exc:
        raise ParameterError(f"--abtt {requested}: {exc}") from None


def _load(args: argparse.Namespace, words: list[str]) -> Embeddings:
    """The raw vectors of ``words`` (one layer) under ``--model``."""
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
    return emb


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
    try:
        import torch
    except ImportError:  # the core install has no torch (the `hf` extra brings it): numpy's BLAS
        return None
    return "cuda" if torch.cuda.is_available() else None


def _shares(row: Any) -> str:
    """The rogue-dimension shares of one variant, or why there are none (NaN: no mean cosine to share out)."""
    if row.share_top1 != row.share_top1:
        return "top-1/3/10 n/a (no mean cosine to share)"
    return (
        f"top-1/3/10 {row.share_top1:.0%} / {row.share_top3:.0%} / {row.share_top10:.0%}"
        f" (dims {', '.join(map(str, row.top_dimensions[:3]))})"
    )


def run_similarity(args: argparse.Namespace) -> int:
    """Raw, centred, abttD (and standardised) distributions side by side, so a high raw mean can be read as
    what it is: anisotropy (the rogue-dimension shares say how few dimensions make it) or similarity.

    The :class:`~wordembed.tasks.similarity.SimilarityDistribution` task of notebook 02 on the same parameters
    (the same tables and scores); the pre-task names stay beside them (``similarity_histogram`` and the
    ``similarity`` record of ``metrics.json``)."""
    from wordembed.results import write_table
    from wordembed.tasks.result import Result
    from wordembed.tasks.similarity import SimilarityDistribution

    _check_abtt(args.abtt)
    task = SimilarityDistribution(
        vocabulary=args.words, vocab_limit=args.vocab_limit, seed=args.seed, hist_bins=args.bins, sample_pairs=args.sample or 0,
        abtt_components=args.abtt, standardized=args.standardize, device=_products_device(args.device),
        progress=not args.no_progress,
    )  # fmt: skip
    emb = _load(args, task.words())
    d = _abtt(emb, args.abtt)
    result = task.run(emb)
    variants = result.metrics["variants"]
    raw = variants["raw"]
    legacy = raw | _coverage(emb) | {
        "words": args.words, "abtt": d, "abtt_requested": args.abtt, "standardize": args.standardize,
        "variants": variants, "rogue_dimensions": result.metrics["rogue_dimensions"],
    }  # fmt: skip
    out = _output_dir(args, "similarity")
    with writing("--out", out):
        Result.combine(result, similarity=legacy).save(out)
        write_table(out, "similarity_histogram", result.tables["histogram"].drop(columns="model"))
    print(
        f"{emb.model}: {raw['n_pairs']:,} pairs of {raw['n_words']:,} words ({raw['mode'].replace('exact', 'all')}); "
        "top-1/3/10 = share of the mean cosine carried by the largest 1, 3, 10 dimensions"
    )
    for row, rogue in zip(result.tables["summary"].to_dict("records"),
                          result.tables["rogue_dimensions"].itertuples(index=False), strict=True):  # fmt: skip
        print(f"  {row['variant']:>12}: mean {row['mean']:.4f}, std {row['std']:.4f}, median {row['q0.5']:.4f}; "
              + _shares(rogue))
    print(f"wrote {out}")
    return 0


def run_related(args: argparse.Namespace) -> int:
    """BATS pairs against random pairs on one version of the vectors (raw, ``--center`` or ``--abtt D``): the
    :class:`~wordembed.tasks.related.RelatedPairs` task of notebook 03 with one variant; random pairs from the
    BATS words (``--words bats``, the default) or from ``--words``. The pre-task names stay beside its tables
    (``related_summary``, ``related_pairs``, ``related_random`` and the ``related`` record)."""
    from wordembed.results import write_table
    from wordembed.tasks.related import RelatedPairs
    from wordembed.tasks.result import Result

    _check_abtt(args.abtt)
    variant = "abtt" if args.abtt else "centered" if args.center else "raw"
    task = RelatedPairs(
        vocabulary=args.words, vocab_limit=args.vocab_limit, seed=args.seed, n_random_pairs=args.n_random, abtt_components=args.abtt or 0,
        related_baseline="same_words" if args.words == "bats" else "vocabulary", variants=[variant],
        bootstrap=args.n_boot,
    )  # fmt: skip
    emb = _load(args, task.words())
    d = _abtt(emb, args.abtt) if args.abtt else 0
    result = task.run(emb)
    name = result.metrics["variants"][0]
    record = result.metrics[name] | {"words": args.words, "center": args.center, "abtt": d}
    summary = result.tables["summary"]
    out = _output_dir(args, "related")
    with writing("--out", out):
        Result.combine(result, related=record).save(out)
        write_table(out, "related_summary", summary.drop(columns="variant"))
        write_table(out, "related_pairs", result.tables["pairs"])
        write_table(out, "related_random", result.tables["random_pairs"])
    s = summary.set_index(["level", "name"])
    parts = [
        f"{kind} AUROC {s.loc[('kind', kind), 'auroc']:.3f}"
        for kind in ("morphological", "semantic")
        if ("kind", kind) in s.index
    ]
    print(
        f"{emb.model}: {record['n_related']:,} related pairs ({record['n_dropped']} dropped); {', '.join(parts)}; wrote {out}"
    )
    return 0
