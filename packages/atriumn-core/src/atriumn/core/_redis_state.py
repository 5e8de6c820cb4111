"""Shared state on Redis: :class:`RedisState`, the one object every process of a deployment points at.

A :class:`RedisState` holds the connection settings (one URL; ``redis-py``'s sync and asyncio clients, built
lazily, so ``import atriumn.core`` never imports ``redis``), the key prefix, the configured rate limits, and the
health bookkeeping that keeps the SDK up when Redis is not:

- every Redis call has a bounded socket timeout (``timeout``, 0.1 s by default) and no client-side retry;
- a failure (refused, reset, timeout, an error reply) starts an *outage*: ONE warning is logged, the call is
  answered from local state (the process's own token bucket, breakers and token cache), and Redis is left
  alone for ``backoff`` seconds, after which one call tries it again; the first answer ends the outage
  (logged at INFO). Fallbacks are counted in :meth:`stats`, in each transport's ``stats()`` and in the
  ``atriumn.client.shared_state.fallbacks`` metric.

The policies (rate limits, breakers, tokens) describe each round trip as a :class:`Step`: the commands to send
in one pipeline, what their replies mean, and the local answer to use instead. The transports' drivers run it
(:meth:`run` or :meth:`arun`), so the pipeline itself stays free of I/O.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import threading
import time
import weakref
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Generic, TypeVar

from ._errors import ConfigurationError
from ._redis_scripts import SCRIPTS
from ._shared_breaker import SharedBreakers
from ._shared_limits import SharedLimit, SharedLimits, SharedScope

__all__ = ["RedisState", "SharedStateStats", "Step"]

logger = logging.getLogger("atriumn.core.shared")

T = TypeVar("T")

_SCHEMES = ("redis://", "rediss://", "unix://")
_MAX_DEFERRED = 1024


@dataclasses.dataclass
class Step(Generic[T]):
    """One round trip: ``commands`` sent in one pipeline, ``done`` reading their replies, ``local`` the answer
    from local state when Redis cannot be used."""

    commands: Sequence[tuple[Any, ...]]
    done: Callable[[list[Any]], T]
    local: Callable[[], T]


@dataclasses.dataclass(frozen=True, kw_only=True)
class SharedStateStats:
    """What a :class:`RedisState` did in this process.

    Attributes:
        round_trips: pipelines sent to Redis (one per step, whatever the number of commands in it).
        fallbacks: steps answered from local state because Redis could not be used.
        outages: times Redis became unreachable (each logged once).
        healthy: whether the last call reached Redis.
    """

    round_trips: int
    fallbacks: int
    outages: int
    healthy: bool


class RedisState:
    """Rate limits, tokens, circuit breakers and the AI response cache shared by processes, on Redis.

    Pass one to ``Transport(shared_state=...)`` / ``AsyncTransport(...)`` or to any client
    (``ChatClient(shared_state=...)``); every process of a deployment that points at the same Redis and prefix
    shares one rate limit per provider account, one access token per credential and one breaker per host.
    What is stored, under which keys and for how long: see ``docs/scaling.md``.

    Args:
        url: ``redis://[[user]:password@]host[:port][/db]``, ``rediss://...`` (TLS) or ``unix:///path``.
        prefix: the first part of every key (default ``atriumn``); separate deployments sharing a Redis
            use different prefixes.
        timeout: seconds each Redis call may take (connect and read) before the call falls back to local state.
        backoff: seconds Redis is left alone after a failure before it is tried again.
        encryption_key: a Fernet key (``cryptography``'s ``Fernet.generate_key()``); access tokens are stored
            encrypted with it. Without one they are stored as plain JSON (never the refresh token).
        limits: configured rate limits by ``provider`` (one budget for every model of the provider) or
            ``provider:model`` (that model's budget), each a :class:`SharedLimit`; what is not configured is
            learned from the providers' rate-limit headers.
        headroom: the fraction of each limit kept free as a burst reserve (default 0.1), so requests that
            reach the provider out of order (network and scheduling jitter) never exceed its budget.
        window: the window of learned limits in seconds (default 60: what the providers' headers count);
            a :class:`SharedLimit` with only a ``window`` sets it per provider or model.
        lock_ttl: seconds a token refresh lock lives: a crashed holder blocks the others at most this long.
    """

    def __init__(
        self,
        url: str,
        *,
        prefix: str = "atriumn",
        timeout: float = 0.1,
        backoff: float = 1.0,
        encryption_key: str | bytes | None = None,
        limits: Mapping[str, SharedLimit] | None = None,
        headroom: float = 0.1,
        window: float = 60.0,
        lock_ttl: float = 10.0,
    ) -> None:
        if not isinstance(url, str) or not url.startswith(_SCHEMES):
            raise ConfigurationError("url: expected redis://, rediss:// or unix:// (the URL is not shown)")
        if not isinstance(prefix, str) or not prefix or any(c in prefix for c in " {}"):
            raise ConfigurationError(f"prefix: expected a non-empty name without spaces or braces, got {prefix!r}")
        for name, value in (("timeout", timeout), ("backoff", backoff), ("window", window), ("lock_ttl", lock_ttl)):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
                raise ConfigurationError(f"{name}: expected a positive number of seconds, got {value!r}")
        if not 0 <= headroom < 1:
            raise ConfigurationError(f"headroom: expected a fraction in [0, 1), got {headroom!r}")
        self._url = url
        self.prefix = prefix
        self.timeout = float(timeout)
        self.backoff = float(backoff)
        self.lock_ttl = float(lock_ttl)
        self.limits = SharedLimits(prefix, limits or {}, headroom=headroom, window=window)
        self.breakers = SharedBreakers(prefix)
        self._fernet = _fernet(encryption_key) if encryption_key else None
        self._lock = threading.Lock()
        self._client: Any = None
        self._aclients: weakref.WeakKeyDictionary[Any, Any] = weakref.WeakKeyDictionary()
        self._down_until = 0.0
        self._down_since: float | None = None
        self._deferred: list[tuple[Any, ...]] = []
        self._round_trips = self._fallbacks = self._outages = 0
        self._loaded = False  # the scripts were loaded since the last outage
        self._warned_key = False

    # --- construction ---------------------------------------------------------------------------------

    @classmethod
    def from_url(cls, url: str, **options: Any) -> RedisState:
        """A state on the Redis at ``url`` (options as for the constructor)."""
        return cls(url, **options)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **options: Any) -> RedisState:
        """A state from ``ATRIUMN_REDIS_URL``, ``ATRIUMN_REDIS_PREFIX`` and ``ATRIUMN_REDIS_ENCRYPTION_KEY``
        (explicit ``options`` win).

        Raises:
            ConfigurationError: ``ATRIUMN_REDIS_URL`` is not set or not a Redis URL.
        """
        env = os.environ if environ is None else environ
        url = env.get("ATRIUMN_REDIS_URL", "").strip()
        if not url:
            raise ConfigurationError("ATRIUMN_REDIS_URL: not set (expected redis://host:port)")
        if not url.startswith(_SCHEMES):
            raise ConfigurationError("ATRIUMN_REDIS_URL: expected redis://, rediss:// or unix:// (not shown)")
        prefix = env.get("ATRIUMN_REDIS_PREFIX", "").strip()
        if prefix:
            options.setdefault("prefix", prefix)
        key = env.get("ATRIUMN_REDIS_ENCRYPTION_KEY", "").strip()
        if key:
            options.setdefault("encryption_key", key)
        try:
            return cls(url, **options)
        except ConfigurationError as exc:
            if "encryption_key" in str(exc):
                raise ConfigurationError(str(exc).replace("encryption_key", "ATRIUMN_REDIS_ENCRYPTION_KEY")) from None
            raise

    @property
    def shown_url(self) -> str:
        """The URL without its credentials (for logs and reprs)."""
        from ._redact import redact_url

        return redact_url(self._url)

    def __repr__(self) -> str:
        return f"RedisState({self.shown_url!r}, prefix={self.prefix!r}, encrypted={self._fernet is not None})"

    def key(self, kind: str, name: str) -> str:
        """The key of ``name`` in the namespace ``kind``: ``{prefix}:{kind}:{{name}}`` (the braces are a hash tag,
        so the keys of one name live on one shard)."""
        return f"{self.prefix}:{kind}:{{{name}}}"

    # --- clients --------------------------------------------------------------------------------------

    def _options(self) -> dict[str, Any]:
        from redis.backoff import NoBackoff
        from redis.retry import Retry

        return {
            "socket_timeout": self.timeout,
            "socket_connect_timeout": self.timeout,
            "retry": Retry(NoBackoff(), 0),
            "retry_on_timeout": False,
            "health_check_interval": 0,
        }

    @property
    def client(self) -> Any:
        """The sync ``redis.Redis`` client (built on first use; its pool is rebuilt after ``fork()``)."""
        client = self._client
        if client is None:
            with self._lock:
                if self._client is None:
                    import redis

                    self._client = redis.Redis.from_url(self._url, **self._options())
                client = self._client
        return client

    def async_client(self) -> Any:
        """The ``redis.asyncio.Redis`` client of the running event loop (one per loop)."""
        import asyncio

        loop = asyncio.get_running_loop()
        client = self._aclients.get(loop)
        if client is None:
            import redis.asyncio

            client = self._aclients[loop] = redis.asyncio.Redis.from_url(self._url, **self._options())
        return client

    # --- running steps --------------------------------------------------------------------------------

    @property
    def available(self) -> bool:
        """Whether the next step should try Redis (False during an outage's backoff)."""
        return self._down_until == 0.0 or time.monotonic() >= self._down_until

    def defer(self, command: tuple[Any, ...]) -> None:
        """Send ``command`` with the next round trip (settlements, refunds, released probes): no I/O now."""
        with self._lock:
            if len(self._deferred) < _MAX_DEFERRED:
                self._deferred.append(command)

    def settle(self, scope: SharedScope, tokens: int) -> None:
        """A call of ``scope`` used ``tokens`` tokens where ``scope.tokens`` were reserved: move its buckets'
        token reservations by the difference (sent with the next round trip; applied locally in an outage)."""
        delta = int(tokens) - scope.tokens
        if not delta:
            return
        for bucket in self.limits.buckets(scope):
            if self.available:
                self.defer(self.limits.adjust(bucket, 0, delta))
            else:
                self.limits.local.adjust(bucket, 0, delta)

    def _take_deferred(self) -> list[tuple[Any, ...]]:
        if not self._deferred:
            return []
        with self._lock:
            deferred, self._deferred = self._deferred, []
        return deferred

    def _batch(self, step: Step[Any]) -> tuple[list[tuple[Any, ...]], int]:
        """The step's commands after the deferred ones, and after loading every script on the first round trip
        (and the first after an outage: Redis may have restarted), so a pipeline never meets NOSCRIPT halfway."""
        head: list[tuple[Any, ...]] = [] if self._loaded else [("SCRIPT", "LOAD", s.source) for s in SCRIPTS.values()]
        head += self._take_deferred()
        return [*head, *step.commands], len(head)

    def run(self, step: Step[T], stats: Any = None) -> T:
        """Run ``step`` with the sync client (or answer it locally during an outage). Never raises a Redis error."""
        if not self.available:
            return self._fallback(step, stats)
        commands, skip = self._batch(step)
        try:
            replies = self._send(self.client, commands)
        except Exception as exc:
            if not _is_redis_failure(exc):
                raise
            self._lost(exc)
            return self._fallback(step, stats)
        self._answered(stats)
        return step.done(replies[skip:])

    async def arun(self, step: Step[T], stats: Any = None) -> T:
        """Run ``step`` with the asyncio client of the running loop (see :meth:`run`)."""
        if not self.available:
            return self._fallback(step, stats)
        commands, skip = self._batch(step)
        try:
            replies = await self._asend(self.async_client(), commands)
        except Exception as exc:
            if not _is_redis_failure(exc):
                raise
            self._lost(exc)
            return self._fallback(step, stats)
        self._answered(stats)
        return step.done(replies[skip:])

    # Redis may forget the scripts (a restart, SCRIPT FLUSH, a failover): then every EVALSHA of the pipeline
    # answers NOSCRIPT without running; the scripts are loaded again and those commands sent again, in order.

    @staticmethod
    def _send(client: Any, commands: list[tuple[Any, ...]]) -> list[Any]:
        replies: list[Any] = _pipeline(client, commands).execute(raise_on_error=False)
        missing = _noscript(replies)
        if missing:
            _merge(replies, missing, _pipeline(client, _reloaded(commands, missing)).execute(raise_on_error=False))
        return _checked(replies)

    @staticmethod
    async def _asend(client: Any, commands: list[tuple[Any, ...]]) -> list[Any]:
        replies: list[Any] = await _pipeline(client, commands).execute(raise_on_error=False)
        missing = _noscript(replies)
        if missing:
            again = await _pipeline(client, _reloaded(commands, missing)).execute(raise_on_error=False)
            _merge(replies, missing, again)
        return _checked(replies)

    def _fallback(self, step: Step[T], stats: Any) -> T:
        with self._lock:
            self._fallbacks += 1
            self._deferred.clear()  # best-effort adjustments: meaningless once the shared state is not used
        if stats is not None:
            stats.add("redis_fallbacks")
        from ._telemetry import instruments

        instruments().shared_fallbacks.add(1)
        return step.local()

    def _lost(self, exc: BaseException) -> None:
        now = time.monotonic()
        with self._lock:
            first = self._down_since is None
            if first:
                self._down_since = now
                self._outages += 1
            self._down_until = now + self.backoff
            self._loaded = False
        if first:
            logger.warning(
                "shared state: Redis at %s did not answer (%s); using local state until it does",
                self.shown_url,
                type(exc).__name__,
                extra={"atriumn.redis": self.shown_url, "atriumn.error": type(exc).__name__},
            )

    def _answered(self, stats: Any) -> None:
        with self._lock:
            self._round_trips += 1
            self._loaded = True
            since = self._down_since
            self._down_since = None
            self._down_until = 0.0
        if stats is not None:
            stats.add("redis_round_trips")
        if since is not None:
            logger.info(
                "shared state: Redis at %s answers again after %.1fs; shared state resumed",
                self.shown_url,
                time.monotonic() - since,
            )

    def stats(self) -> SharedStateStats:
        """Round trips, fallbacks and outages of this process."""
        with self._lock:
            return SharedStateStats(
                round_trips=self._round_trips,
                fallbacks=self._fallbacks,
                outages=self._outages,
                healthy=self._down_since is None,
            )

    # --- secrets at rest ------------------------------------------------------------------------------

    @property
    def encrypted(self) -> bool:
        """Whether access tokens are stored encrypted."""
        return self._fernet is not None

    def seal(self, plaintext: bytes) -> bytes:
        """``plaintext`` encrypted with the configured key (as is without one)."""
        return self._fernet.encrypt(plaintext) if self._fernet is not None else plaintext

    def unseal(self, stored: bytes) -> bytes | None:
        """The plaintext of a stored value, or None when it cannot be read with this key (a miss, never an
        error: the value is not shown)."""
        if self._fernet is None:
            return stored
        from cryptography.fernet import InvalidToken

        try:
            plain: bytes = self._fernet.decrypt(stored)
            return plain
        except (InvalidToken, ValueError, TypeError):
            if not self._warned_key:
                self._warned_key = True
                logger.warning("shared state: a stored token could not be decrypted with this key; treated as a miss")
            return None

    # --- closing --------------------------------------------------------------------------------------

    def close(self) -> None:
        """Close the sync client's connections (a later call reconnects)."""
        with self._lock:
            client, self._client = self._client, None
        if client is not None:
            client.close()

    async def aclose(self) -> None:
        """Close the running loop's asyncio client."""
        import asyncio

        client = self._aclients.pop(asyncio.get_running_loop(), None)
        if client is not None:
            await client.aclose()


def _fernet(key: str | bytes) -> Any:
    try:
        from cryptography.fernet import Fernet
    except ImportError:  # pragma: no cover - cryptography comes with the redis extra
        raise ConfigurationError(
            "encryption_key: needs the cryptography package (pip install 'atriumn-core[redis]')"
        ) from None
    try:
        return Fernet(key)
    except (ValueError, TypeError):
        raise ConfigurationError(
            "encryption_key: not a Fernet key (32 url-safe base64-encoded bytes; the value is not shown)"
        ) from None


def _is_redis_failure(exc: BaseException) -> bool:
    """A failure of Redis or of the way to it (never our own bug: those propagate)."""
    if isinstance(exc, (OSError, TimeoutError, EOFError)):
        return True
    from redis.exceptions import RedisError

    return isinstance(exc, RedisError)


def _is_noscript(value: Any) -> bool:
    if not isinstance(value, Exception):
        return False
    from redis.exceptions import NoScriptError

    return isinstance(value, NoScriptError)


def _pipeline(client: Any, commands: Sequence[tuple[Any, ...]]) -> Any:
    """One round trip (not a transaction: each script is atomic on its own)."""
    pipe = client.pipeline(transaction=False)
    for command in commands:
        pipe.execute_command(*command)
    return pipe


def _noscript(replies: list[Any]) -> list[int]:
    return [i for i, reply in enumerate(replies) if _is_noscript(reply)]


def _reloaded(commands: Sequence[tuple[Any, ...]], missing: list[int]) -> list[tuple[Any, ...]]:
    """Every script loaded again, then the commands that met NOSCRIPT."""
    return [*(("SCRIPT", "LOAD", s.source) for s in SCRIPTS.values()), *(commands[i] for i in missing)]


def _merge(replies: list[Any], missing: list[int], again: list[Any]) -> None:
    for i, reply in zip(missing, again[len(SCRIPTS) :], strict=True):
        replies[i] = reply


def _checked(replies: list[Any]) -> list[Any]:
    for reply in replies:
        if isinstance(reply, Exception):
            raise reply
    return replies


_FROM_ENV: dict[tuple[str, str, str], RedisState] = {}
_FROM_ENV_LOCK = threading.Lock()


def resolve_state(state: Any, environ: Mapping[str, str] | None) -> RedisState | None:
    """A transport's shared state: ``state`` (checked), else the process's state for ``ATRIUMN_REDIS_URL``."""
    if state is None:
        return state_from_environment(environ)
    if not isinstance(state, RedisState):
        raise ConfigurationError(f"shared_state: expected a RedisState, got {type(state).__name__}")
    return state


def state_from_environment(environ: Mapping[str, str] | None) -> RedisState | None:
    """The process's :class:`RedisState` for ``ATRIUMN_REDIS_URL`` (one per URL, prefix and key), or None when
    the variable is not set. Transports created without ``shared_state`` use it."""
    env = os.environ if environ is None else environ
    url = env.get("ATRIUMN_REDIS_URL", "").strip()
    if not url:
        return None
    ident = (url, env.get("ATRIUMN_REDIS_PREFIX", "").strip(), env.get("ATRIUMN_REDIS_ENCRYPTION_KEY", "").strip())
    with _FROM_ENV_LOCK:
        state = _FROM_ENV.get(ident)
        if state is None:
            state = _FROM_ENV[ident] = RedisState.from_env(env)
        return state
