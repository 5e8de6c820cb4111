"""One pure function per Auth API endpoint, each returning an :class:`atriumn.core.Operation`.

This is the only place an endpoint's method, path, body, response type and span name are written. The
sync and async clients, and the credential providers' token flows, all send these.

Token-endpoint operations take an optional ``base_url``: the credential providers send them through
*whichever* transport needs a token (a storage transport, say), so they address the auth server by
absolute URL, and they never carry the transport's own credentials.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from atriumn.core import Operation

from ._models import (
    ClientCredential,
    CodeDelivery,
    CreatedClientCredential,
    CredentialList,
    HealthStatus,
    SignupResult,
    TokenResponse,
    UserProfile,
)

__all__ = [
    "client_credentials_token",
    "confirm_password_reset",
    "confirm_signup",
    "create_client_credential",
    "delete_client_credential",
    "get_client_credential",
    "health",
    "list_client_credentials",
    "login",
    "logout",
    "me",
    "refresh_token",
    "request_password_reset",
    "resend_confirmation_code",
    "signup",
    "update_client_credential",
]


def _path(path: str, base_url: str | None) -> str:
    return f"{base_url.rstrip('/')}{path}" if base_url else path


def health() -> Operation[HealthStatus]:
    """``GET /health``."""
    return Operation(
        method="GET",
        path="/health",
        response_type=HealthStatus,
        casing="snake",
        authenticated=False,
        span_name="auth.health",
    )


def client_credentials_token(
    *, client_id: str, client_secret: str, scope: str | None = None, base_url: str | None = None
) -> Operation[TokenResponse]:
    """``POST /auth/token`` with ``grant_type=client_credentials``.

    Asking for a token twice is harmless, so the call is retried like an idempotent one.
    """
    body: dict[str, Any] = {"grant_type": "client_credentials", "client_id": client_id, "client_secret": client_secret}
    if scope:
        body["scope"] = scope
    return Operation(
        method="POST",
        path=_path("/auth/token", base_url),
        json=body,
        response_type=TokenResponse,
        casing="snake",
        idempotent=True,
        authenticated=False,
        span_name="auth.token",
    )


def refresh_token(
    *, refresh_token: str, client_id: str | None = None, base_url: str | None = None
) -> Operation[TokenResponse]:
    """``POST /auth/token`` with ``grant_type=refresh_token``."""
    body: dict[str, Any] = {"grant_type": "refresh_token", "refresh_token": refresh_token}
    if client_id:
        body["client_id"] = client_id
    return Operation(
        method="POST",
        path=_path("/auth/token", base_url),
        json=body,
        response_type=TokenResponse,
        casing="snake",
        idempotent=True,
        authenticated=False,
        span_name="auth.refresh",
    )


def signup(*, email: str, password: str, attributes: Mapping[str, str] | None = None) -> Operation[SignupResult]:
    """``POST /auth/signup``."""
    body: dict[str, Any] = {"email": email, "password": password}
    if attributes:
        body["attributes"] = dict(attributes)
    return Operation(
        method="POST",
        path="/auth/signup",
        json=body,
        response_type=SignupResult,
        casing="snake",
        authenticated=False,
        span_name="auth.signup",
    )


def confirm_signup(*, username: str, confirmation_code: str) -> Operation[None]:
    """``POST /auth/signup/confirm``."""
    return Operation(
        method="POST",
        path="/auth/signup/confirm",
        json={"username": username, "confirmation_code": confirmation_code},
        casing="snake",
        authenticated=False,
        span_name="auth.confirm_signup",
    )


def resend_confirmation_code(*, username: str) -> Operation[CodeDelivery]:
    """``POST /auth/signup/resend``."""
    return Operation(
        method="POST",
        path="/auth/signup/resend",
        json={"username": username},
        response_type=CodeDelivery,
        casing="snake",
        authenticated=False,
        span_name="auth.resend_confirmation_code",
    )


def login(*, username: str, password: str, base_url: str | None = None) -> Operation[TokenResponse]:
    """``POST /auth/login``."""
    return Operation(
        method="POST",
        path=_path("/auth/login", base_url),
        json={"username": username, "password": password},
        response_type=TokenResponse,
        casing="snake",
        idempotent=True,
        authenticated=False,
        span_name="auth.login",
    )


def logout(*, access_token: str, base_url: str | None = None) -> Operation[None]:
    """``POST /auth/logout`` (revokes ``access_token`` and the session's refresh tokens)."""
    return Operation(
        method="POST",
        path=_path("/auth/logout", base_url),
        json={"access_token": access_token},
        casing="snake",
        idempotent=True,
        authenticated=False,
        span_name="auth.logout",
    )


def request_password_reset(*, email: str) -> Operation[CodeDelivery]:
    """``POST /auth/password/reset``."""
    return Operation(
        method="POST",
        path="/auth/password/reset",
        json={"email": email},
        response_type=CodeDelivery,
        casing="snake",
        authenticated=False,
        span_name="auth.request_password_reset",
    )


def confirm_password_reset(*, email: str, code: str, new_password: str) -> Operation[None]:
    """``POST /auth/password/confirm``."""
    return Operation(
        method="POST",
        path="/auth/password/confirm",
        json={"email": email, "code": code, "new_password": new_password},
        casing="snake",
        authenticated=False,
        span_name="auth.confirm_password_reset",
    )


def me(*, access_token: str | None = None) -> Operation[UserProfile]:
    """``GET /auth/me``: with ``access_token`` as the bearer, else the transport's credentials."""
    if access_token is None:
        return Operation(method="GET", path="/auth/me", response_type=UserProfile, casing="snake", span_name="auth.me")
    return Operation(
        method="GET",
        path="/auth/me",
        headers={"Authorization": f"Bearer {access_token}"},
        response_type=UserProfile,
        casing="snake",
        authenticated=False,
        span_name="auth.me",
    )


def create_client_credential(
    *, issued_to: str, scopes: Sequence[str], description: str | None = None, tenant_id: str | None = None
) -> Operation[CreatedClientCredential]:
    """``POST /admin/credentials`` (201; the answer carries the secret, once)."""
    body: dict[str, Any] = {"issued_to": issued_to, "scopes": list(scopes)}
    if description is not None:
        body["description"] = description
    if tenant_id is not None:
        body["tenant_id"] = tenant_id
    return Operation(
        method="POST",
        path="/admin/credentials",
        json=body,
        response_type=CreatedClientCredential,
        casing="snake",
        span_name="auth.create_client_credential",
    )


def list_client_credentials(
    *,
    issued_to: str | None = None,
    tenant_id: str | None = None,
    scope: str | None = None,
    active: bool | None = None,
    next_token: str | None = None,
) -> Operation[CredentialList]:
    """``GET /admin/credentials`` with the ``issuedTo``, ``tenantId``, ``scope`` and ``active`` filters."""
    return Operation(
        method="GET",
        path="/admin/credentials",
        query={"issuedTo": issued_to, "tenantId": tenant_id, "scope": scope, "active": active, "nextToken": next_token},
        response_type=CredentialList,
        casing="snake",
        span_name="auth.list_client_credentials",
    )


def get_client_credential(credential_id: str) -> Operation[ClientCredential]:
    """``GET /admin/credentials/{id}``."""
    return Operation(
        method="GET",
        path="/admin/credentials/{id}",
        path_params={"id": credential_id},
        response_type=ClientCredential,
        casing="snake",
        span_name="auth.get_client_credential",
    )


def update_client_credential(
    credential_id: str,
    *,
    active: bool | None = None,
    scopes: Sequence[str] | None = None,
    description: str | None = None,
) -> Operation[ClientCredential]:
    """``PATCH /admin/credentials/{id}`` (only the fields given are changed)."""
    body: dict[str, Any] = {}
    if active is not None:
        body["active"] = active
    if scopes is not None:
        body["scopes"] = list(scopes)
    if description is not None:
        body["description"] = description
    return Operation(
        method="PATCH",
        path="/admin/credentials/{id}",
        path_params={"id": credential_id},
        json=body,
        response_type=ClientCredential,
        casing="snake",
        idempotent=True,
        span_name="auth.update_client_credential",
    )


def delete_client_credential(credential_id: str) -> Operation[None]:
    """``DELETE /admin/credentials/{id}`` (204)."""
    return Operation(
        method="DELETE",
        path="/admin/credentials/{id}",
        path_params={"id": credential_id},
        casing="snake",
        span_name="auth.delete_client_credential",
    )
