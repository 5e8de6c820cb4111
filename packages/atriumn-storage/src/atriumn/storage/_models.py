"""Storage models: attrs classes with snake_case attributes (camelCase on the wire).

Pre-signed URLs carry a signature that grants access: they are hidden from reprs (and from logs and spans
by core's URL redaction).
"""

from __future__ import annotations

import base64
from pathlib import Path

import attrs

__all__ = ["DownloadResult", "DownloadURL", "UploadResult", "UploadURL"]


@attrs.frozen(kw_only=True)
class UploadURL:
    """A pre-signed upload target (``POST /generate-upload-url``).

    Attributes:
        upload_url: the pre-signed URL (a bearer capability: hidden from repr).
        key: the object's storage key (``s3Key`` on the wire), for :meth:`StorageClient.download` later.
        http_method: the method to use with the URL (``PUT``).
    """

    upload_url: str = attrs.field(repr=False)
    key: str = attrs.field(metadata={"wire": "s3Key"})
    http_method: str = "PUT"


@attrs.frozen(kw_only=True)
class DownloadURL:
    """A pre-signed download URL (``POST /generate-download-url``).

    Attributes:
        download_url: the pre-signed URL (hidden from repr).
        http_method: the method to use with the URL (``GET``).
    """

    download_url: str = attrs.field(repr=False)
    http_method: str = "GET"


@attrs.frozen(kw_only=True)
class UploadResult:
    """What an upload stored.

    Attributes:
        key: the storage key (None for :func:`upload_to_url`, which does not know it).
        size: bytes uploaded.
        sha256: SHA-256 of the bytes, hex.
        checksum_sent: whether the target was given the checksum to verify (``x-amz-checksum-sha256``).
        etag: the target's ETag, if it returned one.
    """

    key: str | None = None
    size: int
    sha256: str
    checksum_sent: bool = False
    etag: str | None = None

    @property
    def sha256_base64(self) -> str:
        """The checksum as S3 writes it (base64 of the digest)."""
        return base64.b64encode(bytes.fromhex(self.sha256)).decode()


@attrs.frozen(kw_only=True)
class DownloadResult:
    """What a download wrote.

    Attributes:
        path: the destination file.
        size: bytes written.
        sha256: SHA-256 of the bytes, hex.
        checksum_verified: whether the bytes were checked against a known checksum (the server's
            ``x-amz-checksum-sha256`` or ``expected_sha256``), not only their size.
        key: the storage key, when downloaded by key.
    """

    path: Path
    size: int
    sha256: str
    checksum_verified: bool = False
    key: str | None = None
