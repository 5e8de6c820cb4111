"""OpenAI's Batch API, and Groq's copy of it under ``/openai/v1``, sans-IO.

Wire facts: the input is a JSONL file uploaded to ``/files`` (multipart, ``purpose=batch``, a ``.jsonl``
name) of lines ``{"custom_id", "method": "POST", "url": "/v1/chat/completions", "body"}``; ``POST /batches``
takes ``input_file_id``, ``endpoint``, ``completion_window: "24h"`` and ``metadata`` (at most 16 string pairs);
``status`` goes ``validating`` → ``in_progress`` → ``finalizing`` → ``completed``, or ``failed`` (with
``errors.data``), ``expired``, ``cancelling`` → ``cancelled``; ``request_counts {total, completed, failed}``;
the output file holds the 2xx answers and the error file the others, each line ``{"custom_id", "response":
{"status_code", "request_id", "body"}, "error"}``, where a request not run in time has ``response: null`` and
``error.code: "batch_expired"``. Limits: OpenAI 50,000 requests and 200 MB per input file, Groq 50,000 and
100 MB. Groq lists every batch at once (no ``limit``/``after``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from atriumn.ai._batch_plan import BatchAPI, Flow, SpooledPart, dumps_id, idempotency_key, status_of
from atriumn.ai._batch_types import TERMINAL, BatchCounts, BatchLimits, BatchPart
from atriumn.core import Operation, ValidationError

from ._read import count, items, obj, text

if TYPE_CHECKING:
    from atriumn.ai._batch_plan import CreatePlan
    from atriumn.ai._batch_results import ResultContext

__all__ = ["OpenAIBatchAPI"]

MB = 1000 * 1000
ENDPOINT = "/v1/chat/completions"
_STATUS = {
    "validating": "queued",
    "in_progress": "running",
    "finalizing": "finalizing",
    "completed": "completed",
    "failed": "failed",
    "expired": "expired",
    "cancelling": "cancelling",
    "cancelled": "cancelled",
}
_OWN_KEYS = 3  # atriumn_batch_id, atriumn_part, atriumn_parts


class OpenAIBatchAPI(BatchAPI):
    """Batches of Chat Completions at OpenAI (``groq=True``: at Groq)."""

    def __init__(self, adapter: Any, *, groq: bool = False) -> None:
        super().__init__(adapter)
        self.groq = groq
        self.defaults = BatchLimits(max_requests=50_000, max_bytes=(100 if groq else 200) * MB)

    def check_metadata(self, metadata: Mapping[str, str]) -> None:
        if len(metadata) > 16 - _OWN_KEYS:
            raise ValidationError(f"metadata: at most {16 - _OWN_KEYS} pairs ({self.name} keeps 16, the SDK uses 3)")
        for key, value in metadata.items():
            if len(key) > 64 or len(value) > 512:
                raise ValidationError(f"metadata[{key!r}]: keys of at most 64 characters, values of at most 512")

    def line(self, custom_id: str, body: bytes) -> bytes:
        return (
            b'{"custom_id":'
            + dumps_id(custom_id)
            + b',"method":"POST","url":"'
            + ENDPOINT.encode()
            + b'","body":'
            + body
            + b"}"
        )

    def create_part(self, spool: SpooledPart, ctx: CreatePlan) -> Flow[BatchPart]:
        name = f"batch-{ctx.batch_id}-{spool.index}.jsonl"

        def files() -> dict[str, Any]:
            return {"file": (name, spool.rewound(), "application/jsonl")}

        upload = self.op(
            "POST",
            "/files",
            "files.create",
            data={"purpose": "batch"},
            files=files,
            idempotency_key=idempotency_key(ctx.batch_id, spool.index, "file"),
            log_content=False,
        )
        file_id = text(obj((yield upload), "$", self.name).get("id"), "$.id", self.name)
        metadata = {
            **ctx.metadata,
            "atriumn_batch_id": ctx.batch_id,
            "atriumn_part": str(spool.index),
            "atriumn_parts": str(len(ctx.spools)),
        }
        body = {"input_file_id": file_id, "endpoint": ENDPOINT, "completion_window": "24h", "metadata": metadata}
        create = self.op(
            "POST",
            "/batches",
            "batches.create",
            json=body,
            idempotency_key=idempotency_key(ctx.batch_id, spool.index, "create"),
        )
        doc = yield create
        return self.parse_part(doc, spool.index, None)

    def find_existing(self, batch_id: str) -> Flow[dict[int, BatchPart]]:
        docs, _ = self.parse_list((yield self.list_operation(None)))
        found: dict[int, BatchPart] = {}
        for doc in docs:
            meta = obj(obj(doc, "$", self.name).get("metadata"), "$.metadata", self.name)
            index = meta.get("atriumn_part")
            if meta.get("atriumn_batch_id") == batch_id and isinstance(index, str) and index.isdigit():
                found.setdefault(int(index), self.parse_part(doc, int(index), None))
        return found

    def get_operation(self, provider_id: str) -> Operation[Any]:
        return self.op("GET", "/batches/{id}", "batches.get", path_params={"id": provider_id})

    def cancel_operation(self, provider_id: str) -> Operation[Any]:
        return self.op(
            "POST", "/batches/{id}/cancel", "batches.cancel", path_params={"id": provider_id}, idempotent=True
        )

    def list_operation(self, token: str | None) -> Operation[Any]:
        query = None if self.groq else {"limit": 100, "after": token}
        return self.op("GET", "/batches", "batches.list", query=query)

    def parse_list(self, doc: Any) -> tuple[list[Any], str | None]:
        doc = obj(doc, "$", self.name)
        data = items(doc.get("data"), "$.data", self.name)
        more = doc.get("has_more") is True and not self.groq and data
        return data, (
            text(obj(data[-1], "$.data[-1]", self.name).get("id"), "$.data[-1].id", self.name) if more else None
        )

    def parse_part(self, doc: Any, index: int, previous: BatchPart | None) -> BatchPart:
        p = self.name
        doc = obj(doc, "$", p)
        raw = text(doc.get("status"), "$.status", p)
        cancel = (previous is not None and previous.cancel_requested) or raw in ("cancelling", "cancelled")
        status = status_of(raw, _STATUS, cancel)
        rc = obj(doc.get("request_counts"), "$.request_counts", p)
        requests = previous.requests if previous is not None else 0
        total = count(rc.get("total"), "$.request_counts.total", p) or requests
        done = count(rc.get("completed"), "$.request_counts.completed", p)
        failed = count(rc.get("failed"), "$.request_counts.failed", p)
        left = max(0, total - done - failed)
        counts = BatchCounts(
            total=total,
            succeeded=done,
            failed=failed,
            cancelled=left if status == "cancelled" else 0,
            expired=left if status == "expired" else 0,
            processing=0 if status in TERMINAL else left,
        )
        errors = [
            obj(e, "$.errors.data[]", p)
            for e in items(obj(doc.get("errors"), "$.errors", p).get("data"), "$.errors.data", p)
        ]
        problem = "; ".join(
            f"line {e.get('line')}: {e.get('code')}: {e.get('message')}"
            if e.get("line")
            else f"{e.get('code')}: {e.get('message')}"
            for e in errors[:3]
        )
        created = doc.get("created_at")
        return BatchPart(
            index=index,
            provider_id=text(doc.get("id"), "$.id", p),
            status=status,
            raw_status=raw,
            counts=counts,
            requests=requests or total,
            input_file=text(doc.get("input_file_id"), "$.input_file_id", p) or None,
            output_file=text(doc.get("output_file_id"), "$.output_file_id", p) or None,
            error_file=text(doc.get("error_file_id"), "$.error_file_id", p) or None,
            error=problem or None,
            cancel_requested=cancel,
            created_at=dt.datetime.fromtimestamp(created, dt.timezone.utc) if isinstance(created, int) else None,
        )

    def job_facts(self, doc: Any) -> tuple[str, dict[str, str]]:
        doc = obj(doc, "$", self.name)
        meta = obj(doc.get("metadata"), "$.metadata", self.name)
        model = text(doc.get("model"), "$.model", self.name)
        return model, {k: v for k, v in meta.items() if isinstance(k, str) and isinstance(v, str)}

    def result_sources(self, part: BatchPart) -> list[tuple[str, Operation[Any]]]:
        return [
            (
                "lines",
                self.op(
                    "GET",
                    "/files/{id}/content",
                    "files.content",
                    path_params={"id": file_id},
                    response_type=None,
                    stream=True,
                ),
            )
            for file_id in (part.output_file, part.error_file)
            if file_id
        ]

    def parse_line(self, doc: Any, ctx: ResultContext) -> Any:
        custom_id = doc.get("custom_id")
        if not isinstance(custom_id, str):
            raise ctx.unreadable("a line without a custom_id")
        answer, error = doc.get("response"), doc.get("error")
        if isinstance(answer, Mapping):
            status = answer.get("status_code")
            request_id = answer.get("request_id") if isinstance(answer.get("request_id"), str) else None
            if isinstance(status, int) and not isinstance(status, bool):
                if status < 400:
                    return ctx.response(custom_id, answer.get("body"), request_id)
                return ctx.http_error(custom_id, status, answer.get("body"), request_id)
        if isinstance(error, Mapping):
            code, message = error.get("code"), str(error.get("message") or "")
            if code == "batch_expired":
                return ctx.not_run(custom_id, "expired", message)
            if code in ("batch_cancelled", "batch_canceled"):
                return ctx.not_run(custom_id, "cancelled", message)
            return ctx.http_error(custom_id, 500, {"error": dict(error)})
        return ctx.broken(custom_id, ctx.unreadable(f"the line of {custom_id!r} has neither a response nor an error"))
