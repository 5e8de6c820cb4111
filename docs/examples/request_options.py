"""Per-call options, a client variant, and the raw HTTP response behind a call.

Reads ATRIUMN_API_BASE_URL and credentials from the environment (ATRIUMN_API_KEY, or ATRIUMN_CLIENT_ID +
ATRIUMN_CLIENT_SECRET), as every client does by default.
"""

from __future__ import annotations

from atriumn.ai import AIClient


def main() -> None:
    with AIClient() as ai:
        # Per call: a header, a query parameter and a deadline for this request only.
        prompt = ai.create_prompt(
            name="greeting", template="Say hello to {{name}}.", extra_headers={"X-Team": "docs"}, timeout=10
        )

        # A variant sharing the pool, token cache and breakers: fail fast, no retries.
        fast = ai.with_options(timeout=2, max_retries=0)
        print(fast.get_prompt(prompt.id).name)

        # The HTTP exchange behind a call, and the usual result from it.
        raw = ai.with_raw_response.get_prompt(prompt.id)
        print(raw.status_code, raw.headers["content-type"], raw.request_id is not None)
        print(raw.parse().template)
        ai.delete_prompt(prompt.id)


if __name__ == "__main__":
    main()
