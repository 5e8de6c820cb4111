"""Reasoning models (``reason``) on the four emulated providers, through the official SDKs against the
session sandbox: thinking blocks and signatures (Anthropic), thought parts and thought signatures (Gemini),
reasoning tokens (OpenAI), Groq's ``reasoning``, in JSON and in streams; a faithful round trip is accepted and
a conversation that drops or alters what the model issued is refused with the provider's real error.
"""

from __future__ import annotations

import base64
import copy
import json
import uuid
from collections.abc import Iterator
from typing import Any

import anthropic
import groq
import httpx2
import openai
import pytest
from google import genai
from google.genai import errors as genai_errors
from google.genai import types

from atriumn.sandbox import Sandbox
from atriumn.sandbox._llm._reasoning import thinking_signature

SCHEMA = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
THINKING: Any = {"type": "enabled", "budget_tokens": 1024}
MISSING = (
    "messages.1.content.0.type: Expected `thinking` or `redacted_thinking`, but found `tool_use`. When `thinking` is "
    "enabled, a final `assistant` message must start with a thinking block (preceeding the lastmost set of "
    "`tool_use` and `tool_result` blocks)."
)


def _key(prefix: str) -> str:
    return f"test-{prefix}-key-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def claude(sandbox: Sandbox) -> Iterator[anthropic.Anthropic]:
    client = anthropic.Anthropic(api_key=_key("anthropic"), base_url=sandbox.url, max_retries=0)
    yield client
    client.close()


@pytest.fixture
def gemini(sandbox: Sandbox) -> genai.Client:
    options = types.HttpOptions(base_url=sandbox.url, api_version="v1beta")
    return genai.Client(api_key=_key("gemini"), http_options=options)


# --- Anthropic -------------------------------------------------------------------------------------------


def test_anthropic_thinking_block_signature_and_usage(claude: anthropic.Anthropic) -> None:
    message = claude.messages.create(
        model="claude-reason", max_tokens=2048, thinking=THINKING, messages=[{"role": "user", "content": "a b c"}]
    )
    thinking, text = message.content
    assert thinking.type == "thinking"
    assert len(thinking.thinking.split()) == 8
    assert thinking.signature == thinking_signature(thinking.thinking)
    assert text.type == "text"
    assert text.text == "a b c"
    assert message.usage.output_tokens == 3 + 8  # output tokens include the thinking
    assert message.usage.output_tokens_details is not None
    assert message.usage.output_tokens_details.thinking_tokens == 8
    again = claude.messages.create(
        model="claude-reason", max_tokens=2048, thinking=THINKING, messages=[{"role": "user", "content": "a b c"}]
    )
    assert again.content[0] == thinking  # deterministic
    other = claude.messages.create(
        model="claude-reason", max_tokens=2048, thinking=THINKING, messages=[{"role": "user", "content": "x y"}]
    )
    assert other.content[0].type == "thinking"
    assert other.content[0].signature != thinking.signature


def test_anthropic_thinking_needs_it_turned_on(claude: anthropic.Anthropic) -> None:
    plain = claude.messages.create(model="claude-reason", max_tokens=100, messages=[{"role": "user", "content": "hi"}])
    assert [b.type for b in plain.content] == ["text"]
    disabled = claude.messages.create(
        model="claude-reason",
        max_tokens=100,
        thinking={"type": "disabled"},
        messages=[{"role": "user", "content": "x"}],
    )
    assert [b.type for b in disabled.content] == ["text"]
    adaptive = claude.messages.create(
        model="claude-reason",
        max_tokens=100,
        thinking={"type": "adaptive", "display": "omitted"},
        output_config={"effort": "high"},
        messages=[{"role": "user", "content": "hi"}],
    )
    assert adaptive.content[0].type == "thinking"
    assert adaptive.content[0].thinking == ""  # omitted display: no text, a signature all the same
    assert adaptive.content[0].signature
    echo = claude.messages.create(
        model="echo", max_tokens=2048, thinking=THINKING, messages=[{"role": "user", "content": "hi"}]
    )
    assert [b.type for b in echo.content] == ["text"]  # only reason models think


def test_anthropic_thinking_streams_with_deltas_and_signature(claude: anthropic.Anthropic) -> None:
    kwargs: Any = {"model": "claude-reason-redacted", "max_tokens": 2048, "thinking": THINKING}
    message = claude.messages.create(messages=[{"role": "user", "content": "one two"}], **kwargs)
    events: list[Any] = []
    with claude.messages.stream(messages=[{"role": "user", "content": "one two"}], **kwargs) as stream:
        events.extend(stream)
        final = stream.get_final_message()
    deltas = [e.delta.type for e in events if e.type == "content_block_delta"]
    assert deltas.count("thinking_delta") == 8
    assert deltas.count("signature_delta") == 1
    assert deltas.index("signature_delta") == 8
    starts = [e.content_block.type for e in events if e.type == "content_block_start"]
    assert starts == ["thinking", "redacted_thinking", "text"]
    assert [b.model_dump() for b in final.content] == [b.model_dump() for b in message.content]
    assert final.usage.output_tokens == 2 + 8


def test_anthropic_thinking_stream_on_the_wire(sandbox: Sandbox) -> None:
    body = {
        "model": "claude-reason",
        "max_tokens": 2048,
        "thinking": THINKING,
        "stream": True,
        "messages": [{"role": "user", "content": "a b"}],
    }
    headers = {"x-api-key": _key("anthropic"), "anthropic-version": "2023-06-01"}
    text = httpx2.post(f"{sandbox.url}/v1/messages", json=body, headers=headers).text
    events = [json.loads(block.split("\ndata: ", 1)[1]) for block in text.strip().split("\n\n")]
    kinds = [e["type"] if e["type"] != "content_block_delta" else e["delta"]["type"] for e in events]
    assert kinds == [
        "message_start",
        "content_block_start",
        "ping",
        *["thinking_delta"] * 8,
        "signature_delta",
        "content_block_stop",
        "content_block_start",
        "text_delta",
        "text_delta",
        "content_block_stop",
        "message_delta",
        "message_stop",
    ]
    assert events[1]["content_block"] == {"type": "thinking", "thinking": "", "signature": ""}
    assert [e["index"] for e in events if "index" in e] == [0] * 11 + [1] * 4
    thought = "".join(e["delta"].get("thinking", "") for e in events[3:11])
    assert events[11]["delta"]["signature"] == thinking_signature(thought)
    assert events[-2]["usage"] == {"output_tokens": 2 + 8}


@pytest.mark.parametrize(
    ("thinking", "max_tokens", "message"),
    [
        ({"type": "enabled", "budget_tokens": 1000}, 4000, "greater than or equal to 1024"),
        (
            {"type": "enabled", "budget_tokens": 2048},
            2048,
            "`max_tokens` must be greater than `thinking.budget_tokens`",
        ),
        ({"type": "enabled"}, 4000, "thinking.enabled.budget_tokens: Field required"),
        ({"type": "sometimes"}, 4000, "does not match any of the expected tags"),
    ],
)
def test_anthropic_thinking_budget_rules(
    claude: anthropic.Anthropic, thinking: Any, max_tokens: int, message: str
) -> None:
    with pytest.raises(anthropic.BadRequestError) as refused:
        claude.messages.create(
            model="echo", max_tokens=max_tokens, thinking=thinking, messages=[{"role": "user", "content": "hi"}]
        )
    body = refused.value.body
    assert isinstance(body, dict)
    assert body["error"]["type"] == "invalid_request_error"
    assert message in body["error"]["message"]


def _claude_tool_turn(claude: anthropic.Anthropic, model: str, stream: bool = False) -> tuple[list[Any], Any]:
    kwargs: Any = {
        "model": model,
        "max_tokens": 2048,
        "thinking": THINKING,
        "tools": [{"name": "get_weather", "input_schema": SCHEMA}],
        "messages": [{"role": "user", "content": "weather in Paris?"}],
    }
    if stream:
        with claude.messages.stream(**kwargs) as events:
            message = events.get_final_message()
    else:
        message = claude.messages.create(**kwargs)
    content = [b.model_dump(exclude_none=True) for b in message.content]
    return content, kwargs


def _after_tool(kwargs: Any, content: list[Any]) -> Any:
    tool_use = next(b for b in content if b["type"] == "tool_use")
    result = {"type": "tool_result", "tool_use_id": tool_use["id"], "content": "sunny"}
    return {
        **kwargs,
        "messages": [
            *kwargs["messages"],
            {"role": "assistant", "content": content},
            {"role": "user", "content": [result]},
        ],
    }


@pytest.mark.parametrize("stream", [False, True])
def test_anthropic_round_trip_with_thinking(claude: anthropic.Anthropic, stream: bool) -> None:
    content, kwargs = _claude_tool_turn(claude, "claude-tool-reason", stream)
    assert [b["type"] for b in content] == ["thinking", "tool_use"]
    assert content[0]["thinking"].endswith("and call get_weather.")
    after = claude.messages.create(**_after_tool(kwargs, content))
    assert [b.type for b in after.content] == ["text"]  # the turn goes on: no new thinking after the result
    assert after.content[0].model_dump()["text"] == "tool said: sunny"


def test_anthropic_round_trip_refuses_a_dropped_thinking_block(claude: anthropic.Anthropic) -> None:
    content, kwargs = _claude_tool_turn(claude, "claude-tool-reason")
    with pytest.raises(anthropic.BadRequestError) as refused:
        claude.messages.create(**_after_tool(kwargs, content[1:]))
    body = refused.value.body
    assert isinstance(body, dict)
    assert body["type"] == "error"
    assert body["error"]["type"] == "invalid_request_error"
    assert body["error"]["message"].startswith(MISSING)
    # without thinking turned on, the same history is fine
    plain = {k: v for k, v in _after_tool(kwargs, content[1:]).items() if k != "thinking"}
    assert claude.messages.create(**plain).content[0].model_dump()["text"] == "tool said: sunny"


@pytest.mark.parametrize("field", ["thinking", "signature"])
def test_anthropic_round_trip_refuses_an_altered_thinking_block(claude: anthropic.Anthropic, field: str) -> None:
    content, kwargs = _claude_tool_turn(claude, "claude-tool-reason")
    altered = copy.deepcopy(content)
    altered[0][field] = altered[0][field][:-2] + "xx"
    with pytest.raises(anthropic.BadRequestError) as refused:
        claude.messages.create(**_after_tool(kwargs, altered))
    body = refused.value.body
    assert isinstance(body, dict)
    assert body["error"]["message"] == "messages.1.content.0: Invalid `signature` in `thinking` block"


def test_anthropic_redacted_thinking_round_trip(claude: anthropic.Anthropic) -> None:
    content, kwargs = _claude_tool_turn(claude, "claude-tool-reason-redacted")
    assert [b["type"] for b in content] == ["thinking", "redacted_thinking", "tool_use"]
    after = claude.messages.create(**_after_tool(kwargs, content))
    assert after.content[0].model_dump()["text"] == "tool said: sunny"
    assert claude.messages.create(**_after_tool(kwargs, content[1:])).content[0].type == "text"  # redacted first: ok
    altered = copy.deepcopy(content)
    altered[1]["data"] = base64.b64encode(b"made up").decode()
    with pytest.raises(anthropic.BadRequestError, match="redacted_thinking"):
        claude.messages.create(**_after_tool(kwargs, altered))


# --- Gemini ----------------------------------------------------------------------------------------------


TOOL = types.Tool(function_declarations=[types.FunctionDeclaration(name="get_weather", parameters_json_schema=SCHEMA)])


def _config(include_thoughts: bool = False, **thinking: Any) -> types.GenerateContentConfig:
    return types.GenerateContentConfig(
        tools=[TOOL],
        automatic_function_calling=types.AutomaticFunctionCallingConfig(disable=True),
        thinking_config=types.ThinkingConfig(include_thoughts=include_thoughts, **thinking),
    )


def _result_turn() -> types.Content:
    response = types.FunctionResponse(name="get_weather", response={"result": "sunny"})
    return types.Content(role="user", parts=[types.Part(function_response=response)])


def test_gemini_thought_parts_and_signatures(gemini: genai.Client) -> None:
    response = gemini.models.generate_content(
        model="gemini-3-tool-reason", contents="weather?", config=_config(include_thoughts=True)
    )
    assert response.candidates is not None
    assert response.candidates[0].content is not None
    parts = response.candidates[0].content.parts or []
    assert parts[0].thought is True
    assert parts[0].text is not None
    assert parts[0].text.endswith("and call get_weather.")
    assert parts[1].function_call is not None
    assert parts[1].thought_signature
    usage = response.usage_metadata
    assert usage is not None
    assert usage.thoughts_token_count == 8
    assert usage.total_token_count == (usage.prompt_token_count or 0) + (usage.candidates_token_count or 0) + 8
    text = gemini.models.generate_content(model="gemini-3-reason", contents="hello there")
    assert text.text == "hello there"
    assert text.candidates is not None and text.candidates[0].content is not None
    [only] = text.candidates[0].content.parts or []
    assert only.thought is None  # no summary unless includeThoughts
    assert only.thought_signature  # the signature rides on the first text part
    off = gemini.models.generate_content(model="gemini-3-reason", contents="hi", config=_config(thinking_budget=0))
    assert off.candidates is not None and off.candidates[0].content is not None
    assert all(p.thought_signature is None for p in off.candidates[0].content.parts or [])
    assert off.usage_metadata is not None and off.usage_metadata.thoughts_token_count is None


def test_gemini_thoughts_stream(gemini: genai.Client) -> None:
    chunks = list(
        gemini.models.generate_content_stream(
            model="gemini-3-tool-reason", contents="weather?", config=_config(include_thoughts=True)
        )
    )
    parts = [p for c in chunks if c.candidates and c.candidates[0].content for p in c.candidates[0].content.parts or []]
    assert parts[0].thought is True
    calls = [p for p in parts if p.function_call is not None]
    assert len(calls) == 1 and calls[0].thought_signature
    assert chunks[-1].usage_metadata is not None
    assert chunks[-1].usage_metadata.thoughts_token_count == 8


def test_gemini_chat_round_trip_keeps_signatures(gemini: genai.Client) -> None:
    chat = gemini.chats.create(model="gemini-3-tool-reason", config=_config(include_thoughts=True))
    first = chat.send_message("weather?")
    assert first.function_calls is not None
    second = chat.send_message(_result_turn().parts or [])
    assert second.text == "tool said: sunny"


def _history(gemini: genai.Client) -> tuple[list[types.Content], types.Content]:
    response = gemini.models.generate_content(model="gemini-3-tool-reason", contents="weather?", config=_config())
    assert response.candidates is not None and response.candidates[0].content is not None
    return [types.Content(role="user", parts=[types.Part(text="weather?")])], response.candidates[0].content


def test_gemini_round_trip_refuses_a_dropped_signature(gemini: genai.Client) -> None:
    asked, model_turn = _history(gemini)
    after = gemini.models.generate_content(
        model="gemini-3-tool-reason", contents=[*asked, model_turn, _result_turn()], config=_config()
    )
    assert after.text == "tool said: sunny"
    dropped = model_turn.model_copy(deep=True)
    for part in dropped.parts or []:
        part.thought_signature = None
    with pytest.raises(genai_errors.ClientError) as refused:
        gemini.models.generate_content(
            model="gemini-3-tool-reason", contents=[*asked, dropped, _result_turn()], config=_config()
        )
    assert refused.value.code == 400
    assert refused.value.status == "INVALID_ARGUMENT"
    assert str(refused.value.message).startswith(
        "Function call is missing a thought_signature in functionCall parts. This is required for tools to work "
        "correctly, and missing thought_signature may lead to degraded model performance. Additional data, "
        "function call `default_api:get_weather` , position 2."
    )
    placeholder = dropped.model_copy(deep=True)
    (placeholder.parts or [])[0].thought_signature = b"skip_thought_signature_validator"
    accepted = gemini.models.generate_content(
        model="gemini-3-tool-reason", contents=[*asked, placeholder, _result_turn()], config=_config()
    )
    assert accepted.text == "tool said: sunny"  # Google's documented placeholder is accepted


@pytest.mark.parametrize("change", ["signature", "arguments"])
def test_gemini_round_trip_refuses_an_altered_signature(gemini: genai.Client, change: str) -> None:
    asked, model_turn = _history(gemini)
    altered = model_turn.model_copy(deep=True)
    part = (altered.parts or [])[0]
    if change == "signature":
        part.thought_signature = (part.thought_signature or b"")[:-1] + b"x"
    else:
        assert part.function_call is not None
        part.function_call.args = {"city": "Lyon"}
    with pytest.raises(genai_errors.ClientError) as refused:
        gemini.models.generate_content(
            model="gemini-3-tool-reason", contents=[*asked, altered, _result_turn()], config=_config()
        )
    assert refused.value.code == 400
    assert refused.value.message == "Corrupted thought signature."


# --- OpenAI and Groq -------------------------------------------------------------------------------------


def test_openai_reasoning_tokens(sandbox: Sandbox) -> None:
    client = openai.OpenAI(api_key=_key("openai"), base_url=sandbox.url + "/v1", max_retries=0)
    result = client.chat.completions.create(model="gpt-reason", messages=[{"role": "user", "content": "hi you"}])
    message = result.choices[0].message
    assert message.content == "hi you"
    assert "reasoning" not in message.model_dump()  # Chat Completions returns no reasoning text
    assert result.usage is not None
    assert result.usage.completion_tokens == 2 + 8
    assert result.usage.completion_tokens_details is not None
    assert result.usage.completion_tokens_details.reasoning_tokens == 8
    chunks = list(
        client.chat.completions.create(
            model="gpt-reason",
            messages=[{"role": "user", "content": "hi you"}],
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    assert chunks[-1].usage is not None
    assert chunks[-1].usage.completion_tokens_details is not None
    assert chunks[-1].usage.completion_tokens_details.reasoning_tokens == 8
    none = client.chat.completions.create(
        model="gpt-reason", reasoning_effort="none", messages=[{"role": "user", "content": "hi"}]
    )
    assert none.usage is not None and none.usage.completion_tokens_details is not None
    assert none.usage.completion_tokens_details.reasoning_tokens == 0
    client.close()


def test_groq_reasoning_formats(sandbox: Sandbox) -> None:
    client = groq.Groq(api_key=_key("groq"), base_url=sandbox.url, max_retries=0)
    messages: Any = [{"role": "user", "content": "hello groq"}]
    parsed = client.chat.completions.create(model="qwen-reason", messages=messages, reasoning_format="parsed")
    reasoning = parsed.choices[0].message.reasoning
    assert reasoning is not None and len(reasoning.split()) == 8
    assert parsed.choices[0].message.content == "hello groq"
    assert parsed.usage is not None
    assert parsed.usage.completion_tokens == 2 + 8
    assert parsed.usage.completion_tokens_details is not None
    assert parsed.usage.completion_tokens_details.reasoning_tokens == 8
    stream = client.chat.completions.create(
        model="qwen-reason", messages=messages, reasoning_format="parsed", stream=True
    )
    chunks = list(stream)
    assert "".join(c.choices[0].delta.reasoning or "" for c in chunks) == reasoning
    assert "".join(c.choices[0].delta.content or "" for c in chunks) == "hello groq"
    raw = client.chat.completions.create(model="qwen-reason", messages=messages, reasoning_format="raw")
    assert raw.choices[0].message.content == f"<think>\n{reasoning}\n</think>\n\nhello groq"
    hidden = client.chat.completions.create(model="qwen-reason", messages=messages, reasoning_format="hidden")
    assert hidden.choices[0].message.reasoning is None
    assert hidden.choices[0].message.content == "hello groq"
    included = client.chat.completions.create(model="gpt-oss-reason", messages=messages, include_reasoning=True)
    assert included.choices[0].message.reasoning == reasoning
    with pytest.raises(groq.BadRequestError):
        client.chat.completions.create(
            model="qwen-reason", messages=messages, reasoning_format="parsed", include_reasoning=True
        )
    client.close()


def test_batches_answer_with_the_interactive_code(sandbox: Sandbox) -> None:
    from atriumn.sandbox._llm._anthropic import batch_message
    from atriumn.sandbox._llm._gemini import batch_generate

    params: Any = {"model": "claude-reason", "max_tokens": 2048, "thinking": THINKING}
    done = batch_message(_key("anthropic"), {**params, "messages": [{"role": "user", "content": "hi"}]})
    assert done.status == 200
    assert [b["type"] for b in done.body["content"]] == ["thinking", "text"]
    small: Any = {"type": "enabled", "budget_tokens": 10}
    refused = batch_message(
        _key("anthropic"), {**params, "thinking": small, "messages": [{"role": "user", "content": "x"}]}
    )
    assert refused.status == 400
    assert "greater than or equal to 1024" in refused.body["error"]["message"]
    generated = batch_generate("gemini-3-reason", _key("gemini"), {"contents": [{"parts": [{"text": "hi"}]}]})
    assert generated.status == 200
    assert generated.body["candidates"][0]["content"]["parts"][0]["thoughtSignature"]
    assert generated.body["usageMetadata"]["thoughtsTokenCount"] == 8
