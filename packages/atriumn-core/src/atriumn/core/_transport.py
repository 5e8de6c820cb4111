"""The sync transport, and what it shares with the async one (:mod:`._transport_async`): thin drivers of the
pipeline in :mod:`._pipeline`.

They own a backend (its connection pool: an ``httpx2.Client`` / ``AsyncClient``, or an ``aiohttp.ClientSession``
for ``AsyncTransport(backend="aiohttp")``), execute the pipeline's instructions (send, sleep, authenticate)
and do nothing else. Every decision is made in the pipeline.

Process and loop safety:
    - after ``fork()`` a child never reuses the parent's connections: the pool is rebuilt on first use in
      the child (the parent's sockets are left alone, not closed, so the parent is unaffected);
    - an :class:`AsyncTransport` first used on one event loop and then on another rebuilds its pool for
      the new loop instead of failing with "Event loop is closed" or hanging.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import threading
import time
from collections.abc import Iterator, Mapping
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeVar

import httpx2

from ._breaker import BreakerRegistry, CircuitBreakerPolicy
from ._config import env_duration, env_int, resolve_backend, resolve_base_url
from ._credentials import TokenProvider
from ._errors import ConfigurationError
from ._http import Response
from ._operation import Operation
from ._pipeline import Authenticate, Coordinate, PipelineConfig, Send, Sleep, Timeouts, call_flow, origin_of
from ._ratelimit import RateLimit, TokenBucket
from ._retry import RetryBudget, RetryPolicy
from ._settings import PoolLimits, forks, user_agent
from ._telemetry import (
    StatsRecorder,
    TransportStats,
    debug_from_environment,
    install_httpx_log_filter,
    instruments,
)
from ._tokens import AccessToken

if TYPE_CHECKING:
    from ._redis_state import RedisState

__all__ = ["Transport"]

T = TypeVar("T")
_T = TypeVar("_T", bound="_BaseTransport")

_DEFAULT_DEADLINE = 120.0


class _Shared:
    """State shared by a transport and the transports derived from it with ``with_options``."""

    def __init__(self, retry_budget: RetryBudget, breakers: BreakerRegistry, stats: StatsRecorder) -> None:
        self.budget = retry_budget
        self.breakers = breakers
        self.stats = stats


class _BaseTransport:
    """Configuration common to both transports."""

    _asynchronous = False

    def __init__(
        self,
        base_url: str | None = None,
        *,
        credentials: TokenProvider | None = None,
        timeouts: Timeouts | None = None,
        deadline: float | None = None,
        retry: RetryPolicy | None = None,
        max_retries: int | None = None,
        circuit_breaker: CircuitBreakerPolicy | None = None,
        rate_limit: RateLimit | None = None,
        retry_budget: RetryBudget | None = None,
        limits: PoolLimits | None = None,
        http2: bool = False,
        headers: Mapping[str, str] | None = None,
        idempotency_header: str = "Idempotency-Key",
        trace_origins: tuple[str, ...] = (),
        verify: Any = True,
        query: Mapping[str, Any] | None = None,
        replay_unsafe: bool = True,
        shared_state: RedisState | None = None,
        backend: str | None = None,
        environ: Mapping[str, str] | None = None,
        _shared: _Shared | None = None,
    ) -> None:
        debug_from_environment(environ)
        if getattr(self, "_http_transport", None) is not None:
            if backend not in (None, "httpx2"):
                raise ConfigurationError(f"backend: {backend!r} cannot send with http_transport (an httpx2 transport)")
            self.backend = "httpx2"
        else:
            self.backend = resolve_backend(backend, environ, asynchronous=self._asynchronous)
        install_httpx_log_filter()
        if credentials is not None and not isinstance(credentials, TokenProvider):
            raise ConfigurationError(
                f"credentials: expected a TokenProvider (StaticToken, ApiKey, ...), got {type(credentials).__name__}"
            )
        self.base_url = resolve_base_url(base_url, environ)
        if deadline is None:
            deadline = env_duration("ATRIUMN_REQUEST_TIMEOUT", environ)
        if deadline is None:
            deadline = _DEFAULT_DEADLINE
        if deadline <= 0:
            raise ConfigurationError(f"deadline: must be > 0 seconds, got {deadline!r}")
        if retry is None:
            env_retries = env_int("ATRIUMN_MAX_RETRIES", environ)
            retry = RetryPolicy(
                max_retries=max_retries if max_retries is not None else (env_retries if env_retries is not None else 3)
            )
        elif max_retries is not None:
            retry = dataclasses.replace(retry, max_retries=max_retries)
        self.retry = retry
        self.deadline = deadline
        self.timeouts = timeouts or Timeouts()
        self.credentials = credentials
        self.circuit_breaker = circuit_breaker or CircuitBreakerPolicy()
        self.rate_limit = rate_limit
        self.limits = limits or PoolLimits()
        self.http2 = http2
        self.verify = verify
        self.idempotency_header = idempotency_header
        self.extra_headers = dict(headers or {})
        self.query = dict(query or {})
        if not isinstance(replay_unsafe, bool):
            raise ConfigurationError(f"replay_unsafe: expected True or False, got {replay_unsafe!r}")
        self.replay_unsafe = replay_unsafe
        self.shared_state = _shared_state(shared_state, environ)
        self._trace_origins = trace_origins
        self._shared = _shared or _Shared(
            retry_budget or RetryBudget(), BreakerRegistry(self.circuit_breaker), StatsRecorder()
        )
        url = httpx2.URL(self.base_url)
        self._config = PipelineConfig(
            base_url=url,
            base_prefix=str(url).rstrip("/"),
            origin=origin_of(url),
            credentials=credentials,
            timeouts=self.timeouts,
            deadline=deadline,
            retry=retry,
            budget=self._shared.budget,
            breakers=self._shared.breakers,
            bucket=TokenBucket(rate_limit) if rate_limit is not None else None,
            headers=self.extra_headers,
            user_agent=user_agent(self.backend),
            idempotency_header=idempotency_header,
            stats=self._shared.stats,
            trace_origins=frozenset(origin_of(httpx2.URL(o)) for o in trace_origins),
            query=self.query or None,
            replay_unsafe=replay_unsafe,
            shared=self.shared_state,
        )
        self._closed = False

    @classmethod
    def for_client(
        cls: type[_T],
        transport: _T | None,
        *,
        base_url: str | None = None,
        credentials: TokenProvider | None = None,
        deadline: float | None = None,
        max_retries: int | None = None,
        shared_state: RedisState | None = None,
    ) -> tuple[_T, bool]:
        """The transport a service client should use, and whether the client owns (and closes) it.

        With ``transport`` given, the client shares it (derived with ``with_options`` when the client's own
        base URL, credentials, deadline, retries or shared state differ); otherwise a new transport is created.
        """
        options = _client_options(base_url, credentials, deadline, max_retries)
        if shared_state is not None:
            options["shared_state"] = shared_state
        if transport is None:
            return cls(**options), True
        changes = {k: v for k, v in options.items() if v is not None}
        return (transport.with_options(**changes) if changes else transport), False

    def with_options(self: _T, **changes: Any) -> _T:
        """A transport with some options changed, sharing this one's state (see the subclasses)."""
        raise NotImplementedError

    def _options(self) -> dict[str, Any]:
        return {
            "base_url": self.base_url,
            "credentials": self.credentials,
            "timeouts": self.timeouts,
            "deadline": self.deadline,
            "retry": self.retry,
            "circuit_breaker": self.circuit_breaker,
            "rate_limit": self.rate_limit,
            "limits": self.limits,
            "http2": self.http2,
            "headers": self.extra_headers,
            "idempotency_header": self.idempotency_header,
            "trace_origins": self._trace_origins,
            "verify": self.verify,
            "query": self.query,
            "replay_unsafe": self.replay_unsafe,
            "shared_state": self.shared_state,
            "backend": self.backend,
        }

    def _count_refresh(self) -> None:
        self._shared.stats.add("token_refreshes")
        instruments().token_refreshes.add(1)

    def stats(self) -> TransportStats:
        """Requests, calls, errors, retries, breaker openings, token refreshes, p50/p95 latency, responses by
        status class, 429s, time waited for the shared limiter, Redis round trips and fallbacks."""
        return self._shared.stats.snapshot()

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(base_url={self.base_url!r}, credentials={self.credentials!r}, "
            f"backend={self.backend!r})"
        )


def _client_options(
    base_url: str | None, credentials: TokenProvider | None, deadline: float | None, max_retries: int | None
) -> dict[str, Any]:
    options: dict[str, Any] = {"base_url": base_url, "credentials": credentials}
    if deadline is not None:
        options["deadline"] = deadline
    if max_retries is not None:
        options["max_retries"] = max_retries
    return options


def _shared_state(state: RedisState | None, environ: Mapping[str, str] | None) -> RedisState | None:
    """The shared state: the argument, else ``ATRIUMN_REDIS_URL``'s, else None (``_redis_state`` is imported
    only when there is one)."""
    if state is None and not (os.environ if environ is None else environ).get("ATRIUMN_REDIS_URL"):
        return None
    from ._redis_state import resolve_state

    return resolve_state(state, environ)


def _auth_result(provider: TokenProvider, token: AccessToken) -> tuple[AccessToken, dict[str, str]]:
    return token, provider.auth_headers(token)


class Transport(_BaseTransport):
    """The synchronous transport: a connection pool plus the policy pipeline.

    One per process or per service host; share it between clients (``AuthClient(transport=t)``).

    Args:
        base_url: the service's base URL (else ``ATRIUMN_API_BASE_URL``, else the Atriumn API).
        credentials: a :class:`TokenProvider`, applied only to requests to ``base_url``'s origin.
        timeouts: per-attempt connect/read/write/pool timeouts (5/60/60/10 s).
        deadline: one overall deadline per call in seconds, covering pool wait, token refresh and every
            retry (else ``ATRIUMN_REQUEST_TIMEOUT``, else 120 s).
        retry, max_retries: the :class:`RetryPolicy` (``max_retries`` else ``ATRIUMN_MAX_RETRIES``, else 3).
        circuit_breaker: the per-host :class:`CircuitBreakerPolicy`.
        rate_limit: an optional client-side :class:`RateLimit`.
        retry_budget: the :class:`RetryBudget` (capacity 500, cost 5 per retry, 10 per timeout).
        limits: pool :class:`PoolLimits`; http2: enable HTTP/2 (needs ``httpx2[http2]``).
        headers: headers added to every request; query: query parameters added to every request.
        replay_unsafe: replay requests of non-idempotent methods (with an automatic Idempotency-Key) after they
            may have reached the server (default True: the Atriumn API honours the key). False: never, unless
            an operation says it is idempotent.
        http_transport: any ``httpx2.BaseTransport`` to send with (e.g. ``httpx2.MockTransport`` in unit
            tests); the policies are unchanged.
        backend: ``"httpx2"``, the only backend of the sync transport (``ATRIUMN_HTTP_BACKEND`` names the
            async transports' backend and leaves this one alone).
        trace_origins: other origins (``https://host``) that may receive W3C ``traceparent``.
        shared_state: a :class:`RedisState` sharing rate limits, breakers and tokens with every process that
            uses the same Redis (else ``ATRIUMN_REDIS_URL``'s, else none: local state only).
    """

    def __init__(
        self,
        base_url: str | None = None,
        *,
        http_transport: httpx2.BaseTransport | None = None,
        **kwargs: Any,
    ) -> None:
        self._http_transport = http_transport
        super().__init__(base_url, **kwargs)
        self._backend: Any = None
        self._fork = forks[0]
        self._lock = threading.Lock()

    def _current_backend(self) -> Any:
        """The pool (rebuilt after ``fork()`` so a child never shares the parent's connections)."""
        backend = self._backend
        if backend is None or self._fork != forks[0]:
            with self._lock:
                if self._closed:
                    raise RuntimeError("this Transport is closed")
                if self._backend is None or self._fork != forks[0]:
                    # In a forked child the parent's client is dropped, not closed: closing would shut
                    # sockets the parent still uses.
                    from ._backend_httpx import HttpxBackend, client_options  # on first use: a faster import

                    client = httpx2.Client(
                        transport=self._http_transport, **client_options(self.limits, self.http2, self.verify)
                    )
                    self._backend = HttpxBackend(client)
                    self._fork = forks[0]
                backend = self._backend
        return backend

    @property
    def http_client(self) -> httpx2.Client:
        """The ``httpx2.Client`` that sends (rebuilt after ``fork()``)."""
        client: httpx2.Client = self._current_backend().client
        return client

    def with_options(self, **changes: Any) -> Transport:
        """A transport with some options changed, sharing this one's pool, breakers, budget and stats.

        Example: ``openai = transport.with_options(base_url="https://api.openai.com/v1",
        credentials=ApiKey(key))``.
        """
        options = {**self._options(), **changes}
        derived = Transport(_shared=self._shared, http_transport=self._http_transport, **options)
        derived._backend = self._current_backend()
        derived._parent = self  # type: ignore[attr-defined]
        return derived

    def send(self, operation: Operation[T]) -> T:
        """Send one operation through the pipeline and return its decoded result.

        For ``stream=True`` operations the open :class:`Response` is returned; close it (or use :meth:`stream`).
        """
        flow = call_flow(self._config, operation)
        send = self._current_backend().send
        try:
            instruction = next(flow)
            while True:
                kind = type(instruction)
                result: Any = None
                if kind is Send:
                    result = send(instruction.request, instruction.stream)
                elif kind is Sleep:
                    time.sleep(instruction.seconds)
                elif kind is Authenticate:
                    result = self._authenticate(instruction)
                elif kind is Coordinate:
                    result = instruction.run()
                instruction = flow.send(result)
        except StopIteration as stop:
            return stop.value  # type: ignore[no-any-return]
        finally:
            flow.close()

    def _authenticate(self, instruction: Authenticate) -> Any:
        provider = instruction.provider
        cache = provider.cache
        try:
            if instruction.force and instruction.stale is not None:
                provider.on_unauthorized(instruction.stale)
                cache.invalidate(instruction.stale)
            token = cache.get_token(
                self._send_unauthenticated, on_refresh=self._count_refresh, shared=self.shared_state
            )
            return _auth_result(provider, token)
        except Exception as exc:
            return exc

    def _send_unauthenticated(self, operation: Operation[Any]) -> Any:
        return self.send(operation.evolve(authenticated=False))

    @contextlib.contextmanager
    def stream(self, operation: Operation[Any]) -> Iterator[Response]:
        """Send a streaming operation and yield the open :class:`Response`; it is closed on exit, on every path."""
        response: Response = self.send(operation.evolve(stream=True))
        try:
            yield response
        finally:
            response.close()

    def close(self) -> None:
        """Close the pool (derived transports share it: close the one you created)."""
        with self._lock:
            self._closed = True
            backend, self._backend = self._backend, None
        if backend is not None and self._fork == forks[0] and not hasattr(self, "_parent"):
            backend.close()

    def __enter__(self) -> Transport:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
