"""The Ingest API, asynchronously: :class:`AsyncIngestClient` (the sync client is in :mod:`._client`)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from atriumn.core import AsyncPager, AsyncServiceClient, Page, RequestOptions, ValidationError

if TYPE_CHECKING:
    from typing_extensions import Unpack

from . import _operations as ops
from ._models import BatchProgress, BatchResult, BatchSource, ContentItem, FileSource, TextSource, UploadTicket
from ._plans import BatchTracker, PollPlan, PreparedItem, prepare_batch, settle
from ._sources import FileInput, file_opener, filename_of, upload_name, upload_source
from ._validation import check_content_id, check_metadata, check_text, check_url

__all__ = ["AsyncIngestClient"]


class AsyncIngestClient(AsyncServiceClient):
    """The Ingest API, asynchronously; the same methods as :class:`IngestClient`, awaited."""

    async def ingest_text(
        self,
        content: str,
        *,
        metadata: dict[str, str] | None = None,
        tenant_id: str | None = None,
        user_id: str | None = None,
        idempotency_key: str | None = None,
        **options: Unpack[RequestOptions],
    ) -> ContentItem:
        """Ingest text (see :meth:`IngestClient.ingest_text`)."""
        op = ops.ingest_text(
            check_text(content),
            metadata=check_metadata(metadata),
            tenant_id=tenant_id,
            user_id=user_id,
            idempotency_key=idempotency_key,
        )
        return await self._send(options, op)

    async def ingest_url(
        self,
        url: str,
        *,
        metadata: dict[str, str] | None = None,
        tenant_id: str | None = None,
        user_id: str | None = None,
        idempotency_key: str | None = None,
        **options: Unpack[RequestOptions],
    ) -> ContentItem:
        """Ask the service to fetch ``url`` and ingest it."""
        op = ops.ingest_url(
            check_url(url),
            metadata=check_metadata(metadata),
            tenant_id=tenant_id,
            user_id=user_id,
            idempotency_key=idempotency_key,
        )
        return await self._send(options, op)

    async def ingest_file(
        self,
        source: FileInput,
        *,
        filename: str | None = None,
        content_type: str | None = None,
        metadata: dict[str, str] | None = None,
        tenant_id: str | None = None,
        user_id: str | None = None,
        idempotency_key: str | None = None,
        **options: Unpack[RequestOptions],
    ) -> ContentItem:
        """Upload a file as multipart, streamed (see :meth:`IngestClient.ingest_file`)."""
        meta = check_metadata(metadata)
        with file_opener(source) as (opener, detected):
            name = filename_of(filename, detected)
            op = ops.ingest_file(
                opener,
                filename=name,
                content_type=ops.guess_content_type(name, content_type),
                metadata=meta,
                tenant_id=tenant_id,
                user_id=user_id,
                idempotency_key=idempotency_key,
            )
            return await self._send(options, op)

    async def request_file_upload(
        self,
        *,
        filename: str,
        content_type: str | None = None,
        metadata: dict[str, str] | None = None,
        tenant_id: str | None = None,
        user_id: str | None = None,
        **options: Unpack[RequestOptions],
    ) -> UploadTicket:
        """Create a content item and get a pre-signed URL for its bytes."""
        if not filename or not filename.strip():
            raise ValidationError("filename: must not be empty")
        op = ops.request_file_upload(
            filename=filename,
            content_type=ops.guess_content_type(filename, content_type),
            metadata=check_metadata(metadata),
            tenant_id=tenant_id,
            user_id=user_id,
        )
        return await self._send(options, op)

    async def request_text_upload(
        self,
        *,
        content_type: str = "text/plain",
        metadata: dict[str, str] | None = None,
        tenant_id: str | None = None,
        user_id: str | None = None,
        **options: Unpack[RequestOptions],
    ) -> UploadTicket:
        """Create a text content item and get a pre-signed URL for the text."""
        op = ops.request_text_upload(
            content_type=content_type, metadata=check_metadata(metadata), tenant_id=tenant_id, user_id=user_id
        )
        return await self._send(options, op)

    async def upload_file(
        self,
        source: FileInput | bytes,
        *,
        filename: str | None = None,
        content_type: str | None = None,
        metadata: dict[str, str] | None = None,
        tenant_id: str | None = None,
        user_id: str | None = None,
        progress: Callable[[int, int | None], None] | None = None,
        **options: Unpack[RequestOptions],
    ) -> ContentItem:
        """Create a content item with a pre-signed upload and stream the bytes to it (see the sync client)."""
        from atriumn.storage import upload_to_url_async

        name = upload_name(source, filename)
        ctype = ops.guess_content_type(name, content_type)
        ticket = await self.request_file_upload(
            filename=name, content_type=ctype, metadata=metadata, tenant_id=tenant_id, user_id=user_id, **options
        )
        await upload_to_url_async(
            ticket.upload_url, upload_source(source), method=ticket.http_method, content_type=ctype, progress=progress
        )
        return await self.get_content(ticket.id, **options)

    async def get_content(self, content_id: str, **options: Unpack[RequestOptions]) -> ContentItem:
        """One content item."""
        return await self._send(options, ops.get_content(check_content_id(content_id)))

    def list_content(
        self,
        *,
        status: str | None = None,
        source_type: str | None = None,
        page_size: int | None = None,
        **options: Unpack[RequestOptions],
    ) -> AsyncPager[ContentItem]:
        """Every content item, page by page, lazily: ``async for item in client.list_content(): ...``."""
        if page_size is not None and page_size < 1:
            raise ValidationError(f"page_size: must be >= 1, got {page_size!r}")

        async def fetch(token: str | None) -> Page[ContentItem]:
            page = await self._send(
                options, ops.list_content(status=status, source_type=source_type, limit=page_size, next_token=token)
            )
            return Page(items=page.items, next_token=page.next_token)

        return AsyncPager(fetch)

    async def update_content(
        self,
        content_id: str,
        *,
        metadata: dict[str, str] | None = None,
        source_uri: str | None = None,
        **options: Unpack[RequestOptions],
    ) -> ContentItem:
        """Change a content item's metadata or source URI."""
        return await self._send(
            options,
            ops.update_content(check_content_id(content_id), metadata=check_metadata(metadata), source_uri=source_uri),
        )

    async def delete_content(self, content_id: str, **options: Unpack[RequestOptions]) -> None:
        """Delete a content item."""
        await self._send(options, ops.delete_content(check_content_id(content_id)))

    async def get_text_content(self, content_id: str, **options: Unpack[RequestOptions]) -> str:
        """The text of a text content item."""
        return (await self._send(options, ops.get_text_content(check_content_id(content_id)))).content

    async def update_text_content(self, content_id: str, content: str, **options: Unpack[RequestOptions]) -> None:
        """Replace the text of a text content item."""
        await self._send(options, ops.update_text_content(check_content_id(content_id), check_text(content)))

    async def get_download_url(self, content_id: str, **options: Unpack[RequestOptions]) -> str:
        """A pre-signed URL to download the content's bytes."""
        return (await self._send(options, ops.get_download_url(check_content_id(content_id)))).download_url

    async def wait_until_processed(
        self,
        content_id: str,
        *,
        timeout: float = 60.0,
        poll_interval: float = 0.1,
        max_interval: float = 2.0,
        extra_headers: Mapping[str, str] | None = None,
        extra_query: Mapping[str, Any] | None = None,
    ) -> ContentItem:
        """Poll until ``completed`` or ``failed`` (see :meth:`IngestClient.wait_until_processed`)."""
        from ._errors import ProcessingTimeoutError

        plan = PollPlan(timeout, initial=poll_interval, max_interval=max_interval)
        while True:
            item = await self.get_content(content_id, extra_headers=extra_headers, extra_query=extra_query)
            if settle(item):
                return item
            delay = plan.next_delay()
            if delay is None:
                raise ProcessingTimeoutError(content_id, item.status, timeout)
            await asyncio.sleep(delay)

    async def ingest_batch(
        self,
        items: Sequence[BatchSource],
        *,
        max_concurrency: int = 8,
        progress: Callable[[BatchProgress], None] | None = None,
        **options: Unpack[RequestOptions],
    ) -> list[BatchResult]:
        """Ingest many items with bounded concurrency (tasks); see :meth:`IngestClient.ingest_batch`."""
        prepared = prepare_batch(items, max_concurrency)
        tracker = BatchTracker(len(prepared), progress)
        gate = asyncio.Semaphore(max_concurrency)

        async def run(p: PreparedItem) -> None:
            async with gate:
                try:
                    item = await self._ingest_one(p, options)
                except Exception as exc:  # one item's failure is its result, not the batch's
                    tracker.record(p, None, exc)
                else:
                    tracker.record(p, item, None)

        await asyncio.gather(*(run(p) for p in prepared))
        return tracker.finished()

    async def _ingest_one(self, p: PreparedItem, options: RequestOptions) -> ContentItem:
        s = p.source
        if isinstance(s, TextSource):
            return await self.ingest_text(s.content, metadata=s.metadata, idempotency_key=p.idempotency_key, **options)
        if isinstance(s, FileSource):
            return await self.ingest_file(
                s.path, content_type=s.content_type, metadata=s.metadata, idempotency_key=p.idempotency_key, **options
            )
        return await self.ingest_url(s.url, metadata=s.metadata, idempotency_key=p.idempotency_key, **options)
