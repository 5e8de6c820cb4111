"""The storage examples in docs/examples run, as written, against a sandbox."""

from __future__ import annotations

import runpy
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

EXAMPLES = Path(__file__).resolve().parents[2] / "docs" / "examples"
ADMIN_ID = "sandbox-admin-examples"
ADMIN_SECRET = "admin-secret-for-examples"  # sandbox-local


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Any]:
    from atriumn.sandbox import Sandbox

    with Sandbox(admin_client_id=ADMIN_ID, admin_client_secret=ADMIN_SECRET) as sb:
        yield sb


@pytest.fixture
def env(sandbox: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from atriumn.auth import AuthClient, ClientCredentials

    admin = ClientCredentials(client_id=ADMIN_ID, client_secret=ADMIN_SECRET, base_url=sandbox.url)
    with AuthClient(base_url=sandbox.url, credentials=admin) as auth:
        cred = auth.create_client_credential(issued_to="examples", scopes=["storage"], tenant_id="examples")
    monkeypatch.delenv("ATRIUMN_API_KEY", raising=False)
    monkeypatch.setenv("ATRIUMN_API_BASE_URL", sandbox.url)
    monkeypatch.setenv("ATRIUMN_CLIENT_ID", cred.client_id)
    monkeypatch.setenv("ATRIUMN_CLIENT_SECRET", cred.client_secret)


@pytest.mark.usefixtures("env")
def test_upload_download_example(capsys: pytest.CaptureFixture[str]) -> None:
    runpy.run_path(str(EXAMPLES / "storage_upload_download.py"), run_name="__main__")
    out = capsys.readouterr().out
    assert "stored 5242880 bytes as examples/" in out
    assert "downloaded 5242880 bytes, checksum verified: True" in out


@pytest.mark.usefixtures("env")
def test_presigned_urls_example(capsys: pytest.CaptureFixture[str]) -> None:
    runpy.run_path(str(EXAMPLES / "storage_presigned_urls.py"), run_name="__main__")
    out = capsys.readouterr().out
    size = sum(len(f"line {i}\n") for i in range(100_000))
    assert f"uploaded {size} bytes to examples/" in out
    assert f"downloaded {size} bytes; checksum verified: True" in out
