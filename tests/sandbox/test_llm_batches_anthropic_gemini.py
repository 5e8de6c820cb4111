"""The batch emulation speaks Anthropic's Message Batches API and Gemini's batch mode (inline requests and
uploaded JSONL files through the resumable Files API): the official SDKs create, poll, list, cancel, delete
and read results over loopback against an in-process sandbox with ``batch_delay=0`` (no test sleeps).
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from typing import Any

import anthropic
import httpx2
import pytest
from google import genai
from google.genai import errors as genai_errors
from google.genai import types

from atriumn.sandbox import Sandbox

from ._batch_helpers import LIMITS, SLOW, fifty_with_one_error, jsonl, key, parse_jsonl


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    with Sandbox(**LIMITS) as running:
        yield running


# --- Anthropic ---------------------------------------------------------------------------------------------


@pytest.fixture(params=["", "/anthropic"])
def claude(request: pytest.FixtureRequest, sandbox: Sandbox) -> Iterator[anthropic.Anthropic]:
    client = anthropic.Anthropic(api_key=key("anthropic"), base_url=sandbox.url + request.param, max_retries=0)
    yield client
    client.close()


def _req(custom_id: str, model: str, text: str) -> Any:
    return {
        "custom_id": custom_id,
        "params": {"model": model, "max_tokens": 100, "messages": [{"role": "user", "content": text}]},
    }


def test_anthropic_batch_with_two_percent_errors(claude: anthropic.Anthropic) -> None:
    requests = fifty_with_one_error("overloaded")
    created = claude.messages.batches.create(requests=[_req(f"c-{i}", m, t) for i, (m, t) in enumerate(requests)])
    assert created.processing_status == "in_progress"
    assert created.request_counts.processing == 50
    assert created.results_url is None and created.ended_at is None

    batch = claude.messages.batches.retrieve(created.id)
    assert batch.processing_status == "ended"
    assert batch.ended_at is not None and batch.ended_at >= batch.created_at
    counts = batch.request_counts
    assert (counts.processing, counts.succeeded, counts.errored, counts.canceled, counts.expired) == (0, 49, 1, 0, 0)
    assert batch.results_url is not None
    assert batch.results_url.startswith(str(claude.base_url).rstrip("/") + "/v1/messages/batches/")

    results = list(claude.messages.batches.results(created.id))
    assert [r.custom_id for r in results] == [f"c-{i}" for i in range(50)]  # request order
    first = results[0].result
    assert first.type == "succeeded"
    interactive = claude.messages.create(
        model="echo", max_tokens=100, messages=[{"role": "user", "content": requests[0][1]}]
    )
    assert first.message.content[0].text == interactive.content[0].text  # type: ignore[union-attr]
    assert first.message.usage.input_tokens == interactive.usage.input_tokens == 4
    assert first.message.usage.output_tokens == interactive.usage.output_tokens == 4
    errored = results[17].result
    assert errored.type == "errored"
    assert errored.error.error.type == "overloaded_error"  # the interactive endpoint's error body

    assert created.id in [b.id for b in claude.messages.batches.list()]
    assert claude.messages.batches.delete(created.id).type == "message_batch_deleted"
    with pytest.raises(anthropic.NotFoundError):
        claude.messages.batches.retrieve(created.id)


def test_anthropic_results_are_jsonl(sandbox: Sandbox) -> None:
    headers = {"x-api-key": key("anthropic"), "anthropic-version": "2023-06-01"}
    created = httpx2.post(
        f"{sandbox.url}/v1/messages/batches", json={"requests": [_req("a", "echo", "x")]}, headers=headers
    )
    results_url = httpx2.get(f"{sandbox.url}/v1/messages/batches/{created.json()['id']}", headers=headers).json()[
        "results_url"
    ]
    response = httpx2.get(results_url, headers=headers)
    assert response.headers["content-type"] == "application/x-jsonl"
    assert parse_jsonl(response.content)[0]["result"]["message"]["content"][0]["text"] == "x"


def test_anthropic_canceling_then_ended(claude: anthropic.Anthropic) -> None:
    created = claude.messages.batches.create(requests=[_req("slow", SLOW, "a minute"), _req("b", "echo", "x")])
    assert claude.messages.batches.retrieve(created.id).processing_status == "in_progress"
    with pytest.raises(anthropic.BadRequestError):
        claude.messages.batches.delete(created.id)  # still processing
    canceling = claude.messages.batches.cancel(created.id)
    assert canceling.processing_status == "canceling"
    assert canceling.cancel_initiated_at is not None and canceling.results_url is None
    ended = claude.messages.batches.retrieve(created.id)
    assert ended.processing_status == "ended"
    assert (ended.request_counts.canceled, ended.request_counts.succeeded) == (2, 0)
    results = list(claude.messages.batches.results(created.id))
    assert [(r.custom_id, r.result.type) for r in results] == [("slow", "canceled"), ("b", "canceled")]
    with pytest.raises(anthropic.BadRequestError):
        claude.messages.batches.cancel(created.id)


def test_anthropic_expired_and_invalid_requests(claude: anthropic.Anthropic) -> None:
    requests = [
        _req("late", "claude-batch-expire", "x"),
        _req("bad", "claude-batch-invalid", "x"),
        _req("ok", "echo", "y"),
    ]
    batch = claude.messages.batches.retrieve(claude.messages.batches.create(requests=requests).id)
    counts = batch.request_counts
    assert (counts.expired, counts.errored, counts.succeeded) == (1, 1, 1)
    results = {r.custom_id: r.result for r in claude.messages.batches.results(batch.id)}
    assert results["late"].type == "expired"
    assert results["bad"].type == "errored"
    assert results["bad"].error.error.type == "invalid_request_error"
    no_max_tokens: Any = {"custom_id": "m", "params": {"model": "echo", "messages": []}}
    missing = claude.messages.batches.create(requests=[no_max_tokens])
    result = next(iter(claude.messages.batches.results(missing.id))).result
    assert result.type == "errored" and "max_tokens" in result.error.error.message


def test_anthropic_limits(sandbox: Sandbox, claude: anthropic.Anthropic) -> None:
    with pytest.raises(anthropic.BadRequestError) as too_many:
        claude.messages.batches.create(requests=[_req(f"r{i}", "echo", "x") for i in range(101)])
    assert "maximum is 100" in str(too_many.value)
    with pytest.raises(anthropic.APIStatusError) as too_big:  # > 64 KiB, and > the app's 1 MiB body limit too
        claude.messages.batches.create(requests=[_req("big", "echo", "word " * 250_000)])
    assert too_big.value.status_code == 413
    assert too_big.value.body["error"]["type"] == "request_too_large"  # type: ignore[index]
    with pytest.raises(anthropic.BadRequestError) as duplicate:
        claude.messages.batches.create(requests=[_req("same", "echo", "x"), _req("same", "echo", "y")])
    assert "duplicate" in str(duplicate.value)


def test_anthropic_list_pages(sandbox: Sandbox) -> None:
    client = anthropic.Anthropic(api_key=key("anthropic"), base_url=sandbox.url, max_retries=0)
    ids = [client.messages.batches.create(requests=[_req("a", "echo", str(i))]).id for i in range(3)]
    page = client.messages.batches.list(limit=2)
    assert [b.id for b in page.data] == ids[::-1][:2] and page.has_more
    assert [b.id for b in client.messages.batches.list(limit=2)] == ids[::-1]  # the SDK follows after_id
    client.close()


# --- Gemini ------------------------------------------------------------------------------------------------------


@pytest.fixture(params=["v1", "v1beta"])
def gemini(request: pytest.FixtureRequest, sandbox: Sandbox) -> genai.Client:
    options = types.HttpOptions(base_url=sandbox.url, api_version=request.param)
    return genai.Client(api_key=key("gemini"), http_options=options)


def _inline(model: str, text: str, tag: str) -> Any:
    return {"model": model, "contents": [{"role": "user", "parts": [{"text": text}]}], "metadata": {"tag": tag}}


def test_gemini_inline_batch_in_request_order(gemini: genai.Client) -> None:
    requests = fifty_with_one_error("error-429")
    src: Any = [_inline(m, t, f"t{i}") for i, (m, t) in enumerate(requests)]
    created = gemini.batches.create(model="gemini-2.5-flash", src=src, config={"display_name": "nightly"})
    assert created.name is not None and created.name.startswith("batches/")
    assert created.state == types.JobState.JOB_STATE_PENDING
    assert created.display_name == "nightly"

    job = gemini.batches.get(name=created.name)
    assert job.state == types.JobState.JOB_STATE_SUCCEEDED
    assert job.done and job.end_time is not None
    assert job.dest is not None and job.dest.inlined_responses is not None
    answers = job.dest.inlined_responses
    assert [a.metadata for a in answers] == [{"tag": f"t{i}"} for i in range(50)]  # request order, with metadata
    interactive = gemini.models.generate_content(model="echo", contents=requests[0][1])
    assert answers[0].response is not None and answers[0].response.text == interactive.text == requests[0][1]
    usage = answers[0].response.usage_metadata
    assert usage is not None and interactive.usage_metadata is not None
    assert usage.prompt_token_count == interactive.usage_metadata.prompt_token_count == 4
    failed = answers[17]
    assert failed.response is None and failed.error is not None
    assert failed.error.code == 8  # RESOURCE_EXHAUSTED, as a google.rpc.Status carries it
    assert sum(a.error is not None for a in answers) == 1


def test_gemini_file_batch(gemini: genai.Client) -> None:
    lines = [{"key": f"k{i}", "request": {"contents": [{"parts": [{"text": f"from file {i}"}]}]}} for i in range(3)]
    uploaded = gemini.files.upload(file=io.BytesIO(jsonl(lines)), config={"mime_type": "jsonl", "display_name": "in"})
    assert uploaded.name is not None and uploaded.name.startswith("files/")
    assert uploaded.size_bytes == len(jsonl(lines)) and uploaded.state == types.FileState.ACTIVE
    assert gemini.files.get(name=uploaded.name).display_name == "in"

    created = gemini.batches.create(model="echo", src=uploaded.name)
    job = gemini.batches.get(name=created.name or "")
    assert job.state == types.JobState.JOB_STATE_SUCCEEDED
    assert job.dest is not None and job.dest.file_name is not None
    results = parse_jsonl(gemini.files.download(file=job.dest.file_name))
    assert [r["key"] for r in results] == ["k0", "k1", "k2"]
    assert results[2]["response"]["candidates"][0]["content"]["parts"][0]["text"] == "from file 2"
    generated = gemini.files.get(name=job.dest.file_name)
    assert generated.source == types.FileSource.GENERATED and generated.download_uri
    api_key = gemini._api_client.api_key or ""
    direct = httpx2.get(generated.download_uri, headers={"x-goog-api-key": api_key})  # the /download/... form
    assert parse_jsonl(direct.content) == results
    with pytest.raises(genai_errors.ClientError):
        gemini.files.download(file=uploaded.name)  # only generated files can be downloaded

    assert uploaded.name in [f.name for f in gemini.files.list()]
    gemini.files.delete(name=uploaded.name)
    with pytest.raises(genai_errors.ClientError):
        gemini.files.get(name=uploaded.name)


def test_gemini_large_upload_in_chunks(sandbox: Sandbox) -> None:
    client = genai.Client(api_key=key("gemini"), http_options=types.HttpOptions(base_url=sandbox.url))
    line = {"key": "k", "request": {"contents": [{"parts": [{"text": "x " * 1000}]}]}}
    data = jsonl([line]) + b"\n" * (9 * 1024 * 1024)  # over the SDK's 8 MiB chunk, and the app's 1 MiB limit
    uploaded = client.files.upload(file=io.BytesIO(data), config={"mime_type": "jsonl"})
    assert uploaded.size_bytes == len(data)


def test_gemini_files_of_the_same_name_are_private_to_each_key(sandbox: Sandbox) -> None:
    """A caller-chosen file name is per key: two keys uploading ``files/shared`` get two files, neither
    appended to the other."""
    options = types.HttpOptions(base_url=sandbox.url)
    first, second = (genai.Client(api_key=key("gemini"), http_options=options) for _ in range(2))
    for client, body in ((first, b"one\n"), (second, b"second one\n")):
        uploaded = client.files.upload(file=io.BytesIO(body), config={"mime_type": "jsonl", "name": "shared"})
        assert uploaded.name == "files/shared"
    assert first.files.get(name="files/shared").size_bytes == len(b"one\n")
    assert second.files.get(name="files/shared").size_bytes == len(b"second one\n")


def test_gemini_cancel_expire_fail_delete(gemini: genai.Client) -> None:
    slow = gemini.batches.create(model=SLOW, src=[_inline(SLOW, "a minute", "s")])
    assert gemini.batches.get(name=slow.name or "").state == types.JobState.JOB_STATE_PENDING
    gemini.batches.cancel(name=slow.name or "")
    assert gemini.batches.get(name=slow.name or "").state == types.JobState.JOB_STATE_CANCELLED
    with pytest.raises(genai_errors.ClientError) as ended:
        gemini.batches.cancel(name=slow.name or "")
    assert ended.value.status == "FAILED_PRECONDITION"

    expired = gemini.batches.create(
        model="echo", src=[_inline("echo", "x", "a"), _inline("gemini-batch-expire", "y", "b")]
    )
    job = gemini.batches.get(name=expired.name or "")
    assert job.state == types.JobState.JOB_STATE_EXPIRED and job.dest is None

    invalid = gemini.batches.create(model="gemini-batch-invalid", src=[_inline("gemini-batch-invalid", "x", "a")])
    assert gemini.batches.get(name=invalid.name or "").state == types.JobState.JOB_STATE_FAILED

    gemini.batches.delete(name=invalid.name or "")
    with pytest.raises(genai_errors.ClientError) as gone:
        gemini.batches.get(name=invalid.name or "")
    assert gone.value.code == 404


def test_gemini_list_pages(sandbox: Sandbox) -> None:
    client = genai.Client(api_key=key("gemini"), http_options=types.HttpOptions(base_url=sandbox.url))
    names = [client.batches.create(model="echo", src=[_inline("echo", str(i), "m")]).name for i in range(3)]
    listed = [job.name for job in client.batches.list(config={"page_size": 2})]
    assert listed == names[::-1]


def test_gemini_inline_size_limit(gemini: genai.Client) -> None:
    with pytest.raises(genai_errors.ClientError) as refused:  # > 64 KiB, and > the app's 1 MiB body limit too
        gemini.batches.create(model="echo", src=[_inline("echo", "word " * 250_000, "big")])
    assert refused.value.code == 400
    assert "Request payload size exceeds the limit: 65536 bytes." in str(refused.value)


def test_gemini_wire_shape(sandbox: Sandbox) -> None:
    headers = {"x-goog-api-key": key("gemini")}
    body = {
        "batch": {
            "display_name": "snake",
            "input_config": {"requests": {"requests": [{"request": {"contents": [{"parts": [{"text": "hi"}]}]}}]}},
        }
    }
    created = httpx2.post(f"{sandbox.url}/v1beta/models/echo:batchGenerateContent", json=body, headers=headers).json()
    assert created["metadata"]["state"] == "BATCH_STATE_PENDING" and "done" not in created
    assert created["metadata"]["batchStats"] == {"requestCount": "1", "pendingRequestCount": "1"}
    done = httpx2.get(f"{sandbox.url}/v1beta/{created['name']}", headers=headers).json()
    assert done["done"] is True and done["metadata"]["state"] == "BATCH_STATE_SUCCEEDED"
    assert done["metadata"]["batchStats"]["successfulRequestCount"] == "1"
    assert done["response"]["@type"].endswith("GenerateContentBatchOutput")
    assert done["response"]["inlinedResponses"] == done["metadata"]["output"]["inlinedResponses"]
    assert json.dumps(done).count('"text": "hi"') == 2
