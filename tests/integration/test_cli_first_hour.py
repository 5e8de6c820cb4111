"""The first hour with the ``atriumn`` command, as a user lives it: the real console scripts in subprocesses.

Every subprocess runs on a "machine" of its own: ``HOME``, the XDG folders and ``TMPDIR`` in a temporary folder,
no Atriumn or OpenAI variables from the developer's shell, and no desktop keyring
(``PYTHON_KEYRING_BACKEND=keyring.backends.fail.Keyring``: the venv has keyrings.alt, which would otherwise be
picked), so sessions go to ``$XDG_CONFIG_HOME/atriumn/credentials.json``. One in-process sandbox serves the module;
the tests of ``atriumn-sandbox serve`` itself start their own as a subprocess. The promises checked are those of
docs/cli.md, docs/cli-quickstart.md and docs/credentials.md ("Machines without a keyring").
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import decimal
import importlib.metadata
import io
import json
import os
import pty
import re
import select
import signal
import socket
import stat
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import httpx2
import pytest

from atriumn.auth import AuthClient
from atriumn.core import cli
from atriumn.sandbox import Sandbox

BIN = Path(sys.executable).parent
ATRIUMN = BIN / "atriumn"
ATRIUMN_SANDBOX = BIN / "atriumn-sandbox"
REPO = Path(__file__).resolve().parents[2]
PASSWORD = "a long passphrase 42"
DISTRIBUTIONS = ("atriumn-core", "atriumn-auth", "atriumn-storage", "atriumn-ai", "atriumn-ingest", "atriumn-sandbox")
#: The module sandbox's JSON body limit (413 above it) and ingestion step time (an item takes two steps, so
#: ``ingest wait`` lasts about 3 s: long enough for the spinner, which appears after about a second).
BODY_LIMIT = 16 * 1024
PROCESSING_DELAY = 1.5
UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"

T = TypeVar("T")


# --- machinery ---------------------------------------------------------------------------------------------


def clean_env(home: Path, base_url: str | None = None, **extra: str) -> dict[str, str]:
    """A fresh machine's environment: its own home and XDG folders, no keyring, nothing of the developer's."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ATRIUMN_", "OPENAI_", "PYTHON_KEYRING"))}
    (home / "tmp").mkdir(parents=True, exist_ok=True)
    env.update(
        HOME=str(home),
        XDG_CONFIG_HOME=str(home / ".config"),
        XDG_DATA_HOME=str(home / ".local" / "share"),
        XDG_CACHE_HOME=str(home / ".cache"),
        TMPDIR=str(home / "tmp"),
        PYTHON_KEYRING_BACKEND="keyring.backends.fail.Keyring",
    )
    if base_url is not None:
        env["ATRIUMN_API_BASE_URL"] = base_url
    env.update(extra)
    return env


def describe(proc: subprocess.CompletedProcess[str]) -> str:
    return f"exit {proc.returncode}\n--- stdout ---\n{proc.stdout}\n--- stderr ---\n{proc.stderr}"


@dataclasses.dataclass
class Machine:
    """A user's machine: a home folder, and the server ``ATRIUMN_API_BASE_URL`` points at."""

    home: Path
    base_url: str | None

    @property
    def credentials_file(self) -> Path:
        return self.home / ".config" / "atriumn" / "credentials.json"

    def env(self, **extra: str) -> dict[str, str]:
        return clean_env(self.home, self.base_url, **extra)

    def atriumn(self, *argv: str, stdin: str | None = None, **extra: str) -> subprocess.CompletedProcess[str]:
        """Run ``atriumn ARGV`` (stdin: the text given, else nothing)."""
        return subprocess.run(
            [str(ATRIUMN), *argv],
            input=stdin,
            stdin=None if stdin is not None else subprocess.DEVNULL,
            capture_output=True,
            text=True,
            env=self.env(**extra),
            cwd=self.home,
            timeout=60,
            check=False,
        )


def one_line_error(proc: subprocess.CompletedProcess[str], code: int) -> str:
    """The failure's single stderr line, after checking the exit code and that no traceback was printed."""
    assert proc.returncode == code, describe(proc)
    assert "Traceback" not in proc.stderr + proc.stdout, describe(proc)
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, describe(proc)
    return lines[0]


def wait_for(condition: Callable[[], T], timeout: float, what: str) -> T:
    """Poll ``condition`` until it returns something truthy (AssertionError after ``timeout`` seconds)."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.02)


def admin_headers(url: str, client_id: str, client_secret: str) -> dict[str, str]:
    """A bearer header for the sandbox's bootstrap admin credential (for ``/_sandbox/faults``)."""
    response = httpx2.post(
        f"{url}/auth/token",
        data={"grant_type": "client_credentials", "client_id": client_id, "client_secret": client_secret},
        timeout=10,
    )
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def secrets_in(path: Path) -> list[str]:
    """The long strings (tokens) stored in a credentials file."""
    found: list[str] = []

    def walk(value: Any) -> None:
        if isinstance(value, dict):
            for v in value.values():
                walk(v)
        elif isinstance(value, list):
            for v in value:
                walk(v)
        elif isinstance(value, str) and len(value) >= 20:
            found.append(value)

    walk(json.loads(path.read_text()))
    return found


# --- fixtures ----------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    with Sandbox(max_body_size=BODY_LIMIT, processing_delay=PROCESSING_DELAY) as sb:
        yield sb


@pytest.fixture(scope="module")
def refused_url() -> Iterator[str]:
    """A loopback URL where nothing listens: a socket bound but not listening (connections are refused, and
    nobody else can take the port while the module runs)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        sock.close()


def new_account(sandbox: Sandbox) -> str:
    """A confirmed account (made in-process: only the first-hour test goes through the CLI for it)."""
    email = f"user-{uuid.uuid4().hex[:8]}@example.com"
    with AuthClient(base_url=sandbox.url) as auth:
        auth.signup(email=email, password=PASSWORD)
        auth.confirm_signup(username=email, confirmation_code=sandbox.last_code(email))
    return email


@pytest.fixture(scope="module")
def account(sandbox: Sandbox) -> str:
    return new_account(sandbox)


@pytest.fixture(scope="module")
def signed_in(sandbox: Sandbox, account: str, tmp_path_factory: pytest.TempPathFactory) -> Machine:
    """A machine whose user signed in with ``atriumn auth login`` (the session in its credentials file)."""
    machine = Machine(tmp_path_factory.mktemp("signed-in-home"), sandbox.url)
    login = machine.atriumn("auth", "login", "-u", account, "--password-stdin", stdin=PASSWORD + "\n")
    assert login.returncode == 0, describe(login)
    assert machine.credentials_file.is_file()
    return machine


@pytest.fixture
def machine(sandbox: Sandbox, tmp_path: Path) -> Machine:
    """A fresh machine, signed in nowhere."""
    return Machine(tmp_path / "home", sandbox.url)


# --- 1. an account on a machine without a keyring -----------------------------------------------------------


def test_account_on_a_machine_without_a_keyring(sandbox: Sandbox, machine: Machine) -> None:
    email = f"first-hour-{uuid.uuid4().hex[:8]}@example.com"
    outputs: list[subprocess.CompletedProcess[str]] = []

    def ok(*argv: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        proc = machine.atriumn(*argv, stdin=stdin)
        outputs.append(proc)
        assert proc.returncode == 0, describe(proc)
        return proc

    ok("auth", "signup", "-u", email, "--password-stdin", stdin=PASSWORD + "\n")
    ok("auth", "confirm", "-u", email, "--code", sandbox.last_code(email))
    login = ok("auth", "login", "-u", email, "--password-stdin", stdin=PASSWORD + "\n")

    path = machine.credentials_file
    assert path == machine.home / ".config" / "atriumn" / "credentials.json"
    assert f"no desktop keyring here, so the session is kept in file {path} (readable only by you)" in login.stdout
    assert len(login.stdout.strip().splitlines()) == 1, describe(login)
    assert path.is_file()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert PASSWORD not in path.read_text()

    # The next process starts signed in.
    whoami = ok("--json", "auth", "whoami")
    assert json.loads(whoami.stdout)["username"] == email
    ingest = ok("ingest", "text", "hello")
    assert re.match(rf"{UUID}\s+\w+", ingest.stdout), describe(ingest)

    status = ok("auth", "status")
    assert f"kept in file {path}" in status.stdout

    logout = ok("auth", "logout")
    assert f"removed from file {path}" in logout.stdout
    assert not path.exists()

    after = machine.atriumn("auth", "status")
    outputs.append(after)
    assert after.returncode == 1, describe(after)
    assert "not signed in" in after.stdout

    for proc in outputs:  # no Python warning anywhere: no "...Warning", no "file.py:123:" source line
        text = proc.stdout + proc.stderr
        assert "Warning" not in text, describe(proc)
        assert not re.search(r"\.py:\d+", text), describe(proc)
        assert "Traceback" not in text, describe(proc)


# --- 2. never a traceback for a user's mistake --------------------------------------------------------------


def test_login_with_stdin_closed_is_one_line(machine: Machine) -> None:
    proc = machine.atriumn("auth", "login")  # stdin is /dev/null: the prompt reads EOF
    line = one_line_error(proc, 2)
    assert "stdin" in line
    assert "--password-stdin" in line  # ...and the fix


@pytest.mark.parametrize(
    "command", [(ATRIUMN, "sandbox", "serve"), (ATRIUMN_SANDBOX, "serve")], ids=["atriumn", "atriumn-sandbox"]
)
def test_serve_on_an_impossible_port_is_one_line(command: tuple[Any, ...], tmp_path: Path) -> None:
    proc = subprocess.run(
        [str(command[0]), *command[1:], "--port", "99999"],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        env=clean_env(tmp_path),
        timeout=60,
        check=False,
    )
    line = one_line_error(proc, 2)
    assert "--port" in line
    assert "99999" in line
    assert "0-65535" in line


def test_unreachable_api_base_url_is_one_line(signed_in: Machine, refused_url: str) -> None:
    proc = signed_in.atriumn("ingest", "get", "X", ATRIUMN_API_BASE_URL=refused_url, ATRIUMN_MAX_RETRIES="0")
    line = one_line_error(proc, 1)
    assert "ATRIUMN_API_BASE_URL" in line
    assert refused_url.removeprefix("http://") in line


def test_quickstart_against_an_unreachable_server_ends_in_one_line(tmp_path: Path, refused_url: str) -> None:
    proc = subprocess.run(
        [sys.executable, str(REPO / "docs" / "examples" / "quickstart.py")],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        env=clean_env(tmp_path, refused_url, ATRIUMN_MAX_RETRIES="0"),
        cwd=tmp_path,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 1, describe(proc)
    assert "Traceback" not in proc.stderr, describe(proc)
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith("quickstart:"), describe(proc)
    assert "ATRIUMN_API_BASE_URL" in last
    assert refused_url.removeprefix("http://") in last  # docs/quickstart.md: "naming the URL and the variable"


# --- 3. --json and --debug anywhere -------------------------------------------------------------------------


@pytest.mark.parametrize("position", ["after", "before"])
def test_json_error_on_stderr(signed_in: Machine, position: str) -> None:
    argv = ["ingest", "get", "no-such-id"]
    argv = [*argv, "--json"] if position == "after" else ["--json", *argv]
    proc = signed_in.atriumn(*argv)
    line = one_line_error(proc, 1)
    assert proc.stdout == ""
    error = json.loads(line)["error"]
    assert error["status"] == 404
    assert error["type"] == "NotFoundError"
    assert error["code"] == "not_found"
    assert error["request_id"]
    assert error["hint"]


def test_debug_after_the_subcommand_logs_requests(signed_in: Machine, sandbox: Sandbox) -> None:
    proc = signed_in.atriumn("ingest", "get", "no-such-id", "--debug")
    assert proc.returncode == 1, describe(proc)
    assert re.search(rf"DEBUG .*GET {re.escape(sandbox.url)}/content/no-such-id -> 404", proc.stderr), describe(proc)
    assert proc.stderr.strip().splitlines()[-1].startswith("atriumn: 404 not_found")
    for secret in secrets_in(signed_in.credentials_file):  # redacted: no token is printed
        assert secret not in proc.stderr


# --- 4. --version -------------------------------------------------------------------------------------------


def test_version_lists_every_distribution(tmp_path: Path) -> None:
    machine = Machine(tmp_path, None)
    human = machine.atriumn("--version")
    assert human.returncode == 0, describe(human)
    listed = dict(line.split(" ", 1) for line in human.stdout.strip().splitlines())
    assert listed == {name: importlib.metadata.version(name) for name in DISTRIBUTIONS}
    assert all(re.match(r"\d+\.\d+", v) for v in listed.values())

    as_json = machine.atriumn("--json", "--version")
    assert as_json.returncode == 0, describe(as_json)
    assert json.loads(as_json.stdout) == listed


# --- 5. hints name the thing that failed --------------------------------------------------------------------


def test_wrong_password_says_so(machine: Machine, account: str) -> None:
    proc = machine.atriumn("auth", "login", "-u", account, "--password-stdin", stdin="not the password\n")
    line = one_line_error(proc, 1)
    assert "wrong username or password" in line
    assert "atriumn auth login" not in line
    assert not machine.credentials_file.exists()


def test_refused_provider_key_names_its_variable(machine: Machine, sandbox: Sandbox) -> None:
    proc = machine.atriumn(
        "ai", "chat", "hi", "--model", "openai:gpt-4o-mini",
        OPENAI_BASE_URL=f"{sandbox.url}/v1", OPENAI_API_KEY="invalid-key",
    )  # fmt: skip
    line = one_line_error(proc, 1)
    assert "OPENAI_API_KEY" in line
    assert "atriumn auth login" not in line
    assert "invalid-key" not in line  # the key itself is never printed


def test_unreachable_provider_names_its_base_url(machine: Machine, refused_url: str) -> None:
    proc = machine.atriumn(
        "ai", "chat", "hi", "--model", "openai:gpt-4o-mini",
        OPENAI_BASE_URL=f"{refused_url}/v1", OPENAI_API_KEY="sandbox-key", ATRIUMN_MAX_RETRIES="0",
    )  # fmt: skip
    line = one_line_error(proc, 1)
    assert "OPENAI_BASE_URL" in line
    assert "ATRIUMN_API_BASE_URL" not in line
    assert "atriumn auth login" not in line


def test_body_over_the_size_limit_names_the_limit(signed_in: Machine) -> None:
    proc = signed_in.atriumn("ingest", "text", "-", stdin="x" * (4 * BODY_LIMIT))
    line = one_line_error(proc, 1)
    assert "413" in line
    assert str(BODY_LIMIT) in line  # the limit itself
    assert "size limit" in line


def test_server_that_never_answers_gives_a_timeout_line(signed_in: Machine, sandbox: Sandbox) -> None:
    headers = admin_headers(sandbox.url, sandbox.admin_client_id, sandbox.admin_client_secret)
    fault = httpx2.post(
        f"{sandbox.url}/_sandbox/faults",
        json={"fault": "delay:3", "count": 1, "pathPrefix": "/content/"},
        headers=headers,
        timeout=10,
    )
    assert fault.status_code == 201, fault.text
    try:
        proc = signed_in.atriumn("ingest", "get", "slow-id", ATRIUMN_REQUEST_TIMEOUT="1", ATRIUMN_MAX_RETRIES="0")
        rules = httpx2.get(f"{sandbox.url}/_sandbox/faults", headers=headers, timeout=10).json()["faults"]
    finally:
        httpx2.delete(f"{sandbox.url}/_sandbox/faults", headers=headers, timeout=10)
    assert rules == [], "the delay fault was not used"
    line = one_line_error(proc, 1)
    assert re.search(r"timeout|in time", line), line  # a timeout...
    _, _, hint = line.partition(" — ")
    assert hint, line
    first_fix = re.split(r"[;(]", hint)[0].lower()
    assert not re.search(r"\b(raise|increase|longer)\b", first_fix), line  # ...whose first fix is not a bigger timeout
    assert "check" in first_fix


# --- 6. an empty chat message -------------------------------------------------------------------------------


def test_empty_chat_message_is_refused_before_sending(machine: Machine, refused_url: str) -> None:
    # Were it sent, the provider would be unreachable (exit 1); refused before sending, it is a usage error.
    proc = machine.atriumn(
        "ai", "chat", "   ", "--model", "openai:gpt-4o-mini",
        OPENAI_BASE_URL=f"{refused_url}/v1", OPENAI_API_KEY="sandbox-key", ATRIUMN_MAX_RETRIES="0",
    )  # fmt: skip
    line = one_line_error(proc, 2)
    assert "empty" in line


# --- 7. ingest batch --lines --------------------------------------------------------------------------------


def test_batch_lines_lists_each_item(signed_in: Machine) -> None:
    lines = signed_in.home / "notes.txt"
    lines.write_text("first note\n\nsecond note\nthird note\n")
    proc = signed_in.atriumn("ingest", "batch", "--lines", str(lines))
    assert proc.returncode == 0, describe(proc)
    rows = re.findall(rf"^\s*(\d+)\s+({UUID})\s+(\w+)", proc.stdout, flags=re.M)
    assert [int(index) for index, _, _ in rows] == [0, 1, 2], describe(proc)
    assert len({item_id for _, item_id, _ in rows}) == 3
    assert all(status in ("pending", "processing", "completed") for _, _, status in rows), describe(proc)

    listed = signed_in.atriumn("--json", "ingest", "list", "--source-type", "text", "--limit", "50")
    assert listed.returncode == 0, describe(listed)
    assert {item_id for _, item_id, _ in rows} <= {item["id"] for item in json.loads(listed.stdout)}


# --- 8. money, rounded ---------------------------------------------------------------------------------------


def test_chat_cost_is_rounded_and_json_cost_is_a_decimal_string(machine: Machine, sandbox: Sandbox) -> None:
    provider = {"OPENAI_BASE_URL": f"{sandbox.url}/v1", "OPENAI_API_KEY": "sandbox-key"}
    human = machine.atriumn("ai", "chat", "what does it cost", "--model", "openai:gpt-4o-mini", **provider)
    assert human.returncode == 0, describe(human)
    assert human.stdout.strip() == "what does it cost"  # the emulation echoes
    assert re.search(r"\$0\.0000\d{1,4}\]", human.stderr), describe(human)
    assert "e-0" not in human.stderr

    as_json = machine.atriumn("--json", "ai", "chat", "what does it cost", "-m", "openai:gpt-4o-mini", **provider)
    assert as_json.returncode == 0, describe(as_json)
    cost = json.loads(as_json.stdout)["cost_usd"]
    assert isinstance(cost, str), cost
    assert re.fullmatch(r"\d+\.\d+", cost), cost
    assert 0 < decimal.Decimal(cost) < decimal.Decimal("0.01")


# --- 9. progress on a terminal, silence on a pipe -----------------------------------------------------------


def test_wait_shows_a_spinner_on_a_terminal_and_nothing_on_a_pipe(signed_in: Machine) -> None:
    created = signed_in.atriumn("--json", "ingest", "text", "something that takes a while")
    assert created.returncode == 0, describe(created)
    item_id = json.loads(created.stdout)["id"]

    master, slave = pty.openpty()
    argv = [str(ATRIUMN), "ingest", "wait", item_id, "--timeout", "30"]
    started = time.monotonic()
    on_terminal = subprocess.Popen(
        argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=slave, env=signed_in.env(), text=True
    )
    on_pipe = subprocess.Popen(
        argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=signed_in.env(), text=True
    )
    os.close(slave)
    drawn = b""
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.2)
            if ready:
                try:
                    chunk = os.read(master, 4096)
                except OSError:  # EIO: the terminal's last writer is gone
                    break
                if not chunk:
                    break
                drawn += chunk
            elif on_terminal.poll() is not None:
                break
        terminal_out, _ = on_terminal.communicate(timeout=30)
        elapsed = time.monotonic() - started
        pipe_out, pipe_err = on_pipe.communicate(timeout=30)
    finally:
        os.close(master)
        for proc in (on_terminal, on_pipe):
            if proc.poll() is None:
                proc.kill()
                proc.wait(10)

    assert on_terminal.returncode == 0, drawn
    assert f"{item_id}  completed" in terminal_out
    assert elapsed > 1.5, "processing was too quick for a spinner to be expected"
    text = drawn.decode("utf-8", "replace")
    assert re.search(rf"processing {item_id[:4]}\S*… \d+s", text), repr(text)

    assert on_pipe.returncode == 0, pipe_err
    assert f"{item_id}  completed" in pipe_out
    assert pipe_err == ""


# --- 10., 11. atriumn-sandbox serve --------------------------------------------------------------------------


@dataclasses.dataclass
class SandboxProcess:
    proc: subprocess.Popen[bytes]
    url: str
    admin_client_id: str
    admin_client_secret: str
    data_dir: Path
    temporary: bool
    stdout: Path
    stderr: Path

    def terminate(self) -> int:
        """SIGTERM, as CI and process managers stop a server; returns the exit code."""
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout=30)


def _banner(text: str) -> dict[str, str] | None:
    found = dict(re.findall(r"^(ATRIUMN_API_BASE_URL)=(\S+)$", text, flags=re.M))
    found.update(
        (k, v.strip()) for k, v in re.findall(r"^(admin client id|admin client secret|data dir):(.*)$", text, re.M)
    )
    return found if "data dir" in found and "ATRIUMN_API_BASE_URL" in found else None


@contextlib.contextmanager
def sandbox_process(tmp_path: Path, *options: str) -> Iterator[SandboxProcess]:
    """``atriumn-sandbox serve --port 0 OPTIONS`` in the background, its output in files."""
    out_path, err_path = tmp_path / "sandbox.out", tmp_path / "sandbox.err"
    with out_path.open("wb") as out, err_path.open("wb") as err:
        proc = subprocess.Popen(
            [str(ATRIUMN_SANDBOX), "serve", "--port", "0", *options],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=err,
            env=clean_env(tmp_path / "server-home"),
        )
    try:

        def banner() -> dict[str, str] | None:
            if proc.poll() is not None:
                raise AssertionError(f"the sandbox exited with {proc.returncode}: {err_path.read_text()}")
            return _banner(out_path.read_text())

        info = wait_for(banner, 30, "the sandbox's banner")
        data_dir, _, note = info["data dir"].partition(" ")
        yield SandboxProcess(
            proc=proc,
            url=info["ATRIUMN_API_BASE_URL"],
            admin_client_id=info["admin client id"],
            admin_client_secret=info["admin client secret"],
            data_dir=Path(data_dir),
            temporary="temporary" in note,
            stdout=out_path,
            stderr=err_path,
        )
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)


def test_sandbox_serve_removes_its_temporary_data_on_sigterm(tmp_path: Path) -> None:
    with sandbox_process(tmp_path) as server:
        assert server.temporary, server.stdout.read_text()
        assert "(temporary: removed on exit)" in server.stdout.read_text()
        assert server.data_dir.is_dir()
        assert httpx2.get(f"{server.url}/health", timeout=10).status_code == 200
        code = server.terminate()
        output, errors = server.stdout.read_text(), server.stderr.read_text()
    assert code == 0, output + errors
    assert "stopped; temporary data removed" in output
    assert "Traceback" not in errors
    assert not server.data_dir.exists()


def test_sandbox_serve_keeps_a_given_data_dir(tmp_path: Path) -> None:
    data = tmp_path / "kept-data"
    with sandbox_process(tmp_path, "--data-dir", str(data)) as server:
        assert not server.temporary, server.stdout.read_text()
        assert server.data_dir == data
        assert httpx2.get(f"{server.url}/health", timeout=10).status_code == 200
        code = server.terminate()
        output, errors = server.stdout.read_text(), server.stderr.read_text()
    assert code == 0, output + errors
    assert f"stopped; the data is kept in {data}" in output
    assert "Traceback" not in errors
    assert data.is_dir()
    assert any(data.iterdir())


def test_sandbox_prints_no_traceback_when_a_client_gives_up(tmp_path: Path) -> None:
    with sandbox_process(tmp_path) as server:
        headers = admin_headers(server.url, server.admin_client_id, server.admin_client_secret)
        fault = httpx2.post(
            f"{server.url}/_sandbox/faults",
            json={"fault": "delay:2", "count": 1, "pathPrefix": "/auth/signup"},
            headers=headers,
            timeout=10,
        )
        assert fault.status_code == 201, fault.text
        email = f"impatient-{uuid.uuid4().hex[:8]}@example.com"
        client = Machine(tmp_path / "client-home", server.url)
        gave_up = client.atriumn(
            "auth", "signup", "-u", email, "--password-stdin",
            stdin=PASSWORD + "\n", ATRIUMN_REQUEST_TIMEOUT="1", ATRIUMN_MAX_RETRIES="0",
        )  # fmt: skip
        assert gave_up.returncode == 1, describe(gave_up)  # the client timed out...

        def delayed_request_ran() -> bool:  # ...and the server still ran the request, as the fault promises
            outbox = httpx2.get(f"{server.url}/_sandbox/outbox", params={"to": email}, timeout=10).json()
            return bool(outbox["messages"]) or "Traceback" in server.stderr.read_text()

        wait_for(delayed_request_ran, 15, "the delayed request to run")
        code = server.terminate()
        errors = server.stderr.read_text()
    assert code == 0
    assert "Traceback" not in errors, errors
    assert "unexpected error" not in errors, errors


# --- 12. a distribution that is not installed ---------------------------------------------------------------


def run_in_process(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = cli.main(list(argv), stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


@pytest.fixture
def only_ai_installed(monkeypatch: pytest.MonkeyPatch) -> None:
    """The entry points of an install of atriumn-ai alone."""
    real = importlib.metadata.entry_points

    def entry_points(**selection: Any) -> Any:
        found = real(**selection)
        if selection.get("group") == "atriumn.cli":
            return [ep for ep in found if ep.name == "ai"]
        return found

    monkeypatch.setattr(importlib.metadata, "entry_points", entry_points)


@pytest.mark.parametrize(
    ("argv", "distribution"),
    [
        (("auth", "login"), "atriumn-auth"),
        (("storage", "upload", "x"), "atriumn-storage"),
        (("ingest", "get", "x"), "atriumn-ingest"),
        (("sandbox", "serve"), "atriumn-sandbox"),
    ],
)
def test_command_of_a_missing_distribution_says_what_to_install(
    only_ai_installed: None, argv: tuple[str, ...], distribution: str
) -> None:
    code, out, err = run_in_process("ai", "chat", "   ")
    assert (code, err.strip()) == (2, "atriumn: message: must not be empty (nothing was sent)")  # ai is there

    code, out, err = run_in_process(*argv)
    assert code == 2
    assert out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert f"pip install {distribution}" in lines[0]
    assert "Traceback" not in err


# --- 13. every subcommand of docs/cli.md --------------------------------------------------------------------


def _leaves(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], Any]]:
    subparsers = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    if not subparsers:
        yield path, parser
    for action in subparsers:
        for name, child in action.choices.items():
            yield from _leaves(child, (*path, name))


LEAVES = dict(_leaves(cli.build_parser()))


def _required_arguments(parser: argparse.ArgumentParser) -> list[str]:
    """Values for a leaf's required arguments, so that its parser gets as far as the unknown option."""
    argv: list[str] = []
    for action in parser._actions:
        if not action.option_strings and action.nargs not in ("*", "?", argparse.REMAINDER):
            argv.append("x")
        elif action.option_strings and action.required:
            argv += [action.option_strings[0], "x"]
    return argv


def _documented() -> dict[tuple[str, ...], set[str]]:
    """The subcommands docs/cli.md's synopsis lists, each with the options it shows."""
    text = (REPO / "docs" / "cli.md").read_text()
    synopsis = re.search(r"^```text\n(.*?)^```", text, flags=re.S | re.M)
    assert synopsis, "docs/cli.md has no synopsis block"
    parser = cli.build_parser()
    found: dict[tuple[str, ...], set[str]] = {}
    for line in synopsis.group(1).splitlines():
        command = re.split(r"\s{2,}", line.strip())[0]  # drop the description column
        if not command.startswith("atriumn ") or "COMMAND" in command:
            continue
        parent: tuple[str, ...] = ()
        for i, segment in enumerate(command.removeprefix("atriumn ").split(" | ")):
            words = segment.split()
            node: Any = parser if i == 0 else _node(parser, parent)
            path = parent if i else ()
            for word in words:
                choices = _choices(node)
                if word not in choices:
                    break
                path, node = (*path, word), choices[word]
            assert not _choices(node), f"docs/cli.md: {segment!r} is not a whole command"
            parent = path[:-1]
            found[path] = {w.strip("[]") for w in words if w.strip("[]").startswith("-")}
    return found


def _choices(parser: Any) -> dict[str, Any]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def _node(parser: Any, path: tuple[str, ...]) -> Any:
    for word in path:
        parser = _choices(parser)[word]
    return parser


def test_docs_synopsis_lists_every_subcommand_and_its_options() -> None:
    documented = _documented()
    assert set(documented) == set(LEAVES), "docs/cli.md and the parser disagree on the subcommands"
    for path, options in documented.items():
        accepted = {s for a in LEAVES[path]._actions for s in a.option_strings}
        assert options <= accepted, f"atriumn {' '.join(path)}: documented but not accepted: {options - accepted}"


@pytest.mark.parametrize("path", sorted(LEAVES), ids=" ".join)
def test_every_subcommand_refuses_an_unknown_option_in_one_line(path: tuple[str, ...]) -> None:
    argv = [*path, *_required_arguments(LEAVES[path]), "--no-such-option"]
    code, out, err = run_in_process(*argv)
    assert code == 2, err
    assert out == ""
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert "--no-such-option" in lines[0]

    code, out, err = run_in_process(*argv, "--json")
    assert code == 2, err
    assert out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    error = json.loads(lines[0])["error"]
    assert error["type"] == "usage"
    assert "--no-such-option" in error["message"]


@pytest.mark.parametrize("path", sorted(LEAVES), ids=" ".join)
def test_every_option_has_help(path: tuple[str, ...]) -> None:
    for action in LEAVES[path]._actions:
        name = "/".join(action.option_strings) or action.dest
        assert action.help and action.help != argparse.SUPPRESS and action.help.strip(), (
            f"atriumn {' '.join(path)} {name}: no help text"
        )
