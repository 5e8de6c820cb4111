"""ingest_batch: order, per-item errors, validation, progress — and nothing lost or duplicated under faults."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from atriumn.core import NotFoundError, Transport
from atriumn.ingest import (
    AsyncIngestClient,
    BatchProgress,
    FileSource,
    IngestClient,
    TextSource,
    URLSource,
)
from atriumn.sandbox import Sandbox


def _count(client: IngestClient, marker: str) -> list[Any]:
    return [i for i in client.list_content(page_size=100) if i.metadata.get("run") == marker]


def test_results_in_input_order_with_per_item_errors(sandbox: Sandbox, tenant_a: Any, text_file: Any) -> None:
    items = [
        TextSource(content="zero", metadata={"run": "order"}),
        URLSource(url=sandbox.url + "/health", metadata={"run": "order"}),
        FileSource(path=text_file, metadata={"run": "order"}),
        TextSource(content="three", metadata={"run": "order"}),
    ]
    seen: list[BatchProgress] = []
    lock = threading.Lock()

    def progress(p: BatchProgress) -> None:
        with lock:
            seen.append(p)

    # A 404 injected on one path makes exactly the URL item fail; the others succeed.
    sandbox.inject_fault("status:404", count=1, path_prefix="/ingest/url")
    try:
        with IngestClient(base_url=sandbox.url, credentials=tenant_a) as ingest:
            results = ingest.ingest_batch(items, max_concurrency=3, progress=progress)
    finally:
        sandbox.clear_faults()
    assert [r.index for r in results] == [0, 1, 2, 3]
    assert [r.source for r in results] == items
    assert [r.ok for r in results] == [True, False, True, True]
    assert isinstance(results[1].error, NotFoundError)
    assert results[0].item is not None and results[0].item.source_type == "text"
    assert results[2].item is not None and results[2].item.source_type == "file"
    assert len(seen) == 4
    assert sorted(p.done for p in seen) == [1, 2, 3, 4]
    assert seen[-1].total == 4
    assert max(p.failed for p in seen) == 1


@pytest.mark.parametrize(
    ("items", "message"),
    [
        ([TextSource(content="ok"), TextSource(content="")], r"items\[1\]\.content: must not be empty"),
        ([URLSource(url="mailto:x@example.com")], r"items\[0\]\.url: .* is not an http\(s\) URL"),
        ([FileSource(path="/nope/missing.txt")], r"items\[0\]\.path: no such file"),
        ([TextSource(content="a", metadata={"k": 2})], r"items\[0\]\.metadata: every key and value"),  # type: ignore[dict-item]
        (["just a string"], r"items\[0\]: expected TextSource, URLSource or FileSource"),
    ],
)
def test_validation_names_the_item_before_any_request(sandbox: Sandbox, items: list[Any], message: str) -> None:
    with IngestClient(base_url=sandbox.url) as ingest:
        with pytest.raises(ValueError, match=message):
            ingest.ingest_batch(items)
        assert ingest.transport.stats().requests == 0


def test_max_concurrency_is_validated(sandbox: Sandbox) -> None:
    with IngestClient(base_url=sandbox.url) as ingest, pytest.raises(ValueError, match="max_concurrency"):
        ingest.ingest_batch([TextSource(content="x")], max_concurrency=0)


@pytest.mark.slow
def test_nothing_lost_nothing_duplicated_under_faults(sandbox: Sandbox, tenant_a: Any) -> None:
    """1,000 items while 5 % of ingest requests fail: resets after the request ran, 503s, read timeouts."""
    marker = "faults-sync"
    for fault, seed in (("reset-after-head", 1), ("status:503", 2), ("delay:1.5", 3)):
        sandbox.inject_fault(fault, count=None, path_prefix="/ingest/text", probability=0.0167, seed=seed)
    items = [TextSource(content=f"item {i}", metadata={"run": marker, "n": str(i)}) for i in range(1000)]
    from atriumn.core import CircuitBreakerPolicy, RetryPolicy, Timeouts

    transport = Transport(
        sandbox.url,
        credentials=tenant_a,
        retry=RetryPolicy(max_retries=6, initial_backoff=0.01, max_backoff=0.1),
        timeouts=Timeouts(read=1.0),  # the delay fault (1.5 s) times out; a request slowed by a busy machine does not
        # This test is about retries losing and duplicating nothing: a run of faults on a busy machine must not
        # open the breaker (its own tests are in tests/core).
        circuit_breaker=CircuitBreakerPolicy(failure_threshold=1000),
    )
    try:
        with IngestClient(transport=transport) as ingest:
            results = ingest.ingest_batch(items, max_concurrency=8)
    finally:
        sandbox.clear_faults()
    stats = transport.stats()
    failures = [r for r in results if not r.ok]
    assert not failures, failures[:3]
    assert stats.retries > 0, "the faults were not hit; the test would prove nothing"
    with IngestClient(base_url=sandbox.url, credentials=tenant_a) as ingest:
        stored = _count(ingest, marker)
    transport.close()
    assert len(stored) == 1000
    assert sorted(int(i.metadata["n"]) for i in stored) == list(range(1000))
    assert {r.item.id for r in results if r.item} == {i.id for i in stored}


@pytest.mark.slow
async def test_nothing_lost_nothing_duplicated_under_faults_async(sandbox: Sandbox, tenant_a: Any) -> None:
    marker = "faults-async"
    for fault, seed in (("reset-after-head", 4), ("status:503", 5), ("delay:1.5", 6)):
        sandbox.inject_fault(fault, count=None, path_prefix="/ingest/text", probability=0.0167, seed=seed)
    items = [TextSource(content=f"item {i}", metadata={"run": marker, "n": str(i)}) for i in range(300)]
    from atriumn.core import AsyncTransport, CircuitBreakerPolicy, RetryPolicy, Timeouts

    transport = AsyncTransport(
        sandbox.url,
        credentials=tenant_a,
        retry=RetryPolicy(max_retries=6, initial_backoff=0.01, max_backoff=0.1),
        timeouts=Timeouts(read=1.0),  # the delay fault (1.5 s) times out; a request slowed by a busy machine does not
        # This test is about retries losing and duplicating nothing: a run of faults on a busy machine must not
        # open the breaker (its own tests are in tests/core).
        circuit_breaker=CircuitBreakerPolicy(failure_threshold=1000),
    )
    try:
        async with AsyncIngestClient(transport=transport) as ingest:
            results = await ingest.ingest_batch(items, max_concurrency=16)
    finally:
        sandbox.clear_faults()
    assert all(r.ok for r in results), [r.error for r in results if not r.ok][:3]
    assert transport.stats().retries > 0
    await transport.aclose()
    with IngestClient(base_url=sandbox.url, credentials=tenant_a) as ingest:
        stored = _count(ingest, marker)
    assert len(stored) == 300
    assert sorted(int(i.metadata["n"]) for i in stored) == list(range(300))
