"""The Atriumn Auth API and the credential providers that use it.

- :class:`AuthClient` / :class:`AsyncAuthClient`: tokens, signup, login, logout, password reset, profile,
  and admin client credentials.
- :class:`ClientCredentials`, :class:`UserSession`, :class:`DefaultCredential`: token providers for any
  Atriumn client (``StorageClient(credentials=ClientCredentials(...))``).
"""

from atriumn.core import register_component

from ._client import AsyncAuthClient, AuthClient
from ._models import (
    ClientCredential,
    CodeDeliveryDetails,
    CreatedClientCredential,
    HealthStatus,
    SignupResult,
    TokenResponse,
    UserProfile,
)
from ._providers import ClientCredentials, DefaultCredential, UserSession, session_store
from ._version import __version__

register_component("auth", __version__)

__all__ = [
    "AsyncAuthClient",
    "AuthClient",
    "ClientCredential",
    "ClientCredentials",
    "CodeDeliveryDetails",
    "CreatedClientCredential",
    "DefaultCredential",
    "HealthStatus",
    "SignupResult",
    "TokenResponse",
    "UserProfile",
    "UserSession",
    "__version__",
    "session_store",
]
