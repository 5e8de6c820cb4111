"""Structured output into an attrs class, and scoring a batch of texts against a rubric.

Reads provider keys and ATRIUMN_AI_MODEL from the environment.
"""

from __future__ import annotations

import os

import attrs

from atriumn.ai import ChatClient, TextItem

MODEL = os.environ.get("ATRIUMN_AI_MODEL", "openai:gpt-4.1-mini")


@attrs.frozen
class Review:
    sentiment: str
    stars: int
    summary: str


def main() -> None:
    with ChatClient() as client:
        answer = client.chat(
            MODEL,
            "Review: 'Great battery, weak camera.' Give sentiment, stars (1-5) and a one-line summary.",
            response_format=Review,
        )
        review: Review = answer.parsed
        print(review)

        items = [TextItem(id=f"t{i}", content=text) for i, text in enumerate(["Clear and short.", "Rambling text ..."])]
        for scored in client.score_texts(items, rubric="Score clarity from 0 to 10.", model=MODEL, batch_size=10):
            print(scored.id, scored.score if scored.ok else f"error: {scored.error}")


if __name__ == "__main__":
    main()
