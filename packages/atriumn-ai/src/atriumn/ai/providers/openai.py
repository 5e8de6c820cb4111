"""OpenAI Chat Completions (also Groq, under ``/openai/v1``, and any OpenAI-compatible server).

Wire facts: ``usage.prompt_tokens`` includes cached tokens (``prompt_tokens_details.cached_tokens``) and
``completion_tokens`` includes reasoning tokens; streamed usage comes in a last chunk with ``choices: []``
when ``stream_options.include_usage`` is set (Groq may put it in ``x_groq.usage``); an ``{"error": ...}``
payload (Groq: ``x_groq.error``) can arrive inside a 200 stream; the stream ends with ``data: [DONE]``.
Embeddings are requested as base64 (what the official SDK asks for: a quarter of the bytes of JSON floats).
"""

from __future__ import annotations

import base64
import sys
from array import array
from collections.abc import Mapping, Sequence
from typing import Any

from atriumn.ai._errors import stream_error
from atriumn.ai._parts import ReasoningPart
from atriumn.ai._request import ChatRequest, tool_call_from_text
from atriumn.ai._schema import strict_schema
from atriumn.ai._sse import ServerSentEvent
from atriumn.ai._types import (
    ChatResponse,
    Part,
    ReasoningDelta,
    StreamEvent,
    TextDelta,
    TextPart,
    Tool,
    ToolCallDelta,
    Usage,
    UsageEvent,
)
from atriumn.core import Operation

from ._base import Adapter, StreamState, build_response, dumps
from ._openai_messages import messages
from ._read import bad_shape, count, items, load_json, numbers, obj, text

__all__ = ["OpenAIAdapter"]

_FINISH = {"stop": "stop", "length": "length", "tool_calls": "tool_calls", "function_call": "tool_calls"}


def _usage(doc: Any, path: str, provider: str) -> Usage:
    doc = obj(doc, path, provider)
    if not doc:
        return Usage()
    paths = _USAGE_PATHS.get(path) or _usage_paths(path)
    prompt_details = obj(doc.get("prompt_tokens_details"), paths[0], provider)
    completion_details = obj(doc.get("completion_tokens_details"), paths[1], provider)
    return Usage(
        input_tokens=count(doc.get("prompt_tokens"), paths[2], provider),
        output_tokens=count(doc.get("completion_tokens"), paths[3], provider),
        cache_read_tokens=count(prompt_details.get("cached_tokens"), paths[4], provider),
        reasoning_tokens=count(completion_details.get("reasoning_tokens"), paths[5], provider),
        raw=doc,
    )


def _usage_paths(path: str) -> tuple[str, ...]:
    """The paths an error names for the fields of the usage object at ``path``."""
    return (
        f"{path}.prompt_tokens_details",
        f"{path}.completion_tokens_details",
        f"{path}.prompt_tokens",
        f"{path}.completion_tokens",
        f"{path}.prompt_tokens_details.cached_tokens",
        f"{path}.completion_tokens_details.reasoning_tokens",
    )


_USAGE_PATHS = {p: _usage_paths(p) for p in ("$.usage", "$.x_groq.usage")}


def _finish(reason: str) -> str:
    return _FINISH.get(reason, reason)


def _content_text(value: Any, path: str, provider: str) -> str:
    """Message content: a string, or (some compatible servers) a list of text parts."""
    if isinstance(value, list):
        return "".join(
            text(obj(part, f"{path}[{i}]", provider).get("text"), f"{path}[{i}].text", provider)
            for i, part in enumerate(value)
        )
    return text(value, path, provider)


class OpenAIAdapter(Adapter):
    """Chat Completions and embeddings. ``name`` is ``openai``, ``groq`` or ``openai_compatible``."""

    embed_batch_size = 2048

    def __init__(self, config: Any) -> None:
        super().__init__(config)
        self.name = config.name
        # OpenAI deprecated max_tokens for max_completion_tokens (reasoning models reject the old name);
        # Groq and most compatible servers (vLLM, Ollama) take max_tokens.
        self._max_tokens_field = "max_completion_tokens" if self.name == "openai" else "max_tokens"
        # Schemas generated from Python types go in the strict form OpenAI's own helpers send; other servers'
        # support for strict mode varies by model, so they get the schema as generated.
        self._strict_types = self.name == "openai"
        # OpenAI takes the ``developer`` role; Groq and compatible servers know only ``system``.
        self._developer_role = self.name == "openai"

    def _tool(self, t: Tool) -> dict[str, Any]:
        fn: dict[str, Any] = {"name": t.name}
        if t.description is not None:
            fn["description"] = t.description
        if t.parameters is not None:
            fn["parameters"] = dict(t.parameters)
        strict = t.strict
        if t.from_type and t.parameters is not None and self._strict_types and strict is not False:
            fn["parameters"], strict = strict_schema(t.parameters), True
        if strict is not None:
            fn["strict"] = strict
        fn.update(t.provider_fields.get("openai", {}))
        return {"type": "function", "function": fn}

    def _response_format(self, req: ChatRequest) -> dict[str, Any]:
        assert req.response_schema is not None
        js: dict[str, Any] = {"name": req.response_name, "schema": dict(req.response_schema)}
        strict = req.response_strict
        if req.response_type is not None and self._strict_types and strict is not False:
            js["schema"], strict = strict_schema(req.response_schema), True
        if req.response_description is not None:
            js["description"] = req.response_description
        if strict is not None:
            js["strict"] = strict
        return {"type": "json_schema", "json_schema": js}

    def body(self, req: ChatRequest, *, stream: bool) -> dict[str, Any]:
        """The JSON body of a chat request."""
        body: dict[str, Any] = {"model": req.model, "messages": messages(req, self.name, self._developer_role)}
        if req.temperature is not None:
            body["temperature"] = req.temperature
        if req.max_tokens is not None:
            body[self._max_tokens_field] = req.max_tokens
        if req.top_p is not None:
            body["top_p"] = req.top_p
        if req.top_k is not None:
            body["top_k"] = req.top_k
        if req.stop:
            body["stop"] = list(req.stop)
        if req.seed is not None:
            body["seed"] = req.seed
        if req.tools:
            body["tools"] = [self._tool(t) for t in req.tools]
        if req.tool_choice is not None:
            if req.tool_choice in ("auto", "none", "required"):
                body["tool_choice"] = req.tool_choice
            else:
                body["tool_choice"] = {"type": "function", "function": {"name": req.tool_choice}}
        if req.response_schema is not None:
            body["response_format"] = self._response_format(req)
        elif req.response_json:
            body["response_format"] = {"type": "json_object"}
        if req.reasoning is not None and req.reasoning.effort is not None:
            body["reasoning_effort"] = req.reasoning.effort
            if self.name == "groq":  # the reasoning text comes back in message.reasoning
                body["reasoning_format"] = "parsed"
        if req.prompt_cache_key is not None:
            body["prompt_cache_key"] = req.prompt_cache_key
        if req.prompt_cache_options is not None:
            body["prompt_cache_options"] = dict(req.prompt_cache_options)
        if stream:
            body["stream"] = True
            if self.name != "groq":  # Groq reports streamed usage in x_groq.usage (its SDK has no stream_options)
                body["stream_options"] = {"include_usage": True}
        if req.extra_body:
            body.update(req.extra_body)
        return body

    def chat_operation(self, req: ChatRequest, *, stream: bool) -> Operation[Any]:
        return self.chat_json_operation(req, "/chat/completions", self.body(req, stream=stream), stream=stream)

    def parse_chat(self, doc: Any, req: ChatRequest) -> ChatResponse:
        p = self.name
        doc = obj(doc, "$", p)
        if "choices" not in doc:  # not a chat completion at all
            raise bad_shape(p, "$.choices", "a list", None)
        choices = items(doc.get("choices"), "$.choices", p)
        choice = obj(choices[0] if choices else None, "$.choices[0]", p)
        msg = obj(choice.get("message"), "$.choices[0].message", p)
        parts: list[Part] = []
        reasoning = text(msg.get("reasoning"), "$.choices[0].message.reasoning", p)
        if reasoning:  # Groq's parsed reasoning
            parts.append(ReasoningPart(text=reasoning, provider=p))
        content = _content_text(msg.get("content"), "$.choices[0].message.content", p)
        if content:
            parts.append(TextPart(text=content))
        for i, tc in enumerate(items(msg.get("tool_calls"), "$.choices[0].message.tool_calls", p)):
            where = f"$.choices[0].message.tool_calls[{i}]"
            tc = obj(tc, where, p)
            fn = obj(tc.get("function"), f"{where}.function", p)
            name = text(fn.get("name"), f"{where}.function.name", p)
            args = _arguments_text(fn.get("arguments"), f"{where}.function.arguments", p)
            parts.append(tool_call_from_text(text(tc.get("id"), f"{where}.id", p), name, args))
        usage = doc.get("usage")
        if usage is None:  # Groq's usage may come in x_groq
            usage = _usage(obj(doc.get("x_groq"), "$.x_groq", p).get("usage"), "$.x_groq.usage", p)
        else:
            usage = _usage(usage, "$.usage", p)
        return build_response(
            provider=p,
            model=text(doc.get("model"), "$.model", p) or req.model,
            parts=parts,
            finish_reason=_finish(text(choice.get("finish_reason"), "$.choices[0].finish_reason", p)),
            usage=usage,
            id=text(doc.get("id"), "$.id", p),
            raw=doc,
        )

    def stream_state(self, req: ChatRequest) -> StreamState:
        return _OpenAIStream(self.name, req.model)

    def embed_operation(self, model: str, texts: Sequence[str], *, replay_unsafe: bool = True) -> Operation[Any]:
        body = {"model": model, "input": list(texts), "encoding_format": "base64"}
        return self.json_operation(
            "/embeddings", body, stream=False, span=f"{self.name}.embeddings", replay_unsafe=replay_unsafe
        )

    def parse_embed(self, doc: Any, count_: int) -> tuple[list[tuple[float, ...]], Usage]:
        p = self.name
        doc = obj(doc, "$", p)
        data = [obj(d, f"$.data[{i}]", p) for i, d in enumerate(items(doc.get("data"), "$.data", p))]
        vectors: list[tuple[float, ...]] = []
        for i, item in sorted(
            enumerate(data), key=lambda pair: count(pair[1].get("index"), f"$.data[{pair[0]}].index", p)
        ):
            emb = item.get("embedding")
            where = f"$.data[{i}].embedding"
            if isinstance(emb, str):
                try:
                    raw = base64.b64decode(emb, validate=True)
                except ValueError:
                    raise bad_shape(p, where, "base64 text", emb[:60]) from None
                if len(raw) % 4:
                    raise bad_shape(p, where, "base64 of 32-bit floats", emb[:60])
                floats = array("f")
                floats.frombytes(raw)
                if sys.byteorder == "big":
                    floats.byteswap()
                vectors.append(tuple(floats))
            else:
                vectors.append(numbers(emb, where, p))
        usage = obj(doc.get("usage"), "$.usage", p)
        return vectors, Usage(input_tokens=count(usage.get("prompt_tokens"), "$.usage.prompt_tokens", p), raw=usage)

    def check_operation(self, model: str) -> Operation[Any]:
        return Operation(
            method="GET",
            path="/models/{model}",
            path_params={"model": model},
            stream=True,
            span_name=f"{self.name}.check",
        )


def _arguments_text(value: Any, path: str, provider: str) -> str:
    """Tool-call arguments as text (they are JSON text on the wire; a server that sends an object gets it
    written back as JSON)."""
    if isinstance(value, Mapping):
        return dumps(value)
    return text(value, path, provider)


class _OpenAIStream(StreamState):
    def __init__(self, provider: str, model: str) -> None:
        self.provider = provider
        self.model = model
        self.id = ""
        self.chunks: list[str] = []
        self.reasoning: list[str] = []
        self.calls: dict[int, list[Any]] = {}
        self.finish_reason = ""
        self.usage: Usage = Usage()
        self.done = False

    @property
    def text(self) -> str:
        return "".join(self.chunks)

    def feed(self, event: ServerSentEvent) -> list[StreamEvent]:
        data = event.data
        if data == "[DONE]":
            self.done = True
            return []
        p = self.provider
        doc = load_json(data, p, "a stream event")
        if not isinstance(doc, dict):
            raise bad_shape(p, "$", "an object (a stream chunk)", doc)
        if "error" in doc:
            raise stream_error(p, doc["error"])
        out: list[StreamEvent] = []
        xg = obj(doc.get("x_groq"), "$.x_groq", p)
        if xg:
            if xg.get("error"):
                raise stream_error(p, xg["error"])
            if xg.get("usage"):
                self.usage = _usage(xg["usage"], "$.x_groq.usage", p)
                out.append(UsageEvent(self.usage))
        if not self.id:
            self.id = text(doc.get("id"), "$.id", p)
            self.model = text(doc.get("model"), "$.model", p) or self.model
        for i, choice in enumerate(items(doc.get("choices"), "$.choices", p)):
            choice = obj(choice, f"$.choices[{i}]", p)
            if choice.get("index", 0) != 0:
                continue
            delta = obj(choice.get("delta"), f"$.choices[{i}].delta", p)
            if delta:
                self._delta(delta, f"$.choices[{i}].delta", out)
            reason = text(choice.get("finish_reason"), f"$.choices[{i}].finish_reason", p)
            if reason:
                self.finish_reason = _finish(reason)
        usage = doc.get("usage")
        if usage:
            self.usage = _usage(usage, "$.usage", p)
            out.append(UsageEvent(self.usage))
        return out

    def _delta(self, delta: Mapping[str, Any], path: str, out: list[StreamEvent]) -> None:
        p = self.provider
        reasoning = text(delta.get("reasoning"), f"{path}.reasoning", p)
        if reasoning:
            self.reasoning.append(reasoning)
            out.append(ReasoningDelta(reasoning))
        content = _content_text(delta.get("content"), f"{path}.content", p)
        if content:
            self.chunks.append(content)
            out.append(TextDelta(content))
        for j, tc in enumerate(items(delta.get("tool_calls"), f"{path}.tool_calls", p)):
            where = f"{path}.tool_calls[{j}]"
            tc = obj(tc, where, p)
            index = count(tc.get("index"), f"{where}.index", p)
            fn = obj(tc.get("function"), f"{where}.function", p)
            call_id = text(tc.get("id"), f"{where}.id", p)
            name = text(fn.get("name"), f"{where}.function.name", p)
            args = _arguments_text(fn.get("arguments"), f"{where}.function.arguments", p)
            entry = self.calls.get(index)
            first = entry is None
            if entry is None:
                entry = self.calls[index] = [call_id, name, []]
            else:
                if call_id:
                    entry[0] = call_id
                if name:
                    entry[1] += name
            if args:
                entry[2].append(args)
            out.append(
                ToolCallDelta(index=index, id=call_id if first or call_id else None, name=name or None, arguments=args)
            )

    def finish(self) -> ChatResponse:
        parts: list[Part] = (
            [ReasoningPart(text="".join(self.reasoning), provider=self.provider)] if self.reasoning else []
        )
        parts.append(TextPart(text=self.text))
        for index in sorted(self.calls):
            cid, name, args = self.calls[index]
            parts.append(tool_call_from_text(cid, name, "".join(args)))
        return build_response(
            provider=self.provider,
            model=self.model,
            parts=parts,
            finish_reason=self.finish_reason,
            usage=self.usage,
            id=self.id,
        )
