"""Helpers shared by the auth tests (imported as a module; fixtures live in conftest.py)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import httpx2

ADMIN_ID = "sandbox-admin-tests"
ADMIN_SECRET = "admin-secret-for-tests-only"  # a sandbox-local value, not a real credential
PASSWORD = "correct horse battery"  # the test users' password (sandbox-local)


@contextlib.contextmanager
def start_sandbox(**config: Any) -> Iterator[Any]:
    from atriumn.sandbox import Sandbox

    with Sandbox(admin_client_id=ADMIN_ID, admin_client_secret=ADMIN_SECRET, **config) as sandbox:
        yield sandbox


def outbox(url: str) -> list[dict[str, Any]]:
    """The sandbox's sent messages (confirmation and reset codes)."""
    doc = httpx2.get(f"{url}/_sandbox/outbox").json()
    messages = doc["messages"] if isinstance(doc, dict) else doc
    return list(messages)


def latest_code(url: str, email: str, purpose: str) -> str:
    for message in reversed(outbox(url)):
        if message.get("to") == email and message.get("purpose") == purpose:
            return str(message["code"])
    raise AssertionError(f"no {purpose} message for {email}")
