"""Fixtures for the sandbox's own tests: everything goes over real sockets with httpx2."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator

import pytest

from atriumn.sandbox import Sandbox

from .helpers import Api, token_for


@pytest.fixture(scope="session")
def sandbox(atriumn_sandbox: Sandbox) -> Sandbox:
    """The session sandbox, from the package's own pytest plugin."""
    return atriumn_sandbox


@pytest.fixture(scope="session")
def admin(sandbox: Sandbox) -> Iterator[Api]:
    api = Api(sandbox, token_for(sandbox, sandbox.admin_client_id, sandbox.admin_client_secret))
    yield api
    api.http.close()


@pytest.fixture(scope="session")
def make_client(sandbox: Sandbox, admin: Api) -> Iterator[Callable[..., Api]]:
    """Create a client credential (in a tenant of its own unless told) and return an Api for it."""
    made: list[Api] = []

    def make(tenant: str | None = None, scopes: tuple[str, ...] = ("content", "prompts")) -> Api:
        tenant = tenant or f"tenant-{uuid.uuid4().hex[:8]}"
        created = admin.post(
            "/admin/credentials", json={"issued_to": "tests", "scopes": list(scopes), "tenant_id": tenant}
        )
        assert created.status_code == 201, created.text
        body = created.json()
        api = Api(sandbox, token_for(sandbox, body["client_id"], body["client_secret"]))
        made.append(api)
        return api

    yield make
    for api in made:
        api.http.close()


@pytest.fixture
def api(make_client: Callable[..., Api]) -> Api:
    """A fresh tenant's client."""
    return make_client()
