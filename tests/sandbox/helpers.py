"""Helpers for the sandbox tests."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import httpx2
import pytest

from atriumn.sandbox import Sandbox


def token_for(sandbox: Sandbox, client_id: str, client_secret: str, scope: str | None = None) -> str:
    body = {"grant_type": "client_credentials", "client_id": client_id, "client_secret": client_secret}
    if scope:
        body["scope"] = scope
    response = httpx2.post(f"{sandbox.url}/auth/token", json=body)
    assert response.status_code == 200, response.text
    return str(response.json()["access_token"])


class Api:
    """An httpx2 client bound to one credential of one sandbox."""

    def __init__(self, sandbox: Sandbox, token: str | None) -> None:
        self.sandbox = sandbox
        self.token = token
        headers = {"authorization": f"Bearer {token}"} if token else {}
        self.http = httpx2.Client(base_url=sandbox.url, headers=headers, timeout=10)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.http, name)


def wait_for(predicate: Callable[[], Any], timeout: float = 10.0, interval: float = 0.02) -> Any:
    """Poll ``predicate`` until it returns something truthy (bounded); fail the test on timeout."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"condition not met within {timeout}s")
        time.sleep(interval)


def assert_error(response: httpx2.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["error"] == code, body
    assert isinstance(body["error_description"], str)
    assert body["error_description"]
    assert response.headers["x-request-id"]
    return dict(body)
