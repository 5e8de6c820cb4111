"""The circuit breaker state machine and the client-side token bucket, with a fake clock."""

from __future__ import annotations

import threading

import pytest
from core_helpers import FakeClock
from hypothesis import given
from hypothesis import strategies as st

from atriumn.core import (
    CircuitBreaker,
    CircuitBreakerPolicy,
    CircuitOpenError,
    CircuitState,
    ConfigurationError,
    RateLimit,
)
from atriumn.core._breaker import BreakerRegistry, counts_as_failure
from atriumn.core._ratelimit import TokenBucket


def breaker(clock: FakeClock, **kwargs: float) -> CircuitBreaker:
    return CircuitBreaker("api.example:443", CircuitBreakerPolicy(**kwargs), clock)  # type: ignore[arg-type]


def fail(b: CircuitBreaker, status: int | None = 503) -> bool:
    probe = b.acquire()
    return b.record(status, probe=probe)


def test_opens_after_five_consecutive_failures() -> None:
    clock = FakeClock()
    b = breaker(clock)
    assert [fail(b) for _ in range(4)] == [False] * 4
    assert b.state == CircuitState.CLOSED
    assert fail(b, None) is True  # the fifth opens it (a transport failure counts too)
    assert b.state == CircuitState.OPEN
    with pytest.raises(CircuitOpenError) as info:
        b.acquire()
    assert info.value.host == "api.example:443"
    assert info.value.retry_in == pytest.approx(30.0)
    clock.advance(10)
    with pytest.raises(CircuitOpenError) as info:
        b.acquire()
    assert info.value.retry_in == pytest.approx(20.0)


def test_a_success_resets_the_count() -> None:
    b = breaker(FakeClock())
    for _ in range(4):
        fail(b)
    fail(b, 200)
    for _ in range(4):
        fail(b)
    assert b.state == CircuitState.CLOSED


@pytest.mark.parametrize("status", [400, 401, 403, 404, 408, 409, 422, 429])
def test_client_errors_never_count(status: int) -> None:
    """Every 4xx is a live server answering — a 429 asks for patience, it must not lock the host out."""
    b = breaker(FakeClock())
    for _ in range(4):
        fail(b)
    for _ in range(20):
        assert fail(b, status) is False
    assert b.state == CircuitState.CLOSED
    for _ in range(4):
        fail(b)
    assert b.state == CircuitState.CLOSED  # the 4xx reset the count


@given(st.integers(min_value=100, max_value=599) | st.none())
def test_what_counts_as_a_failure(status: int | None) -> None:
    expected = status is None or status >= 500
    assert counts_as_failure(status) is expected


@pytest.mark.parametrize("status", [500, 503, 529, None])
def test_5xx_and_transport_failures_count(status: int | None) -> None:
    b = breaker(FakeClock())
    for _ in range(5):
        fail(b, status)
    assert b.state == CircuitState.OPEN


def test_half_open_after_the_timeout_with_exactly_one_probe_then_closed() -> None:
    clock = FakeClock()
    b = breaker(clock)
    for _ in range(5):
        fail(b)
    clock.advance(29.9)
    with pytest.raises(CircuitOpenError):
        b.acquire()
    clock.advance(0.1)
    assert b.state == CircuitState.HALF_OPEN
    assert b.acquire() is True  # the probe
    for _ in range(3):
        with pytest.raises(CircuitOpenError):
            b.acquire()  # everyone else fails fast while it is in flight
    assert b.record(200, probe=True) is False
    assert b.state == CircuitState.CLOSED
    assert b.acquire() is False


def test_a_failed_probe_reopens_for_another_timeout() -> None:
    clock = FakeClock()
    b = breaker(clock)
    for _ in range(5):
        fail(b)
    clock.advance(30)
    assert b.acquire() is True
    assert b.record(502, probe=True) is True  # reopened (counts as an opening)
    assert b.state == CircuitState.OPEN
    clock.advance(29)
    with pytest.raises(CircuitOpenError):
        b.acquire()
    clock.advance(1)
    assert b.acquire() is True


def test_a_cancelled_probe_lets_another_through() -> None:
    clock = FakeClock()
    b = breaker(clock)
    for _ in range(5):
        fail(b)
    clock.advance(30)
    assert b.acquire() is True
    b.release(probe=True)
    assert b.acquire() is True


def test_concurrent_callers_get_exactly_one_probe() -> None:
    clock = FakeClock()
    b = breaker(clock)
    for _ in range(5):
        fail(b)
    clock.advance(30)
    barrier = threading.Barrier(16)
    probes: list[bool] = []
    refused: list[int] = []
    lock = threading.Lock()

    def caller() -> None:
        barrier.wait()
        try:
            p = b.acquire()
        except CircuitOpenError:
            with lock:
                refused.append(1)
        else:
            with lock:
                probes.append(p)

    threads = [threading.Thread(target=caller) for _ in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert probes == [True]
    assert len(refused) == 15


def test_configurable_threshold_and_timeout_and_disabled() -> None:
    clock = FakeClock()
    b = breaker(clock, failure_threshold=2, reset_timeout=1.0)
    fail(b)
    fail(b)
    assert b.state == CircuitState.OPEN
    clock.advance(1.0)
    assert b.state == CircuitState.HALF_OPEN
    off = CircuitBreaker("h", CircuitBreakerPolicy(enabled=False), clock)
    for _ in range(50):
        fail(off)
    assert off.acquire() is False
    with pytest.raises(ConfigurationError):
        CircuitBreakerPolicy(failure_threshold=0)
    with pytest.raises(ConfigurationError):
        CircuitBreakerPolicy(reset_timeout=-1)


def test_registry_has_one_breaker_per_host() -> None:
    reg = BreakerRegistry(CircuitBreakerPolicy(), FakeClock())
    a = reg.for_host("a:443")
    assert reg.for_host("a:443") is a
    assert reg.for_host("b:443") is not a
    for _ in range(5):
        fail(a)
    assert reg.for_host("b:443").acquire() is False  # another host is unaffected


@given(st.lists(st.sampled_from([None, 200, 404, 429, 500, 503]), max_size=60))
def test_breaker_matches_a_model(outcomes: list[int | None]) -> None:
    """The breaker opens exactly when the model (count consecutive failures) says so."""
    clock = FakeClock()
    b = breaker(clock)
    consecutive = 0
    for status in outcomes:
        if b.state == CircuitState.OPEN:
            with pytest.raises(CircuitOpenError):
                b.acquire()
            clock.advance(30)
        probe = b.acquire()
        opened = b.record(status, probe=probe)
        if counts_as_failure(status):
            consecutive += 1
        else:
            consecutive = 0
        if probe:
            assert opened is counts_as_failure(status)
            consecutive = 1 if opened else 0
        else:
            assert opened is (consecutive == 5)
        if opened:
            consecutive = 0
        assert b.state == (CircuitState.OPEN if opened else b.state)


# --- the token bucket --------------------------------------------------------------------------------------------


def test_burst_then_evenly_spaced_reservations() -> None:
    clock = FakeClock()
    bucket = TokenBucket(RateLimit(requests_per_second=10, burst=3), clock)
    waits = [bucket.reserve() for _ in range(6)]
    assert waits[:3] == [0, 0, 0]
    assert waits[3:] == pytest.approx([0.1, 0.2, 0.3])  # distinct slots: no herd when tokens refill


def test_tokens_refill_with_time_up_to_the_burst() -> None:
    clock = FakeClock()
    bucket = TokenBucket(RateLimit(requests_per_second=2, burst=2), clock)
    assert [bucket.reserve(), bucket.reserve()] == [0, 0]
    assert bucket.reserve() == pytest.approx(0.5)
    clock.advance(100)  # long idle: refills only to the burst
    assert [bucket.reserve(), bucket.reserve()] == [0, 0]
    assert bucket.reserve() == pytest.approx(0.5)


def test_cancel_gives_a_slot_back() -> None:
    clock = FakeClock()
    bucket = TokenBucket(RateLimit(requests_per_second=1, burst=1), clock)
    assert bucket.reserve() == 0
    assert bucket.reserve() == pytest.approx(1.0)
    bucket.cancel()
    assert bucket.reserve() == pytest.approx(1.0)


@given(
    rate=st.floats(min_value=0.1, max_value=1000),
    burst=st.integers(min_value=1, max_value=20),
    n=st.integers(min_value=1, max_value=100),
)
def test_reservations_never_exceed_the_rate(rate: float, burst: int, n: int) -> None:
    """With a frozen clock, request k (0-based) waits max(0, (k - burst + 1) / rate)."""
    bucket = TokenBucket(RateLimit(requests_per_second=rate, burst=burst), FakeClock())
    waits = [bucket.reserve() for _ in range(n)]
    assert waits == pytest.approx([max(0.0, (k - burst + 1) / rate) for k in range(n)])


def test_bad_rate_limits() -> None:
    with pytest.raises(ConfigurationError, match="requests_per_second"):
        RateLimit(requests_per_second=0)
    with pytest.raises(ConfigurationError, match="burst"):
        RateLimit(requests_per_second=1, burst=0)
