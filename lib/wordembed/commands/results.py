"""``wordembed results show DIR``: how a results folder was made (versions, commit, machine, inputs);
``wordembed results scores DIR``: every number of a study (or one folder) as the long scores table.

Why the second: the report, a notebook and a reader at a terminal should read the same numbers the same way
(:func:`wordembed.results.load_results`), not the nested keys of each ``metrics.json``.
"""

from __future__ import annotations

import argparse
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("results", help="inspect results folders", description="Inspect results folders.")
    sub = p.add_subparsers(dest="results_command", metavar="ACTION", required=True)
    show = sub.add_parser("show", help="print how a notebook's results were made")
    show.add_argument("folder", type=Path, help="a notebook's results folder (holds metrics.json)")
    show.set_defaults(func=run_show)
    scores = sub.add_parser(
        "scores",
        help="print (or write) the long scores table of a study or a results folder",
        description="Every scores table under FOLDER in one table: model, task, dataset, variant, level, subset, "
        "method, metric, value, ci_low, ci_high, n, coverage, source.",
    )
    scores.add_argument("folder", type=Path, help="a study's output folder (outputs/default) or one results folder")
    for column in ("model", "task", "dataset", "variant", "level", "subset", "method", "metric"):
        scores.add_argument(f"--{column}", nargs="+", metavar=column.upper(), help=f"keep rows whose {column} is one of these")
    scores.add_argument("--csv", type=Path, metavar="FILE", help="write the table to FILE instead of printing it")
    scores.set_defaults(func=run_scores)


def run_show(args: argparse.Namespace) -> int:
    from wordembed.results import show_provenance

    print(show_provenance(args.folder))
    return 0


def run_scores(args: argparse.Namespace) -> int:
    from wordembed.results import load_results

    table = load_results(args.folder)
    for column in ("model", "task", "dataset", "variant", "level", "subset", "method", "metric"):
        wanted = getattr(args, column)
        if wanted:
            table = table[table[column].isin(wanted)]
    if args.csv is not None:
        table.to_csv(args.csv, index=False)
        print(f"wrote {len(table):,} rows to {args.csv}")
    else:
        print(table.to_string(index=False, float_format=lambda v: f"{v:.4f}") if len(table) else "no scores")
    return 0
