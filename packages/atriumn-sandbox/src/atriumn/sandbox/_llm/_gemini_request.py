"""Gemini requests: keys, Google's error shape, and the :class:`Turn` a generateContent body describes —
text, ``inlineData`` / ``fileData`` parts, function calls and responses, and ``thinkingConfig``.

Fields are read by their camelCase or snake_case names (the API takes both, and google-genai mixes them:
``inlineData`` with ``mime_type``, ``thinkingConfig`` with ``include_thoughts``).
"""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from ._behaviour import Behaviour
from ._parts import gemini_media
from ._turn import Turn
from ._wire import bad_key, json_response, new_id

__all__ = [
    "MESSAGES",
    "error",
    "field",
    "include_thoughts",
    "parse_turn",
    "parts_text",
    "request_key",
    "thinking_config",
]

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
#: Default messages of Google's errors, by status.
MESSAGES = {
    429: "Resource has been exhausted (e.g. check quota). (emulated by the Atriumn sandbox)",
    503: "The model is overloaded. Please try again later. (emulated by the Atriumn sandbox)",
}
_ERROR_INFO = "type.googleapis.com/google.rpc.ErrorInfo"


def error(
    status: int, message: str | None = None, details: list[Any] | None = None, headers: dict[str, str] | None = None
) -> Response:
    """An error in Google's shape."""
    err = {
        "code": status,
        "message": message or MESSAGES.get(status, f"Emulated error {status} (Atriumn sandbox)."),
        "status": _STATUS.get(status, "UNKNOWN"),
        "details": details or [],
    }
    return json_response({"error": err}, status, {"x-request-id": new_id("req_"), **(headers or {})})


def request_key(request: Request) -> tuple[str, Response | None]:
    """The API key of a request, or the error Gemini answers without a valid one."""
    key = request.headers.get("x-goog-api-key") or request.query_params.get("key")
    if not key:
        return "", error(
            403,
            "Method doesn't allow unregistered callers (callers without established identity). "
            "Please use API Key or other form of API consumer identity to call this API.",
        )
    if bad_key(key):
        info = {"@type": _ERROR_INFO, "reason": "API_KEY_INVALID", "domain": "googleapis.com"}
        return key, error(400, "API key not valid. Please pass a valid API key.", [info])
    return key, None


def field(doc: Any, camel: str, snake: str) -> Any:
    """A field of a request document by its camelCase or snake_case name (the API takes both)."""
    if not isinstance(doc, dict):
        return None
    value = doc.get(camel)
    return doc.get(snake) if value is None else value


def parts_text(content: Any) -> str:
    """The text of a content's parts (thought summaries left out), or the content itself if it is a string."""
    parts = field(content, "parts", "parts")
    if isinstance(content, str):
        return content
    if not isinstance(parts, list):
        return ""
    return "".join(
        str(p["text"]) for p in parts if isinstance(p, dict) and isinstance(p.get("text"), str) and not p.get("thought")
    )


def thinking_config(body: dict[str, Any]) -> dict[str, Any] | None:
    """The request's ``generationConfig.thinkingConfig`` as received, or ``None``."""
    config = field(field(body, "generationConfig", "generation_config"), "thinkingConfig", "thinking_config")
    return config if isinstance(config, dict) else None


def include_thoughts(body: dict[str, Any]) -> bool:
    """Whether the request asks for thought summaries (``thinkingConfig.includeThoughts``)."""
    return field(thinking_config(body), "includeThoughts", "include_thoughts") is True


def _media_of(turn: Turn, content: Any, path: str) -> None:
    parts = field(content, "parts", "parts")
    for j, part in enumerate(parts if isinstance(parts, list) else ()):
        if isinstance(part, dict) and (media := gemini_media(part, f"{path}.parts[{j}]")) is not None:
            turn.media.append(media)


def _response_text(response: Any) -> str:
    if isinstance(response, dict) and len(response) == 1:
        only = next(iter(response.values()))
        if isinstance(only, str):
            return only
    return json.dumps(response)


def parse_turn(body: dict[str, Any], behaviour: Behaviour | None = None) -> Turn:
    """A :class:`Turn` from a generateContent request body (``contents`` checked by the caller).

    Raises :class:`~._parts.PartError` for an ``inlineData`` / ``fileData`` part the API refuses.
    """
    system = field(body, "systemInstruction", "system_instruction")
    turn = Turn(system=parts_text(system))
    _media_of(turn, system, "system_instruction")
    for i, content in enumerate(body["contents"]):
        _media_of(turn, content, f"contents[{i}]")
        text = parts_text(content)
        parts = field(content, "parts", "parts") or []
        results = [
            _response_text(field(r, "response", "response"))
            for p in parts
            if isinstance(p, dict) and (r := field(p, "functionResponse", "function_response")) is not None
        ]
        turn.texts.append(text)
        turn.texts.extend(results)
        turn.tool_results.extend(results)
        if field(content, "role", "role") == "model":
            turn.replies += 1
            calls = (p for p in parts if isinstance(p, dict))
            turn.tool_rounds += any(field(p, "functionCall", "function_call") is not None for p in calls)
        if (field(content, "role", "role") or "user") == "user":
            if text or not results:
                turn.last_user = text
            turn.tool_result = "\n".join(results) if results else None
        else:
            turn.tool_result = None
    for tool in body.get("tools") or ():
        for decl in field(tool, "functionDeclarations", "function_declarations") or ():
            name = field(decl, "name", "name")
            if isinstance(name, str):
                schema = field(decl, "parametersJsonSchema", "parameters_json_schema") or field(
                    decl, "parameters", "parameters"
                )
                turn.tools.append((name, schema if isinstance(schema, dict) else {}))
    calling = field(field(body, "toolConfig", "tool_config"), "functionCallingConfig", "function_calling_config")
    mode = str(field(calling, "mode", "mode") or "").upper()
    if mode == "NONE":
        turn.tools_disabled = True
    allowed = field(calling, "allowedFunctionNames", "allowed_function_names")
    if isinstance(allowed, list) and allowed:
        turn.forced_tool = str(allowed[0])
    config = field(body, "generationConfig", "generation_config") or {}
    schema = field(config, "responseJsonSchema", "response_json_schema") or field(
        config, "responseSchema", "response_schema"
    )
    if isinstance(schema, dict):
        turn.schema = schema
    turn.json_mode = field(config, "responseMimeType", "response_mime_type") == "application/json"
    limit = field(config, "maxOutputTokens", "max_output_tokens")
    turn.max_tokens = limit if isinstance(limit, int) and not isinstance(limit, bool) else None
    thinking = thinking_config(body)
    turn.reasoning = {"thinkingConfig": thinking} if thinking is not None else None
    budget = field(thinking, "thinkingBudget", "thinking_budget")
    turn.thinking = behaviour is not None and behaviour.reason and budget != 0
    return turn
