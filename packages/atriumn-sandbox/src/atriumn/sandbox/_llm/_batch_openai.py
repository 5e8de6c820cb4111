"""OpenAI's Batch API (``/v1/batches``), and Groq's copy of it under ``/openai/v1`` (files: ``_openai_files``).

Wire facts kept here: an input file is JSONL of ``{"custom_id", "method": "POST", "url", "body"}``; a batch goes
``validating`` → ``in_progress`` → ``finalizing`` → ``completed`` (or ``failed`` with ``errors`` when the file
does not validate, ``expired``, ``cancelling`` → ``cancelled``); its output file holds the 2xx answers and its
error file the others, each line ``{"id", "custom_id", "response": {"status_code", "request_id", "body"},
"error"}``; expired requests are error lines with ``response: null`` and ``error.code: batch_expired``.
Timestamps are Unix seconds. Groq speaks the same protocol (its objects carry neither ``usage`` nor ``model``).
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from ._batches import (
    CANCELLED,
    CANCELLING,
    COMPLETED,
    EXPIRED,
    FAILED,
    FINISHING,
    QUEUED,
    RUNNING,
    TERMINAL,
    BatchStore,
    Job,
    JsonlWriter,
    StoredFile,
    batch_marker,
    duration_of,
    jsonl_lines,
    page_after,
)
from ._openai import authenticate, batch_answer, error_response
from ._openai_files import OpenAIBatches, file_item, list_files, upload
from ._wire import RequestBodyError, json_response, new_id, read_json

__all__ = ["batch_item", "create_batch", "list_batches", "routes"]

_STATUS = {
    QUEUED: "validating",
    RUNNING: "in_progress",
    FINISHING: "finalizing",
    COMPLETED: "completed",
    FAILED: "failed",
    EXPIRED: "expired",
    CANCELLING: "cancelling",
    CANCELLED: "cancelled",
}
_STAMPS = {
    RUNNING: "in_progress_at",
    FINISHING: "finalizing_at",
    COMPLETED: "completed_at",
    FAILED: "failed_at",
    EXPIRED: "expired_at",
    CANCELLING: "cancelling_at",
    CANCELLED: "cancelled_at",
}
_MAX_ERRORS = 100
_EXPIRED = {
    "code": "batch_expired",
    "message": "This request could not be executed before the completion window expired.",
}


def _missing(name: str) -> Response:
    return error_response(400, f"Missing required parameter: '{name}'.", param=name, code="missing_required_parameter")


def _metadata_error(metadata: Any) -> str | None:
    if metadata is None:
        return None
    if not isinstance(metadata, dict) or not all(isinstance(v, str) for v in metadata.values()):
        return "Invalid type for 'metadata': expected an object of strings."
    if len(metadata) > 16:
        return "Invalid 'metadata': too many properties. Expected an object with at most 16 properties."
    if any(len(k) > 64 for k in metadata) or any(len(v) > 512 for v in metadata.values()):
        return "Invalid 'metadata': keys are at most 64 characters and values at most 512."
    return None


async def create_batch(store: BatchStore, flavour: OpenAIBatches, request: Request) -> Response:
    """``POST /v1/batches``: validate and answer the input file (off the event loop), return the batch."""
    key, refused = authenticate(request)
    if refused is not None:
        return refused
    try:
        body = await read_json(request)
    except RequestBodyError as exc:
        return error_response(400, str(exc))
    for name in ("input_file_id", "endpoint", "completion_window"):
        if not isinstance(body.get(name), str) or not body[name]:
            return _missing(name)
    endpoint, window, metadata = body["endpoint"], body["completion_window"], body.get("metadata")
    if endpoint not in flavour.endpoints:
        supported = ", ".join(f"'{e}'" for e in flavour.endpoints)
        message = f"Invalid value: '{endpoint}'. Supported values are: {supported} (emulated by the Atriumn sandbox)."
        return error_response(400, message, param="endpoint", code="invalid_value")
    if not flavour.window_ok(window):
        expected = "'24h' to '7d'" if flavour.groq else "'24h'"
        return error_response(
            400, f"Invalid value: '{window}'. Supported values are: {expected}.", param="completion_window"
        )
    problem = _metadata_error(metadata)
    if problem is not None:
        return error_response(400, problem, param="metadata")
    file = store.file(flavour.provider, key, body["input_file_id"])
    if file is None:
        message = f"Cannot find file {body['input_file_id']}, or project does not have access to it."
        return error_response(400, message, param="input_file_id")
    if file.purpose != "batch":
        return error_response(
            400, f"The input file must have purpose 'batch', not '{file.purpose}'.", param="input_file_id"
        )
    job = await asyncio.to_thread(_run, store, flavour, key, file, endpoint)
    job.data.update(input_file_id=file.id, completion_window=window, metadata=metadata)
    store.add_job(job)
    return json_response(_batch_doc(store, flavour, job, job.created))


def _validate(
    store: BatchStore, flavour: OpenAIBatches, file: StoredFile, endpoint: str
) -> tuple[int, set[str], list[Any]]:
    """First pass over an input file: ``(requests, models, errors)``."""
    errors: list[Any] = []
    seen: set[str] = set()
    models: set[str] = set()
    count = 0

    def fail(code: str, line: int | None, message: str, param: str | None = None) -> None:
        if len(errors) < _MAX_ERRORS:
            errors.append({"code": code, "line": line, "message": message, "param": param})

    for number, doc, problem in jsonl_lines(file.path):
        count += 1
        if doc is None:
            fail("invalid_json_line", number, problem or "")
            continue
        custom_id, body = doc.get("custom_id"), doc.get("body")
        if not isinstance(custom_id, str) or not custom_id:
            fail("missing_required_parameter", number, "Missing required parameter: 'custom_id'.", "custom_id")
        elif custom_id in seen:
            message = (
                "The custom_id for this request is a duplicate of another request. "
                "The custom_id parameter must be unique for each request in a batch."
            )
            fail("duplicate_custom_id", number, message, "custom_id")
        else:
            seen.add(custom_id)
        if doc.get("method") != "POST":
            fail("invalid_method", number, "The method of every request of a batch must be 'POST'.", "method")
        if doc.get("url") != endpoint:
            fail(
                "url_mismatch",
                number,
                f"The URL of this request does not match the batch's endpoint '{endpoint}'.",
                "url",
            )
        if not isinstance(body, dict):
            fail("invalid_request", number, "The body of this request must be a JSON object.", "body")
            continue
        model = body.get("model")
        if isinstance(model, str):
            models.add(model)
        if batch_marker(model) == "invalid":
            fail("invalid_request", number, "This request is invalid (emulated by the Atriumn sandbox).", "body.model")
    limit = flavour.limits(store)[0]
    if count == 0:
        fail("empty_file", None, "The batch input file is empty.")
    elif count > limit:
        fail("too_many_tasks", None, f"The batch input file holds {count} requests; the maximum is {limit}.")
    return count, models, errors


def _run(store: BatchStore, flavour: OpenAIBatches, key: str, file: StoredFile, endpoint: str) -> Job:
    """Validate an input file, then answer its requests into an output and an error file."""
    count, models, errors = _validate(store, flavour, file, endpoint)
    job_id = new_id("batch_")
    created = time.time()
    duration = duration_of(store.settings.delay, models)
    data: dict[str, Any] = {"endpoint": endpoint, "errors": errors, "model": min(models) if models else None}
    if errors:
        return Job(job_id, flavour.provider, key, created, duration, store.settings.delay, FAILED, 0, data)
    completed = failed = 0
    expired = False
    usage = {"input": 0, "cached": 0, "output": 0, "reasoning": 0}
    out_path, err_path = store.path(new_id("file-")), store.path(new_id("file-"))
    with JsonlWriter(out_path) as out, JsonlWriter(err_path) as err:
        for _, doc, _ in jsonl_lines(file.path):
            assert doc is not None
            line: dict[str, Any] = {"id": new_id("batch_req_"), "custom_id": doc["custom_id"], "response": None}
            if batch_marker(doc["body"].get("model")) == "expire":
                expired = True
                failed += 1
                err.write({**line, "error": _EXPIRED})
                continue
            result = batch_answer(flavour.provider, endpoint, key, doc["body"])
            line.update(response={"status_code": result.status, "request_id": result.request_id, "body": result.body})
            line["error"] = None
            if result.status < 400:
                completed += 1
                _add_usage(usage, result.body)
                out.write(line)
            else:
                failed += 1
                err.write(line)
    output = _result_file(out, flavour, key, f"batch_{job_id}_output.jsonl", created)
    error = _result_file(err, flavour, key, f"batch_{job_id}_error.jsonl", created)
    data.update(output=output, error=error, completed=completed, failed=failed, usage=usage)
    outcome = EXPIRED if expired else COMPLETED
    return Job(job_id, flavour.provider, key, created, duration, store.settings.delay, outcome, count, data)


def _result_file(writer: JsonlWriter, flavour: OpenAIBatches, key: str, name: str, created: float) -> StoredFile | None:
    """The file a writer wrote, or ``None`` (and no file) when it wrote no line."""
    if not writer.lines:
        writer.path.unlink(missing_ok=True)
        return None
    size = writer.path.stat().st_size
    return StoredFile(writer.path.name, flavour.provider, key, name, "batch_output", writer.path, size, created)


def _add_usage(usage: dict[str, int], body: Any) -> None:
    found = body.get("usage") if isinstance(body, dict) else None
    if not isinstance(found, dict):
        return
    usage["input"] += int(found.get("prompt_tokens") or 0)
    usage["output"] += int(found.get("completion_tokens") or 0)
    usage["cached"] += int((found.get("prompt_tokens_details") or {}).get("cached_tokens") or 0)
    usage["reasoning"] += int((found.get("completion_tokens_details") or {}).get("reasoning_tokens") or 0)


def _batch_doc(store: BatchStore, flavour: OpenAIBatches, job: Job, now: float) -> dict[str, Any]:
    """The batch object as a read at ``now`` sees it (the result files are published when it has ended)."""
    times = job.timeline(now)
    phase = list(times)[-1]
    data = job.data
    ended = phase in (COMPLETED, EXPIRED)
    if ended:
        for name in ("output", "error"):
            if data.get(name) is not None and store.file(flavour.provider, job.owner, data[name].id) is None:
                store.add_file(data[name])
    counts = {"total": 0, "completed": 0, "failed": 0}
    if phase not in (QUEUED, FAILED):
        counts["total"] = job.total
    if phase in (FINISHING, COMPLETED, EXPIRED):
        counts.update(completed=data["completed"], failed=data["failed"])
    window = data.get("completion_window", "24h")
    doc: dict[str, Any] = {
        "id": job.id,
        "object": "batch",
        "endpoint": data["endpoint"],
        "errors": {"object": "list", "data": data["errors"]} if phase == FAILED else None,
        "input_file_id": data.get("input_file_id"),
        "completion_window": window,
        "status": _STATUS[phase],
        "output_file_id": data["output"].id if ended and data.get("output") else None,
        "error_file_id": data["error"].id if ended and data.get("error") else None,
        "created_at": int(job.created),
        "expires_at": int(job.created) + flavour.window_seconds(window),
        **{stamp: int(times[p]) if p in times else None for p, stamp in _STAMPS.items()},
        "request_counts": counts,
        "metadata": data.get("metadata"),
    }
    if not flavour.groq:
        doc["model"] = data.get("model")
        if ended:
            u = data["usage"]
            doc["usage"] = {
                "input_tokens": u["input"],
                "input_tokens_details": {"cached_tokens": u["cached"]},
                "output_tokens": u["output"],
                "output_tokens_details": {"reasoning_tokens": u["reasoning"]},
                "total_tokens": u["input"] + u["output"],
            }
    return doc


def _no_batch(batch_id: str) -> Response:
    return error_response(404, f"No batch found with id '{batch_id}'.", param="batch_id")


async def list_batches(store: BatchStore, flavour: OpenAIBatches, request: Request) -> Response:
    """``GET /v1/batches?limit=&after=``: the key's batches, newest first (Groq: all of them)."""
    key, refused = authenticate(request)
    if refused is not None:
        return refused
    now = time.time()
    jobs = store.jobs(flavour.provider, key)
    if flavour.groq:
        return json_response({"object": "list", "data": [_batch_doc(store, flavour, j, now) for j in jobs]})
    raw = request.query_params.get("limit", "20")
    if not raw.isdigit() or not 1 <= int(raw) <= 100:
        return error_response(400, f"Invalid 'limit': {raw}. Expected a value between 1 and 100.", param="limit")
    chosen, more = page_after(jobs, lambda j: j.id, request.query_params.get("after"), int(raw))
    data = [_batch_doc(store, flavour, j, now) for j in chosen]
    first, last = (data[0]["id"], data[-1]["id"]) if data else (None, None)
    return json_response({"object": "list", "data": data, "first_id": first, "last_id": last, "has_more": more})


async def batch_item(store: BatchStore, flavour: OpenAIBatches, request: Request, rest: str) -> Response:
    """``GET /v1/batches/{id}`` and ``POST /v1/batches/{id}/cancel``."""
    key, refused = authenticate(request)
    if refused is not None:
        return refused
    batch_id, _, tail = rest.partition("/")
    if (request.method, tail) not in (("GET", ""), ("POST", "cancel")):
        return error_response(404, f"Invalid URL ({request.method} {request.url.path})")
    job = store.job(flavour.provider, key, batch_id)
    if job is None:
        return _no_batch(batch_id)
    now = time.time()
    if tail == "cancel":
        phase = job.phase(now)
        if phase in TERMINAL:
            message = f"Cannot cancel a batch with status '{_STATUS[phase]}'."
            return error_response(409, message, param="batch_id")
        if phase != CANCELLING:
            job.cancel_requested = now
            _discard(store, job)
    return json_response(_batch_doc(store, flavour, job, now))


def _discard(store: BatchStore, job: Job) -> None:
    """A cancelled job processed none of its requests: drop its results."""
    paths = [job.data[n].path for n in ("output", "error") if job.data.get(n) is not None]
    job.data.update(output=None, error=None)
    for path in paths:
        path.unlink(missing_ok=True)


def routes(store: BatchStore, flavour: OpenAIBatches) -> list[BaseRoute]:
    """The routes of one flavour under its prefix (OpenAI's ``/v1`` ones are shared with Gemini: the caller
    dispatches those)."""

    async def files(request: Request) -> Response:
        if request.method == "POST":
            return await upload(store, flavour, request)
        return await list_files(store, flavour, request)

    async def file(request: Request) -> Response:
        return await file_item(store, flavour, request, request.path_params["rest"])

    async def batches(request: Request) -> Response:
        if request.method == "POST":
            return await create_batch(store, flavour, request)
        return await list_batches(store, flavour, request)

    async def batch(request: Request) -> Response:
        return await batch_item(store, flavour, request, request.path_params["rest"])

    p = flavour.prefix
    return [
        Route(f"{p}/files", files, methods=["GET", "POST"]),
        Route(f"{p}/files/{{rest:path}}", file, methods=["GET", "DELETE"]),
        Route(f"{p}/batches", batches, methods=["GET", "POST"]),
        Route(f"{p}/batches/{{rest:path}}", batch, methods=["GET", "POST"]),
    ]
