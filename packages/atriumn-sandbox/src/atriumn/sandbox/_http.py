"""Request helpers shared by the endpoint modules: JSON bodies, field validation, the caller's identity."""

from __future__ import annotations

import base64
import dataclasses
import json
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from starlette.requests import Request

from ._errors import ApiError

if TYPE_CHECKING:
    from ._state import State

__all__ = [
    "Principal",
    "authenticate",
    "decode_token",
    "encode_token",
    "opt_bool",
    "opt_int",
    "opt_str",
    "opt_str_dict",
    "opt_str_list",
    "read_json",
    "req_str",
    "state_of",
]


def state_of(request: Request) -> State:
    """The sandbox state behind the app."""
    state: State = request.app.state.sandbox
    return state


async def read_json(request: Request) -> dict[str, Any]:
    """The request body as a JSON object, or a 400 that says what is wrong with it."""
    raw = await request.body()
    if not raw.strip():
        raise ApiError(400, "the request body is empty; a JSON object is required")
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ApiError(400, f"the request body is not valid JSON: {exc}") from None
    if not isinstance(body, dict):
        raise ApiError(400, f"the request body must be a JSON object, not {type(body).__name__}")
    return body


def req_str(body: Mapping[str, Any], name: str, *, allow_empty: bool = False) -> str:
    """A required string field."""
    if name not in body or body[name] is None:
        raise ApiError(400, f"missing required field '{name}'")
    value = body[name]
    if not isinstance(value, str):
        raise ApiError(400, f"field '{name}' must be a string")
    if not allow_empty and not value.strip():
        raise ApiError(400, f"field '{name}' must not be empty")
    return value


def opt_str(body: Mapping[str, Any], name: str) -> str | None:
    """An optional string field."""
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise ApiError(400, f"field '{name}' must be a string")
    return value


def opt_bool(body: Mapping[str, Any], name: str) -> bool | None:
    """An optional boolean field."""
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, bool):
        raise ApiError(400, f"field '{name}' must be a boolean")
    return value


def opt_int(body: Mapping[str, Any], name: str) -> int | None:
    """An optional integer field."""
    value = body.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise ApiError(400, f"field '{name}' must be an integer")
    return value


def opt_str_list(body: Mapping[str, Any], name: str) -> list[str] | None:
    """An optional list-of-strings field."""
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ApiError(400, f"field '{name}' must be a list of strings")
    return list(value)


def opt_str_dict(body: Mapping[str, Any], name: str) -> dict[str, str] | None:
    """An optional object-of-strings field."""
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        raise ApiError(400, f"field '{name}' must be an object whose values are strings")
    return dict(value)


def query_int(request: Request, name: str, *, default: int, low: int, high: int) -> int:
    """A bounded integer query parameter."""
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ApiError(400, f"query parameter '{name}' must be an integer") from None
    if not low <= value <= high:
        raise ApiError(400, f"query parameter '{name}' must be between {low} and {high}")
    return value


def encode_token(seq: int) -> str:
    """An opaque pagination token for "after sequence number ``seq``"."""
    return base64.urlsafe_b64encode(f"seq:{seq}".encode()).decode().rstrip("=")


def decode_token(token: str | None) -> int:
    """The sequence number inside a pagination token (0 for none); 400 for a token we did not make."""
    if not token:
        return 0
    try:
        text = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
        prefix, seq = text.split(":")
        if prefix != "seq":
            raise ValueError(text)
        return int(seq)
    except (ValueError, UnicodeDecodeError):
        raise ApiError(400, "invalid nextToken") from None


@dataclasses.dataclass(frozen=True)
class Principal:
    """Who is calling: a user or a client credential, in a tenant, with scopes."""

    kind: str  # "user" | "client"
    subject: str  # user id or client id
    tenant_id: str
    scopes: frozenset[str]
    claims: dict[str, Any]

    def require(self, scope: str) -> None:
        """403 unless the principal has ``scope``."""
        if scope not in self.scopes:
            raise ApiError(403, f"this operation needs the '{scope}' scope")

    def tenant(self, requested: str | None) -> str:
        """The tenant to act in: the caller's own; naming another tenant is forbidden."""
        if requested is not None and requested != self.tenant_id:
            raise ApiError(403, "the credential does not belong to the requested tenant")
        return self.tenant_id


def bearer(request: Request) -> str | None:
    """The bearer token of the request, if any."""
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def authenticate(request: Request) -> Principal:
    """The caller, from a valid, unrevoked bearer access token; else 401."""
    token = bearer(request)
    if token is None:
        raise ApiError(401, "missing bearer token", headers={"WWW-Authenticate": "Bearer"})
    principal = state_of(request).principal_of(token)
    if principal is None:
        raise ApiError(401, "the access token is invalid, expired or revoked", headers={"WWW-Authenticate": "Bearer"})
    return principal


def expires_at(ttl: float) -> float:
    """An absolute expiry ``ttl`` seconds from now."""
    return time.time() + ttl
