"""The provider-neutral chat types: messages, tools, responses, usage, cost, rate limits and stream events.

Every provider adapter translates between these and its wire format; nothing here knows a provider.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import attrs

from ._parts import AudioPart, CachePoint, DocumentPart, ImagePart, ReasoningPart

__all__ = [
    "Attempt",
    "ChatResponse",
    "Cost",
    "Embeddings",
    "ErrorEvent",
    "FinishEvent",
    "Message",
    "Part",
    "RateLimitInfo",
    "ReasoningDelta",
    "Step",
    "StreamEvent",
    "TextDelta",
    "TextPart",
    "Tool",
    "ToolCall",
    "ToolCallDelta",
    "ToolCallEvent",
    "ToolResult",
    "ToolResultEvent",
    "Usage",
    "UsageEvent",
]


@attrs.frozen(kw_only=True)
class TextPart:
    """Text content."""

    text: str
    type: str = "text"


@attrs.frozen(kw_only=True)
class ToolCall:
    """A function call the model asked for.

    Attributes:
        id: the call id (providers without ids, like Gemini, get a generated ``call_<n>``). Providers make a
            new id per response, so the id is not part of equality: two calls of the same function with the
            same arguments are the same output.
        name: the function name.
        arguments: the parsed JSON arguments (empty when the text the model sent is not a JSON object).
        raw_arguments: the arguments as the provider sent them, when it sent text (OpenAI, Groq, Anthropic
            streams): kept so that the call goes back into a conversation exactly as received, even when it
            is not valid JSON. See :attr:`arguments_error`.
    """

    id: str = attrs.field(eq=False)
    name: str
    arguments: Mapping[str, Any] = attrs.field(factory=dict)
    raw_arguments: str | None = attrs.field(default=None, eq=False, repr=False)
    type: str = "tool_call"

    @property
    def arguments_json(self) -> str:
        """The arguments as JSON text (OpenAI's wire form): the provider's text exactly as received when there
        is one (:attr:`raw_arguments`), else :attr:`arguments` as compact JSON."""
        if self.raw_arguments is not None:
            return self.raw_arguments
        return json.dumps(self.arguments, separators=(",", ":"), ensure_ascii=False)

    @property
    def arguments_error(self) -> str | None:
        """Why :attr:`raw_arguments` is not a JSON object (models emit cut-off JSON when they stop at
        ``max_tokens``), or None when the arguments are a JSON object."""
        if self.raw_arguments is None or not self.raw_arguments.strip():
            return None
        try:
            value = json.loads(self.raw_arguments)
        except ValueError as exc:
            return f"not valid JSON: {exc}"
        except RecursionError:
            return "nested too deeply to read"
        return None if isinstance(value, dict) else f"a JSON {type(value).__name__}, not an object"


Part = TextPart | ToolCall | ImagePart | DocumentPart | AudioPart | ReasoningPart | CachePoint


def _content(items: tuple[str | Part, ...]) -> str | tuple[Part, ...]:
    """One string stays a string; anything else becomes parts (strings as :class:`TextPart` s)."""
    if len(items) == 1 and isinstance(items[0], str):
        return items[0]
    return tuple(TextPart(text=i) if isinstance(i, str) else i for i in items)


@attrs.frozen(kw_only=True)
class Message:
    """One conversation message.

    Attributes:
        role: ``system``, ``user``, ``assistant``, ``tool``, or ``developer`` (OpenAI's name for system
            instructions to reasoning models: sent as ``developer`` to OpenAI, as system text elsewhere).
        content: text, or a sequence of parts (text, images, documents, audio, reasoning, cache points).
        tool_calls: on assistant messages, the calls the model made.
        tool_call_id: on tool messages, the call this result answers.
        name: on tool messages, the function's name (Gemini needs it; found from the call when omitted); on
            other messages, OpenAI's participant name (sent to OpenAI, Groq and compatible servers only).
        is_error: on tool messages, whether the tool failed.
    """

    role: str
    content: str | tuple[Part, ...] = ""
    tool_calls: tuple[ToolCall, ...] = ()
    tool_call_id: str | None = None
    name: str | None = None
    is_error: bool = False

    @classmethod
    def user(cls, *content: str | Part) -> Message:
        """A user message: text, or text and other parts (``Message.user("What is this?", ImagePart.from_file(
        "cat.png"))``)."""
        return cls(role="user", content=_content(content))

    @classmethod
    def system(cls, *content: str | Part) -> Message:
        """A system message (its text, optionally with a :class:`CachePoint`)."""
        return cls(role="system", content=_content(content))

    @classmethod
    def assistant(cls, text: str = "", *, tool_calls: Sequence[ToolCall] = ()) -> Message:
        """An assistant message (optionally with tool calls)."""
        return cls(role="assistant", content=text, tool_calls=tuple(tool_calls))

    @classmethod
    def tool(cls, tool_call_id: str, content: Any, *, name: str | None = None, is_error: bool = False) -> Message:
        """A tool result; non-string content is sent as JSON."""
        text = content if isinstance(content, str) else json.dumps(content, ensure_ascii=False)
        return cls(role="tool", content=text, tool_call_id=tool_call_id, name=name, is_error=is_error)

    @property
    def text(self) -> str:
        """The text of the message (text parts joined)."""
        if isinstance(self.content, str):
            return self.content
        return "".join(p.text for p in self.content if isinstance(p, TextPart))


@attrs.frozen(kw_only=True)
class Tool:
    """A function the model may call.

    Attributes:
        name: the function name.
        description: what it does (the model reads this); None sends none.
        parameters: a JSON Schema object for its arguments; None sends none (a function without arguments;
            Anthropic, which requires a schema, gets an empty object schema).
        strict: ask the provider to enforce the schema (OpenAI's and Groq's ``function.strict``, Anthropic's
            ``strict``; Gemini has no such switch). None leaves it to the provider.
        provider_fields: further fields of the definition, per wire format (``"openai"``, ``"anthropic"``),
            sent as given to the providers that speak it. A tool given as a dict keeps its unknown fields here.
        function: the Python callable, when built with :meth:`from_function` (not sent).
        from_type: whether ``parameters`` was generated from Python types (by :meth:`from_function`): OpenAI
            then gets the strict form its own helpers send (every property required, ``strict: true``).
    """

    name: str
    description: str | None = None
    parameters: Mapping[str, Any] | None = None
    strict: bool | None = None
    provider_fields: Mapping[str, Mapping[str, Any]] = attrs.field(factory=dict)
    function: Callable[..., Any] | None = attrs.field(default=None, eq=False, repr=False)
    from_type: bool = attrs.field(default=False, repr=False)

    @classmethod
    def from_function(cls, fn: Callable[..., Any], *, name: str | None = None, description: str | None = None) -> Tool:
        """A tool from a typed Python function: its signature becomes the JSON Schema, its docstring the description."""
        from ._schema import schema_for_callable

        doc = (fn.__doc__ or "").strip()
        return cls(
            name=name or fn.__name__,
            description=description if description is not None else (doc.split("\n\n", 1)[0].strip() or None),
            parameters=schema_for_callable(fn),
            function=fn,
            from_type=True,
        )


@attrs.frozen(kw_only=True)
class Usage:
    """Token usage, normalised across providers.

    Attributes:
        input_tokens: every prompt token, cached or not (Anthropic's ``input_tokens`` plus its cache reads and
            writes; OpenAI's ``prompt_tokens``; Gemini's ``promptTokenCount``).
        output_tokens: every generated token, reasoning included.
        cache_read_tokens: prompt tokens served from the provider's cache (part of ``input_tokens``).
        cache_write_tokens: prompt tokens written to the cache (Anthropic; part of ``input_tokens``).
        reasoning_tokens: hidden reasoning tokens (part of ``output_tokens``).
        raw: the provider's usage object as it came.
    """

    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    reasoning_tokens: int = 0
    raw: Mapping[str, Any] = attrs.field(factory=dict, eq=False, repr=False)

    @property
    def total_tokens(self) -> int:
        """Input plus output."""
        return self.input_tokens + self.output_tokens

    @property
    def uncached_input_tokens(self) -> int:
        """Input tokens billed at the full input price."""
        return max(0, self.input_tokens - self.cache_read_tokens - self.cache_write_tokens)

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            input_tokens=self.input_tokens + other.input_tokens,
            output_tokens=self.output_tokens + other.output_tokens,
            cache_read_tokens=self.cache_read_tokens + other.cache_read_tokens,
            cache_write_tokens=self.cache_write_tokens + other.cache_write_tokens,
            reasoning_tokens=self.reasoning_tokens + other.reasoning_tokens,
        )


@attrs.frozen(kw_only=True)
class Cost:
    """The cost of one call in USD, from the price table (see :mod:`atriumn.ai._pricing`).

    Attributes:
        input, output, cache_read, cache_write: the parts.
        total: their sum.
        prices_as_of: the date of the price table used.
    """

    input: float = 0.0
    output: float = 0.0
    cache_read: float = 0.0
    cache_write: float = 0.0
    total: float = 0.0
    currency: str = "USD"
    prices_as_of: str = ""

    def __add__(self, other: Cost) -> Cost:
        return Cost(
            input=self.input + other.input,
            output=self.output + other.output,
            cache_read=self.cache_read + other.cache_read,
            cache_write=self.cache_write + other.cache_write,
            total=self.total + other.total,
            currency=self.currency,
            prices_as_of=self.prices_as_of or other.prices_as_of,
        )


@attrs.frozen(kw_only=True)
class RateLimitInfo:
    """A provider's rate-limit state, from its response headers (``None`` where it did not say).

    Reset values are seconds from when the response arrived. A chat response's are read from its headers on
    first access (most callers never look, and a real answer carries twenty-odd headers).
    """

    limit_requests: int | None = None
    remaining_requests: int | None = None
    reset_requests: float | None = None
    limit_tokens: int | None = None
    remaining_tokens: int | None = None
    reset_tokens: float | None = None
    retry_after: float | None = None
    raw: Mapping[str, str] = attrs.field(factory=dict, repr=False)

    if not TYPE_CHECKING:  # hidden from type checkers: a __getattr__ would make every misspelt name type-check

        def __getattr__(self, name: str) -> Any:
            # Reached only for a slot not set: the fields of rate limits whose headers are not read yet.
            if name.startswith("__"):
                raise AttributeError(name)
            from ._ratelimits import read_pending

            return read_pending(self, name)


@attrs.frozen(kw_only=True)
class Attempt:
    """One model tried by a fallback chain: its outcome, usage and cost."""

    model: str
    error: BaseException | None = attrs.field(default=None, eq=False)
    usage: Usage | None = None
    cost: Cost | None = None
    partial_text: str = ""


@attrs.frozen(kw_only=True)
class ChatResponse:
    """The answer to one chat call (also the final value of a stream).

    Attributes:
        text: the text output.
        parts: text, tool-call and reasoning parts in order.
        tool_calls: the tool calls.
        finish_reason: ``stop``, ``length``, ``tool_calls``, ``content_filter`` or the provider's own value.
        usage: normalised :class:`Usage`; cost: :class:`Cost` (None when the model has no price).
        provider, model: who answered (the model the provider reports).
        parsed: the structured output, when ``response_format`` was given.
        id, request_id, rate_limits, latency, attempts, raw: per-request facts (not part of equality).
        steps: for a tool loop or a structured-output re-ask, every round (:class:`Step`): each response and the
            tool results sent back; ``usage`` and ``cost`` are then the sums over the rounds (empty otherwise).
    """

    text: str = ""
    parts: tuple[Part, ...] = ()
    tool_calls: tuple[ToolCall, ...] = ()
    finish_reason: str = ""
    usage: Usage = attrs.field(factory=Usage)
    cost: Cost | None = None
    provider: str = ""
    model: str = ""
    parsed: Any = None
    id: str = attrs.field(default="", eq=False)
    request_id: str | None = attrs.field(default=None, eq=False)
    rate_limits: RateLimitInfo = attrs.field(factory=RateLimitInfo, eq=False, repr=False)
    latency: float = attrs.field(default=0.0, eq=False)
    cached: bool = attrs.field(default=False, eq=False)
    attempts: tuple[Attempt, ...] = attrs.field(default=(), eq=False, repr=False)
    steps: tuple[Step, ...] = attrs.field(default=(), eq=False, repr=False)
    raw: Any = attrs.field(default=None, eq=False, repr=False)

    @property
    def reasoning(self) -> str:
        """The reasoning text the provider returned (its :class:`ReasoningPart` s joined; empty when none)."""
        return "".join(p.text for p in self.parts if isinstance(p, ReasoningPart))

    @property
    def message(self) -> Message:
        """The assistant message to append to the conversation: the text, the tool calls, and the reasoning
        parts with their signatures, exactly as received (providers that require them back get them)."""
        if not any(isinstance(p, ReasoningPart) for p in self.parts):
            return Message(role="assistant", content=self.text, tool_calls=self.tool_calls)
        content = tuple(p for p in self.parts if not isinstance(p, ToolCall))
        return Message(role="assistant", content=content, tool_calls=self.tool_calls)


@attrs.frozen(kw_only=True)
class Embeddings:
    """Embedding vectors, one per input text, in input order."""

    vectors: tuple[tuple[float, ...], ...]
    model: str = ""
    provider: str = ""
    usage: Usage = attrs.field(factory=Usage)
    cost: Cost | None = None

    def __len__(self) -> int:
        return len(self.vectors)

    def __getitem__(self, index: int) -> tuple[float, ...]:
        return self.vectors[index]


# --- stream events ------------------------------------------------------------------------------------


@attrs.frozen
class TextDelta:
    """A piece of text."""

    text: str
    type: str = "text_delta"


@attrs.frozen(kw_only=True)
class ToolCallDelta:
    """A piece of a tool call: ``id`` and ``name`` on its first delta, argument JSON text as it streams."""

    index: int
    id: str | None = None
    name: str | None = None
    arguments: str = ""
    type: str = "tool_call_delta"


@attrs.frozen
class UsageEvent:
    """Usage so far (providers send it at the end, some also at the start)."""

    usage: Usage
    type: str = "usage"


@attrs.frozen
class FinishEvent:
    """The last event: the finish reason and the whole accumulated :class:`ChatResponse`."""

    finish_reason: str
    response: ChatResponse
    type: str = "finish"


@attrs.frozen
class ErrorEvent:
    """An error inside the stream (yielded instead of raised when the stream was opened with ``errors="event"``)."""

    error: BaseException = attrs.field(eq=False)
    type: str = "error"


@attrs.frozen
class ReasoningDelta:
    """A piece of the model's reasoning (Anthropic thinking, Gemini thought summaries, Groq reasoning)."""

    text: str
    type: str = "reasoning_delta"


@attrs.frozen(kw_only=True)
class ToolResult:
    """What a tool run by the tool loop (``run_tools=True``) returned, as sent back to the model.

    Attributes:
        call: the :class:`ToolCall` it answers.
        content: the text sent back (a string result as it is, anything else as JSON; on error, the message).
        is_error: whether the tool raised, was unknown, or got arguments that do not match its signature.
        value: the Python value the function returned (None on error).
        error: the exception the function raised, if any (never sent: only its type and message are).
        elapsed: seconds the function ran.
    """

    call: ToolCall
    content: str
    is_error: bool = False
    value: Any = attrs.field(default=None, eq=False, repr=False)
    error: BaseException | None = attrs.field(default=None, eq=False, repr=False)
    elapsed: float = attrs.field(default=0.0, eq=False, repr=False)


@attrs.frozen(kw_only=True)
class Step:
    """One round of a tool loop or of a structured-output re-ask (:attr:`ChatResponse.steps`).

    Attributes:
        messages: the conversation sent in this round.
        response: the model's answer to it.
        tool_results: the results of the tools it called, sent back in the next round (empty for the last
            round and for a re-ask).
    """

    messages: tuple[Message, ...] = attrs.field(repr=False)
    response: ChatResponse
    tool_results: tuple[ToolResult, ...] = ()


@attrs.frozen
class ToolCallEvent:
    """In a streamed tool loop: the model called a tool, which runs next."""

    call: ToolCall
    type: str = "tool_call"


@attrs.frozen
class ToolResultEvent:
    """In a streamed tool loop: a tool's result, sent back to the model in the next round."""

    result: ToolResult
    type: str = "tool_result"


StreamEvent = (
    TextDelta | ReasoningDelta | ToolCallDelta | ToolCallEvent | ToolResultEvent | UsageEvent | FinishEvent | ErrorEvent
)
