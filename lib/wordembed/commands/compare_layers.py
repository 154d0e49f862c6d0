"""``wordembed compare-layers``: several layer sweeps side by side, each model at its dev-chosen layer."""

from __future__ import annotations

import argparse
from pathlib import Path

from wordembed.commands.arguments import out_dir, writing


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "compare-layers",
        help="models side by side on the test split, each at the layer its development split chose",
        description="Read the folders that `wordembed layers` wrote (one per model, all on the same split), "
        "tabulate each model's test numbers at its dev-chosen layer (and a decoder's at its middle layer, the "
        "headline's), fit metric ~ kind + log10(params) on those test numbers (exact permutation p, model "
        "bootstrap; each metric at alpha/6) and draw every metric against relative depth.",
    )
    parser.add_argument("folders", nargs="+", type=Path, help="layer-sweep output folders (outputs/layers/<model>)")
    parser.add_argument("--out", type=out_dir, help="output folder (default outputs/layers/compare)")
    parser.set_defaults(func=_compare)


def _compare(args: argparse.Namespace) -> int:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import pandas as pd

    from wordembed.analyses.layer_compare import compare_sweeps, comparison_figure, held_out_fits, read_sweep
    from wordembed.analyses.scale import fits_table
    from wordembed.models.spec import list_specs, load_spec
    from wordembed.paths import outputs_dir
    from wordembed.results import save_figure, write_metrics, write_table

    sweeps = [read_sweep(folder) for folder in args.folders]
    specs = [load_spec(s.model) for s in sweeps]
    models = pd.DataFrame({"model": [s.key for s in specs], "params": [s.params for s in specs],
                           "family": [s.family for s in specs],
                           "control_of": [getattr(s, "control_of", None) for s in specs]})
    table = compare_sweeps(sweeps, models)
    registry = {s.key: (s.role, float(s.params) if s.params else float("nan"), s.family) for s in list_specs()}
    fits = held_out_fits(table, registry=registry)
    out = Path(args.out) if args.out else outputs_dir() / "layers" / "compare"
    with writing("--out", out):
        write_table(out, "comparison", table)
        write_table(out, "fits", fits_table(fits))
        write_metrics(out, {"models": list(table["model"]), "folders": [str(f) for f in args.folders],
                            "fits": [f.row() for f in fits]})
        fig = comparison_figure(sweeps)
        save_figure(out, "layers_compare", fig)
        plt.close(fig)
    shown = ["model", "family", "chosen_layer", "relative_depth", "test_rho_simlex999", "test_rho_men",
             "test_bats_3CosAdd_morphological", "test_bats_3CosAdd_semantic"]
    print(table[[c for c in shown if c in table]].to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    for fit in fits:
        if fit.contrast == "llm":
            print(f"{fit.metric}: {fit.outcome} ({fit.reason})")
    print(f"results in {out}")
    return 0
