"""Credential providers against a real sandbox: caching, single flight, expiry, sessions, keyring, defaults."""

from __future__ import annotations

import asyncio
import http.server
import logging
import os
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from auth_helpers import ADMIN_ID, ADMIN_SECRET, PASSWORD, latest_code, start_sandbox

from atriumn.auth import AsyncAuthClient, AuthClient, ClientCredentials, DefaultCredential, UserSession
from atriumn.core import (
    AccessToken,
    ApiKey,
    AuthenticationError,
    ConfigurationError,
    KeyringTokenStore,
    MemoryTokenStore,
    Operation,
    TokenCache,
    Transport,
)


def admin(url: str) -> ClientCredentials:
    return ClientCredentials(client_id=ADMIN_ID, client_secret=ADMIN_SECRET, base_url=url)


# --- client credentials --------------------------------------------------------------------------------


def test_client_credentials_fetch_once_and_cache(sandbox: Any) -> None:
    provider = admin(sandbox.url)
    with AuthClient(base_url=sandbox.url, credentials=provider) as client:
        for _ in range(5):
            assert client.me().username == ADMIN_ID
        assert provider.cache.refresh_count == 1
        assert client.transport.stats().token_refreshes == 1


def test_client_credentials_single_flight_across_threads(sandbox: Any) -> None:
    provider = admin(sandbox.url)
    barrier = threading.Barrier(8)
    results: list[str] = []
    errors: list[BaseException] = []
    with AuthClient(base_url=sandbox.url, credentials=provider) as client:

        def call() -> None:
            barrier.wait()
            try:
                results.append(client.me().username)
            except BaseException as exc:  # reported below
                errors.append(exc)

        threads = [threading.Thread(target=call) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert errors == []
    assert results == [ADMIN_ID] * 8
    assert provider.cache.refresh_count == 1


async def test_client_credentials_single_flight_across_tasks(sandbox: Any) -> None:
    provider = admin(sandbox.url)
    async with AsyncAuthClient(base_url=sandbox.url, credentials=provider) as client:
        names = await asyncio.gather(*(client.me() for _ in range(10)))
    assert {p.username for p in names} == {ADMIN_ID}
    assert provider.cache.refresh_count == 1


def test_one_provider_shared_by_sync_and_async_transports(sandbox: Any) -> None:
    provider = admin(sandbox.url)
    with AuthClient(base_url=sandbox.url, credentials=provider) as client:
        client.me()

    async def use_async() -> str:
        async with AsyncAuthClient(base_url=sandbox.url, credentials=provider) as aclient:
            return (await aclient.me()).username

    assert asyncio.run(use_async()) == ADMIN_ID
    assert provider.cache.refresh_count == 1  # the async transport used the token the sync one fetched


def test_credentials_go_only_to_their_own_origin(sandbox: Any) -> None:
    seen: list[dict[str, str]] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            seen.append({k.lower(): v for k, v in self.headers.items()})
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    other = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=other.serve_forever, daemon=True)
    thread.start()
    try:
        provider = admin(sandbox.url)
        with Transport(base_url=sandbox.url, credentials=provider) as transport:
            transport.send(Operation(method="GET", path=f"http://127.0.0.1:{other.server_address[1]}/x"))
    finally:
        other.shutdown()
        other.server_close()
    assert len(seen) == 1
    assert "authorization" not in seen[0]
    assert provider.cache.refresh_count == 0  # not even fetched


# --- expiry: one refresh per expiry ---------------------------------------------------------------------

TTL = 2.0
ADVISORY = 0.8


@pytest.fixture(scope="module")
def short_ttl() -> Iterator[Any]:
    with start_sandbox(token_ttl=TTL) as sb:
        yield sb


class Recording(ClientCredentials):
    """Records how long the cached token had left each time a refresh started."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.left_at_refresh: list[float | None] = []

    def token_flow(self) -> Any:
        current = self.cache.peek()
        self.left_at_refresh.append(current.expires_in() if current is not None else None)
        return (yield from super().token_flow())


def _windows(provider: Any) -> None:
    TokenCache(provider, advisory_window=ADVISORY, mandatory_window=0.3)


def _check_one_refresh_per_expiry(provider: Recording, expiries: int) -> None:
    assert provider.cache.refresh_count == expiries + 1
    assert len(provider.left_at_refresh) == expiries + 1
    assert provider.left_at_refresh[0] is None  # the first fetch
    for left in provider.left_at_refresh[1:]:
        # Each refresh started inside the refresh window of the token it replaced: never twice per lifetime.
        assert left is not None
        assert left <= ADVISORY


def test_long_running_client_survives_expiries_with_one_refresh_each(short_ttl: Any) -> None:
    provider = Recording(client_id=ADMIN_ID, client_secret=ADMIN_SECRET, base_url=short_ttl.url)
    _windows(provider)
    expiries = 3
    errors: list[BaseException] = []
    calls = [0]
    with AuthClient(base_url=short_ttl.url, credentials=provider) as client:

        def worker() -> None:
            while provider.cache.refresh_count <= expiries and not errors:
                try:
                    assert client.me().username == ADMIN_ID
                    calls[0] += 1
                except BaseException as exc:
                    errors.append(exc)

        threads = [threading.Thread(target=worker) for _ in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        stats = client.transport.stats()
    assert errors == []
    assert calls[0] > expiries
    assert stats.errors == 0
    _check_one_refresh_per_expiry(provider, expiries)


async def test_long_running_async_client_survives_expiries(short_ttl: Any) -> None:
    provider = Recording(client_id=ADMIN_ID, client_secret=ADMIN_SECRET, base_url=short_ttl.url)
    _windows(provider)
    expiries = 2
    async with AsyncAuthClient(base_url=short_ttl.url, credentials=provider) as client:

        async def worker() -> None:
            while provider.cache.refresh_count <= expiries:
                assert (await client.me()).username == ADMIN_ID

        await asyncio.gather(*(worker() for _ in range(3)))
    _check_one_refresh_per_expiry(provider, expiries)


def test_user_session_refreshes_with_its_refresh_token(short_ttl: Any) -> None:
    email = "refresher@example.com"
    with AuthClient(base_url=short_ttl.url) as client:
        client.signup(email=email, password=PASSWORD)
        client.confirm_signup(username=email, confirmation_code=latest_code(short_ttl.url, email, "signup"))
    session = UserSession.login(username=email, password=PASSWORD, base_url=short_ttl.url)
    login_token = session_token(session)
    TokenCache(session, advisory_window=ADVISORY, mandatory_window=0.3).set(login_token)
    first = session.cache.peek()
    assert first is not None
    start = session.cache.refresh_count
    with AuthClient(base_url=short_ttl.url, credentials=session) as client:
        while session.cache.refresh_count < start + 2:
            assert client.me().username == email
    latest = session.cache.peek()
    assert latest is not None
    assert latest.value != first.value
    assert latest.refresh_token  # kept across refreshes


def session_token(session: UserSession) -> AccessToken:
    token = session.cache.peek()
    assert token is not None
    return token


# --- user sessions ---------------------------------------------------------------------------------------


def test_user_session_login_use_logout(sandbox: Any, confirmed_user: str) -> None:
    session = UserSession.login(username=confirmed_user, password=PASSWORD, base_url=sandbox.url)
    assert session.signed_in
    token = session_token(session)
    with AuthClient(base_url=sandbox.url, credentials=session) as client:
        assert client.me().username == confirmed_user
        session.logout()
        assert not session.signed_in
        with pytest.raises(AuthenticationError, match="signed out"):
            client.me()
        # The server revoked the session too: its refresh token no longer works.
        with pytest.raises(AuthenticationError):
            client.refresh(refresh_token=token.refresh_token or "")
        with pytest.raises(AuthenticationError):
            client.me(access_token=token.value)


def test_user_session_login_errors(sandbox: Any, confirmed_user: str) -> None:
    with pytest.raises(AuthenticationError):
        UserSession.login(username=confirmed_user, password="not the password", base_url=sandbox.url)
    with pytest.raises(ValueError, match="username"):
        UserSession.login(username=" ", password="x", base_url=sandbox.url)


def test_user_session_from_a_refresh_token(sandbox: Any, confirmed_user: str) -> None:
    with AuthClient(base_url=sandbox.url) as client:
        tokens = client.login(username=confirmed_user, password=PASSWORD)
        session = UserSession(refresh_token=tokens.refresh_token, base_url=sandbox.url)
        with AuthClient(base_url=sandbox.url, credentials=session) as as_user:
            assert as_user.me().username == confirmed_user
        # Holding only a refresh token, logout still revokes the session on the server.
        revoked = UserSession(refresh_token=tokens.refresh_token, base_url=sandbox.url)
        revoked.logout()
        assert not revoked.signed_in
        with pytest.raises(AuthenticationError):
            client.refresh(refresh_token=tokens.refresh_token or "")


async def test_async_user_session(sandbox: Any, confirmed_user: str) -> None:
    session = await UserSession.alogin(username=confirmed_user, password=PASSWORD, base_url=sandbox.url)
    async with AsyncAuthClient(base_url=sandbox.url, credentials=session) as client:
        assert (await client.me()).username == confirmed_user
        await session.alogout()
        with pytest.raises(AuthenticationError):
            await client.me()


def test_profile_survives_into_a_second_process(
    sandbox: Any, confirmed_user: str, file_keyring: dict[str, str]
) -> None:
    assert KeyringTokenStore().persistent  # really the (file) keyring, not the memory fallback
    session = UserSession.login(username=confirmed_user, password=PASSWORD, base_url=sandbox.url, profile="default")
    script = (
        "import sys\n"
        "from atriumn.auth import AuthClient, UserSession\n"
        "from atriumn.core import ConfigurationError\n"
        "try:\n"
        f"    s = UserSession.from_profile('default', base_url={sandbox.url!r})\n"
        "except ConfigurationError as e:\n"
        "    print('ERROR', e); sys.exit(3)\n"
        f"with AuthClient(base_url={sandbox.url!r}, credentials=s) as c:\n"
        "    print(c.me().username)\n"
    )
    env = {**os.environ, **file_keyring}

    def second_process() -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=60)

    result = second_process()
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == confirmed_user
    session.logout()
    result = second_process()
    assert result.returncode == 3
    assert "no saved session under 'default'" in result.stdout
    assert PASSWORD not in (tmp := "".join(p.read_text() for p in _keyring_files(file_keyring)))
    assert tmp == "" or "session:default" not in tmp


def _keyring_files(env: dict[str, str]) -> list[Any]:
    from pathlib import Path

    root = Path(env["XDG_DATA_HOME"])
    return [p for p in root.rglob("*") if p.is_file()]


# --- the default chain -----------------------------------------------------------------------------------


def test_default_credential_order(sandbox: Any, confirmed_user: str) -> None:
    empty = MemoryTokenStore()
    explicit = DefaultCredential(client_id=ADMIN_ID, client_secret=ADMIN_SECRET, base_url=sandbox.url, environ={})
    env_pair = DefaultCredential(
        base_url=sandbox.url,
        environ={"ATRIUMN_CLIENT_ID": ADMIN_ID, "ATRIUMN_CLIENT_SECRET": ADMIN_SECRET},
        store=empty,
    )
    with AuthClient(base_url=sandbox.url) as client:
        key = client.get_token(client_id=ADMIN_ID, client_secret=ADMIN_SECRET).access_token
    env_key = DefaultCredential(
        base_url=sandbox.url,
        environ={"ATRIUMN_API_KEY": key, "ATRIUMN_CLIENT_ID": "ignored", "ATRIUMN_CLIENT_SECRET": "ignored"},
    )
    saved = MemoryTokenStore()
    UserSession.login(username=confirmed_user, password=PASSWORD, base_url=sandbox.url, profile="work", store=saved)
    from_profile = DefaultCredential(base_url=sandbox.url, environ={"ATRIUMN_PROFILE": "work"}, store=saved)

    expected = [
        (explicit, ClientCredentials, ADMIN_ID),
        (env_pair, ClientCredentials, ADMIN_ID),
        (env_key, ApiKey, ADMIN_ID),
        (from_profile, UserSession, confirmed_user),
    ]
    for credential, kind, username in expected:
        with AuthClient(base_url=sandbox.url, credentials=credential) as client:
            assert client.me().username == username
        assert isinstance(credential.resolve(), kind)


def test_default_credential_says_what_it_tried() -> None:
    with pytest.raises(ConfigurationError) as info:
        DefaultCredential(environ={}, store=MemoryTokenStore()).resolve()
    message = str(info.value)
    for expected in (
        "ATRIUMN_API_KEY",
        "ATRIUMN_CLIENT_ID",
        "the session saved for profile 'default' (in memory",
        "UserSession.login",
    ):
        assert expected in message
    with pytest.raises(ConfigurationError, match="ATRIUMN_CLIENT_SECRET is not set"):
        DefaultCredential(environ={"ATRIUMN_CLIENT_ID": "someone"}, store=MemoryTokenStore()).resolve()
    with pytest.raises(ConfigurationError, match="client_id and client_secret"):
        DefaultCredential(client_id="only-id")
    # Used by a transport, the same error surfaces from the call, before any request.
    with (
        AuthClient(
            base_url="http://127.0.0.1:9", credentials=DefaultCredential(environ={}, store=MemoryTokenStore())
        ) as c,
        pytest.raises(ConfigurationError, match="no Atriumn credentials"),
    ):
        c.me()


# --- secrets never leak -----------------------------------------------------------------------------------


def test_secrets_never_in_reprs_logs_or_spans(
    sandbox: Any, new_email: Callable[[], str], spans: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="atriumn")
    email = new_email()
    secrets: list[str] = [PASSWORD, ADMIN_SECRET]
    provider = admin(sandbox.url)
    with AuthClient(base_url=sandbox.url, credentials=provider) as client:
        client.signup(email=email, password=PASSWORD)
        code = latest_code(sandbox.url, email, "signup")
        client.confirm_signup(username=email, confirmation_code=code)
        tokens = client.login(username=email, password=PASSWORD)
        client.me(access_token=tokens.access_token)
        created = client.create_client_credential(issued_to="leak-test", scopes=["x"])
        issued = client.get_token(client_id=created.client_id, client_secret=created.client_secret)
        with pytest.raises(AuthenticationError) as failed:
            client.login(username=email, password=PASSWORD + "!")
        session = UserSession.login(username=email, password=PASSWORD, base_url=sandbox.url)
        with AuthClient(base_url=sandbox.url, credentials=session) as as_user:
            as_user.me()
        session.logout()
        secrets += [
            code,
            tokens.access_token,
            tokens.refresh_token or "",
            tokens.id_token or "",
            created.client_secret,
            issued.access_token,
        ]
        cached = provider.cache.peek()
        assert cached is not None
        secrets.append(cached.value)
        reprs = [
            repr(x)
            for x in (tokens, created, issued, provider, session, cached, client, failed.value, DefaultCredential())
        ]
        reprs.append(str(failed.value))
    assert all(secrets)
    logged = [r.getMessage() + " " + repr(r.__dict__) for r in caplog.records]
    assert logged, "debug logging produced nothing to check"
    finished = spans.get_finished_spans()
    assert finished, "no spans recorded"
    traced = [
        f"{s.name} {dict(s.attributes or {})} {[(e.name, dict(e.attributes or {})) for e in s.events]}"
        for s in finished
    ]
    for secret in secrets:
        for text in reprs + logged + traced:
            assert secret not in text


# --- short-lived tokens with the default windows ------------------------------------------------------


def test_short_lived_token_is_not_refreshed_on_every_call() -> None:
    """Core's default windows (5 min / 30 s) shrink to L/2 and L/4 for a token of lifetime L (here 120 s)."""
    from atriumn.core import TokenProvider

    now = [1000.0]

    class TwoMinuteTokens(TokenProvider):
        issued = 0

        def token_flow(self) -> Any:
            self.issued += 1
            return AccessToken(value=f"token-{self.issued}", expires_at=now[0] + 120)
            yield  # a generator without requests

    provider = TwoMinuteTokens()
    cache = TokenCache(provider, clock=lambda: now[0])

    def no_requests(op: Any) -> Any:
        raise AssertionError("no request expected")

    assert cache.get_token(no_requests).value == "token-1"
    now[0] += 50  # 70 s left: more than half the lifetime
    assert cache.get_token(no_requests).value == "token-1"
    now[0] += 15  # 55 s left: inside the (shrunk) advisory window
    assert cache.get_token(no_requests).value == "token-2"
    assert provider.issued == 2


def test_default_windows_give_one_refresh_per_expiry(short_ttl: Any) -> None:
    provider = Recording(client_id=ADMIN_ID, client_secret=ADMIN_SECRET, base_url=short_ttl.url)
    expiries = 2
    with AuthClient(base_url=short_ttl.url, credentials=provider) as client:
        while provider.cache.refresh_count <= expiries:
            assert client.me().username == ADMIN_ID
    assert provider.cache.refresh_count == expiries + 1
    assert all(left is not None and left <= TTL / 2 for left in provider.left_at_refresh[1:])
