"""Subcommands of the ``wordembed`` console command, one module each.

Each module defines ``register(subparsers) -> None``, which adds its parser(s) and sets ``func`` on them
(``func(args: argparse.Namespace) -> int``, the exit code).
"""

COMMAND_MODULES: tuple[str, ...] = (
    "wordembed.commands.models",
    "wordembed.commands.embed",
    "wordembed.commands.similarity",
    "wordembed.commands.analogy",
    "wordembed.commands.agreement",
    "wordembed.commands.run",
    "wordembed.commands.results",
    "wordembed.commands.data",
    "wordembed.commands.layers",
    "wordembed.commands.compare_layers",
)
