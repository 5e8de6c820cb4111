"""The token cache's windows and single flight, with a fake clock and a scripted token endpoint (no I/O)."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable, Generator
from typing import Any

import pytest
from core_helpers import FakeClock

from atriumn.core import AccessToken, ConfigurationError, Operation, TokenCache, TokenProvider

ADVISORY, MANDATORY = 300.0, 30.0


class Scripted(TokenProvider):
    """Each refresh sends one operation; ``run`` (given to the cache) answers it."""

    def __init__(self) -> None:
        self.flows = 0

    def token_flow(self) -> Generator[Operation[Any], Any, AccessToken]:
        self.flows += 1
        result = yield Operation(method="POST", path="/token")
        return result  # type: ignore[no-any-return]


def make(clock: FakeClock, **kwargs: float) -> tuple[Scripted, TokenCache]:
    provider = Scripted()
    return provider, TokenCache(provider, clock=clock, **kwargs)


def tok(value: str, clock: FakeClock, ttl: float) -> AccessToken:
    return AccessToken(value=value, expires_at=clock() + ttl)


def seed(cache: TokenCache, clock: FakeClock, value: str, left: float) -> AccessToken:
    """Cache an hour-long token, then move the clock until it has ``left`` seconds to live."""
    token = tok(value, clock, 3600)
    cache.set(token)
    clock.advance(3600 - left)
    return token


class Gate:
    """A ``run`` that blocks in the refresh until released, so a test can act while a refresh is in flight."""

    def __init__(self, result: Callable[[], AccessToken]) -> None:
        self.entered = threading.Event()
        self.release = threading.Event()
        self.result = result
        self.calls = 0

    def __call__(self, op: Operation[Any]) -> AccessToken:
        self.calls += 1
        self.entered.set()
        assert self.release.wait(10), "the test never released the refresh"
        return self.result()


def in_thread(fn: Callable[[], Any]) -> tuple[threading.Thread, dict[str, Any]]:
    out: dict[str, Any] = {}

    def target() -> None:
        try:
            out["value"] = fn()
        except BaseException as exc:
            out["error"] = exc

    t = threading.Thread(target=target)
    t.start()
    return t, out


def test_first_call_refreshes_then_the_token_is_reused() -> None:
    clock = FakeClock()
    provider, cache = make(clock)
    runs: list[Operation[Any]] = []

    def run(op: Operation[Any]) -> AccessToken:
        runs.append(op)
        return tok("t1", clock, 3600)

    assert cache.get_token(run).value == "t1"
    clock.advance(3600 - ADVISORY - 1)  # still fresh
    assert cache.get_token(run).value == "t1"
    assert (len(runs), provider.flows, cache.refresh_count) == (1, 1, 1)
    assert runs[0].path == "/token"


def test_advisory_window_one_refresher_while_others_keep_the_old_token() -> None:
    clock = FakeClock()
    _, cache = make(clock)
    seed(cache, clock, "old", ADVISORY - 10)  # inside the advisory window, outside the mandatory one
    gate = Gate(lambda: tok("new", clock, 3600))
    refresher, out = in_thread(lambda: cache.get_token(gate))
    assert gate.entered.wait(10)
    # While the refresh is in flight, other callers get the still-valid token at once, without refreshing.
    others = [cache.get_token(gate).value for _ in range(20)]
    assert others == ["old"] * 20
    gate.release.set()
    refresher.join(10)
    assert out == {"value": cache.peek()}
    assert out["value"].value == "new"
    assert gate.calls == 1
    assert cache.refresh_count == 2  # the set() and the one refresh
    assert cache.get_token(gate).value == "new"


def test_advisory_failure_is_logged_and_the_old_token_kept(caplog: pytest.LogCaptureFixture) -> None:
    clock = FakeClock()
    _, cache = make(clock)
    old = seed(cache, clock, "old", 100)
    calls = []

    def failing(op: Operation[Any]) -> AccessToken:
        calls.append(op)
        raise ConnectionError("token endpoint down")

    with caplog.at_level(logging.WARNING, logger="atriumn.core.credentials"):
        assert cache.get_token(failing) is old
    assert any("advisory token refresh failed" in r.getMessage() for r in caplog.records)
    assert "ConnectionError" in caplog.text
    assert cache.peek() is old
    # The next call is still in the advisory window: it tries again (and may succeed).
    assert cache.get_token(lambda op: tok("new", clock, 3600)).value == "new"
    assert len(calls) == 1


def test_mandatory_window_callers_wait_for_the_one_refresh() -> None:
    clock = FakeClock()
    _, cache = make(clock)
    seed(cache, clock, "old", MANDATORY - 5)
    gate = Gate(lambda: tok("new", clock, 3600))
    first, out1 = in_thread(lambda: cache.get_token(gate))
    assert gate.entered.wait(10)
    waiters = [in_thread(lambda: cache.get_token(gate)) for _ in range(8)]
    # They are waiting, not using the nearly expired token (a negative check: it cannot pass by accident
    # once the refresh is released, because then they all must see "new").
    first.join(0.05)
    assert all(t.is_alive() for t, _ in waiters)
    gate.release.set()
    for t, _ in [(first, out1), *waiters]:
        t.join(10)
    assert [o["value"].value for o in [out1] + [o for _, o in waiters]] == ["new"] * 9
    assert gate.calls == 1


def test_mandatory_failure_is_raised_to_the_refresher_and_every_waiter() -> None:
    clock = FakeClock()
    _, cache = make(clock)
    seed(cache, clock, "old", MANDATORY - 5)
    boom = RuntimeError("token endpoint said no")

    def fail() -> AccessToken:
        raise boom

    gate = Gate(fail)
    first, out1 = in_thread(lambda: cache.get_token(gate))
    assert gate.entered.wait(10)
    waiters = [in_thread(lambda: cache.get_token(gate)) for _ in range(4)]
    first.join(0.05)
    gate.release.set()
    for t, _ in [(first, out1), *waiters]:
        t.join(10)
    assert out1.get("error") is boom
    assert [o.get("error") for _, o in waiters] == [boom] * 4
    assert gate.calls == 1  # waiters did not start refreshes of their own


def test_no_token_failure_is_raised_to_waiters() -> None:
    clock = FakeClock()
    _, cache = make(clock)
    boom = RuntimeError("nope")

    def fail() -> AccessToken:
        raise boom

    gate = Gate(fail)
    first, out1 = in_thread(lambda: cache.get_token(gate))
    assert gate.entered.wait(10)
    waiters = [in_thread(lambda: cache.get_token(gate)) for _ in range(4)]
    first.join(0.05)
    gate.release.set()
    for t, _ in [(first, out1), *waiters]:
        t.join(10)
    assert [o.get("error") for o in [out1] + [o for _, o in waiters]] == [boom] * 5
    assert gate.calls == 1


def test_expired_token_is_refreshed_and_force_refreshes() -> None:
    clock = FakeClock()
    _, cache = make(clock)
    seed(cache, clock, "old", -1)
    n = iter(range(1, 100))
    assert cache.get_token(lambda op: tok(f"t{next(n)}", clock, 3600)).value == "t1"
    assert cache.get_token(lambda op: tok(f"t{next(n)}", clock, 3600), force=True).value == "t2"


def test_short_lived_tokens_get_proportional_windows() -> None:
    clock = FakeClock()
    _, cache = make(clock)
    refreshes = []

    def run(op: Operation[Any]) -> AccessToken:
        refreshes.append(1)
        return tok("short", clock, 120)

    cache.get_token(run)
    clock.advance(59)  # 61 s left: above the (shrunk) advisory window of 60 s
    cache.get_token(run)
    assert len(refreshes) == 1
    clock.advance(2)  # 59 s left: advisory
    cache.get_token(run)
    assert len(refreshes) == 2


def test_invalidate_only_the_stale_token() -> None:
    clock = FakeClock()
    _, cache = make(clock)
    a = tok("a", clock, 3600)
    cache.set(a)
    cache.invalidate(tok("other", clock, 3600))
    assert cache.peek() is a
    cache.invalidate(a)
    assert cache.peek() is None


def test_tokens_from_a_store_are_used_without_refreshing() -> None:
    from atriumn.core import MemoryTokenStore

    clock = FakeClock()
    store = MemoryTokenStore()
    store.save("k", tok("stored", clock, 3600))
    provider = Scripted()
    provider.cache_key = "k"
    cache = TokenCache(provider, store=store, clock=clock)
    assert cache.get_token(lambda op: pytest.fail("no refresh expected")).value == "stored"
    assert provider.cache is cache


def test_bad_windows() -> None:
    with pytest.raises(ConfigurationError):
        TokenCache(Scripted(), advisory_window=10, mandatory_window=20)
    with pytest.raises(ConfigurationError):
        TokenCache(Scripted(), mandatory_window=-1)


# --- async and mixed --------------------------------------------------------------------------------------------


def test_async_mandatory_single_flight_and_failure() -> None:
    clock = FakeClock()
    _, cache = make(clock)
    seed(cache, clock, "old", MANDATORY - 1)

    async def main() -> None:
        release = asyncio.Event()
        calls = 0

        async def run(op: Operation[Any]) -> AccessToken:
            nonlocal calls
            calls += 1
            await release.wait()
            return tok("new", clock, 3600)

        tasks = [asyncio.create_task(cache.get_token_async(run)) for _ in range(200)]
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        assert not any(t.done() for t in tasks)  # all waiting for the one refresh
        release.set()
        values = {t.value for t in await asyncio.gather(*tasks)}
        assert (values, calls) == ({"new"}, 1)

        # A failure in the mandatory window reaches every waiter.
        clock.advance(3600 - 10)
        boom = RuntimeError("down")
        gate = asyncio.Event()

        failures = 0

        async def failing(op: Operation[Any]) -> AccessToken:
            nonlocal failures
            failures += 1
            await gate.wait()
            raise boom

        tasks = [asyncio.create_task(cache.get_token_async(failing)) for _ in range(20)]
        await asyncio.sleep(0)
        gate.set()
        results = await asyncio.gather(*tasks, return_exceptions=True)
        assert results == [boom] * 20
        assert failures == 1  # the waiters did not each try again (a stampede on a failing endpoint)

    asyncio.run(main())


def test_async_advisory_others_keep_the_old_token() -> None:
    clock = FakeClock()
    _, cache = make(clock)
    seed(cache, clock, "old", 100)

    async def main() -> None:
        release = asyncio.Event()

        async def run(op: Operation[Any]) -> AccessToken:
            await release.wait()
            return tok("new", clock, 3600)

        refresher = asyncio.create_task(cache.get_token_async(run))
        await asyncio.sleep(0)
        others = await asyncio.gather(*(cache.get_token_async(run) for _ in range(50)))
        assert {t.value for t in others} == {"old"}
        release.set()
        assert (await refresher).value == "new"

    asyncio.run(main())


def test_threads_and_tasks_share_one_refresh() -> None:
    clock = FakeClock()
    _, cache = make(clock)
    gate = Gate(lambda: tok("new", clock, 3600))
    first, out = in_thread(lambda: cache.get_token(gate))  # a thread refreshes ...
    assert gate.entered.wait(10)

    async def main() -> set[str]:
        tasks = [asyncio.create_task(cache.get_token_async(_never)) for _ in range(50)]
        await asyncio.sleep(0)
        assert not any(t.done() for t in tasks)
        gate.release.set()  # ... and tasks on an event loop are woken by it
        return {t.value for t in await asyncio.gather(*tasks)}

    assert asyncio.run(main()) == {"new"}
    first.join(10)
    assert out["value"].value == "new"
    assert gate.calls == 1


async def _never(op: Operation[Any]) -> AccessToken:
    raise AssertionError("only one refresh may run")
