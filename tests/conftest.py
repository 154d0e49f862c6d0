"""Shared test set-up: never reach a hub, never open a window."""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("MPLBACKEND", "Agg")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


# Test tiers. `slow` stays what a test declares (real models, notebooks, browsers, fresh installs); the tier
# follows from it and from the module, so a new test lands in the right one without a second decorator:
#   unit         everything not slow (`make test-fast`: pytest -m unit)
#   notebooks    slow tests that execute notebooks with papermill or the runner
#   integration  slow tests on real models, real data, a real install or a browser
#   gpu          declared on a test that needs CUDA (it is skipped where torch sees none)
NOTEBOOK_MODULES = frozenset({"test_notebooks", "test_runner", "test_fresh_clone"})


def pytest_collection_modifyitems(config, items) -> None:  # noqa: ARG001 (pytest's hook signature)
    import pytest

    for item in items:
        if item.get_closest_marker("gpu") is not None:
            continue
        if item.get_closest_marker("slow") is None:
            item.add_marker(pytest.mark.unit)
        elif item.module.__name__.rsplit(".", 1)[-1] in NOTEBOOK_MODULES:
            item.add_marker(pytest.mark.notebooks)
        else:
            item.add_marker(pytest.mark.integration)
