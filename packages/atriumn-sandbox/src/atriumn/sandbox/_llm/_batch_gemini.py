"""Gemini batch mode: ``POST /{version}/models/{model}:batchGenerateContent``, then ``batches/{id}`` jobs.

Wire facts kept here: the body is ``{"batch": {"displayName", "inputConfig": {"requests": {"requests":
[{"request": {GenerateContentRequest}, "metadata": {...}}]}}}}`` (inline, what google-genai sends for a list of
requests; camelCase, snake_case accepted) or ``"inputConfig": {"fileName": "files/<id>"}`` (JSONL of ``{"key",
"request"}``); the answer is a long-running operation named ``batches/<id>`` whose ``metadata`` is the
``GenerateContentBatch`` (``state`` ``BATCH_STATE_PENDING`` → ``BATCH_STATE_RUNNING`` → ``BATCH_STATE_SUCCEEDED``,
or ``_FAILED``, ``_EXPIRED``, ``_CANCELLED``; ``batchStats`` counts as strings); once done, ``done: true`` and the
output — ``inlinedResponses.inlinedResponses`` in request order, each ``{"response"|"error", "metadata"}``, or
``responsesFile: "files/batch-<id>"`` of JSONL ``{"key", "response"|"error"}`` lines — is in ``metadata.output``
and ``response``. A per-request error is a ``google.rpc.Status``: ``{"code": <gRPC code>, "message",
"details"}`` (the emulation leaves ``details`` out: google-genai reads them as strings). An inline body over
the size limit is 400 ``Request payload size exceeds the limit: N bytes.``
"""

from __future__ import annotations

import asyncio
import json
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
    read_limited,
    rfc3339,
)
from ._gemini import authenticate, batch_generate, error_response, field
from ._gemini_files import GeminiFiles
from ._wire import json_response, new_id

__all__ = ["GeminiBatches"]

_STATE = {
    QUEUED: "BATCH_STATE_PENDING",
    RUNNING: "BATCH_STATE_RUNNING",
    FINISHING: "BATCH_STATE_RUNNING",
    CANCELLING: "BATCH_STATE_RUNNING",
    COMPLETED: "BATCH_STATE_SUCCEEDED",
    FAILED: "BATCH_STATE_FAILED",
    EXPIRED: "BATCH_STATE_EXPIRED",
    CANCELLED: "BATCH_STATE_CANCELLED",
}
#: HTTP statuses as gRPC codes (what a ``google.rpc.Status`` carries).
_GRPC = {400: 3, 401: 16, 403: 7, 404: 5, 409: 10, 429: 8, 499: 1, 500: 13, 501: 12, 503: 14, 504: 4}
_API = "type.googleapis.com/google.ai.generativelanguage.v1main."
_LINE = 'a line must be {"key": ..., "request": {GenerateContentRequest}}'
_ENDED = {
    EXPIRED: {"code": 4, "message": "The batch expired before all of its requests were processed."},
    CANCELLED: {"code": 1, "message": "The batch was cancelled."},
}


def _status_of(body: Any, http_status: int) -> dict[str, Any]:
    """The ``google.rpc.Status`` of an interactive error body (``{"error": {code, message, status, details}}``),
    without ``details`` (google-genai reads them as strings)."""
    error = body.get("error") if isinstance(body, dict) else None
    error = error if isinstance(error, dict) else {}
    return {"code": _GRPC.get(http_status, 2), "message": str(error.get("message", ""))}


def _model_of(request: Any, default: str) -> str:
    model = field(request, "model", "model")
    return str(model).removeprefix("models/") if isinstance(model, str) and model else default


def _answer(key: str, model: str, request: dict[str, Any]) -> tuple[bool, Any]:
    """``(ok, response or google.rpc.Status)`` of one request."""
    result = batch_generate(_model_of(request, model), key, request)
    return (True, result.body) if result.status < 400 else (False, _status_of(result.body, result.status))


def _check(items: list[tuple[str, dict[str, Any]]], model: str) -> tuple[set[str], str | None, bool]:
    """``(models, why the batch fails validation, whether it expires)`` of ``(label, request)`` pairs."""
    models: set[str] = set()
    expire = False
    for label, request in items:
        name = _model_of(request, model)
        models.add(name)
        marker = batch_marker(name)
        if marker == "invalid":
            return models, f"{label}: the request is invalid (emulated by the Atriumn sandbox).", False
        expire = expire or marker == "expire"
    return models, None, expire


class GeminiBatches:
    """The batch jobs (and, through :class:`GeminiFiles`, the files) of one :class:`BatchStore`."""

    def __init__(self, store: BatchStore) -> None:
        self.store = store
        self.files = GeminiFiles(store)

    # -- creation --------------------------------------------------------------------------------

    async def create(self, request: Request) -> Response:
        """``POST /{version}/models/{model}:batchGenerateContent``."""
        key, refused = authenticate(request)
        if refused is not None:
            return refused
        limit = self.store.settings.gemini_max_inline_bytes
        raw = await read_limited(request, limit)
        if raw is None:
            return error_response(400, f"Request payload size exceeds the limit: {limit} bytes.")
        try:
            body = json.loads(raw)
        except ValueError as exc:
            return error_response(400, f"Invalid JSON payload received. {exc}")
        batch = field(body, "batch", "batch")
        model = str(request.path_params["model"])
        config = field(batch, "inputConfig", "input_config")
        inline = field(field(config, "requests", "requests"), "requests", "requests")
        file_name = field(config, "fileName", "file_name")
        if not isinstance(batch, dict) or (inline is None) == (file_name is None):
            message = (
                "* BatchGenerateContentRequest.batch.input_config: exactly one of requests or file_name is required"
            )
            return error_response(400, message)
        display = field(batch, "displayName", "display_name")
        common = {"model": model, "display_name": display if isinstance(display, str) else ""}
        if inline is not None:
            if not isinstance(inline, list) or not inline:
                return error_response(400, "* BatchGenerateContentRequest.batch.input_config.requests: no requests")
            for i, item in enumerate(inline):
                if not isinstance(field(item, "request", "request"), dict):
                    path = f"batch.input_config.requests.requests[{i}].request"
                    return error_response(400, f"* BatchGenerateContentRequest.{path}: request is not specified")
            job = await asyncio.to_thread(self._run_inline, key, model, inline)
        else:
            source = self.store.file("gemini", key, str(file_name))
            if source is None:
                return error_response(
                    403, f"You do not have permission to access the File {file_name} or it may not exist."
                )
            job = await asyncio.to_thread(self._run_file, key, model, source)
        job.data.update(common)
        self.store.add_job(job)
        return json_response(self._operation(request, job, job.created))

    def _job(self, key: str, model: str, total: int, models: set[str], outcome: str, data: dict[str, Any]) -> Job:
        duration = duration_of(self.store.settings.delay, models)
        return Job(
            new_id("batches/"), "gemini", key, time.time(), duration, self.store.settings.delay, outcome, total, data
        )

    def _run_inline(self, key: str, model: str, inline: list[Any]) -> Job:
        pairs = [(f"requests[{i}]", field(item, "request", "request")) for i, item in enumerate(inline)]
        models, problem, expire = _check(pairs, model)
        if problem is not None or expire:
            data: dict[str, Any] = {"error": {"code": 3, "message": problem}} if problem else {}
            return self._job(key, model, len(inline), models, FAILED if problem else EXPIRED, data)
        responses: list[dict[str, Any]] = []
        ok_count = 0
        for item in inline:
            ok, result = _answer(key, model, field(item, "request", "request"))
            ok_count += ok
            entry: dict[str, Any] = {"response": result} if ok else {"error": result}
            metadata = field(item, "metadata", "metadata")
            if metadata is not None:
                entry["metadata"] = metadata
            responses.append(entry)
        output = {"inlinedResponses": {"inlinedResponses": responses}}
        return self._job(key, model, len(inline), models, COMPLETED, {"output": output, "succeeded": ok_count})

    def _run_file(self, key: str, model: str, source: StoredFile) -> Job:
        pairs: list[tuple[str, dict[str, Any]]] = []
        problem: str | None = None
        for number, doc, error in jsonl_lines(source.path):
            request = field(doc, "request", "request")
            if error is not None or not isinstance(request, dict):
                problem = problem or f"line {number}: {error or _LINE}"
                continue
            pairs.append((f"line {number}", request))
        if problem is None and not pairs:
            problem = f"The input file {source.id} holds no requests."
        models, invalid, expire = _check(pairs, model)
        problem = problem or invalid
        total = len(pairs)
        if problem is not None or expire:
            data = {"error": {"code": 3, "message": problem}} if problem else {}
            return self._job(key, model, total, models, FAILED if problem else EXPIRED, data)
        name = new_id("files/batch-")
        path = self.store.path(name)
        ok_count = 0
        with JsonlWriter(path) as out:
            for _, doc, _ in jsonl_lines(source.path):
                ok, result = _answer(key, model, doc["request"])
                ok_count += ok
                line: dict[str, Any] = {"key": doc.get("key")} if "key" in doc else {}
                line["response" if ok else "error"] = result
                out.write(line)
        size = path.stat().st_size
        results = StoredFile(name, "gemini", key, name, "GENERATED", path, size, time.time(), "application/jsonl")
        done: dict[str, Any] = {"output": {"responsesFile": name}, "results": results, "succeeded": ok_count}
        return self._job(key, model, total, models, COMPLETED, done)

    # -- reads -------------------------------------------------------------------------------------

    def _operation(self, request: Request, job: Job, now: float) -> dict[str, Any]:
        """The job as a long-running operation, as a read at ``now`` sees it."""
        times = job.timeline(now)
        phase = list(times)[-1]
        done = phase in TERMINAL
        data = job.data
        stats = {"requestCount": str(job.total)}
        if phase == COMPLETED:
            ok = data["succeeded"]
            stats.update(successfulRequestCount=str(ok), failedRequestCount=str(job.total - ok))
        elif not done:
            stats["pendingRequestCount"] = str(job.total)
        metadata: dict[str, Any] = {
            "@type": _API + "GenerateContentBatch",
            "model": f"models/{data['model']}",
            "createTime": rfc3339(job.created),
            "updateTime": rfc3339(times[phase]),
            "batchStats": stats,
            "state": _STATE[phase],
            "name": job.id,
        }
        if data["display_name"]:
            metadata["displayName"] = data["display_name"]
        doc: dict[str, Any] = {"name": job.id, "metadata": metadata}
        if not done:
            return doc
        metadata["endTime"] = rfc3339(times[phase])
        doc["done"] = True
        if phase == COMPLETED:
            results = data.get("results")
            if results is not None and self.store.file("gemini", job.owner, results.id) is None:
                self.store.add_file(results)
            metadata["output"] = data["output"]
            doc["response"] = {"@type": _API + "GenerateContentBatchOutput", **data["output"]}
        else:
            doc["error"] = data.get("error") or _ENDED[phase]
        return doc

    def _not_found(self, name: str) -> Response:
        return error_response(404, f"Batch {name} not found (emulated by the Atriumn sandbox).")

    async def list_jobs(self, request: Request) -> Response:
        """``GET /{version}/batches?pageSize=&pageToken=``: the key's jobs, newest first."""
        key, refused = authenticate(request)
        if refused is not None:
            return refused
        raw = request.query_params.get("pageSize", "50")
        size = min(int(raw), 1000) if raw.isdigit() and int(raw) > 0 else 50
        now = time.time()
        jobs = self.store.jobs("gemini", key)
        chosen, more = page_after(jobs, lambda j: j.id, request.query_params.get("pageToken"), size)
        doc: dict[str, Any] = {"operations": [self._operation(request, j, now) for j in chosen]}
        if more and chosen:
            doc["nextPageToken"] = chosen[-1].id
        return json_response(doc)

    async def item(self, request: Request, rest: str) -> Response:
        """``GET``/``DELETE /{version}/batches/{id}`` and ``POST /{version}/batches/{id}:cancel``."""
        key, refused = authenticate(request)
        if refused is not None:
            return refused
        batch_id, _, method = rest.partition(":")
        if (request.method, method) not in (("GET", ""), ("DELETE", ""), ("POST", "cancel")):
            return error_response(404, f"Method not found: {request.method} {request.url.path}")
        name = f"batches/{batch_id}"
        job = self.store.job("gemini", key, name)
        if job is None:
            return self._not_found(name)
        now = time.time()
        if request.method == "DELETE":
            results = job.data.get("results")
            self.store.delete_job(job, [results.path] if results is not None else [])
            return json_response({})
        if method == "cancel":
            phase = job.phase(now)
            if phase in TERMINAL:
                return _precondition(f"Batch {name} has already ended ({_STATE[phase]}): it cannot be cancelled.")
            if phase != CANCELLING:
                job.cancel_requested = now
            return json_response({})
        return json_response(self._operation(request, job, now))

    def routes(self) -> list[BaseRoute]:
        """The ``/v1beta`` routes, the upload and download routes, and batch creation under ``/v1`` too (the
        rest of ``/v1`` is shared with OpenAI: the caller dispatches it to :meth:`list_jobs`, :meth:`item`...)."""

        async def create(request: Request) -> Response:
            return await self.create(request)

        async def batches(request: Request) -> Response:
            return await self.list_jobs(request)

        async def batch(request: Request) -> Response:
            return await self.item(request, str(request.path_params["rest"]))

        async def upload(request: Request) -> Response:
            return await self.files.upload(request)

        async def files(request: Request) -> Response:
            return await self.files.list_files(request, request.url.path.split("/")[1])

        async def file(request: Request) -> Response:
            parts = request.url.path.split("/")
            version = parts[2] if parts[1] == "download" else parts[1]
            return await self.files.item(request, version, str(request.path_params["rest"]))

        return [
            Route("/v1beta/models/{model}:batchGenerateContent", create, methods=["POST"]),
            Route("/v1/models/{model}:batchGenerateContent", create, methods=["POST"]),
            Route("/v1beta/batches", batches, methods=["GET"]),
            Route("/v1beta/batches/{rest:path}", batch, methods=["GET", "POST", "DELETE"]),
            Route("/upload/v1beta/files", upload, methods=["POST"]),
            Route("/upload/v1/files", upload, methods=["POST"]),
            Route("/v1beta/files", files, methods=["GET"]),
            Route("/v1beta/files/{rest:path}", file, methods=["GET", "DELETE"]),
            Route("/download/v1beta/files/{rest:path}", file, methods=["GET"]),
            Route("/download/v1/files/{rest:path}", file, methods=["GET"]),
        ]


def _precondition(message: str) -> Response:
    """400 ``FAILED_PRECONDITION``, Google's answer to an operation the resource's state forbids."""
    error = {"code": 400, "message": message, "status": "FAILED_PRECONDITION", "details": []}
    return json_response({"error": error}, 400, {"x-request-id": new_id("req_")})
