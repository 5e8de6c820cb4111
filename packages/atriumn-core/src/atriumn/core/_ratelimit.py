"""Client-side rate limiting, sans-IO: a token bucket that hands out reservations.

``reserve()`` never sleeps: it books the next free slot and returns how long the caller must wait for it.
The sync driver sleeps with ``time.sleep``, the async driver with ``asyncio.sleep``, so an event loop is
never blocked, and concurrent callers get distinct slots (no thundering herd when tokens refill).
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Callable

from ._errors import ConfigurationError

__all__ = ["RateLimit", "TokenBucket"]


@dataclasses.dataclass(frozen=True, kw_only=True)
class RateLimit:
    """A client-side limit: ``requests_per_second`` sustained, up to ``burst`` at once."""

    requests_per_second: float
    burst: int = 1

    def __post_init__(self) -> None:
        if not self.requests_per_second > 0:
            raise ConfigurationError(f"RateLimit.requests_per_second must be > 0, got {self.requests_per_second!r}")
        if self.burst < 1:
            raise ConfigurationError(f"RateLimit.burst must be >= 1, got {self.burst!r}")


class TokenBucket:
    """The state of one :class:`RateLimit`. Thread-safe."""

    def __init__(self, limit: RateLimit, clock: Callable[[], float] = time.monotonic) -> None:
        self.limit = limit
        self._clock = clock
        self._tokens = float(limit.burst)
        self._updated = clock()
        self._lock = threading.Lock()

    def reserve(self) -> float:
        """Book one request; returns the seconds to wait before sending it (0 when a token is free)."""
        rate, burst = self.limit.requests_per_second, float(self.limit.burst)
        with self._lock:
            now = self._clock()
            self._tokens = min(burst, self._tokens + (now - self._updated) * rate)
            self._updated = now
            self._tokens -= 1.0
            return 0.0 if self._tokens >= 0 else -self._tokens / rate

    def cancel(self) -> None:
        """Give back a reservation that was not used (the call was cancelled while waiting)."""
        with self._lock:
            self._tokens = min(float(self.limit.burst), self._tokens + 1.0)
