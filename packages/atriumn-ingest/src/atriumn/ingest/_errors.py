"""Errors specific to ingestion (subclasses of the core hierarchy)."""

from __future__ import annotations

from atriumn.core import AtriumnError

from ._models import ContentItem

__all__ = ["ProcessingFailedError", "ProcessingTimeoutError"]


class ProcessingFailedError(AtriumnError):
    """Processing of a content item ended ``failed``.

    Attributes:
        item: the failed :class:`ContentItem`.
        reason: why, as the server said (may be None).
    """

    def __init__(self, item: ContentItem) -> None:
        self.item = item
        self.reason = item.failure_reason
        super().__init__(f"processing of content {item.id} failed: {self.reason or 'no reason given'}")


class ProcessingTimeoutError(AtriumnError, TimeoutError):
    """A content item was not processed within the timeout.

    Attributes:
        content_id: the item waited for.
        last_status: the last status seen (None if it was never read).
        timeout: the timeout in seconds.
    """

    def __init__(self, content_id: str, last_status: str | None, timeout: float) -> None:
        self.content_id = content_id
        self.last_status = last_status
        self.timeout = timeout
        super().__init__(
            f"content {content_id} was not processed within {timeout:g}s (last status: {last_status or 'unknown'})"
        )
