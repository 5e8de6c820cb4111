"""Benchmark of provider batch jobs: memory and time of ``create`` and ``results`` over 100,000 requests.

A fresh client process submits 100,000 requests (a generator: never a list) to the sandbox's OpenAI batch
emulation, which runs in this process, waits for the job and reads its 100,000-line output file with
``batches.results``, sampling its resident memory (``VmRSS``) every 10,000 results. A second fresh process
reads the same file whole (``httpx2`` ``.content``, ``splitlines``, ``json.loads`` every line), the way a client
that does not stream would: the contrast is the point. Memory is the process's own (the server is elsewhere);
growth is peak RSS during a phase minus peak RSS before it.

    python tests/benchmarks/bench_batches.py [--requests 100000]

Prints a markdown section (``nox -s bench`` collects it into docs/benchmarks.md).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from typing import Any

KEY = "test-bench-batches-key"


def _rss_mib() -> float:
    """The process's resident memory now (Linux ``VmRSS``; elsewhere its peak so far)."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return _peak_mib()


def _peak_mib() -> float:
    scale = 1024 * 1024 if sys.platform == "darwin" else 1024  # ru_maxrss: bytes on macOS, KiB on Linux
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / scale


def stream_child(url: str, n: int) -> dict[str, Any]:
    """``create``, ``wait`` and ``results`` in this (fresh) process."""
    from atriumn.ai import BatchLimits, BatchRequest, ChatClient

    filler = "lorem ipsum " * 20

    def requests() -> Any:
        for i in range(n):
            yield BatchRequest(f"r{i}", f"request number {i} {filler}", max_tokens=100)

    out: dict[str, Any] = {}
    with ChatClient(api_keys={"openai": KEY}, base_urls={"openai": f"{url}/v1"}, environ={}, max_retries=0) as client:
        client.batches  # noqa: B018 - import the batch machinery before the baseline
        out["baseline_mib"] = _peak_mib()
        start = time.perf_counter()
        # One provider batch (OpenAI's limit is 50,000 requests; the sandbox's is raised): one 100,000-line file.
        job = client.batches.create("openai:gpt-4o-mini", requests(), limits=BatchLimits(max_requests=n))
        out["create_s"] = time.perf_counter() - start
        out["create_peak_mib"] = _peak_mib()
        job = client.batches.wait(job, poll_interval=0.05)
        assert job.counts.succeeded == n, job.counts
        before = _peak_mib()
        samples: list[float] = []
        tokens = count = 0
        start = time.perf_counter()
        for result in client.batches.results(job):
            count += 1
            tokens += result.usage.output_tokens if result.usage else 0
            if count % (n // 10) == 0:
                samples.append(_rss_mib())
        out["results_s"] = time.perf_counter() - start
        assert count == n and tokens > 0
        out.update(results_before_mib=before, results_peak_mib=_peak_mib(), samples=samples)
    return out


def whole_child(url: str, n: int, file_id: str) -> dict[str, Any]:
    """The same output file read whole, then every line decoded (a fresh process)."""
    import httpx2

    with httpx2.Client(headers={"Authorization": f"Bearer {KEY}"}, timeout=120) as client:
        before = _peak_mib()
        start = time.perf_counter()
        body = client.get(f"{url}/v1/files/{file_id}/content").content
        docs = [json.loads(line) for line in body.splitlines()]
        elapsed = time.perf_counter() - start
        assert len(docs) == n
        return {"seconds": elapsed, "before_mib": before, "peak_mib": _peak_mib(), "file_mib": len(body) / 2**20}


def _child(*argv: str) -> dict[str, Any]:
    proc = subprocess.run([sys.executable, __file__, *argv], capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise SystemExit(f"{argv[1]} failed:\n{proc.stderr[-3000:]}")
    return dict(json.loads(proc.stdout.strip().splitlines()[-1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--requests", type=int, default=100_000)
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        kind, url, *rest = args.child
        found = stream_child(url, args.requests) if kind == "stream" else whole_child(url, args.requests, rest[0])
        print(json.dumps(found))
        return

    import httpx2

    from atriumn.sandbox import Sandbox

    n = args.requests
    with Sandbox(batch_delay=0, openai_batch_max_requests=max(n, 50_000)) as sandbox:
        streamed = _child("--requests", str(n), "--child", "stream", sandbox.url)
        headers = {"Authorization": f"Bearer {KEY}"}
        (batch,) = httpx2.get(f"{sandbox.url}/v1/batches", headers=headers, timeout=30).json()["data"]
        whole = _child("--requests", str(n), "--child", "whole", sandbox.url, batch["output_file_id"])

    create_growth = streamed["create_peak_mib"] - streamed["baseline_mib"]
    results_growth = streamed["results_peak_mib"] - streamed["results_before_mib"]
    whole_growth = whole["peak_mib"] - whole["before_mib"]
    samples = ", ".join(f"{s:.0f}" for s in streamed["samples"])
    print("## batches\n")
    print(
        f"Provider batch jobs over {n:,} requests against the sandbox's OpenAI batch emulation (the sandbox in the "
        f"benchmark's process, the client in a fresh one). The output file is {whole['file_mib']:.0f} MiB "
        f"({n:,} JSONL lines). Peak RSS growth = peak resident memory during the phase minus the peak before it.\n"
    )
    print("| phase | seconds | per second | peak RSS growth (MiB) | peak RSS (MiB) |")
    print("|---|---:|---:|---:|---:|")
    print(
        f"| `batches.create` ({n:,} requests from a generator: checked, spooled, uploaded) "
        f"| {streamed['create_s']:.1f} | {n / streamed['create_s']:,.0f} | {create_growth:.1f} "
        f"| {streamed['create_peak_mib']:.0f} |"
    )
    print(
        f"| `batches.results` (streamed line by line) | {streamed['results_s']:.1f} "
        f"| {n / streamed['results_s']:,.0f} | {results_growth:.1f} | {streamed['results_peak_mib']:.0f} |"
    )
    print(
        f"| the same file read whole (`httpx2` `.content` + `json.loads` per line) | {whole['seconds']:.1f} "
        f"| {n / whole['seconds']:,.0f} | {whole_growth:.1f} | {whole['peak_mib']:.0f} |"
    )
    print(
        f"\nResident memory while `results` ran, every {n // 10:,} results (MiB): {samples} — steady: the file is "
        "never held whole, and each result is dropped once the loop moves on. `create` spools the JSONL to a "
        "temporary file past 8 MiB and streams the upload from it. `create`'s time is mostly the same per-request "
        "planning and validation `chat` does (and, here, the sandbox answering every request as it accepts the "
        "batch); `results` parses each response as `chat` parses it, prices it and maps errors. Target: growth "
        "under 64 MiB for both phases whatever the number of requests."
    )


if __name__ == "__main__":
    main()
