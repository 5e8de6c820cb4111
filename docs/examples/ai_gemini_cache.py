"""A Gemini explicit cache: store a long prefix once, then ask about it cheaply, and delete it.

Reads GEMINI_API_KEY (and GEMINI_BASE_URL, if set) from the environment.
"""

from __future__ import annotations

import os

from atriumn.ai import ChatClient, DocumentPart, Message

MODEL = os.environ.get("ATRIUMN_AI_MODEL", "gemini:gemini-2.5-flash")
REPORT = b"%PDF-1.4 ..."  # your document: DocumentPart.from_file("report.pdf") reads one
HANDBOOK = "Our style guide: short sentences, figures with units, sources named. " * 120  # a long prefix


def main() -> None:
    with ChatClient() as client:
        cache = client.caches.create(
            MODEL,
            system=HANDBOOK,
            messages=[Message.user("The report:", DocumentPart.from_bytes(REPORT, media_type="application/pdf"))],
            ttl="10m",
        )
        print(f"cached {cache.token_count} tokens as {cache.name}, expires {cache.expire_time:%Y-%m-%d}")
        try:
            answer = client.chat(MODEL, "Did revenue grow?", cached_content=cache)
            print(answer.text)
            print(f"{answer.usage.cache_read_tokens} of {answer.usage.input_tokens} prompt tokens read from the cache")
        finally:
            client.caches.delete(cache)


if __name__ == "__main__":
    main()
