"""AsyncIngestClient against the sandbox: the same behaviour as the sync client, awaited."""

from __future__ import annotations

import io
from typing import Any

import pytest

from atriumn.core import NotFoundError
from atriumn.ingest import AsyncIngestClient, ProcessingFailedError
from atriumn.sandbox import Sandbox


async def test_every_endpoint_async(sandbox: Sandbox, tenant_a: Any, text_file: Any) -> None:
    async with AsyncIngestClient(base_url=sandbox.url, credentials=tenant_a) as ingest:
        item = await ingest.ingest_text("async hello", metadata={"k": "v"})
        done = await ingest.wait_until_processed(item.id, timeout=10)
        assert done.is_completed
        assert await ingest.get_text_content(item.id) == "async hello"
        await ingest.update_text_content(item.id, "async bye")
        assert await ingest.get_text_content(item.id) == "async bye"
        assert (await ingest.update_content(item.id, metadata={"k": "w"})).metadata == {"k": "w"}
        url = await ingest.get_download_url(item.id)
        assert url.startswith(sandbox.url)

        from_file = await ingest.ingest_file(text_file)
        assert from_file.size == text_file.stat().st_size
        from_object = await ingest.ingest_file(io.BytesIO(b"abc"), filename="abc.txt")
        assert from_object.size == 3
        uploaded = await ingest.upload_file(text_file)
        assert (await ingest.wait_until_processed(uploaded.id, timeout=10)).size == text_file.stat().st_size
        ticket = await ingest.request_file_upload(filename="later.pdf")
        assert ticket.upload_url
        assert (await ingest.request_text_upload()).id

        seen = [i.id async for i in ingest.list_content(source_type="text", page_size=2)]
        assert item.id in seen

        await ingest.delete_content(item.id)
        with pytest.raises(NotFoundError):
            await ingest.get_content(item.id)


async def test_unreachable_url_fails_async(sandbox: Sandbox, tenant_a: Any) -> None:
    from tests.faultserver import FaultServer

    with FaultServer() as srv:
        dead = srv.refused_url()
    async with AsyncIngestClient(base_url=sandbox.url, credentials=tenant_a) as ingest:
        item = await ingest.ingest_url(dead)
        with pytest.raises(ProcessingFailedError) as info:
            await ingest.wait_until_processed(item.id, timeout=20)
        assert info.value.reason


async def test_tenant_isolation_async(sandbox: Sandbox, tenant_a: Any, tenant_b: Any) -> None:
    async with (
        AsyncIngestClient(base_url=sandbox.url, credentials=tenant_a) as a,
        AsyncIngestClient(base_url=sandbox.url, credentials=tenant_b) as b,
    ):
        mine = await a.ingest_text("only for A")
        with pytest.raises(NotFoundError):
            await b.get_content(mine.id)
