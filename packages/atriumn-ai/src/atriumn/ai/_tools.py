"""The tool loop and structured-output re-asks, sans-IO: what to send next, which tools to run, what goes back.

``chat(..., tools=[fn, ...], run_tools=True)`` keeps a :class:`Conversation`: after each response it says
which calls to run (:class:`Invocation` s, with their arguments checked against the tool's schema and
converted to the function's annotated types), records the results as tool messages, and finally returns
the last response with every :class:`Step` and the usage and cost summed. The sync and async clients only
send the requests and call the functions (:func:`run_sync`, :func:`run_async`).
"""

from __future__ import annotations

import asyncio
import inspect
import json
import time
import typing
from collections.abc import Mapping, Sequence
from typing import Any

import attrs

from atriumn.core import DecodeError, ValidationError, structure, unstructure

from ._errors import StructuredOutputError
from ._structured import inline_refs
from ._types import ChatResponse, Cost, Message, Step, Tool, ToolCall, ToolResult, Usage

__all__ = ["Conversation", "Invocation", "LoopOptions", "run_async", "run_sync"]

_MISSING = object()


@attrs.frozen(kw_only=True)
class LoopOptions:
    """``run_tools``, ``max_steps`` and ``max_parse_retries`` of one call, checked."""

    run_tools: bool = False
    max_steps: int = 8
    max_parse_retries: int = 0

    @classmethod
    def pop(cls, params: dict[str, Any]) -> LoopOptions:
        """Take the loop's options out of a call's parameters (the rest go to each request)."""
        run_tools = params.pop("run_tools", False)
        max_steps = params.pop("max_steps", 8)
        retries = params.pop("max_parse_retries", 0)
        if not isinstance(run_tools, bool):
            raise ValidationError(f"run_tools: expected True or False, got {run_tools!r}")
        for name, value, least in (("max_steps", max_steps, 1), ("max_parse_retries", retries, 0)):
            if isinstance(value, bool) or not isinstance(value, int) or value < least:
                raise ValidationError(f"{name}: expected an integer >= {least}, got {value!r}")
        return cls(run_tools=run_tools, max_steps=max_steps, max_parse_retries=retries)

    @property
    def active(self) -> bool:
        """Whether the call needs a loop at all (else it is one request, as always)."""
        return self.run_tools or self.max_parse_retries > 0


@attrs.frozen(kw_only=True)
class Invocation:
    """One tool call to run: the function and its converted arguments, or why it cannot run."""

    call: ToolCall
    tool: Tool | None
    kwargs: Mapping[str, Any] = attrs.field(factory=dict)
    error: str | None = None

    @property
    def is_async(self) -> bool:
        """Whether the function is a coroutine function."""
        return self.tool is not None and inspect.iscoroutinefunction(self.tool.function)

    def succeeded(self, value: Any, started: float) -> ToolResult:
        """The result of a call that returned ``value``."""
        return ToolResult(call=self.call, content=_content(value), value=value, elapsed=time.monotonic() - started)

    def failed(self, message: str, started: float, error: BaseException | None = None) -> ToolResult:
        """The result of a call that could not run or raised: the message only goes back to the model."""
        return ToolResult(
            call=self.call, content=message, is_error=True, error=error, elapsed=time.monotonic() - started
        )


def _content(value: Any) -> str:
    """What a tool's return value is sent as: a string as it is, anything else as JSON."""
    if isinstance(value, str):
        return value
    return json.dumps(unstructure(value, "snake"), ensure_ascii=False, default=str)


def _error_message(exc: BaseException) -> str:
    """A tool's exception as the model sees it: its type and message, never a traceback."""
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def run_sync(invocation: Invocation) -> ToolResult:
    """Call a sync tool (the async client runs these in a worker thread)."""
    started = time.monotonic()
    if invocation.error is not None or invocation.tool is None or invocation.tool.function is None:
        return invocation.failed(invocation.error or "the tool cannot run", started)
    try:
        value = invocation.tool.function(**invocation.kwargs)
    except Exception as exc:
        return invocation.failed(_error_message(exc), started, exc)
    return invocation.succeeded(value, started)


async def run_async(invocation: Invocation) -> ToolResult:
    """Call a tool from the async client: a coroutine function awaited, a sync one in a worker thread."""
    if not invocation.is_async:
        return await asyncio.to_thread(run_sync, invocation)
    started = time.monotonic()
    assert invocation.tool is not None and invocation.tool.function is not None
    try:
        value = await invocation.tool.function(**invocation.kwargs)
    except Exception as exc:
        return invocation.failed(_error_message(exc), started, exc)
    return invocation.succeeded(value, started)


class Conversation:
    """The state of one looping call: the messages so far, the steps, and what to do after each response."""

    def __init__(
        self, messages: Sequence[Message], tools: Sequence[Tool], options: LoopOptions, *, allow_async: bool
    ) -> None:
        self.messages: list[Message] = list(messages)
        self.options = options
        self.steps: list[Step] = []
        self._parse_retries = 0
        self._tools = {t.name: t for t in tools}
        if options.run_tools:
            _check_runnable(tools, allow_async)

    def next_calls(self, response: ChatResponse) -> list[Invocation] | None:
        """The tool calls to run before the next request, or None when ``response`` is the answer (no tool
        calls, tools not run, or ``max_steps`` reached: then the last response is returned as it is)."""
        if not self.options.run_tools or not response.tool_calls or len(self.steps) + 1 >= self.options.max_steps:
            return None
        return [self._prepare(call) for call in response.tool_calls]

    def record_tools(self, response: ChatResponse, results: Sequence[ToolResult]) -> None:
        """A tool round: the assistant's message and one tool message per result join the conversation."""
        self.steps.append(Step(messages=tuple(self.messages), response=response, tool_results=tuple(results)))
        self.messages.append(response.message)
        for r in results:
            self.messages.append(Message.tool(r.call.id, r.content, name=r.call.name, is_error=r.is_error))

    def reask(self, error: StructuredOutputError) -> bool:
        """After an answer that does not match ``response_format``: whether to ask again (within
        ``max_parse_retries``), appending the answer and what is wrong with it."""
        response = error.response
        if self._parse_retries >= self.options.max_parse_retries or not isinstance(response, ChatResponse):
            return False
        self._parse_retries += 1
        self.steps.append(Step(messages=tuple(self.messages), response=response))
        self.messages.append(response.message)
        self.messages.append(
            Message.user(f"That answer is not valid: {error}. Reply again with only the JSON the schema asks for.")
        )
        return True

    def finish(self, response: ChatResponse) -> ChatResponse:
        """The final response: the last one, with every step and the usage and cost summed over them."""
        if not self.steps:
            return response
        steps = (*self.steps, Step(messages=tuple(self.messages), response=response))
        return attrs.evolve(response, steps=steps, usage=_usage(steps), cost=_cost(steps))

    def failed(self, error: StructuredOutputError) -> StructuredOutputError:
        """The error to raise once the re-asks are spent: its response carries every step and the sums."""
        if isinstance(error.response, ChatResponse) and self.steps:
            error.response = self.finish(error.response)
        return error

    def _prepare(self, call: ToolCall) -> Invocation:
        tool = self._tools.get(call.name)
        if tool is None:
            known = ", ".join(sorted(self._tools)) or "none"
            return Invocation(call=call, tool=None, error=f"unknown tool {call.name!r} (available: {known})")
        try:
            kwargs = bind_arguments(tool, call)
        except ValidationError as exc:
            return Invocation(call=call, tool=tool, error=str(exc))
        return Invocation(call=call, tool=tool, kwargs=kwargs)


def _check_runnable(tools: Sequence[Tool], allow_async: bool) -> None:
    if not tools:
        raise ValidationError("run_tools: no tools given (pass tools=[function, ...])")
    for i, tool in enumerate(tools):
        if tool.function is None:
            raise ValidationError(f"tools[{i}]: {tool.name!r} has no Python function to run (run_tools=True)")
        if not allow_async and inspect.iscoroutinefunction(tool.function):
            raise ValidationError(
                f"tools[{i}]: {tool.name!r} is an async function; run it with AsyncChatClient (or pass a sync one)"
            )


def bind_arguments(tool: Tool, call: ToolCall) -> dict[str, Any]:
    """The keyword arguments of a tool call: checked against the tool's schema and converted to the function's
    annotated types. An argument the model sent as ``null`` for a parameter with a default that does not
    take None gets the default (what strict schemas make models send for "nothing to say")."""
    assert tool.function is not None
    if call.arguments_error is not None:
        raise ValidationError(f"arguments of {tool.name}: {call.arguments_error}")
    signature = inspect.signature(tool.function)
    try:
        hints = typing.get_type_hints(tool.function)
    except Exception:
        hints = {}
    params = {n: p for n, p in signature.parameters.items() if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)}
    takes_any = any(p.kind is p.VAR_KEYWORD for p in signature.parameters.values())
    args = dict(call.arguments)
    for name, param in params.items():
        if args.get(name, _MISSING) is None and param.default is not param.empty and not _takes_none(hints.get(name)):
            del args[name]
    unknown = [n for n in args if n not in params]
    if unknown and not takes_any:
        raise ValidationError(f"arguments of {tool.name}: unexpected {', '.join(map(repr, unknown))}")
    if tool.parameters:
        from ._validate import first_error

        problem = first_error(args, inline_refs(tool.parameters))
        if problem is not None:
            raise ValidationError(f"arguments of {tool.name} at {problem[0]}: {problem[1]}")
    return {name: _convert(tool.name, name, value, hints.get(name)) for name, value in args.items()}


def _takes_none(hint: Any) -> bool:
    if hint is None or hint is Any or hint is type(None):
        return True
    return type(None) in typing.get_args(hint)


def _convert(tool: str, name: str, value: Any, hint: Any) -> Any:
    if hint is None or hint is Any:
        return value
    try:
        return structure(value, hint, "snake")
    except DecodeError as exc:
        detail = str(exc).split(": ", 1)[-1]
        raise ValidationError(f"arguments of {tool}.{name}: {detail}") from None


def _usage(steps: Sequence[Step]) -> Usage:
    total = Usage()
    for step in steps:
        total = total + step.response.usage
    return total


def _cost(steps: Sequence[Step]) -> Cost | None:
    costs = [s.response.cost for s in steps if s.response.cost is not None]
    if not costs:
        return None
    total = costs[0]
    for cost in costs[1:]:
        total = total + cost
    return total
