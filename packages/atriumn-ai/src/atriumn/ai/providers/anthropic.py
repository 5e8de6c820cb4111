"""Anthropic Messages.

Wire facts: ``x-api-key`` and ``anthropic-version: 2023-06-01``; ``max_tokens`` is required (we default it);
``usage.input_tokens`` EXCLUDES cache reads and writes (``cache_read_input_tokens``,
``cache_creation_input_tokens``), so the normalised input is their sum; streams are named SSE events
(``message_start``, ``content_block_start/delta/stop``, ``message_delta``, ``message_stop``) with ``ping`` at
any time and ``event: error`` possible after a 200; 529 ``overloaded_error`` is retried by the core.
Structured output uses ``output_config.format`` (``json_schema``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from atriumn.ai._errors import stream_error
from atriumn.ai._request import ChatRequest
from atriumn.ai._sse import ServerSentEvent
from atriumn.ai._types import (
    ChatResponse,
    Message,
    Part,
    StreamEvent,
    TextDelta,
    TextPart,
    ToolCall,
    ToolCallDelta,
    Usage,
    UsageEvent,
)
from atriumn.core import Operation

from ._base import Adapter, StreamState, build_response, dumps, parse_arguments

__all__ = ["DEFAULT_MAX_TOKENS", "AnthropicAdapter"]

API_VERSION = "2023-06-01"
#: ``max_tokens`` when the caller gives none (the Messages API requires it).
DEFAULT_MAX_TOKENS = 4096
_JSON = {"Content-Type": "application/json"}
_FINISH = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "max_tokens": "length",
    "tool_use": "tool_calls",
    "refusal": "content_filter",
}


def _usage(doc: Mapping[str, Any] | None) -> Usage:
    if not doc:
        return Usage()
    read = int(doc.get("cache_read_input_tokens") or 0)
    write = int(doc.get("cache_creation_input_tokens") or 0)
    return Usage(
        input_tokens=int(doc.get("input_tokens") or 0) + read + write,
        output_tokens=int(doc.get("output_tokens") or 0),
        cache_read_tokens=read,
        cache_write_tokens=write,
        raw=doc,
    )


def _finish(reason: str | None) -> str:
    return "" if reason is None else _FINISH.get(reason, reason)


def _content(m: Message) -> list[dict[str, Any]] | str:
    blocks: list[dict[str, Any]] = []
    if isinstance(m.content, str):
        if not m.tool_calls:
            return m.content
        if m.content:
            blocks.append({"type": "text", "text": m.content})
    else:
        for p in m.content:
            if isinstance(p, TextPart):
                blocks.append({"type": "text", "text": p.text})
    for c in m.tool_calls:
        blocks.append({"type": "tool_use", "id": c.id, "name": c.name, "input": dict(c.arguments)})
    return blocks


class AnthropicAdapter(Adapter):
    """The Messages API."""

    name = "anthropic"
    key_header = "x-api-key"
    key_prefix = ""

    def default_headers(self) -> dict[str, str]:
        return {"anthropic-version": API_VERSION, **self.config.headers}

    def body(self, req: ChatRequest, *, stream: bool) -> dict[str, Any]:
        """The JSON body of a Messages request."""
        system_texts = [req.system] if req.system else []
        messages: list[dict[str, Any]] = []
        for m in req.messages:
            if m.role == "system":
                system_texts.append(m.text)
                continue
            if m.role == "tool":
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
                continue
            messages.append({"role": m.role, "content": _content(m)})
        body: dict[str, Any] = {
            "max_tokens": req.max_tokens if req.max_tokens is not None else DEFAULT_MAX_TOKENS,
            "messages": messages,
            "model": req.model,
        }
        if system_texts:
            body["system"] = "\n\n".join(system_texts)
        if req.temperature is not None:
            body["temperature"] = req.temperature
        if req.top_p is not None:
            body["top_p"] = req.top_p
        if req.top_k is not None:
            body["top_k"] = req.top_k
        if req.stop:
            body["stop_sequences"] = list(req.stop)
        if req.tools:
            body["tools"] = [
                {"name": t.name, "description": t.description, "input_schema": dict(t.parameters)} for t in req.tools
            ]
        if req.tool_choice is not None:
            body["tool_choice"] = (
                {"type": "any"}
                if req.tool_choice == "required"
                else {"type": req.tool_choice}
                if req.tool_choice in ("auto", "none")
                else {"type": "tool", "name": req.tool_choice}
            )
        if req.response_schema is not None:
            body["output_config"] = {"format": {"type": "json_schema", "schema": dict(req.response_schema)}}
        if stream:
            body["stream"] = True
        if req.extra_body:
            body.update(req.extra_body)
        return body

    def chat_operation(self, req: ChatRequest, *, stream: bool) -> Operation[Any]:
        return Operation(
            method="POST",
            path="/v1/messages",
            content=dumps(self.body(req, stream=stream)).encode(),
            headers=_JSON,
            stream=True,
            span_name="anthropic.chat",
        )

    def parse_chat(self, doc: Any, req: ChatRequest) -> ChatResponse:
        parts: list[Part] = []
        for block in doc.get("content") or ():
            kind = block.get("type")
            if kind == "text":
                parts.append(TextPart(text=block.get("text") or ""))
            elif kind == "tool_use":
                parts.append(
                    ToolCall(
                        id=str(block.get("id") or ""),
                        name=str(block.get("name") or ""),
                        arguments=block.get("input") or {},
                    )
                )
        return build_response(
            provider="anthropic",
            model=str(doc.get("model") or req.model),
            parts=parts,
            finish_reason=_finish(doc.get("stop_reason")),
            usage=_usage(doc.get("usage")),
            id=str(doc.get("id") or ""),
            raw=doc,
        )

    def stream_state(self, req: ChatRequest) -> StreamState:
        return _AnthropicStream(req.model)

    def check_operation(self, model: str) -> Operation[Any]:
        return Operation(
            method="GET",
            path="/v1/models/{model}",
            path_params={"model": model},
            stream=True,
            span_name="anthropic.check",
        )


class _AnthropicStream(StreamState):
    def __init__(self, model: str) -> None:
        self.model = model
        self.id = ""
        self.blocks: dict[int, list[Any]] = {}  # index -> [kind, id, name, chunks]
        self.usage_doc: dict[str, Any] = {}
        self.finish_reason = ""
        self.done = False

    @property
    def text(self) -> str:
        return "".join("".join(b[3]) for _, b in sorted(self.blocks.items()) if b[0] == "text")

    def feed(self, event: ServerSentEvent) -> list[StreamEvent]:
        kind = event.event
        if kind == "ping":
            return []
        if kind == "content_block_delta":
            doc = json.loads(event.data)
            delta = doc.get("delta") or {}
            index = doc.get("index", 0)
            block = self.blocks.get(index)
            dtype = delta.get("type")
            if dtype == "text_delta":
                text = delta.get("text") or ""
                if block is None:
                    block = self.blocks[index] = ["text", "", "", []]
                block[3].append(text)
                return [TextDelta(text)] if text else []
            if dtype == "input_json_delta":
                partial = delta.get("partial_json") or ""
                if block is None:
                    block = self.blocks[index] = ["tool_use", "", "", []]
                block[3].append(partial)
                return [ToolCallDelta(index=self._tool_index(index), arguments=partial)] if partial else []
            return []
        doc = json.loads(event.data) if event.data else {}
        if kind == "error" or doc.get("type") == "error":
            raise stream_error("anthropic", doc.get("error") or doc)
        if kind == "message_start":
            message = doc.get("message") or {}
            self.id = message.get("id") or ""
            self.model = message.get("model") or self.model
            self.usage_doc = dict(message.get("usage") or {})
            return [UsageEvent(_usage(self.usage_doc))] if self.usage_doc else []
        if kind == "content_block_start":
            index = doc.get("index", 0)
            cb = doc.get("content_block") or {}
            if cb.get("type") == "tool_use":
                self.blocks[index] = ["tool_use", cb.get("id") or "", cb.get("name") or "", []]
                return [ToolCallDelta(index=self._tool_index(index), id=cb.get("id"), name=cb.get("name"))]
            if cb.get("type") == "text":
                self.blocks[index] = ["text", "", "", [cb.get("text") or ""]]
                return [TextDelta(cb["text"])] if cb.get("text") else []
            self.blocks[index] = [cb.get("type") or "other", "", "", []]
            return []
        if kind == "message_delta":
            delta = doc.get("delta") or {}
            if delta.get("stop_reason"):
                self.finish_reason = _finish(delta["stop_reason"])
            usage = doc.get("usage")
            if usage:
                self.usage_doc.update({k: v for k, v in usage.items() if v is not None})
                return [UsageEvent(_usage(self.usage_doc))]
            return []
        if kind == "message_stop":
            self.done = True
        return []

    def _tool_index(self, block_index: int) -> int:
        """Tool calls are numbered 0, 1, ... among tool blocks (as OpenAI numbers them)."""
        return sum(1 for i, b in self.blocks.items() if b[0] == "tool_use" and i < block_index)

    def finish(self) -> ChatResponse:
        parts: list[Part] = []
        for _, (kind, cid, name, chunks) in sorted(self.blocks.items()):
            if kind == "text":
                parts.append(TextPart(text="".join(chunks)))
            elif kind == "tool_use":
                parts.append(ToolCall(id=cid, name=name, arguments=parse_arguments("".join(chunks), name)))
        return build_response(
            provider="anthropic",
            model=self.model,
            parts=parts,
            finish_reason=self.finish_reason,
            usage=_usage(self.usage_doc),
            id=self.id,
        )
