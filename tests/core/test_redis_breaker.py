"""Shared circuit breakers on a real Redis: one transport per "process" (each with its own RedisState and
connections), the same prefix. What opens in one is open in all; half-open lets exactly one probe through."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from atriumn.core import (
    RAW,
    CircuitBreakerPolicy,
    CircuitOpenError,
    Operation,
    RateLimitError,
    RedisState,
    RetryPolicy,
    ServerError,
    Transport,
)
from atriumn.core._redis_state import Step
from atriumn.core._shared_limits import SharedScope
from tests._redis import RedisServer, fresh_prefix
from tests.faultserver import FaultServer, Reply

POLICY = CircuitBreakerPolicy(failure_threshold=2, reset_timeout=0.3)
OP = Operation(method="GET", path="/thing", response_type=RAW, authenticated=False)


def process(redis_server: RedisServer, prefix: str, url: str, **kwargs: Any) -> Transport:
    """A transport as a separate process would have it: its own state object, its own Redis connections."""
    state = RedisState.from_url(redis_server.url, prefix=prefix, timeout=2.0)  # a loaded CI machine: no fallbacks
    options: dict[str, Any] = {"circuit_breaker": POLICY, **kwargs}
    options.setdefault("retry", RetryPolicy(max_retries=0))
    return Transport(url, shared_state=state, **options)


def wait_out(exc: CircuitOpenError) -> None:
    """Let the open period pass (the breaker's own timer: the test waits what the error says)."""
    time.sleep(exc.retry_in + 0.02)


def test_a_circuit_opened_by_one_process_is_open_for_the_others(srv: FaultServer, redis_server: RedisServer) -> None:
    srv.default = Reply(503)
    prefix = fresh_prefix()
    a, b = process(redis_server, prefix, srv.url), process(redis_server, prefix, srv.url)
    for _ in range(2):
        with pytest.raises(ServerError):
            a.send(OP)
    assert a.stats().circuit_openings == 1
    with pytest.raises(CircuitOpenError) as caught:
        b.send(OP)  # b never saw a failure itself
    assert caught.value.host.startswith("127.0.0.1:")
    assert len(srv.requests) == 2  # b sent nothing
    client: Any = redis_server.client()
    (key,) = client.keys(f"{prefix}:cb:*")
    assert client.hget(key, "state") == "open"
    assert client.pttl(key) > 0


def test_half_open_lets_exactly_one_process_probe(srv: FaultServer, redis_server: RedisServer) -> None:
    srv.default = Reply(500)
    prefix = fresh_prefix()
    # An open period long enough that the failed probe's reopening outlasts every caller of this round.
    policy = CircuitBreakerPolicy(failure_threshold=2, reset_timeout=1.0)
    opener = process(redis_server, prefix, srv.url, circuit_breaker=policy)
    for _ in range(2):
        with pytest.raises(ServerError):
            opener.send(OP)
    others = [process(redis_server, prefix, srv.url, circuit_breaker=policy) for _ in range(8)]
    for t in others:  # connected, scripts loaded: the round below is only the race for the probe
        assert t.shared_state is not None
        t.shared_state.run(Step([("PING",)], lambda r: r, lambda: pytest.fail("no Redis")))
    with pytest.raises(CircuitOpenError) as caught:
        others[0].send(OP)
    wait_out(caught.value)
    before = len(srv.requests)
    start = threading.Barrier(len(others))
    outcomes: list[str] = []

    def call(t: Transport) -> None:
        start.wait()
        try:
            t.send(OP)
        except Exception as exc:  # the probe gets the 500, every other caller fails fast
            outcomes.append(type(exc).__name__)

    threads = [threading.Thread(target=call, args=(t,)) for t in others]
    for th in threads:
        th.start()
    for th in threads:
        th.join(10)
    assert len(srv.requests) - before == 1  # exactly one probe reached the host
    assert sorted(outcomes) == ["CircuitOpenError"] * 7 + ["ServerError"]


def test_a_successful_probe_closes_the_circuit_everywhere(srv: FaultServer, redis_server: RedisServer) -> None:
    srv.script(Reply(500), Reply(500))
    prefix = fresh_prefix()
    a, b = process(redis_server, prefix, srv.url), process(redis_server, prefix, srv.url)
    for _ in range(2):
        with pytest.raises(ServerError):
            a.send(OP)
    with pytest.raises(CircuitOpenError) as caught:
        b.send(OP)
    wait_out(caught.value)
    assert b.send(OP) == {"ok": True}  # b's probe succeeds
    assert a.send(OP) == {"ok": True}  # and a sees the circuit closed
    client: Any = redis_server.client()
    assert client.keys(f"{prefix}:cb:*") == []  # a closed circuit without failures stores nothing


def test_429s_never_count(srv: FaultServer, redis_server: RedisServer) -> None:
    srv.default = Reply(429, headers={"Retry-After": "0"})
    prefix = fresh_prefix()
    a = process(redis_server, prefix, srv.url)
    for _ in range(5):
        with pytest.raises(RateLimitError):
            a.send(OP)
    assert a.stats().rate_limited == 5
    assert a.stats().responses == {"4xx": 5}
    client: Any = redis_server.client()
    assert client.keys(f"{prefix}:cb:*") == []


def test_the_per_model_breaker_counts_calls_not_attempts(srv: FaultServer, redis_server: RedisServer) -> None:
    srv.default = Reply(500)
    prefix = fresh_prefix()
    wide = CircuitBreakerPolicy(failure_threshold=100, reset_timeout=30)
    per_model = CircuitBreakerPolicy(failure_threshold=2, reset_timeout=30)
    scope = SharedScope(provider="openai", model="gpt-x", credential="c0ffee", breaker=per_model)
    op = OP.evolve(shared_scope=scope)
    retry = RetryPolicy(max_retries=2, initial_backoff=0)
    a = process(redis_server, prefix, srv.url, retry=retry, circuit_breaker=wide)
    b = process(redis_server, prefix, srv.url, circuit_breaker=wide)
    with pytest.raises(ServerError):
        a.send(op)  # three attempts, one call: one failure
    assert len(srv.requests) == 3
    client: Any = redis_server.client()
    model = f"{prefix}:cb:{{openai:gpt-x}}"
    assert client.hget(model, "failures") == "1"
    assert client.hget(model, "state") == "closed"
    with pytest.raises(ServerError):
        a.send(op)
    assert client.hget(model, "state") == "open"
    with pytest.raises(CircuitOpenError) as caught:
        b.send(op)
    assert caught.value.host == "openai:gpt-x"
    srv.default = Reply(200, json={"ok": True})
    assert b.send(OP) == {"ok": True}  # calls without the model's scope are not blocked by its circuit
