"""Gemini explicit context caches (``cachedContents``) through google-genai against the session sandbox: create,
get, list (pages), update the TTL, delete — under ``/v1`` (the SDK's default) and ``/v1beta`` — and
generateContent with ``cached_content``, which sees the cached contents, system instruction and tools and
reports the cache's tokens; missing, expired and foreign caches are refused as Gemini refuses them.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from typing import Any

import pytest
from google import genai
from google.genai import errors as genai_errors
from google.genai import types

from atriumn.sandbox import Sandbox
from atriumn.sandbox._llm._parts import IMAGE_TOKENS

#: 1,024 words: the smallest cache Gemini accepts.
BIG = " ".join(f"w{i}" for i in range(1024))
SCHEMA = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}


def _client(sandbox: Sandbox, version: str = "v1beta") -> genai.Client:
    key = f"test-gemini-key-{uuid.uuid4().hex[:8]}"
    return genai.Client(api_key=key, http_options=types.HttpOptions(base_url=sandbox.url, api_version=version))


def _create(client: genai.Client, model: str = "gemini-2.5-flash", **config: Any) -> types.CachedContent:
    config.setdefault("contents", [BIG])
    return client.caches.create(model=model, config=types.CreateCachedContentConfig(**config))


@pytest.mark.parametrize("version", ["v1", "v1beta"])
def test_cache_lifecycle(sandbox: Sandbox, version: str) -> None:
    client = _client(sandbox, version)
    cache = _create(client, system_instruction="you are terse", ttl="300s", display_name="docs")
    assert cache.name is not None and cache.name.startswith("cachedContents/")
    assert cache.model == "models/gemini-2.5-flash"
    assert cache.display_name == "docs"
    assert cache.usage_metadata is not None
    assert cache.usage_metadata.total_token_count == 1024 + 3
    assert cache.create_time is not None and cache.expire_time is not None
    assert cache.expire_time - cache.create_time == dt.timedelta(seconds=300)
    assert client.caches.get(name=cache.name) == cache
    assert client.caches.get(name=cache.name.removeprefix("cachedContents/")).name == cache.name
    updated = client.caches.update(name=cache.name, config=types.UpdateCachedContentConfig(ttl="7200s"))
    assert updated.create_time == cache.create_time
    assert updated.expire_time is not None and updated.update_time is not None
    assert updated.expire_time - updated.update_time == dt.timedelta(seconds=7200)
    assert [c.name for c in client.caches.list()] == [cache.name]
    client.caches.delete(name=cache.name)
    assert list(client.caches.list()) == []
    with pytest.raises(genai_errors.ClientError) as gone:
        client.caches.get(name=cache.name)
    assert gone.value.code == 403
    assert gone.value.status == "PERMISSION_DENIED"
    assert gone.value.message == "CachedContent not found (or permission denied)"


def test_cache_list_pages_and_privacy(sandbox: Sandbox) -> None:
    client = _client(sandbox)
    names = [_create(client).name for _ in range(3)]
    pager = client.caches.list(config=types.ListCachedContentsConfig(page_size=2))
    assert [c.name for c in pager.page] == names[:2]
    assert [c.name for c in pager] == names  # the pager follows nextPageToken
    stranger = _client(sandbox)
    assert list(stranger.caches.list()) == []
    with pytest.raises(genai_errors.ClientError) as foreign:
        stranger.caches.get(name=str(names[0]))
    assert foreign.value.code == 403


def test_generate_with_a_cache_reports_cached_tokens(sandbox: Sandbox) -> None:
    client = _client(sandbox)
    cache = _create(client, system_instruction="you are terse")
    config = types.GenerateContentConfig(cached_content=cache.name)
    response = client.models.generate_content(model="gemini-2.5-flash", contents="hello cache", config=config)
    assert response.text == "hello cache"
    usage = response.usage_metadata
    assert usage is not None
    assert usage.cached_content_token_count == 1024 + 3
    assert usage.prompt_token_count == 1024 + 3 + 2  # the cached tokens are part of the prompt
    assert usage.cache_tokens_details is not None
    chunks = list(client.models.generate_content_stream(model="gemini-2.5-flash", contents="a b", config=config))
    assert chunks[-1].usage_metadata is not None
    assert chunks[-1].usage_metadata.cached_content_token_count == 1024 + 3


def test_a_cache_holds_tools_and_media(sandbox: Sandbox) -> None:
    client = _client(sandbox)
    tool = types.Tool(
        function_declarations=[types.FunctionDeclaration(name="get_weather", parameters_json_schema=SCHEMA)]
    )
    contents = [
        types.Content(
            role="user", parts=[types.Part(text=BIG), types.Part.from_bytes(data=b"\x89PNG", mime_type="image/png")]
        )
    ]
    cache = _create(client, model="gemini-tool", contents=contents, tools=[tool])
    assert cache.usage_metadata is not None
    assert cache.usage_metadata.total_token_count == 1024 + IMAGE_TOKENS
    config = types.GenerateContentConfig(
        cached_content=cache.name, automatic_function_calling=types.AutomaticFunctionCallingConfig(disable=True)
    )
    called = client.models.generate_content(model="gemini-tool", contents="weather?", config=config)
    assert called.function_calls is not None
    assert called.function_calls[0].name == "get_weather"
    inspect = _create(client, model="gemini-inspect", contents=contents)
    seen = client.models.generate_content(
        model="gemini-inspect", contents="what", config=types.GenerateContentConfig(cached_content=inspect.name)
    )
    report = json.loads(seen.text or "")
    assert report["cached_content"] == inspect.name
    assert [i["bytes"] for i in report["images"]] == [4]


def test_cache_refusals(sandbox: Sandbox) -> None:
    client = _client(sandbox)
    with pytest.raises(genai_errors.ClientError) as small:
        _create(client, contents=["too few words"])
    assert small.value.code == 400
    assert small.value.message == "Cached content is too small. total_token_count=3, min_total_token_count=1024"
    cache = _create(client)
    with pytest.raises(genai_errors.ClientError) as other_model:
        client.models.generate_content(
            model="gemini-2.5-pro", contents="hi", config=types.GenerateContentConfig(cached_content=cache.name)
        )
    assert other_model.value.code == 400
    assert "has to be the same" in str(other_model.value.message)
    with pytest.raises(genai_errors.ClientError) as with_system:
        client.models.generate_content(
            model="gemini-2.5-flash",
            contents="hi",
            config=types.GenerateContentConfig(cached_content=cache.name, system_instruction="again"),
        )
    assert with_system.value.code == 400
    assert str(with_system.value.message).startswith("CachedContent can not be used with GenerateContent request")
    for name in ("cachedContents/nope", str(_create(client, ttl="0s").name)):  # unknown, and expired at once
        with pytest.raises(genai_errors.ClientError) as missing:
            client.models.generate_content(
                model="gemini-2.5-flash", contents="hi", config=types.GenerateContentConfig(cached_content=name)
            )
        assert missing.value.code == 403
        assert missing.value.message == "CachedContent not found (or permission denied)"
    client.caches.delete(name=str(cache.name))
    with pytest.raises(genai_errors.ClientError) as deleted:
        client.models.generate_content(
            model="gemini-2.5-flash", contents="hi", config=types.GenerateContentConfig(cached_content=cache.name)
        )
    assert deleted.value.code == 403
    with pytest.raises(genai_errors.ClientError) as bad_ttl:
        _create(client, ttl="five minutes")
    assert bad_ttl.value.code == 400
