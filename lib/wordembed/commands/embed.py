"""``wordembed embed`` fills the store (and can export word2vec text); ``wordembed store`` lists, removes and
exports entries (``store export``: a stored model as word2vec text or one ``.npz``, without loading it)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from wordembed.commands.arguments import device_arg, out_file, writing
from wordembed.errors import ParameterError
from wordembed.store import EmbeddingStore

N_MISSING_SHOWN = 10


def register(subparsers: argparse._SubParsersAction) -> None:
    embed = subparsers.add_parser(
        "embed",
        help="embed a word list with a model into the store; optionally export word2vec text",
        description="Compute (or reuse) the vectors of a word list; only words not yet stored are encoded.",
    )
    embed.add_argument(
        "--model", required=True, help="model key of params/models, a model YAML file, or a vector file"
    )
    embed.add_argument(
        "--words",
        required=True,
        help="vocabulary: wordnet, bats, google, wordsim, study, or a file with one word per line",
    )
    embed.add_argument(
        "--out", type=out_file, help="also write the vectors in word2vec text format to this file"
    )
    embed.add_argument(
        "--device", type=device_arg, help="auto, cpu, cuda or cuda:N (default auto: CUDA when present)"
    )
    embed.add_argument("--store", type=Path, help="store folder (default: $WORDEMBED_STORE or the cache)")
    embed.add_argument("--no-progress", action="store_true", help="no progress bar")
    embed.set_defaults(func=run_embed)

    store = subparsers.add_parser("store", help="list, remove or export embedding store entries")
    store.add_argument("--store", type=Path, help="store folder (default: $WORDEMBED_STORE or the cache)")
    actions = store.add_subparsers(dest="store_command", metavar="ACTION")
    listing = actions.add_parser("list", help="one line per entry: model, fingerprint, words, size")
    listing.add_argument(
        "--verify", action="store_true", help="re-hash every chunk against its checksum and report bad ones"
    )
    listing.set_defaults(func=run_store_list)
    remove = actions.add_parser("remove", help="remove the entries of a model key, or one fingerprint")
    remove.add_argument("target", metavar="KEY|FINGERPRINT")
    remove.set_defaults(func=run_store_remove)
    export = actions.add_parser(
        "export",
        help="write a stored entry's vectors as word2vec text or one .npz",
        description="Write the vectors a store entry holds, without loading its model. word2vec text keeps "
        "float32 exactly (9 significant digits); .npz holds arrays words, vectors, missing, key, fingerprint.",
    )
    export.add_argument("target", metavar="KEY|FINGERPRINT")
    export.add_argument("--to", required=True, choices=("word2vec", "npz"), help="the file format")
    export.add_argument("--out", required=True, type=out_file, help="the file to write (replaced if it exists)")
    export.add_argument(
        "--words", help="only these words, in this order: a file with one word per line (or a vocabulary name)"
    )
    export.add_argument(
        "--layer",
        type=layer_arg,
        help="for an entry of all layers per word: the layer to export (0 = embeddings, negative from the "
        "end), or 'all' (npz only)",
    )
    export.set_defaults(func=run_store_export)
    store.set_defaults(func=run_store_list)


def layer_arg(text: str) -> int | str:
    """An argparse type: an integer layer index or ``all``."""
    if text.strip() == "all":
        return "all"
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be an integer layer index or 'all', got {text!r}") from None


def _store(args: argparse.Namespace) -> EmbeddingStore:
    return EmbeddingStore(getattr(args, "store", None))


def run_embed(args: argparse.Namespace) -> int:
    from wordembed.datasets import load_vocabulary
    from wordembed.sources import get_embeddings

    words = list(dict.fromkeys(load_vocabulary(args.words)))
    if not words:
        raise ParameterError(f"--words {args.words}: the word list is empty")
    emb = get_embeddings(
        args.model, words, store=_store(args), progress=not args.no_progress, device=args.device
    )
    asked = len(emb.words) + len(emb.missing)
    shape = "x".join(str(s) for s in emb.vectors.shape[1:])
    print(
        f"{emb.model or args.model}: {len(emb.words)} / {asked} words have vectors "
        f"({100 * emb.coverage():.2f}%), vectors of shape {shape}"
    )
    if emb.missing:
        shown = ", ".join(emb.missing[:N_MISSING_SHOWN])
        more = (
            f", ... ({len(emb.missing) - N_MISSING_SHOWN} more)" if len(emb.missing) > N_MISSING_SHOWN else ""
        )
        print(f"missing: {shown}{more}")
    if args.out is not None:
        if emb.vectors.ndim != 2:
            raise ParameterError(
                f"--out: word2vec text holds one vector per word, but {args.model} gives shape "
                f"{emb.vectors.shape[1:]} (all layers); choose one layer in the model's options"
            )
        from wordembed.vectorfile import write_word2vec_text

        with writing("--out", args.out):
            args.out.parent.mkdir(parents=True, exist_ok=True)
            write_word2vec_text(emb, args.out)
        print(f"wrote {len(emb.words)} vectors to {args.out}")
    return 0


def _size(n: int) -> str:
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{n} B"


def run_store_list(args: argparse.Namespace) -> int:
    store = _store(args)
    entries = store.entries(verify=getattr(args, "verify", False))
    if not entries:
        print(f"the store under {store.root} is empty")
        return 0
    rows = [("model", "fingerprint", "words", "missing", "shape", "size", "created")]
    for e in entries:
        shape = "x".join(str(s) for s in e.shape) if e.shape else "-"
        rows.append(
            (
                e.key,
                e.path.name.rsplit("-", 1)[-1],
                str(e.n_words),
                str(e.n_missing),
                shape,
                _size(e.size_bytes),
                e.created,
            )
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for r in rows:
        print("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip())
    problems = [(e, p) for e in entries for p in e.problems]
    for e, problem in problems:
        print(f"{e.key} {e.path.name.rsplit('-', 1)[-1]}: {problem}")
    print(f"({len(entries)} entries under {store.root}" + (", chunks re-hashed)" if getattr(args, "verify", False) else ")"))
    return 1 if problems else 0


def run_store_remove(args: argparse.Namespace) -> int:
    removed = _store(args).remove(args.target)
    for e in removed:
        print(f"removed {e.key} ({e.n_words} words, {_size(e.size_bytes)}): {e.path}", file=sys.stdout)
    return 0


def run_store_export(args: argparse.Namespace) -> int:
    from wordembed.store import export_entry

    words = None
    if args.words is not None:
        from wordembed.datasets import load_vocabulary

        words = list(dict.fromkeys(load_vocabulary(args.words)))
        if not words:
            raise ParameterError(f"--words {args.words}: the word list is empty")
    with writing("--out", args.out):
        done = export_entry(_store(args), args.target, to=args.to, out=args.out, words=words, layer=args.layer)
    fingerprint = done.entry.path.name.rsplit("-", 1)[-1]
    layer = "" if done.layer is None else f", layer {done.layer}"
    print(f"wrote {len(done.words)} vectors of {done.entry.key} ({fingerprint}{layer}) to {done.path} as {done.to}")
    if done.missing:
        shown = ", ".join(done.missing[:N_MISSING_SHOWN])
        more = f", ... ({len(done.missing) - N_MISSING_SHOWN} more)" if len(done.missing) > N_MISSING_SHOWN else ""
        print(f"no vector stored for {len(done.missing)} words: {shown}{more}")
    return 0
