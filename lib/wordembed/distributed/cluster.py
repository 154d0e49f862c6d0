"""Which Dask cluster a run uses, and how it is started and stopped.

Three kinds, one per way of running the study (``wordembed run``):

- ``local`` (``--workers N``): a ``distributed.LocalCluster`` of N worker *processes*, 1 thread each unless
  ``--threads-per-worker`` says otherwise. A notebook runs in a kernel process of its own, so a worker's
  thread is a slot for one job at a time; processes keep one worker's imports and memory from another's.
  ``--gpus 0,1,2,3`` makes one worker per GPU instead, each seeing only its GPU (``CUDA_VISIBLE_DEVICES``)
  and declaring the resource ``GPU=1`` (what dask-cuda's ``LocalCUDACluster`` does, without needing it).
- ``scheduler`` (``--scheduler tcp://host:8786``): workers someone started (``dask scheduler``,
  ``dask worker ADDRESS --nthreads 1 [--resources GPU=1]``), on machines that share the checkout, the data
  and the output folder.
- ``slurm`` (``--cluster slurm [--cluster-config params/clusters/slurm.yaml]``): a
  ``dask_jobqueue.SLURMCluster`` from a YAML of its keyword arguments; a key it does not take is refused
  on one line naming the file and the key, before any job is submitted.

Threads of the notebooks' kernels: Dask's nanny sets ``OMP_NUM_THREADS`` (and MKL's, OpenBLAS's) to 1 in
every worker, and the kernels inherit it. For a local cluster each worker gets its share of the cores
instead (cores // (workers x threads), a variable already set in this process wins), so N workers use the
machine without oversubscribing it and a 4-worker run on 64 cores does not run its BLAS on 4 of them.
"""

from __future__ import annotations

import contextlib
import difflib
import inspect
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from wordembed import paths
from wordembed.errors import ParameterError

KINDS = ("local", "scheduler", "slurm")
THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")
EXTRA = "pip install 'wordembed[cluster]'"
# SLURMCluster arguments that are objects or plumbing, never settings of a YAML file
_NOT_SETTINGS = frozenset(
    {"self", "scheduler", "job_cls", "loop", "asynchronous", "config_name", "job_kwargs", "base_class_kwargs",
     "security", "scheduler_cls"}
)  # fmt: skip


def require_distributed() -> Any:
    """The ``distributed`` module, or one line naming the extra that provides it."""
    try:
        import distributed
    except ImportError:
        raise ParameterError(
            f"running on a Dask cluster needs the `cluster` extra (dask[distributed], dask-jobqueue): {EXTRA}"
        ) from None
    return distributed


def default_slurm_config() -> Path:
    return paths.params_dir() / "clusters" / "slurm.yaml"


@dataclass(frozen=True)
class ClusterOptions:
    """How ``wordembed run`` gets its Dask cluster (see the module docstring for the three kinds).

    ``workers``: local worker processes; for ``slurm``, the workers to ask SLURM for (default one job's).
    ``wait_s``: how long to wait for a first worker of an existing scheduler or of SLURM's queue.
    """

    kind: str = "local"
    workers: int | None = None
    threads_per_worker: int = 1
    gpus: tuple[str, ...] = ()
    scheduler: str | None = None
    config: Path | None = None
    wait_s: float = 600.0

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ParameterError(f"--cluster must be one of {', '.join(k for k in KINDS if k != 'scheduler')}, "
                                 f"got {self.kind!r}")  # fmt: skip
        if self.workers is not None and (not isinstance(self.workers, int) or self.workers < 1):
            raise ParameterError(f"--workers must be a positive integer, got {self.workers!r}")
        if not isinstance(self.threads_per_worker, int) or self.threads_per_worker < 1:
            raise ParameterError(f"--threads-per-worker must be a positive integer, got {self.threads_per_worker!r}")
        if self.kind == "scheduler" and not self.scheduler:
            raise ParameterError("--scheduler needs the scheduler's address, e.g. tcp://host:8786")
        if self.gpus and self.kind != "local":
            raise ParameterError("--gpus starts local GPU workers; workers of a scheduler or SLURM declare theirs")
        if self.gpus and self.workers is not None and self.workers != len(self.gpus):
            raise ParameterError(f"--gpus names {len(self.gpus)} GPU(s) for one worker each, but --workers is "
                                 f"{self.workers}")  # fmt: skip
        if self.kind == "local" and self.workers is None and not self.gpus:
            raise ParameterError("--workers is needed for a local cluster (how many worker processes)")

    def check(self) -> None:
        """What can be refused before a run plans or writes anything: a missing extra, a bad SLURM YAML."""
        require_distributed()
        if self.kind == "slurm":
            slurm_settings(self.config or default_slurm_config())

    @property
    def n_local_workers(self) -> int:
        return len(self.gpus) if self.gpus else int(self.workers or 1)


def kernel_threads_env(n_workers: int, threads_per_worker: int) -> dict[str, str]:
    """The thread variables for the workers of a local cluster: each its share of this machine's cores."""
    from wordembed.analyses.allpairs import default_threads

    share = max(1, default_threads() // max(1, n_workers * threads_per_worker))
    return {name: os.environ.get(name, str(share)) for name in THREAD_VARIABLES}


def local_cluster(options: ClusterOptions) -> Any:
    """A LocalCluster of worker processes, or with ``gpus`` a SpecCluster of one GPU worker per device."""
    distributed = require_distributed()
    n = options.n_local_workers
    env = kernel_threads_env(n, options.threads_per_worker)
    if not options.gpus:
        return distributed.LocalCluster(
            n_workers=n, threads_per_worker=options.threads_per_worker, processes=True,
            dashboard_address=":0", env=env,  # any free port: two clusters (or runs) must not contend for 8787
        )  # fmt: skip
    workers = {
        f"gpu{gpu}": {
            "cls": distributed.Nanny,
            "options": {"nthreads": options.threads_per_worker, "resources": {"GPU": 1}, "name": f"gpu{gpu}",
                        "env": {**env, "CUDA_VISIBLE_DEVICES": str(gpu)}},
        }  # fmt: skip
        for gpu in options.gpus
    }
    scheduler = {"cls": distributed.Scheduler, "options": {"dashboard": False, "dashboard_address": ":0"}}
    return distributed.SpecCluster(workers=workers, scheduler=scheduler, name="wordembed-gpus")


def slurm_keys() -> set[str]:
    """The settings ``dask_jobqueue.SLURMCluster`` takes: its own arguments and those of its job class."""
    try:
        from dask_jobqueue import SLURMCluster
        from dask_jobqueue.core import Job, JobQueueCluster
        from dask_jobqueue.slurm import SLURMJob
    except ImportError:
        raise ParameterError(f"--cluster slurm needs dask-jobqueue (the `cluster` extra): {EXTRA}") from None
    names: set[str] = set()
    for fn in (SLURMCluster.__init__, JobQueueCluster.__init__, SLURMJob.__init__, Job.__init__):
        names |= {
            p.name
            for p in inspect.signature(fn).parameters.values()
            if p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL)
        }
    return names - _NOT_SETTINGS


def slurm_settings(path: Path) -> dict[str, Any]:
    """The YAML's settings, each checked to be a SLURMCluster argument (one line naming file and key)."""
    import yaml

    path = Path(path)
    try:
        loaded = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ParameterError(f"--cluster-config {path}: cannot read it ({exc.strerror or exc})") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark is not None else str(path)
        raise ParameterError(f"{where}: not valid YAML ({getattr(exc, 'problem', None) or exc})") from None
    if loaded is None:
        return {}
    if not isinstance(loaded, Mapping):
        raise ParameterError(f"{path}: expected a mapping of SLURMCluster settings, got {type(loaded).__name__}")
    valid = slurm_keys()
    for key in loaded:
        if key not in valid:
            close = difflib.get_close_matches(str(key), sorted(valid), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ParameterError(
                f"{path}: unknown key {key!r}{hint}; valid: {', '.join(sorted(valid))}"
            )
    return dict(loaded)


def slurm_cluster(path: Path | None = None, **overrides: Any) -> Any:
    """A ``dask_jobqueue.SLURMCluster`` from the YAML at ``path`` (default ``params/clusters/slurm.yaml``);
    nothing is submitted until it is scaled, and ``job_script()`` works without SLURM installed."""
    path = Path(path) if path else default_slurm_config()
    settings = {**slurm_settings(path), **overrides}
    from dask_jobqueue import SLURMCluster

    try:
        return SLURMCluster(**settings)
    except (TypeError, ValueError) as exc:
        raise ParameterError(f"{path}: {exc}") from None


def _worker_table(client: Any) -> dict[str, dict[str, Any]]:
    try:
        info = client.scheduler_info(n_workers=-1)
    except TypeError:  # distributed before 2025: every worker by default, no such argument
        info = client.scheduler_info()
    return {
        address: {
            "name": w.get("name"),
            "host": w.get("host"),
            "nthreads": w.get("nthreads"),
            "resources": dict(w.get("resources") or {}),
            "memory_limit": w.get("memory_limit"),
        }
        for address, w in info.get("workers", {}).items()
    }


def gpu_workers(client: Any) -> list[str]:
    """Addresses of the workers that declare a ``GPU`` resource (only then do jobs ask for one)."""
    return [address for address, w in _worker_table(client).items() if w["resources"].get("GPU", 0) > 0]


def describe(client: Any, kind: str) -> dict[str, Any]:
    """What ``run.json`` records of the cluster: its kind, the scheduler's address and the workers."""
    return {"kind": kind, "scheduler": client.scheduler.address, "workers": _worker_table(client)}


@contextlib.contextmanager
def connect(cluster: ClusterOptions | Any) -> Iterator[tuple[Any, str]]:
    """A client of the cluster ``cluster`` describes (or ``cluster`` itself, when it already is a client:
    then it is left open), and the cluster's kind; what was started here is closed on the way out."""
    distributed = require_distributed()
    if isinstance(cluster, distributed.Client):
        yield cluster, "client"
        return
    if not isinstance(cluster, ClusterOptions):
        raise ParameterError(f"cluster must be ClusterOptions or a distributed.Client, got {type(cluster).__name__}")
    with contextlib.ExitStack() as stack:
        if cluster.kind == "scheduler":
            try:
                client = stack.enter_context(distributed.Client(cluster.scheduler, timeout=30))
            except (OSError, TimeoutError) as exc:
                raise ParameterError(f"--scheduler {cluster.scheduler}: cannot connect ({exc})") from None
            _wait_for_a_worker(client, cluster, f"the scheduler {cluster.scheduler}")
        elif cluster.kind == "slurm":
            slurm = stack.enter_context(slurm_cluster(cluster.config))
            if cluster.workers:
                slurm.scale(n=cluster.workers)
            else:
                slurm.scale(jobs=1)
            client = stack.enter_context(distributed.Client(slurm))
            _wait_for_a_worker(client, cluster, "SLURM (the jobs may still be queued: see squeue)")
        else:
            local = stack.enter_context(local_cluster(cluster))
            client = stack.enter_context(distributed.Client(local))
            client.wait_for_workers(cluster.n_local_workers, timeout=cluster.wait_s)
        yield client, cluster.kind


def _wait_for_a_worker(client: Any, options: ClusterOptions, where: str) -> None:
    try:
        client.wait_for_workers(1, timeout=options.wait_s)
    except (TimeoutError, OSError):
        raise ParameterError(f"no Dask worker joined {where} within {options.wait_s:.0f} s") from None


def parse_gpus(text: str) -> tuple[str, ...]:
    """``--gpus 0,1,2,3``: the devices, as ``CUDA_VISIBLE_DEVICES`` names them (numbers or UUIDs), one worker
    each. Only a list, never a count: ``--gpus 1`` is the second GPU, as CUDA would read it."""
    parts = [p.strip() for p in text.split(",")]
    if not all(parts) or len(set(parts)) != len(parts):
        raise ParameterError(f"--gpus must list distinct GPUs as CUDA_VISIBLE_DEVICES does, e.g. 0,1,2,3, got {text!r}")
    return tuple(parts)
