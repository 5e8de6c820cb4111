"""Auth API models: attrs classes with snake_case attributes (the auth wire is snake_case too).

Secrets (tokens, client secrets) are ``repr=False``: they never appear in a repr, a log line or a span.
"""

from __future__ import annotations

import datetime as dt
import time

import attrs

from atriumn.core import AccessToken

__all__ = [
    "ClientCredential",
    "CodeDeliveryDetails",
    "CreatedClientCredential",
    "HealthStatus",
    "SignupResult",
    "TokenResponse",
    "UserProfile",
]


@attrs.frozen(kw_only=True)
class HealthStatus:
    """The service's health.

    Attributes:
        status: ``"ok"`` when healthy (an open-ended string).
        version: the server's version, when it says.
    """

    status: str
    version: str | None = None


@attrs.frozen(kw_only=True)
class TokenResponse:
    """Tokens issued by ``/auth/token`` (client credentials, refresh) or ``/auth/login``.

    Attributes:
        access_token: the bearer token (hidden from repr).
        token_type: normally ``"Bearer"``.
        expires_in: lifetime of ``access_token`` in seconds, when the server said.
        id_token: the OpenID identity token of a user login (hidden from repr).
        refresh_token: a refresh token, for user logins (hidden from repr).
        scope: the granted scopes, space-separated.
    """

    access_token: str = attrs.field(repr=False)
    token_type: str = "Bearer"
    expires_in: int | None = None
    id_token: str | None = attrs.field(default=None, repr=False)
    refresh_token: str | None = attrs.field(default=None, repr=False)
    scope: str | None = None

    def to_access_token(self, *, now: float | None = None, refresh_token: str | None = None) -> AccessToken:
        """This response as a core :class:`~atriumn.core.AccessToken` (expiry as a wall-clock timestamp).

        Args:
            now: the time the response was received (default: now).
            refresh_token: the refresh token to keep when the response carries none (refresh grants may
                not rotate it).
        """
        issued = time.time() if now is None else now
        expires_at = issued + self.expires_in if self.expires_in is not None else None
        return AccessToken(
            value=self.access_token,
            expires_at=expires_at,
            refresh_token=self.refresh_token or refresh_token,
            scope=self.scope,
        )


@attrs.frozen(kw_only=True)
class SignupResult:
    """The result of a signup.

    Attributes:
        user_id: the new user's id.
        user_confirmed: whether the user is already confirmed (normally False: a code was sent).
    """

    user_id: str
    user_confirmed: bool | None = None


@attrs.frozen(kw_only=True)
class CodeDeliveryDetails:
    """Where a confirmation or reset code was sent.

    Attributes:
        destination: the (masked) address, e.g. ``a***@e***.com``.
        delivery_medium: ``EMAIL`` or ``SMS``.
        attribute_name: the user attribute the destination came from (``email``).
    """

    destination: str = ""
    delivery_medium: str = ""
    attribute_name: str = ""


@attrs.frozen(kw_only=True)
class CodeDelivery:
    """Envelope of ``/auth/signup/resend`` and ``/auth/password/reset`` (unwrapped by the clients)."""

    code_delivery_details: CodeDeliveryDetails | None = None


@attrs.frozen(kw_only=True)
class UserProfile:
    """The signed-in user (``GET /auth/me``).

    Attributes:
        username: the user's name (often the email address).
        attributes: the user's attributes (``email``, ``name``, ...).
    """

    username: str
    attributes: dict[str, str] = attrs.field(factory=dict)


@attrs.frozen(kw_only=True)
class ClientCredential:
    """A machine-to-machine client credential (without its secret).

    Attributes:
        id: the credential's id (for get / update / delete).
        client_id: the OAuth client id used with ``grant_type=client_credentials``.
        issued_to: who the credential was issued to.
        scopes: the scopes it may request.
        description: free text.
        active: whether it may still obtain tokens.
        tenant_id: the tenant it belongs to, if any.
        created_at, updated_at: timestamps.
    """

    id: str
    client_id: str
    issued_to: str = ""
    scopes: list[str] = attrs.field(factory=list)
    description: str = ""
    active: bool = True
    tenant_id: str | None = None
    created_at: dt.datetime | None = None
    updated_at: dt.datetime | None = None


@attrs.frozen(kw_only=True)
class CreatedClientCredential(ClientCredential):
    """A newly created client credential: the only time its ``client_secret`` is ever returned.

    Attributes:
        client_secret: the secret (hidden from repr); store it now, it cannot be read again.
    """

    client_secret: str = attrs.field(repr=False)


@attrs.frozen(kw_only=True)
class CredentialList:
    """One page of ``GET /admin/credentials`` (unwrapped into a pager by the clients)."""

    credentials: list[ClientCredential] = attrs.field(factory=list)
    next_token: str | None = None
