"""Google Gemini ``generateContent`` (Gemini API, ``v1beta``).

Wire facts: camelCase JSON and ``x-goog-api-key``; streaming is ``:streamGenerateContent?alt=sse`` with
unnamed ``data:`` chunks and no ``[DONE]``; usage is ``usageMetadata`` where ``promptTokenCount`` includes
``cachedContentTokenCount`` and ``thoughtsTokenCount`` is counted apart from ``candidatesTokenCount`` (we add
it to the output, where the other providers count reasoning); function calls carry no id, so calls are
numbered ``call_0``, ``call_1``... and a tool result is matched back to its call's name; errors are
``{"error": {code, message, status, details}}`` and a 429 may carry ``RetryInfo.retryDelay``, which becomes
:attr:`RateLimitError.retry_after`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from atriumn.ai._errors import stream_error
from atriumn.ai._request import ChatRequest
from atriumn.ai._sse import ServerSentEvent
from atriumn.ai._types import (
    ChatResponse,
    Part,
    StreamEvent,
    TextDelta,
    TextPart,
    ToolCall,
    ToolCallDelta,
    Usage,
    UsageEvent,
)
from atriumn.core import Operation, RateLimitError, parse_duration

from ._base import Adapter, StreamState, build_response, dumps

__all__ = ["GeminiAdapter"]

_JSON = {"Content-Type": "application/json"}
_FILTERED = {"SAFETY", "RECITATION", "BLOCKLIST", "PROHIBITED_CONTENT", "SPII", "IMAGE_SAFETY"}


def _usage(doc: Mapping[str, Any] | None) -> Usage:
    if not doc:
        return Usage()
    thoughts = int(doc.get("thoughtsTokenCount") or 0)
    return Usage(
        input_tokens=int(doc.get("promptTokenCount") or 0),
        output_tokens=int(doc.get("candidatesTokenCount") or 0) + thoughts,
        cache_read_tokens=int(doc.get("cachedContentTokenCount") or 0),
        reasoning_tokens=thoughts,
        raw=doc,
    )


def _finish(reason: str | None, has_calls: bool) -> str:
    if not reason:
        return ""
    if reason == "STOP":
        return "tool_calls" if has_calls else "stop"
    if reason == "MAX_TOKENS":
        return "length"
    if reason in _FILTERED:
        return "content_filter"
    return reason.lower()


def _tool_response(text: str, is_error: bool) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except ValueError:
        value = text
    if isinstance(value, dict) and not is_error:
        return value
    return {"error": value} if is_error else {"result": value}


class GeminiAdapter(Adapter):
    """The Gemini API."""

    name = "gemini"
    key_header = "x-goog-api-key"
    key_prefix = ""
    embed_batch_size = 100

    def body(self, req: ChatRequest) -> dict[str, Any]:
        """The JSON body of a generateContent request."""
        names: dict[str, str] = {}
        system_texts = [req.system] if req.system else []
        contents: list[dict[str, Any]] = []
        for m in req.messages:
            if m.role == "system":
                system_texts.append(m.text)
                continue
            if m.role == "tool":
                name = m.name or names.get(m.tool_call_id or "", "")
                if not name:
                    raise ValueError(f"messages: tool result {m.tool_call_id!r} names no function (set name=)")
                part = {"functionResponse": {"name": name, "response": _tool_response(m.text, m.is_error)}}
                if contents and contents[-1]["role"] == "user" and "functionResponse" in contents[-1]["parts"][-1]:
                    contents[-1]["parts"].append(part)
                else:
                    contents.append({"role": "user", "parts": [part]})
                continue
            parts: list[dict[str, Any]] = []
            if m.text:
                parts.append({"text": m.text})
            for c in m.tool_calls:
                names[c.id] = c.name
                parts.append({"functionCall": {"name": c.name, "args": dict(c.arguments)}})
            contents.append({"role": "model" if m.role == "assistant" else "user", "parts": parts})
        body: dict[str, Any] = {"contents": contents}
        if system_texts:
            body["systemInstruction"] = {"parts": [{"text": "\n\n".join(system_texts)}]}
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
        if config:
            body["generationConfig"] = config
        if req.tools:
            body["tools"] = [
                {
                    "functionDeclarations": [
                        {"name": t.name, "description": t.description, "parametersJsonSchema": dict(t.parameters)}
                        for t in req.tools
                    ]
                }
            ]
        if req.tool_choice is not None:
            mode = {"auto": "AUTO", "none": "NONE", "required": "ANY"}.get(req.tool_choice)
            fcc: dict[str, Any] = {"mode": mode or "ANY"}
            if mode is None:
                fcc["allowedFunctionNames"] = [req.tool_choice]
            body["toolConfig"] = {"functionCallingConfig": fcc}
        if req.extra_body:
            body.update(req.extra_body)
        return body

    def chat_operation(self, req: ChatRequest, *, stream: bool) -> Operation[Any]:
        return Operation(
            method="POST",
            path="/v1beta/models/{model}:streamGenerateContent" if stream else "/v1beta/models/{model}:generateContent",
            path_params={"model": req.model},
            query={"alt": "sse"} if stream else None,
            content=dumps(self.body(req)).encode(),
            headers=_JSON,
            stream=True,
            span_name="gemini.chat",
            error_hook=self.error_hook,
        )

    def parse_chat(self, doc: Any, req: ChatRequest) -> ChatResponse:
        state = _GeminiStream(req.model)
        state.absorb(doc)
        return state.finish(raw=doc)

    def stream_state(self, req: ChatRequest) -> StreamState:
        return _GeminiStream(req.model)

    def embed_operation(self, model: str, texts: Sequence[str]) -> Operation[Any]:
        body = {
            "requests": [
                {"model": f"models/{model}", "content": {"parts": [{"text": t}], "role": "user"}} for t in texts
            ]
        }
        return Operation(
            method="POST",
            path="/v1beta/models/{model}:batchEmbedContents",
            path_params={"model": model},
            content=dumps(body).encode(),
            headers=_JSON,
            stream=True,
            span_name="gemini.embeddings",
            error_hook=self.error_hook,
        )

    def parse_embed(self, doc: Any, count: int) -> tuple[list[tuple[float, ...]], Usage]:
        vectors = [tuple(float(x) for x in e.get("values") or ()) for e in doc.get("embeddings") or ()]
        return vectors, Usage()

    def check_operation(self, model: str) -> Operation[Any]:
        return Operation(
            method="GET",
            path="/v1beta/models/{model}",
            path_params={"model": model},
            stream=True,
            span_name="gemini.check",
            error_hook=self.error_hook,
        )

    def error_hook(self, response: Any) -> Exception | None:
        """A 429 with ``RetryInfo`` becomes a :class:`RateLimitError` whose ``retry_after`` is its ``retryDelay``."""
        if response.status_code != 429:
            return None
        try:
            doc = json.loads(response.content)
            err = doc["error"]
            delay = None
            for detail in err.get("details") or ():
                if str(detail.get("@type", "")).endswith("google.rpc.RetryInfo") and detail.get("retryDelay"):
                    delay = parse_duration(str(detail["retryDelay"]), name="retryDelay")
        except (ValueError, KeyError, TypeError, AttributeError):
            return None
        if delay is None:
            return None
        return RateLimitError(
            status_code=429,
            code=str(err.get("status") or "rate_limited"),
            description=str(err.get("message") or ""),
            request_id=response.headers.get("x-request-id"),
            retry_after=delay,
            body=response.text,
            method=response.request.method,
            url=str(response.request.url.copy_with(query=None)),
        )


class _GeminiStream(StreamState):
    def __init__(self, model: str) -> None:
        self.model = model
        self.id = ""
        self.parts: list[Part] = []
        self.chunks: list[str] = []
        self._pending = 0  # chunks[_pending:] is text not yet closed into a part
        self.calls = 0
        self.reason: str | None = None
        self.usage = Usage()
        self._usage_doc: Mapping[str, Any] | None = None
        self.done = False

    @property
    def text(self) -> str:
        return "".join(self.chunks)

    def feed(self, event: ServerSentEvent) -> list[StreamEvent]:
        doc = json.loads(event.data)
        if "error" in doc:
            raise stream_error("gemini", doc["error"])
        return self.absorb(doc)

    def _close_text(self) -> None:
        if self._pending < len(self.chunks):
            self.parts.append(TextPart(text="".join(self.chunks[self._pending :])))
            self._pending = len(self.chunks)

    def absorb(self, doc: Mapping[str, Any]) -> list[StreamEvent]:
        out: list[StreamEvent] = []
        if not self.id:
            self.id = str(doc.get("responseId") or "")
        version = doc.get("modelVersion")
        if version:
            self.model = str(version)
        candidates = doc.get("candidates")
        if candidates:
            cand = candidates[0]
            content = cand.get("content")
            for part in (content.get("parts") if content else None) or ():
                if part.get("thought"):
                    continue
                text = part.get("text")
                if text:
                    self.chunks.append(text)
                    out.append(TextDelta(text))
                    continue
                call = part.get("functionCall")
                if call:
                    self._close_text()
                    cid = str(call.get("id") or f"call_{self.calls}")
                    args = call.get("args") or {}
                    self.parts.append(ToolCall(id=cid, name=str(call.get("name") or ""), arguments=args))
                    out.append(ToolCallDelta(index=self.calls, id=cid, name=call.get("name"), arguments=dumps(args)))
                    self.calls += 1
            reason = cand.get("finishReason")
            if reason:
                self.reason = reason
                self.done = True
        usage = doc.get("usageMetadata")
        if usage and usage != self._usage_doc:  # Gemini repeats usage in every chunk: report changes only
            self._usage_doc = usage
            self.usage = _usage(usage)
            out.append(UsageEvent(self.usage))
        if not candidates:
            block = doc.get("promptFeedback")
            if block and block.get("blockReason"):
                self.reason = "SAFETY"
                self.done = True
        return out

    def finish(self, raw: Any = None) -> ChatResponse:
        self._close_text()
        return build_response(
            provider="gemini",
            model=self.model,
            parts=self.parts,
            finish_reason=_finish(self.reason, self.calls > 0),
            usage=self.usage,
            id=self.id,
            raw=raw,
        )
