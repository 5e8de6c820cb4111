"""One chat request seen provider-neutrally, the deterministic answer to it, and its token counts.

Each provider module parses its own wire format into a :class:`Turn`; :func:`answer` decides the reply
from the model's :class:`~._behaviour.Behaviour`; :class:`Usage` holds the counts that each provider then
reports in its own convention. Tokens are whitespace-separated words, everywhere.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from ._behaviour import Behaviour
from ._parts import Media, inspect_report
from ._schema import instance_of

__all__ = [
    "CACHE_MIN_TOKENS",
    "THINKING_TOKENS",
    "Answer",
    "ToolCall",
    "Turn",
    "Usage",
    "answer",
    "count_tokens",
    "usage_of",
]

#: Reasoning tokens reported by ``think`` models, and by ``reason`` models when they think (their thinking text
#: has exactly this many words).
THINKING_TOKENS = 8
#: A system prompt of at least this many tokens is reported as cached by every model (as real prompt caches
#: start at 1,024 tokens).
CACHE_MIN_TOKENS = 1024


def count_tokens(text: str) -> int:
    """Tokens in ``text``: whitespace-separated words."""
    return len(text.split())


@dataclasses.dataclass
class Turn:
    """A chat request, provider-neutral.

    Attributes:
        system: the system prompt/instructions text ("" if none).
        texts: every message's text, in order (the last user message's text is the echo).
        last_user: the text of the last user message.
        tools: ``(name, JSON schema of the arguments)`` of every tool offered.
        forced_tool: the tool the request forces (``tool_choice``), if any.
        tools_disabled: ``tool_choice`` says no tool may be called.
        tool_result: the text of a tool result when the conversation ends with one, else ``None``.
        tool_results: the text of every tool result in the conversation, in order.
        tool_rounds: how many of the model's earlier answers in the conversation called tools.
        replies: how many of the model's earlier answers the conversation holds.
        schema: the JSON schema the answer must match (structured output), if any.
        json_mode: JSON output was requested (with or without a schema).
        max_tokens: the output token limit, if any.
        media: every non-text part of the conversation (images, documents, audio), in order.
        cache_ttls: one entry per prompt-cache breakpoint of the request (its TTL, or ``None``).
        reasoning: the request's reasoning controls as received (``inspect`` reports them), or ``None``.
        cached_content: the Gemini cache the request uses (``cachedContents/<id>``), or ``None``.
        cached_tokens: prompt tokens served from an explicit cache (a Gemini cache), overriding the
            ``cache`` marker's rule; ``None`` otherwise.
        thinking: the answer is produced with reasoning (a ``reason`` model, thinking on): reasoning
            tokens are reported.
    """

    system: str = ""
    texts: list[str] = dataclasses.field(default_factory=list)
    last_user: str = ""
    tools: list[tuple[str, dict[str, Any]]] = dataclasses.field(default_factory=list)
    forced_tool: str | None = None
    tools_disabled: bool = False
    tool_result: str | None = None
    tool_results: list[str] = dataclasses.field(default_factory=list)
    tool_rounds: int = 0
    replies: int = 0
    schema: dict[str, Any] | None = None
    json_mode: bool = False
    max_tokens: int | None = None
    media: list[Media] = dataclasses.field(default_factory=list)
    cache_ttls: list[str | None] = dataclasses.field(default_factory=list)
    reasoning: dict[str, Any] | None = None
    cached_content: str | None = None
    cached_tokens: int | None = None
    thinking: bool = False

    @property
    def text_tokens(self) -> int:
        """Prompt tokens of text: system prompt and messages."""
        return count_tokens(self.system) + sum(count_tokens(t) for t in self.texts)

    def media_tokens(self, kind: str) -> int:
        """Prompt tokens of the non-text parts of one kind (``image``, ``document``, ``audio``)."""
        return sum(m.tokens for m in self.media if m.kind == kind)

    @property
    def input_tokens(self) -> int:
        """Every prompt token: system prompt, messages and non-text parts."""
        return self.text_tokens + sum(m.tokens for m in self.media)


@dataclasses.dataclass(frozen=True)
class ToolCall:
    """A tool call of the answer: the tool's name and its arguments (a JSON object)."""

    name: str
    arguments: dict[str, Any]

    @property
    def arguments_json(self) -> str:
        """The arguments as compact JSON text (what OpenAI and Anthropic streams carry in fragments)."""
        return json.dumps(self.arguments, separators=(",", ":"))


@dataclasses.dataclass(frozen=True)
class Answer:
    """The model's answer: text (possibly empty), tool calls, and whether ``max_tokens`` cut it."""

    text: str
    tool_calls: tuple[ToolCall, ...] = ()
    truncated: bool = False

    @property
    def chunks(self) -> list[str]:
        """The text as streamed: one chunk per word, each after the first with its leading space."""
        if not self.text:
            return []
        words = self.text.split(" ")
        return [words[0], *(" " + w for w in words[1:])]


def answer(turn: Turn, behaviour: Behaviour) -> Answer:
    """The deterministic answer of a model with ``behaviour`` to ``turn``."""
    if behaviour.text is not None:
        return _limit(behaviour.text, turn.max_tokens)
    if behaviour.kind == "inspect":
        return Answer(inspect_report(turn.media, turn.cache_ttls, turn.reasoning, turn.cached_content))
    if behaviour.kind == "tool" and turn.tools and not turn.tools_disabled:
        if turn.tool_result is not None:
            return _limit(f"tool said: {turn.tool_result}", turn.max_tokens)
        name, schema = turn.tools[0]
        if turn.forced_tool is not None:
            name, schema = next(((n, s) for n, s in turn.tools if n == turn.forced_tool), (name, schema))
        arguments = instance_of(schema)
        return Answer("", (ToolCall(name, arguments if isinstance(arguments, dict) else {}),))
    if behaviour.kind == "steps" and turn.tools and not turn.tools_disabled:
        return _step(turn, behaviour)
    if behaviour.kind == "bad-json" and not (behaviour.once and turn.replies):
        return Answer("this is not json")
    if turn.schema is not None:
        return Answer(json.dumps(instance_of(turn.schema)))
    if behaviour.kind == "json" or turn.json_mode:
        return Answer(json.dumps({"echo": turn.last_user}))
    return _limit(turn.last_user, turn.max_tokens)


def _step(turn: Turn, behaviour: Behaviour) -> Answer:
    """``steps``: round k (k = the model's earlier tool-calling answers) calls offered tool k (``parallel``:
    every tool in round 0; ``unknown``: then ``no_such_tool``); once they are done, the tool results, joined."""
    rounds: list[list[tuple[str, dict[str, Any]]]] = (
        [list(turn.tools)] if behaviour.parallel else [[tool] for tool in turn.tools]
    )
    if behaviour.unknown_tool:
        rounds.append([("no_such_tool", {})])
    if turn.tool_rounds < len(rounds):
        calls = []
        for name, schema in rounds[turn.tool_rounds]:
            arguments = instance_of(schema)
            calls.append(ToolCall(name, arguments if isinstance(arguments, dict) else {}))
        return Answer("", tuple(calls))
    return _limit("done: " + " | ".join(turn.tool_results), turn.max_tokens)


def _limit(text: str, max_tokens: int | None) -> Answer:
    if max_tokens is None or max_tokens <= 0:
        return Answer(text)
    words = text.split(" ") if text else []
    if count_tokens(text) <= max_tokens:
        return Answer(text)
    kept: list[str] = []
    seen = 0
    for word in words:
        if word:
            if seen == max_tokens:
                break
            seen += 1
        kept.append(word)
    return Answer(" ".join(kept), truncated=True)


@dataclasses.dataclass(frozen=True)
class Usage:
    """Token counts of one exchange, provider-neutral.

    Attributes:
        prompt: every prompt token (cached ones included).
        cached: prompt tokens served from the prompt cache (a subset of ``prompt``).
        cache_write: prompt tokens written to the cache (Anthropic ``cache-write`` models; a subset too).
        output: tokens of the answer: its text, plus each tool call's arguments as ``json.dumps`` renders them.
        thinking: reasoning tokens (``think`` models, ``reason`` models thinking), not part of ``output``.
        images: prompt tokens of image parts (a subset of ``prompt``).
        documents: prompt tokens of document parts (a subset of ``prompt``).
        audio: prompt tokens of audio parts (a subset of ``prompt``).
    """

    prompt: int
    cached: int
    cache_write: int
    output: int
    thinking: int
    images: int = 0
    documents: int = 0
    audio: int = 0

    @property
    def text(self) -> int:
        """Prompt tokens of text (every prompt token that is not a non-text part's)."""
        return self.prompt - self.images - self.documents - self.audio

    @property
    def uncached(self) -> int:
        """Prompt tokens neither read from nor written to the cache."""
        return self.prompt - self.cached - self.cache_write


def usage_of(turn: Turn, behaviour: Behaviour, reply: Answer) -> Usage:
    """The token counts of ``reply`` to ``turn``."""
    system = count_tokens(turn.system)
    cached = system if behaviour.cache or system >= CACHE_MIN_TOKENS else 0
    write = 0
    if turn.cached_tokens is not None:
        cached = turn.cached_tokens
    elif behaviour.cache_write:
        cached, write = 0, system
    output = count_tokens(reply.text) + sum(count_tokens(json.dumps(c.arguments)) for c in reply.tool_calls)
    return Usage(
        prompt=turn.input_tokens,
        cached=cached,
        cache_write=write,
        output=output,
        thinking=THINKING_TOKENS if behaviour.think or turn.thinking else 0,
        images=turn.media_tokens("image"),
        documents=turn.media_tokens("document"),
        audio=turn.media_tokens("audio"),
    )
