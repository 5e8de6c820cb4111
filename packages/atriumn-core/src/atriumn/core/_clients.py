"""Base classes of the service clients: which transport they use, and closing it.

Every service client (``AuthClient``, ``StorageClient``, ``IngestClient``, ``AIClient`` and their async
twins) takes the same keyword arguments and has the same lifecycle; it is written here once.
"""

from __future__ import annotations

from types import TracebackType
from typing import TypeVar

from ._credentials import TokenProvider, default_credentials
from ._transport import AsyncTransport, Transport

__all__ = ["AsyncServiceClient", "ServiceClient"]

_S = TypeVar("_S", bound="ServiceClient")
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
    """

    def __init__(
        self,
        *,
        base_url: str | None = None,
        credentials: TokenProvider | None = None,
        transport: Transport | None = None,
        deadline: float | None = None,
        max_retries: int | None = None,
    ) -> None:
        if credentials is None and transport is None:
            credentials = default_credentials()
        self._transport, self._owns_transport = Transport.for_client(
            transport, base_url=base_url, credentials=credentials, deadline=deadline, max_retries=max_retries
        )

    @property
    def transport(self) -> Transport:
        """The transport this client sends through."""
        return self._transport

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
    ) -> None:
        if credentials is None and transport is None:
            credentials = default_credentials()
        self._transport, self._owns_transport = AsyncTransport.for_client(
            transport, base_url=base_url, credentials=credentials, deadline=deadline, max_retries=max_retries
        )

    @property
    def transport(self) -> AsyncTransport:
        """The transport this client sends through."""
        return self._transport

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
