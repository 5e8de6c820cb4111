"""The aiohttp backend of :class:`~atriumn.core.AsyncTransport` (``pip install atriumn-core[aiohttp]``).

aiohttp spends a fraction of httpx2's CPU per request (its HTTP parser and multidicts are compiled), which is
what high-concurrency work pays for: bulk ingest, scoring, embeddings, many concurrent streams. The pipeline
is the same; only the sending differs. This module is imported only when the backend is selected.

How the transport's settings map onto aiohttp (what aiohttp cannot express is done here):

- timeouts: ``connect`` → aiohttp's ``connect`` and ``sock_connect`` (DNS, TCP and TLS); ``read`` →
  ``sock_read`` (the longest silence while waiting for the head or a chunk of the body); ``pool`` → our own
  slot wait (aiohttp's pool wait shares the ``connect`` budget, so this backend keeps its own count of
  connections in use, limited to ``max_connections``, and waits for a free one at most ``pool`` seconds);
  ``write`` → aiohttp has no write timeout, so a body that could block is sent in chunks under a watchdog
  that fails the attempt when one chunk has not gone out within ``write`` seconds (bodies under 64 KiB fit
  the socket's buffer and cannot block). Timeouts are never rounded up to whole seconds.
- limits: ``max_connections`` as above; ``keepalive_expiry`` → the connector's ``keepalive_timeout``;
  ``max_keepalive_connections`` has no aiohttp equivalent (idle connections are kept until they expire).
- proxies from the environment (``HTTP(S)_PROXY``, ``NO_PROXY``) are looked up once per origin, not per
  request as aiohttp's ``trust_env`` would (a thread hop each); ``~/.netrc`` is never read for servers.
- TLS: ``verify`` (True, False, a CA bundle path or an ``ssl.SSLContext``) builds the same context httpx2
  builds (certifi's bundle, ``SSL_CERT_FILE`` / ``SSL_CERT_DIR``).
- one attempt is one request: aiohttp's silent resend of an idempotent request on a dropped keep-alive
  connection is turned off (the pipeline decides retries, and counts them); no cookies are kept between
  requests; redirects are not followed; HTTP/1.1 only.
"""

from __future__ import annotations

import asyncio
import collections
from collections.abc import AsyncIterable, AsyncIterator, Iterable
from typing import Any

import aiohttp
import aiohttp.payload
import yarl

from ._http import Body, Failed, Headers, Request, Response

__all__ = ["AiohttpBackend", "kind_of"]

#: aiohttp rounds timeouts above this up to whole seconds: never.
_NO_CEILING = 1e9
#: Bodies this large are sent in chunks under the write watchdog (smaller ones fit the socket's buffer).
_WATCHED_BODY = 64 * 1024


class PoolTimeout(Exception):
    """Every connection was in use for the whole pool timeout."""


class WriteTimeout(Exception):
    """A chunk of the request body could not be sent within the write timeout."""


def kind_of(exc: BaseException) -> str | None:
    """What an aiohttp (or socket) exception was (see ``_http.KINDS``); None when it is not a transport failure."""
    if isinstance(exc, PoolTimeout):
        return "pool_timeout"
    if isinstance(exc, WriteTimeout):
        return "write_timeout"
    if isinstance(exc, aiohttp.ConnectionTimeoutError):
        return "connect_timeout"
    if isinstance(exc, (aiohttp.ServerTimeoutError, asyncio.TimeoutError)):
        return "read_timeout"
    if isinstance(exc, aiohttp.ClientConnectorError):  # refused, DNS, TLS handshake and proxy connection errors
        return "connect"
    if isinstance(exc, (aiohttp.ClientError, OSError)):
        return "network"
    return None


class _Slots:
    """Connections in use, at most ``size``: a free slot is taken without waiting; otherwise a caller waits
    for one, first come first served, at most the pool timeout."""

    __slots__ = ("free", "waiters")

    def __init__(self, size: int) -> None:
        self.free = size
        self.waiters: collections.deque[asyncio.Future[None]] = collections.deque()

    async def wait(self, timeout: float) -> None:
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[None] = loop.create_future()
        self.waiters.append(waiter)
        expiry = loop.call_later(timeout, _expire, waiter)
        try:
            await waiter
        except BaseException:
            if waiter.done() and not waiter.cancelled() and waiter.exception() is None:
                self.give()  # handed over just as this caller gave up: pass it on
            raise
        finally:
            expiry.cancel()

    def give(self) -> None:
        waiters = self.waiters
        while waiters:
            waiter = waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return
        self.free += 1


def _expire(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_exception(PoolTimeout())


class _Upload:
    """A request body sent in chunks, each one under the write watchdog: a chunk not taken by the socket within
    the write timeout aborts the connection, and the attempt fails as a write timeout."""

    __slots__ = ("chunks", "expired", "handle", "timeout", "writer")

    def __init__(self, chunks: AsyncIterable[bytes] | Iterable[bytes], timeout: float) -> None:
        self.chunks = chunks
        self.timeout = timeout
        self.expired = False
        self.handle: asyncio.TimerHandle | None = None
        self.writer: Any = None  # aiohttp's stream writer, once it starts writing the body

    def payload(self) -> aiohttp.payload.Payload:
        return _Watched(self._body(), upload=self)

    async def _body(self) -> AsyncIterator[bytes]:
        loop = asyncio.get_running_loop()
        task = asyncio.current_task()  # aiohttp's body-writing task
        chunks = self.chunks
        if isinstance(chunks, AsyncIterable):
            async for chunk in chunks:
                self.handle = loop.call_later(self.timeout, self._expire, task)
                yield chunk
                self.handle.cancel()
        else:
            for chunk in chunks:
                self.handle = loop.call_later(self.timeout, self._expire, task)
                yield chunk
                self.handle.cancel()

    def _expire(self, task: asyncio.Task[Any] | None) -> None:
        self.expired = True
        transport = getattr(self.writer, "transport", None)
        if transport is not None:
            transport.abort()  # not close(): a graceful close would wait for the unsent bytes forever
        elif task is not None:
            task.cancel()

    def stop(self) -> None:
        if self.handle is not None:
            self.handle.cancel()


class _Watched(aiohttp.payload.AsyncIterablePayload):
    """aiohttp's payload of an async iterable, telling the watchdog which connection it writes to."""

    def __init__(self, value: AsyncIterator[bytes], *, upload: _Upload) -> None:
        super().__init__(value)
        self._upload = upload

    async def write(self, writer: Any) -> None:
        self._upload.writer = writer
        await super().write(writer)

    async def write_with_length(self, writer: Any, content_length: int | None) -> None:
        self._upload.writer = writer
        await super().write_with_length(writer, content_length)


def _slices(content: bytes) -> Iterable[bytes]:
    view = memoryview(content)
    return (bytes(view[i : i + _WATCHED_BODY]) for i in range(0, len(content), _WATCHED_BODY))


class _Body(Body):
    """An open aiohttp response's body."""

    __slots__ = ("_raw", "_upload")

    def __init__(self, raw: aiohttp.ClientResponse, upload: _Upload | None) -> None:
        self._raw = raw
        self._upload = upload

    async def achunks(self) -> AsyncIterator[bytes]:
        # One HTTP chunk at a time (as httpx2 reads them), not whatever happens to be buffered: a reader of a
        # stream then sees the same pieces with either backend.
        content = self._raw.content
        while True:
            chunk, end_of_http_chunk = await content.readchunk()
            if chunk:
                yield chunk
            elif not end_of_http_chunk:
                return  # the end of the body

    def close(self, complete: bool) -> None:
        if self._upload is not None:
            self._upload.stop()
        if complete:
            self._raw.release()  # the connection goes back to the pool
        else:
            self._raw.close()  # a body not read to its end: the connection cannot be reused

    def kind_of(self, exc: BaseException) -> str | None:
        return kind_of(exc)


class AiohttpBackend:
    """Sends with one ``aiohttp.ClientSession`` (created on, and bound to, the running event loop)."""

    name = "aiohttp"

    def __init__(self, limits: Any, verify: Any) -> None:
        self._slots = _Slots(limits.max_connections)
        connector = aiohttp.TCPConnector(
            limit=0,  # the slots above enforce max_connections, with the pool timeout
            keepalive_timeout=limits.keepalive_expiry,
            ssl=_ssl(verify),
            timeout_ceil_threshold=_NO_CEILING,
        )
        self.client = aiohttp.ClientSession(
            connector=connector,
            cookie_jar=aiohttp.DummyCookieJar(),
            skip_auto_headers=("Content-Type",),  # as httpx2: no Content-Type unless the request has one
            trust_env=False,  # proxies are looked up per origin below, ~/.netrc never read
        )
        # One attempt is one request: aiohttp would silently resend an idempotent request once when a kept-alive
        # connection turns out dropped; the pipeline decides retries (and counts them). No public switch exists.
        self.client._retry_connection = False
        self._by_timeouts: dict[tuple[float, float], dict[str, Any]] = {}
        self._last: tuple[Any, dict[str, Any]] = (None, {})
        self._proxies: dict[Any, tuple[Any, Any]] = {}

    def _options(self, timeouts: Any) -> dict[str, Any]:
        """The request options for the attempt's timeouts (built once per distinct set)."""
        if timeouts is self._last[0]:  # a transport's own timeouts: the same object on every call
            return self._last[1]
        key = (timeouts["connect"], timeouts["read"])
        options = self._by_timeouts.get(key)
        if options is None:
            if len(self._by_timeouts) > 64:  # deadline-capped timeouts are one-offs: keep the cache small
                self._by_timeouts.clear()
            timeout = aiohttp.ClientTimeout(
                total=None, connect=key[0], sock_connect=key[0], sock_read=key[1], ceil_threshold=_NO_CEILING
            )
            options = self._by_timeouts[key] = {"timeout": timeout, "allow_redirects": False}
        self._last = (timeouts, options)
        return options

    def _proxy(self, target: Any, url: yarl.URL) -> tuple[Any, Any]:
        """The proxy from the environment for this URL's origin (looked up once per URL the pipeline prepared)."""
        key = target if target is not None else url
        proxy = self._proxies.get(key)
        if proxy is None:
            from aiohttp.helpers import get_env_proxy_for_url

            try:
                proxy = get_env_proxy_for_url(url)
            except LookupError:
                proxy = (None, None)
            if len(self._proxies) > 1024:
                self._proxies.clear()
            self._proxies[key] = proxy
        return proxy

    async def send(self, request: Request, stream: bool) -> Response | Failed | Exception:
        """Send; the response, a :class:`Failed`, or another exception to raise (never raises one itself)."""
        slots = self._slots
        if slots.free > 0:
            slots.free -= 1
        else:
            try:
                await slots.wait(request.timeouts["pool"])
            except PoolTimeout as exc:
                return Failed(exc, "pool_timeout")
        handed_over = False
        upload: _Upload | None = None
        try:
            target = request.target
            url = target.native if target is not None else None
            if url is None:
                url = yarl.URL(request.url, encoded=True)
                if target is not None:
                    target.native = url
            headers = request.headers
            data: Any = request.content
            if data is not None and (not isinstance(data, bytes) or len(data) >= _WATCHED_BODY):
                if isinstance(data, bytes):
                    headers = {**headers, "Content-Length": str(len(data))}
                    data = _slices(data)
                upload = _Upload(data, request.timeouts["write"])
                data = upload.payload()
            proxy, proxy_auth = self._proxy(target, url)
            options = self._options(request.timeouts)
            if proxy is not None:
                options = {**options, "proxy": proxy, "proxy_auth": proxy_auth}
            try:
                raw = await self.client.request(request.method, url, headers=headers, data=data, **options)
            except Exception as exc:
                return _failed(exc, upload)
            headers_in = Headers(multidict=raw.headers)
            status = raw.status
            if stream and status < 400:
                handed_over = True
                return Response(status, headers_in, request, body=_Body(raw, upload), on_close=slots.give)
            try:
                content = await raw.read()
            except Exception as exc:
                raw.close()
                return _failed(exc, upload)
            raw.release()
            return Response(status, headers_in, request, content=content)
        finally:
            if not handed_over:
                if upload is not None:
                    upload.stop()
                slots.give()

    async def aclose(self) -> None:
        """Close the session and its connections."""
        await self.client.close()

    def abandon(self) -> None:
        """Drop the session of an event loop that is gone. Nothing can be closed without its loop: the session
        and its connector are marked closed (so they do not try, and fail, when collected), and their
        connections die with the loop, as httpx2's do."""
        connector = self.client.connector
        self.client.detach()
        if connector is not None:
            connector._closed = True


def _failed(exc: Exception, upload: _Upload | None) -> Failed | Exception:
    if upload is not None and upload.expired:
        timeout = WriteTimeout(f"a chunk of the body was not sent within {upload.timeout}s")
        timeout.__cause__ = exc
        return Failed(timeout, "write_timeout")
    kind = kind_of(exc)
    return Failed(exc, kind) if kind is not None else exc


def _ssl(verify: Any) -> Any:
    """aiohttp's ``ssl`` argument for httpx2's ``verify``: the same context httpx2 would build."""
    if verify is False:
        return False
    import httpx2

    return httpx2.create_ssl_context(verify=verify, trust_env=True)
