"""``wordembed agreement``: do models agree on which words are alike? (analysis 4)

The :class:`~wordembed.tasks.agreement.Agreement` task of notebook 05: on the same parameters (``--words``,
``--vocab-limit``, ``--sample``, ``--controls``) both write the same ``agreement`` table (with a ``variant``
column), ``matrix_<key>`` tables and ``scores``. Beside them stay the pre-task names: ``agreement_table`` (the
raw rows: measure, pairs, model_a, model_b, value, ci_low, ci_high, n), one square matrix per key
(``agreement_spearman_random``, ..., ``agreement_cka_debiased``) and the ``agreement`` record of
``metrics.json``. Rank correlations are computed on random pairs and on BATS pairs separately, never pooled
(see :mod:`wordembed.analyses.agreement`). A model YAML or key is named by its key, a vector file by its name.
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
        "--vocab-limit",
        type=schema_int("vocab_limit"),
        default=0,
        help=f"a seeded sample of this many words of --words first, {bounds_text('vocab_limit')} (default 0: all; "
        "the study parameter vocab_limit)",
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
    p.add_argument(
        "--controls",
        action="store_true",
        help="Spearman again on centred and standardised vectors (the variant column of the agreement table), "
        "as notebook 05",
    )
    p.add_argument(
        "--sample",
        type=schema_int("agreement_words"),
        metavar="N",
        help=f"draw N words of --words (seeded, as notebook 05's agreement_words), {bounds_text('agreement_words')} "
        "(default: every word); the BATS words are always added",
    )
    p.add_argument("--seed", type=schema_int("seed"), default=0, help=f"{bounds_text('seed')} (default 0)")
    p.add_argument("--out", type=out_dir, help="output folder (default: outputs/cli/agreement)")
    p.add_argument(
        "--device", type=device_arg, help="auto, cpu, cuda or cuda:N for the models and the neighbour search"
    )
    p.add_argument("--store", type=Path, help="store folder (default: $WORDEMBED_STORE or the cache)")
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(func=run_agreement)


def _name(source: str) -> str:
    """A model's key (as a notebook names it), or a vector file's name (``vectors.txt``)."""
    from wordembed.models.spec import load_spec

    path = Path(str(source))
    if path.suffix in (".yaml", ".yml") or not path.exists():
        return load_spec(str(source)).key
    return path.name


def run_agreement(args: argparse.Namespace) -> int:
    """The :class:`~wordembed.tasks.agreement.Agreement` task of notebook 05 on the given models (the same
    tables and scores); the pre-task names stay beside them (``agreement_table``, ``agreement_<key>`` and the
    ``agreement`` record of ``metrics.json``)."""
    from wordembed.results import write_table
    from wordembed.sources import get_embeddings
    from wordembed.store import EmbeddingStore
    from wordembed.tasks.agreement import Agreement
    from wordembed.tasks.result import Result

    if len(set(args.models)) < 2:
        raise ParameterError(f"--models: give at least 2 different models, got {args.models}")
    task = Agreement(
        vocabulary=args.words, vocab_limit=args.vocab_limit, seed=args.seed, agreement_words=args.sample, n_random_pairs=args.n_random, knn_k=args.k,
        bootstrap=args.n_boot, kendall_bootstrap=args.kendall_boot, cka_bootstrap=args.cka_boot,
        measures=list(args.measures), related=not args.no_related, controls=args.controls, device=args.device,
    )  # fmt: skip
    words = task.words()
    store = EmbeddingStore(args.store) if args.store else None
    embs = {}
    for source in dict.fromkeys(args.models):
        emb = get_embeddings(source, words, store=store, progress=not args.no_progress, device=args.device)
        if emb.vectors.ndim != 2:
            raise ParameterError(
                f"--models {source}: vectors of shape {emb.vectors.shape[1:]}; choose one layer"
            )
        embs[_name(source)] = emb
    result = task.run(embs)
    if args.out is not None:
        out = Path(args.out)
    else:
        from wordembed import paths

        out = paths.outputs_dir() / "cli" / "agreement"
    m = result.metrics
    record = {k: m[k] for k in ("models", "n_words", "n_pairs", "pair_sources", "options", "matrices", "coverage")}
    raw = result.table[result.table["variant"] == "raw"].drop(columns="variant").reset_index(drop=True)
    with writing("--out", out):
        Result.combine(result, agreement=record | {"words": args.words}).save(out)
        write_table(out, "agreement_table", raw)
        for key, matrix in result.matrices.items():
            write_table(out, f"agreement_{key}", matrix.reset_index(names="model"))
    sources = m["pair_sources"]
    related = f", {sources['related']:,} related pairs" if "related" in sources else ""
    print(
        f"{len(embs)} models, {m['n_words']:,} shared words, {sources['random']:,} random pairs{related}; wrote {out}"
    )
    for key, matrix in result.matrices.items():
        print(f"\n{key}:\n{matrix.round(3).to_string()}")
    return 0
