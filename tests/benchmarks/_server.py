"""A fast, minimal HTTP/1.1 keep-alive server for benchmarks, run in its own process pinned to its own core.

It answers every request with the same small JSON document (``GET /stream``: a 50-event server-sent event
stream), as fast as asyncio allows, so that the client side is what a benchmark measures. Not a test utility:
benchmarks only.
"""

from __future__ import annotations

import asyncio
import json
import multiprocessing as mp
import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager

BODY = json.dumps(
    {
        "id": "m",
        "object": "model",
        "created": 0,
        "owned_by": "bench",
        "type": "model",
        "created_at": "2024-01-01T00:00:00Z",
        "display_name": "m",
        "ok": True,
    }
).encode()
RESPONSE = (
    b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nx-request-id: bench\r\n"
    b"content-length: " + str(len(BODY)).encode() + b"\r\n\r\n" + BODY
)


def _sse(events: int) -> bytes:
    """A chunked ``text/event-stream`` of ``events`` JSON events then ``[DONE]``, one HTTP chunk per event."""
    out = [
        b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\nx-request-id: bench\r\n"
        b"transfer-encoding: chunked\r\n\r\n"
    ]
    for i in range(events + 1):
        data = json.dumps({"index": i, "delta": {"content": f" w{i}"}}).encode() if i < events else b"[DONE]"
        event = b"data: " + data + b"\n\n"
        out.append(f"{len(event):x}\r\n".encode() + event + b"\r\n")
    out.append(b"0\r\n\r\n")
    return b"".join(out)


#: ``GET /stream`` answers with this 50-event stream; every other request with :data:`RESPONSE`.
STREAM = _sse(50)


class _Proto(asyncio.Protocol):
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport
        self.buf = b""

    def data_received(self, data: bytes) -> None:
        self.buf += data
        while True:
            end = self.buf.find(b"\r\n\r\n")
            if end < 0:
                return
            head = self.buf[:end].lower()
            length = 0
            i = head.find(b"content-length:")
            if i >= 0:
                length = int(head[i + 15 :].split(b"\r\n", 1)[0])
            total = end + 4 + length
            if len(self.buf) < total:
                return
            stream = self.buf.startswith(b"GET /stream")
            self.buf = self.buf[total:]
            self.transport.write(STREAM if stream else RESPONSE)  # type: ignore[attr-defined]


def _serve(sock: socket.socket, cpu: int | None) -> None:
    if cpu is not None and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {cpu})

    async def main() -> None:
        loop = asyncio.get_running_loop()
        server = await loop.create_server(_Proto, sock=sock, backlog=1024)
        async with server:
            await server.serve_forever()

    asyncio.run(main())


@contextmanager
def bench_server(cpu: int | None = 1) -> Iterator[str]:
    """Start the server in a child process (pinned to ``cpu`` when possible); yields its base URL."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(1024)
    port = sock.getsockname()[1]
    ctx = mp.get_context("fork")
    proc = ctx.Process(target=_serve, args=(sock, cpu if (os.cpu_count() or 1) > 1 else None), daemon=True)
    proc.start()
    sock.close()  # the child holds the listening socket; connections queue until it accepts
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.join(5)
