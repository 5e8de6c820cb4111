"""Benchmark of atriumn-core's transports against the clients they send with and the floors below them.

Every case sends ``POST /v1/things`` with a small JSON body and decodes the JSON answer; ours run with the
full default policies (an API key, retries with an Idempotency-Key, the circuit breaker, rate accounting,
OpenTelemetry API only unless the row says SDK). Floors: ``http.client`` (sync) and bare ``aiohttp`` (async);
bare httpx2 is the default backend's own ceiling. Streams: ``GET /stream`` (50 server-sent events) read line by
line with ``json.loads`` per event.

Rounds are interleaved (every case once per round, in turn); each round's rate of a case is divided by the
floor's rate in the same round, and the table gives the median rate, the client CPU per request, and the median
ratio with its range over the rounds (so machine noise shows, instead of hiding in one figure). The CPU ratio
(the floor's client CPU per request over the case's) is the steadier figure on a shared machine: other
processes stretch wall time, far less the CPU a request costs. The server runs
in its own process pinned to its own core.

    python tests/benchmarks/bench_core.py [--rounds 7] [--requests 1500] [--streams 200]

Prints a markdown section (``nox -s bench`` collects it into docs/benchmarks.md).
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).parent))

import aiohttp
import httpx2
from _server import bench_server

from atriumn.core import RAW, ApiKey, AsyncTransport, Operation, Transport, _telemetry

BODY = {"model": "m", "input": "hello there world", "n": 1}
OP = Operation(method="POST", path="/v1/things", json=BODY, response_type=RAW, span_name="bench.post")
STREAM_OP = Operation(method="GET", path="/stream", stream=True, span_name="bench.stream")
HEADERS = {"authorization": "Bearer bench-key", "content-type": "application/json"}


def _sdk_instruments() -> _telemetry.Instruments:
    """Instruments backed by the OpenTelemetry SDK with in-memory exporters (without touching globals)."""
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    class Recording(_telemetry.Instruments):
        def tracing(self) -> bool:
            return True

        def metering(self) -> bool:
            return True

    inst = Recording()
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


def _lines(line: str) -> None:
    """What every stream case does with a line: parse the event's JSON."""
    if line.startswith("data: ") and not line.startswith("data: [DONE]"):
        json.loads(line[6:])


def _byte_lines(line: bytes) -> None:
    """:func:`_lines` for the clients that give bytes."""
    if line.startswith(b"data: ") and not line.startswith(b"data: [DONE]"):
        json.loads(line[6:])


# --- the cases -------------------------------------------------------------------------------------------------


def sync_cases(url: str) -> dict[str, Callable[[int], None]]:
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port)
    bare = httpx2.Client()
    transport = Transport(url, credentials=ApiKey("bench-key"))

    def run_http_client(n: int) -> None:
        for _ in range(n):
            conn.request("POST", "/v1/things", body=json.dumps(BODY).encode(), headers=HEADERS)
            json.loads(conn.getresponse().read())

    def run_bare(n: int) -> None:
        for _ in range(n):
            json.loads(bare.post(url + "/v1/things", content=json.dumps(BODY).encode(), headers=HEADERS).content)

    def run_transport(n: int) -> None:
        for _ in range(n):
            transport.send(OP)

    cases: dict[str, Callable[[int], None]] = {
        "http.client (floor)": run_http_client,
        "bare httpx2.Client": run_bare,
        "Transport (OTel API only)": run_transport,
        "Transport (OTel SDK, in-memory)": run_transport,
    }
    try:
        import openai

        oa = openai.OpenAI(base_url=url + "/v1", api_key="bench-key", max_retries=0)
        cases["openai SDK"] = lambda n: [oa.post("/things", body=BODY, cast_to=object) for _ in range(n)] and None
    except ImportError:
        pass
    try:
        import anthropic

        an = anthropic.Anthropic(base_url=url, api_key="bench-key", max_retries=0)
        cases["anthropic SDK"] = lambda n: [an.post("/v1/things", body=BODY, cast_to=object) for _ in range(n)] and None
    except ImportError:
        pass
    return cases


def sync_stream_cases(url: str) -> dict[str, Callable[[int], None]]:
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port)
    transport = Transport(url, credentials=ApiKey("bench-key"))
    bare = httpx2.Client()

    def run_http_client(n: int) -> None:
        for _ in range(n):
            conn.request("GET", "/stream", headers=HEADERS)
            for line in conn.getresponse():
                _byte_lines(line)

    def run_bare(n: int) -> None:
        for _ in range(n):
            with bare.stream("GET", url + "/stream", headers=HEADERS) as r:
                for line in r.iter_lines():
                    _lines(line)

    def run_transport(n: int) -> None:
        for _ in range(n):
            with transport.stream(STREAM_OP) as r:
                for line in r.iter_lines():
                    _lines(line)

    return {
        "http.client (floor)": run_http_client,
        "bare httpx2.Client": run_bare,
        "Transport (OTel API only)": run_transport,
    }


def _once(state: dict[str, Any], key: str, make: Callable[[], Any]) -> Any:
    """The client ``key`` of this event loop, made on first use."""
    if key not in state:
        state[key] = make()
    return state[key]


async def _fan(n: int, c: int, one: Callable[[], Any]) -> None:
    per = n // c

    async def worker() -> None:
        for _ in range(per):
            await one()

    await asyncio.gather(*(worker() for _ in range(c)))


def async_cases(url: str, state: dict[str, Any]) -> dict[str, Callable[[int, int], Any]]:
    """Clients are bound to the event loop they first ran on: each ``asyncio.run`` starts with fresh ones."""

    def transport(backend: str) -> AsyncTransport:
        return _once(state, backend, lambda: AsyncTransport(url, credentials=ApiKey("bench-key"), backend=backend))

    async def bare_aiohttp(n: int, c: int) -> None:
        session = _once(state, "aiohttp-bare", lambda: aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=100)))

        async def one() -> None:
            async with session.post(url + "/v1/things", data=json.dumps(BODY).encode(), headers=HEADERS) as r:
                json.loads(await r.read())

        await _fan(n, c, one)

    async def bare_httpx(n: int, c: int) -> None:
        client = _once(state, "httpx2-bare", lambda: httpx2.AsyncClient(limits=httpx2.Limits(max_connections=100)))

        async def one() -> None:
            json.loads(
                (await client.post(url + "/v1/things", content=json.dumps(BODY).encode(), headers=HEADERS)).content
            )

        await _fan(n, c, one)

    async def ours_aiohttp(n: int, c: int) -> None:
        t = transport("aiohttp")
        await _fan(n, c, lambda: t.send(OP))

    async def ours_httpx(n: int, c: int) -> None:
        t = transport("httpx2")
        await _fan(n, c, lambda: t.send(OP))

    cases: dict[str, Callable[[int, int], Any]] = {
        "bare aiohttp (floor)": bare_aiohttp,
        "bare httpx2.AsyncClient": bare_httpx,
        "AsyncTransport, aiohttp (OTel API only)": ours_aiohttp,
        "AsyncTransport, aiohttp (OTel SDK, in-memory)": ours_aiohttp,
        "AsyncTransport, httpx2 (OTel API only)": ours_httpx,
        "AsyncTransport, httpx2 (OTel SDK, in-memory)": ours_httpx,
    }
    try:
        import openai

        async def oa(n: int, c: int) -> None:
            client = _once(state, "oa", lambda: openai.AsyncOpenAI(base_url=url + "/v1", api_key="k", max_retries=0))
            await _fan(n, c, lambda: client.post("/things", body=BODY, cast_to=object))

        cases["openai SDK (async)"] = oa
    except ImportError:
        pass
    try:
        import anthropic

        async def an(n: int, c: int) -> None:
            client = _once(state, "an", lambda: anthropic.AsyncAnthropic(base_url=url, api_key="k", max_retries=0))
            await _fan(n, c, lambda: client.post("/v1/things", body=BODY, cast_to=object))

        cases["anthropic SDK (async)"] = an
    except ImportError:
        pass
    return cases


def async_stream_cases(url: str, state: dict[str, Any]) -> dict[str, Callable[[int, int], Any]]:
    def transport(backend: str) -> AsyncTransport:
        return _once(state, backend, lambda: AsyncTransport(url, credentials=ApiKey("bench-key"), backend=backend))

    async def bare_aiohttp(n: int, c: int) -> None:
        session = _once(state, "aiohttp-bare", lambda: aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=100)))

        async def one() -> None:
            async with session.get(url + "/stream", headers=HEADERS) as r:
                async for line in r.content:
                    _byte_lines(line)

        await _fan(n, c, one)

    async def bare_httpx(n: int, c: int) -> None:
        client = _once(state, "httpx2-bare", lambda: httpx2.AsyncClient(limits=httpx2.Limits(max_connections=100)))

        async def one() -> None:
            async with client.stream("GET", url + "/stream", headers=HEADERS) as r:
                async for line in r.aiter_lines():
                    _lines(line)

        await _fan(n, c, one)

    def ours(backend: str) -> Callable[[int, int], Any]:
        async def run(n: int, c: int) -> None:
            t = transport(backend)

            async def one() -> None:
                async with t.stream(STREAM_OP) as r:
                    async for line in r.aiter_lines():
                        _lines(line)

            await _fan(n, c, one)

        return run

    return {
        "bare aiohttp (floor)": bare_aiohttp,
        "bare httpx2.AsyncClient": bare_httpx,
        "AsyncTransport, aiohttp (OTel API only)": ours("aiohttp"),
        "AsyncTransport, httpx2 (OTel API only)": ours("httpx2"),
    }


# --- measuring ----------------------------------------------------------------------------------------------------


class Results:
    """Per case: rates (per second) and client CPU (µs per request) of each round, in run order."""

    def __init__(self) -> None:
        self.rows: dict[tuple[str, str], tuple[list[float], list[float]]] = {}

    def add(self, mode: str, name: str, count: int, wall: float, cpu: float) -> None:
        rates, cpus = self.rows.setdefault((mode, name), ([], []))
        rates.append(count / wall)
        cpus.append(cpu / count * 1e6)

    def table(self) -> list[str]:
        lines = [
            "| mode | client | per s | client CPU µs | ratio to floor (range) | CPU ratio to floor (range) "
            "| ratio to bare httpx2 |",
            "|---|---|---:|---:|---:|---:|---:|",
        ]
        for (mode, name), (rates, cpus) in self.rows.items():
            floor, floor_cpu = next(v for (m, n), v in self.rows.items() if m == mode and "(floor)" in n)
            httpx = next((r for (m, n), (r, _) in self.rows.items() if m == mode and n.startswith("bare httpx2")), None)
            ratios = [a / b for a, b in zip(rates, floor, strict=True)]
            cpu_ratios = [b / a for a, b in zip(cpus, floor_cpu, strict=True)]
            to_httpx = statistics.median(a / b for a, b in zip(rates, httpx, strict=True)) if httpx else None
            lines.append(
                f"| {mode} | {name} | {statistics.median(rates):,.0f} | {statistics.median(cpus):,.0f} | "
                f"{_ratio(ratios)} | {_ratio(cpu_ratios)} | {f'{to_httpx:.2f}×' if to_httpx else ''} |"
            )
        return lines

    def ratios(self, mode: str, name: str, to: str = "(floor)") -> tuple[list[float], list[float]]:
        """Per-round throughput and CPU ratios of a case to another case (the floor by default) of its mode."""
        rates, cpus = self.rows[(mode, name)]
        base, base_cpu = next(v for (m, n), v in self.rows.items() if m == mode and to in n)
        return (
            [a / b for a, b in zip(rates, base, strict=True)],
            [b / a for a, b in zip(cpus, base_cpu, strict=True)],
        )

    def targets(self) -> list[str]:
        """The issue's targets, each with what this run measured."""
        wanted = [
            ("async, c=64", "AsyncTransport, aiohttp (OTel API only)", "(floor)", 0.7),
            ("async, c=8", "AsyncTransport, aiohttp (OTel API only)", "(floor)", 0.7),
            ("async stream, c=64", "AsyncTransport, aiohttp (OTel API only)", "(floor)", 0.6),
            ("async stream, c=8", "AsyncTransport, aiohttp (OTel API only)", "(floor)", 0.6),
            ("sync, sequential", "Transport (OTel API only)", "bare httpx2", 1.0),
            ("async, c=64", "AsyncTransport, httpx2 (OTel API only)", "bare httpx2", 1.0),
            ("async, c=8", "AsyncTransport, httpx2 (OTel API only)", "bare httpx2", 1.0),
        ]
        lines = [
            "| mode | client | against | target | throughput ratio (range) | CPU ratio (range) |",
            "|---|---|---|---:|---:|---:|",
        ]
        for mode, name, to, target in wanted:
            if (mode, name) not in self.rows:
                continue
            rates, cpus = self.ratios(mode, name, to)
            against = "bare aiohttp" if "async" in mode and to == "(floor)" else to
            lines.append(f"| {mode} | {name} | {against} | ≥ {target:.1f}× | {_ratio(rates)} | {_ratio(cpus)} |")
        return lines


def _ratio(values: list[float]) -> str:
    """The median and the range of per-round ratios."""
    return f"{statistics.median(values):.2f}× ({min(values):.2f}–{max(values):.2f})"


def _timed(fn: Callable[[], Any]) -> tuple[float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - wall, time.process_time() - cpu


def run_sync(mode: str, cases: dict[str, Callable[[int], None]], count: int, rounds: int, inst: Instrumented,
             results: Results) -> None:  # fmt: skip
    for fn in cases.values():  # warm up pools and code paths
        inst.use(False)
        fn(max(5, count // 30))
    for _ in range(rounds):
        for name, fn in cases.items():
            inst.use("SDK" in name)
            wall, cpu = _timed(lambda fn=fn: fn(count))  # type: ignore[misc]
            results.add(mode, name, count, wall, cpu)
    inst.use(False)


def run_async(mode: str, make: Callable[[dict[str, Any]], dict[str, Callable[[int, int], Any]]], conc: int,
              count: int, rounds: int, inst: Instrumented, results: Results) -> None:  # fmt: skip
    async def main() -> None:
        state: dict[str, Any] = {}
        cases = make(state)
        n = max(conc, (count // conc) * conc)
        for fn in cases.values():
            await fn(conc * 2, conc)
        for _ in range(rounds):
            for name, fn in cases.items():
                inst.use("SDK" in name)
                wall, cpu = time.perf_counter(), time.process_time()
                await fn(n, conc)
                results.add(mode, name, n, time.perf_counter() - wall, time.process_time() - cpu)
        for client in state.values():
            await (client.aclose() if hasattr(client, "aclose") else client.close())

    asyncio.run(main())
    inst.use(False)


def import_times(runs: int = 11) -> dict[str, Any]:
    """Median wall time of ``import X`` in fresh processes (ms), interleaved."""
    code = "import time; t = time.perf_counter(); import {m}; print((time.perf_counter() - t) * 1000)"
    samples: dict[str, list[float]] = {"httpx2": [], "atriumn.core": []}
    for _ in range(runs):
        for module in samples:
            out = subprocess.run(
                [sys.executable, "-c", code.format(m=module)], capture_output=True, text=True, check=True
            )
            samples[module].append(float(out.stdout.strip()))
    check = (
        "import sys, atriumn.core; "
        "print(','.join(m for m in sys.modules if m.startswith(('keyring', 'opentelemetry', 'aiohttp'))))"
    )
    leaked = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True, check=True).stdout.strip()
    result: dict[str, Any] = {k: statistics.median(v) for k, v in samples.items()}
    result["leaks"] = leaked
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--requests", type=int, default=1500)
    parser.add_argument("--streams", type=int, default=200)
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity") and (os.cpu_count() or 1) > 1:
        os.sched_setaffinity(0, {0})
    inst = Instrumented()
    results = Results()
    with bench_server(cpu=1) as url:
        run_sync("sync, sequential", sync_cases(url), args.requests, args.rounds, inst, results)
        for conc in (8, 64):
            run_async(f"async, c={conc}", lambda state: async_cases(url, state), conc, args.requests, args.rounds,
                      inst, results)  # fmt: skip
        run_sync("sync stream, sequential", sync_stream_cases(url), args.streams // 2, args.rounds, inst, results)
        for conc in (8, 64):
            run_async(f"async stream, c={conc}", lambda state: async_stream_cases(url, state), conc, args.streams,
                      args.rounds, inst, results)  # fmt: skip
    imports = import_times()
    print("## Core transport\n")
    print(
        f"Server: minimal asyncio HTTP/1.1 keep-alive server in its own process pinned to CPU 1; client pinned to "
        f"CPU 0. Requests: `POST` + JSON body, JSON answer decoded; ours with an API key, retries (so an "
        f"Idempotency-Key), the circuit breaker and stats. Streams: 50 server-sent events read line by line, "
        f"`json.loads` per event. {args.rounds} interleaved rounds of {args.requests} requests ({args.streams} "
        f"streams; sync streams {args.streams // 2}) per case; medians, and the range of the per-round ratio. "
        f"Python {sys.version.split()[0]}, httpx2 {httpx2.__version__}, aiohttp {aiohttp.__version__}.\n"
    )
    print("\n".join(results.table()))
    print("\nThe targets of issue #19, as this run measured them:\n")
    print("\n".join(results.targets()))
    ratio = imports["atriumn.core"] / imports["httpx2"]
    print(
        f"\nImport time (fresh processes, median of 11): `import httpx2` {imports['httpx2']:.1f} ms, "
        f"`import atriumn.core` {imports['atriumn.core']:.1f} ms — {ratio:.2f}× (target ≤ 1.3×). "
        f"Modules from keyring / opentelemetry / aiohttp imported by `import atriumn.core`: "
        f"{imports['leaks'] or 'none'}.\n"
    )


if __name__ == "__main__":
    main()
