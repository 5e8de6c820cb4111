"""A ``generateContent`` request body: contents (text, ``inlineData`` / ``fileData`` media, function calls and
responses, thoughts and ``thoughtSignature`` s sent back exactly as received), the system instruction, the
generation config (``thinkingConfig`` included), tools and an explicit cache (``cachedContent``).

Gemini function calls carry no id, so a tool result is matched back to its call's name. A signature-only
:class:`ReasoningPart` (what a ``thoughtSignature`` on a function call or text part parses into) puts the
signature back on the part that follows it (on an empty text part when nothing follows, as it came).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from atriumn.ai._parts import AudioPart, DocumentPart, ImagePart, ReasoningPart
from atriumn.ai._request import ChatRequest
from atriumn.ai._types import Message, Part, TextPart, Tool
from atriumn.core import ValidationError

from ._base import object_arguments
from ._capabilities import foreign_reasoning

__all__ = ["body"]

_P = "gemini"
_LEVELS = {"minimal": "MINIMAL", "low": "LOW", "medium": "MEDIUM", "high": "HIGH", "xhigh": "XHIGH"}


def _media(p: ImagePart | DocumentPart | AudioPart) -> dict[str, Any]:
    if p.url is not None:
        return {"fileData": {"mimeType": p.media_type, "fileUri": p.url}}
    return {"inlineData": {"mimeType": p.media_type, "data": p.base64}}


def _parts(m: Message, where: str, names: dict[str, str]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    pending_signature: str | None = None

    def add(part: dict[str, Any]) -> None:
        nonlocal pending_signature
        if pending_signature is not None:
            part["thoughtSignature"] = pending_signature
            pending_signature = None
        out.append(part)

    content: Sequence[Part] = () if isinstance(m.content, str) else m.content
    if isinstance(m.content, str) and m.content:
        add({"text": m.content})
    for p in content:
        if foreign_reasoning(_P, p):
            continue
        if isinstance(p, ReasoningPart):
            if p.text:
                thought: dict[str, Any] = {"text": p.text, "thought": True}
                if p.signature:
                    thought["thoughtSignature"] = p.signature
                out.append(thought)
            elif p.signature:
                pending_signature = p.signature  # it belongs to the part that follows
        elif isinstance(p, TextPart) and p.text:
            add({"text": p.text})
        elif isinstance(p, ImagePart | DocumentPart | AudioPart):
            add(_media(p))
    for j, c in enumerate(m.tool_calls):
        names[c.id] = c.name
        args = object_arguments(c, f"{where}.tool_calls[{j}]", _P)
        add({"functionCall": {"name": c.name, "args": args}})
    if pending_signature is not None:  # it came on an empty text part at the end: it goes back as one
        out.append({"text": "", "thoughtSignature": pending_signature})
    return out


def _tool_response(text: str, is_error: bool) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except ValueError:
        value = text
    if isinstance(value, dict) and not is_error:
        return value
    return {"error": value} if is_error else {"result": value}


def _contents(req: ChatRequest) -> tuple[list[dict[str, Any]], list[str]]:
    names: dict[str, str] = {}
    system_texts = [req.system] if req.system else []
    contents: list[dict[str, Any]] = []
    for i, m in enumerate(req.messages):
        if m.role in ("system", "developer"):
            system_texts.append(m.text)
            continue
        if m.role == "tool":
            name = m.name or names.get(m.tool_call_id or "", "")
            if not name:
                raise ValidationError(
                    f"messages[{i}].name: tool result {m.tool_call_id!r} names no function (set name=)"
                )
            part = {"functionResponse": {"name": name, "response": _tool_response(m.text, m.is_error)}}
            if contents and contents[-1]["role"] == "user" and "functionResponse" in contents[-1]["parts"][-1]:
                contents[-1]["parts"].append(part)
            else:
                contents.append({"role": "user", "parts": [part]})
            continue
        parts = _parts(m, f"messages[{i}]", names)
        contents.append({"role": "model" if m.role == "assistant" else "user", "parts": parts})
    return contents, system_texts


def _declaration(t: Tool) -> dict[str, Any]:
    """A function declaration (Gemini has no strict switch: ``Tool.strict`` does not apply)."""
    declaration: dict[str, Any] = {"name": t.name}
    if t.description is not None:
        declaration["description"] = t.description
    if t.parameters is not None:
        declaration["parametersJsonSchema"] = dict(t.parameters)
    return declaration


def _thinking(req: ChatRequest) -> dict[str, Any] | None:
    r = req.reasoning
    if r is None:
        return None
    if r.effort == "none":
        return {"thinkingBudget": 0}
    config: dict[str, Any] = {"includeThoughts": True}
    if r.budget_tokens is not None:
        config["thinkingBudget"] = r.budget_tokens
    if r.effort is not None:
        config["thinkingLevel"] = _LEVELS[r.effort]
    return config


def _config(req: ChatRequest) -> dict[str, Any]:
    config: dict[str, Any] = {}
    if req.temperature is not None:
        config["temperature"] = req.temperature
    if req.max_tokens is not None:
        config["maxOutputTokens"] = req.max_tokens
    if req.top_p is not None:
        config["topP"] = req.top_p
    if req.top_k is not None:
        config["topK"] = req.top_k
    if req.stop:
        config["stopSequences"] = list(req.stop)
    if req.seed is not None:
        config["seed"] = req.seed
    if req.response_schema is not None:
        config["responseMimeType"] = "application/json"
        config["responseJsonSchema"] = dict(req.response_schema)
    elif req.response_json:
        config["responseMimeType"] = "application/json"
    thinking = _thinking(req)
    if thinking is not None:
        config["thinkingConfig"] = thinking
    return config


def body(req: ChatRequest) -> dict[str, Any]:
    """The JSON body of a ``generateContent`` / ``streamGenerateContent`` request."""
    contents, system_texts = _contents(req)
    out: dict[str, Any] = {"contents": contents}
    if system_texts:
        out["systemInstruction"] = {"parts": [{"text": "\n\n".join(system_texts)}]}
    config = _config(req)
    if config:
        out["generationConfig"] = config
    if req.tools:
        out["tools"] = [{"functionDeclarations": [_declaration(t) for t in req.tools]}]
    if req.tool_choice is not None:
        mode = {"auto": "AUTO", "none": "NONE", "required": "ANY"}.get(req.tool_choice)
        fcc: dict[str, Any] = {"mode": mode or "ANY"}
        if mode is None:
            fcc["allowedFunctionNames"] = [req.tool_choice]
        out["toolConfig"] = {"functionCallingConfig": fcc}
    if req.cached_content is not None:
        out["cachedContent"] = req.cached_content
    if req.extra_body:
        out.update(req.extra_body)
    return out
