"""`wordembed analogy` (BATS / Google analogies) and `wordembed wordsim` (word-similarity benchmarks).

Both take a model key, a model YAML or a word2vec/GloVe vector file, embed only the words they need (through
the store, so a model's words are computed once), and write tables (CSV + Parquet) and ``metrics.json``.
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from wordembed.analyses.analogy import ANSWER_RULES, GOOGLE_METHODS, METHODS
from wordembed.commands.arguments import device_arg, out_dir, schema_int, writing
from wordembed.study import bounds_text


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "analogy",
        help="solve BATS or Google analogies with a model's vectors",
        description="Solve every analogy question of BATS 3.0 (or the Google set) by vector arithmetic and write "
        "per-question, per-relation, per-group and overall accuracy / MRR / top-5 with bootstrap intervals (over "
        "relations, or Google sections; a relation's over its test pairs). Ties count against the answer.",
    )
    parser.add_argument("--model", required=True, help="model key, model YAML, or word2vec/GloVe vector file")
    parser.add_argument("--dataset", choices=["bats", "google"], default="bats")
    parser.add_argument(
        "--method",
        nargs="+",
        default=None,
        choices=list(METHODS),
        metavar="METHOD",
        help=f"solvers: {', '.join(METHODS)} (default: 3CosAdd 3CosMul LRCos for BATS, 3CosAdd 3CosMul for Google)",
    )
    parser.add_argument(
        "--vocab",
        default=None,
        help="candidate answers: a vocabulary name (wordnet, bats, google, wordsim, study) or a file with one "
        "word per line; the data set's own words are always added (default: BATS words + WordNet lemmas)",
    )
    parser.add_argument(
        "--keep-question-words",
        action="store_true",
        help="honest mode: a, a's answers and b stay candidates (default: excluded, as vecto does)",
    )
    parser.add_argument(
        "--answer-rule",
        choices=list(ANSWER_RULES),
        default="first_present",
        help="which listed answer of a is a': the first the model has (default) or the first listed (vecto)",
    )
    parser.add_argument(
        "--n-boot",
        type=schema_int("bootstrap"),
        default=1000,
        help=f"bootstrap replicates, {bounds_text('bootstrap')} (0: no intervals; default 1000)",
    )
    parser.add_argument(
        "--seed", type=schema_int("seed"), default=0, help=f"{bounds_text('seed')} (default 0)"
    )
    parser.add_argument(
        "--device", type=device_arg, default=None, help="auto, cpu, cuda or cuda:N for model encoders"
    )
    parser.add_argument(
        "--out", type=out_dir, help="output folder (default outputs/analogy/<model>-<dataset>)"
    )
    parser.set_defaults(func=_analogy)

    ws = subparsers.add_parser(
        "wordsim",
        help="Spearman rho of a model's cosines against human word-similarity ratings",
        description="SimLex-999, WordSim-353 (all/sim/rel), MEN, RG-65 and Rare Words: Spearman rho with its "
        "bootstrap interval and coverage (pairs with a missing word are dropped and counted).",
    )
    ws.add_argument("--model", required=True, help="model key, model YAML, or word2vec/GloVe vector file")
    ws.add_argument("--sets", nargs="+", default=None, help="benchmarks (default: all)")
    ws.add_argument(
        "--lowercase", action="store_true", help="look words up in lower case (GloVe-style vocabularies)"
    )
    ws.add_argument(
        "--n-boot",
        type=schema_int("bootstrap"),
        default=1000,
        help=f"bootstrap replicates, {bounds_text('bootstrap')} (0: no intervals; default 1000)",
    )
    ws.add_argument("--seed", type=schema_int("seed"), default=0, help=f"{bounds_text('seed')} (default 0)")
    ws.add_argument(
        "--device", type=device_arg, default=None, help="auto, cpu, cuda or cuda:N for model encoders"
    )
    ws.add_argument("--out", type=out_dir, help="output folder (default outputs/wordsim/<model>)")
    ws.set_defaults(func=_wordsim)


def _slug(text: str) -> str:
    return (
        re.sub(r"[^A-Za-z0-9._-]+", "_", Path(text).stem if Path(text).suffix else text).strip("_") or "model"
    )


def _out_dir(args: argparse.Namespace, kind: str, suffix: str = "") -> Path:
    if args.out:
        return Path(args.out)
    from wordembed.paths import outputs_dir

    return outputs_dir() / kind / (_slug(args.model) + suffix)


def _analogy(args: argparse.Namespace) -> int:
    from wordembed.analyses.analogy import Candidates, default_candidates, solve_bats, solve_google
    from wordembed.datasets import bats_words, load_bats, load_google_analogy, load_vocabulary
    from wordembed.errors import ParameterError
    from wordembed.results import write_metrics, write_table
    from wordembed.sources import get_embeddings

    if args.dataset == "bats":
        relations = load_bats()
        data_words = bats_words(relations)
        methods = args.method or ["3CosAdd", "3CosMul", "LRCos"]
    else:
        questions = load_google_analogy()
        data_words = sorted(set(questions[["a", "b", "c", "d"]].to_numpy().ravel()))
        methods = args.method or ["3CosAdd", "3CosMul"]
        bad = [m for m in methods if m not in GOOGLE_METHODS]
        if bad:
            raise ParameterError(
                f"--method {' '.join(bad)} not available for Google; valid: {', '.join(GOOGLE_METHODS)}"
            )
    if args.vocab:
        vocab_name = args.vocab
        words = sorted(set(load_vocabulary(args.vocab)) | set(data_words))
    else:
        vocab_name = "bats+wordnet"
        words = default_candidates(data_words)
    emb = get_embeddings(args.model, words, device=args.device)
    cand = Candidates.from_embeddings(emb, words, name=vocab_name)
    exclude = not args.keep_question_words
    if args.dataset == "bats":
        result = solve_bats(
            emb,
            relations,
            methods=methods,
            candidates=cand,
            exclude_question_words=exclude,
            answer_rule=args.answer_rule,
            n_boot=args.n_boot,
            seed=args.seed,
        )
    else:
        result = solve_google(
            emb,
            questions,
            methods=methods,
            candidates=cand,
            exclude_question_words=exclude,
            n_boot=args.n_boot,
            seed=args.seed,
        )
    out = _out_dir(args, "analogy", f"-{args.dataset}")
    metrics = result.to_dict()
    metrics["setup"]["source"] = str(args.model)
    with writing("--out", out):
        for name, table in result.tables().items():
            write_table(out, name, table)
        (out / "candidates.txt").write_text("\n".join(cand.words) + "\n", encoding="utf-8")
        write_metrics(out, metrics)
    unit = result.setup["interval_unit"]["overall"]
    for row in result.overall.to_dict("records"):
        degenerate = f", {row['degenerate']} degenerate" if row["degenerate"] else ""
        print(
            f"{row['method']:>12}: accuracy {row['accuracy']:.3f} "
            f"[{row['accuracy_low']:.3f}, {row['accuracy_high']:.3f}], MRR {row['mrr']:.3f}, "
            f"top-5 {row['top5']:.3f}, coverage {row['coverage']:.3f} ({row['questions']} questions{degenerate})"
        )
    print(f"intervals: 95% bootstrap over {unit}s (nan: --n-boot 0)")
    print(f"candidates: {len(cand.words)} words; results in {out}")
    return 0


def _wordsim(args: argparse.Namespace) -> int:
    from wordembed.analyses.word_similarity import evaluate_word_similarity
    from wordembed.datasets import WORD_SIMILARITY_SETS, load_word_similarity
    from wordembed.errors import ParameterError
    from wordembed.results import write_metrics, write_table
    from wordembed.sources import get_embeddings

    names = args.sets or list(WORD_SIMILARITY_SETS)
    bad = [n for n in names if n not in WORD_SIMILARITY_SETS]
    if bad:
        raise ParameterError(f"--sets {' '.join(bad)} unknown; valid: {', '.join(WORD_SIMILARITY_SETS)}")
    sets = {n: load_word_similarity(n) for n in names}
    words = sorted({w for f in sets.values() for w in (*f["word1"].astype(str), *f["word2"].astype(str))})
    if args.lowercase:
        words = sorted({w.lower() for w in words})
    emb = get_embeddings(args.model, words, device=args.device)
    result = evaluate_word_similarity(emb, sets, lowercase=args.lowercase, n_boot=args.n_boot, seed=args.seed)
    out = _out_dir(args, "wordsim")
    metrics = result.to_dict()
    metrics["setup"]["source"] = str(args.model)
    with writing("--out", out):
        for name, table in result.tables().items():
            write_table(out, name, table)
        write_metrics(out, metrics)
    for row in result.summary.to_dict("records"):
        print(
            f"{row['benchmark']:>10}: rho {row['spearman']:.3f} [{row['spearman_low']:.3f}, "
            f"{row['spearman_high']:.3f}], coverage {row['covered']}/{row['pairs']}"
        )
    print(f"results in {out}")
    return 0
