"""AuthClient and AsyncAuthClient against a real sandbox over sockets: every endpoint, and its errors."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from auth_helpers import ADMIN_ID, ADMIN_SECRET, PASSWORD, latest_code

from atriumn.auth import (
    AsyncAuthClient,
    AuthClient,
    ClientCredentials,
    CodeDeliveryDetails,
    CreatedClientCredential,
    HealthStatus,
)
from atriumn.core import (
    AuthenticationError,
    BadRequestError,
    ConflictError,
    NoCredentialsError,
    NotFoundError,
    PermissionDeniedError,
    StaticToken,
)


def admin(sandbox: Any) -> ClientCredentials:
    return ClientCredentials(client_id=ADMIN_ID, client_secret=ADMIN_SECRET, base_url=sandbox.url)


def test_health(sandbox: Any) -> None:
    with AuthClient(base_url=sandbox.url) as client:
        health = client.health()
    assert isinstance(health, HealthStatus)
    assert health.status == "ok"


def test_signup_confirm_login_me_logout(sandbox: Any, new_email: Callable[[], str]) -> None:
    email = new_email()
    with AuthClient(base_url=sandbox.url) as client:
        result = client.signup(email=email, password=PASSWORD, attributes={"name": "Ada"})
        assert result.user_id
        assert result.user_confirmed is False
        with pytest.raises(PermissionDeniedError, match="not confirmed"):
            client.login(username=email, password=PASSWORD)
        with pytest.raises(BadRequestError):
            client.confirm_signup(username=email, confirmation_code="000000x")
        client.confirm_signup(username=email, confirmation_code=latest_code(sandbox.url, email, "signup"))
        tokens = client.login(username=email, password=PASSWORD)
        assert tokens.token_type == "Bearer"
        assert tokens.refresh_token
        assert tokens.id_token
        assert (tokens.expires_in or 0) > 0
        profile = client.me(access_token=tokens.access_token)
        assert profile.username == email
        assert profile.attributes["name"] == "Ada"
        client.logout(access_token=tokens.access_token)
        with pytest.raises(AuthenticationError, match="revoked"):  # a revoked token
            client.me(access_token=tokens.access_token)
        with pytest.raises(AuthenticationError):  # and the session's refresh token with it
            client.refresh(refresh_token=tokens.refresh_token)


def test_signup_errors(sandbox: Any, confirmed_user: str) -> None:
    with AuthClient(base_url=sandbox.url) as client:
        with pytest.raises(ConflictError):
            client.signup(email=confirmed_user, password=PASSWORD)
        with pytest.raises(BadRequestError, match="password"):
            client.signup(email="short@example.com", password="short")
        with pytest.raises(BadRequestError, match="already confirmed"):
            client.resend_confirmation_code(username=confirmed_user)
        with pytest.raises(NotFoundError):
            client.resend_confirmation_code(username="nobody@example.com")


def test_wrong_password(sandbox: Any, confirmed_user: str) -> None:
    with AuthClient(base_url=sandbox.url) as client, pytest.raises(AuthenticationError) as info:
        client.login(username=confirmed_user, password="wrong password")
    assert info.value.status_code == 401
    assert "wrong password" not in str(info.value)


def test_resend_confirmation_code(sandbox: Any, new_email: Callable[[], str]) -> None:
    email = new_email()
    with AuthClient(base_url=sandbox.url) as client:
        client.signup(email=email, password=PASSWORD)
        first = latest_code(sandbox.url, email, "signup")
        details = client.resend_confirmation_code(username=email)
        assert isinstance(details, CodeDeliveryDetails)
        assert details.delivery_medium == "EMAIL"
        assert details.attribute_name == "email"
        assert "***" in details.destination
        second = latest_code(sandbox.url, email, "signup")
        if first != second:
            with pytest.raises(BadRequestError):
                client.confirm_signup(username=email, confirmation_code=first)
        client.confirm_signup(username=email, confirmation_code=second)
        assert client.login(username=email, password=PASSWORD).access_token


def test_password_reset(sandbox: Any, confirmed_user: str) -> None:
    new_password = "a brand new passphrase"
    with AuthClient(base_url=sandbox.url) as client:
        details = client.request_password_reset(email=confirmed_user)
        assert details.delivery_medium == "EMAIL"
        with pytest.raises(BadRequestError):
            client.confirm_password_reset(email=confirmed_user, code="999999x", new_password=new_password)
        code = latest_code(sandbox.url, confirmed_user, "password_reset")
        client.confirm_password_reset(email=confirmed_user, code=code, new_password=new_password)
        with pytest.raises(AuthenticationError):
            client.login(username=confirmed_user, password=PASSWORD)
        assert client.login(username=confirmed_user, password=new_password).access_token
        with pytest.raises(NotFoundError):
            client.request_password_reset(email="nobody@example.com")


def test_validation_happens_before_any_request() -> None:
    # Port 9 (discard) is closed: a request would raise ConnectError, not ValueError.
    with AuthClient(base_url="http://127.0.0.1:9", max_retries=0) as client:
        with pytest.raises(ValueError, match="username"):
            client.login(username="", password="x")
        with pytest.raises(ValueError, match="password"):
            client.login(username="ada", password="")
        with pytest.raises(ValueError, match="email"):
            client.signup(email="not-an-email", password="long enough")
        with pytest.raises(ValueError, match="email"):
            client.request_password_reset(email="")
        with pytest.raises(ValueError, match="new_password"):
            client.confirm_password_reset(email="a@example.com", code="1", new_password="")
        with pytest.raises(ValueError, match="scopes"):
            client.create_client_credential(issued_to="x", scopes="admin")
        with pytest.raises(ValueError, match="credential_id"):
            client.get_client_credential("")
        with pytest.raises(ValueError, match="at least one"):
            client.update_client_credential("cred_1")


def test_me_without_credentials_is_unauthorized(sandbox: Any) -> None:
    # No credentials anywhere: the default chain refuses before sending, naming every source it tried.
    with AuthClient(base_url=sandbox.url) as client, pytest.raises(NoCredentialsError) as info:
        client.me()
    tried = info.value.tried
    sources = [t.split(":")[0] for t in tried[:3]]
    assert sources == ["arguments", "ATRIUMN_API_KEY", "ATRIUMN_CLIENT_ID + ATRIUMN_CLIENT_SECRET"]
    assert tried[3].startswith("the session saved for profile 'default'") and tried[3].endswith("none saved")
    bad = StaticToken("not-a-valid-token")
    with AuthClient(base_url=sandbox.url, credentials=bad) as client, pytest.raises(AuthenticationError):
        client.me()


def test_client_credentials_token_and_scopes(sandbox: Any) -> None:
    with AuthClient(base_url=sandbox.url, credentials=admin(sandbox)) as client:
        created = client.create_client_credential(issued_to="scope-test", scopes=["storage:read"])
        token = client.get_token(client_id=created.client_id, client_secret=created.client_secret)
        assert token.scope == "storage:read"
        assert token.refresh_token is None
        with pytest.raises(BadRequestError, match="scope"):  # a scope the credential does not have
            client.get_token(client_id=created.client_id, client_secret=created.client_secret, scope="admin")
        with pytest.raises(AuthenticationError):
            client.get_token(client_id=created.client_id, client_secret="not the secret")
        # A credential without the admin scope cannot use the admin endpoints.
        limited = ClientCredentials(
            client_id=created.client_id, client_secret=created.client_secret, base_url=sandbox.url
        )
        with AuthClient(base_url=sandbox.url, credentials=limited) as as_limited:
            assert as_limited.me().username == created.client_id
            with pytest.raises(PermissionDeniedError):
                list(as_limited.list_client_credentials())


def test_admin_credentials_lifecycle(sandbox: Any) -> None:
    with AuthClient(base_url=sandbox.url, credentials=admin(sandbox)) as client:
        created = client.create_client_credential(
            issued_to="lifecycle", scopes=["ingest", "storage"], description="for a test", tenant_id="tenant-a"
        )
        assert isinstance(created, CreatedClientCredential)
        assert created.client_secret
        assert created.client_secret not in repr(created)
        assert created.active
        assert created.created_at is not None
        fetched = client.get_client_credential(created.id)
        assert fetched.client_id == created.client_id
        assert not hasattr(fetched, "client_secret")
        assert fetched.scopes == ["ingest", "storage"]

        updated = client.update_client_credential(created.id, description="changed", scopes=["ingest"])
        assert (updated.description, updated.scopes) == ("changed", ["ingest"])

        provider = ClientCredentials(
            client_id=created.client_id, client_secret=created.client_secret, base_url=sandbox.url
        )
        with AuthClient(base_url=sandbox.url, credentials=provider) as as_it:
            assert as_it.me().username == created.client_id
            client.update_client_credential(created.id, active=False)
            provider.cache.invalidate()
            with pytest.raises(AuthenticationError, match="inactive"):
                as_it.me()

        client.delete_client_credential(created.id)
        with pytest.raises(NotFoundError):
            client.get_client_credential(created.id)
        with pytest.raises(NotFoundError):
            client.delete_client_credential(created.id)
        with pytest.raises(NotFoundError):
            client.update_client_credential(created.id, active=True)


def test_list_filters_and_pages(sandbox: Any) -> None:
    with AuthClient(base_url=sandbox.url, credentials=admin(sandbox)) as client:
        made = [
            client.create_client_credential(
                issued_to="lister", scopes=["a", "b"] if i % 2 else ["a"], tenant_id="tenant-l" if i < 3 else "tenant-m"
            )
            for i in range(6)
        ]
        client.update_client_credential(made[0].id, active=False)
        ids = {c.id for c in made}
        assert {c.id for c in client.list_client_credentials(issued_to="lister")} == ids
        assert {c.id for c in client.list_client_credentials(issued_to="lister", tenant_id="tenant-l")} == {
            c.id for c in made[:3]
        }
        assert {c.id for c in client.list_client_credentials(issued_to="lister", scope="b")} == {
            c.id for c in made[1::2]
        }
        assert {c.id for c in client.list_client_credentials(issued_to="lister", active=False)} == {made[0].id}
        assert {c.id for c in client.list_client_credentials(issued_to="lister", active=True)} == ids - {made[0].id}
        assert list(client.list_client_credentials(issued_to="nobody")) == []

        for i in range(55):  # more than one page (the sandbox pages by 50)
            client.create_client_credential(issued_to="many", scopes=["x"], description=str(i))
        pager = client.list_client_credentials(issued_to="many")
        pages = list(pager.pages())
        assert len(pages) >= 2
        assert sorted(int(c.description) for c in pager) == list(range(55))


# --- async ---------------------------------------------------------------------------------------------


async def test_async_client_every_endpoint(sandbox: Any, new_email: Callable[[], str]) -> None:
    email = new_email()
    async with AsyncAuthClient(base_url=sandbox.url, credentials=admin(sandbox)) as client:
        assert (await client.health()).status == "ok"
        await client.signup(email=email, password=PASSWORD)
        details = await client.resend_confirmation_code(username=email)
        assert details.attribute_name == "email"
        await client.confirm_signup(username=email, confirmation_code=latest_code(sandbox.url, email, "signup"))
        with pytest.raises(AuthenticationError):
            await client.login(username=email, password="wrong password")
        tokens = await client.login(username=email, password=PASSWORD)
        assert (await client.me(access_token=tokens.access_token)).username == email
        refreshed = await client.refresh(refresh_token=tokens.refresh_token or "")
        assert refreshed.access_token != tokens.access_token
        await client.request_password_reset(email=email)
        code = latest_code(sandbox.url, email, "password_reset")
        await client.confirm_password_reset(email=email, code=code, new_password="another passphrase")
        await client.logout(access_token=refreshed.access_token)
        with pytest.raises(AuthenticationError):
            await client.me(access_token=refreshed.access_token)

        created = await client.create_client_credential(issued_to="async", scopes=["s"], tenant_id="tenant-async")
        token = await client.get_token(client_id=created.client_id, client_secret=created.client_secret)
        assert token.access_token
        assert (await client.get_client_credential(created.id)).tenant_id == "tenant-async"
        assert (await client.update_client_credential(created.id, active=False)).active is False
        listed = [c.id async for c in client.list_client_credentials(tenant_id="tenant-async", active=False)]
        assert listed == [created.id]
        await client.delete_client_credential(created.id)
        with pytest.raises(NotFoundError):
            await client.get_client_credential(created.id)
        with pytest.raises(ValueError, match="email"):
            await client.signup(email="nope", password="long enough")
