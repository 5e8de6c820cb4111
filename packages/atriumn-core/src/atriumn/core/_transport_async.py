"""The asynchronous transport, :class:`AsyncTransport`: a thin driver of the pipeline in :mod:`._pipeline`
(the sync one and what both share are in :mod:`._transport`).

It owns a backend (an ``httpx2.AsyncClient``, or an ``aiohttp.ClientSession`` for ``backend="aiohttp"``) per
event loop, executes the pipeline's instructions with ``await`` (``asyncio.sleep`` for every wait), and
decides nothing itself.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeVar

import httpx2

from ._errors import ConfigurationError
from ._http import Response
from ._operation import Operation
from ._pipeline import Authenticate, Coordinate, Send, Sleep, call_flow
from ._settings import forks
from ._transport import _auth_result, _BaseTransport

if TYPE_CHECKING:
    import asyncio

__all__ = ["AsyncTransport"]

T = TypeVar("T")


class AsyncTransport(_BaseTransport):
    """The asynchronous transport; same arguments and behaviour as :class:`Transport`, plus a choice of backend.

    Never blocks the event loop: sleeps (backoff, rate limit) are ``asyncio.sleep``.

    Args:
        backend: ``"httpx2"`` (the default: HTTP/2, ``http_transport``) or ``"aiohttp"`` (HTTP/1.1, several
            times less CPU per request; needs ``atriumn-core[aiohttp]``); else ``ATRIUMN_HTTP_BACKEND``.
            The policies, errors and messages are the same with either (see the configuration docs for how
            each timeout maps onto aiohttp).
        http_transport: any ``httpx2.AsyncBaseTransport`` (the httpx2 backend only).
    """

    _asynchronous = True

    def __init__(
        self,
        base_url: str | None = None,
        *,
        http_transport: httpx2.AsyncBaseTransport | None = None,
        **kwargs: Any,
    ) -> None:
        import asyncio

        self._http_transport = http_transport
        super().__init__(base_url, **kwargs)
        if self.backend == "aiohttp" and self.http2:
            raise ConfigurationError("http2: the aiohttp backend speaks HTTP/1.1 only (use backend='httpx2')")
        self._running_loop = asyncio.get_running_loop
        self._pool_owner: AsyncTransport | None = None  # the transport whose pool this one shares
        self._backend: Any = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._fork = forks[0]

    def _new_backend(self) -> Any:
        if self.backend == "aiohttp":
            from ._backend_aiohttp import AiohttpBackend

            return AiohttpBackend(self.limits, self.verify)
        from ._backend_httpx import AsyncHttpxBackend, client_options

        options = client_options(self.limits, self.http2, self.verify)
        return AsyncHttpxBackend(httpx2.AsyncClient(transport=self._http_transport, **options))

    def _current_backend(self) -> Any:
        """The pool of the running event loop (rebuilt for a new loop, and after ``fork()``)."""
        if self._closed:
            raise RuntimeError("this AsyncTransport is closed")
        if self._pool_owner is not None:  # derived with the same backend: the pool is its parent's
            return self._pool_owner._current_backend()
        loop = self._running_loop()
        backend = self._backend
        if backend is None or self._loop is not loop or self._fork != forks[0]:
            # A pool is bound to the loop that created its connections: a new loop gets a new pool. The old one
            # is dropped (its loop is gone or belongs to another thread; it cannot be closed from here), its
            # sockets closed when its loop is closed, never in a forked child (they are the parent's).
            old_loop = self._loop
            if backend is not None and self._fork == forks[0] and old_loop is not None and old_loop.is_closed():
                backend.abandon()
            backend = self._backend = self._new_backend()
            self._loop = loop
            self._fork = forks[0]
        return backend

    @property
    def http_client(self) -> Any:
        """The running loop's client: an ``httpx2.AsyncClient``, or an ``aiohttp.ClientSession``."""
        return self._current_backend().client

    def with_options(self, **changes: Any) -> AsyncTransport:
        """A transport with some options changed, sharing this one's breakers, budget and stats, and its pool
        (unless the backend, limits or TLS settings differ); close the one you created."""
        options = {**self._options(), **changes}
        derived = AsyncTransport(_shared=self._shared, http_transport=self._http_transport, **options)
        if derived.backend == self.backend and derived.limits == self.limits and derived.verify is self.verify:
            derived._pool_owner = self._pool_owner or self
        return derived

    async def send(self, operation: Operation[T]) -> T:
        """Send one operation through the pipeline and return its decoded result (see :meth:`Transport.send`)."""
        flow = call_flow(self._config, operation)
        send = self._current_backend().send
        try:
            instruction = next(flow)
            while True:
                kind = type(instruction)
                result: Any = None
                if kind is Send:
                    result = await send(instruction.request, instruction.stream)
                elif kind is Sleep:
                    import asyncio

                    await asyncio.sleep(instruction.seconds)
                elif kind is Authenticate:
                    result = await self._authenticate(instruction)
                elif kind is Coordinate:
                    result = await instruction.arun()
                instruction = flow.send(result)
        except StopIteration as stop:
            return stop.value  # type: ignore[no-any-return]
        finally:
            flow.close()

    async def _authenticate(self, instruction: Authenticate) -> Any:
        provider = instruction.provider
        cache = provider.cache
        try:
            if instruction.force and instruction.stale is not None:
                provider.on_unauthorized(instruction.stale)
                cache.invalidate(instruction.stale)
            token = await cache.get_token_async(
                self._send_unauthenticated, on_refresh=self._count_refresh, shared=self.shared_state
            )
            return _auth_result(provider, token)
        except Exception as exc:
            return exc

    async def _send_unauthenticated(self, operation: Operation[Any]) -> Any:
        return await self.send(operation.evolve(authenticated=False))

    @contextlib.asynccontextmanager
    async def stream(self, operation: Operation[Any]) -> AsyncIterator[Response]:
        """Send a streaming operation and yield the open :class:`Response`; it is closed on exit, on every path."""
        response: Response = await self.send(operation.evolve(stream=True))
        try:
            yield response
        finally:
            await response.aclose()

    async def aclose(self) -> None:
        """Close the pool."""
        self._closed = True
        backend, self._backend = self._backend, None
        if backend is not None:  # a transport sharing its parent's pool has none of its own
            with contextlib.suppress(RuntimeError):
                await backend.aclose()

    async def close(self) -> None:
        """Alias of :meth:`aclose`."""
        await self.aclose()

    async def __aenter__(self) -> AsyncTransport:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()
