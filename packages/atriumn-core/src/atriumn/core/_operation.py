"""Operations: pure data describing one API call.

A service client method builds an :class:`Operation` and hands it to a transport; it does nothing else.
Everything the pipeline needs to know about the call is here: where it goes, what it carries, how the
answer is decoded, whether it is safe to repeat, and what its span is called.
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterable, Callable, Iterable, Mapping
from typing import Any, Generic, TypeVar

from ._serde import Casing

__all__ = ["RAW", "RESPONSE", "Content", "Operation"]

T = TypeVar("T")

#: Streamed request content: bytes, or a factory called once per attempt (so a retry restarts the stream).
Content = bytes | Callable[[], Iterable[bytes] | AsyncIterable[bytes]]

_IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE", "TRACE"})


class _Raw:
    """Marker response type: return the decoded JSON document as it is (dicts and lists)."""

    def __repr__(self) -> str:
        return "RAW"


#: Use as ``response_type`` to get the JSON document without structuring it into a model.
RAW: Any = _Raw()


class _Response:
    """Marker response type: return the whole response, its body read (status, headers, content)."""

    def __repr__(self) -> str:
        return "RESPONSE"


#: Use as ``response_type`` to get the response itself, body read, for callers that decode it themselves and
#: need its headers. Unlike ``stream=True``, a body cut off mid-way is retried by the pipeline like any
#: other failure after the request was sent.
RESPONSE: Any = _Response()


@dataclasses.dataclass(frozen=True, kw_only=True)
class Operation(Generic[T]):
    """One API call, as data.

    Attributes:
        method: the HTTP method.
        path: a path template relative to the transport's base URL (``/content/{id}``), or an absolute URL
            (a pre-signed URL or another host: such requests never carry the transport's credentials).
        path_params: values for the template's ``{name}`` fields (percent-encoded when substituted).
        query: query parameters; ``None`` values are dropped, lists repeat the parameter.
        json: a JSON body: an attrs model (serialised in ``casing``), or plain data.
        content: a raw body: bytes, or a factory returning an iterable (or async iterable) of chunks,
            called once per attempt so retries resend from the start.
        data, files: form fields and multipart files (files may be a factory, like ``content``).
        headers: extra request headers.
        response_type: the model to structure the JSON answer into; ``None`` to ignore the body;
            ``bytes`` for the raw body; :data:`RAW` for the decoded JSON as it is; :data:`RESPONSE` for the
            :class:`~atriumn.core.Response` with its body read.
        casing: the service's wire casing for ``json`` and ``response_type``.
        idempotent: whether the call may be replayed after it may have reached the server (after a reset, a
            read timeout or a 5xx). ``True``: replay it. ``False``: never replay it then, and send no automatic
            Idempotency-Key (a failure before sending, such as a refused connection, is still retried).
            ``None`` (the default): by method — GET, HEAD, OPTIONS, PUT, DELETE are replayed; any other method
            gets an automatic Idempotency-Key, kept across attempts, and is replayed (for servers that honour
            the key, as the Atriumn API does).
        idempotency_key: a key chosen by the caller (kept across attempts); one is generated if needed.
        authenticated: whether the transport's credentials are applied (only ever to its own origin).
        stream: return the open :class:`~atriumn.core.Response` for the caller to consume (it must be closed).
        span_name: the operation span's name (``auth.login``); default ``"{METHOD} {path}"``.
        timeout: this call's overall deadline in seconds, overriding the transport's.
        error_hook: optional function ``(response) -> AtriumnError | None`` for a service's own error shape
            (``response`` is an :class:`~atriumn.core.Response`, its body read).
        log_content: whether DEBUG logs may show the request body's text; ``False`` logs its shape only
            (keys, counts and lengths), for bodies that carry private text such as a conversation.
        shared_scope: what the call spends of a shared rate limit and which per-model breaker counts it (a
            ``SharedScope``; used only by a transport with a ``shared_state``).
    """

    method: str
    path: str
    path_params: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    query: Mapping[str, Any] | None = None
    json: Any = None
    content: Content | None = None
    data: Mapping[str, Any] | None = None
    files: Any = None
    headers: Mapping[str, str] | None = None
    response_type: Any = None
    casing: Casing = "camel"
    idempotent: bool | None = None
    idempotency_key: str | None = None
    authenticated: bool = True
    stream: bool = False
    span_name: str | None = None
    timeout: float | None = None
    error_hook: Callable[[Any], Exception | None] | None = None
    log_content: bool = True
    shared_scope: Any = None

    @property
    def is_idempotent(self) -> bool:
        """Whether repeating the request is safe without an idempotency key."""
        if self.idempotent is not None:
            return self.idempotent
        return self.method.upper() in _IDEMPOTENT_METHODS

    @property
    def name(self) -> str:
        """The operation span's name."""
        return self.span_name or f"{self.method.upper()} {self.path if '://' not in self.path else 'external'}"

    def evolve(self, **changes: Any) -> Operation[T]:
        """A copy with some fields changed (e.g. the next page's token in ``query``)."""
        if type(self) is not Operation:  # a subclass may add fields or a __post_init__: the general way
            return dataclasses.replace(self, **changes)
        if not _FIELD_NAMES.issuperset(changes):
            unknown = sorted(changes.keys() - _FIELD_NAMES)
            raise TypeError(f"Operation.evolve(): unknown field(s) {', '.join(unknown)}")
        # A field-for-field copy: what dataclasses.replace does, without running __init__ again (an operation is
        # evolved on every chat call, and a frozen dataclass's __init__ sets each of its twenty fields the slow way).
        new = object.__new__(type(self))
        new.__dict__.update(self.__dict__)
        new.__dict__.update(changes)
        return new


_FIELD_NAMES = frozenset(f.name for f in dataclasses.fields(Operation))
