"""Fixtures for the ingest tests: a real sandbox over sockets and credentials in two tenants."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from atriumn.auth import AuthClient, ClientCredentials
from atriumn.sandbox import Sandbox


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    """A sandbox whose background processing is fast (each step 20 ms)."""
    with Sandbox(processing_delay=0.02) as sb:
        yield sb


#: client id -> secret of the credentials created here (the provider keeps its secret private).
SECRETS: dict[str, str] = {}


def _tenant_credential(sandbox: Sandbox, tenant: str) -> ClientCredentials:
    admin = ClientCredentials(
        client_id=sandbox.admin_client_id, client_secret=sandbox.admin_client_secret, base_url=sandbox.url
    )
    with AuthClient(base_url=sandbox.url, credentials=admin) as auth:
        created = auth.create_client_credential(
            issued_to=f"ingest-tests-{tenant}", scopes=["read", "write"], tenant_id=tenant
        )
    SECRETS[created.client_id] = created.client_secret
    return ClientCredentials(client_id=created.client_id, client_secret=created.client_secret, base_url=sandbox.url)


@pytest.fixture(scope="module")
def tenant_a(sandbox: Sandbox) -> ClientCredentials:
    """Credentials of a fresh tenant."""
    return _tenant_credential(sandbox, f"tenant-a-{uuid.uuid4().hex[:6]}")


@pytest.fixture(scope="module")
def tenant_b(sandbox: Sandbox) -> ClientCredentials:
    """Credentials of another fresh tenant."""
    return _tenant_credential(sandbox, f"tenant-b-{uuid.uuid4().hex[:6]}")


@pytest.fixture
def text_file(tmp_path: Any) -> Any:
    path = tmp_path / "notes.txt"
    path.write_text("line one\nline two\n" * 100)
    return path
