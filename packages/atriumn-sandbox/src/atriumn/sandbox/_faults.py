"""Fault injection at the raw ASGI level, for resilience tests.

A fault is chosen per request, from the ``x-sandbox-fault`` header or else from the global rules set with
``POST /_sandbox/faults`` (or :meth:`Sandbox.inject_fault`). Kinds and what the client sees:

``status:<code>[;retry-after=<seconds>]``
    The request is NOT executed; the response is ``<code>`` with the usual JSON error body (and a
    ``Retry-After`` header when given).
``reset-before-head``
    The request is NOT executed; the TCP connection is aborted with a RST and no response bytes
    (httpx2: ``ReadError``/``RemoteProtocolError`` - "connection reset" / "disconnected without response").
``reset-after-head``
    The request IS executed (side effects happen, an ``Idempotency-Key`` response is stored); the response
    status line and headers are sent, then the connection is closed before any body byte (the client sees
    a response whose body ends early: ``RemoteProtocolError``). A response with an empty body (204)
    therefore looks complete.
``delay:<seconds>``
    The server waits, then executes the request and responds normally (use it to provoke read timeouts;
    the request still runs after the delay even if the client has given up).
``truncate``
    The request IS executed; the response head announces the full ``content-length`` but only the first
    half of the body is sent before the connection is closed (``RemoteProtocolError`` while reading).

Resets need the connection's transport, which uvicorn's ``send`` carries (``send.__self__.transport``);
under another server the resets fall back to raising an exception, which servers answer by closing
the connection (or, before the head, with a 500).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import logging
import random
import socket
import struct
import threading
import uuid
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ._errors import code_for, error_body

logger = logging.getLogger("atriumn.sandbox.faults")

__all__ = ["Fault", "FaultInjector", "FaultMiddleware", "FaultRule", "parse_fault"]

FAULT_HEADER = "x-sandbox-fault"
KINDS = ("status", "reset-before-head", "reset-after-head", "delay", "truncate")


@dataclasses.dataclass(frozen=True)
class Fault:
    """One fault: its kind and parameters."""

    kind: str
    status: int | None = None
    retry_after: float | None = None
    seconds: float | None = None

    def spec(self) -> str:
        """The fault written the way the header takes it."""
        if self.kind == "status":
            text = f"status:{self.status}"
            return text if self.retry_after is None else f"{text};retry-after={_num(self.retry_after)}"
        if self.kind == "delay":
            return f"delay:{_num(self.seconds or 0)}"
        return self.kind


def _num(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


def parse_fault(text: str, *, retry_after: float | None = None) -> Fault:
    """Parse ``status:503;retry-after=2``, ``reset-before-head``, ``delay:1.5``...; ``ValueError`` if bad."""
    head, *params = [part.strip() for part in text.strip().split(";")]
    kind, _, arg = head.partition(":")
    kind = kind.strip().lower()
    for param in params:
        name, _, value = param.partition("=")
        if name.strip().lower() != "retry-after":
            raise ValueError(f"unknown fault parameter {name!r}")
        retry_after = _nonneg(value, "retry-after")
    if kind == "status":
        try:
            status = int(arg)
        except ValueError:
            raise ValueError(f"fault 'status' needs a status code, as in 'status:503' (got {text!r})") from None
        if not 400 <= status <= 599:
            raise ValueError("fault 'status' takes a 4xx or 5xx code")
        return Fault("status", status=status, retry_after=retry_after)
    if kind == "delay":
        return Fault("delay", seconds=_nonneg(arg, "delay"))
    if kind in ("reset-before-head", "reset-after-head", "truncate") and not arg:
        return Fault(kind)
    raise ValueError(
        f"unknown fault {text!r}; use status:<code>[;retry-after=<s>], reset-before-head, reset-after-head, "
        "delay:<seconds> or truncate"
    )


def _nonneg(value: str, what: str) -> float:
    try:
        number = float(value)
    except ValueError:
        raise ValueError(f"{what} must be a number of seconds") from None
    if not 0 <= number <= 3600:
        raise ValueError(f"{what} must be between 0 and 3600 seconds")
    return number


@dataclasses.dataclass
class FaultRule:
    """A global rule: inject ``fault`` into matching requests, ``count`` times (``None``: until cleared)."""

    fault: Fault
    count: int | None = 1
    path_prefix: str = "/"
    probability: float = 1.0
    seed: int | None = None
    id: str = dataclasses.field(default_factory=lambda: f"fault_{uuid.uuid4().hex[:12]}")
    injected: int = 0
    _rng: random.Random = dataclasses.field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)

    def to_json(self) -> dict[str, Any]:
        """The rule as ``GET /_sandbox/faults`` shows it."""
        remaining = None if self.count is None else self.count - self.injected
        return {
            "id": self.id,
            "fault": self.fault.spec(),
            "count": self.count,
            "remaining": remaining,
            "pathPrefix": self.path_prefix,
            "probability": self.probability,
            "seed": self.seed,
            "injected": self.injected,
        }


class FaultInjector:
    """The global fault rules (thread-safe: tests add rules from their own thread)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rules: list[FaultRule] = []

    def add(self, rule: FaultRule) -> FaultRule:
        """Add a rule (rules are tried in the order they were added)."""
        with self._lock:
            self._rules.append(rule)
        return rule

    def clear(self) -> None:
        """Remove every rule."""
        with self._lock:
            self._rules.clear()

    def rules(self) -> list[FaultRule]:
        """The active rules."""
        with self._lock:
            return list(self._rules)

    def take(self, path: str) -> Fault | None:
        """The fault to inject into a request for ``path``, if any rule fires (and count it)."""
        if path.startswith("/_sandbox/"):
            return None
        with self._lock:
            for rule in self._rules:
                if not path.startswith(rule.path_prefix):
                    continue
                if rule.probability < 1.0 and rule._rng.random() >= rule.probability:
                    continue
                rule.injected += 1
                if rule.count is not None and rule.injected >= rule.count:
                    self._rules.remove(rule)
                return rule.fault
        return None


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key.lower() == name:
            return bytes(value).decode("latin-1")
    return None


def _transport_of(send: Send) -> asyncio.Transport | None:
    owner = getattr(send, "__self__", None)
    transport = getattr(owner, "transport", None)
    return transport if isinstance(transport, asyncio.Transport) else None


async def _drop(send: Send, *, rst: bool) -> None:
    """Close the connection under ``send``: a RST (``rst``) or a FIN after flushing what was written."""
    transport = _transport_of(send)
    if transport is None:
        raise ConnectionResetError("injected fault: connection dropped")
    if rst:
        sock = transport.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        transport.abort()
    else:
        transport.close()
    owner = getattr(send, "__self__", None)
    # Let connection_lost run, so that the server knows the client is gone and logs no error.
    for _ in range(20):
        if getattr(owner, "disconnected", True):
            break
        await asyncio.sleep(0)


async def _buffered(receive: Receive) -> Receive:
    """Read the whole request body now; return a ``receive`` that replays it."""
    messages: list[Message] = []
    while True:
        message = await receive()
        messages.append(message)
        if message["type"] != "http.request" or not message.get("more_body", False):
            break

    async def replay() -> Message:
        if messages:
            return messages.pop(0)
        return await receive()  # after the body: the disconnect, when the client goes away

    return replay


def _tolerant(send: Send) -> Send:
    """A ``send`` that ignores a client which has gone away (the response has nowhere to go: that is normal)."""

    async def send_or_drop(message: Message) -> None:
        try:
            await send(message)
        except OSError:
            logger.debug("client gone before the delayed response could be sent")

    return send_or_drop


class FaultMiddleware:
    """The outermost ASGI middleware: applies the header's or a global rule's fault to a request."""

    def __init__(self, app: ASGIApp, injector: FaultInjector) -> None:
        self.app = app
        self.injector = injector

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        header = _header(scope, FAULT_HEADER.encode())
        if header is not None:
            try:
                fault: Fault | None = parse_fault(header)
            except ValueError as exc:
                await self._error(scope, send, 400, f"invalid {FAULT_HEADER} header: {exc}")
                return
        else:
            fault = self.injector.take(scope.get("path", ""))
        if fault is None:
            await self.app(scope, receive, send)
        elif fault.kind == "status":
            assert fault.status is not None
            headers = {} if fault.retry_after is None else {"retry-after": _num(fault.retry_after)}
            await self._error(scope, send, fault.status, f"injected fault: {fault.spec()}", headers)
        elif fault.kind == "delay":
            # Read the body first: a client that gives up during the delay must not stop the request from
            # running (the documented behaviour), nor make reading its body fail afterwards.
            replay = await _buffered(receive)
            await asyncio.sleep(fault.seconds or 0.0)
            await self.app(scope, replay, _tolerant(send))
        elif fault.kind == "reset-before-head":
            await _drop(send, rst=True)
        elif fault.kind == "reset-after-head":
            await self._after_head(scope, receive, send)
        else:
            await self._truncate(scope, receive, send)

    async def _after_head(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = False

        async def head_only(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                await send(message)

        await self.app(scope, receive, head_only)
        if not started:
            raise RuntimeError("the application sent no response")
        await _drop(send, rst=False)

    async def _truncate(self, scope: Scope, receive: Receive, send: Send) -> None:
        start: Message | None = None
        chunks: list[bytes] = []

        async def capture(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                start = message
            elif message["type"] == "http.response.body":
                chunks.append(bytes(message.get("body", b"")))

        await self.app(scope, receive, capture)
        if start is None:
            raise RuntimeError("the application sent no response")
        body = b"".join(chunks)
        headers = [
            (k, v) for k, v in start.get("headers", []) if k.lower() not in (b"content-length", b"transfer-encoding")
        ]
        headers.append((b"content-length", str(len(body)).encode()))
        await send({"type": "http.response.start", "status": start["status"], "headers": headers})
        await send({"type": "http.response.body", "body": body[: len(body) // 2], "more_body": True})
        await _drop(send, rst=False)

    async def _error(
        self, scope: Scope, send: Send, status: int, description: str, extra: dict[str, str] | None = None
    ) -> None:
        body = json.dumps(error_body(code_for(status), description)).encode()
        request_id = _header(scope, b"x-request-id") or uuid.uuid4().hex
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            (b"x-request-id", request_id.encode("latin-1")),
        ]
        headers += [(k.encode(), v.encode()) for k, v in (extra or {}).items()]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})
