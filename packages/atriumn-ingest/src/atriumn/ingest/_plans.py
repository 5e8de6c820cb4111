"""The sans-IO parts of polling and batching, shared by the sync and async clients.

Polling: :class:`PollPlan` says how long to wait before the next status read (exponential, capped) and
when the timeout has passed; :func:`settle` turns a read item into "done", "failed" or "keep polling".

Batching: :func:`prepare_batch` validates every item before any request (errors name the index) and gives
each one its own idempotency key, so a retry after a timeout or reset never creates a second item;
:class:`BatchTracker` counts done / failed and reports progress, thread-safely.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Sequence

import attrs

from atriumn.core import ValidationError

from ._errors import ProcessingFailedError
from ._models import BatchProgress, BatchResult, BatchSource, ContentItem, FileSource, TextSource, URLSource
from ._validation import check_metadata, check_path, check_text, check_url

__all__ = ["BatchTracker", "PollPlan", "PreparedItem", "prepare_batch", "settle"]


class PollPlan:
    """Backoff between status reads: ``initial`` seconds, doubling up to ``max_interval``, until ``timeout``."""

    def __init__(
        self,
        timeout: float,
        *,
        initial: float = 0.1,
        max_interval: float = 2.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if timeout <= 0:
            raise ValidationError(f"timeout: must be > 0 seconds, got {timeout!r}")
        if initial <= 0 or max_interval < initial:
            raise ValidationError("poll_interval: need 0 < poll_interval <= max_interval")
        self.timeout = timeout
        self._clock = clock
        self._deadline = clock() + timeout
        self._next = initial
        self._max = max_interval

    def next_delay(self) -> float | None:
        """Seconds to wait before the next read, or None when the timeout has passed."""
        left = self._deadline - self._clock()
        if left <= 0:
            return None
        delay = min(self._next, left)
        self._next = min(self._max, self._next * 2)
        return delay


def settle(item: ContentItem) -> bool:
    """True when processing is over successfully; raises :class:`ProcessingFailedError` when it failed."""
    if item.is_failed:
        raise ProcessingFailedError(item)
    return item.is_completed


@attrs.frozen(kw_only=True)
class PreparedItem:
    """A validated batch item with its idempotency key."""

    index: int
    source: BatchSource
    idempotency_key: str


def prepare_batch(items: Sequence[BatchSource], max_concurrency: int) -> list[PreparedItem]:
    """Validate every item (``ValueError`` naming ``items[i].field``) and key each one."""
    if isinstance(max_concurrency, bool) or not isinstance(max_concurrency, int) or max_concurrency < 1:
        raise ValidationError(f"max_concurrency: must be a whole number >= 1, got {max_concurrency!r}")
    prepared: list[PreparedItem] = []
    for index, source in enumerate(items):
        prefix = f"items[{index}]."
        if isinstance(source, TextSource):
            check_text(source.content, prefix=prefix)
        elif isinstance(source, URLSource):
            check_url(source.url, prefix=prefix)
        elif isinstance(source, FileSource):
            check_path(source.path, prefix=prefix)
        else:
            raise ValidationError(
                f"items[{index}]: expected TextSource, URLSource or FileSource, got {type(source).__name__}"
            )
        check_metadata(source.metadata, prefix=prefix)
        prepared.append(PreparedItem(index=index, source=source, idempotency_key=str(uuid.uuid4())))
    return prepared


class BatchTracker:
    """Collects results in input order and reports progress after each item."""

    def __init__(self, total: int, progress: Callable[[BatchProgress], None] | None) -> None:
        self.results: list[BatchResult | None] = [None] * total
        self._done = 0
        self._failed = 0
        self._total = total
        self._progress = progress
        self._lock = threading.Lock()

    def record(self, prepared: PreparedItem, item: ContentItem | None, error: Exception | None) -> None:
        """Store one outcome and report progress."""
        with self._lock:
            self.results[prepared.index] = BatchResult(
                index=prepared.index, source=prepared.source, item=item, error=error
            )
            self._done += 1
            if error is not None:
                self._failed += 1
            snapshot = BatchProgress(done=self._done, failed=self._failed, total=self._total)
        if self._progress is not None:
            self._progress(snapshot)

    def finished(self) -> list[BatchResult]:
        """Every result, in input order."""
        assert all(r is not None for r in self.results), "a batch item has no result"
        return [r for r in self.results if r is not None]
