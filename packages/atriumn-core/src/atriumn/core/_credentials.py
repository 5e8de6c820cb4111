"""Credentials: token providers, the token cache, and where tokens are kept.

A :class:`TokenProvider` knows how to obtain a token and how to put it on a request. Obtaining it is a
sans-IO *token flow* (a generator, like httpx's ``Auth.auth_flow``): it yields the :class:`Operation` s it
needs sent (the token endpoint) and returns an :class:`AccessToken`; the sync and async transports drive
the same flow, over their own connection pools.

The :class:`TokenCache` in front of every provider decides when to refresh (sans-IO windows, botocore
style) and makes sure N concurrent callers — threads, tasks, or both — cause exactly one refresh:

- fresh: use the cached token;
- advisory window (default 5 min before expiry): one caller refreshes while the others keep using the
  still-valid token; a failed advisory refresh is logged and the old token kept;
- mandatory window (default 30 s before expiry, or no token): callers wait for the one refresh; a failure
  is raised to every waiter.

Both windows shrink for short-lived tokens: for a token obtained by this cache with a lifetime of L seconds
they are at most L/2 (advisory) and L/4 (mandatory), so a 2-minute token is not refreshed on every call.
"""

from __future__ import annotations

import abc
import contextlib
import functools
import logging
import os
import threading
import time
from collections.abc import Callable, Generator, Mapping
from typing import TYPE_CHECKING, Any

from ._errors import ConfigurationError, NoCredentialsError
from ._operation import Operation
from ._stores import MemoryTokenStore
from ._tokens import AccessToken, TokenStore

if TYPE_CHECKING:
    import asyncio

__all__ = [
    "ApiKey",
    "EnvironmentToken",
    "StaticToken",
    "TokenCache",
    "TokenFlow",
    "TokenProvider",
    "default_credentials",
]

logger = logging.getLogger("atriumn.core.credentials")

#: A token flow: yields operations to send, receives their results, returns the token.
TokenFlow = Generator[Operation[Any], Any, "AccessToken"]


_CACHE_CREATION = threading.Lock()


class TokenProvider(abc.ABC):
    """A source of tokens, and how a token is put on a request.

    Subclasses implement :meth:`token_flow`. The class attributes say how the token is sent:
    ``header_name`` and ``prefix`` (``Authorization: Bearer <token>`` by default).
    """

    header_name: str = "Authorization"
    prefix: str = "Bearer "
    #: Key under which a persistent store keeps this provider's token; None = never persisted.
    cache_key: str | None = None

    @abc.abstractmethod
    def token_flow(self) -> TokenFlow:
        """Obtain a fresh token: yield the operations to send, return the :class:`AccessToken`."""

    def auth_headers(self, token: AccessToken) -> dict[str, str]:
        """The headers that carry ``token``."""
        return {self.header_name: f"{self.prefix}{token.value}"}

    def on_unauthorized(self, token: AccessToken) -> None:  # noqa: B027 - optional hook
        """Called when the server rejected ``token`` with 401 (the cache then refreshes once)."""

    def shared_identity(self) -> str | None:
        """A stable, secret-free name for this credential's token in a shared store (a fingerprint), or None
        when its tokens must not be shared between processes (the default). Providers whose every process
        obtains the same token, such as client credentials, return one; :class:`~atriumn.core.RedisState`
        then keeps one token for all of them."""
        return None

    def fixed_headers(self) -> dict[str, str] | None:
        """The headers when they never change (nothing to fetch or refresh), else None.

        The transport then puts them on each request without asking the token cache, and a 401 is final:
        re-sending the same credential cannot help.
        """
        return None

    @property
    def cache(self) -> TokenCache:
        """This provider's :class:`TokenCache` (one per provider, shared by every transport using it)."""
        existing: TokenCache | None = self.__dict__.get("_atriumn_cache")
        if existing is None:
            with _CACHE_CREATION:  # two threads asking at once must get the same cache
                existing = self.__dict__.get("_atriumn_cache") or TokenCache(self)
        return existing

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class StaticToken(TokenProvider):
    """A fixed bearer token (or any fixed value under a chosen header).

    Args:
        token: the token value.
        header_name: header that carries it. Default ``Authorization``.
        prefix: text before the value. Default ``"Bearer "``.
    """

    def __init__(self, token: str, *, header_name: str = "Authorization", prefix: str = "Bearer ") -> None:
        if not isinstance(token, str) or not token.strip():
            raise ConfigurationError("token: must be a non-empty string")
        self._token = AccessToken(value=token)
        self.header_name = header_name
        self.prefix = prefix

    def token_flow(self) -> TokenFlow:
        """Return the fixed token (no request)."""
        return self._token
        yield  # pragma: no cover - makes this a generator

    def fixed_headers(self) -> dict[str, str] | None:
        """The headers that carry the fixed token (see :meth:`TokenProvider.fixed_headers`).

        None for a subclass that overrides ``token_flow``, ``auth_headers`` or ``on_unauthorized``: its token
        or headers may change, so it goes through the token cache like any other provider.
        """
        cls = type(self)
        if (
            cls.token_flow is not StaticToken.token_flow
            or cls.auth_headers is not TokenProvider.auth_headers
            or cls.on_unauthorized is not TokenProvider.on_unauthorized
        ):
            return None
        return self.auth_headers(self._token)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(header_name={self.header_name!r})"


class ApiKey(StaticToken):
    """An API key sent in a provider's own header.

    Examples: ``ApiKey(key, header_name="x-api-key", prefix="")`` (Anthropic),
    ``ApiKey(key, header_name="x-goog-api-key", prefix="")`` (Gemini),
    ``ApiKey(key)`` (``Authorization: Bearer``; OpenAI, Groq).
    """


class EnvironmentToken(TokenProvider):
    """A token read from the first set environment variable among ``names`` (read at each refresh).

    Raises :class:`ConfigurationError` naming the variables when none is set.
    """

    def __init__(
        self,
        *names: str,
        header_name: str = "Authorization",
        prefix: str = "Bearer ",
        environ: Mapping[str, str] | None = None,
    ) -> None:
        if not names:
            raise ConfigurationError("EnvironmentToken: name at least one environment variable")
        self.names = names
        self.header_name = header_name
        self.prefix = prefix
        self._environ = environ

    def token_flow(self) -> TokenFlow:
        """Read the variable (no request)."""
        env = os.environ if self._environ is None else self._environ
        for name in self.names:
            value = env.get(name, "").strip()
            if value:
                return AccessToken(value=value)
        raise NoCredentialsError([f"{name}: not set" for name in self.names], f"Set {' or '.join(self.names)}.")
        yield  # pragma: no cover

    def __repr__(self) -> str:
        return f"EnvironmentToken({', '.join(repr(n) for n in self.names)})"


# --- the cache -------------------------------------------------------------------------------------

USE, REFRESH, WAIT = "use", "refresh", "wait"


class TokenCache:
    """Caches one provider's token, refreshes it in time, and single-flights refreshes.

    Creating a cache makes it *the* cache of ``provider`` (``provider.cache``), so
    ``TokenCache(provider, store=KeyringTokenStore())`` is how a provider's tokens are persisted.

    Args:
        provider: the token source.
        store: where the token is kept (memory by default; :class:`KeyringTokenStore` to persist).
        advisory_window: seconds before expiry when one caller refreshes in the background of others.
        mandatory_window: seconds before expiry when every caller waits for a fresh token.
        clock: wall-clock time source (injectable for tests).
    """

    def __init__(
        self,
        provider: TokenProvider,
        *,
        store: TokenStore | None = None,
        advisory_window: float = 300.0,
        mandatory_window: float = 30.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if mandatory_window < 0 or advisory_window < mandatory_window:
            raise ConfigurationError("TokenCache: need 0 <= mandatory_window <= advisory_window")
        self.provider = provider
        self.store: TokenStore = store or MemoryTokenStore()
        self.advisory_window = advisory_window
        self.mandatory_window = mandatory_window
        self._clock = clock
        self._cond = threading.Condition(threading.Lock())
        self._token: AccessToken | None = None
        self._lifetime: float | None = None  # seconds the current token had left when this cache got it
        self._loaded = False
        self._refreshing = False
        self._error: BaseException | None = None
        self._rejected: str | None = None  # the value the server last refused (never taken from shared state)
        self._shared: Any = None  # this credential's SharedTokens (see _shared_tokens)
        self._async_waiters: list[tuple[asyncio.AbstractEventLoop, asyncio.Future[None]]] = []
        #: How many refreshes ran (successful or not); for tests and metrics.
        self.refresh_count = 0
        provider.__dict__["_atriumn_cache"] = self

    def __repr__(self) -> str:
        return f"TokenCache(provider={self.provider!r}, store={self.store!r})"

    # sans-IO decision, called with the condition's lock held
    def _decide(self, force: bool) -> tuple[str, AccessToken | None]:
        if not self._loaded:
            self._loaded = True
            key = self.provider.cache_key
            if key is not None:
                self._token = self.store.load(key)
        token = self._token
        left = token.expires_in(self._clock()) if token is not None else -1.0
        advisory, mandatory = self.advisory_window, self.mandatory_window
        if self._lifetime is not None:  # short-lived tokens get proportionally shorter windows
            advisory, mandatory = min(advisory, self._lifetime / 2), min(mandatory, self._lifetime / 4)
        if token is not None and not force and left > advisory:
            return USE, token
        if token is not None and not force and left > mandatory:
            if self._refreshing:
                return USE, token
            self._refreshing = True
            return REFRESH, token  # advisory: on failure the old token is still good
        if self._refreshing:
            return WAIT, None
        self._refreshing = True
        return REFRESH, None

    def _finish(self, token: AccessToken | None, error: BaseException | None) -> None:
        with self._cond:
            self.refresh_count += 1
            if token is not None:
                self._token = token
                lifetime = token.expires_in(self._clock())
                self._lifetime = lifetime if 0 < lifetime < float("inf") else None
                key = self.provider.cache_key
                if key is not None:
                    try:
                        self.store.save(key, token)
                    except Exception:
                        logger.warning("could not persist the refreshed token", exc_info=False)
            self._error = error
            self._refreshing = False
            self._cond.notify_all()
            waiters, self._async_waiters = self._async_waiters, []
        for loop, fut in waiters:
            with contextlib.suppress(RuntimeError):  # that loop is closed: nobody is waiting any more
                loop.call_soon_threadsafe(_resolve, fut)

    def invalidate(self, token: AccessToken | None = None) -> None:
        """Drop the cached token (only if it is still ``token``, when given), so the next call refreshes."""
        with self._cond:
            if token is None or self._token is token:
                if self._token is not None:
                    self._rejected = self._token.value
                self._token = None
                key = self.provider.cache_key
                if key is not None:
                    self.store.delete(key)

    def peek(self) -> AccessToken | None:
        """The cached token without refreshing."""
        with self._cond:
            return self._token

    def set(self, token: AccessToken) -> None:
        """Put a token obtained elsewhere (e.g. from a login) into the cache and its store."""
        self._finish(token, None)

    def get_token(
        self,
        run: Callable[[Operation[Any]], Any],
        *,
        force: bool = False,
        on_refresh: Callable[[], None] | None = None,
        shared: Any = None,
    ) -> AccessToken:
        """A valid token; refreshes through ``run`` (which sends an operation) when needed. Thread-safe.

        ``on_refresh`` is called when this caller is the one that refreshes (for counting refreshes).
        ``shared``: a :class:`~atriumn.core.RedisState` whose token this process uses, and refreshes for
        every process sharing it (see :mod:`._shared_tokens`), when the provider has a ``shared_identity``.
        """
        with self._cond:
            while True:
                action, token = self._decide(force)
                if action != WAIT:
                    break
                self._cond.wait()
                if self._error is not None:  # the refresh we waited for failed: every waiter gets its error
                    raise self._error
                force = False
        if action == USE:
            assert token is not None
            return token
        if shared is not None and self.provider.shared_identity() is not None:
            from ._shared_tokens import refresh_cache_sync

            return refresh_cache_sync(self, shared, run, token, on_refresh)
        if on_refresh is not None:
            on_refresh()
        return self._refresh_sync(run, token)

    def _run_flow_sync(self, run: Callable[[Operation[Any]], Any]) -> AccessToken:
        flow = self.provider.token_flow()
        try:
            op = next(flow)
            while True:
                try:
                    result = run(op)
                except BaseException as exc:
                    op = flow.throw(exc)
                else:
                    op = flow.send(result)
        except StopIteration as stop:
            token: AccessToken = stop.value
            return token
        finally:
            flow.close()

    def _refresh_sync(self, run: Callable[[Operation[Any]], Any], old: AccessToken | None) -> AccessToken:
        try:
            new = self._run_flow_sync(run)
        except BaseException as exc:
            return self._conclude(old, None, exc)
        return self._conclude(old, new, None)

    def _conclude(self, old: AccessToken | None, new: AccessToken | None, exc: BaseException | None) -> AccessToken:
        """Publish a refresh's outcome to every waiter; an advisory failure keeps the old token."""
        if new is not None:
            self._finish(new, None)
            return new
        assert exc is not None
        # Waiters see an Exception; a cancellation of the refreshing task only wakes them to try again.
        self._finish(None, exc if old is None and isinstance(exc, Exception) else None)
        if old is not None and isinstance(exc, Exception):
            logger.warning("advisory token refresh failed; keeping the current token: %s", type(exc).__name__)
            return old
        raise exc

    async def get_token_async(
        self,
        run: Callable[[Operation[Any]], Any],
        *,
        force: bool = False,
        on_refresh: Callable[[], None] | None = None,
        shared: Any = None,
    ) -> AccessToken:
        """A valid token; ``run`` is an async function that sends an operation. Task- and thread-safe.
        ``shared`` as for :meth:`get_token`."""
        while True:
            with self._cond:
                action, token = self._decide(force)
                if action == WAIT:
                    import asyncio

                    loop = asyncio.get_running_loop()
                    fut: asyncio.Future[None] = loop.create_future()
                    self._async_waiters.append((loop, fut))
            if action != WAIT:
                break
            await fut
            with self._cond:
                if self._error is not None:  # the refresh we waited for failed: every waiter gets its error
                    raise self._error
            force = False
        if action == USE:
            assert token is not None
            return token
        if shared is not None and self.provider.shared_identity() is not None:
            from ._shared_tokens import refresh_cache_async

            return await refresh_cache_async(self, shared, run, token, on_refresh)
        if on_refresh is not None:
            on_refresh()
        try:
            new = await self._run_flow_async(run)
        except BaseException as exc:
            return self._conclude(token, None, exc)
        return self._conclude(token, new, None)

    async def _run_flow_async(self, run: Callable[[Operation[Any]], Any]) -> AccessToken:
        flow = self.provider.token_flow()
        try:
            op = next(flow)
            while True:
                try:
                    result = await run(op)
                except BaseException as exc:
                    op = flow.throw(exc)
                else:
                    op = flow.send(result)
        except StopIteration as stop:
            token: AccessToken = stop.value
            return token
        finally:
            flow.close()


def _resolve(fut: asyncio.Future[None]) -> None:
    if not fut.done():
        fut.set_result(None)


class _ApiKeyFromEnvironment(EnvironmentToken):
    """``ATRIUMN_API_KEY``: the default credential when ``atriumn-auth`` (client credentials, saved sessions) is
    not installed."""

    def token_flow(self) -> TokenFlow:
        """Read ``ATRIUMN_API_KEY``; when unset, say what else would work."""
        env = os.environ if self._environ is None else self._environ
        value = env.get("ATRIUMN_API_KEY", "").strip()
        if value:
            return AccessToken(value=value)
        raise NoCredentialsError(
            [
                "ATRIUMN_API_KEY: not set",
                "ATRIUMN_CLIENT_ID + ATRIUMN_CLIENT_SECRET, and sessions saved by `atriumn auth login`: "
                "need atriumn-auth, which is not installed",
            ],
            "Set ATRIUMN_API_KEY, pass credentials=, or install atriumn-auth (pip install atriumn-auth).",
        )
        yield  # pragma: no cover


@functools.lru_cache(maxsize=1)
def _default_factory() -> Callable[..., TokenProvider] | None:
    """The ``default`` entry point of the ``atriumn.credentials`` group (atriumn-auth's chain), if installed."""
    from importlib.metadata import entry_points

    for ep in entry_points(group="atriumn.credentials"):
        if ep.name == "default":
            factory: Callable[..., TokenProvider] = ep.load()
            return factory
    return None


def default_credentials(environ: Mapping[str, str] | None = None, *, profile: str | None = None) -> TokenProvider:
    """The credential a client uses when given none: the default chain of the installed distributions.

    With ``atriumn-auth`` installed, its ``DefaultCredential`` (arguments → ``ATRIUMN_API_KEY`` →
    ``ATRIUMN_CLIENT_ID`` + ``ATRIUMN_CLIENT_SECRET`` → the session saved by ``atriumn auth login``); without
    it, ``ATRIUMN_API_KEY``. Nothing is looked up until a call needs a token; when nothing is found, that call
    raises :class:`NoCredentialsError` listing every source tried, before sending. ``profile`` names the saved
    session to use (default: ``ATRIUMN_PROFILE``, else ``default``).
    """
    factory = _default_factory()
    if factory is None:
        return _ApiKeyFromEnvironment("ATRIUMN_API_KEY", environ=environ)
    return factory(environ=environ, profile=profile)
