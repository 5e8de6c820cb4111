"""Fixtures of the whole suite: no test reads or writes the developer's own credentials.

Sessions saved by the SDK go to the OS keyring or, without one, to a credentials file under the XDG config
folder; keyrings.alt (a test dependency) writes under the XDG data folder. Both point into a temporary folder
for the whole run, and the Atriumn credential variables of the developer's shell are cleared, so the default
credential chain sees only what a test sets.

``redis_server`` (from :mod:`tests._redis`) is the real Redis of the shared-state tests, started once per session
when a test asks for it.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests._redis import redis_server  # noqa: F401 - the real Redis of the shared-state tests (session fixture)

_CLEARED = (
    "ATRIUMN_API_KEY",
    "ATRIUMN_CLIENT_ID",
    "ATRIUMN_CLIENT_SECRET",
    "ATRIUMN_SCOPE",
    "ATRIUMN_PROFILE",
    "ATRIUMN_REDIS_URL",  # a developer's shared state must not reach every transport of the suite
    "ATRIUMN_REDIS_PREFIX",
    "ATRIUMN_REDIS_ENCRYPTION_KEY",
)


@pytest.fixture(scope="session", autouse=True)
def _isolated_credentials(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    home = tmp_path_factory.mktemp("home")
    saved = {k: os.environ.get(k) for k in (*_CLEARED, "ATRIUMN_CREDENTIALS_FILE", "XDG_DATA_HOME", "XDG_CONFIG_HOME")}
    for name in _CLEARED:
        os.environ.pop(name, None)
    os.environ["ATRIUMN_CREDENTIALS_FILE"] = str(home / "config" / "atriumn" / "credentials.json")
    os.environ["XDG_CONFIG_HOME"] = str(home / "config")
    os.environ["XDG_DATA_HOME"] = str(home / "data")
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
