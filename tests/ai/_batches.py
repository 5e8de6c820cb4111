"""What the batch tests share: clients pointed at a sandbox (fresh keys: jobs are private to a key), sync and
async batches behind one awaitable surface, and request lists with per-request errors."""

from __future__ import annotations

import inspect
import uuid
from collections.abc import Iterator
from typing import Any

from atriumn.ai import AsyncChatClient, BatchRequest, ChatClient
from atriumn.sandbox import Sandbox

PROVIDERS = ["openai", "anthropic", "gemini", "groq"]
#: Priced models the sandbox answers with its echo model.
MODELS = {
    "openai": "openai:gpt-4o-mini",
    "anthropic": "anthropic:claude-haiku-4-5",
    "gemini": "gemini:gemini-2.5-flash",
    "groq": "groq:llama-3.1-8b-instant",
}


def base_urls(sandbox: Sandbox) -> dict[str, str]:
    """The sandbox as every provider's base URL (docs/sandbox-llm.md)."""
    url = sandbox.url
    return {"openai": f"{url}/v1", "anthropic": url, "gemini": url, "groq": url}


def fresh_keys() -> dict[str, str]:
    """New keys for every provider, each holding a marker that must never surface in errors or telemetry."""
    return {p: f"test-{p}-secretkey-{uuid.uuid4().hex[:10]}" for p in PROVIDERS}


def make_client(sandbox: Sandbox, kind: str, keys: dict[str, str] | None = None, **options: Any) -> Any:
    """A sync or async chat client on the sandbox."""
    cls = ChatClient if kind == "sync" else AsyncChatClient
    return cls(api_keys=keys or fresh_keys(), base_urls=base_urls(sandbox), environ={}, max_retries=0, **options)


async def call(obj: Any, method: str, *args: Any, **kwargs: Any) -> Any:
    """Call a sync or async method and return its value."""
    result = getattr(obj, method)(*args, **kwargs)
    return await result if inspect.isawaitable(result) else result


async def collect(iterator: Any) -> list[Any]:
    """Every item of a sync or async iterator."""
    if hasattr(iterator, "__aiter__"):
        return [item async for item in iterator]
    return list(iterator)


async def close(client: Any) -> None:
    """Close a sync or async client."""
    await call(client, "close")


def requests(n: int, *, every: int = 50, error_model: str = "error-429", **params: Any) -> Iterator[BatchRequest]:
    """``n`` requests ``r0 ...`` saying ``request number i``; one in ``every`` (index 7, 57, ...) asks the sandbox
    for a per-request error (its model, set through ``extra_body``, is ``error_model``)."""
    for i in range(n):
        extra = {"extra_body": {"model": error_model}} if every and i % every == 7 else {}
        yield BatchRequest(f"r{i}", f"request number {i}", max_tokens=50, **params, **extra)  # type: ignore[arg-type]
