"""Benchmark of atriumn-core's Transport against a bare httpx2 client and the official SDKs, in one run.

Rounds are interleaved (every case runs once per round, in turn) and medians are reported, so machine
noise hits every case alike. The server runs in its own process pinned to its own core.

    python tests/benchmarks/bench_core.py [--rounds 5] [--requests 1500]

Prints a markdown section (``nox -s bench`` collects it into docs/benchmarks.md).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))

import httpx2
from _server import bench_server

from atriumn.core import (
    RAW,
    AsyncTransport,
    Operation,
    StaticToken,
    Transport,
    _telemetry,
)

OP = Operation(method="GET", path="/v1/models/m", response_type=RAW, span_name="bench.get")


def _sdk_instruments() -> _telemetry.Instruments:
    """Instruments backed by the OpenTelemetry SDK with in-memory exporters (without touching globals)."""
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    inst = _telemetry.Instruments()
    tp = TracerProvider()
    exporter = InMemorySpanExporter()
    tp.add_span_processor(SimpleSpanProcessor(exporter))
    inst.tracer = tp.get_tracer("atriumn.core")
    meter = MeterProvider(metric_readers=[InMemoryMetricReader()]).get_meter("atriumn.core")
    inst.duration = meter.create_histogram("http.client.request.duration", unit="s")
    inst.retries = meter.create_counter("atriumn.client.retries")
    inst.breaker_openings = meter.create_counter("atriumn.client.circuit_breaker.openings")
    inst.token_refreshes = meter.create_counter("atriumn.client.token.refreshes")
    inst._exporter = exporter  # type: ignore[attr-defined]
    return inst


class Instrumented:
    """Swap the process's instruments for the SDK-backed ones while a case runs."""

    def __init__(self) -> None:
        self.api = _telemetry.instruments()
        self.sdk = _sdk_instruments()

    def use(self, sdk: bool) -> None:
        _telemetry._instruments = self.sdk if sdk else self.api
        if sdk:
            self.sdk._exporter.clear()  # type: ignore[attr-defined]


def sync_cases(url: str) -> dict[str, Callable[[int], None]]:
    bare = httpx2.Client(base_url=url)
    transport = Transport(url, credentials=StaticToken("bench-token"))
    cases: dict[str, Callable[[int], None]] = {}

    def run_bare(n: int) -> None:
        for _ in range(n):
            bare.get("/v1/models/m").json()

    def run_transport(n: int) -> None:
        for _ in range(n):
            transport.send(OP)

    cases["bare httpx2.Client"] = run_bare
    cases["Transport (OTel API only)"] = run_transport
    cases["Transport (OTel SDK, in-memory)"] = run_transport
    try:
        import openai

        oa = openai.OpenAI(base_url=url + "/v1", api_key="bench-key", max_retries=0)
        cases["openai SDK"] = lambda n: [oa.models.retrieve("m") for _ in range(n)] and None
    except ImportError:
        pass
    try:
        import anthropic

        an = anthropic.Anthropic(base_url=url, api_key="bench-key", max_retries=0)
        cases["anthropic SDK"] = lambda n: [an.models.retrieve("m") for _ in range(n)] and None
    except ImportError:
        pass
    return cases


def async_cases(url: str) -> tuple[dict[str, Callable[[int, int], Any]], dict[str, Any]]:
    cases: dict[str, Callable[[int, int], Any]] = {}
    # Clients are bound to the event loop they first ran on: each asyncio.run starts with fresh ones.
    state: dict[str, Any] = {}

    async def fan(n: int, c: int, one: Callable[[], Any]) -> None:
        per = n // c

        async def worker() -> None:
            for _ in range(per):
                await one()

        await asyncio.gather(*(worker() for _ in range(c)))

    async def bare(n: int, c: int) -> None:
        client = state.setdefault("bare", httpx2.AsyncClient(base_url=url, limits=httpx2.Limits(max_connections=100)))

        async def one() -> None:
            (await client.get("/v1/models/m")).json()

        await fan(n, c, one)

    async def transport(n: int, c: int) -> None:
        t = state.setdefault("t", AsyncTransport(url, credentials=StaticToken("bench-token")))
        await fan(n, c, lambda: t.send(OP))

    cases["bare httpx2.AsyncClient"] = bare
    cases["AsyncTransport (OTel API only)"] = transport
    cases["AsyncTransport (OTel SDK, in-memory)"] = transport
    try:
        import openai

        async def oa(n: int, c: int) -> None:
            client = state.setdefault("oa", openai.AsyncOpenAI(base_url=url + "/v1", api_key="k", max_retries=0))
            await fan(n, c, lambda: client.models.retrieve("m"))

        cases["openai SDK (async)"] = oa
    except ImportError:
        pass
    try:
        import anthropic

        async def an(n: int, c: int) -> None:
            client = state.setdefault("an", anthropic.AsyncAnthropic(base_url=url, api_key="k", max_retries=0))
            await fan(n, c, lambda: client.models.retrieve("m"))

        cases["anthropic SDK (async)"] = an
    except ImportError:
        pass
    return cases, state


def import_times(runs: int = 11) -> dict[str, float]:
    """Median wall time of ``import X`` in fresh processes (ms), interleaved."""
    code = "import time; t = time.perf_counter(); import {m}; print((time.perf_counter() - t) * 1000)"
    samples: dict[str, list[float]] = {"httpx2": [], "atriumn.core": []}
    leaks: list[str] = []
    for _ in range(runs):
        for module in samples:
            out = subprocess.run(
                [sys.executable, "-c", code.format(m=module)], capture_output=True, text=True, check=True
            )
            samples[module].append(float(out.stdout.strip()))
    check = (
        "import sys, atriumn.core; "
        "print(','.join(m for m in sys.modules if m.startswith(('keyring', 'opentelemetry'))))"
    )
    leaked = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True, check=True).stdout.strip()
    if leaked:
        leaks.append(leaked)
    result = {k: statistics.median(v) for k, v in samples.items()}
    result["leaks"] = leaks  # type: ignore[assignment]
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--requests", type=int, default=1500)
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity") and (os.cpu_count() or 1) > 1:
        os.sched_setaffinity(0, {0})
    inst = Instrumented()
    rows: list[tuple[str, str, float]] = []
    with bench_server(cpu=1) as url:
        sync = sync_cases(url)
        for fn in sync.values():  # warm up pools and code paths
            inst.use(False)
            fn(50)
        results: dict[str, list[float]] = {name: [] for name in sync}
        for _ in range(args.rounds):
            for name, fn in sync.items():
                inst.use("SDK" in name)
                t = time.perf_counter()
                fn(args.requests)
                results[name].append(args.requests / (time.perf_counter() - t))
        inst.use(False)
        for name, vals in results.items():
            rows.append(("sync, sequential", name, statistics.median(vals)))

        for conc in (8, 64):
            acases, astate = async_cases(url)
            aresults: dict[str, list[float]] = {name: [] for name in acases}

            async def run_all(
                conc: int = conc,
                aresults: dict[str, list[float]] = aresults,
                acases: Any = acases,
                astate: Any = astate,
            ) -> None:
                for fn in acases.values():
                    await fn(conc * 4, conc)
                for _ in range(args.rounds):
                    for name, fn in acases.items():
                        inst.use("SDK" in name)
                        n = (args.requests // conc) * conc
                        t = time.perf_counter()
                        await fn(n, conc)
                        aresults[name].append(n / (time.perf_counter() - t))
                for client in astate.values():
                    await (client.aclose() if hasattr(client, "aclose") else client.close())

            asyncio.run(run_all())
            inst.use(False)
            for name, vals in aresults.items():
                rows.append((f"async, c={conc}", name, statistics.median(vals)))

    imports = import_times()
    print("## Core transport\n")
    print(
        f"Server: minimal asyncio HTTP/1.1 keep-alive server in its own process pinned to CPU 1; client pinned "
        f"to CPU 0. {args.rounds} interleaved rounds of {args.requests} requests per case; medians. "
        f"Python {sys.version.split()[0]}, httpx2 {httpx2.__version__}.\n"
    )
    print("| mode | client | req/s | µs/request | ratio to bare |")
    print("|---|---|---:|---:|---:|")
    bare_by_mode = {mode: rps for mode, name, rps in rows if name.startswith("bare")}
    for mode, name, rps in rows:
        print(f"| {mode} | {name} | {rps:,.0f} | {1e6 / rps:,.0f} | {rps / bare_by_mode[mode]:.2f}× |")
    ratio = imports["atriumn.core"] / imports["httpx2"]
    print(
        f"\nImport time (fresh processes, median of 11): `import httpx2` {imports['httpx2']:.1f} ms, "
        f"`import atriumn.core` {imports['atriumn.core']:.1f} ms — {ratio:.2f}× (target ≤ 1.3×). "
        f"Modules from keyring / opentelemetry imported by `import atriumn.core`: "
        f"{', '.join(imports['leaks']) or 'none'}.\n"  # type: ignore[arg-type]
    )


if __name__ == "__main__":
    main()
