"""The one error hierarchy of the SDK.

Every call through a transport raises only these (``AtriumnError`` and subclasses). Messages never contain
credentials: they are built from status, code, description and request id, and response bodies are
truncated and redacted before they are kept.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = [
    "APIError",
    "AtriumnError",
    "AuthenticationError",
    "BadRequestError",
    "CircuitOpenError",
    "ConfigurationError",
    "ConflictError",
    "ConnectError",
    "DecodeError",
    "NetworkError",
    "NoCredentialsError",
    "NotFoundError",
    "PermissionDeniedError",
    "RateLimitError",
    "RequestTimeoutError",
    "ServerError",
    "TransportError",
    "UnprocessableEntityError",
    "ValidationError",
]

#: How much of an error body is kept on an :class:`APIError`.
BODY_LIMIT = 2048


class AtriumnError(Exception):
    """Base class of every error the SDK raises."""


class ValidationError(AtriumnError, ValueError):
    """An argument was rejected before anything was sent (an empty text, an unknown model, a missing file).

    It is both an :class:`AtriumnError` (so ``except AtriumnError`` catches every error of the SDK) and a
    ``ValueError`` (what Python code expects from a bad argument). The message names the argument.
    """


class ConfigurationError(ValidationError):
    """A configuration value (argument or environment variable) is missing or malformed.

    The message names the argument or variable.
    """


class NoCredentialsError(ConfigurationError):
    """No credential was found for a call that needs one; raised before anything is sent.

    Attributes:
        tried: every source tried, in order, each with why it did not apply.
        fix: what to do, for Python code (the ``atriumn`` command says it in its own terms).
    """

    def __init__(self, tried: Sequence[str], fix: str) -> None:
        self.tried = tuple(tried)
        self.fix = fix
        lines = "\n".join(f"  - {t}" for t in self.tried)
        super().__init__(f"no Atriumn credentials found. Tried, in order:\n{lines}\n{fix}")

    def __reduce__(self) -> Any:
        return (type(self), (self.tried, self.fix))


class APIError(AtriumnError):
    """The server answered with an error status.

    Attributes:
        status_code: the HTTP status.
        code: the API's error code (``bad_request``, ``unauthorized``, ``forbidden``, ``not_found``,
            ``rate_limited``, ``server_error``, or a provider's own: OpenAI's and Groq's ``error.code`` such as
            ``invalid_api_key``, Anthropic's ``error.type``, Google's ``error.status``).
        type: the provider's error type when it gives one besides the code (OpenAI ``invalid_request_error``,
            Anthropic ``authentication_error``); None otherwise.
        description: the human-readable description the server gave.
        request_id: the server's request id (``x-request-id`` or the provider's equivalent), for support.
        body: the start of the response body (at most 2 KiB), redacted.
        method, url: the request that failed (URL without query secrets).
        headers: the response headers, redacted.

    Every text here has been scrubbed of the secrets the request carried, should the server echo them.
    """

    def __init__(
        self,
        message: str | None = None,
        *,
        status_code: int,
        code: str,
        type: str | None = None,
        description: str = "",
        request_id: str | None = None,
        body: str = "",
        method: str = "",
        url: str = "",
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self.status_code = status_code
        self.code = code
        self.type = type
        self.description = description
        self.request_id = request_id
        self.body = body[:BODY_LIMIT]
        self.method = method
        self.url = url
        self.headers: Mapping[str, str] = dict(headers or {})
        if message is None:
            message = f"{status_code} {code}"
            if description:
                message += f": {description}"
            if request_id:
                message += f" (request id {request_id})"
        super().__init__(message)

    def __reduce__(self) -> Any:  # keep errors picklable across processes
        return (_rebuild, (type(self), self.args, self.__dict__))


def _rebuild(cls: type[AtriumnError], args: tuple[Any, ...], state: dict[str, Any]) -> AtriumnError:
    err = cls.__new__(cls)
    Exception.__init__(err, *args)
    err.__dict__.update(state)
    return err


class BadRequestError(APIError):
    """400: the request was malformed or failed validation."""


class AuthenticationError(APIError):
    """401: credentials are missing, expired or invalid."""


class PermissionDeniedError(APIError):
    """403: the credentials lack a scope or permission."""


class NotFoundError(APIError):
    """404: the resource does not exist (or belongs to another tenant)."""


class ConflictError(APIError):
    """409: the request conflicts with the resource's state (or an idempotency key was reused)."""


class UnprocessableEntityError(APIError):
    """422: the request was well-formed but could not be processed."""


class RateLimitError(APIError):
    """429: too many requests.

    Attributes:
        retry_after: seconds the server asked us to wait, when it said (``Retry-After``, ``retry-after-ms``
            or a provider's retry hint); ``None`` otherwise.
    """

    def __init__(self, message: str | None = None, *, retry_after: float | None = None, **kwargs: Any) -> None:
        self.retry_after = retry_after
        super().__init__(message, **kwargs)


class ServerError(APIError):
    """5xx (and 529 overloaded): the server failed; safe to retry only if the request is idempotent.

    Attributes:
        retry_after: seconds the server asked us to wait, when it said.
    """

    def __init__(self, message: str | None = None, *, retry_after: float | None = None, **kwargs: Any) -> None:
        self.retry_after = retry_after
        super().__init__(message, **kwargs)


class TransportError(AtriumnError):
    """The request did not complete at the network level.

    Attributes:
        method, url: the request (URL redacted).
        sent: whether the request may have reached the server (False for connect and pool errors).
    """

    def __init__(self, message: str, *, method: str = "", url: str = "", sent: bool = True) -> None:
        self.method = method
        self.url = url
        self.sent = sent
        super().__init__(message)

    def __reduce__(self) -> Any:
        return (_rebuild, (type(self), self.args, self.__dict__))


class ConnectError(TransportError):
    """Could not connect (refused, DNS failure, TLS handshake failure). The request was not sent."""


class RequestTimeoutError(TransportError):
    """A timeout elapsed: connect, read, write, pool wait, or the call's overall deadline.

    Attributes:
        phase: what timed out: ``connect``, ``read``, ``write``, ``pool``, ``deadline`` (the call's overall
            deadline), or ``rate_limit`` (the client-side rate limit's wait would pass the deadline).
        timeout: how long was waited, in seconds (None when unknown).
    """

    def __init__(
        self,
        message: str,
        *,
        method: str = "",
        url: str = "",
        sent: bool = True,
        phase: str = "",
        timeout: float | None = None,
    ) -> None:
        self.phase = phase
        self.timeout = timeout
        super().__init__(message, method=method, url=url, sent=sent)


class NetworkError(TransportError):
    """The connection failed after it was established (reset, closed mid-response, protocol error)."""


class DecodeError(AtriumnError):
    """The response could not be decoded: invalid JSON or a shape that does not match the model.

    Attributes:
        path: where in the document the problem is (``$.items[3].createdAt``), when known.
        body: the start of the body (at most 2 KiB), redacted.
        request_id: the server's request id, when known.
    """

    def __init__(self, message: str, *, path: str = "$", body: str = "", request_id: str | None = None) -> None:
        self.path = path
        self.body = body[:BODY_LIMIT]
        self.request_id = request_id
        super().__init__(message)

    def __reduce__(self) -> Any:
        return (_rebuild, (type(self), self.args, self.__dict__))


class CircuitOpenError(AtriumnError):
    """The circuit breaker for this host is open: the call failed fast without a request.

    Attributes:
        host: the host whose circuit is open.
        retry_in: seconds until the breaker lets a probe through.
    """

    def __init__(self, host: str, retry_in: float) -> None:
        self.host = host
        self.retry_in = retry_in
        super().__init__(f"circuit open for {host}: failing fast; a probe is allowed in {retry_in:.1f}s")

    def __reduce__(self) -> Any:
        return (type(self), (self.host, self.retry_in))


_BY_STATUS: dict[int, type[APIError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    409: ConflictError,
    422: UnprocessableEntityError,
    429: RateLimitError,
}

_DEFAULT_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    409: "conflict",
    422: "unprocessable_entity",
    429: "rate_limited",
}


def error_class_for(status_code: int) -> type[APIError]:
    """The :class:`APIError` subclass for an HTTP status."""
    if status_code >= 500:
        return ServerError
    return _BY_STATUS.get(status_code, APIError)


class ErrorBody:
    """What an error body says: ``code``, ``type`` and ``description`` (see :func:`parse_error_body`)."""

    __slots__ = ("code", "description", "type")

    def __init__(self, code: str | None, description: str, type: str | None = None) -> None:
        self.code = code
        self.description = description
        self.type = type


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def parse_error_body(body: bytes, content_type: str) -> ErrorBody:
    """Extract the code, type and description from an error body in any shape we know.

    Shapes: Atriumn ``{"error": "code", "error_description": "..."}``; ``{"detail": ...}`` (the published
    Python SDK's server); OpenAI/Groq ``{"error": {"message", "type", "code"}}`` (the code is ``code``, as
    the official SDK reads it, else ``type``); Anthropic ``{"type": "error", "error": {"type", "message"}}``;
    Google ``{"error": {"code": <http status>, "message", "status"}}`` (the code is ``status``). Anything else
    (an HTML page, plain text) gives no code and the start of the text.
    """
    text = body.decode("utf-8", "replace")
    if "json" not in content_type and not text.lstrip().startswith("{"):
        return ErrorBody(None, _squash(text))
    try:
        doc = json.loads(text)
    except ValueError:
        return ErrorBody(None, _squash(text))
    if not isinstance(doc, dict):
        return ErrorBody(None, _squash(text))
    err = doc.get("error")
    if isinstance(err, str):
        desc = doc.get("error_description") or doc.get("message") or ""
        return ErrorBody(err, str(desc))
    if isinstance(err, dict):
        kind = _text(err.get("type"))
        code = _text(err.get("status")) or _text(err.get("code")) or kind
        msg = err.get("message") or ""
        return ErrorBody(code, str(msg), kind)
    if "detail" in doc:
        detail = doc["detail"]
        return ErrorBody(None, detail if isinstance(detail, str) else json.dumps(detail)[:500])
    if "message" in doc:
        return ErrorBody(str(doc["code"]) if "code" in doc else None, str(doc["message"]))
    return ErrorBody(None, _squash(text))


_TITLE = re.compile(r"<title[^>]*>(.*?)</title>", re.IGNORECASE | re.DOTALL)
_TAG = re.compile(r"<[^>]+>")


def _squash(text: str, limit: int = 200) -> str:
    """One readable line: an HTML error page becomes its title (or its text), whitespace is collapsed."""
    if "<html" in text[:500].lower() or "<!doctype" in text[:100].lower():
        title = _TITLE.search(text)
        text = f"{title.group(1)} (an HTML error page)" if title else _TAG.sub(" ", text)
    one_line = " ".join(text.split())
    return one_line[:limit] + ("…" if len(one_line) > limit else "")


def default_code(status_code: int) -> str:
    """The API's error code for a status when the body did not give one."""
    if status_code >= 500:
        return "server_error"
    return _DEFAULT_CODES.get(status_code, f"http_{status_code}")
