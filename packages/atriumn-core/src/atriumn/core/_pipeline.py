"""The request pipeline, written once as a sans-IO generator and driven by both transports.

``call_flow`` is the whole policy chain for one call, in this order:

1. prepare (once per call): URL, body, headers, request id, replay safety, deadline, operation span;
2. per attempt: rate limit → circuit breaker → credentials → timeouts → attempt span and log → send;
3. outcome: success is decoded; a 401 refreshes the token once; any other failure is classified and
   either retried (after a backoff) or raised, scrubbed of every secret the request carried.

It never does I/O and never sleeps: it yields instructions (:class:`Send`, :class:`Sleep`,
:class:`Authenticate`) and receives their results. A :class:`Send` carries a plain :class:`~._http.Request`
and receives a :class:`~._http.Response` (or a :class:`~._http.Failed`): the sync driver executes it with the
httpx2 backend and ``time.sleep``, the async driver with the httpx2 or the aiohttp backend and
``asyncio.sleep`` — the same decisions, in the same order, whichever sends.

When no OpenTelemetry SDK is installed (spans and instruments are no-ops), no span, context, attribute or
propagation work is done at all.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Generator, Mapping
from typing import Any, TypeVar

import httpx2

from ._breaker import BreakerRegistry
from ._credentials import TokenProvider
from ._errors import APIError, AtriumnError, RequestTimeoutError, TransportError
from ._http import Failed, Request, Response
from ._instructions import Authenticate, Coordinate, Send, Sleep, Timeouts
from ._operation import Operation
from ._options import record_response
from ._outcome import api_error, classify, decode, finish_attempt, log_attempt, phase_of
from ._prepare import (
    HeaderSets,
    build_url,
    form_body,
    merge_headers,
    new_request_id,
    origin_of,
    replay_headers,
    request_body,
    secrets_of,
)
from ._ratelimit import TokenBucket
from ._redact import Scrubber
from ._retry import RetryBudget, RetryPolicy, decide, parse_retry_after
from ._telemetry import StatsRecorder, instruments

__all__ = ["Authenticate", "Coordinate", "PipelineConfig", "Send", "Sleep", "Timeouts", "call_flow", "origin_of"]

logger = logging.getLogger("atriumn.core.transport")

T = TypeVar("T")


@dataclasses.dataclass(kw_only=True)
class PipelineConfig:
    """Everything the flow needs from a transport (shared, read-only during a call)."""

    base_url: httpx2.URL
    base_prefix: str
    origin: tuple[str, str, int]
    credentials: TokenProvider | None
    timeouts: Timeouts
    deadline: float | None
    retry: RetryPolicy
    budget: RetryBudget
    breakers: BreakerRegistry
    bucket: TokenBucket | None
    headers: Mapping[str, str]
    user_agent: str
    idempotency_header: str
    stats: StatsRecorder
    trace_origins: frozenset[tuple[str, str, int]]
    query: Mapping[str, Any] | None = None
    replay_unsafe: bool = True
    shared: Any = None  # a RedisState: rate limits and breakers shared by processes (see _shared_call)

    def __post_init__(self) -> None:
        self.timeout_dict = self.timeouts.as_dict()
        self.longest_timeout = max(self.timeout_dict.values())
        # Built once per transport: every call starts from a copy.
        self.static_headers: dict[str, str] = {"User-Agent": self.user_agent}
        merge_headers(self.static_headers, self.headers)
        self.attempt_labels = [f"attempt={n}; max={self.retry.max_retries + 1}" for n in range(1, 5)]
        self.fixed_auth: dict[str, str] | None = None  # the credentials' fixed headers, once known
        self.header_sets = HeaderSets(self.static_headers)  # a call's first headers, merged once per set


class _Call:
    """One call's state as it moves through the phases (prepared once, updated per attempt)."""

    __slots__ = (
        "_own_headers", "_scrubber", "body", "breaker", "budget_s", "cfg", "credentials", "deadline", "force_token",
        "headers", "max_attempts", "method", "op", "propagate", "refreshed_after_401", "replay_safe", "request_id",
        "retries", "shared", "shown_url", "stale_token", "start", "target",
    )  # fmt: skip

    def __init__(self, cfg: PipelineConfig, op: Operation[Any]) -> None:
        self.cfg = cfg
        self.op = op
        self.start = time.monotonic()
        self.budget_s = op.timeout if op.timeout is not None else cfg.deadline
        self.deadline = self.start + self.budget_s if self.budget_s is not None else None
        self.method = op.method.upper()
        if cfg.query:
            op = op.evolve(query={**cfg.query, **(op.query or {})})
            self.op = op
        self.target = target = build_url(cfg.base_prefix, op)
        self.shown_url = target.shown
        own_origin = target.origin == cfg.origin
        self.propagate = own_origin or target.origin in cfg.trace_origins
        self.body, content_type = request_body(op)
        self.credentials = credentials = cfg.credentials if (op.authenticated and own_origin) else None
        auth = cfg.fixed_auth if credentials is not None else None
        if auth is not None:  # a fixed key, known from an earlier call: it goes on the headers once, with the rest
            self.credentials = None
        headers, given_id = cfg.header_sets.copy(content_type if self.body is not None else None, op.headers, auth)
        self.request_id = None
        if own_origin:
            if given_id is None:
                headers["X-Request-Id"] = given_id = new_request_id()
            self.request_id = given_id
        self.replay_safe = replay_headers(
            op if cfg.replay_unsafe or op.idempotent is not None else op.evolve(idempotent=False),
            self.method,
            headers,
            header_name=cfg.idempotency_header,
            retries=cfg.retry.max_retries,
        )
        # One dict per call: each attempt updates it in place (attempt header, credentials, trace context), as
        # it is sent and as failures are scrubbed of its secrets.
        self.headers = headers
        self.breaker: Any = cfg.breakers.for_host(target.breaker_key)
        self.shared: Any = None
        if cfg.shared is not None:
            from ._shared_call import CallCoordinator

            lease = min(cfg.longest_timeout, self.budget_s or cfg.longest_timeout)
            self.shared = CallCoordinator(cfg.shared, op.shared_scope, target.breaker_key, self.breaker, lease)
            self.breaker = self.shared.breaker
        self.max_attempts = cfg.retry.max_retries + 1
        self.retries = 0
        self.refreshed_after_401 = False
        self.force_token = False
        self.stale_token: Any = None
        self._scrubber: Scrubber | None = None
        self._own_headers: set[str] | None = None

    # --- credentials ----------------------------------------------------------------------------------

    def use_fixed_credentials(self) -> None:
        """A fixed key goes on the headers once: no cache round trip per attempt, no refresh after a 401."""
        credentials = self.credentials
        if credentials is not None:
            fixed = self.cfg.fixed_auth
            if fixed is None:
                fixed = credentials.fixed_headers()
                if fixed is not None:  # they never change: asked once per transport
                    self.cfg.fixed_auth = fixed
            if fixed is not None:
                merge_headers(self.headers, fixed)  # credentials win over any header of the same name
                self.credentials = None

    def may_refresh(self, status: int | None) -> bool:
        """A 401 with a refreshable credential: refresh the token once and send again."""
        if status != 401 or self.credentials is None or self.refreshed_after_401:
            return False
        self.refreshed_after_401 = self.force_token = True
        return True

    # --- limits ---------------------------------------------------------------------------------------

    def rate_limit_wait(self) -> float:
        """Seconds to wait for the client-side rate limit's slot (raises when past the deadline)."""
        bucket = self.cfg.bucket
        if bucket is None:
            return 0.0
        return self.within_deadline(bucket.reserve(), bucket.cancel, "client-side")

    def within_deadline(self, wait: float, cancel: Any, which: str) -> float:
        """``wait``, unless it ends past the call's deadline: then the slot is given back and the call raises."""
        if wait > 0 and self.deadline is not None and time.monotonic() + wait > self.deadline:
            cancel()
            raise RequestTimeoutError(
                f"{self.method} {self.shown_url}: the {which} rate limit needs {wait:.2f}s, past the "
                f"call's deadline of {self.budget_s:.3g}s",
                method=self.method, url=self.shown_url, sent=False, phase="rate_limit", timeout=self.budget_s,
            )  # fmt: skip
        return wait

    def attempt_timeouts(self) -> dict[str, float]:
        """This attempt's per-phase timeouts, each capped by what is left of the deadline."""
        timeouts = self.cfg.timeout_dict
        if self.deadline is None:
            return timeouts
        left = self.deadline - time.monotonic()
        if left <= 0:
            made = self.retries  # attempts made so far (each retry follows one)
            when = f"after {made} attempt{'s' if made > 1 else ''}" if made else "before the request was sent"
            raise RequestTimeoutError(
                f"{self.method} {self.shown_url}: the call's deadline of {self.budget_s:.3g}s passed {when}",
                method=self.method, url=self.shown_url, sent=False, phase="deadline", timeout=self.budget_s,
            )  # fmt: skip
        if left >= self.cfg.longest_timeout:
            return timeouts
        return {k: min(v, left) for k, v in timeouts.items()}

    # --- outcome --------------------------------------------------------------------------------------

    def attempt_label(self) -> str:
        """The ``Atriumn-Attempt`` header's value for this attempt."""
        labels = self.cfg.attempt_labels
        n = self.retries
        return labels[n] if n < len(labels) else f"attempt={n + 1}; max={self.max_attempts}"

    def form(self, headers: dict[str, str]) -> Any:
        """This attempt's form or multipart body (a fresh boundary and files each time), its headers set on
        ``headers`` — except those the operation gives itself."""
        form_headers, content = form_body(self.op)
        if self._own_headers is None:
            self._own_headers = {k.lower() for k in headers}
        for name in ("Content-Type", "Content-Length", "Transfer-Encoding"):
            if name.lower() not in self._own_headers:
                if name in form_headers:
                    headers[name] = form_headers[name]
                else:
                    headers.pop(name, None)
        return content

    def transport_failure(self, failed: Failed, timeouts: Mapping[str, float]) -> TransportError:
        """A failure to send, as our error (naming the phase and how long was waited)."""
        capped = timeouts is not self.cfg.timeout_dict
        phase = phase_of(failed.kind)
        deadline = capped and phase is not None and timeouts[phase] < self.cfg.timeout_dict[phase]
        return classify(
            failed.exc, self.method, self.shown_url, timeouts, deadline=self.budget_s if deadline else None,
            kind=failed.kind,
        )  # fmt: skip

    def response_failure(self, response: Response) -> AtriumnError:
        """The error an error response means (an operation's own error hook first)."""
        hook = self.op.error_hook
        if hook is not None:
            custom = hook(response)
            if isinstance(custom, AtriumnError):
                return custom
        return api_error(
            response, method=self.method, url=self.shown_url, retry_after=parse_retry_after(response.headers)
        )

    def retry_delay(self, failure: AtriumnError, response: Response | None, status: int | None) -> float | None:
        """Seconds to wait before the next attempt, or None to raise ``failure``."""
        cfg = self.cfg
        decision = decide(
            cfg.retry,
            retries_done=self.retries,
            status=status,
            headers=response.headers if response is not None else None,
            sent=failure.sent if isinstance(failure, TransportError) else True,
            replay_safe=self.replay_safe,
            remaining=self.deadline - time.monotonic() if self.deadline is not None else None,
            server_delay=getattr(failure, "retry_after", None),
        )
        if not decision.retry:
            return None
        if cfg.budget.try_acquire(timeout=isinstance(failure, RequestTimeoutError)) is None:
            logger.info("retry budget exhausted; not retrying %s %s", self.method, self.shown_url)
            return None
        self.retries += 1
        cfg.stats.add("retries")
        ins = instruments()
        if ins.metering():
            ins.retries.add(1, {"server.address": self.target.host})
        logger.info(
            "retrying %s %s in %.2fs (attempt %d of %d): %s",
            self.method,
            self.shown_url,
            decision.delay,
            self.retries + 1,
            self.max_attempts,
            status if status is not None else type(failure).__name__,
            extra={"atriumn.attempt": self.retries + 1, "atriumn.delay": decision.delay},
        )
        return decision.delay

    def scrubber(self) -> Scrubber:
        """Every secret this call put on the wire (built on first use: only failures and DEBUG logs need it)."""
        if self._scrubber is None:
            self._scrubber = secrets_of(self.op, self.target, self.headers)
        return self._scrubber


def call_flow(cfg: PipelineConfig, op: Operation[Any]) -> Generator[Any, Any, Any]:
    """The pipeline for one call. See the module docstring for the protocol."""
    call = _Call(cfg, op)
    ins = instruments()
    op_span = op_ctx = None
    if ins.tracing():
        op_span = ins.tracer.start_span(op.name, kind=ins.SpanKind.INTERNAL, attributes={"atriumn.operation": op.name})
        op_ctx = ins.trace.set_span_in_context(op_span)
    error: BaseException | None = None
    try:
        call.use_fixed_credentials()
        while True:
            if cfg.bucket is not None:
                wait = call.rate_limit_wait()
                if wait > 0:
                    yield Sleep(wait)
            if call.shared is not None:
                wait = call.within_deadline(
                    (yield from _coordinate(cfg, call.shared.admit())), call.shared.cancel, "shared"
                )
                if wait > 0:
                    cfg.stats.add("limiter_wait", wait)
                    yield Sleep(wait)
            response, status, failure = yield from _attempt(call, ins, op_ctx)
            ok = response is not None and status is not None and status < 400
            again = not ok and call.may_refresh(status)
            delay: float | None = None
            if not ok and not again:
                if response is not None:
                    failure = call.response_failure(response)
                assert failure is not None
                delay = call.retry_delay(failure, response, status)
            if call.shared is not None:
                headers = response.headers if response is not None else None
                final = ok or (not again and delay is None)
                retry_after = getattr(failure, "retry_after", None)
                opened = yield from _coordinate(cfg, call.shared.report(status, headers, retry_after, final=final))
                if opened:
                    cfg.stats.add("circuit_openings", opened)
                    if ins.metering():
                        ins.breaker_openings.add(opened, {"server.address": call.target.host})
            if ok:
                assert response is not None and status is not None
                cfg.budget.record_success()
                if op_span is not None:
                    op_span.set_attribute("http.response.status_code", status)
                record_response(response, time.monotonic() - call.start)
                if op.stream:
                    response._scrub = _scrub_with(call)
                    return response
                return decode(op, response)
            if again:
                continue
            if delay is None:
                assert failure is not None
                raise failure
            if delay > 0:
                yield Sleep(delay)
    except BaseException as exc:
        error = exc
        if call.shared is not None:
            call.shared.abandon()
        if isinstance(exc, AtriumnError):
            call.scrubber().scrub_exception(exc)
        raise
    finally:
        cfg.stats.end_call(error is not None)
        if op_span is not None:
            if error is not None:
                op_span.set_attribute(
                    "error.type", str(error.status_code) if isinstance(error, APIError) else type(error).__name__
                )
                op_span.set_status(ins.StatusCode.ERROR, type(error).__name__)
            if call.request_id:
                op_span.set_attribute("atriumn.request_id", call.request_id)
            op_span.end()


def _coordinate(cfg: PipelineConfig, plan: Generator[Any, Any, T]) -> Generator[Any, Any, T]:
    """Run one of the shared state's plans: each step it yields goes to the driver as a :class:`Coordinate`."""
    try:
        step = next(plan)
        while True:
            step = plan.send((yield Coordinate(cfg.shared, step, cfg.stats)))
    except StopIteration as stop:
        result: T = stop.value
        return result


def _scrub_with(call: _Call) -> Any:
    """Scrubs an error raised while a streamed body is read of the call's secrets."""

    def scrub(error: BaseException) -> None:
        call.scrubber().scrub_exception(error)

    return scrub


_Outcome = tuple[Response | None, int | None, AtriumnError | None]


def _attempt(call: _Call, ins: Any, op_ctx: Any) -> Generator[Any, Any, _Outcome]:
    """One attempt: circuit breaker → credentials → timeouts → span → send → record the outcome."""
    cfg, op, target = call.cfg, call.op, call.target
    probe = call.breaker.acquire()
    recorded = False
    span = None
    try:
        headers = call.headers
        if call.credentials is not None:
            auth = yield Authenticate(call.credentials, call.force_token, call.stale_token)
            call.force_token = False
            if isinstance(auth, BaseException):
                raise auth
            call.stale_token, auth_headers = auth
            merge_headers(headers, auth_headers)  # credentials win over any header of the same name
        headers["Atriumn-Attempt"] = call.attempt_label()
        timeouts = call.attempt_timeouts()
        if op_ctx is not None:
            span = _attempt_span(call, ins, op_ctx)
        content: Any = call.body
        if content is None:
            content = op.content() if callable(op.content) else op.content
            if content is None and (op.data or op.files):
                content = call.form(headers)
        request = Request(
            call.method, target.url, headers=headers, content=content, timeouts=timeouts, shown_url=target.shown,
            target=target,
        )  # fmt: skip
        sent_at = time.monotonic()
        result = yield Send(request, op.stream)
        elapsed = time.monotonic() - sent_at
        response: Response | None = None
        failure: AtriumnError | None = None
        if type(result) is Response:
            response, status = result, result.status_code
            error_type = str(status) if status >= 400 else ""
        elif type(result) is Failed:
            failure = call.transport_failure(result, timeouts)
            status, error_type = None, type(result.exc).__name__
        else:
            cfg.stats.attempt(elapsed, None)
            if span is not None:
                span.end()
            raise result
        cfg.stats.attempt(elapsed, status)
        recorded = True
        if call.breaker.record(status, probe=probe):
            cfg.stats.add("circuit_openings")
            if ins.metering():
                ins.breaker_openings.add(1, {"server.address": target.host})
        if span is not None or ins.metering():
            finish_attempt(ins, span, status, error_type, elapsed, call.method, target.host, target.port)
        if logger.isEnabledFor(logging.DEBUG):
            log_attempt(
                op, call.shown_url, status, elapsed, call.retries + 1, request, response, error_type, call.scrubber()
            )
    except BaseException:
        if not recorded:
            call.breaker.release(probe=probe)
        raise
    return response, status, failure


def _attempt_span(call: _Call, ins: Any, op_ctx: Any) -> Any:
    """The attempt's CLIENT span (HTTP semantic conventions), its context injected when the origin may see it."""
    target = call.target
    attributes: dict[str, str | int] = {
        "http.request.method": call.method,
        "server.address": target.host,
        "server.port": target.port,
        "url.full": call.shown_url,
    }
    if call.retries:
        attributes["http.request.resend_count"] = call.retries
    span = ins.tracer.start_span(call.method, context=op_ctx, kind=ins.SpanKind.CLIENT, attributes=attributes)
    if call.propagate:
        ins.propagate.inject(call.headers, context=ins.trace.set_span_in_context(span, op_ctx))
    return span
