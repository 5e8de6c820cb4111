"""Fault injection, per request (header) and global (admin endpoint / Sandbox.inject_fault), over real sockets."""

from __future__ import annotations

import httpx2
import pytest

from atriumn.sandbox import FAULT_HEADER, Sandbox

from .helpers import Api, assert_error


@pytest.fixture(autouse=True)
def _no_global_faults(sandbox: Sandbox) -> None:
    sandbox.clear_faults()


def test_status_fault_does_not_execute(api: Api) -> None:
    response = api.post("/prompts", json={"name": "n", "template": "t"}, headers={FAULT_HEADER: "status:503"})
    assert_error(response, 503, "server_error")
    assert api.get("/prompts").json()["prompts"] == []
    limited = api.get("/health", headers={FAULT_HEADER: "status:429;retry-after=7", "x-request-id": "f1"})
    assert_error(limited, 429, "rate_limited")
    assert limited.headers["retry-after"] == "7"
    assert limited.headers["x-request-id"] == "f1"


def test_reset_before_head_is_a_disconnect_without_response(api: Api) -> None:
    with pytest.raises((httpx2.ReadError, httpx2.RemoteProtocolError)):
        api.post("/prompts", json={"name": "n", "template": "t"}, headers={FAULT_HEADER: "reset-before-head"})
    assert api.get("/prompts").json()["prompts"] == []  # not executed
    assert api.get("/health").status_code == 200  # the client recovers on a new connection


def test_reset_after_head_executes_then_drops(api: Api) -> None:
    headers = {FAULT_HEADER: "reset-after-head", "idempotency-key": "after-head"}
    body = {"name": "n", "template": "t"}
    auth = {"authorization": f"Bearer {api.token}"}
    with (
        httpx2.Client(base_url=api.sandbox.url, headers=auth) as client,
        client.stream("POST", "/prompts", json=body, headers=headers) as response,
    ):
        assert response.status_code == 201  # the head arrived
        with pytest.raises(httpx2.RemoteProtocolError):
            response.read()
    prompts = api.get("/prompts").json()["prompts"]
    assert len(prompts) == 1  # ... and the request was executed
    retry = api.post("/prompts", json=body, headers={"idempotency-key": "after-head"})
    assert retry.headers["idempotent-replayed"] == "true"
    assert retry.json()["id"] == prompts[0]["id"]


def test_truncate_cuts_the_body(api: Api) -> None:
    with (
        httpx2.Client(base_url=api.sandbox.url) as client,
        client.stream("GET", "/openapi.json", headers={FAULT_HEADER: "truncate"}) as response,
    ):
        assert response.status_code == 200
        expected = int(response.headers["content-length"])
        received = bytearray()

        def drain() -> None:
            for chunk in response.iter_raw():
                received.extend(chunk)

        with pytest.raises(httpx2.RemoteProtocolError, match="complete message body"):
            drain()
    assert 0 < len(received) < expected
    assert len(received) == expected // 2


def test_truncate_executes_the_request(api: Api) -> None:
    with pytest.raises(httpx2.RemoteProtocolError):
        api.post("/ingest/text", json={"content": "t"}, headers={FAULT_HEADER: "truncate"})
    assert len(api.get("/content").json()["items"]) == 1


def test_delay_provokes_a_read_timeout(api: Api) -> None:
    with pytest.raises(httpx2.ReadTimeout):
        api.get("/health", headers={FAULT_HEADER: "delay:1"}, timeout=0.2)
    slow = api.get("/health", headers={FAULT_HEADER: "delay:0.05"})
    assert slow.status_code == 200


@pytest.mark.parametrize(
    "bad", ["explode", "status:200", "status:abc", "delay:-1", "delay:x", "truncate:3", "status:500;x=1"]
)
def test_invalid_fault_header_is_400(api: Api, bad: str) -> None:
    assert_error(api.get("/health", headers={FAULT_HEADER: bad}), 400, "bad_request")


def test_global_fault_count_and_path_prefix(sandbox: Sandbox, admin: Api, api: Api) -> None:
    created = admin.post("/_sandbox/faults", json={"fault": "status:502", "count": 2, "pathPrefix": "/prompts"})
    assert created.status_code == 201
    assert created.json()["remaining"] == 2
    assert api.get("/health").status_code == 200  # other paths untouched
    assert [api.get("/prompts").status_code for _ in range(3)] == [502, 502, 200]
    assert admin.get("/_sandbox/faults").json()["faults"] == []


def test_global_fault_with_retry_after_and_clear(admin: Api, api: Api) -> None:
    admin.post(
        "/_sandbox/faults", json={"fault": "status:429", "count": None, "retryAfter": 2, "pathPrefix": "/content"}
    )
    for _ in range(3):
        response = api.get("/content")
        assert response.status_code == 429
        assert response.headers["retry-after"] == "2"
    # the sandbox's own endpoints are never faulted by global rules, so they can always be cleared
    assert admin.delete("/_sandbox/faults").status_code == 204
    assert api.get("/content").status_code == 200


def test_global_fault_probability_is_seeded(sandbox: Sandbox, api: Api) -> None:
    def run() -> list[int]:
        sandbox.inject_fault("status:500", count=None, probability=0.3, seed=42, path_prefix="/health")
        try:
            return [api.get("/health").status_code for _ in range(40)]
        finally:
            sandbox.clear_faults()

    first, second = run(), run()
    assert first == second  # same seed, same sequence
    assert 0 < first.count(500) < 40


def test_global_reset_via_sandbox(sandbox: Sandbox, api: Api) -> None:
    sandbox.inject_fault("reset-before-head", path_prefix="/health")
    with pytest.raises((httpx2.ReadError, httpx2.RemoteProtocolError)):
        api.get("/health")
    assert api.get("/health").status_code == 200


def test_fault_endpoint_validation_and_auth(admin: Api, api: Api) -> None:
    assert_error(admin.post("/_sandbox/faults", json={}), 400, "bad_request")
    assert_error(admin.post("/_sandbox/faults", json={"fault": "boom"}), 400, "bad_request")
    assert_error(admin.post("/_sandbox/faults", json={"fault": "truncate", "count": 0}), 400, "bad_request")
    assert_error(admin.post("/_sandbox/faults", json={"fault": "truncate", "probability": 2}), 400, "bad_request")
    assert_error(api.post("/_sandbox/faults", json={"fault": "truncate"}), 403, "forbidden")
    assert_error(api.delete("/_sandbox/faults"), 403, "forbidden")
    assert_error(httpx2.delete(f"{api.sandbox.url}/_sandbox/faults"), 401, "unauthorized")
