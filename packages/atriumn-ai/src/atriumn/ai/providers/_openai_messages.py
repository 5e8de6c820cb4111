"""Messages in the Chat Completions format (OpenAI, Groq, OpenAI-compatible servers): text, images, files and
audio as content parts, cache breakpoints on the part they close, tool calls, and Groq's reasoning.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from atriumn.ai._parts import AudioPart, CachePoint, DocumentPart, ImagePart, ReasoningPart
from atriumn.ai._request import ChatRequest
from atriumn.ai._types import Message, Part, TextPart

from ._capabilities import foreign_reasoning

__all__ = ["message", "messages"]


def _part(p: Part) -> dict[str, Any] | None:
    if isinstance(p, TextPart):
        return {"type": "text", "text": p.text}
    if isinstance(p, ImagePart):
        image: dict[str, Any] = {"url": p.data_url}
        if p.detail is not None:
            image["detail"] = p.detail
        return {"type": "image_url", "image_url": image}
    if isinstance(p, DocumentPart):
        return {"type": "file", "file": {"file_data": p.data_url, "filename": p.filename or "document.pdf"}}
    if isinstance(p, AudioPart):
        return {"type": "input_audio", "input_audio": {"data": p.base64, "format": p.format}}
    return None  # tool calls go in tool_calls; reasoning is not an input part


def content(parts: Sequence[Part], provider: str) -> list[dict[str, Any]]:
    """Content parts; a :class:`CachePoint` puts OpenAI's ``prompt_cache_breakpoint`` on the part before it
    (other servers cache implicitly: the point is left out)."""
    out: list[dict[str, Any]] = []
    for p in parts:
        if isinstance(p, CachePoint):
            if provider == "openai" and out:
                point: dict[str, Any] = {"mode": "explicit"}
                if p.ttl is not None:
                    point["ttl"] = p.ttl
                out[-1]["prompt_cache_breakpoint"] = point
            continue
        wire = _part(p)
        if wire is not None:
            out.append(wire)
    return out


def message(m: Message, provider: str, developer: bool) -> dict[str, Any]:
    """One message in the Chat Completions format."""
    if (m.role == "user" or m.role == "system") and type(m.content) is str and not m.name:  # the common one
        return {"role": m.role, "content": m.content}
    if m.role == "tool":
        return {"role": "tool", "tool_call_id": m.tool_call_id, "content": m.text}
    out: dict[str, Any] = {"role": m.role if m.role != "developer" or developer else "system"}
    if m.name:
        out["name"] = m.name
    parts = () if isinstance(m.content, str) else tuple(p for p in m.content if not foreign_reasoning(provider, p))
    if m.role == "assistant":
        reasoning = "".join(p.text for p in parts if isinstance(p, ReasoningPart))
        if reasoning and provider == "groq":  # Groq takes its parsed reasoning back
            out["reasoning"] = reasoning
        if m.tool_calls:
            out["content"] = m.text or None
            out["tool_calls"] = [
                {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments_json}}
                for c in m.tool_calls
            ]
            return out
        if parts and any(isinstance(p, ReasoningPart) for p in parts):
            out["content"] = m.text
            return out
    out["content"] = m.content if isinstance(m.content, str) else content(parts, provider)
    return out


def messages(req: ChatRequest, provider: str, developer: bool) -> list[dict[str, Any]]:
    """The request's messages, the system prompt first (as parts when it carries a cache point)."""
    out = [message(m, provider, developer) for m in req.messages]
    if req.system_parts and any(isinstance(p, CachePoint) for p in req.system_parts):
        out.insert(0, {"role": "system", "content": content(req.system_parts, provider)})
    elif req.system:
        out.insert(0, {"role": "system", "content": req.system})
    return out
