"""Shared rate limits: requests and tokens per window, per provider, model and credential.

A call that carries a :class:`SharedScope` (atriumn-ai puts one on every chat request) is admitted by one or
two *buckets*:

- the model's bucket ``{provider}:{model}:{credential}``: its limits come from the configuration
  (``limits={"openai:gpt-4o": SharedLimit(...)}``) or, when not configured, are learned from the provider's
  rate-limit headers (the first response teaches every process; learned limits live one window);
- the provider's bucket ``{provider}:{credential}``, only when ``limits={"openai": SharedLimit(...)}`` configures
  one budget for all of a provider's models.

``credential`` is a short SHA-256 fingerprint of the key, never the key. Each bucket is a GCRA (see
:mod:`._redis_scripts`) reserving one request and the call's estimated tokens; when the answer says how many
tokens were used the difference is settled. A 429's ``retry-after`` pauses the bucket for every process.
:class:`LocalLimiter` is the same algorithm in memory: the fallback while Redis cannot be reached.

Why our own code: the algorithm is the domain logic here (weighted reservations that never fail, settlements,
learned limits, shared pauses), a few lines of Lua plus their in-memory twin; the existing limiter libraries
reject instead of reserving and know nothing of tokens.
"""

from __future__ import annotations

import dataclasses
import hashlib
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

from ._errors import ConfigurationError
from ._redis_scripts import LIMIT_ACQUIRE, LIMIT_ADJUST, LIMIT_REPORT

__all__ = ["Bucket", "LearnedLimits", "LocalLimiter", "SharedLimit", "SharedLimits", "SharedScope", "fingerprint"]


def fingerprint(secret: str) -> str:
    """A short, stable name for a credential in shared keys: 16 hex digits of its SHA-256 (never the secret)."""
    return hashlib.sha256(secret.encode()).hexdigest()[:16]


@dataclasses.dataclass(frozen=True, kw_only=True)
class SharedLimit:
    """A provider account's limit, shared by every process.

    Attributes:
        requests: requests per window (None: learned from the provider's headers, or unlimited).
        tokens: tokens per window (None: learned, or unlimited).
        window: the window in seconds (60: per minute, as the providers count).
    """

    requests: int | None = None
    tokens: int | None = None
    window: float = 60.0

    def __post_init__(self) -> None:
        for name in ("requests", "tokens"):
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
                raise ConfigurationError(f"SharedLimit.{name}: expected a positive integer or None, got {value!r}")
        if isinstance(self.window, bool) or not isinstance(self.window, (int, float)) or not self.window > 0:
            raise ConfigurationError(f"SharedLimit.window: expected positive seconds, got {self.window!r}")


@dataclasses.dataclass(frozen=True)
class LearnedLimits:
    """What a response's rate-limit headers say: limits per window (None: not said) and, for an exhausted
    budget, the seconds until it refills."""

    requests: int | None = None
    tokens: int | None = None
    reset: float | None = None


@dataclasses.dataclass(frozen=True, kw_only=True)
class SharedScope:
    """What one call asks of the shared state beyond its host's breaker (service clients build it).

    Attributes:
        provider, model: whose budget the call spends.
        credential: the key's :func:`fingerprint`.
        tokens: the tokens reserved for the call (an estimate; settled when the usage is known).
        learn: reads a response's headers into :class:`LearnedLimits` (None: nothing to learn).
        breaker: the policy of a breaker per ``provider:model`` counting calls (None: no such breaker).
    """

    provider: str
    model: str
    credential: str
    tokens: int = 0
    learn: Callable[[Mapping[str, str]], LearnedLimits | None] | None = dataclasses.field(default=None, compare=False)
    breaker: Any = None

    @property
    def breaker_name(self) -> str:
        """The per-call breaker's name: ``provider:model``."""
        return f"{self.provider}:{self.model}"


@dataclasses.dataclass(frozen=True)
class Bucket:
    """One budget: its keys, configured limits (0 = learned) and window."""

    name: str
    rl: str
    limits: str
    pause: str
    requests: int
    tokens: int
    window_ms: float
    learns: bool


class SharedLimits:
    """The configured limits, the buckets of each scope, the commands of each step and the local fallback."""

    def __init__(self, prefix: str, configured: Mapping[str, SharedLimit], *, headroom: float, window: float) -> None:
        for name, limit in configured.items():
            if not isinstance(limit, SharedLimit):
                raise ConfigurationError(f"limits[{name!r}]: expected a SharedLimit, got {type(limit).__name__}")
            if not name or name.count(":") > 1:
                raise ConfigurationError(f"limits: {name!r} is not 'provider' or 'provider:model'")
        self.prefix = prefix
        self.configured = dict(configured)
        self.headroom = headroom
        self.window = window
        self.local = LocalLimiter(headroom)
        self._buckets: dict[tuple[str, str, str], tuple[Bucket, ...]] = {}

    def _bucket(self, name: str, limit: SharedLimit | None, window: float, *, learns: bool) -> Bucket:
        tag = f"{{{name}}}"
        return Bucket(
            name=name,
            rl=f"{self.prefix}:rl:{tag}",
            limits=f"{self.prefix}:limits:{tag}",
            pause=f"{self.prefix}:pause:{tag}",
            requests=(limit.requests or 0) if limit else 0,
            tokens=(limit.tokens or 0) if limit else 0,
            window_ms=window * 1000.0,
            learns=learns,
        )

    def buckets(self, scope: SharedScope) -> tuple[Bucket, ...]:
        """The buckets a call of ``scope`` spends: the model's first, then the provider's when configured."""
        ident = (scope.provider, scope.model, scope.credential)
        found = self._buckets.get(ident)
        if found is None:
            own = self.configured.get(f"{scope.provider}:{scope.model}")
            provider = self.configured.get(scope.provider)
            chosen = own or provider
            window = chosen.window if chosen is not None else self.window
            found = (self._bucket(f"{scope.provider}:{scope.model}:{scope.credential}", own, window, learns=True),)
            if provider is not None and (provider.requests or provider.tokens):
                found += (
                    self._bucket(f"{scope.provider}:{scope.credential}", provider, provider.window, learns=False),
                )
            self._buckets[ident] = found
        return found

    # --- commands -------------------------------------------------------------------------------------

    def acquire(self, bucket: Bucket, weight: int) -> tuple[Any, ...]:
        """Reserve a request and ``weight`` tokens."""
        args = (bucket.requests, bucket.tokens, bucket.window_ms, self.headroom, weight)
        return LIMIT_ACQUIRE.call((bucket.rl, bucket.limits, bucket.pause), args)

    def report(
        self, bucket: Bucket, learned: LearnedLimits | None, book: tuple[int, int], pause: float
    ) -> tuple[Any, ...]:
        """Store learned limits, book what was admitted before they were known, pause after a 429."""
        args = (
            (learned.requests or 0) if learned else 0,
            (learned.tokens or 0) if learned else 0,
            bucket.window_ms,
            self.headroom,
            bucket.requests,
            bucket.tokens,
            book[0],
            book[1],
            round(pause * 1000),
        )
        return LIMIT_REPORT.call((bucket.rl, bucket.limits, bucket.pause), args)

    def adjust(self, bucket: Bucket, requests: int, tokens: int) -> tuple[Any, ...]:
        """Move a bucket's reservations by ``requests`` and ``tokens`` (negative: give back)."""
        args = (requests, tokens, bucket.requests, bucket.tokens, bucket.window_ms)
        return LIMIT_ADJUST.call((bucket.rl, bucket.limits), args)


class LocalLimiter:
    """The GCRA of :mod:`._redis_scripts` in memory, for one process: the fallback while Redis is away.

    It remembers the limits Redis reported, so an outage keeps the learned limits. Thread-safe.
    """

    def __init__(self, headroom: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.headroom = headroom
        self._clock = clock
        self._lock = threading.Lock()
        self._tat: dict[tuple[str, str], float] = {}
        self._learned: dict[str, tuple[int, int, float]] = {}
        self._paused: dict[str, float] = {}

    def _now(self) -> float:
        return self._clock() * 1000.0

    def _limits(self, bucket: Bucket, now: float) -> tuple[int, int]:
        requests, tokens = bucket.requests, bucket.tokens
        learned = self._learned.get(bucket.name)
        if learned is not None and learned[2] > now:
            requests, tokens = requests or learned[0], tokens or learned[1]
        return requests, tokens

    def _reserve(self, bucket: Bucket, dim: str, limit: int, weight: float, now: float, headroom: float) -> float:
        if limit <= 0 or weight == 0:
            return 0.0
        interval = bucket.window_ms / limit
        burst = max(1, int(limit * (1 - headroom)))
        tat = max(self._tat.get((bucket.name, dim), now), now)
        new_tat = max(now, tat + weight * interval)
        self._tat[(bucket.name, dim)] = new_tat
        return max(0.0, new_tat - burst * interval - now)

    def remember(self, bucket: Bucket, requests: int, tokens: int) -> None:
        """Keep the limits Redis said are in effect (for use during an outage)."""
        if requests or tokens:
            with self._lock:
                self._learned[bucket.name] = (requests, tokens, self._now() + bucket.window_ms)

    def acquire(self, bucket: Bucket, weight: int) -> tuple[float, int, int]:
        """As ``LIMIT_ACQUIRE``: (wait ms, requests limit, tokens limit)."""
        with self._lock:
            now = self._now()
            requests, tokens = self._limits(bucket, now)
            wait = max(
                self._reserve(bucket, "r", requests, 1, now, self.headroom),
                self._reserve(bucket, "t", tokens, weight, now, self.headroom),
                self._paused.get(bucket.name, now) - now,
            )
            return wait, requests, tokens

    def report(self, bucket: Bucket, learned: LearnedLimits | None, book: tuple[int, int], pause: float) -> None:
        """As ``LIMIT_REPORT``."""
        with self._lock:
            now = self._now()
            if learned is not None and (learned.requests or learned.tokens):
                old = self._learned.get(bucket.name, (0, 0, 0.0))
                self._learned[bucket.name] = (
                    learned.requests or old[0],
                    learned.tokens or old[1],
                    now + bucket.window_ms,
                )
            requests, tokens = self._limits(bucket, now)
            if book[0]:
                self._reserve(bucket, "r", requests, 1, now, self.headroom)
            if book[1]:
                self._reserve(bucket, "t", tokens, book[1], now, self.headroom)
            if pause > 0:
                until = now + pause * 1000.0
                self._paused[bucket.name] = max(self._paused.get(bucket.name, 0.0), until)
                if requests:
                    interval = bucket.window_ms / requests
                    burst = max(1, int(requests * (1 - self.headroom)))
                    key = (bucket.name, "r")
                    self._tat[key] = max(self._tat.get(key, now), until + (burst - 1) * interval)

    def adjust(self, bucket: Bucket, requests: int, tokens: int) -> None:
        """As ``LIMIT_ADJUST``."""
        with self._lock:
            now = self._now()
            limit_r, limit_t = self._limits(bucket, now)
            if requests and (bucket.name, "r") in self._tat:
                self._reserve(bucket, "r", limit_r, requests, now, 0.0)
            if tokens and (bucket.name, "t") in self._tat:
                self._reserve(bucket, "t", limit_t, tokens, now, 0.0)
