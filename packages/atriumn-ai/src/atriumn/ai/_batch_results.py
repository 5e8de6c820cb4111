"""Reading a batch's results, sans-IO: one decoded result line (or inline entry) in, one
:class:`BatchRequestResult` out.

A response is parsed by the provider's adapter exactly as an interactive answer is (``parse_chat``), priced at
the provider's batch prices, and checked against ``response_format`` when one is given. A per-request error is
mapped as the interactive path maps an error answer: the provider's error body, with its HTTP status, goes
through the adapter's error hook and the core's ``api_error`` (so a 429 is a ``RateLimitError``, Anthropic's
``invalid_request_error`` a ``BadRequestError``...), scrubbed of the provider key like any other error.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import attrs

from atriumn.core import AtriumnError, DecodeError

from ._batch_types import BatchJob, BatchRequestResult
from ._errors import BatchRequestCancelledError, BatchRequestExpiredError, StructuredOutputError
from ._request import ChatRequest, normalize_response_format
from ._types import Usage

if TYPE_CHECKING:
    from ._batch_plan import BatchAPI
    from ._engine import Engine

__all__ = ["ResultContext"]

_SHAPE_ERRORS = (AttributeError, TypeError, KeyError, ValueError, IndexError, RecursionError, ArithmeticError)


class ResultContext:
    """What reading one job's results needs: the adapter, the prices, the model, the output format; and the
    totals the results span reports.

    Args:
        api: the provider's batch API.
        engine: the client's engine (prices, telemetry).
        job: the job whose results are read.
        response_format: check and structure each response as ``chat(..., response_format=...)`` does.
    """

    def __init__(self, api: BatchAPI, engine: Engine, job: BatchJob, response_format: Any = None) -> None:
        self.api = api
        self.adapter = api.adapter
        self.provider = api.name
        self.prices = engine.prices
        self.model = job.model
        self.req = ChatRequest(provider=api.name, model=job.model.partition(":")[2], messages=())
        self.format = normalize_response_format(response_format) if response_format is not None else None
        self.url = self.adapter.config.base_url  # what an error's ``url`` names: the provider's API
        self.telemetry = engine.telemetry()
        self.usage = Usage()
        self.succeeded = 0
        self.failed = 0

    # --- outcomes -----------------------------------------------------------------------------------------

    def response(self, custom_id: str, doc: Any, request_id: str | None = None) -> BatchRequestResult:
        """The result of a request the provider answered (``doc`` is what the interactive call returns)."""
        try:
            response = self.adapter.parse_chat(doc, self.req)
        except AtriumnError as exc:
            return self.broken(custom_id, exc)
        except _SHAPE_ERRORS as exc:
            from ._call import unreadable

            return self.broken(custom_id, unreadable(self.provider, exc))
        model = self.model or f"{self.provider}:{response.model}"
        cost = self.prices.cost(model, response.usage, batch=True)
        response = attrs.evolve(response, cost=cost, request_id=request_id or None)
        fmt = self.format
        if fmt is not None and (fmt.schema is not None or fmt.json_mode) and not response.tool_calls:
            from ._structured import parse_output

            try:
                parsed = parse_output(response.text, schema=fmt.schema, tp=fmt.type, model=model, name=fmt.name)
            except StructuredOutputError as exc:
                exc.response = response
                self._count(response.usage, ok=False)
                return BatchRequestResult(id=custom_id, error=exc)
            response = attrs.evolve(response, parsed=parsed)
        self._count(response.usage, ok=True)
        return BatchRequestResult(id=custom_id, response=response)

    def http_error(self, custom_id: str, status: int, body: Any, request_id: str | None = None) -> BatchRequestResult:
        """The result of a request the provider answered with an error: ``status`` and the error body as the
        interactive endpoint sends it, mapped to the same typed error."""
        from atriumn.core import Headers, Request, Response
        from atriumn.core._outcome import api_error

        content = body if isinstance(body, bytes) else json.dumps(body, ensure_ascii=False).encode()
        headers = {"content-type": "application/json"}
        if request_id:
            headers["x-request-id"] = request_id
        request = Request("POST", self.url, headers={}, timeouts={})
        answer = Response(status, Headers(headers.items()), request, content=content)
        error = self.adapter.error_hook(answer)
        if not isinstance(error, AtriumnError):
            error = api_error(answer, method="POST", url=self.url, retry_after=None)
        self.adapter.scrubber().scrub_exception(error)
        self._count(None, ok=False)
        return BatchRequestResult(id=custom_id, error=error)

    def not_run(self, custom_id: str, reason: str, message: str = "") -> BatchRequestResult:
        """The result of a request the provider did not run: ``reason`` is ``expired`` or ``cancelled``."""
        error: AtriumnError
        if reason == "expired":
            text = message or "the batch's window closed before this request was run"
            error = BatchRequestExpiredError(f"{custom_id}: expired: {text}", request_id=custom_id)
        else:
            text = message or "the batch was cancelled before this request was run"
            error = BatchRequestCancelledError(f"{custom_id}: cancelled: {text}", request_id=custom_id)
        self._count(None, ok=False)
        return BatchRequestResult(id=custom_id, error=error)

    def broken(self, custom_id: str, error: AtriumnError) -> BatchRequestResult:
        """The result of a request whose line could not be read (a :class:`DecodeError` naming the problem)."""
        self.adapter.scrubber().scrub_exception(error)
        self._count(None, ok=False)
        return BatchRequestResult(id=custom_id, error=error)

    def unreadable(self, what: str) -> DecodeError:
        """A result line this provider's format does not explain (no id to attribute it to)."""
        return DecodeError(f"{self.provider} sent a batch result line the SDK could not read: {what}")

    def totals(self) -> dict[str, int]:
        """What the results span reports: tokens summed over the responses, results by outcome."""
        return {
            "gen_ai.usage.input_tokens": self.usage.input_tokens,
            "gen_ai.usage.output_tokens": self.usage.output_tokens,
            "atriumn.ai.batch.succeeded": self.succeeded,
            "atriumn.ai.batch.failed": self.failed,
        }

    def _count(self, usage: Usage | None, *, ok: bool) -> None:
        if ok:
            self.succeeded += 1
        else:
            self.failed += 1
        if usage is not None:
            self.usage = self.usage + usage
            self.telemetry.record_batch_usage(self.provider, self.req.model, usage)
