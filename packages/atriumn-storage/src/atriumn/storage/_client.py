"""``StorageClient`` and ``AsyncStorageClient``: pre-signed URLs, and streaming upload / download on top.

The endpoint methods build an operation in :mod:`._operations` and send it through the API transport.
``upload`` / ``download`` add the transfer itself, done by :mod:`._transfer` over a *separate* pooled
transport that never carries credentials (pre-signed URLs are capabilities on their own).
"""

from __future__ import annotations

import mimetypes
import os
from typing import TYPE_CHECKING, Any

import attrs

from atriumn.core import (
    AsyncServiceClient,
    AsyncTransport,
    ClientOptions,
    RequestOptions,
    ServiceClient,
    TokenProvider,
    Transport,
    ValidationError,
)

if TYPE_CHECKING:
    from typing_extensions import Unpack

from . import _operations as ops
from ._download import download_from_url, download_from_url_async
from ._models import DownloadResult, DownloadURL, UploadResult, UploadURL
from ._transfer import (
    ProgressCallback,
    Source,
    async_transfer_transport,
    prepare_source,
    transfer_transport,
    upload_to_url,
    upload_to_url_async,
)

__all__ = ["AsyncStorageClient", "StorageClient"]


def _text(name: str, value: object) -> str:
    if not isinstance(value, str):
        raise ValidationError(f"{name}: expected a string, got {type(value).__name__}")
    if not value.strip():
        raise ValidationError(f"{name}: must not be empty")
    return value


def _optional(name: str, value: object) -> str | None:
    return None if value is None else _text(name, value)


def _content_type(filename: str, content_type: str | None) -> str:
    if content_type is not None:
        return _text("content_type", content_type)
    return mimetypes.guess_type(filename)[0] or "application/octet-stream"


class StorageClient(ServiceClient):
    """The Storage API, synchronously.

    Args:
        base_url: the API's base URL (else ``ATRIUMN_API_BASE_URL``, else the Atriumn API).
        credentials: a :class:`~atriumn.core.TokenProvider` (e.g. :class:`atriumn.auth.ClientCredentials`).
        transport: a shared API :class:`~atriumn.core.Transport` (not closed by this client).
        transfer_transport: a shared transport for pre-signed URLs (see
            :func:`atriumn.storage.transfer_transport`); by default the client makes one and closes it.
        deadline: overall deadline per API call, in seconds (transfers have their own, long deadline).
        max_retries: retries per call.
        shared_state: a :class:`~atriumn.core.RedisState` for the API transport (tokens and breakers shared by
            processes); transfers to pre-signed URLs do not use it.

    Every method also takes the per-call :class:`~atriumn.core.RequestOptions` by keyword (``extra_headers``,
    ``extra_query``, ``extra_body``, ``timeout``); ``with_options(...)`` gives a client with changed defaults
    sharing this one's connections, and ``with_raw_response.<method>(...)`` the HTTP response behind a call.
    """

    def __init__(
        self,
        *,
        base_url: str | None = None,
        credentials: TokenProvider | None = None,
        transport: Transport | None = None,
        transfer_transport: Transport | None = None,
        deadline: float | None = None,
        max_retries: int | None = None,
        shared_state: Any = None,
    ) -> None:
        super().__init__(
            base_url=base_url, credentials=credentials, transport=transport, deadline=deadline, max_retries=max_retries,
            shared_state=shared_state,
        )  # fmt: skip
        self._transfer = transfer_transport
        self._owns_transfer = transfer_transport is None

    @property
    def transfer_transport(self) -> Transport:
        """The credential-free transport for pre-signed URLs (created on first use)."""
        if self._transfer is None:
            self._transfer = transfer_transport()
        return self._transfer

    def with_options(self, **options: Unpack[ClientOptions]) -> StorageClient:
        """See :meth:`~atriumn.core.ServiceClient.with_options`; the variant also shares the transfer transport
        (closing the variant closes neither)."""
        clone = super().with_options(**options)
        clone._transfer = self.transfer_transport
        clone._owns_transfer = False
        return clone

    def generate_upload_url(
        self, *, filename: str, content_type: str, tenant_id: str | None = None, **options: Unpack[RequestOptions]
    ) -> UploadURL:
        """A pre-signed URL to upload ``filename`` to, and the key it will have."""
        _text("filename", filename)
        _text("content_type", content_type)
        _optional("tenant_id", tenant_id)
        return self._send(
            options, ops.generate_upload_url(filename=filename, content_type=content_type, tenant_id=tenant_id)
        )

    def generate_download_url(self, *, key: str, **options: Unpack[RequestOptions]) -> DownloadURL:
        """A pre-signed URL to download the object ``key``."""
        _text("key", key)
        return self._send(options, ops.generate_download_url(key=key))

    def upload(
        self,
        source: Source,
        *,
        filename: str,
        content_type: str | None = None,
        tenant_id: str | None = None,
        progress: ProgressCallback | None = None,
        checksum: bool = True,
        size: int | None = None,
        **options: Unpack[RequestOptions],
    ) -> UploadResult:
        """Upload ``source`` (a path, bytes, a binary file or an iterator of chunks), streaming.

        Gets a pre-signed URL for ``filename`` and PUTs the bytes with their SHA-256 checksum (the target
        verifies it). Never holds more than a chunk in memory; one-shot sources are spooled to disk first so
        that a retry can resend from the first byte. Returns the key, size and checksum. ``options`` apply to the
        Storage API call (the pre-signed transfer is signed as it is).
        """
        _text("filename", filename)
        ctype = _content_type(filename, content_type)
        _optional("tenant_id", tenant_id)
        payload = prepare_source(source, size=size)  # a bad source fails before a URL is asked for
        try:
            target = self.generate_upload_url(filename=filename, content_type=ctype, tenant_id=tenant_id, **options)
        except BaseException:
            payload.close()
            raise
        result = upload_to_url(
            target.upload_url,
            payload,  # type: ignore[arg-type]
            transport=self.transfer_transport,
            method=target.http_method or "PUT",
            content_type=ctype,
            checksum=checksum,
            progress=progress,
        )
        return attrs.evolve(result, key=target.key)

    def download(
        self,
        key: str,
        destination: str | os.PathLike[str],
        *,
        progress: ProgressCallback | None = None,
        expected_sha256: str | None = None,
        **options: Unpack[RequestOptions],
    ) -> DownloadResult:
        """Download the object ``key`` to ``destination`` (atomically: temporary file, checks, rename)."""
        _text("key", key)
        target = self.generate_download_url(key=key, **options)
        result = download_from_url(
            target.download_url,
            destination,
            transport=self.transfer_transport,
            method=target.http_method or "GET",
            expected_sha256=expected_sha256,
            progress=progress,
        )
        return attrs.evolve(result, key=key)

    def close(self) -> None:
        """Close the transports this client created."""
        super().close()
        if self._owns_transfer and self._transfer is not None:
            self._transfer.close()


class AsyncStorageClient(AsyncServiceClient):
    """The Storage API, asynchronously; the same methods as :class:`StorageClient`, awaited."""

    def __init__(
        self,
        *,
        base_url: str | None = None,
        credentials: TokenProvider | None = None,
        transport: AsyncTransport | None = None,
        transfer_transport: AsyncTransport | None = None,
        deadline: float | None = None,
        max_retries: int | None = None,
        shared_state: Any = None,
    ) -> None:
        super().__init__(
            base_url=base_url, credentials=credentials, transport=transport, deadline=deadline, max_retries=max_retries,
            shared_state=shared_state,
        )  # fmt: skip
        self._transfer = transfer_transport
        self._owns_transfer = transfer_transport is None

    @property
    def transfer_transport(self) -> AsyncTransport:
        """The credential-free transport for pre-signed URLs (created on first use)."""
        if self._transfer is None:
            self._transfer = async_transfer_transport()
        return self._transfer

    def with_options(self, **options: Unpack[ClientOptions]) -> AsyncStorageClient:
        """See :meth:`~atriumn.core.ServiceClient.with_options`; the variant also shares the transfer transport
        (closing the variant closes neither)."""
        clone = super().with_options(**options)
        clone._transfer = self.transfer_transport
        clone._owns_transfer = False
        return clone

    async def generate_upload_url(
        self, *, filename: str, content_type: str, tenant_id: str | None = None, **options: Unpack[RequestOptions]
    ) -> UploadURL:
        """See :meth:`StorageClient.generate_upload_url`."""
        _text("filename", filename)
        _text("content_type", content_type)
        _optional("tenant_id", tenant_id)
        return await self._send(
            options, ops.generate_upload_url(filename=filename, content_type=content_type, tenant_id=tenant_id)
        )

    async def generate_download_url(self, *, key: str, **options: Unpack[RequestOptions]) -> DownloadURL:
        """See :meth:`StorageClient.generate_download_url`."""
        _text("key", key)
        return await self._send(options, ops.generate_download_url(key=key))

    async def upload(
        self,
        source: Source,
        *,
        filename: str,
        content_type: str | None = None,
        tenant_id: str | None = None,
        progress: ProgressCallback | None = None,
        checksum: bool = True,
        size: int | None = None,
        **options: Unpack[RequestOptions],
    ) -> UploadResult:
        """See :meth:`StorageClient.upload`."""
        _text("filename", filename)
        ctype = _content_type(filename, content_type)
        _optional("tenant_id", tenant_id)
        payload = prepare_source(source, size=size)
        try:
            target = await self.generate_upload_url(
                filename=filename, content_type=ctype, tenant_id=tenant_id, **options
            )
        except BaseException:
            payload.close()
            raise
        result = await upload_to_url_async(
            target.upload_url,
            payload,  # type: ignore[arg-type]
            transport=self.transfer_transport,
            method=target.http_method or "PUT",
            content_type=ctype,
            checksum=checksum,
            progress=progress,
        )
        return attrs.evolve(result, key=target.key)

    async def download(
        self,
        key: str,
        destination: str | os.PathLike[str],
        *,
        progress: ProgressCallback | None = None,
        expected_sha256: str | None = None,
        **options: Unpack[RequestOptions],
    ) -> DownloadResult:
        """See :meth:`StorageClient.download`."""
        _text("key", key)
        target = await self.generate_download_url(key=key, **options)
        result = await download_from_url_async(
            target.download_url,
            destination,
            transport=self.transfer_transport,
            method=target.http_method or "GET",
            expected_sha256=expected_sha256,
            progress=progress,
        )
        return attrs.evolve(result, key=key)

    async def aclose(self) -> None:
        """Close the transports this client created."""
        await super().aclose()
        if self._owns_transfer and self._transfer is not None:
            await self._transfer.aclose()
