"""What each provider and model accepts, so an unsupported parameter fails clearly before any request.

The table is a list of rules ``(provider, model pattern, unsupported parameters, reason)``; the first rule
whose provider and pattern match decides. Add your own with :func:`register_capabilities` (rules added later
are checked first).
"""

from __future__ import annotations

import functools
import re
import threading
from collections.abc import Iterable, Mapping
from typing import Any

from ._errors import UnsupportedParameterError

__all__ = ["generation", "register_capabilities", "unsupported_parameters"]

_SAMPLING = frozenset({"temperature", "top_p", "top_k"})

# (provider, compiled pattern, unsupported, reason)
_RULES: list[tuple[str, re.Pattern[str], frozenset[str], str]] = []
_lock = threading.Lock()
# Bumped by every registration and part of the memo's key, so an answer computed from the old rules by a
# racing thread can never be returned once a new rule is in.
_generation = 0


@functools.lru_cache(maxsize=1024)
def _answer(provider: str, model: str, generation: int) -> tuple[frozenset[str], str]:
    """The first matching rule's answer, remembered per model and rule generation."""
    with _lock:
        for rule_provider, pattern, unsupported, reason in _RULES:
            if rule_provider == provider and pattern.search(model):
                return unsupported, reason
    return frozenset(), ""


def register_capabilities(provider: str, model_pattern: str, *, unsupported: Iterable[str], reason: str = "") -> None:
    """Declare the parameters a provider's models (matching the regular expression) do NOT accept.

    Example: ``register_capabilities("anthropic", r"claude-3", unsupported=())`` re-allows sampling parameters
    on Claude 3 models.
    """
    global _generation
    with _lock:
        _RULES.insert(0, (provider, re.compile(model_pattern), frozenset(unsupported), reason))
        _generation += 1
    _answer.cache_clear()  # the old generation's answers are unreachable: free them


def generation() -> int:
    """How many rules were registered: a plan checked under an older generation is checked again."""
    return _generation


def _defaults() -> None:
    # Order: later insertions win, so the most general rule goes first.
    register_capabilities("openai", r".", unsupported={"top_k"}, reason="OpenAI has no top_k")
    register_capabilities(
        "openai",
        r"^(o\d|gpt-5)",
        unsupported={"temperature", "top_p", "top_k"},
        reason="reasoning models take no sampling parameters",
    )
    register_capabilities("groq", r".", unsupported={"top_k"}, reason="Groq has no top_k")
    register_capabilities(
        "anthropic",
        r".",
        unsupported=_SAMPLING,
        reason="the current Messages API takes no sampling parameters for this model",
    )
    register_capabilities("anthropic", r"^claude-3", unsupported=(), reason="")


_defaults()


def unsupported_parameters(provider: str, model: str) -> tuple[frozenset[str], str]:
    """The parameters ``provider:model`` does not accept, and why."""
    return _answer(provider, model, _generation)


def check_parameters(provider: str, model: str, params: Mapping[str, Any]) -> None:
    """Raise :class:`UnsupportedParameterError` naming the first given parameter the model does not accept."""
    unsupported, reason = unsupported_parameters(provider, model)
    given = [name for name in unsupported if params.get(name) is not None]
    if given:
        raise UnsupportedParameterError(min(given), f"{provider}:{model}", reason)
