"""Optional response cache: exact-match over the whole normalised request.

The key is a SHA-256 of the provider, base URL, model, messages and every parameter (see
:meth:`ChatRequest.cache_key`); a hit returns the stored :class:`ChatResponse` (``cached=True``), and a
cached stream replays the same events it produced (an answer cached from ``chat`` replays as one text delta
per text part, its tool calls, its usage and the finish). Two stores: :class:`MemoryCache` (LRU) and
:class:`SQLiteCache` (a file, shared by processes), both with a TTL and a size limit. Entries are stored as
JSON, never pickled, so a cache file cannot execute code.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import Any

import attrs

from atriumn.core import ValidationError

from ._parts import ReasoningPart
from ._types import (
    ChatResponse,
    Cost,
    FinishEvent,
    Part,
    ReasoningDelta,
    StreamEvent,
    TextDelta,
    TextPart,
    ToolCall,
    ToolCallDelta,
    Usage,
    UsageEvent,
)

__all__ = ["CacheEntry", "CacheStats", "MemoryCache", "ResponseCache", "SQLiteCache"]


@attrs.frozen
class CacheEntry:
    """A cached answer, and the stream events it was streamed as (None when it came from ``chat``)."""

    response: ChatResponse
    events: tuple[StreamEvent, ...] | None = None


@attrs.frozen(kw_only=True)
class CacheStats:
    """Hits, misses and entries of a cache."""

    hits: int
    misses: int
    size: int


class ResponseCache:
    """Base of the stores: counting, TTL and (de)serialisation; subclasses keep the bytes."""

    def __init__(
        self, *, ttl: float | None = None, max_entries: int = 1024, clock: Callable[[], float] = time.time
    ) -> None:
        if max_entries < 1:
            raise ValidationError("max_entries: must be >= 1")
        if ttl is not None and ttl <= 0:
            raise ValidationError("ttl: must be > 0 seconds")
        self.ttl = ttl
        self.max_entries = max_entries
        self._clock = clock
        self._hits = 0
        self._misses = 0
        self._counter_lock = threading.Lock()

    def get(self, key: str) -> CacheEntry | None:
        """The entry under ``key`` unless absent or expired."""
        raw = self._load(key, self._clock())
        with self._counter_lock:
            if raw is None:
                self._misses += 1
            else:
                self._hits += 1
        return None if raw is None else _decode(raw)

    def put(self, key: str, response: ChatResponse, events: Sequence[StreamEvent] | None = None) -> None:
        """Store an answer (and its stream events)."""
        now = self._clock()
        self._store(key, _encode(response, events), now + self.ttl if self.ttl is not None else None)

    def get_vector(self, key: str) -> tuple[float, ...] | None:
        """A cached embedding vector."""
        raw = self._load(key, self._clock())
        with self._counter_lock:
            if raw is None:
                self._misses += 1
            else:
                self._hits += 1
        return None if raw is None else tuple(json.loads(raw))

    def put_vector(self, key: str, vector: Sequence[float]) -> None:
        """Store an embedding vector."""
        now = self._clock()
        self._store(key, json.dumps(list(vector)), now + self.ttl if self.ttl is not None else None)

    def stats(self) -> CacheStats:
        """Hits, misses and current size."""
        return CacheStats(hits=self._hits, misses=self._misses, size=self._size())

    def _load(self, key: str, now: float) -> str | None:
        raise NotImplementedError

    def _store(self, key: str, value: str, expires: float | None) -> None:
        raise NotImplementedError

    def _size(self) -> int:
        raise NotImplementedError

    def clear(self) -> None:
        """Forget every entry."""
        raise NotImplementedError


class MemoryCache(ResponseCache):
    """An in-process LRU cache. Thread-safe."""

    def __init__(
        self, *, ttl: float | None = None, max_entries: int = 1024, clock: Callable[[], float] = time.time
    ) -> None:
        super().__init__(ttl=ttl, max_entries=max_entries, clock=clock)
        self._data: OrderedDict[str, tuple[str, float | None]] = OrderedDict()
        self._lock = threading.Lock()

    def _load(self, key: str, now: float) -> str | None:
        with self._lock:
            item = self._data.get(key)
            if item is None:
                return None
            if item[1] is not None and item[1] <= now:
                del self._data[key]
                return None
            self._data.move_to_end(key)
            return item[0]

    def _store(self, key: str, value: str, expires: float | None) -> None:
        with self._lock:
            self._data[key] = (value, expires)
            self._data.move_to_end(key)
            while len(self._data) > self.max_entries:
                self._data.popitem(last=False)

    def _size(self) -> int:
        return len(self._data)

    def clear(self) -> None:
        with self._lock:
            self._data.clear()


class SQLiteCache(ResponseCache):
    """A cache in an SQLite file (least recently used entries evicted past ``max_entries``)."""

    def __init__(
        self, path: str, *, ttl: float | None = None, max_entries: int = 10_000, clock: Callable[[], float] = time.time
    ) -> None:
        super().__init__(ttl=ttl, max_entries=max_entries, clock=clock)
        self.path = path
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS responses (key TEXT PRIMARY KEY, value TEXT NOT NULL, expires REAL, used REAL)"
        )

    def _load(self, key: str, now: float) -> str | None:
        with self._lock:
            row = self._db.execute("SELECT value, expires FROM responses WHERE key = ?", (key,)).fetchone()
            if row is None:
                return None
            if row[1] is not None and row[1] <= now:
                self._db.execute("DELETE FROM responses WHERE key = ?", (key,))
                return None
            self._db.execute("UPDATE responses SET used = ? WHERE key = ?", (time.monotonic_ns(), key))
            return str(row[0])

    def _store(self, key: str, value: str, expires: float | None) -> None:
        with self._lock:
            self._db.execute(
                "INSERT OR REPLACE INTO responses (key, value, expires, used) VALUES (?, ?, ?, ?)",
                (key, value, expires, time.monotonic_ns()),
            )
            (count,) = self._db.execute("SELECT COUNT(*) FROM responses").fetchone()
            if count > self.max_entries:
                self._db.execute(
                    "DELETE FROM responses WHERE key IN (SELECT key FROM responses ORDER BY used LIMIT ?)",
                    (count - self.max_entries,),
                )

    def _size(self) -> int:
        with self._lock:
            (count,) = self._db.execute("SELECT COUNT(*) FROM responses").fetchone()
            return int(count)

    def clear(self) -> None:
        with self._lock:
            self._db.execute("DELETE FROM responses")

    def close(self) -> None:
        """Close the database."""
        self._db.close()


# --- JSON encoding ------------------------------------------------------------------------------------------


def _usage(u: Usage) -> dict[str, Any]:
    return {
        "input": u.input_tokens,
        "output": u.output_tokens,
        "cache_read": u.cache_read_tokens,
        "cache_write": u.cache_write_tokens,
        "reasoning": u.reasoning_tokens,
    }


def _usage_from(d: dict[str, Any]) -> Usage:
    return Usage(
        input_tokens=d["input"],
        output_tokens=d["output"],
        cache_read_tokens=d["cache_read"],
        cache_write_tokens=d["cache_write"],
        reasoning_tokens=d["reasoning"],
    )


def _part(p: Part) -> dict[str, Any]:
    if isinstance(p, TextPart):
        return {"text": p.text}
    if isinstance(p, ReasoningPart):
        return {"reasoning": p.text, "signature": p.signature, "redacted": p.redacted, "data": p.data,
                "provider": p.provider}  # fmt: skip
    if isinstance(p, ToolCall):
        return {"id": p.id, "name": p.name, "arguments": dict(p.arguments), "raw": p.raw_arguments}
    raise TypeError(f"a response holds no {type(p).__name__}")  # pragma: no cover - responses hold only these


def _part_from(d: dict[str, Any]) -> Part:
    if "text" in d:
        return TextPart(text=d["text"])
    if "reasoning" in d:
        return ReasoningPart(text=d["reasoning"], signature=d.get("signature"), redacted=bool(d.get("redacted")),
                             data=d.get("data"), provider=d.get("provider") or "")  # fmt: skip
    return ToolCall(id=d["id"], name=d["name"], arguments=d["arguments"], raw_arguments=d.get("raw"))


def _event(e: StreamEvent) -> dict[str, Any] | None:
    if isinstance(e, TextDelta):
        return {"t": "text", "text": e.text}
    if isinstance(e, ReasoningDelta):
        return {"t": "reasoning", "text": e.text}
    if isinstance(e, ToolCallDelta):
        return {"t": "tool", "index": e.index, "id": e.id, "name": e.name, "arguments": e.arguments}
    if isinstance(e, UsageEvent):
        return {"t": "usage", "usage": _usage(e.usage)}
    return None


def _event_from(d: dict[str, Any]) -> StreamEvent:
    if d["t"] == "text":
        return TextDelta(d["text"])
    if d["t"] == "reasoning":
        return ReasoningDelta(d["text"])
    if d["t"] == "tool":
        return ToolCallDelta(index=d["index"], id=d["id"], name=d["name"], arguments=d["arguments"])
    return UsageEvent(_usage_from(d["usage"]))


def _encode(r: ChatResponse, events: Sequence[StreamEvent] | None) -> str:
    doc: dict[str, Any] = {
        "parts": [_part(p) for p in r.parts],
        "finish_reason": r.finish_reason,
        "usage": _usage(r.usage),
        "cost": attrs.asdict(r.cost) if r.cost is not None else None,
        "provider": r.provider,
        "model": r.model,
        "id": r.id,
        "parsed": r.parsed if r.parsed is None or isinstance(r.parsed, (dict, list, str, int, float, bool)) else None,
        "events": None,
    }
    if events is not None:
        doc["events"] = [x for x in (_event(e) for e in events if not isinstance(e, FinishEvent)) if x is not None]
    return json.dumps(doc, separators=(",", ":"), ensure_ascii=False)


def _decode(text: str) -> CacheEntry:
    from .providers._base import build_response

    doc = json.loads(text)
    response = build_response(
        provider=doc["provider"],
        model=doc["model"],
        parts=[_part_from(p) for p in doc["parts"]],
        finish_reason=doc["finish_reason"],
        usage=_usage_from(doc["usage"]),
        id=doc["id"],
    )
    response = attrs.evolve(response, cost=Cost(**doc["cost"]) if doc["cost"] else None, parsed=doc["parsed"])
    events = tuple(_event_from(e) for e in doc["events"]) if doc["events"] is not None else None
    return CacheEntry(response, events)
