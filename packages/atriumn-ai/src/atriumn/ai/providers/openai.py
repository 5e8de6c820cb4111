"""OpenAI Chat Completions (also Groq, under ``/openai/v1``, and any OpenAI-compatible server).

Wire facts: ``usage.prompt_tokens`` includes cached tokens (``prompt_tokens_details.cached_tokens``) and
``completion_tokens`` includes reasoning tokens; streamed usage comes in a last chunk with ``choices: []``
when ``stream_options.include_usage`` is set (Groq may put it in ``x_groq.usage``); an ``{"error": ...}``
payload (Groq: ``x_groq.error``) can arrive inside a 200 stream; the stream ends with ``data: [DONE]``.
Embeddings are requested as base64 (what the official SDK asks for: a quarter of the bytes of JSON floats).
"""

from __future__ import annotations

import base64
import json
import sys
from array import array
from collections.abc import Mapping, Sequence
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

__all__ = ["OpenAIAdapter"]

_JSON = {"Content-Type": "application/json"}
_FINISH = {"stop": "stop", "length": "length", "tool_calls": "tool_calls", "function_call": "tool_calls"}


def _usage(doc: Mapping[str, Any] | None) -> Usage:
    if not doc:
        return Usage()
    prompt_details = doc.get("prompt_tokens_details") or {}
    completion_details = doc.get("completion_tokens_details") or {}
    return Usage(
        input_tokens=int(doc.get("prompt_tokens") or 0),
        output_tokens=int(doc.get("completion_tokens") or 0),
        cache_read_tokens=int(prompt_details.get("cached_tokens") or 0),
        reasoning_tokens=int(completion_details.get("reasoning_tokens") or 0),
        raw=doc,
    )


def _finish(reason: str | None) -> str:
    if reason is None:
        return ""
    return _FINISH.get(reason, reason)


def _message(m: Message) -> dict[str, Any]:
    if m.role == "tool":
        return {"role": "tool", "tool_call_id": m.tool_call_id, "content": m.text}
    out: dict[str, Any] = {"role": m.role}
    if m.role == "assistant" and m.tool_calls:
        out["content"] = m.text or None
        out["tool_calls"] = [
            {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments_json}}
            for c in m.tool_calls
        ]
    else:
        out["content"] = (
            m.content
            if isinstance(m.content, str)
            else [{"type": "text", "text": p.text} for p in m.content if isinstance(p, TextPart)]
        )
    return out


class OpenAIAdapter(Adapter):
    """Chat Completions and embeddings. ``name`` is ``openai``, ``groq`` or ``openai_compatible``."""

    embed_batch_size = 2048

    def __init__(self, config: Any) -> None:
        super().__init__(config)
        self.name = config.name
        # OpenAI deprecated max_tokens for max_completion_tokens (reasoning models reject the old name);
        # Groq and most compatible servers (vLLM, Ollama) take max_tokens.
        self._max_tokens_field = "max_completion_tokens" if self.name == "openai" else "max_tokens"

    def body(self, req: ChatRequest, *, stream: bool) -> dict[str, Any]:
        """The JSON body of a chat request."""
        messages = [_message(m) for m in req.messages]
        if req.system:
            messages.insert(0, {"role": "system", "content": req.system})
        body: dict[str, Any] = {"model": req.model, "messages": messages}
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
            body["tools"] = [
                {
                    "type": "function",
                    "function": {"name": t.name, "description": t.description, "parameters": dict(t.parameters)},
                }
                for t in req.tools
            ]
        if req.tool_choice is not None:
            if req.tool_choice in ("auto", "none", "required"):
                body["tool_choice"] = req.tool_choice
            else:
                body["tool_choice"] = {"type": "function", "function": {"name": req.tool_choice}}
        if req.response_schema is not None:
            body["response_format"] = {
                "type": "json_schema",
                "json_schema": {"name": req.response_name, "schema": dict(req.response_schema)},
            }
        if stream:
            body["stream"] = True
            if self.name != "groq":  # Groq reports streamed usage in x_groq.usage (its SDK has no stream_options)
                body["stream_options"] = {"include_usage": True}
        if req.extra_body:
            body.update(req.extra_body)
        return body

    def chat_operation(self, req: ChatRequest, *, stream: bool) -> Operation[Any]:
        return Operation(
            method="POST",
            path="/chat/completions",
            content=dumps(self.body(req, stream=stream)).encode(),
            headers=_JSON,
            stream=True,
            span_name=f"{self.name}.chat",
        )

    def parse_chat(self, doc: Any, req: ChatRequest) -> ChatResponse:
        choices = doc.get("choices") or [{}]
        choice = choices[0]
        msg = choice.get("message") or {}
        parts: list[Part] = []
        if msg.get("content"):
            parts.append(TextPart(text=msg["content"]))
        for tc in msg.get("tool_calls") or ():
            fn = tc.get("function") or {}
            parts.append(
                ToolCall(
                    id=str(tc.get("id") or ""),
                    name=str(fn.get("name") or ""),
                    arguments=parse_arguments(fn.get("arguments") or "", fn.get("name") or ""),
                )
            )
        usage_doc = doc.get("usage") or (doc.get("x_groq") or {}).get("usage")
        return build_response(
            provider=self.name,
            model=str(doc.get("model") or req.model),
            parts=parts,
            finish_reason=_finish(choice.get("finish_reason")),
            usage=_usage(usage_doc),
            id=str(doc.get("id") or ""),
            raw=doc,
        )

    def stream_state(self, req: ChatRequest) -> StreamState:
        return _OpenAIStream(self.name, req.model)

    def embed_operation(self, model: str, texts: Sequence[str]) -> Operation[Any]:
        body = {"model": model, "input": list(texts), "encoding_format": "base64"}
        return Operation(
            method="POST",
            path="/embeddings",
            content=dumps(body).encode(),
            headers=_JSON,
            stream=True,
            span_name=f"{self.name}.embeddings",
        )

    def parse_embed(self, doc: Any, count: int) -> tuple[list[tuple[float, ...]], Usage]:
        items = sorted(doc.get("data") or (), key=lambda d: d.get("index", 0))
        vectors: list[tuple[float, ...]] = []
        for item in items:
            emb = item.get("embedding")
            if isinstance(emb, str):
                floats = array("f")
                floats.frombytes(base64.b64decode(emb))
                if sys.byteorder == "big":
                    floats.byteswap()
                vectors.append(tuple(floats))
            else:
                vectors.append(tuple(float(x) for x in emb or ()))
        usage = doc.get("usage") or {}
        return vectors, Usage(input_tokens=int(usage.get("prompt_tokens") or 0), raw=usage)

    def check_operation(self, model: str) -> Operation[Any]:
        return Operation(
            method="GET",
            path="/models/{model}",
            path_params={"model": model},
            stream=True,
            span_name=f"{self.name}.check",
        )


class _OpenAIStream(StreamState):
    def __init__(self, provider: str, model: str) -> None:
        self.provider = provider
        self.model = model
        self.id = ""
        self.chunks: list[str] = []
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
        doc = json.loads(data)
        if "error" in doc:
            raise stream_error(self.provider, doc["error"])
        out: list[StreamEvent] = []
        xg = doc.get("x_groq")
        if xg:
            if xg.get("error"):
                raise stream_error(self.provider, xg["error"])
            if xg.get("usage"):
                self.usage = _usage(xg["usage"])
                out.append(UsageEvent(self.usage))
        if not self.id:
            self.id = doc.get("id") or ""
            self.model = doc.get("model") or self.model
        for choice in doc.get("choices") or ():
            if choice.get("index", 0) != 0:
                continue
            delta = choice.get("delta")
            if delta:
                content = delta.get("content")
                if content:
                    self.chunks.append(content)
                    out.append(TextDelta(content))
                for tc in delta.get("tool_calls") or ():
                    index = tc.get("index", 0)
                    fn = tc.get("function") or {}
                    entry = self.calls.get(index)
                    if entry is None:
                        entry = self.calls[index] = [tc.get("id") or "", fn.get("name") or "", []]
                        first = True
                    else:
                        first = False
                        if tc.get("id"):
                            entry[0] = tc["id"]
                        if fn.get("name"):
                            entry[1] += fn["name"]
                    args = fn.get("arguments") or ""
                    if args:
                        entry[2].append(args)
                    out.append(
                        ToolCallDelta(
                            index=index,
                            id=tc.get("id") if first or tc.get("id") else None,
                            name=fn.get("name") or None,
                            arguments=args,
                        )
                    )
            reason = choice.get("finish_reason")
            if reason:
                self.finish_reason = _finish(reason)
        usage = doc.get("usage")
        if usage:
            self.usage = _usage(usage)
            out.append(UsageEvent(self.usage))
        return out

    def finish(self) -> ChatResponse:
        parts: list[Part] = [TextPart(text=self.text)]
        for index in sorted(self.calls):
            cid, name, args = self.calls[index]
            parts.append(ToolCall(id=cid, name=name, arguments=parse_arguments("".join(args), name)))
        return build_response(
            provider=self.provider,
            model=self.model,
            parts=parts,
            finish_reason=self.finish_reason,
            usage=self.usage,
            id=self.id,
        )
