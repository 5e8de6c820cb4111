"""Pre-signed uploads and downloads for Atriumn storage.

- :class:`StorageClient` / :class:`AsyncStorageClient`: ``generate_upload_url``, ``generate_download_url``,
  and streaming ``upload`` / ``download`` on top of them.
- :func:`upload_to_url`, :func:`download_from_url` (and ``*_async``): the streaming transfer helpers for any
  pre-signed URL (used by ``atriumn.ingest`` too), over a credential-free :func:`transfer_transport`.
- :func:`rich_progress`: an optional ``rich`` progress bar for the ``progress=`` callbacks.
"""

from atriumn.core import register_component

from ._client import AsyncStorageClient, StorageClient
from ._download import download_from_url, download_from_url_async
from ._models import DownloadResult, DownloadURL, UploadResult, UploadURL
from ._progress import rich_progress
from ._transfer import (
    CHUNK_SIZE,
    ChecksumMismatchError,
    ProgressCallback,
    Source,
    async_transfer_transport,
    transfer_transport,
    upload_to_url,
    upload_to_url_async,
)
from ._version import __version__

register_component("storage", __version__)

__all__ = [
    "CHUNK_SIZE",
    "AsyncStorageClient",
    "ChecksumMismatchError",
    "DownloadResult",
    "DownloadURL",
    "ProgressCallback",
    "Source",
    "StorageClient",
    "UploadResult",
    "UploadURL",
    "__version__",
    "async_transfer_transport",
    "download_from_url",
    "download_from_url_async",
    "rich_progress",
    "transfer_transport",
    "upload_to_url",
    "upload_to_url_async",
]
