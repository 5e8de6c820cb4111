"""Gemini API (``/v1beta/models/{model}:{method}``): generateContent, streamGenerateContent, embedContent,
batchEmbedContents, and model metadata.

Wire facts kept here: camelCase JSON (snake_case request fields are accepted too, as the API does); the key
in ``x-goog-api-key`` or ``?key=``; ``:streamGenerateContent?alt=sse`` is unnamed ``data:`` events with CRLF
framing and no ``[DONE]`` (without ``alt=sse`` it is one JSON array); usage in ``usageMetadata`` where
``promptTokenCount`` INCLUDES ``cachedContentTokenCount`` and ``totalTokenCount`` includes
``thoughtsTokenCount``; errors are ``{"error": {code, message, status, details}}``, a 429 carrying a
``RetryInfo`` detail with ``retryDelay``. A missing key is 403 ``PERMISSION_DENIED`` and a bad one 400
``INVALID_ARGUMENT`` with reason ``API_KEY_INVALID``, as the real API answers. A thinking model's thought
summary is a ``{"text", "thought": true}`` part (streamed first), and its ``thoughtSignature`` rides on the
first ``functionCall`` part (else the first text part). Requests are read in :mod:`._gemini_request`; explicit
caches live in :mod:`._gemini_caches`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from ._behaviour import Behaviour, behaviour_of
from ._embeddings import embedding_floats
from ._gemini_caches import CACHES, cache_routes, not_found
from ._gemini_request import MESSAGES, error, field, include_thoughts, parse_turn, parts_text, request_key
from ._parts import PartError
from ._reasoning import gemini_history_error, thought_signature, thought_text
from ._turn import Answer, Usage, answer, usage_of
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

__all__ = ["authenticate", "batch_generate", "error_response", "field", "gemini_routes"]

#: An error response in Google's shape: ``error_response(status, message, details, headers)``.
error_response = _error = error
#: The API key of a request, or the error Gemini answers without a valid one.
authenticate = _auth = request_key


def _fault(key: str, model: str, behaviour: Behaviour) -> Response | None:
    status = behaviour.error_status
    if status is None and behaviour.fail_once is not None and FAIL_ONCE.first("gemini", key, model):
        status = behaviour.fail_once
    if status is None:
        return None
    if status == 529:  # overloaded: Gemini answers 503 UNAVAILABLE
        status = 503
    if status == 429:
        retry = {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": f"{behaviour.retry_after}s"}
        return _error(429, details=[retry], headers={"retry-after": str(behaviour.retry_after)})
    if status == 503:
        return _error(503, headers={"retry-after": str(behaviour.retry_after)})
    return _error(status)


def _usage(usage: Usage) -> dict[str, Any]:
    details = [{"modality": "TEXT", "tokenCount": usage.text}]
    for modality, count in (("IMAGE", usage.images), ("AUDIO", usage.audio), ("DOCUMENT", usage.documents)):
        if count:
            details.append({"modality": modality, "tokenCount": count})
    doc: dict[str, Any] = {
        "promptTokenCount": usage.prompt,
        "candidatesTokenCount": usage.output,
        "totalTokenCount": usage.prompt + usage.output + usage.thinking,
        "promptTokensDetails": details,
    }
    if usage.cached:
        doc["cachedContentTokenCount"] = usage.cached
        doc["cacheTokensDetails"] = [{"modality": "TEXT", "tokenCount": usage.cached}]
    if usage.thinking:
        doc["thoughtsTokenCount"] = usage.thinking
    return doc


def _finish(reply: Answer) -> str:
    return "MAX_TOKENS" if reply.truncated else "STOP"


def _response(
    model: str, rid: str, parts: list[dict[str, Any]], finish: str | None, usage: Usage | None
) -> dict[str, Any]:
    candidate: dict[str, Any] = {"content": {"parts": parts, "role": "model"}, "index": 0}
    if finish is not None:
        candidate["finishReason"] = finish
    doc: dict[str, Any] = {"candidates": [candidate]}
    if usage is not None:
        doc["usageMetadata"] = _usage(usage)
    doc["modelVersion"] = model
    doc["responseId"] = rid
    return doc


@dataclasses.dataclass(frozen=True)
class _Prepared:
    """The answer to one generateContent request, before it is rendered as a JSON document or a stream.

    ``thought``: the thinking of a ``reason`` model that thinks (its parts are signed), else ``None``;
    ``summary``: whether its thought summary is returned (``includeThoughts``).
    """

    model: str
    behaviour: Behaviour
    reply: Answer
    usage: Usage
    thought: str | None = None
    summary: bool = False


def _call_parts(prepared: _Prepared) -> list[dict[str, Any]]:
    """The functionCall parts; with thinking, the first carries the thought signature (as Gemini 3 does)."""
    parts: list[dict[str, Any]] = []
    for i, call in enumerate(prepared.reply.tool_calls):
        part: dict[str, Any] = {"functionCall": {"name": call.name, "args": call.arguments}}
        if i == 0 and prepared.thought is not None:
            part["thoughtSignature"] = thought_signature((call.name, call.arguments), prepared.thought)
        parts.append(part)
    return parts


def _text_part(prepared: _Prepared, text: str, first: bool) -> dict[str, Any]:
    """A text part; with thinking and no function call, the first one carries the thought signature."""
    part: dict[str, Any] = {"text": text}
    if first and prepared.thought is not None and not prepared.reply.tool_calls:
        part["thoughtSignature"] = thought_signature(None, prepared.thought)
    return part


def _thought_parts(prepared: _Prepared) -> list[dict[str, Any]]:
    return [{"text": prepared.thought, "thought": True}] if prepared.summary and prepared.thought else []


def _chunks(prepared: _Prepared, rid: str) -> Iterator[dict[str, Any]]:
    """The streamed responses: the thought summary (if asked), one per word, then the function calls."""
    model, reply, usage = prepared.model, prepared.reply, prepared.usage
    thoughts = _thought_parts(prepared)
    if thoughts:
        yield _response(model, rid, thoughts, None, None)
    pieces = reply.chunks
    calls = _call_parts(prepared)
    for i, piece in enumerate(pieces):
        last = i == len(pieces) - 1 and not calls
        parts = [_text_part(prepared, piece, i == 0)]
        yield _response(model, rid, parts, _finish(reply) if last else None, usage if last else None)
    if calls or not pieces:
        yield _response(model, rid, calls or [_text_part(prepared, "", True)], _finish(reply), usage)


def _sse(prepared: _Prepared, rid: str) -> Iterator[bytes]:
    behaviour = prepared.behaviour
    skip = 1 if _thought_parts(prepared) else 0  # stream faults count text chunks, not the thought summary
    for i, doc in enumerate(_chunks(prepared, rid), start=-skip):
        if behaviour.cut_after is not None and i == behaviour.cut_after:
            return
        if behaviour.error_after is not None and i == behaviour.error_after:
            err = {"code": 503, "message": MESSAGES[503], "status": "UNAVAILABLE"}
            yield b'data: {"error":' + dumps(err) + b"}\r\n\r\n"
            return
        yield b"data: " + dumps(doc) + b"\r\n\r\n"


def _with_cache(model: str, key: str, body: dict[str, Any], contents: list[Any]) -> Response | tuple[Any, Any]:
    """``(the request as the model sees it, the cache)``: a cache's contents, system instruction and tools
    prepended, when ``cachedContent`` names one; else ``(body, None)``; or the error Gemini answers."""
    name = field(body, "cachedContent", "cached_content")
    if name is None:
        return body, None
    cache = CACHES.get(key, str(name))
    if cache is None:
        return not_found()
    if cache.model.removeprefix("models/") != model:
        message = (
            f"Model used by GenerateContent request (models/{model}) and CachedContent ({cache.model}) has to be "
            "the same."
        )
        return _error(400, message)
    if any(field(body, *names) is not None for names in _CACHED_MEMBERS):
        message = (
            "CachedContent can not be used with GenerateContent request setting system_instruction, tools or "
            "tool_config.\n\nProposed fix: move those values to CachedContent from GenerateContent request."
        )
        return _error(400, message)
    merged = {
        **body,
        "contents": [*cache.contents, *contents],
        "systemInstruction": cache.system,
        "tools": cache.tools,
        "toolConfig": cache.tool_config,
    }
    return merged, cache


_CACHED_MEMBERS = (
    ("systemInstruction", "system_instruction"),
    ("tools", "tools"),
    ("toolConfig", "tool_config"),
)


def _prepare(model: str, key: str, body: dict[str, Any]) -> Response | _Prepared:
    """The error response a generateContent body gets, or its prepared answer."""
    contents = field(body, "contents", "contents")
    if not isinstance(contents, list) or not contents:
        return _error(400, "* GenerateContentRequest.contents: contents is not specified")
    behaviour = behaviour_of(model)
    fault = _fault(key, model, behaviour)
    if fault is not None:
        return fault
    resolved = _with_cache(model, key, body, contents)
    if isinstance(resolved, Response):
        return resolved
    seen, cache = resolved
    try:
        turn = parse_turn({**seen, "contents": seen.get("contents", contents)}, behaviour)
    except PartError as exc:
        return _error(400, exc.message)
    if cache is not None:
        turn.cached_content, turn.cached_tokens = cache.name, cache.tokens
    if behaviour.reason:
        problem = gemini_history_error(contents, turn.thinking)
        if problem is not None:
            return _error(400, problem)
    reply = answer(turn, behaviour)
    usage = usage_of(turn, behaviour, reply)
    thought = thought_text(turn, reply) if turn.thinking else None
    return _Prepared(model, behaviour, reply, usage, thought, include_thoughts(body))


def _document(prepared: _Prepared, rid: str) -> dict[str, Any]:
    reply = prepared.reply
    parts = _thought_parts(prepared)
    if reply.text or not reply.tool_calls:
        parts.append(_text_part(prepared, reply.text, True))
    parts.extend(_call_parts(prepared))
    return _response(prepared.model, rid, parts, _finish(reply), prepared.usage)


async def _generate(request: Request, model: str, key: str, body: dict[str, Any], stream: bool) -> Response:
    prepared = _prepare(model, key, body)
    if isinstance(prepared, Response):
        return prepared
    behaviour = prepared.behaviour
    rid = new_id("")
    headers = {"x-request-id": rid}
    if not stream:
        return json_response(_document(prepared, rid), headers=headers)
    if request.query_params.get("alt") == "sse":
        events = _sse(prepared, rid)
        return EventStream(events, headers, delay=behaviour.delay, cut=behaviour.cut_after is not None)
    return json_response(list(_chunks(prepared, rid)), headers=headers)


def batch_generate(model: str, key: str, body: dict[str, Any]) -> Answered:
    """One request of a batch job, answered as ``models/{model}:generateContent`` answers it interactively."""
    prepared = _prepare(model, key, body)
    if isinstance(prepared, Response):
        return answered(prepared)
    rid = new_id("")
    return Answered(200, _document(prepared, rid), rid)


def _dimensions(doc: Any) -> int | None:
    size = field(doc, "outputDimensionality", "output_dimensionality")
    return size if isinstance(size, int) and not isinstance(size, bool) and 0 < size <= 8192 else None


def _embed(key: str, model: str, body: dict[str, Any], batch: bool) -> Response:
    behaviour = behaviour_of(model)
    fault = _fault(key, model, behaviour)
    if fault is not None:
        return fault
    if not batch:
        content = field(body, "content", "content")
        if not isinstance(content, dict):
            return _error(400, "* EmbedContentRequest.content: content is not specified")
        return json_response({"embedding": {"values": embedding_floats(parts_text(content), _dimensions(body))}})
    requests = field(body, "requests", "requests")
    if not isinstance(requests, list) or not requests:
        return _error(400, "* BatchEmbedContentsRequest.requests: requests is not specified")
    embeddings = [
        {"values": embedding_floats(parts_text(field(r, "content", "content")), _dimensions(r))} for r in requests
    ]
    return json_response({"embeddings": embeddings})


async def call(request: Request) -> Response:
    """``POST /v1beta/models/{model}:{method}``."""
    model, sep, method = str(request.path_params["target"]).rpartition(":")
    model = model.removeprefix("models/")
    if not sep or not model:
        return _error(404, f"Method not found: {request.url.path}")
    key, refused = _auth(request)
    if refused is not None:
        return refused
    try:
        body = await read_json(request)
    except RequestBodyError as exc:
        return _error(400, f"Invalid JSON payload received. {exc}")
    if method in ("generateContent", "streamGenerateContent"):
        return await _generate(request, model, key, body, method == "streamGenerateContent")
    if method in ("embedContent", "batchEmbedContents"):
        return _embed(key, model, body, method == "batchEmbedContents")
    return _error(404, f"Method not found: {method}")


def _model_doc(model: str) -> dict[str, Any]:
    return {
        "name": f"models/{model}",
        "version": "001",
        "displayName": model,
        "description": "A deterministic model of the Atriumn sandbox.",
        "inputTokenLimit": 1_048_576,
        "outputTokenLimit": 65_536,
        "supportedGenerationMethods": ["generateContent", "countTokens", "embedContent", "batchEmbedContents"],
    }


async def models(request: Request) -> Response:
    """``GET /v1beta/models[/{model}]``."""
    _, refused = _auth(request)
    if refused is not None:
        return refused
    model = request.path_params.get("model")
    if model is not None:
        return json_response(_model_doc(str(model).removeprefix("models/")))
    names = ("echo", "tool", "json", "inspect", "gemini-3-reason", "text-embedding")
    return json_response({"models": [_model_doc(m) for m in names]})


def gemini_routes() -> list[BaseRoute]:
    """The Gemini routes (``/v1beta``, and ``/v1`` for the POST methods)."""
    return [
        *cache_routes(),
        Route("/v1beta/models", models, methods=["GET"]),
        Route("/v1beta/models/{target:path}", call, methods=["POST"]),
        Route("/v1beta/models/{model:path}", models, methods=["GET"]),
        Route("/v1/models/{target:path}", call, methods=["POST"]),
    ]
