"""Honest retries and errors: a 429 never opens the breaker, ``idempotent=False`` is never replayed once it
may have reached the server, a timeout says what timed out and after how long, a body cut after the head of
a :data:`RESPONSE` operation is retried like any other failure, private bodies are logged by shape, and
argument checks raise :class:`ValidationError`. Sync and async, against the fault server."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import pytest
from core_helpers import FAST, KINDS, send_all

from atriumn.core import (
    RAW,
    RESPONSE,
    AsyncTransport,
    AtriumnError,
    CircuitOpenError,
    ConfigurationError,
    NetworkError,
    Operation,
    PoolLimits,
    RateLimitError,
    RequestTimeoutError,
    ServerError,
    Timeouts,
    Transport,
    ValidationError,
)
from tests.faultserver import Fault, FaultServer, Reply, refused_url

send = send_all

GET = Operation(method="GET", path="/thing", response_type=RAW)


# --- the breaker counts failures of the server, never a server asking for patience ------------------------------


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("status", [429, 408, 404])
def test_4xx_never_opens_the_breaker(kind: str, status: int, srv: FaultServer) -> None:
    srv.script(*[Reply(status, headers={"retry-after-ms": "50"})] * 8)
    results = send(kind, srv.url, [GET] * 9, max_retries=0)
    assert not any(isinstance(r, CircuitOpenError) for r in results)
    assert results[-1] == {"ok": True}
    assert len(srv.requests) == 9


@pytest.mark.parametrize("kind", KINDS)
def test_429_retries_wait_for_the_server_and_do_not_open_the_breaker(kind: str, srv: FaultServer) -> None:
    srv.script(*[Reply(429, headers={"retry-after-ms": "20"})] * 5)
    results = send(kind, srv.url, [GET, GET], retry=FAST, circuit_breaker=None)
    assert isinstance(results[0], RateLimitError) and results[0].retry_after == pytest.approx(0.02)
    assert results[1] == {"ok": True}  # the host is not locked out


@pytest.mark.parametrize("kind", KINDS)
def test_5xx_still_open_the_breaker(kind: str, srv: FaultServer) -> None:
    srv.script(*[Reply(503)] * 5)
    results = send(kind, srv.url, [GET] * 6, max_retries=0)
    assert isinstance(results[4], ServerError)
    assert isinstance(results[5], CircuitOpenError)


# --- idempotent=False: no automatic key, no replay once it may have been sent ------------------------------------


def post(idempotent: bool | None) -> Operation[Any]:
    return Operation(method="POST", path="/charge", json={"amount": 5}, idempotent=idempotent, response_type=RAW)


FAILURES: dict[str, Callable[[], Any]] = {
    "503": lambda: Reply(503),
    "reset-after-head": lambda: Fault.reset_after_head(),
    "read-timeout": lambda: Fault.delay(1.0),
}
SHORT_READ = Timeouts(connect=1.0, read=0.2, write=1.0, pool=1.0)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("failure", list(FAILURES))
def test_non_idempotent_calls_are_not_replayed_after_they_may_have_been_sent(
    kind: str, failure: str, srv: FaultServer
) -> None:
    srv.script(FAILURES[failure](), Reply(200, json={"charged": 1}))
    [result] = send(kind, srv.url, [post(False)], retry=FAST, timeouts=SHORT_READ)
    assert isinstance(result, ServerError | NetworkError | RequestTimeoutError)
    seen = srv.wait_for_requests(1)
    assert len(srv.requests) == 1  # never replayed
    assert "idempotency-key" not in seen[0].headers  # and no key pretending it is safe


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("failure", list(FAILURES))
def test_posts_by_default_carry_one_key_and_are_replayed(kind: str, failure: str, srv: FaultServer) -> None:
    srv.script(FAILURES[failure](), Reply(200, json={"charged": 1}))
    [result] = send(kind, srv.url, [post(None)], retry=FAST, timeouts=SHORT_READ)
    assert result == {"charged": 1}
    keys = {r.headers["idempotency-key"] for r in srv.wait_for_requests(2)}
    assert len(keys) == 1  # the same key on the replay: the server can tell it is one call


@pytest.mark.parametrize("kind", KINDS)
def test_non_idempotent_calls_are_retried_when_nothing_was_sent(kind: str, srv: FaultServer) -> None:
    srv.script(Fault.reset_before_head(), Reply(200, json={"charged": 1}))
    # A refused connection never reached a server: retried even for idempotent=False.
    [refused] = send(kind, refused_url(), [post(False)], retry=FAST)
    assert refused.__class__.__name__ == "ConnectError"
    stats_transport = Transport(refused_url(), retry=FAST)
    with pytest.raises(AtriumnError):
        stats_transport.send(post(False))
    assert stats_transport.stats().retries == FAST.max_retries
    stats_transport.close()


# --- timeouts say what timed out, and after how long ------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_read_timeout_names_the_phase_and_the_wait(kind: str, srv: FaultServer) -> None:
    srv.script(Fault.delay(1.0))
    [error] = send(kind, srv.url, [GET], max_retries=0, timeouts=SHORT_READ)
    assert isinstance(error, RequestTimeoutError)
    assert (error.phase, error.timeout, error.sent) == ("read", 0.2, True)
    assert str(error) == f"GET read timeout: no response data from {srv.url}/thing for 0.2s"


@pytest.mark.parametrize("kind", KINDS)
def test_the_deadline_is_named_when_it_set_the_limit(kind: str, srv: FaultServer) -> None:
    srv.script(Fault.delay(1.0))
    [error] = send(kind, srv.url, [GET], max_retries=0, deadline=0.3)
    assert isinstance(error, RequestTimeoutError)
    assert error.phase == "deadline"
    assert error.timeout is not None and 0.2 < error.timeout <= 0.3
    assert "read timeout: no response data from" in str(error)
    assert "the call's deadline of 0.3s allowed no longer" in str(error)


@pytest.mark.parametrize("kind", KINDS)
def test_deadline_passed_between_attempts(kind: str, srv: FaultServer) -> None:
    srv.script(Reply(503, headers={"retry-after": "0"}), *[Fault.delay(0.5)] * 4)
    [error] = send(kind, srv.url, [GET], retry=FAST, deadline=0.25, timeouts=SHORT_READ)
    assert isinstance(error, RequestTimeoutError)
    assert error.phase == "deadline"


def test_pool_timeout_names_the_pool(srv: FaultServer) -> None:
    srv.script(Reply(200, json={"ok": True}), Reply(200, json={"ok": True}))
    stream_op = Operation(method="GET", path="/held", stream=True)
    with (
        Transport(srv.url, max_retries=0, limits=PoolLimits(max_connections=1), timeouts=Timeouts(pool=0.1)) as t,
        t.stream(stream_op),
        pytest.raises(RequestTimeoutError) as info,
    ):
        t.send(GET)  # the only connection is held by the open stream
    assert (info.value.phase, info.value.timeout, info.value.sent) == ("pool", 0.1, False)
    assert "no free connection" in str(info.value) and "0.1s" in str(info.value)


async def test_async_pool_timeout_names_the_pool(srv: FaultServer, async_backend: str) -> None:
    stream_op = Operation(method="GET", path="/held", stream=True)
    limits = PoolLimits(max_connections=1)
    async with (
        AsyncTransport(srv.url, max_retries=0, limits=limits, timeouts=Timeouts(pool=0.1), backend=async_backend) as t,
        t.stream(stream_op),
    ):
        with pytest.raises(RequestTimeoutError) as info:
            await t.send(GET)
    assert (info.value.phase, info.value.timeout) == ("pool", 0.1)
    assert str(info.value).startswith("GET pool timeout: no free connection to ")


# --- RESPONSE: the body is read inside the pipeline, so a cut body is retried -----------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_response_operations_retry_a_body_cut_after_the_head(kind: str, srv: FaultServer) -> None:
    srv.script(Fault.truncated_body(b'{"partial": '), Reply(200, json={"whole": True}, headers={"x-request-id": "r2"}))
    op = Operation(method="POST", path="/chat", content=b"{}", idempotent=True, response_type=RESPONSE)
    [response] = send(kind, srv.url, [op], retry=FAST)
    assert response.status_code == 200
    assert response.content == b'{"whole": true}' or response.json() == {"whole": True}
    assert response.headers["x-request-id"] == "r2"
    assert len(srv.requests) == 2


@pytest.mark.parametrize("kind", KINDS)
def test_response_operations_name_the_full_url_when_the_body_is_cut(kind: str, srv: FaultServer) -> None:
    srv.script(Fault.truncated_body(b'{"partial": '))
    op = Operation(method="POST", path="/v1/chat", query={"key": "s3cr3t-value", "n": 1}, content=b"{}",
                   idempotent=False, response_type=RESPONSE)  # fmt: skip
    [error] = send(kind, srv.url, [op], retry=FAST)
    assert isinstance(error, NetworkError)
    assert f"{srv.url}/v1/chat?key=REDACTED&n=1" in str(error)
    assert len(srv.requests) == 1


# --- DEBUG logs keep private bodies private ---------------------------------------------------------------------


def test_private_bodies_are_logged_by_shape(srv: FaultServer, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="atriumn")
    body = b'{"model":"gpt-x","messages":[{"role":"user","content":"my diagnosis is private"}],"max_tokens":9}'
    with Transport(srv.url) as t:
        t.send(Operation(method="POST", path="/chat", content=body, headers={"Content-Type": "application/json"},
                         log_content=False, response_type=RAW))  # fmt: skip
        t.send(Operation(method="POST", path="/public", json={"note": "public words"}, response_type=RAW))
    records = [r for r in caplog.records if r.name == "atriumn.core.transport" and r.levelno == logging.DEBUG]
    private, public = records
    assert "private" not in private.getMessage()
    shape = private.__dict__["atriumn.request_body"]
    assert shape == '{"model": "gpt-x", "messages": [{"role": "user", "content": "<23 chars>"}], "max_tokens": 9}'
    assert "public words" in public.__dict__["atriumn.request_body"]


# --- argument checks ---------------------------------------------------------------------------------------------


def test_argument_checks_raise_validation_errors() -> None:
    with Transport("http://127.0.0.1:9") as t, pytest.raises(ValidationError) as info:
        t.send(Operation(method="GET", path="/content/{id}", path_params={"id": ""}))
    assert isinstance(info.value, ValueError) and isinstance(info.value, AtriumnError)
    assert str(info.value) == "id: must not be empty"
    assert issubclass(ConfigurationError, ValidationError)
