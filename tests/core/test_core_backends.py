"""Both backends of the async transport (and the sync transport where it applies), on what the fault server
does not script: the connect and write timeouts, TLS verification and custom CAs, proxies from the
environment, connection limits and keep-alive expiry, form and multipart bodies, streamed responses and their
errors — and choosing a backend. Every case runs on every kind (sync, async on httpx2, async on aiohttp)."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import http.server
import ipaddress
import socket
import ssl
import threading
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from core_helpers import FAST, GET, KINDS, backend_of, send_all

from atriumn.core import (
    RAW,
    AsyncTransport,
    ConfigurationError,
    ConnectError,
    NetworkError,
    Operation,
    PoolLimits,
    RequestTimeoutError,
    Response,
    Timeouts,
    Transport,
)
from tests.faultserver import Fault, FaultServer, Reply

OK = Reply(200, json={"ok": True})


# --- connect and write timeouts ------------------------------------------------------------------------------


@pytest.fixture
def full_backlog() -> Iterator[str]:
    """A listening socket whose accept queue is full: a new connection's SYN is dropped, so connecting hangs."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    port = listener.getsockname()[1]
    fillers = []
    for _ in range(8):
        filler = socket.socket()
        filler.setblocking(False)
        with contextlib.suppress(BlockingIOError):
            filler.connect(("127.0.0.1", port))
        fillers.append(filler)
    time.sleep(0.1)
    yield f"http://127.0.0.1:{port}"
    for s in [*fillers, listener]:
        s.close()


@pytest.mark.parametrize("kind", KINDS)
def test_connect_timeout_names_the_phase(kind: str, full_backlog: str) -> None:
    [error] = send_all(kind, full_backlog, [GET], max_retries=0, timeouts=Timeouts(connect=0.3))
    assert isinstance(error, RequestTimeoutError)
    assert (error.phase, error.timeout, error.sent) == ("connect", 0.3, False)
    assert str(error) == f"GET connect timeout: could not connect to {full_backlog}/thing within 0.3s"


@pytest.fixture
def deaf_server() -> Iterator[str]:
    """Accepts connections and never reads from them (small receive buffers): a large upload blocks."""
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    listener.settimeout(0.2)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                continue
            held.append(conn)

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    stop.set()
    thread.join(5)
    for s in [*held, listener]:
        s.close()


CHUNK = b"x" * (1 << 20)


def _upload(kind: str, body: str) -> Operation[Any]:
    if body == "bytes":
        content: Any = CHUNK * 64
    elif kind == "sync":
        content = lambda: (CHUNK for _ in range(64))  # noqa: E731
    else:

        async def chunks() -> AsyncIterator[bytes]:
            for _ in range(64):
                yield CHUNK

        content = chunks
    return Operation(method="PUT", path="/blob", content=content, response_type=RAW)


@pytest.mark.parametrize("body", ["bytes", "stream"])
@pytest.mark.parametrize("kind", KINDS)
def test_write_timeout_names_the_phase(kind: str, body: str, deaf_server: str) -> None:
    timeouts = Timeouts(connect=2.0, read=10.0, write=0.3, pool=2.0)
    [error] = send_all(kind, deaf_server, [_upload(kind, body)], max_retries=0, timeouts=timeouts)
    assert isinstance(error, RequestTimeoutError)
    assert (error.phase, error.timeout, error.sent) == ("write", 0.3, True)
    assert str(error) == f"PUT write timeout: could not send the request to {deaf_server}/blob within 0.3s"


# --- TLS ----------------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    """A private CA and a certificate it issued for 127.0.0.1: (ca.pem, server.pem, server.key)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = dt.datetime.now(dt.timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "atriumn test CA")])
    ca = (
        x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                     content_commitment=False, key_encipherment=False, data_encipherment=False,
                                     key_agreement=False, encipher_only=False, decipher_only=False), critical=True)
        .sign(ca_key, hashes.SHA256())
    )  # fmt: skip
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
        .issuer_name(ca_name).public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        # Python 3.13 verifies strictly (VERIFY_X509_STRICT): the key identifiers must be there.
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )  # fmt: skip
    folder = tmp_path_factory.mktemp("tls")
    paths = folder / "ca.pem", folder / "server.pem", folder / "server.key"
    paths[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return paths


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        body = b'{"ok": true}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def tls_server(tls_files: tuple[Path, Path, Path]) -> Iterator[str]:
    """An HTTPS server on 127.0.0.1 with a certificate from the private CA."""
    _, cert, key = tls_files
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.daemon_threads = True
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"https://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize("kind", KINDS)
def test_tls_is_verified_against_the_system_store_by_default(kind: str, tls_server: str) -> None:
    [error] = send_all(kind, tls_server, [GET], max_retries=0)
    assert isinstance(error, ConnectError)
    assert error.sent is False
    assert str(error).startswith(f"could not connect to {tls_server}/thing: ")
    assert "CERTIFICATE_VERIFY_FAILED" in str(error) or "certificate verify failed" in str(error)


@pytest.mark.parametrize("kind", KINDS)
def test_tls_with_a_custom_ca(kind: str, tls_server: str, tls_files: tuple[Path, Path, Path]) -> None:
    context = ssl.create_default_context(cafile=str(tls_files[0]))
    assert send_all(kind, tls_server, [GET], max_retries=0, verify=context) == [{"ok": True}]


@pytest.mark.parametrize("kind", KINDS)
def test_tls_ca_from_ssl_cert_file(
    kind: str, tls_server: str, tls_files: tuple[Path, Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SSL_CERT_FILE", str(tls_files[0]))
    assert send_all(kind, tls_server, [GET], max_retries=0) == [{"ok": True}]


@pytest.mark.parametrize("kind", KINDS)
def test_tls_verification_can_be_turned_off(kind: str, tls_server: str) -> None:
    assert send_all(kind, tls_server, [GET], max_retries=0, verify=False) == [{"ok": True}]


# --- proxies from the environment -----------------------------------------------------------------------------


@pytest.fixture
def no_proxy_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)
    return monkeypatch


@pytest.mark.parametrize("kind", KINDS)
def test_http_proxy_from_the_environment(
    kind: str, srv: FaultServer, srv2: FaultServer, no_proxy_env: pytest.MonkeyPatch
) -> None:
    no_proxy_env.setenv("HTTP_PROXY", srv.url)  # srv plays the proxy (and answers itself)
    assert send_all(kind, srv2.url, [GET], max_retries=0) == [{"ok": True}]
    assert [r.target for r in srv.requests] == [f"{srv2.url}/thing"]  # absolute form: a proxy request
    assert srv2.requests == []


@pytest.mark.parametrize("kind", KINDS)
def test_no_proxy_from_the_environment(
    kind: str, srv: FaultServer, srv2: FaultServer, no_proxy_env: pytest.MonkeyPatch
) -> None:
    no_proxy_env.setenv("HTTP_PROXY", srv.url)
    no_proxy_env.setenv("NO_PROXY", "127.0.0.1")
    assert send_all(kind, srv2.url, [GET], max_retries=0) == [{"ok": True}]
    assert srv.requests == []
    assert [r.target for r in srv2.requests] == ["/thing"]


# --- connection limits and keep-alive -------------------------------------------------------------------------


def _concurrently(kind: str, url: str, ops: list[Operation[Any]], pause: float = 0.0, **options: Any) -> list[Any]:
    """Send ``ops`` at once (threads for the sync transport, tasks for the async one), or one by one with a
    ``pause`` between them."""
    if kind == "sync":
        with Transport(url, **options) as t:
            if pause:
                out = []
                for op in ops:
                    out.append(t.send(op))
                    time.sleep(pause)
                return out
            results: list[Any] = [None] * len(ops)

            def run(i: int) -> None:
                results[i] = t.send(ops[i])

            threads = [threading.Thread(target=run, args=(i,)) for i in range(len(ops))]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(30)
            return results

    async def main() -> list[Any]:
        async with AsyncTransport(url, backend=backend_of(kind), **options) as t:
            if pause:
                out = []
                for op in ops:
                    out.append(await t.send(op))
                    await asyncio.sleep(pause)
                return out
            return list(await asyncio.gather(*(t.send(op) for op in ops)))

    return asyncio.run(main())


@pytest.mark.parametrize("kind", KINDS)
def test_max_connections_is_honoured(kind: str, srv: FaultServer) -> None:
    srv.default = Fault.delay(0.15, then=OK)
    results = _concurrently(kind, srv.url, [GET.evolve(query={"i": i}) for i in range(6)],
                            limits=PoolLimits(max_connections=2), retry=FAST)  # fmt: skip
    assert results == [{"ok": True}] * 6
    assert len({r.connection_id for r in srv.requests}) == 2  # two connections, each reused


@pytest.mark.parametrize("kind", KINDS)
def test_idle_connections_expire(kind: str, srv: FaultServer) -> None:
    ops = [GET.evolve(query={"i": i}) for i in range(3)]
    # 0.05 s apart: reused; the third after 0.6 s idle: past the 0.3 s expiry, a new connection.
    if kind == "sync":
        with Transport(srv.url, limits=PoolLimits(keepalive_expiry=0.3)) as t:
            t.send(ops[0])
            time.sleep(0.05)
            t.send(ops[1])
            time.sleep(0.6)
            t.send(ops[2])
    else:

        async def main() -> None:
            async with AsyncTransport(srv.url, limits=PoolLimits(keepalive_expiry=0.3), backend=backend_of(kind)) as t:
                await t.send(ops[0])
                await asyncio.sleep(0.05)
                await t.send(ops[1])
                await asyncio.sleep(0.6)
                await t.send(ops[2])

        asyncio.run(main())
    first, second, third = (r.connection_id for r in srv.requests)
    assert first == second != third


# --- bodies -------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_form_and_multipart_bodies(kind: str, srv: FaultServer, tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_bytes(b"file bytes")

    def files() -> dict[str, Any]:  # a factory: called per attempt, so a retry resends the file from its start
        return {"doc": ("notes.txt", path.open("rb"), "text/plain"), "raw": b"\x00\x01"}

    form = Operation(method="POST", path="/form", data={"a": "1 2", "b": "x&y"}, response_type=RAW)
    multipart = Operation(method="POST", path="/upload", data={"name": "n"}, files=files, response_type=RAW)
    srv.script(OK, Reply(503), OK)
    assert send_all(kind, srv.url, [form, multipart], retry=FAST) == [{"ok": True}] * 2
    first, *uploads = srv.requests
    assert first.headers["content-type"] == "application/x-www-form-urlencoded"
    assert first.body == b"a=1+2&b=x%26y"
    assert len(uploads) == 2
    for upload in uploads:
        ctype = upload.headers["content-type"]
        assert ctype.startswith("multipart/form-data; boundary=")
        boundary = ctype.split("boundary=")[1].encode()
        body = upload.body
        assert body.startswith(b"--" + boundary) and body.endswith(b"--" + boundary + b"--\r\n")
        assert b'name="name"\r\n\r\nn\r\n' in body
        assert b'name="doc"; filename="notes.txt"\r\nContent-Type: text/plain\r\n\r\nfile bytes\r\n' in body
        assert b'name="raw"; filename="upload"\r\nContent-Type: application/octet-stream\r\n\r\n\x00\x01\r\n' in body
        assert int(upload.headers["content-length"]) == len(body)


@pytest.mark.parametrize("kind", ["async-httpx2", "async-aiohttp"])
def test_streamed_upload_of_unknown_length_is_chunked(kind: str, srv: FaultServer) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        for part in (b"one ", b"two ", b"three"):
            yield part

    op = Operation(method="POST", path="/s", content=chunks, idempotent=True, response_type=RAW)
    assert send_all(kind, srv.url, [op]) == [{"ok": True}]
    (request,) = srv.requests
    assert request.body == b"one two three"
    assert request.headers["transfer-encoding"] == "chunked"


# --- streamed responses -------------------------------------------------------------------------------------------


def _read_stream(kind: str, url: str, op: Operation[Any], **options: Any) -> tuple[Any, Response | None]:
    """Open ``op`` as a stream and read it chunk by chunk: (the bytes or the error, the response)."""
    if kind == "sync":
        with Transport(url, **options) as t:
            try:
                with t.stream(op) as response:
                    return b"".join(response.iter_bytes(chunk_size=3)), response
            except Exception as exc:
                return exc, locals().get("response")

    async def main() -> tuple[Any, Response | None]:
        async with AsyncTransport(url, backend=backend_of(kind), **options) as t:
            response = None
            try:
                async with t.stream(op) as response:
                    return b"".join([c async for c in response.aiter_bytes(chunk_size=3)]), response
            except Exception as exc:
                return exc, response

    return asyncio.run(main())


SECRET_QUERY = {"sig": "s3cr3t-signature", "n": 1}


@pytest.mark.parametrize("kind", KINDS)
def test_streamed_body_is_read_and_released(kind: str, srv: FaultServer) -> None:
    srv.script(Fault.slow_body(chunk=b"abcd", interval=0.01, count=5, chunked=True))
    body, response = _read_stream(kind, srv.url, Operation(method="GET", path="/s", query=SECRET_QUERY))
    assert body == b"abcd" * 5
    assert response is not None and response.is_closed
    assert response.status_code == 200
    assert response.request.url == f"{srv.url}/s?sig=s3cr3t-signature&n=1"
    assert response.request.shown_url == f"{srv.url}/s?sig=REDACTED&n=1"
    assert response.request.extensions["timeout"]["read"] == 60.0


@pytest.mark.parametrize("kind", KINDS)
def test_a_streamed_body_cut_short_is_a_network_error(kind: str, srv: FaultServer) -> None:
    srv.script(Fault.truncated_body(b'{"partial": '))
    error, response = _read_stream(kind, srv.url, Operation(method="GET", path="/s", query=SECRET_QUERY))
    assert isinstance(error, NetworkError)
    assert error.sent is True
    assert f"talking to {srv.url}/s?sig=REDACTED&n=1" in str(error)
    assert "s3cr3t" not in str(error)
    assert response is not None and response.is_closed


@pytest.mark.parametrize("kind", KINDS)
def test_a_streamed_body_stalling_past_the_read_timeout(kind: str, srv: FaultServer) -> None:
    srv.script(Fault.slow_body(chunk=b"ab", interval=1.0, count=3, chunked=True))
    timeouts = Timeouts(connect=1.0, read=0.25, write=1.0, pool=1.0)
    error, _ = _read_stream(kind, srv.url, Operation(method="GET", path="/s", query=SECRET_QUERY), timeouts=timeouts)
    assert isinstance(error, RequestTimeoutError)
    assert (error.phase, error.timeout, error.sent) == ("read", 0.25, True)
    assert str(error) == f"GET read timeout: no response data from {srv.url}/s?sig=REDACTED&n=1 for 0.25s"


# --- choosing a backend -------------------------------------------------------------------------------------------


def test_the_backend_is_chosen_by_argument_then_environment() -> None:
    assert AsyncTransport("http://127.0.0.1:9", environ={}).backend == "httpx2"
    assert AsyncTransport("http://127.0.0.1:9", backend="aiohttp").backend == "aiohttp"
    aio = AsyncTransport("http://127.0.0.1:9", environ={"ATRIUMN_HTTP_BACKEND": "aiohttp"})
    assert aio.backend == "aiohttp"
    assert "aiohttp/" in aio._config.user_agent
    assert aio.with_options(max_retries=0).backend == "aiohttp"
    explicit = AsyncTransport("http://127.0.0.1:9", backend="httpx2", environ={"ATRIUMN_HTTP_BACKEND": "aiohttp"})
    assert explicit.backend == "httpx2"
    # The variable names the async transports' backend: the sync transport keeps httpx2.
    assert Transport("http://127.0.0.1:9", environ={"ATRIUMN_HTTP_BACKEND": "aiohttp"}).backend == "httpx2"


def test_bad_backends_are_configuration_errors() -> None:
    with pytest.raises(ConfigurationError, match=r"^ATRIUMN_HTTP_BACKEND: 'curl' is not an HTTP backend"):
        AsyncTransport("http://127.0.0.1:9", environ={"ATRIUMN_HTTP_BACKEND": "curl"})
    with pytest.raises(ConfigurationError, match=r"^ATRIUMN_HTTP_BACKEND: 'curl'"):
        Transport("http://127.0.0.1:9", environ={"ATRIUMN_HTTP_BACKEND": "curl"})
    with pytest.raises(ConfigurationError, match=r"^backend: 'requests' is not an HTTP backend"):
        AsyncTransport("http://127.0.0.1:9", backend="requests")
    with pytest.raises(ConfigurationError, match=r"^backend: 'aiohttp' is for AsyncTransport only"):
        Transport("http://127.0.0.1:9", backend="aiohttp")
    with pytest.raises(ConfigurationError, match=r"^http2: the aiohttp backend speaks HTTP/1\.1 only"):
        AsyncTransport("http://127.0.0.1:9", backend="aiohttp", http2=True)
    import httpx2

    with pytest.raises(ConfigurationError, match=r"^backend: 'aiohttp' cannot send with http_transport"):
        AsyncTransport("http://127.0.0.1:9", backend="aiohttp", http_transport=httpx2.AsyncHTTPTransport())


def test_a_missing_aiohttp_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "aiohttp" else real(name, *a))
    with pytest.raises(ConfigurationError, match=r"^ATRIUMN_HTTP_BACKEND: .*pip install 'atriumn-core\[aiohttp\]'"):
        AsyncTransport("http://127.0.0.1:9", environ={"ATRIUMN_HTTP_BACKEND": "aiohttp"})


def test_derived_async_transports_share_the_pool(srv: FaultServer, async_backend: str) -> None:
    async def main() -> None:
        t = AsyncTransport(srv.url, backend=async_backend)
        derived = t.with_options(max_retries=0)  # derived before the parent ever sent: still one pool
        assert await derived.send(GET) == {"ok": True}
        assert await t.send(GET) == {"ok": True}
        assert derived.http_client is t.http_client
        await derived.aclose()
        await t.aclose()

    asyncio.run(main())
    assert len({r.connection_id for r in srv.requests}) == 1
