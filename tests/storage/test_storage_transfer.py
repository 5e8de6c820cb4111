"""The transfer helpers against a scriptable local server (headers, retries, truncation) and moto's S3."""

from __future__ import annotations

import base64
import hashlib
import io
from pathlib import Path
from typing import Any

import pytest

from atriumn.core import NetworkError, PermissionDeniedError, StaticToken, Transport
from atriumn.storage import (
    ChecksumMismatchError,
    async_transfer_transport,
    download_from_url,
    download_from_url_async,
    transfer_transport,
    upload_to_url,
    upload_to_url_async,
)

MB = 1024 * 1024


def b64sha(data: bytes) -> str:
    return base64.b64encode(hashlib.sha256(data).digest()).decode()


def _parts(directory: Path) -> list[Path]:
    return [p for p in directory.iterdir() if p.name.endswith(".part")]


# --- what reaches a third-party host ------------------------------------------------------------------


def test_presigned_requests_carry_no_credentials_and_no_traceparent(scripted: Any, tmp_path: Path) -> None:
    from opentelemetry.sdk.trace import TracerProvider

    provider = TracerProvider()
    tracer = provider.get_tracer("test")
    # A transport WITH credentials, whose own origin is the presigned host: the operation still refuses them.
    api_like = Transport(base_url=scripted.url, credentials=StaticToken("not-a-real-token-0000"))
    with tracer.start_as_current_span("user-span"), transfer_transport() as t:
        upload_to_url(f"{scripted.url}/blob?X-Amz-Signature=abc", b"hello", transport=t)
        download_from_url(f"{scripted.url}/blob?X-Amz-Signature=abc", tmp_path / "out", transport=t)
        upload_to_url(f"{scripted.url}/blob2", b"hello", transport=api_like)
    api_like.close()
    assert len(scripted.requests) == 3
    for request in scripted.requests:
        assert "authorization" not in request.headers
    for request in scripted.requests[:2]:  # the transfer transport: nothing of ours at all
        assert "traceparent" not in request.headers
        assert "x-request-id" not in request.headers
    # The API transport, used on its own origin, may propagate the trace (it is not a third party) but
    # still sends no credentials with a pre-signed request.
    assert "traceparent" in scripted.requests[2].headers


def test_upload_sends_length_checksum_and_content_type(scripted: Any) -> None:
    data = bytes(range(256)) * 4096  # 1 MiB
    seen: list[tuple[int, int | None]] = []
    result = upload_to_url(
        f"{scripted.url}/x", data, content_type="application/pdf", progress=lambda d, t: seen.append((d, t))
    )
    (request,) = scripted.requests
    assert request.method == "PUT"
    assert request.headers["content-length"] == str(len(data))
    assert request.headers["content-type"] == "application/pdf"
    assert request.headers["x-amz-checksum-sha256"] == b64sha(data)
    assert request.sha256 == hashlib.sha256(data).hexdigest()
    assert result.size == len(data)
    assert result.sha256 == hashlib.sha256(data).hexdigest()
    assert result.sha256_base64 == b64sha(data)
    assert result.etag == '"etag-1"'
    assert result.checksum_sent
    assert seen[0] == (0, len(data))
    assert seen[-1] == (len(data), len(data))


def test_upload_without_checksum_still_reports_it(scripted: Any) -> None:
    result = upload_to_url(f"{scripted.url}/x", b"abc", checksum=False)
    assert "x-amz-checksum-sha256" not in scripted.requests[0].headers
    assert result.sha256 == hashlib.sha256(b"abc").hexdigest()
    assert not result.checksum_sent


@pytest.mark.parametrize("kind", ["path", "file", "iterator", "factory", "unseekable"])
def test_every_source_kind_streams_the_same_bytes(scripted: Any, make_file: Any, kind: str) -> None:
    path = make_file(3 * MB + 5)
    data = path.read_bytes()
    source: Any
    size = None
    if kind == "path":
        source = path
    elif kind == "file":
        source = path.open("rb")
    elif kind == "iterator":
        source = iter([data[: MB // 2], data[MB // 2 :]])
    elif kind == "factory":
        source = lambda: (data[i : i + 100_000] for i in range(0, len(data), 100_000))  # noqa: E731
        size = len(data)
    else:

        class Pipe(io.RawIOBase):
            def __init__(self) -> None:
                self.inner = io.BytesIO(data)

            def readable(self) -> bool:
                return True

            def seekable(self) -> bool:
                return False

            def readinto(self, b: Any) -> int:
                return self.inner.readinto(b)

        source = Pipe()
    result = upload_to_url(f"{scripted.url}/x", source, size=size)
    assert scripted.blob == data
    assert result.size == len(data)
    assert scripted.requests[0].headers["x-amz-checksum-sha256"] == b64sha(data)


def test_file_object_is_read_from_its_current_position(scripted: Any) -> None:
    f = io.BytesIO(b"headerPAYLOAD")
    f.seek(6)
    result = upload_to_url(f"{scripted.url}/x", f)
    assert scripted.blob == b"PAYLOAD"
    assert result.size == 7


def test_bad_sources_fail_before_any_request(scripted: Any, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="source"):
        upload_to_url(f"{scripted.url}/x", tmp_path / "missing")
    with pytest.raises(ValueError, match="source"):
        upload_to_url(f"{scripted.url}/x", 42)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="size"):
        upload_to_url(f"{scripted.url}/x", lambda: [b"ab"], size=-1)
    with pytest.raises(ValueError, match="url"):
        upload_to_url("not a url", b"x")
    assert scripted.requests == []


def test_factory_that_lies_about_its_size_is_refused(scripted: Any) -> None:
    with pytest.raises(ValueError, match="size"):
        upload_to_url(f"{scripted.url}/x", lambda: [b"abcd"], size=3, checksum=False)


def test_a_retried_upload_restarts_from_the_first_byte(scripted: Any, make_file: Any) -> None:
    path = make_file(2 * MB + 1)
    scripted.plan = ["503", "ok"]
    progress: list[tuple[int, int | None]] = []
    with transfer_transport(max_retries=2) as t:
        result = upload_to_url(f"{scripted.url}/x", path, transport=t, progress=lambda d, n: progress.append((d, n)))
    assert [r.size for r in scripted.requests] == [path.stat().st_size] * 2
    assert scripted.requests[0].sha256 == scripted.requests[1].sha256 == result.sha256
    assert scripted.blob == path.read_bytes()
    restarts = [i for i, (done, _) in enumerate(progress) if done == 0]
    assert len(restarts) == 2  # progress went back to 0 for the second attempt


def test_transfer_transport_refuses_credentials() -> None:
    from atriumn.core import ConfigurationError

    with pytest.raises(ConfigurationError, match="credentials"):
        transfer_transport(credentials=StaticToken("not-a-real-token-0000"))


# --- downloads -----------------------------------------------------------------------------------------


def test_download_is_atomic_and_checked(scripted: Any, tmp_path: Path) -> None:
    scripted.blob = b"x" * (3 * MB + 3)
    dest = tmp_path / "out.bin"
    seen: list[tuple[int, int | None]] = []
    result = download_from_url(f"{scripted.url}/b", dest, progress=lambda d, t: seen.append((d, t)))
    assert dest.read_bytes() == scripted.blob
    assert result.size == len(scripted.blob)
    assert result.sha256 == hashlib.sha256(scripted.blob).hexdigest()
    assert not result.checksum_verified
    assert seen[-1] == (len(scripted.blob), len(scripted.blob))
    assert _parts(tmp_path) == []


def test_download_verifies_the_servers_checksum(scripted: Any, tmp_path: Path) -> None:
    scripted.blob = b"payload"
    scripted.extra_headers = {"x-amz-checksum-sha256": b64sha(b"payload")}
    result = download_from_url(f"{scripted.url}/b", tmp_path / "ok")
    assert result.checksum_verified
    scripted.extra_headers = {"x-amz-checksum-sha256": b64sha(b"something else")}
    dest = tmp_path / "bad"
    with pytest.raises(ChecksumMismatchError, match="SHA-256"):
        download_from_url(f"{scripted.url}/b", dest)
    assert not dest.exists()
    assert _parts(tmp_path) == []


def test_download_checks_expected_sha256_and_keeps_the_old_file(scripted: Any, tmp_path: Path) -> None:
    scripted.blob = b"new content"
    dest = tmp_path / "keep.txt"
    dest.write_bytes(b"old content")
    with pytest.raises(ChecksumMismatchError):
        download_from_url(f"{scripted.url}/b", dest, expected_sha256="0" * 64)
    assert dest.read_bytes() == b"old content"
    result = download_from_url(f"{scripted.url}/b", dest, expected_sha256=hashlib.sha256(b"new content").hexdigest())
    assert result.checksum_verified
    assert dest.read_bytes() == b"new content"


def test_interrupted_download_restarts_cleanly(scripted: Any, tmp_path: Path) -> None:
    scripted.blob = bytes(range(256)) * 8192
    scripted.plan = ["truncate", "ok"]
    dest = tmp_path / "d.bin"
    result = download_from_url(f"{scripted.url}/b", dest, max_restarts=1)
    assert dest.read_bytes() == scripted.blob
    assert result.size == len(scripted.blob)
    assert len(scripted.requests) == 2
    assert _parts(tmp_path) == []


def test_download_that_keeps_failing_leaves_nothing(scripted: Any, tmp_path: Path) -> None:
    scripted.blob = b"y" * MB
    scripted.plan = ["truncate", "truncate"]
    dest = tmp_path / "d.bin"
    with pytest.raises(NetworkError, match="interrupted 2 time"):
        download_from_url(f"{scripted.url}/b", dest, max_restarts=1)
    assert not dest.exists()
    assert _parts(tmp_path) == []


def test_download_argument_errors(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="destination"):
        download_from_url("http://127.0.0.1:9/x", tmp_path)
    with pytest.raises(ValueError, match="destination"):
        download_from_url("http://127.0.0.1:9/x", tmp_path / "no" / "such" / "dir")
    with pytest.raises(ValueError, match="expected_sha256"):
        download_from_url("http://127.0.0.1:9/x", tmp_path / "f", expected_sha256="xyz")


# --- async twins ---------------------------------------------------------------------------------------


async def test_async_upload_and_download(scripted: Any, make_file: Any, tmp_path: Path) -> None:
    path = make_file(2 * MB + 7)
    scripted.plan = ["503"]
    async with async_transfer_transport(max_retries=1) as t:
        up = await upload_to_url_async(f"{scripted.url}/x", path, transport=t)
        scripted.plan = ["truncate"]
        down = await download_from_url_async(f"{scripted.url}/x", tmp_path / "copy", transport=t)
    assert scripted.blob == path.read_bytes()
    assert (tmp_path / "copy").read_bytes() == path.read_bytes()
    assert up.sha256 == down.sha256
    assert scripted.requests[0].headers["x-amz-checksum-sha256"] == up.sha256_base64
    assert _parts(tmp_path) == []


# --- real S3 pre-signed URLs (moto) -----------------------------------------------------------------------


def _presign(client: Any, op: str, key: str, expires: int = 300, **params: Any) -> str:
    return client.generate_presigned_url(  # type: ignore[no-any-return]
        op, Params={"Bucket": "atriumn-test", "Key": key, **params}, ExpiresIn=expires
    )


def test_s3_multi_megabyte_round_trip(moto_s3: Any, make_file: Any, tmp_path: Path) -> None:
    client, _ = moto_s3
    path = make_file(12 * MB + 123, "big.bin")
    put = _presign(client, "put_object", "big.bin", ContentType="application/octet-stream")
    with transfer_transport() as t:
        up = upload_to_url(put, path, transport=t, content_type="application/octet-stream")
        head = client.head_object(Bucket="atriumn-test", Key="big.bin")
        assert head["ContentLength"] == path.stat().st_size
        down = download_from_url(_presign(client, "get_object", "big.bin"), tmp_path / "copy.bin", transport=t)
    assert down.sha256 == up.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert (tmp_path / "copy.bin").read_bytes() == path.read_bytes()
    assert up.etag == head["ETag"]


async def test_s3_round_trip_async(moto_s3: Any, tmp_path: Path) -> None:
    client, _ = moto_s3
    data = bytes(range(256)) * 20_000
    async with async_transfer_transport() as t:
        up = await upload_to_url_async(_presign(client, "put_object", "a.bin"), data, transport=t)
        down = await download_from_url_async(_presign(client, "get_object", "a.bin"), tmp_path / "a", transport=t)
    assert down.sha256 == up.sha256
    assert (tmp_path / "a").read_bytes() == data


def test_s3_expired_url_gives_a_clear_error(moto_s3: Any, tmp_path: Path) -> None:
    client, expiry = moto_s3
    client.put_object(Bucket="atriumn-test", Key="old.txt", Body=b"old")
    get = _presign(client, "get_object", "old.txt", expires=60)
    put = _presign(client, "put_object", "old.txt", expires=60)
    expiry.skew = 3600.0  # an hour later
    try:
        with pytest.raises(PermissionDeniedError) as info:
            download_from_url(get, tmp_path / "old.txt")
        with pytest.raises(PermissionDeniedError, match="expired"):
            upload_to_url(put, b"new" * 100_000)
    finally:
        expiry.skew = 0.0
    error = info.value
    assert error.status_code == 403
    assert error.code == "AccessDenied"
    assert "pre-signed URL has expired" in str(error)
    assert "generate a new one" in str(error)
    assert "X-Amz-Signature=REDACTED" in error.url  # the signature never lands in errors
    assert not (tmp_path / "old.txt").exists()
    assert _parts(tmp_path) == []
