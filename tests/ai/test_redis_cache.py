"""RedisCache: the response cache of MemoryCache/SQLiteCache, in Redis, shared by processes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

import pytest

from atriumn.ai import AsyncChatClient, ChatClient, RedisCache, TextDelta
from atriumn.ai._types import UsageEvent
from atriumn.core import RedisState, ValidationError
from tests._redis import RedisServer, fresh_prefix

from ._fake import FakeServer


@pytest.fixture
def cache(redis_server: RedisServer) -> RedisCache:
    return RedisCache(RedisState.from_url(redis_server.url, prefix=fresh_prefix(), timeout=2.0), ttl=60)


def test_a_chat_answer_is_stored_with_a_ttl_and_replayed(
    env: dict[str, str], cache: RedisCache, redis_server: RedisServer
) -> None:
    with ChatClient(cache=cache) as client:
        first = client.chat("openai:echo", "hello redis")
        second = client.chat("openai:echo", "hello redis")
        events = list(client.stream("openai:echo", "hello redis"))
    assert (first.cached, second.cached) == (False, True)
    assert second.text == first.text == "hello redis"
    assert second.usage == first.usage
    assert [e.text for e in events if isinstance(e, TextDelta)] == ["hello redis"]  # synthesised from chat
    assert cache.stats().hits == 2
    assert cache.stats().size == 1
    client_: Any = redis_server.client()
    (key,) = client_.keys(f"{cache.state.prefix}:cache:*")
    assert 0 < client_.pttl(key) <= 60_000


def test_a_stream_is_replayed_as_it_was_streamed(env: dict[str, str], cache: RedisCache) -> None:
    with ChatClient(cache=cache) as client:
        live = list(client.stream("openai:chunks-5", "go"))
        replay = list(client.stream("openai:chunks-5", "go"))
    deltas = [[e.text for e in run if isinstance(e, TextDelta)] for run in (live, replay)]
    assert deltas[0] == deltas[1] == ["w0", " w1", " w2", " w3", " w4"]
    assert any(isinstance(e, UsageEvent) for e in replay)
    assert replay[-1].response.cached  # type: ignore[union-attr]


def test_vectors_and_clear(cache: RedisCache) -> None:
    cache.put_vector("v1", [0.5, 0.25])
    assert cache.get_vector("v1") == (0.5, 0.25)
    assert cache.get_vector("v2") is None
    cache.clear()
    assert cache.get_vector("v1") is None
    assert cache.stats().size == 0


async def test_the_async_client_uses_it_too(env: dict[str, str], cache: RedisCache) -> None:
    async with AsyncChatClient(cache=cache) as client:
        await client.chat("anthropic:echo", "async hello")
        again = await client.chat("anthropic:echo", "async hello")
    assert again.cached


def test_redis_away_is_a_miss_never_an_error(env: dict[str, str]) -> None:
    cache = RedisCache("redis://127.0.0.1:1/0", ttl=60)
    with ChatClient(cache=cache) as client:
        assert not client.chat("openai:echo", "still works").cached
        assert not client.chat("openai:echo", "still works").cached
    assert cache.stats().size == 0
    assert cache.state.stats().fallbacks >= 2
    cache.clear()  # nothing to do, nothing raised


def test_every_entry_expires() -> None:
    with pytest.raises(ValidationError, match="ttl"):
        RedisCache("redis://127.0.0.1:1/0", ttl=None)  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="url_or_state"):
        RedisCache(42)  # type: ignore[arg-type]


_SECOND_PROCESS = """
import json, sys
from atriumn.ai import ChatClient, RedisCache
from atriumn.core import RedisState, ValidationError
cache = RedisCache(RedisState.from_url(sys.argv[1], prefix=sys.argv[2], timeout=2.0), ttl=60)
with ChatClient(cache=cache) as client:
    reply = client.chat("openai:echo", "shared between processes")
print(json.dumps({"cached": reply.cached, "text": reply.text, "hits": cache.stats().hits}))
"""


def test_a_second_process_gets_a_hit(env: dict[str, str], fake: FakeServer, redis_server: RedisServer) -> None:
    prefix = fresh_prefix()
    cache = RedisCache(RedisState.from_url(redis_server.url, prefix=prefix, timeout=2.0), ttl=60)
    with ChatClient(cache=cache) as client:
        assert not client.chat("openai:echo", "shared between processes").cached
    before = len(fake.state.requests)
    out = subprocess.run(
        [sys.executable, "-c", _SECOND_PROCESS, redis_server.url, prefix],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **env},
        check=True,
    )
    assert json.loads(out.stdout) == {"cached": True, "text": "shared between processes", "hits": 1}
    assert len(fake.state.requests) == before  # the provider never saw the second process
