"""A Messages API request's conversation: content blocks (text, images, documents, thinking sent back exactly
as received, tool use and results), the system prompt, tools, ``cache_control`` breakpoints and the reasoning
controls (``thinking``, ``output_config.effort``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from atriumn.ai._parts import CachePoint, DocumentPart, ImagePart, ReasoningPart
from atriumn.ai._request import ChatRequest
from atriumn.ai._types import Message, Part, TextPart, Tool

from ._base import object_arguments
from ._capabilities import foreign_reasoning

__all__ = ["conversation", "reasoning_fields", "system", "tools"]

_P = "anthropic"


def _control(point: CachePoint) -> dict[str, Any]:
    control: dict[str, Any] = {"type": "ephemeral"}
    if point.ttl is not None:
        control["ttl"] = point.ttl
    return control


def _source(p: ImagePart | DocumentPart) -> dict[str, Any]:
    if p.url is not None:
        return {"type": "url", "url": p.url}
    return {"type": "base64", "media_type": p.media_type, "data": p.base64}


def _block(p: Part) -> dict[str, Any] | None:
    if isinstance(p, TextPart):
        return {"type": "text", "text": p.text}
    if isinstance(p, ImagePart):
        return {"type": "image", "source": _source(p)}
    if isinstance(p, DocumentPart):
        if p.url is None and p.media_type == "text/plain":  # a base64 source takes PDFs only
            text = p.data.decode("utf-8", "replace") if p.data is not None else ""
            return {"type": "document", "source": {"type": "text", "media_type": "text/plain", "data": text}}
        return {"type": "document", "source": _source(p)}
    if isinstance(p, ReasoningPart):
        if p.redacted:
            return {"type": "redacted_thinking", "data": p.data or ""}
        return {"type": "thinking", "thinking": p.text, "signature": p.signature or ""}
    return None


def blocks(parts: Sequence[Part]) -> list[dict[str, Any]]:
    """Content blocks; a :class:`CachePoint` puts ``cache_control`` on the block before it."""
    out: list[dict[str, Any]] = []
    for p in parts:
        if isinstance(p, CachePoint):
            if out:
                out[-1]["cache_control"] = _control(p)
            continue
        if foreign_reasoning(_P, p):
            continue
        block = _block(p)
        if block is not None:
            out.append(block)
    return out


def _content(m: Message, where: str) -> list[dict[str, Any]] | str:
    out: list[dict[str, Any]]
    if isinstance(m.content, str):
        if not m.tool_calls:
            return m.content
        out = [{"type": "text", "text": m.content}] if m.content else []
    else:
        out = blocks(m.content)
    for j, c in enumerate(m.tool_calls):
        args = object_arguments(c, f"{where}.tool_calls[{j}]", _P)
        out.append({"type": "tool_use", "id": c.id, "name": c.name, "input": args})
    return out


def _tool_result(m: Message, messages: list[dict[str, Any]]) -> None:
    block: dict[str, Any] = {"type": "tool_result", "tool_use_id": m.tool_call_id, "content": m.text}
    if m.is_error:
        block["is_error"] = True
    last = messages[-1] if messages else None
    if (
        last is not None
        and last["role"] == "user"
        and isinstance(last["content"], list)
        and last["content"]
        and last["content"][-1].get("type") == "tool_result"
    ):
        last["content"].append(block)
    else:
        messages.append({"role": "user", "content": [block]})


def conversation(req: ChatRequest) -> tuple[list[dict[str, Any]], list[str], dict[str, Any] | None]:
    """``(messages, system texts found among them, top-level cache_control)``: a :class:`CachePoint` that
    closes the whole prompt (the last part of the last message) becomes the request's ``cache_control``."""
    closing = req.messages[-1].content if req.messages else ""
    top: dict[str, Any] | None = None
    last_content = closing if not isinstance(closing, str) else ()
    if last_content and isinstance(last_content[-1], CachePoint):
        top = _control(last_content[-1])
    messages: list[dict[str, Any]] = []
    system_texts: list[str] = []
    for i, m in enumerate(req.messages):
        if m.role in ("system", "developer"):
            system_texts.append(m.text)
            continue
        if m.role == "tool":
            _tool_result(m, messages)
            continue
        if top is not None and i == len(req.messages) - 1 and not isinstance(m.content, str):
            m = Message(role=m.role, content=m.content[:-1], tool_calls=m.tool_calls, name=m.name)
        messages.append({"role": m.role, "content": _content(m, f"messages[{i}]")})
    return messages, system_texts, top


def system(req: ChatRequest, extra: list[str]) -> str | list[dict[str, Any]] | None:
    """The ``system`` field: text, or text blocks when a :class:`CachePoint` marks part of it."""
    if any(isinstance(p, CachePoint) for p in req.system_parts):
        out = blocks(req.system_parts)
        out.extend({"type": "text", "text": t} for t in extra)
        return out
    texts = ([req.system] if req.system else []) + extra
    return "\n\n".join(texts) if texts else None


def tools(req: ChatRequest) -> list[dict[str, Any]]:
    """The tools, ``cache_control`` on each tool a :class:`CachePoint` follows."""
    out = [_tool(t) for t in req.tools]
    for index, point in req.tool_cache_points.items():
        out[index]["cache_control"] = _control(point)
    return out


def _tool(t: Tool) -> dict[str, Any]:
    schema = dict(t.parameters) if t.parameters is not None else {"type": "object", "properties": {}}
    tool: dict[str, Any] = {"name": t.name, "input_schema": schema}  # the API requires a schema
    if t.description is not None:
        tool["description"] = t.description
    if t.strict is not None:
        tool["strict"] = t.strict
    tool.update(t.provider_fields.get("anthropic", {}))
    return tool


def reasoning_fields(req: ChatRequest) -> dict[str, Any]:
    """``thinking`` and ``output_config.effort`` from a :class:`Reasoning`: a budget enables thinking with it;
    an effort alone makes thinking adaptive at that effort; ``effort="none"`` disables thinking."""
    r = req.reasoning
    if r is None:
        return {}
    if r.effort == "none":
        return {"thinking": {"type": "disabled"}}
    fields: dict[str, Any] = {}
    if r.budget_tokens is not None:
        fields["thinking"] = {"type": "enabled", "budget_tokens": r.budget_tokens}
    else:
        fields["thinking"] = {"type": "adaptive"}
    if r.effort is not None:
        fields["output_config"] = {"effort": r.effort}
    return fields
