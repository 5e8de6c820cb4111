"""The shared transport of the Atriumn SDK.

Every request the SDK makes goes through a :class:`Transport` (or :class:`AsyncTransport`, which sends with
httpx2 or, optionally, aiohttp): one connection pool, an overall deadline per call, retries that replay a
request only when that is safe (an idempotent method, or an Idempotency-Key the server honours; see
:attr:`Operation.idempotent`), a circuit breaker per host, optional client-side rate limiting, credentials with
a single-flight token cache, OpenTelemetry spans and metrics, and redacted logging. Service packages
(``atriumn.auth``, ``atriumn.storage``, ...) build :class:`Operation` s and send them through it.
"""

from ._breaker import CircuitBreaker, CircuitBreakerPolicy, CircuitState
from ._clients import AsyncServiceClient, ServiceClient
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
from ._transport import AsyncTransport, Transport
from ._version import __version__

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
    "Request",
    "RequestTimeoutError",
    "Response",
    "RetryBudget",
    "RetryPolicy",
    "Scrubber",
    "ServerError",
    "ServiceClient",
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
