"""The ``atriumn`` command line against the sandbox: in-process and as a subprocess.

Covers login into a keyring profile (a file keyring in a temporary directory, so a subprocess sees it),
--json output, exit codes (0 success, 1 API error, 2 usage error) and one-line errors with a request id.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from atriumn.auth import AuthClient
from atriumn.core import cli
from atriumn.sandbox import Sandbox

PASSWORD = "correct horse battery staple 9"


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    with Sandbox(processing_delay=0.01) as sb:
        yield sb


@pytest.fixture
def env(sandbox: Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    """Point the CLI at the sandbox, with a file keyring shared with subprocesses."""
    import keyring
    from keyrings.alt.file import PlaintextKeyring

    values = {
        "ATRIUMN_API_BASE_URL": sandbox.url,
        "PYTHON_KEYRING_BACKEND": "keyrings.alt.file.PlaintextKeyring",
        "XDG_DATA_HOME": str(tmp_path / "xdg"),
        "ATRIUMN_PROFILE": f"cli-{uuid.uuid4().hex[:6]}",
    }
    for key in ("ATRIUMN_API_KEY", "ATRIUMN_CLIENT_ID", "ATRIUMN_CLIENT_SECRET"):
        monkeypatch.delenv(key, raising=False)
    for key, value in values.items():
        monkeypatch.setenv(key, value)
    previous = keyring.get_keyring()
    keyring.set_keyring(PlaintextKeyring())
    try:
        yield values
    finally:
        keyring.set_keyring(previous)


@pytest.fixture
def user(sandbox: Sandbox) -> str:
    email = f"cli-{uuid.uuid4().hex[:8]}@example.com"
    with AuthClient(base_url=sandbox.url) as auth:
        auth.signup(email=email, password=PASSWORD)
        auth.confirm_signup(username=email, confirmation_code=sandbox.last_code(email))
    return email


def run(*argv: str, stdin: str | None = None, monkeypatch: pytest.MonkeyPatch | None = None) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    if stdin is not None and monkeypatch is not None:
        monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    code = cli.main(list(argv), stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


def test_login_whoami_ingest_list_logout_in_process(
    env: dict[str, str], user: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    code, out, err = run(
        "auth", "login", "-u", user, "--password-stdin", stdin=PASSWORD + "\n", monkeypatch=monkeypatch
    )
    assert code == 0, err
    assert f"signed in as {user}" in out
    assert "kept in the OS keyring" in out
    assert PASSWORD not in out + err

    code, out, _ = run("--json", "auth", "whoami")
    assert code == 0
    assert json.loads(out)["username"] == user

    code, out, _ = run("--json", "ingest", "text", "hello from the cli", "--meta", "src=cli", "--wait")
    assert code == 0
    item = json.loads(out)
    assert item["status"] == "completed"
    assert item["metadata"] == {"src": "cli"}

    code, out, _ = run("ingest", "list", "--source-type", "text")
    assert code == 0
    assert item["id"] in out
    assert out.splitlines()[0].startswith("ID")

    path = tmp_path / "up.txt"
    path.write_text("stored bytes\n" * 10)
    code, out, err = run("--json", "storage", "upload", str(path))
    assert code == 0, err
    key = json.loads(out)["key"]
    dest = tmp_path / "down.txt"
    code, out, _ = run("storage", "download", key, str(dest))
    assert code == 0
    assert dest.read_text() == path.read_text()

    code, out, _ = run("auth", "logout")
    assert code == 0
    code, _, err = run("auth", "whoami")
    assert code == 2  # nothing signed in: a configuration problem, with every source that was tried
    lines = err.strip().splitlines()
    assert lines[0] == "atriumn: no Atriumn credentials found. Tried, in order:"
    assert any("ATRIUMN_API_KEY: not set" in line for line in lines)
    assert lines[-1].startswith("Fix: run `atriumn auth login`")
    assert "UserSession" not in err  # a CLI user is never told to call a Python function


def test_api_error_is_one_line_with_request_id_and_exit_1(env: dict[str, str], user: str, monkeypatch: Any) -> None:
    assert run("auth", "login", "-u", user, "--password-stdin", stdin=PASSWORD, monkeypatch=monkeypatch)[0] == 0
    code, out, err = run("ingest", "get", "no-such-id")
    assert code == 1
    assert out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1
    assert "404 not_found" in lines[0]
    assert "request id" in lines[0]
    assert "check the id" in lines[0]


def test_usage_errors_exit_2(env: dict[str, str], user: str, monkeypatch: Any) -> None:
    assert run("auth", "login", "-u", user, "--password-stdin", stdin=PASSWORD, monkeypatch=monkeypatch)[0] == 0
    code, _, err = run("ingest", "url", "ftp://example.com/x")
    assert code == 2
    assert "is not an http(s) URL" in err
    assert run("ingest", "frobnicate")[0] == 2
    code, _, err = run("ingest", "text", "x", "--meta", "novalue")
    assert code == 2
    assert "KEY=VALUE" in err


def test_wrong_password_is_an_api_error(env: dict[str, str], user: str, monkeypatch: Any) -> None:
    code, _, err = run("auth", "login", "-u", user, "--password-stdin", stdin="wrong password", monkeypatch=monkeypatch)
    assert code == 1
    assert "401" in err
    assert "wrong password" not in err


def _atriumn(env: dict[str, str], *argv: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    exe = Path(sys.executable).with_name("atriumn")
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "atriumn.core.cli"]
    return subprocess.run(
        [*cmd, *argv], input=stdin, capture_output=True, text=True, env={**os.environ, **env}, timeout=60, check=False
    )


def test_subprocess_session_survives_between_processes(env: dict[str, str], user: str) -> None:
    login = _atriumn(env, "auth", "login", "-u", user, "--password-stdin", stdin=PASSWORD + "\n")
    assert login.returncode == 0, login.stderr
    whoami = _atriumn(env, "--json", "auth", "whoami")  # a second process: signed in from the keyring
    assert whoami.returncode == 0, whoami.stderr
    assert json.loads(whoami.stdout)["username"] == user
    ingest = _atriumn(env, "ingest", "text", "from a subprocess")
    assert ingest.returncode == 0, ingest.stderr
    missing = _atriumn(env, "ingest", "wait", "nope", "--timeout", "1")
    assert missing.returncode == 1
    assert "request id" in missing.stderr
    helpless = _atriumn(env)
    assert helpless.returncode == 2
    for group in ("auth", "storage", "ingest", "ai", "sandbox"):
        assert group in helpless.stdout


def test_debug_logs_are_redacted(env: dict[str, str], user: str) -> None:
    login = _atriumn(env, "--debug", "auth", "login", "-u", user, "--password-stdin", stdin=PASSWORD + "\n")
    assert login.returncode == 0, login.stderr
    assert "/auth/login" in login.stderr  # the request was logged...
    assert PASSWORD not in login.stderr  # ...without its password
    assert "REDACTED" in login.stderr


def test_ai_chat_streams_and_prompts(env: dict[str, str], user: str, monkeypatch: pytest.MonkeyPatch) -> None:
    assert run("auth", "login", "-u", user, "--password-stdin", stdin=PASSWORD, monkeypatch=monkeypatch)[0] == 0
    monkeypatch.setenv("OPENAI_BASE_URL", env["ATRIUMN_API_BASE_URL"] + "/v1")
    monkeypatch.setenv("OPENAI_API_KEY", "cli-test-key")
    code, out, err = run("ai", "chat", "--model", "openai:gpt-4o-mini", "hello from the terminal")
    assert code == 0, err
    assert out.strip() == "hello from the terminal"  # the emulation's echo model, streamed
    assert "openai:gpt-4o-mini" in err  # usage line on stderr, out of the way of the text
    assert "in /" in err
    code, out, _ = run("--json", "ai", "chat", "-m", "openai:gpt-4o-mini", "json please")
    assert code == 0
    assert json.loads(out.strip().splitlines()[-1] if not out.strip().startswith("{") else out)["text"] == "json please"

    code, out, err = run("ai", "prompts", "create", "--name", "greet", "--template", "Hello {{who}}!", "--tag", "cli")
    assert code == 0, err
    code, out, _ = run("--json", "ai", "prompts", "list", "--tag", "cli")
    prompts = json.loads(out)
    assert [p["name"] for p in prompts] == ["greet"]
    code, out, _ = run("ai", "prompts", "render", prompts[0]["id"], "--var", "who=world")
    assert code == 0
    assert out.strip() == "Hello world!"
    code, _, err = run("ai", "prompts", "render", prompts[0]["id"])
    assert code == 2
    assert "who" in err


def test_ingest_file_url_batch_and_wait(env: dict[str, str], user: str, monkeypatch: Any, tmp_path: Path) -> None:
    assert run("auth", "login", "-u", user, "--password-stdin", stdin=PASSWORD, monkeypatch=monkeypatch)[0] == 0
    doc = tmp_path / "doc.txt"
    doc.write_text("a document\n")
    code, out, _ = run("--json", "ingest", "file", str(doc), "--wait")
    assert code == 0
    assert json.loads(out)["status"] == "completed"
    code, out, _ = run("--json", "ingest", "url", env["ATRIUMN_API_BASE_URL"] + "/health")
    item = json.loads(out)
    code, out, _ = run("ingest", "wait", item["id"], "--timeout", "20")
    assert code == 0
    assert "completed" in out
    lines = tmp_path / "lines.txt"
    lines.write_text("first\n\nsecond\nthird\n")
    code, out, err = run("--json", "ingest", "batch", str(doc), "--lines", str(lines), "--concurrency", "2")
    assert code == 0, err
    rows = json.loads(out)
    assert [r["index"] for r in rows] == [0, 1, 2, 3]
    assert all(r["ok"] for r in rows)
    code, _, err = run("ingest", "batch", "ftp://nope.example/x")
    assert code == 2
    assert "items[0]" in err


def test_sandbox_serve_from_the_atriumn_command(tmp_path: Path) -> None:
    exe = Path(sys.executable).with_name("atriumn")
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "atriumn.core.cli"]
    proc = subprocess.Popen(
        [*cmd, "sandbox", "serve", "--port", "0", "--data-dir", str(tmp_path / "data")],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        url = ""
        for line in proc.stdout:
            url = next((w.rstrip(".,") for w in line.split() if w.startswith("http://")), "")
            if url:
                break
        assert url, "the sandbox did not print its URL"
        import httpx2

        assert httpx2.get(url + "/health").status_code == 200
    finally:
        proc.terminate()
        proc.wait(15)
