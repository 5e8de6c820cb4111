"""The auth examples in docs/examples run, as written, against a sandbox."""

from __future__ import annotations

import runpy
from pathlib import Path
from typing import Any

import pytest
from auth_helpers import ADMIN_ID, ADMIN_SECRET, PASSWORD

EXAMPLES = Path(__file__).resolve().parents[2] / "docs" / "examples"


@pytest.fixture
def env(sandbox: Any, monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in ("ATRIUMN_API_KEY", "ATRIUMN_CLIENT_ID", "ATRIUMN_CLIENT_SECRET", "ATRIUMN_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("ATRIUMN_API_BASE_URL", sandbox.url)
    return monkeypatch


def test_client_credentials_example(env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    env.setenv("ATRIUMN_CLIENT_ID", ADMIN_ID)
    env.setenv("ATRIUMN_CLIENT_SECRET", ADMIN_SECRET)
    runpy.run_path(str(EXAMPLES / "auth_client_credentials.py"), run_name="__main__")
    out = capsys.readouterr().out
    assert f"signed in as {ADMIN_ID}" in out
    assert "the job is client_" in out
    assert "active: client_" in out
    assert "retired client_" in out


def test_user_session_example(
    env: pytest.MonkeyPatch, confirmed_user: str, file_keyring: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    env.setenv("ATRIUMN_USERNAME", confirmed_user)
    env.setenv("ATRIUMN_PASSWORD", PASSWORD)
    runpy.run_path(str(EXAMPLES / "auth_user_session.py"), run_name="__main__")
    out = capsys.readouterr().out
    assert f"hello, {confirmed_user}" in out
    assert f"still signed in as {confirmed_user}" in out
    assert "signed out" in out
