"""StorageClient and AsyncStorageClient against a real sandbox over sockets."""

from __future__ import annotations

import hashlib
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2
import pytest

from atriumn.auth import AuthClient, ClientCredentials
from atriumn.core import (
    AuthenticationError,
    BadRequestError,
    NoCredentialsError,
    NotFoundError,
    PermissionDeniedError,
    StaticToken,
)
from atriumn.storage import (
    AsyncStorageClient,
    DownloadURL,
    StorageClient,
    UploadURL,
    rich_progress,
    upload_to_url,
)

ADMIN_ID = "sandbox-admin-storage"
ADMIN_SECRET = "admin-secret-for-storage-tests"  # sandbox-local
MB = 1024 * 1024


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Any]:
    from atriumn.sandbox import Sandbox

    with Sandbox(admin_client_id=ADMIN_ID, admin_client_secret=ADMIN_SECRET, presign_ttl=60) as sb:
        yield sb


def tenant_credentials(sandbox: Any, tenant: str) -> ClientCredentials:
    admin = ClientCredentials(client_id=ADMIN_ID, client_secret=ADMIN_SECRET, base_url=sandbox.url)
    with AuthClient(base_url=sandbox.url, credentials=admin) as client:
        created = client.create_client_credential(issued_to=f"storage-{tenant}", scopes=["storage"], tenant_id=tenant)
    return ClientCredentials(client_id=created.client_id, client_secret=created.client_secret, base_url=sandbox.url)


@pytest.fixture(scope="module")
def tenant_a(sandbox: Any) -> ClientCredentials:
    return tenant_credentials(sandbox, "tenant-a")


@pytest.fixture(scope="module")
def tenant_b(sandbox: Any) -> ClientCredentials:
    return tenant_credentials(sandbox, "tenant-b")


def test_generate_urls(sandbox: Any, tenant_a: ClientCredentials) -> None:
    with StorageClient(base_url=sandbox.url, credentials=tenant_a) as client:
        target = client.generate_upload_url(filename="notes.txt", content_type="text/plain", tenant_id="tenant-a")
        assert isinstance(target, UploadURL)
        assert target.http_method == "PUT"
        assert target.key.startswith("tenant-a/")
        assert target.key.endswith("notes.txt")
        assert "signature" not in repr(target)  # the URL is a capability: hidden from repr
        upload_to_url(target.upload_url, b"hello", content_type="text/plain")
        download = client.generate_download_url(key=target.key)
        assert isinstance(download, DownloadURL)
        assert download.http_method == "GET"
        assert httpx2.get(download.download_url).content == b"hello"


def test_upload_and_download_a_file(sandbox: Any, tenant_a: ClientCredentials, tmp_path: Path) -> None:
    source = tmp_path / "report.pdf"
    data = hashlib.sha256(b"seed").digest() * (3 * MB // 32 + 11)
    source.write_bytes(data)
    uploads: list[tuple[int, int | None]] = []
    downloads: list[tuple[int, int | None]] = []
    with StorageClient(base_url=sandbox.url, credentials=tenant_a) as client:
        result = client.upload(source, filename="report.pdf", progress=lambda d, t: uploads.append((d, t)))
        assert result.key is not None
        assert result.key.endswith("report.pdf")
        assert result.size == len(data)
        assert result.sha256 == hashlib.sha256(data).hexdigest()
        assert result.checksum_sent
        dest = tmp_path / "copy.pdf"
        got = client.download(result.key, dest, progress=lambda d, t: downloads.append((d, t)))
    assert dest.read_bytes() == data
    assert got.key == result.key
    assert got.sha256 == result.sha256
    assert uploads[-1] == (len(data), len(data))
    assert downloads[-1] == (len(data), len(data))
    assert [p for p in tmp_path.iterdir() if p.suffix == ".part"] == []


@pytest.mark.parametrize("kind", ["bytes", "file", "iterator"])
def test_upload_sources(sandbox: Any, tenant_a: ClientCredentials, tmp_path: Path, kind: str) -> None:
    data = b"0123456789" * 50_000
    source: Any = {"bytes": data, "file": io.BytesIO(data), "iterator": iter([data[:7], data[7:]])}[kind]
    with StorageClient(base_url=sandbox.url, credentials=tenant_a) as client:
        result = client.upload(source, filename=f"{kind}.bin", content_type="application/octet-stream")
        assert result.key is not None
        client.download(result.key, tmp_path / "out", expected_sha256=hashlib.sha256(data).hexdigest())
    assert (tmp_path / "out").read_bytes() == data


def test_the_sandbox_verifies_the_checksum(sandbox: Any, tenant_a: ClientCredentials) -> None:
    with StorageClient(base_url=sandbox.url, credentials=tenant_a) as client:
        target = client.generate_upload_url(filename="x.bin", content_type="application/octet-stream")
        wrong = {"x-amz-checksum-sha256": "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="}
        with pytest.raises(BadRequestError, match="x-amz-checksum-sha256"):
            upload_to_url(target.upload_url, b"payload", headers=wrong, content_type="application/octet-stream")


def test_tenant_isolation(sandbox: Any, tenant_a: ClientCredentials, tenant_b: ClientCredentials) -> None:
    with StorageClient(base_url=sandbox.url, credentials=tenant_a) as a:
        key = a.upload(b"tenant a's secret plans", filename="plans.txt").key
        assert key is not None
    with StorageClient(base_url=sandbox.url, credentials=tenant_b) as b:
        with pytest.raises(NotFoundError):
            b.generate_download_url(key=key)
        with pytest.raises(PermissionDeniedError, match="tenant"):
            b.generate_upload_url(filename="x.txt", content_type="text/plain", tenant_id="tenant-a")


def test_errors(sandbox: Any, tenant_a: ClientCredentials, tmp_path: Path) -> None:
    with StorageClient(base_url=sandbox.url) as anonymous, pytest.raises(NoCredentialsError):
        anonymous.generate_upload_url(filename="x", content_type="text/plain")  # refused before sending
    wrong = StaticToken("not-a-token")
    with StorageClient(base_url=sandbox.url, credentials=wrong) as client, pytest.raises(AuthenticationError):
        client.generate_upload_url(filename="x", content_type="text/plain")
    with StorageClient(base_url=sandbox.url, credentials=tenant_a) as client:
        with pytest.raises(NotFoundError):
            client.download("tenant-a/none/such.txt", tmp_path / "none")
        assert not (tmp_path / "none").exists()
        with pytest.raises(ValueError, match="filename"):
            client.upload(b"x", filename="")
        with pytest.raises(ValueError, match="key"):
            client.generate_download_url(key="  ")
        with pytest.raises(ValueError, match="source"):
            client.upload(tmp_path / "missing.bin", filename="missing.bin")


def test_expired_sandbox_url(tenant_a: ClientCredentials, tmp_path: Path) -> None:
    """A download URL from a sandbox whose URLs live 1 s, used after its expiry, gives a clear error.

    The sandbox signs with the wall clock, so this test builds the expired URL by hand: the same key and
    signature scheme, an ``expires`` in the past, signed by the sandbox's own signer.
    """
    from atriumn.sandbox import Sandbox

    with Sandbox(admin_client_id=ADMIN_ID, admin_client_secret=ADMIN_SECRET) as sb:
        creds = tenant_credentials(sb, "tenant-x")
        with StorageClient(base_url=sb.url, credentials=creds) as client:
            key = client.upload(b"old", filename="old.txt").key
            assert key is not None
            url = client.generate_download_url(key=key).download_url
            signer = sb._app.state.signer  # the sandbox's own signer: a URL that is genuine, only expired
            expires = 1_000_000_000
            expired = url.split("?")[0] + f"?expires={expires}&signature={signer.url_signature('GET', key, expires)}"
            from atriumn.storage import download_from_url

            with pytest.raises(PermissionDeniedError) as info:
                download_from_url(expired, tmp_path / "old.txt")
    assert "pre-signed URL has expired" in str(info.value)
    assert "generate a new one" in str(info.value)
    assert not (tmp_path / "old.txt").exists()


def test_rich_progress_bar(sandbox: Any, tenant_a: ClientCredentials) -> None:
    from rich.console import Console

    console = Console(file=io.StringIO(), force_terminal=False, width=100)
    with (
        StorageClient(base_url=sandbox.url, credentials=tenant_a) as client,
        rich_progress("uploading", console=console) as progress,
    ):
        client.upload(b"z" * (2 * MB), filename="z.bin", progress=progress)
    output = console.file.getvalue()  # type: ignore[attr-defined]
    assert "uploading" in output
    assert "2.1" in output  # 2.1 MB transferred, as rich writes it


async def test_async_client(
    sandbox: Any, tenant_a: ClientCredentials, tenant_b: ClientCredentials, tmp_path: Path
) -> None:
    data = bytes(range(256)) * 10_000
    source = tmp_path / "a.bin"
    source.write_bytes(data)
    async with AsyncStorageClient(base_url=sandbox.url, credentials=tenant_a) as client:
        target = await client.generate_upload_url(filename="a.bin", content_type="application/octet-stream")
        assert target.key.startswith("tenant-a/")
        result = await client.upload(source, filename="a.bin")
        assert result.key is not None
        assert (await client.generate_download_url(key=result.key)).http_method == "GET"
        got = await client.download(result.key, tmp_path / "b.bin")
        assert got.sha256 == result.sha256
        with pytest.raises(NotFoundError):
            await client.download("tenant-a/missing", tmp_path / "c.bin")
    assert (tmp_path / "b.bin").read_bytes() == data
    async with AsyncStorageClient(base_url=sandbox.url, credentials=tenant_b) as other:
        with pytest.raises(NotFoundError):
            await other.generate_download_url(key=result.key)


def test_presigned_urls_never_in_logs_spans_or_errors(
    sandbox: Any, tenant_a: ClientCredentials, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    import logging
    from urllib.parse import parse_qs, urlsplit

    from opentelemetry import trace
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    if not isinstance(trace.get_tracer_provider(), TracerProvider):
        trace.set_tracer_provider(TracerProvider())
    provider = trace.get_tracer_provider()
    assert isinstance(provider, TracerProvider)
    exporter = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    caplog.set_level(logging.DEBUG, logger="atriumn")

    with StorageClient(base_url=sandbox.url, credentials=tenant_a) as client:
        target = client.generate_upload_url(filename="s.txt", content_type="text/plain")
        upload_to_url(target.upload_url, b"secret-free", content_type="text/plain", transport=client.transfer_transport)
        url = client.generate_download_url(key=target.key).download_url
        from atriumn.storage import download_from_url

        download_from_url(url, tmp_path / "s.txt", transport=client.transfer_transport)
        broken = url.replace("signature=", "signature=0")
        with pytest.raises(PermissionDeniedError) as info:
            download_from_url(broken, tmp_path / "t.txt", transport=client.transfer_transport)
    signatures = [parse_qs(urlsplit(u).query)["signature"][0] for u in (target.upload_url, url, broken)]
    logged = [r.getMessage() + repr(r.__dict__) for r in caplog.records]
    traced = [f"{s.name} {dict(s.attributes or {})}" for s in exporter.get_finished_spans()]
    assert any("/_blobs/" in t for t in traced), "no pre-signed request span recorded"
    assert any("/_blobs/" in t for t in logged), "no pre-signed request logged"
    for signature in signatures:
        assert len(signature) > 16
        for text in [*logged, *traced, str(info.value), info.value.url, repr(target)]:
            assert signature not in text
