"""In-process keyring backends for tests (test utility, not a test module).

``MemoryKeyring`` is a working backend that keeps passwords in a dict; ``BrokenKeyring`` claims to work
(positive priority) but fails on every call, like a desktop keyring whose daemon went away. Install one
with ``keyring.set_keyring(MemoryKeyring())`` and restore the previous backend afterwards (the
``memory_keyring`` / ``broken_keyring`` fixtures in ``tests/core/conftest.py`` do both).
"""

from __future__ import annotations

import threading

from keyring.backend import KeyringBackend
from keyring.errors import KeyringError, PasswordDeleteError

__all__ = ["BrokenKeyring", "MemoryKeyring"]


class MemoryKeyring(KeyringBackend):
    """A keyring that lives in this process: ``(service, username) -> password``."""

    priority = 1  # type: ignore[assignment]  # usable, but never chosen over a real backend by keyring itself

    def __init__(self) -> None:
        super().__init__()
        self.passwords: dict[tuple[str, str], str] = {}
        self.calls: list[tuple[str, str, str]] = []
        self._lock = threading.Lock()

    def get_password(self, service: str, username: str) -> str | None:
        with self._lock:
            self.calls.append(("get", service, username))
            return self.passwords.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        with self._lock:
            self.calls.append(("set", service, username))
            self.passwords[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        with self._lock:
            self.calls.append(("delete", service, username))
            if self.passwords.pop((service, username), None) is None:
                raise PasswordDeleteError(f"no password for {service}/{username}")


class BrokenKeyring(KeyringBackend):
    """A backend that looks usable but raises on every operation."""

    priority = 1  # type: ignore[assignment]

    def __init__(self) -> None:
        super().__init__()
        self.calls = 0

    def _fail(self) -> None:
        self.calls += 1
        raise KeyringError("the secret service is not running")

    def get_password(self, service: str, username: str) -> str | None:
        self._fail()
        return None

    def set_password(self, service: str, username: str, password: str) -> None:
        self._fail()

    def delete_password(self, service: str, username: str) -> None:
        self._fail()
