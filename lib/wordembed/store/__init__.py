"""The embedding store: every word's vector is computed once per encoder fingerprint and reused.

Why it looks like this:

- One folder per fingerprint (``<key>-<sha256(fingerprint)[:16]>/``) with a small ``meta.json``, so a change
  of model, backend option or artefact checksum starts a new entry and never mixes vectors.
- Vectors live in *chunks* of up to ``encoder.chunk_size`` words (1024 by default), each written as soon as
  it is encoded: an interrupted run over 77k words loses at most one chunk, and a paid API batch is kept.
  Hashing, writing and fsync run on one background thread while the next chunk is encoded, so the store
  costs a cold run almost nothing over calling the model directly.
- A chunk is an uncompressed ``.npz`` (``numpy.load(path)`` opens it: no code of ours, nothing pickled)
  plus a JSON *sidecar* holding its header: model key, fingerprint, shape, dtype, words, which words are
  absent, and the sha256 and size of the ``.npz``. The sidecar is named by the hash of the chunk's words
  (content addressed); the ``.npz`` by that hash and its own (``<stem>.<sha256[:16]>.npz``).
- Both files are written to temporary names and fsynced (together: one journal commit, not two), then
  ``os.replace``-d into place; the ``.npz`` first, the sidecar last, and the sidecar is what makes a chunk
  exist. A reader therefore never sees half a chunk: it sees no sidecar, or a sidecar whose data file is
  already whole. The folder is fsynced with the next chunk's files and once when the run ends (not after
  every chunk: one wait less each), so a power cut loses at most the last chunk; on a filesystem that does
  not keep renames in order, a sidecar whose data did not survive is a corrupt chunk, recomputed.
- The sidecar carries the sha256 of the ``.npz``; reading checks it, and checks that the data's words and
  present flags are the sidecar's. A truncated, corrupt or stale chunk is reported (a warning naming the
  file), removed, and its words computed again.
- The word -> chunk index is rebuilt on every call from the sidecars (no vectors read, no index file that
  could disagree with the chunks).
- Legacy chunks (``<stem>.chunk``, one binary file, written before the ``.npz`` format) are still read, and
  checked against their own checksum, so a store filled by an older version is reused, not recomputed.
  New chunks are always written in the current format.
- ``meta.json`` is (re)written before any chunk lands in an entry that lacks it, so an entry whose folder was
  deleted and re-created mid-run is still listed with its model and fingerprint.
- :meth:`EmbeddingStore.entries` reads sidecars only (and the size of each data file); ``verify=True``
  re-hashes every chunk and reports the bad ones, and the words two chunks disagree on (``wordembed store
  list --verify``), without removing them: listing never changes the store.
- A failed write (disk full, read-only folder) is a one-line :class:`StoreError` naming the file; chunks
  already written stay valid and are reused by the next run.
- The store owns its aliases (``aliases/<hash>.json``: a model spec -> the fingerprint its encoder reported),
  so a warm run reads stored vectors without loading the model (:func:`embed_by_alias`).
- Storage and orchestration are apart: :class:`EmbeddingStore` reads and writes chunks;
  :class:`CachedEncoder` / :func:`embed_with_store` wrap any encoder and decide what to encode.

Many writers (Dask workers on a shared filesystem, several notebooks on one model):

- Writes stay atomic per file, as above, and a chunk's files are content addressed, so two writers of the
  same chunk write the same names. Two writers whose vectors agree write byte-identical files (the zip
  dates are fixed and the sidecar holds no time or host), so the second rename changes nothing. Two whose
  vectors differ (a non-deterministic GPU kernel) write different ``.npz`` names; the sidecar renamed last
  wins and names its own data file, so no sidecar ever points at the other writer's bytes.
- With ``filelock`` installed (the ``cluster`` extra), a writer takes the chunk's lock
  (``<entry>/locks/<stem>.lock``) before encoding it and its writer thread releases it once the chunk is on
  disk; a second writer of the same chunk waits, then finds the sidecar and reads the chunk instead of
  encoding it, and the lock holder removes any ``.npz`` of that stem its sidecar does not name. Without
  ``filelock`` (the core install, or ``EmbeddingStore(locking=False)``) the rename protocol alone holds:
  readers stay safe and nothing is corrupted, a second writer may only repeat work, and a ``.npz`` no sidecar
  names (a lost race, a writer killed between its two renames) is removed by a later scan once a day old.
- Between chunks (at most every half second) a writer lists the entry's sidecars again and reads the words
  other writers stored meanwhile, so writers on overlapping word lists share the work instead of each
  encoding everything.
- Duplicates: writers with overlapping but different word lists make different chunks (a chunk's name is
  the hash of its words), so a word may be stored in two chunks of one entry. That is allowed when both
  give the same vector (or both mark the word absent), which a deterministic encoder guarantees; ``verify``
  lists the words where they differ. Every reader picks the same one: the chunk first in (stem, current
  format before legacy) order answers for a word, whatever order the files were written in.

On-disk layout::

    <root>/
      aliases/<sha256 of a spec>.json            {"key": ..., "fingerprint": ...}
      <key>-<sha256(fingerprint)[:16]>/
        meta.json                                {"format": 1, "key", "fingerprint", "dims", "shape", "created"}
        locks/<stem>.lock                        empty; only with filelock
        chunks/
          <stem>.json                            the sidecar (below); <stem> = sha256("\\n".join(words))[:32]
          <stem>.<sha256(npz)[:16]>.npz          arrays words (n,) <U, present (n,) bool,
                                                 vectors (n_present, *shape) <f4: rows of the present words
          <stem>.chunk                           legacy chunk (read only)

Sidecar (JSON object): ``format`` (2), ``kind`` ("wordembed-chunk"), ``key``, ``fingerprint``,
``fingerprint_sha256``, ``shape``, ``dtype`` ("<f4"), ``n``, ``n_present``, ``absent`` (row indices of words
without a vector), ``data`` (the ``.npz`` file name), ``data_bytes``, ``data_sha256``, ``layout`` (these
arrays in words), ``words``.

Legacy chunk file layout (little-endian), format 1::

    b"WEMBCHK\\x01" | u64 header length | header JSON | words JSON | present mask (n x u8)
    | float32 vectors of the present words (n_present x *shape) | sha256 of all the preceding bytes

    header JSON: {"format": 1, "fingerprint": sha256 of the fingerprint, "shape": [...], "n": ...,
                  "n_present": ..., "words_bytes": ..., "dtype": "<f4"}
"""

from __future__ import annotations

from wordembed.store.cached import CachedEncoder, embed_by_alias, embed_with_store
from wordembed.store.chunks import (
    CHUNK_FORMAT,
    DATA_SUFFIX,
    LEGACY_CHUNK_FORMAT,
    LEGACY_SUFFIX,
    MAGIC,
    SIDECAR_SUFFIX,
    ChunkHeader,
    chunk_stem,
    read_chunk,
    read_header,
)
from wordembed.store.export import EXPORT_FORMATS, export_entry
from wordembed.store.files import (
    TMP_SUFFIX,
    CorruptChunkError,
    StoreError,
    StoreWarning,
    atomic_write_bytes,
    filelock_available,
)
from wordembed.store.storage import (
    DEFAULT_CHUNK_SIZE,
    FORMAT_VERSION,
    EmbeddingStore,
    StoreEntry,
)

#: the file whose presence makes a chunk exist (its sidecar); legacy chunks end in :data:`LEGACY_SUFFIX`
CHUNK_SUFFIX = SIDECAR_SUFFIX

__all__ = [
    "CHUNK_FORMAT",
    "CHUNK_SUFFIX",
    "DATA_SUFFIX",
    "DEFAULT_CHUNK_SIZE",
    "EXPORT_FORMATS",
    "FORMAT_VERSION",
    "LEGACY_CHUNK_FORMAT",
    "LEGACY_SUFFIX",
    "MAGIC",
    "SIDECAR_SUFFIX",
    "TMP_SUFFIX",
    "CachedEncoder",
    "ChunkHeader",
    "CorruptChunkError",
    "EmbeddingStore",
    "StoreEntry",
    "StoreError",
    "StoreWarning",
    "atomic_write_bytes",
    "chunk_stem",
    "embed_by_alias",
    "embed_with_store",
    "export_entry",
    "filelock_available",
    "read_chunk",
    "read_header",
]
