"""Servers echo what they were sent ("Incorrect API key provided: …", "bad client_secret …"): every secret a
request carried is scrubbed by value from what the SDK derives from the answer — the error's message,
description, body and headers, the DEBUG log records and the spans — sync and async, whatever the body's
format. Error codes and ordinary words stay readable.

The planted secrets are shaped so that no name- or shape-based rule could find them in free text: only the
value-based scrubbing can."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable, Generator
from typing import Any
from urllib.parse import quote

import pytest
from core_helpers import FAST, KINDS, backend_of

from atriumn.core import (
    RAW,
    AccessToken,
    APIError,
    ApiKey,
    AsyncTransport,
    AtriumnError,
    Operation,
    StaticToken,
    TokenProvider,
    Transport,
)
from tests.faultserver import FaultServer, RecordedRequest, Reply

STATIC = "plantStatic-qz7w"
XKEY = "plantXKey-r8v2"
GOOG = "plantGoog-m4k1"
ISSUED = "plantIssued-t5n9"
CLIENT_SECRET = "plant Client/Secret&9"  # needs escaping in JSON, in URLs and in forms
PASSWORD = 'plant"Pass\\word5'
REFRESH = "plantRefresh-h3j6"
QUERY_SECRET = "plantQuery-p2x8"
ALL = [STATIC, XKEY, GOOG, ISSUED, CLIENT_SECRET, PASSWORD, REFRESH, QUERY_SECRET]


class IssuedToken(TokenProvider):
    """A refreshable credential: the token endpoint issues ISSUED for the client secret."""

    def token_flow(self) -> Generator[Operation[Any], Any, AccessToken]:
        doc = yield Operation(
            method="POST", path="/token", json={"client_id": "cid", "client_secret": CLIENT_SECRET}, response_type=RAW
        )
        return AccessToken(value=doc["access_token"])


PROVIDERS: dict[str, Callable[[], TokenProvider]] = {
    "static": lambda: StaticToken(STATIC),
    "x-api-key": lambda: ApiKey(XKEY, header_name="x-api-key", prefix=""),
    "x-goog-api-key": lambda: ApiKey(GOOG, header_name="x-goog-api-key", prefix=""),
    "refreshable": IssuedToken,
}


def _everything(req: RecordedRequest) -> str:
    """What a careless server echoes: every header value, the query and the body, as it received them."""
    return " | ".join([*(v for _, v in req.headers.raw), req.target, req.body.decode("utf-8", "replace")])


def echo(req: RecordedRequest) -> Reply:
    if req.path == "/token":
        return Reply(200, json={"access_token": ISSUED, "token_type": "Bearer"})
    sent = _everything(req)
    form = req.path.rsplit("/", 1)[-1]
    if form == "json":  # OpenAI's error shape: the key echoed in the message, a readable code
        error = {"message": f"Incorrect API key provided: {sent}", "type": "invalid_request_error",
                 "code": "invalid_api_key", "echo": sent}  # fmt: skip
        return Reply(401, json={"error": error})
    if form == "text":
        return Reply(400, body=f"rejected {sent}", content_type="text/plain")
    if form == "html":
        return Reply(502, body=f"<html><head><title>bad {sent}</title></head><body>{sent}</body></html>",
                     content_type="text/html")  # fmt: skip
    if form == "escaped":  # the echo JSON-escaped and percent-encoded, as servers re-encode what they got
        return Reply(409, json={"error": "conflict", "error_description": f"{quote(sent, safe='')} {json.dumps(sent)}"})
    if form == "header":
        return Reply(400, json={"error": "bad_request", "error_description": "see header"},
                     headers={"x-echo": sent[:3000]})  # fmt: skip
    if form == "after-retry":  # a retried 503 that echoes, then the final error
        return Reply(503, body=f"upstream could not use {sent}", content_type="text/plain")
    return Reply(200, json={"ok": True})


FORMS = ["json", "text", "html", "escaped", "header", "after-retry"]


def op(form: str) -> Operation[Any]:
    return Operation(
        method="POST",
        path=f"/v1/{form}",
        query={"api_key": QUERY_SECRET, "page": 2},
        json={"username": "bob", "password": PASSWORD, "client_secret": CLIENT_SECRET, "refresh_token": REFRESH},
        response_type=RAW,
    )


def _send_all(kind: str, url: str, provider: TokenProvider) -> list[Any]:
    results: list[Any] = []
    if kind == "sync":
        with Transport(url, credentials=provider, retry=FAST) as t:
            for form in FORMS:
                try:
                    results.append(t.send(op(form)))
                except AtriumnError as exc:
                    results.append(exc)
        return results

    async def main() -> None:
        async with AsyncTransport(url, credentials=provider, retry=FAST, backend=backend_of(kind)) as t:
            for form in FORMS:
                try:
                    results.append(await t.send(op(form)))
                except AtriumnError as exc:
                    results.append(exc)

    asyncio.run(main())
    return results


def _texts(exc: BaseException) -> list[str]:
    texts = [str(exc), repr(exc), repr(exc.args), repr(vars(exc))]
    if isinstance(exc, APIError):
        texts += [exc.description, exc.body, json.dumps(dict(exc.headers))]
    return texts


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("provider_name", list(PROVIDERS))
def test_echoed_secrets_are_scrubbed_everywhere(
    kind: str, provider_name: str, srv: FaultServer, otel: Any, caplog: pytest.LogCaptureFixture
) -> None:
    srv.default = echo
    caplog.set_level(logging.DEBUG)
    results = _send_all(kind, srv.url, PROVIDERS[provider_name]())

    assert [type(r).__name__ for r in results] == [
        "AuthenticationError", "BadRequestError", "ServerError", "ConflictError", "BadRequestError", "ServerError",
    ]  # fmt: skip
    credential = {"static": STATIC, "x-api-key": XKEY, "x-goog-api-key": GOOG, "refreshable": ISSUED}[provider_name]
    echoed = " ".join(_everything(r) for r in srv.requests)  # the secrets really were on the wire
    for secret in (credential, CLIENT_SECRET, QUERY_SECRET, REFRESH):
        assert secret in echoed

    haystack: list[str] = []
    for result in results:
        haystack += _texts(result)
    for record in caplog.records:
        haystack.append(record.getMessage())
        haystack.extend(f"{k}={v!r}" for k, v in vars(record).items())
    for span in otel.finished():
        haystack.extend(f"{k}={v!r}" for k, v in (span.attributes or {}).items())
        haystack.append(repr(span.status.description))
    text = "\n".join(haystack)
    for secret in ALL:
        for form in {secret, quote(secret, safe=""), json.dumps(secret)[1:-1]}:
            assert form not in text, f"{secret!r} leaked as {form!r}"
    assert text.count("REDACTED") >= len(FORMS)


def test_error_codes_and_words_stay_readable(srv: FaultServer) -> None:
    srv.script(
        Reply(401, json={"error": {"message": "Incorrect API key provided: sk-proj-abcdefghijklmnopqrstu",
                                   "type": "invalid_request_error", "code": "invalid_api_key"}}),
        Reply(400, json={"error": {"code": 400, "message": "API key not valid", "status": "INVALID_ARGUMENT"}}),
        Reply(401, json={"error": "unauthorized", "error_description": "missing bearer token"}),
    )  # fmt: skip
    errors: list[APIError] = []
    with Transport(srv.url, credentials=ApiKey("sk-unrelated-key-0000"), max_retries=0) as t:
        for _ in range(3):
            with pytest.raises(APIError) as info:
                t.send(Operation(method="GET", path="/x", response_type=RAW))
            errors.append(info.value)
    openai, google, atriumn = errors
    assert (openai.code, openai.type) == ("invalid_api_key", "invalid_request_error")  # as the official SDK reads it
    assert '"code": "invalid_api_key"' in openai.body
    assert "sk-proj" not in str(openai) and "REDACTED" in str(openai)  # a key shape is still caught
    assert (google.code, google.type) == ("INVALID_ARGUMENT", None)
    assert '"code": 400' in google.body
    assert str(atriumn) == "401 unauthorized: missing bearer token"


def test_secrets_echoed_by_a_token_endpoint_are_scrubbed(srv: FaultServer) -> None:
    srv.default = lambda req: Reply(
        401, json={"error": "invalid_client", "error_description": f"bad {_everything(req)}"}
    )
    with Transport(srv.url, credentials=IssuedToken(), max_retries=0) as t, pytest.raises(APIError) as info:
        t.send(Operation(method="GET", path="/x", response_type=RAW))
    assert info.value.code == "invalid_client"
    for text in _texts(info.value):
        assert CLIENT_SECRET not in text and json.dumps(CLIENT_SECRET)[1:-1] not in text
    assert "REDACTED" in info.value.description
