"""Chat Completions requests, OpenAI's and Groq's: keys, error shapes, validation and the :class:`Turn` a
body describes — text, images, files, audio, prompt-cache breakpoints and reasoning controls.

Groq takes the same body but only text and ``image_url`` parts: an ``input_audio`` or ``file`` part is a 400
in Groq's validation wording. OpenAI's ``prompt_cache_breakpoint`` (on any part: ``mode: "explicit"``, ``ttl``
``30m`` or ``12h``), ``prompt_cache_key``, ``prompt_cache_options`` and ``reasoning_effort`` are accepted.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from ._behaviour import Behaviour
from ._parts import PartError, openai_media
from ._turn import Turn
from ._wire import bad_key, bearer, json_response, new_id

__all__ = ["error", "parse_turn", "refuse_part", "request_key", "validate"]

_TYPES = {
    400: "invalid_request_error",
    401: "invalid_request_error",
    403: "invalid_request_error",
    404: "invalid_request_error",
    409: "invalid_request_error",
    413: "invalid_request_error",
    422: "invalid_request_error",
    429: "requests",
}
_MESSAGES = {
    429: "Rate limit reached for requests (emulated by the Atriumn sandbox).",
    500: "The server had an error while processing your request (emulated by the Atriumn sandbox).",
    503: "The engine is currently overloaded, please try again later (emulated by the Atriumn sandbox).",
}
_CACHE_TTLS = ("30m", "12h")
_REASONING_KEYS = ("reasoning_effort",)
_GROQ_REASONING_KEYS = ("reasoning_effort", "reasoning_format", "include_reasoning")


def error(
    status: int,
    message: str | None = None,
    *,
    type_: str | None = None,
    code: str | None = None,
    param: str | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    """An error in OpenAI's shape (Groq's is the same)."""
    body = {
        "error": {
            "message": message or _MESSAGES.get(status, f"Emulated error {status} (Atriumn sandbox)."),
            "type": type_ or _TYPES.get(status, "server_error"),
            "param": param,
            "code": code if code is not None else ("rate_limit_exceeded" if status == 429 else None),
        }
    }
    return json_response(body, status, {"x-request-id": new_id("req_"), **(headers or {})})


def request_key(request: Request) -> tuple[str, Response | None]:
    """The API key of a request, or the 401 that OpenAI (and Groq) answer without a valid one."""
    key = bearer(request)
    if key is None:
        return "", error(
            401,
            "You didn't provide an API key. You need to provide your API key in an Authorization header using "
            "Bearer auth (i.e. Authorization: Bearer YOUR_KEY).",
            code="invalid_api_key",
        )
    if bad_key(key):
        return key, error(401, f"Incorrect API key provided: {key[:7]}***.", code="invalid_api_key")
    return key, None


def refuse_part(exc: PartError) -> Response:
    """The 400 for a part the provider refuses."""
    return error(400, exc.message, param=exc.param, code=exc.code)


def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(
            str(p.get("text", "")) for p in content if isinstance(p, dict) and p.get("type") in ("text", None)
        )
    return ""


def _groq_refusal(i: int, j: int, role: Any) -> PartError:
    """Groq's validation error for a content part it does not take (it takes ``text`` and ``image_url``)."""
    m, c = f"messages.{i}", f"messages.{i}.content"
    message = (
        f"'{m}' : for 'role:{role}' the following must be satisfied[('{c}' : one of the following must be "
        f"satisfied[('{c}' : value must be a string) OR ('{c}.{j}' : one of the following must be satisfied"
        f"[('{c}.{j}.type' : value is not one of the allowed values ['text']) OR ('{c}.{j}.type' : value is not "
        "one of the allowed values ['image_url'])])])]"
    )
    return PartError(message)


def _breakpoint(doc: Any, path: str) -> str | None:
    """The TTL of a ``prompt_cache_breakpoint`` (``None`` when it inherits the request's); PartError if invalid."""
    if not isinstance(doc, dict) or doc.get("mode") != "explicit":
        mode = doc.get("mode") if isinstance(doc, dict) else doc
        message = f"Invalid value: {mode!r}. Supported values are: 'explicit'."
        raise PartError(message, f"{path}.prompt_cache_breakpoint.mode", "invalid_value")
    ttl = doc.get("ttl")
    if ttl is not None and ttl not in _CACHE_TTLS:
        message = f"Invalid value: {ttl!r}. Supported values are: '30m' and '12h'."
        raise PartError(message, f"{path}.prompt_cache_breakpoint.ttl", "invalid_value")
    return ttl if isinstance(ttl, str) else None


def _read_parts(turn: Turn, i: int, message: dict[str, Any], groq: bool) -> None:
    """Collect the non-text parts and cache breakpoints of message ``i`` into ``turn``."""
    content = message.get("content")
    for j, part in enumerate(content if isinstance(content, list) else ()):
        if not isinstance(part, dict):
            continue
        path = f"messages[{i}].content[{j}]"
        if groq and part.get("type") in ("input_audio", "file"):
            raise _groq_refusal(i, j, message.get("role"))
        media = openai_media(part, path)
        if media is not None:
            turn.media.append(media)
        if not groq and "prompt_cache_breakpoint" in part:
            turn.cache_ttls.append(_breakpoint(part["prompt_cache_breakpoint"], path))


def parse_turn(body: dict[str, Any], behaviour: Behaviour | None = None, *, groq: bool = False) -> Turn:
    """A :class:`Turn` from a Chat Completions request body (validated by :func:`validate`).

    Raises :class:`PartError` for a part the provider refuses.
    """
    turn = Turn()
    messages: list[Any] = body["messages"]
    system: list[str] = []
    for i, message in enumerate(messages):
        if not isinstance(message, dict):
            continue
        role = message.get("role")
        text = _text_of(message.get("content"))
        _read_parts(turn, i, message, groq)
        if role in ("system", "developer"):
            system.append(text)
            continue
        turn.texts.append(text)
        if role == "user":
            turn.last_user = text
        elif role == "assistant":
            turn.replies += 1
            turn.tool_rounds += bool(message.get("tool_calls"))
        elif role in ("tool", "function"):
            turn.tool_results.append(text)
    turn.system = "\n".join(system)
    last = messages[-1] if messages else None
    if isinstance(last, dict) and last.get("role") in ("tool", "function"):
        turn.tool_result = _text_of(last.get("content"))
    for tool in body.get("tools") or ():
        function = tool.get("function") if isinstance(tool, dict) else None
        if isinstance(function, dict) and isinstance(function.get("name"), str):
            params = function.get("parameters")
            turn.tools.append((function["name"], params if isinstance(params, dict) else {}))
    choice = body.get("tool_choice")
    if choice == "none":
        turn.tools_disabled = True
    elif isinstance(choice, dict):
        turn.forced_tool = (choice.get("function") or {}).get("name")
    fmt = body.get("response_format")
    if isinstance(fmt, dict):
        if fmt.get("type") == "json_schema":
            schema = (fmt.get("json_schema") or {}).get("schema")
            turn.schema = schema if isinstance(schema, dict) else {}
            turn.json_mode = True
        elif fmt.get("type") == "json_object":
            turn.json_mode = True
    limit = body.get("max_completion_tokens", body.get("max_tokens"))
    turn.max_tokens = limit if isinstance(limit, int) and not isinstance(limit, bool) else None
    keys = _GROQ_REASONING_KEYS if groq else _REASONING_KEYS
    turn.reasoning = {k: body[k] for k in keys if k in body} or None
    turn.thinking = behaviour is not None and behaviour.reason and body.get("reasoning_effort") != "none"
    return turn


def validate(body: dict[str, Any], *, groq: bool = False) -> Response | None:
    """The 400 a Chat Completions body gets for a missing model or messages, or bad cache/reasoning options."""
    model = body.get("model")
    if not isinstance(model, str) or not model:
        return error(400, "you must provide a model parameter", param="model", code="missing_required_parameter")
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        return error(
            400,
            "Missing required parameter: 'messages'." if messages is None else "Invalid 'messages': empty array.",
            param="messages",
            code="missing_required_parameter" if messages is None else "empty_array",
        )
    options = body.get("prompt_cache_options")
    if not groq and options is not None:
        mode = options.get("mode", "implicit") if isinstance(options, dict) else None
        ttl = options.get("ttl") if isinstance(options, dict) else None
        if mode not in ("implicit", "explicit"):
            message = f"Invalid value: {mode!r}. Supported values are: 'implicit' and 'explicit'."
            return error(400, message, param="prompt_cache_options.mode", code="invalid_value")
        if ttl is not None and ttl not in _CACHE_TTLS:
            message = f"Invalid value: {ttl!r}. Supported values are: '30m' and '12h'."
            return error(400, message, param="prompt_cache_options.ttl", code="invalid_value")
    if groq and body.get("reasoning_format") is not None and body.get("include_reasoning") is not None:
        message = "`reasoning_format` and `include_reasoning` cannot both be set; use one of them."
        return error(400, message, param="reasoning_format")
    if groq and body.get("reasoning_format") not in (None, "hidden", "raw", "parsed"):
        message = "'reasoning_format' : value is not one of the allowed values ['hidden', 'raw', 'parsed']"
        return error(400, message, param="reasoning_format")
    return None
