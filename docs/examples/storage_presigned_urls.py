"""The transfer helpers on their own: stream to and from any pre-signed URL (S3 or Atriumn's), async.

Reads ATRIUMN_API_BASE_URL and credentials from the environment. The pre-signed URLs come from the
Storage API here, but any S3-style pre-signed PUT/GET URL works the same way.
"""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path

from atriumn.auth import DefaultCredential
from atriumn.storage import (
    AsyncStorageClient,
    async_transfer_transport,
    download_from_url_async,
    upload_to_url_async,
)


def lines() -> list[bytes]:
    return [f"line {i}\n".encode() for i in range(100_000)]


async def main() -> None:
    async with AsyncStorageClient(credentials=DefaultCredential()) as storage, async_transfer_transport() as transfers:
        target = await storage.generate_upload_url(filename="lines.txt", content_type="text/plain")
        # A zero-argument factory of chunks with its size: streamed as generated, re-generated on a retry.
        data = lines()
        size = sum(map(len, data))
        uploaded = await upload_to_url_async(
            target.upload_url, lambda: iter(lines()), size=size, content_type="text/plain", transport=transfers
        )
        print(f"uploaded {uploaded.size} bytes to {target.key}")

        url = (await storage.generate_download_url(key=target.key)).download_url
        with tempfile.TemporaryDirectory() as tmp:
            result = await download_from_url_async(
                url, Path(tmp) / "lines.txt", expected_sha256=uploaded.sha256, transport=transfers
            )
            print(f"downloaded {result.size} bytes; checksum verified: {result.checksum_verified}")


if __name__ == "__main__":
    asyncio.run(main())
