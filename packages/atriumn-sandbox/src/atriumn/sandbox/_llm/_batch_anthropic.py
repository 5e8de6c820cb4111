"""Anthropic's Message Batches API (``/v1/messages/batches``, also under ``/anthropic``).

Wire facts kept here: a batch is created from ``{"requests": [{"custom_id", "params"}]}`` (custom ids of 1-64
``[A-Za-z0-9_-]``, unique; more than the request limit: 400; a body over the byte limit: 413
``request_too_large``); ``processing_status`` is ``in_progress`` → ``ended`` (``canceling`` → ``ended`` when
cancelled); ``request_counts`` are all ``processing`` until the batch ends; ``results_url`` (absolute, set once
ended) serves JSONL lines ``{"custom_id", "result": {"type": "succeeded", "message"} | {"type": "errored",
"error": {"type": "error", "error": {...}}} | {"type": "canceled"} | {"type": "expired"}}``. Times are RFC 3339.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import Iterator
from typing import Any

from starlette.requests import Request
from starlette.responses import FileResponse, Response, StreamingResponse
from starlette.routing import BaseRoute, Route

from ._anthropic import authenticate, batch_message, error_response
from ._batches import (
    CANCELLED,
    CANCELLING,
    COMPLETED,
    TERMINAL,
    BatchStore,
    Job,
    JsonlWriter,
    batch_marker,
    duration_of,
    page_after,
    read_limited,
    rfc3339,
)
from ._wire import dumps, json_response, new_id

__all__ = ["anthropic_batch_routes"]

_CUSTOM_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_JSONL = "application/x-jsonl"  # what the API sends
_DAY = 86_400.0
_INVALID = {"type": "invalid_request_error", "message": "This request is invalid (emulated by the Atriumn sandbox)."}


def _requests_error(body: Any, limit: int) -> str | None:
    """Why a creation body is refused (Anthropic validates its shape before accepting the batch)."""
    requests = body.get("requests") if isinstance(body, dict) else None
    if not isinstance(requests, list) or not requests:
        return "requests: Field required" if requests is None else "requests: at least one request is required"
    if len(requests) > limit:
        return f"requests: the batch holds {len(requests)} requests; the maximum is {limit}"
    seen: set[str] = set()
    for i, item in enumerate(requests):
        custom_id = item.get("custom_id") if isinstance(item, dict) else None
        if not isinstance(custom_id, str) or not _CUSTOM_ID.match(custom_id):
            return f"requests.{i}.custom_id: String should match pattern '^[a-zA-Z0-9_-]{{1,64}}$'"
        if custom_id in seen:
            return f"requests.{i}.custom_id: duplicate custom_id '{custom_id}': custom_id must be unique in a batch"
        seen.add(custom_id)
        if not isinstance(item.get("params"), dict):
            return f"requests.{i}.params: Field required"
    return None


def _run(store: BatchStore, key: str, requests: list[dict[str, Any]]) -> Job:
    """Answer every request of a new batch into its results file."""
    job_id = new_id("msgbatch_")
    created = time.time()
    counts = {"succeeded": 0, "errored": 0, "expired": 0}
    models: set[str] = set()
    path = store.path(job_id + ".jsonl")
    with JsonlWriter(path) as out:
        for item in requests:
            params = item["params"]
            model = params.get("model")
            if isinstance(model, str):
                models.add(model)
            marker = batch_marker(model)
            result: dict[str, Any]
            if marker == "expire":
                result = {"type": "expired"}
            elif marker == "invalid":
                result = {
                    "type": "errored",
                    "error": {"type": "error", "error": _INVALID, "request_id": new_id("req_")},
                }
            else:
                answer = batch_message(key, params)
                ok = answer.status < 400
                result = (
                    {"type": "succeeded", "message": answer.body} if ok else {"type": "errored", "error": answer.body}
                )
            counts[result["type"]] += 1
            out.write({"custom_id": item["custom_id"], "result": result})
    data = {"counts": counts, "results": path, "custom_ids": [r["custom_id"] for r in requests]}
    duration = duration_of(store.settings.delay, models)
    outcome = COMPLETED  # expired requests do not change how the batch ends: processing ends
    return Job(job_id, "anthropic", key, created, duration, store.settings.delay, outcome, len(requests), data)


def _results_url(request: Request, job: Job) -> str:
    path = request.url.path
    prefix = path[: path.index("/v1/messages/batches")]
    return f"{str(request.base_url).rstrip('/')}{prefix}/v1/messages/batches/{job.id}/results"


def _batch_doc(request: Request, job: Job, now: float) -> dict[str, Any]:
    """The batch object as a read at ``now`` sees it."""
    times = job.timeline(now)
    phase = list(times)[-1]
    ended = phase in TERMINAL
    counts = {"processing": job.total, "succeeded": 0, "errored": 0, "canceled": 0, "expired": 0}
    if phase == CANCELLED:
        counts.update(processing=0, canceled=job.total)
    elif ended:
        counts.update(processing=0, **job.data["counts"])
    return {
        "id": job.id,
        "type": "message_batch",
        "processing_status": "ended" if ended else "canceling" if phase == CANCELLING else "in_progress",
        "request_counts": counts,
        "ended_at": rfc3339(times[phase]) if ended else None,
        "created_at": rfc3339(job.created),
        "expires_at": rfc3339(job.created + _DAY),
        "archived_at": None,
        "cancel_initiated_at": rfc3339(job.cancel_requested) if job.cancel_requested is not None else None,
        "results_url": _results_url(request, job) if ended else None,
    }


def _not_found(batch_id: str) -> Response:
    return error_response(404, f"No message batch found with id '{batch_id}' (emulated by the Atriumn sandbox).")


def _canceled_lines(job: Job) -> Iterator[bytes]:
    for custom_id in job.data["custom_ids"]:
        yield dumps({"custom_id": custom_id, "result": {"type": "canceled"}}) + b"\n"


def anthropic_batch_routes(store: BatchStore) -> list[BaseRoute]:
    """``/v1/messages/batches[...]`` and the same under ``/anthropic``."""

    async def batches(request: Request) -> Response:
        key, refused = authenticate(request)
        if refused is not None:
            return refused
        if request.method == "POST":
            return await _create(request, key)
        return _list(request, key)

    async def _create(request: Request, key: str) -> Response:
        limit = store.settings.anthropic_max_bytes
        raw = await read_limited(request, limit)
        if raw is None:
            return error_response(413, f"Request exceeds the maximum allowed number of bytes ({limit}).")
        try:
            body = json.loads(raw)
        except ValueError as exc:
            return error_response(400, f"the request body is not valid JSON: {exc}")
        problem = _requests_error(body, store.settings.anthropic_max_requests)
        if problem is not None:
            return error_response(400, problem)
        job = await asyncio.to_thread(_run, store, key, body["requests"])
        store.add_job(job)
        return json_response(_batch_doc(request, job, job.created))

    def _list(request: Request, key: str) -> Response:
        query = request.query_params
        raw = query.get("limit", "20")
        if not raw.isdigit() or not 1 <= int(raw) <= 1000:
            return error_response(400, "limit: Input should be between 1 and 1000")
        now = time.time()
        jobs = store.jobs("anthropic", key)
        if query.get("before_id"):
            older_first = jobs[::-1]
            chosen, more = page_after(older_first, lambda j: j.id, query["before_id"], int(raw))
            chosen = chosen[::-1]
        else:
            chosen, more = page_after(jobs, lambda j: j.id, query.get("after_id"), int(raw))
        data = [_batch_doc(request, j, now) for j in chosen]
        first, last = (data[0]["id"], data[-1]["id"]) if data else (None, None)
        return json_response({"data": data, "has_more": more, "first_id": first, "last_id": last})

    async def batch(request: Request) -> Response:
        key, refused = authenticate(request)
        if refused is not None:
            return refused
        batch_id, _, tail = str(request.path_params["rest"]).partition("/")
        allowed = {("GET", ""), ("DELETE", ""), ("POST", "cancel"), ("GET", "results")}
        if (request.method, tail) not in allowed:
            return error_response(404, f"Not found: {request.method} {request.url.path}")
        job = store.job("anthropic", key, batch_id)
        if job is None:
            return _not_found(batch_id)
        now = time.time()
        phase = job.phase(now)
        if tail == "cancel":
            if phase in TERMINAL:
                return error_response(400, f"Batch {batch_id} has already ended and can no longer be canceled.")
            if phase != CANCELLING:
                job.cancel_requested = now
                job.data["results"].unlink(missing_ok=True)
        elif tail == "results":
            if phase not in TERMINAL:
                return error_response(400, f"Batch {batch_id} has not finished processing: its results are not ready.")
            if phase == CANCELLED:
                return StreamingResponse(_canceled_lines(job), media_type=_JSONL)
            return FileResponse(job.data["results"], media_type=_JSONL)
        elif request.method == "DELETE":
            if phase not in TERMINAL:
                message = f"Batch {batch_id} is still processing: cancel it and wait for it to end before deleting it."
                return error_response(400, message)
            store.delete_job(job, [job.data["results"]])
            return json_response({"id": job.id, "type": "message_batch_deleted"})
        return json_response(_batch_doc(request, job, now))

    routes: list[BaseRoute] = []
    for prefix in ("", "/anthropic"):
        routes += [
            Route(f"{prefix}/v1/messages/batches", batches, methods=["GET", "POST"]),
            Route(f"{prefix}/v1/messages/batches/{{rest:path}}", batch, methods=["GET", "POST", "DELETE"]),
        ]
    return routes
