"""What each provider's wire format can carry, checked before any request: media parts and their inline size
limits, reasoning controls, prompt-cache points and their TTLs, explicit caches and cache keys.

A request is refused with :class:`UnsupportedParameterError` (the provider cannot take the thing) or
:class:`ValidationError` (the value is out of range), naming the part or parameter and the provider — never
sent to fail, never dropped silently. Reasoning parts from another provider are the one exception: they are
that provider's state (their signatures are valid nowhere else), so they are left out, with a debug log.

Inline size limits, as the providers document them (November 2026): OpenAI 20 MB per image, 32 MB per file,
25 MB per audio clip; Anthropic 5 MB per image and 32 MB per PDF; Groq 4 MB per base64 image; Gemini 20 MB
for the whole request's inline data (larger files go through its Files API, as a ``fileData`` URI).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

from atriumn.ai._errors import UnsupportedParameterError
from atriumn.ai._parts import AudioPart, CachePoint, DocumentPart, ImagePart, Reasoning, ReasoningPart
from atriumn.ai._request import ChatRequest
from atriumn.ai._types import Message, Part
from atriumn.core import ValidationError

__all__ = ["CACHE_TTLS", "check_request", "foreign_reasoning"]

logger = logging.getLogger("atriumn.ai")

_MB = 1_000_000
#: provider -> part type -> (URL allowed, per-part inline limit in bytes or None); inline is always allowed
_MEDIA: dict[str, dict[str, tuple[bool, int | None]]] = {
    "openai": {"image": (True, 20 * _MB), "document": (False, 32 * _MB), "audio": (False, 25 * _MB)},
    "openai_compatible": {"image": (True, None), "document": (False, None), "audio": (False, None)},
    "groq": {"image": (True, 4 * _MB)},
    "anthropic": {"image": (True, 5 * _MB), "document": (True, 32 * _MB)},
    "gemini": {"image": (True, None), "document": (True, None), "audio": (True, None)},
}
_GEMINI_INLINE_TOTAL = 20 * _MB
#: The TTLs each provider's cache points take, and how many points a request may carry.
CACHE_TTLS: dict[str, tuple[frozenset[str], int]] = {
    "anthropic": (frozenset({"5m", "1h"}), 4),
    "openai": (frozenset({"30m", "12h"}), 4),
}
_EFFORTS: dict[str, frozenset[str]] = {
    "openai": frozenset({"none", "minimal", "low", "medium", "high", "xhigh", "max"}),
    "openai_compatible": frozenset({"none", "minimal", "low", "medium", "high", "xhigh", "max"}),
    "groq": frozenset({"none", "low", "medium", "high"}),
    "anthropic": frozenset({"none", "low", "medium", "high", "xhigh", "max"}),
    "gemini": frozenset({"none", "minimal", "low", "medium", "high", "xhigh"}),
}


def check_request(provider: str, req: ChatRequest) -> None:
    """Raise for anything in ``req`` that ``provider`` cannot take (see the module docstring)."""
    if _plain(req):
        return
    model = req.full_model
    _check_media(provider, req)
    _check_cache_points(provider, req)
    if req.reasoning is not None:
        _check_reasoning(provider, req, req.reasoning)
    if req.cached_content is not None and provider != "gemini":
        raise UnsupportedParameterError("cached_content", model, "explicit caches are a Gemini feature")
    if req.cached_content is not None and (req.system is not None or req.system_parts or req.tools or req.tool_choice):
        raise ValidationError(
            "cached_content: a Gemini cache holds the system prompt, tools and tool choice: give them to "
            "caches.create, not with the cache (Gemini refuses both together)"
        )
    if provider != "openai":
        for name in ("prompt_cache_key", "prompt_cache_options"):
            if getattr(req, name) is not None:
                raise UnsupportedParameterError(name, model, "an OpenAI prompt-caching option")


def _parts(req: ChatRequest) -> Iterator[tuple[int, Message, int, Part]]:
    for i, m in enumerate(req.messages):
        if not isinstance(m.content, str):
            for j, p in enumerate(m.content):
                yield i, m, j, p


def _plain(req: ChatRequest) -> bool:
    """Text messages and no reasoning or caching option: nothing here to refuse (the common call, checked fast)."""
    if (
        req.reasoning is not None
        or req.cached_content is not None
        or req.prompt_cache_key is not None
        or req.prompt_cache_options is not None
        or req.system_parts
        or req.tool_cache_points
    ):
        return False
    return all(type(m.content) is str for m in req.messages)


def _check_media(provider: str, req: ChatRequest) -> None:
    allowed = _MEDIA.get(provider, _MEDIA["openai_compatible"])
    inline_total = 0
    for i, m, j, p in _parts(req):
        if not isinstance(p, ImagePart | DocumentPart | AudioPart):
            continue
        where = f"messages[{i}].content[{j}]"
        if m.role != "user":
            raise ValidationError(f"{where}: {p.type}s go in user messages, not in a {m.role} message")
        rule = allowed.get(p.type)
        if rule is None:
            raise UnsupportedParameterError(where, req.full_model, f"{provider} takes no {p.type} input in chat")
        url_ok, limit = rule
        if p.url is not None and not url_ok:
            raise UnsupportedParameterError(
                where, req.full_model, f"{provider} takes {p.type}s inline only, not by URL"
            )
        if isinstance(p, AudioPart) and provider in ("openai", "openai_compatible") and p.format is None:
            raise UnsupportedParameterError(
                where, req.full_model, f"{provider} takes wav or mp3 audio, not {p.media_type}"
            )
        if limit is not None and p.size > limit:
            raise ValidationError(
                f"{where}: the {p.type} is {p.size:,} bytes; {provider} takes at most {limit:,} bytes inline"
            )
        inline_total += p.size
    if provider == "gemini" and inline_total > _GEMINI_INLINE_TOTAL:
        raise ValidationError(
            f"messages: {inline_total:,} bytes of inline media; gemini takes at most {_GEMINI_INLINE_TOTAL:,} bytes "
            "per request (upload large files with its Files API and pass an ImagePart/DocumentPart url)"
        )


def _cache_points(req: ChatRequest) -> Iterator[tuple[str, CachePoint]]:
    for j, p in enumerate(req.system_parts):
        if isinstance(p, CachePoint):
            yield f"system[{j}]", p
    for index, point in req.tool_cache_points.items():
        yield f"tools[{index + 1}]", point
    for i, _m, j, p in _parts(req):
        if isinstance(p, CachePoint):
            yield f"messages[{i}].content[{j}]", p


def _check_cache_points(provider: str, req: ChatRequest) -> None:
    points = list(_cache_points(req))
    if provider == "openai" and req.tool_cache_points:  # Chat Completions has no breakpoint on tools
        logger.debug("openai: %d cache point(s) after tools ignored", len(req.tool_cache_points))
        points = [(where, p) for where, p in points if not where.startswith("tools[")]
    if not points:
        return
    rule = CACHE_TTLS.get(provider)
    if rule is None:
        logger.debug("%s caches prompts implicitly: %d cache point(s) ignored", provider, len(points))
        return
    ttls, most = rule
    if len(points) > most:
        raise ValidationError(f"{points[most][0]}: {provider} takes at most {most} cache points per request")
    for where, point in points:
        if point.ttl is not None and point.ttl not in ttls:
            allowed = " or ".join(sorted(ttls))
            raise ValidationError(f"{where}.ttl: {provider} takes {allowed}, not {point.ttl!r}")


def _check_reasoning(provider: str, req: ChatRequest, reasoning: Reasoning) -> None:
    model = req.full_model
    efforts = _EFFORTS.get(provider, _EFFORTS["openai_compatible"])
    if reasoning.effort is not None and reasoning.effort not in efforts:
        raise UnsupportedParameterError(
            "reasoning.effort", model, f"{provider} takes {', '.join(sorted(efforts))}, not {reasoning.effort!r}"
        )
    if provider == "anthropic" and reasoning.effort != "none" and req.tool_choice not in (None, "auto", "none"):
        raise UnsupportedParameterError(
            "tool_choice",
            model,
            f"with thinking on, anthropic takes tool_choice 'auto' or 'none', not {req.tool_choice!r}",
        )
    budget = reasoning.budget_tokens
    if budget is None:
        return
    if provider == "gemini" and reasoning.effort is not None:
        raise ValidationError(
            "reasoning: gemini takes a thinking level (effort=) or a thinking budget (budget_tokens=), not both"
        )
    if provider in ("openai", "openai_compatible", "groq"):
        raise UnsupportedParameterError("reasoning.budget_tokens", model, f"{provider} takes an effort, not a budget")
    if provider == "anthropic":
        from .anthropic import DEFAULT_MAX_TOKENS

        max_tokens = req.max_tokens or DEFAULT_MAX_TOKENS
        if not 1024 <= budget < max_tokens:
            raise ValidationError(
                f"reasoning.budget_tokens: anthropic takes at least 1024 and less than max_tokens ({max_tokens}), "
                f"got {budget}"
            )


def foreign_reasoning(provider: str, part: Part) -> bool:
    """Whether ``part`` is another provider's reasoning (left out of this provider's request)."""
    if isinstance(part, ReasoningPart) and part.provider and part.provider != provider:
        logger.debug("leaving out %s reasoning in a request to %s", part.provider, provider)
        return True
    return False
