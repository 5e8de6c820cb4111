"""Fixtures for the storage tests: moto's S3 on loopback, and a small scriptable HTTP server.

The scriptable server stands in for "any third-party host" (to see exactly which headers arrive) and for
failures a real store cannot be told to produce (a 503 on the first attempt, a body cut short).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import http.server
import os
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import parse_qs

import pytest

# --- moto ------------------------------------------------------------------------------------------------


class S3Expiry:
    """WSGI middleware in front of moto that rejects expired SigV4 pre-signed URLs the way S3 does.

    moto does not check ``X-Amz-Expires`` (it serves an expired URL happily); real S3 answers 403 with an
    ``AccessDenied`` / ``Request has expired`` XML document. The clock can be moved forward
    (``skew``) so the test never sleeps.
    """

    def __init__(self, app: Any) -> None:
        self.app = app
        self.skew = 0.0

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        query = parse_qs(environ.get("QUERY_STRING", ""))
        if "X-Amz-Date" in query and "X-Amz-Expires" in query:
            signed = dt.datetime.strptime(query["X-Amz-Date"][0], "%Y%m%dT%H%M%SZ").replace(tzinfo=dt.timezone.utc)
            if time.time() + self.skew > signed.timestamp() + int(query["X-Amz-Expires"][0]):
                length = int(environ.get("CONTENT_LENGTH") or 0)
                while length > 0:  # drain the body, as S3 does, so the client sees the answer
                    length -= len(environ["wsgi.input"].read(min(length, 1 << 20)) or b"x" * length)
                body = (
                    b'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>AccessDenied</Code>'
                    b"<Message>Request has expired</Message><RequestId>EXAMPLE</RequestId></Error>"
                )
                start_response(
                    "403 Forbidden",
                    [
                        ("Content-Type", "application/xml"),
                        ("Content-Length", str(len(body))),
                        ("x-amz-request-id", "EXAMPLE"),
                    ],
                )
                return [body]
        return self.app(environ, start_response)


@pytest.fixture(scope="session")
def moto_s3() -> Iterator[Any]:
    """``(boto3 client, S3Expiry middleware)`` for a moto S3 server on 127.0.0.1, bucket ``atriumn-test``."""
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
    import boto3
    from botocore.config import Config
    from moto.moto_server.threaded_moto_server import ThreadedMotoServer
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
    from werkzeug.serving import make_server

    middleware: dict[str, S3Expiry] = {}

    class Server(ThreadedMotoServer):  # the same server, with the expiry check in front of the app
        def _server_entry(self) -> None:
            app = middleware["app"] = S3Expiry(DomainDispatcherApplication(create_backend_app))
            self._server = make_server(self._ip_address, self._port, app, True, request_handler=MotoRequestHandler)
            self._server_ready_event.set()
            self._server.serve_forever()

    server = Server(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    client = boto3.client(
        "s3",
        endpoint_url=f"http://{host}:{port}",
        region_name="us-east-1",
        config=Config(signature_version="s3v4", s3={"addressing_style": "path"}),
    )
    client.create_bucket(Bucket="atriumn-test")
    try:
        yield client, middleware["app"]
    finally:
        server.stop()


# --- a scriptable HTTP server ----------------------------------------------------------------------------


class Recorded:
    def __init__(self, method: str, path: str, headers: dict[str, str], size: int, sha256: str) -> None:
        self.method, self.path, self.headers, self.size, self.sha256 = method, path, headers, size, sha256


class Scripted(http.server.ThreadingHTTPServer):
    """Records every request; ``plan`` decides each answer (a callable ``(handler, n) -> bool`` may take over)."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.requests: list[Recorded] = []
        self.blob = b""
        self.plan: list[str] = []  # consumed per request: "ok", "503", "truncate"
        self.extra_headers: dict[str, str] = {}
        self.lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client dropping a truncated response is part of the script, not an error

    def next_step(self) -> str:
        with self.lock:
            return self.plan.pop(0) if self.plan else "ok"


class _Handler(http.server.BaseHTTPRequestHandler):
    server: Scripted
    protocol_version = "HTTP/1.1"

    def log_message(self, *args: Any) -> None:
        pass

    def _record(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        h = hashlib.sha256()
        body = bytearray()
        left = length
        while left > 0:
            chunk = self.rfile.read(min(left, 1 << 20))
            if not chunk:
                break
            h.update(chunk)
            body += chunk
            left -= len(chunk)
        with self.server.lock:
            self.server.requests.append(
                Recorded(
                    self.command, self.path, {k.lower(): v for k, v in self.headers.items()}, len(body), h.hexdigest()
                )
            )
        return bytes(body)

    def _reply(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_PUT(self) -> None:
        body = self._record()
        step = self.server.next_step()
        if step == "503":
            self._reply(503, b"busy", {"Retry-After": "0"})
            return
        self.server.blob = body
        self._reply(200, b"", {"ETag": '"etag-1"'})

    def do_GET(self) -> None:
        self._record()
        step = self.server.next_step()
        blob = self.server.blob
        if step == "503":
            self._reply(503, b"busy", {"Retry-After": "0"})
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(blob)))
        for k, v in self.server.extra_headers.items():
            self.send_header(k, v)
        self.end_headers()
        if step == "truncate":
            self.wfile.write(blob[: len(blob) // 2])
            self.wfile.flush()
            self.close_connection = True
            return
        self.wfile.write(blob)


@pytest.fixture
def scripted() -> Iterator[Scripted]:
    server = Scripted()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.fixture
def make_file(tmp_path: Any) -> Callable[[int, str], Any]:
    def make(size: int, name: str = "data.bin") -> Any:
        path = tmp_path / name
        with path.open("wb") as f:
            left, seed = size, 0
            while left > 0:
                block = hashlib.sha256(str(seed).encode()).digest() * 2048  # 64 KiB of varied bytes
                f.write(block[:left])
                left -= len(block[:left])
                seed += 1
        return path

    return make
