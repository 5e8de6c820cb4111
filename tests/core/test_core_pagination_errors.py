"""Pagination (lazy, stops on a missing or repeated token) and error mapping from every body shape."""

from __future__ import annotations

import asyncio
import json
import pickle
from typing import Any

import httpx2
import pytest

from atriumn.core import (
    RAW,
    APIError,
    AsyncPager,
    AuthenticationError,
    BadRequestError,
    CircuitOpenError,
    ConflictError,
    DecodeError,
    NetworkError,
    NotFoundError,
    Operation,
    Page,
    Pager,
    PermissionDeniedError,
    RateLimitError,
    RetryPolicy,
    ServerError,
    Transport,
    UnprocessableEntityError,
)
from atriumn.core._errors import parse_error_body

# --- pagination ---------------------------------------------------------------------------------------------


class Pages:
    """A fake list endpoint: token -> (items, next token); counts fetches."""

    def __init__(self, table: dict[str | None, tuple[list[int], str | None]]) -> None:
        self.table = table
        self.fetched: list[str | None] = []

    def __call__(self, token: str | None) -> Page[int]:
        self.fetched.append(token)
        items, nxt = self.table[token]
        return Page(items=items, next_token=nxt)

    async def afetch(self, token: str | None) -> Page[int]:
        await asyncio.sleep(0)
        return self(token)


THREE = {None: ([1, 2], "b"), "b": ([3, 4], "c"), "c": ([5], None)}


def test_pager_follows_tokens_lazily() -> None:
    fetch = Pages(THREE)
    pager = Pager(fetch)
    assert fetch.fetched == []  # nothing until iterated
    it = iter(pager)
    assert [next(it), next(it)] == [1, 2]
    assert fetch.fetched == [None]
    assert next(it) == 3
    assert fetch.fetched == [None, "b"]
    assert list(it) == [4, 5]
    assert fetch.fetched == [None, "b", "c"]
    assert list(pager) == [1, 2, 3, 4, 5]  # each iteration starts again
    assert len(fetch.fetched) == 6


def test_pages_and_first_page_and_start_token() -> None:
    fetch = Pages(THREE)
    assert [p.items for p in Pager(fetch).pages()] == [[1, 2], [3, 4], [5]]
    assert Pager(fetch).first_page().items == [1, 2]
    assert list(Pager(fetch, start_token="c")) == [5]


@pytest.mark.parametrize("last", [None, ""])
def test_pager_stops_on_a_missing_token(last: str | None) -> None:
    fetch = Pages({None: ([1], "x"), "x": ([2], last)})
    assert list(Pager(fetch)) == [1, 2]
    assert fetch.fetched == [None, "x"]


def test_pager_stops_on_a_repeated_token() -> None:
    fetch = Pages({None: ([1], "a"), "a": ([2], "b"), "b": ([3], "a")})
    assert list(Pager(fetch)) == [1, 2, 3]
    assert fetch.fetched == [None, "a", "b"]
    fetch = Pages({None: ([1], "a"), "a": ([2], "a")})
    assert list(Pager(fetch)) == [1, 2]


def test_pager_stops_when_the_server_repeats_the_start_token() -> None:
    fetch = Pages({"s": ([1], "s")})
    assert list(Pager(fetch, start_token="s")) == [1]
    assert fetch.fetched == ["s"]


def test_async_pager() -> None:
    async def main() -> None:
        fetch = Pages(THREE)
        pager = AsyncPager(fetch.afetch)
        agen = pager.__aiter__()
        assert await agen.__anext__() == 1
        assert fetch.fetched == [None]
        assert await pager.to_list() == [1, 2, 3, 4, 5]
        assert (await pager.first_page()).items == [1, 2]
        loop = Pages({None: ([1], "a"), "a": ([2], "a")})
        assert await AsyncPager(loop.afetch).to_list() == [1, 2]
        assert loop.fetched == [None, "a"]
        again = Pages({"s": ([1], "s")})
        assert await AsyncPager(again.afetch, start_token="s").to_list() == [1]
        await agen.aclose()

    asyncio.run(main())


# --- error bodies ---------------------------------------------------------------------------------------------

HTML = b"<!DOCTYPE html><html><head><title>502 Bad Gateway</title></head><body><h1>Bad</h1></body></html>"


@pytest.mark.parametrize(
    ("body", "ctype", "code", "description", "kind"),
    [
        (b'{"error": "not_found", "error_description": "no such content"}', "application/json", "not_found",
         "no such content", None),
        (b'{"detail": "Task not found"}', "application/json", None, "Task not found", None),
        (b'{"detail": [{"loc": ["body", "app"], "msg": "field required"}]}', "application/json", None,
         '[{"loc": ["body", "app"], "msg": "field required"}]', None),
        (b'{"error": {"message": "Rate limit reached", "type": "requests", "code": "rate_limit_exceeded"}}',
         "application/json", "rate_limit_exceeded", "Rate limit reached", "requests"),
        (b'{"error": {"message": "Bad key", "type": "invalid_request_error", "code": null}}',
         "application/json", "invalid_request_error", "Bad key", "invalid_request_error"),
        (b'{"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}', "application/json",
         "overloaded_error", "Overloaded", "overloaded_error"),
        (b'{"error": {"code": 429, "message": "Resource exhausted", "status": "RESOURCE_EXHAUSTED"}}',
         "application/json; charset=UTF-8", "RESOURCE_EXHAUSTED", "Resource exhausted", None),
        (b'{"message": "Internal server error", "code": "E42"}', "application/json", "E42", "Internal server error",
         None),
        (HTML, "text/html", None, "502 Bad Gateway (an HTML error page)", None),
        (b"upstream connect error", "text/plain", None, "upstream connect error", None),
        (b'{"error": tru', "application/json", None, '{"error": tru', None),
        (b"[1, 2]", "application/json", None, "[1, 2]", None),
    ],
)  # fmt: skip
def test_parse_error_body_shapes(body: bytes, ctype: str, code: str | None, description: str, kind: str | None) -> None:
    parsed = parse_error_body(body, ctype)
    assert (parsed.code, parsed.description, parsed.type) == (code, description, kind)


def mock_transport(handler: Any, **kwargs: Any) -> Transport:
    return Transport("http://api.test", http_transport=httpx2.MockTransport(handler), **kwargs)


@pytest.mark.parametrize(
    ("status", "cls", "code"),
    [(400, BadRequestError, "bad_request"), (401, AuthenticationError, "unauthorized"),
     (403, PermissionDeniedError, "forbidden"), (404, NotFoundError, "not_found"), (409, ConflictError, "conflict"),
     (422, UnprocessableEntityError, "unprocessable_entity"), (429, RateLimitError, "rate_limited"),
     (418, APIError, "http_418"), (500, ServerError, "server_error"), (529, ServerError, "server_error")],
)  # fmt: skip
def test_status_maps_to_the_error_class(status: int, cls: type[APIError], code: str) -> None:
    with mock_transport(lambda r: httpx2.Response(status, text=""), max_retries=0) as t, pytest.raises(cls) as info:
        t.send(Operation(method="GET", path="/x", response_type=RAW))
    err = info.value
    assert type(err) is cls
    assert (err.status_code, err.code, err.method) == (status, code, "GET")
    assert err.url == "http://api.test/x"


def test_api_error_carries_code_description_request_id_and_a_redacted_truncated_body() -> None:
    body = {"error": "bad_request", "error_description": "email is invalid", "password": "pw-LEAK", "pad": "x" * 5000}

    def handler(request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(400, json=body, headers={"x-request-id": "req-123"})

    with mock_transport(handler) as t, pytest.raises(BadRequestError) as info:
        t.send(Operation(method="POST", path="/auth/signup", response_type=RAW))
    err = info.value
    assert (err.code, err.description, err.request_id) == ("bad_request", "email is invalid", "req-123")
    assert str(err) == "400 bad_request: email is invalid (request id req-123)"
    assert "pw-LEAK" not in err.body
    assert len(err.body) <= 2048


def test_rate_limit_error_retry_after_and_errors_pickle() -> None:
    def handler(request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(429, json={"error": "rate_limited"}, headers={"retry-after": "90"})

    with mock_transport(handler) as t, pytest.raises(RateLimitError) as info:
        t.send(Operation(method="GET", path="/x", response_type=RAW))
    assert info.value.retry_after == 90
    again = pickle.loads(pickle.dumps(info.value))
    assert (type(again), again.retry_after, again.status_code, str(again)) == (
        RateLimitError,
        90,
        429,
        str(info.value),
    )
    for err in (CircuitOpenError("h:1", 3.0), NetworkError("x", method="GET", url="u"), DecodeError("d", path="$.a")):
        assert str(pickle.loads(pickle.dumps(err))) == str(err)


def test_error_hook_maps_a_service_shape() -> None:
    def hook(response: httpx2.Response) -> Exception | None:
        doc = response.json()
        return NotFoundError(status_code=404, code=doc["kind"], description="custom")

    def handler(request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(400, json={"kind": "gone"})

    with mock_transport(handler) as t, pytest.raises(NotFoundError) as info:
        t.send(Operation(method="GET", path="/x", error_hook=hook))
    assert info.value.code == "gone"


@pytest.mark.parametrize(
    ("content", "ctype", "rtype"),
    [(b"", "application/json", RAW), (b'{"a": tru', "application/json", RAW), (b"<html>hi</html>", "text/html", RAW)],
)
def test_bad_success_bodies_are_decode_errors(content: bytes, ctype: str, rtype: Any) -> None:
    def handler(request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(200, content=content, headers={"content-type": ctype, "x-request-id": "r1"})

    with mock_transport(handler) as t, pytest.raises(DecodeError) as info:
        t.send(Operation(method="GET", path="/x", response_type=rtype))
    assert info.value.request_id == "r1"


def test_response_types() -> None:
    def handler(request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(200, json={"a": [1, 2]})

    with mock_transport(handler) as t:
        assert t.send(Operation(method="GET", path="/x", response_type=RAW)) == {"a": [1, 2]}
        assert json.loads(t.send(Operation(method="GET", path="/x", response_type=bytes))) == {"a": [1, 2]}
        assert t.send(Operation(method="GET", path="/x")) is None


def test_nothing_but_atriumn_errors_escape() -> None:
    from atriumn.core import AtriumnError

    def handler(request: httpx2.Request) -> httpx2.Response:
        raise httpx2.ReadError("boom")

    with mock_transport(handler, retry=RetryPolicy(max_retries=1, initial_backoff=0.001)) as t:
        with pytest.raises(AtriumnError) as info:
            t.send(Operation(method="GET", path="/x"))
        assert isinstance(info.value, NetworkError)
        assert t.stats().requests == 2
