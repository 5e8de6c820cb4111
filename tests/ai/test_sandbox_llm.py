"""The chat client against the sandbox's provider emulation (atriumn.sandbox._llm), over sockets, for all four
providers, sync and async. The model catalogue is the sandbox's (see its package docstring)."""

from __future__ import annotations

import math
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import attrs
import pytest

from atriumn.ai import (
    AsyncChatClient,
    ChatClient,
    Message,
    StreamInterruptedError,
    StructuredOutputError,
    TextDelta,
    Tool,
)
from atriumn.core import APIError, AuthenticationError, NetworkError, RateLimitError

from .conftest import PROVIDERS


@pytest.fixture
def sandbox_env(atriumn_sandbox: Any, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    url = atriumn_sandbox.url
    suffix = uuid.uuid4().hex[:8]  # fresh keys: fail-once models count per key
    values = {
        "OPENAI_API_KEY": f"test-openai-key-{suffix}",
        "ANTHROPIC_API_KEY": f"test-anthropic-key-{suffix}",
        "GEMINI_API_KEY": f"test-gemini-key-{suffix}",
        "GROQ_API_KEY": f"test-groq-key-{suffix}",
        "OPENAI_BASE_URL": url + "/v1",
        "ANTHROPIC_BASE_URL": url,
        "GEMINI_BASE_URL": url,
        "GROQ_BASE_URL": url,
    }
    for key in ("ATRIUMN_AI_MODEL", "LLM_PROVIDER", "GOOGLE_API_KEY", "ATRIUMN_AI_PRICES"):
        monkeypatch.delenv(key, raising=False)
    for key, value in values.items():
        monkeypatch.setenv(key, value)
    return values


@pytest.fixture
def llm(sandbox_env: dict[str, str]) -> Iterator[ChatClient]:
    with ChatClient(max_retries=2) as client:
        yield client


@pytest.fixture
async def allm(sandbox_env: dict[str, str]) -> AsyncIterator[AsyncChatClient]:
    async with AsyncChatClient(max_retries=2) as client:
        yield client


@pytest.mark.parametrize("provider", PROVIDERS)
def test_echo_usage_and_stream_equality(llm: ChatClient, provider: str) -> None:
    r = llm.chat(f"{provider}:echo", "the quick brown fox", system="be brief")
    assert r.text == "the quick brown fox"
    assert r.finish_reason == "stop"
    assert r.usage.input_tokens == 6  # system prompt + message, in words
    assert r.usage.output_tokens == 4
    with llm.stream(f"{provider}:echo", "the quick brown fox", system="be brief") as s:
        deltas = [e.text for e in s if isinstance(e, TextDelta)]
    assert len(deltas) == 4
    assert s.response == r
    cut = llm.chat(f"{provider}:echo", "one two three four five", max_tokens=2)
    assert cut.text == "one two"
    assert cut.finish_reason == "length"


@pytest.mark.parametrize("provider", PROVIDERS)
def test_cached_and_reasoning_tokens(llm: ChatClient, provider: str) -> None:
    r = llm.chat(f"{provider}:echo-cache", "hello world", system="a b c d e")
    assert r.usage.input_tokens == 7  # normalised: every prompt token, cached or not (Anthropic included)
    assert r.usage.cache_read_tokens == 5
    if provider in ("openai", "gemini"):
        t = llm.chat(f"{provider}:echo-think", "hello world")
        assert t.usage.reasoning_tokens == 8
        assert t.usage.output_tokens == 2 + 8


def lookup(city: str, days: int = 1) -> str:
    """Forecast for a city."""
    return f"rain in {city}"


@pytest.mark.parametrize("provider", PROVIDERS)
def test_tools_round_trip(llm: ChatClient, provider: str) -> None:
    tool = Tool.from_function(lookup)
    first = llm.chat(f"{provider}:tool", "forecast?", tools=[tool])
    assert first.finish_reason == "tool_calls"
    (call,) = first.tool_calls
    assert call.name == "lookup"
    assert call.arguments["city"] == "sandbox"
    messages = [Message.user("forecast?"), first.message, Message.tool(call.id, lookup(**call.arguments))]
    final = llm.chat(f"{provider}:tool", messages, tools=[tool])
    assert final.text == "tool said: rain in sandbox"
    with llm.stream(f"{provider}:tool", "forecast?", tools=[tool]) as s:
        s.final_response()
    assert s.response == first


@attrs.frozen
class Verdict:
    label: str
    score: int


@pytest.mark.parametrize("provider", PROVIDERS)
def test_structured_output(llm: ChatClient, provider: str) -> None:
    assert llm.chat(f"{provider}:echo", "judge", response_format=Verdict).parsed == Verdict(label="sandbox", score=1)
    with pytest.raises(StructuredOutputError):
        llm.chat(f"{provider}:bad-json", "judge", response_format=Verdict)


@pytest.mark.parametrize("provider", PROVIDERS)
def test_errors_in_the_provider_shapes(
    sandbox_env: dict[str, str], provider: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    with ChatClient(max_retries=0) as client:
        with pytest.raises(RateLimitError) as err:
            client.chat(f"{provider}:error-429-retry-3", "x")
        assert err.value.retry_after == 3.0
        with pytest.raises(APIError) as stream_err, client.stream(f"{provider}:stream-error", "x") as s:
            s.final_response()
        assert stream_err.value.partial_text == "one two"  # type: ignore[attr-defined]
        with pytest.raises(NetworkError), client.stream(f"{provider}:stream-cut", "x") as s:
            s.final_response()
    key = {
        "openai": "OPENAI_API_KEY",
        "anthropic": "ANTHROPIC_API_KEY",
        "gemini": "GEMINI_API_KEY",
        "groq": "GROQ_API_KEY",
    }
    monkeypatch.setenv(key[provider], "invalid-test-key")
    with ChatClient(max_retries=0) as client, pytest.raises(APIError) as bad:
        client.chat(f"{provider}:echo", "x")
    assert bad.value.status_code in (400, 401)
    if provider != "gemini":
        assert isinstance(bad.value, AuthenticationError)


def test_retries_and_fallback(llm: ChatClient) -> None:
    assert llm.chat("anthropic:fail-once-500", "again").text == "again"
    r = llm.chat(models=["openai:error-503-retry-0", "gemini:echo"], messages="fallback")
    assert r.provider == "gemini"
    with (
        pytest.raises(StreamInterruptedError) as err,
        llm.stream(models=["groq:stream-cut", "openai:echo"], messages="x") as s,
    ):
        s.final_response()
    assert err.value.partial_text == "one two three"


@pytest.mark.parametrize("provider", ["openai", "gemini"])
def test_embeddings(llm: ChatClient, provider: str) -> None:
    result = llm.embed(f"{provider}:text-embedding", ["alpha", "beta", "alpha"], batch_size=2)
    assert len(result.vectors) == 3
    assert result.vectors[0] == result.vectors[2]
    assert result.vectors[0] != result.vectors[1]
    assert len(result.vectors[0]) == 8
    assert math.isclose(math.fsum(x * x for x in result.vectors[1]), 1.0, rel_tol=1e-5)


def test_same_vectors_from_both_encodings(llm: ChatClient, sandbox_env: dict[str, str]) -> None:
    import httpx2

    ours = llm.embed("openai:text-embedding", ["alpha"]).vectors[0]  # requested as base64, like the official SDK
    doc = httpx2.post(
        sandbox_env["OPENAI_BASE_URL"] + "/embeddings",
        json={"model": "text-embedding", "input": ["alpha"], "encoding_format": "float"},
        headers={"authorization": "Bearer test-any-key"},
    ).json()
    assert list(ours) == doc["data"][0]["embedding"]


@pytest.mark.parametrize("provider", PROVIDERS)
def test_rate_limits_and_check(llm: ChatClient, provider: str) -> None:
    r = llm.chat(f"{provider}:echo", "x")
    if provider != "gemini":
        assert r.rate_limits.remaining_requests is not None
    assert r.request_id
    assert llm.check(f"{provider}:echo").ok


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_async_over_the_sandbox(allm: AsyncChatClient, provider: str) -> None:
    r = await allm.chat(f"{provider}:echo", "async sandbox")
    async with allm.stream(f"{provider}:echo", "async sandbox") as s:
        text = "".join([e.text async for e in s if isinstance(e, TextDelta)])
    assert text == r.text == "async sandbox"
    assert s.response == r
    tool = Tool.from_function(lookup)
    first = await allm.chat(f"{provider}:tool", "f?", tools=[tool])
    assert first.tool_calls[0].arguments["city"] == "sandbox"
    assert (await allm.chat(f"{provider}:json", "j", response_format=Verdict)).parsed == Verdict(
        label="sandbox", score=1
    )
    with pytest.raises(NetworkError):
        await allm.stream(f"{provider}:stream-cut", "x").final_response()
