"""The tool loop and structured-output re-asks, end to end against the sandbox's LLM emulation over real
sockets, on every provider, sync and async, whole and streamed.

The emulation's ``steps`` model calls the offered tools one per answer, in order (``unknown``: then a tool
that was not offered; ``parallel``: all at once), and finally answers ``done: <every tool result>``;
``bad-json-once`` answers non-JSON until the conversation holds one of its answers.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import threading
from collections.abc import AsyncIterator, Iterator
from typing import Any, Literal, TypedDict

import attrs
import pydantic
import pytest

from atriumn.ai import (
    AsyncChatClient,
    ChatClient,
    ChatResponse,
    FinishEvent,
    Reasoning,
    ReasoningPart,
    StructuredOutputError,
    TextDelta,
    ToolCallEvent,
    ToolResultEvent,
)
from atriumn.core import ValidationError

from ._sandbox import PROVIDERS, sandbox_chat_options

PRICE = {"input": 1.0, "output": 2.0}


def _options(url: str) -> dict[str, Any]:
    prices = {f"{p}:{m}": PRICE for p in PROVIDERS for m in ("steps-unknown", "bad-json-once")}
    return sandbox_chat_options(url, prices=prices)


@pytest.fixture
def client(atriumn_sandbox: Any) -> Iterator[ChatClient]:
    with ChatClient(**_options(atriumn_sandbox.url)) as c:
        yield c


@pytest.fixture
async def aclient(atriumn_sandbox: Any) -> AsyncIterator[AsyncChatClient]:
    async with AsyncChatClient(**_options(atriumn_sandbox.url)) as c:
        yield c


@dataclasses.dataclass
class Place:
    city: str


def lookup(place: Place, unit: Literal["c", "f"] = "c") -> dict[str, Any]:
    """Weather for a place."""
    assert isinstance(place, Place)  # converted from the model's JSON before the call
    return {"city": place.city, "t": 21, "unit": unit}


def broken(city: str) -> str:
    """A tool that always fails."""
    raise ValueError(f"no station near {city}")


async def alookup(place: Place, unit: Literal["c", "f"] = "c") -> dict[str, Any]:
    """Weather for a place (async)."""
    await asyncio.sleep(0)
    return lookup(place, unit)


LOOKUP_RESULT = json.dumps({"city": "sandbox", "t": 21, "unit": "c"})
BROKEN_RESULT = "ValueError: no station near sandbox"
UNKNOWN_RESULT = "unknown tool 'no_such_tool' (available: broken, lookup)"
ANSWER = f"done: {LOOKUP_RESULT} | {BROKEN_RESULT} | {UNKNOWN_RESULT}"


def _check_three_steps(response: ChatResponse) -> None:
    """A lookup, a failing tool, an unknown tool, then the answer: four rounds, sums over all of them."""
    assert response.text == ANSWER
    assert [len(s.tool_results) for s in response.steps] == [1, 1, 1, 0]
    results = [s.tool_results[0] for s in response.steps[:3]]
    assert [(r.call.name, r.is_error, r.content) for r in results] == [
        ("lookup", False, LOOKUP_RESULT),
        ("broken", True, BROKEN_RESULT),
        ("no_such_tool", True, UNKNOWN_RESULT),
    ]
    assert isinstance(results[1].error, ValueError)
    assert response.steps[-1].response.text == ANSWER
    # Each round sent the conversation so far: one more assistant turn and tool result each time.
    assert [len(s.messages) for s in response.steps] == [1, 3, 5, 7]
    assert response.usage.total_tokens == sum(s.response.usage.total_tokens for s in response.steps)
    assert response.usage.input_tokens > response.steps[-1].response.usage.input_tokens
    assert response.cost is not None
    assert response.cost.total == pytest.approx(sum(s.response.cost.total for s in response.steps if s.response.cost))


@pytest.mark.parametrize("provider", PROVIDERS)
def test_three_step_loop_with_a_failing_and_an_unknown_tool(client: ChatClient, provider: str) -> None:
    response = client.chat(f"{provider}:steps-unknown", "weather?", tools=[lookup, broken], run_tools=True)
    _check_three_steps(response)


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_three_step_loop_async(aclient: AsyncChatClient, provider: str) -> None:
    response = await aclient.chat(f"{provider}:steps-unknown", "weather?", tools=[alookup, broken], run_tools=True)
    # alookup's name differs: the unknown-tool message lists the async client's tools.
    assert response.steps[2].tool_results[0].content == "unknown tool 'no_such_tool' (available: alookup, broken)"
    assert [r.call.name for s in response.steps for r in s.tool_results] == ["alookup", "broken", "no_such_tool"]
    assert response.steps[0].tool_results[0].content == LOOKUP_RESULT
    assert len(response.steps) == 4


def _stream_kinds(events: list[Any]) -> list[str]:
    """The event types, with runs of the same type collapsed (deltas come in numbers that vary by provider)."""
    kinds: list[str] = []
    for e in events:
        if e.type in ("usage", "tool_call_delta"):
            continue
        if not kinds or kinds[-1] != e.type:
            kinds.append(e.type)
    return kinds


@pytest.mark.parametrize("provider", PROVIDERS)
def test_streamed_loop_announces_calls_and_results(client: ChatClient, provider: str) -> None:
    with client.stream(f"{provider}:steps-unknown", "weather?", tools=[lookup, broken], run_tools=True) as stream:
        events = list(stream)
    assert _stream_kinds(events) == [
        "tool_call", "tool_result", "tool_call", "tool_result", "tool_call", "tool_result", "text_delta", "finish",
    ]  # fmt: skip
    calls = [e.call.name for e in events if isinstance(e, ToolCallEvent)]
    results = [e.result for e in events if isinstance(e, ToolResultEvent)]
    assert calls == ["lookup", "broken", "no_such_tool"]
    assert [r.is_error for r in results] == [False, True, True]
    assert "".join(e.text for e in events if isinstance(e, TextDelta)) == ANSWER
    finishes = [e for e in events if isinstance(e, FinishEvent)]
    assert len(finishes) == 1
    assert stream.response is finishes[0].response
    _check_three_steps(finishes[0].response)


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_streamed_loop_async(aclient: AsyncChatClient, provider: str) -> None:
    stream = aclient.stream(f"{provider}:steps-unknown", "weather?", tools=[lookup, broken], run_tools=True)
    async with stream:
        events = [e async for e in stream]
    assert [e.call.name for e in events if isinstance(e, ToolCallEvent)] == ["lookup", "broken", "no_such_tool"]
    assert stream.response is not None
    _check_three_steps(stream.response)


async def test_independent_calls_of_one_round_run_concurrently(aclient: AsyncChatClient) -> None:
    """Two async tools that each wait for the other: they finish only if they run at the same time."""
    started = {"first": asyncio.Event(), "second": asyncio.Event()}

    async def first(city: str) -> str:
        started["first"].set()
        await asyncio.wait_for(started["second"].wait(), 10)
        return "one"

    async def second(city: str) -> str:
        started["second"].set()
        await asyncio.wait_for(started["first"].wait(), 10)
        return "two"

    response = await aclient.chat("openai:steps-parallel", "go", tools=[first, second], run_tools=True)
    assert response.text == "done: one | two"
    assert [len(s.tool_results) for s in response.steps] == [2, 0]


async def test_sync_tools_run_concurrently_in_worker_threads(aclient: AsyncChatClient) -> None:
    barrier = threading.Barrier(2, timeout=10)  # breaks (and the tool fails) unless both run at once

    def left(city: str) -> str:
        barrier.wait()
        return "L"

    def right(city: str) -> str:
        barrier.wait()
        return "R"

    response = await aclient.chat("anthropic:steps-parallel", "go", tools=[left, right], run_tools=True)
    assert response.text == "done: L | R"


def test_max_steps_returns_the_last_response_as_it_is(client: ChatClient) -> None:
    response = client.chat("gemini:steps-unknown", "go", tools=[lookup, broken], run_tools=True, max_steps=2)
    assert response.finish_reason == "tool_calls"
    assert [c.name for c in response.tool_calls] == ["broken"]
    assert len(response.steps) == 2


def test_without_run_tools_the_calls_come_back_unrun(client: ChatClient) -> None:
    response = client.chat("groq:steps-unknown", "go", tools=[lookup, broken])
    assert [c.name for c in response.tool_calls] == ["lookup"]
    assert response.steps == ()


def test_checks_happen_before_any_request(client: ChatClient, atriumn_sandbox: Any) -> None:
    async def fetch(url: str) -> str:
        return url

    with pytest.raises(ValidationError, match="'fetch' is an async function"):
        client.chat("openai:steps", "go", tools=[fetch], run_tools=True)
    with pytest.raises(ValidationError, match="max_steps: expected an integer >= 1, got 0"):
        client.chat("openai:steps", "go", tools=[lookup], run_tools=True, max_steps=0)
    with pytest.raises(TypeError, match="did you mean 'run_tools'"):
        client.chat("openai:steps", "go", tools=[lookup], run_tool=True)  # type: ignore[call-arg]


@pytest.mark.parametrize("provider", ["anthropic", "gemini"])
def test_reasoning_signatures_round_trip_through_the_loop(client: ChatClient, provider: str) -> None:
    """Reasoning models require their thinking (Anthropic) and thought signatures (Gemini) back in a tool loop:
    the emulation refuses a conversation that drops or alters them, so this loop finishing proves they went back."""
    response = client.chat(
        f"{provider}:steps-reason", "weather?", tools=[lookup], run_tools=True,
        reasoning=Reasoning(budget_tokens=1024), max_tokens=2048,
    )  # fmt: skip
    assert response.text == f"done: {LOOKUP_RESULT}"
    first = response.steps[0].response
    assert any(isinstance(p, ReasoningPart) and p.signature for p in first.parts)


# --- structured output: each type, and re-asks ----------------------------------------------------------------


@attrs.frozen
class AttrsCity:
    city: str
    population: int


@dataclasses.dataclass
class DataclassCity:
    city: str
    population: int


class TypedDictCity(TypedDict):
    city: str
    population: int


class PydanticCity(pydantic.BaseModel):
    city: str
    population: int


TYPES = [AttrsCity, DataclassCity, TypedDictCity, PydanticCity]


@pytest.mark.parametrize("provider", PROVIDERS)
@pytest.mark.parametrize("tp", TYPES, ids=lambda t: t.__name__)
def test_structured_output_into_each_type(client: ChatClient, provider: str, tp: type) -> None:
    response = client.chat(f"{provider}:json", "a city", response_format=tp)
    parsed = response.parsed
    if tp is TypedDictCity:
        assert isinstance(parsed, dict)
        assert set(parsed) == {"city", "population"}
    else:
        assert isinstance(parsed, tp)
    assert isinstance(parsed["city"] if isinstance(parsed, dict) else parsed.city, str)


@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_reask_after_invalid_json_counts_both_attempts(client: ChatClient, provider: str) -> None:
    response = client.chat(f"{provider}:bad-json-once", "a city", response_format=PydanticCity, max_parse_retries=1)
    assert isinstance(response.parsed, PydanticCity)
    first, second = response.steps
    assert first.response.text == "this is not json"
    # The re-ask carries the failed answer and what was wrong with it.
    assert [m.role for m in second.messages][-2:] == ["assistant", "user"]
    assert "not JSON" in second.messages[-1].text
    assert response.usage.total_tokens == first.response.usage.total_tokens + second.response.usage.total_tokens
    assert response.cost is not None and first.response.cost is not None and second.response.cost is not None
    assert response.cost.total == pytest.approx(first.response.cost.total + second.response.cost.total)


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_a_reask_async_and_streamed(aclient: AsyncChatClient, provider: str) -> None:
    response = await aclient.chat(f"{provider}:bad-json-once", "x", response_format=AttrsCity, max_parse_retries=1)
    assert isinstance(response.parsed, AttrsCity)
    stream = aclient.stream(f"{provider}:bad-json-once", "x", response_format=DataclassCity, max_parse_retries=1)
    async with stream:
        async for _ in stream:
            pass
    assert stream.response is not None
    assert isinstance(stream.response.parsed, DataclassCity)
    assert len(stream.response.steps) == 2


def test_without_retries_the_error_carries_text_path_and_response(client: ChatClient) -> None:
    with pytest.raises(StructuredOutputError) as caught:
        client.chat("openai:bad-json-once", "x", response_format=AttrsCity)
    assert caught.value.text == "this is not json"
    assert caught.value.path == "$"
    assert isinstance(caught.value.response, ChatResponse)
    assert caught.value.response.usage.output_tokens > 0


def test_when_the_retries_are_spent_the_error_carries_every_attempt(client: ChatClient) -> None:
    with pytest.raises(StructuredOutputError) as caught:
        client.chat("anthropic:bad-json", "x", response_format=AttrsCity, max_parse_retries=2)
    response = caught.value.response
    assert isinstance(response, ChatResponse)
    assert len(response.steps) == 3
    assert response.usage.total_tokens == sum(s.response.usage.total_tokens for s in response.steps)
