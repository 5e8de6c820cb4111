"""Token refresh single-flight: many threads and tasks, one expiring token, exactly one refresh."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from atriumn.core import (
    RAW,
    AccessToken,
    AsyncTransport,
    Operation,
    TokenCache,
    TokenFlow,
    TokenProvider,
    Transport,
)
from tests.faultserver import Fault, FaultServer, RecordedRequest, Reply

GET = Operation(method="GET", path="/data", response_type=RAW)


class TokenEndpoint(TokenProvider):
    """Fetches tokens from ``/token`` on the fault server (a real request per refresh)."""

    def __init__(self, url: str, lifetime: float) -> None:
        self.url = url
        self.lifetime = lifetime

    def token_flow(self) -> TokenFlow:
        doc = yield Operation(method="POST", path=self.url + "/token", response_type=RAW, authenticated=False)
        return AccessToken(value=doc["access_token"], expires_at=time.time() + self.lifetime)


#: How long the token endpoint takes: long enough that every concurrent caller is waiting on the refresh.
HOLD = 0.5


@pytest.fixture
def srv() -> Iterator[FaultServer]:
    issued = iter(range(1, 10_000))

    def answer(request: RecordedRequest) -> Reply | Fault:
        if request.path == "/token":
            return Fault.delay(HOLD, then=Reply(200, json={"access_token": f"token-{next(issued)}"}))
        return Reply(200, json={"auth": request.headers.get("authorization")})

    with FaultServer(default=answer) as server:
        yield server


def token_requests(srv: FaultServer) -> int:
    return sum(1 for r in srv.requests if r.path == "/token")


def test_32_threads_cause_exactly_one_refresh(srv: FaultServer) -> None:
    provider = TokenEndpoint(srv.url, lifetime=3600)
    with Transport(srv.url, credentials=provider) as transport:
        start = threading.Barrier(32)
        results: list[Any] = []
        lock = threading.Lock()

        def call() -> None:
            start.wait()
            result = transport.send(GET)
            with lock:
                results.append(result)

        threads = [threading.Thread(target=call) for _ in range(32)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        assert transport.stats().token_refreshes == 1
    assert token_requests(srv) == 1
    assert len(results) == 32
    assert {r["auth"] for r in results} == {"Bearer token-1"}


def test_200_tasks_cause_exactly_one_refresh(srv: FaultServer) -> None:
    provider = TokenEndpoint(srv.url, lifetime=3600)

    async def go() -> list[Any]:
        async with AsyncTransport(srv.url, credentials=provider) as transport:
            return await asyncio.gather(*(transport.send(GET) for _ in range(200)))

    results = asyncio.run(go())
    assert token_requests(srv) == 1
    assert len(results) == 200
    assert {r["auth"] for r in results} == {"Bearer token-1"}


def test_expiring_token_is_refreshed_once_for_threads_and_tasks_together(srv: FaultServer) -> None:
    """A token inside its mandatory window: sync threads and async tasks share the one refresh."""
    provider = TokenEndpoint(srv.url, lifetime=3600)
    now = [time.time()]
    TokenCache(provider, clock=lambda: now[0])
    provider.cache.set(AccessToken(value="old", expires_at=now[0] + 1000))
    now[0] += 980  # 20 s left: inside the mandatory window (30 s)

    with Transport(srv.url, credentials=provider) as sync_t:
        barrier = threading.Barrier(9)
        out: list[Any] = []

        def thread_call() -> None:
            barrier.wait()
            out.append(sync_t.send(GET))

        async def tasks() -> list[Any]:
            async with AsyncTransport(srv.url, credentials=provider) as t:
                barrier.wait()
                return await asyncio.gather(*(t.send(GET) for _ in range(50)))

        threads = [threading.Thread(target=thread_call) for _ in range(8)]
        for th in threads:
            th.start()
        runner = threading.Thread(target=lambda: out.extend(asyncio.run(tasks())))
        runner.start()
        for th in [*threads, runner]:
            th.join(30)
    assert token_requests(srv) == 1
    assert len(out) == 58
    assert {r["auth"] for r in out} == {"Bearer token-1"}


def test_advisory_window_one_refresher_others_keep_the_valid_token(srv: FaultServer) -> None:
    provider = TokenEndpoint(srv.url, lifetime=3600)
    now = [time.time()]
    TokenCache(provider, clock=lambda: now[0])
    provider.cache.set(AccessToken(value="still-good", expires_at=now[0] + 1000))
    now[0] += 880  # 120 s left: inside the advisory window (300 s), outside the mandatory one
    with Transport(srv.url, credentials=provider) as transport:
        refresher = threading.Thread(target=transport.send, args=(GET,))
        refresher.start()
        srv.wait_for_requests(1, timeout=10)  # the refresh is in flight (the server holds it HOLD seconds)
        # meanwhile other callers are not blocked: they use the still-valid token
        assert transport.send(GET)["auth"] == "Bearer still-good"
        refresher.join(30)
        assert transport.send(GET)["auth"] == "Bearer token-1"
    assert token_requests(srv) == 1


def test_failed_advisory_refresh_keeps_the_old_token(srv: FaultServer, caplog: pytest.LogCaptureFixture) -> None:
    srv.default = lambda r: (
        Reply(500, json={}) if r.path == "/token" else Reply(200, json={"auth": r.headers.get("authorization")})
    )
    provider = TokenEndpoint(srv.url, lifetime=3600)
    now = [time.time()]
    TokenCache(provider, clock=lambda: now[0])
    provider.cache.set(AccessToken(value="still-good", expires_at=now[0] + 1000))
    now[0] += 880
    with Transport(srv.url, credentials=provider, max_retries=0) as transport:
        assert transport.send(GET)["auth"] == "Bearer still-good"
    assert "advisory token refresh failed" in caplog.text


def test_failed_mandatory_refresh_raises(srv: FaultServer) -> None:
    from atriumn.core import ServerError

    srv.default = lambda r: Reply(503, json={}) if r.path == "/token" else Reply(200, json={})
    provider = TokenEndpoint(srv.url, lifetime=3600)
    with Transport(srv.url, credentials=provider, max_retries=0) as transport, pytest.raises(ServerError):
        transport.send(GET)
    assert all(r.path == "/token" for r in srv.requests)  # the data request was never sent
