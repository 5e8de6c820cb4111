"""Pointing chat clients at the session sandbox's LLM emulation (each provider on its own paths)."""

from __future__ import annotations

from typing import Any

PROVIDERS = ["openai", "anthropic", "gemini", "groq"]


def sandbox_chat_options(url: str, key: str = "key", **extra: Any) -> dict[str, Any]:
    """``ChatClient(**...)`` arguments for the sandbox at ``url``: a key per provider (``test-<provider>-<key>``:
    sandbox state such as caches and batches is private to a key), its base URLs, no retries."""
    return {
        "api_keys": {p: f"test-{p}-{key}" for p in PROVIDERS},
        "base_urls": {"openai": f"{url}/v1", "anthropic": url, "gemini": url, "groq": url},
        "max_retries": 0,
        **extra,
    }
