"""The shared transport of the Atriumn SDK.

Every request the SDK makes goes through a :class:`Transport` (or :class:`AsyncTransport`, which sends with
httpx2 or, optionally, aiohttp): one connection pool, an overall deadline per call, retries that replay a
request only when that is safe (an idempotent method, or an Idempotency-Key the server honours; see
:attr:`Operation.idempotent`), a circuit breaker per host, optional client-side rate limiting, credentials with
a single-flight token cache, OpenTelemetry spans and metrics, redacted logging, and optionally state shared by
processes on Redis (:class:`RedisState`). Service packages (``atriumn.auth``, ``atriumn.storage``, ...) build
:class:`Operation` s and send them through it.
"""

from typing import TYPE_CHECKING, Any

from ._breaker import CircuitBreaker, CircuitBreakerPolicy, CircuitState
from ._clients import AsyncServiceClient, ClientOptions, ServiceClient
from ._config import DEFAULT_BASE_URL, parse_duration
from ._credentials import (
    ApiKey,
    EnvironmentToken,
    StaticToken,
    TokenCache,
    TokenFlow,
    TokenProvider,
    default_credentials,
)
from ._errors import (
    APIError,
    AtriumnError,
    AuthenticationError,
    BadRequestError,
    CircuitOpenError,
    ConfigurationError,
    ConflictError,
    ConnectError,
    DecodeError,
    NetworkError,
    NoCredentialsError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    RequestTimeoutError,
    ServerError,
    TransportError,
    UnprocessableEntityError,
    ValidationError,
)
from ._http import Headers, Request, Response
from ._operation import RAW, RESPONSE, Operation
from ._options import RawResponse, RawResponses, RequestOptions, apply_options
from ._pagination import AsyncPager, Page, Pager
from ._pipeline import Timeouts
from ._ratelimit import RateLimit
from ._redact import Scrubber, redact_body, redact_headers, redact_url
from ._retry import RetryBudget, RetryPolicy, parse_retry_after
from ._serde import converter_for, structure, unstructure
from ._settings import PoolLimits, register_component
from ._stores import FileTokenStore, KeyringTokenStore, MemoryTokenStore, default_credentials_path
from ._telemetry import TransportStats, enable_debug_logging
from ._tokens import AccessToken, TokenStore
from ._transport import Transport
from ._transport_async import AsyncTransport
from ._version import __version__

if TYPE_CHECKING:
    from ._redis_state import RedisState, SharedStateStats
    from ._shared_limits import SharedLimit

# Imported on first use: the shared state is optional (``atriumn-core[redis]``) and ``import atriumn.core`` stays fast.
_LAZY = {"RedisState": "_redis_state", "SharedStateStats": "_redis_state", "SharedLimit": "_shared_limits"}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'atriumn.core' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


__all__ = [
    "DEFAULT_BASE_URL",
    "RAW",
    "RESPONSE",
    "APIError",
    "AccessToken",
    "ApiKey",
    "AsyncPager",
    "AsyncServiceClient",
    "AsyncTransport",
    "AtriumnError",
    "AuthenticationError",
    "BadRequestError",
    "CircuitBreaker",
    "CircuitBreakerPolicy",
    "CircuitOpenError",
    "CircuitState",
    "ClientOptions",
    "ConfigurationError",
    "ConflictError",
    "ConnectError",
    "DecodeError",
    "EnvironmentToken",
    "FileTokenStore",
    "Headers",
    "KeyringTokenStore",
    "MemoryTokenStore",
    "NetworkError",
    "NoCredentialsError",
    "NotFoundError",
    "Operation",
    "Page",
    "Pager",
    "PermissionDeniedError",
    "PoolLimits",
    "RateLimit",
    "RateLimitError",
    "RawResponse",
    "RawResponses",
    "RedisState",
    "Request",
    "RequestOptions",
    "RequestTimeoutError",
    "Response",
    "RetryBudget",
    "RetryPolicy",
    "Scrubber",
    "ServerError",
    "ServiceClient",
    "SharedLimit",
    "SharedStateStats",
    "StaticToken",
    "Timeouts",
    "TokenCache",
    "TokenFlow",
    "TokenProvider",
    "TokenStore",
    "Transport",
    "TransportError",
    "TransportStats",
    "UnprocessableEntityError",
    "ValidationError",
    "__version__",
    "apply_options",
    "converter_for",
    "default_credentials",
    "default_credentials_path",
    "enable_debug_logging",
    "parse_duration",
    "parse_retry_after",
    "redact_body",
    "redact_headers",
    "redact_url",
    "register_component",
    "structure",
    "unstructure",
]
