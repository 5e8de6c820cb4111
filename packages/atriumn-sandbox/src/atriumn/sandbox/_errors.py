"""Errors as the Atriumn API writes them: ``{"error": code, "error_description": text}``."""

from __future__ import annotations

from collections.abc import Mapping

from starlette.responses import JSONResponse

__all__ = ["ApiError", "error_body", "error_response"]

CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "bad_request",
    409: "conflict",
    413: "bad_request",
    415: "bad_request",
    422: "conflict",
    429: "rate_limited",
}


def code_for(status: int) -> str:
    """The error code the API uses for an HTTP status."""
    return CODES.get(status, "server_error" if status >= 500 else "bad_request")


class ApiError(Exception):
    """Raised by handlers; turned into the error response by the app's exception handler."""

    def __init__(
        self, status: int, description: str, *, code: str | None = None, headers: Mapping[str, str] | None = None
    ) -> None:
        super().__init__(description)
        self.status = status
        self.code = code or code_for(status)
        self.description = description
        self.headers = dict(headers or {})


def error_body(code: str, description: str) -> dict[str, str]:
    """The JSON error document."""
    return {"error": code, "error_description": description}


def error_response(
    status: int, description: str, *, code: str | None = None, headers: Mapping[str, str] | None = None
) -> JSONResponse:
    """A JSON error response."""
    return JSONResponse(error_body(code or code_for(status), description), status_code=status, headers=headers)
