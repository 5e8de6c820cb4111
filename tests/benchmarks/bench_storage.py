"""Benchmark of atriumn-storage uploads: peak memory and throughput against a bare httpx2 streaming PUT.

A generated file (default 1 GiB; produced lazily from one 1 MiB block, never held in memory) is uploaded
to a local sandbox through ``StorageClient.upload`` (with and without the SHA-256 checksum header) and
through a bare ``httpx2`` streaming PUT to a pre-signed URL of the same sandbox. Each upload runs in a
fresh subprocess, which reports its peak RSS growth during the upload (``resource.getrusage``, measured
after imports, the token fetch and a warm-up upload) and its throughput. Rounds are interleaved and
medians reported, so machine noise hits every case alike.

    python tests/benchmarks/bench_storage.py [--size-mib 1024] [--rounds 2]

Prints a markdown section (``nox -s bench`` collects it into docs/benchmarks.md). Targets: peak RSS growth
under 64 MiB; throughput within 20 % of the bare PUT. The figures are printed, never asserted.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from typing import Any

MIB = 1024 * 1024
CASES = ["httpx2 (bare streaming PUT)", "StorageClient.upload (checksum)", "StorageClient.upload (no checksum)"]
ADMIN_ID = "bench-admin"
ADMIN_SECRET = "bench-admin-secret-local-only"  # sandbox-local


def child(case: str, url: str, client_id: str, client_secret: str, size: int) -> dict[str, Any]:
    """One upload in this (fresh) process; returns its figures."""
    import resource

    import httpx2

    from atriumn.auth import ClientCredentials
    from atriumn.storage import StorageClient

    block = os.urandom(MIB)

    def generate() -> Any:
        left = size
        while left > 0:
            n = min(left, MIB)
            yield block if n == MIB else block[:n]
            left -= n

    ctype = "application/octet-stream"
    credentials = ClientCredentials(client_id=client_id, client_secret=client_secret, base_url=url)
    with StorageClient(base_url=url, credentials=credentials) as client, httpx2.Client(timeout=600) as bare:
        # Warm up both paths (imports, token, pools) so the baseline holds everything but the upload itself.
        client.upload(b"warm-up", filename="warm.bin", content_type=ctype)
        warm = client.generate_upload_url(filename="warm2.bin", content_type=ctype)
        bare.put(warm.upload_url, content=b"warm-up", headers={"Content-Type": ctype}).raise_for_status()
        target = client.generate_upload_url(filename="big.bin", content_type=ctype)
        before_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        start = time.perf_counter()
        if case.startswith("httpx2"):
            response = bare.put(
                target.upload_url, content=generate(), headers={"Content-Type": ctype, "Content-Length": str(size)}
            )
            response.raise_for_status()
        else:
            result = client.upload(
                generate, size=size, filename="big.bin", content_type=ctype, checksum="no checksum" not in case
            )
            assert result.size == size
        elapsed = time.perf_counter() - start
        after_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {"seconds": elapsed, "rss_growth_mib": (after_kib - before_kib) / 1024, "peak_rss_mib": after_kib / 1024}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mib", type=int, default=1024)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--child", nargs=3, metavar=("CASE", "URL", "ID"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    size = args.size_mib * MIB
    if args.child:
        # The secret travels in the environment: one starting with "-" would be read as an option.
        print(json.dumps(child(*args.child, os.environ["BENCH_CLIENT_SECRET"], size)))
        return

    from atriumn.auth import AuthClient, ClientCredentials
    from atriumn.sandbox import Sandbox

    results: dict[str, list[dict[str, Any]]] = {case: [] for case in CASES}
    with Sandbox(admin_client_id=ADMIN_ID, admin_client_secret=ADMIN_SECRET, max_upload_size=size + MIB) as sb:
        admin = ClientCredentials(client_id=ADMIN_ID, client_secret=ADMIN_SECRET, base_url=sb.url)
        with AuthClient(base_url=sb.url, credentials=admin) as auth:
            cred = auth.create_client_credential(issued_to="bench", scopes=["storage"])
        for _ in range(args.rounds):
            for case in CASES:
                proc = subprocess.run(
                    [
                        sys.executable,
                        __file__,
                        "--size-mib",
                        str(args.size_mib),
                        "--child",
                        case,
                        sb.url,
                        cred.client_id,
                    ],
                    env={**os.environ, "BENCH_CLIENT_SECRET": cred.client_secret},
                    capture_output=True,
                    text=True,
                    check=False,
                )
                if proc.returncode != 0:
                    raise SystemExit(f"{case} failed:\n{proc.stderr[-3000:]}")
                results[case].append(json.loads(proc.stdout.strip().splitlines()[-1]))

    bare = statistics.median(r["seconds"] for r in results[CASES[0]])
    print("## storage\n")
    print(
        f"Upload of a generated {args.size_mib} MiB file to the local sandbox (median of {args.rounds} interleaved "
        "rounds, each upload in a fresh process; RSS growth = peak RSS during the upload minus peak before it).\n"
    )
    print("| case | seconds | MiB/s | vs bare httpx2 | peak RSS growth (MiB) | peak RSS (MiB) |")
    print("|---|---:|---:|---:|---:|---:|")
    for case in CASES:
        secs = statistics.median(r["seconds"] for r in results[case])
        growth = max(r["rss_growth_mib"] for r in results[case])
        peak = max(r["peak_rss_mib"] for r in results[case])
        change = 100 * (secs - bare) / bare
        print(f"| {case} | {secs:.2f} | {args.size_mib / secs:.0f} | {change:+.0f}% | {growth:.1f} | {peak:.0f} |")
    print(
        "\nTargets: RSS growth < 64 MiB; throughput within 20 % of the bare PUT. The checksum case reads the source "
        "twice (SHA-256 first, so the header can precede the body)."
    )


if __name__ == "__main__":
    main()
