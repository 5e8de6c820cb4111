"""AI API: prompts CRUD with versions, filters, pagination, tenancy; the task run."""

from __future__ import annotations

from collections.abc import Callable

from .helpers import Api, assert_error

PROMPT = {
    "name": "summarise",
    "description": "Summarise a text",
    "template": "Summarise: {{text}}",
    "modelId": "gpt-test",
    "parameters": {"temperature": 0.2},
    "variables": [{"name": "text", "description": "the text", "required": True}],
    "tags": ["summary", "en"],
}


def test_prompt_crud_and_versions(api: Api) -> None:
    created = api.post("/prompts", json=PROMPT)
    assert created.status_code == 201
    prompt = created.json()
    assert prompt["version"] == 1
    assert prompt["variables"] == [{"name": "text", "description": "the text", "defaultValue": None, "required": True}]
    assert prompt["createdAt"] == prompt["updatedAt"]
    assert api.get(f"/prompts/{prompt['id']}").json() == prompt

    updated = api.put(f"/prompts/{prompt['id']}", json={"template": "TL;DR: {{text}}", "tags": ["tldr"]})
    assert updated.status_code == 200
    assert updated.json()["version"] == 2
    assert updated.json()["template"] == "TL;DR: {{text}}"
    assert updated.json()["name"] == "summarise"
    assert updated.json()["updatedAt"] >= prompt["updatedAt"]
    assert api.put(f"/prompts/{prompt['id']}", json={}).json()["version"] == 3

    assert api.delete(f"/prompts/{prompt['id']}").status_code == 204
    assert_error(api.get(f"/prompts/{prompt['id']}"), 404, "not_found")
    assert_error(api.delete(f"/prompts/{prompt['id']}"), 404, "not_found")


def test_prompt_list_filters_and_pagination(api: Api) -> None:
    ids = []
    for i in range(5):
        body = {**PROMPT, "name": f"p{i}", "modelId": "m-even" if i % 2 == 0 else "m-odd", "tags": [f"t{i % 2}", "all"]}
        ids.append(api.post("/prompts", json=body).json()["id"])
    everything = api.get("/prompts").json()
    assert [p["id"] for p in everything["prompts"]] == ids
    assert everything["nextToken"] is None
    even = api.get("/prompts", params={"modelId": "m-even"}).json()["prompts"]
    assert [p["id"] for p in even] == ids[0::2]
    tagged = api.get("/prompts", params={"tags": "t1,all"}).json()["prompts"]
    assert [p["id"] for p in tagged] == ids[1::2]

    seen: list[str] = []
    token = None
    while True:
        params: dict[str, str | int] = {"maxResults": 2}
        if token:
            params["nextToken"] = token
        page = api.get("/prompts", params=params).json()
        assert len(page["prompts"]) <= 2
        seen += [p["id"] for p in page["prompts"]]
        token = page["nextToken"]
        if not token:
            break
    assert seen == ids
    assert_error(api.get("/prompts", params={"maxResults": 0}), 400, "bad_request")
    assert_error(api.get("/prompts", params={"maxResults": "x"}), 400, "bad_request")


def test_prompt_validation(api: Api) -> None:
    assert_error(api.post("/prompts", json={"template": "t"}), 400, "bad_request")
    assert_error(api.post("/prompts", json={"name": "n", "template": 1}), 400, "bad_request")
    assert_error(api.post("/prompts", json={"name": "n", "template": "t", "tags": "x"}), 400, "bad_request")
    assert_error(api.post("/prompts", json={"name": "n", "template": "t", "variables": [{}]}), 400, "bad_request")
    assert_error(api.post("/prompts", json={"name": "n", "template": "t", "parameters": []}), 400, "bad_request")
    assert_error(api.put("/prompts/nope", json={}), 404, "not_found")


def test_prompt_tenant_isolation(make_client: Callable[..., Api]) -> None:
    alice, bob = make_client(), make_client()
    prompt = alice.post("/prompts", json=PROMPT).json()
    assert_error(bob.get(f"/prompts/{prompt['id']}"), 404, "not_found")
    assert_error(bob.put(f"/prompts/{prompt['id']}", json={"name": "x"}), 404, "not_found")
    assert_error(bob.delete(f"/prompts/{prompt['id']}"), 404, "not_found")
    assert bob.get("/prompts").json()["prompts"] == []
    assert alice.get(f"/prompts/{prompt['id']}").status_code == 200


def test_task_run_is_deterministic(api: Api) -> None:
    body = {"app": "notes", "task": "summarise", "input": {"text": "a b c"}, "options": {"model": "m1"}}
    first = api.post("/v1/prompt", json=body)
    assert first.status_code == 200
    result = first.json()
    assert result == api.post("/v1/prompt", json=body).json()
    assert result["status"] == "completed"
    assert result["model"] == "m1"
    assert result["output"] == '{"text": "a b c"}'
    assert result["result"]["input"] == {"text": "a b c"}
    other = api.post("/v1/prompt", json={**body, "input": "hello there"}).json()
    assert other["output"] == "hello there"
    assert other["id"] != result["id"]
    assert other["usage"] == {"inputTokens": 2, "outputTokens": 2, "totalTokens": 4}


def test_task_run_errors(api: Api) -> None:
    assert_error(api.post("/v1/prompt", json={"app": "a", "task": "t"}), 400, "bad_request")
    assert_error(api.post("/v1/prompt", json={"app": "a", "input": 1}), 400, "bad_request")
    assert_error(api.post("/v1/prompt", json={"app": "a", "task": "t", "input": 1, "options": 3}), 400, "bad_request")
    import httpx2

    anonymous = httpx2.post(f"{api.sandbox.url}/v1/prompt", json={"app": "a", "task": "t", "input": 1})
    assert_error(anonymous, 401, "unauthorized")
