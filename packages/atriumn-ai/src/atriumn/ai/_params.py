"""The parameters of a chat call, written once: :meth:`ChatClient.chat`, :meth:`ChatClient.stream` and their
async twins take them as ``**params: Unpack[ChatParams]``, so IDE completion and ``mypy --strict`` see every
parameter with its type, and a new parameter is added in one place.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal, TypedDict

if TYPE_CHECKING:
    from ._parts import CachePoint, Reasoning
    from ._types import TextPart, Tool

__all__ = ["ChatParams", "ErrorMode", "check_params"]

#: What a stream does with an error: raise it, or yield an :class:`ErrorEvent`.
ErrorMode = Literal["raise", "event"]


class ChatParams(TypedDict, total=False):
    """The optional parameters of ``chat`` and ``stream`` (sync and async), by keyword.

    Attributes:
        system: the system prompt: text, or text parts with a :class:`CachePoint` (``["...", CachePoint()]``).
        temperature: sampling temperature.
        max_tokens: the longest answer, in tokens (Anthropic requires one: 4096 when omitted).
        top_p, top_k: nucleus and top-k sampling. A sampling parameter the model does not accept raises
            :class:`UnsupportedParameterError` before sending (never dropped silently).
        stop: one stop sequence or several.
        seed: a sampling seed, where the provider takes one.
        tools: :class:`Tool` s, typed callables, or tool dicts (OpenAI's or Anthropic's shape); a
            :class:`CachePoint` after a tool marks the tools up to it for prompt caching.
        tool_choice: ``"auto"``, ``"none"``, ``"required"``, or a tool's name.
        response_format: structured output: a JSON Schema dict, OpenAI's ``response_format`` dict (JSON mode
            ``{"type": "json_object"}`` included), or a class (attrs, dataclass, ``TypedDict``, or a pydantic
            model when pydantic is installed); the answer is checked and ``.parsed`` is an instance of it.
        reasoning: a :class:`Reasoning` (an effort and/or a thinking budget) or an effort name (``"high"``),
            mapped to each provider's controls; a value the provider does not take is refused before sending.
        cached_content: a Gemini explicit cache (a :class:`CachedContent` from ``client.caches.create`` or its
            name, ``cachedContents/...``).
        prompt_cache_key: OpenAI's ``prompt_cache_key`` (requests sharing a prefix and a key share a cache).
        prompt_cache_options: OpenAI's ``prompt_cache_options`` (``{"mode": "explicit", "ttl": "30m"}``).
        extra_body: provider-specific fields merged into the request body.
        extra_headers, extra_query: headers and query parameters added to this call's requests.
        timeout: this call's overall deadline in seconds (each request of it, retries included).
        cache: use the client's response cache (when it has one). Default True.
        replay_unsafe: this call's replay rule (default: the client's; see :class:`ChatClient`).
        run_tools: run the tools the model calls (``tools`` given as typed functions, sync or async) and send
            the results back, until the model answers or ``max_steps`` is reached; a tool that raises, an unknown
            tool, or arguments that do not match the signature go back to the model as an error result. The
            response then carries every :class:`Step`, with usage and cost summed.
        max_steps: the most requests a tool loop makes (default 8); when the last one still calls tools, its
            response is returned as it is (``finish_reason == "tool_calls"``).
        max_parse_retries: when the answer does not match ``response_format``, ask again this many times with
            what is wrong appended (default 0); each attempt's usage and cost count. Then
            :class:`StructuredOutputError`, with the text, the path, and the response.
    """

    system: str | Sequence[str | TextPart | CachePoint] | None
    temperature: float | None
    max_tokens: int | None
    top_p: float | None
    top_k: int | None
    stop: str | Sequence[str] | None
    seed: int | None
    tools: Sequence[Tool | Callable[..., Any] | Mapping[str, Any] | Any] | None
    tool_choice: str | None
    response_format: Any
    reasoning: Reasoning | str | None
    cached_content: Any
    prompt_cache_key: str | None
    prompt_cache_options: Mapping[str, Any] | None
    extra_body: Mapping[str, Any] | None
    extra_headers: Mapping[str, str] | None
    extra_query: Mapping[str, Any] | None
    timeout: float | None
    cache: bool
    replay_unsafe: bool | None
    run_tools: bool
    max_steps: int
    max_parse_retries: int


_NAMES = frozenset(ChatParams.__annotations__)


def check_params(params: Mapping[str, Any], method: str) -> None:
    """Refuse a keyword ``chat`` does not take, as Python refuses one for a plain function (a ``TypeError``),
    suggesting the closest name."""
    for name in params:
        if name not in _NAMES:
            close = difflib.get_close_matches(name, _NAMES, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise TypeError(f"{method}() got an unexpected keyword argument {name!r}{hint}")
