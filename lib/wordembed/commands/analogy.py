"""`wordembed analogy` (BATS / Google analogies) and `wordembed wordsim` (word-similarity benchmarks).

Each is a few lines around a task (:class:`wordembed.tasks.Analogies`, :class:`wordembed.tasks.WordSimilarity`):
build it from the flags, embed the words it asks for (through the store, so a model's words are computed
once; or from a word2vec/GloVe file), run it, save its result. The files are the task's (module docstrings
of :mod:`wordembed.tasks.analogies` and :mod:`wordembed.tasks.word_similarity`), the same notebook 04 writes
on the same parameters (tests/test_tasks.py), plus the names this command wrote before the task layer
(:func:`_legacy_files`).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
from pathlib import Path
from typing import Any

from wordembed.analyses.analogy import ANSWER_RULES
from wordembed.commands.arguments import device_arg, out_dir, schema_int, writing
from wordembed.study import PARAMETERS, bounds_text
from wordembed.tasks.solvers import SOLVERS
from wordembed.vocabulary import ANALOGY_CANDIDATE_MODES


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
        choices=list(SOLVERS),  # the registry, read when the parser is built
        metavar="METHOD",
        help=f"solvers: {', '.join(SOLVERS)} (default: {' '.join(PARAMETERS['analogy_methods'].default)}, "
        "less those the Google set cannot ask)",
    )
    parser.add_argument(
        "--vocab",
        default="wordnet",
        help="the vocabulary whose words join the candidate answers: wordnet, bats, google, wordsim, study, or a "
        "file with one word per line (default wordnet, as a study); the BATS and Google words are always added",
    )
    parser.add_argument(
        "--vocab-limit",
        type=schema_int("vocab_limit"),
        default=0,
        help=f"a seeded sample of this many vocabulary words, {bounds_text('vocab_limit')} (0: all; default 0)",
    )
    parser.add_argument(
        "--candidates",
        choices=list(ANALOGY_CANDIDATE_MODES),
        default="bats+vocabulary",
        help="candidate answers: BATS + vocabulary (default), the BATS words alone, or 'common': BATS + "
        "vocabulary restricted to the words every model of --models covers (a study's default)",
    )
    parser.add_argument(
        "--models",
        nargs="+",
        default=[],
        metavar="MODEL",
        help="with --candidates common: the other models of the comparison (read from the store)",
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
        "--lowercase",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="look words up in lower case, as a study does (default; --no-lowercase keeps the sets' case)",
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
    from wordembed.analyses.analogy import Candidates
    from wordembed.sources import classify_source, get_embeddings
    from wordembed.tasks import Analogies, CandidateWords, candidate_name, candidate_pool
    from wordembed.vocabulary import common_candidates, select_vocabulary

    classify_source(args.model)  # a bad --model fails before the data sets are read
    vocab = select_vocabulary(args.vocab, args.vocab_limit, args.seed)
    words = candidate_pool(vocab, args.candidates)
    settings: dict[str, Any] = {
        "dataset": args.dataset,
        "methods": args.method,
        "keep_question_words": args.keep_question_words,
        "answer_rule": args.answer_rule,
        "bootstrap": args.n_boot,
        "seed": args.seed,
    }
    draft = Analogies(**settings, candidates=CandidateWords(words=words))  # validated before any model loads
    emb = get_embeddings(args.model, draft.words(), device=args.device)
    candidate_models = [emb.model or str(args.model)]
    if args.candidates == "common":  # as notebook 04: the words every model of the comparison covers
        candidate_models = list(dict.fromkeys([*candidate_models, *args.models]))
        coverage = {
            m: emb.words if m == candidate_models[0] else get_embeddings(m, words, device=args.device).words
            for m in candidate_models
        }
        words = common_candidates(words, coverage)
    name = candidate_name(args.candidates, args.vocab)
    candidates = Candidates.from_embeddings(emb, words, name=name, models=candidate_models)
    result = Analogies(**settings, candidates=candidates).run(emb)
    out = _out_dir(args, "analogy", f"-{args.dataset}")
    record = result.metrics[args.dataset]
    legacy = {"setup": record["setup"] | {"source": str(args.model)}, "overall": record["overall"],
              "by_group": record["by_group"]}  # fmt: skip
    with writing("--out", out):
        _save(result, out, {"candidates": candidates.describe(), **legacy})
        _legacy_files(out, args.dataset)
    unit = record["setup"]["interval_unit"]["overall"]
    for row in result.overall.to_dict("records"):
        degenerate = f", {row['degenerate']} degenerate" if row["degenerate"] else ""
        print(
            f"{row['method']:>12}: accuracy {row['accuracy']:.3f} "
            f"[{row['accuracy_low']:.3f}, {row['accuracy_high']:.3f}], MRR {row['mrr']:.3f}, "
            f"top-5 {row['top5']:.3f}, coverage {row['coverage']:.3f} ({row['questions']} questions{degenerate})"
        )
    print(f"intervals: 95% bootstrap over {unit}s (nan: --n-boot 0)")
    print(f"candidates: {len(candidates.words)} words ({name}); results in {out}")
    return 0


def _wordsim(args: argparse.Namespace) -> int:
    from wordembed.sources import classify_source, get_embeddings
    from wordembed.tasks import WordSimilarity

    classify_source(args.model)
    task = WordSimilarity(sets=args.sets, lowercase=args.lowercase, bootstrap=args.n_boot, seed=args.seed)
    result = task.run(get_embeddings(args.model, task.words(), device=args.device))
    out = _out_dir(args, "wordsim")
    record = result.metrics["word_similarity"]
    legacy = {"setup": record["setup"] | {"source": str(args.model)}, "benchmarks": record["benchmarks"]}
    with writing("--out", out):
        _save(result, out, legacy)
    for row in result.summary.to_dict("records"):
        print(
            f"{row['benchmark']:>10}: rho {row['spearman']:.3f} [{row['spearman_low']:.3f}, "
            f"{row['spearman_high']:.3f}], coverage {row['covered']}/{row['pairs']}"
        )
    print(f"results in {out}")
    return 0


def _save(result: Any, out: Path, record: dict[str, Any]) -> None:
    """The task's files; ``record``: keys ``metrics.json`` also gets. Besides the shared keys (checked against the
    task's own record) that is the section's record at the top level, where this command put it before the task
    layer (tests/test_analogy.py and tests/test_word_similarity.py read it there)."""
    from wordembed.tasks import Result

    Result.combine(result, **record).save(out)


LEGACY_TABLES: tuple[str, ...] = ("questions", "by_relation", "by_group", "overall")


def _legacy_files(out: Path, dataset: str) -> None:
    """``analogy_<table>`` beside ``<dataset>_<table>``, as hard links (a copy where links fail): the names
    this command wrote before the task layer, read by tests/test_analogy.py and tests/test_core_install.py.
    Drop once those read the task's names."""
    for table in LEGACY_TABLES:
        for ext in (".csv", ".parquet", ".meta.json"):
            source, alias = out / f"{dataset}_{table}{ext}", out / f"analogy_{table}{ext}"
            alias.unlink(missing_ok=True)
            if not source.is_file():
                continue
            try:
                os.link(source, alias)
            except OSError:
                shutil.copy2(source, alias)
