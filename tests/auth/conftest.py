"""Fixtures for the auth tests: real sandboxes over sockets, a span recorder, and a file keyring."""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from auth_helpers import PASSWORD, latest_code, start_sandbox


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Any]:
    """One sandbox per test module (tests use fresh users and credentials, so they do not interfere)."""
    with start_sandbox() as sb:
        yield sb


_counter = itertools.count()


@pytest.fixture
def new_email() -> Callable[[], str]:
    def make() -> str:
        return f"user{next(_counter)}-{uuid.uuid4().hex[:8]}@example.com"

    return make


@pytest.fixture
def confirmed_user(sandbox: Any, new_email: Callable[[], str]) -> str:
    """A signed-up and confirmed user's email (password: PASSWORD)."""
    from atriumn.auth import AuthClient

    email = new_email()
    with AuthClient(base_url=sandbox.url) as client:
        client.signup(email=email, password=PASSWORD)
        client.confirm_signup(username=email, confirmation_code=latest_code(sandbox.url, email, "signup"))
    return email


@pytest.fixture(scope="session")
def spans() -> Any:
    """An in-memory span exporter on the global SDK tracer provider (installed if none is yet)."""
    from opentelemetry import trace
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    if not isinstance(trace.get_tracer_provider(), TracerProvider):
        trace.set_tracer_provider(TracerProvider())
    provider = trace.get_tracer_provider()
    assert isinstance(provider, TracerProvider)
    exporter = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return exporter


@pytest.fixture
def file_keyring(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    """A plaintext-file keyring in a temporary directory, for this process and its children."""
    import keyring
    from keyrings.alt.file import PlaintextKeyring

    env = {"PYTHON_KEYRING_BACKEND": "keyrings.alt.file.PlaintextKeyring", "XDG_DATA_HOME": str(tmp_path / "data")}
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    previous = keyring.get_keyring()
    keyring.set_keyring(PlaintextKeyring())
    try:
        yield env
    finally:
        keyring.set_keyring(previous)
