"""Rate-limit headers of each provider, parsed into :class:`RateLimitInfo`."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Mapping

from atriumn.core import parse_retry_after

from ._types import RateLimitInfo

__all__ = ["NO_RATE_LIMITS", "parse_rate_limits"]


def _int(value: str | None) -> int | None:
    """A count from a header; garbage (words, negatives, infinity, NaN) reads as unknown."""
    if value is None:
        return None
    try:
        number = float(value)
    except ValueError:
        return None
    return int(number) if 0 <= number < 2**63 else None


def _duration(value: str | None) -> float | None:
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
            return max(0.0, when.timestamp() - time.time())
        except (ValueError, OverflowError, OSError):
            return None
    from atriumn.core import parse_duration

    try:
        seconds = parse_duration(text, name="rate-limit reset")
    except (ValueError, OverflowError):
        return None
    return seconds if 0 <= seconds < float("inf") else None


def parse_rate_limits(provider: str, headers: Mapping[str, str]) -> RateLimitInfo:
    """The :class:`RateLimitInfo` in ``headers`` (a case-insensitive mapping, or a dict with lower-case keys)."""
    if provider == "anthropic":
        prefix = "anthropic-ratelimit-"
        raw = _prefixed(headers, prefix)
        if not raw and "retry-after" not in headers:
            return NO_RATE_LIMITS
        return RateLimitInfo(
            limit_requests=_int(headers.get(prefix + "requests-limit")),
            remaining_requests=_int(headers.get(prefix + "requests-remaining")),
            reset_requests=_duration(headers.get(prefix + "requests-reset")),
            limit_tokens=_int(headers.get(prefix + "tokens-limit")),
            remaining_tokens=_int(headers.get(prefix + "tokens-remaining")),
            reset_tokens=_duration(headers.get(prefix + "tokens-reset")),
            retry_after=parse_retry_after(headers),
            raw=raw,
        )
    prefix = "x-ratelimit-"
    raw = _prefixed(headers, prefix)
    if not raw and "retry-after" not in headers:
        return NO_RATE_LIMITS
    return RateLimitInfo(
        limit_requests=_int(headers.get(prefix + "limit-requests")),
        remaining_requests=_int(headers.get(prefix + "remaining-requests")),
        reset_requests=_duration(headers.get(prefix + "reset-requests")),
        limit_tokens=_int(headers.get(prefix + "limit-tokens")),
        remaining_tokens=_int(headers.get(prefix + "remaining-tokens")),
        reset_tokens=_duration(headers.get(prefix + "reset-tokens")),
        retry_after=parse_retry_after(headers),
        raw=raw,
    )


#: The rate limits of a response without rate-limit headers (one shared, immutable instance).
NO_RATE_LIMITS = RateLimitInfo()


def _prefixed(headers: Mapping[str, str], prefix: str) -> dict[str, str]:
    """The headers whose (lower-case) name starts with ``prefix``; one pass over the transport's raw pairs."""
    multi_items = getattr(headers, "multi_items", None)  # the transport's Headers: names already lower-case
    pairs = multi_items() if multi_items is not None else ((k.lower(), v) for k, v in headers.items())
    return {k: v for k, v in pairs if k.startswith(prefix)}
