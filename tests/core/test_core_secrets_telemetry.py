"""Secrets never leak (logs at DEBUG, span attributes, exceptions, reprs), and the telemetry's shape:
spans, metrics, ``traceparent`` only to the service's own origin, ``stats()``."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Generator
from typing import Any

import pytest
from core_helpers import FAST, KINDS, SHORT, backend_of
from opentelemetry import trace

from atriumn.core import (
    RAW,
    AccessToken,
    ApiKey,
    AsyncTransport,
    AtriumnError,
    Operation,
    StaticToken,
    TokenProvider,
    Transport,
)
from tests.faultserver import Fault, FaultServer, RecordedRequest, Reply

BEARER = "sk-BEARER-7f3a9c1e5d"
API_KEY = "ak-APIKEY-2b8d4f6a0c"
COOKIE = "ck-COOKIE-9e1f3a5c7b"
GOOG_KEY = "gk-GOOGKEY-4c6e8a0b2d"
SIGNATURE = "SIG-5e7a9c1b3d5f"
PASSWORD = "pw-PASSWORD-8d0f2b4c6e"
CLIENT_SECRET = "cs-CLIENTSECRET-1a3c5e7f9b"
ISSUED = "at-ISSUED-6f8b0d2a4c"
REFRESH = "rt-REFRESH-0e2c4a6b8d"
SECRETS = [BEARER, API_KEY, COOKIE, GOOG_KEY, SIGNATURE, PASSWORD, CLIENT_SECRET, ISSUED, REFRESH]

OK = Reply(200, json={"ok": True})


class ClientSecretFlow(TokenProvider):
    """Client credentials: the secret goes in a form body, the answer carries an access and a refresh token."""

    def token_flow(self) -> Generator[Operation[Any], Any, AccessToken]:
        doc = yield Operation(
            method="POST",
            path="/token",
            data={"grant_type": "client_credentials", "client_id": "cid", "client_secret": CLIENT_SECRET},
            response_type=RAW,
        )
        return AccessToken(value=doc["access_token"], refresh_token=doc["refresh_token"], expires_at=None)


def secret_op(path: str = "/login") -> Operation[Any]:
    return Operation(
        method="POST",
        path=path,
        query={"signature": SIGNATURE, "page": 2},
        json={"username": "bob", "password": PASSWORD, "client_secret": CLIENT_SECRET},
        headers={"Cookie": f"session={COOKIE}", "x-goog-api-key": GOOG_KEY},
        response_type=RAW,
    )


def handler(req: RecordedRequest) -> Reply | Fault:
    """The token endpoint issues ISSUED; /fail-* paths fail in several ways, echoing secrets back."""
    if req.path == "/token":
        return Reply(200, json={"access_token": ISSUED, "refresh_token": REFRESH, "token_type": "Bearer"})
    if req.path == "/fail-400":
        echo = {"error": "bad_request", "error_description": "bad", "password": PASSWORD, "token": BEARER}
        return Reply(400, json=echo, headers={"Set-Cookie": f"session={COOKIE}"})
    if req.path == "/fail-reset":
        return Fault.reset_after_head()
    if req.path == "/fail-json":
        return Reply.invalid_json(body=f'{{"client_secret": "{CLIENT_SECRET}", "access_token": "{ISSUED}"'.encode())
    if req.path == "/fail-503":
        return Reply(503, body=f"upstream said password={PASSWORD}", content_type="text/plain")
    return OK


PROVIDERS = {
    "static": lambda: StaticToken(BEARER),
    "x-api-key": lambda: ApiKey(API_KEY, header_name="x-api-key", prefix=""),
    "client-credentials": ClientSecretFlow,
}
PATHS = ["/login", "/fail-400", "/fail-reset", "/fail-json", "/fail-503"]


def _run(kind: str, url: str, provider: TokenProvider, ops: list[Operation[Any]]) -> tuple[list[Any], list[str]]:
    results: list[Any] = []
    reprs: list[str] = []
    if kind == "sync":
        with Transport(url, credentials=provider, retry=FAST, timeouts=SHORT) as t:
            for op in ops:
                try:
                    results.append(t.send(op))
                except AtriumnError as exc:
                    results.append(exc)
            reprs.append(repr(t))
        return results, reprs

    async def main() -> None:
        async with AsyncTransport(url, credentials=provider, retry=FAST, timeouts=SHORT, backend=backend_of(kind)) as t:
            for op in ops:
                try:
                    results.append(await t.send(op))
                except AtriumnError as exc:
                    results.append(exc)
            reprs.append(repr(t))

    asyncio.run(main())
    return results, reprs


def _exception_texts(exc: BaseException) -> list[str]:
    texts = [str(exc), repr(exc), repr(exc.args), repr(vars(exc))]
    for linked in (exc.__cause__, exc.__context__):
        if linked is not None:
            texts += [str(linked), repr(linked)]
    return texts


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("provider_name", list(PROVIDERS))
def test_no_secret_in_logs_spans_errors_or_reprs(
    kind: str, provider_name: str, srv: FaultServer, srv2: FaultServer, otel: Any, caplog: pytest.LogCaptureFixture
) -> None:
    srv.default = handler
    srv2.default = handler
    provider = PROVIDERS[provider_name]()
    ops = [secret_op(p) for p in PATHS] + [secret_op(srv2.url + "/presigned")]  # another origin: no credentials
    caplog.set_level(logging.DEBUG)  # every logger, at DEBUG: ours, httpx2's, httpcore's
    results, reprs = _run(kind, srv.url, provider, ops)

    # The calls really happened, failed the intended ways, and carried the secrets on the wire.
    assert [type(r).__name__ for r in results] == ["dict", "BadRequestError", "NetworkError", "DecodeError",
                                                   "ServerError", "dict"]  # fmt: skip
    wire = " ".join(repr(r.headers.raw) + r.target + r.body.decode() for r in srv.requests)
    for secret in (SIGNATURE, PASSWORD, CLIENT_SECRET, COOKIE, GOOG_KEY):
        assert secret in wire
    credential = {"static": BEARER, "x-api-key": API_KEY, "client-credentials": ISSUED}[provider_name]
    assert credential in wire
    assert not any("authorization" in r.headers or "x-api-key" in r.headers for r in srv2.requests)
    assert [r.headers.get("x-api-key") is not None for r in srv.requests if r.path == "/login"] == [
        provider_name == "x-api-key"
    ]

    haystack: list[str] = []
    assert caplog.records, "nothing was logged at DEBUG"
    assert any(r.name.startswith("atriumn") and r.levelno == logging.DEBUG for r in caplog.records)
    for record in caplog.records:
        haystack.append(record.getMessage())
        haystack.extend(f"{k}={v!r}" for k, v in vars(record).items())
    spans = otel.finished()
    assert len(spans) >= len(ops) * 2
    for span in spans:
        haystack.append(span.name)
        haystack.extend(f"{k}={v!r}" for k, v in (span.attributes or {}).items())
        haystack.append(repr(span.status.description))
        for event in span.events:
            haystack.extend(f"{k}={v!r}" for k, v in (event.attributes or {}).items())
    for result in results:
        if isinstance(result, BaseException):
            haystack.extend(_exception_texts(result))
    token = provider.cache.peek()
    haystack += [*reprs, repr(provider), repr(provider.cache), repr(token), str(token), repr(provider.cache.store)]
    text = "\n".join(haystack)
    assert "REDACTED" in text  # the redaction really ran over secret-bearing data
    for secret in SECRETS:
        assert secret not in text, f"{secret} leaked"


def test_atriumn_debug_logs_one_structured_record_per_attempt(
    srv: FaultServer, caplog: pytest.LogCaptureFixture
) -> None:
    srv.script(Reply(503), Reply(200, json={"ok": True}, headers={"x-request-id": "srv-req-1"}))
    caplog.set_level(logging.DEBUG, logger="atriumn")
    with Transport(srv.url, credentials=StaticToken(BEARER), retry=FAST) as t:
        t.send(secret_op())
    attempts = [r for r in caplog.records if r.name == "atriumn.core.transport" and r.levelno == logging.DEBUG]
    assert len(attempts) == 2
    first, second = attempts
    assert [getattr(r, "atriumn.status") for r in attempts] == [503, 200]
    assert [getattr(r, "atriumn.attempt") for r in attempts] == [1, 2]
    assert getattr(second, "atriumn.method") == "POST"
    assert getattr(second, "atriumn.url") == f"{srv.url}/login?signature=REDACTED&page=2"
    assert getattr(second, "atriumn.request_id") == "srv-req-1"
    assert getattr(first, "atriumn.request_id")  # our own X-Request-Id when the server gave none
    assert getattr(second, "atriumn.request_headers")["authorization"] == "REDACTED"
    assert getattr(second, "atriumn.duration_ms") >= 0
    assert [r for r in caplog.records if r.levelno == logging.INFO and r.getMessage().startswith("retrying")]


# --- span shape -----------------------------------------------------------------------------------------------


def _attrs(span: Any) -> dict[str, Any]:
    return dict(span.attributes or {})


def test_one_internal_span_per_call_and_one_client_span_per_attempt(srv: FaultServer, otel: Any) -> None:
    srv.script(Reply(503), OK)
    with Transport(srv.url, retry=FAST) as t:
        t.send(Operation(method="GET", path="/thing", query={"signature": SIGNATURE}, span_name="things.get"))
    spans = otel.finished()
    (op_span,) = [s for s in spans if s.kind == trace.SpanKind.INTERNAL]
    clients = sorted((s for s in spans if s.kind == trace.SpanKind.CLIENT), key=lambda s: s.start_time)
    assert op_span.name == "things.get"
    assert _attrs(op_span)["http.response.status_code"] == 200
    assert _attrs(op_span)["atriumn.request_id"]
    assert len(clients) == 2
    for span in clients:
        assert span.name == "GET"
        assert span.parent is not None and span.parent.span_id == op_span.context.span_id
        assert span.context.trace_id == op_span.context.trace_id
        a = _attrs(span)
        assert a["http.request.method"] == "GET"
        assert (a["server.address"], a["server.port"]) == ("127.0.0.1", srv.port)
        assert a["url.full"] == f"{srv.url}/thing?signature=REDACTED"
    first, second = (_attrs(s) for s in clients)
    assert (first["http.response.status_code"], first["error.type"]) == (503, "503")
    assert "http.request.resend_count" not in first
    assert clients[0].status.status_code == trace.StatusCode.ERROR
    assert (second["http.response.status_code"], second["http.request.resend_count"]) == (200, 1)
    assert "error.type" not in second


def test_transport_failure_spans(srv: FaultServer, otel: Any) -> None:
    srv.default = Fault.reset_before_head()
    with (
        Transport(srv.url, retry=FAST.__class__(max_retries=1, initial_backoff=0.001)) as t,
        pytest.raises(AtriumnError),
    ):
        t.send(Operation(method="DELETE", path="/x/{id}", path_params={"id": "a b"}))
    spans = otel.finished()
    (op_span,) = [s for s in spans if s.kind == trace.SpanKind.INTERNAL]
    clients = [s for s in spans if s.kind == trace.SpanKind.CLIENT]
    assert op_span.name == "DELETE /x/{id}"  # the template, not the value
    assert _attrs(op_span)["error.type"] == "NetworkError"
    assert op_span.status.status_code == trace.StatusCode.ERROR
    assert len(clients) == 2
    assert [_attrs(s).get("http.request.resend_count") for s in clients] == [None, 1]
    for span in clients:
        a = _attrs(span)
        assert "http.response.status_code" not in a
        assert a["error.type"] in ("RemoteProtocolError", "ReadError", "ConnectError", "NetworkError")
        assert a["url.full"] == f"{srv.url}/x/a%20b"


def test_spans_nest_under_the_callers_span(srv: FaultServer, otel: Any) -> None:
    tracer = trace.get_tracer("test")
    with tracer.start_as_current_span("user.work") as parent, Transport(srv.url) as t:
        t.send(Operation(method="GET", path="/a"))
    (op_span,) = [s for s in otel.finished() if s.name == "GET /a"]
    assert op_span.kind == trace.SpanKind.INTERNAL
    assert op_span.parent is not None and op_span.parent.span_id == parent.get_span_context().span_id


@pytest.mark.parametrize("kind", KINDS)
def test_traceparent_and_credentials_only_for_the_own_origin(
    kind: str, srv: FaultServer, srv2: FaultServer, otel: Any
) -> None:
    ops = [Operation(method="GET", path="/own"), Operation(method="GET", path=srv2.url + "/elsewhere?sig=x")]
    _run(kind, srv.url, StaticToken(BEARER), ops)
    (own,) = srv.requests
    (other,) = srv2.requests
    assert own.headers["authorization"] == f"Bearer {BEARER}"
    client = next(s for s in otel.finished() if s.kind == trace.SpanKind.CLIENT and "/own" in _attrs(s)["url.full"])
    ctx = client.context
    version, trace_id, span_id, flags = own.headers["traceparent"].split("-")
    assert (version, trace_id, span_id) == ("00", f"{ctx.trace_id:032x}", f"{ctx.span_id:016x}")
    assert int(flags, 16) & 1  # sampled
    assert "x-request-id" in own.headers
    assert "authorization" not in other.headers
    assert "traceparent" not in other.headers
    assert "x-request-id" not in other.headers
    assert other.headers["atriumn-attempt"] == "attempt=1; max=4"


def test_trace_origins_opt_in(srv: FaultServer, srv2: FaultServer, otel: Any) -> None:
    with Transport(srv.url, credentials=StaticToken(BEARER), trace_origins=(srv2.url,)) as t:
        t.send(Operation(method="GET", path=srv2.url + "/traced"))
    (other,) = srv2.requests
    assert "traceparent" in other.headers
    assert "authorization" not in other.headers  # tracing opt-in never sends credentials


def test_unauthenticated_operations_carry_no_credentials(srv: FaultServer) -> None:
    with Transport(srv.url, credentials=StaticToken(BEARER)) as t:
        t.send(Operation(method="GET", path="/public", authenticated=False))
    assert "authorization" not in srv.requests[0].headers


# --- metrics and stats ------------------------------------------------------------------------------------------


def test_request_duration_histogram_per_attempt(srv: FaultServer, otel: Any) -> None:
    def counts() -> dict[Any, int]:
        points = otel.histogram_points("http.client.request.duration", **{"server.port": srv.port})
        return {p.attributes.get("http.response.status_code"): p.count for p in points}

    # The metrics are cumulative over the session, and an earlier test's server may have had this port: deltas.
    before = counts()
    srv.script(Reply(503), Reply(503), OK)
    with Transport(srv.url, retry=FAST) as t:
        t.send(Operation(method="GET", path="/m"))
    after = counts()
    assert after.get(503, 0) - before.get(503, 0) == 2
    assert after.get(200, 0) - before.get(200, 0) == 1
    points = otel.histogram_points("http.client.request.duration", **{"server.port": srv.port})
    by_status = {p.attributes.get("http.response.status_code"): p for p in points}
    assert by_status[503].attributes["error.type"] == "503"
    assert by_status[200].attributes["http.request.method"] == "GET"
    assert all(p.sum >= 0 for p in points)


def test_stats(srv: FaultServer) -> None:
    srv.script(Reply(503), OK, Reply(404), Fault.reset_after_head(), OK)
    with Transport(srv.url, retry=FAST) as t:
        assert t.stats().requests == 0
        t.send(Operation(method="GET", path="/a"))
        with pytest.raises(AtriumnError):
            t.send(Operation(method="GET", path="/b"))
        t.send(Operation(method="GET", path="/c"))
        derived = t.with_options(headers={"x-extra": "1"})
        derived.send(Operation(method="GET", path="/d"))
        s = t.stats()
    assert (s.requests, s.calls, s.errors, s.retries) == (6, 4, 1, 2)
    assert derived.stats() == s  # derived transports share the figures
    assert 0 < s.p50_ms <= s.p95_ms
    assert s.circuit_openings == 0
