"""Base classes of the service clients: which transport they use, and closing it.

Every service client (``AuthClient``, ``StorageClient``, ``IngestClient``, ``AIClient`` and their async
twins) takes the same keyword arguments and has the same lifecycle; it is written here once.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypedDict, TypeVar

from ._credentials import TokenProvider, default_credentials
from ._operation import Operation
from ._options import RawResponses, apply_options
from ._transport import Transport
from ._transport_async import AsyncTransport

if TYPE_CHECKING:
    from typing_extensions import Unpack

    from ._redis_state import RedisState

__all__ = ["AsyncServiceClient", "ClientOptions", "ServiceClient"]

_S = TypeVar("_S", bound="ServiceClient")
T = TypeVar("T")


class ClientOptions(TypedDict, total=False):
    """What :meth:`ServiceClient.with_options` (and ``ChatClient.with_options``) may change.

    Attributes:
        timeout: the overall deadline per call, in seconds.
        max_retries: retries per call.
        extra_headers: headers added to every request.
        extra_query: query parameters added to every request.
        base_url: the service's base URL.
        replay_unsafe: replay non-idempotent requests after they may have reached the server.
    """

    timeout: float
    max_retries: int
    extra_headers: Mapping[str, str]
    extra_query: Mapping[str, Any]
    base_url: str
    replay_unsafe: bool


def _transport_changes(transport: Any, options: Mapping[str, Any]) -> dict[str, Any]:
    unknown = set(options) - set(ClientOptions.__annotations__)
    if unknown:
        raise TypeError(f"with_options() got an unexpected keyword argument {sorted(unknown)[0]!r}")
    changes: dict[str, Any] = {}
    if "timeout" in options:
        changes["deadline"] = options["timeout"]
    if "max_retries" in options:
        changes["max_retries"] = options["max_retries"]
    if "extra_headers" in options:
        changes["headers"] = {**transport.extra_headers, **options["extra_headers"]}
    if "extra_query" in options:
        changes["query"] = {**transport.query, **options["extra_query"]}
    if "base_url" in options:
        changes["base_url"] = options["base_url"]
    if "replay_unsafe" in options:
        changes["replay_unsafe"] = options["replay_unsafe"]
    return changes


_A = TypeVar("_A", bound="AsyncServiceClient")


class ServiceClient:
    """Base of the synchronous service clients.

    Args:
        base_url: the service's base URL (else ``ATRIUMN_API_BASE_URL``, else the Atriumn API).
        credentials: a :class:`TokenProvider` (sent only to the base URL's origin). Default, when neither this
            nor ``transport`` is given: :func:`default_credentials` — ``ATRIUMN_API_KEY``, client credentials
            from the environment, or the session saved by ``atriumn auth login`` (with ``atriumn-auth``
            installed); a call that needs a token and finds none raises :class:`NoCredentialsError` listing
            what was tried, before sending.
        transport: a shared :class:`Transport`; the client shares its pool and does not close it (it
            derives one with ``with_options`` when ``base_url`` or ``credentials`` differ).
        deadline: overall deadline per call, in seconds; max_retries: retries per call.
        shared_state: a :class:`RedisState` sharing tokens, breakers and rate limits with other processes
            (else ``ATRIUMN_REDIS_URL``'s, else the transport's).
    """

    def __init__(
        self,
        *,
        base_url: str | None = None,
        credentials: TokenProvider | None = None,
        transport: Transport | None = None,
        deadline: float | None = None,
        max_retries: int | None = None,
        shared_state: RedisState | None = None,
    ) -> None:
        if credentials is None and transport is None:
            credentials = default_credentials()
        self._transport, self._owns_transport = Transport.for_client(
            transport, base_url=base_url, credentials=credentials, deadline=deadline, max_retries=max_retries,
            shared_state=shared_state,
        )  # fmt: skip

    @property
    def transport(self) -> Transport:
        """The transport this client sends through."""
        return self._transport

    @property
    def with_raw_response(self) -> RawResponses:
        """Every method of this client, returning a :class:`RawResponse` (status, headers, request id, elapsed
        time, raw body, and ``.parse()`` for the usual result): ``client.with_raw_response.get_content(id)``."""
        return RawResponses(self)

    def with_options(self: _S, **options: Unpack[ClientOptions]) -> _S:
        """A client like this one with some options changed, sharing its connection pool, token cache,
        circuit breakers and retry budget: ``client.with_options(timeout=5, max_retries=0)``."""
        clone = copy.copy(self)
        clone._transport = self._transport.with_options(**_transport_changes(self._transport, options))
        clone._owns_transport = False
        return clone

    def _send(self, options: Mapping[str, Any], op: Operation[T]) -> T:
        """Send ``op`` with the call's :class:`RequestOptions` applied."""
        return self._transport.send(apply_options(op, options) if options else op)

    def close(self) -> None:
        """Close the transport, if this client created it."""
        if self._owns_transport:
            self._transport.close()

    def __enter__(self: _S) -> _S:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"{type(self).__name__}(base_url={self._transport.base_url!r})"


class AsyncServiceClient:
    """Base of the asynchronous service clients (same arguments as :class:`ServiceClient`)."""

    def __init__(
        self,
        *,
        base_url: str | None = None,
        credentials: TokenProvider | None = None,
        transport: AsyncTransport | None = None,
        deadline: float | None = None,
        max_retries: int | None = None,
        shared_state: RedisState | None = None,
    ) -> None:
        if credentials is None and transport is None:
            credentials = default_credentials()
        self._transport, self._owns_transport = AsyncTransport.for_client(
            transport, base_url=base_url, credentials=credentials, deadline=deadline, max_retries=max_retries,
            shared_state=shared_state,
        )  # fmt: skip

    @property
    def transport(self) -> AsyncTransport:
        """The transport this client sends through."""
        return self._transport

    @property
    def with_raw_response(self) -> RawResponses:
        """See :attr:`ServiceClient.with_raw_response` (the methods are awaitable)."""
        return RawResponses(self)

    def with_options(self: _A, **options: Unpack[ClientOptions]) -> _A:
        """See :meth:`ServiceClient.with_options`."""
        clone = copy.copy(self)
        clone._transport = self._transport.with_options(**_transport_changes(self._transport, options))
        clone._owns_transport = False
        return clone

    async def _send(self, options: Mapping[str, Any], op: Operation[T]) -> T:
        """Send ``op`` with the call's :class:`RequestOptions` applied."""
        return await self._transport.send(apply_options(op, options) if options else op)

    async def aclose(self) -> None:
        """Close the transport, if this client created it."""
        if self._owns_transport:
            await self._transport.aclose()

    async def close(self) -> None:
        """Alias of :meth:`aclose`."""
        await self.aclose()

    async def __aenter__(self: _A) -> _A:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    def __repr__(self) -> str:
        return f"{type(self).__name__}(base_url={self._transport.base_url!r})"
