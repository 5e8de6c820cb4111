"""The response cache in Redis: one cache for every process and machine that points at the same Redis.

:class:`RedisCache` is a :class:`~._cache.ResponseCache` like :class:`~._cache.MemoryCache` and
:class:`~._cache.SQLiteCache` (same keys, same JSON entries, streams replayed the same way), stored under
``{prefix}:cache:{<sha256 of the request>}`` with a TTL on every entry. Its size is bounded by Redis, not by a
count: give the Redis (or the database the cache uses) a ``maxmemory`` and an eviction policy
(``allkeys-lru`` for a Redis of its own; ``volatile-lru`` evicts only keys with a TTL, which all of ours have).

When Redis cannot be reached a lookup is a miss and a store is skipped (one warning per outage, counted as a
fallback in the state's stats), so the cache never fails a call. Lookups use the sync client, also from
:class:`AsyncChatClient` (as the SQLite cache does): each is one bounded round trip (the state's ``timeout``).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from atriumn.core import RedisState, ValidationError
from atriumn.core._redis_state import Step

from ._cache import ResponseCache

__all__ = ["RedisCache"]


class RedisCache(ResponseCache):
    """A response cache shared by processes, in Redis.

    Args:
        url_or_state: a Redis URL (``redis://host:6379/0``) or a :class:`~atriumn.core.RedisState` (share the one
            your clients use: one connection pool, one prefix, one outage bookkeeping).
        ttl: seconds an entry lives (required: every value in Redis has a TTL). Default one hour.
        prefix: the key prefix when a URL is given (default ``atriumn``).
    """

    def __init__(
        self,
        url_or_state: str | RedisState,
        *,
        ttl: float = 3600.0,
        prefix: str = "atriumn",
        clock: Callable[[], float] = time.time,
    ) -> None:
        if ttl is None or isinstance(ttl, bool) or not isinstance(ttl, (int, float)) or ttl <= 0:
            raise ValidationError("ttl: must be > 0 seconds (entries in Redis always expire)")
        super().__init__(ttl=ttl, max_entries=1, clock=clock)
        if isinstance(url_or_state, RedisState):
            self.state = url_or_state
        elif isinstance(url_or_state, str):
            self.state = RedisState.from_url(url_or_state, prefix=prefix)
        else:
            raise ValidationError(
                f"url_or_state: expected a Redis URL or a RedisState, got {type(url_or_state).__name__}"
            )
        self._pattern = f"{self.state.prefix}:cache:*"

    def __repr__(self) -> str:
        return f"RedisCache({self.state!r}, ttl={self.ttl})"

    def _key(self, key: str) -> str:
        return self.state.key("cache", key)

    def _load(self, key: str, now: float) -> str | None:
        raw = self.state.run(Step([("GET", self._key(key))], lambda r: r[0], lambda: None))
        if raw is None:
            return None
        return raw.decode() if isinstance(raw, bytes) else str(raw)

    def _store(self, key: str, value: str, expires: float | None) -> None:
        assert self.ttl is not None
        command = ("SET", self._key(key), value.encode(), "PX", max(1, round(self.ttl * 1000)))
        self.state.run(Step([command], lambda r: None, lambda: None))

    def _scan(self) -> Any:
        return self.state.client.scan_iter(match=self._pattern, count=1000)

    def _size(self) -> int:
        """Entries in Redis (a SCAN: O(entries); 0 while Redis cannot be reached)."""
        try:
            return sum(1 for _ in self._scan())
        except Exception as exc:
            if _unreachable(exc):
                return 0
            raise

    def clear(self) -> None:
        """Remove every entry of this prefix (a SCAN and UNLINKs; nothing happens while Redis is away)."""
        try:
            batch: list[Any] = []
            for key in self._scan():
                batch.append(key)
                if len(batch) >= 500:
                    self.state.client.unlink(*batch)
                    batch = []
            if batch:
                self.state.client.unlink(*batch)
        except Exception as exc:
            if not _unreachable(exc):
                raise


def _unreachable(exc: BaseException) -> bool:
    from redis.exceptions import RedisError

    return isinstance(exc, (RedisError, OSError, TimeoutError))
