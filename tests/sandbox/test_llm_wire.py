"""The LLM emulation on the raw wire (httpx2): SSE framing, usage conventions, error shapes and headers."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import httpx2
import pytest

from ._llm_server import serve_llm

OPENAI = {"authorization": "Bearer test-openai-key"}
ANTHROPIC = {"x-api-key": "test-anthropic-key", "anthropic-version": "2023-06-01"}
GEMINI = {"x-goog-api-key": "test-gemini-key"}
GROQ = {"authorization": "Bearer test-groq-key"}
SCHEMA = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
DURATION = re.compile(r"^(\d+m)?\d+(\.\d+)?(ms|s)$")


@pytest.fixture(scope="module")
def http() -> Iterator[httpx2.Client]:
    with serve_llm() as url, httpx2.Client(base_url=url, timeout=10) as client:
        yield client


def _chat(model: str, text: str = "hello wide world", **extra: Any) -> dict[str, Any]:
    return {"model": model, "messages": [{"role": "user", "content": text}], **extra}


def _claude(model: str, text: str = "hello wide world", **extra: Any) -> dict[str, Any]:
    return {"model": model, "max_tokens": 100, "messages": [{"role": "user", "content": text}], **extra}


def _gemini(text: str = "hello wide world", **extra: Any) -> dict[str, Any]:
    return {"contents": [{"role": "user", "parts": [{"text": text}]}], **extra}


def _data_events(body: str, separator: str = "\n\n") -> list[str]:
    """The ``data:`` payloads of an SSE body whose events are all single ``data:`` lines."""
    assert body.endswith(separator)
    events = body[: -len(separator)].split(separator)
    assert all(e.startswith("data: ") and "\n" not in e.removeprefix("data: ").rstrip("\r") for e in events)
    return [e.removeprefix("data: ") for e in events]


def _named_events(body: str) -> list[tuple[str, dict[str, Any]]]:
    assert body.endswith("\n\n")
    out = []
    for block in body[:-2].split("\n\n"):
        event, data = block.split("\n")
        assert event.startswith("event: ")
        assert data.startswith("data: ")
        out.append((event.removeprefix("event: "), json.loads(data.removeprefix("data: "))))
    return out


# --- OpenAI ----------------------------------------------------------------------------------------------


def test_openai_sse_framing_with_usage(http: httpx2.Client) -> None:
    response = http.post(
        "/v1/chat/completions",
        json=_chat("echo", stream=True, stream_options={"include_usage": True}),
        headers=OPENAI,
    )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    events = _data_events(response.text)
    assert events[-1] == "[DONE]"
    docs = [json.loads(e) for e in events[:-1]]
    assert docs[0]["choices"][0]["delta"] == {"role": "assistant", "content": "", "refusal": None}
    assert [d["choices"][0]["delta"].get("content") for d in docs[1:4]] == ["hello", " wide", " world"]
    assert docs[-2]["choices"][0]["finish_reason"] == "stop"
    assert docs[-2]["choices"][0]["delta"] == {}
    assert docs[-1]["choices"] == []
    assert docs[-1]["usage"]["prompt_tokens"] == 3
    assert docs[-1]["usage"]["completion_tokens"] == 3
    assert all(d["usage"] is None for d in docs[:-1])
    assert {d["id"] for d in docs} == {docs[0]["id"]}
    assert all(d["object"] == "chat.completion.chunk" for d in docs)


def test_openai_sse_without_include_usage_has_no_usage(http: httpx2.Client) -> None:
    response = http.post("/v1/chat/completions", json=_chat("echo", stream=True), headers=OPENAI)
    events = _data_events(response.text)
    assert events[-1] == "[DONE]"
    docs = [json.loads(e) for e in events[:-1]]
    assert all("usage" not in d and d["choices"] for d in docs)


def test_openai_streamed_tool_call_fragments(http: httpx2.Client) -> None:
    tools = [{"type": "function", "function": {"name": "get_weather", "parameters": SCHEMA}}]
    response = http.post("/v1/chat/completions", json=_chat("tool", stream=True, tools=tools), headers=OPENAI)
    docs = [json.loads(e) for e in _data_events(response.text)[:-1]]
    calls = [c for d in docs for c in d["choices"][0]["delta"].get("tool_calls", [])]
    assert calls[0]["index"] == 0
    assert calls[0]["id"].startswith("call_")
    assert calls[0]["function"] == {"name": "get_weather", "arguments": ""}
    assert len(calls) == 3
    assert all("id" not in c and c["index"] == 0 for c in calls[1:])
    assert json.loads("".join(c["function"]["arguments"] for c in calls)) == {"city": "sandbox"}
    assert docs[-1]["choices"][0]["finish_reason"] == "tool_calls"


def test_openai_tool_choice_forces_a_named_tool_and_none_disables(http: httpx2.Client) -> None:
    tools = [
        {"type": "function", "function": {"name": "first", "parameters": SCHEMA}},
        {"type": "function", "function": {"name": "second", "parameters": {"type": "object", "properties": {}}}},
    ]
    forced = {"type": "function", "function": {"name": "second"}}
    body = http.post("/v1/chat/completions", json=_chat("tool", tools=tools, tool_choice=forced), headers=OPENAI)
    call = body.json()["choices"][0]["message"]["tool_calls"][0]
    assert call["function"] == {"name": "second", "arguments": "{}"}
    none = http.post("/v1/chat/completions", json=_chat("tool", tools=tools, tool_choice="none"), headers=OPENAI)
    assert none.json()["choices"][0]["message"]["content"] == "hello wide world"


def test_openai_error_in_200_stream(http: httpx2.Client) -> None:
    response = http.post("/v1/chat/completions", json=_chat("stream-error", stream=True), headers=OPENAI)
    assert response.status_code == 200
    events = _data_events(response.text)
    assert "[DONE]" not in events
    error = json.loads(events[-1])
    assert set(error) == {"error"}
    assert set(error["error"]) == {"message", "type", "param", "code"}
    assert [json.loads(e)["choices"][0]["delta"].get("content") for e in events[1:-1]] == ["one", " two"]


def test_openai_json_usage_and_headers(http: httpx2.Client) -> None:
    system = " ".join(["word"] * 1024)  # a long system prompt counts as cached for every model
    body = {"model": "gpt-4o", "messages": [{"role": "system", "content": system}, {"role": "user", "content": "hi"}]}
    response = http.post("/v1/chat/completions", json=body, headers=OPENAI)
    usage = response.json()["usage"]
    assert usage["prompt_tokens"] == 1025
    assert usage["prompt_tokens_details"]["cached_tokens"] == 1024
    assert usage["total_tokens"] == 1026
    for kind in ("requests", "tokens"):
        for what in ("limit", "remaining"):
            assert response.headers[f"x-ratelimit-{what}-{kind}"].isdigit()
        assert DURATION.match(response.headers[f"x-ratelimit-reset-{kind}"])
    assert response.headers["x-ratelimit-reset-tokens"] == "6m0s"
    assert int(response.headers["x-ratelimit-remaining-tokens"]) == 2_000_000 - 1025
    assert response.headers["x-request-id"].startswith("req_")


def test_openai_reasoning_tokens_are_part_of_completion(http: httpx2.Client) -> None:
    usage = http.post("/v1/chat/completions", json=_chat("o3-think"), headers=OPENAI).json()["usage"]
    assert usage["completion_tokens_details"]["reasoning_tokens"] == 8
    assert usage["completion_tokens"] == 3 + 8
    assert usage["total_tokens"] == 3 + 3 + 8


def test_openai_max_tokens_truncates_with_length(http: httpx2.Client) -> None:
    doc = http.post("/v1/chat/completions", json=_chat("echo", max_completion_tokens=2), headers=OPENAI).json()
    assert doc["choices"][0]["message"]["content"] == "hello wide"
    assert doc["choices"][0]["finish_reason"] == "length"
    assert doc["usage"]["completion_tokens"] == 2


@pytest.mark.parametrize(
    ("headers", "message"),
    [({}, "You didn't provide an API key"), ({"authorization": "Bearer"}, "You didn't provide an API key")],
)
def test_openai_missing_key(http: httpx2.Client, headers: dict[str, str], message: str) -> None:
    response = http.post("/v1/chat/completions", json=_chat("echo"), headers=headers)
    assert response.status_code == 401
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert error["message"].startswith(message)
    assert error["code"] == "invalid_api_key"


def test_openai_invalid_key_and_bad_requests(http: httpx2.Client) -> None:
    refused = http.post("/v1/chat/completions", json=_chat("echo"), headers={"authorization": "Bearer invalid"})
    assert refused.status_code == 401
    assert refused.json()["error"]["code"] == "invalid_api_key"
    not_json = http.post(
        "/v1/chat/completions", content=b"{nope", headers={**OPENAI, "content-type": "application/json"}
    )
    assert not_json.status_code == 400
    assert not_json.json()["error"]["type"] == "invalid_request_error"
    missing = http.post("/v1/chat/completions", json={"model": "echo"}, headers=OPENAI)
    assert missing.status_code == 400
    assert missing.json()["error"]["param"] == "messages"


def test_openai_429_shape_and_headers(http: httpx2.Client) -> None:
    response = http.post("/v1/chat/completions", json=_chat("error-429"), headers=OPENAI)
    assert response.status_code == 429
    assert response.headers["retry-after"] == "1"
    assert response.headers["retry-after-ms"] == "1000"
    assert response.headers["x-ratelimit-remaining-requests"] == "0"
    assert response.headers["x-ratelimit-reset-requests"] == "1s"
    assert response.json()["error"]["code"] == "rate_limit_exceeded"


def test_openai_fail_once_is_per_key(http: httpx2.Client) -> None:
    first = {"authorization": "Bearer test-fail-once-a"}
    assert http.post("/v1/chat/completions", json=_chat("fail-once-503"), headers=first).status_code == 503
    assert http.post("/v1/chat/completions", json=_chat("fail-once-503"), headers=first).status_code == 200
    other = {"authorization": "Bearer test-fail-once-b"}
    assert http.post("/v1/chat/completions", json=_chat("fail-once-503"), headers=other).status_code == 503


def test_openai_embeddings_float(http: httpx2.Client) -> None:
    body = {"model": "e", "input": ["same", "same", "other"], "encoding_format": "float"}
    doc = http.post("/v1/embeddings", json=body, headers=OPENAI).json()
    vectors = [d["embedding"] for d in doc["data"]]
    assert [d["index"] for d in doc["data"]] == [0, 1, 2]
    assert vectors[0] == vectors[1] != vectors[2]
    assert len(vectors[0]) == 8
    assert abs(sum(v * v for v in vectors[0]) - 1) < 1e-6
    assert doc["object"] == "list"


@pytest.mark.parametrize("model", ["stream-cut", "cut-5"])
def test_openai_stream_cut_ends_the_body_early(http: httpx2.Client, model: str) -> None:
    received: list[str] = []
    with (
        pytest.raises(httpx2.RemoteProtocolError),
        http.stream("POST", "/v1/chat/completions", json=_chat(model, stream=True), headers=OPENAI) as response,
    ):
        received.extend(response.iter_lines())
    contents = [json.loads(line[6:])["choices"][0]["delta"].get("content") for line in received if line]
    expected = 3 if model == "stream-cut" else 5
    assert len(contents) == 1 + expected  # the role chunk, then the text chunks before the cut
    assert "data: [DONE]" not in received


def test_openai_models(http: httpx2.Client) -> None:
    listed = http.get("/v1/models", headers=OPENAI).json()
    assert listed["object"] == "list"
    assert {"id": "echo", "object": "model", "created": 1_700_000_000, "owned_by": "atriumn-sandbox"} in listed["data"]
    assert http.get("/v1/models/gpt-4o", headers=OPENAI).json()["id"] == "gpt-4o"
    anthropic = http.get("/v1/models/claude-x", headers=ANTHROPIC).json()
    assert anthropic["type"] == "model"


# --- Groq ------------------------------------------------------------------------------------------------


def test_groq_stream_usage_in_x_groq(http: httpx2.Client) -> None:
    response = http.post("/openai/v1/chat/completions", json=_chat("llama", stream=True), headers=GROQ)
    events = _data_events(response.text)
    assert events[-1] == "[DONE]"
    docs = [json.loads(e) for e in events[:-1]]
    assert docs[0]["x_groq"]["id"].startswith("req_")
    assert docs[-1]["x_groq"]["usage"]["prompt_tokens"] == 3
    assert docs[-1]["x_groq"]["usage"]["completion_tokens"] == 3
    assert docs[-1]["choices"][0]["finish_reason"] == "stop"
    assert all("usage" not in d for d in docs)
    assert all("x_groq" not in d for d in docs[1:-1])
    assert response.headers["x-ratelimit-limit-requests"] == "14400"


def test_groq_error_in_stream_is_x_groq_error(http: httpx2.Client) -> None:
    response = http.post("/openai/v1/chat/completions", json=_chat("stream-error", stream=True), headers=GROQ)
    events = _data_events(response.text)
    assert "[DONE]" not in events
    last = json.loads(events[-1])
    assert isinstance(last["x_groq"]["error"], str)


def test_groq_json_has_x_groq_and_timings(http: httpx2.Client) -> None:
    doc = http.post("/openai/v1/chat/completions", json=_chat("llama"), headers=GROQ).json()
    assert doc["x_groq"]["id"].startswith("req_")
    assert {"queue_time", "prompt_time", "completion_time", "total_time"} <= set(doc["usage"])
    assert http.get("/openai/v1/models", headers=GROQ).json()["object"] == "list"


# --- Anthropic -------------------------------------------------------------------------------------------


def test_anthropic_event_sequence(http: httpx2.Client) -> None:
    response = http.post("/v1/messages", json=_claude("claude", "a b", stream=True), headers=ANTHROPIC)
    assert response.headers["content-type"].startswith("text/event-stream")
    events = _named_events(response.text)
    assert [name for name, _ in events] == [
        "message_start",
        "content_block_start",
        "ping",
        "content_block_delta",
        "content_block_delta",
        "content_block_stop",
        "message_delta",
        "message_stop",
    ]
    assert all(doc["type"] == name for name, doc in events)
    start = events[0][1]["message"]
    assert start["content"] == []
    assert start["stop_reason"] is None
    assert start["usage"]["input_tokens"] == 2
    assert [doc["delta"] for name, doc in events if name == "content_block_delta"] == [
        {"type": "text_delta", "text": "a"},
        {"type": "text_delta", "text": " b"},
    ]
    delta = events[-2][1]
    assert delta["delta"]["stop_reason"] == "end_turn"
    assert delta["usage"] == {"output_tokens": 2}


def test_anthropic_tool_use_stream(http: httpx2.Client) -> None:
    tools = [{"name": "get_weather", "input_schema": SCHEMA}]
    events = _named_events(
        http.post("/v1/messages", json=_claude("tool", stream=True, tools=tools), headers=ANTHROPIC).text
    )
    names = [name for name, _ in events]
    assert names[:3] == ["message_start", "content_block_start", "ping"]
    block = events[1][1]["content_block"]
    assert block["type"] == "tool_use"
    assert block["name"] == "get_weather"
    assert block["input"] == {}
    partial = [d["delta"] for n, d in events if n == "content_block_delta"]
    assert all(p["type"] == "input_json_delta" for p in partial)
    assert json.loads("".join(p["partial_json"] for p in partial)) == {"city": "sandbox"}
    assert events[-2][1]["delta"]["stop_reason"] == "tool_use"


def test_anthropic_error_event_in_200_stream(http: httpx2.Client) -> None:
    response = http.post("/v1/messages", json=_claude("stream-error", stream=True), headers=ANTHROPIC)
    assert response.status_code == 200
    events = _named_events(response.text)
    assert events[-1] == ("error", {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}})
    assert "message_stop" not in [n for n, _ in events]


def test_anthropic_cache_usage_excludes_cached(http: httpx2.Client) -> None:
    body = _claude(
        "claude-cache", "x y", system=[{"type": "text", "text": "s1 s2 s3", "cache_control": {"type": "ephemeral"}}]
    )
    usage = http.post("/v1/messages", json=body, headers=ANTHROPIC).json()["usage"]
    assert usage["input_tokens"] == 2
    assert usage["cache_read_input_tokens"] == 3
    assert usage["cache_creation_input_tokens"] == 0
    write = http.post("/v1/messages", json={**body, "model": "claude-cache-write"}, headers=ANTHROPIC).json()
    assert write["usage"]["input_tokens"] == 2
    assert write["usage"]["cache_creation_input_tokens"] == 3
    assert write["usage"]["cache_read_input_tokens"] == 0


def test_anthropic_headers_and_prefix(http: httpx2.Client) -> None:
    response = http.post("/anthropic/v1/messages", json=_claude("echo"), headers=ANTHROPIC)
    assert response.status_code == 200
    assert response.headers["request-id"].startswith("req_")
    for kind in ("requests", "tokens", "input-tokens", "output-tokens"):
        assert response.headers[f"anthropic-ratelimit-{kind}-limit"].isdigit()
        assert response.headers[f"anthropic-ratelimit-{kind}-remaining"].isdigit()
        assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$", response.headers[f"anthropic-ratelimit-{kind}-reset"])
    bearer = {"authorization": "Bearer test-anthropic-key", "anthropic-version": "2023-06-01"}
    assert http.post("/v1/messages", json=_claude("echo"), headers=bearer).status_code == 200


@pytest.mark.parametrize(
    ("headers", "body", "status", "kind"),
    [
        ({"anthropic-version": "2023-06-01"}, _claude("echo"), 401, "authentication_error"),
        ({"x-api-key": "invalid-key", "anthropic-version": "2023-06-01"}, _claude("echo"), 401, "authentication_error"),
        ({"x-api-key": "test-anthropic-key"}, _claude("echo"), 400, "invalid_request_error"),
        (ANTHROPIC, {"model": "echo", "messages": [{"role": "user", "content": "hi"}]}, 400, "invalid_request_error"),
        (ANTHROPIC, _claude("overloaded"), 529, "overloaded_error"),
        (ANTHROPIC, _claude("error-429"), 429, "rate_limit_error"),
        (ANTHROPIC, _claude("error-500"), 500, "api_error"),
    ],
)
def test_anthropic_error_shapes(
    http: httpx2.Client, headers: dict[str, str], body: dict[str, Any], status: int, kind: str
) -> None:
    response = http.post("/v1/messages", json=body, headers=headers)
    assert response.status_code == status
    doc = response.json()
    assert doc["type"] == "error"
    assert set(doc["error"]) == {"type", "message"}
    assert doc["error"]["type"] == kind
    assert doc["request_id"] == response.headers["request-id"]
    if status in (429, 529):
        assert response.headers["retry-after"] == "1"


def test_anthropic_missing_max_tokens_message(http: httpx2.Client) -> None:
    body = {"model": "echo", "messages": [{"role": "user", "content": "hi"}]}
    assert "max_tokens" in http.post("/v1/messages", json=body, headers=ANTHROPIC).json()["error"]["message"]


def test_anthropic_max_tokens_stop_reason(http: httpx2.Client) -> None:
    doc = http.post("/v1/messages", json={**_claude("echo"), "max_tokens": 1}, headers=ANTHROPIC).json()
    assert doc["content"] == [{"type": "text", "text": "hello"}]
    assert doc["stop_reason"] == "max_tokens"


def test_anthropic_stream_cut(http: httpx2.Client) -> None:
    received: list[str] = []
    with (
        pytest.raises(httpx2.RemoteProtocolError),
        http.stream("POST", "/v1/messages", json=_claude("cut-2", stream=True), headers=ANTHROPIC) as response,
    ):
        received.extend(response.iter_lines())
    assert sum(line == "event: content_block_delta" for line in received) == 2
    assert "event: message_stop" not in received


# --- Gemini ----------------------------------------------------------------------------------------------


def test_gemini_sse_framing(http: httpx2.Client) -> None:
    response = http.post(
        "/v1beta/models/gemini-2.5-flash:streamGenerateContent", params={"alt": "sse"}, json=_gemini(), headers=GEMINI
    )
    assert response.headers["content-type"].startswith("text/event-stream")
    assert "event:" not in response.text
    events = _data_events(response.text, "\r\n\r\n")
    assert "[DONE]" not in events
    docs = [json.loads(e) for e in events]
    assert [d["candidates"][0]["content"]["parts"][0]["text"] for d in docs] == ["hello", " wide", " world"]
    assert all(d["candidates"][0]["content"]["role"] == "model" for d in docs)
    assert "finishReason" not in docs[0]["candidates"][0]
    assert docs[-1]["candidates"][0]["finishReason"] == "STOP"
    assert docs[-1]["usageMetadata"] == {
        "promptTokenCount": 3,
        "candidatesTokenCount": 3,
        "totalTokenCount": 6,
        "promptTokensDetails": [{"modality": "TEXT", "tokenCount": 3}],
    }


def test_gemini_stream_without_alt_is_a_json_array(http: httpx2.Client) -> None:
    doc = http.post("/v1beta/models/echo:streamGenerateContent", json=_gemini("a b"), headers=GEMINI).json()
    assert isinstance(doc, list)
    assert len(doc) == 2


def test_gemini_usage_cached_and_thoughts(http: httpx2.Client) -> None:
    body = _gemini("x y", systemInstruction={"parts": [{"text": "s1 s2 s3"}]})
    usage = http.post("/v1beta/models/gemini-cache-think:generateContent", json=body, headers=GEMINI).json()[
        "usageMetadata"
    ]
    assert usage["promptTokenCount"] == 5
    assert usage["cachedContentTokenCount"] == 3
    assert usage["candidatesTokenCount"] == 2
    assert usage["thoughtsTokenCount"] == 8
    assert usage["totalTokenCount"] == 5 + 2 + 8


def test_gemini_snake_case_request_and_key_in_query(http: httpx2.Client) -> None:
    body = {
        "contents": [{"role": "user", "parts": [{"text": "q"}]}],
        "generation_config": {
            "response_mime_type": "application/json",
            "response_schema": {"type": "OBJECT", "properties": {"n": {"type": "INTEGER"}}},
        },
    }
    response = http.post("/v1beta/models/m:generateContent", params={"key": "test-gemini-key"}, json=body)
    assert response.status_code == 200
    assert json.loads(response.json()["candidates"][0]["content"]["parts"][0]["text"]) == {"n": 1}


def test_gemini_function_call(http: httpx2.Client) -> None:
    body = _gemini(tools=[{"functionDeclarations": [{"name": "get_weather", "parameters": SCHEMA}]}])
    doc = http.post("/v1beta/models/tool:generateContent", json=body, headers=GEMINI).json()
    assert doc["candidates"][0]["content"]["parts"] == [
        {"functionCall": {"name": "get_weather", "args": {"city": "sandbox"}}}
    ]


@pytest.mark.parametrize(
    ("model", "headers", "status", "name"),
    [
        ("echo", {}, 403, "PERMISSION_DENIED"),
        ("echo", {"x-goog-api-key": "invalid"}, 400, "INVALID_ARGUMENT"),
        ("error-429", GEMINI, 429, "RESOURCE_EXHAUSTED"),
        ("overloaded", GEMINI, 503, "UNAVAILABLE"),
        ("error-500", GEMINI, 500, "INTERNAL"),
    ],
)
def test_gemini_error_shapes(http: httpx2.Client, model: str, headers: dict[str, str], status: int, name: str) -> None:
    response = http.post(f"/v1beta/models/{model}:generateContent", json=_gemini(), headers=headers)
    assert response.status_code == status
    error = response.json()["error"]
    assert set(error) == {"code", "message", "status", "details"}
    assert error["code"] == status
    assert error["status"] == name
    if status == 429:
        assert {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "1s"} in error["details"]
    if status == 400:
        assert error["details"][0]["reason"] == "API_KEY_INVALID"


def test_gemini_unknown_method_and_missing_contents(http: httpx2.Client) -> None:
    assert http.post("/v1beta/models/echo:fly", json={}, headers=GEMINI).json()["error"]["status"] == "NOT_FOUND"
    assert http.post("/v1beta/models/echo:generateContent", json={}, headers=GEMINI).status_code == 400


def test_gemini_error_in_200_stream(http: httpx2.Client) -> None:
    response = http.post(
        "/v1beta/models/stream-error:streamGenerateContent", params={"alt": "sse"}, json=_gemini(), headers=GEMINI
    )
    assert response.status_code == 200
    events = _data_events(response.text, "\r\n\r\n")
    assert len(events) == 3
    assert json.loads(events[-1])["error"]["status"] == "UNAVAILABLE"


def test_gemini_embeddings(http: httpx2.Client) -> None:
    one = http.post(
        "/v1beta/models/emb:embedContent",
        json={"content": {"parts": [{"text": "a"}]}, "outputDimensionality": 4},
        headers=GEMINI,
    ).json()
    assert len(one["embedding"]["values"]) == 4
    batch = http.post(
        "/v1beta/models/emb:batchEmbedContents",
        json={"requests": [{"model": "models/emb", "content": {"parts": [{"text": t}]}} for t in ("a", "b")]},
        headers=GEMINI,
    ).json()
    assert len(batch["embeddings"]) == 2
    assert batch["embeddings"][0]["values"][:4] != batch["embeddings"][1]["values"][:4]
    assert http.get("/v1beta/models/emb", headers=GEMINI).json()["name"] == "models/emb"
