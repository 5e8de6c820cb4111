"""Anthropic Messages.

Wire facts: ``x-api-key`` and ``anthropic-version: 2023-06-01``; ``max_tokens`` is required (we default it);
``usage.input_tokens`` EXCLUDES cache reads and writes (``cache_read_input_tokens``,
``cache_creation_input_tokens``), so the normalised input is their sum; streams are named SSE events
(``message_start``, ``content_block_start/delta/stop``, ``message_delta``, ``message_stop``) with ``ping`` at
any time and ``event: error`` possible after a 200; 529 ``overloaded_error`` is retried by the core.
Structured output uses ``output_config.format`` (``json_schema``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from atriumn.ai._errors import UnsupportedParameterError, stream_error
from atriumn.ai._parts import ReasoningPart
from atriumn.ai._request import ChatRequest, tool_call_from_text
from atriumn.ai._sse import ServerSentEvent
from atriumn.ai._types import (
    ChatResponse,
    Part,
    ReasoningDelta,
    StreamEvent,
    TextDelta,
    TextPart,
    ToolCall,
    ToolCallDelta,
    Usage,
    UsageEvent,
)
from atriumn.core import Operation

from ._anthropic_messages import conversation, reasoning_fields, system, tools
from ._base import Adapter, StreamState, build_response
from ._read import bad_shape, count, items, load_json, obj, text

__all__ = ["DEFAULT_MAX_TOKENS", "AnthropicAdapter"]

API_VERSION = "2023-06-01"
#: ``max_tokens`` when the caller gives none (the Messages API requires it).
DEFAULT_MAX_TOKENS = 4096
_FINISH = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "max_tokens": "length",
    "tool_use": "tool_calls",
    "refusal": "content_filter",
}
_P = "anthropic"


def _usage(doc: Any, path: str) -> Usage:
    doc = obj(doc, path, _P)
    if not doc:
        return Usage()
    read = count(doc.get("cache_read_input_tokens"), f"{path}.cache_read_input_tokens", _P)
    write = count(doc.get("cache_creation_input_tokens"), f"{path}.cache_creation_input_tokens", _P)
    details = obj(doc.get("output_tokens_details"), f"{path}.output_tokens_details", _P)
    return Usage(
        input_tokens=count(doc.get("input_tokens"), f"{path}.input_tokens", _P) + read + write,
        output_tokens=count(doc.get("output_tokens"), f"{path}.output_tokens", _P),
        cache_read_tokens=read,
        cache_write_tokens=write,
        # Part of output_tokens, as Anthropic reports it (thinking is billed as output).
        reasoning_tokens=count(details.get("thinking_tokens"), f"{path}.output_tokens_details.thinking_tokens", _P),
        raw=doc,
    )


def _finish(reason: str) -> str:
    return _FINISH.get(reason, reason)


class AnthropicAdapter(Adapter):
    """The Messages API."""

    name = "anthropic"
    key_header = "x-api-key"
    key_prefix = ""

    def default_headers(self) -> dict[str, str]:
        return {"anthropic-version": API_VERSION, **self.config.headers}

    def body(self, req: ChatRequest, *, stream: bool) -> dict[str, Any]:
        """The JSON body of a Messages request."""
        messages, system_texts, top_cache = conversation(req)
        body: dict[str, Any] = {
            "max_tokens": req.max_tokens if req.max_tokens is not None else DEFAULT_MAX_TOKENS,
            "messages": messages,
            "model": req.model,
        }
        system_field = system(req, system_texts)
        if system_field:
            body["system"] = system_field
        if top_cache is not None:
            body["cache_control"] = top_cache
        if req.temperature is not None:
            body["temperature"] = req.temperature
        if req.top_p is not None:
            body["top_p"] = req.top_p
        if req.top_k is not None:
            body["top_k"] = req.top_k
        if req.stop:
            body["stop_sequences"] = list(req.stop)
        if req.tools:
            body["tools"] = tools(req)
        if req.tool_choice is not None:
            body["tool_choice"] = (
                {"type": "any"}
                if req.tool_choice == "required"
                else {"type": req.tool_choice}
                if req.tool_choice in ("auto", "none")
                else {"type": "tool", "name": req.tool_choice}
            )
        if req.response_json:
            raise UnsupportedParameterError(
                "response_format", req.full_model, "Anthropic has no JSON mode without a schema: give a JSON Schema"
            )
        body.update(reasoning_fields(req))
        if req.response_schema is not None:
            output = body.setdefault("output_config", {})
            output["format"] = {"type": "json_schema", "schema": dict(req.response_schema)}
        if stream:
            body["stream"] = True
        if req.extra_body:
            body.update(req.extra_body)
        return body

    def chat_operation(self, req: ChatRequest, *, stream: bool) -> Operation[Any]:
        return self.chat_json_operation(req, "/v1/messages", self.body(req, stream=stream), stream=stream)

    def parse_chat(self, doc: Any, req: ChatRequest) -> ChatResponse:
        doc = obj(doc, "$", _P)
        if "content" not in doc:  # not a message at all
            raise bad_shape(_P, "$.content", "a list", None)
        parts: list[Part] = []
        for i, block in enumerate(items(doc.get("content"), "$.content", _P)):
            where = f"$.content[{i}]"
            block = obj(block, where, _P)
            kind = block.get("type")
            if kind == "text":
                parts.append(TextPart(text=text(block.get("text"), f"{where}.text", _P)))
            elif kind == "tool_use":
                parts.append(
                    ToolCall(
                        id=text(block.get("id"), f"{where}.id", _P),
                        name=text(block.get("name"), f"{where}.name", _P),
                        arguments=obj(block.get("input"), f"{where}.input", _P),
                    )
                )
            elif kind == "thinking":
                thought = text(block.get("thinking"), f"{where}.thinking", _P)
                signature = text(block.get("signature"), f"{where}.signature", _P)
                parts.append(ReasoningPart(text=thought, signature=signature or None, provider=_P))
            elif kind == "redacted_thinking":
                data = text(block.get("data"), f"{where}.data", _P)
                parts.append(ReasoningPart(redacted=True, data=data, provider=_P))
        return build_response(
            provider=_P,
            model=text(doc.get("model"), "$.model", _P) or req.model,
            parts=parts,
            finish_reason=_finish(text(doc.get("stop_reason"), "$.stop_reason", _P)),
            usage=_usage(doc.get("usage"), "$.usage"),
            id=text(doc.get("id"), "$.id", _P),
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
        doc = load_json(event.data, _P, "a stream event") if event.data else {}
        if not isinstance(doc, dict):
            raise bad_shape(_P, "$", "an object (a stream event)", doc)
        if kind == "content_block_delta":
            return self._delta(doc)
        if kind == "error" or doc.get("type") == "error":
            raise stream_error(_P, doc.get("error") or doc)
        if kind == "message_start":
            message = obj(doc.get("message"), "$.message", _P)
            self.id = text(message.get("id"), "$.message.id", _P)
            self.model = text(message.get("model"), "$.message.model", _P) or self.model
            self.usage_doc = dict(obj(message.get("usage"), "$.message.usage", _P))
            return [UsageEvent(_usage(self.usage_doc, "$.message.usage"))] if self.usage_doc else []
        if kind == "content_block_start":
            return self._block_start(doc)
        if kind == "message_delta":
            delta = obj(doc.get("delta"), "$.delta", _P)
            reason = text(delta.get("stop_reason"), "$.delta.stop_reason", _P)
            if reason:
                self.finish_reason = _finish(reason)
            usage = obj(doc.get("usage"), "$.usage", _P)
            if usage:
                self.usage_doc.update({k: v for k, v in usage.items() if v is not None})
                return [UsageEvent(_usage(self.usage_doc, "$.usage"))]
            return []
        if kind == "message_stop":
            self.done = True
        return []

    def _index(self, doc: Mapping[str, Any]) -> int:
        return count(doc.get("index"), "$.index", _P)

    def _delta(self, doc: Mapping[str, Any]) -> list[StreamEvent]:
        delta = obj(doc.get("delta"), "$.delta", _P)
        index = self._index(doc)
        block = self.blocks.get(index)
        dtype = delta.get("type")
        if dtype == "text_delta":
            chunk = text(delta.get("text"), "$.delta.text", _P)
            if block is None:
                block = self.blocks[index] = ["text", "", "", []]
            block[3].append(chunk)
            return [TextDelta(chunk)] if chunk else []
        if dtype == "thinking_delta":
            thought = text(delta.get("thinking"), "$.delta.thinking", _P)
            if block is None:
                block = self.blocks[index] = ["thinking", "", "", []]
            block[3].append(thought)
            return [ReasoningDelta(thought)] if thought else []
        if dtype == "signature_delta":
            if block is not None:
                block[1] += text(delta.get("signature"), "$.delta.signature", _P)  # a thinking block's signature
            return []
        if dtype == "input_json_delta":
            partial = text(delta.get("partial_json"), "$.delta.partial_json", _P)
            if block is None:
                block = self.blocks[index] = ["tool_use", "", "", []]
            block[3].append(partial)
            return [ToolCallDelta(index=self._tool_index(index), arguments=partial)] if partial else []
        return []

    def _block_start(self, doc: Mapping[str, Any]) -> list[StreamEvent]:
        index = self._index(doc)
        cb = obj(doc.get("content_block"), "$.content_block", _P)
        kind = cb.get("type")
        if kind == "tool_use":
            cid = text(cb.get("id"), "$.content_block.id", _P)
            name = text(cb.get("name"), "$.content_block.name", _P)
            self.blocks[index] = ["tool_use", cid, name, []]
            return [ToolCallDelta(index=self._tool_index(index), id=cid, name=name)]
        if kind == "text":
            first = text(cb.get("text"), "$.content_block.text", _P)
            self.blocks[index] = ["text", "", "", [first]]
            return [TextDelta(first)] if first else []
        if kind == "thinking":
            first = text(cb.get("thinking"), "$.content_block.thinking", _P)
            signature = text(cb.get("signature"), "$.content_block.signature", _P)
            self.blocks[index] = ["thinking", signature, "", [first]]
            return [ReasoningDelta(first)] if first else []
        if kind == "redacted_thinking":
            self.blocks[index] = ["redacted_thinking", text(cb.get("data"), "$.content_block.data", _P), "", []]
            return []
        self.blocks[index] = [text(kind, "$.content_block.type", _P) or "other", "", "", []]
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
                parts.append(tool_call_from_text(cid, name, "".join(chunks)))
            elif kind == "thinking":
                parts.append(ReasoningPart(text="".join(chunks), signature=cid or None, provider=_P))
            elif kind == "redacted_thinking":
                parts.append(ReasoningPart(redacted=True, data=cid, provider=_P))
        return build_response(
            provider=_P,
            model=self.model,
            parts=parts,
            finish_reason=self.finish_reason,
            usage=_usage(self.usage_doc, "$.usage"),
            id=self.id,
        )
