"""The shared rate limiter: the GCRA in Lua (on a real Redis) and its in-memory twin, step by step.

Windows are long (100 s for 10 requests: one every 10 s) so the few milliseconds between two calls are
negligible next to the slots being checked: no test depends on timing.
"""

from __future__ import annotations

from typing import Any

import pytest

from atriumn.core import ConfigurationError, RedisState, SharedLimit
from atriumn.core._redis_state import Step
from atriumn.core._shared_limits import LearnedLimits, LocalLimiter, SharedScope, fingerprint
from tests._redis import RedisServer, fresh_prefix

SECRET_KEY = "sk-live-very-secret-key-0123456789"


def scope(model: str = "gpt-4o", tokens: int = 0) -> SharedScope:
    return SharedScope(provider="openai", model=model, credential=fingerprint(SECRET_KEY), tokens=tokens)


@pytest.fixture
def state(redis_server: RedisServer) -> RedisState:
    return RedisState.from_url(
        redis_server.url,
        prefix=fresh_prefix(),
        limits={"openai:gpt-4o": SharedLimit(requests=10, tokens=1000, window=100.0)},
        headroom=0.2,
    )


def run(state: RedisState, command: tuple[Any, ...]) -> Any:
    """One command through the state (scripts loaded on demand, deferred commands sent along)."""
    return state.run(Step([command], lambda r: r[0], lambda: pytest.fail("Redis did not answer")))


def acquire(state: RedisState, sc: SharedScope, weight: int) -> tuple[float, int, int]:
    (bucket,) = state.limits.buckets(sc)
    reply = run(state, state.limits.acquire(bucket, weight))
    return reply[0] / 1000, reply[1], reply[2]


def test_burst_then_one_slot_per_interval(state: RedisState) -> None:
    # 10 per 100 s with 20 % headroom: a burst of 8, then one request every 10 s, each a distinct slot.
    waits = [acquire(state, scope(), 0)[0] for _ in range(11)]
    assert waits[:8] == [0.0] * 8
    for k, wait in enumerate(waits[8:], start=1):
        assert wait == pytest.approx(10.0 * k, abs=0.5)


def test_tokens_are_a_weighted_reservation_and_settle_moves_them(state: RedisState) -> None:
    # 1000 tokens per 100 s (0.1 s a token), burst 800.
    assert acquire(state, scope(), 700)[0] == 0.0
    wait = acquire(state, scope(), 300)[0]  # 1000 booked: 200 past the burst
    assert wait == pytest.approx(20.0, abs=0.5)
    # The two calls used 100 tokens each: settle both; the next call of 300 fits again.
    sc = scope(tokens=700)
    state.settle(sc, 100)
    state.settle(scope(tokens=300), 100)
    assert acquire(state, scope(), 300)[0] == 0.0  # the settlements went with this round trip


def test_local_limiter_matches_the_script(state: RedisState) -> None:
    now = [1000.0]
    local = LocalLimiter(0.2, clock=lambda: now[0])
    (bucket,) = state.limits.buckets(scope())
    remote = [acquire(state, scope(), 50)[0] for _ in range(11)]
    mine = [local.acquire(bucket, 50)[0] / 1000 for _ in range(11)]
    assert mine == pytest.approx(remote, abs=0.5)
    # Time passes: the local bucket refills like the shared one would.
    now[0] += 100.0
    assert local.acquire(bucket, 50)[0] == 0.0


def test_learned_limits_come_from_a_report_and_live_one_window(redis_server: RedisServer) -> None:
    state = RedisState.from_url(redis_server.url, prefix=fresh_prefix(), window=100.0)
    sc = scope("gpt-4o-mini", tokens=10)
    (bucket,) = state.limits.buckets(sc)
    # Nothing known yet: unlimited, nothing booked.
    assert acquire(state, sc, 10) == (0.0, 0, 0)
    client: Any = redis_server.client()
    assert not client.exists(bucket.rl)
    # A response teaches 5 requests / 500 tokens per window; the call admitted before is booked now.
    run(state, state.limits.report(bucket, LearnedLimits(5, 500), (1, 10), 0.0))
    assert client.hgetall(bucket.limits) == {"requests": "5", "tokens": "500"}
    assert 0 < client.pttl(bucket.limits) <= 100_000
    waits = [acquire(state, sc, 10) for _ in range(4)]
    assert [w[1:] for w in waits] == [(5, 500)] * 4
    assert [w[0] for w in waits[:3]] == [0.0, 0.0, 0.0]  # burst 4 (5 less 10 %), one of them booked late
    assert waits[3][0] == pytest.approx(20.0, abs=0.5)


def test_a_pause_holds_every_caller_and_spaces_them_after_it(state: RedisState, redis_server: RedisServer) -> None:
    sc = scope()
    (bucket,) = state.limits.buckets(sc)
    acquire(state, sc, 0)
    run(state, state.limits.report(bucket, None, (0, 0), 30.0))
    client: Any = redis_server.client()
    assert 0 < client.pttl(bucket.pause) <= 30_000
    first, second = acquire(state, sc, 0)[0], acquire(state, sc, 0)[0]
    assert first == pytest.approx(30.0, abs=0.5)  # not the burst: the provider said wait
    assert second == pytest.approx(40.0, abs=0.5)  # and then one slot per interval, not a herd


def test_every_key_has_a_ttl_and_none_names_the_key(state: RedisState, redis_server: RedisServer) -> None:
    sc = scope(tokens=20)
    (bucket,) = state.limits.buckets(sc)
    for _ in range(3):
        acquire(state, sc, 20)
    run(state, state.limits.report(bucket, LearnedLimits(10, 1000), (0, 0), 5.0))
    client: Any = redis_server.client()
    keys = client.keys(f"{state.prefix}:*")
    assert {k.split(":", 2)[1] for k in keys} == {"rl", "limits", "pause"}
    for key in keys:
        assert client.pttl(key) > 0, key
        assert SECRET_KEY not in key
    assert all(fingerprint(SECRET_KEY) in k for k in keys)


def test_provider_wide_limit_is_a_second_bucket(redis_server: RedisServer) -> None:
    state = RedisState.from_url(
        redis_server.url, prefix=fresh_prefix(), limits={"openai": SharedLimit(requests=2, window=100.0)}, headroom=0
    )
    a, b = state.limits.buckets(scope("gpt-4o")), state.limits.buckets(scope("gpt-4o-mini"))
    assert [x.name for x in a] == [f"openai:gpt-4o:{fingerprint(SECRET_KEY)}", f"openai:{fingerprint(SECRET_KEY)}"]
    assert a[1] == b[1]  # one budget for both models
    assert a[0].window_ms == 100_000  # the provider's window applies to what its models learn


def test_configuration_is_checked() -> None:
    with pytest.raises(ConfigurationError, match="requests"):
        SharedLimit(requests=0)
    with pytest.raises(ConfigurationError, match="window"):
        SharedLimit(window=0)
    with pytest.raises(ConfigurationError, match="provider:model"):
        RedisState("redis://127.0.0.1:1", limits={"a:b:c": SharedLimit()})
    with pytest.raises(ConfigurationError, match="SharedLimit"):
        RedisState("redis://127.0.0.1:1", limits={"openai": 5})  # type: ignore[dict-item]
    with pytest.raises(ConfigurationError, match="headroom"):
        RedisState("redis://127.0.0.1:1", headroom=1.0)
