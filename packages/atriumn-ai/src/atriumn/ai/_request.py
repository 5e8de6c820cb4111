"""The normalised chat request (sans-IO): what every adapter builds its wire body from.

Normalising user input happens here once: message dicts in OpenAI's shape, strings, :class:`Message` objects,
tools as :class:`Tool`, callables or dicts, response formats as JSON Schema or attrs classes.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from atriumn.core import ValidationError

from ._content import content_parts
from ._parts import CachePoint, Reasoning
from ._types import Message, Part, TextPart, Tool, ToolCall

__all__ = [
    "ChatRequest",
    "ResponseFormat",
    "normalize_messages",
    "normalize_response_format",
    "normalize_system",
    "normalize_tools",
    "tool_call_from_text",
]


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
    response_strict: bool | None = None
    response_description: str | None = None
    response_json: bool = False
    reasoning: Reasoning | None = None
    system_parts: tuple[Part, ...] = ()
    tool_cache_points: Mapping[int, CachePoint] = dataclasses.field(default_factory=dict)
    cached_content: str | None = None
    prompt_cache_key: str | None = None
    prompt_cache_options: Mapping[str, Any] | None = None
    extra_body: Mapping[str, Any] | None = None
    # Call options (not part of the request's meaning, nor of its cache key):
    record_content: bool = False
    replay_unsafe: bool = True
    request_options: Mapping[str, Any] | None = None

    @functools.cached_property
    def full_model(self) -> str:
        """``provider:model``."""
        return f"{self.provider}:{self.model}"

    def with_messages(self, messages: tuple[Message, ...]) -> ChatRequest:
        """This request with other (normalized) messages: a copy that skips ``__init__``, every other field being
        this checked request's (the plan cache builds each call's request from a template this way)."""
        new = object.__new__(ChatRequest)
        new.__dict__.update(self.__dict__)
        new.__dict__["messages"] = messages
        return new

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
            "tools": [
                {
                    "name": t.name,
                    "description": t.description,
                    "parameters": t.parameters,
                    "strict": t.strict,
                    "fields": t.provider_fields,
                    "typed": t.from_type,
                }
                for t in self.tools
            ],
            "tool_choice": self.tool_choice,
            "response_schema": self.response_schema,
            "response_strict": self.response_strict,
            "response_description": self.response_description,
            "response_json": self.response_json,
            "reasoning": [self.reasoning.effort, self.reasoning.budget_tokens] if self.reasoning else None,
            "system_parts": [_part_doc(p) for p in self.system_parts],
            "tool_cache_points": {str(i): c.ttl for i, c in self.tool_cache_points.items()},
            "cached_content": self.cached_content,
            "prompt_cache_key": self.prompt_cache_key,
            "prompt_cache_options": self.prompt_cache_options,
            "response_typed": self.response_type is not None,
            "extra_body": self.extra_body,
        }
        text = json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
        return hashlib.sha256(text.encode()).hexdigest()


def _part_doc(p: Part) -> dict[str, Any]:
    """A part as it counts for the cache key (media by content hash, not by bytes)."""
    if isinstance(p, TextPart):
        return {"text": p.text}
    if isinstance(p, ToolCall):
        return {"id": p.id, "name": p.name, "args": p.arguments_json}
    doc: dict[str, Any] = {"type": p.type}
    for name in ("url", "media_type", "detail", "filename", "text", "signature", "redacted", "data", "ttl"):
        value = getattr(p, name, None)
        if isinstance(value, bytes | bytearray | memoryview):
            value = hashlib.sha256(value).hexdigest()
        if value is not None:
            doc[name] = value
    return doc


def _message_doc(m: Message) -> dict[str, Any]:
    content: Any = m.content
    if not isinstance(content, str):
        content = [_part_doc(p) for p in content]
    return {
        "role": m.role,
        "content": content,
        "tool_calls": [{"id": c.id, "name": c.name, "args": c.arguments_json} for c in m.tool_calls],
        "tool_call_id": m.tool_call_id,
        "name": m.name,
        "is_error": m.is_error,
    }


def tool_call_from_text(id: str, name: str, text: str) -> ToolCall:
    """A tool call whose arguments came as JSON text: parsed when they are a JSON object, and the text kept
    as received either way (see :attr:`ToolCall.raw_arguments`)."""
    arguments: Any = {}
    if text.strip():
        try:
            arguments = json.loads(text)
        except (ValueError, RecursionError):  # kept as received (raw_arguments); arguments_error says why
            arguments = {}
    return ToolCall(id=id, name=name, arguments=arguments if isinstance(arguments, dict) else {}, raw_arguments=text)


def _tool_call_from_dict(d: Mapping[str, Any], where: str) -> ToolCall:
    fn = d.get("function")
    spec = fn if isinstance(fn, Mapping) else d  # OpenAI's shape, or ours
    name = spec.get("name")
    if not isinstance(name, str) or not name:
        raise ValidationError(f"{where}.name: a tool call must name its function")
    args = spec.get("arguments")
    if args is None:
        args = {}
    if isinstance(args, str):
        return tool_call_from_text(str(d.get("id", "")), name, args)
    if not isinstance(args, Mapping):
        raise ValidationError(f"{where}.arguments: expected a JSON object or JSON text, got {type(args).__name__}")
    return ToolCall(id=str(d.get("id", "")), name=name, arguments=args)


_TEXT_ROLES = frozenset({"system", "user", "assistant", "developer"})


def normalize_messages(messages: str | Message | Mapping[str, Any] | Iterable[Any]) -> tuple[Message, ...]:
    """Messages from a string (one user message), :class:`Message` objects, or OpenAI-style dicts."""
    if isinstance(messages, str):
        return (Message(role="user", content=messages),)
    if type(messages) is not list and isinstance(messages, (Message, Mapping)):
        messages = [messages]
    out: list[Message] = []
    for i, m in enumerate(messages):
        if isinstance(m, Message):
            out.append(m)
        elif isinstance(m, str):
            out.append(Message(role="user", content=m))
        elif (
            type(m) is dict
            and len(m) == 2
            and type(m.get("content")) is str
            and type(m.get("role")) is str
            and m["role"] in _TEXT_ROLES
        ):
            out.append(Message(role=m["role"], content=m["content"]))  # {"role": ..., "content": "..."}: the common one
        elif isinstance(m, Mapping):
            role = m.get("role")
            if role not in ("system", "user", "assistant", "tool", "developer"):
                raise ValidationError(f"messages[{i}].role: expected system, user, assistant or tool, got {role!r}")
            calls = tuple(
                c if isinstance(c, ToolCall) else _tool_call_from_dict(c, f"messages[{i}].tool_calls[{j}]")
                for j, c in enumerate(m.get("tool_calls") or ())
            )
            out.append(
                Message(
                    role=role,
                    content=content_parts(m.get("content"), f"messages[{i}].content"),
                    tool_calls=calls,
                    tool_call_id=m.get("tool_call_id"),
                    name=m.get("name"),
                    is_error=bool(m.get("is_error", False)),
                )
            )
        else:
            raise ValidationError(f"messages[{i}]: expected a Message, a dict or a string, got {type(m).__name__}")
    if not out:
        raise ValidationError("messages: must not be empty")
    for i, msg in enumerate(out):
        if msg.role == "tool" and not msg.tool_call_id:
            raise ValidationError(f"messages[{i}].tool_call_id: a tool message must name the call it answers")
    return tuple(out)


# The fields each dict shape of a tool definition has a place for in :class:`Tool`.
_OPENAI_TOOL_FIELDS = frozenset({"name", "description", "parameters", "strict"})
_ANTHROPIC_TOOL_FIELDS = frozenset({"name", "description", "input_schema", "strict"})


def _tool_from_dict(t: Mapping[str, Any], i: int) -> Tool:
    """A tool from OpenAI's ``{"type": "function", "function": {...}}``, Anthropic's ``{"name", "input_schema",
    ...}`` or the flat ``{"name", "description", "parameters"}``; every other field is kept for its wire format."""
    if isinstance(t.get("function"), Mapping):
        spec, wire, known = t["function"], "openai", _OPENAI_TOOL_FIELDS
    elif "input_schema" in t:
        spec, wire, known = t, "anthropic", _ANTHROPIC_TOOL_FIELDS
    else:
        spec, wire, known = t, "openai", _OPENAI_TOOL_FIELDS | {"type"}
    name = spec.get("name")
    if not isinstance(name, str) or not name:
        raise ValidationError(f"tools[{i}].name: required")
    parameters = spec.get("parameters", spec.get("input_schema"))
    if parameters is not None and not isinstance(parameters, Mapping):
        raise ValidationError(f"tools[{i}].parameters: expected a JSON Schema object")
    description = spec.get("description")
    if description is not None and not isinstance(description, str):
        raise ValidationError(f"tools[{i}].description: expected a string")
    strict = spec.get("strict")
    if strict is not None and not isinstance(strict, bool):
        raise ValidationError(f"tools[{i}].strict: expected true or false, got {strict!r}")
    extra = {k: v for k, v in spec.items() if k not in known}
    return Tool(
        name=name,
        description=description,
        parameters=parameters,
        strict=strict,
        provider_fields={wire: extra} if extra else {},
    )


def normalize_tools(
    tools: Sequence[Tool | Callable[..., Any] | Mapping[str, Any] | CachePoint] | None,
) -> tuple[tuple[Tool, ...], dict[int, CachePoint]]:
    """Tools from :class:`Tool`, typed callables, or dicts (``{"name", "description", "parameters"}``,
    OpenAI's ``{"type": "function", "function": {...}}`` or Anthropic's ``{"name", "input_schema", ...}``), and
    the cache points among them (by the index of the tool each one follows)."""
    if not tools:
        return (), {}
    out: list[Tool] = []
    points: dict[int, CachePoint] = {}
    for i, t in enumerate(tools):
        if isinstance(t, CachePoint):
            if not out:
                raise ValidationError(f"tools[{i}]: a CachePoint must follow a tool")
            points[len(out) - 1] = t
        elif isinstance(t, Tool):
            out.append(t)
        elif isinstance(t, Mapping):
            out.append(_tool_from_dict(t, i))
        elif callable(t):
            out.append(Tool.from_function(t))
        else:
            raise ValidationError(f"tools[{i}]: expected a Tool, a callable or a dict, got {type(t).__name__}")
    names = [t.name for t in out]
    for name in names:
        if names.count(name) > 1:
            raise ValidationError(f"tools: duplicate tool name {name!r}")
    return tuple(out), points


def normalize_system(system: Any) -> tuple[str | None, tuple[Part, ...]]:
    """``system=``: a string, or a sequence of strings, :class:`TextPart` s and :class:`CachePoint` s. Returns the
    text (parts joined by blank lines) and the parts."""
    if system is None:
        return None, ()
    if isinstance(system, str):
        return system, ()
    if isinstance(system, TextPart | CachePoint):
        system = [system]
    parts: list[Part] = []
    for j, item in enumerate(system):
        if isinstance(item, str):
            parts.append(TextPart(text=item))
        elif isinstance(item, TextPart | CachePoint):
            parts.append(item)
        else:
            raise ValidationError(f"system[{j}]: expected text or a CachePoint, got {type(item).__name__}")
    text = "\n\n".join(p.text for p in parts if isinstance(p, TextPart))
    return text or None, tuple(parts)


@dataclasses.dataclass(frozen=True)
class ResponseFormat:
    """A normalised ``response_format``: the schema, its name, the class to structure into (if any), and the
    ``strict`` and ``description`` given with an OpenAI-style ``json_schema`` dict."""

    schema: Mapping[str, Any] | None = None
    name: str = "response"
    type: Any = None
    strict: bool | None = None
    description: str | None = None
    json_mode: bool = False


def normalize_response_format(response_format: Any) -> ResponseFormat:
    """The :class:`ResponseFormat` of a JSON Schema dict, an OpenAI ``response_format`` dict
    (``{"type": "json_schema", "json_schema": {"name", "schema", "strict", "description"}}``, JSON mode
    ``{"type": "json_object"}`` or ``{"type": "text"}``), or a class: attrs, dataclass, TypedDict or pydantic."""
    if response_format is None:
        return ResponseFormat()
    if isinstance(response_format, type):
        from ._structured import check_output_type, schema_of

        check_output_type(response_format)
        return ResponseFormat(schema_of(response_format), response_format.__name__, response_format)
    if isinstance(response_format, Mapping):
        kind = response_format.get("type")
        if kind == "json_object":  # OpenAI's JSON mode: any JSON object, no schema
            return ResponseFormat(json_mode=True)
        if kind == "text" and len(response_format) == 1:
            return ResponseFormat()
        if kind == "json_schema" and isinstance(response_format.get("json_schema"), Mapping):
            js = response_format["json_schema"]
            strict = js.get("strict")
            if strict is not None and not isinstance(strict, bool):
                raise ValidationError(f"response_format.json_schema.strict: expected true or false, got {strict!r}")
            description = js.get("description")
            return ResponseFormat(
                js.get("schema") or {},
                str(js.get("name") or "response"),
                None,
                strict,
                str(description) if description is not None else None,
            )
        return ResponseFormat(response_format, str(response_format.get("title") or "response"))
    raise ValidationError(
        "response_format: expected a JSON Schema dict, an OpenAI response_format dict, or a class (attrs, dataclass, "
        "TypedDict, pydantic)"
    )
