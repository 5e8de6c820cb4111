"""What a chat call asks of a shared state (``ChatClient(shared_state=RedisState...)``), sans-IO.

Each chat operation carries a :class:`~atriumn.core._shared_limits.SharedScope`:

- its budget: the provider (the client's name for it), the model, and a fingerprint of the API key;
- its weight: an estimate of its tokens, reserved before sending — the prompt's characters / 4 (system prompt,
  messages and tool schemas) plus ``max_tokens`` (:data:`DEFAULT_OUTPUT_ESTIMATE` when not given); when the
  answer's usage is known, :func:`settle` moves the reservation to the real count (input plus output tokens);
- what to learn: the provider's rate-limit headers, read by :func:`~._ratelimits.parse_rate_limits` (Groq's
  request limit is per day, so only its token limit is learned; Gemini sends none: its 429s still pause);
- the per-model breaker: ``provider:model`` with the client's :class:`~atriumn.core.CircuitBreakerPolicy`,
  counting calls as the client's own breaker does.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from atriumn.core._shared_limits import LearnedLimits, SharedScope

    from ._request import ChatRequest
    from ._types import Usage
    from .providers._base import Adapter

__all__ = ["DEFAULT_OUTPUT_ESTIMATE", "base_transport", "chat_scope", "estimate", "settle"]

_T = TypeVar("_T")

#: Output tokens reserved for a call that gives no ``max_tokens`` (settled to the real count afterwards).
DEFAULT_OUTPUT_ESTIMATE = 256


def base_transport(
    cls: type[_T], transport: _T | None, max_retries: int | None, deadline: float | None, shared_state: Any
) -> _T:
    """A chat client's base transport: the one given (derived when it should use another shared state), or a
    new one."""  # fmt: skip
    if transport is None:
        return cls(max_retries=max_retries, deadline=deadline, shared_state=shared_state)  # type: ignore[call-arg]
    if shared_state is not None and shared_state is not getattr(transport, "shared_state", None):
        return transport.with_options(shared_state=shared_state)  # type: ignore[attr-defined, no-any-return]
    return transport


def _learner(wire: str, provider: str) -> Any:
    from atriumn.core._shared_limits import LearnedLimits

    from ._ratelimits import parse_rate_limits

    def learn(headers: Mapping[str, str]) -> LearnedLimits | None:
        info = parse_rate_limits(wire, headers)
        if info.limit_requests is None and info.limit_tokens is None:
            return None
        resets = [
            reset
            for remaining, reset in (
                (info.remaining_requests, info.reset_requests),
                (info.remaining_tokens, info.reset_tokens),
            )
            if remaining == 0 and reset is not None
        ]
        return LearnedLimits(
            requests=None if provider == "groq" else info.limit_requests,  # Groq counts requests per day
            tokens=info.limit_tokens,
            reset=max(resets) if resets else None,
        )

    return learn


def estimate(req: ChatRequest) -> int:
    """The tokens a request may spend: its prompt's characters / 4 plus its output limit."""
    chars = sum(len(m.text) for m in req.messages) + len(req.system or "")
    chars += sum(len(json.dumps(dict(t.parameters or {}))) + len(t.description or "") for t in req.tools)
    return chars // 4 + (req.max_tokens or DEFAULT_OUTPUT_ESTIMATE)


def chat_scope(adapter: Adapter, req: ChatRequest) -> SharedScope:
    """The scope of one chat request through ``adapter``."""
    from atriumn.core._shared_limits import SharedScope, fingerprint

    provider = adapter.config.name
    learn = adapter.__dict__.get("_atriumn_learn")
    if learn is None:
        learn = adapter.__dict__["_atriumn_learn"] = _learner(adapter.name, provider)
    key = adapter.__dict__.get("_atriumn_key_fingerprint")
    if key is None:
        key = adapter.__dict__["_atriumn_key_fingerprint"] = fingerprint(adapter.config.api_key or "")
    return SharedScope(
        provider=provider,
        model=req.model,
        credential=key,
        tokens=estimate(req),
        learn=learn,
        breaker=adapter.shared_breaker,
    )


def settle(state: Any, adapter: Adapter, req: ChatRequest, usage: Usage) -> None:
    """Move the call's token reservation to what it really used (sent with the next round trip: no I/O)."""
    state.settle(chat_scope(adapter, req), usage.total_tokens)
