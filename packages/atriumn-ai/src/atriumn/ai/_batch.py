"""Batch work: :func:`map_batch` (threads) / :func:`amap_batch` (asyncio), and text scoring on top of them.

Results come back in input order, one per item, each with its value or its error: one failure never stops the
batch. ``progress`` is called as ``progress(done, total)`` after each item (from worker threads in the sync
version).

``score_texts(..., mode="batch")`` sends the same scoring requests as one provider batch job instead
(:func:`scoring_batch`), at batch prices, and turns its results back into the same per-group
:class:`BatchResult` s, hence the same :class:`ScoredItem` s (:func:`scored_from_results`).
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, Generic, TypeVar

import attrs

if TYPE_CHECKING:
    from ._batch_types import BatchJob, BatchRequest, BatchRequestResult
    from ._types import ChatResponse
from atriumn.core import ValidationError

__all__ = ["BatchResult", "ScoredItem", "TextItem", "amap_batch", "map_batch"]

T = TypeVar("T")
R = TypeVar("R")

#: The longest content :func:`score_texts` accepts per item.
MAX_CONTENT = 10_000

Progress = Callable[[int, int], None]


@attrs.frozen
class BatchResult(Generic[T]):
    """The outcome for one item: ``value`` or ``error``."""

    index: int
    value: T | None = None
    error: BaseException | None = attrs.field(default=None, eq=False)

    @property
    def ok(self) -> bool:
        """Whether the item succeeded."""
        return self.error is None


def _check_concurrency(max_concurrency: int) -> None:
    if isinstance(max_concurrency, bool) or not isinstance(max_concurrency, int) or max_concurrency < 1:
        raise ValidationError(f"max_concurrency: expected an integer >= 1, got {max_concurrency!r}")


def map_batch(
    items: Sequence[T], fn: Callable[[T], R], *, max_concurrency: int = 4, progress: Progress | None = None
) -> list[BatchResult[R]]:
    """Apply ``fn`` to every item on up to ``max_concurrency`` threads; results in input order."""
    _check_concurrency(max_concurrency)
    import threading
    from concurrent.futures import ThreadPoolExecutor

    total = len(items)
    done = 0
    lock = threading.Lock()

    def run(index: int) -> BatchResult[R]:
        nonlocal done
        try:
            result: BatchResult[R] = BatchResult(index, fn(items[index]))
        except Exception as exc:
            result = BatchResult(index, None, exc)
        if progress is not None:
            with lock:
                done += 1
                progress(done, total)
        return result

    if max_concurrency == 1 or total <= 1:
        return [run(i) for i in range(total)]
    with ThreadPoolExecutor(max_workers=min(max_concurrency, total)) as pool:
        return list(pool.map(run, range(total)))


async def amap_batch(
    items: Sequence[T], fn: Callable[[T], Awaitable[R]], *, max_concurrency: int = 4, progress: Progress | None = None
) -> list[BatchResult[R]]:
    """Await ``fn`` on every item, at most ``max_concurrency`` at once; results in input order."""
    _check_concurrency(max_concurrency)
    import asyncio

    total = len(items)
    done = 0
    semaphore = asyncio.Semaphore(max_concurrency)

    async def run(index: int) -> BatchResult[R]:
        nonlocal done
        async with semaphore:
            try:
                result: BatchResult[R] = BatchResult(index, await fn(items[index]))
            except Exception as exc:
                result = BatchResult(index, None, exc)
        done += 1
        if progress is not None:
            progress(done, total)
        return result

    return list(await asyncio.gather(*(run(i) for i in range(total))))


@attrs.frozen(kw_only=True)
class TextItem:
    """A text to score: ``id`` (unique in the batch), ``content`` (at most 10,000 characters), ``metadata``."""

    id: str
    content: str
    metadata: dict[str, Any] = attrs.field(factory=dict)


@attrs.frozen(kw_only=True)
class ScoredItem:
    """A score: ``score`` and ``reason`` from the model, or ``error`` when this item could not be scored."""

    id: str
    score: float | None = None
    reason: str = ""
    error: BaseException | None = attrs.field(default=None, eq=False)

    @property
    def ok(self) -> bool:
        """Whether the item was scored."""
        return self.error is None


SCORE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "scores": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"id": {"type": "string"}, "score": {"type": "number"}, "reason": {"type": "string"}},
                "required": ["id", "score", "reason"],
                "additionalProperties": False,
            },
        }
    },
    "required": ["scores"],
    "additionalProperties": False,
}


def validate_items(items: Sequence[TextItem | dict[str, Any]]) -> list[TextItem]:
    """Items checked before any call: an empty id, a duplicate id or content over 10,000 characters raises
    :class:`ValueError` naming the item."""
    out: list[TextItem] = []
    seen: set[str] = set()
    for i, raw in enumerate(items):
        item = raw if isinstance(raw, TextItem) else TextItem(**raw)
        if not isinstance(item.id, str) or not item.id.strip():
            raise ValidationError(f"items[{i}].id: must be a non-empty string")
        if item.id in seen:
            raise ValidationError(f"items[{i}].id: duplicate id {item.id!r}")
        if not isinstance(item.content, str):
            raise ValidationError(f"items[{i}].content ({item.id!r}): must be a string")
        if len(item.content) > MAX_CONTENT:
            raise ValidationError(
                f"items[{i}].content ({item.id!r}): {len(item.content)} characters, more than {MAX_CONTENT}"
            )
        seen.add(item.id)
        out.append(item)
    return out


def batches(items: list[TextItem], batch_size: int) -> list[list[TextItem]]:
    """Items cut into batches."""
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValidationError(f"batch_size: expected an integer >= 1, got {batch_size!r}")
    return [items[i : i + batch_size] for i in range(0, len(items), batch_size)]


def scoring_messages(rubric: str, batch: list[TextItem]) -> tuple[str, str]:
    """The system prompt and user message scoring one batch."""
    system = (
        'You score texts against a rubric. Answer with JSON only: {"scores": [{"id", "score", "reason"}]}, '
        "one entry per item, using the item ids given.\n\nRubric:\n" + rubric
    )
    user = json.dumps({"items": [{"id": it.id, "content": it.content} for it in batch]}, ensure_ascii=False)
    return system, user


def scored(batch: list[TextItem], outcome: BatchResult[ChatResponse]) -> list[ScoredItem]:
    """Per-item results of one batch's call (an item the model left out gets an error)."""
    if outcome.error is not None:
        return [ScoredItem(id=it.id, error=outcome.error) for it in batch]
    assert outcome.value is not None
    found = {s["id"]: s for s in outcome.value.parsed["scores"]}
    out: list[ScoredItem] = []
    for it in batch:
        s = found.get(it.id)
        if s is None:
            out.append(ScoredItem(id=it.id, error=LookupError(f"{it.id}: the model returned no score for this item")))
        else:
            out.append(ScoredItem(id=it.id, score=float(s["score"]), reason=str(s["reason"])))
    return out


def scoring_batch(
    items: Sequence[TextItem], rubric: str, batch_size: int
) -> tuple[list[list[TextItem]], Iterator[BatchRequest]]:
    """The groups of a batch-mode ``score_texts`` and its requests (one per group, id ``group-<n>``), built
    lazily; items and the rubric are checked first."""
    from ._batch_types import BatchRequest

    valid = validate_items(items)
    if not rubric or not rubric.strip():
        raise ValidationError("rubric: must be a non-empty string")
    groups = batches(valid, batch_size)

    def requests() -> Iterator[BatchRequest]:
        for i, group in enumerate(groups):
            system, user = scoring_messages(rubric, group)
            yield BatchRequest(f"group-{i}", user, system=system, response_format=SCORE_SCHEMA)

    return groups, requests()


def job_progress(progress: Progress | None) -> Callable[[BatchJob], None] | None:
    """A ``progress(done, total)`` callback as a batch ``wait`` progress callback (requests done so far)."""
    if progress is None:
        return None

    def report(job: BatchJob) -> None:
        progress(job.counts.done, job.counts.total)

    return report


def scored_from_results(groups: list[list[TextItem]], results: Iterable[BatchRequestResult]) -> list[ScoredItem]:
    """Per-item scores from a scoring batch's results (a group without a result gets an error)."""
    outcomes: dict[str, BatchResult[ChatResponse]] = {}
    for result in results:
        index = int(result.id.rpartition("-")[2])
        outcomes[result.id] = BatchResult(index, result.response, result.error)
    out: list[ScoredItem] = []
    for i, group in enumerate(groups):
        outcome = outcomes.get(f"group-{i}")
        if outcome is None:
            outcome = BatchResult(i, None, LookupError(f"group-{i}: the batch returned no result for these items"))
        out.extend(scored(group, outcome))
    return out
