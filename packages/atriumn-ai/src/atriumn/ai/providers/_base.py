"""What every provider adapter provides, and helpers they share.

An adapter is pure: it builds :class:`~atriumn.core.Operation` s from a :class:`ChatRequest`, parses
response documents, and accumulates stream events. The sync and async drivers in :mod:`atriumn.ai._chat`
do the I/O, so each provider's logic is written once.
"""

from __future__ import annotations

import abc
import json
from collections.abc import Mapping, Sequence
from typing import Any

from atriumn.ai._request import ChatRequest
from atriumn.ai._sse import ServerSentEvent
from atriumn.ai._types import ChatResponse, Part, StreamEvent, TextPart, ToolCall, Usage
from atriumn.core import Operation

__all__ = ["Adapter", "ProviderConfig", "StreamState", "build_response", "merge_text_parts"]


class ProviderConfig:
    """A provider's resolved settings: name, base URL, API key and extra headers."""

    def __init__(self, name: str, base_url: str, api_key: str | None, headers: Mapping[str, str] | None = None) -> None:
        self.name = name
        self.base_url = base_url.rstrip("/")
        self.api_key = api_key
        self.headers = dict(headers or {})


class StreamState(abc.ABC):
    """Accumulates one provider stream: ``feed`` each SSE event, get neutral events; ``finish`` at the end."""

    done: bool = False

    @abc.abstractmethod
    def feed(self, event: ServerSentEvent) -> list[StreamEvent]:
        """The neutral events for one SSE event (raises a typed error for an error payload)."""

    @abc.abstractmethod
    def finish(self) -> ChatResponse:
        """The accumulated response (call when ``done`` or at the end of the stream)."""

    @property
    @abc.abstractmethod
    def text(self) -> str:
        """The text received so far."""


class Adapter(abc.ABC):
    """A provider's wire format."""

    #: provider name used in ``provider:model`` and the price table.
    name: str
    #: header carrying the key, and its prefix.
    key_header: str = "Authorization"
    key_prefix: str = "Bearer "
    #: most texts per embeddings request (0: no embeddings).
    embed_batch_size: int = 0

    def __init__(self, config: ProviderConfig) -> None:
        self.config = config

    def default_headers(self) -> dict[str, str]:
        """Headers on every request to this provider (besides the key)."""
        return dict(self.config.headers)

    @abc.abstractmethod
    def chat_operation(self, req: ChatRequest, *, stream: bool) -> Operation[Any]:
        """The operation for a chat call (``stream=True`` asks the provider to stream)."""

    @abc.abstractmethod
    def parse_chat(self, doc: Any, req: ChatRequest) -> ChatResponse:
        """The response for a non-streamed answer's JSON document."""

    @abc.abstractmethod
    def stream_state(self, req: ChatRequest) -> StreamState:
        """A fresh accumulator for one stream."""

    def embed_operation(self, model: str, texts: Sequence[str]) -> Operation[Any]:
        """The operation embedding one batch of texts."""
        raise NotImplementedError(f"{self.name} has no embeddings in this SDK")

    def parse_embed(self, doc: Any, count: int) -> tuple[list[tuple[float, ...]], Usage]:
        """Vectors (in input order) and usage from an embeddings answer."""
        raise NotImplementedError(f"{self.name} has no embeddings in this SDK")

    @abc.abstractmethod
    def check_operation(self, model: str) -> Operation[Any]:
        """The cheapest real call that proves the provider and model answer (a model lookup)."""

    def error_hook(self, response: Any) -> Exception | None:
        """A provider-specific error, or None for core's default mapping."""
        return None


def merge_text_parts(parts: Sequence[Part]) -> tuple[Part, ...]:
    """Adjacent text parts joined into one (so streamed and non-streamed answers compare equal)."""
    out: list[Part] = []
    for p in parts:
        if isinstance(p, TextPart):
            if not p.text:
                continue
            if out and isinstance(out[-1], TextPart):
                out[-1] = TextPart(text=out[-1].text + p.text)
                continue
        out.append(p)
    return tuple(out)


def build_response(
    *,
    provider: str,
    model: str,
    parts: Sequence[Part],
    finish_reason: str,
    usage: Usage,
    id: str = "",
    raw: Any = None,
) -> ChatResponse:
    """A :class:`ChatResponse` from accumulated parts (text and tool calls derived from them)."""
    merged = merge_text_parts(parts)
    text = "".join(p.text for p in merged if isinstance(p, TextPart))
    calls = tuple(p for p in merged if isinstance(p, ToolCall))
    return ChatResponse(
        text=text,
        parts=merged,
        tool_calls=calls,
        finish_reason=finish_reason,
        usage=usage,
        provider=provider,
        model=model,
        id=id,
        raw=raw,
    )


def parse_arguments(text: str, tool: str) -> Mapping[str, Any]:
    """A tool call's JSON arguments (empty text is ``{}``); invalid JSON is kept under ``_raw``."""
    if not text or not text.strip():
        return {}
    try:
        value = json.loads(text)
    except ValueError:
        return {"_raw": text}
    return value if isinstance(value, dict) else {"_value": value}


def dumps(obj: Any) -> str:
    """Compact JSON."""
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False)
