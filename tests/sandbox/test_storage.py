"""Storage API: pre-signed URLs over real sockets, without Authorization."""

from __future__ import annotations

import base64
import hashlib
import time
from collections.abc import Callable
from urllib.parse import parse_qs, urlsplit

import httpx2

from atriumn.sandbox import Sandbox
from atriumn.sandbox._security import Signer

from .helpers import Api, assert_error, token_for


def _upload_url(api: Api, filename: str = "report.pdf", content_type: str = "application/pdf") -> dict[str, str]:
    response = api.post("/generate-upload-url", json={"filename": filename, "contentType": content_type})
    assert response.status_code == 200, response.text
    return dict(response.json())


def test_upload_then_download_without_authorization(api: Api) -> None:
    ticket = _upload_url(api)
    assert ticket["httpMethod"] == "PUT"
    assert ticket["s3Key"].endswith("/report.pdf")
    data = b"%PDF-1.7 hello" * 1000
    checksum = base64.b64encode(hashlib.sha256(data).digest()).decode()
    put = httpx2.put(ticket["uploadUrl"], content=data, headers={"x-amz-checksum-sha256": checksum})
    assert put.status_code == 200, put.text
    assert put.headers["x-amz-checksum-sha256"] == checksum

    download = api.post("/generate-download-url", json={"s3Key": ticket["s3Key"]})
    assert download.status_code == 200
    assert download.json()["httpMethod"] == "GET"
    got = httpx2.get(download.json()["downloadUrl"])
    assert got.status_code == 200
    assert got.content == data
    assert got.headers["content-length"] == str(len(data))


def test_checksum_mismatch_is_refused(api: Api) -> None:
    ticket = _upload_url(api)
    wrong = base64.b64encode(hashlib.sha256(b"other").digest()).decode()
    put = httpx2.put(ticket["uploadUrl"], content=b"data", headers={"x-amz-checksum-sha256": wrong})
    assert_error(put, 400, "bad_request")
    # nothing was stored
    assert_error(api.post("/generate-download-url", json={"s3Key": ticket["s3Key"]}), 404, "not_found")


def test_bad_signature_and_wrong_method(api: Api) -> None:
    ticket = _upload_url(api)
    url = ticket["uploadUrl"]
    tampered = url[:-4] + ("0000" if not url.endswith("0000") else "1111")
    assert_error(httpx2.put(tampered, content=b"x"), 403, "forbidden")
    assert_error(httpx2.get(url), 403, "forbidden")  # a PUT signature does not allow GET
    unsigned = url.split("?")[0]
    assert_error(httpx2.put(unsigned, content=b"x"), 403, "forbidden")
    other_key = url.replace("/report.pdf", "/other.pdf")
    assert_error(httpx2.put(other_key, content=b"x"), 403, "forbidden")


def test_expired_url_is_refused(atriumn_sandbox_factory: Callable[..., Sandbox]) -> None:
    sandbox = atriumn_sandbox_factory(signing_secret="known-secret")
    api = Api(sandbox, token_for(sandbox, sandbox.admin_client_id, sandbox.admin_client_secret))
    ticket = _upload_url(api)
    parts = urlsplit(ticket["uploadUrl"])
    expires = int(parse_qs(parts.query)["expires"][0])
    assert expires > time.time()
    # the same URL signed (correctly) with an expiry in the past
    past = int(time.time()) - 10
    signature = Signer("known-secret").url_signature("PUT", ticket["s3Key"], past)
    expired = f"{sandbox.url}{parts.path}?expires={past}&signature={signature}"
    response = assert_error(httpx2.put(expired, content=b"x"), 403, "forbidden")
    assert "expired" in response["error_description"]
    # and the fresh one works
    assert httpx2.put(ticket["uploadUrl"], content=b"x").status_code == 200


def test_upload_size_limit(atriumn_sandbox_factory: Callable[..., Sandbox]) -> None:
    sandbox = atriumn_sandbox_factory(max_upload_size=1000)
    api = Api(sandbox, token_for(sandbox, sandbox.admin_client_id, sandbox.admin_client_secret))
    ticket = _upload_url(api)
    assert_error(httpx2.put(ticket["uploadUrl"], content=b"x" * 1001), 413, "bad_request")

    def chunks():  # no content-length: the limit is enforced while streaming
        for _ in range(20):
            yield b"y" * 100

    assert_error(httpx2.put(ticket["uploadUrl"], content=chunks()), 413, "bad_request")
    assert httpx2.put(ticket["uploadUrl"], content=b"x" * 1000).status_code == 200


def test_storage_tenant_isolation(make_client: Callable[..., Api]) -> None:
    alice, bob = make_client(), make_client()
    ticket = _upload_url(alice)
    assert httpx2.put(ticket["uploadUrl"], content=b"secret").status_code == 200
    assert_error(bob.post("/generate-download-url", json={"s3Key": ticket["s3Key"]}), 404, "not_found")
    assert alice.post("/generate-download-url", json={"s3Key": ticket["s3Key"]}).status_code == 200
    other = bob.post("/generate-upload-url", json={"filename": "a", "tenantId": "someone-else"})
    assert_error(other, 403, "forbidden")


def test_storage_validation(api: Api) -> None:
    assert_error(api.post("/generate-upload-url", json={}), 400, "bad_request")
    assert_error(api.post("/generate-upload-url", json={"filename": 3}), 400, "bad_request")
    assert_error(api.post("/generate-download-url", json={"s3Key": "nope/x"}), 404, "not_found")
    assert_error(httpx2.post(f"{api.sandbox.url}/generate-upload-url", json={"filename": "a"}), 401, "unauthorized")
    odd = api.post("/generate-upload-url", json={"filename": "../../etc/pass wd"}).json()
    assert ".." not in odd["s3Key"]
    assert odd["s3Key"].endswith("/pass_wd")
