"""The Atriumn AI API: store a prompt template, render it client-side, run a task.

Reads ATRIUMN_API_BASE_URL and the client credentials (ATRIUMN_CLIENT_ID / ATRIUMN_CLIENT_SECRET) from the
environment, as atriumn.auth's DefaultCredential does.
"""

from __future__ import annotations

from atriumn.ai import AIClient, PromptVariable
from atriumn.auth import DefaultCredential


def main() -> None:
    with AIClient(credentials=DefaultCredential()) as ai:
        prompt = ai.create_prompt(
            name="welcome",
            template="Write a welcome note for {{name}} joining {{team}}.",
            variables=[
                PromptVariable(name="name", required=True),
                PromptVariable(name="team", default_value="Atriumn"),
            ],
            tags=["onboarding"],
        )
        print(prompt.render(name="Ada"))
        for p in ai.list_prompts(tags=["onboarding"]):
            print(p.id, p.name, p.version)
        result = ai.run_task(app="docs", task="summarise", input="A long text to summarise.")
        print(result)
        ai.delete_prompt(prompt.id)


if __name__ == "__main__":
    main()
