"""One access token per credential across processes, refreshed by one process at a time.

A process whose :class:`~._credentials.TokenCache` decides to refresh asks Redis first:

1. ``GET {prefix}:tok:{fingerprint}``: a token another process stored, good for longer than the refresh window
   (and not the one the server just refused), is used as is: no request to the token endpoint;
2. otherwise it takes the refresh lock (``SET {prefix}:lock:tok:{fingerprint} <random fencing token> NX PX
   <lock_ttl>``, reading the token in the same step); the holder refreshes, stores the token only while it
   still holds the lock (fencing: a holder whose lock expired cannot overwrite a newer token) and releases it;
3. the others poll the token key until the holder's token appears. A holder that crashed blocks them at most
   ``lock_ttl`` (the lock expires; the next poller takes it). An advisory refresh (the old token is still good)
   never waits: when another process holds the lock the old token is kept.

What is stored: the access token, its expiry and scope (JSON, encrypted with the state's Fernet key when one is
configured), for the token's remaining lifetime. Never the refresh token: it stays in the per-machine store
(keyring, credentials file). When Redis cannot be reached, the process refreshes on its own.

The plan is a sans-IO generator driven by :func:`refresh_sync` and :func:`refresh_async`.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import time
from collections.abc import Awaitable, Callable, Generator
from typing import TYPE_CHECKING, Any

from ._redis_scripts import TOKEN_LOCK, TOKEN_RELEASE, TOKEN_STORE
from ._redis_state import Step
from ._tokens import AccessToken

if TYPE_CHECKING:
    from ._credentials import TokenCache
    from ._operation import Operation
    from ._redis_state import RedisState

__all__ = ["SharedTokens", "refresh_async", "refresh_cache_async", "refresh_cache_sync", "refresh_sync"]

_POLL = 0.02
_NO_EXPIRY_TTL = 24 * 3600.0
_FLOW = object()  # instruction: run the token flow; reply with the token (or the exception is thrown in)


class _Sleep(float):
    """Instruction: sleep this many seconds."""


class SharedTokens:
    """The shared token of one credential (``identity`` is a fingerprint, never the secret)."""

    def __init__(self, state: RedisState, identity: str) -> None:
        self.state = state
        self.token_key = state.key("tok", identity)
        self.lock_key = f"{state.prefix}:lock:tok:{{{identity}}}"

    def _decode(self, stored: Any) -> AccessToken | None:
        if not stored:
            return None
        plain = self.state.unseal(stored if isinstance(stored, bytes) else str(stored).encode())
        if plain is None:
            return None
        try:
            doc = json.loads(plain)
            return AccessToken(value=doc["value"], expires_at=doc.get("expires_at"), scope=doc.get("scope"))
        except (ValueError, KeyError, TypeError):
            return None

    def _encode(self, token: AccessToken) -> tuple[bytes, int] | None:
        left = token.expires_in() if token.expires_at is not None else _NO_EXPIRY_TTL
        if not left > 0:
            return None
        doc = {"value": token.value, "expires_at": token.expires_at, "scope": token.scope}
        return self.state.seal(json.dumps(doc).encode()), max(1, round(min(left, _NO_EXPIRY_TTL) * 1000))

    def plan(self, usable: Callable[[AccessToken], bool], *, advisory: bool) -> Generator[Any, Any, AccessToken | None]:
        """Yields :class:`Step` s, sleeps and ``_FLOW``; returns the token to use (None: keep the old one)."""
        found = yield Step([("GET", self.token_key)], lambda r: (True, r[0]), lambda: (False, None))
        if not found[0]:  # Redis is away: refresh on our own
            return (yield _FLOW)  # type: ignore[no-any-return]
        token = self._decode(found[1])
        if token is not None and usable(token):
            return token
        fence = os.urandom(16).hex()
        lock_ms = round(self.state.lock_ttl * 1000)
        give_up = time.monotonic() + self.state.lock_ttl + 1.0
        while True:
            reply = yield Step(
                [TOKEN_LOCK.call((self.token_key, self.lock_key), (fence, lock_ms))],
                lambda r: (True, r[0][0] == 1, r[0][1]),
                lambda: (False, False, None),
            )
            reachable, held, stored = reply
            if not reachable:
                return (yield _FLOW)  # type: ignore[no-any-return]
            token = self._decode(stored)
            if token is not None and usable(token):
                if held:
                    yield self._release(fence)
                return token
            if held:
                break
            if advisory:
                return None
            if time.monotonic() > give_up:  # the holder is stuck and its lock outlives it: refresh ourselves
                return (yield _FLOW)  # type: ignore[no-any-return]
            yield _Sleep(_POLL)
        try:
            fresh: AccessToken = yield _FLOW
        except Exception:
            yield self._release(fence)  # the refresh failed: the next process may try at once
            raise
        except BaseException:  # cancelled: no round trip now; sent with the next one
            self.state.defer(TOKEN_RELEASE.call((self.lock_key,), (fence,)))
            raise
        encoded = self._encode(fresh)
        if encoded is None:
            yield self._release(fence)
        else:
            sealed, ttl_ms = encoded
            store = TOKEN_STORE.call((self.token_key, self.lock_key), (fence, sealed, ttl_ms))
            yield Step([store], lambda r: None, lambda: None)
        return fresh

    def _release(self, fence: str) -> Step[None]:
        return Step([TOKEN_RELEASE.call((self.lock_key,), (fence,))], lambda r: None, lambda: None)


def refresh_sync(
    shared: SharedTokens, flow: Callable[[], AccessToken], usable: Callable[[AccessToken], bool], *, advisory: bool
) -> AccessToken | None:
    """Drive :meth:`SharedTokens.plan` with the sync Redis client; ``flow`` refreshes for real."""
    plan = shared.plan(usable, advisory=advisory)
    try:
        instruction = next(plan)
        while True:
            if instruction is _FLOW:
                try:
                    token = flow()
                except BaseException as exc:
                    instruction = plan.throw(exc)
                    continue
                instruction = plan.send(token)
            elif isinstance(instruction, _Sleep):
                time.sleep(instruction)
                instruction = plan.send(None)
            else:
                instruction = plan.send(shared.state.run(instruction))
    except StopIteration as stop:
        result: AccessToken | None = stop.value
        return result
    finally:
        plan.close()


async def refresh_async(
    shared: SharedTokens,
    flow: Callable[[], Awaitable[AccessToken]],
    usable: Callable[[AccessToken], bool],
    *,
    advisory: bool,
) -> AccessToken | None:
    """Drive :meth:`SharedTokens.plan` with the asyncio Redis client; ``flow`` refreshes for real."""
    plan = shared.plan(usable, advisory=advisory)
    try:
        instruction = next(plan)
        while True:
            if instruction is _FLOW:
                try:
                    token = await flow()
                except BaseException as exc:
                    instruction = plan.throw(exc)
                    continue
                instruction = plan.send(token)
            elif isinstance(instruction, _Sleep):
                await asyncio.sleep(instruction)
                instruction = plan.send(None)
            else:
                instruction = plan.send(await shared.state.arun(instruction))
    except StopIteration as stop:
        result: AccessToken | None = stop.value
        return result
    finally:
        plan.close()


# --- the token cache's side ---------------------------------------------------------------------------------


def _usable(cache: TokenCache) -> Callable[[AccessToken], bool]:
    """Whether a token found in the shared store may be used instead of refreshing: good for longer than the
    mandatory window, and neither the token being replaced nor one the server refused."""
    with cache._cond:
        current = cache._token.value if cache._token is not None else None
        rejected = cache._rejected
    mandatory, clock = cache.mandatory_window, cache._clock

    def usable(token: AccessToken) -> bool:
        return token.expires_in(clock()) > mandatory and token.value not in (current, rejected)

    return usable


def _adopt(cache: TokenCache, token: AccessToken) -> AccessToken:
    """A token from the shared store keeps this process's refresh token (the store never holds one)."""
    with cache._cond:
        refresh = cache._token.refresh_token if cache._token is not None else None
    if token.refresh_token is None and refresh is not None:
        token = dataclasses.replace(token, refresh_token=refresh)
    return token


def _keep(cache: TokenCache, old: AccessToken | None) -> AccessToken:
    """An advisory refresh left to another process: end ours and keep the still-valid token."""
    with cache._cond:
        cache._refreshing = False
        cache._cond.notify_all()
    assert old is not None
    return old


def _sharing(cache: TokenCache, state: RedisState) -> SharedTokens:
    """The :class:`SharedTokens` of the cache's credential in ``state`` (made once per state)."""
    current = cache._shared
    if current is None or current.state is not state:
        identity = cache.provider.shared_identity()
        assert identity is not None
        current = cache._shared = SharedTokens(state, identity)
    return current  # type: ignore[no-any-return]


def refresh_cache_sync(
    cache: TokenCache,
    state: RedisState,
    run: Callable[[Operation[Any]], Any],
    old: AccessToken | None,
    on_refresh: Callable[[], None] | None,
) -> AccessToken:
    """The cache's refresh (it decided one is due) through the shared store; sync."""

    def flow() -> AccessToken:
        if on_refresh is not None:
            on_refresh()
        return cache._run_flow_sync(run)

    try:
        new = refresh_sync(_sharing(cache, state), flow, _usable(cache), advisory=old is not None)
    except BaseException as exc:
        return cache._conclude(old, None, exc)
    return cache._conclude(old, _adopt(cache, new), None) if new is not None else _keep(cache, old)


async def refresh_cache_async(
    cache: TokenCache,
    state: RedisState,
    run: Callable[[Operation[Any]], Any],
    old: AccessToken | None,
    on_refresh: Callable[[], None] | None,
) -> AccessToken:
    """As :func:`refresh_cache_sync`, with ``run`` an async function."""

    async def flow() -> AccessToken:
        if on_refresh is not None:
            on_refresh()
        return await cache._run_flow_async(run)

    try:
        new = await refresh_async(_sharing(cache, state), flow, _usable(cache), advisory=old is not None)
    except BaseException as exc:
        return cache._conclude(old, None, exc)
    return cache._conclude(old, _adopt(cache, new), None) if new is not None else _keep(cache, old)
