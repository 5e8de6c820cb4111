"""Sandbox lifecycle: context managers, persistence across restarts, the temporary data dir, the CLI."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx2
import pytest

from atriumn.sandbox import Sandbox, SandboxConfig

from .helpers import Api, token_for, wait_for


def test_sync_context_manager_and_temp_dir_cleanup() -> None:
    with Sandbox() as sandbox:
        data_dir = sandbox.data_dir
        assert (data_dir / "sandbox.sqlite3").exists()
        assert httpx2.get(f"{sandbox.url}/health").status_code == 200
        url = sandbox.url
    assert not data_dir.exists()
    with pytest.raises(httpx2.ConnectError):
        httpx2.get(f"{url}/health")
    with pytest.raises(RuntimeError):
        _ = sandbox.data_dir


async def test_async_context_manager() -> None:
    async with Sandbox(admin_client_id="my-admin", admin_client_secret="my-secret") as sandbox:
        assert sandbox.admin_client_id == "my-admin"
        async with httpx2.AsyncClient(base_url=sandbox.url) as client:
            response = await client.post(
                "/auth/token",
                json={"grant_type": "client_credentials", "client_id": "my-admin", "client_secret": "my-secret"},
            )
            assert response.status_code == 200


def test_admin_credential_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ATRIUMN_SANDBOX_ADMIN_CLIENT_ID", "env-admin")
    monkeypatch.setenv("ATRIUMN_SANDBOX_ADMIN_CLIENT_SECRET", "env-secret")
    config = SandboxConfig()
    assert (config.admin_client_id, config.admin_client_secret) == ("env-admin", "env-secret")
    monkeypatch.delenv("ATRIUMN_SANDBOX_ADMIN_CLIENT_ID")
    assert SandboxConfig().admin_client_id != SandboxConfig().admin_client_id  # generated


def test_config_validation() -> None:
    with pytest.raises(ValueError, match="token_ttl"):
        SandboxConfig(token_ttl=0)
    with pytest.raises(ValueError, match="rate_limit"):
        SandboxConfig(rate_limit=-1)


def test_restart_with_the_same_data_dir_keeps_everything(tmp_path: Path) -> None:
    config = SandboxConfig(data_dir=tmp_path, signing_secret="stable", admin_client_id="a", admin_client_secret="b")
    with Sandbox(config) as first:
        api = Api(first, token_for(first, "a", "b"))
        item = api.post("/ingest/text", json={"content": "kept"}).json()
        wait_for(lambda: api.get(f"/content/{item['id']}").json()["status"] == "completed")
        prompt = api.post("/prompts", json={"name": "p", "template": "t"}).json()
        ticket = api.post("/generate-upload-url", json={"filename": "b.bin"}).json()
        assert httpx2.put(ticket["uploadUrl"], content=b"blob").status_code == 200
        created = api.post("/admin/credentials", json={"issued_to": "x", "scopes": ["s"]}).json()
        token = api.token
        api.http.close()
    assert tmp_path.exists()  # a data dir we were given is never removed
    with Sandbox(config) as second:
        again = Api(second, token)  # same signing secret: the old token is still valid
        assert again.get(f"/content/{item['id']}").json()["status"] == "completed"
        assert again.get(f"/content/{item['id']}/text").json()["content"] == "kept"
        assert again.get(f"/prompts/{prompt['id']}").json()["name"] == "p"
        url = again.post("/generate-download-url", json={"s3Key": ticket["s3Key"]}).json()["downloadUrl"]
        assert httpx2.get(url).content == b"blob"
        assert token_for(second, created["client_id"], created["client_secret"])
        again.http.close()


def test_interrupted_processing_resumes_after_restart(tmp_path: Path) -> None:
    config = SandboxConfig(data_dir=tmp_path, signing_secret="s", processing_delay=30)
    with Sandbox(config) as first:
        api = Api(first, token_for(first, first.admin_client_id, first.admin_client_secret))
        item = api.post("/ingest/text", json={"content": "resume me"}).json()
        token = api.token
        api.http.close()
    with Sandbox(config, processing_delay=0.01) as second:
        api = Api(second, token)
        wait_for(lambda: api.get(f"/content/{item['id']}").json()["status"] == "completed")
        api.http.close()


@pytest.mark.parametrize("sigint_ignored", [False, True], ids=["foreground", "background-job"])
def test_cli_serve(tmp_path: Path, sigint_ignored: bool) -> None:
    """Serves, then stops on SIGINT — also when started as a shell's background job, with SIGINT ignored."""
    env = {**os.environ, "ATRIUMN_SANDBOX_ADMIN_CLIENT_SECRET": "cli-secret"}
    command = [sys.executable, "-m", "atriumn.sandbox._cli", "serve", "--port", "0", "--data-dir", str(tmp_path)]
    command += ["--admin-client-id", "cli-admin", "--token-ttl", "60"]
    # The disposition a child inherits is the parent's: set it for this child alone (ignored, or the default).
    command = ["sh", "-c", f'trap "{"" if sigint_ignored else "-"}" INT; exec "$@"', "sh", *command]
    proc = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert proc.stdout is not None
        lines = [proc.stdout.readline() for _ in range(4)]
        assert lines[0].startswith("Atriumn sandbox listening on http://127.0.0.1:"), lines
        url = lines[0].split(" on ", 1)[1].strip()
        assert "cli-admin" in lines[2]
        assert "cli-secret" in lines[3]
        assert httpx2.get(f"{url}/health").json()["status"] == "ok"
        token = httpx2.post(
            f"{url}/auth/token",
            json={"grant_type": "client_credentials", "client_id": "cli-admin", "client_secret": "cli-secret"},
        ).json()
        assert token["expires_in"] == 60
        assert (tmp_path / "sandbox.sqlite3").exists()
    finally:
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=20) == 0, proc.stderr.read() if proc.stderr else ""


def test_cli_rejects_bad_arguments() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "atriumn.sandbox._cli", "serve", "--token-ttl", "0"], capture_output=True, text=True
    )
    assert result.returncode == 2
    assert "token_ttl" in result.stderr
