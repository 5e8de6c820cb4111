"""The backend-neutral request and response: what the pipeline hands a backend, and what it gets back.

The pipeline (:mod:`._pipeline`) builds a :class:`Request` per attempt — method, URL, headers, a body
(bytes, or chunks for a streamed upload) and the attempt's timeouts — and a backend (:mod:`._backend_httpx`,
:mod:`._backend_aiohttp`) sends it and answers with a :class:`Response`: status, :class:`Headers`, and the body,
read or still open. No backend object reaches the pipeline or the caller, so a transport behaves the same
whichever backend sends, and the hot path builds only these small objects.

A streamed :class:`Response` (``Transport.send(op)`` with ``stream=True``, or ``Transport.stream(op)``) is
read with :meth:`Response.iter_bytes` / :meth:`Response.aiter_bytes` (or :meth:`~Response.read` /
:meth:`~Response.aread`) and closed with :meth:`Response.close` / :meth:`Response.aclose`. An error while
reading its body is already an :class:`~atriumn.core.TransportError` (``NetworkError``, or
``RequestTimeoutError`` naming the phase and the wait), with the URL redacted, as the pipeline names its own.
"""

from __future__ import annotations

import codecs
import json as jsonlib
import threading
from collections.abc import AsyncIterable, AsyncIterator, Callable, Iterable, Iterator, Mapping
from typing import Any

from ._errors import TransportError

__all__ = ["Body", "Failed", "Headers", "Request", "RequestContent", "Response"]

#: A request body: bytes, or chunks (an iterable for the sync transport, an async iterable for the async one).
RequestContent = bytes | Iterable[bytes] | AsyncIterable[bytes]


class Request:
    """One attempt's request, as a backend receives it (and as :attr:`Response.request` shows it).

    Attributes:
        method: the HTTP method, upper case.
        url: the absolute URL as sent (secrets included: show :attr:`shown_url` instead).
        shown_url: the same URL with secret query values redacted (what logs, spans and errors show).
        headers: the request headers (a plain dict).
        content: the body: ``None``, bytes, or chunks.
        timeouts: the attempt's ``connect`` / ``read`` / ``write`` / ``pool`` timeouts in seconds.
    """

    __slots__ = ("content", "headers", "method", "shown_url", "target", "timeouts", "url")

    def __init__(
        self,
        method: str,
        url: str,
        *,
        headers: dict[str, str],
        content: RequestContent | None = None,
        timeouts: Mapping[str, float],
        shown_url: str | None = None,
        target: Any = None,
    ) -> None:
        self.method = method
        self.url = url
        self.headers = headers
        self.content = content
        self.timeouts = timeouts
        self.shown_url = url if shown_url is None else shown_url
        #: The parsed URL the pipeline prepared (a backend caches its own form of it there).
        self.target = target

    @property
    def extensions(self) -> dict[str, Any]:
        """``{"timeout": timeouts}`` (the shape httpx2's ``Request.extensions`` has, for code written for it)."""
        return {"timeout": self.timeouts}

    def __repr__(self) -> str:
        return f"<Request {self.method} {self.shown_url}>"


_LOADING = threading.Lock()


class Headers(Mapping[str, str]):
    """Response headers: a read-only, case-insensitive mapping.

    ``headers["X"]`` and :meth:`get` join a repeated field with ``", "`` (as HTTP allows); :meth:`get_list`
    gives its values one by one; :meth:`multi_items` every ``(name, value)`` pair in order, names in lower case.
    """

    __slots__ = ("_index", "_items", "_multidict", "_source")

    def __init__(self, items: Iterable[tuple[str, str]] = (), *, multidict: Any = None) -> None:
        """``items``: the ``(name, value)`` pairs as received; or ``multidict``: a case-insensitive multidict
        (aiohttp's), looked up directly."""
        # Read on first use: most headers of most responses are never looked at.
        self._source: Iterable[tuple[str, str]] | None = items if multidict is None else multidict.items()
        self._multidict = multidict
        self._items: list[tuple[str, str]] = []
        self._index: dict[str, str] = {}

    def _load(self) -> dict[str, str]:
        # Once, under a lock: a reader that sees ``_source`` cleared finds the index complete (headers are read
        # from any thread, e.g. a response's rate limits read on first access).
        with _LOADING:
            source = self._source
            if source is not None:
                items = [(k.lower(), v) for k, v in source]
                index = dict(items)
                if len(index) < len(items):  # a repeated field: its values joined, in order
                    index.clear()
                    for k, v in items:
                        index[k] = f"{index[k]}, {v}" if k in index else v
                self._items, self._index = items, index
                self._source = None
        return self._index

    def __getitem__(self, name: str) -> str:
        value = self.get(name, _MISSING)
        if value is _MISSING:
            raise KeyError(name)
        return str(value)

    def get(self, name: str, default: Any = None) -> Any:
        """The field's value (repeats joined with ``", "``), or ``default``."""
        multidict = self._multidict
        if multidict is not None:
            values = multidict.getall(name, None)
            if values is None:
                return default
            return values[0] if len(values) == 1 else ", ".join(values)
        index = self._index if self._source is None else self._load()
        return index.get(name.lower(), default)

    def __contains__(self, name: object) -> bool:
        if not isinstance(name, str):
            return False
        if self._multidict is not None:
            return name in self._multidict
        index = self._index if self._source is None else self._load()
        return name.lower() in index

    def __iter__(self) -> Iterator[str]:
        return iter(self._index if self._source is None else self._load())

    def __len__(self) -> int:
        return len(self._index if self._source is None else self._load())

    def get_list(self, name: str) -> list[str]:
        """Every value of a field, in order."""
        if self._source is not None:
            self._load()
        key = name.lower()
        return [v for k, v in self._items if k == key]

    def multi_items(self) -> list[tuple[str, str]]:
        """Every ``(name, value)`` pair in order (names in lower case)."""
        if self._source is not None:
            self._load()
        return list(self._items)

    def __repr__(self) -> str:
        from ._redact import redact_headers

        return f"Headers({redact_headers(self.multi_items())!r})"


_MISSING: Any = object()


class Body:
    """A backend's open response body (private protocol): chunks, closing, and what its errors mean.

    A backend subclasses it with the sync methods, the async ones, or both.
    """

    __slots__ = ()

    def chunks(self) -> Iterator[bytes]:
        """The body's chunks as they arrive (decompressed)."""
        raise RuntimeError("this response belongs to an async transport: use aiter_bytes() / aread()")

    def achunks(self) -> AsyncIterator[bytes]:
        """The async twin of :meth:`chunks`."""
        raise RuntimeError("this response belongs to a sync transport: use iter_bytes() / read()")

    def close(self, complete: bool) -> None:
        """Release the connection (``complete``: the body was read to its end, so it may be reused)."""

    async def aclose(self, complete: bool) -> None:
        """The async twin of :meth:`close`."""
        self.close(complete)

    def kind_of(self, exc: BaseException) -> str | None:
        """The failure kind of an exception raised while reading (see :data:`KINDS`), None if not a transport one."""
        return None


#: What a transport-level failure was, whichever backend raised it.
KINDS = frozenset({"connect_timeout", "pool_timeout", "write_timeout", "read_timeout", "connect", "network"})


class Failed:
    """A send that failed at the transport level: the backend's exception and its kind (one of :data:`KINDS`)."""

    __slots__ = ("exc", "kind")

    def __init__(self, exc: BaseException, kind: str) -> None:
        self.exc = exc
        self.kind = kind


class Response:
    """A response, whichever backend received it.

    Attributes:
        status_code: the HTTP status.
        headers: the :class:`Headers`.
        request: the :class:`Request` that was sent (``request.method``, ``request.url``, ``request.timeouts``).

    A non-streamed response arrives with its body read (:attr:`content`). A streamed one is open: read it
    with :meth:`iter_bytes` / :meth:`aiter_bytes` or :meth:`read` / :meth:`aread`, and close it with
    :meth:`close` / :meth:`aclose` (``Transport.stream`` does). Reading it to the end releases its connection.
    """

    __slots__ = ("_body", "_closed", "_content", "_on_close", "_scrub", "headers", "request", "status_code")

    def __init__(
        self,
        status_code: int,
        headers: Headers,
        request: Request,
        *,
        content: bytes | None = None,
        body: Body | None = None,
        on_close: Callable[[], None] | None = None,
    ) -> None:
        self.status_code = status_code
        self.headers = headers
        self.request = request
        self._content = content
        self._body = body
        self._closed = body is None
        self._on_close = on_close
        self._scrub: Callable[[BaseException], None] | None = None

    # --- the body, read -----------------------------------------------------------------------------------

    @property
    def content(self) -> bytes:
        """The whole body (raises ``RuntimeError`` for a streamed response not read yet)."""
        if self._content is None:
            raise RuntimeError("the body of a streamed response has not been read: call read() or aread() first")
        return self._content

    @property
    def text(self) -> str:
        """The body decoded with the charset the ``Content-Type`` names (UTF-8 by default)."""
        return self.content.decode(_charset(self.headers.get("content-type", "")), "replace")

    def json(self) -> Any:
        """The body parsed as JSON."""
        return jsonlib.loads(self.content)

    @property
    def url(self) -> str:
        """The request's URL."""
        return self.request.url

    @property
    def is_closed(self) -> bool:
        """Whether the connection was released (always True for a response read by the pipeline)."""
        return self._closed

    # --- the body, streamed -------------------------------------------------------------------------------

    def read(self) -> bytes:
        """Read the rest of the body, close the response, and return the whole body."""
        if self._content is None:
            self._content = b"".join(self.iter_bytes())
        return self._content

    async def aread(self) -> bytes:
        """The async twin of :meth:`read`."""
        if self._content is None:
            self._content = b"".join([chunk async for chunk in self.aiter_bytes()])
        return self._content

    def iter_bytes(self, chunk_size: int | None = None) -> Iterator[bytes]:
        """The body's chunks (of ``chunk_size`` bytes, the last one shorter, when given); closes the response at
        the end. Errors are :class:`~atriumn.core.TransportError` s."""
        if self._content is not None:
            yield from _split(self._content, chunk_size)
            return
        body = self._body
        if body is None or self._closed:
            raise RuntimeError("the response is closed: its body can no longer be read")
        complete = False
        try:
            chunks = body.chunks()
            if chunk_size:
                chunks = _rechunk(chunks, chunk_size)
            try:
                yield from chunks
            except Exception as exc:
                raise self._error(body, exc) from exc
            complete = True
        finally:
            self._release(complete)

    async def aiter_bytes(self, chunk_size: int | None = None) -> AsyncIterator[bytes]:
        """The async twin of :meth:`iter_bytes`."""
        if self._content is not None:
            for piece in _split(self._content, chunk_size):
                yield piece
            return
        body = self._body
        if body is None or self._closed:
            raise RuntimeError("the response is closed: its body can no longer be read")
        complete = False
        try:
            chunks = body.achunks()
            if chunk_size:
                chunks = _arechunk(chunks, chunk_size)
            try:
                async for chunk in chunks:
                    yield chunk
            except Exception as exc:
                raise self._error(body, exc) from exc
            complete = True
        finally:
            await self._arelease(complete)

    def iter_lines(self) -> Iterator[str]:
        """The body's lines (UTF-8; ``\\n``, ``\\r\\n`` or ``\\r`` ends one), without their line endings."""
        decoder = _LineDecoder()
        for chunk in self.iter_bytes():
            yield from decoder.feed(chunk)
        yield from decoder.flush()

    async def aiter_lines(self) -> AsyncIterator[str]:
        """The async twin of :meth:`iter_lines`."""
        decoder = _LineDecoder()
        async for chunk in self.aiter_bytes():
            for line in decoder.feed(chunk):
                yield line
        for line in decoder.flush():
            yield line

    def close(self) -> None:
        """Release the connection (a body not read to its end closes it). Idempotent."""
        self._release(False)

    async def aclose(self) -> None:
        """The async twin of :meth:`close`."""
        await self._arelease(False)

    def _release(self, complete: bool) -> None:
        if not self._closed:
            self._closed = True
            try:
                if self._body is not None:
                    self._body.close(complete)
            finally:
                if self._on_close is not None:
                    self._on_close()

    async def _arelease(self, complete: bool) -> None:
        if not self._closed:
            self._closed = True
            try:
                if self._body is not None:
                    await self._body.aclose(complete)
            finally:
                if self._on_close is not None:
                    self._on_close()

    def _error(self, body: Body, exc: Exception) -> Exception:
        """An exception from the body as our error (naming the phase, the wait and the redacted URL)."""
        kind = body.kind_of(exc)
        if kind is None:
            return exc
        from ._outcome import classify

        request = self.request
        error: TransportError = classify(exc, request.method, request.shown_url, request.timeouts, kind=kind)
        if self._scrub is not None:
            self._scrub(error)
        return error

    def __repr__(self) -> str:
        return f"<Response [{self.status_code}]>"


def _charset(content_type: str) -> str:
    for part in content_type.split(";")[1:]:
        key, _, value = part.partition("=")
        if key.strip().lower() == "charset" and value.strip():
            charset = value.strip().strip('"')
            try:
                "".encode(charset)
            except LookupError:
                return "utf-8"
            return charset
    return "utf-8"


def _split(content: bytes, chunk_size: int | None) -> Iterator[bytes]:
    if not content:
        return
    if not chunk_size:
        yield content
        return
    for start in range(0, len(content), chunk_size):
        yield content[start : start + chunk_size]


def _rechunk(chunks: Iterator[bytes], size: int) -> Iterator[bytes]:
    buffer = bytearray()
    for chunk in chunks:
        buffer += chunk
        while len(buffer) >= size:
            yield bytes(buffer[:size])
            del buffer[:size]
    if buffer:
        yield bytes(buffer)


async def _arechunk(chunks: AsyncIterator[bytes], size: int) -> AsyncIterator[bytes]:
    buffer = bytearray()
    async for chunk in chunks:
        buffer += chunk
        while len(buffer) >= size:
            yield bytes(buffer[:size])
            del buffer[:size]
    if buffer:
        yield bytes(buffer)


class _LineDecoder:
    """Splits UTF-8 chunks into lines; a character or a CR LF split between two chunks is kept whole."""

    def __init__(self) -> None:
        self._decoder = codecs.getincrementaldecoder("utf-8")("replace")
        self._pending = ""

    def feed(self, chunk: bytes) -> list[str]:
        text = self._pending + self._decoder.decode(chunk)
        if not text:
            return []
        hold_cr = text.endswith("\r")  # its LF may start the next chunk
        if hold_cr:
            text = text[:-1]
        lines = text.splitlines(keepends=True)
        self._pending = lines.pop() if lines and not lines[-1].endswith(("\n", "\r")) else ""
        if hold_cr:
            self._pending += "\r"
        return [line.rstrip("\r\n") for line in lines]

    def flush(self) -> list[str]:
        text = self._pending + self._decoder.decode(b"", final=True)
        self._pending = ""
        return [line.rstrip("\r\n") for line in text.splitlines()] if text else []
