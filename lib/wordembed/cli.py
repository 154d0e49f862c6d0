"""The ``wordembed`` console command: a thin dispatcher over :mod:`wordembed.commands`."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from typing import NoReturn

from wordembed.commands import COMMAND_MODULES
from wordembed.errors import WordembedError


class OneLineParser(argparse.ArgumentParser):
    """argparse, but a usage error is one line: the message, and where the usage is.

    argparse prints the whole usage block first, which for ``similarity`` or ``agreement`` is several lines
    that push the one that matters (``argument --bins: must be an integer in 2000..200000 ...``) out of
    sight. Subparsers are made with the parent's class, so every subcommand behaves the same.
    """

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} -h)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(
        prog="wordembed",
        description="Word embeddings of LLMs versus classical encoders: embed, analyse, run the study.",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name == name:  # command not built yet
                continue
            raise
        module.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except WordembedError as exc:
        print(f"wordembed: error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:  # a full disk or a lost mount outside any write the commands wrap themselves
        print(f"wordembed: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("wordembed: interrupted; finished work is kept", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
