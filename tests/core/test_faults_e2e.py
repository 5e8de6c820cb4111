"""The transport against a socket-level fault-injecting server: every failure mode, sync and async.

Each case asserts what the server saw (how many attempts, which Idempotency-Key), the error type, and for
POSTs that no attempt ever arrived without the call's one key.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from typing import Any

import pytest

from atriumn.core import (
    RAW,
    APIError,
    AsyncTransport,
    CircuitBreakerPolicy,
    CircuitOpenError,
    ConnectError,
    DecodeError,
    NetworkError,
    Operation,
    RateLimitError,
    RequestTimeoutError,
    RetryPolicy,
    ServerError,
    StaticToken,
    Timeouts,
    Transport,
)
from tests.faultserver import Fault, FaultServer, Reply, refused_url

FAST = RetryPolicy(max_retries=3, initial_backoff=0.001, max_backoff=0.01)
OK = Reply(200, json={"ok": True})
GET = Operation(method="GET", path="/thing", response_type=RAW)
POST = Operation(method="POST", path="/things", json={"name": "x"}, response_type=RAW)


@pytest.fixture
def srv() -> Iterator[FaultServer]:
    with FaultServer() as server:
        yield server


def sync_send(srv: FaultServer, op: Operation[Any], **kwargs: Any) -> Any:
    options: dict[str, Any] = {"retry": FAST, "timeouts": Timeouts(read=0.3, connect=0.5), **kwargs}
    with Transport(srv.url, **options) as transport:
        return transport.send(op)


def async_send(srv: FaultServer, op: Operation[Any], **kwargs: Any) -> Any:
    options: dict[str, Any] = {"retry": FAST, "timeouts": Timeouts(read=0.3, connect=0.5), **kwargs}

    async def go() -> Any:
        async with AsyncTransport(srv.url, **options) as transport:
            return await transport.send(op)

    return asyncio.run(go())


DRIVERS = [pytest.param(sync_send, id="sync"), pytest.param(async_send, id="async")]


def keys(srv: FaultServer) -> list[str | None]:
    return [r.headers.get("idempotency-key") for r in srv.requests]


@pytest.mark.parametrize("send", DRIVERS)
@pytest.mark.parametrize(
    ("fault", "error"),
    [
        (Fault.reset_before_head(), NetworkError),
        (Fault.reset_after_head(), NetworkError),
        (Fault.close_before_head(), NetworkError),
        (Fault.delay(1.0), RequestTimeoutError),
        (Fault.slow_body(interval=0.5, count=5), RequestTimeoutError),
        (Fault.truncated_body(), NetworkError),
        (Reply(500, json={"error": "server_error"}), ServerError),
        (Reply(502, json={"error": "server_error"}), ServerError),
        (Reply(503, json={"error": "server_error"}), ServerError),
        (Reply(504, json={"error": "server_error"}), ServerError),
        (Reply(529, json={"type": "error", "error": {"type": "overloaded_error", "message": "busy"}}), ServerError),
        (Reply.html_error(502), ServerError),
    ],
    ids=lambda v: (getattr(v, "kind", None) and str(v.kind)) or getattr(v, "status", None) or "",
)
def test_post_retried_with_one_idempotency_key_then_succeeds(
    send: Any, srv: FaultServer, fault: Any, error: Any
) -> None:
    srv.script(fault, fault, OK)
    assert send(srv, POST) == {"ok": True}
    seen = keys(srv)
    assert len(seen) == 3
    assert seen[0] is not None
    assert len(set(seen)) == 1  # the same key on every attempt, never a POST without one
    attempts = [r.headers["atriumn-attempt"] for r in srv.requests]
    assert attempts == ["attempt=1; max=4", "attempt=2; max=4", "attempt=3; max=4"]


@pytest.mark.parametrize("send", DRIVERS)
@pytest.mark.parametrize(
    ("fault", "error"),
    [
        (Fault.reset_after_head(), NetworkError),
        (Fault.delay(1.0), RequestTimeoutError),
        (Fault.truncated_body(), NetworkError),
        (Reply(503, json={"error": "server_error", "error_description": "down"}), ServerError),
        (Reply.html_error(502), ServerError),
    ],
)
def test_exhausted_retries_raise_the_typed_error(send: Any, srv: FaultServer, fault: Any, error: type) -> None:
    srv.default = fault
    with pytest.raises(error) as info:
        send(srv, POST)
    assert len(srv.requests) == 4  # 1 + 3 retries
    assert len(set(keys(srv))) == 1
    if isinstance(info.value, APIError):
        assert info.value.status_code in (502, 503)
        assert "<html" not in str(info.value).lower()  # an HTML page becomes one readable line


@pytest.mark.parametrize("send", DRIVERS)
def test_post_without_retries_is_never_repeated_after_it_was_sent(send: Any, srv: FaultServer) -> None:
    srv.script(Fault.reset_after_head(), OK)
    with pytest.raises(NetworkError):
        send(srv, POST, retry=RetryPolicy(max_retries=0))
    assert len(srv.requests) == 1
    assert keys(srv) == [None]  # no retries possible: no key needed


@pytest.mark.parametrize("send", DRIVERS)
def test_post_marked_not_replayable_is_not_retried_after_send(send: Any, srv: FaultServer) -> None:
    """Content from a one-shot iterator cannot be resent: such a POST is not retried after it was sent."""
    srv.script(Reply(503, json={}), OK)

    async def agen() -> Any:
        yield b"one-shot"

    one_shot = iter([b"one-shot"]) if send is sync_send else agen()
    op = Operation(method="POST", path="/stream", content=one_shot, response_type=RAW)
    with pytest.raises(ServerError):
        send(srv, op)
    assert len(srv.requests) == 1


@pytest.mark.parametrize("send", DRIVERS)
def test_get_is_retried_after_a_reset_without_a_key(send: Any, srv: FaultServer) -> None:
    srv.script(Fault.reset_after_head(), OK)
    assert send(srv, GET) == {"ok": True}
    assert keys(srv) == [None, None]


@pytest.mark.parametrize("send", DRIVERS)
def test_connection_refused_is_a_connect_error_after_retries(send: Any) -> None:
    class Dead:
        url = refused_url().rstrip("/")

    with pytest.raises(ConnectError) as info:
        send(Dead, GET)  # type: ignore[arg-type]
    assert info.value.sent is False


@pytest.mark.parametrize("send", DRIVERS)
@pytest.mark.parametrize(
    "reply",
    [
        Reply.retry_after(0.05),
        Reply.retry_after_ms(50),
        Reply.retry_after_date(0.0, status=429),
        Reply(429, json={"error": "rate_limited"}),
    ],
    ids=["seconds", "ms", "http-date", "none"],
)
def test_429_each_retry_after_form_is_honoured(send: Any, srv: FaultServer, reply: Reply) -> None:
    srv.script(reply, OK)
    assert send(srv, POST) == {"ok": True}
    assert len(srv.requests) == 2


@pytest.mark.parametrize("send", DRIVERS)
def test_server_delay_above_the_cap_raises_at_once_with_retry_after(send: Any, srv: FaultServer) -> None:
    srv.script(Reply.retry_after(120), OK)
    started = time.monotonic()
    with pytest.raises(RateLimitError) as info:
        send(srv, GET)
    assert info.value.retry_after == 120
    assert len(srv.requests) == 1
    assert time.monotonic() - started < 30  # it did not sleep the two minutes


@pytest.mark.parametrize("send", DRIVERS)
def test_x_should_retry_overrides_the_status(send: Any, srv: FaultServer) -> None:
    srv.script(Reply.should_retry(False, status=503), OK)
    with pytest.raises(ServerError):
        send(srv, GET)
    assert len(srv.requests) == 1
    srv.clear()
    srv.script(Reply.should_retry(True, status=400), OK)
    assert send(srv, GET) == {"ok": True}
    assert len(srv.requests) == 2


@pytest.mark.parametrize("send", DRIVERS)
def test_invalid_json_is_a_decode_error_not_retried(send: Any, srv: FaultServer) -> None:
    srv.script(Reply.invalid_json())
    with pytest.raises(DecodeError) as info:
        send(srv, GET)
    assert "not valid JSON" in str(info.value)
    assert len(srv.requests) == 1


@pytest.mark.parametrize("send", DRIVERS)
def test_4xx_is_not_retried(send: Any, srv: FaultServer) -> None:
    srv.script(Reply(404, json={"error": "not_found", "error_description": "gone"}, headers={"x-request-id": "r1"}))
    with pytest.raises(APIError) as info:
        send(srv, POST)
    assert info.value.status_code == 404
    assert info.value.request_id == "r1"
    assert len(srv.requests) == 1


@pytest.mark.parametrize("send", DRIVERS)
def test_deadline_covers_every_retry(send: Any, srv: FaultServer) -> None:
    srv.default = Fault.delay(5.0)
    started = time.monotonic()
    with pytest.raises(RequestTimeoutError):
        send(srv, GET, deadline=0.5, timeouts=Timeouts(read=10.0), retry=RetryPolicy(max_retries=10))
    assert time.monotonic() - started < 3.0  # generous: the point is "not 10 retries x 5 s"


def test_circuit_opens_after_five_failures_and_fails_fast(srv: FaultServer) -> None:
    srv.default = Reply(503, json={})
    policy = CircuitBreakerPolicy(failure_threshold=5, reset_timeout=60)
    with Transport(srv.url, retry=RetryPolicy(max_retries=0), circuit_breaker=policy) as transport:
        for _ in range(5):
            with pytest.raises(ServerError):
                transport.send(GET)
        with pytest.raises(CircuitOpenError) as info:
            transport.send(GET)
        assert info.value.retry_in > 50
        assert transport.stats().circuit_openings == 1
    assert len(srv.requests) == 5  # the sixth call never reached the server


def test_credentials_and_traceparent_only_to_the_own_origin(srv: FaultServer) -> None:
    with FaultServer() as other, Transport(srv.url, credentials=StaticToken("own-origin-token")) as transport:
        transport.send(GET)
        transport.send(Operation(method="GET", path=other.url + "/elsewhere", response_type=RAW))
        (own,) = srv.requests
        (foreign,) = other.requests
    assert own.headers["authorization"] == "Bearer own-origin-token"
    assert "x-request-id" in own.headers
    assert "authorization" not in foreign.headers
    assert "traceparent" not in foreign.headers
    assert "x-request-id" not in foreign.headers


def test_401_refreshes_once_and_retries_once(srv: FaultServer) -> None:
    from atriumn.core import AccessToken, TokenFlow, TokenProvider

    class Counting(TokenProvider):
        def __init__(self) -> None:
            self.issued = 0

        def token_flow(self) -> TokenFlow:
            self.issued += 1
            return AccessToken(value=f"token-{self.issued}", expires_at=time.time() + 3600)
            yield  # pragma: no cover

    provider = Counting()
    srv.script(OK, Reply(401, json={"error": "unauthorized"}), OK, Reply(401, json={}), Reply(401, json={}))
    with Transport(srv.url, credentials=provider, retry=FAST) as transport:
        transport.send(GET)
        assert transport.send(GET) == {"ok": True}  # 401 → refresh → retry
        with pytest.raises(APIError) as info:
            transport.send(GET)  # 401 twice: refreshed once, then the error
    assert info.value.status_code == 401
    auths = [r.headers["authorization"] for r in srv.requests]
    assert auths == ["Bearer token-1", "Bearer token-1", "Bearer token-2", "Bearer token-2", "Bearer token-3"]


def test_fork_child_uses_its_own_connections(srv: FaultServer) -> None:
    import multiprocessing as mp

    with Transport(srv.url) as transport:
        transport.send(GET)
        parent_conn = srv.requests[-1].connection_id
        ctx = mp.get_context("fork")
        proc = ctx.Process(target=transport.send, args=(GET,))
        proc.start()
        proc.join(30)
        assert proc.exitcode == 0
        transport.send(GET)  # the parent's pool is unaffected
    child, after = srv.requests[1], srv.requests[2]
    assert child.connection_id != parent_conn
    assert after.connection_id == parent_conn


def test_async_transport_survives_a_second_event_loop(srv: FaultServer) -> None:
    transport = AsyncTransport(srv.url)
    assert asyncio.run(transport.send(GET)) == {"ok": True}
    assert asyncio.run(transport.send(GET)) == {"ok": True}  # new loop: a new pool, no "Event loop is closed"
    asyncio.run(transport.aclose())
    assert len(srv.requests) == 2
