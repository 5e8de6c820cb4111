"""OpenTelemetry GenAI semantic conventions for chat calls (API only: no-ops until the app installs the SDK).

One span per attempt, ``chat {model}`` (kind CLIENT), with ``gen_ai.operation.name``, ``gen_ai.provider.name``,
``gen_ai.request.model``, ``gen_ai.request.temperature`` / ``max_tokens``, ``gen_ai.response.model``,
``gen_ai.response.id``, ``gen_ai.response.finish_reasons``, ``gen_ai.usage.input_tokens`` /
``output_tokens`` and ``error.type``; histograms ``gen_ai.client.token.usage`` (by ``gen_ai.token.type``) and
``gen_ai.client.operation.duration``. Prompt and completion text are recorded (``gen_ai.input.messages``,
``gen_ai.output.messages``) only when the client was created with ``record_content=True``.

Provider batch jobs get one span per operation, ``batch.<operation> {model}`` (``create``, ``get``, ``list``,
``cancel``, ``wait``, ``results``), with ``gen_ai.provider.name``, ``gen_ai.request.model``,
``atriumn.ai.batch.id`` / ``.status`` / ``.requests`` / ``.parts``; the ``results`` span adds the summed
``gen_ai.usage.input_tokens`` / ``output_tokens`` and the result counts, and each result's tokens go to
``gen_ai.client.token.usage`` (with ``atriumn.ai.batch: true``). Span attributes carry ids and counts only.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from typing import Any

from atriumn.core._telemetry import instruments

from ._engine import otel_provider
from ._request import ChatRequest
from ._types import ChatResponse

__all__ = ["GenAITelemetry"]


class GenAITelemetry:
    """The tracer and the two GenAI histograms."""

    def __init__(self, tracer_provider: Any = None, meter_provider: Any = None) -> None:
        from opentelemetry import metrics, trace

        from ._version import __version__

        self.trace = trace
        # Without an installed OpenTelemetry SDK (the global providers are the API's no-ops) and without providers
        # given, no span or metric work is done at all: see :meth:`tracing` and :meth:`metering`.
        self._own_tracer = tracer_provider is not None
        self._own_meter = meter_provider is not None
        self.tracer = trace.get_tracer("atriumn.ai", __version__, tracer_provider=tracer_provider)
        meter = metrics.get_meter("atriumn.ai", __version__, meter_provider=meter_provider)
        self.tokens = meter.create_histogram(
            "gen_ai.client.token.usage", unit="{token}", description="Measures number of input and output tokens used."
        )
        self.duration = meter.create_histogram(
            "gen_ai.client.operation.duration", unit="s", description="GenAI operation duration."
        )

    def tracing(self) -> bool:
        """Whether spans are recorded (a tracer provider was given, or an SDK's is installed globally)."""
        return self._own_tracer or instruments().tracing()

    def metering(self) -> bool:
        """Whether metrics are recorded (a meter provider was given, or an SDK's is installed globally)."""
        return self._own_meter or instruments().metering()

    def start(self, req: ChatRequest, stream: bool, record_content: bool) -> Any:
        """Start the span of one attempt (None when no span is recorded)."""
        if not (self._own_tracer or instruments().tracing()):  # self.tracing(), one call less on every chat
            return None
        attributes: dict[str, Any] = {
            "gen_ai.operation.name": "chat",
            "gen_ai.provider.name": otel_provider(req.provider),
            "gen_ai.request.model": req.model,
        }
        if req.temperature is not None:
            attributes["gen_ai.request.temperature"] = req.temperature
        if req.max_tokens is not None:
            attributes["gen_ai.request.max_tokens"] = req.max_tokens
        if req.top_p is not None:
            attributes["gen_ai.request.top_p"] = req.top_p
        if stream:
            attributes["atriumn.ai.stream"] = True
        if record_content:
            attributes["gen_ai.input.messages"] = json.dumps(
                [{"role": m.role, "parts": [{"type": "text", "content": m.text}]} for m in req.messages]
            )
            if req.system:
                attributes["gen_ai.system_instructions"] = json.dumps([{"type": "text", "content": req.system}])
        return self.tracer.start_span(f"chat {req.model}", kind=self.trace.SpanKind.CLIENT, attributes=attributes)

    def end(
        self,
        span: Any,
        req: ChatRequest,
        response: ChatResponse | None,
        error: BaseException | None,
        start: float,
        record_content: bool = False,
    ) -> None:
        """End the span and record the metrics."""
        metering = self._own_meter or instruments().metering()  # self.metering(), one call less on every chat
        if span is None and not metering:
            return
        recording = span is not None and span.is_recording()
        metric_attrs: dict[str, Any] = {
            "gen_ai.operation.name": "chat",
            "gen_ai.provider.name": otel_provider(req.provider),
            "gen_ai.request.model": req.model,
        }
        if response is not None:
            metric_attrs["gen_ai.response.model"] = response.model
            if recording:
                span.set_attribute("gen_ai.response.model", response.model)
                if response.id:
                    span.set_attribute("gen_ai.response.id", response.id)
                span.set_attribute("gen_ai.response.finish_reasons", [response.finish_reason])
                span.set_attribute("gen_ai.usage.input_tokens", response.usage.input_tokens)
                span.set_attribute("gen_ai.usage.output_tokens", response.usage.output_tokens)
            if record_content and recording:
                span.set_attribute(
                    "gen_ai.output.messages",
                    json.dumps([{"role": "assistant", "parts": [{"type": "text", "content": response.text}]}]),
                )
            if metering:
                self.tokens.record(response.usage.input_tokens, {**metric_attrs, "gen_ai.token.type": "input"})
                self.tokens.record(response.usage.output_tokens, {**metric_attrs, "gen_ai.token.type": "output"})
        if error is not None:
            error_type = str(getattr(error, "status_code", "")) or type(error).__name__
            if recording:
                span.set_attribute("error.type", error_type)
                span.set_status(self.trace.StatusCode.ERROR, type(error).__name__)
            metric_attrs["error.type"] = error_type
        if metering:
            self.duration.record(time.perf_counter() - start, metric_attrs)
        if span is not None:
            span.end()

    # --- batch jobs -------------------------------------------------------------------------------------

    def start_batch(
        self, operation: str, provider: str, model: str, attributes: Mapping[str, Any] | None = None
    ) -> Any:
        """Start the span of one batch operation (``model`` without its provider prefix; may be empty)."""
        values: dict[str, Any] = {
            "gen_ai.provider.name": otel_provider(provider),
            "atriumn.ai.batch.operation": operation,
        }
        if model:
            values["gen_ai.request.model"] = model
        values.update(attributes or {})
        name = f"batch.{operation} {model}" if model else f"batch.{operation}"
        return self.tracer.start_span(name, kind=self.trace.SpanKind.CLIENT, attributes=values)

    def use(self, span: Any) -> Any:
        """Make ``span`` current (the core's HTTP spans nest under it), without ending it."""
        return self.trace.use_span(span, end_on_exit=False, record_exception=False, set_status_on_exception=False)

    def end_batch(self, span: Any, job: Any = None, error: BaseException | None = None, **attributes: Any) -> None:
        """End a batch span: the job's id, status, counts and parts, and the error's type."""
        if span.is_recording():
            if job is not None:
                span.set_attribute("atriumn.ai.batch.id", job.id)
                span.set_attribute("atriumn.ai.batch.status", job.status)
                span.set_attribute("atriumn.ai.batch.requests", job.counts.total)
                span.set_attribute("atriumn.ai.batch.parts", len(job.parts))
            for key, value in attributes.items():
                span.set_attribute(key, value)
            if error is not None:
                span.set_attribute("error.type", str(getattr(error, "status_code", "")) or type(error).__name__)
                span.set_status(self.trace.StatusCode.ERROR, type(error).__name__)
        span.end()

    def record_batch_usage(self, provider: str, model: str, usage: Any) -> None:
        """One batch result's tokens on ``gen_ai.client.token.usage``."""
        base: dict[str, Any] = {
            "gen_ai.operation.name": "chat",
            "gen_ai.provider.name": otel_provider(provider),
            "gen_ai.request.model": model,
            "atriumn.ai.batch": True,
        }
        self.tokens.record(usage.input_tokens, {**base, "gen_ai.token.type": "input"})
        self.tokens.record(usage.output_tokens, {**base, "gen_ai.token.type": "output"})
