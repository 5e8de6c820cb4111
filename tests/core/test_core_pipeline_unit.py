"""The request pipeline's own decisions, with ``httpx2.MockTransport`` (no sockets: nothing here does I/O
of its own — URL building, headers, keys, bodies, the attempt header, derived transports)."""

from __future__ import annotations

import json
import re
import sys
from typing import Any

import attrs
import httpx2
import pytest
from core_helpers import FAST

from atriumn.core import RAW, AsyncTransport, Operation, ServerError, StaticToken, Transport, __version__


@attrs.frozen(kw_only=True)
class NewItem:
    tenant_id: str
    display_name: str | None = None


def recording(status: int = 200, body: Any = None) -> tuple[list[httpx2.Request], httpx2.MockTransport]:
    seen: list[httpx2.Request] = []

    def handler(request: httpx2.Request) -> httpx2.Response:
        request.read()
        seen.append(request)
        return httpx2.Response(status, json={"ok": True} if body is None else body)

    return seen, httpx2.MockTransport(handler)


def test_url_path_params_and_query() -> None:
    seen, mock = recording()
    with Transport("http://api.test/v2/", http_transport=mock) as t:
        t.send(
            Operation(
                method="get",
                path="/content/{id}/text",
                path_params={"id": "a/b c?"},
                query={"tags": ["x", "y"], "active": True, "limit": 5, "nextToken": None},
            )
        )
    (req,) = seen
    assert req.method == "GET"
    assert str(req.url) == "http://api.test/v2/content/a%2Fb%20c%3F/text?tags=x&tags=y&active=true&limit=5"


def test_empty_path_params_are_refused_before_sending() -> None:
    seen, mock = recording()
    with Transport("http://api.test", http_transport=mock) as t, pytest.raises(ValueError, match="id"):
        t.send(Operation(method="GET", path="/content/{id}", path_params={"id": ""}))
    assert seen == []


def test_json_models_in_the_service_casing_with_none_omitted() -> None:
    seen, mock = recording()
    with Transport("http://api.test", http_transport=mock) as t:
        t.send(Operation(method="POST", path="/a", json=NewItem(tenant_id="t1")))
        t.send(Operation(method="POST", path="/b", json=NewItem(tenant_id="t1", display_name="n"), casing="snake"))
    assert json.loads(seen[0].content) == {"tenantId": "t1"}
    assert json.loads(seen[1].content) == {"tenant_id": "t1", "display_name": "n"}
    assert seen[0].headers["content-type"] == "application/json"


def test_standard_headers() -> None:
    seen, mock = recording()
    with Transport("http://api.test", http_transport=mock, headers={"X-Tenant": "t9"}, retry=FAST) as t:
        t.send(Operation(method="GET", path="/a", headers={"X-Extra": "1"}))
        t.send(Operation(method="GET", path="/a"))
    first, second = seen
    ua = first.headers["user-agent"]
    assert ua.startswith(f"atriumn-python/{__version__} (")
    assert f"core/{__version__}" in ua
    assert f"httpx2/{httpx2.__version__}" in ua
    assert ".".join(map(str, sys.version_info[:3])) in ua
    assert (first.headers["x-tenant"], first.headers["x-extra"]) == ("t9", "1")
    assert re.fullmatch(r"[0-9a-f]{32}", first.headers["x-request-id"])
    assert first.headers["x-request-id"] != second.headers["x-request-id"]
    assert first.headers["atriumn-attempt"] == "attempt=1; max=4"


@pytest.mark.parametrize(
    ("method", "idempotent", "keyed"),
    [("GET", None, False), ("PUT", None, False), ("DELETE", None, False), ("POST", None, True), ("PATCH", None, True),
     ("POST", True, False)],
)  # fmt: skip
def test_idempotency_keys_only_where_needed(method: str, idempotent: bool | None, keyed: bool) -> None:
    seen, mock = recording()
    with Transport("http://api.test", http_transport=mock) as t:
        t.send(Operation(method=method, path="/a", idempotent=idempotent))
    assert ("idempotency-key" in seen[0].headers) is keyed


def test_custom_idempotency_header_name() -> None:
    seen, mock = recording(503)
    transport = Transport("http://api.test", http_transport=mock, idempotency_header="X-Idem", retry=FAST)
    with transport as t, pytest.raises(ServerError):
        t.send(Operation(method="POST", path="/a"))
    assert len({r.headers["x-idem"] for r in seen}) == 1
    assert len(seen) == 4


def test_derived_transports_share_pool_breakers_budget_and_stats() -> None:
    seen, mock = recording(503)
    with Transport("http://api.test", http_transport=mock, retry=FAST) as t:
        other = t.with_options(base_url="http://other.test", credentials=StaticToken("k"))
        assert other.http_client is t.http_client
        assert other._shared is t._shared
        with pytest.raises(ServerError):
            other.send(Operation(method="GET", path="/x"))
        assert t.stats().requests == 4
        assert seen[0].headers["authorization"] == "Bearer k"
        assert str(seen[0].url) == "http://other.test/x"
        same, owned = Transport.for_client(t)
        assert (same, owned) == (t, False)
        derived, owned = Transport.for_client(t, max_retries=0)
        assert owned is False and derived.retry.max_retries == 0
    fresh, owned = Transport.for_client(None, base_url="http://x.test")
    assert owned is True
    fresh.close()


def test_async_with_mock_transport() -> None:
    import asyncio

    async def handler(request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(200, json={"n": 1})

    async def main() -> Any:
        async with AsyncTransport("http://api.test", http_transport=httpx2.MockTransport(handler)) as t:
            return await t.send(Operation(method="GET", path="/a", response_type=RAW))

    assert asyncio.run(main()) == {"n": 1}


def test_stream_operations_are_closed_on_every_path() -> None:
    _, mock = recording(body={"big": "x" * 100})
    with Transport("http://api.test", http_transport=mock) as t:
        with t.stream(Operation(method="GET", path="/s")) as response:
            assert json.loads(response.read()) == {"big": "x" * 100}
        assert response.is_closed
        with pytest.raises(RuntimeError), t.stream(Operation(method="GET", path="/s")) as response:
            raise RuntimeError("caller failed mid-stream")
        assert response.is_closed


def test_each_call_gets_its_own_headers_from_the_merged_sets() -> None:
    """Headers merged once per distinct set are copied per call: nothing one call adds reaches the next."""
    seen, mock = recording()
    with Transport("http://api.test/", credentials=StaticToken("tok-1"), http_transport=mock, max_retries=2) as t:
        post = Operation(method="POST", path="/x", json={"a": 1}, headers={"X-Extra": "1", "authorization": "mine"})
        t.send(post)  # the first call learns the fixed credentials
        t.send(post)  # later ones take them from the merged set
        t.send(Operation(method="POST", path="/x", json={"a": 1}))
        t.send(post.evolve(headers={"x-request-id": "caller-id"}))
    first, second, plain, given = (r.headers for r in seen)
    for h in (first, second):
        assert h["x-extra"] == "1"
        assert h["authorization"] == "Bearer tok-1"  # the credentials win over the operation's header, any case
        assert len(h.get_list("authorization")) == 1
    assert first["idempotency-key"] != second["idempotency-key"]
    assert first["x-request-id"] != second["x-request-id"]
    assert "x-extra" not in plain and plain["authorization"] == "Bearer tok-1"
    assert given["x-request-id"] == "caller-id" and len(given.get_list("x-request-id")) == 1
