"""`wordembed run`: the study grid through papermill, and `wordembed studies`."""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

from wordembed.commands.arguments import out_dir
from wordembed.errors import ParameterError
from wordembed.study import ALL_NOTEBOOKS, list_studies, load_study, schema_lines


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
    dask = parser.add_argument_group(
        "on a Dask cluster (the `cluster` extra)",
        "Without these the jobs run here, one after the other. With them each job runs on a Dask worker once "
        "the jobs it needs have finished; what a job does, its skipping and its records are the same, and "
        "run.json names the worker. Workers must share this checkout, the data, the store and --out.",
    )
    dask.add_argument("--workers", type=_positive_int, metavar="N",
                      help="start a local cluster of N worker processes (with --cluster slurm: ask SLURM for N "
                      "workers; default one job's)")  # fmt: skip
    dask.add_argument("--threads-per-worker", type=_positive_int, default=1, metavar="T",
                      help="jobs a worker runs at once (default 1: a notebook has a kernel process of its own)")  # fmt: skip
    dask.add_argument("--gpus", metavar="IDS",
                      help="local workers, one per GPU (0,1,2,3 as CUDA_VISIBLE_DEVICES names them): each sees "
                      "only its GPU and declares the resource GPU=1, which the jobs that run a torch model ask for")  # fmt: skip
    dask.add_argument("--scheduler", metavar="ADDRESS",
                      help="use the workers of an existing Dask scheduler, e.g. tcp://host:8786")  # fmt: skip
    dask.add_argument("--cluster", choices=["slurm"],
                      help="start the workers as SLURM jobs (dask-jobqueue), as --cluster-config says")  # fmt: skip
    dask.add_argument("--cluster-config", type=Path, metavar="YAML",
                      help="dask-jobqueue settings for --cluster slurm (default params/clusters/slurm.yaml)")  # fmt: skip
    parser.set_defaults(func=_run)

    studies = subparsers.add_parser("studies", help="list studies and the notebook parameter schema")
    studies.set_defaults(func=_studies)


def _positive_int(text: str) -> int:
    try:
        value = int(text.strip())
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text!r}")
    return value


def cluster_options(args: argparse.Namespace) -> Any:
    """The Dask cluster the options ask for, or None (the sequential runner); contradictions are refused on
    one line naming the options, before anything starts."""
    gpus = getattr(args, "gpus", None)
    workers = getattr(args, "workers", None)
    scheduler = getattr(args, "scheduler", None)
    kind = getattr(args, "cluster", None)
    config = getattr(args, "cluster_config", None)
    threads = getattr(args, "threads_per_worker", 1)
    if config is not None and kind != "slurm":
        raise ParameterError("--cluster-config is for --cluster slurm")
    if threads != 1 and (scheduler or kind or not (gpus or workers)):
        raise ParameterError("--threads-per-worker is for local workers (--workers, --gpus); a scheduler's or "
                             "SLURM's workers have their own (cores / processes in --cluster-config)")  # fmt: skip
    if not (gpus or workers or scheduler or kind):
        return None
    if scheduler and (kind or workers or gpus):
        raise ParameterError("--scheduler uses the workers that scheduler has: not with --workers, --gpus or --cluster")
    from wordembed.distributed.cluster import ClusterOptions, parse_gpus

    if scheduler:
        return ClusterOptions(kind="scheduler", scheduler=scheduler)
    if kind == "slurm":
        if gpus:
            raise ParameterError("--gpus starts local GPU workers; SLURM workers declare theirs in --cluster-config")
        return ClusterOptions(kind="slurm", workers=workers, config=config)
    return ClusterOptions(kind="local", workers=workers, gpus=parse_gpus(gpus) if gpus else (),
                          threads_per_worker=threads)  # fmt: skip


def _run(args: argparse.Namespace) -> int:
    from wordembed.runner import StudyRunner

    study = load_study(args.study)
    cluster = cluster_options(args)
    runner = StudyRunner(
        study,
        models=args.models,
        notebooks=args.notebooks,
        out_root=args.out,
        force=args.force,
        kernel_name=args.kernel,
        html=not args.no_html,
        cluster=cluster,
    )
    start = time.perf_counter()
    report = runner.run()
    counts: dict[str, int] = {}
    for result in report.results:
        counts[result.status] = counts.get(result.status, 0) + 1
    summary = ", ".join(f"{n} {status}" for status, n in sorted(counts.items()))
    where = ""
    if report.cluster is not None:
        where = f" on {len(report.cluster.get('workers', {}))} Dask worker(s) ({report.cluster.get('kind')})"
    print(f"study {study.name}: {summary} in {time.perf_counter() - start:.0f} s{where}; outputs in {report.out_root}")
    for result in report.failed:
        print(f"  {result.status}: {result.label}: {result.error}")
    return report.exit_code


def _studies(args: argparse.Namespace) -> int:
    for name in list_studies():
        study = load_study(name, check_model_keys=False)
        print(f"{name}: {', '.join(study.models)}  {study.description}")
    print("\nparameters:")
    for line in schema_lines():
        print(f"  {line}")
    return 0
