"""``wordembed data list`` / ``data fetch`` against a real HTTP stand-in for the sets' public hosts.

The archives are rebuilt in the test from the workspace's verified copies, in the layout of the official
downloads (``BATS_3.0.zip`` holds ``BATS_3.0/<group>/<relation>.txt``, ``MEN.tar.gz`` holds ``MEN/...``,
``SimLex-999.zip`` holds ``SimLex-999/...``, ``ws353simrel.tar.gz`` holds ``wordsim353_sim_rel/...``), and
served under ``/<host>/<path>`` of each canonical URL, the ``WORDEMBED_DATA_MIRROR`` scheme. Nothing here
reaches a real host.
"""

from __future__ import annotations

import io
import tarfile
import urllib.parse
import warnings
import zipfile
from pathlib import Path

import pytest
from data_mirror_stand_in import MirrorState, serve

import wordembed.cli
from wordembed.datasets import (
    UnverifiedDataWarning,
    load_bats,
    load_google_analogy,
    load_word_similarity,
)
from wordembed.datasets.fetch import MIRROR_ENV, FetchError, fetch_set, mirror_url, set_status
from wordembed.datasets.sources import SETS
from wordembed.paths import data_dir

SHARED = data_dir()  # resolved at import, before any test points WORDEMBED_DATA elsewhere
BATS_URL = SETS["bats"]["downloads"][0]["url"]
SIMLEX_URL = SETS["simlex999"]["downloads"][0]["url"]
GOOGLE_URL = SETS["google"]["downloads"][0]["url"]

pytestmark = pytest.mark.skipif(
    any(set_status(name, SHARED).state != "ok" for name in SETS),
    reason=f"the verified data sets are not in {SHARED} to build the stand-in archives from",
)


def _path(url: str) -> str:
    parts = urllib.parse.urlsplit(url)
    return "/" + parts.netloc + parts.path


def _zip(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buffer.getvalue()


def _tar_gz(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tf:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def _official_downloads() -> dict[str, bytes]:
    """URL path -> body, as the canonical hosts would serve it (archives re-packed from the verified copies)."""
    files: dict[str, bytes] = {}
    for spec in SETS.values():
        folder = SHARED / spec["folder"]
        for item in spec["downloads"]:
            members = {member: (folder / rel).read_bytes() for rel, member in item["members"].items()}
            if spec["folder"] == "BATS_3.0":
                members["BATS_3.0/metadata.json"] = (folder / "metadata.json").read_bytes()  # extra: ignored
            if item["format"] == "zip":
                body = _zip(members)
            elif item["format"] == "tar.gz":
                body = _tar_gz(members)
            else:
                (body,) = members.values()
            files[_path(item["url"])] = body
    return files


@pytest.fixture(scope="module")
def downloads() -> dict[str, bytes]:
    return _official_downloads()


@pytest.fixture
def mirror(downloads: dict[str, bytes]):
    state = MirrorState(files=dict(downloads))
    with serve(state) as base:
        yield state, base


def _cli(monkeypatch: pytest.MonkeyPatch, *argv: str) -> int:
    """``wordembed ...`` with the ``data`` command registered (until COMMAND_MODULES lists it)."""
    modules = wordembed.cli.COMMAND_MODULES
    if "wordembed.commands.data" not in modules:
        monkeypatch.setattr(wordembed.cli, "COMMAND_MODULES", (*modules, "wordembed.commands.data"))
    return wordembed.cli.main(list(argv))


def test_shipped_checksums_agree_with_the_data_release() -> None:
    sums: dict[str, str] = {}
    for line in (SHARED / "SHA256SUMS").read_text().splitlines():
        digest, rel = line.split("  ", 1)
        sums[rel.removeprefix("./")] = digest
    for spec in SETS.values():
        for rel, digest in spec["files"].items():
            assert sums[f"{spec['folder']}/{rel}"] == digest


def test_mirror_keeps_host_and_path(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(MIRROR_ENV, raising=False)
    assert mirror_url(BATS_URL) == BATS_URL
    monkeypatch.setenv(MIRROR_ENV, "http://127.0.0.1:9/m/")
    assert (
        mirror_url(BATS_URL) == "http://127.0.0.1:9/m/s3.amazonaws.com/blackbirdprojects/tut_vsm/BATS_3.0.zip"
    )


def test_fetch_all_then_the_loaders_read_the_real_counts(
    mirror, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    state, base = mirror
    root = tmp_path / "data"
    monkeypatch.setenv("WORDEMBED_DATA", str(root))
    monkeypatch.setenv(MIRROR_ENV, base)

    assert _cli(monkeypatch, "data", "list") == 0
    before = capsys.readouterr().out
    for name in SETS:
        assert f"  {name} " in before and "missing" in before.split(f"  {name} ", 1)[1].splitlines()[0]

    assert _cli(monkeypatch, "data", "fetch", "--all") == 0
    out = capsys.readouterr().out
    assert out.count("fetched and verified") == len(SETS)
    assert sorted(state.requests) == sorted(_path(i["url"]) for s in SETS.values() for i in s["downloads"])
    assert not [p for p in root.iterdir() if p.name.startswith(".")]  # no staging folder left

    with warnings.catch_warnings():
        warnings.simplefilter("error", UnverifiedDataWarning)  # the fetched copy verifies, not just loads
        assert len(load_bats()) == 40
        assert len(load_google_analogy()) == 19_544
        sizes = {"simlex999": 999, "ws353": 353, "ws353_sim": 203, "ws353_rel": 252, "men": 3000}
        sizes |= {"rg65": 65, "rw": 2034}
        for name, pairs in sizes.items():
            assert len(load_word_similarity(name, root=root)) == pairs
    assert (root / "BATS_3.0" / "1_Inflectional_morphology" / "I01 [noun - plural_reg].txt").is_file()
    assert not (root / "BATS_3.0" / "metadata.json").exists()  # only verified files are kept

    assert _cli(monkeypatch, "data", "list") == 0
    after = capsys.readouterr().out
    for name in SETS:
        assert after.split(f"  {name} ", 1)[1].split()[0] == "ok"

    requests = len(state.requests)
    assert _cli(monkeypatch, "data", "fetch", "bats", "rg65") == 0
    assert capsys.readouterr().out.count("already present and verified") == 2
    assert len(state.requests) == requests  # nothing downloaded again


def _assert_clean_failure(err: FetchError, title: str, url: str, root: Path) -> None:
    message = str(err)
    assert "\n" not in message
    assert title in message and url in message and "offline" in message and "WORDEMBED_DATA" in message
    assert not root.exists() or list(root.iterdir()) == []


def test_truncated_download_leaves_nothing(mirror, tmp_path: Path) -> None:
    state, base = mirror
    state.truncate.add(_path(BATS_URL))
    root = tmp_path / "data"
    with pytest.raises(FetchError, match="truncated") as info:
        fetch_set("bats", root, mirror=base, retries=1, retry_wait=0.01)
    _assert_clean_failure(info.value, "BATS 3.0", mirror_url(BATS_URL, base), root)
    assert state.requests.count(_path(BATS_URL)) == 2  # retried once, then gave up


@pytest.mark.parametrize("url", [SIMLEX_URL, GOOGLE_URL], ids=["zip-member", "plain-file"])
def test_wrong_checksum_leaves_nothing(mirror, tmp_path: Path, url: str) -> None:
    state, base = mirror
    spec = SETS["simlex999" if url == SIMLEX_URL else "google"]
    if url == SIMLEX_URL:
        folder = SHARED / spec["folder"]
        text = (
            (folder / "SimLex-999/SimLex-999.txt")
            .read_bytes()
            .replace(b"old\tnew\tA\t1.58", b"old\tnew\tA\t9.58")
        )
        state.files[_path(url)] = _zip(
            {
                "SimLex-999/SimLex-999.txt": text,
                "SimLex-999/README.txt": (folder / "SimLex-999/README.txt").read_bytes(),
            }
        )
    else:
        state.files[_path(url)] = state.files[_path(url)].replace(b"Athens Greece", b"Athens Sparta", 1)
    root = tmp_path / "data"
    with pytest.raises(FetchError, match="sha256") as info:
        fetch_set("google" if url == GOOGLE_URL else "simlex999", root, mirror=base, retry_wait=0.01)
    _assert_clean_failure(info.value, spec["title"], mirror_url(url, base), root)


def test_dropped_connection_is_retried(mirror, tmp_path: Path) -> None:
    state, base = mirror
    state.drop[_path(SIMLEX_URL)] = 1
    root = tmp_path / "data"
    assert "fetched and verified" in fetch_set("simlex999", root, mirror=base, retry_wait=0.01)
    assert state.requests.count(_path(SIMLEX_URL)) == 2
    assert set_status("simlex999", root).state == "ok"


def test_not_an_archive_and_size_limit(mirror, tmp_path: Path) -> None:
    state, base = mirror
    state.files[_path(SIMLEX_URL)] = b"<html>moved</html>"
    root = tmp_path / "data"
    with pytest.raises(FetchError, match="not a valid zip archive") as info:
        fetch_set("simlex999", root, mirror=base, retry_wait=0.01)
    _assert_clean_failure(info.value, "SimLex-999", mirror_url(SIMLEX_URL, base), root)
    with pytest.raises(FetchError, match="limit") as info:
        fetch_set("bats", root, mirror=base, retry_wait=0.01, max_bytes=1000)
    _assert_clean_failure(info.value, "BATS 3.0", mirror_url(BATS_URL, base), root)
    with pytest.raises(FetchError, match="HTTP 404"):
        fetch_set("google", root, mirror=base + "elsewhere/", retry_wait=0.01)


def test_file_mirror_for_offline_use(downloads: dict[str, bytes], tmp_path: Path) -> None:
    """A folder laid out as ``<host>/<path>`` (what ``wget -x`` writes) is a mirror through ``file://``."""
    mirror_dir = tmp_path / "mirror"
    local = mirror_dir / _path(GOOGLE_URL).lstrip("/")
    local.parent.mkdir(parents=True)
    local.write_bytes(downloads[_path(GOOGLE_URL)])
    root = tmp_path / "data"
    assert "fetched and verified" in fetch_set("google", root, mirror=mirror_dir.as_uri() + "/")
    assert len(load_google_analogy(root=root)) == 19_544


def test_refused_connection_fails_fast(tmp_path: Path) -> None:
    root = tmp_path / "data"
    with pytest.raises(FetchError, match="cannot reach") as info:
        fetch_set("google", root, mirror="http://127.0.0.1:9/", retry_wait=5.0)  # would take 35 s if retried
    _assert_clean_failure(info.value, "Google analogy", "http://127.0.0.1:9/download.tensorflow.org/", root)


def test_modified_copy_is_replaced_only_with_force(mirror, tmp_path: Path) -> None:
    _state, base = mirror
    root = tmp_path / "data"
    fetch_set("google", root, mirror=base)
    path = root / "google_analogy" / "questions-words.txt"
    path.write_bytes(path.read_bytes()[:-10])
    assert set_status("google", root).state == "modified"
    with pytest.raises(FetchError, match="--force"):
        fetch_set("google", root, mirror=base)
    assert "fetched and verified" in fetch_set("google", root, mirror=base, force=True)
    assert set_status("google", root).state == "ok"
    assert sorted(p.name for p in root.iterdir()) == ["google_analogy"]


def test_unknown_set_is_one_line(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    assert _cli(monkeypatch, "data", "fetch", "nosuch") == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "unknown data set 'nosuch'" in err and "bats" in err
    assert _cli(monkeypatch, "data", "fetch") == 2
    assert "--all" in capsys.readouterr().err
