"""Provider batch jobs: the same requests as chat(), at half the price, answered within the provider's window.

Runs on the embedded sandbox (its emulation of the providers' batch APIs) unless OPENAI_API_KEY is set, in which
case it submits to OpenAI (ATRIUMN_AI_MODEL picks the model, default openai:gpt-4o-mini).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from typing import Any

from atriumn.ai import BatchJob, BatchRequest, ChatClient

MODEL = os.environ.get("ATRIUMN_AI_MODEL", "openai:gpt-4o-mini")
CITIES = ["Lisbon", "Nairobi", "Osaka", "Quito", "Tromsø"]


def requests() -> Iterator[BatchRequest]:
    """Any iterable works (a generator over a million rows too): requests are read once, lazily."""
    for i, city in enumerate(CITIES):
        yield BatchRequest(f"city-{i}", f"{city} in one sentence.", system="You write travel guides.", max_tokens=60)


def show(job: BatchJob) -> None:
    print(f"  {job.status:10} {job.counts.done}/{job.counts.total} requests done")


def main() -> None:
    with contextlib.ExitStack() as stack:
        options: dict[str, Any] = {}
        if "OPENAI_API_KEY" not in os.environ:  # no key: the embedded sandbox stands in for OpenAI
            from atriumn.sandbox import Sandbox

            sandbox = stack.enter_context(Sandbox())
            options = {"api_keys": {"openai": "sandbox-key"}, "base_urls": {"openai": f"{sandbox.url}/v1"}}
        client = stack.enter_context(ChatClient(**options))

        job = client.batches.create(MODEL, requests(), metadata={"example": "cities"})
        print(f"submitted {job.id}: {job.counts.total} requests, {len(job.parts)} provider batch ({job.status})")

        # A job is plain data: save it, and any process can wait for it and read its results.
        saved = job.to_json()
        job = client.batches.wait(BatchJob.from_json(saved), poll_interval=0.1, progress=show)

        total = 0.0
        for result in client.batches.results(job):  # streamed from the result file, line by line
            if result.ok:
                assert result.response is not None and result.cost is not None
                total += result.cost.total
                print(f"{result.id}: {result.response.text}")
            else:
                print(f"{result.id}: failed: {result.error}")
        print(f"{job.counts.succeeded} answered at batch prices: ${total:.8f}")


if __name__ == "__main__":
    main()
