"""The request pipeline, written once as a sans-IO generator and driven by both transports.

``call_flow`` is the whole policy chain for one call: request id, user agent, deadline, operation span,
then per attempt rate limit → circuit breaker → credentials → attempt span and log → send, then response
classification, retry decision, 401 handling and decoding. It never does I/O and never sleeps: it yields
instructions (:class:`Send`, :class:`Sleep`, :class:`Authenticate`) and receives their results. The sync
driver executes them with ``httpx2.Client`` and ``time.sleep``, the async driver with ``httpx2.AsyncClient``
and ``asyncio.sleep`` — the same decisions, in the same order, for both.
"""

from __future__ import annotations

import dataclasses
import functools
import json as jsonlib
import logging
import os
import time
import uuid
from collections.abc import Generator, Mapping
from typing import Any
from urllib.parse import quote

import httpx2

from ._breaker import BreakerRegistry
from ._credentials import TokenProvider
from ._errors import (
    APIError,
    AtriumnError,
    ConnectError,
    DecodeError,
    NetworkError,
    RateLimitError,
    RequestTimeoutError,
    ServerError,
    TransportError,
    default_code,
    error_class_for,
    parse_error_body,
)
from ._operation import RAW, Operation
from ._ratelimit import TokenBucket
from ._redact import redact_body, redact_headers, redact_text, redact_url
from ._retry import RetryBudget, RetryPolicy, decide, parse_retry_after
from ._serde import structure, unstructure
from ._telemetry import StatsRecorder, instruments

__all__ = ["Authenticate", "PipelineConfig", "Send", "Sleep", "Timeouts", "call_flow"]

logger = logging.getLogger("atriumn.core.transport")


@dataclasses.dataclass(frozen=True, kw_only=True)
class Timeouts:
    """Per-attempt timeouts in seconds (each capped by what is left of the call's deadline)."""

    connect: float = 5.0
    read: float = 60.0
    write: float = 60.0
    pool: float = 10.0


@dataclasses.dataclass(frozen=True, kw_only=True)
class Send:
    """Instruction: send ``request``; reply with the response (body read unless ``stream``) or the exception."""

    request: httpx2.Request
    stream: bool


@dataclasses.dataclass(frozen=True)
class Sleep:
    """Instruction: sleep ``seconds`` (asyncio.sleep in the async driver); reply with None."""

    seconds: float


@dataclasses.dataclass(frozen=True)
class Authenticate:
    """Instruction: get the credential headers (``force`` after a 401); reply with them or the exception."""

    provider: TokenProvider
    force: bool = False
    stale: Any = None


@dataclasses.dataclass(kw_only=True)
class PipelineConfig:
    """Everything the flow needs from a transport (shared, read-only during a call)."""

    base_url: httpx2.URL
    base_prefix: str
    origin: tuple[str, str, int]
    credentials: TokenProvider | None
    timeouts: Timeouts
    deadline: float | None
    retry: RetryPolicy
    budget: RetryBudget
    breakers: BreakerRegistry
    bucket: TokenBucket | None
    headers: Mapping[str, str]
    user_agent: str
    idempotency_header: str
    stats: StatsRecorder
    trace_origins: frozenset[tuple[str, str, int]]


_DEFAULT_PORTS = {"http": 80, "https": 443}


def origin_of(url: httpx2.URL) -> tuple[str, str, int]:
    """``(scheme, host, port)`` with the default port filled in."""
    return (url.scheme, url.host, url.port or _DEFAULT_PORTS.get(url.scheme, 0))


def build_url(cfg: PipelineConfig, op: Operation[Any]) -> tuple[httpx2.URL, str]:
    """The operation's absolute URL (path template filled with percent-encoded params, query merged) and
    the same URL as logs, spans (``url.full``) and errors show it: secrets redacted."""
    path = op.path
    if op.path_params:
        for key, value in op.path_params.items():
            if value is None or (isinstance(value, str) and not value):
                raise ValueError(f"{key}: must not be empty")
            path = path.replace("{" + key + "}", quote(str(value), safe=""))
    query = _query(op)
    return _parse_url(path if "://" in path else cfg.base_prefix + path, tuple(query) if query else ())


@functools.lru_cache(maxsize=1024)
def _parse_url(url: str, query: tuple[tuple[str, str], ...]) -> tuple[httpx2.URL, str]:
    """Parse once per distinct URL and query: URLs are immutable, and parsing, query encoding and
    redaction dominate a request's overhead."""
    parsed = httpx2.URL(url)
    if query:
        parsed = parsed.copy_merge_params(query)
    return parsed, redact_url(str(parsed))


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


def _body(op: Operation[Any]) -> tuple[bytes | None, str | None]:
    if op.json is None:
        return None, None
    data = unstructure(op.json, op.casing)
    return jsonlib.dumps(data, separators=(",", ":"), ensure_ascii=False).encode(), "application/json"


def _classify(exc: Exception, method: str, url: str) -> TransportError:
    """Map an httpx2 exception to ours, with the phase (was the request possibly sent?)."""
    name = type(exc).__name__
    if isinstance(exc, (httpx2.ConnectTimeout, httpx2.PoolTimeout)):
        return RequestTimeoutError(f"{name} to {url}: {exc}", method=method, url=url, sent=False)
    if isinstance(exc, httpx2.ConnectError):
        return ConnectError(f"could not connect to {url}: {exc}", method=method, url=url, sent=False)
    if isinstance(exc, httpx2.TimeoutException):
        return RequestTimeoutError(f"{name} from {url}: {exc}", method=method, url=url, sent=True)
    return NetworkError(f"{name} talking to {url}: {exc or 'connection failed'}", method=method, url=url, sent=True)


def _request_id(headers: httpx2.Headers) -> str | None:
    return headers.get("x-request-id") or headers.get("request-id") or headers.get("x-goog-request-id")


def api_error(response: httpx2.Response, *, method: str, url: str, retry_after: float | None) -> APIError:
    """The :class:`APIError` for an error response (any known error body shape)."""
    content_type = response.headers.get("content-type", "")
    code, description = parse_error_body(response.content, content_type)
    description = redact_text(description)  # it becomes the message: a server may echo a secret back
    status = response.status_code
    cls = error_class_for(status)
    kwargs: dict[str, Any] = {
        "status_code": status,
        "code": code or default_code(status),
        "description": description,
        "request_id": _request_id(response.headers),
        "body": redact_body(response.content, content_type),
        "method": method,
        "url": url,
        "headers": redact_headers(response.headers.multi_items()),
    }
    if cls in (RateLimitError, ServerError):
        kwargs["retry_after"] = retry_after
    return cls(**kwargs)


def decode(op: Operation[Any], response: httpx2.Response) -> Any:
    """Decode a successful response as the operation asks."""
    rtype = op.response_type
    if rtype is None:
        return None
    if rtype is bytes:
        return response.content
    request_id = _request_id(response.headers)
    content = response.content
    if not content.strip():
        raise DecodeError("expected a JSON body, got an empty one", request_id=request_id)
    try:
        data = jsonlib.loads(content)
    except ValueError as exc:
        ctype = response.headers.get("content-type", "")
        raise DecodeError(
            f"response is not valid JSON ({ctype or 'no content type'}): {exc}",
            body=redact_body(content, ctype),
            request_id=request_id,
        ) from None
    if rtype is RAW:
        return data
    return structure(data, rtype, op.casing, request_id=request_id)


def call_flow(cfg: PipelineConfig, op: Operation[Any]) -> Generator[Any, Any, Any]:
    """The pipeline for one call. See the module docstring for the protocol."""
    start = time.monotonic()
    budget_s = op.timeout if op.timeout is not None else cfg.deadline
    deadline = start + budget_s if budget_s is not None else None
    method = op.method.upper()
    url, shown_url = build_url(cfg, op)
    origin = origin_of(url)
    own_origin = origin == cfg.origin
    host = f"{url.host}:{origin[2]}"
    body, content_type = _body(op)

    headers: dict[str, str] = {"User-Agent": cfg.user_agent, **cfg.headers}
    if body is not None and content_type:
        headers["Content-Type"] = content_type
    if op.headers:
        headers.update(op.headers)
    # 128 random bits as 32 hex digits (uuid4().hex's shape, without its version bits) at a fraction of its cost.
    request_id = headers.setdefault("X-Request-Id", os.urandom(16).hex()) if own_origin else None

    replay_safe = op.is_idempotent
    can_replay_content = not (op.content is not None and not isinstance(op.content, bytes) and not callable(op.content))
    if not replay_safe and cfg.retry.max_retries > 0 and can_replay_content:
        key = op.idempotency_key or headers.get(cfg.idempotency_header) or str(uuid.uuid4())
        headers[cfg.idempotency_header] = key
        replay_safe = True
    elif op.idempotency_key:
        headers[cfg.idempotency_header] = op.idempotency_key
        replay_safe = True
    if not can_replay_content:
        replay_safe = False

    ins = instruments()
    op_span = ins.tracer.start_span(op.name, kind=ins.SpanKind.INTERNAL, attributes={"atriumn.operation": op.name})
    op_ctx = ins.trace.set_span_in_context(op_span)
    breaker = cfg.breakers.for_host(host)
    credentials = cfg.credentials if (op.authenticated and own_origin) else None
    max_attempts = cfg.retry.max_retries + 1
    retries = 0
    refreshed_after_401 = False
    force_token = False
    stale_token: Any = None
    error: BaseException | None = None
    try:
        if credentials is not None:
            fixed = credentials.fixed_headers()
            if fixed is not None:  # a fixed key: no cache round trip per attempt, and no refresh after a 401
                headers.update(fixed)
                credentials = None
        while True:
            # --- rate limit -------------------------------------------------------------------------
            if cfg.bucket is not None:
                wait = cfg.bucket.reserve()
                if wait > 0:
                    if deadline is not None and time.monotonic() + wait > deadline:
                        cfg.bucket.cancel()
                        raise RequestTimeoutError(
                            f"the client-side rate limit needs {wait:.2f}s, past the call's deadline",
                            method=method,
                            url=shown_url,
                            sent=False,
                        )
                    yield Sleep(wait)
            # --- circuit breaker --------------------------------------------------------------------
            probe = breaker.acquire()
            recorded = False
            try:
                # --- credentials --------------------------------------------------------------------
                attempt_headers = dict(headers)
                if credentials is not None:
                    auth = yield Authenticate(credentials, force_token, stale_token)
                    force_token = False
                    if isinstance(auth, BaseException):
                        raise auth
                    token, auth_headers = auth
                    stale_token = token
                    attempt_headers.update(auth_headers)
                attempt_headers["Atriumn-Attempt"] = f"attempt={retries + 1}; max={max_attempts}"
                # --- timeouts: each phase capped by what is left of the deadline ---------------------
                t = cfg.timeouts
                timeout = {"connect": t.connect, "read": t.read, "write": t.write, "pool": t.pool}
                if deadline is not None:
                    left = deadline - time.monotonic()
                    if left <= 0:
                        raise RequestTimeoutError(
                            f"the call's deadline of {budget_s}s passed",
                            method=method,
                            url=shown_url,
                            sent=False,
                        )
                    timeout = {k: min(v, left) for k, v in timeout.items()}
                # --- attempt span ---------------------------------------------------------------------
                attrs_: dict[str, str | int] = {
                    "http.request.method": method,
                    "server.address": url.host,
                    "server.port": origin[2],
                    "url.full": shown_url,
                }
                if retries:
                    attrs_["http.request.resend_count"] = retries
                span = ins.tracer.start_span(method, context=op_ctx, kind=ins.SpanKind.CLIENT, attributes=attrs_)
                if own_origin or origin in cfg.trace_origins:
                    ins.propagate.inject(attempt_headers, context=ins.trace.set_span_in_context(span, op_ctx))
                content: Any = op.content() if callable(op.content) else op.content
                files = op.files() if callable(op.files) else op.files
                request = httpx2.Request(
                    method,
                    url,
                    headers=attempt_headers,
                    content=body if body is not None else content,
                    data=op.data,
                    files=files,
                    extensions={"timeout": timeout},
                )
                sent_at = time.monotonic()
                result = yield Send(request=request, stream=op.stream)
                elapsed = time.monotonic() - sent_at
                cfg.stats.attempt(elapsed)
                # --- classify -----------------------------------------------------------------------
                if isinstance(result, Exception):
                    if not isinstance(result, httpx2.HTTPError | OSError):
                        span.end()
                        raise result
                    failure: AtriumnError = _classify(result, method, shown_url)
                    error_type = type(result).__name__
                    status = None
                    response = None
                else:
                    response = result
                    status = response.status_code
                    error_type = str(status) if status >= 400 else ""
                    failure = None  # type: ignore[assignment]
                recorded = True
                if breaker.record(status, probe=probe):
                    cfg.stats.add("circuit_openings")
                    ins.breaker_openings.add(1, {"server.address": url.host})
                _finish_attempt(ins, span, status, error_type, elapsed, method, url.host, origin[2])
                _log_attempt(method, shown_url, status, elapsed, retries + 1, request, response, error_type)
            except BaseException:
                if not recorded:
                    breaker.release(probe=probe)
                raise

            # --- success --------------------------------------------------------------------------
            if response is not None and status is not None and status < 400:
                cfg.budget.record_success()
                op_span.set_attribute("http.response.status_code", status)
                if op.stream:
                    return response
                return decode(op, response)

            # --- 401: refresh once ----------------------------------------------------------------
            if status == 401 and credentials is not None and not refreshed_after_401:
                refreshed_after_401 = True
                force_token = True
                continue

            remaining = deadline - time.monotonic() if deadline is not None else None
            headers_in = response.headers if response is not None else None
            if response is not None:
                failure = _response_error(op, response, method, shown_url, headers_in)
            sent = failure.sent if isinstance(failure, TransportError) else True
            decision = decide(
                cfg.retry,
                retries_done=retries,
                status=status,
                headers=headers_in,
                sent=sent,
                replay_safe=replay_safe,
                remaining=remaining,
                server_delay=getattr(failure, "retry_after", None),
            )
            if decision.retry:
                cost = cfg.budget.try_acquire(timeout=isinstance(failure, RequestTimeoutError))
                if cost is None:
                    logger.info("retry budget exhausted; not retrying %s %s", method, shown_url)
                    raise failure
                retries += 1
                cfg.stats.add("retries")
                ins.retries.add(1, {"server.address": url.host})
                logger.info(
                    "retrying %s %s in %.2fs (attempt %d of %d): %s",
                    method,
                    shown_url,
                    decision.delay,
                    retries + 1,
                    max_attempts,
                    error_type or "error",
                    extra={"atriumn.attempt": retries + 1, "atriumn.delay": decision.delay},
                )
                if decision.delay > 0:
                    yield Sleep(decision.delay)
                continue
            raise failure
    except BaseException as exc:
        error = exc
        raise
    finally:
        cfg.stats.add("calls")
        if error is not None:
            cfg.stats.add("errors")
            op_span.set_attribute("error.type", _error_type(error))
            op_span.set_status(ins.StatusCode.ERROR, type(error).__name__)
        if request_id:
            op_span.set_attribute("atriumn.request_id", request_id)
        op_span.end()


def _response_error(op: Operation[Any], response: httpx2.Response, method: str, url: str, headers: Any) -> AtriumnError:
    if op.error_hook is not None:
        custom = op.error_hook(response)
        if isinstance(custom, AtriumnError):
            return custom
    return api_error(response, method=method, url=url, retry_after=parse_retry_after(headers))


def _error_type(exc: BaseException) -> str:
    if isinstance(exc, APIError):
        return str(exc.status_code)
    return type(exc).__name__


def _finish_attempt(
    ins: Any,
    span: Any,
    status: int | None,
    error_type: str,
    elapsed: float,
    method: str,
    host: str,
    port: int,
) -> None:
    attributes: dict[str, Any] = {"http.request.method": method, "server.address": host, "server.port": port}
    if status is not None:
        span.set_attribute("http.response.status_code", status)
        attributes["http.response.status_code"] = status
    if error_type:
        span.set_attribute("error.type", error_type)
        span.set_status(ins.StatusCode.ERROR)
        attributes["error.type"] = error_type
    span.end()
    ins.duration.record(elapsed, attributes)


def _log_attempt(
    method: str,
    url: str,
    status: int | None,
    elapsed: float,
    attempt: int,
    request: httpx2.Request,
    response: httpx2.Response | None,
    error_type: str,
) -> None:
    if not logger.isEnabledFor(logging.DEBUG):
        return
    server_request_id = _request_id(response.headers) if response is not None else None
    extra: dict[str, Any] = {
        "atriumn.method": method,
        "atriumn.url": url,
        "atriumn.status": status,
        "atriumn.duration_ms": round(elapsed * 1000, 2),
        "atriumn.attempt": attempt,
        "atriumn.request_id": server_request_id or request.headers.get("x-request-id"),
        "atriumn.request_headers": redact_headers(request.headers.multi_items()),
    }
    body = request.content if isinstance(request.stream, httpx2.ByteStream) else b""
    if body:
        extra["atriumn.request_body"] = redact_body(body, request.headers.get("content-type", ""))
    if response is not None:
        extra["atriumn.response_headers"] = redact_headers(response.headers.multi_items())
    logger.debug(
        "%s %s -> %s in %.1fms (attempt %d)%s",
        method,
        url,
        status if status is not None else error_type,
        elapsed * 1000,
        attempt,
        f" body={extra['atriumn.request_body']}" if "atriumn.request_body" in extra else "",
        extra=extra,
    )
