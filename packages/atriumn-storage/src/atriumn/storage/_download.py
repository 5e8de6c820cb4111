"""Streaming downloads from pre-signed URLs (the uploads and the transports are in :mod:`._transfer`).

:func:`download_from_url` / :func:`download_from_url_async` stream into a temporary file beside the
destination, check the size (and the checksum when one is known), and only then rename it into place: an
interrupted download never leaves a partial file at the destination. A connection lost mid-body restarts the
download from the beginning (``max_restarts`` times).
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import os
import tempfile
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import IO, Any

from atriumn.core import (
    AsyncTransport,
    NetworkError,
    Operation,
    Response,
    Transport,
    TransportError,
    ValidationError,
    redact_url,
)

from ._models import DownloadResult
from ._transfer import (
    CHECKSUM_HEADER,
    CHUNK_SIZE,
    ChecksumMismatchError,
    ProgressCallback,
    async_transfer_transport,
    presigned_error,
    transfer_transport,
)

__all__ = ["download_from_url", "download_from_url_async"]


class _Interrupted(Exception):
    """The body stopped early (connection lost or fewer bytes than announced): restart the download."""

    def __init__(self, message: str, cause: BaseException | None = None) -> None:
        super().__init__(message)
        self.cause = cause


_umask_lock = threading.Lock()
_umask_value: int | None = None


def _umask() -> int:
    global _umask_value
    if _umask_value is None:
        with _umask_lock:
            if _umask_value is None:
                current = os.umask(0o022)
                os.umask(current)
                _umask_value = current
    return _umask_value


class _Download:
    """One download attempt's bookkeeping: temporary file beside the destination, hashing, checks."""

    def __init__(
        self,
        url: str,
        destination: str | os.PathLike[str],
        *,
        method: str,
        headers: Mapping[str, str] | None,
        expected_size: int | None,
        expected_sha256: str | None,
        progress: ProgressCallback | None,
    ) -> None:
        if not isinstance(url, str) or "://" not in url:
            raise ValidationError("url: expected an absolute http(s) URL")
        self.destination = Path(destination)
        if self.destination.is_dir():
            raise ValidationError(f"destination: {str(self.destination)!r} is a directory; name the file")
        if not self.destination.parent.is_dir():
            raise ValidationError(f"destination: the directory {str(self.destination.parent)!r} does not exist")
        if expected_sha256 is not None:
            try:
                if len(bytes.fromhex(expected_sha256)) != 32:
                    raise ValueError
            except ValueError:
                raise ValidationError("expected_sha256: expected 64 hex digits") from None
        self.expected_size = expected_size
        self.expected_sha256 = expected_sha256.lower() if expected_sha256 else None
        self.progress = progress
        self.operation: Operation[Any] = Operation(
            method=method.upper(),
            path=url,
            headers=dict(headers or {}),
            authenticated=False,
            stream=True,
            span_name="storage.download",
            error_hook=presigned_error,
        )
        self.tmp: Path | None = None
        self.file: IO[bytes] | None = None

    def begin(self, response: Response) -> None:
        fd, name = tempfile.mkstemp(prefix=f".{self.destination.name}.", suffix=".part", dir=self.destination.parent)
        self.tmp = Path(name)
        self.file = os.fdopen(fd, "wb")
        self.hash = hashlib.sha256()
        self.done = 0
        length = response.headers.get("content-length")
        self.total = int(length) if length and length.isdigit() else self.expected_size
        self.announced = int(length) if length and length.isdigit() else None
        self.server_sha256: str | None = None
        header = response.headers.get(CHECKSUM_HEADER)
        if header and "-" not in header:  # "<b64>-<parts>" is a checksum of checksums: not comparable
            with contextlib.suppress(binascii.Error, ValueError):
                self.server_sha256 = base64.b64decode(header, validate=True).hex()
        if self.progress is not None:
            self.progress(0, self.total)

    def write(self, chunk: bytes) -> None:
        assert self.file is not None
        self.file.write(chunk)
        self.hash.update(chunk)
        self.done += len(chunk)
        if self.progress is not None:
            self.progress(self.done, self.total)

    def finish(self) -> DownloadResult:
        assert self.file is not None
        assert self.tmp is not None
        self.file.flush()
        os.fsync(self.file.fileno())
        self.file.close()
        self.file = None
        if self.announced is not None and self.done != self.announced:
            raise _Interrupted(f"the body ended after {self.done} of {self.announced} bytes")
        if self.expected_size is not None and self.done != self.expected_size:
            raise ChecksumMismatchError(f"downloaded {self.done} bytes, expected {self.expected_size}")
        digest = self.hash.hexdigest()
        verified = False
        for name, expected in (
            ("the server's checksum", self.server_sha256),
            ("expected_sha256", self.expected_sha256),
        ):
            if expected is not None:
                if digest != expected:
                    raise ChecksumMismatchError(f"SHA-256 mismatch against {name}: got {digest}, expected {expected}")
                verified = True
        os.chmod(self.tmp, 0o666 & ~_umask())
        os.replace(self.tmp, self.destination)
        self.tmp = None
        return DownloadResult(path=self.destination, size=self.done, sha256=digest, checksum_verified=verified)

    def discard(self) -> None:
        if self.file is not None:
            with contextlib.suppress(OSError):
                self.file.close()
            self.file = None
        if self.tmp is not None:
            with contextlib.suppress(OSError):
                self.tmp.unlink()
            self.tmp = None


def _network_error(download: _Download, exc: _Interrupted, attempts: int) -> NetworkError:
    error = NetworkError(
        f"download interrupted {attempts} time(s), giving up: {exc}",
        method=download.operation.method,
        url=redact_url(download.operation.path),
    )
    error.__cause__ = exc.cause
    return error


def download_from_url(
    url: str,
    destination: str | os.PathLike[str],
    *,
    transport: Transport | None = None,
    method: str = "GET",
    headers: Mapping[str, str] | None = None,
    expected_size: int | None = None,
    expected_sha256: str | None = None,
    max_restarts: int = 2,
    progress: ProgressCallback | None = None,
) -> DownloadResult:
    """Stream a pre-signed ``url`` into ``destination``, atomically.

    The bytes go to a temporary file beside ``destination``, which replaces it only once the size matches
    ``Content-Length`` (and ``expected_size``) and the SHA-256 matches the server's
    ``x-amz-checksum-sha256`` and ``expected_sha256`` when known. A connection lost mid-body restarts from
    the first byte, up to ``max_restarts`` times. On any failure no file is left behind.

    Raises:
        ValueError: bad arguments (before any request).
        ChecksumMismatchError: the bytes do not match the expected size or checksum.
        atriumn.core.APIError: the URL was refused (an expired URL says so); TransportError: network failures.
    """
    download = _Download(
        url,
        destination,
        method=method,
        headers=headers,
        expected_size=expected_size,
        expected_sha256=expected_sha256,
        progress=progress,
    )
    own = transport is None
    t = transfer_transport() if transport is None else transport
    try:
        for attempt in range(max_restarts + 1):
            try:
                with t.stream(download.operation) as response:
                    download.begin(response)
                    chunks = response.iter_bytes(CHUNK_SIZE)
                    while True:
                        try:
                            chunk = next(chunks)
                        except StopIteration:
                            break
                        except (TransportError, OSError) as exc:  # the body stopped early
                            raise _Interrupted(f"{type(exc).__name__}: {exc}", exc) from exc
                        download.write(chunk)
                return download.finish()
            except _Interrupted as exc:
                download.discard()
                if attempt == max_restarts:
                    raise _network_error(download, exc, attempt + 1) from None
            except BaseException:
                download.discard()
                raise
        raise AssertionError("unreachable")  # pragma: no cover
    finally:
        if own:
            t.close()


async def download_from_url_async(
    url: str,
    destination: str | os.PathLike[str],
    *,
    transport: AsyncTransport | None = None,
    method: str = "GET",
    headers: Mapping[str, str] | None = None,
    expected_size: int | None = None,
    expected_sha256: str | None = None,
    max_restarts: int = 2,
    progress: ProgressCallback | None = None,
) -> DownloadResult:
    """The async twin of :func:`download_from_url` (file writes are small, chunk-sized, synchronous calls)."""
    download = _Download(
        url,
        destination,
        method=method,
        headers=headers,
        expected_size=expected_size,
        expected_sha256=expected_sha256,
        progress=progress,
    )
    own = transport is None
    t = async_transfer_transport() if transport is None else transport
    try:
        for attempt in range(max_restarts + 1):
            try:
                async with t.stream(download.operation) as response:
                    download.begin(response)
                    chunks = response.aiter_bytes(CHUNK_SIZE)
                    while True:
                        try:
                            chunk = await chunks.__anext__()
                        except StopAsyncIteration:
                            break
                        except (TransportError, OSError) as exc:  # the body stopped early
                            raise _Interrupted(f"{type(exc).__name__}: {exc}", exc) from exc
                        download.write(chunk)
                return download.finish()
            except _Interrupted as exc:
                download.discard()
                if attempt == max_restarts:
                    raise _network_error(download, exc, attempt + 1) from None
            except BaseException:
                download.discard()
                raise
        raise AssertionError("unreachable")  # pragma: no cover
    finally:
        if own:
            await t.aclose()
