"""The LLM emulation speaks the real protocols: the official openai, anthropic, google-genai and groq SDKs
run against it over loopback (JSON and streaming, tools, embeddings, structured output, errors), and every
response and stream parses without error with the expected content.

Each test runs twice: against the emulation's routes served alone, and against the full sandbox app (its
middleware included) when ``atriumn.sandbox.Sandbox`` is available.
"""

from __future__ import annotations

import base64
import json
import struct
import uuid
from collections.abc import Iterator
from typing import Any

import anthropic
import groq
import openai
import pydantic
import pytest
from google import genai
from google.genai import errors as genai_errors
from google.genai import types

from atriumn.sandbox._llm._embeddings import vector

from ._llm_server import serve_llm

SCHEMA = {
    "type": "object",
    "properties": {"city": {"type": "string"}, "days": {"type": "integer", "minimum": 3}},
    "required": ["city", "days"],
}
TOOL = {"name": "get_weather", "description": "Weather by city.", "parameters": SCHEMA}
EXPECTED_ARGS = {"city": "sandbox", "days": 3}


class Forecast(pydantic.BaseModel):
    city: str
    days: int
    sunny: bool
    tags: list[str]


@pytest.fixture(scope="module", params=["routes", "sandbox"])
def url(request: pytest.FixtureRequest) -> Iterator[str]:
    if request.param == "routes":
        with serve_llm() as base:
            yield base
        return
    try:  # the session sandbox of the package's pytest plugin, when the full sandbox exists
        sandbox = request.getfixturevalue("atriumn_sandbox")
    except pytest.FixtureLookupError:
        pytest.skip("the full sandbox (atriumn_sandbox fixture) is not available")
    yield sandbox.url


def _key(prefix: str) -> str:
    return f"test-{prefix}-key-{uuid.uuid4().hex[:8]}"


# --- OpenAI ----------------------------------------------------------------------------------------------


@pytest.fixture
def oai(url: str) -> Iterator[openai.OpenAI]:
    client = openai.OpenAI(api_key=_key("openai"), base_url=url + "/v1", max_retries=0)
    yield client
    client.close()


def test_openai_chat_json(oai: openai.OpenAI) -> None:
    result = oai.chat.completions.create(
        model="gpt-4o-cache",
        messages=[{"role": "system", "content": "be brief please"}, {"role": "user", "content": "hello sandbox world"}],
    )
    assert result.choices[0].message.content == "hello sandbox world"
    assert result.choices[0].finish_reason == "stop"
    assert result.usage is not None
    assert result.usage.prompt_tokens == 6  # includes the cached system prompt
    assert result.usage.prompt_tokens_details is not None
    assert result.usage.prompt_tokens_details.cached_tokens == 3
    assert result.usage.completion_tokens == 3
    assert result.usage.total_tokens == 9
    raw = oai.chat.completions.with_raw_response.create(model="echo", messages=[{"role": "user", "content": "hi"}])
    assert raw.headers["x-ratelimit-reset-tokens"] == "6m0s"
    assert raw.headers["x-request-id"]


def test_openai_stream_with_usage(oai: openai.OpenAI) -> None:
    words = " ".join(f"word{i}" for i in range(200))
    stream = oai.chat.completions.create(
        model="echo",
        messages=[{"role": "user", "content": words}],
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == words
    content_chunks = [c for c in chunks if c.choices and c.choices[0].delta.content]
    assert len(content_chunks) == 200
    assert chunks[-1].choices == []
    assert chunks[-1].usage is not None
    assert chunks[-1].usage.prompt_tokens == 200
    assert chunks[-1].usage.completion_tokens == 200
    assert all(c.usage is None for c in chunks[:-1])
    assert chunks[-2].choices[0].finish_reason == "stop"


def test_openai_stream_without_usage_and_chunk_count(oai: openai.OpenAI) -> None:
    chunks = list(
        oai.chat.completions.create(model="chunks-50", messages=[{"role": "user", "content": "x"}], stream=True)
    )
    assert all(c.choices for c in chunks)
    assert all(c.usage is None for c in chunks)
    pieces = [c.choices[0].delta.content for c in chunks if c.choices[0].delta.content]
    assert len(pieces) == 50
    assert "".join(pieces) == " ".join(f"w{i}" for i in range(50))


def test_openai_tools_json_and_stream(oai: openai.OpenAI) -> None:
    messages: list[Any] = [{"role": "user", "content": "weather in Paris?"}]
    tools: list[Any] = [{"type": "function", "function": TOOL}]
    result = oai.chat.completions.create(model="tool", messages=messages, tools=tools)
    choice = result.choices[0]
    assert choice.finish_reason == "tool_calls"
    assert choice.message.tool_calls is not None
    call = choice.message.tool_calls[0]
    assert call.type == "function"
    assert call.function.name == "get_weather"
    assert json.loads(call.function.arguments) == EXPECTED_ARGS

    with oai.chat.completions.stream(model="tool", messages=messages, tools=tools) as stream:
        final = stream.get_final_completion()
    streamed = final.choices[0].message.tool_calls
    assert streamed is not None
    assert streamed[0].function.name == "get_weather"
    assert json.loads(streamed[0].function.arguments) == EXPECTED_ARGS
    assert streamed[0].id == streamed[0].id.strip() and streamed[0].id

    history = [
        *messages,
        {"role": "assistant", "content": None, "tool_calls": [call.model_dump()]},
        {"role": "tool", "tool_call_id": call.id, "content": "sunny"},
    ]
    after = oai.chat.completions.create(model="tool", messages=history, tools=tools)
    assert after.choices[0].message.content == "tool said: sunny"


def test_openai_structured_output(oai: openai.OpenAI) -> None:
    parsed = oai.chat.completions.parse(
        model="gpt-4o", messages=[{"role": "user", "content": "forecast"}], response_format=Forecast
    )
    assert parsed.choices[0].message.parsed == Forecast(city="sandbox", days=1, sunny=True, tags=["sandbox"])


def test_openai_embeddings_base64_and_float(oai: openai.OpenAI) -> None:
    default = oai.embeddings.create(model="text-embedding-3-small", input=["a", "bb"])  # the SDK asks base64
    floats = oai.embeddings.create(model="text-embedding-3-small", input=["a", "bb"], encoding_format="float")
    assert [d.embedding for d in default.data] == [d.embedding for d in floats.data]
    assert default.data[0].embedding == list(vector("a"))
    assert default.data[0].embedding != default.data[1].embedding
    sized = oai.embeddings.create(model="m", input="a", dimensions=32)
    assert len(sized.data[0].embedding) == 32
    assert default.usage.prompt_tokens == 2


def test_openai_errors(url: str, oai: openai.OpenAI) -> None:
    bad = openai.OpenAI(api_key="invalid-key", base_url=url + "/v1", max_retries=0)
    with pytest.raises(openai.AuthenticationError) as auth:
        bad.chat.completions.create(model="echo", messages=[{"role": "user", "content": "hi"}])
    assert auth.value.code == "invalid_api_key"
    with pytest.raises(openai.RateLimitError) as limited:
        oai.chat.completions.create(model="error-429-retry-2", messages=[{"role": "user", "content": "hi"}])
    assert limited.value.response.headers["retry-after"] == "2"
    assert limited.value.code == "rate_limit_exceeded"
    with pytest.raises(openai.InternalServerError) as overloaded:
        oai.chat.completions.create(model="overloaded", messages=[{"role": "user", "content": "hi"}])
    assert overloaded.value.status_code == 503
    stream = oai.chat.completions.create(
        model="stream-error", messages=[{"role": "user", "content": "hi"}], stream=True
    )
    seen: list[str] = []
    with pytest.raises(openai.APIError, match="mid-stream"):
        seen.extend(chunk.choices[0].delta.content or "" for chunk in stream)
    assert "".join(seen) == "one two"


def test_openai_fail_once_then_success(url: str) -> None:
    client = openai.OpenAI(api_key=_key("openai"), base_url=url + "/v1", max_retries=1)
    result = client.chat.completions.create(model="fail-once-500", messages=[{"role": "user", "content": "again"}])
    assert result.choices[0].message.content == "again"


# --- Anthropic -------------------------------------------------------------------------------------------


@pytest.fixture
def claude(url: str) -> Iterator[anthropic.Anthropic]:
    client = anthropic.Anthropic(api_key=_key("anthropic"), base_url=url, max_retries=0)
    yield client
    client.close()


def test_anthropic_message_json(claude: anthropic.Anthropic) -> None:
    message = claude.messages.create(
        model="claude-cache",
        max_tokens=100,
        system="you are a sandbox",
        messages=[{"role": "user", "content": "hello there"}],
    )
    assert message.content[0].type == "text"
    assert message.content[0].text == "hello there"
    assert message.stop_reason == "end_turn"
    assert message.usage.input_tokens == 2  # excludes the 4 cached system prompt tokens
    assert message.usage.cache_read_input_tokens == 4
    assert message.usage.cache_creation_input_tokens == 0
    assert message.usage.output_tokens == 2


def test_anthropic_stream_text(claude: anthropic.Anthropic) -> None:
    with claude.messages.stream(
        model="claude-echo", max_tokens=500, messages=[{"role": "user", "content": "one two three four"}]
    ) as stream:
        pieces = list(stream.text_stream)
        final = stream.get_final_message()
    assert pieces == ["one", " two", " three", " four"]
    assert final.content[0].type == "text"
    assert final.content[0].text == "one two three four"
    assert final.stop_reason == "end_turn"
    assert final.usage.output_tokens == 4
    assert final.usage.input_tokens == 4


def test_anthropic_tool_use_and_result(claude: anthropic.Anthropic) -> None:
    tools: list[Any] = [{"name": TOOL["name"], "description": TOOL["description"], "input_schema": SCHEMA}]
    messages: list[Any] = [{"role": "user", "content": "weather?"}]
    message = claude.messages.create(model="tool", max_tokens=100, messages=messages, tools=tools)
    assert message.stop_reason == "tool_use"
    block = message.content[0]
    assert block.type == "tool_use"
    assert block.name == "get_weather"
    assert block.input == EXPECTED_ARGS
    with claude.messages.stream(model="tool", max_tokens=100, messages=messages, tools=tools) as stream:
        final = stream.get_final_message()
    streamed = final.content[0]
    assert streamed.type == "tool_use"
    assert streamed.input == EXPECTED_ARGS
    history = [
        *messages,
        {"role": "assistant", "content": [block.model_dump()]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": block.id, "content": "sunny"}]},
    ]
    after = claude.messages.create(model="tool", max_tokens=100, messages=history, tools=tools)
    assert after.content[0].type == "text"
    assert after.content[0].text == "tool said: sunny"


def test_anthropic_structured_output(claude: anthropic.Anthropic) -> None:
    parsed = claude.messages.parse(
        model="json", max_tokens=1000, messages=[{"role": "user", "content": "forecast"}], output_format=Forecast
    )
    assert parsed.parsed_output == Forecast(city="sandbox", days=1, sunny=True, tags=["sandbox"])


def test_anthropic_errors(url: str, claude: anthropic.Anthropic) -> None:
    bad = anthropic.Anthropic(api_key="invalid", base_url=url, max_retries=0)
    with pytest.raises(anthropic.AuthenticationError):
        bad.messages.create(model="echo", max_tokens=10, messages=[{"role": "user", "content": "hi"}])
    with pytest.raises(anthropic.APIStatusError) as overloaded:
        claude.messages.create(model="overloaded", max_tokens=10, messages=[{"role": "user", "content": "hi"}])
    assert overloaded.value.status_code == 529
    assert isinstance(overloaded.value.body, dict)
    assert overloaded.value.body["error"]["type"] == "overloaded_error"
    assert overloaded.value.response.headers["retry-after"] == "1"
    with pytest.raises(anthropic.RateLimitError):
        claude.messages.create(model="error-429", max_tokens=10, messages=[{"role": "user", "content": "hi"}])
    seen: list[str] = []
    with (
        pytest.raises(anthropic.APIStatusError, match="overloaded_error"),
        claude.messages.stream(
            model="stream-error", max_tokens=10, messages=[{"role": "user", "content": "hi"}]
        ) as stream,
    ):
        seen.extend(stream.text_stream)
    assert seen == ["one", " two"]


# --- Gemini ----------------------------------------------------------------------------------------------


@pytest.fixture
def gemini(url: str) -> genai.Client:
    return genai.Client(api_key=_key("gemini"), http_options=types.HttpOptions(base_url=url, api_version="v1beta"))


def test_gemini_generate_and_stream(gemini: genai.Client) -> None:
    config = types.GenerateContentConfig(system_instruction="cached system words")
    response = gemini.models.generate_content(model="gemini-cache", contents="hello gemini", config=config)
    assert response.text == "hello gemini"
    usage = response.usage_metadata
    assert usage is not None
    assert usage.prompt_token_count == 5  # includes the cached system instruction
    assert usage.cached_content_token_count == 3
    assert usage.candidates_token_count == 2
    assert usage.total_token_count == 7
    assert response.candidates is not None
    assert response.candidates[0].finish_reason == types.FinishReason.STOP
    chunks = list(gemini.models.generate_content_stream(model="chunks-7", contents="x"))
    assert len(chunks) == 7
    assert "".join(c.text or "" for c in chunks) == "w0 w1 w2 w3 w4 w5 w6"
    assert chunks[-1].usage_metadata is not None
    assert chunks[-1].usage_metadata.candidates_token_count == 7


def test_gemini_function_call_and_response(gemini: genai.Client) -> None:
    tool = types.Tool(
        function_declarations=[
            types.FunctionDeclaration(name="get_weather", description="Weather.", parameters_json_schema=SCHEMA)
        ]
    )
    config = types.GenerateContentConfig(
        tools=[tool], automatic_function_calling=types.AutomaticFunctionCallingConfig(disable=True)
    )
    response = gemini.models.generate_content(model="tool", contents="weather?", config=config)
    assert response.function_calls is not None
    assert response.function_calls[0].name == "get_weather"
    assert response.function_calls[0].args == EXPECTED_ARGS
    streamed = list(gemini.models.generate_content_stream(model="tool", contents="weather?", config=config))
    assert streamed[-1].function_calls is not None
    assert streamed[-1].function_calls[0].args == EXPECTED_ARGS
    contents = [
        types.Content(role="user", parts=[types.Part(text="weather?")]),
        types.Content(role="model", parts=[types.Part(function_call=response.function_calls[0])]),
        types.Content(
            role="user",
            parts=[
                types.Part(function_response=types.FunctionResponse(name="get_weather", response={"result": "sunny"}))
            ],
        ),
    ]
    after = gemini.models.generate_content(model="tool", contents=contents, config=config)
    assert after.text == "tool said: sunny"


def test_gemini_structured_output(gemini: genai.Client) -> None:
    config = types.GenerateContentConfig(response_mime_type="application/json", response_schema=Forecast)
    response = gemini.models.generate_content(model="gemini-2.5-flash", contents="forecast", config=config)
    assert response.parsed == Forecast(city="sandbox", days=1, sunny=True, tags=["sandbox"])


def test_gemini_embeddings(gemini: genai.Client) -> None:
    one = gemini.models.embed_content(model="gemini-embedding-001", contents="a")
    many = gemini.models.embed_content(
        model="gemini-embedding-001", contents=["a", "bb"], config=types.EmbedContentConfig(output_dimensionality=16)
    )
    assert one.embeddings is not None
    assert one.embeddings[0].values == list(vector("a"))
    assert many.embeddings is not None
    assert [e.values for e in many.embeddings] == [list(vector("a", 16)), list(vector("bb", 16))]


def test_gemini_errors(url: str, gemini: genai.Client) -> None:
    with pytest.raises(genai_errors.ClientError) as limited:
        gemini.models.generate_content(model="error-429-retry-7", contents="hi")
    assert limited.value.code == 429
    assert limited.value.status == "RESOURCE_EXHAUSTED"
    details = limited.value.details["error"]["details"]
    assert {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "7s"} in details
    with pytest.raises(genai_errors.ServerError) as overloaded:
        gemini.models.generate_content(model="overloaded", contents="hi")
    assert overloaded.value.code == 503
    bad = genai.Client(api_key="invalid", http_options=types.HttpOptions(base_url=url, api_version="v1beta"))
    with pytest.raises(genai_errors.ClientError) as refused:
        bad.models.generate_content(model="echo", contents="hi")
    assert refused.value.code == 400
    assert "API key not valid" in str(refused.value.message)
    seen: list[str] = []
    with pytest.raises(genai_errors.ServerError):
        seen.extend(
            chunk.text or "" for chunk in gemini.models.generate_content_stream(model="stream-error", contents="hi")
        )
    assert seen == ["one", " two"]


# --- Groq ------------------------------------------------------------------------------------------------


@pytest.fixture
def groq_client(url: str) -> Iterator[groq.Groq]:
    client = groq.Groq(api_key=_key("groq"), base_url=url, max_retries=0)
    yield client
    client.close()


def test_groq_chat_and_stream(groq_client: groq.Groq) -> None:
    result = groq_client.chat.completions.create(
        model="llama-3.3-70b-versatile", messages=[{"role": "user", "content": "hello groq"}]
    )
    assert result.choices[0].message.content == "hello groq"
    assert result.usage is not None
    assert result.usage.prompt_tokens == 2
    chunks = list(
        groq_client.chat.completions.create(
            model="llama-3.3-70b-versatile", messages=[{"role": "user", "content": "a b c"}], stream=True
        )
    )
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "a b c"
    final = chunks[-1]
    assert final.choices[0].finish_reason == "stop"
    assert final.x_groq is not None
    assert final.x_groq.usage is not None
    assert final.x_groq.usage.completion_tokens == 3
    assert final.x_groq.usage.total_tokens == 6


def test_groq_tools_and_stream_error(groq_client: groq.Groq) -> None:
    tools: list[Any] = [{"type": "function", "function": TOOL}]
    result = groq_client.chat.completions.create(
        model="tool",
        messages=[{"role": "user", "content": "weather?"}],
        tools=tools,
        tool_choice="required",
    )
    calls = result.choices[0].message.tool_calls
    assert calls is not None
    assert json.loads(calls[0].function.arguments) == EXPECTED_ARGS
    chunks = list(
        groq_client.chat.completions.create(
            model="stream-error", messages=[{"role": "user", "content": "hi"}], stream=True
        )
    )
    assert chunks[-1].x_groq is not None
    assert chunks[-1].x_groq.error
    assert "".join(c.choices[0].delta.content or "" for c in chunks) == "one two"


def test_groq_invalid_key(url: str) -> None:
    client = groq.Groq(api_key="invalid", base_url=url, max_retries=0)
    with pytest.raises(groq.AuthenticationError):
        client.chat.completions.create(model="x", messages=[{"role": "user", "content": "hi"}])


def test_base64_matches_float32_layout() -> None:
    """The base64 form is little-endian float32 of exactly the float form."""
    from atriumn.sandbox._llm._embeddings import embedding_base64

    decoded = struct.unpack("<8f", base64.b64decode(embedding_base64("text")))
    assert decoded == vector("text")


# --- async clients -----------------------------------------------------------------------------------------


async def test_async_clients_stream(url: str) -> None:
    oai = openai.AsyncOpenAI(api_key=_key("openai"), base_url=url + "/v1", max_retries=0)
    stream = await oai.chat.completions.create(
        model="chunks-5",
        messages=[{"role": "user", "content": "x"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = [c async for c in stream]
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "w0 w1 w2 w3 w4"
    assert chunks[-1].usage is not None
    assert chunks[-1].usage.completion_tokens == 5
    await oai.close()

    claude = anthropic.AsyncAnthropic(api_key=_key("anthropic"), base_url=url, max_retries=0)
    async with claude.messages.stream(
        model="chunks-3", max_tokens=10, messages=[{"role": "user", "content": "x"}]
    ) as events:
        final = await events.get_final_message()
    assert final.content[0].type == "text"
    assert final.content[0].text == "w0 w1 w2"
    await claude.close()

    gemini = genai.Client(api_key=_key("gemini"), http_options=types.HttpOptions(base_url=url, api_version="v1beta"))
    pieces = [c.text async for c in await gemini.aio.models.generate_content_stream(model="echo", contents="a b")]
    assert pieces == ["a", " b"]

    groq_client = groq.AsyncGroq(api_key=_key("groq"), base_url=url, max_retries=0)
    result = await groq_client.chat.completions.create(model="echo", messages=[{"role": "user", "content": "hey"}])
    assert result.choices[0].message.content == "hey"
    await groq_client.close()
