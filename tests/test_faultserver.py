"""The fault-injecting test server, exercised over real loopback sockets with httpx2."""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import json
import socket
import threading
import time
from collections.abc import Iterator

import httpx2
import pytest

from tests.faultserver import Fault, FaultKind, FaultServer, Headers, RecordedRequest, Reply, refused_url


@pytest.fixture
def srv() -> Iterator[FaultServer]:
    with FaultServer() as server:
        yield server
        assert server.errors == []


@pytest.fixture
def client() -> Iterator[httpx2.Client]:
    with httpx2.Client(timeout=2.0) as c:
        yield c


def _raw_exchange(srv: FaultServer, data: bytes) -> bytes:
    """Send raw bytes on one socket, half-close it, and read everything until the server closes."""
    with socket.create_connection((srv.host, srv.port), timeout=2.0) as s:
        s.sendall(data)
        s.shutdown(socket.SHUT_WR)
        received = b""
        while more := s.recv(65536):
            received += more
        return received


# --- normal replies and recording ----------------------------------------------------------------------------


def test_reply_and_request_recorded(srv: FaultServer, client: httpx2.Client) -> None:
    srv.script(Reply(201, json={"id": 7}, headers={"X-Test": "yes"}))
    r = client.post(
        srv.url + "/v1/items?limit=2&x=y",
        json={"name": "a"},
        headers={"Idempotency-Key": "key-1", "X-Multi": "1"},
    )
    assert r.status_code == 201
    assert r.json() == {"id": 7}
    assert r.headers["content-type"] == "application/json"
    assert r.headers["x-test"] == "yes"

    (req,) = srv.wait_for_requests(1, timeout=2)
    assert isinstance(req, RecordedRequest)
    assert req.method == "POST"
    assert req.path == "/v1/items"
    assert req.query == "limit=2&x=y"
    assert req.target == "/v1/items?limit=2&x=y"
    assert req.http_version == "HTTP/1.1"
    assert req.headers["idempotency-key"] == "key-1"
    assert req.headers["IDEMPOTENCY-KEY"] == "key-1"
    assert ("Idempotency-Key", "key-1") in req.headers.raw or ("idempotency-key", "key-1") in req.headers.raw
    assert req.json() == {"name": "a"}
    assert req.body == r.request.content
    assert req.connection_id == 1
    assert req.request_on_connection == 1
    assert req.index == 0
    assert not req.fault_applied
    assert req.fault is None
    assert isinstance(req.step, Reply)
    assert req.step.status == 201
    assert srv.pending == 0


def test_default_reply_when_script_is_empty(client: httpx2.Client) -> None:
    with FaultServer(default=Reply(418, body="teapot", content_type="text/plain")) as srv:
        srv.script(Reply(200, json={"first": True}))
        assert srv.pending == 1
        assert client.get(srv.url).json() == {"first": True}
        assert srv.pending == 0
        for _ in range(2):
            r = client.get(srv.url_for("again"))
            assert (r.status_code, r.text, r.headers["content-type"]) == (418, "teapot", "text/plain")
        assert [q.path for q in srv.requests] == ["/", "/again", "/again"]


def test_keep_alive_reuses_one_connection(srv: FaultServer, client: httpx2.Client) -> None:
    for i in range(3):
        assert client.get(srv.url, params={"i": i}).status_code == 200
    reqs = srv.wait_for_requests(3, timeout=2)
    assert {q.connection_id for q in reqs} == {1}
    assert [q.request_on_connection for q in reqs] == [1, 2, 3]
    assert [q.query for q in reqs] == ["i=0", "i=1", "i=2"]
    assert srv.connections_opened == 1


def test_reply_close_ends_the_connection(srv: FaultServer, client: httpx2.Client) -> None:
    srv.script(Reply(200, json={}, close=True))
    assert client.get(srv.url).headers["connection"] == "close"
    client.get(srv.url)
    assert [q.connection_id for q in srv.wait_for_requests(2, timeout=2)] == [1, 2]


def test_chunked_request_body(srv: FaultServer, client: httpx2.Client) -> None:
    def parts() -> Iterator[bytes]:
        yield b"hello "
        yield b"chunked "
        yield b"world"

    r = client.post(srv.url + "/upload", content=parts())
    assert r.status_code == 200
    (req,) = srv.wait_for_requests(1, timeout=2)
    assert req.headers["transfer-encoding"] == "chunked"
    assert req.body == b"hello chunked world"


def test_raw_pipelined_requests_chunk_extensions_and_trailers(srv: FaultServer) -> None:
    srv.script(Reply(200, json={"n": 1}), Reply(200, json={"n": 2}))
    data = (
        b"POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nX-Dup: 1\r\nx-dup: 2\r\n\r\n"
        b"3;ext=1\r\nabc\r\nA\r\n0123456789\r\n0\r\nTrailer: t\r\n\r\n"
        b"PUT /b HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n\r\nwxyz"
    )
    received = _raw_exchange(srv, data)
    assert received.count(b"HTTP/1.1 200 OK") == 2
    first, second = srv.wait_for_requests(2, timeout=2)
    assert (first.method, first.path, first.body) == ("POST", "/a", b"abc0123456789")
    assert first.headers.get_all("X-DUP") == ["1", "2"]
    assert first.headers["x-dup"] == "1, 2"
    assert (second.method, second.path, second.body) == ("PUT", "/b", b"wxyz")
    assert first.connection_id == second.connection_id


def test_malformed_request_gets_400_and_is_reported() -> None:
    with FaultServer() as srv:
        received = _raw_exchange(srv, b"NONSENSE\r\n\r\n")
        assert received.startswith(b"HTTP/1.1 400 ")
        assert srv.requests == []
        assert len(srv.errors) == 1
        assert "bad request line" in srv.errors[0]


def test_head_request_gets_no_body(srv: FaultServer, client: httpx2.Client) -> None:
    srv.script(Reply(200, json={"big": "x" * 100}))
    r = client.head(srv.url)
    assert r.status_code == 200
    assert int(r.headers["content-length"]) > 100
    assert r.content == b""
    assert client.get(srv.url).status_code == 200  # the connection was not corrupted by a stray body
    assert srv.connections_opened == 1


def test_callable_step_sees_the_request(srv: FaultServer, client: httpx2.Client) -> None:
    def echo(req: RecordedRequest) -> Reply | Fault:
        if req.headers.get("x-fail") == "1":
            return Fault.close_before_head()
        return Reply(200, json={"path": req.path, "body": req.body.decode()})

    srv.script(echo, echo)
    assert client.post(srv.url + "/echo", content=b"hi").json() == {"path": "/echo", "body": "hi"}
    with pytest.raises(httpx2.RemoteProtocolError):
        client.get(srv.url, headers={"x-fail": "1"})
    first, second = srv.wait_for_requests(2, timeout=2)
    assert isinstance(first.step, Reply)
    assert second.fault is not None
    assert second.fault.kind is FaultKind.CLOSE_BEFORE_HEAD


def test_headers_multimap() -> None:
    h = Headers([("A", "1"), ("b", "2"), ("a", "3")])
    assert h["a"] == "1, 3"
    assert h.get_all("A") == ["1", "3"]
    assert "B" in h
    assert "c" not in h
    assert h.get("c") is None
    assert list(h) == ["a", "b"]
    assert len(h) == 2
    assert h.raw == [("A", "1"), ("b", "2"), ("a", "3")]


# --- faults --------------------------------------------------------------------------------------------------


def test_reset_before_head_is_a_read_error(srv: FaultServer, client: httpx2.Client) -> None:
    srv.script(Fault.reset_before_head())
    with pytest.raises(httpx2.ReadError) as info:
        client.post(srv.url + "/r", json={"a": 1}, headers={"Idempotency-Key": "k"})
    assert not isinstance(info.value, httpx2.RemoteProtocolError)
    (req,) = srv.wait_for_requests(1, timeout=2)
    assert req.fault_applied
    assert req.fault == Fault.reset_before_head()
    assert req.body == b'{"a":1}'
    assert req.headers["idempotency-key"] == "k"
    # The server carries on: the next request (on a new connection) gets the default reply.
    assert client.get(srv.url).json() == {"ok": True}
    assert srv.connections_opened == 2


def test_reset_after_head_client_sees_the_head_then_a_read_error(srv: FaultServer, client: httpx2.Client) -> None:
    srv.script(Fault.reset_after_head(status=200, headers={"X-Request-Id": "abc"}, partial_body=b'{"partial'))
    with client.stream("GET", srv.url) as r:
        assert r.status_code == 200
        assert r.headers["x-request-id"] == "abc"
        assert r.headers["content-length"] == "1024"
        with pytest.raises(httpx2.ReadError):
            r.read()
    assert srv.wait_for_requests(1, timeout=2)[0].fault_applied


def test_reset_after_head_surfaces_from_a_plain_get(srv: FaultServer, client: httpx2.Client) -> None:
    srv.script(Fault.reset_after_head(status=500))
    with pytest.raises(httpx2.ReadError):
        client.get(srv.url)


def test_close_before_head_is_a_remote_protocol_error(srv: FaultServer, client: httpx2.Client) -> None:
    srv.script(Fault.close_before_head())
    with pytest.raises(httpx2.RemoteProtocolError, match="without sending a response"):
        client.get(srv.url)
    assert srv.wait_for_requests(1, timeout=2)[0].fault_applied


def test_delay_longer_than_read_timeout_is_a_read_timeout(srv: FaultServer) -> None:
    srv.script(Fault.delay(0.5))
    with httpx2.Client(timeout=httpx2.Timeout(2.0, read=0.1)) as c, pytest.raises(httpx2.ReadTimeout):
        c.get(srv.url)
    assert srv.requests[0].fault == Fault.delay(0.5)


def test_delay_shorter_than_read_timeout_then_replies(srv: FaultServer, client: httpx2.Client) -> None:
    srv.script(Fault.delay(0.15, then=Reply(202, json={"late": True})))
    started = time.monotonic()
    r = client.get(srv.url)
    assert time.monotonic() - started >= 0.15
    assert (r.status_code, r.json()) == (202, {"late": True})
    assert client.get(srv.url).status_code == 200  # keep-alive survives a delay
    assert srv.connections_opened == 1


@pytest.mark.parametrize("chunked", [False, True])
def test_slow_body_dribbles(srv: FaultServer, client: httpx2.Client, chunked: bool) -> None:
    srv.script(Fault.slow_body(b"ab", interval=0.15, count=3, chunked=chunked))
    started = time.monotonic()
    with client.stream("GET", srv.url) as r:
        pieces = list(r.iter_raw())
    total = time.monotonic() - started
    assert b"".join(pieces) == b"ababab"
    assert len(pieces) >= 2  # it really arrived in several reads
    assert total >= 0.45
    assert ("transfer-encoding" in r.headers) is chunked
    assert client.get(srv.url).status_code == 200  # and the connection is still good
    assert srv.connections_opened == 1


def test_slow_body_with_short_read_timeout_times_out_mid_body(srv: FaultServer) -> None:
    srv.script(Fault.slow_body(b"x", interval=0.5, count=3))
    with httpx2.Client(timeout=httpx2.Timeout(2.0, read=0.1)) as c, c.stream("GET", srv.url) as r:
        assert r.status_code == 200
        with pytest.raises(httpx2.ReadTimeout):
            r.read()


def test_truncated_body_is_a_remote_protocol_error(srv: FaultServer, client: httpx2.Client) -> None:
    srv.script(Fault.truncated_body(b'{"ok": tr', declared_length=50))
    with pytest.raises(httpx2.RemoteProtocolError, match=r"received 9 bytes, expected 50"):
        client.get(srv.url)
    assert srv.wait_for_requests(1, timeout=2)[0].fault is not None


def test_truncated_body_needs_a_lie() -> None:
    with pytest.raises(ValueError, match="exceed"):
        Fault.truncated_body(b"abc", declared_length=3)


def test_raw_garbage_is_a_remote_protocol_error(srv: FaultServer, client: httpx2.Client) -> None:
    srv.script(Fault.raw(b"SPDY/9 banana\r\n\r\n"))
    with pytest.raises(httpx2.RemoteProtocolError):
        client.get(srv.url)


def test_invalid_json(srv: FaultServer, client: httpx2.Client) -> None:
    srv.script(Reply.invalid_json())
    r = client.get(srv.url)
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/json"
    with pytest.raises(json.JSONDecodeError):
        r.json()


def test_html_error_page(srv: FaultServer, client: httpx2.Client) -> None:
    srv.script(Reply.html_error(502), Reply.html_error(529))
    r = client.get(srv.url)
    assert r.status_code == 502
    assert r.headers["content-type"].startswith("text/html")
    assert "<h1>502 Bad Gateway</h1>" in r.text
    with pytest.raises(json.JSONDecodeError):
        r.json()
    r = client.get(srv.url)
    assert r.status_code == 529
    assert r.reason_phrase == "Site is overloaded"


def test_refused_url_is_a_connect_error(client: httpx2.Client) -> None:
    url = refused_url("/v1/x")
    assert url.startswith("http://127.0.0.1:")
    assert url.endswith("/v1/x")
    with pytest.raises(httpx2.ConnectError):
        client.get(url)
    assert FaultServer.refused_url() != ""


# --- Retry-After forms ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("reply", "status", "header", "value"),
    [
        (Reply(429, headers={"Retry-After": "1"}), 429, "retry-after", "1"),
        (Reply.retry_after(2), 429, "retry-after", "2"),
        (Reply.retry_after(0.5, status=503), 503, "retry-after", "0.5"),
        (Reply.retry_after_ms(1500), 429, "retry-after-ms", "1500"),
        (Reply.should_retry(True, status=500), 500, "x-should-retry", "true"),
        (Reply.should_retry(False, status=503), 503, "x-should-retry", "false"),
    ],
)
def test_retry_after_headers(
    srv: FaultServer, client: httpx2.Client, reply: Reply, status: int, header: str, value: str
) -> None:
    srv.script(reply)
    r = client.get(srv.url)
    assert r.status_code == status
    assert r.headers[header] == value


def test_retry_after_http_date(srv: FaultServer, client: httpx2.Client) -> None:
    srv.script(Reply.retry_after_date(120, status=429, now=1_700_000_000.0), Reply.retry_after_date(30))
    r = client.get(srv.url)
    assert r.status_code == 429
    assert r.headers["retry-after"] == "Tue, 14 Nov 2023 22:15:20 GMT"
    assert r.json()["error"]["type"] == "fault"
    r = client.get(srv.url)
    assert r.status_code == 503
    when = email.utils.parsedate_to_datetime(r.headers["retry-after"]).timestamp()
    assert 28 <= when - time.time() <= 31


# --- waiting, concurrency, shutdown --------------------------------------------------------------------------


def test_wait_for_requests_times_out(srv: FaultServer) -> None:
    with pytest.raises(TimeoutError, match="saw 0 request"):
        srv.wait_for_requests(1, timeout=0.1)


def test_wait_for_requests_wakes_on_arrival(srv: FaultServer, client: httpx2.Client) -> None:
    got: list[int] = []
    waiter = threading.Thread(target=lambda: got.append(len(srv.wait_for_requests(2, timeout=5))))
    waiter.start()
    client.get(srv.url)
    client.get(srv.url)
    waiter.join(5)
    assert got == [2]


async def test_concurrent_async_clients(srv: FaultServer) -> None:
    srv.script(*(Reply(200, json={"n": i}) for i in range(20)))
    async with httpx2.AsyncClient(timeout=5.0) as c:
        rs = await asyncio.gather(*(c.get(srv.url, params={"i": i}) for i in range(20)))
    assert sorted(r.json()["n"] for r in rs) == list(range(20))
    reqs = srv.wait_for_requests(20, timeout=2)
    assert sorted(q.query for q in reqs) == sorted(f"i={i}" for i in range(20))
    assert [q.index for q in reqs] == list(range(20))
    assert srv.pending == 0


def test_clear_drops_script_and_records(srv: FaultServer, client: httpx2.Client) -> None:
    client.get(srv.url)
    srv.script(Fault.reset_before_head())
    srv.clear()
    assert (srv.pending, srv.requests) == (0, [])
    assert client.get(srv.url).status_code == 200


def test_stop_is_bounded_with_faults_in_flight() -> None:
    outcomes: list[type[BaseException] | None] = []

    def call(url: str) -> None:
        try:
            with httpx2.Client(timeout=30.0) as c, c.stream("GET", url) as r:
                r.read()
            outcomes.append(None)
        except httpx2.TransportError as exc:
            outcomes.append(type(exc))

    srv = FaultServer(stop_timeout=30.0)  # a stop that waited for its handlers would take all of it
    with srv:
        srv.script(Fault.delay(60), Fault.slow_body(interval=60, count=2))
        threads = [threading.Thread(target=call, args=(srv.url,)) for _ in range(2)]
        for t in threads:
            t.start()
        srv.wait_for_requests(2, timeout=5)
        # an idle keep-alive connection too
        idle = socket.create_connection((srv.host, srv.port))
        started = time.monotonic()
    elapsed = time.monotonic() - started
    for t in threads:
        t.join(5)
    assert elapsed < 15  # far below the stop timeout: handlers were cut, not waited for
    assert outcomes == [httpx2.ReadError, httpx2.ReadError]
    idle.settimeout(2.0)
    with contextlib.suppress(ConnectionResetError):  # the server end is gone (RST or FIN): must not block
        assert idle.recv(1) == b""
    idle.close()
    srv.stop()  # idempotent
    with pytest.raises(RuntimeError, match="already started"):
        srv.start()


def test_port_requires_a_running_server() -> None:
    with pytest.raises(RuntimeError, match="not started"):
        _ = FaultServer().url
