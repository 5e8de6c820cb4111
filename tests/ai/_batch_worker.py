"""A process of the resume test (run as a script): ``create`` submits a job, saves it and then waits for it until
it is killed; ``resume`` loads the saved job, waits for it and reads its results. Keys and base URLs come from the
environment (``OPENAI_API_KEY``, ``OPENAI_BASE_URL``...), as for any ChatClient."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from atriumn.ai import BatchJob, BatchLimits, BatchRequest, ChatClient


def main() -> None:
    command, path, model = sys.argv[1], Path(sys.argv[2]), sys.argv[3]
    with ChatClient(max_retries=0) as client:
        if command == "create":
            requests = (BatchRequest(f"r{i}", f"resumed request {i}") for i in range(12))
            job = client.batches.create(model, requests, limits=BatchLimits(max_requests=5), batch_id=path.stem)
            path.write_text(job.to_json())
            print("created", flush=True)
            client.batches.wait(job, poll_interval=0.05)  # killed while waiting
            return
        job = client.batches.wait(BatchJob.from_json(path.read_text()), poll_interval=0.05)
        results = list(client.batches.results(job))
        summary = {
            "status": job.status,
            "parts": [p.provider_id for p in job.parts],
            "ids": sorted(r.id for r in results),
            "ok": sum(r.ok for r in results),
            "priced": all(r.cost is not None and r.cost.total > 0 for r in results),
        }
        print(json.dumps(summary), flush=True)


if __name__ == "__main__":
    main()
