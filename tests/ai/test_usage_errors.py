"""Usage conventions, cost, rate limits, error mapping, in-stream errors, stream cuts."""

from __future__ import annotations

import pytest

from atriumn.ai import ChatClient, ErrorEvent, PriceTable, StreamInterruptedError, TextDelta, Usage
from atriumn.core import APIError, NetworkError, RateLimitError, ServerError

from ._fake import FakeServer
from .conftest import PROVIDERS

PRICES = {
    "openai:cached": {"input": 1.0, "output": 2.0, "cache_read": 0.5},
    "anthropic:cached": {"input": 1.0, "output": 2.0, "cache_read": 0.1, "cache_write": 1.25},
    "gemini:cached": {"input": 1.0, "output": 2.0, "cache_read": 0.25},
}


def test_cached_token_conventions(env: dict[str, str]) -> None:
    with ChatClient(prices=PRICES) as client:
        # "a b c" is 3 words; the emulation adds 4 cached prompt tokens (Anthropic: 4 read + 2 written, outside
        # input_tokens, as Anthropic reports them).
        o = client.chat("openai:cached", "a b c")
        assert o.usage == Usage(input_tokens=7, output_tokens=3, cache_read_tokens=4)
        assert o.usage.raw["prompt_tokens"] == 7
        a = client.chat("anthropic:cached", "a b c")
        assert a.usage == Usage(input_tokens=9, output_tokens=3, cache_read_tokens=4, cache_write_tokens=2)
        assert a.usage.raw["input_tokens"] == 3
        g = client.chat("gemini:cached", "a b c")
        assert g.usage == Usage(input_tokens=7, output_tokens=3, cache_read_tokens=4)
        # Costs per million tokens: uncached input at the input price, cache reads/writes at theirs.
        assert o.cost is not None
        assert o.cost.total == pytest.approx((3 * 1.0 + 4 * 0.5 + 3 * 2.0) / 1e6)
        assert a.cost is not None
        assert a.cost.total == pytest.approx((3 * 1.0 + 4 * 0.1 + 2 * 1.25 + 3 * 2.0) / 1e6)
        assert g.cost is not None
        assert g.cost.total == pytest.approx((3 * 1.0 + 4 * 0.25 + 3 * 2.0) / 1e6)
        assert o.cost.prices_as_of  # dated table
        for provider in ("openai", "anthropic", "gemini"):
            with client.stream(f"{provider}:cached", "a b c") as s:
                final = s.final_response()
            assert final.usage == client.chat(f"{provider}:cached", "a b c").usage


def test_price_table_lookup_and_unknown_models() -> None:
    table = PriceTable({"openai:gpt-4o": {"input": 2.5, "output": 10.0}}, as_of="2026-11-01")
    assert table.price("openai:gpt-4o-2024-08-06") == {"input": 2.5, "output": 10.0}
    assert table.price("openai:gpt-4o-mini-x") == {"input": 2.5, "output": 10.0}
    assert table.price("openai:gpt-4") is None
    assert table.cost("openai:nope", Usage(input_tokens=1)) is None
    from atriumn.ai._pricing import default_prices

    bundled = default_prices()
    assert bundled.as_of
    assert bundled.price("anthropic:claude-sonnet-4-5-20250929") is not None


def test_prices_from_environment_file(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    from atriumn.ai import _pricing

    path = tmp_path / "prices.json"
    path.write_text('{"as_of": "2030-01-01", "models": {"openai:x": {"input": 1, "output": 1}}}')
    monkeypatch.setenv("ATRIUMN_AI_PRICES", str(path))
    monkeypatch.setattr(_pricing, "_default", None)
    assert _pricing.default_prices().as_of == "2030-01-01"
    monkeypatch.setattr(_pricing, "_default", None)
    monkeypatch.setenv("ATRIUMN_AI_PRICES", str(tmp_path / "missing.json"))
    from atriumn.core import ConfigurationError

    with pytest.raises(ConfigurationError, match="ATRIUMN_AI_PRICES"):
        _pricing.default_prices()
    monkeypatch.setattr(_pricing, "_default", None)


def test_rate_limit_headers(client: ChatClient) -> None:
    o = client.chat("openai:echo", "x").rate_limits
    assert (o.limit_requests, o.remaining_requests, o.limit_tokens, o.remaining_tokens) == (500, 499, 30000, 29000)
    assert o.reset_requests == pytest.approx(0.12)
    assert o.reset_tokens == 360.0
    assert client.chat("groq:echo", "x").rate_limits.remaining_tokens == 29000
    a = client.chat("anthropic:echo", "x").rate_limits
    assert (a.limit_requests, a.remaining_requests, a.limit_tokens, a.remaining_tokens) == (50, 49, 1000, 900)
    assert a.reset_requests is not None
    assert a.reset_requests > 0
    assert client.chat("gemini:echo", "x").rate_limits.limit_requests is None


def test_rate_limit_errors_carry_retry_after(env: dict[str, str], fake: FakeServer) -> None:
    with ChatClient(max_retries=0) as client:
        for provider in ("openai", "anthropic", "groq"):
            with pytest.raises(RateLimitError) as err:
                client.chat(f"{provider}:error-429", "x")
            assert err.value.retry_after == 0.0
        with pytest.raises(RateLimitError) as gerr:
            client.chat("gemini:error-429", "x")
        assert gerr.value.retry_after == 7.0
        assert gerr.value.code == "RESOURCE_EXHAUSTED"
        assert "emulated 429" in str(gerr.value)


def test_anthropic_529_and_5xx_are_retried_by_core(client: ChatClient, fake: FakeServer) -> None:
    r = client.chat("anthropic:fail-once-529", "retry me")
    assert r.text == "retry me"
    assert [q["path"] for q in fake.requests] == ["/anthropic/v1/messages"] * 2
    fake.requests.clear()
    assert client.chat("openai:fail-once-503", "again").text == "again"
    assert len(fake.requests) == 2


@pytest.mark.parametrize("provider", PROVIDERS)
def test_error_inside_a_200_stream_is_typed(client: ChatClient, provider: str) -> None:
    got: list[str] = []
    with pytest.raises(APIError) as err, client.stream(f"{provider}:stream-error", "x") as s:
        got.extend(e.text for e in s if isinstance(e, TextDelta))
    assert got == ["one", " two"]
    assert isinstance(err.value, ServerError)
    assert err.value.status_code in (500, 503, 529)
    with client.stream(f"{provider}:stream-error", "x", errors="event") as s:
        events = list(s)
    assert isinstance(events[-1], ErrorEvent)
    assert isinstance(events[-1].error, ServerError)


@pytest.mark.parametrize("provider", PROVIDERS)
def test_stream_cut_raises_network_error(client: ChatClient, provider: str) -> None:
    texts: list[str] = []
    with pytest.raises(NetworkError), client.stream(f"{provider}:stream-cut", "x") as s:
        texts.extend(e.text for e in s if isinstance(e, TextDelta))
    assert "".join(texts) == "one two three"


@pytest.mark.parametrize("provider", PROVIDERS)
def test_fallback_after_tokens_raises_with_partial_text(client: ChatClient, provider: str) -> None:
    with (
        pytest.raises(StreamInterruptedError) as err,
        client.stream(models=[f"{provider}:stream-cut", "openai:echo"], messages="x") as s,
    ):
        for _ in s:
            pass
    assert err.value.partial_text == "one two three"
    assert err.value.model == f"{provider}:stream-cut"
    assert isinstance(err.value.__cause__, NetworkError)
    assert len(err.value.attempts) == 1


def test_gemini_retry_delay_is_honoured_by_the_core_retry(env: dict[str, str], fake: FakeServer) -> None:
    from atriumn.core import RetryPolicy, Transport

    # The emulation's Gemini 429 asks for 7 s in RetryInfo (no Retry-After header). With a 5 s cap on server
    # delays the core must not retry at all (it would retry at once if it ignored the body's delay).
    transport = Transport(retry=RetryPolicy(max_retries=3, max_server_delay=5))
    with transport, ChatClient(transport=transport) as client, pytest.raises(RateLimitError) as err:
        client.chat("gemini:error-429", "x")
    assert err.value.retry_after == 7.0
    assert len(fake.requests) == 1
