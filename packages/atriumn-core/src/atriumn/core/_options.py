"""Per-call options and raw responses, for every client.

- :class:`RequestOptions`: ``extra_headers``, ``extra_query``, ``extra_body`` and ``timeout``, taken by every
  public method of every client (``client.get_content(id, timeout=5)``) and applied to the operation it sends.
- :class:`RawResponse`: ``client.with_raw_response.<method>(...)`` returns the HTTP status, headers, request id,
  elapsed time and raw body of the call, and :meth:`RawResponse.parse` gives the usual typed result — what the
  official SDKs offer. The pipeline records the response of each successful call into a context variable that
  only :class:`RawResponses` sets, so calls made without it pay nothing.
"""

from __future__ import annotations

import contextvars
import dataclasses
import inspect
import json
from collections.abc import Callable, Mapping
from typing import Any, Generic, TypedDict, TypeVar

from ._errors import ValidationError
from ._operation import Operation
from ._serde import unstructure

__all__ = ["RawResponse", "RawResponses", "RequestOptions", "apply_options", "record_response"]

T = TypeVar("T")


class RequestOptions(TypedDict, total=False):
    """Options of one call, taken by every public method (by keyword).

    Attributes:
        extra_headers: headers added to the request (they win over the SDK's, credentials excepted).
        extra_query: query parameters added to the request.
        extra_body: fields merged into the JSON body (where the request has one).
        timeout: this call's overall deadline in seconds (retries included), instead of the client's.
    """

    extra_headers: Mapping[str, str] | None
    extra_query: Mapping[str, Any] | None
    extra_body: Mapping[str, Any] | None
    timeout: float | None


_OPTION_NAMES = frozenset(RequestOptions.__annotations__)


def apply_options(op: Operation[T], options: Mapping[str, Any]) -> Operation[T]:
    """``op`` with the call's :class:`RequestOptions` applied (the same operation when there are none)."""
    if not options:
        return op
    unknown = set(options) - _OPTION_NAMES
    if unknown:
        raise TypeError(f"unexpected keyword argument {sorted(unknown)[0]!r}")
    changes: dict[str, Any] = {}
    headers, query, body, timeout = (options.get(k) for k in ("extra_headers", "extra_query", "extra_body", "timeout"))
    if headers:
        changes["headers"] = {**(op.headers or {}), **headers}
    if query:
        changes["query"] = {**(op.query or {}), **query}
    if body:
        changes.update(_merged_body(op, body))
    if timeout is not None:
        if isinstance(timeout, bool) or not isinstance(timeout, int | float) or not timeout > 0:
            raise ValidationError(f"timeout: expected seconds > 0, got {timeout!r}")
        changes["timeout"] = float(timeout)
    return op.evolve(**changes) if changes else op


def _merged_body(op: Operation[Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    if op.json is not None:
        current = unstructure(op.json, op.casing)
        if not isinstance(current, Mapping):
            raise ValidationError("extra_body: this request's body is not a JSON object")
        return {"json": {**current, **extra}}
    if isinstance(op.content, bytes) and op.content.lstrip().startswith(b"{"):
        doc = json.loads(op.content)
        return {"content": json.dumps({**doc, **extra}, separators=(",", ":"), ensure_ascii=False).encode()}
    raise ValidationError("extra_body: this request has no JSON body")


@dataclasses.dataclass(frozen=True)
class _Recorded:
    response: Any
    elapsed: float


_RECORD: contextvars.ContextVar[list[_Recorded] | None] = contextvars.ContextVar("atriumn_raw", default=None)


def record_response(response: Any, elapsed: float) -> None:
    """Called by the pipeline with each successful response: kept only inside ``with_raw_response``."""
    sink = _RECORD.get()
    if sink is not None:
        sink.append(_Recorded(response, elapsed))


@dataclasses.dataclass(frozen=True)
class RawResponse(Generic[T]):
    """The HTTP exchange behind a call, and its usual result.

    Attributes:
        status_code, headers: the response's (the last one, for a call that made several requests).
        request_id: the server's request id, when it sent one.
        elapsed: the call's duration in seconds (retries included).
        content: the raw body (empty for a streamed answer).
        method, url: the request (URL redacted).
    """

    status_code: int
    headers: Mapping[str, str]
    request_id: str | None
    elapsed: float
    content: bytes
    method: str
    url: str
    _parsed: T = dataclasses.field(repr=False)

    def parse(self) -> T:
        """The typed result the method returns without ``with_raw_response``."""
        return self._parsed

    def json(self) -> Any:
        """The body decoded as JSON."""
        return json.loads(self.content)

    @property
    def text(self) -> str:
        """The body as text (UTF-8, undecodable bytes replaced)."""
        return self.content.decode("utf-8", "replace")


def _raw(recorded: list[_Recorded], parsed: Any, method_name: str) -> RawResponse[Any]:
    if not recorded:
        if hasattr(parsed, "__next__") or hasattr(parsed, "__anext__"):
            raise ValidationError(
                f"{method_name}: the result is produced lazily (a stream); with_raw_response shows calls that send "
                "their request when called"
            )
        raise ValidationError(f"{method_name}: this call made no HTTP request to show (answered from a cache?)")
    from ._outcome import request_id_of
    from ._redact import redact_url

    last = recorded[-1].response
    request = last.request
    try:
        content = last.content
    except Exception:  # a stream: its body was read by the caller, not kept
        content = b""
    return RawResponse(
        status_code=last.status_code,
        headers=dict(last.headers),
        request_id=request_id_of(last.headers),
        elapsed=sum(r.elapsed for r in recorded),
        content=content,
        method=request.method,
        url=redact_url(str(request.url)),
        _parsed=parsed,
    )


class RawResponses:
    """``client.with_raw_response``: every method of the client, returning a :class:`RawResponse` (awaitable
    for async methods) instead of the parsed result. For a listing, the response is its first page's and
    ``parse()`` the pager (which starts from the first page again when iterated)."""

    def __init__(self, client: Any) -> None:
        self._client = client

    def __getattr__(self, name: str) -> Callable[..., Any]:
        method = getattr(self._client, name)
        if not callable(method) or name.startswith("_"):
            raise AttributeError(f"{type(self._client).__name__}.with_raw_response has no method {name!r}")
        if inspect.iscoroutinefunction(method):

            async def call_async(*args: Any, **kwargs: Any) -> RawResponse[Any]:
                recorded: list[_Recorded] = []
                token = _RECORD.set(recorded)
                try:
                    parsed = await method(*args, **kwargs)
                finally:
                    _RECORD.reset(token)
                return _raw(recorded, parsed, name)

            return call_async

        def call(*args: Any, **kwargs: Any) -> Any:
            from ._pagination import AsyncPager, Pager

            recorded: list[_Recorded] = []
            token = _RECORD.set(recorded)
            try:
                parsed = method(*args, **kwargs)
                if isinstance(parsed, Pager):  # a listing is lazy: its first page is the call to show
                    parsed.first_page()
            finally:
                _RECORD.reset(token)
            if isinstance(parsed, AsyncPager):
                return _first_page(parsed, name)
            return _raw(recorded, parsed, name)

        return call


async def _first_page(pager: Any, name: str) -> RawResponse[Any]:
    recorded: list[_Recorded] = []
    token = _RECORD.set(recorded)
    try:
        await pager.first_page()
    finally:
        _RECORD.reset(token)
    return _raw(recorded, pager, name)
