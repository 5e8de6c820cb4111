"""One function per Ingest API endpoint, returning an :class:`~atriumn.core.Operation` (pure data)."""

from __future__ import annotations

import json
import mimetypes
import os
from collections.abc import Callable
from typing import IO, Any

from atriumn.core import Operation

from ._models import ContentItem, UploadTicket, _ContentPage, _DownloadURL, _TextContent

__all__ = [
    "delete_content",
    "get_content",
    "get_download_url",
    "get_text_content",
    "ingest_file",
    "ingest_text",
    "ingest_url",
    "list_content",
    "request_file_upload",
    "request_text_upload",
    "update_content",
    "update_text_content",
]


def _body(**fields: Any) -> dict[str, Any]:
    return {k: v for k, v in fields.items() if v is not None}


def ingest_text(
    content: str,
    *,
    metadata: dict[str, str] | None,
    tenant_id: str | None,
    user_id: str | None,
    idempotency_key: str | None,
) -> Operation[ContentItem]:
    """``POST /ingest/text`` with the text itself."""
    return Operation(
        method="POST",
        path="/ingest/text",
        json=_body(content=content, metadata=metadata, tenantId=tenant_id, userId=user_id),
        response_type=ContentItem,
        idempotency_key=idempotency_key,
        span_name="ingest.ingest_text",
    )


def ingest_url(
    url: str,
    *,
    metadata: dict[str, str] | None,
    tenant_id: str | None,
    user_id: str | None,
    idempotency_key: str | None,
) -> Operation[ContentItem]:
    """``POST /ingest/url``: the service fetches and ingests ``url`` in the background."""
    return Operation(
        method="POST",
        path="/ingest/url",
        json=_body(url=url, metadata=metadata, tenantId=tenant_id, userId=user_id),
        response_type=ContentItem,
        idempotency_key=idempotency_key,
        span_name="ingest.ingest_url",
    )


def guess_content_type(filename: str, content_type: str | None) -> str:
    """The given content type, else a guess from the file name, else ``application/octet-stream``."""
    return content_type or mimetypes.guess_type(filename)[0] or "application/octet-stream"


def ingest_file(
    opener: Callable[[], IO[bytes]] | IO[bytes],
    *,
    filename: str,
    content_type: str,
    metadata: dict[str, str] | None,
    tenant_id: str | None,
    user_id: str | None,
    idempotency_key: str | None,
) -> Operation[ContentItem]:
    """``POST /ingest/file`` as multipart; the file is streamed from ``opener()`` on every attempt.

    ``opener`` returns the (rewound) file object for an attempt; a plain file object that cannot be
    rewound is sent once, and is then not retried after it may have reached the server.
    """
    data = _body(tenantId=tenant_id, userId=user_id, metadata=json.dumps(metadata) if metadata else None)

    def files() -> dict[str, Any]:
        fh = opener() if callable(opener) else opener
        return {"file": (filename, fh, content_type)}

    return Operation(
        method="POST",
        path="/ingest/file",
        data=data or None,
        files=files if callable(opener) else files(),
        response_type=ContentItem,
        idempotency_key=idempotency_key,
        span_name="ingest.ingest_file",
    )


def request_file_upload(
    *,
    filename: str,
    content_type: str,
    metadata: dict[str, str] | None,
    tenant_id: str | None,
    user_id: str | None,
) -> Operation[UploadTicket]:
    """``POST /ingest/file`` as JSON: ask for a pre-signed upload URL instead of sending the bytes."""
    return Operation(
        method="POST",
        path="/ingest/file",
        json=_body(filename=filename, contentType=content_type, metadata=metadata, tenantId=tenant_id, userId=user_id),
        response_type=UploadTicket,
        span_name="ingest.request_file_upload",
    )


def request_text_upload(
    *, content_type: str, metadata: dict[str, str] | None, tenant_id: str | None, user_id: str | None
) -> Operation[UploadTicket]:
    """``POST /ingest/text`` without content: ask for a pre-signed upload URL for the text."""
    return Operation(
        method="POST",
        path="/ingest/text",
        json=_body(contentType=content_type, metadata=metadata, tenantId=tenant_id, userId=user_id),
        response_type=UploadTicket,
        span_name="ingest.request_text_upload",
    )


def get_content(content_id: str) -> Operation[ContentItem]:
    """``GET /content/{id}``."""
    return Operation(
        method="GET",
        path="/content/{id}",
        path_params={"id": content_id},
        response_type=ContentItem,
        span_name="ingest.get_content",
    )


def list_content(
    *, status: str | None, source_type: str | None, limit: int | None, next_token: str | None
) -> Operation[_ContentPage]:
    """``GET /content`` (one page)."""
    return Operation(
        method="GET",
        path="/content",
        query={"status": status, "sourceType": source_type, "limit": limit, "nextToken": next_token},
        response_type=_ContentPage,
        span_name="ingest.list_content",
    )


def update_content(
    content_id: str, *, metadata: dict[str, str] | None, source_uri: str | None
) -> Operation[ContentItem]:
    """``PATCH /content/{id}``."""
    return Operation(
        method="PATCH",
        path="/content/{id}",
        path_params={"id": content_id},
        json=_body(metadata=metadata, sourceUri=source_uri),
        response_type=ContentItem,
        span_name="ingest.update_content",
    )


def delete_content(content_id: str) -> Operation[None]:
    """``DELETE /content/{id}``."""
    return Operation(
        method="DELETE", path="/content/{id}", path_params={"id": content_id}, span_name="ingest.delete_content"
    )


def get_text_content(content_id: str) -> Operation[_TextContent]:
    """``GET /content/{id}/text``."""
    return Operation(
        method="GET",
        path="/content/{id}/text",
        path_params={"id": content_id},
        response_type=_TextContent,
        span_name="ingest.get_text_content",
    )


def update_text_content(content_id: str, content: str) -> Operation[None]:
    """``PUT /content/{id}/text``."""
    return Operation(
        method="PUT",
        path="/content/{id}/text",
        path_params={"id": content_id},
        json={"content": content},
        span_name="ingest.update_text_content",
    )


def get_download_url(content_id: str) -> Operation[_DownloadURL]:
    """``GET /content/{id}/download-url``."""
    return Operation(
        method="GET",
        path="/content/{id}/download-url",
        path_params={"id": content_id},
        response_type=_DownloadURL,
        span_name="ingest.get_download_url",
    )


def file_name(path: str | os.PathLike[str]) -> str:
    """The base name of ``path``."""
    return os.path.basename(os.fspath(path))
