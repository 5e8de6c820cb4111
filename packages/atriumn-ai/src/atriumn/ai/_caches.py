"""Gemini explicit caches: ``client.caches.create / get / list / update / delete``, and
``chat(..., cached_content=cache)``.

A cache holds a prefix — a system instruction, messages (documents, images), tools — that later calls
reuse at the cached-token price. Operations are built here once (sans-IO) and sent by the sync
:class:`Caches` and the async :class:`AsyncCaches`, through the client's Gemini transport.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import attrs

from atriumn.core import RAW, Operation, RequestOptions, ValidationError, apply_options, parse_duration

from ._engine import request_fields
from ._request import ChatRequest, normalize_messages
from .providers._gemini_request import body as gemini_body
from .providers._read import count, items, obj, text

if TYPE_CHECKING:
    from typing_extensions import Unpack

    from ._chat_async import AsyncChatClient
    from ._chat_sync import ChatClient

__all__ = ["AsyncCaches", "CachedContent", "Caches"]

_P = "gemini"


@attrs.frozen(kw_only=True)
class CachedContent:
    """A Gemini explicit cache.

    Attributes:
        name: ``cachedContents/<id>`` (pass the object or this name as ``chat(..., cached_content=...)``).
        model: the model it was made for (``gemini:<model>``): a cache only serves that model.
        display_name: the name given at creation, if any.
        token_count: the cached tokens (billed at the cached rate on each use).
        create_time, update_time, expire_time: as the API reports them.
    """

    name: str
    model: str = ""
    display_name: str | None = None
    token_count: int = 0
    create_time: dt.datetime | None = None
    update_time: dt.datetime | None = None
    expire_time: dt.datetime | None = None
    raw: Any = attrs.field(default=None, eq=False, repr=False)


def _time(value: Any, path: str) -> dt.datetime | None:
    raw = text(value, path, _P)
    if not raw:
        return None
    from atriumn.core._serde import _parse_datetime

    try:
        return _parse_datetime(raw, dt.datetime)
    except ValueError:
        return None


def parse_cache(doc: Any) -> CachedContent:
    """A :class:`CachedContent` from the API's document."""
    doc = obj(doc, "$", _P)
    model = text(doc.get("model"), "$.model", _P).removeprefix("models/")
    usage = obj(doc.get("usageMetadata"), "$.usageMetadata", _P)
    return CachedContent(
        name=text(doc.get("name"), "$.name", _P),
        model=f"gemini:{model}" if model else "",
        display_name=text(doc.get("displayName"), "$.displayName", _P) or None,
        token_count=count(usage.get("totalTokenCount"), "$.usageMetadata.totalTokenCount", _P),
        create_time=_time(doc.get("createTime"), "$.createTime"),
        update_time=_time(doc.get("updateTime"), "$.updateTime"),
        expire_time=_time(doc.get("expireTime"), "$.expireTime"),
        raw=doc,
    )


def _ttl(ttl: float | dt.timedelta | str) -> str:
    """Seconds, a ``timedelta`` or a duration (``"1h"``, ``"300s"``) as the API's ``"<seconds>s"``."""
    if isinstance(ttl, dt.timedelta):
        seconds = ttl.total_seconds()
    elif isinstance(ttl, str):
        seconds = parse_duration(ttl, name="ttl")
    elif isinstance(ttl, int | float) and not isinstance(ttl, bool):
        seconds = float(ttl)
    else:
        raise ValidationError(f"ttl: expected seconds, a timedelta or a duration like '1h', got {ttl!r}")
    if not seconds > 0:
        raise ValidationError(f"ttl: must be positive, got {ttl!r}")
    return f"{seconds:g}s"


def _name(cache: CachedContent | str) -> str:
    name = cache.name if isinstance(cache, CachedContent) else cache
    if not isinstance(name, str) or not name.startswith("cachedContents/"):
        raise ValidationError(f"cache: expected a CachedContent or a name like 'cachedContents/...', got {name!r}")
    return name


def create_operation(
    model: str,
    *,
    system: Any,
    messages: Any,
    tools: Sequence[Any] | None,
    ttl: float | dt.timedelta | str | None,
    display_name: str | None,
) -> Operation[Any]:
    """``POST /v1beta/cachedContents``: the contents are translated exactly as a chat request's."""
    if system is None and messages is None:
        raise ValidationError("system, messages: give what the cache should hold")
    fields = request_fields({"system": system, "tools": tools})
    req = ChatRequest(provider=_P, model=model, messages=normalize_messages(messages) if messages else (), **fields)
    wire = gemini_body(req)
    doc: dict[str, Any] = {"model": f"models/{model}"}
    for key in ("contents", "systemInstruction", "tools"):
        if wire.get(key):
            doc[key] = wire[key]
    if ttl is not None:
        doc["ttl"] = _ttl(ttl)
    if display_name is not None:
        doc["displayName"] = display_name
    return Operation(method="POST", path="/v1beta/cachedContents", json=doc, response_type=RAW,
                     span_name="gemini.caches.create")  # fmt: skip


def get_operation(cache: CachedContent | str) -> Operation[Any]:
    """``GET /v1beta/cachedContents/<id>``."""
    return Operation(method="GET", path=f"/v1beta/{_name(cache)}", response_type=RAW, span_name="gemini.caches.get")


def list_operation(page_size: int | None, token: str | None) -> Operation[Any]:
    """``GET /v1beta/cachedContents`` (one page)."""
    return Operation(method="GET", path="/v1beta/cachedContents", query={"pageSize": page_size, "pageToken": token},
                     response_type=RAW, span_name="gemini.caches.list")  # fmt: skip


def update_operation(cache: CachedContent | str, ttl: float | dt.timedelta | str) -> Operation[Any]:
    """``PATCH /v1beta/cachedContents/<id>?updateMask=ttl``: a new lifetime."""
    return Operation(method="PATCH", path=f"/v1beta/{_name(cache)}", query={"updateMask": "ttl"},
                     json={"ttl": _ttl(ttl)}, response_type=RAW, span_name="gemini.caches.update")  # fmt: skip


def delete_operation(cache: CachedContent | str) -> Operation[Any]:
    """``DELETE /v1beta/cachedContents/<id>``."""
    return Operation(method="DELETE", path=f"/v1beta/{_name(cache)}", span_name="gemini.caches.delete")


def _page(doc: Any) -> tuple[list[CachedContent], str | None]:
    doc = obj(doc, "$", _P)
    caches = [parse_cache(c) for c in items(doc.get("cachedContents"), "$.cachedContents", _P)]
    return caches, text(doc.get("nextPageToken"), "$.nextPageToken", _P) or None


def _gemini_model(engine: Any, model: str) -> tuple[Any, str]:
    provider, name = engine.split(model)
    if engine.kind_of(provider) != "gemini":
        raise ValidationError(f"model: explicit caches are a Gemini feature, not {provider}'s")
    return engine.adapter(provider), name


class Caches:
    """Gemini explicit caches, from ``ChatClient.caches``. Every method takes the per-call options
    (``extra_headers``, ``extra_query``, ``extra_body``, ``timeout``)."""

    def __init__(self, client: ChatClient, provider: str = "gemini") -> None:
        self._client = client
        self._provider = provider

    def _send(self, op: Operation[Any], options: Mapping[str, Any]) -> Any:
        adapter = self._client._engine.adapter(self._provider)
        return self._client._transport(adapter).send(apply_options(op, options))

    def create(
        self,
        model: str,
        *,
        system: Any = None,
        messages: Any = None,
        tools: Sequence[Any] | None = None,
        ttl: float | dt.timedelta | str | None = None,
        display_name: str | None = None,
        **options: Unpack[RequestOptions],
    ) -> CachedContent:
        """Cache a prefix for ``model`` (``gemini:...``): a system instruction, messages and tools (as
        :meth:`ChatClient.chat` takes them); ``ttl`` in seconds, a timedelta or a duration (``"1h"``)."""
        adapter, name = _gemini_model(self._client._engine, model)
        op = create_operation(name, system=system, messages=messages, tools=tools, ttl=ttl, display_name=display_name)
        return parse_cache(self._client._transport(adapter).send(apply_options(op, options)))

    def get(self, cache: CachedContent | str, **options: Unpack[RequestOptions]) -> CachedContent:
        """A cache by name (or refreshed from an earlier :class:`CachedContent`)."""
        return parse_cache(self._send(get_operation(cache), options))

    def list(self, *, page_size: int | None = None, **options: Unpack[RequestOptions]) -> Iterator[CachedContent]:
        """Every cache of the key, page after page."""
        token: str | None = None
        while True:
            caches, token = _page(self._send(list_operation(page_size, token), options))
            yield from caches
            if token is None:
                return

    def update(
        self, cache: CachedContent | str, *, ttl: float | dt.timedelta | str, **options: Unpack[RequestOptions]
    ) -> CachedContent:
        """Give a cache a new lifetime, from now."""
        return parse_cache(self._send(update_operation(cache, ttl), options))

    def delete(self, cache: CachedContent | str, **options: Unpack[RequestOptions]) -> None:
        """Delete a cache (its tokens stop being billed for storage)."""
        self._send(delete_operation(cache), options)


class AsyncCaches:
    """The async twin of :class:`Caches`, from ``AsyncChatClient.caches``."""

    def __init__(self, client: AsyncChatClient, provider: str = "gemini") -> None:
        self._client = client
        self._provider = provider

    async def _send(self, op: Operation[Any], options: Mapping[str, Any]) -> Any:
        adapter = self._client._engine.adapter(self._provider)
        return await self._client._transport(adapter).send(apply_options(op, options))

    async def create(
        self,
        model: str,
        *,
        system: Any = None,
        messages: Any = None,
        tools: Sequence[Any] | None = None,
        ttl: float | dt.timedelta | str | None = None,
        display_name: str | None = None,
        **options: Unpack[RequestOptions],
    ) -> CachedContent:
        """See :meth:`Caches.create`."""
        adapter, name = _gemini_model(self._client._engine, model)
        op = create_operation(name, system=system, messages=messages, tools=tools, ttl=ttl, display_name=display_name)
        return parse_cache(await self._client._transport(adapter).send(apply_options(op, options)))

    async def get(self, cache: CachedContent | str, **options: Unpack[RequestOptions]) -> CachedContent:
        """See :meth:`Caches.get`."""
        return parse_cache(await self._send(get_operation(cache), options))

    async def list(
        self, *, page_size: int | None = None, **options: Unpack[RequestOptions]
    ) -> AsyncIterator[CachedContent]:
        """See :meth:`Caches.list`."""
        token: str | None = None
        while True:
            caches, token = _page(await self._send(list_operation(page_size, token), options))
            for cache in caches:
                yield cache
            if token is None:
                return

    async def update(
        self, cache: CachedContent | str, *, ttl: float | dt.timedelta | str, **options: Unpack[RequestOptions]
    ) -> CachedContent:
        """See :meth:`Caches.update`."""
        return parse_cache(await self._send(update_operation(cache, ttl), options))

    async def delete(self, cache: CachedContent | str, **options: Unpack[RequestOptions]) -> None:
        """See :meth:`Caches.delete`."""
        await self._send(delete_operation(cache), options)
