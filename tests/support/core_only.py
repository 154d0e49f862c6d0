"""Run wordembed as the core install would: every module of an extra is unimportable.

Used as ``python tests/support/core_only.py ARGS...`` (the ``wordembed`` console script with ARGS). A finder
first on ``sys.meta_path`` raises ModuleNotFoundError for the top-level packages that only extras bring, the
same error an absent package gives, so a lazy ``try: import torch`` fallback behaves as it would there.
"""

from __future__ import annotations

import importlib.abc
import sys

EXTRAS = frozenset(
    {
        "torch", "transformers", "sentence_transformers", "accelerate", "gguf", "safetensors", "tokenizers",
        "huggingface_hub", "sentencepiece", "sacremoses", "openai", "google", "tensorflow", "tensorflow_hub",
        "tf_keras", "papermill", "nbformat", "nbconvert", "ipykernel", "ipywidgets", "IPython", "jupyterlab",
        "matplotlib", "seaborn", "numba", "gensim", "vecto", "wordfreq", "cryptography", "pytest", "dask",
        "distributed", "dask_jobqueue",
    }
)  # fmt: skip
imported_blocked: list[str] = []


class _NoExtras(importlib.abc.MetaPathFinder):
    def find_spec(self, name: str, path: object, target: object = None) -> None:
        if name.split(".")[0] in EXTRAS:
            imported_blocked.append(name)
            raise ModuleNotFoundError(f"No module named {name!r} (not in the core install)", name=name)
        return None


if __name__ == "__main__":
    sys.meta_path.insert(0, _NoExtras())
    from wordembed.cli import main

    code = main(sys.argv[1:])
    print(f"core-only: import attempts of extras: {sorted(set(imported_blocked))}", file=sys.stderr)
    raise SystemExit(code)
