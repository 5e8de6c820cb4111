"""``atriumn ai batch submit|status|wait|results|cancel|list`` as subprocesses against the sandbox's batch APIs:
a job saved by one process and finished by the next ones, results as JSONL with typed errors and batch-priced
cost, cancellation, and one-line errors with the right exit code and hint."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from atriumn.sandbox import Sandbox


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    with Sandbox(batch_delay=0) as running:
        yield running


@pytest.fixture
def env(sandbox: Sandbox, tmp_path: Path) -> dict[str, str]:
    """Provider keys (fresh: batches are private to a key) and base URLs pointing at the sandbox."""
    base = {k: v for k, v in os.environ.items() if not k.startswith(("ATRIUMN_", "OPENAI_", "ANTHROPIC_"))}
    return {
        **base,
        "OPENAI_API_KEY": f"cli-openai-{uuid.uuid4().hex[:8]}",
        "OPENAI_BASE_URL": f"{sandbox.url}/v1",
        "ANTHROPIC_API_KEY": f"cli-anthropic-{uuid.uuid4().hex[:8]}",
        "ANTHROPIC_BASE_URL": sandbox.url,
    }


def atriumn(env: dict[str, str], cwd: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    exe = Path(sys.executable).with_name("atriumn")
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "atriumn.core.cli"]
    return subprocess.run([*cmd, *argv], capture_output=True, text=True, env=env, cwd=cwd, timeout=60, check=False)


def write_requests(path: Path, n: int, error_at: int | None = None) -> None:
    lines = []
    for i in range(n):
        doc: dict[str, object] = {"id": f"q{i}", "messages": f"question number {i}", "max_tokens": 20}
        if i == error_at:
            doc["extra_body"] = {"model": "error-429"}  # the sandbox's per-request error marker
        lines.append(json.dumps(doc))
    path.write_text("\n".join(lines) + "\n")


def test_submit_status_wait_results_across_processes(env: dict[str, str], tmp_path: Path) -> None:
    write_requests(tmp_path / "requests.jsonl", 40, error_at=7)
    submit = atriumn(env, tmp_path, "--json", "ai", "batch", "submit", "requests.jsonl", "-m", "openai:gpt-4o-mini",
                     "--max-requests", "15", "--metadata", "team=search")  # fmt: skip
    assert submit.returncode == 0, submit.stderr
    job = json.loads(submit.stdout)
    assert job["job_file"] == "requests.batch.json" and (tmp_path / "requests.batch.json").is_file()
    assert [p["requests"] for p in job["parts"]] == [15, 15, 10]
    assert job["metadata"] == {"team": "search"} and job["counts"]["total"] == 40

    status = atriumn(env, tmp_path, "ai", "batch", "status", "requests.batch.json")
    assert status.returncode == 0, status.stderr
    assert "openai:gpt-4o-mini" in status.stdout and "part 2" in status.stdout

    wait = atriumn(env, tmp_path, "ai", "batch", "wait", "requests.batch.json", "--poll-interval", "0.05")
    assert wait.returncode == 0, wait.stderr
    assert "status    completed" in wait.stdout and "39 succeeded, 1 failed" in wait.stdout
    assert "\r" not in wait.stderr  # no progress drawn on a pipe
    assert json.loads((tmp_path / "requests.batch.json").read_text())["status"] == "completed"  # kept up to date

    results = atriumn(env, tmp_path, "ai", "batch", "results", "requests.batch.json", "--out", "out.jsonl")
    assert results.returncode == 0, results.stderr
    assert "39 succeeded, 1 failed" in results.stdout
    lines = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text().splitlines()]
    assert sorted(r["id"] for r in lines) == sorted(f"q{i}" for i in range(40))
    failed = [r for r in lines if not r["ok"]]
    assert [(r["id"], r["error"]["type"], r["error"]["status"]) for r in failed] == [("q7", "RateLimitError", 429)]
    first = next(r for r in lines if r["id"] == "q0")
    assert first["text"] == "question number 0"
    assert first["cost_usd"] == "0.000001125"  # 3 in, 3 out tokens at gpt-4o-mini batch prices: 0.075, 0.30 per 1M

    listed = atriumn(env, tmp_path, "--json", "ai", "batch", "list", "--provider", "openai")
    assert listed.returncode == 0, listed.stderr
    assert sorted(j["parts"][0]["provider_id"] for j in json.loads(listed.stdout)) == sorted(
        p["provider_id"] for p in job["parts"]
    )


def test_cancel_a_running_job_and_a_wait_that_times_out(env: dict[str, str], tmp_path: Path) -> None:
    write_requests(tmp_path / "slow.jsonl", 5)
    model = "anthropic:claude-haiku-4-5-delay-60000"  # a job that runs for a minute
    submit = atriumn(env, tmp_path, "ai", "batch", "submit", "slow.jsonl", "-m", model, "--job-file", "slow.json")
    assert submit.returncode == 0, submit.stderr
    assert "submitted 5 requests" in submit.stderr and "slow.json" in submit.stderr

    waited = atriumn(env, tmp_path, "ai", "batch", "wait", "slow.json", "--timeout", "0")
    assert waited.returncode == 1
    assert waited.stderr.count("\n") == 1 and "still running" in waited.stderr
    assert "run `atriumn ai batch wait slow.json` again" in waited.stderr

    cancel = atriumn(env, tmp_path, "ai", "batch", "cancel", "slow.json")
    assert cancel.returncode == 0, cancel.stderr
    assert "cancel" in cancel.stdout
    done = atriumn(env, tmp_path, "--json", "ai", "batch", "wait", "slow.json")
    assert json.loads(done.stdout)["status"] == "cancelled"
    results = atriumn(env, tmp_path, "ai", "batch", "results", "slow.json")
    lines = [json.loads(line) for line in results.stdout.splitlines()]
    assert {r["error"]["type"] for r in lines} == {"BatchRequestCancelledError"} and len(lines) == 5


def test_errors_are_one_line_with_an_exit_code_and_a_hint(env: dict[str, str], tmp_path: Path) -> None:
    (tmp_path / "bad.jsonl").write_text('{"id": "a", "messages": "x"}\n\n{"id": "a", "messages": "y"}\n')
    duplicate = atriumn(env, tmp_path, "ai", "batch", "submit", "bad.jsonl", "-m", "openai:gpt-4o-mini")
    assert (duplicate.returncode, duplicate.stderr) == (2, "atriumn: bad.jsonl:3: id: duplicate id 'a' (ids must "
                                                           "be unique in a batch)\n")  # fmt: skip
    (tmp_path / "typo.jsonl").write_text('{"id": "a", "messages": "x", "max_token": 3}\n')
    typo = atriumn(env, tmp_path, "--json", "ai", "batch", "submit", "typo.jsonl", "-m", "openai:gpt-4o-mini")
    assert typo.returncode == 2
    assert "did you mean 'max_tokens'" in json.loads(typo.stderr)["error"]["message"]

    missing = atriumn(env, tmp_path, "ai", "batch", "status", "nope.json")
    assert missing.returncode == 2 and "no such job file" in missing.stderr

    unknown = atriumn(env, tmp_path, "ai", "batch", "status", "openai:batch_nope")
    assert unknown.returncode == 1 and unknown.stderr.count("\n") == 1
    assert "404" in unknown.stderr and "OPENAI_API_KEY is the key that created it" in unknown.stderr

    refused = atriumn({**env, "OPENAI_API_KEY": "invalid-key"}, tmp_path, "ai", "batch", "status", "openai:batch_x")
    assert refused.returncode == 1
    assert "openai refused the API key: check OPENAI_API_KEY" in refused.stderr and "invalid-key" not in refused.stderr
