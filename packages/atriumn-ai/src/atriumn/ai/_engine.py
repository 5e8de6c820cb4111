"""The sans-IO half of the chat client: configuration, model resolution, and one call's bookkeeping.

:class:`Engine` resolves ``provider:model`` names, provider settings (arguments, then environment, then
defaults) and adapters (imported on first use). :class:`Call` holds everything one attempt on one model
does around its I/O — cache lookup, budget, circuit breaker, GenAI span and metrics, stream accumulation,
completing the response (cost, rate limits, structured output) — so that the sync and async drivers in
:mod:`._chat_sync` and :mod:`._chat_async` only send, read and yield.
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import attrs

from atriumn.core import (
    APIError,
    AtriumnError,
    CircuitBreakerPolicy,
    CircuitOpenError,
    ConfigurationError,
    DecodeError,
    NetworkError,
    TransportError,
    ValidationError,
)

from ._capabilities import check_parameters
from ._errors import BudgetExceededError, StreamDecodeError, StructuredOutputError
from ._pricing import PriceTable, resolve_prices
from ._ratelimits import parse_rate_limits
from ._request import ChatRequest, normalize_messages, normalize_response_format, normalize_tools
from ._sse import SSEDecoder
from ._types import (
    ChatResponse,
    FinishEvent,
    StreamEvent,
    TextDelta,
    TextPart,
    ToolCall,
    ToolCallDelta,
    UsageEvent,
)
from .providers._read import load_json

if TYPE_CHECKING:
    from ._cache import CacheEntry, ResponseCache
    from .providers._base import Adapter, StreamState

__all__ = ["PROVIDERS", "Budget", "Call", "Engine", "ProviderSpec", "openai_compatible"]


@attrs.frozen(kw_only=True)
class ProviderSpec:
    """How to reach one provider.

    Attributes:
        name: the prefix in ``name:model``.
        kind: the wire format: ``openai``, ``anthropic``, ``gemini``, ``groq`` or ``openai_compatible``.
        base_url: the API root (``https://api.openai.com/v1``; Anthropic, Gemini and Groq without version).
        api_key: the key (None: from the environment, or none for open compatible servers).
        headers: extra headers on every request.
    """

    name: str
    kind: str
    base_url: str | None = None
    api_key: str | None = attrs.field(default=None, repr=False)
    headers: Mapping[str, str] = attrs.field(factory=dict)


def openai_compatible(
    base_url: str,
    *,
    name: str = "openai_compatible",
    api_key: str | None = None,
    headers: Mapping[str, str] | None = None,
) -> ProviderSpec:
    """A provider speaking OpenAI's Chat Completions at ``base_url`` (vLLM, Ollama, LM Studio, ...).

    Pass it to a client (``ChatClient(providers=[openai_compatible("http://localhost:11434/v1", name="ollama")])``)
    and name models ``ollama:llama3.2``.
    """
    if not base_url or "://" not in base_url:
        raise ValidationError(f"base_url: expected an absolute URL, got {base_url!r}")
    return ProviderSpec(name=name, kind="openai_compatible", base_url=base_url, api_key=api_key, headers=headers or {})


# kind -> (key variables, base URL variables, default base URL, path suffix added to the base URL)
PROVIDERS: dict[str, tuple[tuple[str, ...], tuple[str, ...], str | None, str]] = {
    "openai": (("OPENAI_API_KEY",), ("OPENAI_BASE_URL",), "https://api.openai.com/v1", ""),
    "anthropic": (("ANTHROPIC_API_KEY",), ("ANTHROPIC_BASE_URL",), "https://api.anthropic.com", ""),
    "gemini": (
        ("GEMINI_API_KEY", "GOOGLE_API_KEY"),
        ("GEMINI_BASE_URL", "GOOGLE_GEMINI_BASE_URL"),
        "https://generativelanguage.googleapis.com",
        "",
    ),
    "groq": (("GROQ_API_KEY",), ("GROQ_BASE_URL",), "https://api.groq.com", "/openai/v1"),
    "openai_compatible": (("OPENAI_COMPATIBLE_API_KEY",), ("OPENAI_COMPATIBLE_BASE_URL",), None, ""),
}

#: OpenTelemetry ``gen_ai.provider.name`` values.
_OTEL_PROVIDER = {"openai": "openai", "anthropic": "anthropic", "gemini": "gcp.gemini", "groq": "groq"}


class Budget:
    """A spending limit in USD shared by calls; a call whose worst-case cost exceeds what is left raises
    :class:`BudgetExceededError` before sending. Thread-safe.

    Args:
        limit: the amount available.
    """

    def __init__(self, limit: float) -> None:
        if limit < 0:
            raise ValidationError("limit: must be >= 0")
        self.limit = float(limit)
        self._spent = 0.0
        self._lock = threading.Lock()

    @property
    def spent(self) -> float:
        """What calls have cost so far."""
        return self._spent

    @property
    def remaining(self) -> float:
        """What is left."""
        return max(0.0, self.limit - self._spent)

    def check(self, estimate: float, model: str) -> None:
        """Raise when ``estimate`` exceeds what is left."""
        with self._lock:
            left = self.limit - self._spent
        if estimate > left:
            raise BudgetExceededError(estimate, max(0.0, left), model)

    def spend(self, amount: float) -> None:
        """Record a call's cost."""
        with self._lock:
            self._spent += amount

    def __repr__(self) -> str:
        return f"Budget(limit={self.limit}, spent={self._spent:.6f})"


def is_fallback_error(exc: BaseException) -> bool:
    """Errors worth trying the next model for: retryable statuses (408, 429, 5xx, 529), transport failures
    and an open circuit. Not 4xx errors about the request itself (they would fail on every model)."""
    if isinstance(exc, (CircuitOpenError, TransportError)):
        return True
    if isinstance(exc, APIError):
        return exc.status_code in (408, 409, 429) or exc.status_code >= 500
    return False


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


class Engine:
    """Configuration shared by the sync and async chat clients."""

    def __init__(
        self,
        *,
        api_keys: Mapping[str, str] | None = None,
        base_urls: Mapping[str, str] | None = None,
        providers: Sequence[ProviderSpec] = (),
        default_model: str | None = None,
        prices: PriceTable | Mapping[str, Mapping[str, float]] | None = None,
        cache: ResponseCache | None = None,
        budget: Budget | float | None = None,
        circuit_breaker: CircuitBreakerPolicy | None = None,
        record_content: bool = False,
        replay_unsafe: bool = True,
        tracer_provider: Any = None,
        meter_provider: Any = None,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        from atriumn.core._breaker import BreakerRegistry

        if not isinstance(replay_unsafe, bool):
            raise ValidationError(f"replay_unsafe: expected True or False, got {replay_unsafe!r}")
        self.replay_unsafe = replay_unsafe

        self._otel = (tracer_provider, meter_provider)
        self.environ = os.environ if environ is None else environ
        self.api_keys = dict(api_keys or {})
        self.base_urls = dict(base_urls or {})
        self.specs: dict[str, ProviderSpec] = {s.name: s for s in providers}
        self.default_model = default_model or self.environ.get("ATRIUMN_AI_MODEL") or None
        self.default_provider = self.environ.get("LLM_PROVIDER") or None
        self._prices_arg = prices
        self._prices: PriceTable | None = None
        self.cache = cache
        self.budget = Budget(budget) if isinstance(budget, (int, float)) else budget
        self.breakers = BreakerRegistry(circuit_breaker or CircuitBreakerPolicy())
        self.record_content = record_content
        self._adapters: dict[str, Adapter] = {}
        self._lock = threading.Lock()
        self._telemetry: Any = None

    # --- configuration --------------------------------------------------------------------------------

    @property
    def prices(self) -> PriceTable:
        """The price table (loaded on first use)."""
        if self._prices is None:
            self._prices = resolve_prices(self._prices_arg)
        return self._prices

    def provider_names(self) -> set[str]:
        """Every provider name a model may start with."""
        return set(PROVIDERS) | set(self.specs)

    def split(self, model: str | None) -> tuple[str, str]:
        """``(provider, model)`` from ``provider:model`` (a bare name uses ``LLM_PROVIDER``)."""
        name = model or self.default_model
        if not name:
            raise ConfigurationError("model: none given and ATRIUMN_AI_MODEL is not set")
        provider, sep, rest = name.partition(":")
        if sep and rest and (provider in PROVIDERS or provider in self.specs):
            return provider, rest
        if self.default_provider:
            if self.default_provider not in self.provider_names():
                raise ConfigurationError(f"LLM_PROVIDER: unknown provider {self.default_provider!r}")
            return self.default_provider, name
        raise ValidationError(
            f"model: {name!r} does not name a provider; use 'provider:model' with one of "
            f"{', '.join(sorted(self.provider_names()))} (or set LLM_PROVIDER)"
        )

    def kind_of(self, provider: str) -> str:
        """The wire format of a provider name."""
        spec = self.specs.get(provider)
        return spec.kind if spec is not None else provider

    def adapter(self, provider: str) -> Adapter:
        """The adapter of ``provider`` (its module imported on first use)."""
        adapter = self._adapters.get(provider)
        if adapter is not None:
            return adapter
        with self._lock:
            adapter = self._adapters.get(provider)
            if adapter is None:
                adapter = self._adapters[provider] = self._make_adapter(provider)
        return adapter

    def _make_adapter(self, provider: str) -> Adapter:
        from .providers._base import ProviderConfig

        spec = self.specs.get(provider) or ProviderSpec(name=provider, kind=provider)
        key_vars, url_vars, default_url, suffix = PROVIDERS[spec.kind]
        base = spec.base_url or self.base_urls.get(provider)
        if not base:
            base = next((self.environ[v] for v in url_vars if self.environ.get(v)), None)
        if base:
            base = base.rstrip("/")
            if suffix and not base.endswith(suffix):
                base += suffix
        elif default_url:
            base = default_url + suffix
        else:
            raise ConfigurationError(f"{provider}: no base URL (pass base_url or set {url_vars[0]})")
        key = spec.api_key or self.api_keys.get(provider)
        if not key:
            key = next((self.environ[v] for v in key_vars if self.environ.get(v)), None)
        if not key and spec.kind != "openai_compatible":
            raise ConfigurationError(
                f"{provider}: no API key (pass api_keys={{{provider!r}: ...}} or set {' or '.join(key_vars)})"
            )
        config = ProviderConfig(provider, base, key, spec.headers)
        if spec.kind == "anthropic":
            from .providers.anthropic import AnthropicAdapter

            return AnthropicAdapter(config)
        if spec.kind == "gemini":
            from .providers.gemini import GeminiAdapter

            return GeminiAdapter(config)
        from .providers.openai import OpenAIAdapter

        return OpenAIAdapter(config)

    # --- requests -------------------------------------------------------------------------------------

    def plan(
        self,
        model: str | None,
        models: Sequence[str] | None,
        messages: Any,
        params: Mapping[str, Any],
        replay_unsafe: bool | None = None,
    ) -> list[tuple[ChatRequest, Adapter]]:
        """One validated request per model of the chain (validation raises before any request).

        ``replay_unsafe`` overrides the client's setting for this call (see :class:`ChatClient`)."""
        if models is not None and model is not None:
            raise ValidationError("model, models: give one or the other")
        names: list[str | None] = list(models) if models is not None else [model]
        if not names:
            raise ValidationError("models: must not be empty")
        if messages is None:
            raise ValidationError("messages: required")
        msgs = normalize_messages(messages)
        tools = normalize_tools(params.get("tools"))
        response_format = normalize_response_format(params.get("response_format"))
        tool_choice = params.get("tool_choice")
        if tool_choice is not None:
            if not isinstance(tool_choice, str):
                raise ValidationError("tool_choice: expected 'auto', 'none', 'required' or a tool name")
            if tool_choice not in ("auto", "none", "required") and tool_choice not in {t.name for t in tools}:
                raise ValidationError(f"tool_choice: {tool_choice!r} is not one of the tools")
        max_tokens = params.get("max_tokens")
        if max_tokens is not None and (
            isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or max_tokens < 1
        ):
            raise ValidationError(f"max_tokens: expected a positive integer, got {max_tokens!r}")
        temperature = params.get("temperature")
        if temperature is not None and (isinstance(temperature, bool) or not isinstance(temperature, (int, float))):
            raise ValidationError(f"temperature: expected a number, got {temperature!r}")
        stop = params.get("stop")
        plan: list[tuple[ChatRequest, Adapter]] = []
        for name in names:
            provider, model_name = self.split(name)
            req = ChatRequest(
                provider=provider,
                model=model_name,
                messages=msgs,
                system=params.get("system"),
                temperature=temperature,
                max_tokens=max_tokens,
                top_p=params.get("top_p"),
                top_k=params.get("top_k"),
                stop=(stop,) if isinstance(stop, str) else tuple(stop) if stop else None,
                seed=params.get("seed"),
                tools=tools,
                tool_choice=tool_choice,
                response_schema=response_format.schema,
                response_name=response_format.name,
                response_type=response_format.type,
                response_strict=response_format.strict,
                response_description=response_format.description,
                response_json=response_format.json_mode,
                extra_body=params.get("extra_body"),
                record_content=self.record_content,
                replay_unsafe=self.replay_unsafe if replay_unsafe is None else replay_unsafe,
            )
            adapter = self.adapter(provider)
            check_parameters(self.kind_of(provider), model_name, req.sampling())
            plan.append((req, adapter))
        return plan

    def telemetry(self) -> Any:
        """The GenAI instruments (created on first use)."""
        if self._telemetry is None:
            from ._telemetry import GenAITelemetry

            self._telemetry = GenAITelemetry(*self._otel)
        return self._telemetry


class Call:
    """One attempt of one chat request on one model: everything but the I/O."""

    def __init__(self, engine: Engine, req: ChatRequest, adapter: Adapter, *, stream: bool, use_cache: bool) -> None:
        self.engine = engine
        self.req = req
        self.adapter = adapter
        self.stream = stream
        self.cache = engine.cache if use_cache else None
        self.cache_key: str | None = None
        self.breaker = engine.breakers.for_host(req.full_model)
        self.probe = False
        self.acquired = False
        self.span: Any = None
        self.start = 0.0
        self.state: StreamState | None = None
        self.decoder: SSEDecoder | None = None
        self.headers: Mapping[str, str] = {}
        self.request: Any = None
        self.recorded: list[StreamEvent] | None = None
        self.delivered = False
        self.finished = False

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
        if self.req.response_schema is not None or self.req.response_json:
            try:
                parsed = self.parse_structured(response)
            except StructuredOutputError:
                # The provider answered (and charged): the budget still pays for it.
                if self.engine.budget is not None and cost is not None:
                    self.engine.budget.spend(cost.total)
                raise
        # One pass over the headers into a plain dict (lower-case keys): every lookup below is then a dict get.
        lowered = {k.lower(): v for k, v in headers.items()}
        request_id = lowered.get("x-request-id") or lowered.get("request-id") or lowered.get("x-goog-request-id")
        # The response was parsed for this call and nobody else holds it yet: fill in its remaining fields in
        # place (what attrs' own __init__ does on frozen classes) rather than copying it on every call.
        fill = object.__setattr__
        fill(response, "cost", cost)
        fill(response, "parsed", parsed)
        fill(response, "rate_limits", parse_rate_limits(self.adapter.name, lowered))
        fill(response, "request_id", request_id)
        fill(response, "latency", latency)
        return response

    def parse_structured(self, response: ChatResponse) -> Any:
        """The structured output: JSON checked against the schema, then structured into the attrs class (in
        JSON mode, any JSON object)."""
        text = response.text.strip()
        if text.startswith("```"):
            text = text.strip("`").removeprefix("json").strip()
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise StructuredOutputError(
                f"{self.req.full_model} returned text that is not JSON ({exc}); expected {self.req.response_name}",
                text=response.text,
            ) from None
        if self.req.response_schema is None:  # JSON mode: any JSON object
            if not isinstance(data, dict):
                raise StructuredOutputError(
                    f"{self.req.full_model} returned JSON that is not an object (JSON mode)", text=response.text
                )
            return data
        from ._validate import first_error

        problem = first_error(data, self.req.response_schema)
        if problem is not None:
            path, message = problem
            raise StructuredOutputError(
                f"{self.req.full_model} returned JSON that does not match {self.req.response_name} "
                f"at {path}: {message}",
                text=response.text,
                path=path,
            )
        if self.req.response_type is not None:
            from atriumn.core import structure

            try:
                return structure(data, self.req.response_type, "snake")
            except DecodeError as exc:
                raise StructuredOutputError(str(exc), text=response.text, path=exc.path) from exc
        return data

    def succeeded(self, response: ChatResponse) -> ChatResponse:
        """Record a success (breaker, span, metrics, budget, cache)."""
        if self.acquired:
            self.breaker.record(200, probe=self.probe)
            self.acquired = False
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
        if self.span is not None:
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
        if self.span is not None:
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
        except _SHAPE_ERRORS as exc:  # a shape no reader anticipated: still a typed error, never a raw one
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
        except _SHAPE_ERRORS as exc:
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
        except _SHAPE_ERRORS as exc:
            raise self._stream_decode_error(unreadable(self.req.provider, exc)) from None
        response = self.complete(finished, self.headers)
        event = FinishEvent(response.finish_reason, response)
        self.succeeded(response)
        return event


#: What a parser may raise on a shape its readers did not anticipate (turned into a DecodeError).
_SHAPE_ERRORS = (AttributeError, TypeError, KeyError, ValueError, IndexError, RecursionError, ArithmeticError)


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
        elif isinstance(part, ToolCall):
            events.append(ToolCallDelta(index=calls, id=part.id, name=part.name, arguments=part.arguments_json))
            calls += 1
    events.append(UsageEvent(response.usage))
    events.append(final)
    return events


def otel_provider(provider: str) -> str:
    """The ``gen_ai.provider.name`` of a provider."""
    return _OTEL_PROVIDER.get(provider, provider)


Fn = Callable[..., Any]
