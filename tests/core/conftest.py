"""Fixtures of the core tests: fault servers, OpenTelemetry in-memory exporters, keyring backends."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.faultserver import FaultServer
from tests.keyring_memory import BrokenKeyring, MemoryKeyring


@pytest.fixture
def srv() -> Iterator[FaultServer]:
    """A fault server on loopback; it must end the test without internal errors."""
    with FaultServer() as server:
        yield server
        assert server.errors == []


@pytest.fixture
def srv2() -> Iterator[FaultServer]:
    """A second fault server: another origin."""
    with FaultServer() as server:
        yield server
        assert server.errors == []


@pytest.fixture(params=["httpx2", "aiohttp"])
def async_backend(request: pytest.FixtureRequest) -> str:
    """Each backend of the async transport, in turn (``AsyncTransport(..., backend=async_backend)``)."""
    return str(request.param)


# --- OpenTelemetry ----------------------------------------------------------------------------------------


@dataclasses.dataclass
class Otel:
    spans: Any  # InMemorySpanExporter
    metrics: Any  # InMemoryMetricReader, or None when another meter provider was installed first

    def finished(self) -> list[Any]:
        return list(self.spans.get_finished_spans())

    def histogram_points(self, name: str, **attrs: Any) -> list[Any]:
        """Data points of histogram ``name`` whose attributes include ``attrs``."""
        if self.metrics is None:
            pytest.skip("another test installed the global MeterProvider without our reader")
        data = self.metrics.get_metrics_data()
        points = []
        for rm in data.resource_metrics if data else []:
            for sm in rm.scope_metrics:
                for metric in sm.metrics:
                    if metric.name != name:
                        continue
                    for point in metric.data.data_points:
                        if all(point.attributes.get(k) == v for k, v in attrs.items()):
                            points.append(point)
        return points


@pytest.fixture(scope="session")
def otel_session() -> Otel:
    """The OpenTelemetry SDK on the global providers, once per process (the API allows setting them once).

    If another test already installed an SDK ``TracerProvider`` it is reused (our exporter is added to it).
    """
    from opentelemetry import metrics, trace
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    if not isinstance(trace.get_tracer_provider(), TracerProvider):
        trace.set_tracer_provider(TracerProvider())
    provider = trace.get_tracer_provider()
    assert isinstance(provider, TracerProvider)
    exporter = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(exporter))

    reader = None
    if not isinstance(metrics.get_meter_provider(), MeterProvider):
        reader = InMemoryMetricReader()
        metrics.set_meter_provider(MeterProvider(metric_readers=[reader]))
    return Otel(spans=exporter, metrics=reader)


@pytest.fixture
def otel(otel_session: Otel) -> Iterator[Otel]:
    """The session's exporters, emptied for this test."""
    otel_session.spans.clear()
    yield otel_session
    otel_session.spans.clear()


# --- keyring ----------------------------------------------------------------------------------------------


def _swap_keyring(backend: Any) -> Iterator[Any]:
    import keyring

    previous = keyring.get_keyring()
    keyring.set_keyring(backend)
    try:
        yield backend
    finally:
        keyring.set_keyring(previous)


@pytest.fixture
def memory_keyring() -> Iterator[MemoryKeyring]:
    """A working in-memory keyring backend for this test."""
    yield from _swap_keyring(MemoryKeyring())


@pytest.fixture
def broken_keyring() -> Iterator[BrokenKeyring]:
    """A backend that fails on every call."""
    yield from _swap_keyring(BrokenKeyring())


@pytest.fixture
def fail_keyring() -> Iterator[Any]:
    """keyring's own "no backend" backend (what a headless server gets)."""
    from keyring.backends.fail import Keyring

    yield from _swap_keyring(Keyring())


@pytest.fixture
def plaintext_keyring(tmp_path: Path) -> Iterator[Any]:
    """``keyrings.alt``'s PlaintextKeyring writing to a file in a temporary directory."""
    from keyrings.alt.file import PlaintextKeyring

    backend = PlaintextKeyring()
    backend.file_path = str(tmp_path / "keyring_pass.cfg")
    yield from _swap_keyring(backend)
