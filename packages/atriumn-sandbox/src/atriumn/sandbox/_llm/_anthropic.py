"""Anthropic Messages (``/v1/messages``, also under ``/anthropic/v1/...``) and Models.

Wire facts kept here: a key in ``x-api-key`` (the 2.x SDK may send it as a bearer token instead: both are
taken) and an ``anthropic-version`` header are required; ``max_tokens`` is required; ``usage.input_tokens``
EXCLUDES ``cache_read_input_tokens`` and ``cache_creation_input_tokens``; a stream is named events —
``message_start``, ``content_block_start``, ``ping``, ``content_block_delta`` (``text_delta`` /
``input_json_delta``), ``content_block_stop``, ``message_delta`` (stop reason, output tokens),
``message_stop`` — and may carry ``event: error`` after the 200; overload is 529 ``overloaded_error``. A
thinking block streams as a start with empty ``thinking`` and ``signature``, ``thinking_delta`` pieces and one
``signature_delta`` before its stop; a ``redacted_thinking`` block arrives whole in its start event; output
tokens include the thinking. Requests are read and checked in :mod:`._anthropic_request`.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterator
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from ._anthropic_request import check_history, error, parse_turn, refuse_part, request_key, validate
from ._behaviour import Behaviour, behaviour_of
from ._parts import PartError
from ._reasoning import redacted_data, thinking_signature, thought_text
from ._turn import Answer, Turn, Usage, answer, usage_of
from ._wire import (
    FAIL_ONCE,
    Answered,
    EventStream,
    RequestBodyError,
    answered,
    dumps,
    json_response,
    new_id,
    read_json,
)

__all__ = ["anthropic_models", "anthropic_routes", "authenticate", "batch_message", "error_response"]

_LIMIT_REQUESTS = 4_000
_LIMIT_TOKENS = 2_000_000

#: An error response in Anthropic's shape: ``error_response(status, message, headers=)``.
error_response = _error = error
#: The API key of a request, or the error Anthropic answers without a valid key and ``anthropic-version``.
authenticate = _auth = request_key


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


def _usage(usage: Usage, output: int, prepared: _Prepared | None = None) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "input_tokens": usage.uncached,
        "cache_creation_input_tokens": usage.cache_write,
        "cache_read_input_tokens": usage.cached,
    }
    if prepared is not None and (usage.cache_write or prepared.turn.cache_ttls):
        # The write lands in the bucket of the first breakpoint's TTL (5 minutes unless it says 1h).
        hour = bool(prepared.turn.cache_ttls) and prepared.turn.cache_ttls[0] == "1h"
        doc["cache_creation"] = {
            "ephemeral_5m_input_tokens": 0 if hour else usage.cache_write,
            "ephemeral_1h_input_tokens": usage.cache_write if hour else 0,
        }
    doc["output_tokens"] = output
    if usage.thinking and prepared is not None:
        doc["output_tokens_details"] = {"thinking_tokens": usage.thinking}
    doc["service_tier"] = "standard"
    return doc


def _stop(reply: Answer) -> str:
    if reply.tool_calls:
        return "tool_use"
    return "max_tokens" if reply.truncated else "end_turn"


def _content(prepared: _Prepared, mid: str) -> list[dict[str, Any]]:
    reply = prepared.reply
    content: list[dict[str, Any]] = [dict(b) for b in prepared.thinking]
    if reply.text or not reply.tool_calls:
        content.append({"type": "text", "text": reply.text})
    for i, call in enumerate(reply.tool_calls):
        content.append({"type": "tool_use", "id": f"toolu_{mid[-12:]}_{i}", "name": call.name, "input": call.arguments})
    return content


def _event(name: bytes, doc: Any) -> bytes:
    return b"event: " + name + b"\ndata: " + dumps(doc) + b"\n\n"


_PING = b'event: ping\ndata: {"type":"ping"}\n\n'


def _delta(index: int, delta: dict[str, Any]) -> bytes:
    return _event(b"content_block_delta", {"type": "content_block_delta", "index": index, "delta": delta})


def _start(index: int, block: dict[str, Any]) -> bytes:
    return _event(b"content_block_start", {"type": "content_block_start", "index": index, "content_block": block})


def _stop_event(index: int) -> bytes:
    return _event(b"content_block_stop", {"type": "content_block_stop", "index": index})


def _thinking_events(block: dict[str, Any], index: int) -> Iterator[bytes]:
    """A thinking block streamed as the API streams it: an empty start, ``thinking_delta`` pieces and a
    ``signature_delta``; a redacted block arrives whole in its start event."""
    if block["type"] == "redacted_thinking":
        yield _start(index, block)
    else:
        yield _start(index, {"type": "thinking", "thinking": "", "signature": ""})
        for piece in Answer(block["thinking"]).chunks:
            yield _delta(index, {"type": "thinking_delta", "thinking": piece})
        yield _delta(index, {"type": "signature_delta", "signature": block["signature"]})
    yield _stop_event(index)


def _events(prepared: _Prepared, mid: str) -> Iterator[bytes]:
    reply, usage, behaviour = prepared.reply, prepared.usage, prepared.behaviour
    message: dict[str, Any] = {
        "id": mid,
        "type": "message",
        "role": "assistant",
        "model": prepared.model,
        "content": [],
        "stop_reason": None,
        "stop_sequence": None,
        "usage": _usage(usage, 1),
    }
    yield _event(b"message_start", {"type": "message_start", "message": message})
    index = 0
    for block in prepared.thinking:
        for i, event in enumerate(_thinking_events(block, index)):
            yield event
            if index == 0 and i == 0:
                yield _PING
        index += 1
    if reply.text or not reply.tool_calls:
        yield _start(index, {"type": "text", "text": ""})
        if index == 0:
            yield _PING
        prefix = b'event: content_block_delta\ndata: {"type":"content_block_delta","index":%d,' % index
        for i, piece in enumerate(reply.chunks):
            if behaviour.cut_after is not None and i == behaviour.cut_after:
                return
            if behaviour.error_after is not None and i == behaviour.error_after:
                error = {"type": "overloaded_error", "message": "Overloaded"}
                yield _event(b"error", {"type": "error", "error": error})
                return
            yield prefix + b'"delta":{"type":"text_delta","text":' + dumps(piece) + b"}}\n\n"
        yield _stop_event(index)
        index += 1
    for i, call in enumerate(reply.tool_calls):
        yield _start(index, {"type": "tool_use", "id": f"toolu_{mid[-12:]}_{i}", "name": call.name, "input": {}})
        if index == 0:
            yield _PING
        args = call.arguments_json
        half = len(args) // 2
        for fragment in (args[:half], args[half:]):
            yield _delta(index, {"type": "input_json_delta", "partial_json": fragment})
        yield _stop_event(index)
        index += 1
    end: dict[str, Any] = {
        "type": "message_delta",
        "delta": {"stop_reason": _stop(reply), "stop_sequence": None},
        "usage": {"output_tokens": usage.output + usage.thinking},
    }
    yield _event(b"message_delta", end)
    yield b'event: message_stop\ndata: {"type":"message_stop"}\n\n'


@dataclasses.dataclass(frozen=True)
class _Prepared:
    """The answer to one Messages request, before it is rendered as a JSON document or a stream
    (``thinking``: the thinking blocks that open it, for a ``reason`` model that thinks)."""

    model: str
    behaviour: Behaviour
    turn: Turn
    reply: Answer
    usage: Usage
    request_id: str
    headers: dict[str, str]
    thinking: tuple[dict[str, Any], ...] = ()


def _thinking_blocks(
    body: dict[str, Any], behaviour: Behaviour, turn: Turn, reply: Answer
) -> tuple[dict[str, Any], ...]:
    """The thinking blocks of the answer: a signed ``thinking`` block (its text left out, the signature kept,
    with ``display: "omitted"``), then, for ``redacted`` models, a ``redacted_thinking`` block."""
    if not turn.thinking:
        return ()
    text = thought_text(turn, reply)
    thinking = body.get("thinking")
    shown = "" if isinstance(thinking, dict) and thinking.get("display") == "omitted" else text
    blocks: list[dict[str, Any]] = [{"type": "thinking", "thinking": shown, "signature": thinking_signature(shown)}]
    if behaviour.redacted:
        blocks.append({"type": "redacted_thinking", "data": redacted_data(text)})
    return tuple(blocks)


def _prepare(key: str, body: dict[str, Any]) -> Response | _Prepared:
    """The error response a Messages body gets, or its prepared answer."""
    invalid = validate(body)
    if invalid is not None:
        return invalid
    model: str = body["model"]
    behaviour = behaviour_of(model)
    fault = _fault(key, model, behaviour)
    if fault is not None:
        return fault
    invalid = check_history(body, behaviour)
    if invalid is not None:
        return invalid
    try:
        turn = parse_turn(body, behaviour)
    except PartError as exc:
        return refuse_part(exc)
    reply = answer(turn, behaviour)
    usage = usage_of(turn, behaviour, reply)
    request_id = new_id("req_")
    headers = {"request-id": request_id, **_rate_headers(usage.prompt)}
    thinking = _thinking_blocks(body, behaviour, turn, reply)
    return _Prepared(model, behaviour, turn, reply, usage, request_id, headers, thinking)


def _message(prepared: _Prepared, mid: str) -> dict[str, Any]:
    usage = prepared.usage
    return {
        "id": mid,
        "type": "message",
        "role": "assistant",
        "model": prepared.model,
        "content": _content(prepared, mid),
        "stop_reason": _stop(prepared.reply),
        "stop_sequence": None,
        "usage": _usage(usage, usage.output + usage.thinking, prepared),
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
        events = _events(prepared, mid)
        return EventStream(events, prepared.headers, delay=behaviour.delay, cut=behaviour.cut_after is not None)
    return json_response(_message(prepared, mid), headers=prepared.headers)


def batch_message(key: str, params: dict[str, Any]) -> Answered:
    """One request of a Message Batch (its ``params``), answered as ``POST /v1/messages`` answers it
    interactively, never streamed."""
    prepared = _prepare(key, params)
    if isinstance(prepared, Response):
        return answered(prepared, "request-id")
    return Answered(200, _message(prepared, new_id("msg_")), prepared.request_id)


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
    data = [_model_doc(m) for m in ("echo", "tool", "json", "inspect", "claude-reason", "overloaded")]
    return json_response({"data": data, "has_more": False, "first_id": "echo", "last_id": "overloaded"})


def anthropic_routes() -> list[BaseRoute]:
    """``/v1/messages`` and the same API under ``/anthropic`` (where ``/v1/models`` is unambiguous)."""
    return [
        Route("/v1/messages", messages, methods=["POST"]),
        Route("/anthropic/v1/messages", messages, methods=["POST"]),
        Route("/anthropic/v1/models", anthropic_models, methods=["GET"]),
        Route("/anthropic/v1/models/{model:path}", anthropic_models, methods=["GET"]),
    ]
