"""The httpx2 backend: the default for both transports (HTTP/2, proxies, ``httpx2.MockTransport`` in tests).

It turns a plain :class:`~._http.Request` into an ``httpx2.Request``, sends it with the transport's
``httpx2.Client`` / ``AsyncClient`` (redirects off: credentials must never follow one), and answers with a
:class:`~._http.Response` — its body read, or left open for a streamed operation. Transport-level exceptions
come back as :class:`~._http.Failed` with their kind (see :func:`kind_of`); the pipeline names them.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx2

from ._http import Body, Failed, Headers, Request, Response

__all__ = ["AsyncHttpxBackend", "HttpxBackend", "kind_of"]


def kind_of(exc: BaseException) -> str | None:
    """What an httpx2 (or socket) exception was (see ``_http.KINDS``); None when it is not a transport failure."""
    if isinstance(exc, httpx2.TimeoutException):
        if isinstance(exc, httpx2.ConnectTimeout):
            return "connect_timeout"
        if isinstance(exc, httpx2.PoolTimeout):
            return "pool_timeout"
        if isinstance(exc, httpx2.WriteTimeout):
            return "write_timeout"
        return "read_timeout"
    if isinstance(exc, httpx2.ConnectError):
        return "connect"
    if isinstance(exc, (httpx2.HTTPError, OSError)):
        return "network"
    return None


def _failed(exc: Exception) -> Failed | Exception:
    kind = kind_of(exc)
    return Failed(exc, kind) if kind is not None else exc


def to_httpx(request: Request) -> httpx2.Request:
    """The ``httpx2.Request`` for a plain request (the URL parsed once per distinct URL, by the pipeline)."""
    target = request.target
    url = target.parsed if target is not None else httpx2.URL(request.url)
    content = request.content
    extensions = {"timeout": request.timeouts}
    if isinstance(content, (httpx2.SyncByteStream, httpx2.AsyncByteStream)):  # an encoded multipart form
        # A request given its stream is not prepared by httpx2: the Host header is ours to add, first, as it would.
        headers = {"Host": url.netloc.decode("ascii"), **request.headers}
        return httpx2.Request(request.method, url, headers=headers, stream=content, extensions=extensions)
    return httpx2.Request(request.method, url, headers=request.headers, content=content, extensions=extensions)


class _Body(Body):
    """An open httpx2 response's body."""

    __slots__ = ("_raw",)

    def __init__(self, raw: httpx2.Response) -> None:
        self._raw = raw

    def chunks(self) -> Iterator[bytes]:
        return self._raw.iter_bytes()

    def achunks(self) -> AsyncIterator[bytes]:
        return self._raw.aiter_bytes()

    def close(self, complete: bool) -> None:
        self._raw.close()

    async def aclose(self, complete: bool) -> None:
        await self._raw.aclose()

    def kind_of(self, exc: BaseException) -> str | None:
        return kind_of(exc)


def _response(raw: httpx2.Response, request: Request, content: bytes | None) -> Response:
    headers = Headers(raw.headers.multi_items())
    if content is None:
        return Response(raw.status_code, headers, request, body=_Body(raw))
    return Response(raw.status_code, headers, request, content=content)


class HttpxBackend:
    """Sends with an ``httpx2.Client``."""

    name = "httpx2"

    def __init__(self, client: httpx2.Client) -> None:
        self.client = client

    def send(self, request: Request, stream: bool) -> Response | Failed | Exception:
        """Send; the response, a :class:`Failed`, or another exception to raise (never raises one itself)."""
        try:
            raw = self.client.send(to_httpx(request), stream=True)
        except Exception as exc:
            return _failed(exc)
        if stream and raw.status_code < 400:
            return _response(raw, request, None)
        try:
            content = raw.read()
        except Exception as exc:
            return _failed(exc)
        finally:
            raw.close()
        return _response(raw, request, content)

    def close(self) -> None:
        """Close the pool."""
        self.client.close()


class AsyncHttpxBackend:
    """Sends with an ``httpx2.AsyncClient``."""

    name = "httpx2"

    def __init__(self, client: httpx2.AsyncClient) -> None:
        self.client = client

    async def send(self, request: Request, stream: bool) -> Response | Failed | Exception:
        """See :meth:`HttpxBackend.send`."""
        try:
            raw = await self.client.send(to_httpx(request), stream=True)
        except Exception as exc:
            return _failed(exc)
        if stream and raw.status_code < 400:
            return _response(raw, request, None)
        try:
            content = await raw.aread()
        except Exception as exc:
            return _failed(exc)
        finally:
            await raw.aclose()
        return _response(raw, request, content)

    async def aclose(self) -> None:
        """Close the pool."""
        await self.client.aclose()

    def abandon(self) -> None:
        """Drop the pool of an event loop that is gone (its connections die with it)."""


def client_options(limits: Any, http2: bool, verify: Any) -> dict[str, Any]:
    """The ``httpx2.Client`` / ``AsyncClient`` options of a transport's pool."""
    # Redirects are never followed: credentials must not reach a redirect target.
    return {
        "limits": httpx2.Limits(
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
        ),
        "http2": http2,
        "verify": verify,
        "follow_redirects": False,
        "trust_env": True,
    }
