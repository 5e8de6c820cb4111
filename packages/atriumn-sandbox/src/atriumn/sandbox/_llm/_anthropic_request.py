"""Messages requests: keys, Anthropic's error shape, validation, and the :class:`Turn` a body describes.

Validation follows the API where the emulation can check it: ``max_tokens`` and ``messages`` required;
``image`` / ``document`` blocks in their documented sources; ``cache_control`` (``{"type": "ephemeral",
"ttl": "5m"|"1h"}``) on tools, system blocks, message blocks and at the top level, at most 4 of them, and
no ``1h`` breakpoint after a ``5m`` one (in the order tools, system, messages); ``thinking`` (``enabled``
with ``budget_tokens`` ≥ 1024 and < ``max_tokens``, ``adaptive``, ``disabled``) and ``output_config.effort``;
for ``reason`` models, the thinking blocks of the conversation (:func:`~._reasoning.anthropic_history_error`).
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from ._behaviour import Behaviour
from ._parts import PartError, anthropic_media
from ._reasoning import anthropic_history_error, anthropic_thinking_error
from ._turn import Turn
from ._wire import bad_key, bearer, json_response, new_id

__all__ = ["check_history", "error", "parse_turn", "refuse_part", "request_key", "thinking_on", "validate"]

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
_MAX_BREAKPOINTS = 4


def error(status: int, message: str | None = None, headers: dict[str, str] | None = None) -> Response:
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


def request_key(request: Request) -> tuple[str, Response | None]:
    """The API key of a request, or the error Anthropic answers without a valid key and ``anthropic-version``."""
    key = request.headers.get("x-api-key") or bearer(request)
    if not key:
        return "", error(401, "x-api-key header is required")
    if bad_key(key):
        return key, error(401, "invalid x-api-key")
    if not request.headers.get("anthropic-version"):
        return key, error(400, "anthropic-version: header is required")
    return key, None


def _block_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(str(b.get("text", "")) for b in content if isinstance(b, dict) and b.get("type") == "text")
    return ""


def thinking_on(body: dict[str, Any], behaviour: Behaviour) -> bool:
    """Whether a ``reason`` model thinks for this request: the request turns thinking on (``enabled``,
    ``adaptive`` or ``between_tools``), as Claude needs."""
    thinking = body.get("thinking")
    kind = thinking.get("type") if isinstance(thinking, dict) else None
    return behaviour.reason and kind in ("enabled", "adaptive", "between_tools")


def _media_of(turn: Turn, blocks: list[Any], path: str) -> None:
    """Collect the images and documents of ``blocks`` (and of their tool results) into ``turn``."""
    for j, block in enumerate(blocks):
        if not isinstance(block, dict):
            continue
        media = anthropic_media(block, f"{path}.{j}")
        if media is not None:
            turn.media.append(media)
        inner = block.get("content") if block.get("type") == "tool_result" else None
        if isinstance(inner, list):
            _media_of(turn, inner, f"{path}.{j}.content")


def parse_turn(body: dict[str, Any], behaviour: Behaviour | None = None) -> Turn:
    """A :class:`Turn` from a Messages request body (validated by :func:`validate`).

    Raises :class:`PartError` for an image or document block the API refuses.
    """
    turn = Turn(system=_block_text(body.get("system")))
    messages: list[Any] = body["messages"]
    for i, message in enumerate(messages):
        if not isinstance(message, dict):
            continue
        content = message.get("content")
        if isinstance(content, list):
            _media_of(turn, content, f"messages.{i}.content")
        results = [
            _block_text(b.get("content"))
            for b in (content if isinstance(content, list) else ())
            if isinstance(b, dict) and b.get("type") == "tool_result"
        ]
        text = _block_text(content)
        turn.texts.append(text)
        turn.texts.extend(results)
        turn.tool_results.extend(results)
        if message.get("role") == "assistant":
            turn.replies += 1
            turn.tool_rounds += any(isinstance(b, dict) and b.get("type") == "tool_use" for b in content or ())
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
    config = body.get("output_config")
    fmt = (config.get("format") if isinstance(config, dict) else None) or body.get("output_format")
    if isinstance(fmt, dict) and fmt.get("type") == "json_schema":
        schema = fmt.get("schema")
        turn.schema = schema if isinstance(schema, dict) else {}
        turn.json_mode = True
    turn.max_tokens = body["max_tokens"]
    turn.cache_ttls = [_ttl(control) for _, control in _breakpoints(body)]
    reasoning: dict[str, Any] = {}
    if "thinking" in body:
        reasoning["thinking"] = body["thinking"]
    if isinstance(config, dict) and "effort" in config:
        reasoning["effort"] = config["effort"]
    turn.reasoning = reasoning or None
    # Claude thinks at the start of its turn; the answer that follows a tool result continues that turn.
    turn.thinking = behaviour is not None and thinking_on(body, behaviour) and turn.tool_result is None
    return turn


def _ttl(control: Any) -> str | None:
    ttl = control.get("ttl") if isinstance(control, dict) else None
    return ttl if isinstance(ttl, str) else None


def _breakpoints(body: dict[str, Any]) -> list[tuple[str, Any]]:
    """Every ``cache_control`` of the request with its path, in processing order (tools, system, messages,
    then the top-level one), as ``(path, cache_control)``."""
    found: list[tuple[str, Any]] = []

    def visit(block: Any, path: str) -> None:
        if not isinstance(block, dict):
            return
        if block.get("cache_control") is not None:
            found.append((path, block["cache_control"]))
        inner = block.get("content") if block.get("type") == "tool_result" else None
        for k, nested in enumerate(inner if isinstance(inner, list) else ()):
            visit(nested, f"{path}.content.{k}")

    for i, tool in enumerate(body.get("tools") or ()):
        visit(tool, f"tools.{i}")
    system = body.get("system")
    for i, block in enumerate(system if isinstance(system, list) else ()):
        visit(block, f"system.{i}")
    for i, message in enumerate(body.get("messages") or ()):
        content = message.get("content") if isinstance(message, dict) else None
        for j, block in enumerate(content if isinstance(content, list) else ()):
            visit(block, f"messages.{i}.content.{j}")
    if body.get("cache_control") is not None:
        found.append(("", body["cache_control"]))
    return found


def _control_error(control: Any, path: str) -> str | None:
    where = f"{path}.cache_control" if path else "cache_control"
    if not isinstance(control, dict) or control.get("type") != "ephemeral":
        return f"{where}.type: Input should be 'ephemeral'"
    if control.get("ttl") not in (None, "5m", "1h"):
        return f"{where}.ttl: Input should be '5m' or '1h'"
    return None


def _cache_error(body: dict[str, Any]) -> str | None:
    """The 400 message for the request's ``cache_control`` breakpoints, if any."""
    points = _breakpoints(body)
    for path, control in points:
        problem = _control_error(control, path)
        if problem is not None:
            return problem
    if len(points) > _MAX_BREAKPOINTS:
        return f"A maximum of {_MAX_BREAKPOINTS} blocks with cache_control may be provided. Found {len(points)}."
    seen_short = False
    for _, control in points:
        ttl = _ttl(control)
        if ttl == "1h" and seen_short:
            return (
                "a ttl='1h' cache_control block must not come after a ttl='5m' cache_control block. Note that "
                "blocks are processed in the following order: `tools`, `system`, `messages`."
            )
        seen_short = seen_short or ttl != "1h"
    return None


def validate(body: dict[str, Any]) -> Response | None:
    """The 400 a Messages body gets, if any (see the module's docstring; the thinking blocks of the
    conversation are :func:`check_history`'s)."""
    model = body.get("model")
    if not isinstance(model, str) or not model:
        return error(400, "model: Field required")
    max_tokens = body.get("max_tokens")
    if max_tokens is None:
        return error(400, "max_tokens: Field required")
    if not isinstance(max_tokens, int) or isinstance(max_tokens, bool) or max_tokens < 1:
        return error(400, "max_tokens: Input should be a valid integer greater than or equal to 1")
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        return error(
            400, "messages: Field required" if messages is None else "messages: at least one message is required"
        )
    problem = anthropic_thinking_error(body) or _cache_error(body)
    return error(400, problem) if problem is not None else None


def check_history(body: dict[str, Any], behaviour: Behaviour) -> Response | None:
    """The 400 a ``reason`` model's request gets for the thinking blocks of its assistant turns, if any."""
    if not behaviour.reason:
        return None
    problem = anthropic_history_error(body["messages"], thinking_on(body, behaviour))
    return error(400, problem) if problem is not None else None


def refuse_part(exc: PartError) -> Response:
    """The 400 for a block the API refuses."""
    return error(400, exc.message)
