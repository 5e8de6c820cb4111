"""Pagination: iterators that follow ``nextToken`` across pages, lazily.

A service client gives a pager one function, ``fetch(token) -> Page``; the pager calls it only when the
caller iterates past the items it already has, and stops when a page comes back without a next token.
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Generic, TypeVar

__all__ = ["AsyncPager", "Page", "Pager"]

T = TypeVar("T")


@dataclasses.dataclass(frozen=True, kw_only=True)
class Page(Generic[T]):
    """One page of results and the token of the next one (None on the last page)."""

    items: list[T]
    next_token: str | None = None


class Pager(Generic[T]):
    """Iterate every item of every page: ``for item in client.list_content(): ...``.

    ``pages()`` iterates whole pages instead. Each iteration starts again from the first page.
    """

    def __init__(self, fetch: Callable[[str | None], Page[T]], *, start_token: str | None = None) -> None:
        self._fetch = fetch
        self._start = start_token

    def pages(self) -> Iterator[Page[T]]:
        """Each page in turn (one request per page, made when the page is reached)."""
        token = self._start
        seen: set[str] = {token} if token else set()  # the start token counts: a server may echo it
        while True:
            page = self._fetch(token)
            yield page
            token = page.next_token
            if not token or token in seen:  # a server repeating a token would loop forever
                return
            seen.add(token)

    def __iter__(self) -> Iterator[T]:
        for page in self.pages():
            yield from page.items

    def first_page(self) -> Page[T]:
        """Only the first page."""
        return self._fetch(self._start)


class AsyncPager(Generic[T]):
    """The async twin of :class:`Pager`: ``async for item in client.list_content(): ...``."""

    def __init__(self, fetch: Callable[[str | None], Awaitable[Page[T]]], *, start_token: str | None = None) -> None:
        self._fetch = fetch
        self._start = start_token

    async def pages(self) -> AsyncIterator[Page[T]]:
        """Each page in turn."""
        token = self._start
        seen: set[str] = {token} if token else set()  # the start token counts: a server may echo it
        while True:
            page = await self._fetch(token)
            yield page
            token = page.next_token
            if not token or token in seen:
                return
            seen.add(token)

    async def __aiter__(self) -> AsyncIterator[T]:
        async for page in self.pages():
            for item in page.items:
                yield item

    async def first_page(self) -> Page[T]:
        """Only the first page."""
        return await self._fetch(self._start)

    async def to_list(self) -> list[T]:
        """Every item of every page, as a list."""
        return [item async for item in self]
