"""One chat interface over every provider: chat, stream, tools, fallback.

Reads the provider keys (OPENAI_API_KEY, ANTHROPIC_API_KEY, GEMINI_API_KEY, GROQ_API_KEY) and the model
(ATRIUMN_AI_MODEL, e.g. "anthropic:claude-haiku-4-5") from the environment.
"""

from __future__ import annotations

import os

from atriumn.ai import ChatClient, Message, TextDelta, Tool

MODEL = os.environ.get("ATRIUMN_AI_MODEL", "anthropic:claude-haiku-4-5")


def get_weather(city: str, unit: str = "celsius") -> dict[str, object]:
    """Current weather for a city."""
    return {"city": city, "temperature": 21, "unit": unit}


def main() -> None:
    with ChatClient() as client:
        # A whole answer, with usage, cost and the provider's rate-limit state.
        answer = client.chat(MODEL, "Say hello in five words.", max_tokens=50)
        print(answer.text)
        print(f"{answer.usage.input_tokens} in / {answer.usage.output_tokens} out, cost {answer.cost}")

        # The same, streamed: typed events; the final response equals what chat() returns.
        with client.stream(MODEL, "Count to five.") as stream:
            for event in stream:
                if isinstance(event, TextDelta):
                    print(event.text, end="", flush=True)
        print(f"\nfinish: {stream.response.finish_reason if stream.response else None}")

        # Tools: the model asks, we run the function, the result goes back in.
        tools = [Tool.from_function(get_weather)]
        messages: list[Message] = [Message.user("What is the weather in Oslo?")]
        reply = client.chat(MODEL, messages, tools=tools)
        while reply.tool_calls:
            messages.append(reply.message)
            for call in reply.tool_calls:
                messages.append(Message.tool(call.id, get_weather(**call.arguments), name=call.name))
            reply = client.chat(MODEL, messages, tools=tools)
        print(reply.text)


if __name__ == "__main__":
    main()
