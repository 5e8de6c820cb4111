"""Rate-limit headers of each provider, parsed into :class:`RateLimitInfo`."""

from __future__ import annotations

import datetime as dt
import functools
import threading
import time
import weakref
from collections.abc import Mapping
from typing import Any

import attrs

from atriumn.core import parse_duration, parse_retry_after

from ._types import RateLimitInfo

__all__ = ["NO_RATE_LIMITS", "parse_rate_limits", "rate_limits_on_access", "read_pending"]


def _int(value: str | None) -> int | None:
    """A count from a header; garbage (words, negatives, infinity, NaN) reads as unknown."""
    if value is None:
        return None
    try:
        number = float(value)
    except ValueError:
        return None
    return int(number) if 0 <= number < 2**63 else None


def _duration(value: str | None, now: float | None = None) -> float | None:
    """``6m0s``, ``1.5s``, ``20ms`` (OpenAI/Groq), plain seconds, or an RFC 3339 time (Anthropic); garbage reads
    as unknown."""
    if value is None:
        return None
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        pass
    else:
        return seconds if 0 <= seconds < float("inf") else None
    if "T" in text and "-" in text:
        try:
            when = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
            return max(0.0, when.timestamp() - (time.time() if now is None else now))
        except (ValueError, OverflowError, OSError):
            return None
    return _written_duration(text)


@functools.lru_cache(maxsize=512)  # a provider's reset values repeat ("1s", "120ms", "6m0s")
def _written_duration(text: str) -> float | None:
    """A duration written as ``6m0s`` / ``120ms``, in seconds (None for garbage): a pure function of the text."""
    try:
        seconds = parse_duration(text, name="rate-limit reset")
    except (ValueError, OverflowError):
        return None
    return seconds if 0 <= seconds < float("inf") else None


# The six fields of each header family: limit, remaining and reset of requests, then of tokens.
_KINDS = [(kind, what) for kind in ("requests", "tokens") for what in ("limit", "remaining", "reset")]
_FIELDS = {
    "anthropic-ratelimit-": tuple(f"anthropic-ratelimit-{kind}-{what}" for kind, what in _KINDS),
    "x-ratelimit-": tuple(f"x-ratelimit-{what}-{kind}" for kind, what in _KINDS),
}


def parse_rate_limits(provider: str, headers: Mapping[str, str], now: float | None = None) -> RateLimitInfo:
    """The :class:`RateLimitInfo` in ``headers`` (a case-insensitive mapping, or a dict with lower-case keys);
    reset times are counted from ``now`` (a ``time.time()``; by default, the present)."""
    prefix = "anthropic-ratelimit-" if provider == "anthropic" else "x-ratelimit-"
    raw = _prefixed(headers, prefix)
    if not raw and "retry-after" not in headers and "retry-after-ms" not in headers:
        return NO_RATE_LIMITS
    limit_r, remaining_r, reset_r, limit_t, remaining_t, reset_t = (raw.get(name) for name in _FIELDS[prefix])
    return RateLimitInfo(
        limit_requests=_int(limit_r),
        remaining_requests=_int(remaining_r),
        reset_requests=_duration(reset_r, now),
        limit_tokens=_int(limit_t),
        remaining_tokens=_int(remaining_t),
        reset_tokens=_duration(reset_t, now),
        retry_after=parse_retry_after(headers, now),
        raw=raw,
    )


#: The rate limits of a response without rate-limit headers (one shared, immutable instance).
NO_RATE_LIMITS = RateLimitInfo()

_FIELD_NAMES = tuple(f.name for f in attrs.fields(RateLimitInfo) if f.init)


def rate_limits_on_access(provider: str, headers: Mapping[str, str]) -> RateLimitInfo:
    """The :class:`RateLimitInfo` of a response that arrived now, its headers read when a field is first read
    (``headers`` are kept until then: the transport's read-only :class:`~atriumn.core.Headers`). Its fields are
    left unset; what to read is kept beside it, under its id, until it is read or collected."""
    info = object.__new__(RateLimitInfo)
    key = id(info)
    # The weak reference's callback drops the entry when the object dies, before its id can be reused.
    _PENDING[key] = (weakref.ref(info, lambda _: _PENDING.pop(key, None)), provider, headers, time.time())
    return info


def read_pending(info: RateLimitInfo, name: str) -> Any:
    """Field ``name`` of rate limits made by :func:`rate_limits_on_access`, every field filled in on the first
    read (as they were on arrival); AttributeError for a name that is no field."""
    with _READING:  # one reader fills the fields; another waiting here then finds them set
        try:
            return object.__getattribute__(info, name)
        except AttributeError:
            pass
        pending = _PENDING.pop(id(info), None)
        if pending is None or pending[0]() is not info:
            raise AttributeError(name)
        _, provider, headers, arrived = pending
        parsed = parse_rate_limits(provider, headers, arrived)
        for field in _FIELD_NAMES:
            object.__setattr__(info, field, getattr(parsed, field))
    return object.__getattribute__(info, name)


_PENDING: dict[int, tuple[Any, str, Mapping[str, str], float]] = {}
_READING = threading.Lock()


def _prefixed(headers: Mapping[str, str], prefix: str) -> dict[str, str]:
    """The headers whose (lower-case) name starts with ``prefix``; one pass over the transport's raw pairs."""
    multi_items = getattr(headers, "multi_items", None)  # the transport's Headers: names already lower-case
    pairs = multi_items() if multi_items is not None else ((k.lower(), v) for k, v in headers.items())
    return {k: v for k, v in pairs if k.startswith(prefix)}
