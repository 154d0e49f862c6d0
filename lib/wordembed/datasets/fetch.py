"""Fetch the evaluation data sets from their public URLs, verified, into the data directory.

Why this exists: a clone without the workspace's ``shared/data`` folder must still be able to run the study.
Why it is this careful: a benchmark that is half there, or silently different, gives numbers that look
fine and are not comparable with anyone's. So each set is built in a staging folder beside its final place
(same file system), every file is checked against the sha256 shipped in :mod:`wordembed.datasets.sources`,
and only a fully verified set is moved into place with one ``os.replace``. Anything that goes wrong removes
the staging folder and raises a one-line :class:`FetchError` naming the set, the URL and what to do offline.

Mirrors: ``WORDEMBED_DATA_MIRROR`` (e.g. ``http://127.0.0.1:8000/`` or ``file:///srv/mirror/``) replaces
each canonical URL by ``<mirror>/<host>/<path>`` of the canonical one, e.g.
``https://s3.amazonaws.com/blackbirdprojects/tut_vsm/BATS_3.0.zip`` ->
``<mirror>/s3.amazonaws.com/blackbirdprojects/tut_vsm/BATS_3.0.zip``. Host plus path, because that is the
tree ``wget -x URL`` (or ``wget -m``) writes, so ``python -m http.server`` run in such a folder is a mirror,
and two hosts can never collide on the same path.

Besides the files, each fetched set folder gets a ``SHA256SUMS`` (paths relative to that folder), so the
loaders verify the fetched copy as they verify the shared one instead of warning that nothing was checked.
"""

from __future__ import annotations

import gzip
import http.client
import os
import shutil
import tarfile
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from wordembed.datasets._io import sha256_file
from wordembed.datasets.sources import SETS
from wordembed.errors import ParameterError, WordembedError
from wordembed.paths import data_dir

MIRROR_ENV = "WORDEMBED_DATA_MIRROR"
TIMEOUT_S = 60.0  # per socket operation, not per download
RETRIES = 3  # extra attempts after a dropped connection, a timeout or a 5xx (not a refused connection)
RETRY_WAIT_S = 2.0  # first pause; doubles after each retry
MAX_BYTES = 64 * 1024 * 1024  # every set's download is < 2 MB; a bigger answer is not the data set
SUMS_NAME = "SHA256SUMS"
STAGING_PREFIX = ".wordembed-fetch-"
USER_AGENT = "wordembed-data-fetch (urllib)"

#: other names users type for a set -> its key in SETS (RG-65 and Rare Words share a folder, so one set)
ALIASES: dict[str, str] = {
    "bats3": "bats",
    "google_analogy": "google",
    "simlex": "simlex999",
    "wordsim353": "ws353",
    "ws353_sim": "ws353",
    "ws353_rel": "ws353",
    "rg65": "word_similarity",
    "rw": "word_similarity",
}


class FetchError(WordembedError):
    """A data set could not be fetched; nothing of it was left in the data directory."""


class _Retryable(Exception):
    """A failure that a second attempt may not meet (dropped connection, timeout, truncation, 5xx)."""


@dataclass(frozen=True)
class SetStatus:
    """What ``wordembed data list`` reports for one set."""

    name: str
    title: str
    path: Path
    state: str  # "ok", "missing", "incomplete" or "modified"
    files: int  # files the set has
    verified: int  # of those, present with the shipped sha256
    problem: str = ""  # first missing or differing file


def resolve_names(names: list[str]) -> list[str]:
    """Set keys for ``names`` (aliases folded, duplicates dropped, order kept); unknown -> ParameterError."""
    keys: list[str] = []
    for name in names:
        key = ALIASES.get(name.lower(), name.lower())
        if key not in SETS:
            valid = ", ".join([*SETS, *ALIASES])
            raise ParameterError(f"unknown data set {name!r}: choose from {valid}, or --all")
        if key not in keys:
            keys.append(key)
    return keys


def mirror_url(url: str, mirror: str | None = None) -> str:
    """``url`` redirected to ``<mirror>/<host>/<path>`` when a mirror is set (argument or env), else as is."""
    mirror = mirror if mirror is not None else os.environ.get(MIRROR_ENV, "")
    if not mirror:
        return url
    parts = urllib.parse.urlsplit(url)
    return mirror.rstrip("/") + "/" + parts.netloc + parts.path


def set_status(name: str, root: Path | None = None) -> SetStatus:
    """Whether set ``name`` is in the data directory and matches the shipped checksums, file by file."""
    spec = SETS[name]
    folder = (root if root is not None else data_dir()) / spec["folder"]
    files: dict[str, str] = spec["files"]
    verified, missing, modified = 0, [], []
    for rel, expected in files.items():
        path = folder / rel
        if not path.is_file():
            missing.append(rel)
        elif sha256_file(path) != expected:
            modified.append(rel)
        else:
            verified += 1
    if verified == len(files):
        state, problem = "ok", ""
    elif modified:
        state, problem = "modified", f"{modified[0]} differs from the published file"
    elif len(missing) == len(files):
        state, problem = "missing", ""
    else:
        state, problem = "incomplete", f"{missing[0]} is missing"
    return SetStatus(name, spec["title"], folder, state, len(files), verified, problem)


def _offline_hint(spec: dict[str, Any], root: Path) -> str:
    return (
        f"offline: copy a verified {spec['folder']}/ folder into {root} (or set WORDEMBED_DATA to a folder "
        f"holding one), or set {MIRROR_ENV} to a mirror laid out as <mirror>/<host>/<path>"
    )


def _download(url: str, dest: Path, *, timeout: float, max_bytes: int) -> None:
    """One attempt: ``url`` into ``dest``; raises :class:`_Retryable` or a final error string via FetchError."""
    request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            length_header = response.headers.get("Content-Length")
            expected = int(length_header) if length_header and length_header.isdigit() else None
            if expected is not None and expected > max_bytes:
                raise ValueError(f"server announces {expected} bytes, over the {max_bytes}-byte limit")
            received = 0
            with open(dest, "wb") as out:
                while True:
                    block = response.read(1 << 16)
                    if not block:
                        break
                    received += len(block)
                    if received > max_bytes:
                        raise ValueError(f"download exceeds the {max_bytes}-byte limit")
                    out.write(block)
            if expected is not None and received != expected:
                raise _Retryable(f"truncated download: got {received} of {expected} bytes")
    except urllib.error.HTTPError as err:
        if err.code >= 500 or err.code == 429:
            raise _Retryable(f"HTTP {err.code} {err.reason}") from None
        raise ValueError(f"HTTP {err.code} {err.reason}") from None
    except http.client.IncompleteRead as err:
        raise _Retryable(
            f"truncated download: got {len(err.partial)} more bytes, then the connection closed"
        ) from None
    except (ConnectionError, TimeoutError, http.client.HTTPException) as err:
        raise _Retryable(f"{type(err).__name__}: {err}".rstrip(": ")) from None
    except urllib.error.URLError as err:
        reason = err.reason
        if isinstance(reason, (ConnectionError, TimeoutError)) and not isinstance(
            reason, ConnectionRefusedError
        ):
            raise _Retryable(f"{type(reason).__name__}: {reason}") from None
        raise ValueError(f"cannot reach the server ({reason})") from None


def download(
    url: str,
    dest: Path,
    *,
    timeout: float = TIMEOUT_S,
    retries: int = RETRIES,
    retry_wait: float = RETRY_WAIT_S,
    max_bytes: int = MAX_BYTES,
) -> None:
    """``url`` into ``dest``, retrying a dropped connection, a timeout, a truncation or a 5xx ``retries`` times.

    Raises ``ValueError`` with a short reason when it gives up; the caller adds which set and what to do.
    """
    wait = retry_wait
    for attempt in range(retries + 1):
        try:
            _download(url, dest, timeout=timeout, max_bytes=max_bytes)
            return
        except _Retryable as err:
            if attempt == retries:
                raise ValueError(f"{err} (after {retries + 1} attempts)") from None
            time.sleep(wait)
            wait *= 2


def _find_member(names: list[str], wanted: str) -> str:
    """The archive member ``wanted``, else the only member ending in ``/<wanted's file name>``.

    The fallback keeps a re-packed archive with a different top folder usable; the checksum still decides.
    """
    if wanted in names:
        return wanted
    base = wanted.rsplit("/", 1)[-1]
    matches = [name for name in names if name == base or name.endswith("/" + base)]
    if len(matches) == 1:
        return matches[0]
    raise ValueError(f"the archive has no member {wanted}")


def _extract(archive: Path, fmt: str, members: dict[str, str], folder: Path) -> None:
    """Only the listed members, written by name under ``folder`` (never ``extractall``: no path tricks)."""

    def write(rel: str, read: Callable[[], bytes]) -> None:
        target = folder / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(read())

    try:
        if fmt == "file":
            for rel in members:
                target = folder / rel
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(archive, target)
        elif fmt == "zip":
            with zipfile.ZipFile(archive) as zf:
                names = [info.filename for info in zf.infolist() if not info.is_dir()]
                for rel, member in members.items():
                    name = _find_member(names, member)
                    write(rel, lambda name=name: zf.read(name))
        elif fmt == "tar.gz":
            with tarfile.open(archive, "r:gz") as tf:
                regular = {info.name.removeprefix("./"): info for info in tf.getmembers() if info.isfile()}
                for rel, member in members.items():
                    info = regular[_find_member(list(regular), member)]

                    def read(info: tarfile.TarInfo = info) -> bytes:
                        handle = tf.extractfile(info)
                        assert handle is not None  # regular files always have contents
                        return handle.read()

                    write(rel, read)
        else:
            raise ValueError(f"unknown archive format {fmt!r}")
    except (zipfile.BadZipFile, tarfile.TarError, gzip.BadGzipFile, zlib.error, EOFError, KeyError) as err:
        raise ValueError(f"not a valid {fmt} archive ({err})") from None


def _verify(files: dict[str, str], rels: list[str], folder: Path) -> None:
    """Every file of ``rels`` under ``folder`` has its shipped sha256 (checked per download, to name its URL)."""
    for rel in rels:
        expected = files[rel]
        actual = sha256_file(folder / rel)
        if actual != expected:
            raise ValueError(f"{rel}: sha256 {actual} differs from the shipped {expected}")


def fetch_set(
    name: str,
    root: Path | None = None,
    *,
    force: bool = False,
    mirror: str | None = None,
    timeout: float = TIMEOUT_S,
    retries: int = RETRIES,
    retry_wait: float = RETRY_WAIT_S,
    max_bytes: int = MAX_BYTES,
) -> str:
    """Fetch set ``name`` into ``root`` (default: the data directory); returns what was done, one line.

    A set already present and verified is left alone. One present but incomplete or modified is replaced
    only with ``force`` (it may be someone's edited copy). On any failure nothing is left behind.
    """
    spec = SETS[resolve_names([name])[0]]
    root = root if root is not None else data_dir()
    target = root / spec["folder"]
    if target.exists():
        status = set_status(resolve_names([name])[0], root)
        if status.state == "ok":
            return f"{spec['title']}: already present and verified in {target}"
        if not force:
            raise FetchError(
                f"{spec['title']}: {target} exists but is {status.state} ({status.problem or 'no files'}); "
                "move it away or pass --force to replace it"
            )
    try:
        root.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f"{STAGING_PREFIX}{spec['folder']}-", dir=root))
    except OSError as err:
        raise FetchError(f"{spec['title']}: cannot write to the data directory {root} ({err})") from None
    url = ""
    try:
        built = staging / spec["folder"]
        built.mkdir()
        for number, item in enumerate(spec["downloads"]):
            url = mirror_url(item["url"], mirror)
            archive = staging / f"download-{number}"
            download(
                url, archive, timeout=timeout, retries=retries, retry_wait=retry_wait, max_bytes=max_bytes
            )
            _extract(archive, item["format"], item["members"], built)
            _verify(spec["files"], list(item["members"]), built)
            archive.unlink()
        url = ""
        sums = "".join(f"{sha}  {rel}\n" for rel, sha in sorted(spec["files"].items()))
        (built / SUMS_NAME).write_text(sums, encoding="utf-8")
        previous = staging / "previous"
        if target.exists():  # force: swap the old copy out, then the new one in, then drop the old
            os.replace(target, previous)
        try:
            os.replace(built, target)
        except OSError:
            if previous.exists():
                os.replace(previous, target)  # put the user's copy back before staging is removed
            raise
    except ValueError as err:
        where = f" from {url}" if url else ""
        raise FetchError(
            f"fetching {spec['title']}{where} failed: {err}; nothing was written. {_offline_hint(spec, root)}"
        ) from None
    except OSError as err:
        raise FetchError(
            f"fetching {spec['title']} into {root} failed: {err}; nothing was written. {_offline_hint(spec, root)}"
        ) from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return f"{spec['title']}: fetched and verified ({len(spec['files'])} files) into {target}"
