"""Which layer is a decoder's word embedding? Every hidden layer scored from one forward pass.

A decoder LLM has no word-embedding layer in the sense a reader of the paper expects: the study reads the
hidden state of one layer (the middle one by default), and every number of the report depends on that choice.
The sweep removes the arbitrariness: the decoder runs once with ``layer: all`` (vectors of shape
``(words, L + 1, dims)``, layer 0 being the embedding output), and each layer is scored as if it were the model's
word embedding:

- ``anisotropy``: the exact mean cosine of all pairs of the sweep vocabulary, from the sum of the unit vectors
  (:func:`wordembed.analyses.postprocess.cosine_contributions`, O(n d)); a description, not a quality.
- ``auroc_{centered,standardized}_{morphological,semantic}``: AUROC of BATS related pairs against random pairs
  of the same words (:func:`wordembed.analyses.related.related_similarity`) after mean-centring and after
  per-dimension standardisation (:func:`~wordembed.analyses.postprocess.anisotropy_variants`; the statistics
  come from the sweep vocabulary). Raw AUROC is left out: across layers it mostly tracks the anisotropy.
- ``bats_3CosAdd_{morphological,semantic}``: 3CosAdd accuracy
  (:func:`wordembed.analyses.analogy.solve_bats`), candidates = the sweep vocabulary, question words excluded.
- ``rho_simlex999``, ``rho_men``: Spearman rho of cosines with human ratings
  (:func:`wordembed.analyses.word_similarity.evaluate_similarity`).

Every score but anisotropy is computed separately on the development and the test half of the data
(:mod:`wordembed.analyses.split`): relations, pairs and random pairs of one half never enter the other's
numbers. :func:`choose_layer` then picks the layer on the development rows only, by the rule stated in
:data:`RULE`, and :func:`at_layer` reads the test rows at that layer. Work is vectorised over words and
questions inside each analysis; the only Python loop runs over layers (and the few data parts).

Prompt and pooling grid: a decoder's vector also depends on what surrounds the word and how its tokens are
pooled. :data:`PROMPT_GRID` holds the configurations compared: the bare word after BOS and ``The word: {word}``,
each with mean and last-token pooling; PromptEOL with the prompt's last token; the echo ``{word} {word}``,
pooled over the second copy. By default (``grid_layers="chosen"``) each is scored at the layer chosen on dev for
the model's own setting: one layer is scored per configuration (against L + 1 for the sweep) and the decoder
runs only up to that layer, though each configuration still costs a forward pass. The question it answers is "at the depth the sweep chose, does the text around
the word matter?"; since that depth was tuned (on dev) for the model's own prompt, the comparison leans towards
it, which the table says (``chosen_on``). ``grid_layers="all"`` removes the lean: every configuration is swept
over every layer and gets its own layer chosen on dev, at L + 1 times the scoring and a full forward pass each
(hours per model on two CPU cores, minutes on a GPU).

Memory: the sweep holds ``words x (L + 1) x dims`` floats (SmolLM2-135M, 16,328 words: 1.2 GB in float32,
0.6 GB in float16 with ``dtype="float16"``); :func:`layer_vectors` fills that array chunk by chunk from the
store, so the store's own copies never double it.
"""

from __future__ import annotations

import re
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import ConstantInputWarning

from wordembed.analyses.analogy import Candidates, solve_bats
from wordembed.analyses.postprocess import anisotropy_variants, cosine_contributions
from wordembed.analyses.related import related_similarity
from wordembed.analyses.split import PARTS, Split, make_split
from wordembed.analyses.word_similarity import evaluate_similarity
from wordembed.embeddings import Embeddings
from wordembed.errors import ParameterError

KINDS: tuple[str, ...] = ("morphological", "semantic")
AUROC_VARIANTS: tuple[str, ...] = ("centered", "standardized")
SIMILARITY_SETS: tuple[str, ...] = ("simlex999", "men")
METRICS: tuple[str, ...] = (
    "anisotropy",
    *(f"auroc_{v}_{k}" for v in AUROC_VARIANTS for k in KINDS),
    *(f"bats_3CosAdd_{k}" for k in KINDS),
    *(f"rho_{s}" for s in SIMILARITY_SETS),
)
#: The development metrics the layer choice ranks: one per question (clustering of related pairs, analogy,
#: similarity, relatedness) and kind. Standardised AUROC is reported but not ranked: it moves with the centred
#: one and would count clustering twice.
RULE_METRICS: tuple[str, ...] = (
    "auroc_centered_morphological",
    "auroc_centered_semantic",
    "bats_3CosAdd_morphological",
    "bats_3CosAdd_semantic",
    "rho_simlex999",
    "rho_men",
)
RULE = (
    "on the development split only: rank the layers on each of " + ", ".join(RULE_METRICS) + " (1 = best, ties "
    "share the mean rank, a missing value ranks last); the chosen layer has the best (lowest) mean rank; a tie "
    "goes to the shallower layer (fewer layers to run)"
)
DEFAULT_RANDOM_PAIRS = 20_000
DEFAULT_CHUNK_WORDS = 2048
DTYPES: tuple[str, ...] = ("float32", "float16")

#: name -> decoder options of each prompt/pooling configuration (the model's own options fill the rest).
PROMPT_GRID: dict[str, dict[str, str]] = {
    "bare-mean": {"prompt": "{word}", "pooling": "mean"},
    "bare-last": {"prompt": "{word}", "pooling": "last"},
    "the-word-mean": {"prompt": "The word: {word}", "pooling": "mean"},
    "the-word-last": {"prompt": "The word: {word}", "pooling": "last"},
    "prompteol": {"prompt": 'This word : "{word}" means in one word:"', "pooling": "prompt_last"},
    "echo-mean": {"prompt": "{word} {word}", "pooling": "mean"},
}


# ------------------------------------------------------------------------------------------------ data


@dataclass
class SweepData:
    """The evaluation data of a sweep and their split: BATS relations, similarity sets (lower-cased)."""

    relations: list[Any]
    similarity: dict[str, pd.DataFrame]
    split: Split

    @classmethod
    def load(
        cls, *, seed: int = 0, sets: Sequence[str] = SIMILARITY_SETS, root: str | Path | None = None
    ) -> SweepData:
        """BATS 3.0, the similarity ``sets`` and :func:`~wordembed.analyses.split.make_split` of them."""
        from wordembed.datasets import load_bats, load_word_similarity

        relations = load_bats(root)
        similarity = {name: load_word_similarity(name, root, lowercase=True) for name in sets}
        split = make_split([r.id for r in relations], similarity, seed=seed, root=root)
        return cls(relations, similarity, split)

    def split_record(self) -> dict[str, Any]:
        """The split as written to ``split.json``: relation ids and each similarity part's word pairs."""
        return self.split.to_dict(self.similarity)

    def words(self) -> list[str]:
        """Every word the data need a vector for (BATS sources and answers, similarity pairs)."""
        found: set[str] = set()
        for rel in self.relations:
            for source, answers in rel.pairs:
                found.add(source)
                found.update(answers)
        for frame in self.similarity.values():
            found.update(frame["word1"].astype(str))
            found.update(frame["word2"].astype(str))
        return sorted(found)


# ------------------------------------------------------------------------------------------------ metrics


def _check_array(x: np.ndarray, words: Sequence[str]) -> np.ndarray:
    x = np.asarray(x)
    if x.ndim != 3:
        raise ParameterError(f"layer vectors must be a 3-D array (words, layers, dims), got shape {x.shape}")
    if x.shape[0] != len(words):
        raise ParameterError(f"layer vectors: {x.shape[0]} rows but {len(words)} words")
    if x.shape[1] < 1 or x.shape[2] < 1:
        raise ParameterError(f"layer vectors: no layers or no dimensions in shape {x.shape}")
    return x


def relative_depth(layer: int, n_layers: int) -> float:
    """``layer / L`` for hidden states ``0..L`` (``n_layers`` = L + 1); 0 for a one-layer (static) model."""
    return layer / (n_layers - 1) if n_layers > 1 else 0.0


def one_layer_metrics(
    emb: Embeddings,
    data: SweepData,
    candidates: Sequence[str],
    *,
    n_random: int = DEFAULT_RANDOM_PAIRS,
    seed: int = 0,
) -> list[dict[str, Any]]:
    """Rows ``{part, metric, value, n}`` of :data:`METRICS` for one layer's vectors ``emb`` (2-D).

    ``n`` is what the value is a mean over: relations (AUROC, 3CosAdd), covered pairs (rho), words
    (anisotropy). Each part's numbers use that part's relations / pairs only.
    """
    rows: list[dict[str, Any]] = [
        {"part": "all", "metric": "anisotropy", "value": cosine_contributions(emb.vectors)[0], "n": len(emb)}
    ]
    variants = anisotropy_variants(emb, 0, standardized=True)
    from wordembed.datasets import bats_pairs

    for part in PARTS:
        pairs = bats_pairs(data.split.bats(data.relations, part))
        for variant in AUROC_VARIANTS:
            result = related_similarity(variants[variant], pairs, n_random=n_random, seed=seed, n_boot=0)
            kinds = result.summary[result.summary["level"] == "kind"].set_index("name")
            for kind in KINDS:
                value = float(kinds.at[kind, "auroc"]) if kind in kinds.index else float("nan")
                n = int(kinds.at[kind, "n_relations"]) if kind in kinds.index else 0
                rows.append({"part": part, "metric": f"auroc_{variant}_{kind}", "value": value, "n": n})
    cand = Candidates.from_embeddings(emb, candidates, name="sweep")
    # one solve over every relation: a relation's questions use only its own pairs and the candidates, so
    # the dev and test accuracies below are those of solving each half alone
    analogy = solve_bats(emb, data.relations, methods=("3CosAdd",), candidates=cand, n_boot=0, seed=seed)
    by_rel = analogy.by_relation.set_index("relation")
    for part in PARTS:
        ids = [r.id for r in data.split.bats(data.relations, part)]
        part_rows = by_rel.loc[ids]
        for kind in KINDS:
            acc = part_rows.loc[part_rows["kind"] == kind, "accuracy"].to_numpy(dtype=float)
            value = float(acc.mean()) if acc.size else float("nan")
            rows.append({"part": part, "metric": f"bats_3CosAdd_{kind}", "value": value, "n": int(acc.size)})
    for part in PARTS:
        for name, frame in data.split.similarity_sets(data.similarity, part).items():
            with warnings.catch_warnings():  # a layer of constant cosines (PromptEOL's layer 0): rho is NaN
                warnings.simplefilter("ignore", ConstantInputWarning)
                row, _ = evaluate_similarity(emb, frame, name=name, n_boot=0, seed=seed)
            rows.append({"part": part, "metric": f"rho_{name}", "value": row["spearman"], "n": row["covered"]})
    return rows


def layer_metrics(
    x: np.ndarray,
    words: Sequence[str],
    data: SweepData,
    *,
    candidates: Sequence[str] | None = None,
    n_random: int = DEFAULT_RANDOM_PAIRS,
    seed: int = 0,
    layers: Sequence[int] | None = None,
    model: str = "",
    progress: Callable[[int, int], None] | None = None,
) -> pd.DataFrame:
    """Every metric of every layer of ``x`` (``(words, L + 1, dims)``, float32 or float16) as a long table.

    Columns: ``layer``, ``relative_depth`` (layer / L), ``part`` (dev, test; ``all`` for anisotropy),
    ``metric``, ``value``, ``n``. ``candidates``: the analogy candidates (default: ``words``, the sweep
    vocabulary); ``layers``: a subset of layer indices (default all). ``progress(done, total)`` is called
    after each layer. A layer's vectors are taken as float32 one at a time, so a float16 sweep never exists
    in float32 whole.
    """
    x = _check_array(x, words)
    n_layers = x.shape[1]
    chosen = list(range(n_layers)) if layers is None else [int(k) for k in layers]
    bad = [k for k in chosen if not 0 <= k < n_layers]
    if bad:
        raise ParameterError(f"layers {bad} out of range for {n_layers} layers (0..{n_layers - 1})")
    cand = list(words) if candidates is None else list(candidates)
    records = []
    for done, k in enumerate(chosen, start=1):
        emb = Embeddings(list(words), np.ascontiguousarray(x[:, k, :], dtype=np.float32), model=f"{model}@{k}")
        for row in one_layer_metrics(emb, data, cand, n_random=n_random, seed=seed):
            records.append({"layer": k, "relative_depth": relative_depth(k, n_layers), **row})
        if progress is not None:
            progress(done, len(chosen))
    return pd.DataFrame.from_records(records, columns=["layer", "relative_depth", "part", "metric", "value", "n"])


# ------------------------------------------------------------------------------------------------ choice


def choose_layer(table: pd.DataFrame, rule_metrics: Sequence[str] = RULE_METRICS) -> dict[str, Any]:
    """The layer :data:`RULE` picks, from the development rows of a :func:`layer_metrics` table only.

    The test rows are dropped before anything else is looked at, so no test number can move the choice.
    Returns ``layer``, ``relative_depth``, ``mean_rank``, ``ranks`` (metric -> that layer's rank), the
    ``rule`` and the ``metrics`` ranked.
    """
    missing = {"layer", "part", "metric", "value"} - set(table.columns)
    if missing:
        raise ParameterError(f"choose_layer: the table lacks column(s) {sorted(missing)}")
    dev = table[table["part"] == "dev"]
    wide = dev.pivot_table(index="layer", columns="metric", values="value", aggfunc="first", dropna=False)
    absent = [m for m in rule_metrics if m not in wide.columns]
    if absent or wide.empty:
        raise ParameterError(f"choose_layer: no development values of {absent or list(rule_metrics)}")
    ranks = wide[list(rule_metrics)].rank(ascending=False, method="average", na_option="bottom")
    mean_rank = ranks.mean(axis=1)
    best = mean_rank.min()
    layer = int(mean_rank.index[np.flatnonzero(np.isclose(mean_rank.to_numpy(), best))].min())
    depth = table.loc[table["layer"] == layer, "relative_depth"]
    return {
        "layer": layer,
        "relative_depth": float(depth.iloc[0]) if "relative_depth" in table and len(depth) else float("nan"),
        "mean_rank": float(mean_rank.loc[layer]),
        "ranks": {m: float(ranks.at[layer, m]) for m in rule_metrics},
        "mean_ranks": {int(k): float(v) for k, v in mean_rank.items()},
        "metrics": list(rule_metrics),
        "rule": RULE,
    }


def at_layer(table: pd.DataFrame, layer: int, part: str = "test") -> dict[str, float]:
    """metric -> value at ``layer`` on ``part`` (anisotropy, which has no parts, included)."""
    rows = table[(table["layer"] == layer) & table["part"].isin([part, "all"])]
    return {str(m): float(v) for m, v in zip(rows["metric"], rows["value"], strict=True)}


def wide_table(table: pd.DataFrame) -> pd.DataFrame:
    """One row per (config, layer, part), one column per metric: the table a reader scans."""
    index = [c for c in ("config", "layer", "relative_depth", "part") if c in table.columns]
    wide = table.pivot_table(index=index, columns="metric", values="value", aggfunc="first", sort=False)
    wide = wide.reset_index()
    wide.columns.name = None
    return wide[[*index, *[m for m in METRICS if m in wide.columns]]]


# ------------------------------------------------------------------------------------------------ vectors


def own_options(spec: Any) -> dict[str, Any]:
    """The spec's prompt and pooling, the decoder backend's defaults filling what its YAML leaves out."""
    from wordembed.models.decoder import DEFAULTS

    return {k: spec.options.get(k, DEFAULTS[k]) for k in ("prompt", "pooling")}


def grid_for(spec: Any, names: Sequence[str]) -> dict[str, dict[str, Any]]:
    """The grid entries to run for ``spec``, name -> options, without the one equal to the spec's own
    prompt and pooling (the main sweep already is that one)."""
    unknown = [n for n in names if n not in PROMPT_GRID]
    if unknown:
        raise ParameterError(f"prompt_grid: unknown entr(y/ies) {unknown}; valid: {', '.join(PROMPT_GRID)}")
    own = own_options(spec)
    return {n: PROMPT_GRID[n] for n in dict.fromkeys(names) if PROMPT_GRID[n] != own}


def own_grid_name(spec: Any) -> str:
    """The grid name of the spec's own prompt and pooling, or ``own`` when the grid has no such entry."""
    own = own_options(spec)
    return next((n for n, o in PROMPT_GRID.items() if o == own), "own")


def layer_vectors(
    model: str | Path,
    words: Sequence[str],
    *,
    options: Mapping[str, Any] | None = None,
    layer: int | str = "all",
    device: str | None = None,
    store: Any = None,
    dtype: str = "float32",
    chunk_words: int = DEFAULT_CHUNK_WORDS,
    progress: bool = False,
) -> tuple[np.ndarray, list[str], list[str]]:
    """``(vectors (covered, layers, dims), covered words, missing words)`` of ``model`` for ``words``.

    A decoder runs with ``layer`` (default ``all``: every hidden state, ``L + 1`` of them; an int gives that
    one layer as a sweep of one) plus ``options`` (a grid entry's prompt and pooling), through the embedding
    store, so a rerun reads the vectors back instead of running the model. Words go to the store in chunks of
    ``chunk_words`` and each chunk is copied into one preallocated array (``dtype`` float32, or float16 for
    half the memory), so the store's own copies never hold the whole sweep twice. Any other model family
    gives its one vector per word as a sweep of one layer (a reference line; no options).
    """
    from wordembed.models.registry import load_encoder
    from wordembed.models.spec import load_spec
    from wordembed.store import EmbeddingStore

    if dtype not in DTYPES:
        raise ParameterError(f"dtype {dtype!r} is not one of {', '.join(DTYPES)}")
    if isinstance(chunk_words, bool) or not isinstance(chunk_words, int) or chunk_words < 1:
        raise ParameterError(f"chunk_words must be a positive int, got {chunk_words!r}")
    spec = load_spec(model)
    if spec.family == "decoder":
        spec = spec.with_options({**dict(options or {}), "layer": layer})
    elif options:
        raise ParameterError(f"{spec.where}: options {sorted(options)} apply to decoders only (family {spec.family})")
    encoder = load_encoder(spec, device=device)
    store = store or EmbeddingStore()
    wanted = list(dict.fromkeys(words))
    if not wanted:
        raise ParameterError("layer sweep: no words given")
    out: np.ndarray | None = None
    covered: list[str] = []
    missing: list[str] = []
    for start in range(0, len(wanted), chunk_words):
        emb = store.embed(encoder, wanted[start : start + chunk_words], progress=progress)
        v = emb.vectors if emb.vectors.ndim == 3 else emb.vectors[:, None, :]
        if out is None:
            out = np.empty((len(wanted), *v.shape[1:]), dtype=dtype)
        block = out[len(covered) : len(covered) + len(emb)]
        block[...] = v
        if dtype == "float16" and not np.isfinite(block).all():
            raise ParameterError(f"{spec.key}: hidden states overflow float16; run the sweep with dtype float32")
        covered += emb.words
        missing += emb.missing
    assert out is not None
    return out[: len(covered)], covered, missing


# ------------------------------------------------------------------------------------------------ a whole sweep

GRID_LAYERS: tuple[str, ...] = ("chosen", "all")


@dataclass
class SweepResult:
    """One model's sweep: the long ``table`` (a ``config`` column: the model's own setting, then the grid
    entries), the layer each config is read at, and what the sweep ran on.

    ``choices[config]`` has ``layer`` and ``chosen_on``: the config whose development rows chose it (the
    config itself when the grid ran on every layer, else the model's own setting).
    """

    model: str
    table: pd.DataFrame
    choices: dict[str, dict[str, Any]]
    config: str
    setup: dict[str, Any]
    errors: dict[str, str]

    @property
    def choice(self) -> dict[str, Any]:
        """The layer chosen on dev for the model's own setting (its headline numbers)."""
        return self.choices[self.config]

    def own_table(self) -> pd.DataFrame:
        """The rows of the model's own setting: the sweep every headline number comes from."""
        return self.table[self.table["config"] == self.config]

    def headline(self) -> dict[str, float]:
        """Test numbers of the model's own setting at its dev-chosen layer."""
        return at_layer(self.own_table(), self.choice["layer"], "test")

    def grid_table(self) -> pd.DataFrame:
        """One row per config (own setting first): the layer it is read at, which config's dev rows chose
        it, and the test numbers there."""
        rows = []
        for config, choice in self.choices.items():
            part = self.table[self.table["config"] == config]
            options = self.setup["configs"][config]
            row = {
                "config": config,
                "prompt": options.get("prompt"),
                "pooling": options.get("pooling"),
                "layer": choice["layer"],
                "relative_depth": choice["relative_depth"],
                "chosen_on": choice["chosen_on"],
                **{f"test_{m}": v for m, v in at_layer(part, choice["layer"], "test").items()},
            }
            rows.append(row)
        return pd.DataFrame(rows)

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "config": self.config,
            "chosen_layer": self.choice["layer"],
            "relative_depth": self.choice["relative_depth"],
            "choice": self.choice,
            "headline_test": self.headline(),
            "grid": {
                c: {
                    "layer": ch["layer"],
                    "chosen_on": ch["chosen_on"],
                    "test": at_layer(self.table[self.table["config"] == c], ch["layer"], "test"),
                }
                for c, ch in self.choices.items()
            },
            "grid_errors": dict(self.errors),
            "setup": self.setup,
        }


def _single_layer_table(
    x: np.ndarray, words: Sequence[str], data: SweepData, layer: int, n_layers: int, *, n_random: int, seed: int,
    model: str,
) -> pd.DataFrame:
    """:func:`layer_metrics` of a one-layer array that is hidden state ``layer`` of ``n_layers``."""
    table = layer_metrics(x, words, data, candidates=words, n_random=n_random, seed=seed, model=model)
    table["layer"] = layer
    table["relative_depth"] = relative_depth(layer, n_layers)
    return table


def run_sweep(
    model: str | Path,
    data: SweepData,
    words: Sequence[str],
    *,
    grid: Sequence[str] = (),
    grid_layers: str = "chosen",
    n_random: int = DEFAULT_RANDOM_PAIRS,
    seed: int = 0,
    device: str | None = None,
    store: Any = None,
    dtype: str = "float32",
    log: Callable[[str], None] | None = None,
) -> SweepResult:
    """The sweep of ``model``'s own setting over every layer, its layer chosen on dev, and each ``grid``
    entry (decoders only).

    ``grid_layers="chosen"`` (default) reads every grid entry at the layer chosen for the model's own setting
    (one layer each: the decoder runs only up to it and one layer is scored); ``"all"`` sweeps every entry
    over every layer and chooses its own layer on dev (``L + 1`` times the scoring, a full forward pass each).
    A grid entry the backend refuses (a prompt it cannot take, a tokenizer without BOS) is recorded in
    ``errors`` and the rest goes on. ``words``: the sweep vocabulary
    (:func:`wordembed.vocabulary.layer_sweep_words`), also the analogy candidates.
    """
    from wordembed.models.spec import load_spec

    if grid_layers not in GRID_LAYERS:
        raise ParameterError(f"grid_layers {grid_layers!r} is not one of {', '.join(GRID_LAYERS)}")
    spec = load_spec(model)
    say = log or (lambda _m: None)
    decoder = spec.family == "decoder"
    own = own_grid_name(spec) if decoder else "own"
    entries = grid_for(spec, grid) if decoder else {}
    if grid and not decoder:
        say(f"{spec.key}: family {spec.family}, not a decoder: one layer, no prompt grid")
    configs = {own: own_options(spec) if decoder else {}} | entries

    def progress(config: str) -> Callable[[int, int], None]:
        return lambda done, total: say(f"  [{config}] layer {done}/{total} scored")

    clock: dict[str, dict[str, float]] = {own: {}}
    tick = time.perf_counter()
    x, covered, missing = layer_vectors(model, words, device=device, store=store, dtype=dtype)
    clock[own]["vectors"] = time.perf_counter() - tick
    n_layers = int(x.shape[1])
    shapes = {own: list(x.shape)}
    say(f"{spec.key} [{own}]: {n_layers} layers x {x.shape[2]} dims for {len(covered):,} words "
        f"({len(missing):,} missing)")
    tick = time.perf_counter()
    table = layer_metrics(x, covered, data, candidates=covered, n_random=n_random, seed=seed, model=spec.key,
                          progress=progress(own))
    clock[own]["scoring"] = time.perf_counter() - tick
    del x
    tables = [table.assign(config=own)]
    choices = {own: {**choose_layer(table), "chosen_on": own}}
    errors: dict[str, str] = {}
    for config, options in entries.items():
        clock[config] = {}
        try:
            tick = time.perf_counter()
            if grid_layers == "all":
                x, got, _ = layer_vectors(model, covered, options=options, device=device, store=store, dtype=dtype)
                clock[config]["vectors"] = time.perf_counter() - tick
                tick = time.perf_counter()
                table = layer_metrics(x, got, data, candidates=got, n_random=n_random, seed=seed,
                                      model=spec.key, progress=progress(config))
                choice = {**choose_layer(table), "chosen_on": config}
            else:
                k = choices[own]["layer"]
                x, got, _ = layer_vectors(model, covered, options=options, layer=k, device=device, store=store,
                                          dtype=dtype)
                clock[config]["vectors"] = time.perf_counter() - tick
                tick = time.perf_counter()
                table = _single_layer_table(x, got, data, k, n_layers, n_random=n_random, seed=seed, model=spec.key)
                choice = {"layer": k, "relative_depth": relative_depth(k, n_layers), "chosen_on": own}
        except ParameterError as exc:
            errors[config] = str(exc)
            say(f"{spec.key} [{config}]: not run: {exc}")
            continue
        clock[config]["scoring"] = time.perf_counter() - tick
        shapes[config] = list(x.shape)
        del x
        say(f"{spec.key} [{config}]: scored at {'every layer' if grid_layers == 'all' else f'layer {k}'}")
        tables.append(table.assign(config=config))
        choices[config] = choice
    setup = {
        "model": spec.key,
        "family": spec.family,
        "options": {k: spec.options.get(k) for k in ("prompt", "pooling", "bos")},
        "configs": {c: configs[c] for c in choices} | {c: configs[c] for c in errors},
        "grid_layers": grid_layers,
        "shapes": shapes,
        "n_layers": n_layers,
        "n_words": len(covered),
        "missing_words": len(missing),
        "candidates": len(covered),
        "n_random_pairs": n_random,
        "seed": seed,
        "dtype": dtype,
        "rule": RULE,
        "rule_metrics": list(RULE_METRICS),
        "seconds": clock,
    }
    full = pd.concat(tables, ignore_index=True)
    full = full[["config", *[c for c in full.columns if c != "config"]]]
    return SweepResult(spec.key, full, choices, own, setup, errors)


# ------------------------------------------------------------------------------------------------ output


def curves(table: pd.DataFrame) -> dict[str, dict[str, list[float]]]:
    """part -> metric -> value per layer (layer order), for metrics.json: what a cross-model figure needs."""
    out: dict[str, dict[str, list[float]]] = {}
    for (part, metric), rows in table.groupby(["part", "metric"], sort=False):
        out.setdefault(str(part), {})[str(metric)] = [float(v) for v in rows.sort_values("layer")["value"]]
    return out


def write_sweep(out: str | Path, result: SweepResult, data: SweepData) -> dict[str, Any]:
    """Write the tables (``layers``: long, ``layers_wide``, ``grid``), ``split.json`` (every relation and
    word pair of each part) and ``metrics.json`` (the choice, the test numbers, the split's ids and
    checksums, the own setting's curves); returns the metrics."""
    import json

    from wordembed.results import write_metrics, write_table

    out = Path(out)
    write_table(out, "layers", result.table)
    write_table(out, "layers_wide", wide_table(result.table))
    write_table(out, "grid", result.grid_table())
    record = data.split_record()
    (out / "split.json").write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")
    summary = {
        "seed": record["seed"],
        "rule": record["rule"],
        "bats": record["bats"],
        "similarity": {
            name: {part: {"n": e["n"], "sha256": e.get("sha256")} for part, e in parts.items()}
            for name, parts in record["similarity"].items()
        },
        "file": "split.json",
    }
    metrics = {**result.to_dict(), "split": summary, "curves": curves(result.own_table())}
    write_metrics(out, metrics)
    return metrics


# ------------------------------------------------------------------------------------------------ figure


def _label(metric: str) -> str:
    return re.sub("_", " ", metric)


def plot_layers(
    tables: Mapping[str, pd.DataFrame],
    *,
    part: str = "test",
    metrics: Sequence[str] = METRICS,
    chosen: Mapping[str, int] | None = None,
    references: Mapping[str, Mapping[str, float]] | None = None,
    title: str = "",
) -> Any:
    """Each metric against relative depth (layer / L), one line per entry of ``tables`` (a model, or one
    model's prompt configurations), one facet per metric.

    An entry scored at one layer only is a marker at its depth; ``chosen`` (name -> layer) marks the chosen
    layer on a line; ``references`` (name -> metric -> value, e.g. a classical model) are horizontal dotted
    lines (each its own colour). Anisotropy is drawn from its ``all`` rows, every other metric from ``part``.
    """
    import matplotlib.pyplot as plt

    cols = 3
    rows = -(-len(metrics) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 3.0 * rows), squeeze=False, sharex=True)
    for ax, metric in zip(axes.ravel(), metrics, strict=False):
        want = "all" if metric == "anisotropy" else part
        for name, table in tables.items():
            line = table[(table["metric"] == metric) & (table["part"] == want)].sort_values("layer")
            if line.empty:
                continue
            if len(line) == 1:
                ax.plot(line["relative_depth"], line["value"], "s", ms=5, label=name)
                continue
            (handle,) = ax.plot(line["relative_depth"], line["value"], lw=1.4, label=name)
            if chosen and name in chosen:
                at = line[line["layer"] == chosen[name]]
                ax.plot(at["relative_depth"], at["value"], "o", color=handle.get_color(), ms=6)
        for i, (name, values) in enumerate((references or {}).items()):  # colours after the lines': told apart
            if metric in values and np.isfinite(values[metric]):
                ax.axhline(values[metric], ls=":", lw=1.4, color=f"C{(len(tables) + i) % 10}", label=name)
        ax.set_title(_label(metric) + ("" if metric == "anisotropy" else f" ({part})"), fontsize=10)
        ax.set_xlabel("relative depth (layer / L)")
        ax.set_xlim(-0.03, 1.03)
    for ax in axes.ravel()[len(metrics):]:
        ax.axis("off")
    seen: dict[str, Any] = {}
    for ax in axes.ravel():
        for handle, label in zip(*ax.get_legend_handles_labels(), strict=True):
            seen.setdefault(label, handle)
    if seen:
        fig.legend(list(seen.values()), list(seen), loc="lower center", ncol=min(len(seen), 4), frameon=False)
    if title:
        fig.suptitle(title)
    fig.tight_layout(rect=(0, 0.07, 1, 0.97 if title else 1))
    return fig


def sweep_figure(result: SweepResult, part: str = "test") -> Any:
    """:func:`plot_layers` of one model: a line for its own setting (the chosen layer marked) and one per grid
    configuration (a line when swept over every layer, a marker at the layer it was scored at otherwise)."""
    tables = {c: result.table[result.table["config"] == c] for c in result.choices}
    chosen = {c: ch["layer"] for c, ch in result.choices.items()}
    return plot_layers(tables, part=part, chosen=chosen, title=f"{result.model}: every hidden layer ({part} split)")
