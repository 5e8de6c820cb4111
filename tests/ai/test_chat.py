"""Chat and stream over every provider, sync and async, against the emulation over a socket."""

from __future__ import annotations

from typing import Any

import attrs
import pytest

from atriumn.ai import (
    AsyncChatClient,
    ChatClient,
    FinishEvent,
    Message,
    StructuredOutputError,
    TextDelta,
    Tool,
    ToolCallDelta,
    UnsupportedParameterError,
    UsageEvent,
)
from atriumn.core import BadRequestError, ConfigurationError, Response

from ._fake import FakeServer
from .conftest import PROVIDERS

REQUEST_IDS = {
    "openai": "req_openai_1",
    "groq": "req_openai_1",
    "anthropic": "req_anthropic_1",
    "gemini": "req_gemini_1",
}


@pytest.mark.parametrize("provider", PROVIDERS)
def test_chat_echo(client: ChatClient, fake: FakeServer, provider: str) -> None:
    r = client.chat(f"{provider}:echo", "hello there world", max_tokens=50)
    assert r.text == "hello there world"
    assert r.finish_reason == "stop"
    assert r.provider == provider
    assert r.model == "echo"
    assert r.usage.input_tokens == 3
    assert r.usage.output_tokens == 3
    assert r.request_id == REQUEST_IDS[provider]
    assert r.tool_calls == ()
    assert r.parsed is None
    assert len(fake.requests) == 1


@pytest.mark.parametrize("provider", PROVIDERS)
def test_stream_accumulates_to_what_chat_returns(client: ChatClient, provider: str) -> None:
    expected = client.chat(f"{provider}:echo", "one two three four")
    with client.stream(f"{provider}:echo", "one two three four") as s:
        events = list(s)
    deltas = [e.text for e in events if isinstance(e, TextDelta)]
    assert "".join(deltas) == "one two three four"
    assert len(deltas) == 4
    assert any(isinstance(e, UsageEvent) for e in events)
    assert isinstance(events[-1], FinishEvent)
    assert s.response == expected == events[-1].response
    assert s.response.usage == expected.usage


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_async_chat_and_stream(aclient: AsyncChatClient, provider: str) -> None:
    r = await aclient.chat(f"{provider}:echo", [{"role": "user", "content": "async works"}], system="be brief")
    assert r.text == "async works"
    async with aclient.stream(f"{provider}:echo", "async works", system="be brief") as s:
        texts = [e.text async for e in s if isinstance(e, TextDelta)]
    assert "".join(texts) == "async works"
    assert s.response == r


def get_weather(city: str, days: int = 1) -> str:
    """Look up the weather.

    Longer text that is not part of the description.
    """
    return f"sunny in {city} for {days} days"


@pytest.mark.parametrize("provider", PROVIDERS)
def test_tool_round_trip(client: ChatClient, fake: FakeServer, provider: str) -> None:
    tool = Tool.from_function(get_weather)
    assert tool.description == "Look up the weather."
    assert tool.parameters["required"] == ["city"]
    r = client.chat(f"{provider}:tool", "weather in Paris?", tools=[tool], tool_choice="auto")
    assert r.finish_reason == "tool_calls"
    (call,) = r.tool_calls
    assert call.name == "get_weather"
    assert call.arguments == {"city": "test", "days": 1}
    result = get_weather(**call.arguments)
    messages = [Message.user("weather in Paris?"), r.message, Message.tool(call.id, result)]
    final = client.chat(f"{provider}:tool", messages, tools=[tool])
    assert final.text.startswith("tool said: ")
    assert "sunny in test for 1 days" in final.text

    with client.stream(f"{provider}:tool", "weather in Paris?", tools=[tool], tool_choice="auto") as s:
        events = list(s)
    deltas = [e for e in events if isinstance(e, ToolCallDelta)]
    assert deltas[0].name == "get_weather"
    assert deltas[0].id == call.id
    assert s.response == r


@pytest.mark.parametrize("provider", PROVIDERS)
def test_tool_from_json_schema_dict(client: ChatClient, provider: str) -> None:
    schema = {"type": "object", "properties": {"q": {"type": "string"}}, "required": ["q"]}
    r = client.chat(
        f"{provider}:tool", "search", tools=[{"name": "search", "description": "Search.", "parameters": schema}]
    )
    assert r.tool_calls[0].name == "search"
    assert r.tool_calls[0].arguments == {"q": "test"}


@attrs.frozen
class Verdict:
    label: str
    score: int
    tags: list[str]


@pytest.mark.parametrize("provider", PROVIDERS)
def test_structured_output(client: ChatClient, fake: FakeServer, provider: str) -> None:
    r = client.chat(f"{provider}:json", "judge this", response_format=Verdict)
    assert r.parsed == Verdict(label="test", score=1, tags=["test"])
    schema = {"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]}
    assert client.chat(f"{provider}:json", "count", response_format=schema).parsed == {"n": 1}
    with pytest.raises(StructuredOutputError) as err:
        client.chat(f"{provider}:bad-json", "x", response_format=schema)
    assert err.value.text == "this is not json"
    with pytest.raises(StructuredOutputError, match=r"\$\.n"):
        client.chat(f"{provider}:echo", '{"n": "five"}', response_format=schema)


def test_messages_validation_before_any_request(client: ChatClient, fake: FakeServer) -> None:
    with pytest.raises(ValueError, match=r"messages\[0\]\.role"):
        client.chat("openai:echo", [{"role": "robot", "content": "x"}])
    with pytest.raises(ValueError, match="tool_call_id"):
        client.chat("openai:echo", [{"role": "tool", "content": "x"}])
    with pytest.raises(ValueError, match="tool_choice"):
        client.chat("openai:echo", "x", tools=[get_weather], tool_choice="nope")
    with pytest.raises(ValueError, match="max_tokens"):
        client.chat("openai:echo", "x", max_tokens=0)
    with pytest.raises(ValueError, match="provider"):
        client.chat("echo", "x")
    assert fake.requests == []


def test_unsupported_parameters_fail_before_sending(client: ChatClient, fake: FakeServer) -> None:
    with pytest.raises(UnsupportedParameterError) as err:
        client.chat("anthropic:claude-sonnet-4-5", "x", temperature=0.2)
    assert err.value.parameter == "temperature"
    assert "temperature" in str(err.value)
    with pytest.raises(UnsupportedParameterError, match="top_k"):
        client.chat("openai:gpt-4o", "x", top_k=3)
    with pytest.raises(UnsupportedParameterError, match="temperature"):
        client.chat("openai:o4-mini", "x", temperature=0.1)
    assert fake.requests == []
    client.chat("anthropic:claude-3-5-haiku-echo", "x", temperature=0.1)  # legacy models accept it
    assert fake.requests[-1]["body"]["temperature"] == 0.1
    client.chat("gemini:echo", "x", temperature=0.3, top_k=2)
    assert fake.requests[-1]["body"]["generationConfig"] == {"temperature": 0.3, "topK": 2}


def test_anthropic_defaults_max_tokens_and_headers(client: ChatClient, fake: FakeServer) -> None:
    client.chat("anthropic:echo", [Message.system("sys"), Message.user("x")], system="first")
    req = fake.requests[-1]
    assert req["body"]["max_tokens"] == 4096
    assert req["body"]["system"] == "first\n\nsys"
    assert req["headers"]["x-api-key"] == "test-anthropic-key"
    assert req["headers"]["anthropic-version"] == "2023-06-01"
    assert "authorization" not in req["headers"]


def test_provider_auth_headers(client: ChatClient, fake: FakeServer) -> None:
    client.chat("gemini:echo", "x")
    assert fake.requests[-1]["headers"]["x-goog-api-key"] == "test-gemini-key"
    assert fake.requests[-1]["path"] == "/v1beta/models/echo:generateContent"
    client.chat("groq:echo", "x", max_tokens=5)
    assert fake.requests[-1]["headers"]["authorization"] == "Bearer test-groq-key"
    assert fake.requests[-1]["path"] == "/openai/v1/chat/completions"
    assert fake.requests[-1]["body"]["max_tokens"] == 5
    client.chat("openai:echo", "x", max_tokens=5)
    assert fake.requests[-1]["body"]["max_completion_tokens"] == 5


def test_default_model_and_provider_from_environment(
    env: dict[str, str], fake: FakeServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ATRIUMN_AI_MODEL", "gemini:echo")
    with ChatClient() as c:
        assert c.chat(messages="hi").provider == "gemini"
    monkeypatch.setenv("ATRIUMN_AI_MODEL", "echo")
    monkeypatch.setenv("LLM_PROVIDER", "anthropic")
    with ChatClient() as c:
        assert c.chat(messages="hi").provider == "anthropic"
        assert c.chat("groq:echo", "hi").provider == "groq"


def test_missing_key_names_the_variable(env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GEMINI_API_KEY")
    with ChatClient() as c, pytest.raises(ConfigurationError, match="GEMINI_API_KEY or GOOGLE_API_KEY"):
        c.chat("gemini:echo", "x")
    monkeypatch.setenv("GOOGLE_API_KEY", "test-google-key")
    with ChatClient() as c:
        assert c.chat("gemini:echo", "x").text == "x"


def test_keys_and_base_urls_as_arguments(fake: FakeServer, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL"):
        monkeypatch.delenv(name, raising=False)
    with ChatClient(api_keys={"openai": "test-arg-key"}, base_urls={"openai": fake.url + "/v1"}) as c:
        assert c.chat("openai:echo", "x").text == "x"
    assert fake.requests[-1]["headers"]["authorization"] == "Bearer test-arg-key"


def test_openai_compatible(fake: FakeServer) -> None:
    from atriumn.ai import openai_compatible

    with ChatClient(providers=[openai_compatible(fake.url + "/v1", name="local")]) as c:
        r = c.chat("local:llama3:8b-echo", "compatible", top_k=4)
    assert r.text == "compatible"
    assert r.provider == "local"
    assert "authorization" not in fake.requests[-1]["headers"]
    assert fake.requests[-1]["body"]["top_k"] == 4


def test_bad_request_is_typed(client: ChatClient) -> None:
    for provider in PROVIDERS:
        with pytest.raises(BadRequestError):
            client.chat(f"{provider}:error-400", "x")


def test_streams_closed_on_break_and_exceptions(client: ChatClient, monkeypatch: pytest.MonkeyPatch) -> None:
    closed: list[str] = []
    original = Response.close

    def spy(self: Response) -> None:
        closed.append(self.request.url)
        original(self)

    monkeypatch.setattr(Response, "close", spy)
    for provider in PROVIDERS:
        closed.clear()
        with client.stream(f"{provider}:chunks-20", "x") as s:
            for event in s:
                if isinstance(event, TextDelta):
                    break
        assert closed, provider
        closed.clear()
        for _event in client.stream(f"{provider}:chunks-20", "x"):  # dropped without close: still closed
            break
        assert closed, provider
        closed.clear()
        with pytest.raises(RuntimeError, match="consumer failed"):
            _consume_and_fail(client.stream(f"{provider}:chunks-20", "x"))
        assert closed, provider


async def test_async_stream_closed_on_break(aclient: AsyncChatClient, monkeypatch: pytest.MonkeyPatch) -> None:
    closed: list[str] = []
    original = Response.aclose

    async def spy(self: Response) -> None:
        closed.append(self.request.url)
        await original(self)

    monkeypatch.setattr(Response, "aclose", spy)
    for provider in PROVIDERS:
        closed.clear()
        async with aclient.stream(f"{provider}:chunks-20", "x") as s:
            async for event in s:
                if isinstance(event, TextDelta):
                    break
        assert closed, provider


def _consume_and_fail(stream: Any) -> None:
    with stream as s:
        for _ in s:
            raise RuntimeError("consumer failed")


def test_shared_transport_pool_and_stats(env: dict[str, str], fake: FakeServer) -> None:
    from atriumn.core import Transport

    with Transport(max_retries=0) as shared:
        with ChatClient(transport=shared) as client:
            client.chat("openai:echo", "a")
            client.chat("anthropic:echo", "b")
        assert shared.stats().calls == 2  # derived per provider, sharing the pool and the stats
        with ChatClient(transport=shared) as again:  # the first client did not close the shared transport
            assert again.chat("groq:echo", "c").text == "c"
    assert [r["headers"].get("authorization") or r["headers"].get("x-api-key") for r in fake.requests] == [
        "Bearer test-openai-key",
        "test-anthropic-key",
        "Bearer test-groq-key",
    ]
