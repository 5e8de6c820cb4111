"""What the batch tests share: clients pointed at a sandbox (fresh keys: jobs are private to a key), sync and
async batches behind one awaitable surface, and request lists with per-request errors."""

from __future__ import annotations

import inspect
import uuid
from collections.abc import Iterator
from typing import Any

from atriumn.ai import AsyncChatClient, BatchRequest, ChatClient
from atriumn.sandbox import Sandbox

from ._sandbox import PROVIDERS, sandbox_chat_options

__all__ = ["MODELS", "PROVIDERS", "call", "close", "collect", "make_client", "requests", "sandbox_options"]

#: Priced models the sandbox answers with its echo model.
MODELS = {
    "openai": "openai:gpt-4o-mini",
    "anthropic": "anthropic:claude-haiku-4-5",
    "gemini": "gemini:gemini-2.5-flash",
    "groq": "groq:llama-3.1-8b-instant",
}


def sandbox_options(sandbox: Sandbox, **extra: Any) -> dict[str, Any]:
    """``ChatClient(**...)`` arguments for the sandbox with fresh keys (``test-<provider>-secretkey-<hex>``: the
    marker must never surface in errors or telemetry), and no environment."""
    return sandbox_chat_options(sandbox.url, f"secretkey-{uuid.uuid4().hex[:10]}", environ={}, **extra)


def make_client(sandbox: Sandbox, kind: str, **options: Any) -> Any:
    """A sync or async chat client on the sandbox."""
    cls = ChatClient if kind == "sync" else AsyncChatClient
    return cls(**sandbox_options(sandbox, **options))


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
