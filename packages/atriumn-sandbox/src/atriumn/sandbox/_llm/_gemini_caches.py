"""Gemini explicit context caches: ``/{version}/cachedContents`` (create, get, list, update the TTL, delete),
and their use by generateContent (``cachedContent: "cachedContents/<id>"``).

Wire facts kept here: the create body is ``{"model": "models/<m>", "contents", "systemInstruction", "tools",
"toolConfig", "ttl": "300s" | "expireTime": RFC 3339, "displayName"}``; the answer is a CachedContent — ``name``
(``cachedContents/<id>``), ``model``, ``createTime``, ``updateTime``, ``expireTime``, ``displayName`` and
``usageMetadata.totalTokenCount`` — that echoes none of the cached members; the default lifetime is one hour;
fewer than 1,024 tokens is 400 ``Cached content is too small``; an update is ``PATCH`` with a new ``ttl`` or
``expireTime``; a delete answers ``{}``; an empty list is ``{}``. A cache that does not exist, has expired
(expired caches are gone), or belongs to another API key is 403 ``PERMISSION_DENIED`` ``CachedContent not
found (or permission denied)``, for ``GET`` and for generateContent alike. google-genai uses ``/v1`` by default;
both ``/v1`` and ``/v1beta`` are served.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
import threading
import time
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from ._batches import page_after, rfc3339
from ._gemini_request import error, field, parse_turn, request_key
from ._parts import PartError
from ._turn import CACHE_MIN_TOKENS
from ._wire import RequestBodyError, json_response, new_id, read_json

__all__ = ["CACHES", "CacheStore", "CachedContent", "cache_routes", "not_found"]

_DEFAULT_TTL = 3600.0
_DURATION = re.compile(r"^(\d+(?:\.\d{1,9})?)s$")
_GONE = "CachedContent not found (or permission denied)"


@dataclasses.dataclass
class CachedContent:
    """One cache: what it holds (prepended to the requests that use it) and its lifetime.

    Attributes:
        name: ``cachedContents/<id>``.
        owner: the API key that created it (caches are private to it).
        model: ``models/<model>``, the only model that may use it.
        contents: the cached conversation (Content objects as received).
        system: the cached ``systemInstruction``, or ``None``.
        tools: the cached ``tools``, or ``None``.
        tool_config: the cached ``toolConfig``, or ``None``.
        display_name: the ``displayName`` ("" if none).
        created: creation time (seconds since the epoch).
        updated: last update time.
        expires: expiry time; at or after it, the cache is gone.
        tokens: its prompt tokens, by the emulation's rule (text words plus each non-text part's fixed count).
    """

    name: str
    owner: str
    model: str
    contents: list[Any]
    system: Any
    tools: Any
    tool_config: Any
    display_name: str
    created: float
    updated: float
    expires: float
    tokens: int

    def doc(self) -> dict[str, Any]:
        """The CachedContent resource, as the API returns it."""
        return {
            "name": self.name,
            "model": self.model,
            "createTime": rfc3339(self.created),
            "updateTime": rfc3339(self.updated),
            "expireTime": rfc3339(self.expires),
            "displayName": self.display_name,
            "usageMetadata": {"totalTokenCount": self.tokens},
        }


class CacheStore:
    """The caches of every API key, in memory; expired ones are dropped when seen."""

    def __init__(self) -> None:
        self._caches: dict[str, CachedContent] = {}
        self._lock = threading.Lock()

    def add(self, cache: CachedContent) -> None:
        """Keep ``cache``."""
        with self._lock:
            self._drop_expired()
            self._caches[cache.name] = cache

    def get(self, owner: str, name: str) -> CachedContent | None:
        """The live cache ``name`` of ``owner``, or ``None`` (missing, expired, or another key's)."""
        with self._lock:
            cache = self._caches.get(name)
            if cache is not None and cache.expires <= time.time():
                del self._caches[name]
                return None
        return cache if cache is not None and cache.owner == owner else None

    def owned(self, owner: str) -> list[CachedContent]:
        """The live caches of ``owner``, oldest first."""
        with self._lock:
            self._drop_expired()
            return sorted((c for c in self._caches.values() if c.owner == owner), key=lambda c: c.created)

    def delete(self, name: str) -> None:
        """Forget the cache ``name``."""
        with self._lock:
            self._caches.pop(name, None)

    def _drop_expired(self) -> None:
        now = time.time()
        for name in [n for n, c in self._caches.items() if c.expires <= now]:
            del self._caches[name]


#: The caches of the emulation (shared by every mount of the routes; names are process-unique).
CACHES = CacheStore()


def not_found() -> Response:
    """What Gemini answers for a cache that does not exist (any more) or is another key's: 403."""
    return error(403, _GONE)


def _expiry(body: dict[str, Any], now: float) -> float | Response:
    """The expiry time that ``ttl`` / ``expireTime`` ask for (now + 1 hour without either), or a 400."""
    ttl = field(body, "ttl", "ttl")
    expire = field(body, "expireTime", "expire_time")
    if ttl is not None and expire is not None:
        return error(400, "oneof field 'expiration' is already set. Cannot set 'expireTime'")
    if expire is not None:
        try:
            when = dt.datetime.fromisoformat(str(expire).replace("Z", "+00:00"))
        except ValueError:
            message = (
                "Invalid value at 'cached_content.expire_time' (type.googleapis.com/google.protobuf.Timestamp), "
                f"Field 'expireTime', Invalid time format: {expire}"
            )
            return error(400, message)
        if when.tzinfo is None:
            when = when.replace(tzinfo=dt.timezone.utc)
        return when.timestamp()
    if ttl is None:
        return now + _DEFAULT_TTL
    match = _DURATION.match(str(ttl))
    if match is None:
        message = (
            "Invalid value at 'cached_content.ttl' (type.googleapis.com/google.protobuf.Duration), Field 'ttl', "
            "Illegal duration format; duration must end with 's'"
        )
        return error(400, message)
    return now + float(match.group(1))


def _model_name(model: Any) -> str:
    name = str(model or "")
    return name if name.startswith("models/") else f"models/{name}"


async def _create(request: Request, key: str) -> Response:
    try:
        body = await read_json(request)
    except RequestBodyError as exc:
        return error(400, f"Invalid JSON payload received. {exc}")
    model = field(body, "model", "model")
    if not isinstance(model, str) or not model.removeprefix("models/"):
        return error(400, "* CreateCachedContentRequest.cached_content.model: model is required")
    contents = field(body, "contents", "contents") or []
    if not isinstance(contents, list):
        return error(400, "Invalid value at 'cached_content.contents': expected a list of Content")
    system = field(body, "systemInstruction", "system_instruction")
    try:
        tokens = parse_turn({"contents": contents, "systemInstruction": system}).input_tokens
    except PartError as exc:
        return error(400, exc.message)
    if tokens < CACHE_MIN_TOKENS:
        return error(400, f"Cached content is too small. total_token_count={tokens}, min_total_token_count=1024")
    now = time.time()
    expires = _expiry(body, now)
    if isinstance(expires, Response):
        return expires
    display = field(body, "displayName", "display_name")
    cache = CachedContent(
        name=new_id("cachedContents/"),
        owner=key,
        model=_model_name(model),
        contents=contents,
        system=system,
        tools=field(body, "tools", "tools"),
        tool_config=field(body, "toolConfig", "tool_config"),
        display_name=display if isinstance(display, str) else "",
        created=now,
        updated=now,
        expires=expires,
        tokens=tokens,
    )
    CACHES.add(cache)
    return json_response(cache.doc())


async def _list(request: Request, key: str) -> Response:
    raw = request.query_params.get("pageSize", "100")
    size = min(int(raw), 1000) if raw.isdigit() and int(raw) > 0 else 100
    caches = CACHES.owned(key)
    chosen, more = page_after(caches, lambda c: c.name, request.query_params.get("pageToken"), size)
    doc: dict[str, Any] = {}
    if chosen:
        doc["cachedContents"] = [c.doc() for c in chosen]
    if more and chosen:
        doc["nextPageToken"] = chosen[-1].name
    return json_response(doc)


async def collection(request: Request) -> Response:
    """``POST /{version}/cachedContents`` (create) and ``GET /{version}/cachedContents`` (list: ``pageSize``,
    ``pageToken``)."""
    key, refused = request_key(request)
    if refused is not None:
        return refused
    if request.method == "POST":
        return await _create(request, key)
    return await _list(request, key)


async def item(request: Request) -> Response:
    """``GET``, ``PATCH`` (``ttl`` / ``expireTime``) and ``DELETE`` ``/{version}/cachedContents/{id}``."""
    key, refused = request_key(request)
    if refused is not None:
        return refused
    name = f"cachedContents/{request.path_params['id']}"
    cache = CACHES.get(key, name)
    if cache is None:
        return not_found()
    if request.method == "DELETE":
        CACHES.delete(name)
        return json_response({})
    if request.method == "PATCH":
        try:
            body = await read_json(request)
        except RequestBodyError as exc:
            return error(400, f"Invalid JSON payload received. {exc}")
        now = time.time()
        if field(body, "ttl", "ttl") is not None or field(body, "expireTime", "expire_time") is not None:
            expires = _expiry(body, now)
            if isinstance(expires, Response):
                return expires
            cache.expires = expires
        display = field(body, "displayName", "display_name")
        if isinstance(display, str):
            cache.display_name = display
        cache.updated = now
    return json_response(cache.doc())


def cache_routes() -> list[BaseRoute]:
    """The cachedContents routes, under ``/v1beta`` and ``/v1``."""
    routes: list[BaseRoute] = []
    for version in ("v1beta", "v1"):
        routes.append(Route(f"/{version}/cachedContents", collection, methods=["GET", "POST"]))
        routes.append(Route(f"/{version}/cachedContents/{{id}}", item, methods=["GET", "PATCH", "DELETE"]))
    return routes
