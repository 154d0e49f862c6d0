"""The install is lean and locked: core dependencies only in `dependencies`, every extra pinned in the lock,
environment.yml generated from the lock (never edited by hand)."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import tomllib
from packaging.requirements import Requirement
from packaging.version import Version

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
LOCK = (ROOT / "requirements" / "study.lock").read_text(encoding="utf-8")
_spec = importlib.util.spec_from_file_location("make_environment", ROOT / "requirements" / "make_environment.py")
make_environment = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(make_environment)


def _name(s: str) -> str:
    return re.sub(r"[-_.]+", "-", s).lower()


def _requirements(extra: str, seen: set[str] | None = None) -> list[Requirement]:
    """The requirements of an extra, following self-references such as `wordembed[hf,notebooks]`."""
    seen = set() if seen is None else seen
    seen.add(extra)
    out: list[Requirement] = []
    for text in PYPROJECT["project"]["optional-dependencies"][extra]:
        req = Requirement(text)
        if _name(req.name) == "wordembed":
            for sub in sorted(req.extras - seen):
                out += _requirements(sub, seen)
        else:
            out.append(req)
    return out


def test_core_dependencies_are_what_every_analysis_needs() -> None:
    core = {_name(Requirement(r).name) for r in PYPROJECT["project"]["dependencies"]}
    assert core == {"numpy", "scipy", "pandas", "pyarrow", "scikit-learn", "pyyaml", "tqdm", "pydantic"}


def test_extras_by_need_and_upper_bounds_on_the_libraries_whose_internals_we_touch() -> None:
    extras = PYPROJECT["project"]["optional-dependencies"]
    assert {"hf", "laser", "api", "tfhub", "notebooks", "fast", "bench", "dev", "study"} <= set(extras)
    hf = {_name(r.name): r for r in _requirements("hf")}
    for name in ("transformers", "sentence-transformers"):
        assert any(s.operator == "<" for s in hf[name].specifier), name
    study = {_name(r.name) for r in _requirements("study")}
    assert {"torch", "transformers", "papermill", "ipywidgets", "numba", "wordfreq"} <= study
    assert not study & {"openai", "tensorflow-cpu", "pytest"}  # the API, TF-Hub and test tools are not study needs


def test_the_lock_pins_every_requirement_of_the_test_environment_within_its_bounds() -> None:
    pins = {_name(n): v for n, v in make_environment.pins(LOCK)}
    requirement_lines = [x for x in LOCK.splitlines() if x and not x.startswith((" ", "#"))]
    assert len(requirement_lines) == len(pins)  # nothing unpinned, no URL or editable line
    wanted = [Requirement(r) for r in PYPROJECT["project"]["dependencies"]] + _requirements("dev")
    for req in wanted:
        version = pins.get(_name(req.name))
        assert version is not None, f"{req.name} is not in requirements/study.lock: run `make lock`"
        assert req.specifier.contains(Version(version), prereleases=True), f"{req.name}=={version} vs {req}"
    assert pins["torch"] == "2.13.0+cpu"  # the CPU build: an unpinned torch pulls a multi-GB CUDA build
    assert not any(n.startswith("nvidia-") for n in pins)


def test_environment_yml_is_generated_from_the_lock() -> None:
    current = (ROOT / "environment.yml").read_text(encoding="utf-8")
    assert current == make_environment.render(LOCK), "environment.yml is out of date: run `make lock`"
    assert current.count("==") == len(make_environment.pins(LOCK))
    assert make_environment.render("numpy==2.0.0\n    # via x\nscipy==1.1\n").count("      - ") == 3  # + `-e .`
