"""A job survives its process: one process submits a job (three provider batches) and is killed while waiting;
another loads the saved job, waits for it and reads every result. The sandbox saw exactly one creation per part,
and running ``create`` again with the same batch id submits nothing new."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from atriumn.ai import BatchJob, BatchLimits, BatchRequest, ChatClient
from atriumn.sandbox import Sandbox

from ._batches import MODELS, PROVIDERS, sandbox_options

WORKER = Path(__file__).with_name("_batch_worker.py")
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    with Sandbox(batch_delay=0) as running:
        yield running


def worker(command: str, path: Path, model: str, env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, str(WORKER), command, str(path), model],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=REPO,
    )


def test_a_job_saved_by_a_killed_process_is_finished_by_another(sandbox: Sandbox, tmp_path: Path) -> None:
    options = sandbox_options(sandbox)
    keys, urls = options["api_keys"], options["base_urls"]
    env = {k: v for k, v in os.environ.items() if not k.endswith(("_API_KEY", "_BASE_URL"))}
    for provider in PROVIDERS:
        env[f"{provider.upper()}_API_KEY"] = keys[provider]
        env[f"{provider.upper()}_BASE_URL"] = urls[provider]
    # A model with the sandbox's delay marker: each part runs for 1.5 s, so the first process is still waiting
    # when it is killed (the test does not depend on it: a job that has ended is resumed just as well).
    models = {p: MODELS[p] + "-delay-1500" for p in PROVIDERS}
    paths = {p: tmp_path / f"resume-{p}.json" for p in PROVIDERS}
    creators = {p: worker("create", paths[p], models[p], env) for p in PROVIDERS}
    for provider, proc in creators.items():
        assert proc.stdout is not None
        line = proc.stdout.readline()
        if line.strip() != "created":
            proc.kill()
            pytest.fail(f"{provider}: the first process did not create its job: {proc.communicate()[1]}")
        proc.kill()
        proc.wait(timeout=30)
    saved = {p: BatchJob.from_json(paths[p].read_text()) for p in PROVIDERS}
    resumers = {p: worker("resume", paths[p], models[p], env) for p in PROVIDERS}
    summaries = {}
    for provider, proc in resumers.items():
        out, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err
        summaries[provider] = json.loads(out)

    with ChatClient(**options) as client:
        for provider in PROVIDERS:
            summary, job = summaries[provider], saved[provider]
            assert len(job.parts) == 3
            assert summary["status"] == "completed"
            assert summary["parts"] == [p.provider_id for p in job.parts]
            assert summary["ids"] == sorted(f"r{i}" for i in range(12))
            assert summary["ok"] == 12 and summary["priced"]
            listed = [j.parts[0].provider_id for j in client.batches.list(provider)]
            assert sorted(listed) == sorted(p.provider_id for p in job.parts), f"{provider}: one creation per part"
            # The same batch id again (a process that died before saving its job would do this): nothing new.
            requests = (BatchRequest(f"r{i}", f"resumed request {i}") for i in range(12))
            again = client.batches.create(
                models[provider], requests, limits=BatchLimits(max_requests=5), batch_id=paths[provider].stem
            )
            assert [p.provider_id for p in again.parts] == [p.provider_id for p in job.parts]
            assert len(list(client.batches.list(provider))) == 3
