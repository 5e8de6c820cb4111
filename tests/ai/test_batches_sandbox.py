"""Batch jobs against the sandbox's emulation of the four providers' batch APIs, over real sockets, sync and
async: a thousand requests with 2 % per-request errors, splitting over limits, cancellation, expiry, validation
failures, batch-priced cost, reading a job by provider id, listing, structured output, telemetry and secrets.

The sandbox runs with ``batch_delay=0``: a job shows its first state when created and its end state on the next
read, so nothing here sleeps (jobs meant to stay running use the ``delay-60000`` model marker).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from atriumn.ai import (
    BatchJob,
    BatchLimits,
    BatchRequest,
    BatchRequestCancelledError,
    BatchRequestExpiredError,
    BatchRequestResult,
    BatchWaitTimeoutError,
    ChatClient,
)
from atriumn.core import APIError, BadRequestError, RateLimitError, ValidationError
from atriumn.sandbox import Sandbox

from ._batches import MODELS, PROVIDERS, call, close, collect, make_client, requests, sandbox_options

SLOW = "echo-delay-60000"  # a job that runs for a minute: time to cancel it, never waited for
SMALL = 64 * 1024


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    with Sandbox(batch_delay=0) as running:
        yield running


@pytest.fixture(scope="module")
def small_sandbox() -> Iterator[Sandbox]:
    """Provider limits small enough to reach: 100 requests and 64 KiB per batch."""
    limits = {
        f"{p}_batch_max_{what}": value
        for p in ("openai", "groq", "anthropic")
        for what, value in (("requests", 100), ("bytes", SMALL))
    }
    with Sandbox(batch_delay=0, gemini_batch_max_inline_bytes=SMALL, **limits) as running:
        yield running


@pytest.fixture(params=PROVIDERS)
def provider(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(params=["sync", "async"])
async def client(request: pytest.FixtureRequest, sandbox: Sandbox) -> AsyncIterator[Any]:
    made = make_client(sandbox, request.param)
    yield made
    await close(made)


def by_id(results: list[BatchRequestResult]) -> dict[str, BatchRequestResult]:
    ids = [r.id for r in results]
    assert len(ids) == len(set(ids)), "a request came back twice"
    return {r.id: r for r in results}


async def test_a_thousand_requests_with_two_percent_errors(client: Any, provider: str) -> None:
    started = time.perf_counter()
    job = await call(client.batches, "create", MODELS[provider], requests(1000), metadata={"suite": "batches"})
    assert job.provider == provider and job.model == MODELS[provider]
    assert job.status in ("queued", "running") and len(job.parts) == 1
    assert job.counts.total in (0, 1000)  # OpenAI reports no total while validating
    job = await call(client.batches, "wait", job, poll_interval=0.01)
    assert (job.status, job.counts.succeeded, job.counts.failed, job.counts.total) == ("completed", 980, 20, 1000)
    results = by_id(await collect(client.batches.results(job)))
    elapsed = time.perf_counter() - started
    assert set(results) == {f"r{i}" for i in range(1000)}
    errors = {i for i, r in results.items() if not r.ok}
    assert errors == {f"r{i}" for i in range(7, 1000, 50)}
    for i in errors:
        error = results[i].error
        assert isinstance(error, RateLimitError) and error.status_code == 429, error
        assert results[i].response is None and results[i].cost is None
    one = results["r3"]
    assert one.response is not None and one.response.text == "request number 3"
    assert one.usage is not None and (one.usage.input_tokens, one.usage.output_tokens) == (3, 3)
    # Batch prices: half of what the same request costs interactively.
    interactive = await call(client, "chat", MODELS[provider], "request number 3", max_tokens=50)
    assert one.cost is not None and interactive.cost is not None
    assert one.cost.total == pytest.approx(interactive.cost.total / 2)
    assert one.cost.total > 0
    print(f"\n{provider} {type(client).__name__}: 1,000 requests in {elapsed:.2f}s")


async def test_a_list_over_the_provider_limits_becomes_several_batches(small_sandbox: Sandbox, provider: str) -> None:
    for kind in ("sync", "async"):
        client = make_client(small_sandbox, kind)
        limits = BatchLimits(max_requests=100, max_bytes=SMALL, max_inline_bytes=SMALL)
        try:
            job = await call(client.batches, "create", MODELS[provider], requests(250), limits=limits)
            assert [p.requests for p in job.parts] == [100, 100, 50]
            assert len({p.provider_id for p in job.parts}) == 3
            job = await call(client.batches, "wait", job)
            assert (job.status, job.counts.total, job.counts.succeeded, job.counts.failed) == ("completed", 250, 245, 5)
            results = by_id(await collect(client.batches.results(job)))
            assert set(results) == {f"r{i}" for i in range(250)}
            listed = await collect(client.batches.list(provider))
            assert sorted(j.parts[0].provider_id for j in listed) == sorted(p.provider_id for p in job.parts)
        finally:
            await close(client)


async def test_a_split_by_bytes_keeps_every_batch_under_the_size_limit(small_sandbox: Sandbox, provider: str) -> None:
    client = make_client(small_sandbox, "sync")
    long_text = "lorem ipsum " * 200  # about 2.4 KB a request: 64 KiB holds some twenty-five
    batch = [BatchRequest(f"r{i}", f"{long_text} {i}") for i in range(60)]
    try:
        job = client.batches.create(
            MODELS[provider], batch, limits=BatchLimits(max_bytes=SMALL, max_inline_bytes=SMALL)
        )
        assert len(job.parts) >= 3 and sum(p.requests for p in job.parts) == 60
        job = client.batches.wait(job)
        assert (job.status, job.counts.succeeded) == ("completed", 60)
        assert {r.id for r in client.batches.results(job)} == {f"r{i}" for i in range(60)}
    finally:
        client.close()


async def test_without_splitting_the_provider_refuses_the_batch(small_sandbox: Sandbox) -> None:
    """The limits are real: a batch over them fails as the provider fails it."""
    with make_client(small_sandbox, "sync") as client:
        job = client.batches.create(MODELS["openai"], requests(150), limits=BatchLimits(max_requests=1000))
        job = client.batches.wait(job)
        assert job.status == "failed" and job.parts[0].error is not None and "too_many_tasks" in job.parts[0].error
        assert list(client.batches.results(job)) == []
        with pytest.raises(BadRequestError, match="maximum is 100") as caught:
            client.batches.create(MODELS["anthropic"], requests(150), limits=BatchLimits(max_requests=1000))
        partial = caught.value.batch_job  # type: ignore[attr-defined]
        assert isinstance(partial, BatchJob) and partial.parts == ()
        assert partial.status == "failed"  # nothing was submitted: nothing to wait for
        assert client.batches.wait(partial).status == "failed"


async def test_a_part_that_fails_to_submit_leaves_the_parts_before_it(small_sandbox: Sandbox) -> None:
    """Anthropic refuses the second part (over its byte limit): the error carries the first, and running create
    again with the same batch_id submits nothing twice (the Idempotency-Key brings back the first part)."""
    small = [BatchRequest(f"s{i}", "short") for i in range(5)]
    big = [BatchRequest(f"b{i}", "word " * 4000) for i in range(5)]
    with make_client(small_sandbox, "sync") as client:
        with pytest.raises(APIError) as caught:
            client.batches.create(
                MODELS["anthropic"], small + big, limits=BatchLimits(max_requests=5), batch_id="run-1"
            )
        assert caught.value.status_code == 413
        partial = caught.value.batch_job  # type: ignore[attr-defined]
        assert [p.requests for p in partial.parts] == [5]
        again = client.batches.create(MODELS["anthropic"], small, limits=BatchLimits(max_requests=5), batch_id="run-1")
        assert again.parts[0].provider_id == partial.parts[0].provider_id
        assert len(list(client.batches.list("anthropic"))) == 1


async def test_cancel(client: Any, provider: str) -> None:
    job = await call(client.batches, "create", f"{provider}:{SLOW}", requests(20, every=0))
    assert job.status in ("queued", "running")
    cancelled = await call(client.batches, "cancel", job)
    assert cancelled.status in ("cancelling", "cancelled")
    assert all(p.cancel_requested for p in cancelled.parts)
    done = await call(client.batches, "wait", cancelled)
    assert done.status == "cancelled"
    results = await collect(client.batches.results(done))
    if provider == "anthropic":  # Anthropic reports every request as canceled
        assert {r.id for r in results} == {f"r{i}" for i in range(20)}
        assert all(isinstance(r.error, BatchRequestCancelledError) for r in results)
    else:  # the others report nothing for requests they did not run: the counts do
        assert results == []
    assert done.counts.cancelled == 20
    again = await call(client.batches, "cancel", done)  # cancelling an ended job changes nothing, raises nothing
    assert again.status == "cancelled"


async def test_expiry(client: Any, provider: str) -> None:
    job = await call(client.batches, "create", MODELS[provider], requests(10, every=10, error_model="batch-expire"))
    job = await call(client.batches, "wait", job)
    assert job.status == "expired"
    results = by_id(await collect(client.batches.results(job)))
    if provider == "gemini":  # the whole job expires, with no output
        assert results == {} and job.counts.expired == 10
        return
    assert isinstance(results["r7"].error, BatchRequestExpiredError)
    assert results["r7"].error.batch_request_id == "r7"
    assert sum(r.ok for r in results.values()) == 9


async def test_a_batch_that_fails_validation(client: Any, provider: str) -> None:
    job = await call(client.batches, "create", MODELS[provider], requests(10, every=10, error_model="batch-invalid"))
    job = await call(client.batches, "wait", job)
    if provider == "anthropic":  # Anthropic validates per request: that one is an errored result
        assert job.status == "completed"
        results = by_id(await collect(client.batches.results(job)))
        assert isinstance(results["r7"].error, BadRequestError)
        assert results["r7"].error.code == "invalid_request_error"
        return
    assert job.status == "failed"
    assert job.parts[0].error is not None and "invalid" in job.parts[0].error
    assert await collect(client.batches.results(job)) == []


async def test_a_provider_batch_read_by_its_id(client: Any, provider: str) -> None:
    job = await call(client.batches, "create", MODELS[provider], requests(5, every=0), metadata={"suite": "by-id"})
    provider_id = job.parts[0].provider_id
    got = await call(client.batches, "get", f"{provider}:{provider_id}")
    assert got.id == f"{provider}:{provider_id}" and got.parts[0].provider_id == provider_id
    if provider == "anthropic":  # Anthropic keeps no metadata
        assert got.metadata == {}
    else:
        assert got.metadata["atriumn_batch_id"] == job.id
        assert provider == "gemini" or got.metadata["suite"] == "by-id"  # OpenAI and Groq keep the caller's too
    done = await call(client.batches, "wait", got.id)
    results = by_id(await collect(client.batches.results(got.id)))
    assert done.status == "completed" and set(results) == {f"r{i}" for i in range(5)}
    assert all(r.cost is not None for r in results.values())  # priced from the response's model when the job says none


async def test_structured_output_and_reading_too_early(client: Any, provider: str) -> None:
    schema = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
    job = await call(client.batches, "create", MODELS[provider], requests(3, every=0, response_format=schema))
    job = await call(client.batches, "wait", job)
    results = await collect(client.batches.results(job, response_format=schema))
    assert [r.response.parsed for r in results if r.response] == [{"city": "sandbox"}] * 3
    slow = await call(client.batches, "create", f"{provider}:{SLOW}", requests(2, every=0))
    with pytest.raises(ValidationError, match="still"):
        await collect(client.batches.results(slow))
    with pytest.raises(BatchWaitTimeoutError, match="still") as caught:
        await call(client.batches, "wait", slow, timeout=0)
    assert caught.value.job.id == slow.id
    await call(client.batches, "cancel", slow)


@pytest.mark.parametrize("kind", ["sync", "async"])
async def test_score_texts_in_batch_mode_gives_the_interactive_results(sandbox: Sandbox, kind: str) -> None:
    client = make_client(sandbox, kind)
    items = [{"id": "sandbox", "content": "the one the emulation scores"}, {"id": "other", "content": "left out"}]
    seen: list[tuple[int, int]] = []
    try:
        interactive = await call(client, "score_texts", items, rubric="r", model=MODELS["openai"], batch_size=1)
        batch = await call(
            client, "score_texts", items, rubric="r", model=MODELS["openai"], batch_size=1, mode="batch",
            progress=lambda done, total: seen.append((done, total)),
        )  # fmt: skip
        assert [(s.id, s.score, s.reason, type(s.error)) for s in batch] == [
            (s.id, s.score, s.reason, type(s.error)) for s in interactive
        ]
        assert batch[0].score == 0.5 and isinstance(batch[1].error, LookupError)
        assert seen and seen[-1] == (2, 2)
        with pytest.raises(ValidationError, match="mode"):
            await call(client, "score_texts", items, rubric="r", model=MODELS["openai"], mode="later")
    finally:
        await close(client)


def test_secrets_stay_out_of_jobs_errors_and_spans(sandbox: Sandbox) -> None:
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    exporter = InMemorySpanExporter()
    tracer = TracerProvider()
    tracer.add_span_processor(SimpleSpanProcessor(exporter))
    options = sandbox_options(sandbox, tracer_provider=tracer)
    keys = options["api_keys"]
    with ChatClient(**options) as client:
        texts: list[str] = []
        for provider in PROVIDERS:
            job = client.batches.wait(client.batches.create(MODELS[provider], requests(60)))
            texts += [job.to_json(), repr(job)]
            texts += [str(r.error) + repr(r.error.__dict__) for r in client.batches.results(job) if r.error]
    spans = exporter.get_finished_spans()
    names = {s.name for s in spans}
    assert {"batch.create gpt-4o-mini", "batch.wait gpt-4o-mini", "batch.results gpt-4o-mini"} <= names
    results_span = next(s for s in spans if s.name == "batch.results claude-haiku-4-5")
    attrs = dict(results_span.attributes or {})
    assert attrs["gen_ai.provider.name"] == "anthropic"
    assert (attrs["atriumn.ai.batch.succeeded"], attrs["atriumn.ai.batch.failed"]) == (58, 2)
    assert attrs["gen_ai.usage.input_tokens"] == 58 * 3 and attrs["gen_ai.usage.output_tokens"] == 58 * 3
    create = next(s for s in spans if s.name == "batch.create gemini-2.5-flash")
    assert dict(create.attributes or {})["atriumn.ai.batch.requests"] == 60
    texts += [repr(dict(s.attributes or {})) for s in spans]
    assert len(texts) > 10
    for key in keys.values():
        assert not any(key in text for text in texts)


async def test_gemini_past_the_inline_limit_goes_through_an_uploaded_file(client: Any) -> None:
    limits = BatchLimits(max_inline_bytes=2_000)
    # A batch id of its own: the uploaded file's name derives from it (and the sandbox names files across keys).
    batch_id = f"file-run-{uuid.uuid4().hex[:8]}"
    job = await call(client.batches, "create", MODELS["gemini"], requests(120), limits=limits, batch_id=batch_id)
    (part,) = job.parts
    assert not part.inline and part.input_file is not None and part.input_file.startswith("files/atb-")
    job = await call(client.batches, "wait", job)
    assert job.parts[0].output_file is not None
    results = by_id(await collect(client.batches.results(job)))
    assert set(results) == {f"r{i}" for i in range(120)}
    assert {i for i, r in results.items() if not r.ok} == {"r7", "r57", "r107"}
    assert all(isinstance(results[i].error, RateLimitError) for i in ("r7", "r57", "r107"))
