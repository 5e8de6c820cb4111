"""What one attempt's outcome means, sans-IO: transport failures as our errors (with the phase and how long
was waited), error responses as :class:`APIError`, successful bodies decoded, and the attempt's span and
DEBUG log record.
"""

from __future__ import annotations

import json as jsonlib
import logging
from collections.abc import Mapping
from typing import Any

from ._errors import (
    APIError,
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
from ._http import Request, Response
from ._operation import RAW, RESPONSE, Operation
from ._redact import Scrubber, body_shape, redact_body, redact_headers, redact_text
from ._serde import structure

__all__ = ["api_error", "classify", "decode", "finish_attempt", "log_attempt", "request_id_of"]

logger = logging.getLogger("atriumn.core.transport")

#: Each timeout kind (see ``_http.KINDS``): its phase, and what it means.
_TIMEOUTS = {
    "connect_timeout": ("connect", "could not connect to {url} within {t}"),
    "pool_timeout": ("pool", "no free connection to {url} within {t} (every pooled connection was busy)"),
    "write_timeout": ("write", "could not send the request to {url} within {t}"),
    "read_timeout": ("read", "no response data from {url} for {t}"),
}


def _seconds(value: float) -> str:
    return f"{value:.3g}s"


def classify(
    exc: BaseException,
    method: str,
    url: str,
    timeouts: Mapping[str, float] | None = None,
    deadline: float | None = None,
    *,
    kind: str | None = None,
) -> TransportError:
    """A backend's exception as our error, with the phase (was the request possibly sent?).

    ``kind`` is what the backend says the exception was (``connect_timeout``, ``pool_timeout``,
    ``write_timeout``, ``read_timeout``, ``connect``, ``network``); without it, an httpx2 or socket exception is
    recognised. ``timeouts`` are the attempt's per-phase timeouts; ``deadline`` is the call's overall deadline in
    seconds when it, rather than the configured timeout, set the limit that ran out.
    """
    if kind is None:
        from ._backend_httpx import kind_of

        kind = kind_of(exc) or "network"
    timeout = _TIMEOUTS.get(kind)
    if timeout is not None:
        phase, template = timeout
        waited = (timeouts or {}).get(phase)
        shown = _seconds(waited) if waited is not None else "the configured time"
        sent = phase not in ("connect", "pool")
        message = f"{method} {phase} timeout: {template.format(url=url, t=shown)}"
        if deadline is not None:
            message += f"; the call's deadline of {_seconds(deadline)} allowed no longer"
            phase = "deadline"
        return RequestTimeoutError(message, method=method, url=url, sent=sent, phase=phase, timeout=waited)
    name = type(exc).__name__
    if kind == "connect":
        return ConnectError(f"could not connect to {url}: {exc or name}", method=method, url=url, sent=False)
    return NetworkError(f"{name} talking to {url}: {exc or 'connection failed'}", method=method, url=url, sent=True)


def phase_of(kind: str) -> str | None:
    """The timeout phase of a failure kind (``read_timeout`` → ``read``), None for other kinds."""
    timeout = _TIMEOUTS.get(kind)
    return timeout[0] if timeout is not None else None


def request_id_of(headers: Mapping[str, str]) -> str | None:
    """The server's request id (``x-request-id`` or a provider's equivalent)."""
    return headers.get("x-request-id") or headers.get("request-id") or headers.get("x-goog-request-id")


def api_error(response: Response, *, method: str, url: str, retry_after: float | None) -> APIError:
    """The :class:`APIError` for an error response (any known error body shape)."""
    content_type = response.headers.get("content-type", "")
    parsed = parse_error_body(response.content, content_type)
    status = response.status_code
    cls = error_class_for(status)
    kwargs: dict[str, Any] = {
        "status_code": status,
        "code": parsed.code or default_code(status),
        "type": parsed.type,
        "description": redact_text(parsed.description),  # it becomes the message: a server may echo a secret
        "request_id": request_id_of(response.headers),
        "body": redact_body(response.content, content_type, response=True),
        "method": method,
        "url": url,
        "headers": redact_headers(response.headers.multi_items()),
    }
    if cls in (RateLimitError, ServerError):
        kwargs["retry_after"] = retry_after
    return cls(**kwargs)


def decode(op: Operation[Any], response: Response) -> Any:
    """Decode a successful response as the operation asks."""
    rtype = op.response_type
    if rtype is None:
        return None
    if rtype is RESPONSE:
        return response
    if rtype is bytes:
        return response.content
    content = response.content
    try:
        data = jsonlib.loads(content.decode())  # JSON is UTF-8 (RFC 8259): skip json's encoding detection
    except ValueError:  # not UTF-8 (a BOM, UTF-16), or not JSON
        data = _loads(response, content)
    if rtype is RAW:
        return data
    return structure(data, rtype, op.casing, request_id=request_id_of(response.headers))


def _loads(response: Response, content: bytes) -> Any:
    """The slow path of :func:`decode`: other encodings, and the errors of a body that is not JSON."""
    request_id = request_id_of(response.headers)
    if not content.strip():
        raise DecodeError("expected a JSON body, got an empty one", request_id=request_id)
    try:
        return jsonlib.loads(content)
    except ValueError as exc:
        ctype = response.headers.get("content-type", "")
        raise DecodeError(
            f"response is not valid JSON ({ctype or 'no content type'}): {exc}",
            body=redact_body(content, ctype, response=True),
            request_id=request_id,
        ) from None


def finish_attempt(
    ins: Any, span: Any, status: int | None, error_type: str, elapsed: float, method: str, host: str, port: int
) -> None:
    """End an attempt's span (None when nothing is traced) and record its duration (when metrics are)."""
    if span is not None:
        if status is not None:
            span.set_attribute("http.response.status_code", status)
        if error_type:
            span.set_attribute("error.type", error_type)
            span.set_status(ins.StatusCode.ERROR)
        span.end()
    if ins.metering():
        attributes: dict[str, Any] = {"http.request.method": method, "server.address": host, "server.port": port}
        if status is not None:
            attributes["http.response.status_code"] = status
        if error_type:
            attributes["error.type"] = error_type
        ins.duration.record(elapsed, attributes)


def log_attempt(
    op: Operation[Any],
    url: str,
    status: int | None,
    elapsed: float,
    attempt: int,
    request: Request,
    response: Response | None,
    error_type: str,
    scrubber: Scrubber,
) -> None:
    """One DEBUG record per attempt: redacted, scrubbed of the request's secrets, and without the body's
    text when the operation keeps its content private."""
    if not logger.isEnabledFor(logging.DEBUG):
        return
    method = request.method
    server_request_id = request_id_of(response.headers) if response is not None else None
    sent = {k.lower(): v for k, v in request.headers.items()}
    extra: dict[str, Any] = {
        "atriumn.method": method,
        "atriumn.url": url,
        "atriumn.status": status,
        "atriumn.duration_ms": round(elapsed * 1000, 2),
        "atriumn.attempt": attempt,
        "atriumn.request_id": server_request_id or sent.get("x-request-id"),
        "atriumn.request_headers": redact_headers(list(sent.items())),
    }
    body = request.content if isinstance(request.content, bytes) else b""
    if body:
        ctype = sent.get("content-type", "")
        shown = redact_body(body, ctype) if op.log_content else body_shape(body, ctype)
        extra["atriumn.request_body"] = scrubber.scrub(shown)
    if response is not None:
        extra["atriumn.response_headers"] = scrubber.scrub_headers(redact_headers(response.headers.multi_items()))
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
