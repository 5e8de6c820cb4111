"""Errors of the AI package. Everything else raised is from :mod:`atriumn.core`'s hierarchy."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from atriumn.core import (
    APIError,
    AtriumnError,
    BadRequestError,
    DecodeError,
    PermissionDeniedError,
    RateLimitError,
    ServerError,
)

if TYPE_CHECKING:
    from ._types import Attempt

__all__ = [
    "BudgetExceededError",
    "StreamInterruptedError",
    "StructuredOutputError",
    "UnsupportedParameterError",
    "stream_error",
]


class UnsupportedParameterError(AtriumnError, ValueError):
    """The model does not accept a parameter; raised before any request.

    Attributes:
        parameter: the parameter's name; model: ``provider:model``.
    """

    def __init__(self, parameter: str, model: str, reason: str = "") -> None:
        self.parameter = parameter
        self.model = model
        super().__init__(f"{parameter}: not supported by {model}" + (f" ({reason})" if reason else ""))


class StructuredOutputError(DecodeError):
    """The model's output is not JSON matching the requested schema or class.

    Attributes:
        text: the model's output as it came.
    """

    def __init__(self, message: str, *, text: str, path: str = "$", request_id: str | None = None) -> None:
        self.text = text
        super().__init__(message, path=path, body=text, request_id=request_id)


class StreamInterruptedError(AtriumnError):
    """A stream failed after tokens were delivered, so it could not fall back to another model.

    Attributes:
        partial_text: the text received before the failure.
        model: the model that was streaming.
        attempts: every model tried, with usage and cost where known.
    The original error is ``__cause__``.
    """

    def __init__(self, message: str, *, partial_text: str, model: str, attempts: Sequence[Attempt] = ()) -> None:
        self.partial_text = partial_text
        self.model = model
        self.attempts = tuple(attempts)
        super().__init__(message)


class BudgetExceededError(AtriumnError):
    """A call's worst-case cost exceeds what is left of the budget; raised before sending.

    Attributes:
        estimate: the worst-case cost in USD; remaining: what was left.
    """

    def __init__(self, estimate: float, remaining: float, model: str) -> None:
        self.estimate = estimate
        self.remaining = remaining
        super().__init__(f"{model}: worst-case cost ${estimate:.6f} exceeds the remaining budget ${remaining:.6f}")


def stream_error(provider: str, error: Any, *, request_id: str | None = None) -> APIError:
    """The typed error for an error payload that arrived inside a 200 stream."""
    if isinstance(error, dict):
        code = str(error.get("type") or error.get("code") or error.get("status") or "stream_error")
        message = str(error.get("message") or "")
    else:
        code, message = "stream_error", str(error)
    lowered = code.lower()
    cls: type[APIError]
    status = 500
    if "rate" in lowered or "resource_exhausted" in lowered or "quota" in lowered:
        cls, status = RateLimitError, 429
    elif "overloaded" in lowered or "unavailable" in lowered:
        cls, status = ServerError, 529
    elif "invalid" in lowered or "bad_request" in lowered:
        cls, status = BadRequestError, 400
    elif "permission" in lowered or "forbidden" in lowered:
        cls, status = PermissionDeniedError, 403
    else:
        cls = ServerError
    return cls(
        f"{provider} stream error {code}: {message}" + (f" (request id {request_id})" if request_id else ""),
        status_code=status,
        code=code,
        description=message,
        request_id=request_id,
    )
