"""Retry decisions, sans-IO.

Written here rather than taken from a library because the decision is the domain logic: it depends on the
phase of the failure (was the request possibly processed?), on idempotency (method or an
``Idempotency-Key``), on what the server asked (``Retry-After`` in three forms, ``x-should-retry``), on the
call's remaining deadline and on a per-transport retry budget that stops retry storms (botocore's
"standard" mode quota). None of tenacity / urllib3.Retry / stamina model all of these together.
"""

from __future__ import annotations

import dataclasses
import email.utils
import random
import threading
import time
from collections.abc import Callable, Mapping

from ._errors import ConfigurationError

__all__ = [
    "RETRYABLE_STATUSES",
    "RetryBudget",
    "RetryDecision",
    "RetryPolicy",
    "parse_retry_after",
]

#: Statuses retried by default. 429 and 529 mean the server refused the work (always safe to retry);
#: 408 means it gave up reading the request; 500/502/503/504 may have processed it (idempotent only).
RETRYABLE_STATUSES = frozenset({408, 429, 500, 502, 503, 504, 529})
_REFUSED_STATUSES = frozenset({408, 429, 529})


@dataclasses.dataclass(frozen=True, kw_only=True)
class RetryPolicy:
    """How a transport retries.

    Attributes:
        max_retries: retries after the first attempt (0 disables retrying). Default 3.
        initial_backoff: the first backoff ceiling in seconds (doubles per retry). Default 0.5.
        max_backoff: the backoff ceiling's cap in seconds. Default 10.
        jitter: ``"full"`` sleeps uniformly in [0, ceiling] (AWS's full jitter); ``"none"`` sleeps the ceiling.
        retry_statuses: statuses worth another attempt.
        max_server_delay: the longest ``Retry-After`` we will sleep; above it the error is raised at once
            with ``retry_after`` set so the caller can decide. Default 60 s.
    """

    max_retries: int = 3
    initial_backoff: float = 0.5
    max_backoff: float = 10.0
    jitter: str = "full"
    retry_statuses: frozenset[int] = RETRYABLE_STATUSES
    max_server_delay: float = 60.0

    def __post_init__(self) -> None:
        value = self.max_retries
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ConfigurationError(f"RetryPolicy.max_retries must be a whole number >= 0, got {value!r}")
        for name in ("initial_backoff", "max_backoff", "max_server_delay"):
            number = getattr(self, name)
            if isinstance(number, bool) or not isinstance(number, (int, float)) or not number >= 0:
                raise ConfigurationError(f"RetryPolicy.{name} must be a number >= 0, got {number!r}")
        if self.jitter not in ("full", "none"):
            raise ConfigurationError(f"RetryPolicy.jitter must be 'full' or 'none', got {self.jitter!r}")
        object.__setattr__(self, "retry_statuses", frozenset(self.retry_statuses))

    def backoff(self, retry_number: int, rand: Callable[[], float] = random.random) -> float:
        """The sleep before retry ``retry_number`` (1-based): exponential, capped, with jitter."""
        ceiling = min(self.max_backoff, self.initial_backoff * (2 ** max(0, retry_number - 1)))
        return float(ceiling * rand()) if self.jitter == "full" else float(ceiling)


def parse_retry_after(headers: Mapping[str, str], now: float | None = None) -> float | None:
    """Seconds the server asked us to wait, from ``retry-after-ms`` or ``Retry-After`` (seconds or HTTP date).

    ``headers`` must be case-insensitive (httpx2 headers are). Unparseable or negative values are ignored.
    """
    ms = headers.get("retry-after-ms")
    if ms is not None:
        try:
            value = float(ms) / 1000.0
        except ValueError:
            value = -1.0
        if 0 <= value < float("inf"):  # NaN and infinity are garbage, as in Retry-After
            return value
    raw = headers.get("retry-after")
    if raw is None:
        return None
    raw = raw.strip()
    try:
        seconds = float(raw)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(raw)
        except (TypeError, ValueError, IndexError):
            return None
        if when is None:
            return None
        seconds = when.timestamp() - (time.time() if now is None else now)
        return max(0.0, seconds)
    return seconds if seconds >= 0 and seconds == seconds and seconds != float("inf") else None


@dataclasses.dataclass(frozen=True)
class RetryDecision:
    """What to do after a failed attempt: retry after ``delay`` seconds, or stop (``reason`` says why)."""

    retry: bool
    delay: float = 0.0
    reason: str = ""
    server_delay: float | None = None


class RetryBudget:
    """A token bucket shared by every call of a transport that limits how much retrying it does.

    A retry costs ``retry_cost`` tokens (``timeout_cost`` after a timeout); each success refunds
    ``success_refund``. When the bucket cannot pay for a retry, the error is raised at once: during an
    outage retries stop within a few hundred failures instead of multiplying load (botocore's quota).
    """

    def __init__(
        self, capacity: int = 500, *, retry_cost: int = 5, timeout_cost: int = 10, success_refund: int = 1
    ) -> None:
        if capacity < 0 or retry_cost < 0 or timeout_cost < 0 or success_refund < 0:
            raise ConfigurationError("RetryBudget values must be >= 0")
        self.capacity = capacity
        self.retry_cost = retry_cost
        self.timeout_cost = timeout_cost
        self.success_refund = success_refund
        self._level = capacity
        self._lock = threading.Lock()

    @property
    def level(self) -> int:
        """Tokens left."""
        return self._level

    def try_acquire(self, *, timeout: bool) -> int | None:
        """Take the cost of one retry; returns the amount taken, or None when the budget is exhausted."""
        cost = self.timeout_cost if timeout else self.retry_cost
        with self._lock:
            if self._level < cost:
                return None
            self._level -= cost
            return cost

    def refund(self, amount: int) -> None:
        """Give tokens back (after a success, or when an acquired retry was not used)."""
        if amount <= 0:
            return
        with self._lock:
            self._level = min(self.capacity, self._level + amount)

    def record_success(self) -> None:
        """Refund ``success_refund`` tokens for a successful call."""
        if self._level < self.capacity:  # a full bucket (the common case) needs no lock
            self.refund(self.success_refund)


def decide(
    policy: RetryPolicy,
    *,
    retries_done: int,
    status: int | None,
    headers: Mapping[str, str] | None,
    sent: bool,
    replay_safe: bool,
    remaining: float | None,
    rand: Callable[[], float] = random.random,
    server_delay: float | None = None,
) -> RetryDecision:
    """Decide whether a failed attempt is retried.

    Args:
        retries_done: retries already made for this call.
        status: the response status, or None for a transport failure.
        headers: the response headers (case-insensitive), if any.
        sent: whether the request may have reached the server (False: connect / pool failure).
        replay_safe: the method is idempotent or the request carries an Idempotency-Key.
        remaining: seconds left before the call's deadline (None: no deadline).
        server_delay: a wait the server asked for in its body (e.g. Gemini's ``RetryInfo.retryDelay``, read by
            an operation's ``error_hook``); used when the headers give none.
    """
    from_headers = parse_retry_after(headers) if headers is not None else None
    server_delay = from_headers if from_headers is not None else server_delay
    if retries_done >= policy.max_retries:
        return RetryDecision(False, reason="retries exhausted", server_delay=server_delay)
    should = headers.get("x-should-retry") if headers is not None else None
    if should == "false":
        return RetryDecision(False, reason="server said x-should-retry: false", server_delay=server_delay)
    if status is not None:
        if should != "true" and status not in policy.retry_statuses:
            return RetryDecision(False, reason=f"status {status} is not retryable")
        refused = status in _REFUSED_STATUSES or should == "true"
        if not refused and not replay_safe:
            return RetryDecision(
                False, reason=f"status {status} after the request may have been processed; not replay-safe"
            )
    elif sent and not replay_safe:
        return RetryDecision(False, reason="failed after the request was sent; not replay-safe")
    if server_delay is not None:
        if server_delay > policy.max_server_delay:
            return RetryDecision(
                False,
                reason=f"server asked for {server_delay:.1f}s, above the cap",
                server_delay=server_delay,
            )
        delay = server_delay
    else:
        delay = policy.backoff(retries_done + 1, rand)
    if remaining is not None and delay >= remaining:
        return RetryDecision(False, reason="the deadline leaves no time for another attempt", server_delay=server_delay)
    return RetryDecision(True, delay=delay, server_delay=server_delay)
