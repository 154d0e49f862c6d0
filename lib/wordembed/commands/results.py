"""``wordembed results show DIR``: how a results folder was made (versions, commit, machine, inputs)."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("results", help="inspect results folders", description="Inspect results folders.")
    sub = p.add_subparsers(dest="results_command", metavar="ACTION", required=True)
    show = sub.add_parser("show", help="print how a notebook's results were made")
    show.add_argument("folder", type=Path, help="a notebook's results folder (holds metrics.json)")
    show.set_defaults(func=run_show)


def run_show(args: argparse.Namespace) -> int:
    from wordembed.results import show_provenance

    print(show_provenance(args.folder))
    return 0
