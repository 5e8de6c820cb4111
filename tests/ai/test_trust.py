"""The AI client's side of trust: provider keys echoed by providers are scrubbed from every error (all four
providers, sync and async, chat and stream); ``e.code`` is the provider's code; chat calls are replayed only as
``replay_unsafe`` allows; a chat body cut after the head is retried and named by its full URL; DEBUG logs keep
the conversation out unless ``record_content``; tool-call arguments go back into a conversation as received.
Against the fault server over real sockets."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from atriumn.ai import AsyncChatClient, ChatClient, Message, ToolCall
from atriumn.core import APIError, AtriumnError, NetworkError, ServerError, ValidationError
from tests.faultserver import Fault, FaultServer, RecordedRequest, Reply

KEYS = {
    "openai": "plantOpenai-k7q",
    "anthropic": "plantAnthropic-w2z",
    "gemini": "plantGemini-r5t",
    "groq": "plantGroq-m3x",
}
PROVIDERS = list(KEYS)


@pytest.fixture
def srv() -> Iterator[FaultServer]:
    with FaultServer() as server:
        yield server


def _client_options(url: str, **options: Any) -> dict[str, Any]:
    base_urls = {"openai": f"{url}/v1", "anthropic": url, "gemini": url, "groq": url}
    return {"api_keys": KEYS, "base_urls": base_urls, "environ": {}, **options}


def _sent_key(req: RecordedRequest) -> str:
    for name in ("authorization", "x-api-key", "x-goog-api-key"):
        if name in req.headers:
            return req.headers[name].removeprefix("Bearer ")
    return ""


def _sse(*events: tuple[str | None, Any]) -> bytes:
    out = b""
    for name, doc in events:
        if name:
            out += f"event: {name}\n".encode()
        out += f"data: {json.dumps(doc)}\n\n".encode()
    return out


def echo_key(req: RecordedRequest) -> Reply:
    """Each provider's real error shapes, echoing the key it was sent — as an error status for plain calls and
    as an error event inside a 200 stream for streamed ones."""
    key = _sent_key(req)
    body = req.json() if req.body else {}
    streamed = (isinstance(body, dict) and body.get("stream") is True) or "streamGenerateContent" in req.path
    if req.path.endswith("/chat/completions"):
        error = {"message": f"Incorrect API key provided: {key}", "type": "invalid_request_error",
                 "code": "invalid_api_key", "param": None}  # fmt: skip
        if streamed:
            return Reply(200, body=_sse((None, {"error": error})), content_type="text/event-stream")
        return Reply(401, json={"error": error})
    if req.path.endswith("/v1/messages"):
        error = {"type": "authentication_error", "message": f"invalid x-api-key: {key}"}
        if streamed:
            start = {"type": "message_start", "message": {"id": "m", "model": "x", "usage": {"input_tokens": 1}}}
            events = _sse(("message_start", start), ("error", {"type": "error", "error": error}))
            return Reply(200, body=events, content_type="text/event-stream")
        return Reply(401, json={"type": "error", "error": error})
    error = {"code": 400, "message": f"API key not valid. Please pass a valid API key. ({key})",
             "status": "INVALID_ARGUMENT"}  # fmt: skip
    if streamed:
        return Reply(200, body=_sse((None, {"error": error})), content_type="text/event-stream")
    return Reply(400, json={"error": error})


def _call(kind: str, mode: str, provider: str, url: str, **options: Any) -> BaseException:
    model = f"{provider}:some-model"
    if kind == "sync":
        with ChatClient(max_retries=0, **_client_options(url, **options)) as client:
            try:
                if mode == "chat":
                    client.chat(model, "hello")
                else:
                    client.stream(model, "hello").final_response()
            except AtriumnError as exc:
                return exc
        raise AssertionError("no error")

    async def main() -> BaseException:
        async with AsyncChatClient(max_retries=0, **_client_options(url, **options)) as client:
            try:
                if mode == "chat":
                    await client.chat(model, "hello")
                else:
                    await client.stream(model, "hello").final_response()
            except AtriumnError as exc:
                return exc
        raise AssertionError("no error")

    return asyncio.run(main())


def _texts(exc: BaseException) -> str:
    parts = [str(exc), repr(exc), repr(vars(exc))]
    if isinstance(exc, APIError):
        parts += [exc.description, exc.body, json.dumps(dict(exc.headers))]
    return "\n".join(parts)


@pytest.mark.parametrize("kind", ["sync", "async"])
@pytest.mark.parametrize("mode", ["chat", "stream"])
@pytest.mark.parametrize("provider", PROVIDERS)
def test_echoed_provider_keys_are_scrubbed(
    kind: str, mode: str, provider: str, srv: FaultServer, caplog: pytest.LogCaptureFixture
) -> None:
    srv.default = echo_key
    caplog.set_level(logging.DEBUG)
    error = _call(kind, mode, provider, srv.url)
    assert isinstance(error, APIError)
    assert _sent_key(srv.requests[-1]) == KEYS[provider]  # the key really went out, and came back
    text = _texts(error) + "\n".join(r.getMessage() + repr(vars(r)) for r in caplog.records)
    for key in KEYS.values():
        assert key not in text
    assert "REDACTED" in str(error)
    expected_code = {"openai": "invalid_api_key", "groq": "invalid_api_key", "anthropic": "authentication_error",
                     "gemini": "INVALID_ARGUMENT"}[provider]  # fmt: skip
    assert error.code == expected_code
    if provider in ("openai", "groq"):
        assert error.type == "invalid_request_error"  # kept apart from the code, as the official SDK does


# --- replays ----------------------------------------------------------------------------------------------------

COMPLETION = {
    "id": "chatcmpl-1",
    "model": "gpt-test",
    "choices": [{"index": 0, "message": {"role": "assistant", "content": "fine"}, "finish_reason": "stop"}],
    "usage": {"prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 4},
}
FAILURES: dict[str, Callable[[], Any]] = {
    "503": lambda: Reply(503, json={"error": {"message": "busy", "type": "server_error"}}),
    "reset-after-head": lambda: Fault.reset_after_head(),
    "body-cut-after-head": lambda: Fault.truncated_body(json.dumps(COMPLETION).encode()[:20]),
}


def _chat(kind: str, url: str, *, client_replay: bool = True, call_replay: bool | None = None) -> Any:
    options = _client_options(url, replay_unsafe=client_replay)
    if kind == "sync":
        with ChatClient(max_retries=2, **options) as client:
            try:
                return client.chat("openai:gpt-test", "hi", replay_unsafe=call_replay)
            except AtriumnError as exc:
                return exc

    async def main() -> Any:
        async with AsyncChatClient(max_retries=2, **options) as client:
            try:
                return await client.chat("openai:gpt-test", "hi", replay_unsafe=call_replay)
            except AtriumnError as exc:
                return exc

    return asyncio.run(main())


@pytest.mark.parametrize("kind", ["sync", "async"])
@pytest.mark.parametrize("failure", list(FAILURES))
def test_chat_calls_are_replayed_like_the_official_sdks_by_default(kind: str, failure: str, srv: FaultServer) -> None:
    srv.script(FAILURES[failure](), Reply(200, json=COMPLETION))
    result = _chat(kind, srv.url)
    assert result.text == "fine"
    assert len(srv.wait_for_requests(2)) == 2
    assert all("idempotency-key" not in r.headers for r in srv.requests)  # providers ignore it: none is sent


@pytest.mark.parametrize("kind", ["sync", "async"])
@pytest.mark.parametrize("failure", list(FAILURES))
@pytest.mark.parametrize("where", ["client", "call"])
def test_replay_unsafe_false_never_replays_a_sent_chat(kind: str, failure: str, where: str, srv: FaultServer) -> None:
    srv.script(FAILURES[failure](), Reply(200, json=COMPLETION))
    if where == "client":
        result = _chat(kind, srv.url, client_replay=False)
    else:
        result = _chat(kind, srv.url, client_replay=True, call_replay=False)
    assert isinstance(result, ServerError | NetworkError)
    assert len(srv.requests) == 1
    if failure == "body-cut-after-head":  # the whole URL is named, not only the base URL
        assert f"{srv.url}/v1/chat/completions" in str(result)


@pytest.mark.parametrize("kind", ["sync", "async"])
def test_a_call_may_turn_replay_back_on(kind: str, srv: FaultServer) -> None:
    srv.script(Reply(503), Reply(200, json=COMPLETION))
    result = _chat(kind, srv.url, client_replay=False, call_replay=True)
    assert result.text == "fine"


def test_replay_unsafe_is_validated() -> None:
    with pytest.raises(ValidationError, match="replay_unsafe"):
        ChatClient(replay_unsafe="yes", api_keys=KEYS, environ={})  # type: ignore[arg-type]


def test_embeddings_follow_the_same_replay_rule(srv: FaultServer) -> None:
    vectors = {"data": [{"index": 0, "embedding": [0.5, 0.25]}], "usage": {"prompt_tokens": 1}}
    srv.script(Reply(503), Reply(200, json=vectors))
    with ChatClient(max_retries=2, **_client_options(srv.url)) as client:
        assert client.embed("openai:emb", ["a"]).vectors == ((0.5, 0.25),)
        srv.script(Reply(503), Reply(200, json=vectors))
        with pytest.raises(ServerError):
            client.embed("openai:emb", ["a"], replay_unsafe=False)
    assert len(srv.requests) == 3


# --- DEBUG logs --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("record_content", [False, True])
def test_debug_logs_show_a_chat_body_only_with_record_content(
    record_content: bool, srv: FaultServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="atriumn")
    srv.default = Reply(200, json=COMPLETION)
    with ChatClient(record_content=record_content, **_client_options(srv.url)) as client:
        client.chat("openai:gpt-test", "my private diagnosis", system="be kind")
    [record] = [r for r in caplog.records if r.name == "atriumn.core.transport" and r.levelno == logging.DEBUG]
    logged = record.getMessage() + repr(vars(record))
    assert ("my private diagnosis" in logged) is record_content
    assert ("be kind" in logged) is record_content
    assert '"model": "gpt-test"' in record.__dict__["atriumn.request_body"]  # the shape is still there


# --- tool-call arguments go back as received ---------------------------------------------------------------------

CUT = '{"city": "Par'  # what a model cut off at max_tokens emits


def _with_cut_call(arguments: str) -> dict[str, Any]:
    call = {"id": "call_0", "type": "function", "function": {"name": "weather", "arguments": arguments}}
    return {"id": "c", "model": "m", "choices": [{"index": 0, "finish_reason": "length",
            "message": {"role": "assistant", "content": None, "tool_calls": [call]}}]}  # fmt: skip


def test_invalid_tool_arguments_round_trip_to_openai(srv: FaultServer) -> None:
    srv.script(Reply(200, json=_with_cut_call(CUT)), Reply(200, json=COMPLETION), Reply(200, json=COMPLETION))
    with ChatClient(**_client_options(srv.url)) as client:
        first = client.chat("openai:gpt-test", "weather?")
        [call] = first.tool_calls
        assert (call.arguments, call.raw_arguments) == ({}, CUT)
        assert call.arguments_error is not None and "not valid JSON" in call.arguments_error
        history = ["weather?", first.message, Message.tool("call_0", "unknown", name="weather")]
        client.chat("openai:gpt-test", history)
        as_dict = _with_cut_call(CUT)["choices"][0]["message"]
        tool_result = {"role": "tool", "tool_call_id": "call_0", "content": "?"}
        client.chat("openai:gpt-test", ["weather?", as_dict, tool_result])
    for sent in srv.requests[1:]:
        assert sent.json()["messages"][1]["tool_calls"][0]["function"]["arguments"] == CUT  # exactly as received


@pytest.mark.parametrize("provider", ["anthropic", "gemini"])
def test_invalid_tool_arguments_are_refused_where_an_object_is_required(provider: str, srv: FaultServer) -> None:
    history = [
        Message.user("weather?"),
        Message.assistant(tool_calls=[ToolCall(id="call_0", name="weather", raw_arguments=CUT)]),
        Message.tool("call_0", "?", name="weather"),
    ]
    with ChatClient(**_client_options(srv.url)) as client, pytest.raises(ValidationError) as info:
        client.chat(f"{provider}:m", history)
    expected = "messages[1].tool_calls[0]: the arguments of tool call 'call_0' are not valid JSON"
    assert str(info.value).startswith(expected)
    assert provider in str(info.value)
    assert srv.requests == []  # refused before sending
