"""The asynchronous chat client, :class:`AsyncChatClient`: the async I/O driver of the engine (see
:mod:`._chat_base`)."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal

from atriumn.core import AsyncTransport, AtriumnError, ValidationError

from . import _batch
from ._batch import ScoredItem
from ._call import replay_events
from ._chat_base import BaseChatClient, Chain, HealthStatus
from ._errors import StructuredOutputError
from ._params import ErrorMode
from ._shared import base_transport
from ._streams import AsyncChatStream
from ._tools import Conversation, run_async
from ._types import ChatResponse, Embeddings, FinishEvent, StreamEvent, ToolCallEvent, ToolResultEvent

if TYPE_CHECKING:
    from typing_extensions import Unpack

    from atriumn.core import ClientOptions, RequestOptions

    from ._batches_async import AsyncBatches
    from ._caches import AsyncCaches
    from ._params import ChatParams

__all__ = ["AsyncChatClient"]


class AsyncChatClient(BaseChatClient):
    """The async twin of :class:`ChatClient` (same arguments; ``transport`` is an ``AsyncTransport``)."""

    def __init__(
        self,
        *,
        transport: AsyncTransport | None = None,
        max_retries: int | None = None,
        deadline: float | None = None,
        shared_state: Any = None,
        **options: Any,
    ) -> None:
        super().__init__(**options)
        self._own_transport = transport is None
        self._base = base_transport(AsyncTransport, transport, max_retries, deadline, shared_state)
        self._engine.use_shared_state(self._base.shared_state)
        self._transports: dict[str, AsyncTransport] = {}

    def with_options(self, **options: Unpack[ClientOptions]) -> AsyncChatClient:
        """A client like this one with some options changed (``timeout``, ``max_retries``, ``extra_headers``,
        ``extra_query``, ``replay_unsafe``), sharing its connection pool, breakers, cache and budget."""
        return self._with_options(options)

    @property
    def caches(self) -> AsyncCaches:
        """Gemini explicit caches: ``create``, ``get``, ``list``, ``update``, ``delete`` (:class:`CachedContent`)."""
        from ._caches import AsyncCaches

        return AsyncCaches(self)

    @property
    def batches(self) -> AsyncBatches:
        """Provider batch jobs at batch prices: ``create``, ``get``, ``list``, ``cancel``, ``wait``, ``results``
        (:class:`BatchRequest` in, :class:`BatchJob`, :class:`BatchRequestResult` out)."""
        from ._batches_async import AsyncBatches

        return AsyncBatches(self)

    async def chat(
        self,
        model: str | None = None,
        messages: Any = None,
        *,
        models: Sequence[str] | None = None,
        **params: Unpack[ChatParams],
    ) -> ChatResponse:
        """See :meth:`ChatClient.chat` (independent tool calls of one round run concurrently)."""
        loop, rest = self._conversation(messages, params, "chat", allow_async=True)
        if loop is None:
            return await self._request(self._chain(model, models, messages, rest, "chat", stream=False))
        while True:
            try:
                response = await self._request(self._chain(model, models, loop.messages, rest, "chat", stream=False))
            except StructuredOutputError as exc:
                if loop.reask(exc):
                    continue
                raise loop.failed(exc) from None
            calls = loop.next_calls(response)
            if calls is None:
                return loop.finish(response)
            loop.record_tools(response, await asyncio.gather(*(run_async(c) for c in calls)))

    async def _request(self, chain: Chain) -> ChatResponse:
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
        errors: ErrorMode = "raise",
        **params: Unpack[ChatParams],
    ) -> AsyncChatStream:
        """See :meth:`ChatClient.stream` (``async for``; ``async with`` to close early)."""
        loop, rest = self._conversation(messages, params, "stream", allow_async=True)
        if loop is None:
            return AsyncChatStream(
                self._events(self._chain(model, models, messages, rest, "stream", stream=True)), errors
            )
        first = self._chain(model, models, loop.messages, rest, "stream", stream=True)
        return AsyncChatStream(self._loop_events(loop, first, lambda: self._chain(
            model, models, loop.messages, rest, "stream", stream=True
        )), errors)  # fmt: skip

    async def _loop_events(
        self, loop: Conversation, chain: Chain, next_chain: Callable[[], Chain]
    ) -> AsyncIterator[StreamEvent]:
        """See :meth:`ChatClient._loop_events` (a round's tool calls run concurrently)."""
        while True:
            final: ChatResponse | None = None
            try:
                async with contextlib.aclosing(self._events(chain)) as events:
                    async for event in events:
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
            for c in calls:
                yield ToolCallEvent(c.call)
            results = await asyncio.gather(*(run_async(c) for c in calls))
            for r in results:
                yield ToolResultEvent(r)
            loop.record_tools(final, results)
            chain = next_chain()

    async def _events(self, chain: Chain) -> AsyncGenerator[StreamEvent, None]:
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
        **options: Unpack[RequestOptions],
    ) -> Embeddings:
        """See :meth:`ChatClient.embed`."""
        plan = self._embed_plan(model, texts, batch_size, cache, replay_unsafe, options)
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
        mode: Literal["interactive", "batch"] = "interactive",
    ) -> list[ScoredItem]:
        """See :meth:`ChatClient.score_texts`."""
        if mode == "batch":
            if models is not None:
                raise ValidationError("models: a fallback chain is for interactive calls (mode='batch' takes model=)")
            return await self.batches.score_texts(
                items, rubric=rubric, model=model, batch_size=batch_size, progress=progress
            )
        if mode != "interactive":
            raise ValidationError(f"mode: expected 'interactive' or 'batch', got {mode!r}")
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
