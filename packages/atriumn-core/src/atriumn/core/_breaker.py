"""Circuit breaking per host, sans-IO (the clock is injected).

closed ──(N consecutive failures)──► open ──(reset_timeout)──► half-open ──(probe succeeds)──► closed
                                       ▲                          │
                                       └────(probe fails)─────────┘

In half-open exactly one probe is let through; other callers fail fast until it reports.

What counts: connection failures, timeouts and 5xx (529 included) are failures. Every other answer — 429
and 408 among them — is a live server speaking, and counts as a success: a server asking for patience must
not lock every caller out of the host. The transport's breaker counts attempts (each retry reports its
own outcome); the AI chat client's breaker per ``provider:model`` counts calls (after the transport's
retries).
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Callable

from ._errors import CircuitOpenError, ConfigurationError

__all__ = ["CircuitBreaker", "CircuitBreakerPolicy", "CircuitState", "counts_as_failure"]


@dataclasses.dataclass(frozen=True, kw_only=True)
class CircuitBreakerPolicy:
    """When a host's circuit opens and when it is probed again.

    Attributes:
        failure_threshold: consecutive failures that open the circuit. Default 5.
        reset_timeout: seconds an open circuit waits before letting one probe through. Default 30.
        enabled: False turns circuit breaking off.
    """

    failure_threshold: int = 5
    reset_timeout: float = 30.0
    enabled: bool = True

    def __post_init__(self) -> None:
        for name in ("failure_threshold", "reset_timeout"):
            if not getattr(self, name) > 0:
                raise ConfigurationError(f"CircuitBreakerPolicy.{name} must be > 0, got {getattr(self, name)!r}")


class CircuitState:
    """The three states, as strings (for logs, metrics and :meth:`CircuitBreaker.state`)."""

    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


def counts_as_failure(status: int | None) -> bool:
    """Whether an outcome counts against the circuit: transport errors (None) and 5xx; never a 4xx."""
    return status is None or status >= 500


class CircuitBreaker:
    """The breaker of one host. Thread-safe; usable from async code (it never blocks on I/O)."""

    def __init__(self, host: str, policy: CircuitBreakerPolicy, clock: Callable[[], float] = time.monotonic) -> None:
        self.host = host
        self.policy = policy
        self._clock = clock
        self._lock = threading.Lock()
        self._state = CircuitState.CLOSED
        self._failures = 0
        self._opened_at = 0.0
        self._probe_in_flight = False

    @property
    def state(self) -> str:
        """``closed``, ``open`` or ``half_open`` (an open circuit past its timeout reads as half-open)."""
        with self._lock:
            if self._state == CircuitState.OPEN and self._clock() - self._opened_at >= self.policy.reset_timeout:
                return CircuitState.HALF_OPEN
            return self._state

    def acquire(self) -> bool:
        """Ask to send a request. Returns True when this request is the half-open probe.

        Raises:
            CircuitOpenError: the circuit is open (or half-open with a probe already in flight).
        """
        if not self.policy.enabled or self._state == CircuitState.CLOSED:  # the common case needs no lock
            return False
        with self._lock:
            if self._state == CircuitState.CLOSED:
                return False
            now = self._clock()
            waited = now - self._opened_at
            if self._state == CircuitState.OPEN and waited >= self.policy.reset_timeout:
                self._state = CircuitState.HALF_OPEN
            if self._state == CircuitState.HALF_OPEN and not self._probe_in_flight:
                self._probe_in_flight = True
                return True
            retry_in = max(0.0, self.policy.reset_timeout - waited)
        raise CircuitOpenError(self.host, retry_in)

    def record(self, status: int | None, *, probe: bool) -> bool:
        """Report an attempt's outcome (``status`` None for a transport failure).

        Returns True when this report opened the circuit (for the openings counter).
        """
        if not self.policy.enabled:
            return False
        failed = counts_as_failure(status)
        if not failed and not probe and self._failures == 0 and self._state == CircuitState.CLOSED:
            return False  # a success on a healthy host changes nothing: no lock
        with self._lock:
            if probe:
                self._probe_in_flight = False
            if not failed:
                self._failures = 0
                self._state = CircuitState.CLOSED
                return False
            self._failures += 1
            reopen = self._state == CircuitState.HALF_OPEN
            if reopen or (self._state == CircuitState.CLOSED and self._failures >= self.policy.failure_threshold):
                self._state = CircuitState.OPEN
                self._opened_at = self._clock()
                return True
            return False

    def release(self, *, probe: bool) -> None:
        """An acquired attempt ended without an outcome (cancelled): let another probe through."""
        if probe:
            with self._lock:
                self._probe_in_flight = False


class BreakerRegistry:
    """One :class:`CircuitBreaker` per host, created on first use."""

    def __init__(self, policy: CircuitBreakerPolicy, clock: Callable[[], float] = time.monotonic) -> None:
        self.policy = policy
        self._clock = clock
        self._breakers: dict[str, CircuitBreaker] = {}
        self._lock = threading.Lock()

    def for_host(self, host: str) -> CircuitBreaker:
        """The breaker of ``host`` (``host:port``)."""
        breaker = self._breakers.get(host)
        if breaker is None:
            with self._lock:
                breaker = self._breakers.setdefault(host, CircuitBreaker(host, self.policy, self._clock))
        return breaker
