"""Gemini API (``/v1beta/models/{model}:{method}``): generateContent, streamGenerateContent, embedContent,
batchEmbedContents, and model metadata.

Wire facts kept here: camelCase JSON (snake_case request fields are accepted too, as the API does); the key
in ``x-goog-api-key`` or ``?key=``; ``:streamGenerateContent?alt=sse`` is unnamed ``data:`` events with CRLF
framing and no ``[DONE]`` (without ``alt=sse`` it is one JSON array); usage in ``usageMetadata`` where
``promptTokenCount`` INCLUDES ``cachedContentTokenCount`` and ``totalTokenCount`` includes
``thoughtsTokenCount``; errors are ``{"error": {code, message, status, details}}``, a 429 carrying a
``RetryInfo`` detail with ``retryDelay``. A missing key is 403 ``PERMISSION_DENIED`` and a bad one 400
``INVALID_ARGUMENT`` with reason ``API_KEY_INVALID``, as the real API answers.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from ._behaviour import Behaviour, behaviour_of
from ._embeddings import embedding_floats
from ._turn import Answer, Turn, Usage, answer, usage_of
from ._wire import (
    FAIL_ONCE,
    Answered,
    EventStream,
    RequestBodyError,
    answered,
    bad_key,
    dumps,
    json_response,
    new_id,
    read_json,
)

__all__ = ["authenticate", "batch_generate", "error_response", "field", "gemini_routes"]

_STATUS = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    409: "ABORTED",
    429: "RESOURCE_EXHAUSTED",
    499: "CANCELLED",
    500: "INTERNAL",
    501: "NOT_IMPLEMENTED",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}
_MESSAGES = {
    429: "Resource has been exhausted (e.g. check quota). (emulated by the Atriumn sandbox)",
    503: "The model is overloaded. Please try again later. (emulated by the Atriumn sandbox)",
}
_ERROR_INFO = "type.googleapis.com/google.rpc.ErrorInfo"


def _error(
    status: int, message: str | None = None, details: list[Any] | None = None, headers: dict[str, str] | None = None
) -> Response:
    """An error in Google's shape."""
    error = {
        "code": status,
        "message": message or _MESSAGES.get(status, f"Emulated error {status} (Atriumn sandbox)."),
        "status": _STATUS.get(status, "UNKNOWN"),
        "details": details or [],
    }
    return json_response({"error": error}, status, {"x-request-id": new_id("req_"), **(headers or {})})


def _auth(request: Request) -> tuple[str, Response | None]:
    key = request.headers.get("x-goog-api-key") or request.query_params.get("key")
    if not key:
        return "", _error(
            403,
            "Method doesn't allow unregistered callers (callers without established identity). "
            "Please use API Key or other form of API consumer identity to call this API.",
        )
    if bad_key(key):
        info = {"@type": _ERROR_INFO, "reason": "API_KEY_INVALID", "domain": "googleapis.com"}
        return key, _error(400, "API key not valid. Please pass a valid API key.", [info])
    return key, None


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


def _get(doc: Any, camel: str, snake: str) -> Any:
    if not isinstance(doc, dict):
        return None
    value = doc.get(camel)
    return doc.get(snake) if value is None else value


def _parts_text(content: Any) -> str:
    parts = _get(content, "parts", "parts")
    if isinstance(content, str):
        return content
    if not isinstance(parts, list):
        return ""
    return "".join(str(p["text"]) for p in parts if isinstance(p, dict) and isinstance(p.get("text"), str))


def _response_text(response: Any) -> str:
    if isinstance(response, dict) and len(response) == 1:
        only = next(iter(response.values()))
        if isinstance(only, str):
            return only
    return json.dumps(response)


def parse_turn(body: dict[str, Any]) -> Turn:
    """A :class:`Turn` from a generateContent request body (validated by the caller)."""
    turn = Turn(system=_parts_text(_get(body, "systemInstruction", "system_instruction")))
    for content in body["contents"]:
        text = _parts_text(content)
        parts = _get(content, "parts", "parts") or []
        results = [
            _response_text(_get(r, "response", "response"))
            for p in parts
            if isinstance(p, dict) and (r := _get(p, "functionResponse", "function_response")) is not None
        ]
        turn.texts.append(text)
        turn.texts.extend(results)
        if (_get(content, "role", "role") or "user") == "user":
            if text or not results:
                turn.last_user = text
            turn.tool_result = "\n".join(results) if results else None
        else:
            turn.tool_result = None
    for tool in body.get("tools") or ():
        for decl in _get(tool, "functionDeclarations", "function_declarations") or ():
            name = _get(decl, "name", "name")
            if isinstance(name, str):
                schema = _get(decl, "parametersJsonSchema", "parameters_json_schema") or _get(
                    decl, "parameters", "parameters"
                )
                turn.tools.append((name, schema if isinstance(schema, dict) else {}))
    calling = _get(_get(body, "toolConfig", "tool_config"), "functionCallingConfig", "function_calling_config")
    mode = str(_get(calling, "mode", "mode") or "").upper()
    if mode == "NONE":
        turn.tools_disabled = True
    allowed = _get(calling, "allowedFunctionNames", "allowed_function_names")
    if isinstance(allowed, list) and allowed:
        turn.forced_tool = str(allowed[0])
    config = _get(body, "generationConfig", "generation_config") or {}
    schema = _get(config, "responseJsonSchema", "response_json_schema") or _get(
        config, "responseSchema", "response_schema"
    )
    if isinstance(schema, dict):
        turn.schema = schema
    turn.json_mode = _get(config, "responseMimeType", "response_mime_type") == "application/json"
    limit = _get(config, "maxOutputTokens", "max_output_tokens")
    turn.max_tokens = limit if isinstance(limit, int) and not isinstance(limit, bool) else None
    return turn


def _usage(usage: Usage) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "promptTokenCount": usage.prompt,
        "candidatesTokenCount": usage.output,
        "totalTokenCount": usage.prompt + usage.output + usage.thinking,
        "promptTokensDetails": [{"modality": "TEXT", "tokenCount": usage.prompt}],
    }
    if usage.cached:
        doc["cachedContentTokenCount"] = usage.cached
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


def _call_parts(reply: Answer) -> list[dict[str, Any]]:
    return [{"functionCall": {"name": c.name, "args": c.arguments}} for c in reply.tool_calls]


def _chunks(model: str, rid: str, reply: Answer, usage: Usage, behaviour: Behaviour) -> Iterator[dict[str, Any]]:
    pieces = reply.chunks
    calls = _call_parts(reply)
    for i, piece in enumerate(pieces):
        last = i == len(pieces) - 1 and not calls
        yield _response(model, rid, [{"text": piece}], _finish(reply) if last else None, usage if last else None)
    if calls or not pieces:
        yield _response(model, rid, calls or [{"text": ""}], _finish(reply), usage)


def _sse(model: str, rid: str, reply: Answer, usage: Usage, behaviour: Behaviour) -> Iterator[bytes]:
    for i, doc in enumerate(_chunks(model, rid, reply, usage, behaviour)):
        if behaviour.cut_after is not None and i == behaviour.cut_after:
            return
        if behaviour.error_after is not None and i == behaviour.error_after:
            error = {"code": 503, "message": _MESSAGES[503], "status": "UNAVAILABLE"}
            yield b'data: {"error":' + dumps(error) + b"}\r\n\r\n"
            return
        yield b"data: " + dumps(doc) + b"\r\n\r\n"


@dataclasses.dataclass(frozen=True)
class _Prepared:
    """The answer to one generateContent request, before it is rendered as a JSON document or a stream."""

    model: str
    behaviour: Behaviour
    reply: Answer
    usage: Usage


def _prepare(model: str, key: str, body: dict[str, Any]) -> Response | _Prepared:
    """The error response a generateContent body gets, or its prepared answer."""
    contents = _get(body, "contents", "contents")
    if not isinstance(contents, list) or not contents:
        return _error(400, "* GenerateContentRequest.contents: contents is not specified")
    behaviour = behaviour_of(model)
    fault = _fault(key, model, behaviour)
    if fault is not None:
        return fault
    turn = parse_turn({**body, "contents": contents})
    reply = answer(turn, behaviour)
    usage = usage_of(turn, behaviour, reply)
    return _Prepared(model, behaviour, reply, usage)


def _document(prepared: _Prepared, rid: str) -> dict[str, Any]:
    reply = prepared.reply
    parts = ([{"text": reply.text}] if reply.text or not reply.tool_calls else []) + _call_parts(reply)
    return _response(prepared.model, rid, parts, _finish(reply), prepared.usage)


async def _generate(request: Request, model: str, key: str, body: dict[str, Any], stream: bool) -> Response:
    prepared = _prepare(model, key, body)
    if isinstance(prepared, Response):
        return prepared
    reply, usage, behaviour = prepared.reply, prepared.usage, prepared.behaviour
    rid = new_id("")
    headers = {"x-request-id": rid}
    if not stream:
        return json_response(_document(prepared, rid), headers=headers)
    if request.query_params.get("alt") == "sse":
        events = _sse(model, rid, reply, usage, behaviour)
        return EventStream(events, headers, delay=behaviour.delay, cut=behaviour.cut_after is not None)
    return json_response(list(_chunks(model, rid, reply, usage, behaviour)), headers=headers)


def batch_generate(model: str, key: str, body: dict[str, Any]) -> Answered:
    """One request of a batch job, answered as ``models/{model}:generateContent`` answers it interactively."""
    prepared = _prepare(model, key, body)
    if isinstance(prepared, Response):
        return answered(prepared)
    rid = new_id("")
    return Answered(200, _document(prepared, rid), rid)


#: An error response in Google's shape: ``error_response(status, message, details, headers)``.
error_response = _error
#: The API key of a request, or the error Gemini answers without a valid one.
authenticate = _auth
#: A field of a request document by its camelCase or snake_case name (the API takes both).
field = _get


def _dimensions(doc: Any) -> int | None:
    size = _get(doc, "outputDimensionality", "output_dimensionality")
    return size if isinstance(size, int) and not isinstance(size, bool) and 0 < size <= 8192 else None


def _embed(key: str, model: str, body: dict[str, Any], batch: bool) -> Response:
    behaviour = behaviour_of(model)
    fault = _fault(key, model, behaviour)
    if fault is not None:
        return fault
    if not batch:
        content = _get(body, "content", "content")
        if not isinstance(content, dict):
            return _error(400, "* EmbedContentRequest.content: content is not specified")
        return json_response({"embedding": {"values": embedding_floats(_parts_text(content), _dimensions(body))}})
    requests = _get(body, "requests", "requests")
    if not isinstance(requests, list) or not requests:
        return _error(400, "* BatchEmbedContentsRequest.requests: requests is not specified")
    embeddings = [
        {"values": embedding_floats(_parts_text(_get(r, "content", "content")), _dimensions(r))} for r in requests
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
    return json_response({"models": [_model_doc(m) for m in ("echo", "tool", "json", "text-embedding")]})


def gemini_routes() -> list[BaseRoute]:
    """The Gemini routes (``/v1beta``, and ``/v1`` for the POST methods)."""
    return [
        Route("/v1beta/models", models, methods=["GET"]),
        Route("/v1beta/models/{target:path}", call, methods=["POST"]),
        Route("/v1beta/models/{model:path}", models, methods=["GET"]),
        Route("/v1/models/{target:path}", call, methods=["POST"]),
    ]
