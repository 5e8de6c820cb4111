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
    ValidationError,
)

if TYPE_CHECKING:
    from ._types import Attempt

__all__ = [
    "BatchRequestCancelledError",
    "BatchRequestExpiredError",
    "BatchRequestNotRunError",
    "BatchWaitTimeoutError",
    "BudgetExceededError",
    "StreamDecodeError",
    "StreamInterruptedError",
    "StructuredOutputError",
    "UnsupportedParameterError",
    "stream_error",
]


class UnsupportedParameterError(ValidationError):
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
        path: where the output fails the schema (``$.items[2].score``).
        response: the answer that failed (usage and cost included: the provider charged for it), when known.
    """

    def __init__(
        self, message: str, *, text: str, path: str = "$", request_id: str | None = None, response: Any = None
    ) -> None:
        self.text = text
        self.response = response
        super().__init__(message, path=path, body=text, request_id=request_id)


class StreamDecodeError(DecodeError):
    """A stream event could not be decoded (invalid JSON, or a value of the wrong kind); the stream stops.

    Attributes:
        partial_text: the text received before the event that could not be decoded.
        model: ``provider:model``.
        path, body: where in the event the problem is, and a redacted excerpt.
    """

    def __init__(self, message: str, *, partial_text: str, model: str, path: str = "$", body: str = "") -> None:
        self.partial_text = partial_text
        self.model = model
        super().__init__(message, path=path, body=body)


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


class BatchRequestNotRunError(AtriumnError):
    """A request of a batch that the provider did not run (its result is this error): the subclasses say why.

    Attributes:
        batch_request_id: the id of the batch request (``custom_id`` / key).
    """

    def __init__(self, message: str, *, request_id: str) -> None:
        self.batch_request_id = request_id
        super().__init__(message)


class BatchRequestExpiredError(BatchRequestNotRunError):
    """A request of a batch was not run before the batch's window closed."""


class BatchRequestCancelledError(BatchRequestNotRunError):
    """A request of a batch was not run because the batch was cancelled."""


class BatchWaitTimeoutError(AtriumnError):
    """``batches.wait(..., timeout=...)`` ran out of time before the job ended (the job goes on).

    Attributes:
        job: the job as last seen (:class:`BatchJob`): wait again, or cancel it.
    """

    def __init__(self, message: str, *, job: Any) -> None:
        self.job = job
        super().__init__(message)


def stream_error(provider: str, error: Any, *, request_id: str | None = None) -> APIError:
    """The typed error for an error payload that arrived inside a 200 stream.

    The code is read as for an error response: Google's ``status``, else OpenAI's and Groq's ``code``, else
    the ``type`` (Anthropic's), which is also kept as :attr:`APIError.type`.
    """
    kind: str | None = None
    if isinstance(error, dict):
        kind = error.get("type") if isinstance(error.get("type"), str) and error.get("type") else None
        status = error.get("status") if isinstance(error.get("status"), str) else None
        code_value = error.get("code") if isinstance(error.get("code"), str) else None
        code = status or code_value or kind or "stream_error"
        message = str(error.get("message") or "")
    else:
        code, message = "stream_error", str(error)
    lowered = f"{code} {kind or ''}".lower()
    cls: type[APIError]
    http_status = 500
    if "rate" in lowered or "resource_exhausted" in lowered or "quota" in lowered:
        cls, http_status = RateLimitError, 429
    elif "overloaded" in lowered or "unavailable" in lowered:
        cls, http_status = ServerError, 529
    elif "invalid" in lowered or "bad_request" in lowered:
        cls, http_status = BadRequestError, 400
    elif "permission" in lowered or "forbidden" in lowered:
        cls, http_status = PermissionDeniedError, 403
    else:
        cls = ServerError
    return cls(
        f"{provider} stream error {code}: {message}" + (f" (request id {request_id})" if request_id else ""),
        status_code=http_status,
        code=code,
        type=kind,
        description=message,
        request_id=request_id,
    )
