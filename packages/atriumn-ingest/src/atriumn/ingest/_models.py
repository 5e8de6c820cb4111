"""Models of the Ingest API (camelCase on the wire)."""

from __future__ import annotations

import datetime as dt
import os
from typing import Union

import attrs

__all__ = [
    "BatchProgress",
    "BatchResult",
    "BatchSource",
    "ContentItem",
    "FileSource",
    "TextSource",
    "URLSource",
    "UploadTicket",
]


@attrs.frozen(kw_only=True)
class ContentItem:
    """A piece of ingested content and its processing state.

    ``status`` is an open-ended string (``pending``, ``processing``, ``completed``, ``failed``, or
    anything newer the server sends); compare it case-insensitively.
    """

    id: str
    status: str = ""
    tenant_id: str | None = None
    user_id: str | None = None
    source_type: str | None = None
    source_uri: str | None = None
    s3_key: str | None = None
    s3_bucket: str | None = None
    content_type: str | None = None
    size: int | None = None
    metadata: dict[str, str] = attrs.field(factory=dict)
    status_reason: str | None = None
    created_at: dt.datetime | None = None
    updated_at: dt.datetime | None = None

    @property
    def is_completed(self) -> bool:
        """Processing finished successfully."""
        return self.status.lower() == "completed"

    @property
    def is_failed(self) -> bool:
        """Processing failed (see :attr:`failure_reason`)."""
        return self.status.lower() == "failed"

    @property
    def failure_reason(self) -> str | None:
        """Why processing failed, as the server said (``statusReason`` or ``metadata["error"]``)."""
        return self.status_reason or self.metadata.get("error") or self.metadata.get("reason")


@attrs.frozen(kw_only=True)
class UploadTicket:
    """The answer to a pre-signed upload request: the content item id and where to PUT the bytes."""

    id: str
    upload_url: str = attrs.field(repr=False)  # carries a signature
    status: str = ""
    tenant_id: str | None = None
    user_id: str | None = None
    s3_key: str | None = None
    http_method: str = "PUT"


@attrs.frozen(kw_only=True)
class _ContentPage:
    items: list[ContentItem] = attrs.field(factory=list)
    next_token: str | None = None


@attrs.frozen(kw_only=True)
class _DownloadURL:
    download_url: str


@attrs.frozen(kw_only=True)
class _TextContent:
    content: str


@attrs.frozen(kw_only=True)
class TextSource:
    """A batch item: text to ingest."""

    content: str
    metadata: dict[str, str] | None = None


@attrs.frozen(kw_only=True)
class URLSource:
    """A batch item: a URL for the service to fetch and ingest."""

    url: str
    metadata: dict[str, str] | None = None


@attrs.frozen(kw_only=True)
class FileSource:
    """A batch item: a local file, uploaded as multipart (streamed, never read whole)."""

    path: str | os.PathLike[str]
    content_type: str | None = None
    metadata: dict[str, str] | None = None


#: What ``ingest_batch`` accepts per item.
BatchSource = Union[TextSource, URLSource, FileSource]  # noqa: UP007 - a runtime alias, kept 3.10-friendly


@attrs.frozen(kw_only=True)
class BatchResult:
    """The outcome of one batch item: the content item, or the error that stopped it."""

    index: int
    source: BatchSource
    item: ContentItem | None = None
    error: Exception | None = None

    @property
    def ok(self) -> bool:
        """The item was ingested."""
        return self.error is None


@attrs.frozen(kw_only=True)
class BatchProgress:
    """Progress of a batch, passed to the ``progress`` callback after each item."""

    done: int
    failed: int
    total: int
