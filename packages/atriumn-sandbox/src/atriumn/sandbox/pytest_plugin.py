"""The pytest plugin (entry point ``pytest11``): fixtures ``atriumn_sandbox`` and ``atriumn_sandbox_factory``.

``atriumn_sandbox`` is one sandbox for the whole session (fresh temporary data). For a sandbox of your
own (a short ``token_ttl``, a rate limit...) call ``atriumn_sandbox_factory(token_ttl=2)``; it is stopped
at the end of the test.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from ._server import Sandbox

__all__ = ["atriumn_sandbox", "atriumn_sandbox_factory"]


@pytest.fixture(scope="session")
def atriumn_sandbox() -> Iterator[Sandbox]:
    """A running sandbox shared by the test session."""
    with Sandbox() as sandbox:
        yield sandbox


@pytest.fixture
def atriumn_sandbox_factory() -> Iterator[Callable[..., Sandbox]]:
    """Start sandboxes with their own configuration (``SandboxConfig`` fields as keyword arguments)."""
    started: list[Sandbox] = []

    def factory(**overrides: Any) -> Sandbox:
        sandbox = Sandbox(**overrides).start()
        started.append(sandbox)
        return sandbox

    yield factory
    for sandbox in reversed(started):
        sandbox.stop()
