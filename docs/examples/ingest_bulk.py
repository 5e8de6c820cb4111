"""Bulk ingestion: 200 texts and a URL, 8 at a time, with a progress callback and per-item results.

Run against any Atriumn server: ATRIUMN_API_BASE_URL and ATRIUMN_API_KEY (or client credentials) set,
or with the embedded sandbox (see docs/ingest.md).
"""

from __future__ import annotations

import os

from atriumn.core import StaticToken
from atriumn.ingest import BatchProgress, IngestClient, TextSource, URLSource


def main() -> None:
    token = os.environ["ATRIUMN_API_KEY"]
    items: list[TextSource | URLSource] = [
        TextSource(content=f"Note number {i}", metadata={"batch": "demo", "n": str(i)}) for i in range(200)
    ]
    items.append(URLSource(url=os.environ.get("DEMO_URL", "https://example.com/"), metadata={"batch": "demo"}))

    def progress(p: BatchProgress) -> None:
        if p.done % 50 == 0 or p.done == p.total:
            print(f"  {p.done}/{p.total} done, {p.failed} failed")

    with IngestClient(credentials=StaticToken(token)) as ingest:
        results = ingest.ingest_batch(items, max_concurrency=8, progress=progress)
        ok = [r for r in results if r.ok]
        failed = [r for r in results if not r.ok]
        print(f"ingested {len(ok)} of {len(results)}; {len(failed)} failed")
        for r in failed:
            print(f"  item {r.index}: {r.error}")
        first = ok[0].item
        assert first is not None
        done = ingest.wait_until_processed(first.id, timeout=30)
        print(f"first item {done.id} is {done.status}")


if __name__ == "__main__":
    main()
