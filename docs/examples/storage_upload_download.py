"""Upload a file and download it again, streaming, with a progress bar (rich, if installed).

Reads ATRIUMN_API_BASE_URL and credentials from the environment (ATRIUMN_API_KEY, or ATRIUMN_CLIENT_ID +
ATRIUMN_CLIENT_SECRET). Creates a 5 MiB file in a temporary directory.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from atriumn.auth import DefaultCredential
from atriumn.storage import ProgressCallback, StorageClient, rich_progress


@contextlib.contextmanager
def progress_bar(description: str) -> Iterator[ProgressCallback | None]:
    try:
        with rich_progress(description) as progress:
            yield progress
    except ImportError:  # rich is optional: pip install "atriumn-storage[progress]"
        yield None


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp, StorageClient(credentials=DefaultCredential()) as storage:
        report = Path(tmp) / "report.bin"
        report.write_bytes(os.urandom(5 * 1024 * 1024))

        with progress_bar("uploading report.bin") as progress:
            uploaded = storage.upload(report, filename="report.bin", progress=progress)
        print(f"stored {uploaded.size} bytes as {uploaded.key} (sha256 {uploaded.sha256[:12]}…)")

        copy = Path(tmp) / "copy.bin"
        with progress_bar("downloading") as progress:
            downloaded = storage.download(uploaded.key or "", copy, progress=progress, expected_sha256=uploaded.sha256)
        assert copy.read_bytes() == report.read_bytes()
        print(f"downloaded {downloaded.size} bytes, checksum verified: {downloaded.checksum_verified}")


if __name__ == "__main__":
    main()
