"""The async client over every provider: tools round trip, structured output, errors, usage."""

from __future__ import annotations

import attrs
import pytest

from atriumn.ai import AsyncChatClient, Message, StructuredOutputError, Tool, ToolCallDelta
from atriumn.core import BadRequestError, NetworkError

from .conftest import PROVIDERS


def lookup(term: str, limit: int = 3) -> list[str]:
    """Search the catalogue."""
    return [term] * limit


@attrs.frozen
class Answer:
    title: str
    count: int


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_async_tools_structured_and_errors(aclient: AsyncChatClient, provider: str) -> None:
    tool = Tool.from_function(lookup)
    first = await aclient.chat(f"{provider}:tool", "find shoes", tools=[tool])
    (call,) = first.tool_calls
    assert call.arguments == {"term": "test", "limit": 1}
    done = await aclient.chat(
        f"{provider}:tool",
        [Message.user("find shoes"), first.message, Message.tool(call.id, lookup(**call.arguments))],
        tools=[tool],
    )
    # Gemini's functionResponse must be an object: a list result is sent as {"result": [...]}.
    assert done.text == ('tool said: {"result": ["test"]}' if provider == "gemini" else 'tool said: ["test"]')
    async with aclient.stream(f"{provider}:tool", "find shoes", tools=[tool]) as s:
        deltas = [e async for e in s if isinstance(e, ToolCallDelta)]
    assert "".join(d.arguments for d in deltas).replace(" ", "") == '{"term":"test","limit":1}'
    assert s.response == first

    parsed = await aclient.chat(f"{provider}:json", "x", response_format=Answer)
    assert parsed.parsed == Answer(title="test", count=1)
    with pytest.raises(StructuredOutputError):
        await aclient.chat(f"{provider}:bad-json", "x", response_format=Answer)
    with pytest.raises(BadRequestError):
        await aclient.chat(f"{provider}:error-400", "x")
    with pytest.raises(NetworkError):
        await aclient.stream(f"{provider}:stream-cut", "x").final_response()
