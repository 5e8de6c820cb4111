"""The chat clients: :class:`ChatClient` (sync) and :class:`AsyncChatClient`.

They are the I/O drivers only: they send the operations an adapter builds through a core transport, read
bodies, feed stream chunks, and yield events. Every decision (model resolution, validation, caching, budget,
breaker, fallback, parsing, telemetry) is in :mod:`._engine` and the adapters, written once for both.

Streams: the HTTP response is closed on every path — normal end, an exception, ``close()``, leaving a
``with`` block, or (sync) dropping the stream after an early ``break``. For async streams use
``async with`` (or ``await stream.aclose()``) to close deterministically after an early ``break``.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from types import TracebackType
from typing import Any, Literal

import attrs

from atriumn.core import AsyncTransport, AtriumnError, CircuitBreakerPolicy, DecodeError, Transport, ValidationError

from . import _batch
from ._batch import ScoredItem
from ._engine import _SHAPE_ERRORS, Budget, Call, Engine, ProviderSpec, is_fallback_error, replay_events, unreadable
from ._errors import StreamInterruptedError
from ._pricing import PriceTable
from ._request import ChatRequest
from ._types import Attempt, ChatResponse, Embeddings, ErrorEvent, FinishEvent, StreamEvent, Usage
from .providers._read import load_json

__all__ = ["AsyncChatClient", "AsyncChatStream", "ChatClient", "ChatStream", "HealthStatus"]

ErrorMode = Literal["raise", "event"]


@attrs.frozen(kw_only=True)
class HealthStatus:
    """The result of :meth:`ChatClient.check`: whether the model answered, how fast, or the error."""

    model: str
    ok: bool
    latency: float
    error: BaseException | None = attrs.field(default=None, eq=False)


class _Chain:
    """A fallback chain over the planned models (sans-IO): which call is next, what an error means."""

    def __init__(self, engine: Engine, plan: list[tuple[ChatRequest, Any]], *, stream: bool, use_cache: bool) -> None:
        self.engine = engine
        self.plan = plan
        self.stream = stream
        self.use_cache = use_cache
        self.attempts: list[Attempt] = []

    def __iter__(self) -> Iterator[Call]:
        for req, adapter in self.plan:
            yield Call(self.engine, req, adapter, stream=self.stream, use_cache=self.use_cache)

    def failed(self, call: Call, error: BaseException, cause: BaseException) -> None:
        """Record the failure; raise unless the next model should be tried."""
        if error is not cause and error.__cause__ is None:
            error.__cause__ = cause
        if not isinstance(error, Exception):
            raise error
        self.attempts.append(Attempt(model=call.req.full_model, error=error, partial_text=call.partial_text))
        if call.delivered:
            error.partial_text = call.partial_text  # type: ignore[attr-defined]
        if call.delivered and len(self.plan) > 1:
            raise StreamInterruptedError(
                f"{call.req.full_model} failed after streaming {len(call.partial_text)} characters: {error}",
                partial_text=call.partial_text,
                model=call.req.full_model,
                attempts=self.attempts,
            ) from error
        last = len(self.attempts) == len(self.plan)
        if last or not is_fallback_error(error):
            if len(self.plan) > 1:
                error.attempts = tuple(self.attempts)  # type: ignore[attr-defined]
            raise error

    def succeeded(self, call: Call, response: ChatResponse) -> ChatResponse:
        """The response, carrying every attempt when there was more than one."""
        if not self.attempts:
            return response
        done = Attempt(model=call.req.full_model, usage=response.usage, cost=response.cost)
        return attrs.evolve(response, attempts=(*self.attempts, done))


def _params(**params: Any) -> dict[str, Any]:
    return params


class _BaseClient:
    def __init__(
        self,
        *,
        api_keys: Mapping[str, str] | None = None,
        base_urls: Mapping[str, str] | None = None,
        providers: Sequence[ProviderSpec] = (),
        default_model: str | None = None,
        prices: PriceTable | Mapping[str, Mapping[str, float]] | None = None,
        cache: Any = None,
        budget: Budget | float | None = None,
        circuit_breaker: CircuitBreakerPolicy | None = None,
        record_content: bool = False,
        replay_unsafe: bool = True,
        tracer_provider: Any = None,
        meter_provider: Any = None,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        self._engine = Engine(
            replay_unsafe=replay_unsafe,
            tracer_provider=tracer_provider,
            meter_provider=meter_provider,
            api_keys=api_keys,
            base_urls=base_urls,
            providers=providers,
            default_model=default_model,
            prices=prices,
            cache=cache,
            budget=budget,
            circuit_breaker=circuit_breaker,
            record_content=record_content,
            environ=environ,
        )

    @property
    def budget(self) -> Budget | None:
        """The client's :class:`Budget`, if any."""
        return self._engine.budget

    @property
    def cache(self) -> Any:
        """The client's response cache, if any."""
        return self._engine.cache

    def _derive(self, base: Any, adapter: Any) -> Any:
        from atriumn.core import ApiKey

        key = adapter.config.api_key
        credentials = ApiKey(key, header_name=adapter.key_header, prefix=adapter.key_prefix) if key else None
        return base.with_options(
            base_url=adapter.config.base_url,
            credentials=credentials,
            headers={**base.extra_headers, **adapter.default_headers()},
        )

    def _embed_plan(
        self,
        model: str | None,
        texts: Sequence[str],
        batch_size: int | None,
        use_cache: bool,
        replay_unsafe: bool | None,
    ) -> _EmbedPlan:
        if isinstance(texts, str):
            raise ValidationError("texts: expected a list of strings, got one string")
        items = list(texts)
        for i, t in enumerate(items):
            if not isinstance(t, str) or not t:
                raise ValidationError(f"texts[{i}]: expected a non-empty string")
        provider, name = self._engine.split(model)
        adapter = self._engine.adapter(provider)
        if not adapter.embed_batch_size:
            raise ValidationError(f"model: {provider} has no embeddings in this SDK (use openai or gemini)")
        if batch_size is not None and batch_size < 1:
            raise ValidationError("batch_size: must be >= 1")
        size = min(batch_size or adapter.embed_batch_size, adapter.embed_batch_size)
        replay = self._engine.replay_unsafe if replay_unsafe is None else replay_unsafe
        cache = self._engine.cache if use_cache else None
        return _EmbedPlan(self._engine, adapter, name, items, size, cache, replay)


class _EmbedPlan:
    """One embed call (sans-IO): cached vectors first, the rest in batches under the provider's limit."""

    def __init__(
        self, engine: Engine, adapter: Any, model: str, texts: list[str], size: int, cache: Any, replay_unsafe: bool
    ) -> None:
        self.engine = engine
        self.replay_unsafe = replay_unsafe
        self.adapter = adapter
        self.model = model
        self.texts = texts
        self.cache = cache
        self.vectors: list[tuple[float, ...] | None] = [None] * len(texts)
        self.usage = Usage()
        self.keys: list[str] = []
        if cache is not None:
            import hashlib

            prefix = f"embed\0{adapter.config.name}\0{adapter.config.base_url}\0{model}\0"
            self.keys = [hashlib.sha256((prefix + t).encode()).hexdigest() for t in texts]
            self.vectors = [cache.get_vector(k) for k in self.keys]
        missing = [i for i, v in enumerate(self.vectors) if v is None]
        self.batches = [missing[i : i + size] for i in range(0, len(missing), size)]

    def operation(self, batch: list[int]) -> Any:
        return self.adapter.embed_operation(
            self.model, [self.texts[i] for i in batch], replay_unsafe=self.replay_unsafe
        )

    def absorb(self, batch: list[int], content: bytes) -> None:
        doc = load_json(content, self.adapter.name)
        try:
            got, usage = self.adapter.parse_embed(doc, len(batch))
        except AtriumnError:
            raise
        except _SHAPE_ERRORS as exc:
            raise unreadable(self.adapter.name, exc) from None
        if len(got) != len(batch):
            raise DecodeError(f"{self.adapter.name} returned {len(got)} embeddings for {len(batch)} texts")
        for i, vector in zip(batch, got, strict=True):
            self.vectors[i] = vector
            if self.cache is not None:
                self.cache.put_vector(self.keys[i], vector)
        self.usage = self.usage + usage

    def result(self) -> Embeddings:
        full = f"{self.adapter.config.name}:{self.model}"
        return Embeddings(
            vectors=tuple(v for v in self.vectors if v is not None),
            model=self.model,
            provider=self.adapter.config.name,
            usage=self.usage,
            cost=self.engine.prices.cost(full, self.usage),
        )


# --- sync ----------------------------------------------------------------------------------------------


class ChatStream:
    """The events of one streamed chat: ``for event in stream``; :attr:`response` once finished.

    Use it as a context manager (``with client.stream(...) as s:``) or call :meth:`close` to stop early.
    """

    def __init__(self, events: Iterator[StreamEvent], errors: ErrorMode = "raise") -> None:
        self._events = events
        self._errors = errors
        self._ended = False
        #: the final :class:`ChatResponse`, once the stream finished.
        self.response: ChatResponse | None = None

    def __iter__(self) -> ChatStream:
        return self

    def __next__(self) -> StreamEvent:
        if self._ended:
            raise StopIteration
        try:
            event = next(self._events)
        except StopIteration:
            self._ended = True
            raise
        except AtriumnError as exc:
            self._ended = True
            if self._errors == "event":
                return ErrorEvent(exc)
            raise
        if type(event) is FinishEvent:
            self.response = event.response
        return event

    def text_stream(self) -> Iterator[str]:
        """Only the text deltas."""
        for event in self:
            if event.type == "text_delta":
                yield event.text  # type: ignore[union-attr]

    def final_response(self) -> ChatResponse:
        """Consume the rest of the stream and return the accumulated response."""
        for _ in self:
            pass
        if self.response is None:
            raise RuntimeError("the stream ended without a response")
        return self.response

    def close(self) -> None:
        """Stop the stream and close its HTTP response."""
        self._ended = True
        close = getattr(self._events, "close", None)
        if close is not None:
            close()

    def __enter__(self) -> ChatStream:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


class ChatClient(_BaseClient):
    """One chat / stream / embed interface over OpenAI, Anthropic, Gemini, Groq and OpenAI-compatible servers.

    Models are named ``provider:model`` (``anthropic:claude-sonnet-4-5``). Keys come from ``api_keys``, else
    ``OPENAI_API_KEY``, ``ANTHROPIC_API_KEY``, ``GEMINI_API_KEY``/``GOOGLE_API_KEY``, ``GROQ_API_KEY``; base
    URLs from ``base_urls``, else ``OPENAI_BASE_URL``, ``ANTHROPIC_BASE_URL``, ``GEMINI_BASE_URL``,
    ``GROQ_BASE_URL``, else the providers' own. The default model is ``default_model`` or
    ``ATRIUMN_AI_MODEL``; ``LLM_PROVIDER`` names the provider of a model given without one.

    Args:
        api_keys, base_urls: per provider name.
        providers: extra :class:`ProviderSpec` s (see :func:`openai_compatible`).
        default_model: used when a call names no model.
        transport: a core :class:`~atriumn.core.Transport` to share (its pool, retries and stats); else one
            is created (``max_retries``, ``deadline`` apply to it) and closed by :meth:`close`.
        prices: a :class:`PriceTable` or overrides of the bundled one.
        cache: a response cache (:class:`MemoryCache`, :class:`SQLiteCache`).
        budget: a :class:`Budget` or an amount in USD.
        circuit_breaker: the policy of the breaker kept per ``provider:model``.
        record_content: record prompt and completion text on spans, and show request bodies' text in DEBUG
            logs (off by default: logs show a body's shape only).
        replay_unsafe: replay a chat or embeddings call after it may have reached the provider — after a
            connection reset, a read timeout or a 5xx — as the official SDKs do (default True). Providers
            ignore Idempotency-Key, so a replay may run the generation twice and bill it twice; False raises
            the error instead. Failures before the request was sent (refused connections) and 408 / 429 / 529
            answers are retried either way. Per call: ``chat(..., replay_unsafe=False)``.
        tracer_provider, meter_provider: OpenTelemetry providers (default: the global ones).
    """

    def __init__(
        self,
        *,
        transport: Transport | None = None,
        max_retries: int | None = None,
        deadline: float | None = None,
        **options: Any,
    ) -> None:
        super().__init__(**options)
        self._own_transport = transport is None
        self._base = transport if transport is not None else Transport(max_retries=max_retries, deadline=deadline)
        self._transports: dict[str, Transport] = {}

    def _transport(self, adapter: Any) -> Transport:
        name = adapter.config.name
        transport = self._transports.get(name)
        if transport is None:
            transport = self._transports[name] = self._derive(self._base, adapter)
        return transport

    def chat(
        self,
        model: str | None = None,
        messages: Any = None,
        *,
        models: Sequence[str] | None = None,
        system: str | None = None,
        temperature: float | None = None,
        max_tokens: int | None = None,
        top_p: float | None = None,
        top_k: int | None = None,
        stop: str | Sequence[str] | None = None,
        seed: int | None = None,
        tools: Sequence[Any] | None = None,
        tool_choice: str | None = None,
        response_format: Any = None,
        extra_body: Mapping[str, Any] | None = None,
        cache: bool = True,
        replay_unsafe: bool | None = None,
    ) -> ChatResponse:
        """Send a conversation and return the whole answer.

        Args:
            model: ``provider:model`` (else the default model); or ``models=[...]``, a fallback chain tried in
                order on retryable errors and open circuits.
            messages: a string, :class:`Message` objects, or OpenAI-style dicts.
            system: the system prompt.
            temperature, max_tokens, top_p, top_k, stop, seed: sampling (a parameter the model does not accept
                raises :class:`UnsupportedParameterError` before sending).
            tools: :class:`Tool` s, typed callables, or JSON Schema dicts; tool_choice: ``auto``, ``none``,
                ``required`` or a tool name.
            response_format: a JSON Schema dict or an attrs class: the answer is parsed into ``.parsed``.
            extra_body: provider-specific fields merged into the request body.
            cache: use the client's response cache (when it has one).
            replay_unsafe: this call's replay rule (default: the client's; see :class:`ChatClient`).
        """
        plan = self._engine.plan(
            model,
            models,
            messages,
            _params(
                system=system,
                temperature=temperature,
                max_tokens=max_tokens,
                top_p=top_p,
                top_k=top_k,
                stop=stop,
                seed=seed,
                tools=tools,
                tool_choice=tool_choice,
                response_format=response_format,
                extra_body=extra_body,
            ),
            replay_unsafe,
        )
        chain = _Chain(self._engine, plan, stream=False, use_cache=cache)
        for call in chain:
            try:
                entry = call.begin()
                if entry is not None:
                    return call.from_cache(entry)
                with call.activate():
                    response = self._transport(call.adapter).send(call.adapter.chat_operation(call.req, stream=False))
                result = call.parse_body(response.content, response.headers)
            except Exception as exc:
                chain.failed(call, call.failed(exc), exc)
                continue
            return chain.succeeded(call, call.succeeded(result))
        raise AssertionError("unreachable")  # pragma: no cover

    def stream(
        self,
        model: str | None = None,
        messages: Any = None,
        *,
        models: Sequence[str] | None = None,
        system: str | None = None,
        temperature: float | None = None,
        max_tokens: int | None = None,
        top_p: float | None = None,
        top_k: int | None = None,
        stop: str | Sequence[str] | None = None,
        seed: int | None = None,
        tools: Sequence[Any] | None = None,
        tool_choice: str | None = None,
        response_format: Any = None,
        extra_body: Mapping[str, Any] | None = None,
        cache: bool = True,
        errors: ErrorMode = "raise",
        replay_unsafe: bool | None = None,
    ) -> ChatStream:
        """Like :meth:`chat`, streamed: a :class:`ChatStream` of :class:`TextDelta`, :class:`ToolCallDelta`,
        :class:`UsageEvent` and a final :class:`FinishEvent` carrying the same :class:`ChatResponse` that
        :meth:`chat` returns. Errors inside the stream raise typed errors (``errors="event"`` yields an
        :class:`ErrorEvent` instead). A fallback chain moves on only before the first token; after it, a
        failure raises :class:`StreamInterruptedError` with the partial text.
        """
        plan = self._engine.plan(
            model,
            models,
            messages,
            _params(
                system=system,
                temperature=temperature,
                max_tokens=max_tokens,
                top_p=top_p,
                top_k=top_k,
                stop=stop,
                seed=seed,
                tools=tools,
                tool_choice=tool_choice,
                response_format=response_format,
                extra_body=extra_body,
            ),
            replay_unsafe,
        )
        return ChatStream(self._events(_Chain(self._engine, plan, stream=True, use_cache=cache)), errors)

    def _events(self, chain: _Chain) -> Iterator[StreamEvent]:
        for call in chain:
            try:
                entry = call.begin()
                if entry is not None:
                    yield from replay_events(call.from_cache(entry), entry.events)
                    return
                with call.activate():
                    response = self._transport(call.adapter).send(call.adapter.chat_operation(call.req, stream=True))
                try:
                    call.stream_opened(response)
                    for chunk in response.iter_bytes():
                        events = call.feed(chunk)
                        if events:
                            yield from events
                    final = call.stream_closed()
                finally:
                    response.close()
            except GeneratorExit:
                call.abandoned()
                raise
            except Exception as exc:
                chain.failed(call, call.failed(exc), exc)
                continue
            yield FinishEvent(final.finish_reason, chain.succeeded(call, final.response))
            return

    def embed(
        self,
        model: str | None,
        texts: Sequence[str],
        *,
        batch_size: int | None = None,
        cache: bool = True,
        replay_unsafe: bool | None = None,
    ) -> Embeddings:
        """Embed ``texts`` (OpenAI or Gemini), in batches under the provider's limit; vectors in input order.
        With a response cache, vectors are cached per text. ``replay_unsafe`` as for :meth:`chat`."""
        plan = self._embed_plan(model, texts, batch_size, cache, replay_unsafe)
        transport = self._transport(plan.adapter) if plan.batches else None
        for batch in plan.batches:
            assert transport is not None
            plan.absorb(batch, transport.send(plan.operation(batch)).content)
        return plan.result()

    def check(self, model: str | None = None) -> HealthStatus:
        """The cheapest real call the provider allows (a model lookup): latency, or the error. Never raises
        for provider errors (configuration errors do raise)."""
        provider, name = self._engine.split(model)
        adapter = self._engine.adapter(provider)
        start = time.perf_counter()
        try:
            response = self._transport(adapter).send(adapter.check_operation(name))
            response.read()
            response.close()
        except AtriumnError as exc:
            return HealthStatus(model=f"{provider}:{name}", ok=False, latency=time.perf_counter() - start, error=exc)
        return HealthStatus(model=f"{provider}:{name}", ok=True, latency=time.perf_counter() - start)

    def score_texts(
        self,
        items: Sequence[Any],
        *,
        rubric: str,
        model: str | None = None,
        models: Sequence[str] | None = None,
        batch_size: int = 10,
        max_concurrency: int = 3,
        progress: Any = None,
    ) -> list[ScoredItem]:
        """Score texts against a rubric, ``batch_size`` items per request (structured output), up to
        ``max_concurrency`` requests at once. Items are validated before any call; results come in input order,
        each with its score or its error; one failed request never stops the others."""
        valid = _batch.validate_items(items)
        if not rubric or not rubric.strip():
            raise ValidationError("rubric: must be a non-empty string")
        groups = _batch.batches(valid, batch_size)

        def score(group: list[_batch.TextItem]) -> ChatResponse:
            system, user = _batch.scoring_messages(rubric, group)
            kwargs: dict[str, Any] = {"models": models} if models is not None else {"model": model}
            return self.chat(messages=user, system=system, response_format=_batch.SCORE_SCHEMA, **kwargs)

        outcomes = _batch.map_batch(groups, score, max_concurrency=max_concurrency, progress=progress)
        return [s for group, outcome in zip(groups, outcomes, strict=True) for s in _batch.scored(group, outcome)]

    def close(self) -> None:
        """Close the transport this client created (a shared one is left open)."""
        if self._own_transport:
            self._base.close()

    def __enter__(self) -> ChatClient:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


# --- async ---------------------------------------------------------------------------------------------


class AsyncChatStream:
    """The async twin of :class:`ChatStream`: ``async for event in stream``; use ``async with`` to close early."""

    def __init__(self, events: AsyncIterator[StreamEvent], errors: ErrorMode = "raise") -> None:
        self._events = events
        self._errors = errors
        self._ended = False
        self.response: ChatResponse | None = None

    def __aiter__(self) -> AsyncChatStream:
        return self

    async def __anext__(self) -> StreamEvent:
        if self._ended:
            raise StopAsyncIteration
        try:
            event = await self._events.__anext__()
        except StopAsyncIteration:
            self._ended = True
            raise
        except AtriumnError as exc:
            self._ended = True
            if self._errors == "event":
                return ErrorEvent(exc)
            raise
        if type(event) is FinishEvent:
            self.response = event.response
        return event

    async def text_stream(self) -> AsyncIterator[str]:
        """Only the text deltas."""
        async for event in self:
            if event.type == "text_delta":
                yield event.text  # type: ignore[union-attr]

    async def final_response(self) -> ChatResponse:
        """Consume the rest of the stream and return the accumulated response."""
        async for _ in self:
            pass
        if self.response is None:
            raise RuntimeError("the stream ended without a response")
        return self.response

    async def aclose(self) -> None:
        """Stop the stream and close its HTTP response."""
        self._ended = True
        aclose = getattr(self._events, "aclose", None)
        if aclose is not None:
            await aclose()

    async def close(self) -> None:
        """Alias of :meth:`aclose`."""
        await self.aclose()

    async def __aenter__(self) -> AsyncChatStream:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()


class AsyncChatClient(_BaseClient):
    """The async twin of :class:`ChatClient` (same arguments; ``transport`` is an ``AsyncTransport``)."""

    def __init__(
        self,
        *,
        transport: AsyncTransport | None = None,
        max_retries: int | None = None,
        deadline: float | None = None,
        **options: Any,
    ) -> None:
        super().__init__(**options)
        self._own_transport = transport is None
        self._base = transport if transport is not None else AsyncTransport(max_retries=max_retries, deadline=deadline)
        self._transports: dict[str, AsyncTransport] = {}

    def _transport(self, adapter: Any) -> AsyncTransport:
        name = adapter.config.name
        transport = self._transports.get(name)
        if transport is None:
            transport = self._transports[name] = self._derive(self._base, adapter)
        return transport

    async def chat(
        self,
        model: str | None = None,
        messages: Any = None,
        *,
        models: Sequence[str] | None = None,
        system: str | None = None,
        temperature: float | None = None,
        max_tokens: int | None = None,
        top_p: float | None = None,
        top_k: int | None = None,
        stop: str | Sequence[str] | None = None,
        seed: int | None = None,
        tools: Sequence[Any] | None = None,
        tool_choice: str | None = None,
        response_format: Any = None,
        extra_body: Mapping[str, Any] | None = None,
        cache: bool = True,
        replay_unsafe: bool | None = None,
    ) -> ChatResponse:
        """See :meth:`ChatClient.chat`."""
        plan = self._engine.plan(
            model,
            models,
            messages,
            _params(
                system=system,
                temperature=temperature,
                max_tokens=max_tokens,
                top_p=top_p,
                top_k=top_k,
                stop=stop,
                seed=seed,
                tools=tools,
                tool_choice=tool_choice,
                response_format=response_format,
                extra_body=extra_body,
            ),
            replay_unsafe,
        )
        chain = _Chain(self._engine, plan, stream=False, use_cache=cache)
        for call in chain:
            try:
                entry = call.begin()
                if entry is not None:
                    return call.from_cache(entry)
                with call.activate():
                    response = await self._transport(call.adapter).send(
                        call.adapter.chat_operation(call.req, stream=False)
                    )
                result = call.parse_body(response.content, response.headers)
            except Exception as exc:
                chain.failed(call, call.failed(exc), exc)
                continue
            return chain.succeeded(call, call.succeeded(result))
        raise AssertionError("unreachable")  # pragma: no cover

    def stream(
        self,
        model: str | None = None,
        messages: Any = None,
        *,
        models: Sequence[str] | None = None,
        system: str | None = None,
        temperature: float | None = None,
        max_tokens: int | None = None,
        top_p: float | None = None,
        top_k: int | None = None,
        stop: str | Sequence[str] | None = None,
        seed: int | None = None,
        tools: Sequence[Any] | None = None,
        tool_choice: str | None = None,
        response_format: Any = None,
        extra_body: Mapping[str, Any] | None = None,
        cache: bool = True,
        errors: ErrorMode = "raise",
        replay_unsafe: bool | None = None,
    ) -> AsyncChatStream:
        """See :meth:`ChatClient.stream` (``async for``; ``async with`` to close early)."""
        plan = self._engine.plan(
            model,
            models,
            messages,
            _params(
                system=system,
                temperature=temperature,
                max_tokens=max_tokens,
                top_p=top_p,
                top_k=top_k,
                stop=stop,
                seed=seed,
                tools=tools,
                tool_choice=tool_choice,
                response_format=response_format,
                extra_body=extra_body,
            ),
            replay_unsafe,
        )
        return AsyncChatStream(self._events(_Chain(self._engine, plan, stream=True, use_cache=cache)), errors)

    async def _events(self, chain: _Chain) -> AsyncIterator[StreamEvent]:
        for call in chain:
            try:
                entry = call.begin()
                if entry is not None:
                    for event in replay_events(call.from_cache(entry), entry.events):
                        yield event
                    return
                with call.activate():
                    response = await self._transport(call.adapter).send(
                        call.adapter.chat_operation(call.req, stream=True)
                    )
                try:
                    call.stream_opened(response)
                    async for chunk in response.aiter_bytes():
                        events = call.feed(chunk)
                        for event in events:
                            yield event
                    final = call.stream_closed()
                finally:
                    await response.aclose()
            except GeneratorExit:
                call.abandoned()
                raise
            except Exception as exc:
                chain.failed(call, call.failed(exc), exc)
                continue
            yield FinishEvent(final.finish_reason, chain.succeeded(call, final.response))
            return

    async def embed(
        self,
        model: str | None,
        texts: Sequence[str],
        *,
        batch_size: int | None = None,
        cache: bool = True,
        replay_unsafe: bool | None = None,
    ) -> Embeddings:
        """See :meth:`ChatClient.embed`."""
        plan = self._embed_plan(model, texts, batch_size, cache, replay_unsafe)
        transport = self._transport(plan.adapter) if plan.batches else None
        for batch in plan.batches:
            assert transport is not None
            plan.absorb(batch, (await transport.send(plan.operation(batch))).content)
        return plan.result()

    async def check(self, model: str | None = None) -> HealthStatus:
        """See :meth:`ChatClient.check`."""
        provider, name = self._engine.split(model)
        adapter = self._engine.adapter(provider)
        start = time.perf_counter()
        try:
            response = await self._transport(adapter).send(adapter.check_operation(name))
            await response.aread()
            await response.aclose()
        except AtriumnError as exc:
            return HealthStatus(model=f"{provider}:{name}", ok=False, latency=time.perf_counter() - start, error=exc)
        return HealthStatus(model=f"{provider}:{name}", ok=True, latency=time.perf_counter() - start)

    async def score_texts(
        self,
        items: Sequence[Any],
        *,
        rubric: str,
        model: str | None = None,
        models: Sequence[str] | None = None,
        batch_size: int = 10,
        max_concurrency: int = 3,
        progress: Any = None,
    ) -> list[ScoredItem]:
        """See :meth:`ChatClient.score_texts`."""
        valid = _batch.validate_items(items)
        if not rubric or not rubric.strip():
            raise ValidationError("rubric: must be a non-empty string")
        groups = _batch.batches(valid, batch_size)

        async def score(group: list[_batch.TextItem]) -> ChatResponse:
            system, user = _batch.scoring_messages(rubric, group)
            kwargs: dict[str, Any] = {"models": models} if models is not None else {"model": model}
            return await self.chat(messages=user, system=system, response_format=_batch.SCORE_SCHEMA, **kwargs)

        outcomes = await _batch.amap_batch(groups, score, max_concurrency=max_concurrency, progress=progress)
        return [s for group, outcome in zip(groups, outcomes, strict=True) for s in _batch.scored(group, outcome)]

    async def aclose(self) -> None:
        """Close the transport this client created."""
        if self._own_transport:
            await self._base.aclose()

    async def close(self) -> None:
        """Alias of :meth:`aclose`."""
        await self.aclose()

    async def __aenter__(self) -> AsyncChatClient:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()
