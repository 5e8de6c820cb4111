"""Resilience over real sockets: the fault server, with the sync AND the async transport.

Every case asserts what the server saw (how many attempts, the attempt header, the Idempotency-Key of
each POST), the error type, and what the transport counted.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

import pytest
from core_helpers import FAST, GET, KINDS, POST, SHORT, FakeClock, backend_of

from atriumn.core import (
    RAW,
    AsyncTransport,
    AtriumnError,
    CircuitBreakerPolicy,
    CircuitOpenError,
    ConnectError,
    DecodeError,
    NetworkError,
    Operation,
    RateLimit,
    RateLimitError,
    RequestTimeoutError,
    RetryBudget,
    RetryPolicy,
    ServerError,
    Transport,
    TransportStats,
)
from tests.faultserver import Fault, FaultServer, Reply, refused_url

OK = Reply(200, json={"ok": True})


class Outcome:
    """Results (values or AtriumnErrors) of a series of calls, and the transport's stats afterwards."""

    def __init__(self, results: list[Any], stats: TransportStats) -> None:
        self.results = results
        self.stats = stats

    @property
    def last(self) -> Any:
        return self.results[-1]


def run_sync(url: str, ops: list[Operation[Any]], **kwargs: Any) -> Outcome:
    options: dict[str, Any] = {"retry": FAST, "timeouts": SHORT, **kwargs}
    results: list[Any] = []
    with Transport(url, **options) as t:
        for op in ops:
            try:
                results.append(t.send(op))
            except AtriumnError as exc:
                results.append(exc)
        return Outcome(results, t.stats())


def run_async(url: str, ops: list[Operation[Any]], backend: str = "httpx2", **kwargs: Any) -> Outcome:
    options: dict[str, Any] = {"retry": FAST, "timeouts": SHORT, "backend": backend, **kwargs}

    async def main() -> Outcome:
        results: list[Any] = []
        async with AsyncTransport(url, **options) as t:
            for op in ops:
                try:
                    results.append(await t.send(op))
                except AtriumnError as exc:
                    results.append(exc)
            return Outcome(results, t.stats())

    return asyncio.run(main())


Runner = Callable[..., Outcome]


def run_aiohttp(url: str, ops: list[Operation[Any]], **kwargs: Any) -> Outcome:
    return run_async(url, ops, "aiohttp", **kwargs)


@pytest.fixture(params=KINDS)
def run(request: pytest.FixtureRequest) -> Runner:
    return (
        {"httpx2": run_async, "aiohttp": run_aiohttp}[backend_of(request.param)]
        if request.param != "sync"
        else run_sync
    )


def keys(srv: FaultServer) -> list[str | None]:
    return [r.headers.get("idempotency-key") for r in srv.requests]


def assert_one_key(srv: FaultServer) -> str:
    """Every POST the server saw carried the call's one Idempotency-Key."""
    seen = keys(srv)
    assert seen, "no request reached the server"
    assert None not in seen, f"a POST arrived without an Idempotency-Key: {seen}"
    assert len(set(seen)) == 1, f"the key changed between attempts: {seen}"
    assert all(r.method == "POST" for r in srv.requests)
    return seen[0]  # type: ignore[return-value]


def attempts(srv: FaultServer) -> list[str]:
    return [r.headers["atriumn-attempt"] for r in srv.requests]


# --- connection refused ------------------------------------------------------------------------------------


@pytest.mark.parametrize("op", [GET, POST], ids=["GET", "POST"])
def test_connection_refused_is_retried_then_a_connect_error(run: Runner, op: Operation[Any]) -> None:
    out = run(refused_url().rstrip("/"), [op])
    err = out.last
    assert isinstance(err, ConnectError)
    assert err.sent is False  # never reached a server: retried even for a POST
    assert (out.stats.requests, out.stats.retries, out.stats.errors, out.stats.calls) == (4, 3, 1, 1)


# --- resets and closes ---------------------------------------------------------------------------------------

RESETS = [
    pytest.param(Fault.reset_before_head, id="reset-before-head"),
    pytest.param(Fault.reset_after_head, id="reset-after-head"),
    pytest.param(Fault.close_before_head, id="close-before-head"),
    pytest.param(lambda: Fault.reset_after_head(partial_body=b'{"ok": tr'), id="reset-mid-body"),
]


@pytest.mark.parametrize("fault", RESETS)
def test_get_is_retried_after_a_reset(run: Runner, srv: FaultServer, fault: Callable[[], Fault]) -> None:
    srv.script(fault(), fault(), OK)
    out = run(srv.url, [GET])
    assert out.last == {"ok": True}
    assert attempts(srv) == ["attempt=1; max=4", "attempt=2; max=4", "attempt=3; max=4"]
    assert keys(srv) == [None, None, None]  # a GET needs no key
    assert (out.stats.requests, out.stats.retries, out.stats.errors) == (3, 2, 0)


@pytest.mark.parametrize("fault", RESETS)
def test_post_is_retried_after_a_reset_with_one_idempotency_key(
    run: Runner, srv: FaultServer, fault: Callable[[], Fault]
) -> None:
    srv.script(fault(), fault(), OK)
    out = run(srv.url, [POST])
    assert out.last == {"ok": True}
    assert len(srv.requests) == 3
    assert assert_one_key(srv)
    assert [r.json() for r in srv.requests] == [{"name": "x"}] * 3  # the body is resent intact


@pytest.mark.parametrize("fault", RESETS)
def test_resets_exhaust_the_retries_with_a_network_error(
    run: Runner, srv: FaultServer, fault: Callable[[], Fault]
) -> None:
    srv.default = fault()
    out = run(srv.url, [POST])
    assert isinstance(out.last, NetworkError)
    assert out.last.sent is True
    assert len(srv.requests) == 4
    assert_one_key(srv)


def test_each_call_gets_its_own_key(run: Runner, srv: FaultServer) -> None:
    srv.script(Fault.reset_after_head(), OK, Fault.reset_after_head(), OK)
    run(srv.url, [POST, POST])
    seen = keys(srv)
    assert seen[0] == seen[1] != seen[2] == seen[3]
    assert None not in seen


def test_caller_chosen_key_is_kept(run: Runner, srv: FaultServer) -> None:
    srv.script(Reply(503), OK)
    run(srv.url, [POST.evolve(idempotency_key="order-42")])
    assert keys(srv) == ["order-42", "order-42"]


def test_post_without_retries_is_not_repeated_after_a_reset(run: Runner, srv: FaultServer) -> None:
    srv.script(Fault.reset_after_head(), OK)
    out = run(srv.url, [POST], retry=RetryPolicy(max_retries=0))
    assert isinstance(out.last, NetworkError)
    assert len(srv.requests) == 1
    assert attempts(srv) == ["attempt=1; max=1"]


def test_one_shot_content_is_not_retried_after_it_was_sent(run: Runner, srv: FaultServer) -> None:
    srv.script(Fault.reset_after_head(), OK)

    async def achunks() -> Any:
        yield b"one-"
        yield b"shot"

    chunks = iter([b"one-", b"shot"]) if run is run_sync else achunks()  # cannot be replayed
    out = run(srv.url, [Operation(method="PUT", path="/blob", content=chunks, response_type=RAW)])
    assert isinstance(out.last, NetworkError)
    assert len(srv.requests) == 1


def test_content_factory_is_replayed(run: Runner, srv: FaultServer) -> None:
    srv.script(Fault.reset_after_head(), OK)

    async def achunks() -> Any:
        yield b"abc"
        yield b"def"

    factory = (lambda: iter([b"abc", b"def"])) if run is run_sync else achunks
    op = Operation(method="POST", path="/blob", content=factory, response_type=RAW)
    assert run(srv.url, [op]).last == {"ok": True}
    assert [r.body for r in srv.requests] == [b"abcdef", b"abcdef"]
    assert_one_key(srv)


# --- timeouts and slow bodies ------------------------------------------------------------------------------------


@pytest.mark.parametrize("op", [GET, POST], ids=["GET", "POST"])
def test_read_timeout_is_retried(run: Runner, srv: FaultServer, op: Operation[Any]) -> None:
    srv.script(Fault.delay(2.0), OK)
    out = run(srv.url, [op])
    assert out.last == {"ok": True}
    assert len(srv.requests) == 2
    if op.method == "POST":
        assert_one_key(srv)


def test_read_timeouts_exhaust_with_a_request_timeout_error(run: Runner, srv: FaultServer) -> None:
    srv.default = Fault.delay(2.0)
    out = run(srv.url, [POST], retry=RetryPolicy(max_retries=1, initial_backoff=0.001))
    assert isinstance(out.last, RequestTimeoutError)
    assert out.last.sent is True
    assert len(srv.requests) == 2
    assert_one_key(srv)


def test_slow_body_within_the_read_timeout_is_fine(run: Runner, srv: FaultServer) -> None:
    srv.script(Fault.slow_body(chunk=b"ab", interval=0.01, count=5))
    out = run(srv.url, [GET.evolve(response_type=bytes)])
    assert out.last == b"ab" * 5
    assert len(srv.requests) == 1


@pytest.mark.parametrize("chunked", [False, True])
def test_slow_body_stalling_past_the_read_timeout(run: Runner, srv: FaultServer, chunked: bool) -> None:
    srv.default = Fault.slow_body(interval=1.0, count=3, chunked=chunked)
    out = run(srv.url, [GET.evolve(response_type=bytes)], retry=RetryPolicy(max_retries=1, initial_backoff=0.001))
    assert isinstance(out.last, RequestTimeoutError)
    assert len(srv.requests) == 2


# --- 429 and Retry-After ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("reply", "low", "high"),
    [
        pytest.param(Reply.retry_after(0.05), 0.05, 0.05, id="seconds"),
        pytest.param(Reply.retry_after(0), 0.0, 0.0, id="zero"),
        pytest.param(Reply.retry_after_ms(20), 0.02, 0.02, id="retry-after-ms"),
        pytest.param("date", 0.0, 0.5, id="http-date"),
        pytest.param(Reply(429, json={"error": "rate_limited"}), 0.0, FAST.max_backoff, id="none"),
    ],
)
def test_429_is_retried_after_the_delay_the_server_asked_for(
    run: Runner, srv: FaultServer, caplog: pytest.LogCaptureFixture, reply: Reply | str, low: float, high: float
) -> None:
    srv.script(Reply.retry_after_date(0.5, status=429) if reply == "date" else reply, OK)
    with caplog.at_level(logging.INFO, logger="atriumn.core.transport"):
        out = run(srv.url, [POST])
    assert out.last == {"ok": True}
    assert len(srv.requests) == 2
    assert_one_key(srv)
    delays = [getattr(r, "atriumn.delay") for r in caplog.records if r.getMessage().startswith("retrying")]
    assert len(delays) == 1
    assert low - 1e-9 <= delays[0] <= high + 1e-9


@pytest.mark.parametrize(
    "reply",
    [Reply.retry_after(120), Reply.retry_after_ms(61_000), Reply.retry_after_date(300, status=429)],
    ids=["seconds", "ms", "http-date"],
)
def test_server_delay_above_the_cap_raises_at_once_with_retry_after(
    run: Runner, srv: FaultServer, caplog: pytest.LogCaptureFixture, reply: Reply
) -> None:
    srv.script(reply, OK)
    with caplog.at_level(logging.INFO, logger="atriumn.core.transport"):
        out = run(srv.url, [GET])
    err = out.last
    assert isinstance(err, RateLimitError)
    assert err.retry_after is not None and err.retry_after > 60
    assert len(srv.requests) == 1
    assert not [r for r in caplog.records if r.getMessage().startswith("retrying")]
    # (it did not sleep a minute: the second reply, a 200, was never asked for)


def test_429_exhausted_is_a_rate_limit_error(run: Runner, srv: FaultServer) -> None:
    srv.default = Reply.retry_after(0, json={"error": "rate_limited", "error_description": "slow down"})
    out = run(srv.url, [POST])
    err = out.last
    assert isinstance(err, RateLimitError)
    assert (err.code, err.description, err.retry_after) == ("rate_limited", "slow down", 0)
    assert len(srv.requests) == 4
    assert_one_key(srv)


# --- 5xx ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [500, 502, 503, 504, 529])
def test_5xx_get_retried_to_exhaustion(run: Runner, srv: FaultServer, status: int) -> None:
    srv.default = Reply(status, json={"error": "server_error", "error_description": "down"})
    out = run(srv.url, [GET])
    err = out.last
    assert isinstance(err, ServerError)
    assert (err.status_code, err.code, err.description) == (status, "server_error", "down")
    assert attempts(srv) == [f"attempt={n}; max=4" for n in (1, 2, 3, 4)]
    assert (out.stats.requests, out.stats.retries, out.stats.errors) == (4, 3, 1)


@pytest.mark.parametrize("status", [500, 502, 503, 504, 529])
def test_5xx_post_retried_with_one_key_then_succeeds(run: Runner, srv: FaultServer, status: int) -> None:
    srv.script(Reply(status), Reply(status), OK)
    assert run(srv.url, [POST]).last == {"ok": True}
    assert len(srv.requests) == 3
    assert_one_key(srv)


def test_x_should_retry(run: Runner, srv: FaultServer) -> None:
    srv.script(Reply.should_retry(False, status=503), Reply.should_retry(True, status=400), OK)
    out = run(srv.url, [GET, GET])
    assert isinstance(out.results[0], ServerError)
    assert out.results[1] == {"ok": True}
    assert len(srv.requests) == 3


@pytest.mark.parametrize("status", [400, 401, 403, 404, 409, 422])
def test_client_errors_are_not_retried(run: Runner, srv: FaultServer, status: int) -> None:
    srv.default = Reply(status, json={"error": "nope"})
    out = run(srv.url, [POST])
    assert out.last.status_code == status
    assert len(srv.requests) == 1


# --- bodies ------------------------------------------------------------------------------------------------------


def test_truncated_body_is_a_network_error_and_retried(run: Runner, srv: FaultServer) -> None:
    srv.script(Fault.truncated_body(), OK)
    assert run(srv.url, [POST]).last == {"ok": True}
    assert len(srv.requests) == 2
    assert_one_key(srv)
    srv.clear()
    srv.default = Fault.truncated_body()
    out = run(srv.url, [GET])
    assert isinstance(out.last, NetworkError)
    assert len(srv.requests) == 4


def test_invalid_json_is_a_decode_error_and_not_retried(run: Runner, srv: FaultServer) -> None:
    srv.default = Reply.invalid_json(headers={"x-request-id": "rq-1"})
    out = run(srv.url, [GET])
    err = out.last
    assert isinstance(err, DecodeError)
    assert err.request_id == "rq-1"
    assert '{"ok": tru' in err.body
    assert len(srv.requests) == 1


def test_html_error_page(run: Runner, srv: FaultServer) -> None:
    srv.default = Reply.html_error(502)
    out = run(srv.url, [GET])
    err = out.last
    assert isinstance(err, ServerError)
    assert err.status_code == 502
    assert err.description == "502 Bad Gateway (an HTML error page)"
    assert "<html" not in str(err).lower()
    assert len(srv.requests) == 4
    srv.clear()
    srv.default = Reply(200, body="<html><body>login page</body></html>", content_type="text/html")
    assert isinstance(run(srv.url, [GET]).last, DecodeError)


# --- the deadline ------------------------------------------------------------------------------------------------


def test_the_deadline_covers_every_retry(run: Runner, srv: FaultServer) -> None:
    from atriumn.core import Timeouts

    srv.default = Fault.delay(5.0)
    out = run(srv.url, [GET], deadline=1.0, timeouts=Timeouts(read=0.4), retry=RetryPolicy(max_retries=10))
    assert isinstance(out.last, RequestTimeoutError)
    assert 2 <= len(srv.requests) <= 4  # retried within the deadline, not 11 times


def test_per_operation_deadline(run: Runner, srv: FaultServer) -> None:
    from atriumn.core import Timeouts

    srv.default = Fault.delay(5.0)
    out = run(srv.url, [GET.evolve(timeout=0.5)], deadline=60, timeouts=Timeouts(read=30))
    assert isinstance(out.last, RequestTimeoutError)
    assert len(srv.requests) == 1  # the operation's 0.5 s ended the call: no second attempt within it


# --- circuit breaker ---------------------------------------------------------------------------------------------


def test_circuit_opens_after_five_failures_and_fails_fast(run: Runner, srv: FaultServer) -> None:
    srv.default = Reply(503)
    out = run(srv.url, [GET] * 7, retry=RetryPolicy(max_retries=0))
    assert [type(r) for r in out.results] == [ServerError] * 5 + [CircuitOpenError] * 2
    assert len(srv.requests) == 5  # the failing-fast calls never reached the server
    err = out.last
    assert err.host == f"127.0.0.1:{srv.port}"
    assert 0 < err.retry_in <= 30
    assert out.stats.circuit_openings == 1


def test_retries_count_toward_the_breaker(run: Runner, srv: FaultServer) -> None:
    srv.default = Reply(503)
    out = run(srv.url, [GET, GET, GET])
    assert [type(r) for r in out.results] == [ServerError, CircuitOpenError, CircuitOpenError]
    assert len(srv.requests) == 5


def test_client_errors_never_open_the_circuit(run: Runner, srv: FaultServer) -> None:
    srv.default = Reply(404)
    out = run(srv.url, [GET] * 8, retry=RetryPolicy(max_retries=0))
    assert len(srv.requests) == 8
    assert out.stats.circuit_openings == 0


def test_half_open_probe_closes_the_circuit(srv: FaultServer) -> None:
    clock = FakeClock()
    srv.default = Reply(503)
    with Transport(srv.url, retry=RetryPolicy(max_retries=0), timeouts=SHORT) as t:
        t._shared.breakers._clock = clock  # the registry's clock: a test seam
        for _ in range(5):
            with pytest.raises(ServerError):
                t.send(GET)
        with pytest.raises(CircuitOpenError):
            t.send(GET)
        assert len(srv.requests) == 5
        clock.advance(30)
        srv.default = OK
        assert t.send(GET) == {"ok": True}  # the probe
        assert t.send(GET) == {"ok": True}  # closed again
        assert len(srv.requests) == 7


def test_the_breaker_is_per_host(srv: FaultServer, srv2: FaultServer) -> None:
    srv.default = Reply(503)
    with Transport(srv.url, retry=RetryPolicy(max_retries=0), timeouts=SHORT) as t:
        for _ in range(5):
            with pytest.raises(ServerError):
                t.send(GET)
        with pytest.raises(CircuitOpenError):
            t.send(GET)
        assert t.send(Operation(method="GET", path=srv2.url + "/x", response_type=RAW)) == {"ok": True}


def test_breakers_can_be_disabled(run: Runner, srv: FaultServer) -> None:
    srv.default = Reply(503)
    run(srv.url, [GET] * 7, retry=RetryPolicy(max_retries=0), circuit_breaker=CircuitBreakerPolicy(enabled=False))
    assert len(srv.requests) == 7


# --- retry budget ------------------------------------------------------------------------------------------------


def test_the_retry_budget_stops_a_retry_storm(run: Runner, srv: FaultServer) -> None:
    srv.default = Reply(503)
    budget = RetryBudget(capacity=10)  # two retries' worth
    out = run(srv.url, [GET, GET], retry_budget=budget, circuit_breaker=CircuitBreakerPolicy(enabled=False))
    assert all(isinstance(r, ServerError) for r in out.results)
    assert len(srv.requests) == 4  # 1 + 2 retries, then 1 without retrying
    assert out.stats.retries == 2
    assert budget.level == 0


def test_successes_refund_the_budget(run: Runner, srv: FaultServer) -> None:
    budget = RetryBudget(capacity=10)
    srv.script(Reply(503), OK, OK)
    run(srv.url, [GET, GET], retry_budget=budget)
    assert budget.level == 7  # 10 - 5 + 1 + 1


# --- client-side rate limit --------------------------------------------------------------------------------------


def test_rate_limit_wait_past_the_deadline_fails_without_a_request(run: Runner, srv: FaultServer) -> None:
    limit = RateLimit(requests_per_second=0.1, burst=1)  # the second call would wait ~10 s
    out = run(srv.url, [GET, GET], rate_limit=limit, deadline=1.0)
    assert out.results[0] == {"ok": True}
    assert isinstance(out.results[1], RequestTimeoutError)
    assert out.results[1].sent is False
    assert len(srv.requests) == 1


def test_async_rate_limit_waits_without_blocking_the_loop(
    srv: FaultServer, monkeypatch: pytest.MonkeyPatch, async_backend: str
) -> None:
    def blocking_sleep(seconds: float) -> None:
        raise AssertionError("the async transport must not call time.sleep")

    monkeypatch.setattr(time, "sleep", blocking_sleep)
    limit = RateLimit(requests_per_second=100, burst=2)

    async def main() -> list[Any]:
        async with AsyncTransport(srv.url, rate_limit=limit, retry=FAST, backend=async_backend) as t:
            return await asyncio.gather(*(t.send(GET.evolve(query={"i": i})) for i in range(8)))

    assert asyncio.run(main()) == [{"ok": True}] * 8
    assert sorted(r.query for r in srv.requests) == sorted(f"i={i}" for i in range(8))


def test_sync_rate_limit_spaces_requests_in_call_order(srv: FaultServer, monkeypatch: pytest.MonkeyPatch) -> None:
    slept: list[float] = []
    monkeypatch.setattr(time, "sleep", slept.append)  # record the limiter's waits instead of sleeping them
    with Transport(srv.url, rate_limit=RateLimit(requests_per_second=10, burst=2), retry=FAST) as t:
        t._config.bucket._clock = FakeClock()  # type: ignore[union-attr]  # frozen time: waits are exact
        for i in range(5):
            t.send(GET.evolve(query={"i": i}))
    assert slept == pytest.approx([0.1, 0.2, 0.3])  # two free, then one slot per 0.1 s
    assert [r.query for r in srv.requests] == [f"i={i}" for i in range(5)]
