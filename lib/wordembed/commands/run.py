"""`wordembed run`: the study grid through papermill, and `wordembed studies`."""

from __future__ import annotations

import argparse
import time

from wordembed.commands.arguments import out_dir
from wordembed.study import ALL_NOTEBOOKS, PARAMETERS, list_studies, load_study


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "run",
        help="run a study's notebooks with papermill",
        description="Execute the per-model notebooks for every model of a study, then the cross-model ones. "
        "Work whose inputs have not changed is skipped; a failing model is reported and the rest goes on.",
    )
    parser.add_argument("--study", default="default", help=f"a study name ({', '.join(list_studies())}) or a YAML path")
    parser.add_argument("--models", nargs="+", help="run only these models (keys or YAML paths)")
    parser.add_argument("--notebooks", nargs="+", help=f"run only these notebooks ({', '.join(ALL_NOTEBOOKS)})")
    parser.add_argument("--out", type=out_dir, help="output root (default outputs/<study>)")
    parser.add_argument("--force", action="store_true", help="rerun jobs whose inputs have not changed")
    parser.add_argument("--no-html", action="store_true", help="skip the HTML renderings")
    parser.add_argument("--kernel", help="Jupyter kernel name (default python3: this interpreter)")
    parser.set_defaults(func=_run)

    studies = subparsers.add_parser("studies", help="list studies and the notebook parameter schema")
    studies.set_defaults(func=_studies)


def _run(args: argparse.Namespace) -> int:
    from wordembed.runner import StudyRunner

    study = load_study(args.study)
    runner = StudyRunner(
        study,
        models=args.models,
        notebooks=args.notebooks,
        out_root=args.out,
        force=args.force,
        kernel_name=args.kernel,
        html=not args.no_html,
    )
    start = time.perf_counter()
    report = runner.run()
    counts: dict[str, int] = {}
    for result in report.results:
        counts[result.status] = counts.get(result.status, 0) + 1
    summary = ", ".join(f"{n} {status}" for status, n in sorted(counts.items()))
    print(f"study {study.name}: {summary} in {time.perf_counter() - start:.0f} s; outputs in {report.out_root}")
    for result in report.failed:
        print(f"  {result.status}: {result.label}: {result.error}")
    return report.exit_code


def _studies(args: argparse.Namespace) -> int:
    for name in list_studies():
        study = load_study(name, check_model_keys=False)
        print(f"{name}: {', '.join(study.models)}  {study.description}")
    print("\nparameters:")
    for name, spec in PARAMETERS.items():
        print(f"  {name} ({spec.type.__name__}, default {spec.default!r}): {spec.help}")
    return 0
