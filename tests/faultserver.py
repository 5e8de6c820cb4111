"""A socket-level fault-injecting HTTP/1.1 server for resilience tests (test utility, not a test module).

Why not an ASGI app: an ASGI server cannot reset a connection after the response head, send a lying
Content-Length, or dribble a body on its own schedule. This is a small asyncio server of its own, on
127.0.0.1, on a free port, in a background thread with its own event loop.

Importing it
------------
``tests/`` is a regular package (an empty ``tests/__init__.py``) and the root ``pyproject.toml`` sets
``pythonpath = ["."]`` under ``[tool.pytest.ini_options]``, so from any test file, at any depth (the
sub-directories such as ``tests/core/`` need no ``__init__.py``)::

    from tests.faultserver import Fault, FaultServer, Reply, refused_url

The regular package (rather than a namespace package) makes sure an unrelated distribution that ships
a top-level ``tests`` package cannot shadow this one.

Using it
--------
::

    with FaultServer() as srv:
        srv.script(
            Fault.reset_before_head(),
            Reply(429, headers={"Retry-After": "1"}),
            Reply(200, json={"ok": True}),
        )
        ...  # make requests against srv.url
        seen = srv.wait_for_requests(3, timeout=5)
        assert [r.fault is not None for r in seen] == [True, False, False]

Each request consumes one step of the script, in order; when the script is empty the server answers
with ``srv.default`` (``Reply(200, json={"ok": True})`` unless given). A step may also be a callable
taking the :class:`RecordedRequest` and returning a :class:`Reply` or :class:`Fault`.

Every request that was read completely is recorded, before its step runs, in ``srv.requests``.
Leaving the ``with`` block aborts every open connection (including delayed or dribbling responses)
and stops the loop within a bounded time (``stop_timeout``); it never hangs the suite.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import email.utils
import enum
import itertools
import json as jsonlib
import socket
import struct
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from http import HTTPStatus
from types import TracebackType
from urllib.parse import urlsplit

__all__ = [
    "Fault",
    "FaultKind",
    "FaultServer",
    "Headers",
    "RecordedRequest",
    "Reply",
    "Step",
    "refused_url",
]

_MAX_HEAD = 64 * 1024
_MAX_BODY = 16 * 1024 * 1024
_UNSET: object = object()

HeaderInput = Mapping[str, str] | Sequence[tuple[str, str]] | None


def _header_list(headers: HeaderInput) -> tuple[tuple[str, str], ...]:
    if headers is None:
        return ()
    if isinstance(headers, Mapping):
        return tuple((str(k), str(v)) for k, v in headers.items())
    return tuple((str(k), str(v)) for k, v in headers)


class Headers(Mapping[str, str]):
    """A case-insensitive, order-preserving multimap of header fields as received.

    ``headers["X"]`` joins repeated fields with ``", "`` (as HTTP allows); ``get_all`` gives them one by
    one; ``raw`` is the list of ``(name, value)`` pairs with the names as sent.
    """

    __slots__ = ("_raw",)

    def __init__(self, raw: Iterable[tuple[str, str]] = ()) -> None:
        self._raw: tuple[tuple[str, str], ...] = tuple(raw)

    @property
    def raw(self) -> list[tuple[str, str]]:
        return list(self._raw)

    def get_all(self, name: str) -> list[str]:
        key = name.lower()
        return [v for k, v in self._raw if k.lower() == key]

    def __getitem__(self, name: str) -> str:
        values = self.get_all(name)
        if not values:
            raise KeyError(name)
        return ", ".join(values)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and any(k.lower() == name.lower() for k, _ in self._raw)

    def __iter__(self) -> Iterator[str]:
        seen: dict[str, None] = {}
        for k, _ in self._raw:
            seen.setdefault(k.lower(), None)
        return iter(seen)

    def __len__(self) -> int:
        return len({k.lower() for k, _ in self._raw})

    def __repr__(self) -> str:
        return f"Headers({list(self._raw)!r})"


class Reply:
    """A normal, complete response.

    ``Reply(200, json={"ok": True})``, ``Reply(204)``, ``Reply(200, body=b"raw", content_type="text/plain")``.
    ``headers`` are sent as given (a mapping or a list of pairs, so repeats are possible); a
    ``Content-Length`` is added unless given, a ``Content-Type`` when there is a body and none is given.
    ``close=True`` sends ``Connection: close`` and closes the connection afterwards (keep-alive otherwise).
    """

    __slots__ = ("body", "close", "headers", "status")

    def __init__(
        self,
        status: int = 200,
        *,
        headers: HeaderInput = None,
        body: bytes | str = b"",
        json: object = _UNSET,
        content_type: str | None = None,
        close: bool = False,
    ) -> None:
        if json is not _UNSET and body:
            raise ValueError("give body or json, not both")
        hdrs = list(_header_list(headers))
        names = {k.lower() for k, _ in hdrs}
        if json is not _UNSET:
            data = jsonlib.dumps(json, separators=(",", ":")).encode()
            content_type = content_type or "application/json"
        else:
            data = body.encode() if isinstance(body, str) else bytes(body)
        if content_type is not None and "content-type" not in names:
            hdrs.append(("Content-Type", content_type))
        elif data and "content-type" not in names:
            hdrs.append(("Content-Type", "application/octet-stream"))
        if "content-length" not in names and "transfer-encoding" not in names:
            hdrs.append(("Content-Length", str(len(data))))
        if close and "connection" not in names:
            hdrs.append(("Connection", "close"))
        self.status: int = status
        self.headers: tuple[tuple[str, str], ...] = tuple(hdrs)
        self.body: bytes = data
        self.close: bool = close

    def _key(self) -> tuple[int, tuple[tuple[str, str], ...], bytes, bool]:
        return (self.status, self.headers, self.body, self.close)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Reply) and self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __repr__(self) -> str:
        return f"Reply({self.status}, headers={list(self.headers)!r}, body={self.body[:40]!r})"

    # --- ready-made replies -------------------------------------------------------------------------------

    @classmethod
    def invalid_json(cls, status: int = 200, body: bytes = b'{"ok": tru', *, headers: HeaderInput = None) -> Reply:
        """A body that does not parse, served as ``application/json``."""
        return cls(status, headers=headers, body=body, content_type="application/json")

    @classmethod
    def html_error(cls, status: int = 502, *, headers: HeaderInput = None) -> Reply:
        """A proxy-style HTML error page (``text/html``), e.g. what a load balancer answers with."""
        phrase = _phrase(status)
        page = (
            f"<html>\r\n<head><title>{status} {phrase}</title></head>\r\n<body>\r\n"
            f"<center><h1>{status} {phrase}</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
        )
        return cls(status, headers=headers, body=page, content_type="text/html; charset=utf-8")

    @classmethod
    def retry_after(
        cls, seconds: float | str, status: int = 429, *, json: object = _UNSET, headers: HeaderInput = None
    ) -> Reply:
        """``Retry-After: <seconds>`` (an int is sent as is; any string is sent verbatim)."""
        value = seconds if isinstance(seconds, str) else _num(seconds)
        return cls(status, headers=[*_header_list(headers), ("Retry-After", value)], json=_error_json(status, json))

    @classmethod
    def retry_after_date(
        cls,
        delay: float = 1.0,
        status: int = 503,
        *,
        now: float | None = None,
        json: object = _UNSET,
        headers: HeaderInput = None,
    ) -> Reply:
        """``Retry-After: <HTTP-date>``, ``delay`` seconds after ``now`` (default: the time of the call)."""
        when = (time.time() if now is None else now) + delay
        value = email.utils.formatdate(when, usegmt=True)
        return cls(status, headers=[*_header_list(headers), ("Retry-After", value)], json=_error_json(status, json))

    @classmethod
    def retry_after_ms(
        cls, ms: float, status: int = 429, *, json: object = _UNSET, headers: HeaderInput = None
    ) -> Reply:
        """``retry-after-ms: <milliseconds>`` (the OpenAI / Anthropic extension)."""
        return cls(
            status, headers=[*_header_list(headers), ("retry-after-ms", _num(ms))], json=_error_json(status, json)
        )

    @classmethod
    def should_retry(
        cls, retry: bool, status: int = 500, *, json: object = _UNSET, headers: HeaderInput = None
    ) -> Reply:
        """``x-should-retry: true|false`` (the server overriding the client's retry decision)."""
        value = "true" if retry else "false"
        return cls(status, headers=[*_header_list(headers), ("x-should-retry", value)], json=_error_json(status, json))


def _num(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return {529: "Site is overloaded"}.get(status, "Unknown")


def _error_json(status: int, given: object) -> object:
    if given is not _UNSET:
        return given
    return {"error": {"type": "fault", "message": f"{status} {_phrase(status)}"}}


class FaultKind(enum.Enum):
    RESET_BEFORE_HEAD = "reset_before_head"
    RESET_AFTER_HEAD = "reset_after_head"
    CLOSE_BEFORE_HEAD = "close_before_head"
    DELAY = "delay"
    SLOW_BODY = "slow_body"
    TRUNCATED_BODY = "truncated_body"
    RAW = "raw"


@dataclasses.dataclass(frozen=True)
class Fault:
    """A misbehaviour applied to one request, after the request has been read completely.

    Build them with the class methods; the fields are the parameters of the kind.
    """

    kind: FaultKind
    seconds: float = 0.0
    reply: Reply | None = None
    chunk: bytes = b""
    interval: float = 0.0
    count: int = 0
    chunked: bool = False
    declared_length: int = 0
    data: bytes = b""

    @classmethod
    def reset_before_head(cls) -> Fault:
        """Read the request, then RST the connection (SO_LINGER 0 and close): nothing is sent."""
        return cls(FaultKind.RESET_BEFORE_HEAD)

    @classmethod
    def reset_after_head(
        cls,
        status: int = 200,
        *,
        headers: HeaderInput = None,
        content_length: int = 1024,
        partial_body: bytes = b"",
    ) -> Fault:
        """Send the status line and headers (claiming ``content_length`` body bytes) and optionally the
        first ``partial_body`` bytes, wait until they left the process, then RST the connection."""
        hdrs = [*_header_list(headers), ("Content-Type", "application/json"), ("Content-Length", str(content_length))]
        reply = Reply(status, headers=hdrs)
        return cls(FaultKind.RESET_AFTER_HEAD, reply=reply, data=partial_body)

    @classmethod
    def close_before_head(cls) -> Fault:
        """Read the request, then close cleanly (FIN) without sending anything."""
        return cls(FaultKind.CLOSE_BEFORE_HEAD)

    @classmethod
    def delay(cls, seconds: float, then: Reply | None = None) -> Fault:
        """Wait ``seconds`` before sending anything (a client read timeout), then answer with ``then``
        (default ``Reply(200, json={"ok": True})``) if the client is still there."""
        return cls(FaultKind.DELAY, seconds=seconds, reply=then or Reply(200, json={"ok": True}))

    @classmethod
    def slow_body(
        cls,
        chunk: bytes = b"x",
        interval: float = 0.05,
        count: int = 10,
        *,
        status: int = 200,
        headers: HeaderInput = None,
        chunked: bool = False,
        content_type: str = "application/octet-stream",
    ) -> Fault:
        """Send the head at once, then ``count`` times ``chunk``, sleeping ``interval`` before each one.

        The head announces ``Content-Length: len(chunk) * count`` (or ``Transfer-Encoding: chunked``);
        the connection stays usable when the body completes.
        """
        hdrs = [*_header_list(headers), ("Content-Type", content_type)]
        if chunked:
            hdrs.append(("Transfer-Encoding", "chunked"))
        else:
            hdrs.append(("Content-Length", str(len(chunk) * count)))
        return cls(
            FaultKind.SLOW_BODY,
            reply=Reply(status, headers=hdrs),
            chunk=chunk,
            interval=interval,
            count=count,
            chunked=chunked,
        )

    @classmethod
    def truncated_body(
        cls,
        body: bytes = b'{"ok": true, "items": [1, 2',
        declared_length: int | None = None,
        *,
        status: int = 200,
        headers: HeaderInput = None,
        content_type: str = "application/json",
    ) -> Fault:
        """Announce ``Content-Length: declared_length`` (default ``len(body) + 100``), send only ``body``,
        then close cleanly (FIN)."""
        declared = len(body) + 100 if declared_length is None else declared_length
        if declared <= len(body):
            raise ValueError("declared_length must exceed the bytes sent")
        hdrs = [*_header_list(headers), ("Content-Type", content_type), ("Content-Length", str(declared))]
        return cls(FaultKind.TRUNCATED_BODY, reply=Reply(status, headers=hdrs), data=body, declared_length=declared)

    @classmethod
    def raw(cls, data: bytes) -> Fault:
        """Send ``data`` verbatim (say, a malformed status line), then close cleanly (FIN)."""
        return cls(FaultKind.RAW, data=data)


@dataclasses.dataclass(frozen=True)
class RecordedRequest:
    """One request as the server read it, recorded before its step ran."""

    index: int
    """Position among all requests this server has received (0-based)."""
    method: str
    target: str
    """The request target exactly as sent (path and query)."""
    path: str
    query: str
    """The raw query string without ``?`` ("" when none)."""
    http_version: str
    headers: Headers
    body: bytes
    connection_id: int
    """Which TCP connection carried it (1-based, in accept order): equal ids mean keep-alive reuse."""
    request_on_connection: int
    """1 for the first request on its connection, 2 for the second, and so on."""
    step: Reply | Fault
    """What answered it."""
    received_at: float = dataclasses.field(default_factory=time.monotonic)

    @property
    def fault(self) -> Fault | None:
        return self.step if isinstance(self.step, Fault) else None

    @property
    def fault_applied(self) -> bool:
        """Whether this request was answered with a :class:`Fault` rather than a :class:`Reply`."""
        return isinstance(self.step, Fault)

    def json(self) -> object:
        return jsonlib.loads(self.body)


Step = Reply | Fault | Callable[[RecordedRequest], Reply | Fault]
"""A script step. A callable is called on the server's thread with the request (whose ``step`` is a
placeholder ``Reply(500)`` at that point; the recorded copy carries what the callable returned)."""


class _BadRequest(Exception):
    pass


def refused_url(path: str = "/") -> str:
    """A URL on a loopback port where nothing listens (bound to learn a free port, then closed)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}{path}"


class FaultServer:
    """The server. ``with FaultServer() as srv:`` starts it (and returns once it accepts connections);
    leaving the block stops it. Thread-safe: script it and read its records from any thread."""

    refused_url = staticmethod(refused_url)

    def __init__(
        self,
        default: Step | None = None,
        *,
        start_timeout: float = 5.0,
        stop_timeout: float = 5.0,
    ) -> None:
        self.default: Step = default if default is not None else Reply(200, json={"ok": True})
        self.start_timeout = start_timeout
        self.stop_timeout = stop_timeout
        self._lock = threading.Lock()
        self._cond = threading.Condition(self._lock)
        self._queue: deque[Step] = deque()
        self._requests: list[RecordedRequest] = []
        self._errors: list[str] = []
        self._conn_ids = itertools.count(1)
        self._connections_opened = 0
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._ready = threading.Event()
        self._startup_error: BaseException | None = None
        self._port = 0
        self._tasks: set[asyncio.Task[None]] = set()
        self._stopping = False
        self._writers: set[asyncio.StreamWriter] = set()
        self._socks: set[socket.socket] = set()

    # --- lifecycle ---------------------------------------------------------------------------------------

    def __enter__(self) -> FaultServer:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def start(self) -> None:
        if self._thread is not None:
            raise RuntimeError("FaultServer already started")
        self._thread = threading.Thread(target=self._run, name="FaultServer", daemon=True)
        self._thread.start()
        if not self._ready.wait(self.start_timeout):
            raise RuntimeError(f"FaultServer did not start within {self.start_timeout}s")
        if self._startup_error is not None:
            self._thread.join(self.stop_timeout)
            raise RuntimeError("FaultServer failed to start") from self._startup_error

    def stop(self) -> None:
        """Abort every connection and stop the loop; bounded by ``stop_timeout``. Idempotent."""
        thread, loop, stop = self._thread, self._loop, self._stop
        if thread is None or not thread.is_alive():
            return
        if loop is not None and stop is not None:
            with contextlib.suppress(RuntimeError):  # the loop closed in the meantime
                loop.call_soon_threadsafe(stop.set)
        thread.join(self.stop_timeout)
        if thread.is_alive():
            raise RuntimeError(f"FaultServer did not stop within {self.stop_timeout}s")

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            loop.run_until_complete(self._main())
        except BaseException as exc:  # reported to start() if it happened before readiness
            self._startup_error = self._startup_error or exc
            self._ready.set()
        finally:
            with contextlib.suppress(Exception):
                loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

    async def _main(self) -> None:
        # Our own accept loop (not asyncio.start_server): every accepted socket is owned by this object
        # from the instant accept() returns, so stopping can close each one, even mid-handshake.
        loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            listener.bind(("127.0.0.1", 0))
            listener.listen(128)
            listener.setblocking(False)
            self._port = listener.getsockname()[1]
            loop.add_reader(listener.fileno(), self._accept, listener)
            self._ready.set()
            await self._stop.wait()
        finally:
            self._stopping = True
            with contextlib.suppress(Exception):
                loop.remove_reader(listener.fileno())
            listener.close()  # connections still in the kernel's backlog are reset
            await self._shutdown()

    def _accept(self, listener: socket.socket) -> None:
        """Reader callback of the listening socket: accept everything pending, one task per connection."""
        while True:
            try:
                conn, _ = listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:
                self._error(f"accept failed: {exc!r}")
                return
            if self._stopping:
                _rst_close(conn)
                continue
            conn.setblocking(False)
            self._socks.add(conn)
            task = asyncio.get_running_loop().create_task(self._on_connection(conn))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _shutdown(self) -> None:
        """Abort every connection and wait, within a deadline, until every task on this loop is done and
        every socket closed."""
        deadline = time.monotonic() + max(self.stop_timeout - 1.0, 0.5)
        me = asyncio.current_task()
        seen: set[asyncio.StreamWriter] = set()
        while True:
            writers = set(self._writers)
            seen |= writers
            for writer in writers:
                _abort(writer)
            for task in list(self._tasks):
                task.cancel()
            others = {t for t in asyncio.all_tasks() if t is not me}
            remaining = deadline - time.monotonic()
            if not others or remaining <= 0:
                break
            await asyncio.wait(others, timeout=remaining)
        # Let every aborted transport run connection_lost (which closes its socket) before the loop ends.
        closing = [asyncio.ensure_future(_wait_closed(w)) for w in seen]
        if closing:
            await asyncio.wait(closing, timeout=max(deadline - time.monotonic(), 0.1))
        for conn in list(self._socks):  # any socket whose task never got to wrap it (closing twice is a no-op)
            _rst_close(conn)
        self._socks.clear()

    # --- public API --------------------------------------------------------------------------------------

    @property
    def port(self) -> int:
        if not self._ready.is_set():
            raise RuntimeError("FaultServer is not started")
        return self._port

    @property
    def host(self) -> str:
        return "127.0.0.1"

    @property
    def url(self) -> str:
        """``http://127.0.0.1:<port>`` (no trailing slash)."""
        return f"http://127.0.0.1:{self.port}"

    def url_for(self, path: str = "/") -> str:
        return self.url + (path if path.startswith("/") else "/" + path)

    def script(self, *steps: Step) -> None:
        """Append steps to the queue; each request consumes one, in order."""
        with self._lock:
            self._queue.extend(steps)

    def clear(self) -> None:
        """Drop the remaining script steps and the recorded requests and errors."""
        with self._lock:
            self._queue.clear()
            self._requests.clear()
            self._errors.clear()

    @property
    def pending(self) -> int:
        """How many scripted steps have not been consumed yet."""
        with self._lock:
            return len(self._queue)

    @property
    def requests(self) -> list[RecordedRequest]:
        """A snapshot (a new list) of every request received so far, in arrival order."""
        with self._lock:
            return list(self._requests)

    @property
    def errors(self) -> list[str]:
        """Internal problems (malformed requests, handler exceptions): empty in a healthy test."""
        with self._lock:
            return list(self._errors)

    @property
    def connections_opened(self) -> int:
        with self._lock:
            return self._connections_opened

    def wait_for_requests(self, n: int, timeout: float = 5.0) -> list[RecordedRequest]:
        """Block until at least ``n`` requests were recorded; return the snapshot. Raises TimeoutError."""
        with self._cond:
            if not self._cond.wait_for(lambda: len(self._requests) >= n, timeout):
                raise TimeoutError(f"FaultServer saw {len(self._requests)} request(s), wanted {n}, within {timeout}s")
            return list(self._requests)

    # --- connection handling (event-loop thread) ---------------------------------------------------------

    async def _on_connection(self, conn: socket.socket) -> None:
        try:
            reader, writer = await asyncio.open_connection(sock=conn, limit=_MAX_HEAD)
        except BaseException:
            _rst_close(conn)
            self._socks.discard(conn)
            raise
        self._writers.add(writer)
        with self._lock:
            conn_id = next(self._conn_ids)
            self._connections_opened += 1
        # drain() now waits until every byte has been handed to the kernel: needed before an RST.
        writer.transport.set_write_buffer_limits(high=0)
        try:
            await self._serve(conn_id, reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass  # the client went away: nothing to report
        except asyncio.CancelledError:
            pass  # the server is stopping
        except Exception as exc:
            self._error(f"connection {conn_id}: {exc!r}")
        finally:
            self._writers.discard(writer)
            if not writer.is_closing():
                _abort(writer)
            await _wait_closed(writer)
            self._socks.discard(conn)

    async def _serve(self, conn_id: int, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        for number in itertools.count(1):
            try:
                parsed = await _read_request(reader)
            except _BadRequest as exc:
                self._error(f"connection {conn_id}: bad request: {exc}")
                await _send_reply(writer, Reply(400, body=str(exc), content_type="text/plain", close=True), "GET")
                writer.close()
                return
            if parsed is None:  # clean EOF between requests
                writer.close()
                return
            method, target, version, headers, body = parsed
            step, record = self._record(conn_id, number, method, target, version, headers, body)
            keep_alive = await self._apply(step, method, writer)
            if not keep_alive or not _wants_keep_alive(version, record.headers):
                await _close_gracefully(writer)
                return

    def _record(
        self,
        conn_id: int,
        number: int,
        method: str,
        target: str,
        version: str,
        headers: list[tuple[str, str]],
        body: bytes,
    ) -> tuple[Reply | Fault, RecordedRequest]:
        split = urlsplit(target)
        hdrs = Headers(headers)
        with self._lock:
            chosen = self._queue.popleft() if self._queue else self.default
            index = len(self._requests)
        draft = RecordedRequest(
            index=index,
            method=method,
            target=target,
            path=split.path or "/",
            query=split.query,
            http_version=version,
            headers=hdrs,
            body=body,
            connection_id=conn_id,
            request_on_connection=number,
            step=Reply(500),
        )
        step: Reply | Fault
        if isinstance(chosen, (Reply, Fault)):
            step = chosen
        else:
            try:
                step = chosen(draft)
            except Exception as exc:
                self._error(f"handler {chosen!r} raised {exc!r}")
                step = Reply(500, body=f"handler raised {exc!r}", content_type="text/plain")
            if not isinstance(step, (Reply, Fault)):
                self._error(f"handler {chosen!r} returned {step!r}, not a Reply or Fault")
                step = Reply(500, body="handler returned neither Reply nor Fault", content_type="text/plain")
        record = dataclasses.replace(draft, step=step)
        with self._cond:
            self._requests.append(record)
            self._cond.notify_all()
        return step, record

    async def _apply(self, step: Reply | Fault, method: str, writer: asyncio.StreamWriter) -> bool:
        """Run one step. Returns whether the connection may serve another request."""
        if isinstance(step, Reply):
            await _send_reply(writer, step, method)
            return not step.close
        kind = step.kind
        if kind is FaultKind.RESET_BEFORE_HEAD:
            _reset(writer)
            return False
        if kind is FaultKind.CLOSE_BEFORE_HEAD:
            return False
        if kind is FaultKind.RESET_AFTER_HEAD:
            assert step.reply is not None
            writer.write(_head(step.reply) + step.data)
            await writer.drain()
            _reset(writer)
            return False
        if kind is FaultKind.DELAY:
            assert step.reply is not None
            await asyncio.sleep(step.seconds)
            await _send_reply(writer, step.reply, method)
            return not step.reply.close
        if kind is FaultKind.SLOW_BODY:
            assert step.reply is not None
            writer.write(_head(step.reply))
            await writer.drain()
            for _ in range(step.count):
                await asyncio.sleep(step.interval)
                piece = step.chunk
                if step.chunked:
                    piece = f"{len(piece):x}\r\n".encode() + piece + b"\r\n"
                writer.write(piece)
                await writer.drain()
            if step.chunked:
                writer.write(b"0\r\n\r\n")
                await writer.drain()
            return True
        if kind is FaultKind.TRUNCATED_BODY:
            assert step.reply is not None
            writer.write(_head(step.reply) + step.data)
            await writer.drain()
            return False
        if kind is FaultKind.RAW:
            writer.write(step.data)
            await writer.drain()
            return False
        raise AssertionError(f"unknown fault kind {kind!r}")  # pragma: no cover

    def _error(self, message: str) -> None:
        with self._lock:
            self._errors.append(message)


# --- HTTP/1.1 plumbing ---------------------------------------------------------------------------------------


async def _read_request(
    reader: asyncio.StreamReader,
) -> tuple[str, str, str, list[tuple[str, str]], bytes] | None:
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError as exc:
        if not exc.partial.strip():
            return None
        raise _BadRequest("connection closed inside the request head") from exc
    except asyncio.LimitOverrunError as exc:
        raise _BadRequest("request head too large") from exc
    lines = head[:-4].decode("latin-1").split("\r\n")
    while lines and not lines[0]:  # tolerate stray CRLFs between requests (RFC 9112 §2.2)
        lines.pop(0)
    if not lines:
        raise _BadRequest("empty request head")
    parts = lines[0].split(" ")
    if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
        raise _BadRequest(f"bad request line {lines[0]!r}")
    method, target, version = parts
    headers: list[tuple[str, str]] = []
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if not sep or not name or name != name.strip():
            raise _BadRequest(f"bad header line {line!r}")
        headers.append((name, value.strip(" \t")))
    hdrs = Headers(headers)
    if hdrs.get("expect", "").lower() == "100-continue":
        raise _BadRequest("Expect: 100-continue is not supported")
    te = hdrs.get("transfer-encoding")
    if te is not None:
        if te.lower() != "chunked":
            raise _BadRequest(f"unsupported transfer-encoding {te!r}")
        body = await _read_chunked(reader)
    else:
        lengths = set(hdrs.get_all("content-length"))
        if len(lengths) > 1:
            raise _BadRequest("conflicting content-length")
        length = int(lengths.pop()) if lengths and lengths != {""} else 0
        if length < 0 or length > _MAX_BODY:
            raise _BadRequest(f"bad content-length {length}")
        body = await reader.readexactly(length) if length else b""
    return method, target, version, headers, body


async def _read_chunked(reader: asyncio.StreamReader) -> bytes:
    out = bytearray()
    while True:
        size_line = await reader.readuntil(b"\r\n")
        size_text = size_line[:-2].split(b";", 1)[0].strip()
        try:
            size = int(size_text, 16)
        except ValueError as exc:
            raise _BadRequest(f"bad chunk size {size_text!r}") from exc
        if size == 0:
            while (await reader.readuntil(b"\r\n")) != b"\r\n":  # trailers
                pass
            return bytes(out)
        if len(out) + size > _MAX_BODY:
            raise _BadRequest("chunked body too large")
        out += await reader.readexactly(size)
        if await reader.readexactly(2) != b"\r\n":
            raise _BadRequest("chunk not followed by CRLF")


def _wants_keep_alive(version: str, headers: Headers) -> bool:
    tokens = {t.strip().lower() for t in headers.get("connection", "").split(",")}
    if version == "HTTP/1.0":
        return "keep-alive" in tokens
    return "close" not in tokens


def _head(reply: Reply) -> bytes:
    lines = [f"HTTP/1.1 {reply.status} {_phrase(reply.status)}"]
    lines += [f"{k}: {v}" for k, v in reply.headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


async def _send_reply(writer: asyncio.StreamWriter, reply: Reply, method: str) -> None:
    no_body = method == "HEAD" or reply.status in (204, 304) or 100 <= reply.status < 200
    writer.write(_head(reply) + (b"" if no_body else reply.body))
    await writer.drain()


def _reset(writer: asyncio.StreamWriter) -> None:
    """Close with an RST instead of a FIN: SO_LINGER on with a zero timeout, then close."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


def _rst_close(conn: socket.socket) -> None:
    with contextlib.suppress(OSError):
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    conn.close()


def _abort(writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(Exception):
        _reset(writer)


async def _wait_closed(writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(Exception):
        await writer.wait_closed()


async def _close_gracefully(writer: asyncio.StreamWriter) -> None:
    writer.close()
    await _wait_closed(writer)
