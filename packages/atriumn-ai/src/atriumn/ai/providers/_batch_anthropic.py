"""Anthropic's Message Batches API (``/v1/messages/batches``), sans-IO.

Wire facts: a batch is created from ``{"requests": [{"custom_id", "params"}]}`` (custom ids of 1-64
``[A-Za-z0-9_-]``, unique; at most 100,000 requests and 256 MB per batch), ``params`` being a Messages request
body; ``processing_status`` is ``in_progress`` → ``ended`` (``canceling`` → ``ended`` after a cancellation,
``cancel_initiated_at`` set); ``request_counts {processing, succeeded, errored, canceled, expired}``; results
come from ``/v1/messages/batches/{id}/results`` (``results_url``) as JSONL ``{"custom_id", "result":
{"type": "succeeded", "message"} | {"type": "errored", "error": {"type": "error", "error": {type, message}}}
| {"type": "canceled"} | {"type": "expired"}}``. Batches carry no metadata: an earlier run's batch cannot be
found by listing, so creation relies on its Idempotency-Key alone (which Anthropic does not document honouring).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from atriumn.ai._batch_plan import BatchAPI, Flow, SpooledPart, dumps_id, idempotency_key, status_of
from atriumn.ai._batch_types import BatchCounts, BatchLimits, BatchPart
from atriumn.core import Operation, ValidationError
from atriumn.core._serde import _parse_datetime

from ._read import count, items, obj, text

if TYPE_CHECKING:
    from atriumn.ai._batch_plan import CreatePlan
    from atriumn.ai._batch_results import ResultContext

__all__ = ["AnthropicBatchAPI"]

MB = 1000 * 1000
_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_HEAD, _TAIL = b'{"requests":[', b"]}"
#: Anthropic error types and the HTTP status the interactive endpoint answers them with.
_STATUS_OF_TYPE = {
    "invalid_request_error": 400,
    "authentication_error": 401,
    "billing_error": 402,
    "permission_error": 403,
    "not_found_error": 404,
    "request_too_large": 413,
    "rate_limit_error": 429,
    "api_error": 500,
    "timeout_error": 504,
    "overloaded_error": 529,
}
_P = "anthropic"


class AnthropicBatchAPI(BatchAPI):
    """Message Batches."""

    defaults = BatchLimits(max_requests=100_000, max_bytes=256 * MB)
    finds_existing = False
    overhead = len(_HEAD) + len(_TAIL)

    def check_id(self, custom_id: str, where: str) -> None:
        if not _ID.match(custom_id):
            raise ValidationError(
                f"{where}: Anthropic takes ids of 1 to 64 letters, digits, '-' and '_', got {custom_id!r}"
            )

    def line(self, custom_id: str, body: bytes) -> bytes:
        return b'{"custom_id":' + dumps_id(custom_id) + b',"params":' + body + b"}"

    def create_part(self, spool: SpooledPart, ctx: CreatePlan) -> Flow[BatchPart]:
        # The body is {"requests": [line, line, ...]}, streamed from the spool; its size is known exactly.
        size = len(_HEAD) + len(_TAIL) + (spool.file_size - spool.count) + (spool.count - 1)
        create = self.op(
            "POST",
            "/v1/messages/batches",
            "batches.create",
            content=lambda: spool.joined(_HEAD, b",", _TAIL),
            headers={"Content-Type": "application/json", "Content-Length": str(size)},
            idempotency_key=idempotency_key(ctx.batch_id, spool.index, "create"),
            log_content=False,
        )
        doc = yield create
        return self.parse_part(doc, spool.index, None)

    def get_operation(self, provider_id: str) -> Operation[Any]:
        return self.op("GET", "/v1/messages/batches/{id}", "batches.get", path_params={"id": provider_id})

    def cancel_operation(self, provider_id: str) -> Operation[Any]:
        return self.op(
            "POST",
            "/v1/messages/batches/{id}/cancel",
            "batches.cancel",
            path_params={"id": provider_id},
            idempotent=True,
        )

    def list_operation(self, token: str | None) -> Operation[Any]:
        return self.op("GET", "/v1/messages/batches", "batches.list", query={"limit": 100, "after_id": token})

    def parse_list(self, doc: Any) -> tuple[list[Any], str | None]:
        doc = obj(doc, "$", _P)
        data = items(doc.get("data"), "$.data", _P)
        last = text(doc.get("last_id"), "$.last_id", _P)
        return data, last if doc.get("has_more") is True and last else None

    def parse_part(self, doc: Any, index: int, previous: BatchPart | None) -> BatchPart:
        doc = obj(doc, "$", _P)
        raw = text(doc.get("processing_status"), "$.processing_status", _P)
        rc = obj(doc.get("request_counts"), "$.request_counts", _P)
        n = {
            k: count(rc.get(k), f"$.request_counts.{k}", _P)
            for k in ("processing", "succeeded", "errored", "canceled", "expired")
        }
        cancel = bool(doc.get("cancel_initiated_at")) or (previous is not None and previous.cancel_requested)
        if raw == "ended":
            status = "cancelled" if cancel else "expired" if n["expired"] else "completed"
        else:
            status = status_of(raw, {"in_progress": "running", "canceling": "cancelling"}, cancel)
        created = text(doc.get("created_at"), "$.created_at", _P)
        total = sum(n.values())
        return BatchPart(
            index=index,
            provider_id=text(doc.get("id"), "$.id", _P),
            status=status,
            raw_status=raw,
            counts=BatchCounts(
                total=total,
                succeeded=n["succeeded"],
                failed=n["errored"],
                cancelled=n["canceled"],
                expired=n["expired"],
                processing=n["processing"],
            ),
            requests=previous.requests if previous is not None and previous.requests else total,
            cancel_requested=cancel,
            created_at=_parse_datetime(created, object) if created else None,
        )

    def result_sources(self, part: BatchPart) -> list[tuple[str, Operation[Any]]]:
        op = self.op(
            "GET",
            "/v1/messages/batches/{id}/results",
            "batches.results",
            path_params={"id": part.provider_id},
            response_type=None,
            stream=True,
        )
        return [("lines", op)]

    def parse_line(self, doc: Any, ctx: ResultContext) -> Any:
        custom_id = doc.get("custom_id")
        if not isinstance(custom_id, str):
            raise ctx.unreadable("a line without a custom_id")
        result = doc.get("result")
        kind = result.get("type") if isinstance(result, Mapping) else None
        if kind == "succeeded":
            assert isinstance(result, Mapping)
            return ctx.response(custom_id, result.get("message"))
        if kind == "errored":
            assert isinstance(result, Mapping)
            body = result.get("error")
            inner = body.get("error") if isinstance(body, Mapping) else None
            error_type = inner.get("type") if isinstance(inner, Mapping) else None
            request_id = body.get("request_id") if isinstance(body, Mapping) else None
            status = _STATUS_OF_TYPE.get(error_type if isinstance(error_type, str) else "", 500)
            return ctx.http_error(custom_id, status, body, request_id if isinstance(request_id, str) else None)
        if kind == "canceled":
            return ctx.not_run(custom_id, "cancelled")
        if kind == "expired":
            return ctx.not_run(custom_id, "expired")
        return ctx.broken(custom_id, ctx.unreadable(f"the result of {custom_id!r} has the type {kind!r}"))
