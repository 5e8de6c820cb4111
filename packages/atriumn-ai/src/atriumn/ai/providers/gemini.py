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
from atriumn.ai._parts import ReasoningPart
from atriumn.ai._request import ChatRequest
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
from atriumn.core import ConfigurationError, Operation, parse_duration

from ._base import Adapter, StreamState, build_response, dumps
from ._gemini_request import body
from ._read import bad_shape, count, items, load_json, numbers, obj, text

__all__ = ["GeminiAdapter"]

_FILTERED = {"SAFETY", "RECITATION", "BLOCKLIST", "PROHIBITED_CONTENT", "SPII", "IMAGE_SAFETY"}


_P = "gemini"


def _usage(doc: Any, path: str = "$.usageMetadata") -> Usage:
    doc = obj(doc, path, _P)
    if not doc:
        return Usage()
    thoughts = count(doc.get("thoughtsTokenCount"), f"{path}.thoughtsTokenCount", _P)
    return Usage(
        input_tokens=count(doc.get("promptTokenCount"), f"{path}.promptTokenCount", _P),
        output_tokens=count(doc.get("candidatesTokenCount"), f"{path}.candidatesTokenCount", _P) + thoughts,
        cache_read_tokens=count(doc.get("cachedContentTokenCount"), f"{path}.cachedContentTokenCount", _P),
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


class GeminiAdapter(Adapter):
    """The Gemini API."""

    name = "gemini"
    key_header = "x-goog-api-key"
    key_prefix = ""
    embed_batch_size = 100

    def body(self, req: ChatRequest) -> dict[str, Any]:
        """The JSON body of a generateContent request."""
        return body(req)

    def chat_operation(self, req: ChatRequest, *, stream: bool) -> Operation[Any]:
        return self.chat_json_operation(
            req,
            "/v1beta/models/{model}:streamGenerateContent" if stream else "/v1beta/models/{model}:generateContent",
            self.body(req),
            stream=stream,
            path_params={"model": req.model},
            query={"alt": "sse"} if stream else None,
        )

    def parse_chat(self, doc: Any, req: ChatRequest) -> ChatResponse:
        doc = obj(doc, "$", _P)
        if "candidates" not in doc and "promptFeedback" not in doc:  # not a generateContent answer at all
            raise bad_shape(_P, "$.candidates", "a list", None)
        state = _GeminiStream(req.model)
        state.absorb(doc)
        return state.finish(raw=doc)

    def stream_state(self, req: ChatRequest) -> StreamState:
        return _GeminiStream(req.model)

    def embed_operation(self, model: str, texts: Sequence[str], *, replay_unsafe: bool = True) -> Operation[Any]:
        body = {
            "requests": [
                {"model": f"models/{model}", "content": {"parts": [{"text": t}], "role": "user"}} for t in texts
            ]
        }
        return self.json_operation(
            "/v1beta/models/{model}:batchEmbedContents",
            body,
            stream=False,
            span="gemini.embeddings",
            replay_unsafe=replay_unsafe,
            path_params={"model": model},
        )

    def parse_embed(self, doc: Any, count: int) -> tuple[list[tuple[float, ...]], Usage]:
        doc = obj(doc, "$", _P)
        vectors: list[tuple[float, ...]] = []
        for i, e in enumerate(items(doc.get("embeddings"), "$.embeddings", _P)):
            where = f"$.embeddings[{i}].values"
            vectors.append(numbers(obj(e, f"$.embeddings[{i}]", _P).get("values"), where, _P))
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
        delay = _retry_delay(response.content)
        if delay is None:
            return None
        from atriumn.core._outcome import api_error
        from atriumn.core._redact import redact_url

        request = response.request
        return api_error(response, method=request.method, url=redact_url(str(request.url)), retry_after=delay)


def _retry_delay(content: bytes) -> float | None:
    """``RetryInfo.retryDelay`` from a Google error body, in seconds (None when absent or unreadable)."""
    try:
        doc = json.loads(content)
        details = doc["error"].get("details") or ()
        for detail in details:
            if str(detail.get("@type", "")).endswith("google.rpc.RetryInfo") and detail.get("retryDelay"):
                return parse_duration(str(detail["retryDelay"]), name="retryDelay")
    except (ValueError, KeyError, TypeError, AttributeError, ConfigurationError):
        return None
    return None


class _GeminiStream(StreamState):
    def __init__(self, model: str) -> None:
        self.model = model
        self.id = ""
        self.parts: list[Part] = []
        self.chunks: list[str] = []
        self.reasoning: list[str] = []
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
        doc = load_json(event.data, _P, "a stream event")
        if not isinstance(doc, dict):
            raise bad_shape(_P, "$", "an object (a stream chunk)", doc)
        if "error" in doc:
            raise stream_error(_P, doc["error"])
        return self.absorb(doc)

    def _close_text(self) -> None:
        if self._pending < len(self.chunks):
            self.parts.append(TextPart(text="".join(self.chunks[self._pending :])))
            self._pending = len(self.chunks)

    def absorb(self, doc: Mapping[str, Any]) -> list[StreamEvent]:
        out: list[StreamEvent] = []
        if not self.id:
            self.id = text(doc.get("responseId"), "$.responseId", _P)
        version = text(doc.get("modelVersion"), "$.modelVersion", _P)
        if version:
            self.model = version
        candidates = items(doc.get("candidates"), "$.candidates", _P)
        if candidates:
            cand = obj(candidates[0], "$.candidates[0]", _P)
            content = obj(cand.get("content"), "$.candidates[0].content", _P)
            for i, part in enumerate(items(content.get("parts"), "$.candidates[0].content.parts", _P)):
                self._part(obj(part, f"$.candidates[0].content.parts[{i}]", _P), i, out)
            reason = text(cand.get("finishReason"), "$.candidates[0].finishReason", _P)
            if reason:
                self.reason = reason
                self.done = True
        usage = obj(doc.get("usageMetadata"), "$.usageMetadata", _P)
        if usage and usage != self._usage_doc:  # Gemini repeats usage in every chunk: report changes only
            self._usage_doc = usage
            self.usage = _usage(usage)
            out.append(UsageEvent(self.usage))
        if not candidates:
            block = obj(doc.get("promptFeedback"), "$.promptFeedback", _P)
            if block.get("blockReason"):
                self.reason = "SAFETY"
                self.done = True
        return out

    def _part(self, part: Mapping[str, Any], i: int, out: list[StreamEvent]) -> None:
        where = f"$.candidates[0].content.parts[{i}]"
        signature = text(part.get("thoughtSignature"), f"{where}.thoughtSignature", _P) or None
        if part.get("thought"):
            thought = text(part.get("text"), f"{where}.text", _P)
            self._close_text()
            self.parts.append(ReasoningPart(text=thought, signature=signature, provider=_P))
            if thought:
                self.reasoning.append(thought)
                out.append(ReasoningDelta(thought))
            return
        if signature is not None:  # a signature on a call or text part: kept just before it, to go back with it
            self._close_text()
            self.parts.append(ReasoningPart(signature=signature, provider=_P))
        chunk = text(part.get("text"), f"{where}.text", _P)
        if chunk:
            self.chunks.append(chunk)
            out.append(TextDelta(chunk))
            return
        call = obj(part.get("functionCall"), f"{where}.functionCall", _P)
        if call:
            self._close_text()
            cid = text(call.get("id"), f"{where}.functionCall.id", _P) or f"call_{self.calls}"
            name = text(call.get("name"), f"{where}.functionCall.name", _P)
            args = obj(call.get("args"), f"{where}.functionCall.args", _P)
            self.parts.append(ToolCall(id=cid, name=name, arguments=args))
            out.append(ToolCallDelta(index=self.calls, id=cid, name=name or None, arguments=dumps(args)))
            self.calls += 1

    def finish(self, raw: Any = None) -> ChatResponse:
        self._close_text()
        return build_response(
            provider=_P,
            model=self.model,
            parts=self.parts,
            finish_reason=_finish(self.reason, self.calls > 0),
            usage=self.usage,
            id=self.id,
            raw=raw,
        )
