"""What every provider adapter provides, and helpers they share.

An adapter is pure: it builds :class:`~atriumn.core.Operation` s from a :class:`ChatRequest`, parses
response documents, and accumulates stream events. The sync and async drivers (:mod:`atriumn.ai._chat_sync`,
:mod:`atriumn.ai._chat_async`) do the I/O, so each provider's logic is written once.
"""

from __future__ import annotations

import abc
import json
from collections.abc import Mapping, Sequence
from typing import Any

from atriumn.ai._parts import ReasoningPart
from atriumn.ai._ratelimits import NO_RATE_LIMITS
from atriumn.ai._request import ChatRequest
from atriumn.ai._sse import ServerSentEvent
from atriumn.ai._types import ChatResponse, Part, StreamEvent, TextPart, ToolCall, Usage
from atriumn.core import RESPONSE, Operation, Scrubber, ValidationError, apply_options
from atriumn.core._redact import SENSITIVE_HEADERS

from ._capabilities import check_request

__all__ = [
    "Adapter",
    "ProviderConfig",
    "StreamState",
    "build_response",
    "dumps",
    "merge_text_parts",
    "object_arguments",
]

_JSON = {"Content-Type": "application/json"}


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
    #: a shared state is in use: chat operations carry their scope (see :mod:`atriumn.ai._shared`).
    shared: bool = False
    #: the policy of the shared per-model breaker.
    shared_breaker: Any = None

    def __init__(self, config: ProviderConfig) -> None:
        self.config = config
        # JSON operations without their body, one per path and options: each call's is a copy with its body.
        self._operations: dict[tuple[Any, ...], Operation[Any]] = {}

    def default_headers(self) -> dict[str, str]:
        """Headers on every request to this provider (besides the key)."""
        return dict(self.config.headers)

    def scrubber(self) -> Scrubber:
        """The secrets this provider's requests carry (its key, credential headers), for scrubbing errors
        built from what the provider sent back."""
        scrubber: Scrubber | None = self.__dict__.get("_scrubber")
        if scrubber is None:
            values = [self.config.api_key or ""]
            values += [v for k, v in self.config.headers.items() if k.lower() in SENSITIVE_HEADERS]
            scrubber = self.__dict__["_scrubber"] = Scrubber(values)
        return scrubber

    @abc.abstractmethod
    def chat_operation(self, req: ChatRequest, *, stream: bool) -> Operation[Any]:
        """The operation for a chat call (``stream=True`` asks the provider to stream)."""

    def json_operation(
        self,
        path: str,
        body: Mapping[str, Any],
        *,
        stream: bool,
        span: str,
        replay_unsafe: bool = True,
        log_content: bool = True,
        path_params: Mapping[str, Any] | None = None,
        query: Mapping[str, Any] | None = None,
    ) -> Operation[Any]:
        """A POST of a JSON body to this provider.

        Streamed answers come back open (the chat driver reads them); others are read inside the transport's
        pipeline (:data:`~atriumn.core.RESPONSE`), so a body cut off after the head is retried like any other
        failure. Providers ignore Idempotency-Key, so there is none: ``replay_unsafe`` says whether the call
        is replayed after it may have reached the provider (a reset, a read timeout, a 5xx), as the official
        SDKs do — at the price of a possible second, billed generation.
        """
        key = (path, stream, replay_unsafe, log_content, span)
        template = self._operations.get(key)
        if template is None:
            template = self._operations[key] = Operation(
                method="POST",
                path=path,
                headers=_JSON,
                stream=stream,
                response_type=None if stream else RESPONSE,
                idempotent=replay_unsafe,
                span_name=span,
                error_hook=self.error_hook,
                log_content=log_content,
            )
        return template.evolve(content=dumps(body).encode(), path_params=path_params or {}, query=query)

    def chat_json_operation(
        self, req: ChatRequest, path: str, body: Mapping[str, Any], *, stream: bool, **kwargs: Any
    ) -> Operation[Any]:
        """:meth:`json_operation` for a chat request (its replay and logging options applied)."""
        op = self.json_operation(
            path,
            body,
            stream=stream,
            span=f"{self.name}.chat",
            replay_unsafe=req.replay_unsafe,
            log_content=req.record_content,
            **kwargs,
        )
        if self.shared:
            from atriumn.ai._shared import chat_scope

            op = op.evolve(shared_scope=chat_scope(self, req))
        return apply_options(op, req.request_options) if req.request_options else op

    def check(self, req: ChatRequest) -> None:
        """Refuse, before any request, what this provider or model cannot take (a part, a reasoning control, a
        cache TTL, too many cache points): :class:`UnsupportedParameterError` or :class:`ValidationError`
        naming it. The adapters' wire checks live in :mod:`.providers._capabilities`."""
        check_request(self.name, req)

    @abc.abstractmethod
    def parse_chat(self, doc: Any, req: ChatRequest) -> ChatResponse:
        """The response for a non-streamed answer's JSON document."""

    @abc.abstractmethod
    def stream_state(self, req: ChatRequest) -> StreamState:
        """A fresh accumulator for one stream."""

    def embed_operation(self, model: str, texts: Sequence[str], *, replay_unsafe: bool = True) -> Operation[Any]:
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
    """Adjacent text parts joined into one, and adjacent reasoning texts of one provider (the later part's
    signature kept), so streamed and non-streamed answers compare equal. A signature-only reasoning part
    (Gemini's ``thoughtSignature`` on the part that follows it) is never merged."""
    if len(parts) == 1:  # the common answer: one part, nothing to merge
        only = parts[0]
        return () if isinstance(only, TextPart) and not only.text else (only,)
    out: list[Part] = []
    for p in parts:
        if isinstance(p, TextPart):
            if not p.text:
                continue
            if out and isinstance(out[-1], TextPart):
                out[-1] = TextPart(text=out[-1].text + p.text)
                continue
        elif isinstance(p, ReasoningPart) and p.text and not p.redacted and out:
            last = out[-1]
            if isinstance(last, ReasoningPart) and last.text and not last.redacted and last.provider == p.provider:
                out[-1] = ReasoningPart(
                    text=last.text + p.text, signature=p.signature or last.signature, provider=p.provider
                )
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
    texts: list[str] = []
    calls: list[ToolCall] = []
    for p in merged:
        if isinstance(p, TextPart):
            texts.append(p.text)
        elif isinstance(p, ToolCall):
            calls.append(p)
    return ChatResponse(
        text="".join(texts),
        parts=merged,
        tool_calls=tuple(calls),
        finish_reason=finish_reason,
        usage=usage,
        provider=provider,
        model=model,
        id=id,
        raw=raw,
        rate_limits=NO_RATE_LIMITS,  # the headers' are filled in by the call (the default would build one first)
    )


def object_arguments(call: ToolCall, where: str, provider: str) -> dict[str, Any]:
    """A tool call's arguments for a provider that takes them as an object (Anthropic ``input``, Gemini
    ``args``): arguments that came as text that is not a JSON object cannot be sent faithfully, so they
    raise :class:`ValidationError` naming the message and the call (OpenAI and Groq take the text as is)."""
    problem = call.arguments_error
    if problem is not None:
        raise ValidationError(
            f"{where}: the arguments of tool call {call.id or call.name!r} are {problem}; {provider} takes them "
            "as a JSON object only (a model cut off at max_tokens emits such arguments: drop or repair the call)"
        )
    return dict(call.arguments)


def dumps(obj: Any) -> str:
    """Compact JSON."""
    return _ENCODE(obj)


_ENCODE = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode
