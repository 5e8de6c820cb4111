"""RedisState itself: configuration, secrets kept out of sight, and what happens when Redis is slow, gone or back."""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from atriumn.core import (
    RAW,
    AsyncTransport,
    CircuitBreakerPolicy,
    CircuitOpenError,
    ConfigurationError,
    Operation,
    RedisState,
    RetryPolicy,
    ServerError,
    Transport,
)
from tests._redis import RedisServer, find_redis_server, fresh_prefix
from tests.faultserver import FaultServer, Reply

OP = Operation(method="GET", path="/thing", response_type=RAW, authenticated=False)
NO_RETRY = RetryPolicy(max_retries=0)


@pytest.fixture
def own_redis(redis_server: RedisServer) -> Iterator[RedisServer]:
    """A Redis of this test's own, to kill and restart (the session's stays up for the others)."""
    if redis_server.external:
        pytest.skip("ATRIUMN_TEST_REDIS_URL names a server this test cannot stop")
    server = RedisServer(find_redis_server())
    server.start()
    try:
        yield server
    finally:
        server.close()


def shared_logs(caplog: pytest.LogCaptureFixture, level: int) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "atriumn.core.shared" and r.levelno == level]


def test_redis_gone_falls_back_with_one_warning_then_resumes(
    srv: FaultServer, own_redis: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="atriumn.core.shared")
    state = RedisState.from_url(own_redis.url, prefix=fresh_prefix(), timeout=1.0, backoff=0.2)
    transport = Transport(srv.url, shared_state=state, retry=NO_RETRY)
    assert transport.send(OP) == {"ok": True}
    own_redis.stop()
    for _ in range(5):
        assert transport.send(OP) == {"ok": True}  # no call fails because Redis is gone
    warnings = shared_logs(caplog, logging.WARNING)
    assert len(warnings) == 1  # one per outage, not per call
    assert "using local state" in warnings[0]
    assert state.stats().outages == 1
    assert transport.stats().redis_fallbacks == 5
    own_redis.start()
    deadline = time.monotonic() + 10
    while not (state.stats().healthy and state.stats().round_trips > 1):  # the next call after the backoff
        assert time.monotonic() < deadline, "Redis was never used again"
        assert transport.send(OP) == {"ok": True}
        time.sleep(0.05)
    assert any("answers again" in m for m in shared_logs(caplog, logging.INFO))
    # The shared state is rebuilt from scratch: a failure is counted in the new Redis.
    srv.script(Reply(500))
    with pytest.raises(ServerError):
        transport.send(OP)
    client: Any = own_redis.client()
    (key,) = client.keys(f"{state.prefix}:cb:*")
    assert client.hget(key, "failures") == "1"


def test_a_redis_that_never_answers_costs_one_bounded_wait(srv: FaultServer, redis_server: RedisServer) -> None:
    # A listening socket that accepts and never answers: every read times out.
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(16)
    try:
        url = f"redis://127.0.0.1:{silent.getsockname()[1]}/0"
        state = RedisState.from_url(url, prefix=fresh_prefix(), timeout=0.05, backoff=60)
        transport = Transport(srv.url, shared_state=state, retry=NO_RETRY)
        for _ in range(3):
            assert transport.send(OP) == {"ok": True}
        assert state.stats().fallbacks == 3
        assert state.stats().outages == 1
        assert state.stats().round_trips == 0  # in the backoff nothing waits on Redis again
    finally:
        silent.close()


def test_fallbacks_are_a_metric(srv: FaultServer, otel: Any) -> None:
    if otel.metrics is None:
        pytest.skip("another meter provider is installed")

    def total() -> int:
        return sum(int(p.value) for p in otel.histogram_points("atriumn.client.shared_state.fallbacks"))

    before = total()
    state = RedisState.from_url("redis://127.0.0.1:1/0", prefix=fresh_prefix(), timeout=0.05)
    transport = Transport(srv.url, shared_state=state, retry=NO_RETRY)
    transport.send(OP)
    transport.send(OP)
    assert total() - before == 2


def test_local_breakers_take_over_during_an_outage(srv: FaultServer) -> None:
    srv.default = Reply(500)
    state = RedisState.from_url("redis://127.0.0.1:1/0", prefix=fresh_prefix(), timeout=0.05)
    policy = CircuitBreakerPolicy(failure_threshold=2, reset_timeout=30)
    transport = Transport(srv.url, shared_state=state, retry=NO_RETRY, circuit_breaker=policy)
    for _ in range(2):
        with pytest.raises(ServerError):
            transport.send(OP)
    with pytest.raises(CircuitOpenError):
        transport.send(OP)
    assert len(srv.requests) == 2


def test_scripts_forgotten_by_redis_are_loaded_again(srv: FaultServer, redis_server: RedisServer) -> None:
    srv.default = Reply(500)
    state = RedisState.from_url(redis_server.url, prefix=fresh_prefix(), timeout=2.0)
    transport = Transport(srv.url, shared_state=state, retry=NO_RETRY)
    with pytest.raises(ServerError):
        transport.send(OP)
    client: Any = redis_server.client()
    client.script_flush()
    with pytest.raises(ServerError):
        transport.send(OP)
    assert state.stats().fallbacks == 0
    (key,) = client.keys(f"{state.prefix}:cb:*")
    assert client.hget(key, "failures") == "2"


async def test_async_transport_shares_the_same_circuits(srv: FaultServer, redis_server: RedisServer) -> None:
    srv.default = Reply(503)
    prefix = fresh_prefix()
    policy = CircuitBreakerPolicy(failure_threshold=2, reset_timeout=30)
    state = RedisState.from_url(redis_server.url, prefix=prefix, timeout=2.0)
    async with AsyncTransport(srv.url, shared_state=state, retry=NO_RETRY, circuit_breaker=policy) as transport:
        for _ in range(2):
            with pytest.raises(ServerError):
                await transport.send(OP)
        assert transport.stats().redis_round_trips >= 2
    other = Transport(srv.url, shared_state=RedisState.from_url(redis_server.url, prefix=prefix), retry=NO_RETRY)
    with pytest.raises(CircuitOpenError):
        other.send(OP)
    await state.aclose()


async def test_async_transport_falls_back_too(srv: FaultServer) -> None:
    state = RedisState.from_url("redis://127.0.0.1:1/0", prefix=fresh_prefix(), timeout=0.05)
    async with AsyncTransport(srv.url, shared_state=state, retry=NO_RETRY) as transport:
        assert await transport.send(OP) == {"ok": True}
        assert transport.stats().redis_fallbacks == 1


def test_the_url_password_never_shows(caplog: pytest.LogCaptureFixture, srv: FaultServer) -> None:
    caplog.set_level(logging.DEBUG)
    state = RedisState.from_url("redis://:hunter2-secret@127.0.0.1:1/0", prefix=fresh_prefix(), timeout=0.05)
    assert "hunter2" not in repr(state)
    assert "hunter2" not in state.shown_url
    Transport(srv.url, shared_state=state, retry=NO_RETRY).send(OP)
    assert caplog.records
    assert all("hunter2" not in r.getMessage() and "hunter2" not in str(r.__dict__) for r in caplog.records)
    with pytest.raises(ConfigurationError) as caught:
        RedisState("http://:hunter2-secret@127.0.0.1")
    assert "hunter2" not in str(caught.value)


def test_configuration_from_the_environment(srv: FaultServer) -> None:
    env = {
        "ATRIUMN_REDIS_URL": "redis://127.0.0.1:1/0",
        "ATRIUMN_REDIS_PREFIX": "fleet-a",
        "ATRIUMN_API_BASE_URL": srv.url,
    }
    a, b = Transport(environ=env), Transport(environ=env)
    assert isinstance(a.shared_state, RedisState)
    assert a.shared_state is b.shared_state  # one state (one pool) per process and URL
    assert a.shared_state.prefix == "fleet-a"
    assert a.with_options(max_retries=1).shared_state is a.shared_state
    assert Transport(environ={"ATRIUMN_API_BASE_URL": srv.url}).shared_state is None
    with pytest.raises(ConfigurationError, match="ATRIUMN_REDIS_URL"):
        RedisState.from_env({})
    with pytest.raises(ConfigurationError, match="ATRIUMN_REDIS_URL"):
        RedisState.from_env({"ATRIUMN_REDIS_URL": "localhost:6379"})
    with pytest.raises(ConfigurationError, match="ATRIUMN_REDIS_ENCRYPTION_KEY") as caught:
        RedisState.from_env({"ATRIUMN_REDIS_URL": "redis://x", "ATRIUMN_REDIS_ENCRYPTION_KEY": "not-a-key-sekrit"})
    assert "sekrit" not in str(caught.value)
    with pytest.raises(ConfigurationError, match="shared_state"):
        Transport(srv.url, shared_state="redis://x")  # type: ignore[arg-type]


def test_one_state_serves_threads(srv: FaultServer, redis_server: RedisServer) -> None:
    state = RedisState.from_url(redis_server.url, prefix=fresh_prefix(), timeout=2.0)
    transport = Transport(srv.url, shared_state=state, retry=NO_RETRY)
    errors: list[BaseException] = []

    def work() -> None:
        try:
            for _ in range(20):
                transport.send(OP)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert errors == []
    assert transport.stats().redis_round_trips == 80
    assert state.stats().fallbacks == 0
