"""Pure ASGI middleware: request ids, body size limits, per-credential rate limits and idempotency keys."""

from __future__ import annotations

import asyncio
import hashlib
import json
import math
import tempfile
import threading
import time
import uuid
from typing import TYPE_CHECKING, Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ._errors import ApiError, code_for, error_body

if TYPE_CHECKING:
    from ._state import State

__all__ = ["BodyLimitMiddleware", "IdempotencyMiddleware", "RateLimitMiddleware", "RequestIdMiddleware"]

_UPLOAD_PATHS = ("/_blobs/", "/ingest/file")
#: Paths of the LLM emulation's batch and file APIs, which enforce the providers' own (larger) limits.
_SELF_LIMITED = (
    "/v1/files",
    "/openai/v1/files",
    "/v1/messages/batches",
    "/anthropic/v1/messages/batches",
    "/upload/v1beta/files",
    "/upload/v1/files",
)


def header(scope: Scope, name: str) -> str | None:
    """A request header's value (first occurrence), or ``None``."""
    key = name.encode()
    for k, v in scope.get("headers", []):
        if k.lower() == key:
            return bytes(v).decode("latin-1")
    return None


def credential_token(scope: Scope) -> str | None:
    """The credential the request carries: a bearer token or a provider API key header."""
    auth = header(scope, "authorization")
    if auth:
        scheme, _, token = auth.partition(" ")
        if scheme.lower() == "bearer" and token.strip():
            return token.strip()
    return header(scope, "x-api-key") or header(scope, "x-goog-api-key")


async def send_error(
    send: Send, status: int, description: str, headers: dict[str, str] | None = None, code: str | None = None
) -> None:
    """Send a complete JSON error response."""
    body = json.dumps(error_body(code or code_for(status), description)).encode()
    raw = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    raw += [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})


class RequestIdMiddleware:
    """Every response carries ``x-request-id`` (the client's when it sent one); stray exceptions become 500 JSON."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = (header(scope, "x-request-id") or "")[:200] or uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id
        started = False

        async def send_with_id(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != b"x-request-id"]
                headers.append((b"x-request-id", request_id.encode("latin-1")))
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except ApiError as exc:
            if started:
                raise
            await send_error(send_with_id, exc.status, exc.description, exc.headers, exc.code)
        except Exception:
            if started:
                raise
            await send_error(send_with_id, 500, "internal error in the sandbox")


class BodyLimitMiddleware:
    """413 for bodies larger than the configured limit (uploads have their own, larger limit; the LLM
    emulation's batch and file paths enforce the providers' limits themselves)."""

    def __init__(self, app: ASGIApp, state: State) -> None:
        self.app = app
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope.get("path", "")
        if path.startswith(_SELF_LIMITED) or path.endswith(":batchGenerateContent"):
            await self.app(scope, receive, send)
            return
        cfg = self.state.config
        limit = cfg.max_upload_size if path.startswith(_UPLOAD_PATHS) else cfg.max_body_size
        declared = header(scope, "content-length")
        if declared is not None:
            try:
                size = int(declared)
            except ValueError:
                await send_error(send, 400, "invalid content-length header")
                return
            if size > limit:
                await send_error(send, 413, f"request body of {size} bytes exceeds the limit of {limit} bytes")
                return
        seen = 0

        async def limited() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise ApiError(413, f"request body exceeds the limit of {limit} bytes")
            return message

        await self.app(scope, limited, send)


class _Bucket:
    __slots__ = ("stamp", "tokens")

    def __init__(self, tokens: float, stamp: float) -> None:
        self.tokens = tokens
        self.stamp = stamp


class RateLimiter:
    """Token buckets, one per credential."""

    def __init__(self, rate: float, burst: float) -> None:
        self.rate = rate
        self.burst = burst
        self._buckets: dict[str, _Bucket] = {}
        self._lock = threading.Lock()

    def acquire(self, key: str, now: float | None = None) -> float:
        """Take a token for ``key``: 0.0 if allowed, else the seconds until one is available."""
        now = time.monotonic() if now is None else now
        with self._lock:
            bucket = self._buckets.get(key)
            if bucket is None:
                bucket = self._buckets[key] = _Bucket(self.burst, now)
            bucket.tokens = min(self.burst, bucket.tokens + (now - bucket.stamp) * self.rate)
            bucket.stamp = now
            if bucket.tokens >= 1.0:
                bucket.tokens -= 1.0
                return 0.0
            return (1.0 - bucket.tokens) / self.rate


class RateLimitMiddleware:
    """429 with ``Retry-After`` once a credential (or an anonymous client address) exceeds its rate."""

    def __init__(self, app: ASGIApp, state: State) -> None:
        self.app = app
        self.state = state
        rate = state.config.rate_limit
        burst = state.config.rate_limit_burst or max(1.0, rate or 1.0)
        self.limiter = RateLimiter(rate, burst) if rate else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.limiter is None or scope["type"] != "http" or scope.get("path", "").startswith("/_sandbox/"):
            await self.app(scope, receive, send)
            return
        token = credential_token(scope)
        client = scope.get("client")
        key = self.state.scope_key(token) if token else f"addr:{client[0] if client else '?'}"
        wait = self.limiter.acquire(key)
        if wait > 0:
            await send_error(
                send, 429, "rate limit exceeded for this credential", {"retry-after": str(max(1, math.ceil(wait)))}
            )
            return
        await self.app(scope, receive, send)


def _strip(data: bytes, needle: bytes) -> bytes:
    return data.replace(needle, b"") if needle else data


class IdempotencyMiddleware:
    """``POST`` with ``Idempotency-Key``: the first successful response is stored and replayed.

    Keys are scoped per credential. The same key with a different request (method, path, query, content
    type or body; a multipart boundary does not count) is refused with 422. Duplicates arriving together
    wait on a per-key lock, so only one executes. Only 2xx responses are stored: a failed attempt (an
    expired token, a validation error) can be retried with the same key.
    """

    def __init__(self, app: ASGIApp, state: State) -> None:
        self.app = app
        self.state = state
        self._locks: dict[tuple[str, str], tuple[asyncio.Lock, int]] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        key = header(scope, "idempotency-key") if scope["type"] == "http" else None
        if key is None or scope.get("method") != "POST":
            await self.app(scope, receive, send)
            return
        if not key.strip() or len(key) > 255:
            await send_error(send, 400, "Idempotency-Key must be 1-255 characters")
            return
        owner = self.state.scope_key(credential_token(scope))
        ctype = header(scope, "content-type") or ""
        boundary = b""
        if "boundary=" in ctype:
            boundary = ctype.split("boundary=", 1)[1].split(";")[0].strip().strip('"').encode()
            ctype = ctype.split(";")[0]
        digest = hashlib.sha256(
            "\n".join([scope["method"], scope.get("path", ""), scope.get("query_string", b"").decode(), ctype]).encode()
        )
        spool = tempfile.SpooledTemporaryFile(max_size=1024 * 1024, dir=str(self.state.store.tmp_dir))  # noqa: SIM115
        try:
            carry = b""
            keep = max(len(boundary) - 1, 0)
            more = True
            while more:
                message = await receive()
                if message["type"] != "http.request":
                    return  # the client went away
                chunk = bytes(message.get("body", b""))
                spool.write(chunk)
                data = _strip(carry + chunk, boundary)
                carry = data[len(data) - keep :] if keep else b""
                digest.update(data[: len(data) - len(carry)])
                more = bool(message.get("more_body", False))
            digest.update(carry)
            fingerprint = digest.hexdigest()
            spool.seek(0)
            await self._locked(scope, receive, send, owner, key, fingerprint, spool)
        except ApiError as exc:
            await send_error(send, exc.status, exc.description, exc.headers, exc.code)
        finally:
            spool.close()

    async def _locked(
        self, scope: Scope, receive: Receive, send: Send, owner: str, key: str, fingerprint: str, spool: Any
    ) -> None:
        slot = (owner, key)
        lock, users = self._locks.get(slot, (asyncio.Lock(), 0))
        self._locks[slot] = (lock, users + 1)
        try:
            async with lock:
                await self._once(scope, receive, send, owner, key, fingerprint, spool)
        finally:
            lock, users = self._locks[slot]
            if users <= 1:
                del self._locks[slot]
            else:
                self._locks[slot] = (lock, users - 1)

    async def _once(
        self, scope: Scope, receive: Receive, send: Send, owner: str, key: str, fingerprint: str, spool: Any
    ) -> None:
        store = self.state.store
        stored = store.idempotent_get(owner, key)
        if stored is not None:
            old_fingerprint, status, headers, body = stored
            if old_fingerprint != fingerprint:
                await send_error(
                    send,
                    422,
                    "this Idempotency-Key was already used with a different request",
                    code="conflict",
                )
                return
            raw = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in headers]
            raw.append((b"idempotent-replayed", b"true"))
            await send({"type": "http.response.start", "status": status, "headers": raw})
            await send({"type": "http.response.body", "body": body})
            return

        done = False

        async def replay_body() -> Message:
            nonlocal done
            if done:
                return await receive()
            chunk = spool.read(64 * 1024)
            done = not chunk or spool.tell() >= _size(spool)
            return {"type": "http.request", "body": chunk, "more_body": not done}

        captured: dict[str, Any] = {"status": 0, "headers": [], "body": []}

        async def capture(message: Message) -> None:
            if message["type"] == "http.response.start":
                captured["status"] = message["status"]
                captured["headers"] = [
                    [bytes(k).decode("latin-1"), bytes(v).decode("latin-1")]
                    for k, v in message.get("headers", [])
                    if bytes(k).lower() != b"x-request-id"
                ]
            elif message["type"] == "http.response.body":
                captured["body"].append(bytes(message.get("body", b"")))
            await send(message)

        await self.app(scope, replay_body, capture)
        if 200 <= captured["status"] < 300:
            store.idempotent_put(
                owner, key, fingerprint, captured["status"], captured["headers"], b"".join(captured["body"])
            )


def _size(spool: Any) -> int:
    pos = spool.tell()
    spool.seek(0, 2)
    end = int(spool.tell())
    spool.seek(pos)
    return end
