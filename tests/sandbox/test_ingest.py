"""Ingest API: text, URL, file (multipart and pre-signed), background processing, content items."""

from __future__ import annotations

import json
import socket
from collections.abc import Callable
from typing import Any

import httpx2

from .helpers import Api, assert_error, wait_for


def _settled(api: Api, item_id: str) -> dict[str, Any]:
    def done() -> dict[str, Any] | None:
        item = api.get(f"/content/{item_id}").json()
        return item if item["status"] in ("completed", "failed") else None

    return dict(wait_for(done))


def test_text_goes_pending_processing_completed(api: Api) -> None:
    created = api.post("/ingest/text", json={"content": "hello world", "metadata": {"lang": "en"}})
    assert created.status_code == 202
    item = created.json()
    assert item["status"] == "pending"
    assert item["sourceType"] == "text"
    assert item["metadata"] == {"lang": "en"}
    assert item["size"] == 11
    seen = {item["status"]}

    def completed() -> bool:
        status = api.get(f"/content/{item['id']}").json()["status"]
        seen.add(status)
        return status == "completed"

    wait_for(completed, interval=0.005)
    assert "processing" in seen or "pending" in seen
    assert api.get(f"/content/{item['id']}/text").json()["content"] == "hello world"
    download = api.get(f"/content/{item['id']}/download-url").json()
    assert httpx2.get(download["downloadUrl"]).content == b"hello world"


def test_url_ingest_fetches_a_reachable_url(api: Api) -> None:
    url = f"{api.sandbox.url}/health"
    item = api.post("/ingest/url", json={"url": url}).json()
    assert item["sourceUri"] == url
    done = _settled(api, item["id"])
    assert done["status"] == "completed", done
    assert done["contentType"] == "application/json"
    assert json.loads(api.get(f"/content/{item['id']}/text").json()["content"])["status"] == "ok"


def test_unreachable_url_fails_with_a_reason(api: Api) -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    item = api.post("/ingest/url", json={"url": f"http://127.0.0.1:{port}/doc"}).json()
    done = _settled(api, item["id"])
    assert done["status"] == "failed"
    assert "could not fetch" in done["statusReason"]
    assert done["metadata"]["error"] == done["statusReason"]
    assert_error(api.get(f"/content/{item['id']}/text"), 404, "not_found")


def test_url_validation(api: Api) -> None:
    assert_error(api.post("/ingest/url", json={"url": "ftp://example.com/x"}), 400, "bad_request")
    assert_error(api.post("/ingest/url", json={"url": "not a url"}), 400, "bad_request")
    assert_error(api.post("/ingest/url", json={}), 400, "bad_request")


def test_multipart_file(api: Api) -> None:
    data = "line\n" * 50_000  # 250 kB
    response = api.post(
        "/ingest/file",
        files={"file": ("notes.txt", data.encode(), "text/plain")},
        data={"metadata": json.dumps({"k": "v"})},
    )
    assert response.status_code == 202, response.text
    item = response.json()
    assert item["sourceType"] == "file"
    assert item["sourceUri"] == "notes.txt"
    assert item["size"] == len(data)
    assert item["metadata"] == {"k": "v"}
    assert _settled(api, item["id"])["status"] == "completed"
    assert api.get(f"/content/{item['id']}/text").json()["content"] == data


def test_multipart_errors(api: Api) -> None:
    no_file = api.post("/ingest/file", files={"other": ("a.txt", b"x", "text/plain")})
    assert_error(no_file, 400, "bad_request")
    bad_meta = api.post("/ingest/file", files={"file": ("a.txt", b"x")}, data={"metadata": "{"})
    assert_error(bad_meta, 400, "bad_request")
    wrong_type = api.post("/ingest/file", content=b"x", headers={"content-type": "text/plain"})
    assert_error(wrong_type, 400, "bad_request")


def test_presigned_file_upload(api: Api) -> None:
    ticket = api.post("/ingest/file", json={"filename": "data.json", "contentType": "application/json"})
    assert ticket.status_code == 200
    body = ticket.json()
    assert body["httpMethod"] == "PUT"
    assert body["status"] == "pending"
    # nothing happens until the bytes arrive
    assert api.get(f"/content/{body['id']}").json()["status"] == "pending"
    put = httpx2.put(body["uploadUrl"], content=b'{"a": 1}', headers={"content-type": "application/json"})
    assert put.status_code == 200
    done = _settled(api, body["id"])
    assert done["status"] == "completed"
    assert done["size"] == 8
    assert api.get(f"/content/{body['id']}/text").json()["content"] == '{"a": 1}'


def test_presigned_text_upload(api: Api) -> None:
    ticket = api.post("/ingest/text", json={"metadata": {"a": "b"}}).json()
    assert httpx2.put(ticket["uploadUrl"], content=b"uploaded text").status_code == 200
    assert _settled(api, ticket["id"])["status"] == "completed"
    assert api.get(f"/content/{ticket['id']}/text").json()["content"] == "uploaded text"


def test_list_filters_and_pagination(api: Api) -> None:
    ids = [api.post("/ingest/text", json={"content": f"t{i}"}).json()["id"] for i in range(3)]
    ticket = api.post("/ingest/file", json={"filename": "never-uploaded.bin"}).json()
    for item_id in ids:
        _settled(api, item_id)
    everything = api.get("/content").json()
    assert [i["id"] for i in everything["items"]] == [*ids, ticket["id"]]
    assert everything["nextToken"] is None
    texts = api.get("/content", params={"sourceType": "text"}).json()["items"]
    assert [i["id"] for i in texts] == ids
    pending = api.get("/content", params={"status": "pending"}).json()["items"]
    assert [i["id"] for i in pending] == [ticket["id"]]
    first = api.get("/content", params={"limit": 2}).json()
    assert [i["id"] for i in first["items"]] == ids[:2]
    second = api.get("/content", params={"limit": 2, "nextToken": first["nextToken"]}).json()
    assert [i["id"] for i in second["items"]] == [ids[2], ticket["id"]]
    assert second["nextToken"] is None
    assert_error(api.get("/content", params={"limit": 1000}), 400, "bad_request")
    assert_error(api.get("/content", params={"nextToken": "%%%"}), 400, "bad_request")


def test_patch_text_put_and_delete(api: Api) -> None:
    item = api.post("/ingest/text", json={"content": "v1"}).json()
    _settled(api, item["id"])
    patched = api.patch(f"/content/{item['id']}", json={"metadata": {"x": "y"}, "sourceUri": "memo://1"})
    assert patched.status_code == 200
    assert patched.json()["metadata"] == {"x": "y"}
    assert patched.json()["sourceUri"] == "memo://1"
    assert_error(api.patch(f"/content/{item['id']}", json={"metadata": {"x": 1}}), 400, "bad_request")
    assert api.put(f"/content/{item['id']}/text", json={"content": "v2"}).status_code == 204
    assert api.get(f"/content/{item['id']}/text").json()["content"] == "v2"
    assert_error(api.put(f"/content/{item['id']}/text", json={"content": 2}), 400, "bad_request")
    assert api.delete(f"/content/{item['id']}").status_code == 204
    for method, path in [("GET", ""), ("DELETE", ""), ("GET", "/text"), ("GET", "/download-url")]:
        assert_error(api.request(method, f"/content/{item['id']}{path}"), 404, "not_found")


def test_content_tenant_isolation(make_client: Callable[..., Api]) -> None:
    alice, bob = make_client(), make_client()
    item = alice.post("/ingest/text", json={"content": "alice's"}).json()
    for method, path, body in [
        ("GET", "", None),
        ("PATCH", "", {"metadata": {}}),
        ("DELETE", "", None),
        ("GET", "/text", None),
        ("PUT", "/text", {"content": "x"}),
        ("GET", "/download-url", None),
    ]:
        assert_error(bob.request(method, f"/content/{item['id']}{path}", json=body), 404, "not_found")
    assert bob.get("/content").json()["items"] == []
    assert_error(bob.post("/ingest/text", json={"content": "x", "tenantId": item["tenantId"]}), 403, "forbidden")
    assert alice.get(f"/content/{item['id']}").status_code == 200


def test_no_download_url_before_upload(api: Api) -> None:
    ticket = api.post("/ingest/file", json={"filename": "later.bin"}).json()
    assert_error(api.get(f"/content/{ticket['id']}/download-url"), 404, "not_found")
