"""The stream objects of a chat: :class:`ChatStream` (``for event in stream``) and :class:`AsyncChatStream`.

The HTTP response is closed on every path — normal end, an exception, ``close()``, leaving a ``with`` block,
or (sync) dropping the stream after an early ``break``. For async streams use ``async with`` (or
``await stream.aclose()``) to close deterministically after an early ``break``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from types import TracebackType

from atriumn.core import AtriumnError

from ._params import ErrorMode
from ._types import ChatResponse, ErrorEvent, FinishEvent, StreamEvent

__all__ = ["AsyncChatStream", "ChatStream"]


class ChatStream:
    """The events of one streamed chat: ``for event in stream``; :attr:`response` once finished.

    Use it as a context manager (``with client.stream(...) as s:``) or call :meth:`close` to stop early.
    """

    def __init__(self, events: Iterator[StreamEvent], errors: ErrorMode = "raise") -> None:
        self._events = events
        self._errors = errors
        self._ended = False
        #: the final :class:`ChatResponse`, once the stream finished.
        self.response: ChatResponse | None = None

    def __iter__(self) -> ChatStream:
        return self

    def __next__(self) -> StreamEvent:
        if self._ended:
            raise StopIteration
        try:
            event = next(self._events)
        except StopIteration:
            self._ended = True
            raise
        except AtriumnError as exc:
            self._ended = True
            if self._errors == "event":
                return ErrorEvent(exc)
            raise
        if type(event) is FinishEvent:
            self.response = event.response
        return event

    def text_stream(self) -> Iterator[str]:
        """Only the text deltas."""
        for event in self:
            if event.type == "text_delta":
                yield event.text  # type: ignore[union-attr]

    def final_response(self) -> ChatResponse:
        """Consume the rest of the stream and return the accumulated response."""
        for _ in self:
            pass
        if self.response is None:
            raise RuntimeError("the stream ended without a response")
        return self.response

    def close(self) -> None:
        """Stop the stream and close its HTTP response."""
        self._ended = True
        close = getattr(self._events, "close", None)
        if close is not None:
            close()

    def __enter__(self) -> ChatStream:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


class AsyncChatStream:
    """The async twin of :class:`ChatStream`: ``async for event in stream``; use ``async with`` to close early."""

    def __init__(self, events: AsyncIterator[StreamEvent], errors: ErrorMode = "raise") -> None:
        self._events = events
        self._errors = errors
        self._ended = False
        self.response: ChatResponse | None = None

    def __aiter__(self) -> AsyncChatStream:
        return self

    async def __anext__(self) -> StreamEvent:
        if self._ended:
            raise StopAsyncIteration
        try:
            event = await self._events.__anext__()
        except StopAsyncIteration:
            self._ended = True
            raise
        except AtriumnError as exc:
            self._ended = True
            if self._errors == "event":
                return ErrorEvent(exc)
            raise
        if type(event) is FinishEvent:
            self.response = event.response
        return event

    async def text_stream(self) -> AsyncIterator[str]:
        """Only the text deltas."""
        async for event in self:
            if event.type == "text_delta":
                yield event.text  # type: ignore[union-attr]

    async def final_response(self) -> ChatResponse:
        """Consume the rest of the stream and return the accumulated response."""
        async for _ in self:
            pass
        if self.response is None:
            raise RuntimeError("the stream ended without a response")
        return self.response

    async def aclose(self) -> None:
        """Stop the stream and close its HTTP response."""
        self._ended = True
        aclose = getattr(self._events, "aclose", None)
        if aclose is not None:
            await aclose()

    async def close(self) -> None:
        """Alias of :meth:`aclose`."""
        await self.aclose()

    async def __aenter__(self) -> AsyncChatStream:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()
