"""OpenTelemetry GenAI semantic conventions for chat calls (API only: no-ops until the app installs the SDK).

One span per attempt, ``chat {model}`` (kind CLIENT), with ``gen_ai.operation.name``, ``gen_ai.provider.name``,
``gen_ai.request.model``, ``gen_ai.request.temperature`` / ``max_tokens``, ``gen_ai.response.model``,
``gen_ai.response.id``, ``gen_ai.response.finish_reasons``, ``gen_ai.usage.input_tokens`` /
``output_tokens`` and ``error.type``; histograms ``gen_ai.client.token.usage`` (by ``gen_ai.token.type``) and
``gen_ai.client.operation.duration``. Prompt and completion text are recorded (``gen_ai.input.messages``,
``gen_ai.output.messages``) only when the client was created with ``record_content=True``.
"""

from __future__ import annotations

import json
import time
from typing import Any

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
        self.tracer = trace.get_tracer("atriumn.ai", __version__, tracer_provider=tracer_provider)
        meter = metrics.get_meter("atriumn.ai", __version__, meter_provider=meter_provider)
        self.tokens = meter.create_histogram(
            "gen_ai.client.token.usage", unit="{token}", description="Measures number of input and output tokens used."
        )
        self.duration = meter.create_histogram(
            "gen_ai.client.operation.duration", unit="s", description="GenAI operation duration."
        )

    def start(self, req: ChatRequest, stream: bool, record_content: bool) -> Any:
        """Start the span of one attempt."""
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
        if span is None:
            return
        recording = span.is_recording()  # without the OpenTelemetry SDK, skip the no-op attribute calls
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
            self.tokens.record(response.usage.input_tokens, {**metric_attrs, "gen_ai.token.type": "input"})
            self.tokens.record(response.usage.output_tokens, {**metric_attrs, "gen_ai.token.type": "output"})
        if error is not None:
            error_type = str(getattr(error, "status_code", "")) or type(error).__name__
            if recording:
                span.set_attribute("error.type", error_type)
                span.set_status(self.trace.StatusCode.ERROR, type(error).__name__)
            metric_attrs["error.type"] = error_type
        self.duration.record(time.perf_counter() - start, metric_attrs)
        span.end()
