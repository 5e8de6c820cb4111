"""Cross-cutting behaviour: request ids, error shapes, body limits, idempotency, rate limits."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import httpx2
import pytest

from atriumn.sandbox import Sandbox

from .helpers import Api, assert_error, token_for


def test_request_id_echoed_or_generated(api: Api) -> None:
    assert api.get("/health", headers={"x-request-id": "req-123"}).headers["x-request-id"] == "req-123"
    first = api.get("/health").headers["x-request-id"]
    second = api.get("/health").headers["x-request-id"]
    assert first
    assert first != second
    assert api.get("/no/such/path", headers={"x-request-id": "r-404"}).headers["x-request-id"] == "r-404"


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        (b"{not json", "not valid JSON"),
        (b"[1, 2]", "must be a JSON object"),
        (b"", "empty"),
        (b"\xff\xfe", "not valid JSON"),
        (b'{"name": 1, "template": "t"}', "'name' must be a string"),
        (b'{"template": "t"}', "missing required field 'name'"),
    ],
)
def test_bad_bodies_are_400_with_a_description(api: Api, content: bytes, fragment: str) -> None:
    response = api.post("/prompts", content=content, headers={"content-type": "application/json"})
    body = assert_error(response, 400, "bad_request")
    assert fragment in body["error_description"]


def test_unknown_path_and_method(api: Api) -> None:
    assert_error(api.get("/nowhere"), 404, "not_found")
    assert_error(api.delete("/health"), 405, "bad_request")


def test_oversized_body_is_413(atriumn_sandbox_factory: Callable[..., Sandbox]) -> None:
    sandbox = atriumn_sandbox_factory(max_body_size=200)
    api = Api(sandbox, token_for(sandbox, sandbox.admin_client_id, sandbox.admin_client_secret))
    body = {"name": "n", "template": "x" * 300}
    assert_error(api.post("/prompts", json=body), 413, "bad_request")

    def chunked():  # no content-length: counted while reading
        yield b'{"name": "n", "template": "'
        yield b"x" * 300
        yield b'"}'

    streamed = api.post("/prompts", content=chunked(), headers={"content-type": "application/json"})
    assert_error(streamed, 413, "bad_request")
    assert api.post("/prompts", json={"name": "n", "template": "t"}).status_code == 201


def test_idempotent_replay_creates_nothing_new(api: Api) -> None:
    body = {"content": "once"}
    first = api.post("/ingest/text", json=body, headers={"idempotency-key": "k-1"})
    second = api.post("/ingest/text", json=body, headers={"idempotency-key": "k-1"})
    assert first.status_code == second.status_code == 202
    assert first.json() == second.json()
    assert second.headers["idempotent-replayed"] == "true"
    assert "idempotent-replayed" not in first.headers
    assert second.headers["x-request-id"] != first.headers["x-request-id"]
    assert len(api.get("/content").json()["items"]) == 1
    # another key creates another item
    third = api.post("/ingest/text", json=body, headers={"idempotency-key": "k-2"})
    assert third.json()["id"] != first.json()["id"]


def test_idempotency_key_with_a_different_body_is_refused(api: Api) -> None:
    assert api.post("/prompts", json={"name": "a", "template": "t"}, headers={"idempotency-key": "same"}).is_success
    other = api.post("/prompts", json={"name": "b", "template": "t"}, headers={"idempotency-key": "same"})
    assert_error(other, 422, "conflict")
    other_path = api.post("/ingest/text", json={"name": "a", "template": "t"}, headers={"idempotency-key": "same"})
    assert_error(other_path, 422, "conflict")
    assert len(api.get("/prompts").json()["prompts"]) == 1


def test_idempotency_keys_are_scoped_per_credential(make_client: Callable[..., Api]) -> None:
    alice, bob = make_client(), make_client()
    a = alice.post("/prompts", json={"name": "a", "template": "t"}, headers={"idempotency-key": "shared"})
    b = bob.post("/prompts", json={"name": "b", "template": "t"}, headers={"idempotency-key": "shared"})
    assert a.status_code == b.status_code == 201
    assert a.json()["id"] != b.json()["id"]


def test_failed_requests_are_not_stored(api: Api) -> None:
    bad = api.post("/prompts", json={"name": "a"}, headers={"idempotency-key": "retry-me"})
    assert_error(bad, 400, "bad_request")
    good = api.post("/prompts", json={"name": "a", "template": "t"}, headers={"idempotency-key": "retry-me"})
    assert good.status_code == 201


def test_multipart_replay_ignores_the_boundary(api: Api) -> None:
    files = {"file": ("a.txt", b"same bytes", "text/plain")}
    first = api.post("/ingest/file", files=files, headers={"idempotency-key": "mp"})
    second = api.post("/ingest/file", files=files, headers={"idempotency-key": "mp"})
    assert first.status_code == 202
    assert second.headers.get("idempotent-replayed") == "true"
    assert first.json()["id"] == second.json()["id"]


async def test_concurrent_duplicates_execute_once(api: Api) -> None:
    headers = {"authorization": f"Bearer {api.token}", "idempotency-key": "concurrent", "x-sandbox-fault": "delay:0.2"}
    async with httpx2.AsyncClient(base_url=api.sandbox.url, headers=headers) as client:
        responses = await asyncio.gather(
            *[client.post("/prompts", json={"name": "c", "template": "t"}) for _ in range(5)]
        )
    assert {r.status_code for r in responses} == {201}
    assert len({r.json()["id"] for r in responses}) == 1
    assert sum(r.headers.get("idempotent-replayed") == "true" for r in responses) == 4
    assert len(api.get("/prompts").json()["prompts"]) == 1


def test_rate_limit_per_credential(atriumn_sandbox_factory: Callable[..., Sandbox]) -> None:
    sandbox = atriumn_sandbox_factory(rate_limit=0.5, rate_limit_burst=3)
    admin = Api(sandbox, token_for(sandbox, sandbox.admin_client_id, sandbox.admin_client_secret))
    statuses = [admin.get("/prompts").status_code for _ in range(3)]
    assert statuses == [200, 200, 200]
    limited = admin.get("/prompts")
    assert_error(limited, 429, "rate_limited")
    assert int(limited.headers["retry-after"]) >= 1
    # another credential has its own bucket
    created = admin.http.post("/admin/credentials", json={"issued_to": "x", "scopes": []})
    assert_error(created, 429, "rate_limited")
    assert httpx2.get(f"{sandbox.url}/health").status_code == 200  # anonymous: bucket per address


def test_rate_limit_is_off_by_default(api: Api) -> None:
    assert {api.get("/health").status_code for _ in range(30)} == {200}
