"""``IngestClient``: a thin driver over the operations in :mod:`._operations` (the async one is in
:mod:`._client_async`)."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from atriumn.core import Page, Pager, RequestOptions, ServiceClient, ValidationError

if TYPE_CHECKING:
    from typing_extensions import Unpack

from . import _operations as ops
from ._models import BatchProgress, BatchResult, BatchSource, ContentItem, FileSource, TextSource, UploadTicket
from ._plans import BatchTracker, PollPlan, PreparedItem, prepare_batch, settle
from ._sources import FileInput, file_opener, filename_of, upload_name, upload_source
from ._validation import check_content_id, check_metadata, check_text, check_url

__all__ = ["IngestClient"]


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

        name = upload_name(source, filename)
        ctype = ops.guess_content_type(name, content_type)
        ticket = self.request_file_upload(
            filename=name, content_type=ctype, metadata=metadata, tenant_id=tenant_id, user_id=user_id, **options
        )
        upload_to_url(
            ticket.upload_url, upload_source(source), method=ticket.http_method, content_type=ctype, progress=progress
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
