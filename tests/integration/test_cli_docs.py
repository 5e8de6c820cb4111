"""docs/cli-quickstart.md, executed as written: its ```bash blocks, in order, as one ``bash -euo pipefail`` script.

The script runs on a fresh machine (its own ``HOME`` and XDG folders, no desktop keyring, nothing of the
developer's Atriumn or OpenAI variables) with the workspace's ``bin`` first on ``PATH``, in a temporary working
directory; only the sandbox's port (8765 on the page) is changed, to a free one. The script runs in a process
group of its own, killed at the end whatever happened, so the sandbox it starts in the background never outlives
the test.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PAGE = REPO / "docs" / "cli-quickstart.md"
BIN = Path(sys.executable).parent
PAGE_PORT = "8765"
UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"


def bash_blocks() -> list[str]:
    return re.findall(r"^```bash\n(.*?)^```", PAGE.read_text(), flags=re.S | re.M)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def fresh_machine(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ATRIUMN_", "OPENAI_", "PYTHON_KEYRING"))}
    (home / "tmp").mkdir(parents=True, exist_ok=True)
    env.update(
        HOME=str(home),
        XDG_CONFIG_HOME=str(home / ".config"),
        XDG_DATA_HOME=str(home / ".local" / "share"),
        XDG_CACHE_HOME=str(home / ".cache"),
        TMPDIR=str(home / "tmp"),
        PYTHON_KEYRING_BACKEND="keyring.backends.fail.Keyring",
        PATH=os.pathsep.join([str(BIN), env.get("PATH", os.defpath)]),
    )
    return env


def wait_until(condition: Callable[[], bool], timeout: float) -> bool:
    """Poll ``condition`` until it holds (True) or ``timeout`` seconds pass (False)."""
    deadline = time.monotonic() + timeout
    while True:
        if condition():
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)


def stop_group(proc: subprocess.Popen[bytes]) -> None:
    """End the script's process group: the script, and the sandbox it put in the background."""

    def group_gone() -> bool:
        try:
            os.killpg(proc.pid, 0)
        except ProcessLookupError:
            return True
        return False

    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)  # the sandbox stops cleanly on SIGTERM
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=10)
    if not wait_until(group_gone, 10):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)


def test_the_page_walks_the_first_hour() -> None:
    script = "\n".join(bash_blocks())
    for command in (
        "atriumn sandbox serve",
        "atriumn auth signup",
        "atriumn auth confirm",
        "atriumn auth login",
        "atriumn storage upload",
        "atriumn ingest text",
        "atriumn ingest batch",
        "atriumn ai chat",
        "atriumn auth logout",
    ):
        assert re.search(rf"^{re.escape(command)}\b", script, flags=re.M), f"the page no longer runs `{command}`"
    assert f"--port {PAGE_PORT} &" in script  # the port the test replaces


def test_the_page_runs_as_written(tmp_path: Path) -> None:
    port = free_port()
    script = "\n".join(bash_blocks()).replace(PAGE_PORT, str(port))
    assert str(port) in script
    work, home = tmp_path / "work", tmp_path / "home"
    work.mkdir()
    (tmp_path / "script.sh").write_text(script)
    out_path, err_path = tmp_path / "stdout.txt", tmp_path / "stderr.txt"
    with out_path.open("wb") as out, err_path.open("wb") as err:
        proc = subprocess.Popen(
            ["bash", "-euo", "pipefail", str(tmp_path / "script.sh")],
            stdin=subprocess.DEVNULL,
            stdout=out,  # files, not pipes: a sandbox left behind by a failure must not hold the test up
            stderr=err,
            cwd=work,
            env=fresh_machine(home),
            start_new_session=True,  # its own process group, killed in the finally
        )
    try:
        code = proc.wait(timeout=120)
        # `kill %1` on the page stops the sandbox; it says so once its temporary data is gone.
        stopped = code == 0 and wait_until(lambda: "stopped; temporary data removed" in out_path.read_text(), 15)
    finally:
        stop_group(proc)
    stdout, stderr = out_path.read_text(), err_path.read_text()
    report = f"exit {code}\n--- stdout ---\n{stdout}\n--- stderr ---\n{stderr}"

    assert code == 0, report
    assert "Traceback" not in stdout + stderr, report
    assert "Warning" not in stdout + stderr, report
    assert f"the sandbox at http://127.0.0.1:{port} is up" in stdout, report

    email = "ada@example.com"
    credentials = home / ".config" / "atriumn" / "credentials.json"
    assert f"signed in as {email}" in stdout, report
    assert f"the session is kept in file {credentials}" in stdout, report  # login and status say where
    assert f"username    {email}" in stdout, report  # whoami

    size = (work / "report.txt").stat().st_size
    upload = re.search(rf"^uploaded {size} bytes as (\S+/report\.txt) \(sha256 [0-9a-f]{{64}}\)$", stdout, re.M)
    assert upload, report
    assert re.search(rf"^{UUID}  completed  text$", stdout, re.M), report  # ingest text --wait
    assert re.search(rf"^{UUID}  completed  file$", stdout, re.M), report  # ingest file --wait

    rows = re.findall(rf"^\s+(\d+)\s+({UUID})\s+(\w+)", stdout, re.M)
    assert [index for index, _, _ in rows] == ["0", "1"], report  # the batch: one row per line of notes.txt
    assert "ingested 2 of 2; 0 failed" in stdout, report

    assert "Hello from the command line" in stdout.splitlines(), report  # the chat's answer (the echo model)
    assert re.search(r"^\[openai:gpt-4o-mini · \d+ in / \d+ out tokens, \$0\.\d+\]$", stderr, re.M), report

    assert f"signed out of profile 'default' (removed from file {credentials}" in stdout, report
    assert not credentials.exists()
    assert stopped, report
    data_dir = re.search(r"^data dir:\s+(\S+) \(temporary", stdout, re.M)
    assert data_dir, report
    assert not Path(data_dir.group(1)).exists()
