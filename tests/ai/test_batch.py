"""Text scoring and map_batch: validation first, input order, per-item errors, failures isolated."""

from __future__ import annotations

import asyncio
import threading

import pytest

from atriumn.ai import AsyncChatClient, ChatClient, TextItem, amap_batch, map_batch
from atriumn.core import ServerError

from ._fake import FakeServer

ITEMS = [
    TextItem(id="a", content="x"),
    TextItem(id="b", content="xx"),
    TextItem(id="c", content="FAIL here"),
    TextItem(id="d", content="xxxx"),
    TextItem(id="e", content="SKIP me"),
    {"id": "f", "content": "xxxxxx", "metadata": {"k": 1}},
]


@pytest.mark.parametrize("provider", ["openai", "anthropic", "gemini", "groq"])
def test_score_texts_with_injected_failures(env: dict[str, str], fake: FakeServer, provider: str) -> None:
    seen: list[tuple[int, int]] = []
    with ChatClient(max_retries=0) as client:
        results = client.score_texts(
            ITEMS,
            rubric="longer is better",
            model=f"{provider}:scorer",
            batch_size=2,
            max_concurrency=2,
            progress=lambda d, t: seen.append((d, t)),
        )
    assert [r.id for r in results] == ["a", "b", "c", "d", "e", "f"]
    assert [r.score for r in results] == [1.0, 2.0, None, None, None, 6.0]
    assert isinstance(results[2].error, ServerError)  # batch [c, d] failed as a whole
    assert isinstance(results[3].error, ServerError)
    assert isinstance(results[4].error, LookupError)  # the model left e out
    assert results[0].reason == "length"
    assert results[0].ok
    assert sorted(seen) == [(1, 3), (2, 3), (3, 3)]
    assert len(fake.requests) == 3


def test_items_validated_before_any_call(client: ChatClient, fake: FakeServer) -> None:
    with pytest.raises(ValueError, match=r"items\[1\]\.id: duplicate id 'a'"):
        client.score_texts(
            [TextItem(id="a", content="x"), TextItem(id="a", content="y")], rubric="r", model="openai:scorer"
        )
    with pytest.raises(ValueError, match=r"items\[0\]\.id"):
        client.score_texts([TextItem(id=" ", content="x")], rubric="r", model="openai:scorer")
    with pytest.raises(ValueError, match=r"items\[1\]\.content \('long'\): 10001 characters"):
        client.score_texts(
            [TextItem(id="ok", content="x"), TextItem(id="long", content="y" * 10_001)],
            rubric="r",
            model="openai:scorer",
        )
    with pytest.raises(ValueError, match="batch_size"):
        client.score_texts(ITEMS[:1], rubric="r", model="openai:scorer", batch_size=0)
    assert fake.requests == []


async def test_async_score_texts(env: dict[str, str], fake: FakeServer) -> None:
    async with AsyncChatClient(max_retries=0) as client:
        results = await client.score_texts(ITEMS, rubric="r", model="gemini:scorer", batch_size=3, max_concurrency=3)
    assert [r.score for r in results] == [None, None, None, 4.0, None, 6.0]
    assert all(isinstance(r.error, ServerError) for r in results[:3])
    assert isinstance(results[4].error, LookupError)


def test_map_batch_order_errors_and_concurrency_limit() -> None:
    active = 0
    peak = 0
    lock = threading.Lock()
    gate = threading.Barrier(2)

    def work(n: int) -> int:
        nonlocal active, peak
        with lock:
            active += 1
            peak = max(peak, active)
        if n < 2:
            gate.wait(timeout=10)  # the first two run at the same time
        with lock:
            active -= 1
        if n == 3:
            raise ValueError("three")
        return n * 10

    results = map_batch(list(range(6)), work, max_concurrency=2)
    assert [r.value for r in results] == [0, 10, 20, None, 40, 50]
    assert isinstance(results[3].error, ValueError)
    assert peak == 2
    with pytest.raises(ValueError, match="max_concurrency"):
        map_batch([1], work, max_concurrency=0)


async def test_amap_batch_limits_concurrency() -> None:
    active = 0
    peak = 0

    async def work(n: int) -> int:
        nonlocal active, peak
        active += 1
        peak = max(peak, active)
        await asyncio.sleep(0)
        active -= 1
        if n == 1:
            raise RuntimeError("one")
        return n

    results = await amap_batch(list(range(7)), work, max_concurrency=3)
    assert [r.value for r in results] == [0, None, 2, 3, 4, 5, 6]
    assert [r.ok for r in results].count(False) == 1
    assert peak == 3
