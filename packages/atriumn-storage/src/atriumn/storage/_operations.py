"""One pure function per Storage API endpoint, each returning an :class:`atriumn.core.Operation`."""

from __future__ import annotations

from typing import Any

from atriumn.core import Operation

from ._models import DownloadURL, UploadURL

__all__ = ["generate_download_url", "generate_upload_url"]


def generate_upload_url(*, filename: str, content_type: str, tenant_id: str | None = None) -> Operation[UploadURL]:
    """``POST /generate-upload-url``. Asking twice only yields two URLs, so it is retried as idempotent."""
    body: dict[str, Any] = {"filename": filename, "contentType": content_type}
    if tenant_id is not None:
        body["tenantId"] = tenant_id
    return Operation(
        method="POST",
        path="/generate-upload-url",
        json=body,
        response_type=UploadURL,
        casing="camel",
        idempotent=True,
        span_name="storage.generate_upload_url",
    )


def generate_download_url(*, key: str) -> Operation[DownloadURL]:
    """``POST /generate-download-url``."""
    return Operation(
        method="POST",
        path="/generate-download-url",
        json={"s3Key": key},
        response_type=DownloadURL,
        casing="camel",
        idempotent=True,
        span_name="storage.generate_download_url",
    )
