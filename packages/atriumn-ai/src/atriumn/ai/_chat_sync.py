"""The synchronous chat client, :class:`ChatClient`: an I/O driver of the engine (see :mod:`._chat_base`)."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Generator, Iterator, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal

from atriumn.core import AtriumnError, Transport, ValidationError

from . import _batch
from ._batch import ScoredItem
from ._call import replay_events
from ._chat_base import BaseChatClient, Chain, HealthStatus
from ._errors import StructuredOutputError
from ._params import ErrorMode
from ._shared import base_transport
from ._streams import ChatStream
from ._tools import Conversation, run_sync
from ._types import ChatResponse, Embeddings, FinishEvent, StreamEvent, ToolCallEvent, ToolResultEvent

if TYPE_CHECKING:
    from typing_extensions import Unpack

    from atriumn.core import ClientOptions, RequestOptions

    from ._batches_sync import Batches
    from ._caches import Caches
    from ._params import ChatParams

__all__ = ["ChatClient"]


class ChatClient(BaseChatClient):
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
        shared_state: a :class:`~atriumn.core.RedisState`: rate limits (requests and tokens per provider, model
            and key), breakers and the per-model breakers shared with every process using it (else
            ``ATRIUMN_REDIS_URL``'s; see the scaling guide).
    """

    def __init__(
        self,
        *,
        transport: Transport | None = None,
        max_retries: int | None = None,
        deadline: float | None = None,
        shared_state: Any = None,
        **options: Any,
    ) -> None:
        super().__init__(**options)
        self._own_transport = transport is None
        self._base = base_transport(Transport, transport, max_retries, deadline, shared_state)
        self._engine.use_shared_state(self._base.shared_state)
        self._transports: dict[str, Transport] = {}

    def with_options(self, **options: Unpack[ClientOptions]) -> ChatClient:
        """A client like this one with some options changed (``timeout``, ``max_retries``, ``extra_headers``,
        ``extra_query``, ``replay_unsafe``), sharing its connection pool, breakers, cache and budget."""
        return self._with_options(options)

    @property
    def caches(self) -> Caches:
        """Gemini explicit caches: ``create``, ``get``, ``list``, ``update``, ``delete`` (:class:`CachedContent`)."""
        from ._caches import Caches

        return Caches(self)

    @property
    def batches(self) -> Batches:
        """Provider batch jobs at batch prices: ``create``, ``get``, ``list``, ``cancel``, ``wait``, ``results``
        (:class:`BatchRequest` in, :class:`BatchJob`, :class:`BatchRequestResult` out)."""
        from ._batches_sync import Batches

        return Batches(self)

    def chat(
        self,
        model: str | None = None,
        messages: Any = None,
        *,
        models: Sequence[str] | None = None,
        **params: Unpack[ChatParams],
    ) -> ChatResponse:
        """Send a conversation and return the whole answer.

        Args:
            model: ``provider:model`` (else the default model); or ``models=[...]``, a fallback chain tried in
                order on retryable errors and open circuits.
            messages: a string, :class:`Message` objects, or OpenAI-style dicts.
            **params: the optional parameters, by keyword (:class:`ChatParams`: ``system``, ``temperature``,
                ``max_tokens``, ``tools``, ``response_format``, ...).
        """
        loop, rest = self._conversation(messages, params, "chat", allow_async=False)
        if loop is None:
            return self._request(self._chain(model, models, messages, rest, "chat", stream=False))
        while True:
            try:
                response = self._request(self._chain(model, models, loop.messages, rest, "chat", stream=False))
            except StructuredOutputError as exc:
                if loop.reask(exc):
                    continue
                raise loop.failed(exc) from None
            calls = loop.next_calls(response)
            if calls is None:
                return loop.finish(response)
            loop.record_tools(response, [run_sync(c) for c in calls])

    def _request(self, chain: Chain) -> ChatResponse:
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
        errors: ErrorMode = "raise",
        **params: Unpack[ChatParams],
    ) -> ChatStream:
        """Like :meth:`chat`, streamed: a :class:`ChatStream` of :class:`TextDelta`, :class:`ToolCallDelta`,
        :class:`UsageEvent` and a final :class:`FinishEvent` carrying the same :class:`ChatResponse` that
        :meth:`chat` returns. Errors inside the stream raise typed errors (``errors="event"`` yields an
        :class:`ErrorEvent` instead). A fallback chain moves on only before the first token; after it, a
        failure raises :class:`StreamInterruptedError` with the partial text.
        """
        loop, rest = self._conversation(messages, params, "stream", allow_async=False)
        if loop is None:
            return ChatStream(self._events(self._chain(model, models, messages, rest, "stream", stream=True)), errors)
        first = self._chain(model, models, loop.messages, rest, "stream", stream=True)
        return ChatStream(self._loop_events(loop, first, lambda: self._chain(
            model, models, loop.messages, rest, "stream", stream=True
        )), errors)  # fmt: skip

    def _loop_events(self, loop: Conversation, chain: Chain, next_chain: Callable[[], Chain]) -> Iterator[StreamEvent]:
        """A streamed tool loop: every round's events, the tool calls and results between rounds, one finish."""
        while True:
            final: ChatResponse | None = None
            try:
                with contextlib.closing(self._events(chain)) as events:
                    for event in events:
                        if type(event) is FinishEvent:
                            final = event.response
                        else:
                            yield event
            except StructuredOutputError as exc:
                if not loop.reask(exc):
                    raise loop.failed(exc) from None
                chain = next_chain()
                continue
            assert final is not None
            calls = loop.next_calls(final)
            if calls is None:
                yield FinishEvent(final.finish_reason, loop.finish(final))
                return
            yield from (ToolCallEvent(c.call) for c in calls)
            results = [run_sync(c) for c in calls]
            yield from (ToolResultEvent(r) for r in results)
            loop.record_tools(final, results)
            chain = next_chain()

    def _events(self, chain: Chain) -> Generator[StreamEvent, None, None]:
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
        **options: Unpack[RequestOptions],
    ) -> Embeddings:
        """Embed ``texts`` (OpenAI or Gemini), in batches under the provider's limit; vectors in input order.
        With a response cache, vectors are cached per text. ``replay_unsafe`` as for :meth:`chat`; the per-call
        options (``extra_headers``, ``extra_query``, ``extra_body``, ``timeout``) apply to every batch."""
        plan = self._embed_plan(model, texts, batch_size, cache, replay_unsafe, options)
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
        mode: Literal["interactive", "batch"] = "interactive",
    ) -> list[ScoredItem]:
        """Score texts against a rubric, ``batch_size`` items per request (structured output), up to
        ``max_concurrency`` requests at once. Items are validated before any call; results come in input order,
        each with its score or its error; one failed request never stops the others.

        ``mode="batch"`` sends the same requests as one provider batch job (:attr:`batches`) and waits for it:
        the same results at the provider's batch prices, within its batch window rather than now (one ``model``;
        ``progress(done, total)`` then counts requests as the job reports them)."""
        if mode == "batch":
            if models is not None:
                raise ValidationError("models: a fallback chain is for interactive calls (mode='batch' takes model=)")
            return self.batches.score_texts(items, rubric=rubric, model=model, batch_size=batch_size, progress=progress)
        if mode != "interactive":
            raise ValidationError(f"mode: expected 'interactive' or 'batch', got {mode!r}")
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
