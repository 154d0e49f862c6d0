"""Backend name -> module implementing it. Imported lazily, so a missing optional dependency (TensorFlow,
an API client) only matters to users of that backend.

Each module defines ``from_spec(spec: ModelSpec, artifact: Path | None, device: str | None) -> Encoder``;
``artifact`` is the verified local file or folder from :func:`wordembed.models.fetch.resolve_artifact`, or
None for sources that need none (a hub id the backend loads itself, a network API).
"""

from __future__ import annotations

BACKENDS: dict[str, str] = {
    "sentence-transformers": "wordembed.models.sbert",
    "use-m3": "wordembed.models.use_m3",
    "static": "wordembed.models.static",
    "decoder": "wordembed.models.decoder",
    "tfhub": "wordembed.models.tfhub",
    "laser": "wordembed.models.laser",
    "openai": "wordembed.models.openai_api",
    "google": "wordembed.models.google_api",
}
