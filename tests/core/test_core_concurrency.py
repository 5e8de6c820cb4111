"""Concurrency over real sockets: single-flight token refresh across 200 tasks and 32 threads, the 401 path,
fork safety, and an AsyncTransport used from more than one event loop."""

from __future__ import annotations

import asyncio
import gc
import itertools
import json
import os
import sys
import threading
from typing import Any

import pytest
from core_helpers import FAST, GET, KINDS, SHORT, EndpointToken, FakeClock, backend_of

from atriumn.core import AccessToken, ApiKey, AsyncTransport, AuthenticationError, PoolLimits, StaticToken, Transport
from tests.faultserver import Fault, FaultServer, RecordedRequest, Reply

OK = Reply(200, json={"ok": True})


class TokenServer:
    """Scripts a fault server as a token endpoint (``POST /token``, answered after ``delay``) plus an API
    that accepts only the most recently issued token."""

    def __init__(self, srv: FaultServer, *, delay: float = 0.2, accept_any_issued: bool = False) -> None:
        self.srv = srv
        self.delay = delay
        self.issued: list[str] = []
        self.accept_any_issued = accept_any_issued
        self._n = itertools.count(1)
        self._lock = threading.Lock()
        srv.default = self.handle

    def handle(self, req: RecordedRequest) -> Reply | Fault:
        if req.path == "/token":
            with self._lock:
                token = f"tok-{next(self._n)}"
                self.issued.append(token)
            reply = Reply(200, json={"access_token": token, "token_type": "Bearer", "expires_in": 3600})
            return Fault.delay(self.delay, then=reply) if self.delay else reply
        auth = req.headers.get("authorization", "")
        with self._lock:
            valid = self.issued if self.accept_any_issued else self.issued[-1:]
        if auth.removeprefix("Bearer ") in valid:
            return OK
        return Reply(401, json={"error": "unauthorized", "error_description": "token expired"})

    @property
    def token_hits(self) -> int:
        return sum(1 for r in self.srv.requests if r.path == "/token")

    def api_requests(self) -> list[RecordedRequest]:
        return [r for r in self.srv.requests if r.path != "/token"]


def test_200_tasks_and_32_threads_cause_exactly_one_refresh(srv: FaultServer, async_backend: str) -> None:
    server = TokenServer(srv, delay=0.3)
    clock = FakeClock(start=1_700_000_000.0)
    provider = EndpointToken(clock=clock)
    from atriumn.core import TokenCache

    cache = TokenCache(provider, clock=clock)
    cache.set(AccessToken(value="old", expires_at=clock() + 3600))
    clock.advance(3600 - 10)  # 10 s left: inside the mandatory window, everyone needs the new token

    errors: list[BaseException] = []
    barrier = threading.Barrier(33)
    sync_t = Transport(srv.url, credentials=provider, retry=FAST, timeouts=SHORT.__class__(read=10, pool=20))
    async_t = AsyncTransport(
        srv.url, credentials=provider, retry=FAST, timeouts=SHORT.__class__(read=10, pool=20),
        limits=PoolLimits(max_connections=64), backend=async_backend,
    )  # fmt: skip

    def worker(i: int) -> None:
        try:
            barrier.wait(10)
            assert sync_t.send(GET.evolve(query={"thread": i})) == {"ok": True}
        except BaseException as exc:
            errors.append(exc)

    async def tasks() -> list[Any]:
        return await asyncio.gather(*(async_t.send(GET.evolve(query={"task": i})) for i in range(200)))

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(32)]
    for t in threads:
        t.start()
    barrier.wait(10)
    results = asyncio.run(tasks())
    for t in threads:
        t.join(30)
    sync_t.close()
    assert errors == []
    assert results == [{"ok": True}] * 200
    assert server.token_hits == 1
    assert provider.flows == 1
    api = server.api_requests()
    assert len(api) == 232
    assert {r.headers["authorization"] for r in api} == {"Bearer tok-1"}
    assert sync_t.stats().token_refreshes + async_t.stats().token_refreshes == 1


@pytest.mark.parametrize("kind", KINDS)
def test_401_invalidates_refreshes_once_and_retries(srv: FaultServer, kind: str) -> None:
    server = TokenServer(srv, delay=0)
    provider = EndpointToken()
    provider.cache.set(AccessToken(value="revoked", expires_at=None))  # valid by its expiry, rejected by the server
    out = _send(kind, srv.url, provider, [GET])
    assert out == [{"ok": True}]
    assert server.token_hits == 1
    api = server.api_requests()
    assert [r.headers["authorization"] for r in api] == ["Bearer revoked", "Bearer tok-1"]
    # The re-send after a 401 is not a retry (it uses no retry and no budget): it repeats attempt 1.
    assert [r.headers["atriumn-attempt"] for r in api] == ["attempt=1; max=4", "attempt=1; max=4"]


@pytest.mark.parametrize("kind", KINDS)
def test_a_second_401_is_raised_not_looped(srv: FaultServer, kind: str) -> None:
    server = TokenServer(srv, delay=0)
    server.handle = lambda req: (  # type: ignore[method-assign]
        Reply(200, json={"access_token": "also-bad"}) if req.path == "/token" else Reply(401, json={"error": "x"})
    )
    srv.default = server.handle
    provider = EndpointToken()
    provider.cache.set(AccessToken(value="revoked"))
    out = _send(kind, srv.url, provider, [GET])
    assert isinstance(out[0], AuthenticationError)
    assert out[0].code == "x"
    assert server.token_hits == 1
    assert len(server.api_requests()) == 2


@pytest.mark.parametrize("kind", KINDS)
def test_a_401_with_a_fixed_key_is_final(srv: FaultServer, kind: str) -> None:
    srv.default = lambda req: Reply(401, json={"error": "invalid_key"})
    out = _send(kind, srv.url, ApiKey("fixed-key-1234", header_name="x-api-key", prefix=""), [GET, GET])
    assert [type(o) for o in out] == [AuthenticationError, AuthenticationError]
    # Re-sending the same key cannot help: one request per call, each carrying the key.
    assert [r.headers.get("x-api-key") for r in srv.requests] == ["fixed-key-1234", "fixed-key-1234"]


@pytest.mark.parametrize("kind", KINDS)
def test_a_static_token_subclass_that_rotates_still_refreshes_after_a_401(srv: FaultServer, kind: str) -> None:
    class Rotating(ApiKey):
        def __init__(self) -> None:
            super().__init__("ctor-key", header_name="x-api-key", prefix="")
            self.issued = itertools.count(1)
            self.rejected: list[str] = []

        def token_flow(self) -> Any:
            return AccessToken(value=f"key-{next(self.issued)}")
            yield  # pragma: no cover

        def on_unauthorized(self, token: AccessToken) -> None:
            self.rejected.append(token.value)

    srv.default = lambda req: OK if req.headers.get("x-api-key") == "key-2" else Reply(401, json={"error": "x"})
    provider = Rotating()
    assert _send(kind, srv.url, provider, [GET]) == [{"ok": True}]
    assert [r.headers.get("x-api-key") for r in srv.requests] == ["key-1", "key-2"]
    assert provider.rejected == ["key-1"]


def test_a_failing_fixed_key_is_counted_as_a_failed_call(srv: FaultServer) -> None:
    class Broken(StaticToken):
        def fixed_headers(self) -> dict[str, str]:
            raise RuntimeError("no key today")

    with Transport(srv.url, credentials=Broken("k"), retry=FAST, timeouts=SHORT) as t:
        with pytest.raises(RuntimeError, match="no key today"):
            t.send(GET)
        stats = t.stats()
    assert (stats.calls, stats.errors) == (1, 1)
    assert srv.requests == []


def test_concurrent_401s_cause_one_refresh(srv: FaultServer, async_backend: str) -> None:
    server = TokenServer(srv, delay=0.2, accept_any_issued=True)
    provider = EndpointToken()
    provider.cache.set(AccessToken(value="revoked"))
    barrier = threading.Barrier(9)
    errors: list[BaseException] = []

    with Transport(srv.url, credentials=provider, retry=FAST) as sync_t:

        def worker() -> None:
            try:
                barrier.wait(10)
                assert sync_t.send(GET) == {"ok": True}
            except BaseException as exc:
                errors.append(exc)

        async def tasks() -> list[Any]:
            async with AsyncTransport(srv.url, credentials=provider, retry=FAST, backend=async_backend) as t:
                return await asyncio.gather(*(t.send(GET) for _ in range(50)))

        threads = [threading.Thread(target=worker) for _ in range(8)]
        for t in threads:
            t.start()
        barrier.wait(10)
        results = asyncio.run(tasks())
        for t in threads:
            t.join(30)
    assert errors == []
    assert results == [{"ok": True}] * 50
    assert server.token_hits == 1
    final = [
        r.headers["authorization"] for r in server.api_requests() if r.headers["authorization"] != "Bearer revoked"
    ]
    assert set(final) == {"Bearer tok-1"}
    assert len(final) == 58


def _send(kind: str, url: str, provider: Any, ops: list[Any]) -> list[Any]:
    from atriumn.core import AtriumnError

    results: list[Any] = []
    if kind == "sync":
        with Transport(url, credentials=provider, retry=FAST, timeouts=SHORT) as t:
            for op in ops:
                try:
                    results.append(t.send(op))
                except AtriumnError as exc:
                    results.append(exc)
        return results

    async def main() -> None:
        async with AsyncTransport(url, credentials=provider, retry=FAST, timeouts=SHORT, backend=backend_of(kind)) as t:
            for op in ops:
                try:
                    results.append(await t.send(op))
                except AtriumnError as exc:
                    results.append(exc)

    asyncio.run(main())
    return results


# --- fork --------------------------------------------------------------------------------------------------------


def _in_child(fn: Any) -> Any:
    """Fork; run ``fn`` in the child and return its JSON result (the child always ``os._exit`` s)."""
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - runs in the child
        code = 1
        try:
            os.close(read_fd)
            payload = json.dumps({"ok": fn()}).encode()
            os.write(write_fd, payload)
            code = 0
        except BaseException as exc:
            os.write(write_fd, json.dumps({"error": repr(exc)}).encode())
        finally:
            os._exit(code)
    os.close(write_fd)
    chunks = []
    while chunk := os.read(read_fd, 65536):
        chunks.append(chunk)
    os.close(read_fd)
    _, status = os.waitpid(pid, 0)
    doc = json.loads(b"".join(chunks) or b"{}")
    assert os.waitstatus_to_exitcode(status) == 0, doc
    return doc["ok"]


needs_fork = pytest.mark.skipif(not hasattr(os, "fork") or sys.platform == "darwin", reason="needs os.fork")


@needs_fork
@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # "use of fork() may lead to deadlocks" (3.12+)
def test_forked_child_uses_its_own_connections_and_the_parent_keeps_working(srv: FaultServer) -> None:
    with Transport(srv.url, retry=FAST, timeouts=SHORT) as t:
        assert t.send(GET.evolve(query={"who": "parent"})) == {"ok": True}
        assert _in_child(lambda: [t.send(GET.evolve(query={"who": "child"})) for _ in range(3)]) == [{"ok": True}] * 3
        assert t.send(GET.evolve(query={"who": "parent"})) == {"ok": True}
    parent = [r.connection_id for r in srv.requests if r.query == "who=parent"]
    child = {r.connection_id for r in srv.requests if r.query == "who=child"}
    assert len(child) == 1  # the child's own pool, kept alive between its requests
    assert parent[0] not in child  # never the parent's socket
    assert parent[0] == parent[1]  # and the parent's connection survived the child


@needs_fork
@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_forked_child_async_transport(srv: FaultServer, async_backend: str) -> None:
    t = AsyncTransport(srv.url, retry=FAST, timeouts=SHORT, backend=async_backend)

    async def call(who: str) -> Any:
        return await t.send(GET.evolve(query={"who": who}))

    assert asyncio.run(call("parent")) == {"ok": True}
    assert _in_child(lambda: asyncio.run(call("child"))) == {"ok": True}
    assert asyncio.run(call("parent")) == {"ok": True}
    asyncio.run(t.aclose())
    child = {r.connection_id for r in srv.requests if r.query == "who=child"}
    parent = {r.connection_id for r in srv.requests if r.query == "who=parent"}
    assert child and not child & parent


# --- event loops -------------------------------------------------------------------------------------------------


def test_async_transport_from_two_event_loops(srv: FaultServer, async_backend: str) -> None:
    t = AsyncTransport(srv.url, retry=FAST, timeouts=SHORT, backend=async_backend)

    async def calls(loop_no: int) -> list[Any]:
        return [await t.send(GET.evolve(query={"loop": loop_no})) for _ in range(2)]

    assert asyncio.run(calls(1)) == [{"ok": True}] * 2
    assert asyncio.run(calls(2)) == [{"ok": True}] * 2  # no "Event loop is closed", no hang
    assert asyncio.run(calls(3)) == [{"ok": True}] * 2
    asyncio.run(t.aclose())
    gc.collect()  # the first loops' dropped pools must not blow up when collected
    by_loop = {n: {r.connection_id for r in srv.requests if r.query == f"loop={n}"} for n in (1, 2, 3)}
    assert all(len(ids) == 1 for ids in by_loop.values())  # keep-alive within a loop
    assert len(by_loop[1] | by_loop[2] | by_loop[3]) == 3  # a fresh pool per loop


def test_closed_transports_refuse_work(srv: FaultServer, async_backend: str) -> None:
    t = Transport(srv.url)
    t.close()
    with pytest.raises(RuntimeError, match="closed"):
        t.send(GET)

    async def main() -> None:
        at = AsyncTransport(srv.url, backend=async_backend)
        await at.aclose()
        with pytest.raises(RuntimeError, match="closed"):
            await at.send(GET)

    asyncio.run(main())
    assert srv.requests == []
