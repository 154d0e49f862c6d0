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

Options:

- ``name`` (default ``laser2``): file stem of ``.pt``/``.spm``/``.cvocab``.
- ``model_dir``, ``download`` (bool, default true), ``base_url``: see above.
- ``max_tokens`` (default 12000), ``max_sentences`` (default none): batch limits, as in LASER's embed.py.
  Results do not depend on them (packing ignores padding), only speed and memory do.
- ``lang`` (default ``en``): Moses punctuation-normalisation language; ``lower_case`` (true),
  ``normalize_punct`` (true), ``descape`` (false): LaserTokenizer's switches.
- ``normalize_embeddings`` (default false): L2-normalise each vector (laser_encoders' option; off there too).
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
import unicodedata
import urllib.error
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from wordembed.errors import DataFormatError, ModelError, ParameterError
from wordembed.models.spec import ModelSpec, fingerprint, merge_options
from wordembed.paths import model_cache_dir

BASE_URL = "https://dl.fbaipublicfiles.com/nllb/laser"
SUFFIXES = (".pt", ".spm", ".cvocab")
DEFAULTS: dict[str, Any] = {
    "name": "laser2",
    "model_dir": None,
    "download": True,
    "base_url": BASE_URL,
    "max_tokens": 12000,
    "max_sentences": None,
    "lang": "en",
    "lower_case": True,
    "normalize_punct": True,
    "descape": False,
    "normalize_embeddings": False,
}
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


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def download_files(
    folder: Path, name: str, base_url: str = BASE_URL, *, timeout: float = 60.0, where: str = "LASER"
) -> None:
    """Fetch the missing ``name.{pt,spm,cvocab}`` into ``folder``, each atomically (temp file + rename)."""
    folder.mkdir(parents=True, exist_ok=True)
    for suffix in SUFFIXES:
        target = folder / f"{name}{suffix}"
        if target.is_file():
            continue
        url = f"{base_url.rstrip('/')}/{name}{suffix}"
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=folder)
        try:
            with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=timeout) as response:
                expected = response.headers.get("Content-Length")
                written = 0
                for block in iter(lambda: response.read(1 << 20), b""):
                    out.write(block)
                    written += len(block)
            if expected is not None and written != int(expected):
                raise OSError(f"got {written} of {expected} bytes")
            os.replace(tmp, target)
        except (OSError, urllib.error.URLError, ValueError) as exc:
            Path(tmp).unlink(missing_ok=True)
            raise ModelError(
                f"{where}: cannot download {url} ({exc}). Without network, copy {name}.pt, {name}.spm and "
                f"{name}.cvocab into a folder and set source.path (or options.model_dir) to it."
            ) from exc


def _load_checkpoint(path: Path) -> dict[str, Any]:
    try:
        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
        except (
            Exception
        ):  # older checkpoints may pickle more than tensors; the file is the user's chosen model
            state = torch.load(path, map_location="cpu", weights_only=False)
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
        self, spec: ModelSpec, folder: Path, options: dict[str, Any], device: str | None = None
    ) -> None:
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
        self.device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
        self.model.to(self.device).eval()
        self.dims = self.model.output_units
        checksum = ",".join(f"{p.name}:{_sha256(p)}" for p in (pt, spm_path, cvocab) if p.is_file())
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
            norms = np.linalg.norm(out, axis=1, keepdims=True)
            out = np.divide(out, norms, out=np.zeros_like(out), where=norms > 0)
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
    folder = model_folder(spec, artifact, options)
    missing = [f"{name}{s}" for s in SUFFIXES if not (folder / f"{name}{s}").is_file()]
    if missing:
        if not options["download"]:
            raise ModelError(f"{spec.where}: {folder} lacks {missing} and options.download is false")
        download_files(folder, name, str(options["base_url"]), where=spec.where)
    encoder = LaserEncoder(spec, folder, options, device)
    if spec.dims is not None and spec.dims != encoder.dims:
        raise ModelError(
            f"{spec.where}: the checkpoint gives {encoder.dims}-dim vectors but the spec says dims: {spec.dims}"
        )
    return encoder
