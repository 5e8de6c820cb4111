"""Benchmark of ``ingest_batch`` against a bare ``httpx2.AsyncClient`` loop doing the same POSTs.

1,000 small texts per round at concurrency 8 and 32, against the sandbox (in its own process, pinned to
its own core), interleaved rounds, medians. Prints a markdown section for docs/benchmarks.md.

    python tests/benchmarks/bench_ingest.py [--rounds 3] [--items 1000]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import time

import httpx2

from atriumn.core import AsyncTransport, StaticToken
from atriumn.ingest import AsyncIngestClient, IngestClient, TextSource


def start_sandbox() -> tuple[subprocess.Popen[str], str, str]:
    """Run ``atriumn-sandbox serve`` in its own process on CPU 1; returns (process, url, access token)."""
    client_id, secret = "bench-admin", "bench-admin-secret-0123456789"
    cmd = [
        sys.executable,
        "-m",
        "atriumn.sandbox._cli",
        "serve",
        "--port",
        "0",
        "--processing-delay",
        "0.01",
        "--admin-client-id",
        client_id,
        "--admin-client-secret",
        secret,
    ]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, env=dict(os.environ, PYTHONUNBUFFERED="1"))
    assert proc.stdout is not None
    url = ""
    for line in proc.stdout:
        url = next((w.rstrip(".,") for w in line.split() if w.startswith("http://")), "")
        if url:
            break
    if not url:
        raise SystemExit("the sandbox did not print its URL")
    if hasattr(os, "sched_setaffinity") and (os.cpu_count() or 1) > 1:
        os.sched_setaffinity(proc.pid, {1})
        os.sched_setaffinity(0, {0})
    token = httpx2.post(
        url + "/auth/token",
        json={"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret},
    ).json()["access_token"]
    return proc, url, token


async def bare(url: str, token: str, n: int, c: int) -> None:
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx2.AsyncClient(base_url=url, headers=headers) as client:
        gate = asyncio.Semaphore(c)

        async def one(i: int) -> None:
            async with gate:
                r = await client.post("/ingest/text", json={"content": f"bench {i}", "metadata": {"b": "bare"}})
                r.raise_for_status()
                r.json()

        await asyncio.gather(*(one(i) for i in range(n)))


async def ours(url: str, token: str, n: int, c: int) -> None:
    async with AsyncIngestClient(transport=AsyncTransport(url, credentials=StaticToken(token))) as ingest:
        items = [TextSource(content=f"bench {i}", metadata={"b": "sdk"}) for i in range(n)]
        results = await ingest.ingest_batch(items, max_concurrency=c)
        assert all(r.ok for r in results)
        await ingest.transport.aclose()


def ours_sync(url: str, token: str, n: int, c: int) -> None:
    with IngestClient(base_url=url, credentials=StaticToken(token)) as ingest:
        items = [TextSource(content=f"bench {i}", metadata={"b": "sdk-sync"}) for i in range(n)]
        assert all(r.ok for r in ingest.ingest_batch(items, max_concurrency=c))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--items", type=int, default=1000)
    args = parser.parse_args()
    proc, url, token = start_sandbox()
    rows = []
    try:
        for c in (8, 32):
            results: dict[str, list[float]] = {
                "bare httpx2.AsyncClient": [],
                "AsyncIngestClient.ingest_batch": [],
                "IngestClient.ingest_batch (threads)": [],
            }
            for _ in range(args.rounds):
                for name in results:
                    t = time.perf_counter()
                    if name.startswith("bare"):
                        asyncio.run(bare(url, token, args.items, c))
                    elif name.startswith("Async"):
                        asyncio.run(ours(url, token, args.items, c))
                    else:
                        ours_sync(url, token, args.items, c)
                    results[name].append(args.items / (time.perf_counter() - t))
            base = statistics.median(results["bare httpx2.AsyncClient"])
            for name, vals in results.items():
                rows.append((c, name, statistics.median(vals), statistics.median(vals) / base))
    finally:
        proc.terminate()
        proc.wait(10)
    print("## Ingest: bulk ingestion\n")
    print(
        f"`ingest_batch` of {args.items} small texts against the sandbox (its own process, pinned to CPU 1), "
        f"{args.rounds} interleaved rounds, medians; the floor is a bare `httpx2.AsyncClient` doing the same "
        "authenticated POSTs with the same concurrency. The server is the bottleneck at these rates, so the "
        "ratio is what matters (target: within 15 % of the bare loop).\n"
    )
    print("| concurrency | client | items/s | ratio to bare |")
    print("|---:|---|---:|---:|")
    for c, name, ips, ratio in rows:
        print(f"| {c} | {name} | {ips:,.0f} | {ratio:.2f}× |")


if __name__ == "__main__":
    main()
