"""Anthropic Messages (``/v1/messages``, also under ``/anthropic/v1/...``) and Models.

Wire facts kept here: a key in ``x-api-key`` (the 2.x SDK may send it as a bearer token instead: both are
taken) and an ``anthropic-version`` header are required; ``max_tokens`` is required; ``usage.input_tokens``
EXCLUDES ``cache_read_input_tokens`` and ``cache_creation_input_tokens``; a stream is named events —
``message_start``, ``content_block_start``, ``ping``, ``content_block_delta`` (``text_delta`` /
``input_json_delta``), ``content_block_stop``, ``message_delta`` (stop reason, output tokens),
``message_stop`` — and may carry ``event: error`` after the 200; overload is 529 ``overloaded_error``.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterator
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from ._behaviour import Behaviour, behaviour_of
from ._turn import Answer, Turn, Usage, answer, usage_of
from ._wire import (
    FAIL_ONCE,
    Answered,
    EventStream,
    RequestBodyError,
    answered,
    bad_key,
    bearer,
    dumps,
    json_response,
    new_id,
    read_json,
)

__all__ = ["anthropic_models", "anthropic_routes", "authenticate", "batch_message", "error_response"]

_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "billing_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    504: "timeout_error",
    529: "overloaded_error",
}
_MESSAGES = {
    429: "Number of request tokens has exceeded your per-minute rate limit (emulated by the Atriumn sandbox).",
    529: "Overloaded",
}
_LIMIT_REQUESTS = 4_000
_LIMIT_TOKENS = 2_000_000


def _error(status: int, message: str | None = None, headers: dict[str, str] | None = None) -> Response:
    """An error in Anthropic's shape."""
    request_id = new_id("req_")
    body = {
        "type": "error",
        "error": {
            "type": _TYPES.get(status, "api_error"),
            "message": message or _MESSAGES.get(status, f"Emulated error {status} (Atriumn sandbox)."),
        },
        "request_id": request_id,
    }
    return json_response(body, status, {"request-id": request_id, **(headers or {})})


def _auth(request: Request) -> tuple[str, Response | None]:
    key = request.headers.get("x-api-key") or bearer(request)
    if not key:
        return "", _error(401, "x-api-key header is required")
    if bad_key(key):
        return key, _error(401, "invalid x-api-key")
    if not request.headers.get("anthropic-version"):
        return key, _error(400, "anthropic-version: header is required")
    return key, None


_reset_cache: tuple[int, str] = (0, "")


def _reset_at() -> str:
    """One minute from now, RFC 3339 (computed once per second)."""
    global _reset_cache
    now = int(time.time())
    if _reset_cache[0] != now:
        _reset_cache = (now, time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now + 60)))
    return _reset_cache[1]


def _rate_headers(tokens: int, exhausted: bool = False) -> dict[str, str]:
    reset = _reset_at()
    remaining_tokens = "0" if exhausted else str(max(0, _LIMIT_TOKENS - tokens))
    headers = {
        "anthropic-ratelimit-requests-limit": str(_LIMIT_REQUESTS),
        "anthropic-ratelimit-requests-remaining": "0" if exhausted else str(_LIMIT_REQUESTS - 1),
        "anthropic-ratelimit-requests-reset": reset,
    }
    for kind in ("tokens", "input-tokens", "output-tokens"):
        headers[f"anthropic-ratelimit-{kind}-limit"] = str(_LIMIT_TOKENS)
        headers[f"anthropic-ratelimit-{kind}-remaining"] = remaining_tokens
        headers[f"anthropic-ratelimit-{kind}-reset"] = reset
    return headers


def _fault(key: str, model: str, behaviour: Behaviour) -> Response | None:
    status = behaviour.error_status
    if status is None and behaviour.fail_once is not None and FAIL_ONCE.first("anthropic", key, model):
        status = behaviour.fail_once
    if status is None:
        return None
    headers: dict[str, str] = {}
    if status in (429, 503, 529):
        headers["retry-after"] = str(behaviour.retry_after)
    if status == 429:
        headers.update(_rate_headers(0, exhausted=True))
    return _error(status, headers=headers)


def _block_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(str(b.get("text", "")) for b in content if isinstance(b, dict) and b.get("type") == "text")
    return ""


def parse_turn(body: dict[str, Any]) -> Turn:
    """A :class:`Turn` from a Messages request body (validated by the caller)."""
    turn = Turn(system=_block_text(body.get("system")))
    messages: list[Any] = body["messages"]
    for message in messages:
        if not isinstance(message, dict):
            continue
        content = message.get("content")
        results = [
            _block_text(b.get("content"))
            for b in (content if isinstance(content, list) else ())
            if isinstance(b, dict) and b.get("type") == "tool_result"
        ]
        text = _block_text(content)
        turn.texts.append(text)
        turn.texts.extend(results)
        if message.get("role") == "user":
            if text or not results:
                turn.last_user = text
            turn.tool_result = "\n".join(results) if results else None
        else:
            turn.tool_result = None
    for tool in body.get("tools") or ():
        if isinstance(tool, dict) and isinstance(tool.get("name"), str) and "input_schema" in tool:
            schema = tool["input_schema"]
            turn.tools.append((tool["name"], schema if isinstance(schema, dict) else {}))
    choice = body.get("tool_choice")
    if isinstance(choice, dict):
        if choice.get("type") == "none":
            turn.tools_disabled = True
        elif choice.get("type") == "tool":
            turn.forced_tool = choice.get("name")
    fmt = (body.get("output_config") or {}).get("format") or body.get("output_format")
    if isinstance(fmt, dict) and fmt.get("type") == "json_schema":
        schema = fmt.get("schema")
        turn.schema = schema if isinstance(schema, dict) else {}
        turn.json_mode = True
    turn.max_tokens = body["max_tokens"]
    return turn


def _validate(body: dict[str, Any]) -> Response | None:
    model = body.get("model")
    if not isinstance(model, str) or not model:
        return _error(400, "model: Field required")
    max_tokens = body.get("max_tokens")
    if max_tokens is None:
        return _error(400, "max_tokens: Field required")
    if not isinstance(max_tokens, int) or isinstance(max_tokens, bool) or max_tokens < 1:
        return _error(400, "max_tokens: Input should be a valid integer greater than or equal to 1")
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        return _error(
            400, "messages: Field required" if messages is None else "messages: at least one message is required"
        )
    return None


def _usage(usage: Usage, output: int) -> dict[str, Any]:
    return {
        "input_tokens": usage.uncached,
        "cache_creation_input_tokens": usage.cache_write,
        "cache_read_input_tokens": usage.cached,
        "output_tokens": output,
        "service_tier": "standard",
    }


def _stop(reply: Answer) -> str:
    if reply.tool_calls:
        return "tool_use"
    return "max_tokens" if reply.truncated else "end_turn"


def _content(reply: Answer, mid: str) -> list[dict[str, Any]]:
    content: list[dict[str, Any]] = []
    if reply.text or not reply.tool_calls:
        content.append({"type": "text", "text": reply.text})
    for i, call in enumerate(reply.tool_calls):
        content.append({"type": "tool_use", "id": f"toolu_{mid[-12:]}_{i}", "name": call.name, "input": call.arguments})
    return content


def _event(name: bytes, doc: Any) -> bytes:
    return b"event: " + name + b"\ndata: " + dumps(doc) + b"\n\n"


_PING = b'event: ping\ndata: {"type":"ping"}\n\n'


def _events(model: str, reply: Answer, usage: Usage, behaviour: Behaviour, mid: str) -> Iterator[bytes]:
    message: dict[str, Any] = {
        "id": mid,
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": [],
        "stop_reason": None,
        "stop_sequence": None,
        "usage": _usage(usage, 1),
    }
    yield _event(b"message_start", {"type": "message_start", "message": message})
    index = 0
    pinged = False
    if reply.text or not reply.tool_calls:
        start = {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}
        yield _event(b"content_block_start", start)
        yield _PING
        pinged = True
        prefix = b'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,'
        for i, piece in enumerate(reply.chunks):
            if behaviour.cut_after is not None and i == behaviour.cut_after:
                return
            if behaviour.error_after is not None and i == behaviour.error_after:
                error = {"type": "overloaded_error", "message": "Overloaded"}
                yield _event(b"error", {"type": "error", "error": error})
                return
            yield prefix + b'"delta":{"type":"text_delta","text":' + dumps(piece) + b"}}\n\n"
        yield _event(b"content_block_stop", {"type": "content_block_stop", "index": 0})
        index = 1
    for i, call in enumerate(reply.tool_calls):
        block = {"type": "tool_use", "id": f"toolu_{mid[-12:]}_{i}", "name": call.name, "input": {}}
        yield _event(b"content_block_start", {"type": "content_block_start", "index": index, "content_block": block})
        if not pinged:
            yield _PING
            pinged = True
        args = call.arguments_json
        half = len(args) // 2
        for fragment in (args[:half], args[half:]):
            delta = {"type": "input_json_delta", "partial_json": fragment}
            yield _event(b"content_block_delta", {"type": "content_block_delta", "index": index, "delta": delta})
        yield _event(b"content_block_stop", {"type": "content_block_stop", "index": index})
        index += 1
    end: dict[str, Any] = {
        "type": "message_delta",
        "delta": {"stop_reason": _stop(reply), "stop_sequence": None},
        "usage": {"output_tokens": usage.output},
    }
    yield _event(b"message_delta", end)
    yield b'event: message_stop\ndata: {"type":"message_stop"}\n\n'


@dataclasses.dataclass(frozen=True)
class _Prepared:
    """The answer to one Messages request, before it is rendered as a JSON document or a stream."""

    model: str
    behaviour: Behaviour
    reply: Answer
    usage: Usage
    request_id: str
    headers: dict[str, str]


def _prepare(key: str, body: dict[str, Any]) -> Response | _Prepared:
    """The error response a Messages body gets, or its prepared answer."""
    invalid = _validate(body)
    if invalid is not None:
        return invalid
    model: str = body["model"]
    behaviour = behaviour_of(model)
    fault = _fault(key, model, behaviour)
    if fault is not None:
        return fault
    turn = parse_turn(body)
    reply = answer(turn, behaviour)
    usage = usage_of(turn, behaviour, reply)
    request_id = new_id("req_")
    headers = {"request-id": request_id, **_rate_headers(usage.prompt)}
    return _Prepared(model, behaviour, reply, usage, request_id, headers)


def _message(prepared: _Prepared, mid: str) -> dict[str, Any]:
    return {
        "id": mid,
        "type": "message",
        "role": "assistant",
        "model": prepared.model,
        "content": _content(prepared.reply, mid),
        "stop_reason": _stop(prepared.reply),
        "stop_sequence": None,
        "usage": _usage(prepared.usage, prepared.usage.output),
    }


async def messages(request: Request) -> Response:
    """``POST /v1/messages``: a message, or its event stream with ``stream: true``."""
    key, refused = _auth(request)
    if refused is not None:
        return refused
    try:
        body = await read_json(request)
    except RequestBodyError as exc:
        return _error(400, str(exc))
    prepared = _prepare(key, body)
    if isinstance(prepared, Response):
        return prepared
    mid = new_id("msg_")
    if body.get("stream") is True:
        behaviour = prepared.behaviour
        events = _events(prepared.model, prepared.reply, prepared.usage, behaviour, mid)
        return EventStream(events, prepared.headers, delay=behaviour.delay, cut=behaviour.cut_after is not None)
    return json_response(_message(prepared, mid), headers=prepared.headers)


def batch_message(key: str, params: dict[str, Any]) -> Answered:
    """One request of a Message Batch (its ``params``), answered as ``POST /v1/messages`` answers it
    interactively, never streamed."""
    prepared = _prepare(key, params)
    if isinstance(prepared, Response):
        return answered(prepared, "request-id")
    return Answered(200, _message(prepared, new_id("msg_")), prepared.request_id)


#: An error response in Anthropic's shape: ``error_response(status, message, headers=)``.
error_response = _error
#: The API key of a request, or the error Anthropic answers without a valid key and ``anthropic-version``.
authenticate = _auth


def _model_doc(model: str) -> dict[str, Any]:
    return {"type": "model", "id": model, "display_name": model, "created_at": "2026-01-01T00:00:00Z"}


async def anthropic_models(request: Request) -> Response:
    """``GET /v1/models[/{model}]`` in Anthropic's shape."""
    _, refused = _auth(request)
    if refused is not None:
        return refused
    model = request.path_params.get("model")
    if model is not None:
        return json_response(_model_doc(model))
    data = [_model_doc(m) for m in ("echo", "tool", "json", "overloaded")]
    return json_response({"data": data, "has_more": False, "first_id": "echo", "last_id": "overloaded"})


def anthropic_routes() -> list[BaseRoute]:
    """``/v1/messages`` and the same API under ``/anthropic`` (where ``/v1/models`` is unambiguous)."""
    return [
        Route("/v1/messages", messages, methods=["POST"]),
        Route("/anthropic/v1/messages", messages, methods=["POST"]),
        Route("/anthropic/v1/models", anthropic_models, methods=["GET"]),
        Route("/anthropic/v1/models/{model:path}", anthropic_models, methods=["GET"]),
    ]
