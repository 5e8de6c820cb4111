"""The batch emulation speaks OpenAI's and Groq's Batch and Files APIs: the official SDKs upload, create, poll,
list, cancel and download over loopback against an in-process sandbox; every state is reached (completed,
failed, expired, cancelling → cancelled), per-request errors land in the error file, the limits answer with
the provider's error, and ``/v1/batches/{id}`` is told apart from Gemini's by the credential header.

The sandbox runs with ``batch_delay=0``: a job shows its first state in the creation response and its end
state on the next read, so no test sleeps. The clock itself is tested on :class:`Job` with explicit times, and
once over the wire with the default delay (polling with a deadline).
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Iterator
from typing import Any

import groq
import httpx2
import openai
import pytest

from atriumn.sandbox import Sandbox, SandboxConfig
from atriumn.sandbox._cli import add_serve_arguments
from atriumn.sandbox._llm._batches import (
    CANCELLED,
    CANCELLING,
    COMPLETED,
    EXPIRED,
    FAILED,
    FINISHING,
    QUEUED,
    RUNNING,
    Job,
)

from ._batch_helpers import LIMITS, SLOW, chat_line, fifty_with_one_error, jsonl, key, parse_jsonl
from ._llm_server import serve_llm

Client = Any  # openai.OpenAI or groq.Groq: the same batch and file methods


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    with Sandbox(**LIMITS) as running:
        yield running


@pytest.fixture(params=["openai", "groq"])
def client(request: pytest.FixtureRequest, sandbox: Sandbox) -> Iterator[Client]:
    made: Client
    if request.param == "openai":
        made = openai.OpenAI(api_key=key("openai"), base_url=sandbox.url + "/v1", max_retries=0)
    else:
        made = groq.Groq(api_key=key("groq"), base_url=sandbox.url, max_retries=0)
    yield made
    made.close()


@pytest.fixture
def oai(sandbox: Sandbox) -> Iterator[openai.OpenAI]:
    made = openai.OpenAI(api_key=key("openai"), base_url=sandbox.url + "/v1", max_retries=0)
    yield made
    made.close()


def _submit(client: Client, lines: list[Any], *, endpoint: str = "/v1/chat/completions", **extra: Any) -> Any:
    uploaded = client.files.create(file=("input.jsonl", jsonl(lines)), purpose="batch")
    return client.batches.create(input_file_id=uploaded.id, endpoint=endpoint, completion_window="24h", **extra)


def _content(client: Client, file_id: str | None) -> list[Any]:
    assert file_id is not None
    return parse_jsonl(client.files.content(file_id).read())


# --- completed, with per-request errors ------------------------------------------------------------------


def test_completed_batch_with_two_percent_errors(client: Client) -> None:
    requests = fifty_with_one_error("error-429")
    lines = [chat_line(f"req-{i}", model, text) for i, (model, text) in enumerate(requests)]
    created = _submit(client, lines, metadata={"run": "nightly"})
    assert created.status == "validating"
    assert created.request_counts is not None and created.request_counts.total == 0
    assert created.output_file_id is None and created.in_progress_at is None

    batch = client.batches.retrieve(created.id)
    assert batch.status == "completed"
    assert batch.metadata == {"run": "nightly"}
    assert batch.request_counts is not None
    assert (batch.request_counts.total, batch.request_counts.completed, batch.request_counts.failed) == (50, 49, 1)
    assert batch.created_at <= batch.in_progress_at <= batch.finalizing_at <= batch.completed_at
    assert batch.failed_at is None and batch.cancelled_at is None and batch.errors is None
    assert batch.expires_at == batch.created_at + 24 * 3600

    output = _content(client, batch.output_file_id)
    assert [line["custom_id"] for line in output] == [f"req-{i}" for i in range(50) if i != 17]  # request order
    assert all(line["error"] is None and line["id"].startswith("batch_req_") for line in output)
    first = output[0]["response"]
    assert first["status_code"] == 200 and first["request_id"]
    interactive = client.chat.completions.create(model="echo", messages=[{"role": "user", "content": requests[0][1]}])
    assert first["body"]["choices"][0]["message"]["content"] == interactive.choices[0].message.content
    assert first["body"]["usage"]["prompt_tokens"] == interactive.usage.prompt_tokens == 4
    assert first["body"]["usage"]["completion_tokens"] == interactive.usage.completion_tokens == 4

    errors = _content(client, batch.error_file_id)
    assert [line["custom_id"] for line in errors] == ["req-17"]
    response = errors[0]["response"]
    assert response["status_code"] == 429
    assert response["body"]["error"]["code"] == "rate_limit_exceeded"  # the interactive endpoint's error body

    info = client.files.retrieve(batch.output_file_id) if hasattr(client.files, "retrieve") else None
    info = info or client.files.info(batch.output_file_id)
    assert info.purpose == "batch_output"


def test_openai_batch_object_extras_and_raw_shapes(oai: openai.OpenAI) -> None:
    batch = oai.batches.retrieve(_submit(oai, [chat_line("a", "gpt-4o-think", "one two three")]).id)
    assert batch.model == "gpt-4o-think"
    assert batch.usage is not None
    assert (batch.usage.input_tokens, batch.usage.output_tokens) == (3, 3 + 8)  # reasoning tokens included
    assert batch.usage.output_tokens_details.reasoning_tokens == 8
    raw = oai.files.with_raw_response.content(batch.output_file_id or "")
    assert raw.headers["content-type"].startswith("application/jsonl")
    assert raw.headers["content-length"] == str(len(raw.content))


def test_embeddings_batch_matches_interactive(oai: openai.OpenAI) -> None:
    lines = [
        {"custom_id": "e1", "method": "POST", "url": "/v1/embeddings", "body": {"model": "emb", "input": "alpha"}},
        {"custom_id": "e2", "method": "POST", "url": "/v1/embeddings", "body": {"model": "emb", "input": ["b", "c"]}},
    ]
    batch = oai.batches.retrieve(_submit(oai, lines, endpoint="/v1/embeddings").id)
    assert batch.status == "completed"
    output = _content(oai, batch.output_file_id)
    interactive = oai.embeddings.create(model="emb", input="alpha", encoding_format="float")
    assert output[0]["response"]["body"]["data"][0]["embedding"] == interactive.data[0].embedding
    assert len(output[1]["response"]["body"]["data"]) == 2


# --- failed, expired, cancelled ----------------------------------------------------------------------------


def test_invalid_input_file_fails_with_errors(client: Client) -> None:
    lines: list[Any] = [
        chat_line("ok", "echo", "fine"),
        chat_line("ok", "echo", "duplicate id"),
        chat_line("url", "echo", "wrong url", url="/v1/completions"),
        chat_line("marked", "echo-batch-invalid", "marker"),
    ]
    data = jsonl(lines) + b"{not json\n"
    uploaded = client.files.create(file=("input.jsonl", data), purpose="batch")
    created = client.batches.create(input_file_id=uploaded.id, endpoint="/v1/chat/completions", completion_window="24h")
    assert created.status == "validating"
    batch = client.batches.retrieve(created.id)
    assert batch.status == "failed"
    assert batch.failed_at is not None and batch.in_progress_at is None and batch.completed_at is None
    assert batch.output_file_id is None and batch.error_file_id is None
    assert batch.request_counts is not None and batch.request_counts.total == 0
    assert batch.errors is not None
    found = [(e.code, e.line, e.param) for e in batch.errors.data]
    assert found == [
        ("duplicate_custom_id", 2, "custom_id"),
        ("url_mismatch", 3, "url"),
        ("invalid_request", 4, "body.model"),
        ("invalid_json_line", 5, None),
    ]
    assert all(e.message for e in batch.errors.data)


def test_empty_file_fails(oai: openai.OpenAI) -> None:
    uploaded = oai.files.create(file=("empty.jsonl", b"\n"), purpose="batch")
    batch = oai.batches.create(input_file_id=uploaded.id, endpoint="/v1/chat/completions", completion_window="24h")
    errors = oai.batches.retrieve(batch.id).errors
    assert errors is not None and [e.code for e in errors.data or []] == ["empty_file"]


def test_expired_batch_keeps_what_ran(client: Client) -> None:
    lines = [chat_line("ran", "echo", "done"), chat_line("late", "echo-batch-expire", "too late")]
    batch = client.batches.retrieve(_submit(client, lines).id)
    assert batch.status == "expired"
    assert batch.expired_at is not None and batch.completed_at is None
    assert (batch.request_counts.completed, batch.request_counts.failed) == (1, 1)
    assert [line["custom_id"] for line in _content(client, batch.output_file_id)] == ["ran"]
    expired = _content(client, batch.error_file_id)
    assert expired[0]["custom_id"] == "late"
    assert expired[0]["response"] is None
    assert expired[0]["error"]["code"] == "batch_expired"


def test_cancelling_then_cancelled(client: Client) -> None:
    created = _submit(client, [chat_line("slow", SLOW, "takes a minute"), chat_line("b", "echo", "x")])
    running = client.batches.retrieve(created.id)
    assert running.status == "validating"  # the first third of a minute
    cancelling = client.batches.cancel(created.id)
    assert cancelling.status == "cancelling"
    assert cancelling.cancelling_at is not None and cancelling.cancelled_at is None
    cancelled = client.batches.retrieve(created.id)
    assert cancelled.status == "cancelled"
    assert cancelled.cancelled_at is not None and cancelled.completed_at is None
    assert cancelled.output_file_id is None and cancelled.error_file_id is None
    assert (cancelled.request_counts.completed, cancelled.request_counts.failed) == (0, 0)
    error = openai.ConflictError if isinstance(client, openai.OpenAI) else groq.ConflictError
    with pytest.raises(error):
        client.batches.cancel(created.id)
    done = client.batches.retrieve(_submit(client, [chat_line("a", "echo", "x")]).id)
    assert done.status == "completed"
    with pytest.raises(error):
        client.batches.cancel(done.id)


# --- limits and refusals -----------------------------------------------------------------------------------


def test_request_limit_fails_the_batch(client: Client) -> None:
    lines = [chat_line(f"r{i}", "echo", "x") for i in range(101)]  # the sandbox's limit is 100
    batch = client.batches.retrieve(_submit(client, lines).id)
    assert batch.status == "failed"
    assert [e.code for e in batch.errors.data] == ["too_many_tasks"]
    assert "100" in batch.errors.data[0].message


def test_size_limit_and_format_refuse_the_upload(client: Client) -> None:
    error: Any = openai.BadRequestError if isinstance(client, openai.OpenAI) else groq.BadRequestError
    big = jsonl([chat_line("big", "echo", "word " * 20_000)])  # > 64 KiB, and > the app's 1 MiB body limit too
    big += b" " * (1024 * 1024)
    with pytest.raises(error) as refused:
        client.files.create(file=("big.jsonl", big), purpose="batch")
    assert refused.value.status_code == 400
    assert "File is too large" in str(refused.value)
    with pytest.raises(error) as wrong:
        client.files.create(file=("input.txt", b"{}"), purpose="batch")
    assert "Must be .jsonl" in str(wrong.value)


def test_create_refusals(oai: openai.OpenAI) -> None:
    uploaded = oai.files.create(file=("input.jsonl", jsonl([chat_line("a", "echo", "x")])), purpose="batch")
    with pytest.raises(openai.BadRequestError) as window:
        oai.batches.create(input_file_id=uploaded.id, endpoint="/v1/chat/completions", completion_window="48h")  # type: ignore[arg-type]
    assert "completion_window" in str(window.value.body)
    with pytest.raises(openai.BadRequestError):
        oai.batches.create(input_file_id="file-nope", endpoint="/v1/chat/completions", completion_window="24h")
    with pytest.raises(openai.BadRequestError):
        oai.batches.create(input_file_id=uploaded.id, endpoint="/v1/responses", completion_window="24h")
    with pytest.raises(openai.NotFoundError):
        oai.batches.retrieve("batch_nope")
    stranger = openai.OpenAI(api_key=key("other"), base_url=str(oai.base_url), max_retries=0)
    with pytest.raises(openai.NotFoundError):
        stranger.files.retrieve(uploaded.id)  # files and batches are private to their key
    with pytest.raises(openai.AuthenticationError):
        openai.OpenAI(api_key="invalid-key", base_url=str(oai.base_url), max_retries=0).batches.list()


# --- lists and files -----------------------------------------------------------------------------------------


def test_list_pages_newest_first(oai: openai.OpenAI) -> None:
    ids = [_submit(oai, [chat_line("a", "echo", str(i))]).id for i in range(3)]
    first = oai.batches.list(limit=2)
    assert [b.id for b in first.data] == ids[::-1][:2]
    assert first.has_more is True
    assert [b.id for b in oai.batches.list(limit=2)] == ids[::-1]  # the SDK follows `after`
    assert [b.id for b in oai.batches.list(after=ids[1])] == ids[:1]


def test_groq_list(sandbox: Sandbox) -> None:
    client = groq.Groq(api_key=key("groq"), base_url=sandbox.url, max_retries=0)
    ids = [_submit(client, [chat_line("a", "echo", str(i))]).id for i in range(2)]
    assert [b.id for b in client.batches.list().data] == ids[::-1]
    client.close()


def test_files_retrieve_list_content_delete(oai: openai.OpenAI) -> None:
    data = jsonl([chat_line("a", "echo", "x")])
    uploaded = oai.files.create(file=("input.jsonl", data), purpose="batch")
    assert (uploaded.bytes, uploaded.filename, uploaded.purpose, uploaded.status) == (
        len(data),
        "input.jsonl",
        "batch",
        "processed",
    )
    assert oai.files.retrieve(uploaded.id).id == uploaded.id
    assert uploaded.id in [f.id for f in oai.files.list()]
    assert oai.files.content(uploaded.id).read() == data
    assert oai.files.delete(uploaded.id).deleted is True
    with pytest.raises(openai.NotFoundError):
        oai.files.retrieve(uploaded.id)


# --- /v1/batches is OpenAI's and Gemini's ------------------------------------------------------------------


def test_shared_v1_paths_told_apart_by_credential(sandbox: Sandbox, oai: openai.OpenAI) -> None:
    batch_id = _submit(oai, [chat_line("a", "echo", "x")]).id
    gemini_key = key("gemini")
    body = {
        "batch": {"inputConfig": {"requests": {"requests": [{"request": {"contents": [{"parts": [{"text": "hi"}]}]}}]}}}
    }
    created = httpx2.post(
        f"{sandbox.url}/v1/models/echo:batchGenerateContent", json=body, headers={"x-goog-api-key": gemini_key}
    )
    assert created.status_code == 200, created.text
    gemini_name = created.json()["name"]
    gemini_id = gemini_name.removeprefix("batches/")
    bearer = {"authorization": f"Bearer {oai.api_key}"}
    goog = {"x-goog-api-key": gemini_key}

    as_openai = httpx2.get(f"{sandbox.url}/v1/batches/{batch_id}", headers=bearer)
    assert as_openai.status_code == 200 and as_openai.json()["object"] == "batch"
    as_gemini = httpx2.get(f"{sandbox.url}/v1/batches/{gemini_id}", headers=goog)
    assert as_gemini.status_code == 200 and as_gemini.json()["name"] == gemini_name
    assert as_gemini.json()["metadata"]["state"] == "BATCH_STATE_SUCCEEDED"
    crossed = httpx2.get(f"{sandbox.url}/v1/batches/{batch_id}", headers=goog)
    assert crossed.status_code == 404 and crossed.json()["error"]["status"] == "NOT_FOUND"  # Google's error shape
    crossed = httpx2.get(f"{sandbox.url}/v1/batches/{gemini_id}", headers=bearer)
    assert crossed.status_code == 404 and crossed.json()["error"]["type"] == "invalid_request_error"  # OpenAI's
    assert [b["id"] for b in httpx2.get(f"{sandbox.url}/v1/batches", headers=bearer).json()["data"]] == [batch_id]
    listed = httpx2.get(f"{sandbox.url}/v1/batches", params={"key": gemini_key}).json()
    assert [op["name"] for op in listed["operations"]] == [gemini_name]


# --- the clock ------------------------------------------------------------------------------------------------


def _job(outcome: str = COMPLETED, duration: float = 3.0, cancel_delay: float = 1.0) -> Job:
    return Job(
        "j", "openai", "k", created=100.0, duration=duration, cancel_delay=cancel_delay, outcome=outcome, total=1
    )


def test_job_clock_every_transition() -> None:
    job = _job()
    assert [job.phase(t) for t in (100.0, 100.5, 101.0, 102.5, 103.0, 999.0)] == [
        QUEUED,
        QUEUED,
        RUNNING,
        FINISHING,
        COMPLETED,
        COMPLETED,
    ]
    assert job.timeline(103.0) == {QUEUED: 100.0, RUNNING: 101.0, FINISHING: 102.0, COMPLETED: 103.0}
    assert _job(EXPIRED).phase(103.0) == EXPIRED
    failed = _job(FAILED)
    assert [failed.phase(t) for t in (101.5, 102.9, 103.0)] == [QUEUED, QUEUED, FAILED]  # it never runs
    cancelled = _job()
    cancelled.cancel_requested = 101.5
    assert cancelled.timeline(101.5) == {QUEUED: 100.0, RUNNING: 101.0, CANCELLING: 101.5}
    assert cancelled.phase(102.4) == CANCELLING
    assert cancelled.timeline(150.0) == {QUEUED: 100.0, RUNNING: 101.0, CANCELLING: 101.5, CANCELLED: 102.5}


def test_zero_delay_ends_on_the_next_read() -> None:
    job = _job(duration=0.0, cancel_delay=0.0)
    assert job.phase(job.created) == QUEUED  # what the creation response shows
    assert job.phase(job.created + 1e-6) == COMPLETED
    held = _job(duration=60.0, cancel_delay=0.0)
    held.cancel_requested = 110.0
    assert held.phase(110.0) == CANCELLING  # what the cancellation response shows
    assert held.phase(110.000001) == CANCELLED


def test_default_delay_over_the_wire() -> None:
    order = ["validating", "in_progress", "finalizing", "completed"]
    with serve_llm() as url:  # the routes alone, default settings: 0.2 s per job
        client = openai.OpenAI(api_key=key("openai"), base_url=url + "/v1", max_retries=0)
        batch = _submit(client, [chat_line("a", "echo", "x")])
        seen = [batch.status]
        deadline = time.monotonic() + 10
        while seen[-1] != "completed":
            assert time.monotonic() < deadline, seen
            seen.append(client.batches.retrieve(batch.id).status)
        assert [order.index(s) for s in seen] == sorted(order.index(s) for s in seen)  # never backwards
        assert _content(client, client.batches.retrieve(batch.id).output_file_id)[0]["custom_id"] == "a"
        client.close()


# --- configuration -----------------------------------------------------------------------------------------------


def test_configuration() -> None:
    parser = argparse.ArgumentParser()
    add_serve_arguments(parser)
    assert parser.parse_args([]).batch_delay == 0.2
    assert parser.parse_args(["--batch-delay", "0"]).batch_delay == 0.0
    config = SandboxConfig()
    assert (config.openai_batch_max_requests, config.openai_batch_max_bytes) == (50_000, 200 * 1024 * 1024)
    assert (config.groq_batch_max_requests, config.groq_batch_max_bytes) == (50_000, 100 * 1024 * 1024)
    assert (config.anthropic_batch_max_requests, config.anthropic_batch_max_bytes) == (100_000, 256 * 1024 * 1024)
    assert config.gemini_batch_max_inline_bytes == 20 * 1024 * 1024
    with pytest.raises(ValueError, match="batch_delay"):
        SandboxConfig(batch_delay=-1)
    with pytest.raises(ValueError, match="openai_batch_max_requests"):
        SandboxConfig(openai_batch_max_requests=0)
