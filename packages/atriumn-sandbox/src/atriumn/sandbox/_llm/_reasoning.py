"""Reasoning of ``reason`` models: the thinking text, the signatures that carry it across turns, and the
round-trip rules that refuse a conversation which drops or alters them, with the providers' real messages.

Signatures are HMAC-SHA256 under a fixed key, so they are deterministic (the same thinking text always gets
the same signature) and cannot be made up by a client: Anthropic's ``signature`` signs the thinking block's
text, a ``redacted_thinking`` block's ``data`` signs itself, and a Gemini ``thoughtSignature`` on a
``functionCall`` part signs the call's name and arguments (on a text part, itself). Google's documented
placeholder signatures (``skip_thought_signature_validator``, ``context_engineering_is_the_way_to_go``) are
accepted as Gemini accepts them.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from typing import Any

from ._turn import Answer, Turn

__all__ = [
    "anthropic_history_error",
    "anthropic_thinking_error",
    "gemini_history_error",
    "redacted_data",
    "thinking_signature",
    "thought_signature",
    "thought_text",
]

_KEY = b"atriumn-sandbox reasoning signatures v1"
_THINKING = b"sbx-thinking-v1:"
_REDACTED = b"sbx-redacted-v1:"
_THOUGHT = b"sbx-thought-v1:"
_PLACEHOLDERS = {"skip_thought_signature_validator", "context_engineering_is_the_way_to_go"}
_DOCS = "https://docs.claude.com/en/docs/build-with-claude/extended-thinking"
_EFFORTS = ("low", "medium", "high", "xhigh", "max")


def _mac(*parts: bytes) -> bytes:
    return hmac.new(_KEY, b"\0".join(parts), hashlib.sha256).digest()


def _decode(text: Any) -> bytes | None:
    if not isinstance(text, str):
        return None
    try:
        return base64.b64decode(text.replace("-", "+").replace("_", "/"), validate=True)
    except (binascii.Error, ValueError):
        return None


def thought_text(turn: Turn, reply: Answer) -> str:
    """The deterministic thinking of a ``reason`` model: exactly 8 words (``THINKING_TOKENS``) naming a
    digest of what it read (so each conversation thinks, and signs, differently) and what it does next."""
    seen = f"{turn.last_user}\0{turn.tool_result}".encode()
    digest = hashlib.sha256(seen).hexdigest()[:8]
    if reply.tool_calls:
        name = "".join(reply.tool_calls[0].name.split()) or "a-tool"
        text = f"I read the request ({digest}) and call {name}."
    elif turn.tool_result is not None:
        text = f"I read the tool result ({digest}) and answer."
    else:
        text = f"I read the request ({digest}) and answer it."
    return text


# --- Anthropic -------------------------------------------------------------------------------------------


def thinking_signature(thinking: str) -> str:
    """The ``signature`` of a thinking block whose text is ``thinking``."""
    return base64.b64encode(_THINKING + _mac(b"thinking", thinking.encode())).decode()


def redacted_data(thinking: str) -> str:
    """The opaque ``data`` of the ``redacted_thinking`` block issued next to the thinking ``thinking``."""
    payload = hashlib.sha256(thinking.encode()).digest()[:16]
    return base64.b64encode(_REDACTED + payload + _mac(b"redacted", payload)).decode()


def _redacted_ok(data: Any) -> bool:
    raw = _decode(data)
    if raw is None or not raw.startswith(_REDACTED) or len(raw) != len(_REDACTED) + 48:
        return False
    payload, mac = raw[len(_REDACTED) : -32], raw[-32:]
    return hmac.compare_digest(mac, _mac(b"redacted", payload))


def anthropic_thinking_error(body: dict[str, Any]) -> str | None:
    """The 400 message Anthropic answers for the request's ``thinking`` / ``output_config.effort``, if any."""
    thinking = body.get("thinking")
    if thinking is not None:
        if not isinstance(thinking, dict):
            return "thinking: Input should be a valid dictionary or object to extract fields from"
        kind = thinking.get("type")
        if kind not in ("enabled", "disabled", "adaptive", "between_tools"):
            return (
                f"thinking: Input tag {kind!r} found using 'type' does not match any of the expected tags: "
                "'enabled', 'disabled', 'adaptive', 'between_tools'"
            )
        if kind == "enabled":
            budget = thinking.get("budget_tokens")
            if budget is None:
                return "thinking.enabled.budget_tokens: Field required"
            if not isinstance(budget, int) or isinstance(budget, bool):
                return "thinking.enabled.budget_tokens: Input should be a valid integer"
            if budget < 1024:
                return "thinking.enabled.budget_tokens: Input should be greater than or equal to 1024"
            if budget >= body["max_tokens"]:
                return (
                    "`max_tokens` must be greater than `thinking.budget_tokens`. Please consult our documentation "
                    f"at {_DOCS}#max-tokens-and-context-window-size"
                )
    config = body.get("output_config")
    effort = config.get("effort") if isinstance(config, dict) else None
    if effort is not None and effort not in _EFFORTS:
        return "output_config.effort: Input should be 'low', 'medium', 'high', 'xhigh' or 'max'"
    return None


def _block_type(content: Any, index: int) -> str:
    if isinstance(content, str):
        return "text"
    block = content[index] if isinstance(content, list) and len(content) > index else None
    return str(block.get("type")) if isinstance(block, dict) else "text"


def anthropic_history_error(messages: list[Any], thinking_on: bool) -> str | None:
    """The 400 message Anthropic answers for the assistant turns of ``messages`` (a ``reason`` model's
    request), if any: a ``thinking`` block whose signature does not match its text, a ``redacted_thinking``
    block that was not issued, or — with thinking on — a final assistant message that calls a tool without
    starting with its thinking block."""
    last_assistant: int | None = None
    for i, message in enumerate(messages):
        if not isinstance(message, dict) or message.get("role") != "assistant":
            continue
        last_assistant = i
        content = message.get("content")
        for j, block in enumerate(content if isinstance(content, list) else ()):
            if not isinstance(block, dict):
                continue
            if block.get("type") == "thinking":
                signature = block.get("signature")
                if not isinstance(signature, str):
                    return f"messages.{i}.content.{j}.thinking.signature: Field required"
                expected = thinking_signature(str(block.get("thinking", "")))
                if not hmac.compare_digest(signature.encode(), expected.encode()):
                    return f"messages.{i}.content.{j}: Invalid `signature` in `thinking` block"
            elif block.get("type") == "redacted_thinking" and not _redacted_ok(block.get("data")):
                return f"messages.{i}.content.{j}: Invalid `data` in `redacted_thinking` block"
    if not thinking_on or last_assistant is None:
        return None
    content = messages[last_assistant].get("content")
    calls = isinstance(content, list) and any(isinstance(b, dict) and b.get("type") == "tool_use" for b in content)
    first = _block_type(content, 0)
    if not calls or first in ("thinking", "redacted_thinking"):
        return None
    return (
        f"messages.{last_assistant}.content.0.type: Expected `thinking` or `redacted_thinking`, but found "
        f"`{first}`. When `thinking` is enabled, a final `assistant` message must start with a thinking block "
        "(preceeding the lastmost set of `tool_use` and `tool_result` blocks). We recommend you include thinking "
        f"blocks from previous turns. To avoid this requirement, disable `thinking`. Please consult our "
        f"documentation at {_DOCS}"
    )


# --- Gemini ----------------------------------------------------------------------------------------------


def _call_digest(name: Any, args: Any) -> bytes:
    canonical = json.dumps([name, args if args is not None else {}], sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).digest()[:16]


def thought_signature(call: tuple[str, dict[str, Any]] | None, thinking: str) -> str:
    """The ``thoughtSignature`` of a response part: of a ``functionCall`` ``(name, args)``, bound to them;
    of a text part (``call`` is ``None``), bound to the thinking it follows."""
    if call is not None:
        kind, payload = b"f", _call_digest(*call)
    else:
        kind, payload = b"t", hashlib.sha256(thinking.encode()).digest()[:16]
    return base64.b64encode(_THOUGHT + kind + payload + _mac(b"thought", kind, payload)).decode()


def _signature_ok(signature: Any, call: Any) -> bool:
    if isinstance(signature, str) and signature in _PLACEHOLDERS:
        return True
    raw = _decode(signature)
    if raw is None:
        return False
    if raw.decode("latin-1") in _PLACEHOLDERS:
        return True
    if not raw.startswith(_THOUGHT) or len(raw) != len(_THOUGHT) + 49:
        return False
    kind, payload, mac = raw[len(_THOUGHT) : len(_THOUGHT) + 1], raw[len(_THOUGHT) + 1 : -32], raw[-32:]
    if not hmac.compare_digest(mac, _mac(b"thought", kind, payload)):
        return False
    if kind == b"f":
        return isinstance(call, dict) and payload == _call_digest(call.get("name"), call.get("args"))
    return True


def _get(doc: Any, camel: str, snake: str) -> Any:
    if not isinstance(doc, dict):
        return None
    value = doc.get(camel)
    return doc.get(snake) if value is None else value


def gemini_history_error(contents: list[Any], thinking_on: bool) -> str | None:
    """The 400 message Gemini answers for the model turns of ``contents`` (a ``reason`` model's request), if
    any: a ``thoughtSignature`` the sandbox did not issue (or issued for another call), or — with thinking
    on — a model turn of the current turn (since the last user message that is not only function responses)
    whose first ``functionCall`` part has no signature."""
    current = 0
    for i, content in enumerate(contents):
        role = _get(content, "role", "role") or "user"
        parts = _get(content, "parts", "parts") or []
        if role == "user" and any(
            isinstance(p, dict) and _get(p, "functionResponse", "function_response") is None for p in parts
        ):
            current = i + 1
    for i, content in enumerate(contents):
        if (_get(content, "role", "role") or "user") != "model":
            continue
        first_call = True
        for part in _get(content, "parts", "parts") or []:
            if not isinstance(part, dict):
                continue
            call = _get(part, "functionCall", "function_call")
            signature = _get(part, "thoughtSignature", "thought_signature")
            if signature is not None and not _signature_ok(signature, call):
                return "Corrupted thought signature."
            if call is None:
                continue
            if first_call and thinking_on and i >= current and signature is None:
                name = call.get("name") if isinstance(call, dict) else None
                return (
                    "Function call is missing a thought_signature in functionCall parts. This is required for "
                    "tools to work correctly, and missing thought_signature may lead to degraded model "
                    f"performance. Additional data, function call `default_api:{name}` , position {i + 1}. "
                    "Please refer to https://ai.google.dev/gemini-api/docs/thought-signatures for more details."
                )
            first_call = False
    return None
