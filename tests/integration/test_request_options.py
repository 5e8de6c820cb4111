"""Per-call options, client variants and raw responses (docs/request-options.md) on every client, end to end.

Every client — ``AuthClient``, ``StorageClient``, ``AIClient``, ``IngestClient``, ``ChatClient`` and their async
twins — runs against the session sandbox (``atriumn_sandbox``) over real sockets; ``ChatClient`` against its
LLM provider emulation. What the server received is observed on the server side: :class:`Wire` is an ASGI
middleware put in front of the running sandbox's middleware chain for one test (it records each request's
method, path, query, headers — every occurrence, in order —, body and the client's port), and the ``inspect``
model marker reports the reasoning controls a chat request carried. Nothing on the client side is mocked.

Delays come from the sandbox (``Sandbox.inject_fault("delay:2")`` and ``delay-<ms>`` models) and are far longer
than the per-call timeouts, so a timeout test fails only if the timeout is not applied; nothing sleeps and
nothing measures time. Pool sharing is observed as the reuse of the keep-alive connection (same client port).
"""

from __future__ import annotations

import contextlib
import dataclasses
import gc
import inspect
import io
import json
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any
from urllib.parse import parse_qs

import pytest

from atriumn.ai import AIClient, AsyncAIClient, AsyncChatClient, ChatClient, MemoryCache
from atriumn.auth import AsyncAuthClient, AuthClient, ClientCredentials
from atriumn.core import (
    APIError,
    CircuitOpenError,
    NotFoundError,
    RawResponse,
    RequestTimeoutError,
    ServerError,
    ValidationError,
)
from atriumn.ingest import AsyncIngestClient, IngestClient, TextSource
from atriumn.sandbox import Sandbox
from atriumn.storage import AsyncStorageClient, DownloadURL, StorageClient

MODES = ["sync", "async"]
SERVICES = ["auth", "storage", "ai", "ingest"]
PROVIDERS = ["openai", "anthropic", "gemini", "groq"]

# --- what the server received -------------------------------------------------------------------------------


@dataclasses.dataclass
class Seen:
    """One request as the sandbox received it."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: list[tuple[str, str]]
    port: int | None
    body: bytearray = dataclasses.field(default_factory=bytearray)

    def header(self, name: str) -> str | None:
        values = self.all(name)
        return values[0] if values else None

    def all(self, name: str) -> list[str]:
        return [v for k, v in self.headers if k == name.lower()]

    def json(self) -> Any:
        return json.loads(bytes(self.body))


class Wire:
    """ASGI middleware recording every request that reaches the sandbox (outermost: faulted requests too)."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.seen: list[Seen] = []

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        client = scope.get("client")
        seen = Seen(
            method=scope["method"],
            path=scope["path"],
            query=parse_qs(scope["query_string"].decode(), keep_blank_values=True),
            headers=[(bytes(k).decode("latin-1").lower(), bytes(v).decode("latin-1")) for k, v in scope["headers"]],
            port=client[1] if client else None,
        )
        self.seen.append(seen)

        async def receive_and_keep() -> Any:
            message = await receive()
            if message["type"] == "http.request":
                seen.body += message.get("body", b"")
            return message

        await self.app(scope, receive_and_keep, send)

    def to(self, prefix: str) -> list[Seen]:
        """The requests whose path starts with ``prefix``, in arrival order."""
        return [s for s in self.seen if s.path.startswith(prefix)]

    def tokens(self) -> list[Seen]:
        return self.to("/auth/token")


@pytest.fixture
def wire(atriumn_sandbox: Sandbox) -> Iterator[Wire]:
    """Records what the session sandbox receives during this test (and clears fault rules afterwards)."""
    app = atriumn_sandbox._running()  # the SandboxApp uvicorn serves; its middleware chain is ``_app``
    inner = app._app
    recorder = Wire(inner)
    app._app = recorder  # type: ignore[assignment]  # any ASGI app will do
    try:
        yield recorder
    finally:
        app._app = inner
        atriumn_sandbox.clear_faults()


# --- clients ------------------------------------------------------------------------------------------------

_CLASSES: dict[str, tuple[type, type]] = {
    "auth": (AuthClient, AsyncAuthClient),
    "storage": (StorageClient, AsyncStorageClient),
    "ai": (AIClient, AsyncAIClient),
    "ingest": (IngestClient, AsyncIngestClient),
    "chat": (ChatClient, AsyncChatClient),
}
_KEYS = {"openai": "test-openai-key", "anthropic": "test-anthropic-key", "gemini": "test-gemini", "groq": "test-groq"}


def _llm_urls(url: str) -> dict[str, str]:
    return {"openai": f"{url}/v1", "anthropic": url, "gemini": url, "groq": url}


async def r(value: Any) -> Any:
    """The result of a call on a sync or an async client (awaited when it is awaitable)."""
    return await value if inspect.isawaitable(value) else value


@pytest.fixture
def credentials(atriumn_sandbox: Sandbox) -> ClientCredentials:
    """The sandbox's admin client credential, with a token cache of its own (fresh for each test)."""
    return ClientCredentials(
        client_id=atriumn_sandbox.admin_client_id,
        client_secret=atriumn_sandbox.admin_client_secret,
        base_url=atriumn_sandbox.url,
    )


@pytest.fixture
async def make(atriumn_sandbox: Sandbox, credentials: ClientCredentials) -> AsyncIterator[Callable[..., Any]]:
    """``make(kind, mode, **kwargs)``: a client pointed at the sandbox, closed after the test."""
    made: list[Any] = []

    def factory(kind: str, mode: str, **kwargs: Any) -> Any:
        cls = _CLASSES[kind][mode == "async"]
        if kind == "chat":
            kwargs.setdefault("max_retries", 0)
            client = cls(api_keys=_KEYS, base_urls=_llm_urls(atriumn_sandbox.url), **kwargs)
        else:
            client = cls(base_url=atriumn_sandbox.url, credentials=credentials, **kwargs)
        made.append(client)
        return client

    yield factory
    for client in reversed(made):
        await r(client.close())


def _probe() -> str:
    return uuid.uuid4().hex[:12]


# --- one representative call per service ----------------------------------------------------------------

#: The path of :func:`read`'s request, per service.
READ_PATH = {"auth": "/admin/credentials", "storage": "/generate-upload-url", "ai": "/prompts", "ingest": "/content"}


async def read(service: str, client: Any, **options: Any) -> Any:
    """An authenticated call of ``service`` (one request, to ``READ_PATH[service]``)."""
    if service == "auth":
        return await r(client.list_client_credentials(issued_to="request-options", **options).first_page())
    if service == "storage":
        return await r(client.generate_upload_url(filename="a.txt", content_type="text/plain", **options))
    if service == "ai":
        return await r(client.list_prompts(tags=["request-options"], **options).first_page())
    return await r(client.list_content(page_size=1, **options).first_page())


#: Per service: the path of :func:`create`'s JSON request, a field the SDK itself puts in that body.
CREATE = {
    "auth": ("/admin/credentials", "issued_to"),
    "storage": ("/generate-upload-url", "contentType"),
    "ai": ("/prompts", "template"),
    "ingest": ("/ingest/text", "content"),
}


def _extra_body(service: str, probe: str) -> dict[str, Any]:
    """Fields for :func:`create`'s body that the server uses, so that the result shows they arrived."""
    if service == "storage":
        return {"filename": f"{probe}.txt"}  # replaces the SDK's own "filename"
    if service == "ingest":
        return {"metadata": {"probe": probe}}
    return {"description": probe}


def _shows_extra_body(service: str, result: Any, probe: str) -> bool:
    if service == "storage":
        return bool(result.key.endswith(f"/{probe}.txt"))
    if service == "ingest":
        return bool(result.metadata == {"probe": probe})
    return bool(result.description == probe)


async def create(service: str, client: Any, **options: Any) -> Any:
    """A call of ``service`` with a JSON body (``CREATE[service]``)."""
    if service == "auth":
        return await r(client.create_client_credential(issued_to="request-options", scopes=["read"], **options))
    if service == "storage":
        return await r(client.generate_upload_url(filename="original.txt", content_type="text/plain", **options))
    if service == "ai":
        return await r(client.create_prompt(name="request-options", template="Hi {{name}}", **options))
    return await r(client.ingest_text("request options", **options))


#: Per service (Storage has none: both its endpoints take a JSON body): a call without a request body.
BODYLESS: dict[str, Callable[[Any, dict[str, Any]], Any]] = {
    "auth": lambda c, o: c.health(**o),
    "ai": lambda c, o: c.get_prompt("any-prompt", **o),
    "ingest": lambda c, o: c.get_content("any-content", **o),
    "ingest-multipart": lambda c, o: c.ingest_file(io.BytesIO(b"file body"), filename="a.txt", **o),
}

#: Per service: a call and the path prefix its request goes to (for a delay fault).
SLOW: dict[str, tuple[str, Callable[[Any, dict[str, Any]], Any]]] = {
    "auth": ("/health", lambda c, o: c.health(**o)),
    "storage": (
        "/generate-upload-url",
        lambda c, o: c.generate_upload_url(filename="a.txt", content_type="text/plain", **o),
    ),
    "ai": ("/prompts/", lambda c, o: c.get_prompt("any-prompt", **o)),
    "ingest": ("/content/", lambda c, o: c.get_content("any-content", **o)),
}


# === 1. extra_headers and extra_query arrive ================================================================


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("service", SERVICES)
async def test_extra_headers_and_query_arrive(make: Any, wire: Wire, service: str, mode: str) -> None:
    client = make(service, mode)
    probe = _probe()
    await read(service, client, extra_headers={"X-Probe": probe}, extra_query={"probe": probe, "n": 7})
    (call,) = wire.to(READ_PATH[service])
    assert call.header("x-probe") == probe
    assert call.query["probe"] == [probe]
    assert call.query["n"] == ["7"]
    if service == "ai":  # the method's own query parameters are kept
        assert call.query["tags"] == ["request-options"]
    # They were for that call only.
    await read(service, client)
    assert wire.to(READ_PATH[service])[1].header("x-probe") is None
    assert "probe" not in wire.to(READ_PATH[service])[1].query


@pytest.mark.parametrize("mode", MODES)
async def test_options_apply_to_every_page_of_a_listing(make: Any, wire: Wire, mode: str) -> None:
    client = make("ai", mode)
    tag = _probe()
    for i in range(3):
        await r(client.create_prompt(name=f"p{i}", template="t", tags=[tag]))
    pager = client.list_prompts(tags=[tag], page_size=1, extra_headers={"X-Probe": tag}, extra_query={"probe": tag})
    names = [p.name for p in pager] if mode == "sync" else [p.name async for p in pager]
    assert names == ["p0", "p1", "p2"]
    pages = [s for s in wire.to("/prompts") if s.method == "GET"]
    assert len(pages) >= 3
    assert [(p.header("x-probe"), p.query.get("probe"), p.query.get("tags")) for p in pages] == [
        (tag, [tag], [tag])
    ] * len(pages)


@pytest.mark.parametrize("mode", MODES)
async def test_options_apply_to_every_request_of_a_bulk_ingest(make: Any, wire: Wire, mode: str) -> None:
    client = make("ingest", mode)
    probe = _probe()
    results = await r(
        client.ingest_batch(
            [TextSource(content=f"bulk {i}") for i in range(3)],
            max_concurrency=2,
            extra_headers={"X-Probe": probe},
            extra_query={"probe": probe},
            extra_body={"metadata": {"probe": probe}},
        )
    )
    assert [res.ok for res in results] == [True, True, True]
    assert [res.item.metadata for res in results] == [{"probe": probe}] * 3
    sent = wire.to("/ingest/text")
    assert len(sent) == 3
    assert {(s.header("x-probe"), tuple(s.query["probe"])) for s in sent} == {(probe, (probe,))}


@pytest.mark.parametrize("mode", MODES)
async def test_storage_upload_applies_options_to_its_api_call(make: Any, wire: Wire, mode: str) -> None:
    client = make("storage", mode)
    probe = _probe()
    result = await r(
        client.upload(
            b"hello",
            filename="original.txt",
            extra_headers={"X-Probe": probe},
            extra_query={"probe": probe},
            extra_body={"filename": f"{probe}.txt"},
        )
    )
    assert result.key.endswith(f"/{probe}.txt")
    (api,) = wire.to("/generate-upload-url")
    assert api.header("x-probe") == probe
    assert api.query["probe"] == [probe]
    assert api.json()["filename"] == f"{probe}.txt"


@pytest.mark.parametrize("service", SERVICES)
async def test_extra_headers_win_over_the_sdks_but_not_over_credentials(make: Any, wire: Wire, service: str) -> None:
    client = make(service, "sync")
    probe = _probe()
    headers = {"User-Agent": f"agent-{probe}", "X-Request-Id": f"rid-{probe}", "Authorization": "Bearer forged"}
    await create(service, client, extra_headers=headers)  # an authenticated call: a forged token would be a 401
    (call,) = wire.to(CREATE[service][0])
    assert call.all("user-agent") == [f"agent-{probe}"]
    assert call.all("x-request-id") == [f"rid-{probe}"]
    (authorization,) = call.all("authorization")
    assert authorization != "Bearer forged"


@pytest.mark.parametrize("service", ["ai", "ingest"])
async def test_extra_headers_in_lower_case_replace_the_sdks_and_never_the_credentials(
    make: Any, wire: Wire, service: str
) -> None:
    client = make(service, "sync")
    probe = _probe()
    headers = {"user-agent": f"agent-{probe}", "x-request-id": f"rid-{probe}", "authorization": "Bearer forged"}
    error: APIError | None = None
    try:
        await create(service, client, extra_headers=headers)
    except APIError as exc:
        error = exc
    call = wire.to(CREATE[service][0])[0]
    assert call.all("user-agent") == [f"agent-{probe}"]
    assert call.all("x-request-id") == [f"rid-{probe}"]
    assert len(call.all("authorization")) == 1
    assert call.header("authorization") != "Bearer forged"
    assert error is None


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("service", [*SERVICES, "chat"])
async def test_a_misspelt_option_is_a_type_error_before_any_request(
    make: Any, wire: Wire, service: str, mode: str
) -> None:
    client = make(service, mode)
    misspelt = {"extra_header": {"X-Probe": "1"}}

    async def call() -> Any:
        if service == "chat":
            return await r(client.chat("openai:echo", "hi", **misspelt))
        return await create(service, client, **misspelt)

    with pytest.raises(TypeError, match="extra_header"):
        await call()
    assert wire.seen == []


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("timeout", [0, -1, True, "5"])
@pytest.mark.parametrize("service", ["ai", "chat"])
async def test_an_invalid_timeout_is_a_validation_error_before_any_request(
    make: Any, wire: Wire, service: str, timeout: Any, mode: str
) -> None:
    client = make(service, mode)

    async def call() -> Any:
        if service == "chat":
            return await r(client.chat("openai:echo", "hi", timeout=timeout))
        return await r(client.get_prompt("any-prompt", timeout=timeout))

    with pytest.raises(ValidationError, match="timeout"):
        await call()
    assert [s for s in wire.seen if not s.path.startswith("/auth/token")] == []


# === 2. extra_body ==========================================================================================


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("service", SERVICES)
async def test_extra_body_is_merged_into_the_json_body(make: Any, wire: Wire, service: str, mode: str) -> None:
    client = make(service, mode)
    probe = _probe()
    extra = _extra_body(service, probe)
    result = await create(service, client, extra_body=extra)
    assert _shows_extra_body(service, result, probe)  # the server used the merged field
    path, own_field = CREATE[service]
    (call,) = wire.to(path)
    body = call.json()
    assert {k: body[k] for k in extra} == extra
    assert own_field in body  # the SDK's own fields are still there
    assert call.header("content-type") == "application/json"


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("call", sorted(BODYLESS))
async def test_extra_body_without_a_json_body_is_a_validation_error(
    make: Any, wire: Wire, call: str, mode: str
) -> None:
    client = make(call.split("-")[0], mode)
    with pytest.raises(ValidationError, match="extra_body"):
        await r(BODYLESS[call](client, {"extra_body": {"x": 1}}))
    assert [s for s in wire.seen if not s.path.startswith("/auth/token")] == []


# === 3. timeout =============================================================================================


_TIMEOUT_CASES = [
    *[(service, mode, "per_call") for service in SERVICES for mode in MODES],
    *[("ai", mode, "with_options") for mode in MODES],
]


@pytest.mark.parametrize(("service", "mode", "how"), _TIMEOUT_CASES)
async def test_timeout_applies_to_the_call(
    make: Any, wire: Wire, atriumn_sandbox: Sandbox, service: str, mode: str, how: str
) -> None:
    client = make(service, mode)
    await read(service, client)  # the token is cached and a connection is open: the timeout is the call's
    prefix, call = SLOW[service]
    before = len(wire.to(prefix))
    atriumn_sandbox.inject_fault("delay:2", path_prefix=prefix)
    target, options = (client, {"timeout": 0.05}) if how == "per_call" else (client.with_options(timeout=0.05), {})
    with pytest.raises(RequestTimeoutError) as caught:
        await r(call(target, options))
    assert caught.value.timeout is not None and 0 < caught.value.timeout <= 0.05
    assert len(wire.to(prefix)) == before + 1  # the delayed request arrived once; the deadline left no retry
    assert client.transport.deadline > 10  # the client's own (default, long) deadline is untouched


# === 4. with_options ========================================================================================


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("service", SERVICES)
async def test_with_options_shares_pool_and_token_cache_and_applies_overrides(
    make: Any, wire: Wire, service: str, mode: str
) -> None:
    client = make(service, mode, max_retries=0)
    probe = _probe()
    await read(service, client)
    variant = client.with_options(extra_headers={"X-Variant": probe}, extra_query={"variant": probe}, max_retries=0)
    assert type(variant) is type(client)
    await read(service, variant)
    await read(service, client)
    calls = wire.to(READ_PATH[service])
    assert [c.header("x-variant") for c in calls] == [None, probe, None]
    assert [c.query.get("variant") for c in calls] == [None, [probe], None]
    assert len(wire.tokens()) == 1  # one token for both: the cache is shared
    assert calls[1].port == calls[0].port  # the variant reused the original's keep-alive connection
    # Closing and dropping the variant closes nothing of the original's.
    await r(variant.close())
    del variant
    gc.collect()
    await read(service, client)
    calls = wire.to(READ_PATH[service])
    assert len(calls) == 4
    assert calls[3].port == calls[0].port
    assert len(wire.tokens()) == 1


@pytest.mark.parametrize(
    "mode",
    [
        "sync",
        "async",
    ],
)
async def test_a_variant_made_before_the_first_request_shares_the_pool(make: Any, wire: Wire, mode: str) -> None:
    client = make("ai", mode)
    variant = client.with_options(extra_headers={"X-Variant": "1"})
    await read("ai", client)
    await read("ai", variant)
    first, second = wire.to("/prompts")
    assert second.header("x-variant") == "1"
    assert second.port == first.port


@pytest.mark.parametrize("mode", MODES)
async def test_with_options_overrides_base_url_and_max_retries(
    make: Any, wire: Wire, atriumn_sandbox: Sandbox, mode: str
) -> None:
    client = make("ai", mode, max_retries=1)
    await read("ai", client)
    elsewhere = client.with_options(base_url=f"{atriumn_sandbox.url}/elsewhere")
    with pytest.raises(NotFoundError):
        await read("ai", elsewhere)
    assert wire.seen[-1].path == "/elsewhere/prompts"
    fault = {"x-sandbox-fault": "status:503;retry-after=0"}
    with pytest.raises(ServerError):
        await read("ai", client, extra_headers=fault)
    assert len(wire.to("/prompts")) == 1 + 2  # the first read, then one attempt and one retry
    with pytest.raises(ServerError):
        await read("ai", client.with_options(max_retries=0), extra_headers=fault)
    assert len(wire.to("/prompts")) == 3 + 1


@pytest.mark.parametrize("mode", MODES)
async def test_with_options_shares_the_circuit_breakers(make: Any, wire: Wire, mode: str) -> None:
    client = make("ai", mode, max_retries=0)
    variant = client.with_options(extra_headers={"X-Variant": "1"})
    for _ in range(5):  # the default policy opens after 5 consecutive failures
        with pytest.raises(ServerError):
            await read("ai", client, extra_headers={"x-sandbox-fault": "status:503"})
    sent = len(wire.seen)
    with pytest.raises(CircuitOpenError):
        await read("ai", variant)
    assert len(wire.seen) == sent  # refused before sending


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("service", [*SERVICES, "chat"])
def test_with_options_rejects_unknown_keywords(make: Any, service: str, mode: str) -> None:
    client = make(service, mode)
    with pytest.raises(TypeError, match="timeoutt"):
        client.with_options(timeoutt=5)
    with pytest.raises(TypeError, match="credentials"):
        client.with_options(credentials=None)
    if service == "chat":
        with pytest.raises(TypeError, match="base_url"):
            client.with_options(base_url="http://127.0.0.1:9")


@pytest.mark.parametrize("mode", MODES)
async def test_closing_a_storage_variant_leaves_the_originals_uploads_working(make: Any, mode: str) -> None:
    client = make("storage", mode)
    await r(client.upload(b"one", filename="one.txt"))  # the transfer transport exists now
    variant = client.with_options(extra_headers={"X-Variant": "1"})
    await r(variant.upload(b"two", filename="two.txt"))
    await r(variant.close())
    result = await r(client.upload(b"three", filename="three.txt"))
    assert result.size == 5


# === 5. with_raw_response ===================================================================================


async def _raw_and_normal(service: str, client: Any) -> tuple[RawResponse[Any], Any, str]:
    """A raw call of ``service``, the same call made normally, and the raw call's path."""
    raw_client = client.with_raw_response
    if service == "auth":
        return await r(raw_client.health()), await r(client.health()), "/health"
    if service == "storage":
        key = (await r(client.upload(b"raw", filename="raw.txt"))).key
        return (
            await r(raw_client.generate_download_url(key=key)),
            await r(client.generate_download_url(key=key)),
            "/generate-download-url",
        )
    if service == "ai":
        prompt = await r(client.create_prompt(name="raw", template="Hi {{name}}"))
        path = f"/prompts/{prompt.id}"
        return await r(raw_client.get_prompt(prompt.id)), await r(client.get_prompt(prompt.id)), path
    item = await r(client.ingest_text("raw response"))
    await r(client.wait_until_processed(item.id, poll_interval=0.02))
    path = f"/content/{item.id}"
    return await r(raw_client.get_content(item.id)), await r(client.get_content(item.id)), path


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("service", SERVICES)
async def test_raw_response(make: Any, wire: Wire, service: str, mode: str) -> None:
    client = make(service, mode)
    raw, normal, path = await _raw_and_normal(service, client)
    assert isinstance(raw, RawResponse)
    assert raw.status_code == 200
    assert raw.headers["content-type"].startswith("application/json")
    sent = [s for s in wire.to(path) if s.header("x-request-id") == raw.request_id]
    assert len(sent) == 1  # the id the server echoed is this request's
    assert raw.headers["x-request-id"] == raw.request_id
    assert raw.elapsed > 0
    assert raw.method == sent[0].method
    assert raw.url.endswith(path)
    assert raw.content and raw.json() == json.loads(raw.content) == json.loads(raw.text)
    parsed = raw.parse()
    if service == "storage":  # a pre-signed URL is signed anew (with a new expiry) on every call
        assert parsed == DownloadURL(download_url=raw.json()["downloadUrl"], http_method=raw.json()["httpMethod"])
        assert type(normal) is DownloadURL and normal.http_method == parsed.http_method
    else:
        assert parsed == normal


@pytest.mark.parametrize("mode", MODES)
async def test_raw_response_of_a_create_and_a_delete(make: Any, mode: str) -> None:
    client = make("ai", mode)
    created = await r(client.with_raw_response.create_prompt(name="raw", template="t"))
    assert created.status_code == 201
    prompt = created.parse()
    assert prompt.id == created.json()["id"]
    assert await r(client.get_prompt(prompt.id)) == prompt
    deleted = await r(client.with_raw_response.delete_prompt(prompt.id))
    assert (deleted.status_code, deleted.content, deleted.parse()) == (204, b"", None)
    assert deleted.method == "DELETE"
    assert deleted.request_id


@pytest.mark.parametrize("mode", MODES)
async def test_raw_response_of_an_error_is_the_typed_error(make: Any, mode: str) -> None:
    client = make("ai", mode)
    with pytest.raises(NotFoundError) as caught:
        await r(client.with_raw_response.get_prompt("no-such-prompt"))
    assert caught.value.request_id


@pytest.mark.parametrize("mode", MODES)
async def test_raw_response_of_a_listing(make: Any, mode: str) -> None:
    client = make("ai", mode)
    raw = await r(client.with_raw_response.list_prompts(tags=["request-options"]))
    assert raw.status_code == 200


# === ChatClient ============================================================================================

#: Reasoning controls per provider, sent through extra_body: the ``inspect`` model reports them as received.
_REASONING: dict[str, dict[str, Any]] = {
    "openai": {"reasoning_effort": "low"},
    "groq": {"reasoning_effort": "low"},
    "anthropic": {"thinking": {"type": "adaptive"}},
    "gemini": {"generationConfig": {"thinkingConfig": {"thinkingBudget": 0}}},
}
_REPORTED = {
    "openai": {"reasoning_effort": "low"},
    "groq": {"reasoning_effort": "low"},
    "anthropic": {"thinking": {"type": "adaptive"}},
    "gemini": {"thinkingConfig": {"thinkingBudget": 0}},
}
_CHAT_PATH = {
    "openai": "/v1/chat/completions",
    "anthropic": "/v1/messages",
    "gemini": "/v1beta/models/",
    "groq": "/openai/v1/chat/completions",
}


async def _chat(client: Any, method: str, model: str, text: str, **params: Any) -> Any:
    """``chat`` or ``stream`` (consumed) on a sync or async chat client: the ChatResponse."""
    if method == "chat":
        return await r(client.chat(model, text, **params))
    stream = client.stream(model, text, **params)
    events = [event async for event in stream] if isinstance(client, AsyncChatClient) else list(stream)
    return events[-1].response


@pytest.mark.parametrize("method", ["chat", "stream"])
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("provider", PROVIDERS)
async def test_chat_options_arrive(make: Any, wire: Wire, provider: str, mode: str, method: str) -> None:
    client = make("chat", mode)
    probe = _probe()
    response = await _chat(
        client,
        method,
        f"{provider}:inspect",
        "what arrived",
        extra_headers={"X-Probe": probe},
        extra_query={"probe": probe},
        extra_body={**_REASONING[provider], "x_probe": probe},
    )
    assert json.loads(response.text)["reasoning"] == _REPORTED[provider]  # the emulation read extra_body
    (call,) = wire.to(_CHAT_PATH[provider])
    assert call.header("x-probe") == probe
    assert call.query["probe"] == [probe]
    if provider == "gemini" and method == "stream":
        assert call.query["alt"] == ["sse"]  # the SDK's own query parameter is kept
    body = call.json()
    assert body["x_probe"] == probe
    assert "messages" in body or "contents" in body  # the SDK's own fields are kept
    # For that call only.
    await _chat(client, method, f"{provider}:echo", "again")
    again = wire.to(_CHAT_PATH[provider])[-1]
    assert again.header("x-probe") is None
    assert "probe" not in again.query
    assert "x_probe" not in again.json()


_KEY_HEADER = {"openai": "Authorization", "anthropic": "x-api-key", "gemini": "x-goog-api-key", "groq": "Authorization"}


def _forged(provider: str) -> str:
    return "Bearer invalid-forged" if provider in ("openai", "groq") else "invalid-forged"


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_chat_extra_headers_never_replace_the_api_key(make: Any, wire: Wire, provider: str) -> None:
    client = make("chat", "sync")
    response = await _chat(
        client, "chat", f"{provider}:echo", "hello", extra_headers={_KEY_HEADER[provider]: _forged(provider)}
    )
    assert response.text == "hello"
    (call,) = wire.to(_CHAT_PATH[provider])
    assert call.all(_KEY_HEADER[provider]) == [call.header(_KEY_HEADER[provider])]
    assert "invalid" not in (call.header(_KEY_HEADER[provider]) or "")


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_chat_extra_headers_in_another_case_never_replace_the_api_key(
    make: Any, wire: Wire, provider: str
) -> None:
    client = make("chat", "sync")
    name = {"openai": "authorization", "groq": "authorization", "anthropic": "X-Api-Key", "gemini": "X-Goog-Api-Key"}
    with contextlib.suppress(APIError):
        await _chat(client, "chat", f"{provider}:echo", "hello", extra_headers={name[provider]: _forged(provider)})
    (call,) = wire.to(_CHAT_PATH[provider])
    assert len(call.all(name[provider])) == 1
    assert "invalid" not in (call.header(name[provider]) or "")


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("provider", ["openai", "gemini"])
async def test_embed_options_arrive(make: Any, wire: Wire, provider: str, mode: str) -> None:
    client = make("chat", mode)
    probe = _probe()
    result = await r(
        client.embed(
            f"{provider}:embed",
            ["a", "b"],
            extra_headers={"X-Probe": probe},
            extra_query={"probe": probe},
            extra_body={"x_probe": probe},
            timeout=30,
        )
    )
    assert len(result.vectors) == 2
    (call,) = wire.to("/v1")
    assert call.header("x-probe") == probe
    assert call.query["probe"] == [probe]
    assert call.json()["x_probe"] == probe


_CHAT_TIMEOUT_CASES = [
    *[(mode, method, "per_call") for mode in MODES for method in ("chat", "stream")],
    *[(mode, "stream", "with_options") for mode in MODES],
]


@pytest.mark.parametrize(("mode", "method", "how"), _CHAT_TIMEOUT_CASES)
async def test_chat_timeout(make: Any, wire: Wire, atriumn_sandbox: Sandbox, mode: str, method: str, how: str) -> None:
    client = make("chat", mode)
    if method == "chat":  # the answer's head is 2 s late
        atriumn_sandbox.inject_fault("delay:2", path_prefix="/v1beta/models/")
        model = "gemini:echo"
    else:  # the head comes at once, the (one) event 1 s late
        model = "gemini:echo-delay-1000"
    target, params = (client, {"timeout": 0.05}) if how == "per_call" else (client.with_options(timeout=0.05), {})
    with pytest.raises(RequestTimeoutError) as caught:
        await _chat(target, method, model, "late", **params)
    assert caught.value.timeout is not None and 0 < caught.value.timeout <= 0.05
    assert len(wire.to("/v1beta/models/")) == 1


@pytest.mark.parametrize("mode", MODES)
async def test_chat_with_options(make: Any, wire: Wire, mode: str) -> None:
    cache = MemoryCache()
    client = make("chat", mode, cache=cache)
    probe = _probe()
    variant = client.with_options(extra_headers={"X-Variant": probe}, extra_query={"variant": probe}, timeout=30)
    assert type(variant) is type(client)
    assert (await r(variant.chat("anthropic:echo", "from the variant"))).text == "from the variant"
    assert (await r(client.chat("anthropic:echo", "from the original"))).text == "from the original"
    first, second = wire.to("/v1/messages")
    assert (first.header("x-variant"), first.query.get("variant")) == (probe, [probe])
    assert (second.header("x-variant"), second.query.get("variant")) == (None, None)
    # The response cache is shared: the original's answer is a hit for the variant, without a request.
    hit = await r(variant.chat("anthropic:echo", "from the original"))
    assert hit.cached and hit.text == "from the original"
    assert len(wire.to("/v1/messages")) == 2
    # Closing and dropping the variant closes nothing of the original's.
    await r(variant.close())
    del variant
    gc.collect()
    assert (await r(client.chat("anthropic:echo", "still works", cache=False))).text == "still works"
    assert wire.to("/v1/messages")[-1].header("x-variant") is None


@pytest.mark.parametrize(
    "mode",
    [
        "sync",
        "async",
    ],
)
async def test_chat_variant_shares_the_pool(make: Any, wire: Wire, mode: str) -> None:
    client = make("chat", mode)
    await r(client.chat("openai:echo", "one"))
    variant = client.with_options(extra_headers={"X-Variant": "1"})
    await r(variant.chat("openai:echo", "two"))
    first, second = wire.to("/v1/chat/completions")
    assert second.header("x-variant") == "1"
    assert second.port == first.port


@pytest.mark.parametrize("mode", MODES)
async def test_chat_with_options_shares_the_circuit_breakers(make: Any, wire: Wire, mode: str) -> None:
    client = make("chat", mode)
    variant = client.with_options(extra_headers={"X-Variant": "1"})
    for _ in range(5):
        with pytest.raises(ServerError):
            await r(client.chat("openai:error-503", "fail"))
    sent = len(wire.seen)
    with pytest.raises(CircuitOpenError):
        await r(variant.chat("openai:error-503", "refused"))
    assert len(wire.seen) == sent


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("provider", PROVIDERS)
async def test_chat_raw_response(make: Any, wire: Wire, provider: str, mode: str) -> None:
    client = make("chat", mode)
    raw = await r(client.with_raw_response.chat(f"{provider}:echo", "raw words here"))
    normal = await r(client.chat(f"{provider}:echo", "raw words here"))
    assert isinstance(raw, RawResponse)
    assert raw.status_code == 200
    assert raw.headers["content-type"].startswith("application/json")
    first = wire.to(_CHAT_PATH[provider])[0]
    assert raw.request_id == first.header("x-request-id") == raw.headers["x-request-id"]
    assert raw.elapsed > 0
    assert (raw.method, raw.url.split("?")[0].endswith(first.path)) == ("POST", True)
    assert raw.json() == json.loads(raw.content)
    assert raw.parse() == normal
    assert raw.parse().text == "raw words here"


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("provider", ["openai", "gemini"])
async def test_embed_raw_response(make: Any, wire: Wire, provider: str, mode: str) -> None:
    client = make("chat", mode)
    raw = await r(client.with_raw_response.embed(f"{provider}:embed", ["a", "b"]))
    normal = await r(client.embed(f"{provider}:embed", ["a", "b"]))
    assert raw.status_code == 200
    assert raw.request_id == wire.seen[0].header("x-request-id")
    assert raw.elapsed > 0
    assert raw.content and raw.json()
    assert raw.parse() == normal
    assert len(raw.parse().vectors) == 2


@pytest.mark.parametrize("mode", MODES)
async def test_chat_raw_response_of_a_cache_hit_is_a_validation_error(make: Any, wire: Wire, mode: str) -> None:
    client = make("chat", mode, cache=MemoryCache())
    first = await r(client.chat("openai:echo", "cached words"))
    with pytest.raises(ValidationError, match="no HTTP request"):
        await r(client.with_raw_response.chat("openai:echo", "cached words"))
    assert len(wire.to("/v1/chat/completions")) == 1
    # Without the cache the same call has a response to show.
    raw = await r(client.with_raw_response.chat("openai:echo", "cached words", cache=False))
    assert raw.parse() == first


async def test_async_chat_client_close_closes_the_pool_its_variants_and_providers_share(atriumn_sandbox: Any) -> None:
    url = atriumn_sandbox.url
    client = AsyncChatClient(api_keys={"openai": "test-openai-close"}, base_urls={"openai": f"{url}/v1"})
    variant = client.with_options(timeout=30)
    await variant.chat("openai:echo", "hi")
    await client.chat("openai:echo", "hi")
    pool = client._base.http_client  # an httpx2.AsyncClient, or an aiohttp.ClientSession (ATRIUMN_HTTP_BACKEND)

    def closed() -> bool:
        return bool(getattr(pool, "is_closed", None) or getattr(pool, "closed", False))

    assert not closed()
    await client.aclose()
    assert closed()
    with pytest.raises(RuntimeError, match="closed"):
        await client.chat("openai:echo", "hi")
