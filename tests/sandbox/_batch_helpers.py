"""Shared pieces of the batch emulation tests: a sandbox with a zero batch delay and small limits, keys, JSONL."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable
from typing import Any

#: The configuration of the batch tests' sandbox: jobs end by the next read, limits small enough to reach.
LIMITS: dict[str, Any] = {
    "batch_delay": 0.0,
    "openai_batch_max_requests": 100,
    "openai_batch_max_bytes": 64 * 1024,
    "groq_batch_max_requests": 100,
    "groq_batch_max_bytes": 64 * 1024,
    "anthropic_batch_max_requests": 100,
    "anthropic_batch_max_bytes": 64 * 1024,
    "gemini_batch_max_inline_bytes": 64 * 1024,
}
#: A model whose job runs for a minute (``delay-<ms>``): time enough to cancel it, never waited for.
SLOW = "echo-delay-60000"


def key(prefix: str) -> str:
    """A fresh API key (jobs and files are private to their key)."""
    return f"test-{prefix}-key-{uuid.uuid4().hex[:8]}"


def jsonl(docs: Iterable[Any]) -> bytes:
    """Documents as JSONL bytes."""
    return b"".join(json.dumps(d).encode() + b"\n" for d in docs)


def parse_jsonl(data: bytes) -> list[Any]:
    """JSONL bytes as documents."""
    return [json.loads(line) for line in data.splitlines() if line.strip()]


def chat_line(custom_id: str, model: str, text: str, url: str = "/v1/chat/completions") -> dict[str, Any]:
    """One line of an OpenAI/Groq batch input file."""
    body = {"model": model, "messages": [{"role": "user", "content": text}]}
    return {"custom_id": custom_id, "method": "POST", "url": url, "body": body}


def fifty_with_one_error(error_model: str) -> list[tuple[str, str]]:
    """``(model, text)`` of 50 requests of which one (index 17, 2 %) fails with ``error_model``."""
    return [(error_model if i == 17 else "echo", f"request number {i} here") for i in range(50)]
