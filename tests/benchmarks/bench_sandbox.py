"""The sandbox's own throughput, so later SDK benchmarks can show the server is not their bottleneck.

Run as a script (not collected by pytest)::

    uv run --group test python tests/benchmarks/bench_sandbox.py [--seconds 3] [--concurrency 8]

Measures ``GET /health`` and, when the LLM emulation is present, ``POST /v1/chat/completions``, with
httpx2 keep-alive clients (sync, one connection; async, ``--concurrency`` connections).
"""

from __future__ import annotations

import argparse
import asyncio
import time
from typing import Any

import httpx2

from atriumn.sandbox import Sandbox

CHAT = {"model": "echo", "messages": [{"role": "user", "content": "hello sandbox"}]}


def _sync(url: str, method: str, path: str, body: Any, headers: dict[str, str], seconds: float) -> float:
    with httpx2.Client(base_url=url, headers=headers) as client:
        count = 0
        deadline = time.perf_counter() + seconds
        start = time.perf_counter()
        while time.perf_counter() < deadline:
            client.request(method, path, json=body).raise_for_status()
            count += 1
        return count / (time.perf_counter() - start)


async def _async(
    url: str, method: str, path: str, body: Any, headers: dict[str, str], seconds: float, concurrency: int
) -> float:
    limits = httpx2.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx2.AsyncClient(base_url=url, headers=headers, limits=limits) as client:
        count = 0
        deadline = time.perf_counter() + seconds

        async def worker() -> None:
            nonlocal count
            while time.perf_counter() < deadline:
                (await client.request(method, path, json=body)).raise_for_status()
                count += 1

        start = time.perf_counter()
        await asyncio.gather(*[worker() for _ in range(concurrency)])
        return count / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()
    with Sandbox() as sandbox:
        httpx2.post(
            f"{sandbox.url}/auth/token",
            json={
                "grant_type": "client_credentials",
                "client_id": sandbox.admin_client_id,
                "client_secret": sandbox.admin_client_secret,
            },
        ).raise_for_status()  # the server answers authenticated calls too
        cases: list[tuple[str, str, str, Any, dict[str, str]]] = [("GET /health", "GET", "/health", None, {})]
        probe = httpx2.post(f"{sandbox.url}/v1/chat/completions", json=CHAT, headers={"authorization": "Bearer x"})
        if probe.status_code != 404:
            cases.append(
                ("POST /v1/chat/completions", "POST", "/v1/chat/completions", CHAT, {"authorization": "Bearer x"})
            )
        else:
            print("(the LLM emulation is not present: skipping POST /v1/chat/completions)")
        print("## Sandbox throughput\n")
        print(
            f"The sandbox's own throughput (in-process server thread, a bare httpx2 client, {args.seconds:g} s per "
            f"case, async at concurrency {args.concurrency}), so the SDK benchmarks above and below can show the "
            "server is not their bottleneck.\n"
        )
        print("| endpoint | sync req/s | async req/s |")
        print("|---|---:|---:|")
        for name, method, path, body, headers in cases:
            sync_rate = _sync(sandbox.url, method, path, body, headers, args.seconds)
            async_rate = asyncio.run(_async(sandbox.url, method, path, body, headers, args.seconds, args.concurrency))
            print(f"| `{name}` | {sync_rate:,.0f} | {async_rate:,.0f} |")


if __name__ == "__main__":
    main()
