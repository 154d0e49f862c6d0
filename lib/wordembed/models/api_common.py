"""What the network-API backends (OpenAI, Google) share: keys, batching, retries, checks.

Why our own retry loop instead of the SDKs': the SDKs' retries are switched off (``max_retries=0``, one
attempt in google-genai) so that every try, every wait and every give-up is ours, logged the same way for
both vendors, bounded, and testable against a local server with an injectable ``sleep``.

Why :class:`ApiEncoder` sets ``chunk_size`` to the API batch: :class:`wordembed.store.EmbeddingStore` writes
each chunk to disk as soon as ``encode`` returns it, so a run interrupted by a quota, a network failure or
Ctrl-C keeps every batch already paid for, and the rerun asks only for the rest.

Secrets: a key is read from the environment when the client is built, held only by the SDK client, and
scrubbed from every message we raise (servers and proxies have been known to echo keys back). It never
enters the fingerprint, ``repr``, logs or the store; neither does the base URL.
"""

from __future__ import annotations

import email.utils
import json
import logging
import math
import os
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

import numpy as np

from wordembed.errors import ModelError, ParameterError

log = logging.getLogger(__name__)

#: Options every API backend understands (besides its own).
COMMON_OPTIONS = (
    "batch_size",
    "base_url",
    "dimensions",
    "max_tries",
    "initial_backoff",
    "max_backoff",
    "max_retry_after",
    "timeout",
)


@dataclass(frozen=True)
class RetryPolicy:
    """How long to keep trying a batch.

    ``max_tries`` counts every attempt (the first included). Without a Retry-After header the n-th wait is
    ``min(max_backoff, initial_backoff * 2**(n-1))``; a server's Retry-After (seconds or an HTTP date) is
    honoured as given, unless it exceeds ``max_retry_after``, in which case we give up at once rather than
    block for hours.
    """

    max_tries: int = 8
    initial_backoff: float = 1.0
    max_backoff: float = 60.0
    max_retry_after: float = 600.0
    sleep: Callable[[float], None] = field(default=time.sleep, compare=False)

    def backoff(self, attempt: int) -> float:
        return min(self.max_backoff, self.initial_backoff * 2 ** (attempt - 1))


@dataclass(frozen=True)
class Failure:
    """A vendor-neutral verdict on one failed request."""

    transient: bool
    reason: str
    status: int | None = None
    retry_after: float | None = None


class GiveUp(Exception):
    """Raised by a response check to say: this answer is wrong and retrying will not fix it."""


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or HTTP-date); None if absent or unreadable."""
    if value is None:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=timezone.utc)
        current = datetime.now(timezone.utc).timestamp() if now is None else now
        seconds = when.timestamp() - current
    if not math.isfinite(seconds):
        return None
    return max(0.0, seconds)


def redact(text: str, secrets: Sequence[str | None]) -> str:
    """``text`` with every secret (of 4+ characters) replaced by ``***``."""
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, "***")
    return text


def env_secret(names: Sequence[str], what: str) -> tuple[str, str]:
    """``(variable, value)`` of the first set environment variable among ``names``.

    Raises a :class:`ModelError` naming the variables to set; the value itself is never shown.
    """
    for name in names:
        value = os.environ.get(name, "").strip()
        if value:
            return name, value
    listed = " or ".join(names)
    raise ModelError(f"{what}: no API key; set the environment variable {listed}")


def batches(items: Sequence[str], size: int) -> Iterator[tuple[int, Sequence[str]]]:
    """``(offset, batch)`` pairs covering ``items`` in order, ``size`` at a time."""
    for start in range(0, len(items), size):
        yield start, items[start : start + size]


def int_option(
    options: Mapping[str, Any],
    name: str,
    default: int | None,
    *,
    key: str,
    lo: int = 1,
    hi: int | None = None,
) -> int | None:
    value = options.get(name, default)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < lo or (hi is not None and value > hi):
        bound = f"{lo}..{hi}" if hi is not None else f">= {lo}"
        raise ParameterError(f"model {key}: option {name}={value!r} must be an integer in {bound}")
    return value


def float_option(options: Mapping[str, Any], name: str, default: float, *, key: str) -> float:
    value = options.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value < 0:
        raise ParameterError(f"model {key}: option {name}={value!r} must be a number >= 0 (seconds)")
    return float(value)


def check_options(options: Mapping[str, Any], allowed: Sequence[str], *, key: str, backend: str) -> None:
    unknown = sorted(set(options) - set(allowed))
    if unknown:
        raise ParameterError(
            f"model {key}: unknown option(s) {unknown} for backend {backend}; valid: {sorted(allowed)}"
        )


def retry_policy(
    options: Mapping[str, Any], *, key: str, sleep: Callable[[float], None] | None
) -> RetryPolicy:
    return RetryPolicy(
        max_tries=int_option(options, "max_tries", 8, key=key) or 8,
        initial_backoff=float_option(options, "initial_backoff", 1.0, key=key),
        max_backoff=float_option(options, "max_backoff", 60.0, key=key),
        max_retry_after=float_option(options, "max_retry_after", 600.0, key=key),
        sleep=sleep or time.sleep,
    )


def stack_vectors(rows: Sequence[Any], n: int, dims: int | None) -> np.ndarray:
    """``rows`` as a float32 ``(n, d)`` array, or :class:`GiveUp` saying what is wrong with them."""
    if len(rows) != n:
        raise GiveUp(f"the server returned {len(rows)} vectors for {n} inputs")
    try:
        out = np.asarray(rows, dtype=np.float32)
    except (TypeError, ValueError) as exc:
        raise GiveUp(f"the vectors are ragged or not numbers ({exc})") from None
    if out.ndim != 2 or out.shape[0] != n or out.shape[1] == 0:
        raise GiveUp(f"the vectors have shape {out.shape}, expected ({n}, d)")
    if dims is not None and out.shape[1] != dims:
        raise GiveUp(f"the server returned {out.shape[1]}-d vectors, expected {dims}")
    if not np.isfinite(out).all():
        raise GiveUp("the server returned non-finite vector values")
    return out


class ApiEncoder:
    """An :class:`~wordembed.models.base.Encoder` that embeds words by batches over a network API.

    Subclasses set ``backend``, ``model`` (the API's model name) and ``fingerprint_fields``, and implement
    ``_send(batch) -> rows`` (one SDK call) and ``_classify(exc) -> Failure`` (what an SDK error means).
    """

    backend = "api"

    def __init__(
        self,
        key: str,
        model: str,
        *,
        batch_size: int,
        dims: int | None,
        policy: RetryPolicy,
        fingerprint_fields: Mapping[str, Any],
    ) -> None:
        self.key = key
        self.model = model
        self.batch_size = batch_size
        self.chunk_size = batch_size  # the store writes each paid batch at once
        self.dims = dims
        self.policy = policy
        self._fingerprint_fields = dict(fingerprint_fields)
        self._secrets: list[str] = []

    # -- Encoder contract ------------------------------------------------------------------------------
    def fingerprint(self) -> str:
        fields = {"backend": self.backend, "key": self.key, "model": self.model, **self._fingerprint_fields}
        return json.dumps(fields, sort_keys=True, separators=(",", ":"))

    def encode(self, words: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """Vectors of ``words``; an empty or blank word is not sent (APIs reject it) and comes back absent."""
        words = list(words)
        present = np.array([bool(w.strip()) for w in words], dtype=bool)
        send = [w for w, p in zip(words, present, strict=True) if p]
        parts: list[np.ndarray] = []
        for offset, batch in batches(send, self.batch_size):
            parts.append(self._with_retries(batch, offset, len(send)))
        dims = parts[0].shape[1] if parts else (self.dims or 0)
        out = np.zeros((len(words), dims), dtype=np.float32)
        if parts:
            out[present] = np.concatenate(parts)
        return out, present

    def __repr__(self) -> str:
        return f"{type(self).__name__}(key={self.key!r}, model={self.model!r}, batch_size={self.batch_size})"

    # -- for subclasses --------------------------------------------------------------------------------
    def _send(self, batch: Sequence[str]) -> Sequence[Any]:
        raise NotImplementedError

    def _classify(self, exc: BaseException) -> Failure | None:
        """What ``exc`` means, or None if it is not an API/transport error (then it propagates as is)."""
        raise NotImplementedError

    def _secret_values(self) -> list[str]:
        """Everything that must never appear in a message (keys, and access tokens where there are)."""
        return list(self._secrets)

    def _error(self, message: str) -> ModelError:
        text = f"{self.key} ({self.backend} model {self.model}): {message}"
        return ModelError(redact(text, self._secret_values()))

    # -- the loop --------------------------------------------------------------------------------------
    def _with_retries(self, batch: Sequence[str], offset: int, total: int) -> np.ndarray:
        where = f"batch of words {offset + 1}-{offset + len(batch)} of {total}"
        last: Failure | None = None
        for attempt in range(1, self.policy.max_tries + 1):
            try:
                rows = self._send(batch)
                return stack_vectors(rows, len(batch), self.dims)
            except GiveUp as exc:
                raise self._error(f"{where}: {exc}") from None
            except Exception as exc:  # narrowed by _classify: unknown errors propagate as they are
                failure = self._classify(exc)
                if failure is None:
                    raise
            last = failure
            if not failure.transient:
                raise self._error(f"{where}: {failure.reason}") from None
            if attempt == self.policy.max_tries:
                break
            if failure.retry_after is not None:
                if failure.retry_after > self.policy.max_retry_after:
                    raise self._error(
                        f"{where}: {failure.reason}; the server asks to retry after {failure.retry_after:.0f} s, "
                        f"more than max_retry_after={self.policy.max_retry_after:.0f} s. Finished batches are "
                        f"kept in the store; rerun later."
                    ) from None
                wait = failure.retry_after
            else:
                wait = self.policy.backoff(attempt)
            log.warning(
                "%s: %s: %s (try %d of %d); retrying in %.1f s",
                self.key,
                where,
                redact(failure.reason, self._secret_values()),
                attempt,
                self.policy.max_tries,
                wait,
            )
            self.policy.sleep(wait)
        assert last is not None
        raise self._error(
            f"{where}: gave up after {self.policy.max_tries} tries; last error: {last.reason}. Finished "
            f"batches are kept in the store; rerun to resume."
        )
