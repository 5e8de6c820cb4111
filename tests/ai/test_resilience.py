"""Fallback chains, breakers per provider+model, cache, budget, health checks and embeddings."""

from __future__ import annotations

import pytest

from atriumn.ai import (
    AsyncChatClient,
    Budget,
    BudgetExceededError,
    ChatClient,
    FinishEvent,
    MemoryCache,
    SQLiteCache,
    TextDelta,
    ToolCallDelta,
)
from atriumn.core import BadRequestError, CircuitBreakerPolicy, CircuitOpenError, RateLimitError, ServerError

from ._fake import FakeServer


def test_chat_falls_back_on_retryable_errors(env: dict[str, str], fake: FakeServer) -> None:
    with ChatClient(max_retries=0, prices={"anthropic:echo": {"input": 1.0, "output": 1.0}}) as client:
        r = client.chat(models=["openai:error-503", "gemini:error-429", "anthropic:echo"], messages="hi there")
    assert r.provider == "anthropic"
    assert r.text == "hi there"
    assert [a.model for a in r.attempts] == ["openai:error-503", "gemini:error-429", "anthropic:echo"]
    assert isinstance(r.attempts[0].error, ServerError)
    assert isinstance(r.attempts[1].error, RateLimitError)
    assert r.attempts[2].usage == r.usage
    assert r.attempts[2].cost == r.cost
    assert r.cost is not None


def test_no_fallback_on_request_errors(env: dict[str, str], fake: FakeServer) -> None:
    with ChatClient(max_retries=0) as client, pytest.raises(BadRequestError) as err:
        client.chat(models=["openai:error-400", "anthropic:echo"], messages="x")
    assert len(fake.requests) == 1
    assert [a.model for a in err.value.attempts] == ["openai:error-400"]  # type: ignore[attr-defined]


def test_all_models_failing_raises_the_last_error(env: dict[str, str]) -> None:
    with ChatClient(max_retries=0) as client, pytest.raises(RateLimitError) as err:
        client.chat(models=["openai:error-500", "groq:error-429"], messages="x")
    assert len(err.value.attempts) == 2  # type: ignore[attr-defined]


def test_stream_falls_back_before_the_first_token(env: dict[str, str]) -> None:
    with (
        ChatClient(max_retries=0) as client,
        client.stream(models=["anthropic:error-529", "groq:echo"], messages="a b") as s,
    ):
        text = "".join(e.text for e in s if isinstance(e, TextDelta))
    assert text == "a b"
    assert s.response is not None
    assert s.response.provider == "groq"
    assert [a.model for a in s.response.attempts] == ["anthropic:error-529", "groq:echo"]


def test_breaker_per_provider_and_model(env: dict[str, str], fake: FakeServer) -> None:
    policy = CircuitBreakerPolicy(failure_threshold=2, reset_timeout=600)
    with ChatClient(max_retries=0, circuit_breaker=policy) as client:
        for _ in range(2):
            with pytest.raises(ServerError):
                client.chat("openai:error-500", "x")
        sent = len(fake.requests)
        with pytest.raises(CircuitOpenError) as err:
            client.chat("openai:error-500", "x")
        assert err.value.host == "openai:error-500"
        assert len(fake.requests) == sent  # failed fast
        assert client.chat("openai:echo", "x").text == "x"  # same host, other model: closed
        r = client.chat(models=["openai:error-500", "gemini:echo"], messages="y")  # open circuit → fallback
        assert r.provider == "gemini"
        assert isinstance(r.attempts[0].error, CircuitOpenError)


@pytest.mark.parametrize("store", ["memory", "sqlite"])
def test_cache_hits_and_stream_replay(env: dict[str, str], fake: FakeServer, tmp_path, store: str) -> None:
    cache = MemoryCache(max_entries=10) if store == "memory" else SQLiteCache(str(tmp_path / "c.db"), max_entries=10)
    with ChatClient(cache=cache) as client:
        first = client.chat("openai:echo", "cache me")
        second = client.chat("openai:echo", "cache me")
        assert len(fake.requests) == 1
        assert second == first
        assert second.cached
        assert not first.cached
        client.chat("openai:echo", "cache me", temperature=0.5)  # another request: another key
        assert len(fake.requests) == 2
        with client.stream("anthropic:tool", "w", tools=[{"name": "f", "parameters": {"type": "object"}}]) as s:
            live = list(s)
        with client.stream("anthropic:tool", "w", tools=[{"name": "f", "parameters": {"type": "object"}}]) as s:
            replay = list(s)
        assert len(fake.requests) == 3
        assert replay[:-1] == live[:-1]
        assert isinstance(replay[-1], FinishEvent)
        assert replay[-1].response == live[-1].response
        # An answer cached from chat replays as a stream too.
        with client.stream("openai:echo", "cache me") as s:
            events = list(s)
        assert len(fake.requests) == 3
        assert [type(e).__name__ for e in events] == ["TextDelta", "UsageEvent", "FinishEvent"]
        assert events[-1].response == first
        assert client.chat("openai:echo", "cache me", cache=False) == first
        assert len(fake.requests) == 4
        stats = cache.stats()
        assert (stats.hits, stats.size) == (3, 3)
        assert stats.misses == 3


def test_cache_ttl_and_size_limit() -> None:
    from atriumn.ai import ChatResponse

    now = [1000.0]
    cache = MemoryCache(ttl=10, max_entries=2, clock=lambda: now[0])
    cache.put("a", ChatResponse(text="a"))
    cache.put("b", ChatResponse(text="b"))
    assert cache.get("a") is not None  # a is now most recently used
    cache.put("c", ChatResponse(text="c"))
    assert cache.get("b") is None
    now[0] += 11
    assert cache.get("a") is None
    assert cache.stats().size == 1


def test_structured_output_from_cache_is_parsed_again(env: dict[str, str], fake: FakeServer) -> None:
    import attrs

    @attrs.frozen
    class Out:
        n: int

    with ChatClient(cache=MemoryCache()) as client:
        a = client.chat("gemini:json", "x", response_format=Out)
        b = client.chat("gemini:json", "x", response_format=Out)
    assert a.parsed == b.parsed == Out(n=1)
    assert len(fake.requests) == 1


def test_budget_refuses_before_sending(env: dict[str, str], fake: FakeServer) -> None:
    prices = {"openai:echo": {"input": 1_000.0, "output": 1_000.0}}
    budget = Budget(1.0)
    with ChatClient(prices=prices, budget=budget) as client:
        r = client.chat("openai:echo", "small", max_tokens=10)
        assert r.cost is not None
        assert budget.spent == pytest.approx(r.cost.total)
        with pytest.raises(BudgetExceededError) as err:
            client.chat("openai:echo", "x", max_tokens=100_000)
        assert err.value.estimate > budget.remaining
    assert len(fake.requests) == 1


def test_check_reports_latency_or_error(client: ChatClient, fake: FakeServer) -> None:
    for provider in ("openai", "anthropic", "gemini", "groq"):
        ok = client.check(f"{provider}:echo")
        assert ok.ok, provider
        assert ok.error is None
        bad = client.check(f"{provider}:error-404")
        assert not bad.ok
        assert bad.error is not None
    assert [r["method"] for r in fake.requests] == ["GET"] * 8


@pytest.mark.parametrize("provider", ["openai", "gemini"])
def test_embeddings_batched_in_order(client: ChatClient, fake: FakeServer, provider: str) -> None:
    texts = ["a", "bb", "ccc", "dddd", "eeeee"]
    result = client.embed(f"{provider}:embed-model", texts, batch_size=2)
    assert len(fake.requests) == 3
    assert [v[0] for v in result.vectors] == [1.0, 2.0, 3.0, 4.0, 5.0]
    assert [v[1] for v in result.vectors] == [0.0, 1.0, 0.0, 1.0, 0.0]  # index within each batch
    assert result.provider == provider
    if provider == "openai":
        assert fake.requests[0]["body"]["encoding_format"] == "base64"
        assert result.usage.input_tokens == 5
    with pytest.raises(ValueError, match="anthropic has no embeddings"):
        client.embed("anthropic:x", ["a"])
    with pytest.raises(ValueError, match=r"texts\[1\]"):
        client.embed(f"{provider}:m", ["a", ""])


async def test_async_fallback_embed_check_and_cache(env: dict[str, str], fake: FakeServer) -> None:
    async with AsyncChatClient(max_retries=0, cache=MemoryCache()) as client:
        r = await client.chat(models=["groq:error-503", "openai:echo"], messages="async")
        assert r.provider == "openai"
        assert (await client.chat(models=["groq:error-503", "openai:echo"], messages="async")).cached
        async with client.stream(
            models=["gemini:error-500", "anthropic:tool"], messages="t", tools=[{"name": "f"}]
        ) as s:
            events = [e async for e in s]
        assert any(isinstance(e, ToolCallDelta) for e in events)
        emb = await client.embed("gemini:m", ["x", "yy"])
        assert [v[0] for v in emb.vectors] == [1.0, 2.0]
        assert (await client.check("anthropic:echo")).ok
        with pytest.raises(ServerError) as err:
            await client.stream("openai:stream-error", "x").final_response()
        assert err.value.partial_text == "one two"  # type: ignore[attr-defined]


def test_embeddings_cached_per_text(env: dict[str, str], fake: FakeServer) -> None:
    cache = MemoryCache()
    with ChatClient(cache=cache) as client:
        first = client.embed("openai:m", ["a", "bb"])
        second = client.embed("openai:m", ["bb", "ccc", "a"])
        assert len(fake.requests) == 2
        assert fake.requests[-1]["body"]["input"] == ["ccc"]
        assert second.vectors == (first.vectors[1], (3.0, 0.0, 0.5), first.vectors[0])
        client.embed("openai:m", ["a"], cache=False)
        assert len(fake.requests) == 3


def test_budget_pays_for_answers_that_fail_structured_parsing(env: dict[str, str]) -> None:
    from atriumn.ai import StructuredOutputError

    budget = Budget(10.0)
    prices = {"openai:bad-json": {"input": 1.0, "output": 1.0}}
    with ChatClient(prices=prices, budget=budget) as client, pytest.raises(StructuredOutputError):
        client.chat("openai:bad-json", "x", response_format={"type": "object"})
    assert budget.spent > 0
