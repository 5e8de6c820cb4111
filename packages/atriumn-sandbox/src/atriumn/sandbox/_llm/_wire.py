"""Wire helpers shared by the providers: JSON bodies, SSE responses, stream cuts, ids and request parsing.

Responses are built from bytes with precomputed header lists (no pydantic, no per-request schema work): the
emulation is also a throughput benchmark target.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import itertools
import json
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

__all__ = [
    "FAIL_ONCE",
    "Answered",
    "EventStream",
    "RequestBodyError",
    "answered",
    "bad_key",
    "bearer",
    "drop_connection",
    "dumps",
    "go_duration",
    "json_response",
    "new_id",
    "read_json",
]

_counter = itertools.count(1)
_encoder = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))


def dumps(value: Any) -> bytes:
    """Compact JSON bytes."""
    return _encoder.encode(value).encode()


def new_id(prefix: str) -> str:
    """A process-unique id with ``prefix`` (``chatcmpl-``, ``msg_``, ``req_``...)."""
    return f"{prefix}{next(_counter):024x}"


class RequestBodyError(ValueError):
    """The request body is not a JSON object."""


async def read_json(request: Request) -> dict[str, Any]:
    """The request's JSON object body; :class:`RequestBodyError` if it is anything else."""
    raw = await request.body()
    try:
        body = json.loads(raw)
    except ValueError as exc:
        raise RequestBodyError(f"the request body is not valid JSON: {exc}") from None
    if not isinstance(body, dict):
        raise RequestBodyError("the request body must be a JSON object")
    return body


def _raw(headers: Mapping[str, str] | None) -> list[tuple[bytes, bytes]]:
    return [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in (headers or {}).items()]


def json_response(doc: Any, status: int = 200, headers: Mapping[str, str] | None = None) -> Response:
    """A JSON response (compact, UTF-8)."""
    return Response(dumps(doc), status, dict(headers or {}), media_type="application/json")


@dataclasses.dataclass(frozen=True)
class Answered:
    """One request answered without HTTP (what a batch records for it).

    Attributes:
        status: the HTTP status the interactive endpoint would answer.
        body: the response document, or the provider's error body when ``status`` is 400 or more.
        request_id: the request id the answer carries.
    """

    status: int
    body: Any
    request_id: str


def answered(response: Response, request_id_header: str = "x-request-id") -> Answered:
    """The :class:`Answered` of a JSON response built by :func:`json_response` (an error answer, typically)."""
    return Answered(response.status_code, json.loads(bytes(response.body)), response.headers.get(request_id_header, ""))


class EventStream(Response):
    """A ``text/event-stream`` response of already-framed events, each written with its own ``send``.

    Args:
        events: the framed events (``data: ...\\n\\n``), produced lazily or not.
        headers: extra response headers.
        delay: seconds to wait before each event (``delay-<ms>`` models).
        cut: drop the connection after the events, without ending the body (a stream cut).
    """

    media_type = "text/event-stream"

    def __init__(
        self,
        events: Iterable[bytes],
        headers: Mapping[str, str] | None = None,
        *,
        delay: float = 0.0,
        cut: bool = False,
    ) -> None:
        self.events = events
        self.status_code = 200
        self.background = None
        self.body = b""
        self.delay = delay
        self.cut = cut
        self.raw_headers = [
            (b"content-type", b"text/event-stream; charset=utf-8"),
            (b"cache-control", b"no-cache"),
            *_raw(headers),
        ]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": self.raw_headers})
        for event in self.events:
            if self.delay:
                await asyncio.sleep(self.delay)
            await send({"type": "http.response.body", "body": event, "more_body": True})
        if self.cut:
            await drop_connection(send)
            return
        await send({"type": "http.response.body", "body": b"", "more_body": False})


def _find_transport(send: Callable[..., Any]) -> tuple[asyncio.Transport, Any] | None:
    """The server transport behind ``send`` (uvicorn: ``send.__self__.transport``), through middleware.

    Middleware wraps ``send`` in closures; the search follows bound-method owners and closure cells a few
    levels deep. ``None`` when there is no such transport (another server).
    """
    seen: set[int] = set()
    frontier: list[Any] = [send]
    for _ in range(8):
        following: list[Any] = []
        for item in frontier:
            if id(item) in seen:
                continue
            seen.add(id(item))
            owner = getattr(item, "__self__", None)
            transport = getattr(owner, "transport", None)
            if isinstance(transport, asyncio.Transport):
                return transport, owner
            for cell in getattr(item, "__closure__", None) or ():
                with contextlib.suppress(ValueError):
                    if callable(cell.cell_contents):
                        following.append(cell.cell_contents)
        if not following:
            return None
        frontier = following
    return None


async def drop_connection(send: Send) -> None:
    """End the connection after what was written, leaving the response body unfinished (a stream cut).

    Under uvicorn the transport is closed (FIN after the buffered bytes) and the server sees the client
    gone, so it logs nothing. Elsewhere the response is left incomplete, which servers answer by closing
    the connection.
    """
    found = _find_transport(send)
    if found is None:
        return
    transport, owner = found
    transport.close()
    for _ in range(20):
        if getattr(owner, "disconnected", True):
            break
        await asyncio.sleep(0)


def go_duration(seconds: float) -> str:
    """``seconds`` as a Go duration, the way OpenAI and Groq write rate-limit resets: ``6m0s``, ``1s``, ``6ms``."""
    if seconds < 1:
        return f"{round(seconds * 1000)}ms"
    minutes, rest = divmod(seconds, 60)
    text = f"{rest:.3f}".rstrip("0").rstrip(".") + "s"
    return f"{int(minutes)}m{text}" if minutes else text


class FailOnce:
    """Remembers which (provider, key, model) have already failed once (``fail-once-<status>`` models)."""

    def __init__(self) -> None:
        self._seen: set[tuple[str, str, str]] = set()

    def first(self, provider: str, key: str, model: str) -> bool:
        """True the first time this triple is seen (bounded memory: forgets everything past 10,000)."""
        triple = (provider, key, model)
        if triple in self._seen:
            return False
        if len(self._seen) >= 10_000:
            self._seen.clear()
        self._seen.add(triple)
        return True


FAIL_ONCE = FailOnce()


def bad_key(key: str | None) -> bool:
    """A key the emulation refuses: a key starting with ``invalid``."""
    return key is not None and key.startswith("invalid")


def bearer(request: Request) -> str | None:
    """The bearer token of ``Authorization``, or ``None`` (also for an empty one)."""
    auth = request.headers.get("authorization")
    if not auth:
        return None
    scheme, _, token = auth.partition(" ")
    token = token.strip()
    return token if scheme.lower() == "bearer" and token else None
