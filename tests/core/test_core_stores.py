"""Where tokens are kept: the private credentials file, the keyring with a fallback, and the default credential
chain that every service client uses when given none."""

from __future__ import annotations

import json
import logging
import multiprocessing
import stat
from pathlib import Path
from typing import Any

import pytest
from core_helpers import GET

from atriumn.core import (
    AccessToken,
    FileTokenStore,
    KeyringTokenStore,
    MemoryTokenStore,
    NoCredentialsError,
    ServiceClient,
    default_credentials,
    default_credentials_path,
)
from tests.faultserver import FaultServer

TOKEN = AccessToken(value="at-1", expires_at=2_000_000_000.0, refresh_token="rt-1", scope="read")


def test_file_store_round_trip_is_private(tmp_path: Path) -> None:
    path = tmp_path / "cfg" / "atriumn" / "credentials.json"
    store = FileTokenStore(path)
    assert store.load("session:default") is None  # no file yet
    store.save("session:default", TOKEN)
    store.save("session:work", AccessToken(value="at-2"))
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    again = FileTokenStore(path)  # another process reads the same file
    assert again.load("session:default") == TOKEN
    assert again.location == f"file {path} (readable only by you)"
    again.delete("session:default")
    assert store.load("session:default") is None
    assert store.load("session:work") == AccessToken(value="at-2")
    store.delete("session:work")
    assert not path.exists()  # nothing left: the file is removed
    store.delete("session:never")  # forgetting what is not there is fine


def test_a_file_others_could_read_is_tightened_on_write(tmp_path: Path) -> None:
    path = tmp_path / "credentials.json"
    path.write_text(json.dumps({"version": 1, "services": {}}))
    path.chmod(0o644)
    FileTokenStore(path).save("k", TOKEN)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_a_corrupt_file_reads_as_empty_and_is_replaced(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "credentials.json"
    path.write_text("{not json")
    store = FileTokenStore(path)
    with caplog.at_level(logging.WARNING, logger="atriumn.core.credentials"):
        assert store.load("k") is None
    assert "unreadable credentials file" in caplog.text
    store.save("k", TOKEN)
    assert store.load("k") == TOKEN


def test_services_are_kept_apart(tmp_path: Path) -> None:
    path = tmp_path / "credentials.json"
    FileTokenStore(path, service="a").save("k", TOKEN)
    assert FileTokenStore(path, service="b").load("k") is None


def _save_many(path: str, worker: int) -> None:
    store = FileTokenStore(path)
    for i in range(20):
        store.save(f"w{worker}-{i}", AccessToken(value=f"{worker}-{i}"))


def test_processes_saving_at_once_lose_nothing(tmp_path: Path) -> None:
    path = tmp_path / "credentials.json"
    ctx = multiprocessing.get_context("spawn")
    workers = [ctx.Process(target=_save_many, args=(str(path), w)) for w in range(4)]
    for p in workers:
        p.start()
    for p in workers:
        p.join(60)
        assert p.exitcode == 0
    store = FileTokenStore(path)
    assert all(store.load(f"w{w}-{i}") is not None for w in range(4) for i in range(20))


def test_the_default_path_follows_xdg_and_the_override(tmp_path: Path) -> None:
    assert default_credentials_path({"ATRIUMN_CREDENTIALS_FILE": str(tmp_path / "x.json")}) == tmp_path / "x.json"
    assert default_credentials_path({"XDG_CONFIG_HOME": str(tmp_path)}) == tmp_path / "atriumn" / "credentials.json"
    home = default_credentials_path({"HOME": str(tmp_path)})
    assert home == tmp_path / ".config" / "atriumn" / "credentials.json"


def test_keyring_falls_back_to_the_given_store_without_a_warning(
    fail_keyring: Any, tmp_path: Path, recwarn: pytest.WarningsRecorder, caplog: pytest.LogCaptureFixture
) -> None:
    file_store = FileTokenStore(tmp_path / "credentials.json")
    store = KeyringTokenStore("atriumn", fallback=file_store)
    with caplog.at_level(logging.INFO, logger="atriumn.core.credentials"):
        store.save("session:default", TOKEN)
    assert store.persistent is True
    assert store.location == file_store.location
    assert file_store.load("session:default") == TOKEN
    assert not [w for w in recwarn if issubclass(w.category, RuntimeWarning)]
    assert "no working OS keyring" in caplog.text
    store.delete("session:default")
    assert file_store.load("session:default") is None


def test_keyring_without_a_fallback_keeps_memory_and_warns_once(fail_keyring: Any) -> None:
    store = KeyringTokenStore("atriumn")
    with pytest.warns(RuntimeWarning, match="kept in memory only"):
        store.save("k", TOKEN)
    assert store.persistent is False
    assert store.location == MemoryTokenStore().location
    assert store.load("k") == TOKEN


def test_a_working_keyring_is_used_and_named(memory_keyring: Any, tmp_path: Path) -> None:
    file_store = FileTokenStore(tmp_path / "credentials.json")
    store = KeyringTokenStore("atriumn", fallback=file_store)
    store.save("k", TOKEN)
    assert memory_keyring.passwords[("atriumn", "k")]
    assert store.location == "OS keyring (MemoryKeyring, service 'atriumn')"
    assert not (tmp_path / "credentials.json").exists()


# --- the default credential chain --------------------------------------------------------------------------------


def test_service_clients_use_the_default_chain(srv: FaultServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ATRIUMN_API_KEY", "env-key-123")
    with ServiceClient(base_url=srv.url) as client:
        client.transport.send(GET)
    assert srv.requests[-1].headers["authorization"] == "Bearer env-key-123"


def test_no_credential_anywhere_fails_before_sending(srv: FaultServer) -> None:
    with ServiceClient(base_url=srv.url) as client, pytest.raises(NoCredentialsError) as info:
        client.transport.send(GET)
    assert srv.requests == []
    assert [t.split(":")[0] for t in info.value.tried][1:3] == [
        "ATRIUMN_API_KEY",
        "ATRIUMN_CLIENT_ID + ATRIUMN_CLIENT_SECRET",
    ]


def test_without_atriumn_auth_the_chain_is_the_api_key_and_says_what_is_missing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from atriumn.core import _credentials

    monkeypatch.setattr(_credentials, "_default_factory", lambda: None)
    credential = default_credentials(environ={})
    with pytest.raises(NoCredentialsError) as info:
        next(credential.token_flow())
    assert info.value.tried[0] == "ATRIUMN_API_KEY: not set"
    assert "atriumn-auth" in info.value.tried[1] and "pip install atriumn-auth" in info.value.fix
    assert next_value(default_credentials(environ={"ATRIUMN_API_KEY": "k-1"})) == "k-1"


def next_value(credential: Any) -> str:
    try:
        next(credential.token_flow())
    except StopIteration as stop:
        return str(stop.value.value)
    raise AssertionError("the flow asked for a request")
