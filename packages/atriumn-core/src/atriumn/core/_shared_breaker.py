"""Shared circuit breakers: one state per host (attempts) and per ``provider:model`` (calls), in Redis.

The same three states as :mod:`._breaker`, kept in one hash per circuit (``{prefix}:cb:{name}``):
``state`` (absent = closed), ``failures`` (consecutive), ``opened`` (Redis time, ms), and while half-open
``probe`` (the id of the one attempt let through) with ``probe_until`` (its lease: a probe whose process died
stops blocking the others when the lease ends). A closed circuit without failures stores nothing; every
write sets a TTL. What counts as a failure is :func:`~._breaker.counts_as_failure` (transport failures and
5xx; never a 429), as for the local breakers.

Every process sees a circuit that any process opened, and exactly one process sends the half-open probe.
While Redis cannot be reached each process falls back to its local :class:`~._breaker.CircuitBreaker`.
"""

from __future__ import annotations

import os
import threading
from typing import Any

from ._breaker import CircuitBreaker, CircuitBreakerPolicy
from ._redis_scripts import BREAKER_ADMIT, BREAKER_RECORD, BREAKER_RELEASE

__all__ = ["SharedBreakers", "new_probe_id"]

CLOSED, PROBE, OPEN = 0, 1, 2


def new_probe_id() -> str:
    """A random id naming one probe (so only its holder closes, reopens or releases it)."""
    return os.urandom(8).hex()


class SharedBreakers:
    """Commands on shared circuits, and the local breakers of circuits that have no local owner."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self._local: dict[str, CircuitBreaker] = {}
        self._lock = threading.Lock()

    def key(self, name: str) -> str:
        """The circuit's key: ``{prefix}:cb:{name}`` (the braces are a hash tag)."""
        return f"{self.prefix}:cb:{{{name}}}"

    @staticmethod
    def _ttl_ms(policy: CircuitBreakerPolicy, lease: float) -> int:
        # Long enough to outlive an open period and a probe; failures older than this are forgotten.
        return round(max(60.0, 2 * (policy.reset_timeout + lease)) * 1000)

    def admit(self, name: str, policy: CircuitBreakerPolicy, lease: float, probe_id: str) -> tuple[Any, ...]:
        """Ask the circuit ``name`` for one attempt (claims the half-open probe for ``probe_id``)."""
        return BREAKER_ADMIT.call(
            (self.key(name),), (round(policy.reset_timeout * 1000), round(lease * 1000), probe_id)
        )

    def record(
        self, name: str, policy: CircuitBreakerPolicy, lease: float, *, failed: bool, probe_id: str
    ) -> tuple[Any, ...]:
        """Report an outcome (``probe_id`` '' when this was not the probe)."""
        args = (1 if failed else 0, probe_id, policy.failure_threshold, self._ttl_ms(policy, lease))
        return BREAKER_RECORD.call((self.key(name),), args)

    def release(self, name: str, probe_id: str) -> tuple[Any, ...]:
        """Give the probe back without an outcome."""
        return BREAKER_RELEASE.call((self.key(name),), (probe_id,))

    def local(self, name: str, policy: CircuitBreakerPolicy) -> CircuitBreaker:
        """This process's breaker for a circuit that no transport owns (the per-model ones), for outages."""
        breaker = self._local.get(name)
        if breaker is None:
            with self._lock:
                breaker = self._local.setdefault(name, CircuitBreaker(name, policy))
        return breaker
