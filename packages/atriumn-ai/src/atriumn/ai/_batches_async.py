"""Provider batch jobs, ``AsyncChatClient.batches``: the asynchronous I/O driver of :mod:`._batch_plan` and
:mod:`._batch_flows`, the twin of :mod:`._batches_sync` (the same flows, awaited).
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import AsyncIterator, Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from atriumn.core import AsyncTransport, AtriumnError, Operation

from ._batch_flows import (
    BatchSpan,
    JobFlow,
    PollSchedule,
    cancel_job_flow,
    get_flow,
    list_flow,
    provider_api,
    ready_flow,
    target,
    wait_job_flow,
)
from ._batch_plan import BatchAPI, CreatePlan, Flow, Sleep, async_chunks, loads_line
from ._batch_results import ResultContext
from ._batch_types import BatchJob, BatchLimits, BatchRequest, BatchRequestResult

if TYPE_CHECKING:
    from ._batch import ScoredItem, TextItem
    from ._chat_async import AsyncChatClient

__all__ = ["AsyncBatches"]

T = TypeVar("T")


def _for_async(op: Operation[Any]) -> Operation[Any]:
    """An operation whose body is a chunk factory, with the chunks as an async iterator (what an async client
    streams)."""
    content = op.content
    if callable(content):
        factory = content
        return op.evolve(content=lambda: async_chunks(factory))  # type: ignore[arg-type]
    return op


class AsyncBatches:
    """The async twin of :class:`Batches`, from ``AsyncChatClient.batches`` (same arguments, awaited;
    ``results`` and ``list`` are async iterators)."""

    def __init__(self, client: AsyncChatClient, *, limits: Mapping[str, BatchLimits] | None = None) -> None:
        self._client = client
        self._limits = dict(limits or {})

    @property
    def _engine(self) -> Any:
        return self._client._engine

    def _transport(self, api: BatchAPI) -> AsyncTransport:
        transport: AsyncTransport = self._client._transport(api.adapter)
        return transport

    async def _run(self, flow: Flow[T], transport: AsyncTransport) -> T:
        """Drive a flow: send its operations (errors are thrown into it), sleep when it says so."""
        result: Any = None
        error: BaseException | None = None
        while True:
            try:
                instruction = flow.throw(error) if error is not None else flow.send(result)
            except StopIteration as stop:
                return stop.value  # type: ignore[no-any-return]
            result, error = None, None
            if isinstance(instruction, Sleep):
                await asyncio.sleep(instruction.seconds)
                continue
            try:
                result = await transport.send(_for_async(instruction))
            except AtriumnError as exc:
                error = exc

    async def create(
        self,
        model: str | None,
        requests: Iterable[BatchRequest],
        *,
        metadata: Mapping[str, str] | None = None,
        limits: BatchLimits | None = None,
        batch_id: str | None = None,
    ) -> BatchJob:
        """See :meth:`Batches.create` (the requests are read and spooled in a worker thread)."""
        plan = CreatePlan(
            self._engine,
            model,
            requests,
            metadata=metadata,
            limits=limits,
            batch_id=batch_id,
            client_limits=self._limits,
        )
        with BatchSpan(self._engine, "create", plan.provider, plan.full_model) as span:
            try:
                await asyncio.to_thread(plan.spool)
                span.attributes["atriumn.ai.batch.bytes"] = sum(s.file_size for s in plan.spools)
                span.job = await self._run(plan.flow(), self._transport(plan.api))
            finally:
                plan.close()
        return span.job

    async def _on_job(self, operation: str, job_or_id: BatchJob | str, flow: JobFlow) -> BatchJob:
        """Run a flow on a job (or a provider batch id) inside the operation's span."""
        api, provider, ref = target(self._engine, job_or_id)
        with BatchSpan(self._engine, operation, provider, ref.model if isinstance(ref, BatchJob) else "") as span:
            span.job = await self._run(flow(api, provider, ref), self._transport(api))
        return span.job

    async def get(self, job_or_id: BatchJob | str) -> BatchJob:
        """See :meth:`Batches.get`."""
        return await self._on_job("get", job_or_id, get_flow)

    async def cancel(self, job_or_id: BatchJob | str) -> BatchJob:
        """See :meth:`Batches.cancel`."""
        return await self._on_job("cancel", job_or_id, cancel_job_flow)

    async def wait(
        self,
        job_or_id: BatchJob | str,
        *,
        poll_interval: float | None = None,
        timeout: float | None = None,
        progress: Callable[[BatchJob], Any] | None = None,
    ) -> BatchJob:
        """See :meth:`Batches.wait`."""
        flow = functools.partial(wait_job_flow, schedule=PollSchedule(poll_interval, timeout), progress=progress)
        return await self._on_job("wait", job_or_id, flow)

    async def results(
        self, job_or_id: BatchJob | str, *, response_format: Any = None
    ) -> AsyncIterator[BatchRequestResult]:
        """See :meth:`Batches.results` (an async iterator: a job that has not ended raises on the first step)."""
        api, provider, ref = target(self._engine, job_or_id)
        transport = self._transport(api)
        job = await self._run(ready_flow(api, provider, ref), transport)
        ctx = ResultContext(api, self._engine, job, response_format)
        span = BatchSpan(self._engine, "results", job.provider, job.model)
        span.job = job
        error: BaseException | None = None
        try:
            for part in job.parts:
                for kind, op in api.result_sources(part):
                    with span.telemetry.use(span.span):
                        answer = await transport.send(op)
                    if kind == "inline":
                        for result in api.inline_results(answer, ctx):
                            yield result
                        continue
                    try:
                        async for result in self._lines(api, answer, ctx):
                            yield result
                    finally:
                        await answer.aclose()
        except BaseException as exc:
            error = exc
            raise
        finally:
            span.attributes.update(ctx.totals())
            span.end(error)

    @staticmethod
    async def _lines(api: BatchAPI, answer: Any, ctx: ResultContext) -> AsyncIterator[BatchRequestResult]:
        import httpx2

        from ._call import transport_error

        try:
            async for line in answer.aiter_lines():
                if line.strip():
                    yield api.parse_line(loads_line(line, api.name), ctx)
        except (httpx2.HTTPError, OSError) as exc:
            raise transport_error(exc, answer.request) from None

    async def score_texts(
        self, items: Sequence[TextItem], *, rubric: str, model: str | None, batch_size: int, progress: Any
    ) -> list[ScoredItem]:
        """See :meth:`Batches.score_texts`."""
        from . import _batch

        groups, requests = _batch.scoring_batch(items, rubric, batch_size)
        job = await self.create(model, requests)
        job = await self.wait(job, progress=_batch.job_progress(progress))
        results = [r async for r in self.results(job, response_format=_batch.SCORE_SCHEMA)]
        return _batch.scored_from_results(groups, results)

    async def list(self, provider: str) -> AsyncIterator[BatchJob]:
        """See :meth:`Batches.list`."""
        from ._batch_flows import job_from_doc

        api = provider_api(self._engine, provider)
        transport = self._transport(api)
        token: str | None = None
        while True:
            with BatchSpan(self._engine, "list", provider):
                docs, token = await self._run(list_flow(api, token), transport)
            for doc in docs:
                yield job_from_doc(api, provider, doc)
            if token is None:
                return
