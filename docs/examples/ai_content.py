"""Images, reasoning and prompt caching through one interface.

Reads the provider keys and ATRIUMN_AI_MODEL from the environment (a model that takes images and thinks,
e.g. "anthropic:claude-sonnet-4-5").
"""

from __future__ import annotations

import base64
import os

from atriumn.ai import CachePoint, ChatClient, ImagePart, Message, Reasoning

MODEL = os.environ.get("ATRIUMN_AI_MODEL", "anthropic:claude-sonnet-4-5")
# A 1x1 PNG; ImagePart.from_file("photo.jpg") reads a file, ImagePart.from_url(...) sends a link.
PIXEL = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
)
POLICY = "Answer in one sentence. Cite the photo's colours. " * 40  # a long prefix worth caching


def main() -> None:
    with ChatClient() as client:
        question = Message.user("What colour is this pixel?", ImagePart.from_bytes(PIXEL))
        answer = client.chat(
            MODEL,
            [question],
            system=[POLICY, CachePoint()],  # everything up to here is a reusable, cached prefix
            reasoning=Reasoning(budget_tokens=1024),
            max_tokens=2048,
        )
        print(answer.text)
        print(f"thought: {answer.reasoning!r}")
        print(f"cache: {answer.usage.cache_write_tokens} written, {answer.usage.cache_read_tokens} read")

        # The reasoning goes back with the answer (signatures included), as the provider requires.
        follow_up = client.chat(
            MODEL,
            [question, answer.message, Message.user("And in one word?")],
            system=[POLICY, CachePoint()],
            reasoning=Reasoning(budget_tokens=1024),
            max_tokens=2048,
        )
        print(follow_up.text)


if __name__ == "__main__":
    main()
