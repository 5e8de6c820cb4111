"""One access token per credential across processes (here: separate providers, caches and states on one Redis,
as separate processes would have them; tests/integration runs real processes)."""

from __future__ import annotations

import asyncio
import itertools
import logging
import threading
import time
from typing import Any

import pytest

from atriumn.core import RAW, AccessToken, AsyncTransport, Operation, RedisState, TokenFlow, TokenProvider, Transport
from tests._redis import RedisServer, fresh_prefix
from tests.faultserver import FaultServer, RecordedRequest, Reply

FERNET_KEY = "q0pYbcEV4yBlkd1n_nK6m4Vxje7y3yHTzRAHCKtXJY4="
OTHER_KEY = "d8Gm6M6yGqGJd9V8_mBd7oVnWZ1m3xqQzD7vS3B4tXk="
OP = Operation(method="GET", path="/thing", response_type=RAW)


class Credential(TokenProvider):
    """A client-credential-like provider: every process asking gets a token from the endpoint."""

    def __init__(self, url: str, identity: str = "cred-1") -> None:
        self.url = url
        self.identity = identity

    def token_flow(self) -> TokenFlow:
        doc = yield Operation(method="POST", path=f"{self.url}/token", response_type=RAW, authenticated=False)
        return AccessToken(
            value=doc["access_token"], expires_at=time.time() + doc["expires_in"], refresh_token="rt-local-secret"
        )

    def shared_identity(self) -> str | None:
        return self.identity


def token_server(srv: FaultServer, expires_in: int = 3600) -> list[str]:
    issued: list[str] = []
    counter = itertools.count(1)

    def answer(req: RecordedRequest) -> Reply:
        if req.path == "/token":
            issued.append(token := f"tok-{next(counter)}-secretvalue")
            return Reply(200, json={"access_token": token, "expires_in": expires_in})
        if req.headers.get("authorization") == "Bearer tok-1-secretvalue" and req.path == "/reject-first":
            return Reply(401, json={"error": "unauthorized"})
        return Reply(200, json={"ok": True, "auth": req.headers.get("authorization")})

    srv.default = answer
    return issued


def process(srv: FaultServer, redis_server: RedisServer, prefix: str, **state: Any) -> Transport:
    """A transport as one process of a fleet has it: its own provider, token cache and state object."""
    shared = RedisState.from_url(redis_server.url, prefix=prefix, timeout=2.0, **state)
    return Transport(srv.url, credentials=Credential(srv.url), shared_state=shared)


def test_the_second_process_uses_the_first_ones_token(srv: FaultServer, redis_server: RedisServer) -> None:
    issued = token_server(srv)
    prefix = fresh_prefix()
    a, b = process(srv, redis_server, prefix), process(srv, redis_server, prefix)
    assert a.send(OP)["auth"] == "Bearer tok-1-secretvalue"
    assert b.send(OP)["auth"] == "Bearer tok-1-secretvalue"
    assert issued == ["tok-1-secretvalue"]
    assert (a.stats().token_refreshes, b.stats().token_refreshes) == (1, 0)
    client: Any = redis_server.client()
    (key,) = client.keys(f"{prefix}:tok:*")
    assert key == f"{prefix}:tok:{{cred-1}}"
    stored = client.get(key)
    assert "tok-1-secretvalue" in stored  # no key configured: plain JSON, as the docs say
    assert "rt-local-secret" not in stored  # never the refresh token
    assert 3500_000 < client.pttl(key) <= 3600_000
    assert client.keys(f"{prefix}:lock:*") == []  # released


def test_tokens_are_encrypted_with_a_key_and_a_wrong_key_is_a_miss(
    srv: FaultServer, redis_server: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    issued = token_server(srv)
    prefix = fresh_prefix()
    a = process(srv, redis_server, prefix, encryption_key=FERNET_KEY)
    b = process(srv, redis_server, prefix, encryption_key=FERNET_KEY)
    c = process(srv, redis_server, prefix, encryption_key=OTHER_KEY)
    a.send(OP)
    client: Any = redis_server.client()
    (stored,) = [client.get(k) for k in client.keys(f"{prefix}:tok:*")]
    assert "secretvalue" not in stored and "tok-1" not in stored
    assert b.send(OP)["auth"] == "Bearer tok-1-secretvalue"
    assert c.send(OP)["auth"] == "Bearer tok-2-secretvalue"  # cannot read it: refreshes on its own, no error
    assert issued == ["tok-1-secretvalue", "tok-2-secretvalue"]
    assert all("secretvalue" not in r.getMessage() for r in caplog.records if r.name.startswith("atriumn"))


def test_a_token_the_server_refused_is_never_taken_from_the_store(srv: FaultServer, redis_server: RedisServer) -> None:
    issued = token_server(srv)
    prefix = fresh_prefix()
    a, b = process(srv, redis_server, prefix), process(srv, redis_server, prefix)
    a.send(OP)
    b.send(OP)  # both hold tok-1
    reject = Operation(method="GET", path="/reject-first", response_type=RAW)
    assert a.send(reject)["auth"] == "Bearer tok-2-secretvalue"  # 401 → one refresh → tok-2 stored
    assert b.send(reject)["auth"] == "Bearer tok-2-secretvalue"  # b's 401 finds tok-2: no refresh
    assert issued == ["tok-1-secretvalue", "tok-2-secretvalue"]


def test_concurrent_processes_refresh_once(srv: FaultServer, redis_server: RedisServer) -> None:
    issued = token_server(srv)
    prefix = fresh_prefix()
    fleet = [process(srv, redis_server, prefix) for _ in range(8)]
    start = threading.Barrier(len(fleet))
    seen: list[str] = []

    def first_call(t: Transport) -> None:
        start.wait()
        seen.append(t.send(OP)["auth"])

    threads = [threading.Thread(target=first_call, args=(t,)) for t in fleet]
    for th in threads:
        th.start()
    for th in threads:
        th.join(30)
    assert issued == ["tok-1-secretvalue"]
    assert seen == ["Bearer tok-1-secretvalue"] * 8


def test_a_crashed_lock_holder_blocks_the_others_only_until_its_lock_expires(
    srv: FaultServer, redis_server: RedisServer
) -> None:
    issued = token_server(srv)
    prefix = fresh_prefix()
    client: Any = redis_server.client()
    client.set(f"{prefix}:lock:tok:{{cred-1}}", "a-process-that-died", px=300)
    a = process(srv, redis_server, prefix, lock_ttl=5.0)
    assert a.send(OP)["auth"] == "Bearer tok-1-secretvalue"
    assert issued == ["tok-1-secretvalue"]
    assert client.get(f"{prefix}:tok:{{cred-1}}") is not None


def test_without_redis_each_process_refreshes_on_its_own(srv: FaultServer) -> None:
    issued = token_server(srv)
    state = RedisState.from_url("redis://127.0.0.1:1/0", prefix=fresh_prefix(), timeout=0.05)
    a = Transport(srv.url, credentials=Credential(srv.url), shared_state=state)
    b = Transport(srv.url, credentials=Credential(srv.url), shared_state=state)
    a.send(OP)
    b.send(OP)
    assert issued == ["tok-1-secretvalue", "tok-2-secretvalue"]


def test_async_processes_share_the_token(srv: FaultServer, redis_server: RedisServer) -> None:
    issued = token_server(srv)
    prefix = fresh_prefix()

    async def main() -> list[str]:
        fleet = [
            AsyncTransport(
                srv.url,
                credentials=Credential(srv.url),
                shared_state=RedisState.from_url(redis_server.url, prefix=prefix, timeout=2.0),
            )
            for _ in range(4)
        ]
        results = await asyncio.gather(*(t.send(OP) for t in fleet))
        for t in fleet:
            assert t.shared_state is not None
            await t.shared_state.aclose()
        return [r["auth"] for r in results]

    assert asyncio.run(main()) == ["Bearer tok-1-secretvalue"] * 4
    assert issued == ["tok-1-secretvalue"]


def test_tokens_of_a_provider_without_an_identity_are_not_shared(srv: FaultServer, redis_server: RedisServer) -> None:
    issued = token_server(srv)
    prefix = fresh_prefix()

    class Private(Credential):
        def shared_identity(self) -> str | None:
            return None

    for _ in range(2):
        state = RedisState.from_url(redis_server.url, prefix=prefix, timeout=2.0)
        Transport(srv.url, credentials=Private(srv.url), shared_state=state).send(OP)
    assert len(issued) == 2
    client: Any = redis_server.client()
    assert client.keys(f"{prefix}:*") == []
