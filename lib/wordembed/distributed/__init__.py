"""Beyond one machine: the study's jobs and the all-pairs products on a Dask cluster.

- :mod:`wordembed.distributed.cluster`: which cluster a run uses (a local one of N worker processes, an
  existing scheduler, or SLURM through dask-jobqueue from ``params/clusters/slurm.yaml``) and how it starts.
- :mod:`wordembed.distributed.jobs`: the runner's job graph as Dask futures (``wordembed run --workers N``).
- :mod:`wordembed.distributed.allpairs`: ``all_pairs_distribution(..., engine="dask")``.

Dask is the ``cluster`` extra (``pip install 'wordembed[cluster]'``); it is imported only on these paths, so
the core install never needs it, and a missing extra is one line naming it
(:func:`wordembed.distributed.cluster.require_distributed`).
"""
