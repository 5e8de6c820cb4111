"""The Atriumn AI API: prompts and task runs, sync and async, over a socket."""

from __future__ import annotations

import datetime as dt

import pytest

from atriumn.ai import AIClient, AsyncAIClient, Prompt, PromptVariable
from atriumn.core import AuthenticationError, NoCredentialsError, NotFoundError, StaticToken, UnprocessableEntityError

from ._fake import FakeServer


@pytest.fixture
def ai(fake: FakeServer) -> AIClient:
    fake.state.prompts.clear()
    with AIClient(base_url=fake.url, credentials=StaticToken("test-atriumn-token"), max_retries=0) as c:
        yield c


def test_prompt_crud_and_wire_casing(ai: AIClient, fake: FakeServer) -> None:
    p = ai.create_prompt(
        name="greet",
        template="Hello {{name}}, welcome to {{ place }}",
        model_id="openai:gpt-4o",
        variables=[PromptVariable(name="name", required=True), {"name": "place", "default_value": "Atriumn"}],
        tags=["a", "b"],
        parameters={"temperature": 0.2},
    )
    body = fake.requests[-1]["body"]
    assert body["modelId"] == "openai:gpt-4o"
    assert body["variables"][1] == {"name": "place", "defaultValue": "Atriumn", "required": False}
    assert "model_id" not in body
    assert "description" not in body
    assert isinstance(p.created_at, dt.datetime)
    assert p.version == 1
    got = ai.get_prompt(p.id)
    assert got == p
    updated = ai.update_prompt(p.id, description="new")
    assert fake.requests[-1]["method"] == "PUT"
    assert fake.requests[-1]["body"] == {"description": "new"}
    assert updated.description == "new"
    assert updated.version == 2
    ai.delete_prompt(p.id)
    with pytest.raises(NotFoundError) as err:
        ai.get_prompt(p.id)
    assert err.value.code == "not_found"


def test_list_follows_next_token_with_filters(ai: AIClient, fake: FakeServer) -> None:
    for i in range(5):
        ai.create_prompt(
            name=f"p{i}", template="t", model_id="m1" if i % 2 == 0 else "m2", tags=["x"] if i < 4 else ["y"]
        )
    fake.requests.clear()
    names = [p.name for p in ai.list_prompts(model_id="m1", page_size=1)]
    assert names == ["p0", "p2", "p4"]
    assert [r["query"].get("nextToken") for r in fake.requests] == [None, "1", "2"]
    assert all(r["query"]["modelId"] == "m1" and r["query"]["maxResults"] == "1" for r in fake.requests)
    assert [p.name for p in ai.list_prompts(tags=["x"], page_size=2)] == ["p0", "p1", "p2", "p3"]


def test_validation_before_any_request(ai: AIClient, fake: FakeServer) -> None:
    with pytest.raises(ValueError, match="name"):
        ai.create_prompt(name="", template="t")
    with pytest.raises(ValueError, match="prompt_id"):
        ai.get_prompt("")
    with pytest.raises(ValueError, match="at least one field"):
        ai.update_prompt("p1")
    with pytest.raises(ValueError, match="app"):
        ai.run_task(app="", task="t", input={})
    assert fake.requests == []


def test_run_task_and_detail_errors(ai: AIClient, fake: FakeServer) -> None:
    result = ai.run_task(app="demo", task="summarise", input={"text": "hi"}, options={"lang": "en"})
    assert result["result"] == {"echo": {"text": "hi"}, "options": {"lang": "en"}}
    assert fake.requests[-1]["headers"]["authorization"] == "Bearer test-atriumn-token"
    with pytest.raises(UnprocessableEntityError) as err:
        ai.run_task(app="demo", task="explode", input=None)
    assert err.value.description == "task failed: exploded"
    with AIClient(base_url=fake.url, max_retries=0) as anonymous, pytest.raises(NoCredentialsError):
        anonymous.run_task(app="demo", task="x", input=1)  # no credential anywhere: refused before sending
    wrong = StaticToken("not-the-token")
    with (
        AIClient(base_url=fake.url, max_retries=0, credentials=wrong) as ai2,
        pytest.raises(AuthenticationError) as auth,
    ):
        ai2.run_task(app="demo", task="x", input=1)
    assert "Not authenticated" in str(auth.value)


def test_render_defaults_missing_and_unknown() -> None:
    p = Prompt(
        id="1",
        name="greet",
        template="Hi {{name}} from {{ place }}{{suffix}}",
        variables=[
            PromptVariable(name="name", required=True),
            PromptVariable(name="place", default_value="Paris"),
            PromptVariable(name="suffix"),
        ],
    )
    assert p.render(name="Ada") == "Hi Ada from Paris"
    assert p.render(name="Ada", place="Rome", suffix="!") == "Hi Ada from Rome!"
    with pytest.raises(ValueError, match=r"^name: required"):
        p.render(place="Rome")
    with pytest.raises(ValueError, match=r"^colour: not a variable"):
        p.render(name="Ada", colour="red")
    bare = Prompt(id="2", template="{{a}} and {{b}}")
    assert bare.render(a=1, b=2) == "1 and 2"
    with pytest.raises(ValueError, match=r"^b: required"):
        bare.render(a=1)


async def test_async_prompts_and_task(fake: FakeServer) -> None:
    fake.state.prompts.clear()
    async with AsyncAIClient(base_url=fake.url, credentials=StaticToken("test-atriumn-token"), max_retries=0) as ai:
        p = await ai.create_prompt(name="a", template="x {{y}}", tags=["t"])
        await ai.create_prompt(name="b", template="z", tags=["t"])
        assert (await ai.get_prompt(p.id)).template == "x {{y}}"
        assert [x.name async for x in ai.list_prompts(tags=["t"], page_size=1)] == ["a", "b"]
        assert (await ai.update_prompt(p.id, tags=["u"])).tags == ["u"]
        await ai.delete_prompt(p.id)
        with pytest.raises(NotFoundError):
            await ai.get_prompt(p.id)
        result = await ai.run_task(app="demo", task="t", input=[1, 2])
        assert result["result"]["echo"] == [1, 2]
        with pytest.raises(UnprocessableEntityError, match="exploded"):
            await ai.run_task(app="demo", task="explode", input=None)


def test_shared_transport_is_not_closed(fake: FakeServer) -> None:
    from atriumn.core import Transport

    with Transport(fake.url, max_retries=0) as shared:
        with AIClient(transport=shared, credentials=StaticToken("test-atriumn-token")) as ai:
            assert ai.run_task(app="a", task="t", input=1)["result"]["echo"] == 1
        assert fake.requests[-1]["headers"]["authorization"] == "Bearer test-atriumn-token"
        with AIClient(transport=shared) as anonymous, pytest.raises(AuthenticationError):
            anonymous.run_task(app="a", task="t", input=1)
        assert "authorization" not in fake.requests[-1]["headers"]
