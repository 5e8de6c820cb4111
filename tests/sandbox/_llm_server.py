"""Serve the LLM emulation's routes alone (``Starlette(routes=llm_routes())``) on a free loopback port.

The tests use it so that the emulation is tested on its own, over a real socket, independently of the rest
of the sandbox app; the same tests also run against the full :class:`atriumn.sandbox.Sandbox` when present.
"""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn
from starlette.applications import Starlette

from atriumn.sandbox._llm import llm_routes


class _Server(uvicorn.Server):
    """A uvicorn server that signals (an Event, not polling) once it is serving."""

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self.ready = threading.Event()

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        self.ready.set()


@contextmanager
def serve_llm(timeout: float = 30.0) -> Iterator[str]:
    """Run the routes in a background thread; yields the base URL (``http://127.0.0.1:<port>``)."""
    # IPPROTO_TCP explicitly, so that asyncio sets TCP_NODELAY (no delayed-ACK stalls between writes).
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(Starlette(routes=llm_routes()), log_level="warning", lifespan="off")
    server = _Server(config)
    failure: list[BaseException] = []

    def run() -> None:
        try:
            asyncio.run(server.serve(sockets=[sock]))
        except BaseException as exc:
            failure.append(exc)
        finally:
            server.ready.set()  # never leave the waiter hanging
            sock.close()

    thread = threading.Thread(target=run, name=f"llm-emulation:{port}", daemon=True)
    thread.start()
    if not server.ready.wait(timeout) or not server.started:
        server.should_exit = True
        thread.join(timeout)
        raise RuntimeError(f"the LLM emulation did not start: {failure[0] if failure else 'timed out'}")
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout)
