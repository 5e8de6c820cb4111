"""Retry decisions, sans-IO: backoff bounds, Retry-After parsing, the decision table, the retry budget."""

from __future__ import annotations

import email.utils
import threading

import httpx2
import pytest
from hypothesis import given
from hypothesis import strategies as st

from atriumn.core import ConfigurationError, RetryBudget, RetryPolicy, parse_retry_after
from atriumn.core._retry import RETRYABLE_STATUSES, decide

# --- backoff ---------------------------------------------------------------------------------------------


@given(
    base=st.floats(min_value=0.0, max_value=5.0),
    cap=st.floats(min_value=0.0, max_value=60.0),
    n=st.integers(min_value=1, max_value=64),
    r=st.floats(min_value=0.0, max_value=1.0, exclude_max=True),
)
def test_full_jitter_stays_within_zero_and_the_capped_ceiling(base: float, cap: float, n: int, r: float) -> None:
    policy = RetryPolicy(initial_backoff=base, max_backoff=cap)
    ceiling = min(cap, base * 2 ** (n - 1))
    delay = policy.backoff(n, rand=lambda: r)
    assert 0.0 <= delay <= ceiling
    assert delay == pytest.approx(ceiling * r)


@given(n=st.integers(min_value=1, max_value=40))
def test_no_jitter_sleeps_the_ceiling(n: int) -> None:
    policy = RetryPolicy(initial_backoff=0.5, max_backoff=10.0, jitter="none")
    assert policy.backoff(n) == min(10.0, 0.5 * 2 ** (n - 1))


def test_default_backoff_sequence_and_real_randomness() -> None:
    policy = RetryPolicy()
    assert (policy.max_retries, policy.initial_backoff, policy.max_backoff, policy.max_server_delay) == (3, 0.5, 10, 60)
    assert [policy.backoff(n, rand=lambda: 1.0) for n in (1, 2, 3, 4, 5, 6)] == [0.5, 1, 2, 4, 8, 10]
    samples = {policy.backoff(3) for _ in range(50)}
    assert all(0 <= s <= 2.0 for s in samples)
    assert len(samples) > 1  # jittered, not constant


@pytest.mark.parametrize(
    "kwargs",
    [
        {"max_retries": -1},
        {"max_retries": 1.5},
        {"max_retries": True},
        {"initial_backoff": -0.1},
        {"max_backoff": float("nan")},
        {"max_server_delay": "60"},
        {"jitter": "half"},
    ],
)
def test_bad_policies_are_configuration_errors(kwargs: dict[str, object]) -> None:
    with pytest.raises(ConfigurationError) as info:
        RetryPolicy(**kwargs)  # type: ignore[arg-type]
    assert next(iter(kwargs)) in str(info.value)


# --- Retry-After --------------------------------------------------------------------------------------------


def h(**headers: str) -> httpx2.Headers:
    return httpx2.Headers({k.replace("_", "-"): v for k, v in headers.items()})


@given(seconds=st.integers(min_value=0, max_value=10**6))
def test_retry_after_integer_seconds(seconds: int) -> None:
    assert parse_retry_after(h(retry_after=str(seconds))) == seconds


@given(seconds=st.floats(min_value=0, max_value=1e6, allow_nan=False, allow_infinity=False))
def test_retry_after_fractional_seconds(seconds: float) -> None:
    assert parse_retry_after(h(retry_after=repr(seconds))) == pytest.approx(seconds)


@given(ms=st.integers(min_value=0, max_value=10**7))
def test_retry_after_ms_wins_over_retry_after(ms: int) -> None:
    assert parse_retry_after(h(retry_after_ms=str(ms), retry_after="999")) == pytest.approx(ms / 1000)


@given(delay=st.integers(min_value=0, max_value=10**6), now=st.integers(min_value=0, max_value=4_000_000_000))
def test_retry_after_http_date(delay: int, now: int) -> None:
    date = email.utils.formatdate(now + delay, usegmt=True)
    assert parse_retry_after(h(retry_after=date), now=now) == pytest.approx(delay)


def test_retry_after_http_date_in_the_past_is_zero() -> None:
    date = email.utils.formatdate(1_000_000, usegmt=True)
    assert parse_retry_after(h(retry_after=date), now=2_000_000) == 0.0


@pytest.mark.parametrize(
    "value", ["", "soon", "-1", "nan", "inf", "1e999", "Mon, 99 Foo 2024", "12 apples", "0x10", "\x00"]
)
def test_garbage_retry_after_is_ignored(value: str) -> None:
    assert parse_retry_after(h(retry_after=value)) is None


@pytest.mark.parametrize("value", ["soon", "-5", "nan", "inf", "INF", "1e999"])
def test_garbage_retry_after_ms_falls_back_to_retry_after(value: str) -> None:
    assert parse_retry_after(h(retry_after_ms=value, retry_after="2")) == 2
    assert parse_retry_after(h(retry_after_ms=value)) is None


@given(st.text(max_size=40))
def test_retry_after_never_raises_and_is_never_negative(value: str) -> None:
    try:
        headers = httpx2.Headers({"retry-after": value, "retry-after-ms": value})
    except (UnicodeEncodeError, ValueError):
        return  # not a header value at all
    result = parse_retry_after(headers)
    assert result is None or (result >= 0 and result == result and result != float("inf"))


def test_retry_after_absent() -> None:
    assert parse_retry_after(h()) is None


# --- the decision table ---------------------------------------------------------------------------------------

P = RetryPolicy(max_retries=3, initial_backoff=0.5, max_backoff=10.0)


def d(
    status: int | None,
    *,
    sent: bool = True,
    replay_safe: bool = False,
    retries_done: int = 0,
    headers: httpx2.Headers | None = None,
    remaining: float | None = None,
    policy: RetryPolicy = P,
) -> bool:
    return decide(
        policy,
        retries_done=retries_done,
        status=status,
        headers=headers,
        sent=sent,
        replay_safe=replay_safe,
        remaining=remaining,
        rand=lambda: 1.0,
    ).retry


def test_failures_before_sending_are_always_retryable() -> None:
    assert d(None, sent=False, replay_safe=False)
    assert d(None, sent=False, replay_safe=True)


def test_failures_after_sending_only_when_replay_safe() -> None:
    assert not d(None, sent=True, replay_safe=False)
    assert d(None, sent=True, replay_safe=True)


@pytest.mark.parametrize("status", [408, 429, 529])
def test_refused_statuses_are_retried_even_when_not_replay_safe(status: int) -> None:
    assert d(status, replay_safe=False)
    assert d(status, replay_safe=True)


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_5xx_only_when_replay_safe(status: int) -> None:
    assert not d(status, replay_safe=False)
    assert d(status, replay_safe=True)


@given(status=st.integers(min_value=400, max_value=599).filter(lambda s: s not in RETRYABLE_STATUSES))
def test_other_statuses_are_never_retried(status: int) -> None:
    assert not d(status, replay_safe=True)


def test_x_should_retry_overrides() -> None:
    assert d(400, replay_safe=False, headers=h(x_should_retry="true"))
    assert d(500, replay_safe=False, headers=h(x_should_retry="true"))
    assert not d(503, replay_safe=True, headers=h(x_should_retry="false"))
    assert not d(429, replay_safe=True, headers=h(x_should_retry="false"))
    assert not d(None, sent=False, headers=h(x_should_retry="false"))


def test_retries_exhausted() -> None:
    assert d(503, replay_safe=True, retries_done=2)
    result = decide(
        P, retries_done=3, status=503, headers=h(retry_after="1"), sent=True, replay_safe=True, remaining=None
    )
    assert not result.retry
    assert result.server_delay == 1
    assert not d(None, sent=False, policy=RetryPolicy(max_retries=0))


def test_server_delay_is_used_and_above_the_cap_is_not_slept() -> None:
    ok = decide(P, retries_done=0, status=429, headers=h(retry_after="7"), sent=True, replay_safe=False, remaining=None)
    assert (ok.retry, ok.delay, ok.server_delay) == (True, 7, 7)
    too_long = decide(
        P, retries_done=0, status=429, headers=h(retry_after="61"), sent=True, replay_safe=False, remaining=None
    )
    assert not too_long.retry
    assert too_long.server_delay == 61
    assert "cap" in too_long.reason
    custom = RetryPolicy(max_server_delay=120)
    assert decide(
        custom, retries_done=0, status=429, headers=h(retry_after="61"), sent=True, replay_safe=False, remaining=None
    ).retry


def test_server_delay_above_the_backoff_cap_but_below_the_server_cap_is_honoured() -> None:
    result = decide(
        P, retries_done=0, status=503, headers=h(retry_after_ms="30000"), sent=True, replay_safe=True, remaining=None
    )
    assert (result.retry, result.delay) == (True, 30.0)


def test_deadline_leaves_no_time() -> None:
    assert d(503, replay_safe=True, remaining=10.0)
    assert not d(503, replay_safe=True, remaining=0.4)  # backoff ceiling 0.5 with rand=1.0
    assert not d(429, headers=h(retry_after="5"), remaining=4.9)
    assert d(429, headers=h(retry_after="5"), remaining=5.1)


@given(
    status=st.sampled_from([None, 408, 429, 500, 502, 503, 504, 529, 400, 401, 404]),
    sent=st.booleans(),
    replay_safe=st.booleans(),
    retries_done=st.integers(min_value=0, max_value=5),
    remaining=st.none() | st.floats(min_value=0, max_value=100),
)
def test_a_retry_is_never_unsafe_and_always_within_the_deadline(
    status: int | None, sent: bool, replay_safe: bool, retries_done: int, remaining: float | None
) -> None:
    result = decide(
        P,
        retries_done=retries_done,
        status=status,
        headers=None,
        sent=sent,
        replay_safe=replay_safe,
        remaining=remaining,
    )
    if not result.retry:
        return
    assert retries_done < P.max_retries
    processed_maybe = (status is None and sent) or status in (500, 502, 503, 504)
    assert replay_safe or not processed_maybe
    assert status is None or status in RETRYABLE_STATUSES
    assert 0 <= result.delay <= P.max_backoff
    assert remaining is None or result.delay < remaining


# --- the retry budget ------------------------------------------------------------------------------------------


def test_budget_costs_and_refunds() -> None:
    budget = RetryBudget()
    assert (budget.capacity, budget.retry_cost, budget.timeout_cost, budget.success_refund) == (500, 5, 10, 1)
    assert budget.try_acquire(timeout=False) == 5
    assert budget.level == 495
    assert budget.try_acquire(timeout=True) == 10
    assert budget.level == 485
    budget.record_success()
    assert budget.level == 486
    for _ in range(100):
        budget.record_success()
    assert budget.level == 500  # never above capacity


def test_budget_exhaustion_stops_retries() -> None:
    budget = RetryBudget()
    taken = 0
    while budget.try_acquire(timeout=False) is not None:
        taken += 1
    assert taken == 100  # 500 / 5
    assert budget.try_acquire(timeout=False) is None
    assert budget.try_acquire(timeout=True) is None
    for _ in range(5):
        budget.record_success()
    assert budget.try_acquire(timeout=False) == 5
    assert budget.try_acquire(timeout=False) is None


def test_timeout_costs_more() -> None:
    budget = RetryBudget(capacity=15)
    assert budget.try_acquire(timeout=True) == 10
    assert budget.try_acquire(timeout=True) is None
    assert budget.try_acquire(timeout=False) == 5


def test_budget_is_thread_safe() -> None:
    budget = RetryBudget(capacity=500)
    got: list[int | None] = []
    lock = threading.Lock()
    barrier = threading.Barrier(8)

    def worker() -> None:
        barrier.wait()
        for _ in range(50):
            r = budget.try_acquire(timeout=False)
            with lock:
                got.append(r)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(1 for r in got if r) == 100
    assert budget.level == 0


def test_budget_rejects_negative_values() -> None:
    with pytest.raises(ConfigurationError):
        RetryBudget(-1)
