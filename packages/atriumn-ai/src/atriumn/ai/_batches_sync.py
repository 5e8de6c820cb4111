"""Provider batch jobs, ``ChatClient.batches``: the synchronous I/O driver of :mod:`._batch_plan` and
:mod:`._batch_flows` (it sends the operations a flow yields, sleeps when told, and streams result files line
by line; every decision is in the sans-IO modules and the provider modules ``providers/_batch_*``).
"""

from __future__ import annotations

import contextlib
import functools
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from atriumn.core import AtriumnError, Transport

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
from ._batch_plan import BatchAPI, CreatePlan, Flow, Sleep, loads_line
from ._batch_results import ResultContext
from ._batch_types import BatchJob, BatchLimits, BatchRequest, BatchRequestResult

if TYPE_CHECKING:
    from ._batch import ScoredItem, TextItem
    from ._chat_sync import ChatClient

__all__ = ["Batches"]

T = TypeVar("T")


class Batches:
    """Provider batch jobs (OpenAI, Anthropic, Gemini, Groq), from ``ChatClient.batches``: requests run at the
    provider's batch prices (half the interactive ones), answered within its window (24 hours) instead of now.

    Args:
        client: the chat client (its keys, base URLs, transports, prices and telemetry are used).
        limits: per provider name, :class:`BatchLimits` overriding the provider's documented ones (a request
            list over them is split into several provider batches behind one :class:`BatchJob`).
    """

    def __init__(self, client: ChatClient, *, limits: Mapping[str, BatchLimits] | None = None) -> None:
        self._client = client
        self._limits = dict(limits or {})

    @property
    def _engine(self) -> Any:
        return self._client._engine

    def _transport(self, api: BatchAPI) -> Transport:
        transport: Transport = self._client._transport(api.adapter)
        return transport

    def _run(self, flow: Flow[T], transport: Transport) -> T:
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
                time.sleep(instruction.seconds)
                continue
            try:
                result = transport.send(instruction)
            except AtriumnError as exc:
                error = exc

    def create(
        self,
        model: str | None,
        requests: Iterable[BatchRequest],
        *,
        metadata: Mapping[str, str] | None = None,
        limits: BatchLimits | None = None,
        batch_id: str | None = None,
    ) -> BatchJob:
        """Submit ``requests`` (any iterable of :class:`BatchRequest`, read once, lazily) to ``model``'s provider.

        Every request is checked before anything is sent (ids non-empty and unique; parameters as ``chat``
        checks them: the error names ``requests[i]``), translated as ``chat`` would send it, and spooled as JSONL
        (in memory up to 8 MiB, then in a temporary file); a list over the provider's limits becomes several
        provider batches. Each is created once: with an Idempotency-Key derived from ``batch_id`` and its part,
        and — given your own ``batch_id`` — after looking for the part an earlier run created (OpenAI, Groq,
        Gemini). When a part fails to submit, the error carries ``batch_job``: the parts submitted so far.

        Args:
            model: ``provider:model`` of every request.
            requests: the requests.
            metadata: string pairs kept on the job (stored with the provider batches at OpenAI and Groq).
            limits: :class:`BatchLimits` for this call (over the sub-client's and the provider's).
            batch_id: the client-side id (1-64 of ``[A-Za-z0-9_-]``); default a fresh ``atb_...``.
        """
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
                plan.spool()
                span.attributes["atriumn.ai.batch.bytes"] = sum(s.file_size for s in plan.spools)
                span.job = self._run(plan.flow(), self._transport(plan.api))
            finally:
                plan.close()
        return span.job

    def _on_job(self, operation: str, job_or_id: BatchJob | str, flow: JobFlow) -> BatchJob:
        """Run a flow on a job (or a provider batch id) inside the operation's span."""
        api, provider, ref = target(self._engine, job_or_id)
        with BatchSpan(self._engine, operation, provider, ref.model if isinstance(ref, BatchJob) else "") as span:
            span.job = self._run(flow(api, provider, ref), self._transport(api))
        return span.job

    def get(self, job_or_id: BatchJob | str) -> BatchJob:
        """The job as the provider sees it now: a :class:`BatchJob` (its parts that have not ended are read), or
        ``"provider:provider-batch-id"`` (``"openai:batch_..."``), read as a one-part job."""
        return self._on_job("get", job_or_id, get_flow)

    def cancel(self, job_or_id: BatchJob | str) -> BatchJob:
        """Cancel every part that has not ended; the job comes back ``cancelling`` (then ``cancelled``; requests
        already answered keep their results)."""
        return self._on_job("cancel", job_or_id, cancel_job_flow)

    def wait(
        self,
        job_or_id: BatchJob | str,
        *,
        poll_interval: float | None = None,
        timeout: float | None = None,
        progress: Callable[[BatchJob], Any] | None = None,
    ) -> BatchJob:
        """Poll until the job ends (completed, failed, expired or cancelled) and return it.

        Args:
            poll_interval: the first wait between polls in seconds (default 2); each wait is half as long
                again as the one before, up to 60 s (or ``poll_interval`` if larger).
            timeout: give up after this many seconds with :class:`BatchWaitTimeoutError` (the job goes on).
            progress: called with the :class:`BatchJob` after every poll (status, ``counts``).
        """
        schedule = PollSchedule(poll_interval, timeout)
        return self._on_job("wait", job_or_id, functools.partial(wait_job_flow, schedule=schedule, progress=progress))

    def results(self, job_or_id: BatchJob | str, *, response_format: Any = None) -> Iterator[BatchRequestResult]:
        """The result of every request of an ended job, read lazily: each result file is streamed line by line,
        never loaded whole. In the order the provider returns them, part after part.

        Each :class:`BatchRequestResult` has the request's id and its :class:`ChatResponse` (usage; cost at
        batch prices) or its typed error. ``response_format`` checks and structures every response as ``chat``
        does (``response.parsed``; a mismatch is that result's :class:`StructuredOutputError`). Requests a
        provider did not run and does not report (OpenAI, Groq and Gemini after a cancellation) yield nothing:
        ``job.counts`` counts them.
        """
        api, provider, ref = target(self._engine, job_or_id)
        transport = self._transport(api)
        job = self._run(ready_flow(api, provider, ref), transport)
        return self._results(api, job, ResultContext(api, self._engine, job, response_format), transport)

    def _results(
        self, api: BatchAPI, job: BatchJob, ctx: ResultContext, transport: Transport
    ) -> Iterator[BatchRequestResult]:
        span = BatchSpan(self._engine, "results", job.provider, job.model)
        span.job = job
        error: BaseException | None = None
        try:
            for part in job.parts:
                for kind, op in api.result_sources(part):
                    with span.telemetry.use(span.span):
                        answer = transport.send(op)
                    if kind == "inline":
                        yield from api.inline_results(answer, ctx)
                        continue
                    with contextlib.closing(answer):
                        yield from self._lines(api, answer, ctx)
        except BaseException as exc:
            error = exc
            raise
        finally:
            span.attributes.update(ctx.totals())
            span.end(error)

    @staticmethod
    def _lines(api: BatchAPI, answer: Any, ctx: ResultContext) -> Iterator[BatchRequestResult]:
        import httpx2

        from ._call import transport_error

        try:
            for line in answer.iter_lines():
                if line.strip():
                    yield api.parse_line(loads_line(line, api.name), ctx)
        except (httpx2.HTTPError, OSError) as exc:
            raise transport_error(exc, answer.request) from None

    def score_texts(
        self, items: Sequence[TextItem], *, rubric: str, model: str | None, batch_size: int, progress: Any
    ) -> list[ScoredItem]:
        """``ChatClient.score_texts(..., mode="batch")``: the same scores, from one batch job at batch prices
        (``progress(done, total)`` counts requests as the job reports them)."""
        from . import _batch

        groups, requests = _batch.scoring_batch(items, rubric, batch_size)
        job = self.create(model, requests)
        job = self.wait(job, progress=_batch.job_progress(progress))
        return _batch.scored_from_results(groups, self.results(job, response_format=_batch.SCORE_SCHEMA))

    def list(self, provider: str) -> Iterator[BatchJob]:
        """The provider's batches, newest first, each as a one-part :class:`BatchJob` (page after page)."""
        api = provider_api(self._engine, provider)
        transport = self._transport(api)

        def pages() -> Iterator[BatchJob]:
            from ._batch_flows import job_from_doc

            token: str | None = None
            while True:
                with BatchSpan(self._engine, "list", provider):
                    docs, token = self._run(list_flow(api, token), transport)
                yield from (job_from_doc(api, provider, doc) for doc in docs)
                if token is None:
                    return

        return pages()
