"""Preparing a request from an :class:`Operation`, sans-IO: URL, body, headers, replay safety, secrets.

Everything here is decided once per call, before the first attempt, and is the same for both transports.
"""

from __future__ import annotations

import functools
import json as jsonlib
import os
import random
from collections.abc import Iterator, Mapping
from typing import Any
from urllib.parse import quote

import httpx2

from ._errors import ValidationError
from ._operation import Operation
from ._redact import SENSITIVE_HEADERS, Scrubber, is_secret_key, is_secret_query_key, redact_url, secret_header_value
from ._serde import unstructure

__all__ = [
    "HeaderSets",
    "Target",
    "build_url",
    "form_body",
    "merge_headers",
    "new_request_id",
    "origin_of",
    "replay_headers",
    "request_body",
    "secrets_of",
]

_DEFAULT_PORTS = {"http": 80, "https": 443}
_IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE", "TRACE"})


def origin_of(url: httpx2.URL) -> tuple[str, str, int]:
    """``(scheme, host, port)`` with the default port filled in."""
    return (url.scheme, url.host, url.port or _DEFAULT_PORTS.get(url.scheme, 0))


class Target:
    """A request URL, parsed and redacted once per distinct URL (most calls reuse one from the cache).

    Attributes:
        url: the URL as sent; shown: the same, secrets redacted (logs, spans, errors); host, port, origin:
        ``origin`` is ``(scheme, host, port)``; breaker_key: ``host:port``; parsed: the ``httpx2.URL``;
        native: a backend's own form of the URL (an aiohttp backend keeps its ``yarl.URL`` here).
    """

    __slots__ = ("breaker_key", "host", "native", "origin", "parsed", "port", "shown", "url")

    def __init__(self, parsed: httpx2.URL) -> None:
        self.parsed = parsed
        self.url = str(parsed)
        self.shown = redact_url(self.url)
        self.origin = origin_of(parsed)
        self.host = parsed.host
        self.port = self.origin[2]
        self.breaker_key = f"{self.host}:{self.port}"
        self.native: Any = None


def build_url(base_prefix: str, op: Operation[Any]) -> Target:
    """The operation's absolute URL (path template filled with percent-encoded params, query merged), and the
    same URL as logs, spans (``url.full``) and errors show it: secrets redacted."""
    path = op.path
    if op.path_params:
        for key, value in op.path_params.items():
            if value is None or (isinstance(value, str) and not value):
                raise ValidationError(f"{key}: must not be empty")
            path = path.replace("{" + key + "}", quote(str(value), safe=""))
    query = _query(op)
    return _parse_url(path if "://" in path else base_prefix + path, tuple(query) if query else ())


@functools.lru_cache(maxsize=1024)
def _parse_url(url: str, query: tuple[tuple[str, str], ...]) -> Target:
    """Parse once per distinct URL and query: URLs are immutable, and parsing, query encoding and
    redaction dominate a request's overhead."""
    parsed = httpx2.URL(url)
    if query:
        parsed = parsed.copy_merge_params(query)
    return Target(parsed)


def _query(op: Operation[Any]) -> list[tuple[str, str]] | None:
    if not op.query:
        return None
    items: list[tuple[str, str]] = []
    for key, value in op.query.items():
        if value is None:
            continue
        values = value if isinstance(value, (list, tuple)) else [value]
        for v in values:
            if isinstance(v, bool):
                v = "true" if v else "false"
            items.append((key, str(v)))
    return items


def request_body(op: Operation[Any]) -> tuple[bytes | None, str | None]:
    """The JSON body (serialised in the operation's casing) and its content type, or ``(None, None)``."""
    if op.json is None:
        return None, None
    data = op.json if type(op.json) is dict and _plain(op.json) else unstructure(op.json, op.casing)
    return _ENCODER.encode(data).encode(), "application/json"


#: ``json.dumps`` with options builds an encoder per call: one, built once.
_ENCODER = jsonlib.JSONEncoder(separators=(",", ":"), ensure_ascii=False)


def _plain(doc: dict[str, Any]) -> bool:
    """Whether a dict holds only JSON scalars and plain containers of them (no models to unstructure)."""
    for value in doc.values():
        kind = type(value)
        if kind is dict:
            if not _plain(value):
                return False
        elif kind is list:
            if not all(type(v) in _SCALARS or (type(v) is dict and _plain(v)) for v in value):
                return False
        elif kind not in _SCALARS:
            return False
    return True


_SCALARS = frozenset({str, int, float, bool, type(None)})


def merge_headers(headers: dict[str, str], extra: Mapping[str, str]) -> None:
    """Set ``extra`` on ``headers``, each replacing a header of the same name in any letter case (HTTP header
    names are case-insensitive: a plain dict update would send both)."""
    for name, value in extra.items():
        lowered = name.lower()
        for existing in [k for k in headers if k.lower() == lowered and k != name]:
            del headers[existing]
        headers[name] = value


class HeaderSets:
    """A transport's first headers for its calls — the static ones, the body's content type, the operation's, then
    the fixed credentials' (each replacing a header of the same name in any letter case) — merged once per
    distinct set: most calls of a client send the same, and merging is a scan per header."""

    def __init__(self, static: Mapping[str, str]) -> None:
        self._static = dict(static)
        self._sets: dict[Any, tuple[dict[str, str], str | None]] = {}

    def copy(
        self, content_type: str | None, extra: Mapping[str, str] | None, auth: Mapping[str, str] | None
    ) -> tuple[dict[str, str], str | None]:
        """A call's own copy of its first headers, and the caller's ``X-Request-Id`` among them, if any."""
        try:
            key = (content_type, tuple(extra.items()) if extra else None, auth is not None)
            found = self._sets.get(key)
        except TypeError:  # a header value that is not hashable (not a string): merged for this call only
            key, found = None, None
        if found is None:
            headers = self._static.copy()
            if content_type:
                headers["Content-Type"] = content_type
            for more in (extra, auth):  # credentials win over any header of the same name
                if more:
                    merge_headers(headers, more)
            given = next((v for k, v in headers.items() if k.lower() == "x-request-id"), None)
            found = (headers, given)
            if key is not None:
                if len(self._sets) >= 64:  # per-call headers (extra_headers=...) vary: keep the cache small
                    self._sets.clear()
                self._sets[key] = found
        return found[0].copy(), found[1]


def replay_headers(op: Operation[Any], method: str, headers: dict[str, str], *, header_name: str, retries: int) -> bool:
    """Decide whether the call may be replayed after it may have reached the server, adding the
    Idempotency-Key that makes it so (see :attr:`Operation.idempotent`)."""
    content = op.content
    one_shot = content is not None and not isinstance(content, bytes) and not callable(content)
    if op.idempotency_key:
        merge_headers(headers, {header_name: op.idempotency_key})
    if one_shot or op.idempotent is False:
        return False
    if op.idempotent is True or method in _IDEMPOTENT_METHODS or op.idempotency_key:
        return True
    lowered = header_name.lower()
    if any(k.lower() == lowered and v for k, v in headers.items()):  # the caller's own key
        return True
    if retries > 0:
        headers[header_name] = _new_key()
        return True
    return False


def new_request_id() -> str:
    """A new ``X-Request-Id``: 128 random bits as 32 hex digits (uuid4().hex's shape, without its version bits) at
    a fraction of its cost. An id correlates logs, it guards nothing: a PRNG of our own serves (seeded from the
    system, reseeded in a forked child), without a system call per request and without touching the sequence of
    the global ``random`` that the application may have seeded (Idempotency-Keys, below, use the system's)."""
    return f"{_ids.getrandbits(128):032x}"


_ids = random.Random()
if hasattr(os, "register_at_fork"):  # a child must not repeat its parent's ids
    os.register_at_fork(after_in_child=_ids.seed)


def _new_key() -> str:
    raw = os.urandom(16).hex()
    return f"{raw[:8]}-{raw[8:12]}-{raw[12:16]}-{raw[16:20]}-{raw[20:]}"


def form_body(op: Operation[Any]) -> tuple[dict[str, str], bytes | Any]:
    """The headers and body of a form (``data=``: URL-encoded) or multipart (``files=``) operation, encoded
    as httpx2 encodes them, for any backend. ``files`` may be a factory: called once per attempt."""
    files = op.files() if callable(op.files) else op.files
    encoded = httpx2.Request("POST", "http://form.invalid/", data=op.data, files=files)
    headers = {
        name: encoded.headers[name]
        for name in ("Content-Type", "Content-Length", "Transfer-Encoding")
        if name in encoded.headers
    }
    if files:
        return headers, encoded.stream  # a MultipartStream: iterable and async iterable, restartable
    return headers, encoded.read()


def secrets_of(op: Operation[Any], target: Target, headers: Mapping[str, str]) -> Scrubber:
    """Every secret a request carries: credential headers, secret query values, secret body fields."""
    scrubber = Scrubber()
    for name, value in headers.items():
        if name.lower() in SENSITIVE_HEADERS:
            scrubber.add(secret_header_value(value), value)
    for key, value in target.parsed.params.multi_items():
        if is_secret_query_key(key):
            scrubber.add(value)
    for doc in (op.json, op.data):
        if doc is not None:
            scrubber.add(*_secret_values(doc if isinstance(doc, Mapping) else unstructure(doc, op.casing)))
    return scrubber


def _secret_values(doc: Any, secret: bool = False) -> Iterator[str]:
    if isinstance(doc, Mapping):
        for key, value in doc.items():
            yield from _secret_values(value, secret or (isinstance(key, str) and is_secret_key(key)))
    elif isinstance(doc, (list, tuple)):
        for value in doc:
            yield from _secret_values(value, secret)
    elif secret and isinstance(doc, str):
        yield doc
