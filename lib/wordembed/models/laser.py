"""LASER-2 (Facebook's multilingual BiLSTM sentence encoder) as our own small torch module.

Why not ``laser_encoders``: version 0.0.2 imports fairseq at import time, and fairseq 0.12.2 fails to import
on Python 3.11. Its LSTM path needs nothing from fairseq, so this module reproduces it: the checkpoint
(``laser2.pt``) is a plain dict ``{"params", "model", "dictionary"}`` for ``LaserLstmEncoder``: token
embedding, a stacked (Bi)LSTM run on a length-sorted packed batch, and max pooling over time with padded steps
set to -inf. Tokenisation follows ``LaserTokenizer``: characters of Unicode category C become spaces, Moses
punctuation normalisation (``sacremoses``, Perl-parity mode, with LASER's two MOSES-4.0 quote rules), lower
case, SentencePiece pieces (``laser2.spm``); pieces map to ids through the checkpoint's dictionary (unknown ->
``<unk>``) and ``</s>`` is appended. Special ids are forced to ``<s>=0, <pad>=1, </s>=2, <unk>=3`` as
laser_encoders does. ``laser2.cvocab`` (a fairseq dictionary, ``piece count`` per line) is used only when a
checkpoint carries no dictionary.

Where the files come from: ``source.path`` (the artefact), else ``options.model_dir``, else
``<model cache>/<key>/``. Files missing there are downloaded (``options.download``, default true) from the URL
laser_encoders uses, ``https://dl.fbaipublicfiles.com/nllb/laser/<name>.{pt,spm,cvocab}``, each to a temporary
file then renamed, so an interrupted download never leaves a truncated model behind.

Why the loader trusts no file: a ``.pt`` is a pickle, and unpickling runs whatever code the file names. So

- a download needs the file's sha256 pinned in ``options.sha256`` (``{pt, spm, cvocab}``); a file without a
  pin is not fetched (one-line error naming the file and the field), a file whose sha256 differs from its pin
  is discarded before it lands in the folder. Pinned files already there are checked again before loading.
  Upstream publishes no checksums, so ``params/models/laser2.yaml`` ships the pins empty: fill them from
  copies you trust (``sha256sum laser2.pt laser2.spm laser2.cvocab``) or use ``source.path``.
- downloads go over https only; plain http only to this machine (``127.0.0.1``, ``localhost``, ``::1``, e.g.
  a test server), a local folder or ``file://`` URL is read directly; a redirect must obey the same rule.
- the checkpoint is read with ``torch.load(weights_only=True)`` and nothing else: tensors and plain
  containers. A checkpoint that needs more (pickled classes or functions) is refused, never unpickled.

Options:

- ``name`` (default ``laser2``): file stem of ``.pt``/``.spm``/``.cvocab``.
- ``model_dir``, ``download`` (bool, default true), ``base_url``: see above.
- ``sha256`` (default none): ``{pt: HEX, spm: HEX, cvocab: HEX}``, the files' sha256; required to download a
  file, checked before loading whenever given.
- ``max_tokens`` (default 12000), ``max_sentences`` (default none): batch limits, as in LASER's embed.py.
  Results do not depend on them (packing ignores padding), only speed and memory do.
- ``lang`` (default ``en``): Moses punctuation-normalisation language; ``lower_case`` (true),
  ``normalize_punct`` (true), ``descape`` (false): LaserTokenizer's switches.
- ``normalize_embeddings`` (default false): L2-normalise each vector (laser_encoders' option; off there too).
"""

from __future__ import annotations

import hashlib
import os
import pickle
import re
import unicodedata
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from wordembed.errors import DataFormatError, ModelError, ParameterError
from wordembed.models.fetch import ArtifactChecksumError
from wordembed.models.spec import ModelSpec, fingerprint, merge_options
from wordembed.paths import model_cache_dir
from wordembed.util import atomic_open, choose_device, sha256_file, unit_rows

BASE_URL = "https://dl.fbaipublicfiles.com/nllb/laser"
SUFFIXES = (".pt", ".spm", ".cvocab")
DEFAULTS: dict[str, Any] = {
    "name": "laser2",
    "model_dir": None,
    "download": True,
    "base_url": BASE_URL,
    "sha256": None,
    "max_tokens": 12000,
    "max_sentences": None,
    "lang": "en",
    "lower_case": True,
    "normalize_punct": True,
    "descape": False,
    "normalize_embeddings": False,
}
PIN_KEYS = {suffix: suffix.lstrip(".") for suffix in SUFFIXES}  # ".pt" -> options.sha256.pt
LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")
_HEX64 = re.compile(r"^[0-9a-f]{64}$")
# the options that change vectors (batch limits and where files come from do not; file contents are hashed)
VECTOR_OPTIONS = ("lang", "lower_case", "normalize_punct", "descape", "normalize_embeddings")
BOS, PAD, EOS, UNK = 0, 1, 2, 3
SPECIALS = {"<s>": BOS, "<pad>": PAD, "</s>": EOS, "<unk>": UNK}
_SPACES = re.compile(r"\s+")
# LaserTokenizer swaps sacremoses' Perl-parity rules for the single quotes for MOSES release-4.0 ones.
_QUOTE_RULES = {"‘": (r"‘", r'"'), "‚": (r"‚", r'"')}


class LaserLstmEncoder(nn.Module):
    """laser_encoders' ``LaserLstmEncoder`` with the same constructor and parameter names, so its
    ``state_dict`` loads unchanged; ``forward`` returns only the sentence embedding."""

    def __init__(
        self,
        num_embeddings: int,
        padding_idx: int,
        embed_dim: int = 320,
        hidden_size: int = 512,
        num_layers: int = 1,
        bidirectional: bool = False,
        left_pad: bool = True,
        padding_value: float = 0.0,
    ) -> None:
        super().__init__()
        self.num_layers = num_layers
        self.bidirectional = bidirectional
        self.hidden_size = hidden_size
        self.padding_idx = padding_idx
        self.embed_tokens = nn.Embedding(num_embeddings, embed_dim, padding_idx=padding_idx)
        self.lstm = nn.LSTM(
            input_size=embed_dim, hidden_size=hidden_size, num_layers=num_layers, bidirectional=bidirectional
        )
        self.left_pad = left_pad  # kept for checkpoint compatibility; LASER pads LSTM batches on the right
        self.padding_value = padding_value
        self.output_units = hidden_size * (2 if bidirectional else 1)

    def forward(self, src_tokens: torch.Tensor, src_lengths: torch.Tensor) -> torch.Tensor:
        """``src_tokens`` ``(batch, time)`` right-padded and sorted by decreasing length -> ``(batch, units)``."""
        bsz, seqlen = src_tokens.shape
        x = self.embed_tokens(src_tokens).transpose(0, 1)  # T x B x C
        packed = nn.utils.rnn.pack_padded_sequence(x, src_lengths.cpu())
        directions = 2 if self.bidirectional else 1
        zeros = x.new_zeros(directions * self.num_layers, bsz, self.hidden_size)
        packed_out, _ = self.lstm(packed, (zeros, zeros.clone()))
        out, _ = nn.utils.rnn.pad_packed_sequence(
            packed_out, padding_value=self.padding_value, total_length=seqlen
        )
        padding = src_tokens.eq(self.padding_idx).t().unsqueeze(-1)
        if padding.any():
            out = out.float().masked_fill(padding, float("-inf")).type_as(out)
        return out.max(dim=0).values


class LaserTokenizer:
    """laser_encoders' ``LaserTokenizer.tokenize``: text -> space-joined SentencePiece pieces."""

    def __init__(
        self,
        spm_model: Path,
        *,
        lang: str = "en",
        lower_case: bool = True,
        normalize_punct: bool = True,
        descape: bool = False,
    ) -> None:
        import sentencepiece as spm
        from sacremoses import MosesDetokenizer, MosesPunctNormalizer

        self.lower_case = lower_case
        self.normalize_punct = normalize_punct
        self.descape = descape
        self.punct = MosesPunctNormalizer(lang, perl_parity=True)
        rules = list(self.punct.substitutions)
        for i, (pattern, _) in enumerate(rules):
            if pattern in _QUOTE_RULES:
                rules[i] = _QUOTE_RULES[pattern]
        self.punct.substitutions = rules
        self.detok = MosesDetokenizer() if descape else None
        try:
            self.spm = spm.SentencePieceProcessor(model_file=str(spm_model))
        except (OSError, RuntimeError) as exc:
            raise ModelError(f"{spm_model}: not a SentencePiece model ({exc})") from exc

    def normalize(self, text: str) -> str:
        """The text SentencePiece sees."""
        text = "".join(" " if unicodedata.category(c)[0] == "C" else c for c in text)
        if self.normalize_punct:
            text = self.punct.normalize(text)
        if self.detok is not None:
            text = self.detok.unescape_xml(text=text)
        if self.lower_case:
            text = text.lower()
        return text

    def tokenize(self, text: str) -> str:
        return " ".join(self.spm.encode(self.normalize(text), out_type=str))


def read_cvocab(path: Path) -> dict[str, int]:
    """A fairseq dictionary file (``symbol count`` per line) as ``symbol -> id``, ids 4.. after the specials."""
    vocab = dict(SPECIALS)
    with open(path, encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            parts = line.rstrip("\n").rsplit(" ", 1)
            if len(parts) != 2 or not parts[0]:
                raise DataFormatError(path, lineno, "expected 'symbol count'")
            vocab.setdefault(parts[0], len(vocab))
    return vocab


def pins(spec: ModelSpec, options: Mapping[str, Any]) -> dict[str, str | None]:
    """``options.sha256`` as ``suffix -> sha256 or None``, checked: 64 lower-case hex digits per given file."""
    given = options.get("sha256") or {}
    if not isinstance(given, Mapping):
        raise ParameterError(
            f"{spec.where}: field 'options.sha256' must be a mapping {{pt, spm, cvocab}} of sha256 hex digests"
        )
    for key, value in given.items():
        if key not in PIN_KEYS.values():
            raise ParameterError(
                f"{spec.where}: unknown field 'options.sha256.{key}'; valid fields: {', '.join(PIN_KEYS.values())}"
            )
        if value is not None and not (isinstance(value, str) and _HEX64.match(value)):
            raise ParameterError(
                f"{spec.where}: field 'options.sha256.{key}' must be 64 lower-case hex digits or null, not {value!r}"
            )
    return {suffix: given.get(key) for suffix, key in PIN_KEYS.items()}


def checked_url(base_url: str, where: str) -> str:
    """The base URL to fetch from, refused unless https, http to this machine, or a local folder/file URL."""
    parts = urllib.parse.urlsplit(base_url)
    if parts.scheme in ("", "file") and not parts.netloc:
        folder = Path(os.path.expanduser(parts.path if parts.scheme else base_url))
        return folder.resolve().as_uri()
    if parts.scheme == "https" or (parts.scheme == "http" and parts.hostname in LOCAL_HOSTS):
        return base_url
    raise ModelError(
        f"{where}: option base_url {base_url!r} is refused: downloads must use https:// (plain http only to "
        f"{', '.join(LOCAL_HOSTS)}), or give a local folder"
    )


class _CheckedRedirect(urllib.request.HTTPRedirectHandler):
    """Follows a redirect only to a URL that :func:`checked_url` accepts (an https site may not send us to
    plain http elsewhere)."""

    def __init__(self, where: str) -> None:
        super().__init__()
        self.where = where

    def redirect_request(self, req: Any, fp: Any, code: int, msg: str, headers: Any, newurl: str) -> Any:
        parts = urllib.parse.urlsplit(newurl)
        if parts.scheme not in ("http", "https"):
            raise ModelError(f"{self.where}: {req.full_url} redirects to {newurl!r}, which is refused")
        try:
            checked_url(newurl, self.where)
        except ModelError as exc:
            raise ModelError(
                f"{self.where}: {req.full_url} redirects to {newurl!r}, which is refused"
            ) from exc
        return super().redirect_request(req, fp, code, msg, headers, newurl)


def download_files(
    folder: Path,
    name: str,
    base_url: str = BASE_URL,
    *,
    sha256: Mapping[str, str | None] | None = None,
    timeout: float = 60.0,
    where: str = "LASER",
) -> None:
    """Fetch the missing ``name.{pt,spm,cvocab}`` into ``folder``, each atomically (temp file + rename) and only
    when its sha256 (``sha256``: suffix -> hex) is pinned and matches; every pin is checked before any fetch."""
    base = checked_url(base_url, where)
    wanted = [s for s in SUFFIXES if not (folder / f"{name}{s}").is_file()]
    sha256 = dict(sha256 or {})
    for suffix in wanted:
        if not sha256.get(suffix):
            raise ModelError(
                f"{where}: field 'options.sha256.{PIN_KEYS[suffix]}' is required to download {name}{suffix}: set "
                f"it to the file's sha256 (sha256sum {name}{suffix} on a copy you trust), or put {name}.pt, "
                f"{name}.spm and {name}.cvocab in a folder and set source.path to it"
            )
    opener = urllib.request.build_opener(_CheckedRedirect(where))
    folder.mkdir(parents=True, exist_ok=True)
    for suffix in wanted:
        target = folder / f"{name}{suffix}"
        url = f"{base.rstrip('/')}/{name}{suffix}"
        try:
            digest = hashlib.sha256()
            # renamed over the target only when the block ends without an error: length and sha256 checked
            with atomic_open(target, "wb", suffix=".part") as out, opener.open(url, timeout=timeout) as response:
                expected = response.headers.get("Content-Length")
                written = 0
                for block in iter(lambda: response.read(1 << 20), b""):
                    out.write(block)
                    digest.update(block)
                    written += len(block)
                if expected is not None and written != int(expected):
                    raise OSError(f"got {written} of {expected} bytes")
                if digest.hexdigest() != sha256[suffix]:
                    raise ArtifactChecksumError(
                        f"{where}: {url} has sha256 {digest.hexdigest()} but options.sha256.{PIN_KEYS[suffix]} "
                        f"pins {sha256[suffix]}; the download was discarded (a changed or tampered file, or a "
                        "wrong pin)"
                    )
        except (OSError, urllib.error.URLError, ValueError) as exc:
            raise ModelError(
                f"{where}: cannot download {url} ({exc}). Without network, copy {name}.pt, {name}.spm and "
                f"{name}.cvocab into a folder and set source.path (or options.model_dir) to it."
            ) from exc


def verify_files(folder: Path, name: str, sha256: Mapping[str, str | None], where: str) -> dict[str, str]:
    """sha256 of each present ``name.{pt,spm,cvocab}``; a file whose pin differs is refused before loading."""
    sums: dict[str, str] = {}
    for suffix in SUFFIXES:
        path = folder / f"{name}{suffix}"
        if not path.is_file():
            continue
        sums[suffix] = sha256_file(path)
        pin = sha256.get(suffix)
        if pin and sums[suffix] != pin:
            raise ArtifactChecksumError(
                f"{where}: {path} has sha256 {sums[suffix]} but options.sha256.{PIN_KEYS[suffix]} pins {pin}; "
                "refusing to load it (delete it to download it again, or fix the pin)"
            )
    return sums


def _load_checkpoint(path: Path) -> dict[str, Any]:
    """The checkpoint's tensors and plain containers, never more: a file that needs other objects is refused
    rather than unpickled, since unpickling runs code the file names."""
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        found = re.search(r"Unsupported global: GLOBAL (\S+)", str(exc))
        what = f"it needs {found.group(1)}" if found else str(exc).splitlines()[0]
        raise ModelError(
            f"{path}: refusing to unpickle the LASER checkpoint: {what}, which torch.load(weights_only=True) does "
            "not allow; we never run code from a model file. Re-save it as a dict of tensors and plain values "
            "({'params': dict, 'model': state_dict, 'dictionary': dict}) with torch.save."
        ) from exc
    except Exception as exc:
        raise ModelError(f"{path}: cannot read the LASER checkpoint ({exc})") from exc
    if not isinstance(state, dict) or "params" not in state or "model" not in state:
        keys = sorted(state) if isinstance(state, dict) else type(state).__name__
        raise ModelError(
            f"{path}: not a LASER LSTM checkpoint (expected a dict with 'params' and 'model', got {keys}); "
            "transformer-based LASER3 checkpoints are not supported"
        )
    return state


class LaserEncoder:
    """A LASER LSTM model folder as an :class:`~wordembed.models.base.Encoder` of single words."""

    def __init__(
        self,
        spec: ModelSpec,
        folder: Path,
        options: dict[str, Any],
        device: str | None = None,
        checksums: Mapping[str, str] | None = None,
    ) -> None:
        """``checksums``: suffix -> sha256 of the files, when the caller has verified them already."""
        opts = {**DEFAULTS, **options}
        max_tokens, max_sentences = opts["max_tokens"], opts["max_sentences"]
        if max_tokens is None and max_sentences is None:
            max_sentences = 1  # laser_encoders' default when neither limit is given
        for opt, value in (("max_tokens", max_tokens), ("max_sentences", max_sentences)):
            if value is not None and (not isinstance(value, int) or value < 1):
                raise ParameterError(
                    f"{spec.where}: option {opt} must be a positive integer or null, not {value!r}"
                )
        self.spec = spec
        self.key = spec.key
        self.folder = Path(folder)
        self.max_tokens = max_tokens
        self.max_sentences = max_sentences
        self.normalize_embeddings = bool(opts["normalize_embeddings"])
        name = str(opts["name"])
        pt, spm_path, cvocab = (self.folder / f"{name}{s}" for s in SUFFIXES)
        if not pt.is_file() or not spm_path.is_file():
            raise ModelError(f"{spec.where}: {self.folder} lacks {pt.name} or {spm_path.name}")
        self.tokenizer = LaserTokenizer(
            spm_path,
            lang=str(opts["lang"]),
            lower_case=bool(opts["lower_case"]),
            normalize_punct=bool(opts["normalize_punct"]),
            descape=bool(opts["descape"]),
        )
        state = _load_checkpoint(pt)
        params = dict(state["params"])
        if int(params.get("padding_idx", PAD)) != PAD:
            raise ModelError(f"{pt}: padding_idx {params['padding_idx']} differs from LASER's <pad> id {PAD}")
        try:
            self.model = LaserLstmEncoder(**params)
            self.model.load_state_dict(state["model"])
        except (TypeError, RuntimeError) as exc:
            raise ModelError(f"{pt}: checkpoint does not fit LaserLstmEncoder ({exc})") from exc
        if state.get("dictionary") is not None:
            self.dictionary = dict(state["dictionary"])
        elif cvocab.is_file():
            self.dictionary = read_cvocab(cvocab)
        else:
            raise ModelError(f"{pt}: checkpoint has no dictionary and {cvocab.name} is missing")
        self.dictionary.update(SPECIALS)
        if max(self.dictionary.values()) >= self.model.embed_tokens.num_embeddings:
            raise ModelError(
                f"{pt}: dictionary ids exceed the {self.model.embed_tokens.num_embeddings} embeddings"
            )
        self.device = torch.device(choose_device(device))
        self.model.to(self.device).eval()
        self.dims = self.model.output_units
        sums = dict(checksums or {})
        checksum = ",".join(
            f"{p.name}:{sums.get(p.suffix) or sha256_file(p)}" for p in (pt, spm_path, cvocab) if p.is_file()
        )
        self._fingerprint = fingerprint(spec, {k: opts[k] for k in VECTOR_OPTIONS}, checksum)

    def fingerprint(self) -> str:
        return self._fingerprint

    def token_ids(self, text: str) -> list[int]:
        """Ids the encoder sees for ``text``: pieces through the dictionary, then ``</s>``."""
        pieces = _SPACES.sub(" ", self.tokenizer.tokenize(text)).strip().split()
        return [self.dictionary.get(p, UNK) for p in pieces] + [EOS]

    def _batches(self, lengths: np.ndarray) -> list[np.ndarray]:
        """Indices sorted by decreasing length, cut at max_tokens / max_sentences (LASER's _make_batches)."""
        order = np.argsort(-lengths, kind="stable")
        batches, current, ntokens = [], [], 0
        for i in order:
            if current and (
                (self.max_tokens is not None and ntokens + lengths[i] > self.max_tokens)
                or (self.max_sentences is not None and len(current) == self.max_sentences)
            ):
                batches.append(np.array(current))
                current, ntokens = [], 0
            current.append(i)
            ntokens += int(lengths[i])
        if current:
            batches.append(np.array(current))
        return batches

    @torch.inference_mode()
    def encode(self, words: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        ids = [self.token_ids(w) for w in words]
        lengths = np.fromiter((len(t) for t in ids), dtype=np.int64, count=len(ids))
        out = np.zeros((len(ids), self.dims), dtype=np.float32)
        for batch in self._batches(lengths):
            width = int(lengths[batch[0]])
            tokens = torch.full((len(batch), width), PAD, dtype=torch.long)
            for row, i in enumerate(batch):
                tokens[row, : lengths[i]] = torch.tensor(ids[i], dtype=torch.long)
            emb = self.model(tokens.to(self.device), torch.from_numpy(lengths[batch]))
            out[batch] = emb.float().cpu().numpy()
        if self.normalize_embeddings:
            out = unit_rows(out)
        return out, np.ones(len(ids), dtype=bool)


def model_folder(spec: ModelSpec, artifact: Path | None, options: dict[str, Any]) -> Path:
    """The folder holding the files: artefact, ``source.path``, ``options.model_dir``, or the model cache."""
    if artifact is not None:
        return Path(artifact)
    for given in ((spec.source or {}).get("path"), options.get("model_dir")):
        if given:
            return Path(os.path.expandvars(os.path.expanduser(str(given))))
    return model_cache_dir() / spec.key


def from_spec(spec: ModelSpec, artifact: Path | None, device: str | None) -> LaserEncoder:
    options = merge_options(spec, DEFAULTS)
    name = str(options["name"])
    pinned = pins(spec, options)
    folder = model_folder(spec, artifact, options)
    missing = [f"{name}{s}" for s in SUFFIXES if not (folder / f"{name}{s}").is_file()]
    if missing:
        if not options["download"]:
            raise ModelError(f"{spec.where}: {folder} lacks {missing} and options.download is false")
        download_files(folder, name, str(options["base_url"]), sha256=pinned, where=spec.where)
    checksums = verify_files(folder, name, pinned, spec.where)  # before anything is read
    encoder = LaserEncoder(spec, folder, options, device, checksums=checksums)
    if spec.dims is not None and spec.dims != encoder.dims:
        raise ModelError(
            f"{spec.where}: the checkpoint gives {encoder.dims}-dim vectors but the spec says dims: {spec.dims}"
        )
    return encoder
