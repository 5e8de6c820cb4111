"""Provider batch jobs, sans-IO: the flows of ``get``, ``cancel``, ``wait`` (and its poll schedule) and ``list``,
resolving a job or a provider batch id, and the span of each batch operation.

A flow (see :mod:`._batch_plan`) yields operations and :class:`Sleep` s; the sync and async drivers
(:mod:`._batches_sync`, :mod:`._batches_async`) run it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import attrs

from atriumn.core import ValidationError

from ._batch_plan import BatchAPI, Flow, Sleep, assemble, batch_api
from ._batch_types import BatchJob, BatchPart

if TYPE_CHECKING:
    from ._engine import Engine

#: A flow on a job: ``(api, provider, job or provider batch id) -> Flow[BatchJob]``.
JobFlow = Callable[[BatchAPI, str, "BatchJob | str"], Flow[BatchJob]]

__all__ = [
    "BatchSpan",
    "JobFlow",
    "PollSchedule",
    "cancel_flow",
    "cancel_job_flow",
    "get_flow",
    "job_flow",
    "job_from_doc",
    "list_flow",
    "provider_api",
    "ready_flow",
    "refresh_flow",
    "target",
    "wait_flow",
    "wait_job_flow",
]


def refresh_flow(api: BatchAPI, job: BatchJob) -> Flow[BatchJob]:
    """Read every part that has not ended."""
    parts: list[BatchPart] = []
    for part in job.parts:
        if part.done:  # an end state does not change
            parts.append(part)
            continue
        doc = yield api.get_operation(part.provider_id)
        parts.append(api.parse_part(doc, part.index, part))
    return assemble(job, parts)


def cancel_flow(api: BatchAPI, job: BatchJob) -> Flow[BatchJob]:
    """Cancel every part that has not ended (a part that ends meanwhile is left as it is), then read them."""
    from atriumn.core import APIError

    parts: list[BatchPart] = []
    for part in job.parts:
        if not part.done:
            try:
                yield api.cancel_operation(part.provider_id)
            except APIError as exc:
                if exc.status_code not in (400, 409):  # it ended before the cancellation: not an error
                    raise
            part = attrs.evolve(part, cancel_requested=True)
        parts.append(part)
    return (yield from refresh_flow(api, attrs.evolve(job, parts=tuple(parts))))


# --- waiting ------------------------------------------------------------------------------------------------


class PollSchedule:
    """How long to wait before each poll: ``interval`` first, growing by half each time up to ``ceiling``; None
    once ``timeout`` seconds have passed since the first poll (the clock is injected for tests).

    Args:
        interval: the first wait (default 2 s); ceiling: the longest wait (default 60 s, or ``interval`` if larger).
        timeout: seconds to wait at most (None: no limit).
    """

    def __init__(
        self,
        interval: float | None = None,
        timeout: float | None = None,
        *,
        ceiling: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        for name, value in (("poll_interval", interval), ("timeout", timeout)):
            if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0):
                raise ValidationError(f"{name}: expected seconds >= 0, got {value!r}")
        self.next_wait = 2.0 if interval is None else float(interval)
        self.ceiling = max(ceiling, self.next_wait)
        self.clock = clock
        self.deadline = None if timeout is None else clock() + timeout

    def next(self) -> float | None:
        """Seconds to sleep before the next poll, or None when the time is up."""
        wait = self.next_wait
        if self.deadline is not None:
            left = self.deadline - self.clock()
            if left <= 0:
                return None
            wait = min(wait, left)
        self.next_wait = min(self.ceiling, max(self.next_wait * 1.5, 0.05))
        return wait


def wait_flow(
    api: BatchAPI, job: BatchJob, schedule: PollSchedule, progress: Callable[[BatchJob], Any] | None
) -> Flow[BatchJob]:
    """Poll until the job ends (``progress(job)`` after every poll); :class:`BatchWaitTimeoutError` when the
    schedule runs out first."""
    from ._errors import BatchWaitTimeoutError

    while True:
        job = yield from refresh_flow(api, job)
        if progress is not None:
            progress(job)
        if job.done:
            return job
        wait = schedule.next()
        if wait is None:
            raise BatchWaitTimeoutError(
                f"batch {job.id} is still {job.status} after the wait's timeout "
                f"({job.counts.done} of {job.counts.total} requests done)",
                job=job,
            )
        yield Sleep(wait)


def list_flow(api: BatchAPI, token: str | None) -> Flow[tuple[list[Any], str | None]]:
    """One page of the provider's batches."""
    doc = yield api.list_operation(token)
    return api.parse_list(doc)


def job_from_doc(api: BatchAPI, provider: str, doc: Any) -> BatchJob:
    """A single provider batch, read by its id, as a one-part job."""
    part = api.parse_part(doc, 0, None)
    model, metadata = api.job_facts(doc)
    job = BatchJob(
        id=f"{provider}:{part.provider_id}",
        provider=provider,
        model=f"{provider}:{model}" if model else "",
        created_at=part.created_at,
        metadata=metadata,
    )
    return assemble(job, [part])


def target(engine: Engine, job_or_id: BatchJob | str) -> tuple[BatchAPI, str, BatchJob | str]:
    """The batch API, provider name and reference (the job, or the provider's batch id) of ``job_or_id``: a
    :class:`BatchJob`, or ``"provider:provider-batch-id"`` (``openai:batch_...``, ``gemini:batches/...``)."""
    ref: BatchJob | str
    if isinstance(job_or_id, BatchJob):
        provider, ref = job_or_id.provider, job_or_id
    elif isinstance(job_or_id, str) and ":" in job_or_id and job_or_id.partition(":")[2]:
        provider, _, ref = job_or_id.partition(":")
        if provider not in engine.provider_names():
            raise ValidationError(f"job: unknown provider {provider!r} in {job_or_id!r}")
    else:
        raise ValidationError(
            f"job: expected a BatchJob (BatchJob.from_json for a saved one) or 'provider:provider-batch-id', "
            f"got {job_or_id!r}"
        )
    return batch_api(engine.kind_of(provider), engine.adapter(provider)), provider, ref


def job_flow(api: BatchAPI, provider: str, ref: BatchJob | str) -> Flow[BatchJob]:
    """The job itself, or a provider batch read by its id."""
    if isinstance(ref, BatchJob):
        return ref
    doc = yield api.get_operation(ref)
    return job_from_doc(api, provider, doc)


def get_flow(api: BatchAPI, provider: str, ref: BatchJob | str) -> Flow[BatchJob]:
    """``get``: a provider batch read by its id, or a job whose parts that have not ended are read again."""
    job = yield from job_flow(api, provider, ref)
    if isinstance(ref, BatchJob):
        job = yield from refresh_flow(api, job)
    return job


def cancel_job_flow(api: BatchAPI, provider: str, ref: BatchJob | str) -> Flow[BatchJob]:
    """``cancel``: see :func:`cancel_flow`."""
    job = yield from job_flow(api, provider, ref)
    return (yield from cancel_flow(api, job))


def wait_job_flow(
    api: BatchAPI,
    provider: str,
    ref: BatchJob | str,
    *,
    schedule: PollSchedule,
    progress: Callable[[BatchJob], Any] | None,
) -> Flow[BatchJob]:
    """``wait``: see :func:`wait_flow`."""
    job = yield from job_flow(api, provider, ref)
    return (yield from wait_flow(api, job, schedule, progress))


def ready_flow(api: BatchAPI, provider: str, ref: BatchJob | str) -> Flow[BatchJob]:
    """``results``: the job, read again unless it had ended; ``ValidationError`` while it is still going."""
    job = yield from job_flow(api, provider, ref)
    if not job.done:
        job = yield from refresh_flow(api, job)
    if not job.done:
        raise ValidationError(f"job: batch {job.id} is still {job.status}: wait for it to end first (wait)")
    return job


def provider_api(engine: Engine, provider: str) -> BatchAPI:
    """The batch API of a provider name."""
    if not isinstance(provider, str) or provider not in engine.provider_names():
        raise ValidationError(
            f"provider: expected one of {', '.join(sorted(engine.provider_names()))}, got {provider!r}"
        )
    return batch_api(engine.kind_of(provider), engine.adapter(provider))


class BatchSpan:
    """The span of one batch operation, current while it runs (the core's HTTP spans nest under it).

    Use as a context manager; set :attr:`job` (and :attr:`attributes`) for what the span reports at its end.
    """

    def __init__(self, engine: Engine, operation: str, provider: str, model: str = "") -> None:
        self.telemetry = engine.telemetry()
        self.span = self.telemetry.start_batch(operation, provider, model.partition(":")[2] or model)
        self.job: BatchJob | None = None
        self.attributes: dict[str, Any] = {}
        self._active: Any = None

    def __enter__(self) -> BatchSpan:
        self._active = self.telemetry.use(self.span)
        self._active.__enter__()
        return self

    def __exit__(self, kind: Any, exc: BaseException | None, tb: Any) -> None:
        self._active.__exit__(kind, exc, tb)
        self.end(exc)

    def end(self, exc: BaseException | None = None) -> None:
        """End the span (``exc``: the error it ended with)."""
        error = exc if isinstance(exc, Exception) else None
        self.telemetry.end_batch(self.span, self.job, error, **self.attributes)
