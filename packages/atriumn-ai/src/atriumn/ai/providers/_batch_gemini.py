"""Gemini batch mode (``models/{model}:batchGenerateContent``), sans-IO.

Wire facts: the body is ``{"batch": {"displayName", "inputConfig": {"requests": {"requests": [{"request":
GenerateContentRequest, "metadata": {...}}]}}}}`` — inline, at most 20 MB — or ``"inputConfig": {"fileName":
"files/<id>"}``, a JSONL file of ``{"key", "request"}`` lines uploaded with the Files API's resumable protocol
(``X-Goog-Upload-Command: start``, then ``upload, finalize`` at the ``x-goog-upload-url``; up to 2 GB). The
answer is a long-running operation named ``batches/<id>`` whose ``metadata`` carries ``state``
(``BATCH_STATE_PENDING`` → ``_RUNNING`` → ``_SUCCEEDED``, or ``_FAILED``, ``_EXPIRED``, ``_CANCELLED``;
google-genai shows them as ``JOB_STATE_*``, read too) and ``batchStats`` (counts as strings); once done, the
output is ``inlinedResponses.inlinedResponses`` (each ``{"response" | "error", "metadata"}``, in request order)
or ``responsesFile`` (JSONL ``{"key", "response" | "error"}``, downloaded at ``/download/v1beta/<file>:download
?alt=media``). A per-request error is a ``google.rpc.Status`` (``{"code": <gRPC code>, "message"}``). Batches
keep no metadata besides ``displayName``, which carries the client-side batch id and the part.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

import attrs

from atriumn.ai._batch_plan import BatchAPI, Flow, SpooledPart, dumps_id, idempotency_key, status_of
from atriumn.ai._batch_types import TERMINAL, BatchCounts, BatchLimits, BatchPart
from atriumn.core import RESPONSE, ConflictError, DecodeError, Operation
from atriumn.core._serde import _parse_datetime

from ._read import items, obj, text

if TYPE_CHECKING:
    from atriumn.ai._batch_plan import CreatePlan
    from atriumn.ai._batch_results import ResultContext

__all__ = ["GeminiBatchAPI"]

MB = 1000 * 1000
_P = "gemini"
_STATUS = {
    "BATCH_STATE_PENDING": "queued",
    "BATCH_STATE_RUNNING": "running",
    "BATCH_STATE_SUCCEEDED": "completed",
    "BATCH_STATE_FAILED": "failed",
    "BATCH_STATE_CANCELLED": "cancelled",
    "BATCH_STATE_EXPIRED": "expired",
    "JOB_STATE_QUEUED": "queued",
    "JOB_STATE_PENDING": "queued",
    "JOB_STATE_PAUSED": "queued",
    "JOB_STATE_RUNNING": "running",
    "JOB_STATE_UPDATING": "running",
    "JOB_STATE_SUCCEEDED": "completed",
    "JOB_STATE_PARTIALLY_SUCCEEDED": "completed",
    "JOB_STATE_FAILED": "failed",
    "JOB_STATE_CANCELLING": "cancelling",
    "JOB_STATE_CANCELLED": "cancelled",
    "JOB_STATE_EXPIRED": "expired",
}
#: gRPC codes as the HTTP status and status name the interactive endpoint answers with.
_GRPC = {
    1: (499, "CANCELLED"),
    2: (500, "UNKNOWN"),
    3: (400, "INVALID_ARGUMENT"),
    4: (504, "DEADLINE_EXCEEDED"),
    5: (404, "NOT_FOUND"),
    6: (409, "ALREADY_EXISTS"),
    7: (403, "PERMISSION_DENIED"),
    8: (429, "RESOURCE_EXHAUSTED"),
    9: (400, "FAILED_PRECONDITION"),
    10: (409, "ABORTED"),
    11: (400, "OUT_OF_RANGE"),
    12: (501, "UNIMPLEMENTED"),
    13: (500, "INTERNAL"),
    14: (503, "UNAVAILABLE"),
    15: (500, "DATA_LOSS"),
    16: (401, "UNAUTHENTICATED"),
}
_DISPLAY = re.compile(r"^atriumn-batch ([A-Za-z0-9_-]{1,64}) part (\d+) of \d+$")
_NAME = re.compile(r"^(batches|files)/[A-Za-z0-9_.-]+$")
_TAIL = b"]}}}}"


def _inline(line: bytes) -> bytes:
    """A file line ``{"key":K,"request":B}`` as an inline request ``{"request":B,"metadata":{"key":K}}``, by
    slicing (``K`` is ASCII JSON, so its end is found without decoding ``B``)."""
    _, end = json.decoder.scanstring(line.decode("latin-1"), 8)  # type: ignore[attr-defined]
    return b'{"request":' + line[end + 11 : -1] + b',"metadata":{"key":' + line[7:end] + b"}}"


def _name(value: str, what: str) -> str:
    if not _NAME.match(value):
        raise DecodeError(f"gemini sent a {what} name the SDK does not recognise: {value[:80]!r}")
    return value


def _int(value: Any) -> int:
    """A count, sent as a string (or a number)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return max(0, value)
    return int(value) if isinstance(value, str) and value.isdigit() else 0


class GeminiBatchAPI(BatchAPI):
    """Gemini batch mode (inline requests up to the inline limit, else an uploaded JSONL file)."""

    defaults = BatchLimits(max_requests=None, max_bytes=2_000 * MB, max_inline_bytes=20 * MB)

    def line(self, custom_id: str, body: bytes) -> bytes:
        return b'{"key":' + dumps_id(custom_id) + b',"request":' + body + b"}"

    def inline_size_of(self, line: bytes) -> int:
        return len(line) + 14  # 13 more bytes as an inline request, and a comma

    def create_part(self, spool: SpooledPart, ctx: CreatePlan) -> Flow[BatchPart]:
        display = f"atriumn-batch {ctx.batch_id} part {spool.index + 1} of {len(ctx.spools)}"
        head = b'{"batch":{"displayName":' + dumps_id(display) + b',"inputConfig":{"requests":{"requests":['
        inline_size = len(head) + len(_TAIL) + spool.inline_size - 1
        limit = ctx.limits.max_inline_bytes
        key = idempotency_key(ctx.batch_id, spool.index, "create")
        path, params = "/v1beta/models/{model}:batchGenerateContent", {"model": ctx.model}
        file_name: str | None = None
        if limit is None or inline_size <= limit:
            create = self.op(
                "POST",
                path,
                "batches.create",
                path_params=params,
                idempotency_key=key,
                content=lambda: spool.joined(head, b",", _TAIL, _inline),
                log_content=False,
                headers={"Content-Type": "application/json", "Content-Length": str(inline_size)},
            )
        else:
            file_name = yield from self._upload(spool, ctx, display)
            body = {"batch": {"displayName": display, "inputConfig": {"fileName": file_name}}}
            create = self.op("POST", path, "batches.create", path_params=params, idempotency_key=key, json=body)
        doc = yield create
        part = self.parse_part(doc, spool.index, None)
        return attrs.evolve(part, inline=file_name is None, input_file=file_name)

    def _upload(self, spool: SpooledPart, ctx: CreatePlan, display: str) -> Flow[str]:
        """The resumable upload of the part's JSONL, under a name derived from the batch id and the part (so a
        re-run finds the file an earlier run uploaded: the start answers 409)."""
        digest = hashlib.sha256(f"{ctx.batch_id}:{spool.index}".encode()).hexdigest()[:32]
        name = f"files/atb-{digest}"
        start = self.op(
            "POST",
            "/upload/v1beta/files",
            "files.upload",
            json={"file": {"name": name, "displayName": display}},
            headers={
                "X-Goog-Upload-Protocol": "resumable",
                "X-Goog-Upload-Command": "start",
                "X-Goog-Upload-Header-Content-Length": str(spool.file_size),
                "X-Goog-Upload-Header-Content-Type": "application/jsonl",
            },
            response_type=RESPONSE,
            idempotent=True,  # a second start only opens a second (unused) session
        )
        try:
            answer = yield start
        except ConflictError:
            return name  # uploaded by an earlier run
        url = answer.headers.get("x-goog-upload-url")
        if not url:
            raise DecodeError("gemini answered the upload start without an x-goog-upload-url header")
        finish = self.op(
            "POST",
            url,
            "files.upload",
            content=spool.chunks,
            headers={
                "X-Goog-Upload-Command": "upload, finalize",
                "X-Goog-Upload-Offset": "0",
                "Content-Length": str(spool.file_size),
                "Content-Type": "application/jsonl",
            },
            idempotency_key=idempotency_key(ctx.batch_id, spool.index, "file"),
            log_content=False,
        )
        doc = obj((yield finish), "$", _P)
        return _name(text(obj(doc.get("file"), "$.file", _P).get("name"), "$.file.name", _P) or name, "file")

    def find_existing(self, batch_id: str) -> Flow[dict[int, BatchPart]]:
        docs, _ = self.parse_list((yield self.list_operation(None)))
        found: dict[int, BatchPart] = {}
        for doc in docs:
            meta = self._meta(doc)
            match = _DISPLAY.match(text(meta.get("displayName"), "$.metadata.displayName", _P))
            if match and match.group(1) == batch_id:
                index = int(match.group(2)) - 1
                found.setdefault(index, self.parse_part(doc, index, None))
        return found

    def get_operation(self, provider_id: str) -> Operation[Any]:
        return self.op("GET", f"/v1beta/{_name(provider_id, 'batch')}", "batches.get")

    def cancel_operation(self, provider_id: str) -> Operation[Any]:
        return self.op(
            "POST", f"/v1beta/{_name(provider_id, 'batch')}:cancel", "batches.cancel", json={}, idempotent=True
        )

    def list_operation(self, token: str | None) -> Operation[Any]:
        return self.op("GET", "/v1beta/batches", "batches.list", query={"pageSize": 100, "pageToken": token})

    def parse_list(self, doc: Any) -> tuple[list[Any], str | None]:
        doc = obj(doc, "$", _P)
        data = items(doc.get("operations") or doc.get("batches"), "$.operations", _P)
        return data, text(doc.get("nextPageToken"), "$.nextPageToken", _P) or None

    @staticmethod
    def _meta(doc: Any) -> Mapping[str, Any]:
        """The batch of an operation (its ``metadata``), or the document itself when it is a batch."""
        doc = obj(doc, "$", _P)
        return obj(doc.get("metadata"), "$.metadata", _P) if "metadata" in doc else doc

    def parse_part(self, doc: Any, index: int, previous: BatchPart | None) -> BatchPart:
        doc = obj(doc, "$", _P)
        meta = self._meta(doc)
        raw = text(meta.get("state"), "$.metadata.state", _P)
        cancel = previous is not None and previous.cancel_requested
        status = status_of(raw, _STATUS, cancel)
        stats = obj(meta.get("batchStats"), "$.metadata.batchStats", _P)
        total = _int(stats.get("requestCount")) or (previous.requests if previous is not None else 0)
        ok, failed = _int(stats.get("successfulRequestCount")), _int(stats.get("failedRequestCount"))
        left = max(0, total - ok - failed)
        output = obj(meta.get("output"), "$.metadata.output", _P)
        error = obj(doc.get("error"), "$.error", _P)
        created = text(meta.get("createTime"), "$.metadata.createTime", _P)
        return BatchPart(
            index=index,
            provider_id=_name(text(doc.get("name") or meta.get("name"), "$.name", _P), "batch"),
            status=status,
            raw_status=raw,
            counts=BatchCounts(
                total=total,
                succeeded=ok,
                failed=failed,
                cancelled=left if status == "cancelled" else 0,
                expired=left if status == "expired" else 0,
                processing=0 if status in TERMINAL else _int(stats.get("pendingRequestCount")) or left,
            ),
            requests=previous.requests if previous is not None and previous.requests else total,
            input_file=previous.input_file if previous is not None else None,
            output_file=text(output.get("responsesFile"), "$.metadata.output.responsesFile", _P) or None,
            inline=bool(previous is not None and previous.inline) or "inlinedResponses" in output,
            error=text(error.get("message"), "$.error.message", _P) or None if status == "failed" else None,
            cancel_requested=cancel,
            created_at=_parse_datetime(created, object) if created else None,
        )

    def job_facts(self, doc: Any) -> tuple[str, dict[str, str]]:
        meta = self._meta(doc)
        match = _DISPLAY.match(text(meta.get("displayName"), "$.metadata.displayName", _P))
        model = text(meta.get("model"), "$.metadata.model", _P).removeprefix("models/")
        return model, {"atriumn_batch_id": match.group(1)} if match else {}

    def result_sources(self, part: BatchPart) -> list[tuple[str, Operation[Any]]]:
        if part.output_file:
            path = f"/download/v1beta/{_name(part.output_file, 'file')}:download"
            op = self.op("GET", path, "files.download", query={"alt": "media"}, response_type=None, stream=True)
            return [("lines", op)]
        if part.inline and part.status == "completed":
            return [("inline", self.get_operation(part.provider_id))]
        return []

    def inline_results(self, doc: Any, ctx: ResultContext) -> Iterator[Any]:
        output = obj(self._meta(doc).get("output"), "$.metadata.output", _P)
        holder = obj(output.get("inlinedResponses"), "$.metadata.output.inlinedResponses", _P)
        for i, entry in enumerate(items(holder.get("inlinedResponses"), "$.metadata.output.inlinedResponses", _P)):
            entry = obj(entry, f"$.inlinedResponses[{i}]", _P)
            key = obj(entry.get("metadata"), f"$.inlinedResponses[{i}].metadata", _P).get("key")
            if not isinstance(key, str):
                raise ctx.unreadable(f"inline response {i} carries no key in its metadata")
            yield self._entry(key, entry, ctx)

    def parse_line(self, doc: Any, ctx: ResultContext) -> Any:
        key = doc.get("key")
        if not isinstance(key, str):
            raise ctx.unreadable("a line without a key")
        return self._entry(key, doc, ctx)

    def _entry(self, key: str, entry: Mapping[str, Any], ctx: ResultContext) -> Any:
        if "response" in entry:
            return ctx.response(key, entry["response"])
        status = entry.get("error")
        if isinstance(status, Mapping):
            code = status.get("code")
            http, name = _GRPC.get(code if isinstance(code, int) else 2, (500, "UNKNOWN"))
            body = {"error": {"code": http, "message": str(status.get("message") or ""), "status": name}}
            return ctx.http_error(key, http, body)
        return ctx.broken(key, ctx.unreadable(f"the result of {key!r} has neither a response nor an error"))
