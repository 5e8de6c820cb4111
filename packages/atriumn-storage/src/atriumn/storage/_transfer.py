"""Streaming transfers to and from pre-signed URLs, reusable by any package (ingest uploads too).

- :func:`upload_to_url` / :func:`upload_to_url_async` stream a path, bytes, a binary file, an iterator or a
  zero-argument factory of chunks to a URL, never holding more than one chunk in memory. Sources that
  cannot be re-read (iterators, pipes) are spooled to an anonymous temporary file first, so every upload
  has a known size (S3 refuses chunked PUTs), a SHA-256 checksum sent up front as ``x-amz-checksum-sha256``
  (the target verifies the bytes), and retries that resend from the first byte.
- Downloads (:func:`download_from_url` and its async twin) are in :mod:`._download`, built on the
  transports, errors and constants here.

Requests go through a transport that carries no Atriumn credentials: :func:`transfer_transport` /
:func:`async_transfer_transport` build one (its base URL is a reserved ``.invalid`` host, so no pre-signed
host is ever "its own origin": no credentials, no ``traceparent``, no request id go to a third party).
The operations are also marked ``authenticated=False``, so even a credentialed transport would not send
credentials with them. Pre-signed URLs are redacted from logs, spans and errors by core.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import os
import re
import tempfile
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import IO, Any, Union, cast

from atriumn.core import (
    APIError,
    AsyncTransport,
    AtriumnError,
    AuthenticationError,
    BadRequestError,
    ConfigurationError,
    DecodeError,
    NotFoundError,
    Operation,
    PermissionDeniedError,
    Response,
    ServerError,
    Timeouts,
    Transport,
    ValidationError,
    redact_body,
    redact_headers,
    redact_url,
)

from ._models import UploadResult

__all__ = [
    "CHUNK_SIZE",
    "ChecksumMismatchError",
    "ProgressCallback",
    "Source",
    "async_transfer_transport",
    "transfer_transport",
    "upload_to_url",
    "upload_to_url_async",
]

#: Bytes read and sent per chunk (also the most a transfer holds in memory at once, per transfer).
CHUNK_SIZE = 1024 * 1024

#: ``progress(done_bytes, total_bytes)``; total is None when the size is unknown.
ProgressCallback = Callable[[int, int | None], None]

#: What can be uploaded: a path, bytes, a binary file object, an iterable of byte chunks, or a zero-argument
#: factory returning such an iterable (called once per attempt; give ``size=`` to skip spooling).
Source = Union[
    str, "os.PathLike[str]", bytes, bytearray, memoryview, IO[bytes], Iterable[bytes], Callable[[], Iterable[bytes]]
]

#: The transfer transports' base URL: a reserved name, so no pre-signed URL is ever "their own origin".
TRANSFER_BASE_URL = "https://presigned.invalid"
_TRANSFER_DEADLINE = 24 * 3600.0
_TRANSFER_TIMEOUTS = Timeouts(connect=10.0, read=120.0, write=120.0, pool=60.0)
CHECKSUM_HEADER = "x-amz-checksum-sha256"


class ChecksumMismatchError(DecodeError):
    """The bytes transferred do not match the expected SHA-256 checksum (or size)."""


def transfer_transport(**options: Any) -> Transport:
    """A pooled :class:`~atriumn.core.Transport` for pre-signed URLs: never credentials, long deadline.

    Options are those of :class:`~atriumn.core.Transport` (``max_retries``, ``limits``, ``timeouts``,
    ``http_transport``, ...), except ``credentials`` and ``base_url``. The default deadline is 24 h per
    transfer, with 120 s read/write timeouts per chunk.
    """
    return Transport(**_transfer_options(options))


def async_transfer_transport(**options: Any) -> AsyncTransport:
    """The async twin of :func:`transfer_transport`."""
    return AsyncTransport(**_transfer_options(options))


def _transfer_options(options: dict[str, Any]) -> dict[str, Any]:
    if options.get("credentials") is not None:
        raise ConfigurationError("credentials: a transfer transport never carries credentials")
    if "base_url" in options:
        raise ConfigurationError("base_url: a transfer transport has no base URL (it only sends to absolute URLs)")
    options.pop("credentials", None)
    options.setdefault("deadline", _TRANSFER_DEADLINE)
    options.setdefault("timeouts", _TRANSFER_TIMEOUTS)
    return {"base_url": TRANSFER_BASE_URL, **options}


# --- errors from object stores ---------------------------------------------------------------------

_XML_CODE = re.compile(rb"<Code>([^<]{1,200})</Code>")
_XML_MESSAGE = re.compile(rb"<Message>([^<]{0,500})</Message>")
_BY_STATUS: dict[int, type[APIError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
}


def presigned_error(response: Response) -> AtriumnError | None:
    """An :class:`~atriumn.core.APIError` for an object store's XML error (S3 and compatibles).

    An expired pre-signed URL says so plainly, with what to do. Other bodies are left to core.
    """
    body = response.content
    code_match = _XML_CODE.search(body)
    message_match = _XML_MESSAGE.search(body)
    text = body.decode("utf-8", "replace").lower()
    expired = "expired" in text
    if code_match is None and not expired:
        return None
    code = code_match.group(1).decode("utf-8", "replace") if code_match else ""
    description = message_match.group(1).decode("utf-8", "replace") if message_match else ""
    if code_match is None:  # an Atriumn-style JSON error ({"error", "error_description"}) saying "expired"
        with contextlib.suppress(ValueError, AttributeError):
            doc = json.loads(body)
            code = str(doc.get("error") or "")
            description = str(doc.get("error_description") or doc.get("message") or "")
        code = code or "expired"
        if "expired" in description.lower():
            description = ""  # said again, with what to do, just below
    if expired:
        description = (
            f"{description + ': ' if description else ''}the pre-signed URL has expired; "
            "generate a new one (generate_upload_url / generate_download_url) and try again"
        )
    status = response.status_code
    cls = ServerError if status >= 500 else _BY_STATUS.get(status, APIError)
    request = response.request
    return cls(
        status_code=status,
        code=code,
        description=description,
        request_id=response.headers.get("x-amz-request-id") or response.headers.get("x-request-id"),
        body=redact_body(body, response.headers.get("content-type", "")),
        method=request.method,
        url=redact_url(str(request.url)),
        headers=redact_headers(response.headers.multi_items()),
    )


# --- sources -----------------------------------------------------------------------------------------


class _Payload:
    """A re-readable body of known size: ``chunks()`` starts again from the first byte on each call."""

    def __init__(self, size: int, chunks: Callable[[], Iterator[bytes]], sha256: str | None = None) -> None:
        self.size = size
        self.chunks = chunks
        self.sha256 = sha256
        self._cleanup: Callable[[], None] | None = None

    def digest(self) -> str:
        """The SHA-256 (hex), reading the source once if it is not known yet."""
        if self.sha256 is None:
            h = hashlib.sha256()
            for chunk in self.chunks():
                h.update(chunk)
            self.sha256 = h.hexdigest()
        return self.sha256

    def close(self) -> None:
        if self._cleanup is not None:
            self._cleanup()
            self._cleanup = None


def _file_chunks(path: Path) -> Callable[[], Iterator[bytes]]:
    def chunks() -> Iterator[bytes]:
        with path.open("rb") as f:
            while chunk := f.read(CHUNK_SIZE):
                yield chunk

    return chunks


def _seekable_chunks(f: IO[bytes], start: int, size: int) -> Callable[[], Iterator[bytes]]:
    def chunks() -> Iterator[bytes]:
        f.seek(start)
        left = size
        while left > 0:
            chunk = f.read(min(CHUNK_SIZE, left))
            if not chunk:
                raise ValidationError("source: the file got shorter while it was being uploaded")
            left -= len(chunk)
            yield chunk

    return chunks


def _spool(chunks: Iterable[bytes]) -> _Payload:
    """Copy a one-shot source to an anonymous temporary file (on disk, not in memory), hashing it."""
    spool = tempfile.TemporaryFile()  # noqa: SIM115 - closed by the payload's cleanup
    h = hashlib.sha256()
    size = 0
    try:
        for chunk in chunks:
            if not isinstance(chunk, (bytes, bytearray, memoryview)):
                raise ValidationError(f"source: chunks must be bytes, got {type(chunk).__name__}")
            spool.write(chunk)
            h.update(chunk)
            size += len(chunk)
    except BaseException:
        spool.close()
        raise
    payload = _Payload(size, _seekable_chunks(spool, 0, size), h.hexdigest())
    payload._cleanup = spool.close
    return payload


def prepare_source(source: Source, *, size: int | None = None) -> _Payload:
    """A re-readable payload for any :data:`Source` (see the module docstring)."""
    if size is not None and (isinstance(size, bool) or not isinstance(size, int) or size < 0):
        raise ValidationError(f"size: expected a non-negative int, got {size!r}")
    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        if not path.is_file():
            raise ValidationError(f"source: {str(path)!r} is not a file")
        return _Payload(path.stat().st_size, _file_chunks(path))
    if isinstance(source, (bytes, bytearray, memoryview)):
        view = memoryview(source).cast("B")
        data_size = len(view)
        digest = hashlib.sha256(view).hexdigest()

        def mem_chunks() -> Iterator[bytes]:
            for i in range(0, data_size, CHUNK_SIZE):
                yield bytes(view[i : i + CHUNK_SIZE])

        return _Payload(data_size, mem_chunks, digest)
    read = getattr(source, "read", None)
    if callable(read):
        f = cast("IO[bytes]", source)
        seekable = getattr(f, "seekable", None)
        if callable(seekable) and seekable():
            start = f.tell()
            end = f.seek(0, os.SEEK_END)
            f.seek(start)
            return _Payload(end - start, _seekable_chunks(f, start, end - start))
        return _spool(iter(lambda: f.read(CHUNK_SIZE), b""))
    if callable(source):
        factory = source
        if size is None:
            return _spool(factory())

        def factory_chunks() -> Iterator[bytes]:
            sent = 0
            for chunk in factory():
                sent += len(chunk)
                if sent > size:
                    raise ValidationError(f"source: the factory produced more than size={size} bytes")
                yield chunk if type(chunk) is bytes else bytes(chunk)
            if sent != size:
                raise ValidationError(f"source: the factory produced {sent} bytes, not size={size}")

        return _Payload(size, factory_chunks)
    if isinstance(source, Iterable):
        return _spool(source)
    raise ValidationError(
        f"source: expected a path, bytes, a binary file, or an iterable of bytes; got {type(source).__name__}"
    )


# --- upload ------------------------------------------------------------------------------------------


class _Upload:
    """One upload, sans-IO: the operation to send (per attempt, a fresh body) and how to read the answer."""

    def __init__(
        self,
        url: str,
        payload: _Payload,
        *,
        method: str,
        headers: Mapping[str, str] | None,
        content_type: str | None,
        checksum: bool,
        progress: ProgressCallback | None,
    ) -> None:
        if not isinstance(url, str) or "://" not in url:
            raise ValidationError("url: expected an absolute http(s) URL")
        self.payload = payload
        self.progress = progress
        self.checksum = checksum
        self._hash: Any = None
        request_headers = {"Content-Length": str(payload.size)}
        if content_type:
            request_headers["Content-Type"] = content_type
        if checksum:
            request_headers[CHECKSUM_HEADER] = base64.b64encode(bytes.fromhex(payload.digest())).decode()
        request_headers.update(headers or {})
        self.operation: Operation[Any] = Operation(
            method=method.upper(),
            path=url,
            headers=request_headers,
            content=self._sync_body if payload.size else b"",
            authenticated=False,
            idempotent=True,  # a PUT to a pre-signed URL replaces the object: safe to repeat
            stream=True,
            span_name="storage.upload",
            error_hook=presigned_error,
        )
        self.async_operation = self.operation.evolve(content=self._async_body if payload.size else b"")

    def _chunks(self) -> Iterator[bytes]:
        # Called once per attempt: a retry restarts from byte 0 and the progress from 0.
        total = self.payload.size
        h = None if self.payload.sha256 is not None else hashlib.sha256()
        self._hash = h
        done = 0
        if self.progress is not None:
            self.progress(0, total)
        if h is None:
            for chunk in self.payload.chunks():
                done += len(chunk)
                yield chunk
                if self.progress is not None:
                    self.progress(done, total)
            return
        # Hash chunk N on a helper thread while chunk N is on the wire: hashlib releases the GIL for large
        # buffers, so the SHA-256 of the returned checksum costs no wall time on a multi-core machine.
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="atriumn-sha256") as hasher:
            pending = None
            for chunk in self.payload.chunks():
                if pending is not None:
                    pending.result()
                pending = hasher.submit(h.update, chunk)
                done += len(chunk)
                yield chunk
                if self.progress is not None:
                    self.progress(done, total)
            if pending is not None:
                pending.result()

    def _sync_body(self) -> Iterator[bytes]:
        return self._chunks()

    def _async_body(self) -> AsyncIterator[bytes]:
        chunks = self._chunks()

        async def body() -> AsyncIterator[bytes]:
            for chunk in chunks:
                yield chunk

        return body()

    def result(self, response: Response) -> UploadResult:
        if self.payload.size == 0 and self.progress is not None:
            self.progress(0, 0)
        digest = self.payload.sha256 or (self._hash.hexdigest() if self._hash is not None else self.payload.digest())
        return UploadResult(
            size=self.payload.size,
            sha256=digest,
            checksum_sent=self.checksum,
            etag=response.headers.get("etag"),
        )


def upload_to_url(
    url: str,
    source: Source,
    *,
    transport: Transport | None = None,
    method: str = "PUT",
    headers: Mapping[str, str] | None = None,
    content_type: str | None = None,
    checksum: bool = True,
    size: int | None = None,
    progress: ProgressCallback | None = None,
) -> UploadResult:
    """Stream ``source`` to a pre-signed ``url``.

    Args:
        url: the pre-signed URL.
        source: a path, bytes, a binary file (read from its current position), an iterable of byte chunks,
            or a zero-argument factory of chunks (called per attempt; with ``size=`` it is not spooled).
        transport: the transfer transport to send through (share one for pooling; see
            :func:`transfer_transport`); default: a new one, closed afterwards.
        method: the URL's HTTP method (``PUT``).
        headers: extra headers the URL was signed with.
        content_type: the ``Content-Type`` (must match what the URL was signed for, if it was).
        checksum: send ``x-amz-checksum-sha256`` so the target verifies the bytes (reads the source once
            more to compute it first). Turn off for targets that refuse unsigned checksum headers.
        size: the byte count of a factory source.
        progress: ``progress(done_bytes, total_bytes)`` after each chunk.

    Raises:
        ValueError: for a bad source or URL, before any request.
        atriumn.core.APIError: the target refused (an expired URL says so); TransportError: network failures
            after the transport's retries (each retry resends from the first byte).
    """
    payload = source if isinstance(source, _Payload) else prepare_source(source, size=size)
    try:
        upload = _Upload(
            url,
            payload,
            method=method,
            headers=headers,
            content_type=content_type,
            checksum=checksum,
            progress=progress,
        )
        own = transport is None
        t = transfer_transport() if transport is None else transport
        try:
            with t.stream(upload.operation) as response:
                return upload.result(response)
        finally:
            if own:
                t.close()
    finally:
        payload.close()


async def upload_to_url_async(
    url: str,
    source: Source,
    *,
    transport: AsyncTransport | None = None,
    method: str = "PUT",
    headers: Mapping[str, str] | None = None,
    content_type: str | None = None,
    checksum: bool = True,
    size: int | None = None,
    progress: ProgressCallback | None = None,
) -> UploadResult:
    """The async twin of :func:`upload_to_url` (same arguments; ``transport`` is an ``AsyncTransport``)."""
    payload = source if isinstance(source, _Payload) else prepare_source(source, size=size)
    try:
        upload = _Upload(
            url,
            payload,
            method=method,
            headers=headers,
            content_type=content_type,
            checksum=checksum,
            progress=progress,
        )
        own = transport is None
        t = async_transfer_transport() if transport is None else transport
        try:
            async with t.stream(upload.async_operation) as response:
                return upload.result(response)
        finally:
            if own:
                await t.aclose()
    finally:
        payload.close()


# --- download ----------------------------------------------------------------------------------------
