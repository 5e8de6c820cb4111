"""OpenAI Chat Completions, Embeddings and Models, and Groq's variant of them under ``/openai/v1``.

Wire facts kept here: ``usage.prompt_tokens`` includes ``prompt_tokens_details.cached_tokens``; a stream
carries ``usage: null`` on every chunk and a final ``choices: []`` chunk with the usage only when
``stream_options.include_usage`` is set, and ends with ``data: [DONE]``; an error inside a 200 stream is a
``data: {"error": ...}`` event (no ``[DONE]`` after it). Groq adds ``x_groq`` (its request id on the first
and final chunk, the usage on the final chunk, ``x_groq.error`` for an error mid-stream) and timing fields
in ``usage``, and for reasoning models ``message.reasoning`` (streamed as ``delta.reasoning`` before the
content). Requests are read and checked in :mod:`._openai_request`.
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
from ._embeddings import embedding_base64, embedding_floats
from ._openai_request import error, parse_turn, refuse_part, request_key, validate
from ._parts import PartError
from ._reasoning import thought_text
from ._turn import Answer, Usage, answer, count_tokens, usage_of
from ._wire import (
    FAIL_ONCE,
    Answered,
    EventStream,
    RequestBodyError,
    answered,
    dumps,
    go_duration,
    json_response,
    new_id,
    read_json,
)

__all__ = ["authenticate", "batch_answer", "error_response", "openai_routes"]

_DONE = b"data: [DONE]\n\n"


class _Flavour:
    """What differs between OpenAI and Groq: names, limits, ``x_groq``."""

    def __init__(self, name: str, *, groq: bool) -> None:
        self.name = name
        self.groq = groq
        # OpenAI limits per minute; Groq's request limit is per day and its token limit per minute.
        self.limit_requests, self.limit_tokens = (14_400, 6_000) if groq else (10_000, 2_000_000)
        self.reset_requests, self.reset_tokens = ("2m59.56s", "7.66s") if groq else ("6ms", "6m0s")
        self.fingerprint = "fp_sandbox"


OPENAI = _Flavour("openai", groq=False)
GROQ = _Flavour("groq", groq=True)


#: An error response in OpenAI's (and Groq's) shape: ``error_response(status, message, param=, code=, headers=)``.
error_response = _error = error
#: The API key of a request, or the 401 that OpenAI (and Groq) answer without a valid one.
authenticate = _auth = request_key


def _fault(flavour: _Flavour, key: str, model: str, behaviour: Behaviour) -> Response | None:
    """The error answer that the model name asks for, if any."""
    status = behaviour.error_status
    if status is None and behaviour.fail_once is not None and FAIL_ONCE.first(flavour.name, key, model):
        status = behaviour.fail_once
    if status is None:
        return None
    if status == 529:  # overloaded: OpenAI and Groq answer 503
        status = 503
    headers: dict[str, str] = {}
    if status in (429, 503):
        headers["retry-after"] = str(behaviour.retry_after)
        headers["retry-after-ms"] = str(behaviour.retry_after * 1000)
    if status == 429:
        headers.update(_rate_headers(flavour, 0, exhausted=go_duration(behaviour.retry_after)))
    return _error(status, headers=headers)


def _rate_headers(flavour: _Flavour, tokens: int, exhausted: str | None = None) -> dict[str, str]:
    return {
        "x-ratelimit-limit-requests": str(flavour.limit_requests),
        "x-ratelimit-limit-tokens": str(flavour.limit_tokens),
        "x-ratelimit-remaining-requests": "0" if exhausted else str(flavour.limit_requests - 1),
        "x-ratelimit-remaining-tokens": "0" if exhausted else str(max(0, flavour.limit_tokens - tokens)),
        "x-ratelimit-reset-requests": exhausted or flavour.reset_requests,
        "x-ratelimit-reset-tokens": exhausted or flavour.reset_tokens,
    }


def _usage(flavour: _Flavour, usage: Usage) -> dict[str, Any]:
    completion = usage.output + usage.thinking
    doc: dict[str, Any] = {
        "prompt_tokens": usage.prompt,
        "completion_tokens": completion,
        "total_tokens": usage.prompt + completion,
    }
    if flavour.groq:
        doc.update(queue_time=0.0001, prompt_time=0.0001, completion_time=0.0001, total_time=0.0003)
        if usage.cached:
            doc["prompt_tokens_details"] = {"cached_tokens": usage.cached}
        if usage.thinking:
            doc["completion_tokens_details"] = {"reasoning_tokens": usage.thinking}
        return doc
    doc["prompt_tokens_details"] = {"cached_tokens": usage.cached, "audio_tokens": usage.audio}
    if usage.images:
        doc["prompt_tokens_details"]["image_tokens"] = usage.images
    doc["completion_tokens_details"] = {
        "reasoning_tokens": usage.thinking,
        "audio_tokens": 0,
        "accepted_prediction_tokens": 0,
        "rejected_prediction_tokens": 0,
    }
    return doc


def _finish(reply: Answer) -> str:
    if reply.tool_calls:
        return "tool_calls"
    return "length" if reply.truncated else "stop"


def _completion(
    flavour: _Flavour, model: str, reply: Answer, usage: Usage, cid: str, request_id: str, reasoning: str | None
) -> Any:
    message: dict[str, Any] = {
        "role": "assistant",
        "content": reply.text if reply.text or not reply.tool_calls else None,
    }
    if reasoning is not None:
        message["reasoning"] = reasoning
    if not flavour.groq:
        message["refusal"] = None
        message["annotations"] = []
    if reply.tool_calls:
        message["tool_calls"] = [
            {
                "id": f"call_{cid[-12:]}_{i}",
                "type": "function",
                "function": {"name": c.name, "arguments": c.arguments_json},
            }
            for i, c in enumerate(reply.tool_calls)
        ]
    doc: dict[str, Any] = {
        "id": cid,
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "message": message, "logprobs": None, "finish_reason": _finish(reply)}],
        "usage": _usage(flavour, usage),
        "system_fingerprint": flavour.fingerprint,
    }
    if flavour.groq:
        doc["x_groq"] = {"id": request_id}
    else:
        doc["service_tier"] = "default"
    return doc


def _chunks(
    flavour: _Flavour,
    model: str,
    reply: Answer,
    usage: Usage,
    behaviour: Behaviour,
    *,
    cid: str,
    request_id: str,
    include_usage: bool,
    reasoning: str | None,
) -> Iterator[bytes]:
    created = int(time.time())
    head = f'data: {{"id":"{cid}","object":"chat.completion.chunk","created":{created},"model":{dumps(model).decode()},'
    head += f'"system_fingerprint":"{flavour.fingerprint}",'
    tail = ',"usage":null}\n\n' if include_usage and not flavour.groq else "}\n\n"
    head_b, tail_b = head.encode(), tail.encode()

    def chunk(delta: bytes, finish: str | None = None, extra: bytes = b"") -> bytes:
        reason = b"null" if finish is None else b'"' + finish.encode() + b'"'
        choices = b'"choices":[{"index":0,"delta":' + delta + b',"logprobs":null,"finish_reason":' + reason + b"}]"
        return head_b + choices + extra + tail_b

    first: dict[str, Any] = {"role": "assistant", "content": ""}
    if not flavour.groq:
        first["refusal"] = None
    x_groq = b',"x_groq":' + dumps({"id": request_id}) if flavour.groq else b""
    yield chunk(dumps(first), extra=x_groq)
    for piece in Answer(reasoning or "").chunks:
        yield chunk(b'{"reasoning":' + dumps(piece) + b"}")
    for i, piece in enumerate(reply.chunks):
        if behaviour.cut_after is not None and i == behaviour.cut_after:
            return
        if behaviour.error_after is not None and i == behaviour.error_after:
            if flavour.groq:
                err = {"id": request_id, "error": "emulated error mid-stream (Atriumn sandbox)"}
                yield chunk(b"{}", extra=b',"x_groq":' + dumps(err))
            else:
                err = {"message": "emulated error mid-stream (Atriumn sandbox)", "type": "server_error"}
                yield b'data: {"error":' + dumps({**err, "param": None, "code": None}) + b"}\n\n"
            return
        yield chunk(b'{"content":' + dumps(piece) + b"}")
    for i, call in enumerate(reply.tool_calls):
        start = {
            "tool_calls": [
                {
                    "index": i,
                    "id": f"call_{cid[-12:]}_{i}",
                    "type": "function",
                    "function": {"name": call.name, "arguments": ""},
                }
            ]
        }
        yield chunk(dumps(start))
        args = call.arguments_json
        half = len(args) // 2
        for fragment in (args[:half], args[half:]):
            yield chunk(dumps({"tool_calls": [{"index": i, "function": {"arguments": fragment}}]}))
    usage_doc = _usage(flavour, usage)
    final_extra = b',"x_groq":' + dumps({"id": request_id, "usage": usage_doc}) if flavour.groq else b""
    yield chunk(b"{}", _finish(reply), final_extra)
    if include_usage:
        yield head_b + b'"choices":[],"usage":' + dumps(usage_doc) + b"}\n\n"
    yield _DONE


@dataclasses.dataclass(frozen=True)
class _Prepared:
    """The answer to one chat request, before it is rendered as a JSON document or a stream (``reasoning``:
    Groq's reasoning text, when the request asks for it parsed)."""

    model: str
    behaviour: Behaviour
    reply: Answer
    usage: Usage
    request_id: str
    headers: dict[str, str]
    reasoning: str | None = None


def _prepare(flavour: _Flavour, key: str, body: dict[str, Any]) -> Response | _Prepared:
    """The error response a Chat Completions body gets, or its prepared answer."""
    invalid = validate(body, groq=flavour.groq)
    if invalid is not None:
        return invalid
    model: str = body["model"]
    behaviour = behaviour_of(model)
    fault = _fault(flavour, key, model, behaviour)
    if fault is not None:
        return fault
    try:
        turn = parse_turn(body, behaviour, groq=flavour.groq)
    except PartError as exc:
        return refuse_part(exc)
    reply = answer(turn, behaviour)
    usage = usage_of(turn, behaviour, reply)
    reasoning: str | None = None
    if flavour.groq and turn.thinking:
        fmt = body.get("reasoning_format")
        if fmt == "raw" and (turn.json_mode or turn.tools):
            message = "reasoning_format=raw is not supported with JSON mode or tool use; use parsed or hidden."
            return _error(400, message, param="reasoning_format")
        thought = thought_text(turn, reply)
        if fmt == "parsed" or body.get("include_reasoning") is True:
            reasoning = thought
        elif fmt == "raw":
            reply = Answer(f"<think>\n{thought}\n</think>\n\n{reply.text}", reply.tool_calls, reply.truncated)
    request_id = new_id("req_")
    headers = {"x-request-id": request_id, **_rate_headers(flavour, usage.prompt)}
    if flavour.groq:
        headers["x-groq-region"] = "sandbox"
    else:
        headers["openai-processing-ms"] = "1"
        headers["openai-version"] = "2020-10-01"
    return _Prepared(model, behaviour, reply, usage, request_id, headers, reasoning)


def _chat_endpoint(flavour: _Flavour) -> Any:
    async def chat(request: Request) -> Response:
        key, refused = _auth(request)
        if refused is not None:
            return refused
        try:
            body = await read_json(request)
        except RequestBodyError as exc:
            return _error(400, str(exc))
        prepared = _prepare(flavour, key, body)
        if isinstance(prepared, Response):
            return prepared
        model, behaviour, reply, usage = prepared.model, prepared.behaviour, prepared.reply, prepared.usage
        request_id, headers = prepared.request_id, prepared.headers
        cid = new_id("chatcmpl-")
        if body.get("stream") is True:
            include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
            events = _chunks(
                flavour,
                model,
                reply,
                usage,
                behaviour,
                cid=cid,
                request_id=request_id,
                include_usage=include_usage,
                reasoning=prepared.reasoning,
            )
            return EventStream(events, headers, delay=behaviour.delay, cut=behaviour.cut_after is not None)
        doc = _completion(flavour, model, reply, usage, cid, request_id, prepared.reasoning)
        return json_response(doc, headers=headers)

    return chat


def _embed(key: str, body: dict[str, Any]) -> Response:
    """The answer to an Embeddings body (an error response or the list of vectors)."""
    model = body.get("model")
    raw = body.get("input")
    if not isinstance(model, str) or not model:
        return _error(400, "you must provide a model parameter", param="model", code="missing_required_parameter")
    inputs = [raw] if isinstance(raw, str) else raw
    if not isinstance(inputs, list) or not inputs or not all(isinstance(t, (str, list)) for t in inputs):
        return _error(400, "'input' must be a non-empty string or array of strings", param="input")
    texts = [t if isinstance(t, str) else " ".join(str(x) for x in t) for t in inputs]
    dims = body.get("dimensions")
    size = dims if isinstance(dims, int) and not isinstance(dims, bool) and 0 < dims <= 8192 else None
    behaviour = behaviour_of(model)
    fault = _fault(OPENAI, key, model, behaviour)
    if fault is not None:
        return fault
    encode = embedding_base64 if body.get("encoding_format") == "base64" else embedding_floats
    data = [{"object": "embedding", "index": i, "embedding": encode(t, size)} for i, t in enumerate(texts)]
    tokens = sum(count_tokens(t) for t in texts)
    doc = {"object": "list", "data": data, "model": model, "usage": {"prompt_tokens": tokens, "total_tokens": tokens}}
    return json_response(doc, headers={"x-request-id": new_id("req_"), **_rate_headers(OPENAI, tokens)})


async def embeddings(request: Request) -> Response:
    """``POST /v1/embeddings``: deterministic unit vectors, as floats or (the SDK's default) base64."""
    key, refused = _auth(request)
    if refused is not None:
        return refused
    try:
        body = await read_json(request)
    except RequestBodyError as exc:
        return _error(400, str(exc))
    return _embed(key, body)


def batch_answer(provider: str, url: str, key: str, body: dict[str, Any]) -> Answered:
    """One request of an OpenAI (``provider="openai"``) or Groq batch, answered as the endpoint ``url``
    (``/v1/chat/completions`` or ``/v1/embeddings``) answers it interactively, never streamed."""
    flavour = GROQ if provider == "groq" else OPENAI
    if url == "/v1/embeddings":
        return answered(_embed(key, body))
    prepared = _prepare(flavour, key, body)
    if isinstance(prepared, Response):
        return answered(prepared)
    p = prepared
    doc = _completion(flavour, p.model, p.reply, p.usage, new_id("chatcmpl-"), p.request_id, p.reasoning)
    return Answered(200, doc, p.request_id)


def _model_doc(model: str, owner: str) -> dict[str, Any]:
    return {"id": model, "object": "model", "created": 1_700_000_000, "owned_by": owner}


_CATALOGUE = (
    "echo",
    "tool",
    "json",
    "inspect",
    "gpt-reason",
    "chunks-50",
    "cache",
    "stream-cut",
    "stream-error",
    "overloaded",
)


def _models_endpoint(flavour: _Flavour) -> Any:
    owner = "groq-sandbox" if flavour.groq else "atriumn-sandbox"

    async def models(request: Request) -> Response:
        _, refused = _auth(request)
        if refused is not None:
            return refused
        model = request.path_params.get("model")
        if model is None:
            return json_response({"object": "list", "data": [_model_doc(m, owner) for m in _CATALOGUE]})
        return json_response(_model_doc(model, owner))

    return models


def openai_routes(*, anthropic_models: Any = None) -> list[BaseRoute]:
    """The OpenAI routes (``/v1/...``) and Groq's (``/openai/v1/...``).

    ``anthropic_models``, when given, answers ``GET /v1/models[/{id}]`` for requests that carry
    Anthropic's headers (the two APIs share that path).
    """
    openai_models = _models_endpoint(OPENAI)

    async def models(request: Request) -> Response:
        if anthropic_models is not None and "anthropic-version" in request.headers:
            response: Response = await anthropic_models(request)
            return response
        response = await openai_models(request)
        return response

    return [
        Route("/v1/chat/completions", _chat_endpoint(OPENAI), methods=["POST"]),
        Route("/v1/embeddings", embeddings, methods=["POST"]),
        Route("/v1/models", models, methods=["GET"]),
        Route("/v1/models/{model:path}", models, methods=["GET"]),
        Route("/openai/v1/chat/completions", _chat_endpoint(GROQ), methods=["POST"]),
        Route("/openai/v1/models", _models_endpoint(GROQ), methods=["GET"]),
        Route("/openai/v1/models/{model:path}", _models_endpoint(GROQ), methods=["GET"]),
    ]
