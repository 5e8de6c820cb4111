"""ChatClient with a RedisState against the sandbox's provider limits: what a chat call reserves, learns, settles
and pauses. (Many processes at once: tests/integration/test_scale_limits.py.)"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from atriumn.ai import AsyncChatClient, ChatClient
from atriumn.core import RateLimitError, RedisState, RequestTimeoutError, SharedLimit
from atriumn.core._shared_limits import fingerprint
from atriumn.sandbox import Sandbox, SandboxConfig
from tests._redis import RedisServer, fresh_prefix


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    # Generous limits over a long window: the client learns them, nothing is refused.
    box = Sandbox(SandboxConfig(llm_rpm=6000, llm_tpm=600_000, llm_window=600.0)).start()
    try:
        yield box
    finally:
        box.stop()


def client(sandbox: Sandbox, state: RedisState | None, key: str, **kwargs: Any) -> ChatClient:
    urls = {"openai": f"{sandbox.url}/v1", "anthropic": sandbox.url, "groq": sandbox.url, "gemini": sandbox.url}
    keys = dict.fromkeys(urls, key)
    return ChatClient(api_keys=keys, base_urls=urls, shared_state=state, **kwargs)


def state_for(redis_server: RedisServer, **kwargs: Any) -> RedisState:
    return RedisState.from_url(redis_server.url, prefix=fresh_prefix(), timeout=2.0, **kwargs)


def test_the_first_answer_teaches_the_limits_and_no_key_is_stored(sandbox: Sandbox, redis_server: RedisServer) -> None:
    state = state_for(redis_server)
    key = f"sk-{uuid.uuid4().hex}"
    with client(sandbox, state, key) as chat:
        chat.chat("openai:gpt-4o", "hello", max_tokens=10)
        chat.chat("anthropic:claude-x", "hello", max_tokens=10)
        chat.chat("groq:llama-x", "hello", max_tokens=10)
    redis: Any = redis_server.client()
    fp = fingerprint(key)
    assert redis.hgetall(f"{state.prefix}:limits:{{openai:gpt-4o:{fp}}}") == {"requests": "6000", "tokens": "600000"}
    assert redis.hgetall(f"{state.prefix}:limits:{{anthropic:claude-x:{fp}}}") == {
        "requests": "6000",
        "tokens": "600000",
    }
    assert redis.hgetall(f"{state.prefix}:limits:{{groq:llama-x:{fp}}}") == {"tokens": "600000"}  # RPD not learned
    for name in redis.keys(f"{state.prefix}:*"):
        assert key not in name
        assert 0 < redis.pttl(name) <= 600_000


def test_a_call_reserves_its_estimate_and_settles_to_its_usage(sandbox: Sandbox, redis_server: RedisServer) -> None:
    state = state_for(redis_server)
    key = f"sk-{uuid.uuid4().hex}"
    redis: Any = redis_server.client()
    rl = f"{state.prefix}:rl:{{openai:gpt-4o:{fingerprint(key)}}}"
    with client(sandbox, state, key) as chat:
        for _ in range(4):  # each reserves ~1000 tokens (max_tokens) and uses about 4
            chat.chat("openai:gpt-4o", "short question", max_tokens=1000)
        booked = float(redis.hget(rl, "t")) - redis.time()[0] * 1000 - redis.time()[1] / 1000
        # One token is 1 ms here (600,000 per 600 s). The first call was booked when its limit was learned and
        # the last settlement is still waiting for the next round trip: one estimate, not four, is booked.
        assert booked < 1500
        chat.chat("openai:gpt-4o", "short question", max_tokens=1000)
        booked = float(redis.hget(rl, "t")) - redis.time()[0] * 1000 - redis.time()[1] / 1000
    assert booked < 1500


def test_a_429_pauses_every_process_sharing_the_budget(sandbox: Sandbox, redis_server: RedisServer) -> None:
    prefix = fresh_prefix()
    key = f"sk-{uuid.uuid4().hex}"
    first = client(sandbox, RedisState.from_url(redis_server.url, prefix=prefix, timeout=2.0), key, max_retries=0)
    other = client(sandbox, RedisState.from_url(redis_server.url, prefix=prefix, timeout=2.0), key, deadline=0.5)
    with first, other:
        with pytest.raises(RateLimitError) as caught:
            first.chat("openai:error-429-retry-30", "hi")
        assert caught.value.retry_after == 30
        redis: Any = redis_server.client()
        pause = f"{prefix}:pause:{{openai:error-429-retry-30:{fingerprint(key)}}}"
        assert 25_000 < redis.pttl(pause) <= 30_000
        with pytest.raises(RequestTimeoutError) as waited:  # the other process waits instead of sending
            other.chat("openai:error-429-retry-30", "hi")
        assert other._transport(other._engine.adapter("openai")).stats().requests == 0
    assert waited.value.phase == "rate_limit"
    assert "shared rate limit" in str(waited.value)


def test_configured_limits_hold_before_anything_is_learned(sandbox: Sandbox, redis_server: RedisServer) -> None:
    state = state_for(redis_server, limits={"openai:gpt-4o-mini": SharedLimit(requests=2, window=600.0)}, headroom=0)
    key = f"sk-{uuid.uuid4().hex}"
    with client(sandbox, state, key, deadline=1.0) as chat:
        chat.chat("openai:gpt-4o-mini", "one")
        chat.chat("openai:gpt-4o-mini", "two")
        with pytest.raises(RequestTimeoutError, match="shared rate limit needs"):
            chat.chat("openai:gpt-4o-mini", "three")  # the next slot is 300 s away: past the deadline, not sent
        stats = chat._transport(chat._engine.adapter("openai")).stats()
    assert stats.requests == 2
    assert stats.rate_limited == 0


async def test_the_async_client_shares_the_same_budget(sandbox: Sandbox, redis_server: RedisServer) -> None:
    prefix = fresh_prefix()
    key = f"sk-{uuid.uuid4().hex}"
    limits = {"gemini": SharedLimit(requests=2, window=600.0)}
    sync_state = RedisState.from_url(redis_server.url, prefix=prefix, timeout=2.0, limits=limits, headroom=0)
    with client(sandbox, sync_state, key) as chat:
        chat.chat("gemini:gemini-x", "one")
    urls = {"gemini": sandbox.url}
    async_state = RedisState.from_url(redis_server.url, prefix=prefix, timeout=2.0, limits=limits, headroom=0)
    async with AsyncChatClient(
        api_keys={"gemini": key}, base_urls=urls, shared_state=async_state, deadline=1.0
    ) as achat:
        await achat.chat("gemini:gemini-x", "two")
        with pytest.raises(RequestTimeoutError, match="shared rate limit"):  # the third slot is 300 s away
            await achat.chat("gemini:gemini-x", "three")
        await async_state.aclose()
