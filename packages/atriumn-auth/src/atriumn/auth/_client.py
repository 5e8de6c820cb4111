"""``AuthClient`` and ``AsyncAuthClient``: one typed method per Auth API endpoint.

Each method validates its arguments (``ValueError`` naming the argument, before any request), builds the
endpoint's operation in :mod:`._operations` and sends it through the transport. Nothing else.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from atriumn.core import AsyncPager, AsyncServiceClient, Page, Pager, RequestOptions, ServiceClient, ValidationError

if TYPE_CHECKING:
    from typing_extensions import Unpack

from . import _operations as ops
from . import _validate as v
from ._models import (
    ClientCredential,
    CodeDeliveryDetails,
    CreatedClientCredential,
    CredentialList,
    HealthStatus,
    SignupResult,
    TokenResponse,
    UserProfile,
)

__all__ = ["AsyncAuthClient", "AuthClient"]


def _page(result: CredentialList) -> Page[ClientCredential]:
    return Page(items=list(result.credentials), next_token=result.next_token)


def _details(result: Any) -> CodeDeliveryDetails:
    return result.code_delivery_details or CodeDeliveryDetails()


class AuthClient(ServiceClient):
    """The Auth API, synchronously.

    Args:
        base_url: the API's base URL (else ``ATRIUMN_API_BASE_URL``, else the Atriumn API).
        credentials: a :class:`~atriumn.core.TokenProvider` for the endpoints that need one (``me`` without
            a token, the admin endpoints), e.g. :class:`~atriumn.auth.ClientCredentials`.
        transport: a shared :class:`~atriumn.core.Transport` (not closed by this client).
        deadline: overall deadline per call, in seconds.
        max_retries: retries per call.

    Every method also takes the per-call :class:`~atriumn.core.RequestOptions` by keyword (``extra_headers``,
    ``extra_query``, ``extra_body``, ``timeout``); ``with_options(...)`` gives a client with changed defaults
    sharing this one's connections, and ``with_raw_response.<method>(...)`` the HTTP response behind a call.
    """

    def health(self, **options: Unpack[RequestOptions]) -> HealthStatus:
        """``GET /health``."""
        return self._send(options, ops.health())

    def get_token(
        self, *, client_id: str, client_secret: str, scope: str | None = None, **options: Unpack[RequestOptions]
    ) -> TokenResponse:
        """A token for a client credential (``grant_type=client_credentials``).

        To *use* client credentials with other clients, prefer :class:`~atriumn.auth.ClientCredentials`,
        which caches and refreshes the token.
        """
        v.text("client_id", client_id)
        v.secret("client_secret", client_secret)
        v.optional_text("scope", scope)
        return self._send(
            options, ops.client_credentials_token(client_id=client_id, client_secret=client_secret, scope=scope)
        )

    def refresh(self, *, refresh_token: str, **options: Unpack[RequestOptions]) -> TokenResponse:
        """New tokens from a refresh token (``grant_type=refresh_token``)."""
        v.secret("refresh_token", refresh_token)
        return self._send(options, ops.refresh_token(refresh_token=refresh_token))

    def signup(
        self,
        *,
        email: str,
        password: str,
        attributes: Mapping[str, str] | None = None,
        **options: Unpack[RequestOptions],
    ) -> SignupResult:
        """Register a user; a confirmation code is sent to ``email``."""
        email = v.email("email", email)
        v.secret("password", password)
        return self._send(options, ops.signup(email=email, password=password, attributes=attributes))

    def confirm_signup(self, *, username: str, confirmation_code: str, **options: Unpack[RequestOptions]) -> None:
        """Confirm a signup with the code that was sent."""
        v.text("username", username)
        v.secret("confirmation_code", confirmation_code)
        self._send(options, ops.confirm_signup(username=username, confirmation_code=confirmation_code))

    def resend_confirmation_code(self, *, username: str, **options: Unpack[RequestOptions]) -> CodeDeliveryDetails:
        """Send the signup confirmation code again; returns where it went."""
        v.text("username", username)
        return _details(self._send(options, ops.resend_confirmation_code(username=username)))

    def login(self, *, username: str, password: str, **options: Unpack[RequestOptions]) -> TokenResponse:
        """Sign a user in. For a session that refreshes itself, see :meth:`UserSession.login`."""
        v.text("username", username)
        v.secret("password", password)
        return self._send(options, ops.login(username=username, password=password))

    def logout(self, *, access_token: str, **options: Unpack[RequestOptions]) -> None:
        """Revoke a user's access token (and its session's refresh token)."""
        v.secret("access_token", access_token)
        self._send(options, ops.logout(access_token=access_token))

    def request_password_reset(self, *, email: str, **options: Unpack[RequestOptions]) -> CodeDeliveryDetails:
        """Send a password reset code; returns where it went."""
        email = v.email("email", email)
        return _details(self._send(options, ops.request_password_reset(email=email)))

    def confirm_password_reset(
        self, *, email: str, code: str, new_password: str, **options: Unpack[RequestOptions]
    ) -> None:
        """Set a new password with the reset code."""
        email = v.email("email", email)
        v.secret("code", code)
        v.secret("new_password", new_password)
        self._send(options, ops.confirm_password_reset(email=email, code=code, new_password=new_password))

    def me(self, *, access_token: str | None = None, **options: Unpack[RequestOptions]) -> UserProfile:
        """The signed-in user: ``access_token``'s user, else the client's credentials' user."""
        if access_token is not None:
            v.secret("access_token", access_token)
        return self._send(options, ops.me(access_token=access_token))

    def create_client_credential(
        self,
        *,
        issued_to: str,
        scopes: Sequence[str],
        description: str | None = None,
        tenant_id: str | None = None,
        **options: Unpack[RequestOptions],
    ) -> CreatedClientCredential:
        """Create a client credential (admin). The secret is in the result, and only there."""
        v.text("issued_to", issued_to)
        scope_list = v.scopes("scopes", scopes)
        v.optional_text("tenant_id", tenant_id)
        return self._send(
            options,
            ops.create_client_credential(
                issued_to=issued_to, scopes=scope_list, description=description, tenant_id=tenant_id
            ),
        )

    def list_client_credentials(
        self,
        *,
        issued_to: str | None = None,
        tenant_id: str | None = None,
        scope: str | None = None,
        active: bool | None = None,
        **options: Unpack[RequestOptions],
    ) -> Pager[ClientCredential]:
        """Client credentials matching every filter given (admin); iterate the pager for all of them."""

        def fetch(token: str | None) -> Page[ClientCredential]:
            return _page(
                self._send(
                    options,
                    ops.list_client_credentials(
                        issued_to=issued_to, tenant_id=tenant_id, scope=scope, active=active, next_token=token
                    ),
                )
            )

        return Pager(fetch)

    def get_client_credential(self, credential_id: str, **options: Unpack[RequestOptions]) -> ClientCredential:
        """One client credential (admin)."""
        v.text("credential_id", credential_id)
        return self._send(options, ops.get_client_credential(credential_id))

    def update_client_credential(
        self,
        credential_id: str,
        *,
        active: bool | None = None,
        scopes: Sequence[str] | None = None,
        description: str | None = None,
        **options: Unpack[RequestOptions],
    ) -> ClientCredential:
        """Change a client credential's ``active`` flag, scopes or description (admin)."""
        v.text("credential_id", credential_id)
        scope_list = None if scopes is None else v.scopes("scopes", scopes)
        if active is None and scope_list is None and description is None:
            raise ValidationError("update_client_credential: give at least one of active, scopes, description")
        return self._send(
            options,
            ops.update_client_credential(credential_id, active=active, scopes=scope_list, description=description),
        )

    def delete_client_credential(self, credential_id: str, **options: Unpack[RequestOptions]) -> None:
        """Delete a client credential (admin)."""
        v.text("credential_id", credential_id)
        self._send(options, ops.delete_client_credential(credential_id))


class AsyncAuthClient(AsyncServiceClient):
    """The Auth API, asynchronously; the same methods as :class:`AuthClient`, awaited."""

    async def health(self, **options: Unpack[RequestOptions]) -> HealthStatus:
        """``GET /health``."""
        return await self._send(options, ops.health())

    async def get_token(
        self, *, client_id: str, client_secret: str, scope: str | None = None, **options: Unpack[RequestOptions]
    ) -> TokenResponse:
        """See :meth:`AuthClient.get_token`."""
        v.text("client_id", client_id)
        v.secret("client_secret", client_secret)
        v.optional_text("scope", scope)
        return await self._send(
            options, ops.client_credentials_token(client_id=client_id, client_secret=client_secret, scope=scope)
        )

    async def refresh(self, *, refresh_token: str, **options: Unpack[RequestOptions]) -> TokenResponse:
        """See :meth:`AuthClient.refresh`."""
        v.secret("refresh_token", refresh_token)
        return await self._send(options, ops.refresh_token(refresh_token=refresh_token))

    async def signup(
        self,
        *,
        email: str,
        password: str,
        attributes: Mapping[str, str] | None = None,
        **options: Unpack[RequestOptions],
    ) -> SignupResult:
        """See :meth:`AuthClient.signup`."""
        email = v.email("email", email)
        v.secret("password", password)
        return await self._send(options, ops.signup(email=email, password=password, attributes=attributes))

    async def confirm_signup(self, *, username: str, confirmation_code: str, **options: Unpack[RequestOptions]) -> None:
        """See :meth:`AuthClient.confirm_signup`."""
        v.text("username", username)
        v.secret("confirmation_code", confirmation_code)
        await self._send(options, ops.confirm_signup(username=username, confirmation_code=confirmation_code))

    async def resend_confirmation_code(
        self, *, username: str, **options: Unpack[RequestOptions]
    ) -> CodeDeliveryDetails:
        """See :meth:`AuthClient.resend_confirmation_code`."""
        v.text("username", username)
        return _details(await self._send(options, ops.resend_confirmation_code(username=username)))

    async def login(self, *, username: str, password: str, **options: Unpack[RequestOptions]) -> TokenResponse:
        """See :meth:`AuthClient.login`."""
        v.text("username", username)
        v.secret("password", password)
        return await self._send(options, ops.login(username=username, password=password))

    async def logout(self, *, access_token: str, **options: Unpack[RequestOptions]) -> None:
        """See :meth:`AuthClient.logout`."""
        v.secret("access_token", access_token)
        await self._send(options, ops.logout(access_token=access_token))

    async def request_password_reset(self, *, email: str, **options: Unpack[RequestOptions]) -> CodeDeliveryDetails:
        """See :meth:`AuthClient.request_password_reset`."""
        email = v.email("email", email)
        return _details(await self._send(options, ops.request_password_reset(email=email)))

    async def confirm_password_reset(
        self, *, email: str, code: str, new_password: str, **options: Unpack[RequestOptions]
    ) -> None:
        """See :meth:`AuthClient.confirm_password_reset`."""
        email = v.email("email", email)
        v.secret("code", code)
        v.secret("new_password", new_password)
        await self._send(options, ops.confirm_password_reset(email=email, code=code, new_password=new_password))

    async def me(self, *, access_token: str | None = None, **options: Unpack[RequestOptions]) -> UserProfile:
        """See :meth:`AuthClient.me`."""
        if access_token is not None:
            v.secret("access_token", access_token)
        return await self._send(options, ops.me(access_token=access_token))

    async def create_client_credential(
        self,
        *,
        issued_to: str,
        scopes: Sequence[str],
        description: str | None = None,
        tenant_id: str | None = None,
        **options: Unpack[RequestOptions],
    ) -> CreatedClientCredential:
        """See :meth:`AuthClient.create_client_credential`."""
        v.text("issued_to", issued_to)
        scope_list = v.scopes("scopes", scopes)
        v.optional_text("tenant_id", tenant_id)
        return await self._send(
            options,
            ops.create_client_credential(
                issued_to=issued_to, scopes=scope_list, description=description, tenant_id=tenant_id
            ),
        )

    def list_client_credentials(
        self,
        *,
        issued_to: str | None = None,
        tenant_id: str | None = None,
        scope: str | None = None,
        active: bool | None = None,
        **options: Unpack[RequestOptions],
    ) -> AsyncPager[ClientCredential]:
        """See :meth:`AuthClient.list_client_credentials` (``async for`` over the pager)."""

        async def fetch(token: str | None) -> Page[ClientCredential]:
            return _page(
                await self._send(
                    options,
                    ops.list_client_credentials(
                        issued_to=issued_to, tenant_id=tenant_id, scope=scope, active=active, next_token=token
                    ),
                )
            )

        return AsyncPager(fetch)

    async def get_client_credential(self, credential_id: str, **options: Unpack[RequestOptions]) -> ClientCredential:
        """See :meth:`AuthClient.get_client_credential`."""
        v.text("credential_id", credential_id)
        return await self._send(options, ops.get_client_credential(credential_id))

    async def update_client_credential(
        self,
        credential_id: str,
        *,
        active: bool | None = None,
        scopes: Sequence[str] | None = None,
        description: str | None = None,
        **options: Unpack[RequestOptions],
    ) -> ClientCredential:
        """See :meth:`AuthClient.update_client_credential`."""
        v.text("credential_id", credential_id)
        scope_list = None if scopes is None else v.scopes("scopes", scopes)
        if active is None and scope_list is None and description is None:
            raise ValidationError("update_client_credential: give at least one of active, scopes, description")
        return await self._send(
            options,
            ops.update_client_credential(credential_id, active=active, scopes=scope_list, description=description),
        )

    async def delete_client_credential(self, credential_id: str, **options: Unpack[RequestOptions]) -> None:
        """See :meth:`AuthClient.delete_client_credential`."""
        v.text("credential_id", credential_id)
        await self._send(options, ops.delete_client_credential(credential_id))
