"""Fleets of real processes for the scale tests and the scale benchmark (a helper module, not a test module).

Processes come from a ``forkserver`` that has already imported the SDK, redis-py and this module, so starting
eight takes a fraction of a second and none of them inherits the test process's threads (the sandbox, the
fault servers). Every worker does its setup (clients, a first Redis round trip), then waits at a barrier, so
the measured part starts at the same moment in every process. Results come back through a queue.
"""

from __future__ import annotations

import multiprocessing
import time
from collections.abc import Callable, Sequence
from typing import Any

__all__ = ["chat_worker", "fleet", "token_worker"]

_CONTEXT: Any = None


def _context() -> Any:
    global _CONTEXT
    if _CONTEXT is None:
        _CONTEXT = multiprocessing.get_context("forkserver")
        _CONTEXT.set_forkserver_preload(["tests.integration._scale", "atriumn.ai", "atriumn.auth", "redis"])
    return _CONTEXT


def _run(target: Callable[..., Any], barrier: Any, queue: Any, args: tuple[Any, ...]) -> None:
    try:
        queue.put(("ok", target(barrier, *args)))
    except BaseException as exc:
        queue.put(("error", f"{type(exc).__name__}: {exc}"))
        barrier.abort()


def fleet(target: Callable[..., Any], args: Sequence[tuple[Any, ...]], timeout: float = 120.0) -> list[Any]:
    """Run ``target(barrier, *a)`` in one process per ``a``; their results, in completion order."""
    ctx = _context()
    barrier = ctx.Barrier(len(args))
    queue = ctx.Queue()
    procs = [ctx.Process(target=_run, args=(target, barrier, queue, a), daemon=True) for a in args]
    for p in procs:
        p.start()
    results: list[Any] = []
    try:
        for _ in procs:
            kind, value = queue.get(timeout=timeout)
            if kind == "error":
                raise AssertionError(f"a worker failed: {value}")
            results.append(value)
    finally:
        for p in procs:
            p.join(10)
            if p.is_alive():
                p.kill()
    return results


def _state(redis_url: str | None, prefix: str, **options: Any) -> Any:
    if redis_url is None:
        return None
    from atriumn.core import RedisState
    from atriumn.core._redis_state import Step

    state = RedisState.from_url(redis_url, prefix=prefix, **options)
    state.run(Step([("PING",)], lambda r: None, lambda: None))  # connected, scripts loaded: setup, not workload
    return state


def chat_worker(
    barrier: Any,
    base_url: str,
    api_key: str,
    redis_url: str | None,
    prefix: str,
    calls: int,
    window: float,
    max_retries: int,
) -> dict[str, Any]:
    """``calls`` chat calls in a row (OpenAI emulation); what this process saw."""
    from atriumn.ai import ChatClient
    from atriumn.core import RateLimitError, SharedLimit

    limits = {"openai": SharedLimit(window=window)}  # the counts are learned; the window is the sandbox's
    state = _state(redis_url, prefix, limits=limits, timeout=1.0)
    client = ChatClient(
        api_keys={"openai": api_key},
        base_urls={"openai": f"{base_url}/v1"},
        shared_state=state,
        max_retries=max_retries,
    )
    # Warm up outside the measurement (imports on first use, the first connection) with a key of its own,
    # so the measured key's budget at the sandbox is untouched.
    warm = ChatClient(api_keys={"openai": f"{api_key}-warm-up"}, base_urls={"openai": f"{base_url}/v1"})
    warm.chat("openai:gpt-4o", "warm up", max_tokens=5)
    warm.close()
    latencies: list[float] = []
    refused = 0
    barrier.wait()
    start = time.monotonic()
    for _ in range(calls):
        began = time.perf_counter()
        try:
            client.chat("openai:gpt-4o", "hello there", max_tokens=5)
        except RateLimitError:
            refused += 1
        latencies.append(time.perf_counter() - began)
    end = time.monotonic()
    stats = client._transport(client._engine.adapter("openai")).stats()
    client.close()
    return {
        "start": start,
        "end": end,
        "latencies": latencies,
        "refused": refused,
        "rate_limited": stats.rate_limited,
        "requests": stats.requests,
        "limiter_wait": stats.limiter_wait,
        "round_trips": stats.redis_round_trips,
        "fallbacks": stats.redis_fallbacks,
    }


def token_worker(barrier: Any, api_url: str, redis_url: str, prefix: str) -> dict[str, Any]:
    """Start with an expired token, then make one authenticated call; what this process saw."""
    from atriumn.auth import ClientCredentials
    from atriumn.core import RAW, AccessToken, Operation, Transport

    credentials = ClientCredentials(client_id="fleet-client", client_secret="fleet-secret-value", base_url=api_url)
    credentials.cache.set(AccessToken(value="expired-token", expires_at=time.time() - 60))
    transport = Transport(api_url, credentials=credentials, shared_state=_state(redis_url, prefix, timeout=1.0))
    barrier.wait()
    answer = transport.send(Operation(method="GET", path="/thing", response_type=RAW))
    stats = transport.stats()
    return {"auth": answer["auth"], "refreshes": stats.token_refreshes}


def breaker_worker(
    barrier: Any, api_url: str, redis_url: str, prefix: str, opener: bool, opened: Any
) -> dict[str, Any]:
    """Once every process is ready, the opener fails twice (the circuit opens); the others then find it open,
    wait out the open period and call together: exactly one of them is the probe."""
    from atriumn.core import RAW, CircuitBreakerPolicy, CircuitOpenError, Operation, RetryPolicy, ServerError, Transport

    policy = CircuitBreakerPolicy(failure_threshold=2, reset_timeout=2.0)
    transport = Transport(
        api_url, shared_state=_state(redis_url, prefix, timeout=1.0), circuit_breaker=policy,
        retry=RetryPolicy(max_retries=0),
    )  # fmt: skip
    op = Operation(method="GET", path="/thing", response_type=RAW, authenticated=False)
    outcomes: list[str] = []

    def call() -> float:
        try:
            transport.send(op)
            outcomes.append("ok")
        except CircuitOpenError as exc:
            outcomes.append("CircuitOpenError")
            return exc.retry_in
        except ServerError:
            outcomes.append("ServerError")
        return 0.0

    barrier.wait()  # everyone is set up
    if opener:
        call()
        call()
        opened.set()
        barrier.wait()
        return {"opener": True, "outcomes": outcomes}
    opened.wait(30)
    time.sleep(call() + 0.05)  # the breaker's own timer: wait what the error said
    barrier.wait()
    call()
    return {"opener": False, "outcomes": outcomes}


def outage_worker(
    barrier: Any, base_url: str, api_key: str, redis_url: str, prefix: str, progress: Any, index: int, stop: Any
) -> dict[str, Any]:
    """Chat calls until told to stop, through a Redis that the test kills and restarts; ``progress[index]``
    says how far this process is: 1 calling, 2 fell back to local state, 3 back on Redis after that."""
    from atriumn.ai import ChatClient
    from atriumn.core import SharedLimit

    state = _state(redis_url, prefix, limits={"openai": SharedLimit(window=60.0)}, timeout=0.5, backoff=0.2)
    client = ChatClient(
        api_keys={"openai": api_key}, base_urls={"openai": f"{base_url}/v1"}, shared_state=state, max_retries=0
    )
    barrier.wait()
    calls = failures = 0
    trips_at_outage = 0
    while not stop.is_set():
        try:
            client.chat("openai:gpt-4o", "hello there", max_tokens=5)
        except Exception:
            failures += 1
        calls += 1
        seen = state.stats()
        if progress[index] < 2 and seen.fallbacks:
            progress[index], trips_at_outage = 2, seen.round_trips
        elif progress[index] == 2 and seen.healthy and seen.round_trips > trips_at_outage:
            progress[index] = 3
        elif progress[index] == 0:
            progress[index] = 1
        time.sleep(0.01)  # pacing: a steady trickle of calls, not a measurement
    client.close()
    final = state.stats()
    return {"calls": calls, "failures": failures, "fallbacks": final.fallbacks, "outages": final.outages}
