"""`wordembed layers`: score every hidden layer of a decoder, choose one on development data, report on test.

The same computation as ``notebooks/07_layers.ipynb`` (:func:`wordembed.analyses.layers.run_sweep`), for a
user at a terminal: the decoder runs once with ``layer: all`` through the embedding store (a rerun reads the
layers back), the layer is chosen on the development half of BATS / SimLex-999 / MEN by the stated rule, and
the test half is reported at it; the prompt/pooling grid follows. Writes ``layers`` / ``layers_wide`` /
``grid`` tables, ``split.json``, ``metrics.json`` and the ``layers`` figure.
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from wordembed.commands.arguments import device_arg, out_dir, schema_int, writing
from wordembed.study import PARAMETERS, PROMPT_GRID_NAMES, bounds_text


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "layers",
        help="layer sweep of a decoder: every hidden layer scored, one chosen on dev, reported on test",
        description="Embed the sweep vocabulary (BATS, SimLex-999 and MEN words plus a seeded WordNet sample) "
        "with every hidden layer of a decoder from one forward pass; score each layer (anisotropy, centred and "
        "standardised AUROC of related vs random pairs, BATS 3CosAdd, SimLex-999 and MEN rho) on the "
        "development and the test split; choose the layer on development data (best mean rank) and report the "
        "test numbers there; then the prompt/pooling grid. A non-decoder model is scored as one layer.",
    )
    parser.add_argument("--model", required=True, help="model key or model YAML (a decoder, for a real sweep)")
    parser.add_argument(
        "--sample",
        type=schema_int("layer_words"),
        default=PARAMETERS["layer_words"].default,
        help=f"WordNet lemmas sampled into the vocabulary, {bounds_text('layer_words')} (default 10000; 0: the "
        "benchmark words alone)",
    )
    parser.add_argument(
        "--grid",
        nargs="*",
        choices=list(PROMPT_GRID_NAMES),
        default=list(PROMPT_GRID_NAMES),
        metavar="CONFIG",
        help=f"prompt/pooling configurations also scored: {', '.join(PROMPT_GRID_NAMES)} (default: all; "
        "--grid with no name: none)",
    )
    parser.add_argument(
        "--grid-layers",
        choices=["chosen", "all"],
        default="chosen",
        help="score the grid at the layer chosen for the model's own prompt (default), or on every layer with "
        "a layer chosen on dev per configuration (L + 1 times the work)",
    )
    parser.add_argument(
        "--random-pairs",
        type=schema_int("n_random_pairs"),
        default=PARAMETERS["n_random_pairs"].default,
        help=f"random pairs per split for the AUROC baseline, {bounds_text('n_random_pairs')} (default 20000)",
    )
    parser.add_argument("--seed", type=schema_int("seed"), default=0, help=f"{bounds_text('seed')} (default 0)")
    parser.add_argument(
        "--dtype",
        choices=["float32", "float16"],
        default="float32",
        help="precision of the layers held in memory (float16: half the memory; the store keeps float32)",
    )
    parser.add_argument("--device", type=device_arg, default=None, help="auto, cpu, cuda or cuda:N")
    parser.add_argument("--out", type=out_dir, help="output folder (default outputs/layers/<model>)")
    parser.set_defaults(func=_layers)


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", Path(text).stem if Path(text).suffix else text).strip("_") or "model"


def _layers(args: argparse.Namespace) -> int:
    """The :class:`~wordembed.tasks.layers.LayerSweep` task of notebook 07 (the same tables, split and scores)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from wordembed.analyses.layers import sweep_figure
    from wordembed.paths import outputs_dir
    from wordembed.results import save_figure
    from wordembed.tasks.layers import LayerSweep

    task = LayerSweep(layer_words=args.sample, prompt_grid=args.grid, grid_layers=args.grid_layers,
                      n_random_pairs=args.random_pairs, seed=args.seed, dtype=args.dtype, device=args.device)  # fmt: skip
    saved = task.run(args.model, log=print)
    result, metrics = saved.sweep, saved.metrics
    out = Path(args.out) if args.out else outputs_dir() / "layers" / _slug(str(args.model))
    with writing("--out", out):
        saved.save(out)
        fig = sweep_figure(result)
        save_figure(out, "layers", fig)
        plt.close(fig)
    choice = result.choice
    print(
        f"{result.model}: layer {choice['layer']} of 0..{result.setup['n_layers'] - 1} chosen on dev "
        f"(relative depth {choice['relative_depth']:.2f}, mean rank {choice['mean_rank']:.2f})"
    )
    for metric, value in metrics["headline_test"].items():
        print(f"  test {metric:>34}: {value:.3f}")
    grid = result.grid_table()
    if len(grid) > 1:
        print("grid (test, at the layer in column 'layer'):")
        cols = ["config", "layer", "test_bats_3CosAdd_morphological", "test_bats_3CosAdd_semantic", "test_rho_simlex999"]
        print(grid[cols].to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    for config, error in result.errors.items():
        print(f"grid {config}: not run: {error}")
    print(f"results in {out}")
    return 0
