"""``wordembed agreement``: do models agree on which words are alike? (analysis 4)

Writes ``agreement_table`` (one row per measure, pair set and model pair, with intervals: columns measure,
pairs, model_a, model_b, value, ci_low, ci_high, n), one square matrix per key (``agreement_spearman_random``,
``agreement_spearman_related``, ..., ``agreement_knn_jaccard``, ``agreement_cka``, ``agreement_cka_debiased``)
and ``metrics.json`` into ``--out``. Rank correlations are computed on random pairs and on BATS pairs
separately, never pooled (see :mod:`wordembed.analyses.agreement`).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from wordembed.analyses.agreement import DEFAULT_CKA_BOOT, DEFAULT_KENDALL_BOOT, MEASURES
from wordembed.commands.arguments import device_arg, out_dir, schema_int, writing
from wordembed.errors import ParameterError
from wordembed.study import bounds_text


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "agreement",
        help="rank correlation of cosines, kNN overlap and CKA between every pair of models",
        description="Agreement between models on the words all of them cover; rank correlations on random pairs "
        "and on BATS pairs, each set on its own.",
    )
    p.add_argument(
        "--models", nargs="+", required=True, metavar="MODEL", help="model keys, YAML files or vector files"
    )
    p.add_argument(
        "--words",
        default="bats",
        help="vocabulary for random pairs and neighbours (default bats; BATS words are always added)",
    )
    p.add_argument(
        "--n-random",
        type=schema_int("n_random_pairs"),
        default=20_000,
        help=f"random pairs, {bounds_text('n_random_pairs')} (default 20000)",
    )
    p.add_argument(
        "--k",
        type=schema_int("knn_k"),
        default=10,
        help=f"nearest neighbours per word, {bounds_text('knn_k')} (default 10)",
    )
    p.add_argument(
        "--n-boot",
        type=schema_int("bootstrap"),
        default=1000,
        help=f"bootstrap replicates for correlations and Jaccard, {bounds_text('bootstrap')} "
        "(default 1000; 0 = no intervals)",
    )
    p.add_argument(
        "--kendall-boot",
        type=schema_int("kendall_bootstrap"),
        help=f"replicates for Kendall's intervals, {bounds_text('kendall_bootstrap')} (default min(n-boot, "
        f"{DEFAULT_KENDALL_BOOT}): the costly one)",
    )
    p.add_argument(
        "--cka-boot",
        type=schema_int("cka_bootstrap"),
        help=f"replicates for the CKA intervals, {bounds_text('cka_bootstrap')} "
        f"(default min(n-boot, {DEFAULT_CKA_BOOT}))",
    )
    p.add_argument(
        "--measures",
        nargs="+",
        choices=MEASURES,
        default=list(MEASURES),
        help="measures to compute (default all)",
    )
    p.add_argument("--no-related", action="store_true", help="random pairs only (no BATS pairs)")
    p.add_argument("--seed", type=schema_int("seed"), default=0, help=f"{bounds_text('seed')} (default 0)")
    p.add_argument("--out", type=out_dir, help="output folder (default: outputs/cli/agreement)")
    p.add_argument(
        "--device", type=device_arg, help="auto, cpu, cuda or cuda:N for the models and the neighbour search"
    )
    p.add_argument("--store", type=Path, help="store folder (default: $WORDEMBED_STORE or the cache)")
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(func=run_agreement)


def run_agreement(args: argparse.Namespace) -> int:
    from wordembed.analyses.agreement import model_agreement
    from wordembed.datasets import bats_pairs, load_bats, load_vocabulary
    from wordembed.results import write_metrics, write_table
    from wordembed.sources import get_embeddings
    from wordembed.store import EmbeddingStore

    if len(set(args.models)) < 2:
        raise ParameterError(f"--models: give at least 2 different models, got {args.models}")
    pairs = bats_pairs(load_bats())
    words = list(dict.fromkeys([*load_vocabulary(args.words), *pairs["source"], *pairs["target"]]))
    store = EmbeddingStore(args.store) if args.store else None
    embs = {}
    for source in dict.fromkeys(args.models):
        emb = get_embeddings(source, words, store=store, progress=not args.no_progress, device=args.device)
        if emb.vectors.ndim != 2:
            raise ParameterError(
                f"--models {source}: vectors of shape {emb.vectors.shape[1:]}; choose one layer"
            )
        embs[Path(str(source)).name] = emb
    result = model_agreement(
        embs,
        None if args.no_related else pairs,
        n_random=args.n_random,
        k=args.k,
        seed=args.seed,
        n_boot=args.n_boot,
        kendall_boot=args.kendall_boot,
        cka_boot=args.cka_boot,
        measures=tuple(dict.fromkeys(args.measures)),
        device=args.device,
    )
    if args.out is not None:
        out = Path(args.out)
    else:
        from wordembed import paths

        out = paths.outputs_dir() / "cli" / "agreement"
    coverage = {
        name: {"covered": len(e.words), "asked": len(e.words) + len(e.missing)} for name, e in embs.items()
    }
    with writing("--out", out):
        write_table(out, "agreement_table", result.table)
        for key, matrix in result.matrices.items():
            write_table(out, f"agreement_{key}", matrix.reset_index(names="model"))
        write_metrics(out, {"agreement": result.to_dict() | {"coverage": coverage, "words": args.words}})
    sources = result.pair_sources
    related = f", {sources['related']:,} related pairs" if "related" in sources else ""
    print(
        f"{len(embs)} models, {result.n_words:,} shared words, {sources['random']:,} random pairs{related}; wrote {out}"
    )
    for key, matrix in result.matrices.items():
        print(f"\n{key}:\n{matrix.round(3).to_string()}")
    return 0
