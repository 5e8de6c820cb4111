"""One chat call's bookkeeping, sans-IO: everything one attempt on one model does around its I/O.

:class:`Call` holds the cache lookup, budget, circuit breaker, GenAI span and metrics, stream accumulation,
and completing the response (cost, rate limits, structured output), so that the sync and async drivers
(:mod:`._chat_sync`, :mod:`._chat_async`) only send, read and yield.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import attrs

from atriumn.core import APIError, AtriumnError, DecodeError, Headers, NetworkError, TransportError

from ._engine import Engine
from ._errors import StreamDecodeError, StructuredOutputError
from ._parts import ReasoningPart
from ._ratelimits import rate_limits_on_access
from ._request import ChatRequest
from ._sse import SSEDecoder
from ._structured import parse_output
from ._types import (
    ChatResponse,
    FinishEvent,
    ReasoningDelta,
    StreamEvent,
    TextDelta,
    TextPart,
    ToolCall,
    ToolCallDelta,
    UsageEvent,
)
from .providers._read import load_json

if TYPE_CHECKING:
    from ._cache import CacheEntry
    from .providers._base import Adapter, StreamState

__all__ = ["SHAPE_ERRORS", "Call", "replay_events", "transport_error", "unreadable"]


def _status_of(exc: BaseException) -> int | None:
    if isinstance(exc, APIError):
        return exc.status_code
    if isinstance(exc, TransportError):
        return None
    return 200  # our own errors (decoding, structured output) say nothing about the provider's health


def transport_error(exc: BaseException, request: Any) -> BaseException:
    """An httpx2 error raised while reading a streamed body, as a core error naming the phase, the wait and
    the full URL (redacted), as the transport names its own failures."""
    import httpx2

    from atriumn.core._outcome import classify
    from atriumn.core._redact import redact_url

    if not isinstance(exc, (httpx2.HTTPError, OSError)):
        return exc
    url = redact_url(str(request.url)) if request is not None else ""
    method = request.method if request is not None else ""
    timeouts = request.extensions.get("timeout") if request is not None else None
    return classify(exc, method, url, timeouts)


class Call:
    """One attempt of one chat request on one model: everything but the I/O."""

    # The state every call starts with (class attributes: a call sets only what it changes).
    cache_key: str | None = None
    probe = False
    acquired = False
    span: Any = None
    began = False  # begin() ran: telemetry ends the attempt (a span, or metrics only)
    start = 0.0
    state: StreamState | None = None
    decoder: SSEDecoder | None = None
    headers: Mapping[str, str] = {}  # never mutated: stream_opened replaces it
    request: Any = None
    recorded: list[StreamEvent] | None = None
    delivered = False
    finished = False

    def __init__(self, engine: Engine, req: ChatRequest, adapter: Adapter, *, stream: bool, use_cache: bool) -> None:
        self.engine = engine
        self.req = req
        self.adapter = adapter
        self.stream = stream
        self.cache = engine.cache if use_cache else None
        self.breaker = engine.breakers.for_host(req.full_model)

    # --- before sending -------------------------------------------------------------------------------

    def begin(self) -> CacheEntry | None:
        """Cache lookup (a hit is returned), budget check, breaker, span. Raises before any request."""
        if self.cache is not None:
            self.cache_key = self.req.cache_key(self.adapter.config.base_url)
            hit = self.cache.get(self.cache_key)
            if hit is not None:
                return hit
        budget = self.engine.budget
        if budget is not None:
            estimate = self.worst_case()
            if estimate is not None:
                budget.check(estimate, self.req.full_model)
        self.probe = self.breaker.acquire()
        self.acquired = True
        self.span = self.engine.telemetry().start(self.req, self.stream, self.engine.record_content)
        self.began = True
        self.start = time.perf_counter()
        return None

    def activate(self) -> contextlib.AbstractContextManager[Any]:
        """Make this call's span current while sending, so the core's HTTP spans nest under ``chat {model}``."""
        span = self.span
        if span is None or not span.is_recording():
            return contextlib.nullcontext()
        return self.engine.telemetry().trace.use_span(  # type: ignore[no-any-return]
            span, end_on_exit=False, record_exception=False, set_status_on_exception=False
        )

    def from_cache(self, entry: CacheEntry) -> ChatResponse:
        """A cache hit as this call's response (structured output parsed again: classes are not stored)."""
        response = attrs.evolve(entry.response, cached=True)
        if self.req.response_schema is not None or self.req.response_json:
            response = attrs.evolve(response, parsed=self.parse_structured(response))
        return response

    def worst_case(self) -> float | None:
        """The highest cost this request could have (about 3 characters a token, every output token used)."""
        text = sum(len(m.text) for m in self.req.messages) + len(self.req.system or "")
        text += sum(len(json.dumps(dict(t.parameters or {}))) + len(t.description or "") for t in self.req.tools)
        from .providers.anthropic import DEFAULT_MAX_TOKENS

        return self.engine.prices.worst_case(
            self.req.full_model, text // 3 + 16, self.req.max_tokens or DEFAULT_MAX_TOKENS
        )

    # --- outcomes -------------------------------------------------------------------------------------

    def complete(self, response: ChatResponse, headers: Mapping[str, str]) -> ChatResponse:
        """Cost, rate limits, request id, latency and structured output added to a parsed response."""
        latency = time.perf_counter() - self.start
        cost = self.engine.prices.cost(self.req.full_model, response.usage)
        parsed = None
        # An answer that calls tools is not the structured answer yet (a tool loop runs them and asks again).
        if (self.req.response_schema is not None or self.req.response_json) and not response.tool_calls:
            try:
                parsed = self.parse_structured(response)
            except StructuredOutputError as exc:
                # The provider answered (and charged): the budget still pays for it, and a re-ask counts it.
                if self.engine.budget is not None and cost is not None:
                    self.engine.budget.spend(cost.total)
                object.__setattr__(response, "cost", cost)
                exc.response = response
                raise
        # Case-insensitive lookups: the transport's Headers already are; any other mapping is lowered once.
        lowered = headers if isinstance(headers, Headers) else {k.lower(): v for k, v in headers.items()}
        request_id = lowered.get("x-request-id") or lowered.get("request-id") or lowered.get("x-goog-request-id")
        # The response was parsed for this call and nobody else holds it yet: fill in its remaining fields in
        # place (what attrs' own __init__ does on frozen classes) rather than copying it on every call.
        fill = object.__setattr__
        fill(response, "cost", cost)
        fill(response, "parsed", parsed)
        fill(response, "rate_limits", rate_limits_on_access(self.adapter.name, lowered))
        fill(response, "request_id", request_id)
        fill(response, "latency", latency)
        return response

    def parse_structured(self, response: ChatResponse) -> Any:
        """The structured output of a response (see :mod:`._structured`)."""
        req = self.req
        return parse_output(
            response.text, schema=req.response_schema, tp=req.response_type, model=req.full_model,
            name=req.response_name,
        )  # fmt: skip

    def succeeded(self, response: ChatResponse) -> ChatResponse:
        """Record a success (breaker, span, metrics, budget, cache)."""
        if self.acquired:
            self.breaker.record(200, probe=self.probe)
            self.acquired = False
        self.engine.settle(self.req, self.adapter, response.usage)
        self.engine.telemetry().end(self.span, self.req, response, None, self.start, self.engine.record_content)
        if self.engine.budget is not None and response.cost is not None:
            self.engine.budget.spend(response.cost.total)
        if self.cache is not None and self.cache_key is not None:
            self.cache.put(self.cache_key, response, self.recorded)
        self.finished = True
        return response

    def failed(self, exc: BaseException) -> BaseException:
        """Record a failure; returns the error to raise (httpx2 errors mapped to core errors, and every
        error scrubbed of the provider key, should the provider echo it back)."""
        if self.finished:
            return exc
        self.finished = True
        if not isinstance(exc, AtriumnError):
            exc = transport_error(exc, self.request)
        if isinstance(exc, AtriumnError):
            self.adapter.scrubber().scrub_exception(exc)
        if self.acquired:
            self.acquired = False
            if isinstance(exc, (GeneratorExit, KeyboardInterrupt)) or not isinstance(exc, Exception):
                self.breaker.release(probe=self.probe)
            else:
                self.breaker.record(_status_of(exc), probe=self.probe)
        if self.began:
            self.engine.telemetry().end(self.span, self.req, None, exc, self.start)
        return exc

    def abandoned(self) -> None:
        """The caller stopped consuming a stream early: not a provider failure."""
        if self.finished:
            return
        self.finished = True
        if self.acquired:
            self.acquired = False
            self.breaker.release(probe=self.probe)
        if self.began:
            self.engine.telemetry().end(self.span, self.req, None, None, self.start)

    # --- non-streamed -----------------------------------------------------------------------------------

    def parse_body(self, content: bytes, headers: Mapping[str, str]) -> ChatResponse:
        """The completed response of a non-streamed answer."""
        provider = self.req.provider
        doc = load_json(content, provider)
        try:
            response = self.adapter.parse_chat(doc, self.req)
        except AtriumnError:
            raise
        except SHAPE_ERRORS as exc:  # a shape no reader anticipated: still a typed error, never a raw one
            raise unreadable(provider, exc) from None
        return self.complete(response, headers)

    # --- streamed ---------------------------------------------------------------------------------------

    def stream_opened(self, response: Any) -> None:
        """The stream's response arrived."""
        self.headers = response.headers
        self.request = response.request
        self.state = self.adapter.stream_state(self.req)
        self.decoder = SSEDecoder()
        if self.cache is not None:
            self.recorded = []

    def feed(self, chunk: bytes) -> list[StreamEvent]:
        """The events completed by one chunk of the body."""
        assert self.decoder is not None
        assert self.state is not None
        out: list[StreamEvent] = []
        feed = self.state.feed
        try:
            for sse in self.decoder.feed(chunk):
                events = feed(sse)
                if events:
                    out.extend(events)
        except DecodeError as exc:
            raise self._stream_decode_error(exc) from None
        except AtriumnError:
            raise
        except SHAPE_ERRORS as exc:
            raise self._stream_decode_error(unreadable(self.req.provider, exc)) from None
        if out:
            if not self.delivered:
                self.delivered = any(type(e) is TextDelta or type(e) is ToolCallDelta for e in out)
            if self.recorded is not None:
                self.recorded.extend(out)
        return out

    def _stream_decode_error(self, exc: DecodeError) -> StreamDecodeError:
        return StreamDecodeError(
            f"{exc} (after {len(self.partial_text)} characters of the stream)",
            path=exc.path,
            body=exc.body,
            partial_text=self.partial_text,
            model=self.req.full_model,
        )

    @property
    def partial_text(self) -> str:
        """Text streamed so far."""
        return self.state.text if self.state is not None else ""

    def stream_closed(self) -> FinishEvent:
        """The end of the body: the final event (raises when the stream was cut before its end)."""
        assert self.state is not None
        if not self.state.done:
            from atriumn.core._redact import redact_url

            url = redact_url(str(self.request.url)) if self.request is not None else self.adapter.config.base_url
            raise NetworkError(
                f"{self.req.provider} stream from {url} ended before it was complete "
                f"(after {len(self.partial_text)} characters)",
                method="POST",
                url=url,
            )
        try:
            finished = self.state.finish()
        except AtriumnError:
            raise
        except SHAPE_ERRORS as exc:
            raise self._stream_decode_error(unreadable(self.req.provider, exc)) from None
        response = self.complete(finished, self.headers)
        event = FinishEvent(response.finish_reason, response)
        self.succeeded(response)
        return event


#: What a parser may raise on a shape its readers did not anticipate (turned into a DecodeError).
SHAPE_ERRORS = (AttributeError, TypeError, KeyError, ValueError, IndexError, RecursionError, ArithmeticError)


def unreadable(provider: str, exc: BaseException) -> DecodeError:
    """A parser failed on a shape no typed reader anticipated."""
    return DecodeError(f"{provider} sent a response the SDK could not read ({type(exc).__name__}: {exc})")


def replay_events(response: ChatResponse, recorded: Sequence[StreamEvent] | None) -> list[StreamEvent]:
    """The events of a cached answer: the recorded ones when it was streamed, else synthesised from it."""
    final = FinishEvent(response.finish_reason, response)
    if recorded is not None:
        return [*recorded, final]
    events: list[StreamEvent] = []
    calls = 0
    for part in response.parts:
        if isinstance(part, TextPart):
            events.append(TextDelta(part.text))
        elif isinstance(part, ReasoningPart) and part.text:
            events.append(ReasoningDelta(part.text))
        elif isinstance(part, ToolCall):
            events.append(ToolCallDelta(index=calls, id=part.id, name=part.name, arguments=part.arguments_json))
            calls += 1
    events.append(UsageEvent(response.usage))
    events.append(final)
    return events
