"""Benchmark of atriumn-ai's chat client against a bare httpx2 floor and the official SDKs, in one run.

Cases, each sync and async: a non-streamed chat (calls/s) and consuming a 50- and a 200-chunk stream
(streams/s), for OpenAI's and Anthropic's wire formats:

- ``floor``: a bare ``httpx2`` POST with ``json.loads`` (streams: ``iter_lines`` and ``json.loads`` per event);
- ``atriumn``: ``ChatClient.chat`` / ``ChatClient.stream`` (typed events, usage, the final response);
- ``sdk``: the official ``openai`` / ``anthropic`` package.

Then ``AsyncChatClient`` at concurrency 8 and 64 on each backend of the async transport (httpx2, aiohttp), against
a bare aiohttp (the floor) and a bare httpx2 POST + ``json.loads``.

Rounds are interleaved (every case once per round, in turn) and medians reported; many short rounds
rather than a few long ones, so a burst of noise on a shared machine moves one sample, not the result.
The server is a lean asyncio HTTP/1.1 server in its own process (pinned to its own core when there are
two) answering with pre-built bodies, streams as one HTTP chunk per event, so the client side is what is
measured.

    python tests/benchmarks/bench_ai.py [--rounds 15] [--calls 100] [--streams 20]

Prints a markdown section (``nox -s bench`` collects it into docs/benchmarks.md).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import os
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

KEY = "test-bench-key"


# --- the server --------------------------------------------------------------------------------------------


def _http(body: bytes, content_type: bytes, extra: bytes = b"") -> bytes:
    return (
        b"HTTP/1.1 200 OK\r\ncontent-type: " + content_type + b"\r\nx-request-id: bench\r\n" + extra
        + b"content-length: " + str(len(body)).encode() + b"\r\n\r\n" + body
    )  # fmt: skip


# The other headers of a real OpenAI answer (as its API sends them, values made up): with the three above, 22.
OPENAI_HEADERS = b"".join(
    b"%s: %s\r\n" % pair
    for pair in [
        (b"date", b"Mon, 30 Nov 2026 10:00:00 GMT"),
        (b"connection", b"keep-alive"),
        (b"access-control-expose-headers", b"X-Request-ID"),
        (b"openai-organization", b"org-bench"),
        (b"openai-processing-ms", b"412"),
        (b"openai-project", b"proj_bench"),
        (b"openai-version", b"2020-10-01"),
        (b"x-envoy-upstream-service-time", b"415"),
        (b"x-ratelimit-limit-requests", b"10000"),
        (b"x-ratelimit-limit-tokens", b"30000000"),
        (b"x-ratelimit-remaining-requests", b"9999"),
        (b"x-ratelimit-remaining-tokens", b"29999980"),
        (b"x-ratelimit-reset-requests", b"6ms"),
        (b"x-ratelimit-reset-tokens", b"0s"),
        (b"strict-transport-security", b"max-age=31536000; includeSubDomains; preload"),
        (b"cf-cache-status", b"DYNAMIC"),
        (b"set-cookie", b"__cf_bm=bench; path=/; HttpOnly; Secure; SameSite=None"),
        (b"x-content-type-options", b"nosniff"),
        (b"server", b"cloudflare"),
    ]
)


def _chunked(events: list[bytes]) -> bytes:
    out = [
        b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\nx-request-id: bench\r\n"
        b"transfer-encoding: chunked\r\n\r\n"
    ]
    for e in events:
        out.append(f"{len(e):x}\r\n".encode() + e + b"\r\n")
    out.append(b"0\r\n\r\n")
    return b"".join(out)


def _openai_responses() -> dict[bytes, bytes]:
    usage = {"prompt_tokens": 5, "completion_tokens": 3, "total_tokens": 8}
    doc = {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 0,
        "model": "m",
        "choices": [
            {"index": 0, "message": {"role": "assistant", "content": "hello there world"}, "finish_reason": "stop"}
        ],
        "usage": usage,
    }
    out = {
        b"openai": _http(json.dumps(doc).encode(), b"application/json"),
        b"openai-headers": _http(json.dumps(doc).encode(), b"application/json", OPENAI_HEADERS),
    }
    for n in (50, 200):
        base = {"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 0, "model": "m"}
        events = []
        for i in range(n):
            chunk = {**base, "choices": [{"index": 0, "delta": {"content": f" w{i}"}, "finish_reason": None}]}
            events.append(b"data: " + json.dumps(chunk).encode() + b"\n\n")
        events.append(
            b"data: "
            + json.dumps({**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}).encode()
            + b"\n\n"
        )
        events.append(b"data: " + json.dumps({**base, "choices": [], "usage": usage}).encode() + b"\n\n")
        events.append(b"data: [DONE]\n\n")
        out[f"openai{n}".encode()] = _chunked(events)
    return out


def _anthropic_responses() -> dict[bytes, bytes]:
    doc = {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "model": "m",
        "content": [{"type": "text", "text": "hello there world"}],
        "stop_reason": "end_turn",
        "stop_sequence": None,
        "usage": {"input_tokens": 5, "output_tokens": 3},
    }
    out = {b"anthropic": _http(json.dumps(doc).encode(), b"application/json")}
    for n in (50, 200):

        def ev(name: str, d: dict[str, Any]) -> bytes:
            return f"event: {name}\ndata: {json.dumps(d)}\n\n".encode()

        events = [
            ev(
                "message_start",
                {
                    "type": "message_start",
                    "message": {
                        **doc,
                        "content": [],
                        "stop_reason": None,
                        "usage": {"input_tokens": 5, "output_tokens": 1},
                    },
                },
            ),
            ev(
                "content_block_start",
                {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
            ),
        ]
        for i in range(n):
            events.append(
                ev(
                    "content_block_delta",
                    {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": f" w{i}"}},
                )
            )
        events += [
            ev("content_block_stop", {"type": "content_block_stop", "index": 0}),
            ev(
                "message_delta",
                {
                    "type": "message_delta",
                    "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                    "usage": {"output_tokens": n},
                },
            ),
            ev("message_stop", {"type": "message_stop"}),
        ]
        out[f"anthropic{n}".encode()] = _chunked(events)
    return out


def _gemini_responses() -> dict[bytes, bytes]:
    usage = {"promptTokenCount": 5, "candidatesTokenCount": 3, "totalTokenCount": 8}

    def doc(text: str, finish: str | None) -> dict[str, Any]:
        candidate: dict[str, Any] = {"content": {"role": "model", "parts": [{"text": text}]}, "index": 0}
        if finish:
            candidate["finishReason"] = finish
        return {"candidates": [candidate], "usageMetadata": usage, "modelVersion": "m", "responseId": "r1"}

    out = {b"gemini": _http(json.dumps(doc("hello there world", "STOP")).encode(), b"application/json")}
    for n in (50, 200):
        events = [b"data: " + json.dumps(doc(f" w{i}", None)).encode() + b"\r\n\r\n" for i in range(n - 1)]
        events.append(b"data: " + json.dumps(doc(f" w{n - 1}", "STOP")).encode() + b"\r\n\r\n")
        out[f"gemini{n}".encode()] = _chunked(events)
    return out


RESPONSES = {**_openai_responses(), **_anthropic_responses(), **_gemini_responses()}


class _Proto(asyncio.Protocol):
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport
        self.buf = b""

    def data_received(self, data: bytes) -> None:
        self.buf += data
        while True:
            end = self.buf.find(b"\r\n\r\n")
            if end < 0:
                return
            head = self.buf[:end].lower()
            length = 0
            i = head.find(b"content-length:")
            if i >= 0:
                length = int(head[i + 15 :].split(b"\r\n", 1)[0])
            total = end + 4 + length
            if len(self.buf) < total:
                return
            body = self.buf[end + 4 : total]
            self.buf = self.buf[total:]
            line = head[:200]
            if b":streamgeneratecontent" in line:
                kind = b"gemini200" if b"chunks-200" in line else b"gemini50"
            elif b":generatecontent" in line:
                kind = b"gemini"
            else:
                kind = b"anthropic" if b"/messages" in line else b"openai"
                if b"m-headers" in body:
                    kind = b"openai-headers"
                elif b'"stream":true' in body or b'"stream": true' in body:
                    kind += b"200" if b"chunks-200" in body else b"50"
            self.transport.write(RESPONSES[kind])  # type: ignore[attr-defined]


def _serve(sock: socket.socket, cpu: int | None) -> None:
    if cpu is not None and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {cpu})

    async def main() -> None:
        server = await asyncio.get_running_loop().create_server(_Proto, sock=sock, backlog=1024)
        async with server:
            await server.serve_forever()

    asyncio.run(main())


@contextmanager
def server() -> Iterator[str]:
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(1024)
    port = sock.getsockname()[1]
    two = (os.cpu_count() or 1) > 1
    proc = mp.get_context("fork").Process(target=_serve, args=(sock, 1 if two else None), daemon=True)
    proc.start()
    sock.close()
    if two and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {0})
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.join(5)


# --- the cases ---------------------------------------------------------------------------------------------

MESSAGES = [{"role": "user", "content": "hello there world"}]


PROVIDERS = ("openai", "anthropic", "gemini", "groq")
KEYS = dict.fromkeys(PROVIDERS, "bench-key")


def base_urls(url: str) -> dict[str, str]:
    return {"openai": url + "/v1", "anthropic": url, "gemini": url, "groq": url}


def floor_request(provider: str, n: int) -> tuple[str, dict[str, Any]]:
    """The path and body the bare client sends (the provider's wire format)."""
    model = f"chunks-{n}" if n else "m"
    if provider == "gemini":
        verb = ":streamGenerateContent?alt=sse" if n else ":generateContent"
        return f"/v1beta/models/{model}{verb}", {
            "contents": [{"role": "user", "parts": [{"text": MESSAGES[0]["content"]}]}],
            "generationConfig": {"maxOutputTokens": 64},
        }
    path = {"openai": "/v1/chat/completions", "groq": "/openai/v1/chat/completions"}.get(provider, "/v1/messages")
    body: dict[str, Any] = {"model": model, "messages": MESSAGES, "max_tokens": 64}
    if n:
        body["stream"] = True
    return path, body


def gemini_client(url: str) -> Any:
    from google import genai

    return genai.Client(api_key=KEY, http_options=genai.types.HttpOptions(base_url=url, api_version="v1beta"))


def sync_cases(url: str) -> dict[str, Callable[[str, int], None]]:
    import anthropic
    import groq
    import httpx2
    import openai

    from atriumn.ai import ChatClient

    bare = httpx2.Client()
    ours = ChatClient(api_keys=KEYS, base_urls=base_urls(url))
    oai = openai.OpenAI(api_key=KEY, base_url=url + "/v1")
    ant = anthropic.Anthropic(api_key=KEY, base_url=url)
    grq = groq.Groq(api_key=KEY, base_url=url)
    gem = gemini_client(url)
    headers = {"authorization": f"Bearer {KEY}", "content-type": "application/json", "x-goog-api-key": KEY}

    def floor(provider: str, n: int) -> None:
        path, body = floor_request(provider, n)
        if not n:
            json.loads(bare.post(url + path, content=json.dumps(body).encode(), headers=headers).content)
            return
        with bare.stream("POST", url + path, content=json.dumps(body).encode(), headers=headers) as r:
            for line in r.iter_lines():
                if line.startswith("data: ") and line != "data: [DONE]":
                    json.loads(line[6:])

    def atriumn(provider: str, n: int) -> None:
        if not n:
            ours.chat(f"{provider}:m", MESSAGES, max_tokens=64)
            return
        with ours.stream(f"{provider}:chunks-{n}", MESSAGES, max_tokens=64) as s:
            for _ in s:
                pass

    def sdk(provider: str, n: int) -> None:
        if provider == "gemini":
            if not n:
                gem.models.generate_content(model="m", contents=MESSAGES[0]["content"])
                return
            for _ in gem.models.generate_content_stream(model=f"chunks-{n}", contents=MESSAGES[0]["content"]):
                pass
            return
        if provider == "groq":
            if not n:
                grq.chat.completions.create(model="m", messages=MESSAGES, max_tokens=64)  # type: ignore[arg-type]
                return
            for _ in grq.chat.completions.create(model=f"chunks-{n}", messages=MESSAGES, max_tokens=64, stream=True):  # type: ignore[arg-type]
                pass
            return
        if provider == "openai":
            if not n:
                oai.chat.completions.create(model="m", messages=MESSAGES, max_completion_tokens=64)  # type: ignore[arg-type]
                return
            for _ in oai.chat.completions.create(
                model=f"chunks-{n}",
                messages=MESSAGES,
                max_completion_tokens=64,
                stream=True,
                stream_options={"include_usage": True},  # type: ignore[arg-type]
            ):
                pass
            return
        if not n:
            ant.messages.create(model="m", messages=MESSAGES, max_tokens=64)  # type: ignore[arg-type]
            return
        for _ in ant.messages.create(model=f"chunks-{n}", messages=MESSAGES, max_tokens=64, stream=True):  # type: ignore[arg-type]
            pass

    return {"floor": floor, "atriumn": atriumn, "sdk": sdk}


def async_cases(url: str) -> dict[str, Callable[[str, int], Any]]:
    import anthropic
    import groq
    import httpx2
    import openai

    from atriumn.ai import AsyncChatClient

    bare = httpx2.AsyncClient()
    ours = AsyncChatClient(api_keys=KEYS, base_urls=base_urls(url))
    oai = openai.AsyncOpenAI(api_key=KEY, base_url=url + "/v1")
    ant = anthropic.AsyncAnthropic(api_key=KEY, base_url=url)
    grq = groq.AsyncGroq(api_key=KEY, base_url=url)
    gem = gemini_client(url)
    headers = {"authorization": f"Bearer {KEY}", "content-type": "application/json", "x-goog-api-key": KEY}

    async def floor(provider: str, n: int) -> None:
        path, body = floor_request(provider, n)
        if not n:
            json.loads((await bare.post(url + path, content=json.dumps(body).encode(), headers=headers)).content)
            return
        async with bare.stream("POST", url + path, content=json.dumps(body).encode(), headers=headers) as r:
            async for line in r.aiter_lines():
                if line.startswith("data: ") and line != "data: [DONE]":
                    json.loads(line[6:])

    async def atriumn(provider: str, n: int) -> None:
        if not n:
            await ours.chat(f"{provider}:m", MESSAGES, max_tokens=64)
            return
        async with ours.stream(f"{provider}:chunks-{n}", MESSAGES, max_tokens=64) as s:
            async for _ in s:
                pass

    async def sdk(provider: str, n: int) -> None:
        if provider == "gemini":
            if not n:
                await gem.aio.models.generate_content(model="m", contents=MESSAGES[0]["content"])
                return
            async for _ in await gem.aio.models.generate_content_stream(
                model=f"chunks-{n}", contents=MESSAGES[0]["content"]
            ):
                pass
            return
        if provider == "groq":
            if not n:
                await grq.chat.completions.create(model="m", messages=MESSAGES, max_tokens=64)  # type: ignore[arg-type]
                return
            groq_stream = await grq.chat.completions.create(
                model=f"chunks-{n}",
                messages=MESSAGES,
                max_tokens=64,
                stream=True,  # type: ignore[arg-type]
            )
            async for _ in groq_stream:
                pass
            return
        if provider == "openai":
            if not n:
                await oai.chat.completions.create(model="m", messages=MESSAGES, max_completion_tokens=64)  # type: ignore[arg-type]
                return
            stream = await oai.chat.completions.create(
                model=f"chunks-{n}",
                messages=MESSAGES,
                max_completion_tokens=64,
                stream=True,
                stream_options={"include_usage": True},  # type: ignore[arg-type]
            )
            async for _ in stream:
                pass
            return
        if not n:
            await ant.messages.create(model="m", messages=MESSAGES, max_tokens=64)  # type: ignore[arg-type]
            return
        stream2 = await ant.messages.create(model=f"chunks-{n}", messages=MESSAGES, max_tokens=64, stream=True)  # type: ignore[arg-type]
        async for _ in stream2:
            pass

    return {"floor": floor, "atriumn": atriumn, "sdk": sdk}


def concurrent_cases(url: str, state: dict[str, Any]) -> dict[str, tuple[Callable[[], Any], str]]:
    """One non-streamed OpenAI chat call each, with the floor its ratio is taken to: the floors (a bare POST +
    ``json.loads``) and ``AsyncChatClient`` on each backend of the async transport; then the same on aiohttp with
    the 22 headers of a real OpenAI answer (rate limits among them). Clients are made inside the running loop."""
    import aiohttp
    import httpx2

    from atriumn.ai import AsyncChatClient
    from atriumn.core import AsyncTransport

    path, body = floor_request("openai", 0)
    headers = {"authorization": f"Bearer {KEY}", "content-type": "application/json"}
    session = state["aiohttp-bare"] = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=100))
    bare = state["httpx2-bare"] = httpx2.AsyncClient(limits=httpx2.Limits(max_connections=100))
    chat = {}
    for backend in ("aiohttp", "httpx2"):
        transport = state[backend] = AsyncTransport(backend=backend)
        chat[backend] = AsyncChatClient(api_keys=KEYS, base_urls=base_urls(url), transport=transport)

    def floor_aiohttp(body: dict[str, Any]) -> Callable[[], Any]:
        data = json.dumps(body)

        async def call() -> None:
            async with session.post(url + path, data=data.encode(), headers=headers) as r:
                json.loads(await r.read())

        return call

    async def floor_httpx() -> None:
        json.loads((await bare.post(url + path, content=json.dumps(body).encode(), headers=headers)).content)

    floor = "bare aiohttp POST + json.loads (floor)"
    floor_headers = "bare aiohttp POST + json.loads, OpenAI's 22 headers (floor)"
    return {
        floor: (floor_aiohttp(body), floor),
        "bare httpx2 POST + json.loads": (floor_httpx, floor),
        "AsyncChatClient, aiohttp": (lambda: chat["aiohttp"].chat("openai:m", MESSAGES, max_tokens=64), floor),
        "AsyncChatClient, httpx2": (lambda: chat["httpx2"].chat("openai:m", MESSAGES, max_tokens=64), floor),
        floor_headers: (floor_aiohttp({**body, "model": "m-headers"}), floor_headers),
        "AsyncChatClient, aiohttp, OpenAI's 22 headers": (
            lambda: chat["aiohttp"].chat("openai:m-headers", MESSAGES, max_tokens=64),
            floor_headers,
        ),
    }


def run_concurrent(url: str, conc: int, calls: int, rounds: int) -> dict[str, tuple[list[float], list[float], str]]:
    """Per case: calls per second and client CPU µs per call of each interleaved round at concurrency ``conc``,
    and the name of its floor. One untimed round of every case first (pools, caches, allocator arenas)."""
    out: dict[str, tuple[list[float], list[float], str]] = {}

    async def main() -> None:
        state: dict[str, Any] = {}
        cases = concurrent_cases(url, state)

        async def fan(one: Callable[[], Any], n: int) -> None:
            async def worker() -> None:
                for _ in range(n // conc):
                    await one()

            await asyncio.gather(*(worker() for _ in range(conc)))

        for one, _ in cases.values():
            await fan(one, calls)
        for _ in range(rounds):
            for name, (one, floor) in cases.items():
                wall, cpu = time.perf_counter(), time.process_time()
                await fan(one, calls)
                rates, cpus, _ = out.setdefault(name, ([], [], floor))
                rates.append(calls / (time.perf_counter() - wall))
                cpus.append((time.process_time() - cpu) / calls * 1e6)
        for client in state.values():
            await (client.aclose() if hasattr(client, "aclose") else client.close())

    asyncio.run(main())
    return out


def import_time(module: str) -> float:
    times = []
    for _ in range(5):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", f"import {module}"], check=True)
        times.append(time.perf_counter() - start)
    base = []
    for _ in range(5):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", "pass"], check=True)
        base.append(time.perf_counter() - start)
    return statistics.median(times) - statistics.median(base)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--calls", type=int, default=100)
    parser.add_argument("--streams", type=int, default=20)
    parser.add_argument("--concurrent-calls", type=int, default=1280)
    parser.add_argument("--concurrent-rounds", type=int, default=7)
    args = parser.parse_args()
    concurrent: dict[int, dict[str, tuple[list[float], list[float], str]]] = {}

    workloads = [(p, n) for p in PROVIDERS for n in (0, 50, 200)]
    results: dict[tuple[str, str, str, int], list[float]] = {}
    with server() as url:
        sync = sync_cases(url)
        loop = asyncio.new_event_loop()
        asynchronous = async_cases(url)
        for fn in sync.values():  # warm up every pool and code path
            for p, n in workloads:
                fn(p, n)
        for afn in asynchronous.values():
            for p, n in workloads:
                loop.run_until_complete(afn(p, n))
        for _ in range(args.rounds):
            for p, n in workloads:
                count = args.calls if n == 0 else max(5, args.streams * 50 // n)
                for name, fn in sync.items():
                    start = time.perf_counter()
                    for _ in range(count):
                        fn(p, n)
                    results.setdefault(("sync", name, p, n), []).append(count / (time.perf_counter() - start))
                for name, afn in asynchronous.items():

                    async def run(afn: Any = afn, p: str = p, n: int = n, count: int = count) -> None:
                        for _ in range(count):
                            await afn(p, n)

                    start = time.perf_counter()
                    loop.run_until_complete(run())
                    results.setdefault(("async", name, p, n), []).append(count / (time.perf_counter() - start))
        loop.close()
        for conc in (8, 64):
            concurrent[conc] = run_concurrent(url, conc, args.concurrent_calls, args.concurrent_rounds)

    print("## ai\n")
    print(
        "`ChatClient` vs a bare httpx2 POST + `json.loads` (streams: `iter_lines` + `json.loads` per event) and the "
        f"official SDKs; {args.rounds} interleaved rounds, medians, per second (higher is better). From one run "
        "to the next on a shared 2-core machine a ratio moves by up to about 0.05.\n"
    )
    print("| mode | provider | workload | floor | atriumn | sdk | atriumn / floor | atriumn / sdk |")
    print("|---|---|---|---:|---:|---:|---:|---:|")
    for mode in ("sync", "async"):
        for p, n in workloads:
            med = {name: statistics.median(results[(mode, name, p, n)]) for name in ("floor", "atriumn", "sdk")}
            label = "chat" if n == 0 else f"{n}-chunk stream"
            print(
                f"| {mode} | {p} | {label} | {med['floor']:.0f} | {med['atriumn']:.0f} | {med['sdk']:.0f} | "
                f"{med['atriumn'] / med['floor']:.2f}× | {med['atriumn'] / med['sdk']:.2f}× |"
            )
    print(
        f"\nConcurrent non-streamed chats (OpenAI's wire format), {args.concurrent_rounds} interleaved rounds of "
        f"{args.concurrent_calls} calls after one untimed round; medians, the range of the per-round ratio to the "
        "row's floor, and client CPU per call. `AsyncChatClient` runs its default policies (retries, breaker, usage, "
        "cost, rate limits) on an `AsyncTransport` of each backend. The last two rows answer with the 22 headers of "
        "a real OpenAI response (the others with 3).\n"
    )
    print("| concurrency | client | calls/s | client CPU µs | ratio to floor (range) | CPU ratio to floor (range) |")
    print("|---:|---|---:|---:|---:|---:|")
    for conc, rows in concurrent.items():
        for name, (rates, cpus, floor_name) in rows.items():
            floor, floor_cpu, _ = rows[floor_name]
            ratios = [a / b for a, b in zip(rates, floor, strict=True)]
            cpu_ratios = [b / a for a, b in zip(cpus, floor_cpu, strict=True)]
            print(
                f"| {conc} | {name} | {statistics.median(rates):,.0f} | {statistics.median(cpus):,.0f} | "
                f"{statistics.median(ratios):.2f}× ({min(ratios):.2f}–{max(ratios):.2f}) | "
                f"{statistics.median(cpu_ratios):.2f}× ({min(cpu_ratios):.2f}–{max(cpu_ratios):.2f}) |"
            )
    rows = concurrent[64]
    summary = []
    for name in ("AsyncChatClient, aiohttp", "AsyncChatClient, aiohttp, OpenAI's 22 headers"):
        rates, cpus, floor_name = rows[name]
        floor, floor_cpu, _ = rows[floor_name]
        ratio = statistics.median(a / b for a, b in zip(rates, floor, strict=True))
        cpu_ratio = statistics.median(b / a for a, b in zip(cpus, floor_cpu, strict=True))
        summary.append(f"{ratio:.2f}× by throughput, {cpu_ratio:.2f}× by client CPU")
    print(
        f"\nTarget of issue #19: `AsyncChatClient` on the aiohttp backend ≥ 0.5× the bare aiohttp floor at "
        f"concurrency 64 — this run: {summary[0]} (with OpenAI's 22 headers: {summary[1]})."
    )
    ours = import_time("atriumn.ai")
    theirs = import_time("openai")
    print(
        f"\nImport time (median of 5, minus interpreter start): `import atriumn.ai` {ours * 1000:.0f} ms, "
        f"`import openai` {theirs * 1000:.0f} ms ({ours / theirs:.2f}×)."
    )


if __name__ == "__main__":
    main()
