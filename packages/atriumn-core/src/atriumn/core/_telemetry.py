"""OpenTelemetry spans and metrics (API only), transport statistics, and logging set-up.

The library depends on ``opentelemetry-api`` alone: until the application installs the SDK every span and
instrument is a no-op. The API is imported on first use, not at ``import atriumn.core``.

Span and metric names:
    - one INTERNAL span per operation, named by the operation (``auth.login``);
    - one CLIENT span per attempt, named ``{METHOD}`` per the HTTP client semantic conventions, with
      ``http.request.method``, ``server.address``, ``server.port``, ``url.full`` (redacted),
      ``http.response.status_code``, ``error.type``, ``http.request.resend_count``;
    - histogram ``http.client.request.duration`` (seconds);
    - counters ``atriumn.client.retries``, ``atriumn.client.circuit_breaker.openings``,
      ``atriumn.client.token.refreshes``, ``atriumn.client.shared_state.fallbacks`` (calls answered from local
      state because Redis could not be reached).
"""

from __future__ import annotations

import dataclasses
import logging
import sys
import threading
from collections import deque
from collections.abc import Mapping
from typing import Any

from ._config import env_bool

__all__ = ["Instruments", "TransportStats", "enable_debug_logging", "instruments"]

LOGGER_NAME = "atriumn"


class Instruments:
    """The tracer and metric instruments of the SDK (created once, lazily)."""

    def __init__(self) -> None:
        from opentelemetry import metrics, propagate, trace

        from ._version import __version__

        self.trace = trace
        self.propagate = propagate
        self.tracer = trace.get_tracer("atriumn.core", __version__)
        meter = metrics.get_meter("atriumn.core", __version__)
        self.duration = meter.create_histogram(
            "http.client.request.duration", unit="s", description="Duration of HTTP client requests."
        )
        self.retries = meter.create_counter(
            "atriumn.client.retries", unit="{retry}", description="Retries made by Atriumn transports."
        )
        self.breaker_openings = meter.create_counter(
            "atriumn.client.circuit_breaker.openings",
            unit="{opening}",
            description="Circuit breaker openings.",
        )
        self.token_refreshes = meter.create_counter(
            "atriumn.client.token.refreshes", unit="{refresh}", description="Token refreshes."
        )
        self.shared_fallbacks = meter.create_counter(
            "atriumn.client.shared_state.fallbacks",
            unit="{fallback}",
            description="Shared-state steps answered from local state because Redis could not be reached.",
        )
        self.SpanKind = trace.SpanKind
        self.StatusCode = trace.StatusCode
        # While no provider is installed every span and instrument is a no-op, and the pipeline skips building
        # spans, contexts, attributes and propagation. The API's public ways to ask (get_tracer_provider()) look
        # up an environment variable on each call; the module globals they read are checked instead.
        from opentelemetry.metrics import _internal as metrics_internal

        self._trace_module = trace
        self._metrics_module = metrics_internal
        self._tracing = self._metering = False

    def tracing(self) -> bool:
        """Whether spans are recorded (a tracer provider was installed): checked per call, cheaply."""
        if not self._tracing:
            provider = getattr(self._trace_module, "_TRACER_PROVIDER", _UNKNOWN)
            if provider is _UNKNOWN:  # pragma: no cover - a future API without the global: ask the public way
                provider = self.trace.get_tracer_provider()
            self._tracing = provider is not None and type(provider).__name__ not in _NOOP_PROVIDERS
        return self._tracing

    def metering(self) -> bool:
        """Whether metrics are recorded (a meter provider was installed)."""
        if not self._metering:
            provider = getattr(self._metrics_module, "_METER_PROVIDER", _UNKNOWN)
            if provider is _UNKNOWN:  # pragma: no cover
                from opentelemetry import metrics

                provider = metrics.get_meter_provider()
            self._metering = provider is not None and type(provider).__name__ not in _NOOP_PROVIDERS
        return self._metering


_UNKNOWN: Any = object()
#: The API's stand-ins for a provider (no-ops).
_NOOP_PROVIDERS = frozenset({"ProxyTracerProvider", "NoOpTracerProvider", "_ProxyMeterProvider", "NoOpMeterProvider"})


_instruments: Instruments | None = None
_instruments_lock = threading.Lock()


def instruments() -> Instruments:
    """The process's :class:`Instruments`."""
    global _instruments
    if _instruments is None:
        with _instruments_lock:
            if _instruments is None:
                _instruments = Instruments()
    return _instruments


@dataclasses.dataclass(frozen=True, kw_only=True)
class TransportStats:
    """A snapshot of a transport's activity, for users without OpenTelemetry.

    Attributes:
        requests: attempts sent (each retry counts).
        calls: logical calls completed (successfully or not).
        errors: calls that ended in an error.
        retries: retries made.
        circuit_openings: times a circuit opened.
        token_refreshes: token refreshes made.
        p50_ms, p95_ms: attempt latency percentiles over the last 2,048 attempts, in milliseconds.
        responses: responses received by status class (``{"2xx": 120, "4xx": 3}``; transport failures are not
            responses).
        rate_limited: 429 responses received.
        limiter_wait: seconds calls spent waiting for the shared rate limiter (a :class:`RedisState`'s, or its
            local fallback's).
        redis_round_trips: round trips to the shared state's Redis made for these calls.
        redis_fallbacks: shared-state steps answered from local state because Redis could not be reached.
    """

    requests: int = 0
    calls: int = 0
    errors: int = 0
    retries: int = 0
    circuit_openings: int = 0
    token_refreshes: int = 0
    p50_ms: float = 0.0
    p95_ms: float = 0.0
    responses: Mapping[str, int] = dataclasses.field(default_factory=dict)
    rate_limited: int = 0
    limiter_wait: float = 0.0
    redis_round_trips: int = 0
    redis_fallbacks: int = 0


class StatsRecorder:
    """Counters behind :class:`TransportStats` (thread-safe; shared by transports derived from one another)."""

    def __init__(self, window: int = 2048) -> None:
        self._lock = threading.Lock()
        self._latencies: deque[float] = deque(maxlen=window)
        self.requests = self.calls = self.errors = self.retries = 0
        self.circuit_openings = self.token_refreshes = 0
        self.rate_limited = self.redis_round_trips = self.redis_fallbacks = 0
        self.limiter_wait = 0.0
        self._classes = [0] * 6  # responses by status // 100

    def attempt(self, seconds: float, status: int | None) -> None:
        """Record one attempt: its latency, and its response by status class (None: a transport failure)."""
        with self._lock:
            self.requests += 1
            self._latencies.append(seconds)
            if status is not None and 100 <= status < 600:
                self._classes[status // 100] += 1
                if status == 429:
                    self.rate_limited += 1

    def end_call(self, failed: bool) -> None:
        """Count one call (and one error when it failed)."""
        with self._lock:
            self.calls += 1
            if failed:
                self.errors += 1

    def add(self, name: str, amount: float = 1) -> None:
        """Increment a counter by name."""
        with self._lock:
            setattr(self, name, getattr(self, name) + amount)

    def snapshot(self) -> TransportStats:
        """The current figures."""
        with self._lock:
            lat = sorted(self._latencies)
            counts = {
                "requests": self.requests,
                "calls": self.calls,
                "errors": self.errors,
                "retries": self.retries,
                "circuit_openings": self.circuit_openings,
                "token_refreshes": self.token_refreshes,
                "rate_limited": self.rate_limited,
                "redis_round_trips": self.redis_round_trips,
                "redis_fallbacks": self.redis_fallbacks,
            }
            responses = {f"{i}xx": n for i, n in enumerate(self._classes) if n}
            waited = self.limiter_wait

        def pct(q: float) -> float:
            if not lat:
                return 0.0
            return lat[min(len(lat) - 1, int(q * len(lat)))] * 1000.0

        return TransportStats(**counts, p50_ms=pct(0.50), p95_ms=pct(0.95), responses=responses, limiter_wait=waited)


_debug_handler: logging.Handler | None = None


def enable_debug_logging(stream: Any = None) -> logging.Handler:
    """Send the SDK's DEBUG logs (redacted) to stderr, or ``stream``. Idempotent.

    Libraries should not add handlers; this is the opt-in (also turned on by ``ATRIUMN_DEBUG=1``).
    """
    global _debug_handler
    log = logging.getLogger(LOGGER_NAME)
    if _debug_handler is None:
        handler = logging.StreamHandler(stream or sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        log.addHandler(handler)
        _debug_handler = handler
    log.setLevel(logging.DEBUG)
    return _debug_handler


def debug_from_environment(environ: Mapping[str, str] | None = None) -> None:
    """Honour ``ATRIUMN_DEBUG`` (called when a transport is created, with the transport's ``environ``)."""
    if env_bool("ATRIUMN_DEBUG", environ):
        enable_debug_logging()


class _RedactingFilter(logging.Filter):
    """Redacts URLs in httpx2's own INFO line (``HTTP Request: GET <url>``): pre-signed URLs carry secrets."""

    def filter(self, record: logging.LogRecord) -> bool:
        from ._redact import redact_url

        if isinstance(record.args, tuple) and record.args:
            record.args = tuple(redact_url(str(a)) if type(a).__name__ == "URL" else a for a in record.args)
        return True


class _TracedHeadersFilter(logging.Filter):
    """Redacts headers in httpcore2's DEBUG trace (``receive_response_headers.complete return_value=(...,
    [(b'Set-Cookie', b'...'), ...])``); the message is pre-formatted, so it is rewritten.

    Credential headers are redacted by name. A response header's value is kept only for the names on an
    allow-list (azure-core's rule): any other may echo a secret back, and this filter cannot know the call's
    secrets — the SDK's own DEBUG record shows those headers scrubbed by value.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str) and "headers" in record.msg:
            response = "receive_response_headers" in record.msg
            record.msg = _traced_header_pattern().sub(lambda m: _redact_traced_header(m, response), record.msg)
        return True


#: Response headers whose values httpcore2's trace may show.
SAFE_RESPONSE_HEADERS = frozenset(
    {
        "content-type", "content-length", "content-encoding", "transfer-encoding", "connection", "keep-alive",
        "date", "server", "cache-control", "etag", "last-modified", "vary", "location", "retry-after",
        "retry-after-ms", "x-should-retry", "x-request-id", "request-id", "x-goog-request-id", "openai-version",
        "openai-processing-ms", "anthropic-organization-id",
    }
)  # fmt: skip


def _traced_header_pattern() -> Any:
    global _TRACED_HEADER
    if _TRACED_HEADER is None:
        import re

        _TRACED_HEADER = re.compile(r"""\(b(['"])([^'"]+)\1, b(['"])(?:\\.|(?!\3).)*\3\)""")
    return _TRACED_HEADER


def _redact_traced_header(match: Any, response: bool) -> str:
    from ._redact import REDACTED, SENSITIVE_HEADERS

    name = match.group(2).lower()
    if name in SENSITIVE_HEADERS or (
        response and name not in SAFE_RESPONSE_HEADERS and not name.startswith(("x-ratelimit-", "anthropic-ratelimit-"))
    ):
        quote = match.group(1)
        return f"(b{quote}{match.group(2)}{quote}, b'{REDACTED}')"
    return str(match.group(0))


_TRACED_HEADER: Any = None
_filter_installed = False


def install_httpx_log_filter() -> None:
    """Attach the redacting filters to the ``httpx2`` and ``httpcore2`` loggers once per process."""
    global _filter_installed
    if not _filter_installed:
        logging.getLogger("httpx2").addFilter(_RedactingFilter())
        for name in ("httpcore2.http11", "httpcore2.http2"):  # filters do not apply to child loggers: each one
            logging.getLogger(name).addFilter(_TracedHeadersFilter())
        _filter_installed = True
