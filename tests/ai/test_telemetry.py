"""OpenTelemetry GenAI spans and metrics; prompt and completion text only when opted in."""

from __future__ import annotations

from typing import Any

import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from atriumn.ai import ChatClient
from atriumn.core import RateLimitError


@pytest.fixture
def otel() -> tuple[InMemorySpanExporter, InMemoryMetricReader, dict[str, Any]]:
    exporter = InMemorySpanExporter()
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(exporter))
    reader = InMemoryMetricReader()
    return (
        exporter,
        reader,
        {"tracer_provider": tracer_provider, "meter_provider": MeterProvider(metric_readers=[reader])},
    )


def _metrics(reader: InMemoryMetricReader) -> dict[str, list[Any]]:
    out: dict[str, list[Any]] = {}
    data = reader.get_metrics_data()
    assert data is not None
    for rm in data.resource_metrics:
        for sm in rm.scope_metrics:
            for m in sm.metrics:
                out.setdefault(m.name, []).extend(m.data.data_points)
    return out


def test_chat_span_attributes_and_metrics(env: dict[str, str], otel: Any) -> None:
    exporter, reader, providers = otel
    with ChatClient(max_retries=0, **providers) as client:
        client.chat("anthropic:echo", "secret prompt words", max_tokens=20)
        with client.stream("gemini:echo", "streamed prompt") as s:
            s.final_response()
        with pytest.raises(RateLimitError):
            client.chat("openai:error-429", "x")
    assert sorted(s.name for s in exporter.get_finished_spans()) == ["chat echo", "chat echo", "chat error-429"]
    first = next(s for s in exporter.get_finished_spans() if s.attributes["gen_ai.provider.name"] == "anthropic")
    attrs = dict(first.attributes)
    assert attrs["gen_ai.operation.name"] == "chat"
    assert attrs["gen_ai.request.model"] == "echo"
    assert attrs["gen_ai.response.model"] == "echo"
    assert attrs["gen_ai.request.max_tokens"] == 20
    assert attrs["gen_ai.usage.input_tokens"] == 3
    assert attrs["gen_ai.usage.output_tokens"] == 3
    assert tuple(attrs["gen_ai.response.finish_reasons"]) == ("stop",)
    assert not any("secret" in str(v) for v in attrs.values())
    assert "gen_ai.input.messages" not in attrs
    gemini = next(s for s in exporter.get_finished_spans() if s.attributes["gen_ai.provider.name"] == "gcp.gemini")
    assert gemini.attributes["gen_ai.usage.output_tokens"] == 2
    failed = next(s for s in exporter.get_finished_spans() if s.attributes["gen_ai.request.model"] == "error-429")
    assert failed.attributes["error.type"] == "429"
    assert not failed.status.is_ok
    metrics = _metrics(reader)
    tokens = metrics["gen_ai.client.token.usage"]
    assert sorted(
        (p.attributes["gen_ai.token.type"], p.sum)
        for p in tokens
        if p.attributes["gen_ai.provider.name"] == "anthropic"
    ) == [
        ("input", 3),
        ("output", 3),
    ]
    durations = metrics["gen_ai.client.operation.duration"]
    assert sum(p.count for p in durations) == 3
    assert any(p.attributes.get("error.type") == "429" for p in durations)


def test_content_recorded_only_when_opted_in(env: dict[str, str], otel: Any) -> None:
    exporter, _, providers = otel
    with ChatClient(record_content=True, **providers) as client:
        client.chat("openai:echo", "visible prompt", system="sys")
    (span,) = exporter.get_finished_spans()
    assert "visible prompt" in span.attributes["gen_ai.input.messages"]
    assert "visible prompt" in span.attributes["gen_ai.output.messages"]
    assert "sys" in span.attributes["gen_ai.system_instructions"]


def test_core_http_spans_nest_under_the_chat_span(env: dict[str, str]) -> None:
    from opentelemetry import trace

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    original = trace._TRACER_PROVIDER  # type: ignore[attr-defined]
    trace._TRACER_PROVIDER = provider  # type: ignore[attr-defined]  # core's spans use the global provider
    try:
        import atriumn.core._telemetry as core_telemetry

        saved = core_telemetry._instruments
        core_telemetry._instruments = None
        try:
            with ChatClient(tracer_provider=provider) as client:
                client.chat("groq:echo", "x")
        finally:
            core_telemetry._instruments = saved
    finally:
        trace._TRACER_PROVIDER = original  # type: ignore[attr-defined]
    spans = {s.name: s for s in exporter.get_finished_spans()}
    chat = spans["chat echo"]
    op = spans["groq.chat"]
    http = spans["POST"]
    assert op.parent is not None
    assert op.parent.span_id == chat.context.span_id
    assert http.parent is not None
    assert http.parent.span_id == op.context.span_id


def test_the_global_sdk_provider_is_used_and_without_one_no_span_work_is_done(env: dict[str, str]) -> None:
    from opentelemetry import trace

    import atriumn.core._telemetry as core_telemetry

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    original, saved = trace._TRACER_PROVIDER, core_telemetry._instruments  # type: ignore[attr-defined]
    try:
        trace._TRACER_PROVIDER = None  # type: ignore[attr-defined]  # no SDK installed globally, none given
        core_telemetry._instruments = None
        with ChatClient() as client:
            assert client._engine.telemetry().tracing() is False
            client.chat("openai:echo", "x")
        trace._TRACER_PROVIDER = provider  # type: ignore[attr-defined]
        core_telemetry._instruments = None
        with ChatClient() as client:
            client.chat("openai:echo", "x")
    finally:
        trace._TRACER_PROVIDER = original  # type: ignore[attr-defined]
        core_telemetry._instruments = saved
    assert "chat echo" in {s.name for s in exporter.get_finished_spans()}
