"""A warm run reads stored vectors without loading the model again; a changed model is noticed."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import wordembed.models.registry as registry
from wordembed.sources import get_embeddings
from wordembed.store import EmbeddingStore


def _vector_model(tmp_path: Path, rows: dict[str, list[float]]) -> Path:
    vectors = tmp_path / "vectors.txt"
    dims = len(next(iter(rows.values())))
    lines = [f"{len(rows)} {dims}"] + [f"{w} " + " ".join(map(str, v)) for w, v in rows.items()]
    vectors.write_text("\n".join(lines) + "\n")
    spec = tmp_path / "tiny-static.yaml"
    spec.write_text(
        "key: tiny-static\nrole: classical\nbackend: static\ndescription: test vectors\nparams: 6\ndims: 2\n"
        f"source:\n  path: {vectors}\noptions: {{}}\n"
    )
    return spec


def test_warm_run_does_not_load_the_model(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    spec = _vector_model(tmp_path, {"king": [1.0, 0.0], "queen": [0.0, 1.0], "man": [0.5, 0.5]})
    store = EmbeddingStore(tmp_path / "store")
    calls: list[str] = []
    real_load = registry.load_encoder

    def counting_load(*args: object, **kwargs: object) -> object:
        calls.append("load")
        return real_load(*args, **kwargs)

    monkeypatch.setattr(registry, "load_encoder", counting_load)
    first = get_embeddings(spec, ["king", "queen", "nope"], store=store, progress=False)
    assert calls == ["load"]
    assert first.words == ["king", "queen"] and first.missing == ["nope"]

    warm = get_embeddings(spec, ["queen", "king", "nope"], store=store, progress=False)
    assert calls == ["load"], "a fully stored word list must not load the model"
    np.testing.assert_array_equal(warm.vectors, [[0.0, 1.0], [1.0, 0.0]])
    assert warm.missing == ["nope"]

    more = get_embeddings(spec, ["king", "man"], store=store, progress=False)
    assert calls == ["load", "load"], "a new word loads the model"
    np.testing.assert_allclose(more.vectors, [[1.0, 0.0], [0.5, 0.5]])


def test_changed_model_files_are_not_served_from_the_old_entry(tmp_path: Path) -> None:
    spec = _vector_model(tmp_path, {"king": [1.0, 0.0], "queen": [0.0, 1.0]})
    store = EmbeddingStore(tmp_path / "store")
    get_embeddings(spec, ["king"], store=store, progress=False)
    _vector_model(tmp_path, {"king": [3.0, 4.0], "queen": [0.0, 1.0]})  # same spec, new vectors file
    again = get_embeddings(spec, ["king"], store=store, progress=False)
    np.testing.assert_allclose(again.vectors, [[3.0, 4.0]])


def test_the_store_owns_the_aliases_and_removing_an_entry_drops_its_own(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = _vector_model(tmp_path, {"king": [1.0, 0.0], "queen": [0.0, 1.0]})
    store = EmbeddingStore(tmp_path / "store")
    calls: list[str] = []
    real_load = registry.load_encoder

    def counting_load(*args: object, **kwargs: object) -> object:
        calls.append("load")
        return real_load(*args, **kwargs)

    monkeypatch.setattr(registry, "load_encoder", counting_load)
    get_embeddings(spec, ["king"], store=store, progress=False)
    (alias,) = (store.root / "aliases").glob("*.json")
    (entry,) = store.entries()
    assert store.read_alias(alias.stem) == entry.fingerprint
    store.remove("tiny-static")
    assert not alias.exists(), "an alias of a removed entry would point at nothing"
    again = get_embeddings(spec, ["king"], store=store, progress=False)
    assert calls == ["load", "load"]
    np.testing.assert_array_equal(again.vectors, [[1.0, 0.0]])
    assert store.read_alias(alias.stem) == entry.fingerprint
