"""The tool loop: the model calls typed functions, the SDK runs them and sends the results back.

Reads the provider keys and ATRIUMN_AI_MODEL from the environment.
"""

from __future__ import annotations

import dataclasses
import os
from typing import Literal

from atriumn.ai import ChatClient, ToolCallEvent, ToolResultEvent

MODEL = os.environ.get("ATRIUMN_AI_MODEL", "anthropic:claude-haiku-4-5")


@dataclasses.dataclass
class Place:
    city: str
    country: str | None = None


def get_weather(place: Place, unit: Literal["celsius", "fahrenheit"] = "celsius") -> dict[str, object]:
    """Current weather for a place."""
    return {"city": place.city, "temperature": 21, "unit": unit}


def get_time(city: str) -> str:
    """Local time in a city."""
    if not city:
        raise ValueError("which city?")  # the model sees "ValueError: which city?" and can try again
    return "14:05"


def main() -> None:
    with ChatClient() as client:
        answer = client.chat(MODEL, "Weather and time in Oslo?", tools=[get_weather, get_time], run_tools=True)
        print(answer.text)
        for step in answer.steps:
            for result in step.tool_results:
                print(f"  {result.call.name} -> {result.content}")
        print(f"{len(answer.steps)} rounds, {answer.usage.total_tokens} tokens in all")

        # Streamed: each round's text as it comes, and the tool calls and results between rounds.
        with client.stream(MODEL, "Weather in Oslo?", tools=[get_weather], run_tools=True, max_steps=4) as stream:
            for event in stream:
                if isinstance(event, ToolCallEvent):
                    print(f"calling {event.call.name}")
                elif isinstance(event, ToolResultEvent):
                    print(f"result {event.result.content}")


if __name__ == "__main__":
    main()
