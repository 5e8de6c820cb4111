"""``Sandbox``: the app served by uvicorn on a free port in a background thread."""

from __future__ import annotations

import asyncio
import dataclasses
import socket
import threading
import time
from pathlib import Path
from types import TracebackType
from typing import Any

import uvicorn

from ._app import SandboxApp, create_app
from ._config import SandboxConfig
from ._faults import FaultRule, parse_fault

__all__ = ["Sandbox"]


class Sandbox:
    """A running sandbox server, for tests and demos.

    Use it as a context manager (``with Sandbox() as sb:`` or ``async with Sandbox() as sb:``): it binds
    ``host`` on ``port`` (0: a free port), starts uvicorn in a daemon thread and returns once the server
    accepts connections; on exit it stops the server and removes a temporary data directory.

    Args:
        config: the server's configuration (default: :class:`SandboxConfig` defaults).
        host: the interface to bind.
        port: the port to bind (0 picks a free one).
        **overrides: fields of :class:`SandboxConfig` to override, e.g. ``token_ttl=2``.
    """

    def __init__(
        self, config: SandboxConfig | None = None, *, host: str = "127.0.0.1", port: int = 0, **overrides: Any
    ) -> None:
        config = config or SandboxConfig()
        self.config = dataclasses.replace(config, **overrides) if overrides else config
        self.host = host
        self.port = port
        self._app: SandboxApp | None = None
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None

    # -- lifecycle ---------------------------------------------------------------------------------

    def start(self, timeout: float = 30.0) -> Sandbox:
        """Start serving; returns once the server is listening (``RuntimeError`` if it could not start)."""
        if self._thread is not None:
            raise RuntimeError("the sandbox is already running")
        self._app = create_app(self.config)
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        # IPPROTO_TCP explicitly: asyncio sets TCP_NODELAY only on sockets whose proto says TCP, and
        # without it every response pays a ~40 ms delayed-ACK stall (head and body are separate writes).
        sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, self.port))
        self.port = sock.getsockname()[1]
        config = uvicorn.Config(self._app, log_level="warning", lifespan="on", timeout_graceful_shutdown=5)
        self._server = server = uvicorn.Server(config)

        def run() -> None:
            try:
                asyncio.run(server.serve(sockets=[sock]))
            except BaseException as exc:  # reported by start()
                self._error = exc
            finally:
                sock.close()

        self._thread = thread = threading.Thread(target=run, name=f"atriumn-sandbox:{self.port}", daemon=True)
        thread.start()
        deadline = time.monotonic() + timeout
        while not server.started:
            thread.join(0.01)  # wakes at once if the server thread dies
            if not thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"the sandbox did not start: {self._error or 'timed out'}")
        return self

    def stop(self) -> None:
        """Stop the server (waiting for it) and release the data directory if it was temporary."""
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(30)
        if self._app is not None:
            self._app.close()
        self._server = self._thread = self._app = None

    def __enter__(self) -> Sandbox:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    async def __aenter__(self) -> Sandbox:
        return await asyncio.to_thread(self.start)

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await asyncio.to_thread(self.stop)

    # -- what tests use ----------------------------------------------------------------------------

    def _running(self) -> SandboxApp:
        if self._app is None:
            raise RuntimeError("the sandbox is not running")
        return self._app

    @property
    def url(self) -> str:
        """The base URL, e.g. ``http://127.0.0.1:53211``."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def admin_client_id(self) -> str:
        """The bootstrap admin credential's client id (scope ``admin``)."""
        return self.config.admin_client_id

    @property
    def admin_client_secret(self) -> str:
        """The bootstrap admin credential's secret."""
        return self.config.admin_client_secret

    @property
    def data_dir(self) -> Path:
        """Where the running sandbox keeps its database and blobs."""
        return self._running().data_dir

    def outbox(self, to: str | None = None) -> list[dict[str, Any]]:
        """The messages (confirmation and reset codes) sent so far, oldest first; only those to ``to`` if given."""
        messages = self._running().state.store.outbox()
        return [m for m in messages if to is None or m["to"] == to.lower()]

    def last_code(self, to: str, purpose: str | None = None) -> str:
        """The latest code sent to ``to`` (``purpose``: ``signup`` or ``password_reset``); ``LookupError`` if none."""
        for message in reversed(self.outbox(to)):
            if purpose is None or message["purpose"] == purpose:
                return str(message["code"])
        raise LookupError(f"no code was sent to {to}")

    def inject_fault(
        self,
        fault: str,
        *,
        count: int | None = 1,
        path_prefix: str = "/",
        probability: float = 1.0,
        seed: int | None = None,
        retry_after: float | None = None,
    ) -> str:
        """Inject ``fault`` (``"status:503"``, ``"reset-before-head"``, ``"delay:2"``...) into matching requests.

        The next ``count`` requests whose path starts with ``path_prefix`` (``count=None``: every one until
        :meth:`clear_faults`) each get the fault with ``probability`` (drawn from a ``seed``-ed generator).
        Returns the rule's id.
        """
        if not 0 < probability <= 1:
            raise ValueError("probability must be in (0, 1]")
        rule = FaultRule(
            fault=parse_fault(fault, retry_after=retry_after),
            count=count,
            path_prefix=path_prefix,
            probability=probability,
            seed=seed,
        )
        return self._running().state.faults.add(rule).id

    def clear_faults(self) -> None:
        """Remove every global fault rule."""
        self._running().state.faults.clear()
