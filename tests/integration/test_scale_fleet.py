"""Many processes, one Redis: the scale-out behaviours end to end, with real processes and real servers.

Windows are scaled down (120 requests per 2 s instead of per minute) so a run takes seconds; the longer
runs, and the figures, are in the scale benchmark (``nox -s bench -- scale``).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from atriumn.sandbox import Sandbox, SandboxConfig
from tests._redis import RedisServer, find_redis_server, fresh_prefix
from tests.faultserver import FaultServer, RecordedRequest, Reply

from . import _scale

pytestmark = pytest.mark.timeout(180)

RPM, WINDOW, PROCESSES, CALLS = 120, 2.0, 8, 40


@pytest.fixture
def limited_sandbox() -> Iterator[Sandbox]:
    box = Sandbox(SandboxConfig(llm_rpm=RPM, llm_window=WINDOW)).start()
    try:
        yield box
    finally:
        box.stop()


def test_a_fleet_sharing_redis_stays_under_the_provider_limit(
    limited_sandbox: Sandbox, redis_server: RedisServer, record_property: Any
) -> None:
    key, prefix = f"sk-{uuid.uuid4().hex}", fresh_prefix()
    args = [(limited_sandbox.url, key, redis_server.url, prefix, CALLS, WINDOW, 10)] * PROCESSES
    shared = _scale.fleet(_scale.chat_worker, args)
    assert sum(r["rate_limited"] for r in shared) == 0  # no 429 ever reached a client's retry loop
    assert sum(r["requests"] for r in shared) == PROCESSES * CALLS  # so nothing was sent twice
    assert sum(r["fallbacks"] for r in shared) == 0
    elapsed = max(r["end"] for r in shared) - min(r["start"] for r in shared)
    floor = (PROCESSES * CALLS - RPM) * WINDOW / RPM  # the first window's budget at once, then the rate
    # The same fleet without shared state, each process on its own, calls failing at the first 429:
    alone = _scale.fleet(
        _scale.chat_worker, [(limited_sandbox.url, f"sk-{uuid.uuid4().hex}", None, "", CALLS, WINDOW, 0)] * PROCESSES
    )
    refused = sum(r["rate_limited"] for r in alone)
    record_property("shared_seconds", round(elapsed, 2))
    record_property("floor_seconds", round(floor, 2))
    record_property("unshared_429s", refused)
    print(f"shared: 0 429s in {elapsed:.2f}s (floor {floor:.2f}s); unshared: {refused} 429s of {PROCESSES * CALLS}")
    assert refused > 0  # the contrast: the same workload without Redis runs into the provider's limit


def test_a_fleet_with_an_expired_token_refreshes_once(redis_server: RedisServer) -> None:
    refreshes: list[RecordedRequest] = []

    def api(req: RecordedRequest) -> Reply:
        if req.path == "/auth/token":
            refreshes.append(req)
            return Reply(200, json={"access_token": f"fleet-token-{len(refreshes)}", "expires_in": 3600})
        return Reply(200, json={"auth": req.headers.get("authorization")})

    with FaultServer(default=api) as srv:
        results = _scale.fleet(_scale.token_worker, [(srv.url, redis_server.url, fresh_prefix())] * PROCESSES)
    assert len(refreshes) == 1  # exactly one request reached the token endpoint
    assert {r["auth"] for r in results} == {"Bearer fleet-token-1"}
    assert sorted(r["refreshes"] for r in results) == [0] * (PROCESSES - 1) + [1]


def test_a_circuit_opened_by_one_process_is_open_for_all_and_one_probes(redis_server: RedisServer) -> None:
    with FaultServer(default=Reply(500)) as srv:
        prefix = fresh_prefix()
        opened = _scale._context().Event()
        args = [(srv.url, redis_server.url, prefix, i == 0, opened) for i in range(PROCESSES)]
        results = _scale.fleet(_scale.breaker_worker, args)
        requests = len(srv.requests)
    others = [r["outcomes"] for r in results if not r["opener"]]
    assert all(o[0] == "CircuitOpenError" for o in others)  # seen open without sending
    probes = [o[1] for o in others if o[1] != "CircuitOpenError"]
    assert probes == ["ServerError"]  # exactly one probe in half-open (the host still fails: it reopens)
    assert requests == 2 + 1  # the opener's two failures and the one probe


@pytest.fixture
def own_redis(redis_server: RedisServer) -> Iterator[RedisServer]:
    if redis_server.external:
        pytest.skip("ATRIUMN_TEST_REDIS_URL names a server this test cannot stop")
    server = RedisServer(find_redis_server())
    server.start()
    try:
        yield server
    finally:
        server.close()


def test_redis_killed_mid_run_and_restarted_fails_no_call(own_redis: RedisServer) -> None:
    box = Sandbox(SandboxConfig(llm_rpm=60_000, llm_window=60.0)).start()
    ctx = _scale._context()
    workers = 4
    progress, stop = ctx.Array("i", workers), ctx.Event()
    key, prefix = f"sk-{uuid.uuid4().hex}", fresh_prefix()
    args = [(box.url, key, own_redis.url, prefix, progress, i, stop) for i in range(workers)]

    def wait_for(stage: int) -> None:
        deadline = time.monotonic() + 60
        while min(progress[:]) < stage:  # polling the workers' progress: state, not a guess at timing
            assert time.monotonic() < deadline, f"workers stuck before stage {stage}: {progress[:]}"
            time.sleep(0.02)

    import threading

    outcome: list[Any] = []
    runner = threading.Thread(target=lambda: outcome.append(_scale.fleet(_scale.outage_worker, args)))
    runner.start()
    try:
        wait_for(1)
        own_redis.stop()
        wait_for(2)
        own_redis.start()
        wait_for(3)
    finally:
        stop.set()
        runner.join(60)
        box.stop()
    (results,) = outcome
    assert sum(r["failures"] for r in results) == 0  # no call failed because Redis went away
    assert all(r["outages"] == 1 and r["fallbacks"] > 0 for r in results)
    client: Any = own_redis.client()
    rebuilt = {k.split(":", 2)[1] for k in client.keys(f"{prefix}:*")}
    assert {"rl", "limits"} <= rebuilt  # the restarted Redis holds the fleet's state again


def test_every_client_takes_a_shared_state() -> None:
    from atriumn.ai import AIClient, AsyncChatClient, ChatClient
    from atriumn.auth import AuthClient
    from atriumn.core import ApiKey, AsyncTransport, RedisState, Transport
    from atriumn.ingest import AsyncIngestClient, IngestClient
    from atriumn.storage import StorageClient

    state = RedisState.from_url("redis://127.0.0.1:1/0", prefix=fresh_prefix())
    key = ApiKey("sk-test")
    for cls in (AuthClient, IngestClient, AIClient, StorageClient):
        assert cls(credentials=key, shared_state=state).transport.shared_state is state
    assert AsyncIngestClient(credentials=key, shared_state=state).transport.shared_state is state
    mine = Transport()
    derived = IngestClient(transport=mine, shared_state=state).transport
    assert derived.shared_state is state and mine.shared_state is None
    chat = ChatClient(api_keys={"openai": "sk-test"}, shared_state=state)
    assert chat._transport(chat._engine.adapter("openai")).shared_state is state
    achat = AsyncChatClient(transport=AsyncTransport(), api_keys={"openai": "sk-test"}, shared_state=state)
    assert achat._transport(achat._engine.adapter("openai")).shared_state is state
