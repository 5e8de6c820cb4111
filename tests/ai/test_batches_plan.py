"""Batch jobs, sans-IO: request checks, splitting over limits, the lines (the interactive body, byte for byte),
bodies whose declared length is exact, status mapping and aggregation, polling, serialisation, batch prices."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from typing import Any

import pytest

from atriumn.ai import (
    BatchCounts,
    BatchJob,
    BatchLimits,
    BatchPart,
    BatchRequest,
    ChatClient,
    PriceTable,
    UnsupportedParameterError,
    Usage,
    openai_compatible,
)
from atriumn.ai._batch_flows import PollSchedule
from atriumn.ai._batch_plan import CreatePlan, aggregate, idempotency_key
from atriumn.ai.providers._batch_gemini import _inline
from atriumn.core import ValidationError

KEYS = {"openai": "sk-plan-secret", "anthropic": "ak-plan-secret", "gemini": "gk-plan-secret", "groq": "gq-plan"}
MODELS = {
    "openai": "openai:gpt-4o-mini",
    "anthropic": "anthropic:claude-haiku-4-5",
    "gemini": "gemini:gemini-2.5-flash",
    "groq": "groq:llama-3.1-8b-instant",
}


@pytest.fixture
def client() -> Iterator[ChatClient]:
    with ChatClient(api_keys=KEYS, environ={}) as made:
        yield made


def plan(client: ChatClient, provider: str, requests: Any, **kwargs: Any) -> CreatePlan:
    made = CreatePlan(
        client._engine,
        MODELS[provider],
        requests,
        metadata=kwargs.pop("metadata", None),
        limits=kwargs.pop("limits", None),
        batch_id=kwargs.pop("batch_id", None),
    )
    made.spool()
    return made


def reqs(n: int, text: str = "hello") -> Iterator[BatchRequest]:
    return (BatchRequest(f"r{i}", f"{text} {i}", max_tokens=10) for i in range(n))


# --- requests ------------------------------------------------------------------------------------------------


def test_batch_request_takes_chat_parameters_and_refuses_call_options() -> None:
    request = BatchRequest("a", "hi", system="be brief", max_tokens=5, temperature=0.2)
    assert request.params == {"system": "be brief", "max_tokens": 5, "temperature": 0.2}
    assert "hi" not in repr(request) and "brief" not in repr(request)  # the caller's text stays out of reprs
    with pytest.raises(TypeError, match="max_token"):
        BatchRequest("a", "hi", max_token=5)  # type: ignore[call-arg]
    for name, value in [("run_tools", True), ("timeout", 3.0), ("extra_headers", {"x": "y"}), ("cache", False)]:
        with pytest.raises(ValidationError, match=f"^{name}: not available in a batch request"):
            BatchRequest("a", "hi", **{name: value})


@pytest.mark.parametrize(
    ("requests", "message"),
    [
        ([BatchRequest("", "x")], r"^requests\[0\]\.id: must be a non-empty string"),
        ([BatchRequest("a", "x"), BatchRequest(" ", "y")], r"^requests\[1\]\.id: must be a non-empty"),
        ([BatchRequest("a", "x"), BatchRequest("b", "y"), BatchRequest("a", "z")], r"^requests\[2\]\.id: duplicate"),
        ([BatchRequest("a", "x"), "not a request"], r"^requests\[1\]: expected a BatchRequest"),
        ([BatchRequest("a", "x", max_tokens=0)], r"^requests\[0\]: max_tokens: expected a positive integer"),
        ([], r"^requests: at least one request"),
    ],
)
def test_requests_are_checked_before_anything_is_sent(client: ChatClient, requests: Any, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        plan(client, "openai", requests)


def test_a_parameter_the_model_refuses_names_the_request(client: ChatClient) -> None:
    requests = [BatchRequest("a", "x"), BatchRequest("b", "y", response_format={"type": "json_object"})]
    with pytest.raises(UnsupportedParameterError, match=r"^requests\[1\]: response_format"):
        plan(client, "anthropic", requests)


def test_anthropic_ids_must_fit_its_pattern(client: ChatClient) -> None:
    with pytest.raises(ValidationError, match=r"requests\[0\]\.id: Anthropic takes ids of 1 to 64"):
        plan(client, "anthropic", [BatchRequest("doc/1.txt", "x")])
    assert plan(client, "openai", [BatchRequest("doc/1.txt", "x")]).spools[0].count == 1


def test_metadata_and_batch_id_are_checked(client: ChatClient) -> None:
    with pytest.raises(ValidationError, match="batch_id"):
        plan(client, "openai", reqs(1), batch_id="no spaces please")
    with pytest.raises(ValidationError, match="atriumn_ prefix"):
        plan(client, "openai", reqs(1), metadata={"atriumn_batch_id": "x"})
    with pytest.raises(ValidationError, match="at most 13 pairs"):
        plan(client, "openai", reqs(1), metadata={f"k{i}": "v" for i in range(14)})
    compatible = ChatClient(environ={}, providers=[openai_compatible("http://x/v1")])
    with compatible, pytest.raises(ValidationError, match="no batch API"):
        compatible.batches.create("openai_compatible:m", reqs(1))


@pytest.mark.parametrize("provider", list(MODELS))
def test_a_line_carries_exactly_the_body_chat_would_send(client: ChatClient, provider: str) -> None:
    params: dict[str, Any] = {"system": "be brief", "max_tokens": 7, "response_format": {"type": "object"}}
    made = plan(client, provider, [BatchRequest("q-1", "what is 2+2?", **params)])
    ((req, adapter),) = client._engine.plan(MODELS[provider], None, "what is 2+2?", params)
    interactive = json.loads(adapter.chat_operation(req, stream=False).content)
    (line,) = [json.loads(raw) for raw in made.spools[0].lines()]
    body = {"openai": "body", "groq": "body", "anthropic": "params", "gemini": "request"}[provider]
    assert line[body] == interactive
    assert line.get("custom_id", line.get("key")) == "q-1"


# --- splitting -----------------------------------------------------------------------------------------------


def test_a_list_over_the_request_limit_is_split(client: ChatClient) -> None:
    made = plan(client, "openai", reqs(25), limits=BatchLimits(max_requests=10))
    assert [s.count for s in made.spools] == [10, 10, 5]
    ids = [json.loads(raw)["custom_id"] for s in made.spools for raw in s.lines()]
    assert ids == [f"r{i}" for i in range(25)]  # every request once, in order


@pytest.mark.parametrize("provider", ["openai", "anthropic", "gemini"])
def test_a_list_over_the_byte_limit_is_split_and_no_part_passes_it(client: ChatClient, provider: str) -> None:
    limit = 2_000
    made = plan(client, provider, reqs(40, "word " * 20), limits=BatchLimits(max_bytes=limit))
    assert len(made.spools) > 1
    assert sum(s.count for s in made.spools) == 40
    for spool in made.spools:
        assert made.api.overhead + spool.size <= limit
        body = b"".join(spool.joined(b'{"requests":[', b",", b"]}")) if provider == "anthropic" else spool.file_size
        assert (len(body) if isinstance(body, bytes) else body) <= limit


def test_one_request_larger_than_a_batch_is_refused(client: ChatClient) -> None:
    with pytest.raises(ValidationError, match=r"^requests\[1\]: \d+ bytes, more than one openai batch holds \(300"):
        plan(
            client, "openai", [BatchRequest("a", "x"), BatchRequest("b", "y " * 400)], limits=BatchLimits(max_bytes=300)
        )


def test_limits_are_checked() -> None:
    with pytest.raises(ValidationError, match=r"limits\.max_requests"):
        BatchLimits(max_requests=0)
    assert BatchLimits(max_bytes=5).over(BatchLimits(max_requests=3, max_bytes=9)) == BatchLimits(
        max_requests=3, max_bytes=5
    )


def test_the_spool_moves_to_disk_past_its_memory_budget(client: ChatClient, monkeypatch: pytest.MonkeyPatch) -> None:
    import atriumn.ai._batch_plan as batch_plan

    monkeypatch.setattr(batch_plan, "SPOOL_MEMORY", 1024)
    made = plan(client, "openai", reqs(50))
    assert made.spools[0].file._rolled  # type: ignore[attr-defined]
    assert sum(1 for _ in made.spools[0].lines()) == 50


def test_the_requests_are_read_lazily_once(client: ChatClient) -> None:
    seen: list[int] = []

    def generate() -> Iterator[BatchRequest]:
        for i in range(5):
            seen.append(i)
            yield BatchRequest(f"r{i}", "x")

    made = plan(client, "openai", generate())
    assert seen == [0, 1, 2, 3, 4]
    assert made.spools[0].count == 5


# --- bodies --------------------------------------------------------------------------------------------------


def test_streamed_bodies_have_the_length_they_declare(client: ChatClient) -> None:
    made = plan(client, "anthropic", reqs(30, "é ü " * 30))
    ops: list[Any] = []
    flow = made.api.create_part(made.spools[0], made)
    ops.append(next(flow))
    body = b"".join(ops[0].content())
    assert len(body) == int(ops[0].headers["Content-Length"])
    assert [r["custom_id"] for r in json.loads(body)["requests"]] == [f"r{i}" for i in range(30)]

    made = plan(client, "gemini", reqs(30, "é ü " * 30))
    op = next(made.api.create_part(made.spools[0], made))
    body = b"".join(op.content())
    assert len(body) == int(op.headers["Content-Length"])
    requests = json.loads(body)["batch"]["inputConfig"]["requests"]["requests"]
    assert [r["metadata"]["key"] for r in requests] == [f"r{i}" for i in range(30)]


def test_gemini_inline_requests_are_the_file_lines_rearranged() -> None:
    line = b'{"key":"a\\"b\\u00e9","request":{"contents":[{"parts":[{"text":"\\"x\\" \xc3\xa9"}]}]}}'
    inline = json.loads(_inline(line))
    assert inline == {"request": json.loads(line)["request"], "metadata": {"key": 'a"bé'}}


def test_gemini_past_the_inline_limit_uploads_a_file(client: ChatClient) -> None:
    made = plan(client, "gemini", reqs(20), limits=BatchLimits(max_inline_bytes=500), batch_id="job-1")
    start = next(made.api.create_part(made.spools[0], made))
    assert start.path == "/upload/v1beta/files"
    assert start.headers["X-Goog-Upload-Command"] == "start"
    assert int(start.headers["X-Goog-Upload-Header-Content-Length"]) == made.spools[0].file_size
    assert start.json["file"]["name"].startswith("files/atb-")  # derived from the batch id: a re-run finds it


def test_idempotency_keys_are_stable_per_batch_and_part() -> None:
    assert idempotency_key("b1", 0, "create") == idempotency_key("b1", 0, "create")
    assert (
        len(
            {idempotency_key("b1", 0, "create"), idempotency_key("b1", 1, "create"), idempotency_key("b2", 0, "create")}
        )
        == 3
    )


# --- status --------------------------------------------------------------------------------------------------


def part(index: int, status: str, **counts: int) -> BatchPart:
    return BatchPart(
        index=index, provider_id=f"p{index}", status=status, raw_status=status, counts=BatchCounts(**counts)
    )


@pytest.mark.parametrize(
    ("statuses", "expected"),
    [
        (["queued", "queued"], "queued"),
        (["queued", "running"], "running"),
        (["completed", "running"], "running"),
        (["completed", "finalizing"], "finalizing"),
        (["running", "cancelling"], "cancelling"),
        (["completed", "completed"], "completed"),
        (["completed", "expired"], "expired"),
        (["completed", "failed", "expired"], "failed"),
        (["cancelled", "completed"], "cancelled"),
    ],
)
def test_parts_aggregate_into_one_status(statuses: list[str], expected: str) -> None:
    parts = [part(i, s, total=2, succeeded=1) for i, s in enumerate(statuses)]
    status, raw, counts = aggregate(BatchJob(id="j", provider="openai"), parts)
    assert status == expected
    assert raw == ", ".join(dict.fromkeys(statuses))
    assert counts == BatchCounts(total=2 * len(statuses), succeeded=len(statuses))


@pytest.mark.parametrize(
    ("provider", "doc", "status", "counts"),
    [
        ("openai", {"id": "b", "status": "validating", "request_counts": {"total": 0}}, "queued", {}),
        ("openai", {"id": "b", "status": "in_progress", "request_counts": {"total": 4, "completed": 1}}, "running",
         {"total": 4, "succeeded": 1, "processing": 3}),
        ("openai", {"id": "b", "status": "expired", "request_counts": {"total": 4, "completed": 1, "failed": 1}},
         "expired", {"total": 4, "succeeded": 1, "failed": 1, "expired": 2}),
        ("openai", {"id": "b", "status": "cancelled", "request_counts": {"total": 4}}, "cancelled",
         {"total": 4, "cancelled": 4}),
        ("anthropic", {"id": "m", "processing_status": "in_progress", "request_counts": {"processing": 3}},
         "running", {"total": 3, "processing": 3}),
        ("anthropic", {"id": "m", "processing_status": "canceling", "request_counts": {"processing": 3}},
         "cancelling", {"total": 3, "processing": 3}),
        ("anthropic", {"id": "m", "processing_status": "ended", "request_counts": {"succeeded": 2, "errored": 1}},
         "completed", {"total": 3, "succeeded": 2, "failed": 1}),
        ("anthropic", {"id": "m", "processing_status": "ended", "request_counts": {"succeeded": 2, "expired": 1}},
         "expired", {"total": 3, "succeeded": 2, "expired": 1}),
        ("anthropic", {"id": "m", "processing_status": "ended", "cancel_initiated_at": "2026-01-01T00:00:00Z",
                       "request_counts": {"canceled": 3}}, "cancelled", {"total": 3, "cancelled": 3}),
        ("gemini", {"name": "batches/x", "metadata": {"state": "BATCH_STATE_PENDING", "batchStats": {
            "requestCount": "3", "pendingRequestCount": "3"}}}, "queued", {"total": 3, "processing": 3}),
        ("gemini", {"name": "batches/x", "metadata": {"state": "JOB_STATE_SUCCEEDED", "batchStats": {
            "requestCount": "3", "successfulRequestCount": "2", "failedRequestCount": "1"}}}, "completed",
         {"total": 3, "succeeded": 2, "failed": 1}),
        ("gemini", {"name": "batches/x", "metadata": {"state": "BATCH_STATE_EXPIRED", "batchStats": {
            "requestCount": "3"}}}, "expired", {"total": 3, "expired": 3}),
        ("gemini", {"name": "batches/x", "state": "JOB_STATE_CANCELLING"}, "cancelling", {}),
        ("gemini", {"name": "batches/x", "metadata": {"state": "BATCH_STATE_SOMETHING_NEW"}}, "running", {}),
    ],
)  # fmt: skip
def test_provider_statuses_map_to_the_neutral_ones(
    client: ChatClient, provider: str, doc: dict[str, Any], status: str, counts: dict[str, int]
) -> None:
    from atriumn.ai._batch_flows import provider_api

    parsed = provider_api(client._engine, provider).parse_part(doc, 0, None)
    assert (parsed.status, parsed.counts) == (status, BatchCounts(**counts))
    assert parsed.raw_status in json.dumps(doc)


def test_a_part_whose_cancellation_was_asked_for_is_cancelling_until_it_ends(client: ChatClient) -> None:
    from atriumn.ai._batch_flows import provider_api

    api = provider_api(client._engine, "gemini")
    asked = part(0, "running").__class__(index=0, provider_id="batches/x", status="running", cancel_requested=True)
    doc = {"name": "batches/x", "metadata": {"state": "BATCH_STATE_RUNNING"}}
    assert api.parse_part(doc, 0, asked).status == "cancelling"
    doc = {"name": "batches/x", "metadata": {"state": "BATCH_STATE_CANCELLED"}}
    assert api.parse_part(doc, 0, asked).status == "cancelled"


def test_the_poll_schedule_backs_off_and_stops_at_the_timeout() -> None:
    now = [0.0]
    schedule = PollSchedule(1.0, timeout=5.0, ceiling=2.0, clock=lambda: now[0])
    waits = []
    while (wait := schedule.next()) is not None:
        waits.append(wait)
        now[0] += wait
    assert waits == [1.0, 1.5, 2.0, 0.5]  # grows by half, capped, the last one cut to the deadline
    assert PollSchedule().next() == 2.0
    with pytest.raises(ValidationError, match="poll_interval"):
        PollSchedule(-1)


# --- serialisation and prices --------------------------------------------------------------------------------


def test_a_job_round_trips_through_json_without_secrets() -> None:
    job = BatchJob(
        id="atb_1",
        provider="openai",
        model="openai:gpt-4o-mini",
        status="running",
        raw_status="in_progress",
        counts=BatchCounts(total=3, processing=3),
        parts=(BatchPart(index=0, provider_id="batch_1", status="running", requests=3, input_file="file-1",
                         created_at=dt.datetime(2026, 11, 1, tzinfo=dt.timezone.utc)),),
        metadata={"team": "search"},
    )  # fmt: skip
    text = job.to_json()
    assert BatchJob.from_json(text) == job
    assert BatchJob.from_json(text.encode()) == job
    for bad in ("{", "[]", '{"id": "x"}', json.dumps({"atriumn_batch_job": 1, "provider": "openai"})):
        with pytest.raises(ValidationError, match="job"):
            BatchJob.from_json(bad)


def test_batch_prices_are_half_the_interactive_ones_unless_a_model_says_otherwise() -> None:
    table = PriceTable(
        {
            "openai:m": {"input": 2.0, "output": 8.0, "cache_read": 1.0},
            "anthropic:m": {"input": 3.0, "batch_input": 1.0},
        },
        batch_discounts={"openai": 0.5, "anthropic": 0.5},
    )
    usage = Usage(input_tokens=1_000_000, output_tokens=1_000_000, cache_read_tokens=500_000)
    full, batch = table.cost("openai:m", usage), table.cost("openai:m", usage, batch=True)
    assert full is not None and batch is not None
    assert batch.total == pytest.approx(full.total / 2)
    assert table.batch_price("anthropic:m") == {"input": 1.0, "output": 0.0, "cache_read": 1.5, "cache_write": 1.5}
    assert table.with_overrides({"openai:x": {"input": 1.0}}).batch_discounts == {"openai": 0.5, "anthropic": 0.5}
    bundled = PriceTable.from_json(
        __import__("importlib.resources").resources.files("atriumn.ai").joinpath("prices.json").read_text()
    )
    assert bundled.batch_discounts == {"openai": 0.5, "anthropic": 0.5, "gemini": 0.5, "groq": 0.5}


def test_gemini_reuses_a_file_an_earlier_run_uploaded(client: ChatClient) -> None:
    """The upload's start answers 409 when the file exists (its name derives from the batch id and part): the
    flow then creates the batch from that file without uploading again."""
    from atriumn.core import ConflictError

    made = plan(client, "gemini", reqs(20), limits=BatchLimits(max_inline_bytes=500), batch_id="job-2")
    flow = made.api.create_part(made.spools[0], made)
    start = next(flow)
    conflict = ConflictError(status_code=409, code="ALREADY_EXISTS", description="A file named ... already exists.")
    create = flow.throw(conflict)
    assert create.path == "/v1beta/models/{model}:batchGenerateContent"
    assert create.json["batch"]["inputConfig"] == {"fileName": start.json["file"]["name"]}
    assert create.headers is None or "X-Goog-Upload-Command" not in create.headers
