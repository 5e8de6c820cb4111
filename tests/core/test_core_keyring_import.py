"""The keyring token store (working, failing and file backends), and what ``import atriumn.core`` loads."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import time
import warnings
from collections.abc import Generator
from typing import Any

import pytest

from atriumn.core import AccessToken, KeyringTokenStore, Operation, TokenCache, TokenProvider

SERVICE = "atriumn-tests"


class Counting(TokenProvider):
    """Issues ``tok-<n>`` without I/O and counts how often it was asked."""

    cache_key = "profile:default"
    issued = 0

    def token_flow(self) -> Generator[Operation[Any], Any, AccessToken]:
        type(self).issued += 1
        return AccessToken(value=f"tok-{type(self).issued}", expires_at=time.time() + 3600, refresh_token="rt-x")
        yield  # pragma: no cover


def no_io(op: Operation[Any]) -> Any:
    raise AssertionError("no request expected")


@pytest.fixture(autouse=True)
def reset_counter() -> None:
    Counting.issued = 0


def _get(store: Any) -> AccessToken:
    return TokenCache(Counting(), store=store).get_token(no_io)


def test_tokens_persist_across_caches_in_the_keyring(memory_keyring: Any) -> None:
    first = _get(KeyringTokenStore(SERVICE))
    assert first.value == "tok-1"
    stored = json.loads(memory_keyring.passwords[(SERVICE, "profile:default")])
    assert stored["value"] == "tok-1" and stored["refresh_token"] == "rt-x"
    second = _get(KeyringTokenStore(SERVICE))  # a new provider, cache and store: as in a new process
    assert second.value == "tok-1"
    assert Counting.issued == 1
    assert KeyringTokenStore(SERVICE).persistent


def test_invalidate_deletes_the_keyring_entry(memory_keyring: Any) -> None:
    store = KeyringTokenStore(SERVICE)
    cache = TokenCache(Counting(), store=store)
    token = cache.get_token(no_io)
    cache.invalidate(token)
    assert (SERVICE, "profile:default") not in memory_keyring.passwords
    store.delete("never-stored")  # absent: no error


def test_corrupt_entry_reads_as_none(memory_keyring: Any, caplog: pytest.LogCaptureFixture) -> None:
    memory_keyring.passwords[(SERVICE, "profile:default")] = "{not json"
    with caplog.at_level(logging.WARNING, logger="atriumn"):
        assert KeyringTokenStore(SERVICE).load("profile:default") is None
    assert "unreadable keyring entry" in caplog.text
    assert _get(KeyringTokenStore(SERVICE)).value == "tok-1"  # refreshed over it


@pytest.mark.parametrize("backend", ["fail_keyring", "broken_keyring"])
def test_no_working_keyring_warns_once_and_falls_back_to_memory(backend: str, request: pytest.FixtureRequest) -> None:
    request.getfixturevalue(backend)
    store = KeyringTokenStore(SERVICE)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        token = AccessToken(value="v", expires_at=None)
        store.save("a", token)
        assert store.load("a") == token
        store.save("b", token)
        store.delete("a")
        assert store.load("a") is None
        assert store.persistent is False
        assert _get(store).value == "tok-1"
        assert _get(store).value == "tok-1"  # kept in memory for this store
    runtime = [w for w in caught if issubclass(w.category, RuntimeWarning)]
    assert len(runtime) == 1
    assert "memory" in str(runtime[0].message)


def test_broken_backend_is_not_called_again_after_falling_back(broken_keyring: Any) -> None:
    store = KeyringTokenStore(SERVICE)
    with pytest.warns(RuntimeWarning):
        store.save("a", AccessToken(value="v"))
    calls = broken_keyring.calls
    for _ in range(5):
        store.load("a")
    assert broken_keyring.calls == calls


def test_plaintext_file_keyring(plaintext_keyring: Any) -> None:
    from pathlib import Path

    assert _get(KeyringTokenStore(SERVICE)).value == "tok-1"
    assert Path(plaintext_keyring.file_path).exists()
    assert _get(KeyringTokenStore(SERVICE)).value == "tok-1"
    assert Counting.issued == 1


def test_token_values_have_no_repr() -> None:
    token = AccessToken(value="sk-VALUE-123", refresh_token="rt-VALUE-456", expires_at=1.0, scope="read")
    assert "sk-VALUE-123" not in repr(token) and "rt-VALUE-456" not in repr(token)
    assert "read" in repr(token)
    assert AccessToken.from_json(token.to_json()) == token


# --- import cost ---------------------------------------------------------------------------------------------


def _modules_after(code: str, **env: str) -> list[str]:
    """The modules a fresh interpreter has loaded after running ``code``."""
    import os

    out = subprocess.run(
        [sys.executable, "-c", f"import json, sys\n{code}\nprint(json.dumps(sorted(sys.modules)))"],
        capture_output=True, text=True, check=True, timeout=60, env={**os.environ, **env},
    )  # fmt: skip
    return list(json.loads(out.stdout.splitlines()[-1]))


def test_import_does_not_load_keyring_the_otel_sdk_or_aiohttp() -> None:
    modules = _modules_after(
        "import asyncio, atriumn.core as c\nt = c.Transport('http://127.0.0.1:9'); t.close()\n"
        "asyncio.run(c.AsyncTransport('http://127.0.0.1:9').aclose())"
    )
    assert "atriumn.core" in modules
    assert not [m for m in modules if m == "keyring" or m.startswith(("keyring.", "keyrings"))]
    assert not [m for m in modules if m.startswith("opentelemetry.sdk")]
    assert not [m for m in modules if m == "aiohttp" or m.startswith("aiohttp.")]


def test_aiohttp_is_imported_when_its_backend_sends() -> None:
    code = (
        "import asyncio, atriumn.core as c\nt = c.AsyncTransport('http://127.0.0.1:9', max_retries=0)\n"
        "assert 'aiohttp' not in sys.modules, 'imported before sending'\n"
        "async def main():\n    try:\n        await t.send(c.Operation(method='GET', path='/'))\n"
        "    except c.ConnectError:\n        pass\n    await t.aclose()\nasyncio.run(main())"
    )
    assert "aiohttp" in _modules_after(code, ATRIUMN_HTTP_BACKEND="aiohttp")
    assert "aiohttp" not in _modules_after(code, ATRIUMN_HTTP_BACKEND="httpx2")


def test_namespace_package_has_no_init() -> None:
    import atriumn

    assert getattr(atriumn, "__file__", None) is None
