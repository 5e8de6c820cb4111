"""IngestClient against the sandbox over real sockets: every endpoint, the error paths, tenant isolation."""

from __future__ import annotations

import io
from typing import Any

import pytest

from atriumn.core import NotFoundError
from atriumn.ingest import ContentItem, IngestClient, ProcessingFailedError, ProcessingTimeoutError
from atriumn.sandbox import Sandbox


@pytest.fixture
def ingest(sandbox: Sandbox, tenant_a: Any) -> Any:
    with IngestClient(base_url=sandbox.url, credentials=tenant_a) as client:
        yield client


def test_ingest_text_then_processed_with_text_readable(ingest: IngestClient) -> None:
    item = ingest.ingest_text("hello world", metadata={"lang": "en"})
    assert isinstance(item, ContentItem)
    assert item.status == "pending"
    assert item.source_type == "text"
    assert item.metadata == {"lang": "en"}
    done = ingest.wait_until_processed(item.id, timeout=10)
    assert done.is_completed
    assert done.size == len("hello world")
    assert ingest.get_text_content(item.id) == "hello world"


def test_update_text_and_metadata_and_delete(ingest: IngestClient) -> None:
    item = ingest.ingest_text("first version")
    ingest.wait_until_processed(item.id, timeout=10)
    ingest.update_text_content(item.id, "second version")
    assert ingest.get_text_content(item.id) == "second version"
    updated = ingest.update_content(item.id, metadata={"reviewed": "yes"})
    assert updated.metadata == {"reviewed": "yes"}
    assert ingest.get_content(item.id).metadata == {"reviewed": "yes"}
    ingest.delete_content(item.id)
    with pytest.raises(NotFoundError) as info:
        ingest.get_content(item.id)
    assert info.value.status_code == 404
    assert info.value.request_id


def test_ingest_file_streams_multipart_from_path_and_file_object(ingest: IngestClient, text_file: Any) -> None:
    item = ingest.ingest_file(text_file, metadata={"kind": "notes"})
    assert item.source_type == "file"
    assert item.source_uri == "notes.txt"
    assert item.size == text_file.stat().st_size
    assert item.content_type == "text/plain"
    done = ingest.wait_until_processed(item.id, timeout=10)
    assert ingest.get_text_content(done.id) == text_file.read_text()

    data = b"\x00\x01binary" * 1000
    from_object = ingest.ingest_file(io.BytesIO(data), filename="blob.bin")
    assert from_object.size == len(data)
    assert from_object.content_type == "application/octet-stream"


def test_ingest_file_without_a_name_needs_filename(ingest: IngestClient) -> None:
    with pytest.raises(ValueError, match="filename"):
        ingest.ingest_file(io.BytesIO(b"x"))


def test_upload_file_through_a_presigned_url(ingest: IngestClient, text_file: Any) -> None:
    item = ingest.upload_file(text_file, metadata={"via": "presigned"})
    assert item.source_type == "file"
    done = ingest.wait_until_processed(item.id, timeout=10)
    assert done.size == text_file.stat().st_size
    assert ingest.get_text_content(item.id) == text_file.read_text()


def test_request_text_upload_gives_a_ticket(ingest: IngestClient) -> None:
    ticket = ingest.request_text_upload(metadata={"a": "b"})
    assert ticket.id
    assert ticket.upload_url.startswith("http")
    assert "upload_url" not in repr(ticket)  # signed URLs stay out of reprs
    assert ingest.get_content(ticket.id).status == "pending"


def test_download_url_serves_the_bytes_without_credentials(ingest: IngestClient) -> None:
    import httpx2

    item = ingest.ingest_text("downloadable")
    ingest.wait_until_processed(item.id, timeout=10)
    url = ingest.get_download_url(item.id)
    response = httpx2.get(url)
    assert response.status_code == 200
    assert response.content == b"downloadable"


def test_list_content_follows_every_page_with_filters(ingest: IngestClient) -> None:
    ids = {ingest.ingest_text(f"page item {i}", metadata={"list": "yes"}).id for i in range(7)}
    for content_id in ids:
        ingest.wait_until_processed(content_id, timeout=10)
    pager = ingest.list_content(source_type="text", status="completed", page_size=3)
    pages = list(pager.pages())
    assert len(pages) >= 3  # 7+ items at 3 per page
    listed = {item.id for page in pages for item in page.items}
    assert ids <= listed
    assert all(item.status == "completed" for page in pages for item in page.items)
    assert {item.id for item in ingest.list_content(page_size=3)} >= ids


def test_unreachable_url_ends_failed_with_a_reason(ingest: IngestClient) -> None:
    from tests.faultserver import FaultServer

    with FaultServer() as srv:
        dead = srv.refused_url()
    item = ingest.ingest_url(dead + "/doc")
    assert item.source_type == "url"
    with pytest.raises(ProcessingFailedError) as info:
        ingest.wait_until_processed(item.id, timeout=20)
    assert info.value.item.id == item.id
    assert info.value.reason
    assert "could not fetch" in info.value.reason


def test_reachable_url_is_fetched(ingest: IngestClient, sandbox: Sandbox) -> None:
    item = ingest.ingest_url(sandbox.url + "/health")
    done = ingest.wait_until_processed(item.id, timeout=20)
    assert done.is_completed
    assert done.size and done.size > 0


def test_wait_times_out_naming_the_last_status(ingest: IngestClient, sandbox: Sandbox) -> None:
    ticket = ingest.request_text_upload()  # stays pending until bytes are uploaded
    with pytest.raises(ProcessingTimeoutError) as info:
        ingest.wait_until_processed(ticket.id, timeout=0.3, poll_interval=0.05)
    assert info.value.last_status == "pending"
    assert "pending" in str(info.value)


def test_tenant_isolation(sandbox: Sandbox, tenant_a: Any, tenant_b: Any) -> None:
    with (
        IngestClient(base_url=sandbox.url, credentials=tenant_a) as a,
        IngestClient(base_url=sandbox.url, credentials=tenant_b) as b,
    ):
        mine = a.ingest_text("tenant A's secret plans")
        with pytest.raises(NotFoundError):
            b.get_content(mine.id)
        with pytest.raises(NotFoundError):
            b.get_text_content(mine.id)
        with pytest.raises(NotFoundError):
            b.delete_content(mine.id)
        assert mine.id not in {item.id for item in b.list_content()}
        assert a.get_content(mine.id).id == mine.id


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda c: c.ingest_text("   "), "content: must not be empty"),
        (lambda c: c.ingest_url("ftp://example.com/x"), "url: 'ftp://example.com/x' is not an http(s) URL"),
        (lambda c: c.ingest_file("/no/such/file.txt"), "source: no such file"),
        (lambda c: c.ingest_text("x", metadata={"n": 1}), "metadata: every key and value must be a string"),
        (lambda c: c.get_content(""), "content_id: must be a non-empty string"),
        (lambda c: c.list_content(page_size=0), "page_size"),
    ],
)
def test_validation_before_any_request(sandbox: Sandbox, call: Any, message: str) -> None:
    # No credentials and a transport that would fail: validation must stop the call first.
    with IngestClient(base_url=sandbox.url) as client:
        before = client.transport.stats().requests
        with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
            call(client)
        assert client.transport.stats().requests == before
