"""The normalised chat request (sans-IO): what every adapter builds its wire body from.

Normalising user input happens here once: message dicts in OpenAI's shape, strings, :class:`Message` objects,
tools as :class:`Tool`, callables or dicts, response formats as JSON Schema or attrs classes.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from ._types import Message, Part, TextPart, Tool, ToolCall

__all__ = ["ChatRequest", "normalize_messages", "normalize_response_format", "normalize_tools"]


@dataclasses.dataclass(frozen=True, kw_only=True)
class ChatRequest:
    """One chat call for one model, provider-neutral."""

    provider: str
    model: str
    messages: tuple[Message, ...]
    system: str | None = None
    temperature: float | None = None
    max_tokens: int | None = None
    top_p: float | None = None
    top_k: int | None = None
    stop: tuple[str, ...] | None = None
    seed: int | None = None
    tools: tuple[Tool, ...] = ()
    tool_choice: str | None = None
    response_schema: Mapping[str, Any] | None = None
    response_name: str = "response"
    response_type: Any = None
    extra_body: Mapping[str, Any] | None = None

    @property
    def full_model(self) -> str:
        """``provider:model``."""
        return f"{self.provider}:{self.model}"

    def sampling(self) -> dict[str, Any]:
        """The optional parameters a capability check looks at."""
        return {"temperature": self.temperature, "top_p": self.top_p, "top_k": self.top_k, "seed": self.seed}

    def cache_key(self, base_url: str) -> str:
        """An exact-match key over the whole normalised request (provider, base URL, model, every parameter)."""
        doc = {
            "provider": self.provider,
            "base_url": base_url,
            "model": self.model,
            "messages": [_message_doc(m) for m in self.messages],
            "system": self.system,
            "temperature": self.temperature,
            "max_tokens": self.max_tokens,
            "top_p": self.top_p,
            "top_k": self.top_k,
            "stop": self.stop,
            "seed": self.seed,
            "tools": [{"name": t.name, "description": t.description, "parameters": t.parameters} for t in self.tools],
            "tool_choice": self.tool_choice,
            "response_schema": self.response_schema,
            "extra_body": self.extra_body,
        }
        text = json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
        return hashlib.sha256(text.encode()).hexdigest()


def _message_doc(m: Message) -> dict[str, Any]:
    content: Any = m.content
    if not isinstance(content, str):
        content = [
            {"text": p.text} if isinstance(p, TextPart) else {"id": p.id, "name": p.name, "args": p.arguments}
            for p in content
        ]
    return {
        "role": m.role,
        "content": content,
        "tool_calls": [{"id": c.id, "name": c.name, "args": c.arguments} for c in m.tool_calls],
        "tool_call_id": m.tool_call_id,
        "name": m.name,
        "is_error": m.is_error,
    }


def _tool_call_from_dict(d: Mapping[str, Any]) -> ToolCall:
    fn = d.get("function")
    if isinstance(fn, Mapping):  # OpenAI's shape
        args = fn.get("arguments") or "{}"
        return ToolCall(
            id=str(d.get("id", "")), name=str(fn["name"]), arguments=json.loads(args) if isinstance(args, str) else args
        )
    return ToolCall(id=str(d.get("id", "")), name=str(d["name"]), arguments=d.get("arguments") or {})


def _parts(content: Any) -> str | tuple[Part, ...]:
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    parts: list[Part] = []
    for item in content:
        if isinstance(item, (TextPart, ToolCall)):
            parts.append(item)
        elif isinstance(item, Mapping) and item.get("type", "text") == "text":
            parts.append(TextPart(text=str(item.get("text", ""))))
        elif isinstance(item, str):
            parts.append(TextPart(text=item))
        else:
            raise ValueError(f"messages: unsupported content part {item!r}")
    return tuple(parts)


def normalize_messages(messages: str | Message | Mapping[str, Any] | Iterable[Any]) -> tuple[Message, ...]:
    """Messages from a string (one user message), :class:`Message` objects, or OpenAI-style dicts."""
    if isinstance(messages, str):
        return (Message(role="user", content=messages),)
    if isinstance(messages, (Message, Mapping)):
        messages = [messages]
    out: list[Message] = []
    for i, m in enumerate(messages):
        if isinstance(m, Message):
            out.append(m)
        elif isinstance(m, str):
            out.append(Message(role="user", content=m))
        elif isinstance(m, Mapping):
            role = m.get("role")
            if role not in ("system", "user", "assistant", "tool", "developer"):
                raise ValueError(f"messages[{i}].role: expected system, user, assistant or tool, got {role!r}")
            calls = tuple(
                c if isinstance(c, ToolCall) else _tool_call_from_dict(c) for c in (m.get("tool_calls") or ())
            )
            out.append(
                Message(
                    role="system" if role == "developer" else role,
                    content=_parts(m.get("content")),
                    tool_calls=calls,
                    tool_call_id=m.get("tool_call_id"),
                    name=m.get("name"),
                    is_error=bool(m.get("is_error", False)),
                )
            )
        else:
            raise ValueError(f"messages[{i}]: expected a Message, a dict or a string, got {type(m).__name__}")
    if not out:
        raise ValueError("messages: must not be empty")
    for i, msg in enumerate(out):
        if msg.role == "tool" and not msg.tool_call_id:
            raise ValueError(f"messages[{i}].tool_call_id: a tool message must name the call it answers")
    return tuple(out)


def normalize_tools(tools: Sequence[Tool | Callable[..., Any] | Mapping[str, Any]] | None) -> tuple[Tool, ...]:
    """Tools from :class:`Tool`, typed callables, or dicts (``{"name", "description", "parameters"}`` or
    OpenAI's ``{"type": "function", "function": {...}}``)."""
    if not tools:
        return ()
    out: list[Tool] = []
    for i, t in enumerate(tools):
        if isinstance(t, Tool):
            out.append(t)
        elif isinstance(t, Mapping):
            spec = t.get("function") if isinstance(t.get("function"), Mapping) else t
            assert isinstance(spec, Mapping)
            if not spec.get("name"):
                raise ValueError(f"tools[{i}].name: required")
            out.append(
                Tool(
                    name=str(spec["name"]),
                    description=str(spec.get("description") or ""),
                    parameters=spec.get("parameters")
                    or spec.get("input_schema")
                    or {"type": "object", "properties": {}},
                )
            )
        elif callable(t):
            out.append(Tool.from_function(t))
        else:
            raise ValueError(f"tools[{i}]: expected a Tool, a callable or a dict, got {type(t).__name__}")
    names = [t.name for t in out]
    for name in names:
        if names.count(name) > 1:
            raise ValueError(f"tools: duplicate tool name {name!r}")
    return tuple(out)


def normalize_response_format(response_format: Any) -> tuple[Mapping[str, Any] | None, str, Any]:
    """``(json schema, name, attrs class or None)`` from a JSON Schema dict, an OpenAI ``response_format``
    dict, or an attrs class."""
    if response_format is None:
        return None, "response", None
    if isinstance(response_format, type):
        import attrs

        if not attrs.has(response_format):
            raise ValueError("response_format: expected a JSON Schema dict or an attrs class")
        from ._schema import schema_for_type

        return schema_for_type(response_format), response_format.__name__, response_format
    if isinstance(response_format, Mapping):
        if response_format.get("type") == "json_schema" and isinstance(response_format.get("json_schema"), Mapping):
            js = response_format["json_schema"]
            return js.get("schema") or {}, str(js.get("name") or "response"), None
        return response_format, str(response_format.get("title") or "response"), None
    raise ValueError("response_format: expected a JSON Schema dict or an attrs class")
