"""Content parity end to end against the sandbox's emulation: parts arrive intact on every provider that takes
them (the ``inspect`` model reports what arrived, with each part's SHA-256), reasoning comes back and its
signatures survive a round trip, and Gemini explicit caches are created, used, updated and deleted, sync and
async."""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from atriumn.ai import (
    AsyncChatClient,
    AudioPart,
    ChatClient,
    DocumentPart,
    ImagePart,
    Message,
    Reasoning,
    ReasoningPart,
    UnsupportedParameterError,
)
from atriumn.core import ValidationError

from ._sandbox import PROVIDERS, sandbox_chat_options

PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
)
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
WAV = b"RIFF\x24\0\0\0WAVEfmt " + b"\0" * 16
PARTS = {
    "image": (ImagePart.from_bytes(PNG), "images", PNG),
    "document": (DocumentPart.from_bytes(PDF, filename="a.pdf"), "documents", PDF),
    "audio": (AudioPart.from_bytes(WAV), "audio", WAV),
}
TAKES = {
    "openai": ["image", "document", "audio"],
    "anthropic": ["image", "document"],
    "gemini": ["image", "document", "audio"],
    "groq": ["image"],
}


@pytest.fixture
def client(atriumn_sandbox: Any) -> Iterator[ChatClient]:
    with ChatClient(**sandbox_chat_options(atriumn_sandbox.url, "content")) as c:
        yield c


@pytest.fixture
async def aclient(atriumn_sandbox: Any, request: pytest.FixtureRequest) -> AsyncIterator[AsyncChatClient]:
    async with AsyncChatClient(**sandbox_chat_options(atriumn_sandbox.url, request.node.name)) as c:
        yield c


@pytest.mark.parametrize(("provider", "kind"), [(p, k) for p, kinds in TAKES.items() for k in kinds])
def test_each_part_arrives_intact(client: ChatClient, provider: str, kind: str) -> None:
    part, field, data = PARTS[kind]
    report = json.loads(client.chat(f"{provider}:inspect", [Message.user("what is this?", part)]).text)
    (arrived,) = report[field]
    assert arrived["source"] == "base64"
    assert arrived["bytes"] == len(data)
    assert arrived["sha256"] == hashlib.sha256(data).hexdigest()
    assert arrived["media_type"] == part.media_type


@pytest.mark.parametrize(("provider", "kind"), [(p, k) for p, kinds in TAKES.items() for k in kinds])
async def test_openai_style_dicts_arrive_the_same_async(aclient: AsyncChatClient, provider: str, kind: str) -> None:
    _, field, data = PARTS[kind]
    b64 = base64.b64encode(data).decode()
    as_dict = {
        "image": {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{b64}"}},
        "document": {"type": "file", "file": {"file_data": f"data:application/pdf;base64,{b64}", "filename": "a.pdf"}},
        "audio": {"type": "input_audio", "input_audio": {"data": b64, "format": "wav"}},
    }[kind]
    messages = [{"role": "user", "content": [as_dict, {"type": "text", "text": "what is this?"}]}]
    report = json.loads((await aclient.chat(f"{provider}:inspect", messages)).text)
    assert report[field][0]["sha256"] == hashlib.sha256(data).hexdigest()


@pytest.mark.parametrize("provider", ["openai", "anthropic", "gemini", "groq"])
def test_image_urls_arrive_as_links(client: ChatClient, provider: str) -> None:
    url = "https://example.com/cat.png"
    report = json.loads(client.chat(f"{provider}:inspect", [Message.user("?", ImagePart.from_url(url))]).text)
    assert report["images"][0]["source"] == "url"
    assert report["images"][0]["url"] == url


def test_a_part_the_provider_cannot_take_is_refused_before_sending(client: ChatClient) -> None:
    with pytest.raises(UnsupportedParameterError, match=r"messages\[0\]\.content\[1\]"):
        client.chat("groq:inspect", [Message.user("?", AudioPart.from_bytes(WAV))])


@pytest.mark.parametrize("provider", PROVIDERS)
def test_reasoning_controls_arrive_and_reasoning_comes_back(client: ChatClient, provider: str) -> None:
    reasoning = Reasoning(budget_tokens=1024) if provider in ("anthropic", "gemini") else Reasoning(effort="low")
    response = client.chat(f"{provider}:reason", "think about it", reasoning=reasoning, max_tokens=2048)
    assert response.usage.reasoning_tokens == 8
    if provider != "openai":  # OpenAI's Chat Completions reports reasoning tokens only, never the text
        assert response.reasoning
        assert any(isinstance(p, ReasoningPart) for p in response.parts)
    report = json.loads(client.chat(f"{provider}:inspect", "?", reasoning=reasoning, max_tokens=2048).text)
    assert report["reasoning"]


@pytest.mark.parametrize("provider", ["anthropic", "gemini"])
async def test_streamed_reasoning_round_trips_async(aclient: AsyncChatClient, provider: str) -> None:
    reasoning = Reasoning(budget_tokens=1024)
    stream = aclient.stream(f"{provider}:reason", "first", reasoning=reasoning, max_tokens=2048)
    async with stream:
        kinds = [e.type async for e in stream]
    assert "reasoning_delta" in kinds
    assert stream.response is not None
    conversation = [Message.user("first"), stream.response.message, Message.user("second")]
    follow_up = await aclient.chat(f"{provider}:reason", conversation, reasoning=reasoning, max_tokens=2048)
    assert follow_up.text == "second"


def test_gemini_explicit_cache_lifecycle(client: ChatClient) -> None:
    system = "policy " * 1100
    cache = client.caches.create("gemini:echo", system=system, ttl="5m", display_name="docs")
    assert cache.name.startswith("cachedContents/")
    assert cache.token_count == 1100
    assert [c.name for c in client.caches.list()] == [cache.name]
    answer = client.chat("gemini:echo", "hello there", cached_content=cache)
    assert answer.usage.cache_read_tokens == 1100
    with pytest.raises(ValidationError, match=r"cached_content: cachedContents/\S+ was made for gemini:echo, not"):
        client.chat("gemini:inspect", "?", cached_content=cache)  # refused before sending
    inspected = client.caches.create("gemini:inspect", system=system, ttl=60)
    assert json.loads(client.chat("gemini:inspect", "?", cached_content=inspected).text)["cached_content"] == (
        inspected.name
    )
    client.caches.delete(inspected)
    updated = client.caches.update(cache, ttl=3600)
    assert updated.expire_time is not None and cache.expire_time is not None
    assert updated.expire_time > cache.expire_time
    client.caches.delete(cache)
    assert list(client.caches.list()) == []


async def test_gemini_explicit_cache_async(aclient: AsyncChatClient) -> None:
    cache = await aclient.caches.create("gemini:echo", system="rule " * 1030, ttl=600)
    answer = await aclient.chat("gemini:echo", "hi", cached_content=cache)
    assert answer.usage.cache_read_tokens == 1030
    assert (await aclient.caches.get(cache.name)).name == cache.name
    await aclient.caches.delete(cache)
    assert [c async for c in aclient.caches.list()] == []


def test_a_cache_is_refused_for_other_providers_before_sending(client: ChatClient) -> None:
    with pytest.raises(UnsupportedParameterError, match="cached_content"):
        client.chat("openai:echo", "?", cached_content="cachedContents/x")


def test_cache_methods_take_per_call_options(client: ChatClient) -> None:
    cache = client.caches.create("gemini:echo", system="rule " * 1030, ttl=60, extra_headers={"x-trace": "1"})
    assert client.caches.get(cache, timeout=5).name == cache.name
    with pytest.raises(ValidationError, match="timeout: expected seconds > 0"):
        client.caches.get(cache, timeout=0)
    with pytest.raises(TypeError, match="unexpected keyword argument 'timeuot'"):
        client.caches.delete(cache, timeuot=5)  # type: ignore[call-arg]
    client.caches.delete(cache, extra_query={"alt": "json"})
    assert list(client.caches.list(timeout=5)) == []
