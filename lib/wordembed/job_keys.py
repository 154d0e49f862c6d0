"""What a study job depends on, hashed so the runner re-runs exactly what changed.

A job's key is the hash of: its notebook, its parameters, the model's fingerprint (its YAML, and the bytes of a
local ``source.path`` artefact), the data files it reads, the code it imports, and the installed versions of
the libraries that compute its numbers. "The code it imports" is the wordembed modules the notebook imports,
followed transitively, each reduced to its syntax tree without docstrings: editing ``cli.py`` or a docstring
re-runs nothing, editing ``analyses/analogy.py`` re-runs what imports it. Data files are hashed by content
(cached by size and modification time), so a changed BATS file re-runs what reads BATS and nothing else.
"""

from __future__ import annotations

import ast
import hashlib
import importlib.metadata
import json
import platform
from collections.abc import Iterable, Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any

from wordembed import paths
from wordembed.util import sha256_file

PACKAGE = "wordembed"
# The libraries whose versions can change a number; a new version re-runs the jobs.
VERSIONED = ("numpy", "scipy", "pandas", "scikit-learn", "torch", "transformers", "sentence-transformers", "gguf")
# Which data sets each notebook reads, beyond the study vocabulary (``vocabulary`` parameter).
NOTEBOOK_DATA: dict[str, tuple[str, ...]] = {
    "01_embed": ("bats", "google", "wordsim"),
    "02_similarity_distribution": (),
    "03_related_pairs": ("bats",),
    "04_analogies": ("bats", "google", "wordsim"),
    "05_agreement": ("bats",),
    "06_report": (),
    "07_layers": ("bats", "wordsim", "wordnet"),
}
DATA_FOLDERS: dict[str, tuple[str, ...]] = {
    "bats": ("BATS_3.0",),
    "google": ("google_analogy",),
    "wordsim": ("simlex999", "wordsim353", "men", "word_similarity"),
}
VOCABULARY_DATA: dict[str, tuple[str, ...]] = {
    "wordnet": ("wordnet",),
    "bats": ("bats",),
    "google": ("google",),
    "wordsim": ("wordsim",),
    "study": ("wordnet", "bats", "google", "wordsim"),
}


# ------------------------------------------------------------------------------------------------ code


def _strip_docstrings(tree: ast.AST) -> ast.AST:
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(getattr(body[0], "value", None), ast.Constant):
                if isinstance(body[0].value.value, str):
                    node.body = body[1:] or [ast.Pass()]
    return tree


def _imports(tree: ast.AST) -> set[str]:
    """Every ``wordembed`` module a tree imports, anywhere (functions import lazily)."""
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.split(".")[0] == PACKAGE)
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == PACKAGE:
            found.add(node.module)
            found.update(f"{node.module}.{a.name}" for a in node.names)  # `from wordembed import paths`
    return found


def _module_file(name: str, root: Path) -> Path | None:
    parts = name.split(".")[1:]
    if not parts:
        return root / "__init__.py" if (root / "__init__.py").is_file() else None
    rel = Path(*parts)
    for candidate in (root / rel.with_suffix(".py"), root / rel / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


@lru_cache(maxsize=512)
def _module_digest(path: Path, mtime_ns: int, size: int) -> tuple[str, frozenset[str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    deps = frozenset(_imports(tree))
    return hashlib.sha256(ast.dump(_strip_docstrings(tree)).encode()).hexdigest(), deps


def code_modules(sources: Iterable[str], root: Path | None = None) -> dict[str, str]:
    """module name -> digest of its docstring-free syntax tree, for every wordembed module the ``sources``
    (Python code, e.g. a notebook's code cells) import, followed transitively, with their parent packages."""
    root = root or paths.PACKAGE_DIR
    pending: set[str] = set()
    for source in sources:
        try:
            pending |= _imports(ast.parse(source))
        except SyntaxError:  # IPython magics: fall back to the lines that import
            for line in source.splitlines():
                try:
                    pending |= _imports(ast.parse(line.strip()))
                except SyntaxError:
                    continue
    seen: dict[str, str] = {}
    while pending:
        name = pending.pop()
        parts = name.split(".")
        for k in range(1, len(parts)):
            parent = ".".join(parts[:k])
            if parent not in seen:
                pending.add(parent)
        if name in seen:
            continue
        path = _module_file(name, root)
        if path is None:  # `from wordembed.x import function`: not a module
            continue
        stat = path.stat()
        digest, deps = _module_digest(path, stat.st_mtime_ns, stat.st_size)
        seen[name] = digest
        pending |= set(deps) - set(seen)
    return dict(sorted(seen.items()))


def notebook_code(path: Path) -> list[str]:
    """The code cells of a notebook, as text."""
    nb = json.loads(path.read_text(encoding="utf-8"))
    return ["".join(c.get("source", "")) for c in nb.get("cells", []) if c.get("cell_type") == "code"]


# ------------------------------------------------------------------------------------------------ data


@lru_cache(maxsize=4096)
def _file_digest(path: Path, mtime_ns: int, size: int) -> str:
    return sha256_file(path)  # mtime and size only key the cache: a touched file is hashed again


def file_sha256(path: Path) -> str:
    """sha256 of a file's bytes, cached by (path, modification time, size) for the life of the process."""
    stat = path.stat()
    return _file_digest(path.resolve(), stat.st_mtime_ns, stat.st_size)


def tree_digests(location: Path) -> dict[str, str]:
    """relative path -> sha256 for a file or every file below a folder (hidden files skipped)."""
    if location.is_file():
        return {location.name: file_sha256(location)}
    if not location.is_dir():
        return {}
    return {
        p.relative_to(location).as_posix(): file_sha256(p)
        for p in sorted(location.rglob("*"))
        if p.is_file() and not any(part.startswith(".") for part in p.relative_to(location).parts)
    }


def _wordnet_location() -> Path | None:
    from wordembed.datasets.wordnet import find_wordnet

    try:
        return find_wordnet()
    except Exception:  # not installed: the notebook will say so; the key records its absence
        return None


def data_digests(notebook: str, vocabulary: str | None) -> dict[str, dict[str, str]]:
    """Data set -> {file: sha256} for what a notebook reads (its own data sets plus its vocabulary's)."""
    names = list(NOTEBOOK_DATA.get(notebook, ()))
    vocab_file: Path | None = None
    if vocabulary:
        if vocabulary in VOCABULARY_DATA:
            names += VOCABULARY_DATA[vocabulary]
        else:
            vocab_file = Path(vocabulary).expanduser()
    out: dict[str, dict[str, str]] = {}
    for name in dict.fromkeys(names):
        if name == "wordnet":
            location = _wordnet_location()
            out[name] = tree_digests(location) if location else {}
        else:
            out[name] = {
                f"{folder}/{rel}": sha
                for folder in DATA_FOLDERS[name]
                for rel, sha in tree_digests(paths.data_dir() / folder).items()
            }
    if vocab_file is not None:
        out["vocabulary_file"] = tree_digests(vocab_file) if vocab_file.exists() else {}
    return out


# ------------------------------------------------------------------------------------------------ models


def model_fingerprint(yaml_path: Path | None, yaml_bytes: bytes, source_path: str | None) -> dict[str, Any]:
    """The model's YAML and, for a local ``source.path`` artefact, the sha256 of its files (a PyPI or hub
    artefact is pinned by the checksum in the YAML itself)."""
    out: dict[str, Any] = {"yaml_sha256": hashlib.sha256(yaml_bytes).hexdigest()}
    if source_path:
        location = Path(source_path).expanduser()
        if not location.is_absolute() and yaml_path is not None:
            location = (yaml_path.parent / location).resolve()
        out["artefact"] = tree_digests(location) if location.exists() else {"missing": str(location)}
    return out


# ------------------------------------------------------------------------------------------------ versions


def installed_versions() -> dict[str, str]:
    """Python and the versions of the libraries that compute the numbers (absent ones as 'absent')."""
    out = {"python": platform.python_version()}
    for name in VERSIONED:
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            out[name] = "absent"
    return out


def job_key(parts: Mapping[str, Any]) -> str:
    """sha256 of the JSON of a job's dependencies (sorted keys, so the order they were collected in is moot)."""
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()


