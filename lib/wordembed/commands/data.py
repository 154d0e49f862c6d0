"""``wordembed data list`` / ``wordembed data fetch``: see and get the evaluation data sets.

Why: a new user with a clone and no workspace ``shared/data`` needs one command to learn what is missing
and one to get it, verified against checksums shipped in the package (see :mod:`wordembed.datasets.fetch`).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "data", help="list or fetch the evaluation data sets", description="List or fetch the data sets."
    )
    sub = p.add_subparsers(dest="data_command", metavar="ACTION", required=True)
    root_help = (
        "data directory (default: WORDEMBED_DATA, else ../shared/data, else ~/.local/share/wordembed/data)"
    )

    show = sub.add_parser("list", help="which data sets are present and verified, and where")
    show.add_argument("--data-dir", type=Path, default=None, help=root_help)
    show.set_defaults(func=run_list)

    get = sub.add_parser(
        "fetch",
        help="download data sets from their public URLs (env WORDEMBED_DATA_MIRROR: <mirror>/<host>/<path>)",
    )
    get.add_argument("names", nargs="*", metavar="NAME", help="sets to fetch (see `wordembed data list`)")
    get.add_argument("--all", action="store_true", help="fetch every set that is not present and verified")
    get.add_argument("--force", action="store_true", help="replace a present but incomplete or modified set")
    get.add_argument("--data-dir", type=Path, default=None, help=root_help)
    get.add_argument(
        "--mirror", default=None, help="base URL replacing the canonical hosts (as the env variable)"
    )
    get.set_defaults(func=run_fetch)


def _root(args: argparse.Namespace) -> Path:
    from wordembed.paths import data_dir

    return args.data_dir.expanduser().resolve() if args.data_dir is not None else data_dir()


def run_list(args: argparse.Namespace) -> int:
    from wordembed.datasets.fetch import set_status
    from wordembed.datasets.sources import SETS
    from wordembed.datasets.wordnet import HOW_TO_GET, find_wordnet
    from wordembed.errors import DatasetNotFoundError

    root = _root(args)
    print(f"data directory: {root}")
    for name in SETS:
        status = set_status(name, root)
        detail = f"{status.verified}/{status.files} files verified"
        if status.problem:
            detail += f"; {status.problem}"
        print(f"  {name:<16} {status.state:<10} {status.title}: {status.path} ({detail})")
    try:
        print(
            f"  {'wordnet':<16} {'ok':<10} WordNet 3.0: {find_wordnet('auto')} (not checksummed; not fetched)"
        )
    except DatasetNotFoundError:
        print(f"  {'wordnet':<16} {'missing':<10} WordNet 3.0: not found; {HOW_TO_GET}")
    return 0


def run_fetch(args: argparse.Namespace) -> int:
    from wordembed.datasets.fetch import fetch_set, resolve_names
    from wordembed.datasets.sources import SETS
    from wordembed.errors import ParameterError, WordembedError

    if args.all and args.names:
        raise ParameterError("name data sets or pass --all, not both")
    if not args.all and not args.names:
        raise ParameterError(f"name the data sets to fetch ({', '.join(SETS)}) or pass --all")
    names = list(SETS) if args.all else resolve_names(args.names)
    root = _root(args)
    failed = 0
    for name in names:
        try:
            print(fetch_set(name, root, force=args.force, mirror=args.mirror))
        except WordembedError as err:  # keep going: one unreachable host should not block the others
            print(f"wordembed: error: {err}", file=sys.stderr)
            failed += 1
    return 2 if failed else 0
