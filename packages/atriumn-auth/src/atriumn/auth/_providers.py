"""Credential providers backed by the Auth API: client credentials, user sessions, and the default chain.

Each is an :class:`atriumn.core.TokenProvider`, so any client of any Atriumn package accepts it
(``StorageClient(credentials=ClientCredentials(...))``). Obtaining a token is a sans-IO token flow: the
provider yields the token-endpoint :class:`~atriumn.core.Operation` (an absolute URL to the auth server,
never carrying credentials) and whichever transport needs the token — sync or async — sends it. The
provider's :class:`~atriumn.core.TokenCache` decides when to refresh and makes concurrent callers share
one refresh. Secrets never appear in a repr.
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Mapping, Sequence
from typing import Any

from atriumn.core import (
    DEFAULT_BASE_URL,
    AccessToken,
    ApiKey,
    AsyncTransport,
    AuthenticationError,
    ConfigurationError,
    FileTokenStore,
    KeyringTokenStore,
    NoCredentialsError,
    Operation,
    TokenCache,
    TokenFlow,
    TokenProvider,
    TokenStore,
    Transport,
)

from . import _operations as ops
from . import _validate as v

__all__ = ["ClientCredentials", "DefaultCredential", "UserSession", "session_store"]

#: The keyring service name sessions are stored under (one entry per profile: ``session:<profile>``).
KEYRING_SERVICE = "atriumn"


def session_store(environ: Mapping[str, str] | None = None) -> KeyringTokenStore:
    """Where signed-in sessions are kept: the OS keyring when a backend works, else a file readable only by
    you (``ATRIUMN_CREDENTIALS_FILE``, else ``$XDG_CONFIG_HOME/atriumn/credentials.json``), as ``gh`` and the
    AWS CLI do on machines without a desktop keyring."""
    return KeyringTokenStore(KEYRING_SERVICE, fallback=FileTokenStore(service=KEYRING_SERVICE, environ=environ))


def _base_url(base_url: str | None, environ: Mapping[str, str] | None) -> str:
    """The argument, else ``ATRIUMN_API_BASE_URL``, else the Atriumn API (the transports' own rule)."""
    name = "base_url"
    if base_url is None:
        env = os.environ if environ is None else environ
        base_url = env.get("ATRIUMN_API_BASE_URL", "").strip() or None
        name = "ATRIUMN_API_BASE_URL"
    if base_url is None:
        return DEFAULT_BASE_URL
    if not re.match(r"^https?://[^/\s]+", base_url):
        raise ConfigurationError(f"{name}: {base_url!r} is not an http(s) URL")
    return base_url.rstrip("/")


def _scope(scope: str | Sequence[str] | None) -> str | None:
    if scope is None or isinstance(scope, str):
        return v.optional_text("scope", scope)
    return " ".join(v.scopes("scope", scope))


def _profile_key(profile: str) -> str:
    return f"session:{profile}"


def _send(transport: Transport | None, base_url: str, operation: Operation[Any]) -> Any:
    if transport is not None:
        return transport.send(operation)
    with Transport(base_url=base_url) as own:
        return own.send(operation)


async def _send_async(transport: AsyncTransport | None, base_url: str, operation: Operation[Any]) -> Any:
    if transport is not None:
        return await transport.send(operation)
    async with AsyncTransport(base_url=base_url) as own:
        return await own.send(operation)


class ClientCredentials(TokenProvider):
    """Machine-to-machine tokens from a client credential (``grant_type=client_credentials``).

    Tokens are fetched on first use, cached, refreshed before they expire, and fetched once for any number
    of concurrent callers.

    Args:
        client_id: the credential's client id.
        client_secret: its secret (never shown in a repr or log).
        scope: the scopes to request (a space-separated string or a list), or None for the default.
        base_url: the auth server (else ``ATRIUMN_API_BASE_URL``, else the Atriumn API).
    """

    def __init__(
        self,
        *,
        client_id: str,
        client_secret: str,
        scope: str | Sequence[str] | None = None,
        base_url: str | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        self.client_id = v.text("client_id", client_id)
        self.__secret = v.secret("client_secret", client_secret)
        self.scope = _scope(scope)
        self.base_url = _base_url(base_url, environ)

    def token_flow(self) -> TokenFlow:
        """Ask the token endpoint for a token."""
        response = yield ops.client_credentials_token(
            client_id=self.client_id, client_secret=self.__secret, scope=self.scope, base_url=self.base_url
        )
        return response.to_access_token()  # type: ignore[no-any-return]

    def shared_identity(self) -> str | None:
        """A fingerprint of the credential (server, client id, scope and secret, hashed: never the secret), so
        every process sharing a :class:`~atriumn.core.RedisState` uses one token and refreshes it once."""
        from atriumn.core._shared_limits import fingerprint

        return fingerprint("\0".join((self.base_url, self.client_id, self.scope or "", self.__secret)))

    def __repr__(self) -> str:
        return f"ClientCredentials(client_id={self.client_id!r}, scope={self.scope!r}, base_url={self.base_url!r})"


class UserSession(TokenProvider):
    """A signed-in user: the access token, refreshed with the refresh token when it expires.

    Create one with :meth:`login` (or :meth:`alogin`), from a stored profile with :meth:`from_profile`, or
    from tokens you already hold (``UserSession(token=...)`` / ``UserSession(refresh_token=...)``).

    With ``profile=...`` the session (its refresh token) is kept under that name — in the OS keyring, or in a
    file readable only by you where no keyring works (:func:`session_store`) — so a second process starts
    signed in: ``UserSession.from_profile("default")``. :meth:`logout` revokes the session on the server and
    forgets it locally and where it was kept.

    Args:
        token: the current tokens, as an :class:`~atriumn.core.AccessToken`.
        refresh_token: only a refresh token (the first use refreshes).
        base_url: the auth server (else ``ATRIUMN_API_BASE_URL``, else the Atriumn API).
        profile: persist the session under this profile name.
        store: where to persist (default when ``profile`` is given: :func:`session_store` — the OS keyring,
            or the credentials file on machines without a working keyring).
    """

    def __init__(
        self,
        *,
        token: AccessToken | None = None,
        refresh_token: str | None = None,
        base_url: str | None = None,
        profile: str | None = None,
        store: TokenStore | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        self.base_url = _base_url(base_url, environ)
        self.profile = None if profile is None else v.text("profile", profile)
        if self.profile is not None:
            self.cache_key = _profile_key(self.profile)
            store = store if store is not None else session_store()
        if store is not None:
            TokenCache(self, store=store)  # becomes self.cache
        if token is None and refresh_token is not None:
            v.secret("refresh_token", refresh_token)
            token = AccessToken(value="", expires_at=0.0, refresh_token=refresh_token)  # refreshed on first use
        if token is not None:
            self.cache.set(token)

    # --- creating --------------------------------------------------------------------------------------

    @classmethod
    def login(
        cls,
        *,
        username: str,
        password: str,
        base_url: str | None = None,
        profile: str | None = None,
        store: TokenStore | None = None,
        transport: Transport | None = None,
    ) -> UserSession:
        """Sign in with a username and password (raises :class:`~atriumn.core.AuthenticationError` if wrong)."""
        v.text("username", username)
        v.secret("password", password)
        session = cls(base_url=base_url, profile=profile, store=store)
        response = _send(
            transport, session.base_url, ops.login(username=username, password=password, base_url=session.base_url)
        )
        session.cache.set(response.to_access_token())
        return session

    @classmethod
    async def alogin(
        cls,
        *,
        username: str,
        password: str,
        base_url: str | None = None,
        profile: str | None = None,
        store: TokenStore | None = None,
        transport: AsyncTransport | None = None,
    ) -> UserSession:
        """The async twin of :meth:`login`."""
        v.text("username", username)
        v.secret("password", password)
        session = cls(base_url=base_url, profile=profile, store=store)
        response = await _send_async(
            transport, session.base_url, ops.login(username=username, password=password, base_url=session.base_url)
        )
        session.cache.set(response.to_access_token())
        return session

    @classmethod
    def from_profile(
        cls, profile: str = "default", *, base_url: str | None = None, store: TokenStore | None = None
    ) -> UserSession:
        """The session saved under ``profile`` by an earlier :meth:`login` (in this or another process).

        Raises:
            ConfigurationError: when no session is saved under that profile.
        """
        v.text("profile", profile)
        store = store if store is not None else session_store()
        saved = store.load(_profile_key(profile))
        if saved is None or not (saved.refresh_token or saved.value):
            raise ConfigurationError(
                f"profile: no saved session under {profile!r}; sign in once with "
                f"UserSession.login(username=..., password=..., profile={profile!r})"
            )
        return cls(token=saved, base_url=base_url, profile=profile, store=store)

    # --- the token flow --------------------------------------------------------------------------------

    def token_flow(self) -> TokenFlow:
        """Refresh the access token with the refresh token."""
        current = self.cache.peek()
        refresh = current.refresh_token if current is not None else None
        if not refresh:
            raise AuthenticationError(
                status_code=401,
                code="signed_out",
                description="this session is signed out (or has no refresh token); sign in again",
            )
        response = yield ops.refresh_token(refresh_token=refresh, base_url=self.base_url)
        return response.to_access_token(refresh_token=refresh)  # type: ignore[no-any-return]

    @property
    def signed_in(self) -> bool:
        """Whether the session holds tokens (it may still need a refresh)."""
        token = self.cache.peek()
        return token is not None and bool(token.value or token.refresh_token)

    # --- signing out -----------------------------------------------------------------------------------

    def logout(self, *, transport: Transport | None = None) -> None:
        """Revoke the session on the server, then forget it here and in the keyring (even if revoking fails).

        An expired access token is refreshed first, so the server revokes the session's refresh token too.
        """
        token = self.cache.peek()
        try:
            if token is not None and (token.value or token.refresh_token):
                if not token.value or token.expires_in() <= 0:  # revoking needs a live access token
                    token = self.cache.get_token(lambda op: _send(transport, self.base_url, op))
                _send(transport, self.base_url, ops.logout(access_token=token.value, base_url=self.base_url))
        except AuthenticationError:
            pass  # already invalid on the server: signed out either way
        finally:
            self._forget()

    async def alogout(self, *, transport: AsyncTransport | None = None) -> None:
        """The async twin of :meth:`logout`."""
        token = self.cache.peek()
        try:
            if token is not None and (token.value or token.refresh_token):
                if not token.value or token.expires_in() <= 0:

                    async def run(op: Operation[Any]) -> Any:
                        return await _send_async(transport, self.base_url, op)

                    token = await self.cache.get_token_async(run)
                await _send_async(
                    transport, self.base_url, ops.logout(access_token=token.value, base_url=self.base_url)
                )
        except AuthenticationError:
            pass
        finally:
            self._forget()

    def _forget(self) -> None:
        self.cache.invalidate()
        if self.cache_key is not None:
            self.cache.store.delete(self.cache_key)

    def __repr__(self) -> str:
        return f"UserSession(profile={self.profile!r}, base_url={self.base_url!r})"


class DefaultCredential(TokenProvider):
    """The first credential found: explicit arguments, then the environment, then the keyring profile.

    Order:

    1. ``api_key=`` (an API key, sent as a bearer token), or ``client_id=`` + ``client_secret=``;
    2. ``ATRIUMN_API_KEY``; then ``ATRIUMN_CLIENT_ID`` + ``ATRIUMN_CLIENT_SECRET`` (+ ``ATRIUMN_SCOPE``);
    3. the session saved under ``profile`` (else ``ATRIUMN_PROFILE``, else ``"default"``) by
       ``atriumn auth login`` or ``UserSession.login(..., profile=...)``: in the OS keyring, or in the
       credentials file on machines without one (see :func:`session_store`).

    The choice is made on first use (or by :meth:`resolve`); when nothing is found, one
    :class:`~atriumn.core.NoCredentialsError` lists every source tried and why it did not apply.
    Every Atriumn service client uses this chain when given no ``credentials=``.
    """

    def __init__(
        self,
        *,
        api_key: str | None = None,
        client_id: str | None = None,
        client_secret: str | None = None,
        scope: str | Sequence[str] | None = None,
        profile: str | None = None,
        base_url: str | None = None,
        store: TokenStore | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        if (client_id is None) != (client_secret is None):
            raise ConfigurationError("client_id and client_secret: give both, or neither")
        self.__api_key = None if api_key is None else v.secret("api_key", api_key)
        self.client_id = client_id
        self.__client_secret = client_secret
        self.scope = _scope(scope)
        self._environ = environ
        env = os.environ if environ is None else environ
        self.profile = profile or env.get("ATRIUMN_PROFILE", "").strip() or "default"
        self.base_url = _base_url(base_url, environ)
        self._store = store
        self._resolved: TokenProvider | None = None
        self._lock = threading.Lock()

    def resolve(self) -> TokenProvider:
        """The provider chosen (made once, then kept)."""
        if self._resolved is None:
            with self._lock:
                if self._resolved is None:
                    self._resolved = self._choose()
        return self._resolved

    def _choose(self) -> TokenProvider:
        env = os.environ if self._environ is None else self._environ
        if self.__api_key is not None:
            return ApiKey(self.__api_key)
        if self.client_id is not None and self.__client_secret is not None:
            return ClientCredentials(
                client_id=self.client_id, client_secret=self.__client_secret, scope=self.scope, base_url=self.base_url
            )
        tried = ["arguments: no api_key, client_id or client_secret given"]
        key = env.get("ATRIUMN_API_KEY", "").strip()
        if key:
            return ApiKey(key)
        tried.append("ATRIUMN_API_KEY: not set")
        cid, secret = env.get("ATRIUMN_CLIENT_ID", "").strip(), env.get("ATRIUMN_CLIENT_SECRET", "").strip()
        if cid and secret:
            return ClientCredentials(
                client_id=cid,
                client_secret=secret,
                scope=self.scope or env.get("ATRIUMN_SCOPE", "").strip() or None,
                base_url=self.base_url,
            )
        if cid or secret:
            missing = "ATRIUMN_CLIENT_SECRET" if cid else "ATRIUMN_CLIENT_ID"
            tried.append(f"ATRIUMN_CLIENT_ID + ATRIUMN_CLIENT_SECRET: {missing} is not set")
        else:
            tried.append("ATRIUMN_CLIENT_ID + ATRIUMN_CLIENT_SECRET: not set")
        store = self._store if self._store is not None else session_store(self._environ)
        try:
            return UserSession.from_profile(self.profile, base_url=self.base_url, store=store)
        except ConfigurationError:
            where = getattr(store, "location", repr(store))
            tried.append(f"the session saved for profile {self.profile!r} (in {where}): none saved")
        raise NoCredentialsError(
            tried,
            "Fix one of: pass credentials= (api_key= or client_id= and client_secret= to DefaultCredential); set "
            "ATRIUMN_API_KEY; set ATRIUMN_CLIENT_ID and ATRIUMN_CLIENT_SECRET; or sign in once with "
            f"UserSession.login(username=..., password=..., profile={self.profile!r}) or `atriumn auth login`.",
        )

    @property
    def cache(self) -> TokenCache:
        """The chosen provider's token cache (so refreshes of a keyring session are persisted)."""
        return self.resolve().cache

    def token_flow(self) -> TokenFlow:
        """The chosen provider's flow."""
        return (yield from self.resolve().token_flow())

    def auth_headers(self, token: AccessToken) -> dict[str, str]:
        """The chosen provider's headers."""
        return self.resolve().auth_headers(token)

    def on_unauthorized(self, token: AccessToken) -> None:
        """Passed on to the chosen provider."""
        self.resolve().on_unauthorized(token)

    def __repr__(self) -> str:
        chosen = type(self._resolved).__name__ if self._resolved is not None else "unresolved"
        return f"DefaultCredential(profile={self.profile!r}, chosen={chosen})"
