"""``IngestClient`` and ``AsyncIngestClient``: thin drivers over the operations in :mod:`._operations`."""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import IO, TYPE_CHECKING, Any

from atriumn.core import AsyncPager, AsyncServiceClient, Page, Pager, RequestOptions, ServiceClient, ValidationError

if TYPE_CHECKING:
    from typing_extensions import Unpack

from . import _operations as ops
from ._models import BatchProgress, BatchResult, BatchSource, ContentItem, FileSource, TextSource, UploadTicket
from ._plans import BatchTracker, PollPlan, PreparedItem, prepare_batch, settle
from ._validation import check_content_id, check_metadata, check_path, check_text, check_url

__all__ = ["AsyncIngestClient", "IngestClient"]

FileInput = str | os.PathLike[str] | IO[bytes]


@contextlib.contextmanager
def _file_opener(source: FileInput) -> Iterator[tuple[Callable[[], IO[bytes]] | IO[bytes], str | None]]:
    """A per-attempt opener (rewinds the file), and the file's name when it has one.

    A path is opened here and closed on exit; a file object is rewound to where it started on every
    attempt when it can seek, otherwise it is sent once as it is.
    """
    if isinstance(source, (str, os.PathLike)):
        path = check_path(source, field="source")
        with open(path, "rb") as fh:

            def reopen() -> IO[bytes]:
                fh.seek(0)
                return fh

            yield reopen, os.path.basename(path)
        return
    name = getattr(source, "name", None)
    name = os.path.basename(name) if isinstance(name, str) else None
    try:
        start = source.tell() if source.seekable() else None
    except (OSError, ValueError):
        start = None
    if start is None:
        yield source, name
        return

    def rewind() -> IO[bytes]:
        source.seek(start)
        return source

    yield rewind, name


def _upload_name(source: FileInput | bytes, filename: str | None) -> str:
    if filename:
        return filename
    if isinstance(source, (str, os.PathLike)):
        return os.path.basename(check_path(source, field="source"))
    name = getattr(source, "name", None)
    if isinstance(name, str) and name:
        return os.path.basename(name)
    raise ValidationError("filename: required when the source is bytes or a file object without a name")


def _upload_source(source: FileInput | bytes) -> Any:
    return check_path(source, field="source") if isinstance(source, (str, os.PathLike)) else source


def _filename(filename: str | None, detected: str | None) -> str:
    name = filename or detected
    if not name:
        raise ValidationError("filename: required when the source has no name (a file object without .name)")
    return name


class IngestClient(ServiceClient):
    """The Ingest API, synchronously.

    Args:
        base_url: the Atriumn API (else ``ATRIUMN_API_BASE_URL``).
        credentials: a :class:`~atriumn.core.TokenProvider` (e.g. ``atriumn.auth.ClientCredentials``).
        transport: a shared :class:`~atriumn.core.Transport` (not closed by this client).
        deadline: overall deadline per call in seconds; max_retries: retries per call.

    Every method also takes the per-call :class:`~atriumn.core.RequestOptions` by keyword (``extra_headers``,
    ``extra_query``, ``extra_body``, ``timeout``); ``with_options(...)`` gives a client with changed defaults
    sharing this one's connections, and ``with_raw_response.<method>(...)`` the HTTP response behind a call.
    """

    def ingest_text(
        self,
        content: str,
        *,
        metadata: dict[str, str] | None = None,
        tenant_id: str | None = None,
        user_id: str | None = None,
        idempotency_key: str | None = None,
        **options: Unpack[RequestOptions],
    ) -> ContentItem:
        """Ingest text. Processing continues in the background: see :meth:`wait_until_processed`."""
        op = ops.ingest_text(
            check_text(content),
            metadata=check_metadata(metadata),
            tenant_id=tenant_id,
            user_id=user_id,
            idempotency_key=idempotency_key,
        )
        return self._send(options, op)

    def ingest_url(
        self,
        url: str,
        *,
        metadata: dict[str, str] | None = None,
        tenant_id: str | None = None,
        user_id: str | None = None,
        idempotency_key: str | None = None,
        **options: Unpack[RequestOptions],
    ) -> ContentItem:
        """Ask the service to fetch ``url`` and ingest it (in the background)."""
        op = ops.ingest_url(
            check_url(url),
            metadata=check_metadata(metadata),
            tenant_id=tenant_id,
            user_id=user_id,
            idempotency_key=idempotency_key,
        )
        return self._send(options, op)

    def ingest_file(
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
        """Upload a file (a path or a binary file object) as multipart, streamed — never read whole."""
        meta = check_metadata(metadata)
        with _file_opener(source) as (opener, detected):
            name = _filename(filename, detected)
            op = ops.ingest_file(
                opener,
                filename=name,
                content_type=ops.guess_content_type(name, content_type),
                metadata=meta,
                tenant_id=tenant_id,
                user_id=user_id,
                idempotency_key=idempotency_key,
            )
            return self._send(options, op)

    def request_file_upload(
        self,
        *,
        filename: str,
        content_type: str | None = None,
        metadata: dict[str, str] | None = None,
        tenant_id: str | None = None,
        user_id: str | None = None,
        **options: Unpack[RequestOptions],
    ) -> UploadTicket:
        """Create a content item and get a pre-signed URL to upload its bytes to (see :meth:`upload_file`)."""
        if not filename or not filename.strip():
            raise ValidationError("filename: must not be empty")
        op = ops.request_file_upload(
            filename=filename,
            content_type=ops.guess_content_type(filename, content_type),
            metadata=check_metadata(metadata),
            tenant_id=tenant_id,
            user_id=user_id,
        )
        return self._send(options, op)

    def request_text_upload(
        self,
        *,
        content_type: str = "text/plain",
        metadata: dict[str, str] | None = None,
        tenant_id: str | None = None,
        user_id: str | None = None,
        **options: Unpack[RequestOptions],
    ) -> UploadTicket:
        """Create a text content item and get a pre-signed URL to upload the text to."""
        op = ops.request_text_upload(
            content_type=content_type, metadata=check_metadata(metadata), tenant_id=tenant_id, user_id=user_id
        )
        return self._send(options, op)

    def upload_file(
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
        """Create a content item with a pre-signed upload and stream the bytes to it.

        The upload is ``atriumn.storage.upload_to_url``: streamed, SHA-256 checked by the target, retried
        from the first byte, and sent without Atriumn credentials. Returns the item as it stands after the
        upload (processing continues in the background).
        """
        from atriumn.storage import upload_to_url

        name = _upload_name(source, filename)
        ctype = ops.guess_content_type(name, content_type)
        ticket = self.request_file_upload(
            filename=name, content_type=ctype, metadata=metadata, tenant_id=tenant_id, user_id=user_id, **options
        )
        upload_to_url(
            ticket.upload_url, _upload_source(source), method=ticket.http_method, content_type=ctype, progress=progress
        )
        return self.get_content(ticket.id, **options)

    def get_content(self, content_id: str, **options: Unpack[RequestOptions]) -> ContentItem:
        """One content item."""
        return self._send(options, ops.get_content(check_content_id(content_id)))

    def list_content(
        self,
        *,
        status: str | None = None,
        source_type: str | None = None,
        page_size: int | None = None,
        **options: Unpack[RequestOptions],
    ) -> Pager[ContentItem]:
        """Every content item (of a status / source type), page by page, lazily."""
        if page_size is not None and page_size < 1:
            raise ValidationError(f"page_size: must be >= 1, got {page_size!r}")

        def fetch(token: str | None) -> Page[ContentItem]:
            page = self._send(
                options, ops.list_content(status=status, source_type=source_type, limit=page_size, next_token=token)
            )
            return Page(items=page.items, next_token=page.next_token)

        return Pager(fetch)

    def update_content(
        self,
        content_id: str,
        *,
        metadata: dict[str, str] | None = None,
        source_uri: str | None = None,
        **options: Unpack[RequestOptions],
    ) -> ContentItem:
        """Change a content item's metadata or source URI."""
        return self._send(
            options,
            ops.update_content(check_content_id(content_id), metadata=check_metadata(metadata), source_uri=source_uri),
        )

    def delete_content(self, content_id: str, **options: Unpack[RequestOptions]) -> None:
        """Delete a content item."""
        self._send(options, ops.delete_content(check_content_id(content_id)))

    def get_text_content(self, content_id: str, **options: Unpack[RequestOptions]) -> str:
        """The text of a text content item."""
        return self._send(options, ops.get_text_content(check_content_id(content_id))).content

    def update_text_content(self, content_id: str, content: str, **options: Unpack[RequestOptions]) -> None:
        """Replace the text of a text content item."""
        self._send(options, ops.update_text_content(check_content_id(content_id), check_text(content)))

    def get_download_url(self, content_id: str, **options: Unpack[RequestOptions]) -> str:
        """A pre-signed URL to download the content's bytes."""
        return self._send(options, ops.get_download_url(check_content_id(content_id))).download_url

    def wait_until_processed(
        self,
        content_id: str,
        *,
        timeout: float = 60.0,
        poll_interval: float = 0.1,
        max_interval: float = 2.0,
        extra_headers: Mapping[str, str] | None = None,
        extra_query: Mapping[str, Any] | None = None,
    ) -> ContentItem:
        """Poll until the item is ``completed`` (returned) or ``failed`` (:class:`ProcessingFailedError`).

        Raises :class:`ProcessingTimeoutError` naming the last status seen when ``timeout`` passes (here the
        whole wait, polls included); ``extra_headers`` and ``extra_query`` go on every poll.
        """
        from ._errors import ProcessingTimeoutError

        plan = PollPlan(timeout, initial=poll_interval, max_interval=max_interval)
        last: str | None = None
        while True:
            item = self.get_content(content_id, extra_headers=extra_headers, extra_query=extra_query)
            last = item.status
            if settle(item):
                return item
            delay = plan.next_delay()
            if delay is None:
                raise ProcessingTimeoutError(content_id, last, timeout)
            time.sleep(delay)

    def ingest_batch(
        self,
        items: Sequence[BatchSource],
        *,
        max_concurrency: int = 8,
        progress: Callable[[BatchProgress], None] | None = None,
        **options: Unpack[RequestOptions],
    ) -> list[BatchResult]:
        """Ingest many items with bounded concurrency (threads); one result per input, in input order.

        Every item is validated before any request, and carries its own idempotency key, so retries after
        timeouts or resets never create a second item. One failure never stops the batch: it is that
        item's ``error``.
        """
        prepared = prepare_batch(items, max_concurrency)
        tracker = BatchTracker(len(prepared), progress)

        def run(p: PreparedItem) -> None:
            try:
                item = self._ingest_one(p, options)
            except Exception as exc:  # one item's failure is its result, not the batch's
                tracker.record(p, None, exc)
            else:
                tracker.record(p, item, None)

        with ThreadPoolExecutor(max_workers=min(max_concurrency, max(1, len(prepared)))) as pool:
            list(pool.map(run, prepared))
        return tracker.finished()

    def _ingest_one(self, p: PreparedItem, options: RequestOptions) -> ContentItem:
        s = p.source
        if isinstance(s, TextSource):
            return self.ingest_text(s.content, metadata=s.metadata, idempotency_key=p.idempotency_key, **options)
        if isinstance(s, FileSource):
            return self.ingest_file(
                s.path, content_type=s.content_type, metadata=s.metadata, idempotency_key=p.idempotency_key, **options
            )
        return self.ingest_url(s.url, metadata=s.metadata, idempotency_key=p.idempotency_key, **options)


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
        with _file_opener(source) as (opener, detected):
            name = _filename(filename, detected)
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

        name = _upload_name(source, filename)
        ctype = ops.guess_content_type(name, content_type)
        ticket = await self.request_file_upload(
            filename=name, content_type=ctype, metadata=metadata, tenant_id=tenant_id, user_id=user_id, **options
        )
        await upload_to_url_async(
            ticket.upload_url, _upload_source(source), method=ticket.http_method, content_type=ctype, progress=progress
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
