"""AIClient / AsyncAIClient against the real sandbox (its Atriumn AI API), over sockets."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from atriumn.ai import AIClient, AsyncAIClient, PromptVariable
from atriumn.core import AuthenticationError, BadRequestError, NoCredentialsError, NotFoundError, StaticToken


def _credentials(sandbox: Any) -> Any:
    from atriumn.auth import ClientCredentials

    return ClientCredentials(
        client_id=sandbox.admin_client_id, client_secret=sandbox.admin_client_secret, base_url=sandbox.url
    )


def test_prompts_round_trip(atriumn_sandbox: Any) -> None:
    tag = uuid.uuid4().hex
    with AIClient(base_url=atriumn_sandbox.url, credentials=_credentials(atriumn_sandbox), max_retries=0) as ai:
        created = ai.create_prompt(
            name="greet",
            template="Hello {{name}} from {{place}}",
            model_id="openai:gpt-4o",
            variables=[PromptVariable(name="name", required=True), PromptVariable(name="place", default_value="Oslo")],
            tags=[tag, "greeting"],
        )
        assert created.version == 1
        assert created.variables[1].default_value == "Oslo"
        assert ai.get_prompt(created.id).render(name="Ada") == "Hello Ada from Oslo"
        for i in range(3):
            ai.create_prompt(name=f"other{i}", template="t", model_id="groq:llama", tags=[tag])
        assert [p.name for p in ai.list_prompts(tags=[tag], page_size=2)] == ["greet", "other0", "other1", "other2"]
        assert [p.name for p in ai.list_prompts(tags=[tag, "greeting"])] == ["greet"]
        assert [p.name for p in ai.list_prompts(model_id="groq:llama", tags=[tag])] == ["other0", "other1", "other2"]
        updated = ai.update_prompt(created.id, template="Hi {{name}}")
        assert updated.version == 2
        assert updated.name == "greet"
        ai.delete_prompt(created.id)
        with pytest.raises(NotFoundError):
            ai.get_prompt(created.id)
        result = ai.run_task(app="demo", task="summarise", input="a b c", options={"model": "m"})
        assert result["output"] == "a b c"
        assert result["model"] == "m"
        with pytest.raises(BadRequestError):
            ai.run_task(app="demo", task="summarise", input="x", options=["not", "an", "object"])  # type: ignore[arg-type]
    wrong = AIClient(base_url=atriumn_sandbox.url, max_retries=0, credentials=StaticToken("not-a-token"))
    with wrong, pytest.raises(AuthenticationError):
        wrong.list_prompts().first_page()
    with AIClient(base_url=atriumn_sandbox.url, max_retries=0) as anonymous, pytest.raises(NoCredentialsError):
        anonymous.list_prompts().first_page()


async def test_async_prompts_round_trip(atriumn_sandbox: Any) -> None:
    tag = uuid.uuid4().hex
    async with AsyncAIClient(
        base_url=atriumn_sandbox.url, credentials=_credentials(atriumn_sandbox), max_retries=0
    ) as ai:
        p = await ai.create_prompt(name="a", template="{{x}}", tags=[tag])
        await ai.create_prompt(name="b", template="y", tags=[tag])
        assert [x.name async for x in ai.list_prompts(tags=[tag], page_size=1)] == ["a", "b"]
        assert (await ai.update_prompt(p.id, description="d")).description == "d"
        await ai.delete_prompt(p.id)
        with pytest.raises(NotFoundError):
            await ai.get_prompt(p.id)
        assert (await ai.run_task(app="demo", task="t", input={"k": 1}))["result"]["input"] == {"k": 1}
