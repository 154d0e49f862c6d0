"""How a number was made: the code, the libraries, the machine and the inputs, recorded beside it.

A researcher who cites a number a year later must be able to tell which library versions, which commit and
which machine produced it. ``environment()`` is stamped into every ``metrics.json`` and table sidecar
(``wordembed.results``); the runner adds each job's data checksums, model fingerprint and parameters
(``wordembed.job_keys``) to its ``.run.json``. ``wordembed results show DIR`` prints both.
"""

from __future__ import annotations

import os
import platform
import subprocess
from typing import Any

from wordembed import __version__, paths


def git_commit() -> dict[str, Any]:
    """The checkout's commit and whether it had uncommitted changes (None outside a git checkout); asked each
    time (a few ms), since a notebook kernel outlives commits."""
    root = paths.project_root()
    try:
        commit = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True, text=True, timeout=10, check=True,
        ).stdout.strip() != ""  # fmt: skip
    except (OSError, subprocess.SubprocessError):
        return {"commit": None, "dirty": None}
    return {"commit": commit or None, "dirty": dirty}


def machine() -> dict[str, Any]:
    """CPU, threads and GPU (torch is asked only when it is already imported: no import for a record)."""
    import sys

    out: dict[str, Any] = {
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
    }
    torch = sys.modules.get("torch")
    if torch is not None:
        out["torch_threads"] = torch.get_num_threads()
        out["cuda"] = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
    return out


def environment() -> dict[str, Any]:
    """wordembed's version and commit, Python and library versions, and the machine."""
    from wordembed.job_keys import installed_versions

    return {
        "wordembed": __version__,
        **git_commit(),
        "versions": installed_versions(),
        "machine": machine(),
    }
