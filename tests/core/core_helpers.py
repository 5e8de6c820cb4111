"""Shared helpers of the core tests (imported as ``core_helpers``: ``tests/core`` is on ``sys.path``)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine, Generator
from typing import Any, TypeVar

from atriumn.core import (
    RAW,
    AccessToken,
    AsyncTransport,
    AtriumnError,
    Operation,
    RetryPolicy,
    Timeouts,
    TokenProvider,
    Transport,
)

T = TypeVar("T")

#: Retries fast enough for a test suite (the decisions are the same as with the defaults).
FAST = RetryPolicy(max_retries=3, initial_backoff=0.001, max_backoff=0.005)
#: Short per-attempt timeouts: a scripted delay of ~1 s is a timeout.
SHORT = Timeouts(connect=1.0, read=0.25, write=1.0, pool=2.0)

#: Every way to send: the sync transport, and the async one on each of its backends.
KINDS = ["sync", "async-httpx2", "async-aiohttp"]
#: The async transport's backends.
ASYNC_BACKENDS = ["httpx2", "aiohttp"]


def backend_of(kind: str) -> str:
    """The backend a kind sends with (``async-aiohttp`` → ``aiohttp``; the sync transport: ``httpx2``)."""
    return kind.rpartition("-")[2] if kind.startswith("async") else "httpx2"


GET = Operation(method="GET", path="/thing", response_type=RAW)
POST = Operation(method="POST", path="/things", json={"name": "x"}, response_type=RAW)


class FakeClock:
    """A clock that only moves when told to."""

    def __init__(self, start: float = 1_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class EndpointToken(TokenProvider):
    """A provider whose token flow calls a token endpoint (``POST /token``) and reads ``access_token``.

    ``lifetime`` is the ``expires_in`` used when the endpoint does not say; ``clock`` is wall-clock time.
    """

    def __init__(self, path: str = "/token", *, lifetime: float = 3600.0, clock: Callable[[], float] | None = None):
        import time

        self.path = path
        self.lifetime = lifetime
        self.clock = clock or time.time
        self.flows = 0

    def token_flow(self) -> Generator[Operation[Any], Any, AccessToken]:
        self.flows += 1
        doc = yield Operation(
            method="POST", path=self.path, data={"grant_type": "client_credentials"}, response_type=RAW
        )
        expires_in = float(doc.get("expires_in", self.lifetime))
        return AccessToken(value=doc["access_token"], expires_at=self.clock() + expires_in)


def run_async(fn: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run a coroutine function in a fresh event loop (each call its own loop)."""
    return asyncio.run(fn())


def send_all(kind: str, url: str, ops: list[Operation[Any]], **options: Any) -> list[Any]:
    """Send ``ops`` in order on one transport of ``kind`` (see :data:`KINDS`); each result or error, in order."""
    results: list[Any] = []
    if kind == "sync":
        with Transport(url, **options) as t:
            for op in ops:
                try:
                    results.append(t.send(op))
                except AtriumnError as exc:
                    results.append(exc)
        return results

    async def main() -> None:
        async with AsyncTransport(url, backend=backend_of(kind), **options) as t:
            for op in ops:
                try:
                    results.append(await t.send(op))
                except AtriumnError as exc:
                    results.append(exc)

    asyncio.run(main())
    return results
