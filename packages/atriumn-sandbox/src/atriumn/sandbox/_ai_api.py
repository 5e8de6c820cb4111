"""The Atriumn AI API: prompts (CRUD with versions) and the deterministic task run ``POST /v1/prompt``."""

from __future__ import annotations

import hashlib
import json
import uuid
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from ._errors import ApiError
from ._http import (
    authenticate,
    decode_token,
    encode_token,
    opt_str,
    opt_str_list,
    query_int,
    read_json,
    req_str,
    state_of,
)
from ._store import now_iso

__all__ = ["ai_routes"]


def _variables(body: dict[str, Any]) -> list[dict[str, Any]] | None:
    raw = body.get("variables")
    if raw is None:
        return None
    if not isinstance(raw, list):
        raise ApiError(400, "field 'variables' must be a list")
    out = []
    for i, var in enumerate(raw):
        if not isinstance(var, dict):
            raise ApiError(400, f"variables[{i}] must be an object")
        name = req_str(var, "name")
        required = var.get("required", False)
        if not isinstance(required, bool):
            raise ApiError(400, f"variables[{i}].required must be a boolean")
        out.append(
            {
                "name": name,
                "description": opt_str(var, "description") or "",
                "defaultValue": opt_str(var, "defaultValue"),
                "required": required,
            }
        )
    return out


def _parameters(body: dict[str, Any]) -> dict[str, Any] | None:
    raw = body.get("parameters")
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise ApiError(400, "field 'parameters' must be an object")
    return raw


async def create_prompt(request: Request) -> Response:
    """``POST /prompts`` (201)."""
    principal = authenticate(request)
    state = state_of(request)
    body = await read_json(request)
    now = now_iso()
    prompt: dict[str, Any] = {
        "id": str(uuid.uuid4()),
        "name": req_str(body, "name"),
        "description": opt_str(body, "description") or "",
        "template": req_str(body, "template"),
        "modelId": opt_str(body, "modelId"),
        "parameters": _parameters(body) or {},
        "variables": _variables(body) or [],
        "tags": opt_str_list(body, "tags") or [],
        "version": 1,
        "createdAt": now,
        "updatedAt": now,
    }
    state.store.put("prompt", prompt["id"], prompt, tenant_id=principal.tenant_id)
    return JSONResponse(prompt, status_code=201)


async def list_prompts(request: Request) -> Response:
    """``GET /prompts`` (modelId, tags, maxResults, nextToken → prompts, nextToken)."""
    principal = authenticate(request)
    state = state_of(request)
    q = request.query_params
    limit = query_int(request, "maxResults", default=50, low=1, high=100)
    after = decode_token(q.get("nextToken"))
    wanted = {t.strip() for tags in q.getlist("tags") for t in tags.split(",") if t.strip()}
    prompts: list[dict[str, Any]] = []
    next_token = None
    last = after
    for seq, prompt in state.store.scan("prompt", tenant_id=principal.tenant_id, after=after):
        if q.get("modelId") and prompt["modelId"] != q["modelId"]:
            continue
        if not wanted <= set(prompt["tags"]):
            continue
        if len(prompts) == limit:
            next_token = encode_token(last)
            break
        prompts.append(prompt)
        last = seq
    return JSONResponse({"prompts": prompts, "nextToken": next_token})


def _prompt(request: Request) -> tuple[Any, str, dict[str, Any]]:
    principal = authenticate(request)
    state = state_of(request)
    prompt = state.store.get("prompt", request.path_params["id"], tenant_id=principal.tenant_id)
    if prompt is None:
        raise ApiError(404, "no such prompt")
    return state, principal.tenant_id, prompt


async def get_prompt(request: Request) -> Response:
    """``GET /prompts/{id}``."""
    return JSONResponse(_prompt(request)[2])


async def update_prompt(request: Request) -> Response:
    """``PUT /prompts/{id}``: change the fields given; ``version`` goes up by one."""
    state, tenant, prompt = _prompt(request)
    body = await read_json(request)
    for field in ("name", "template"):
        if field in body:
            prompt[field] = req_str(body, field)
    for field in ("description", "modelId"):
        if field in body:
            prompt[field] = opt_str(body, field) or ("" if field == "description" else None)
    if "parameters" in body:
        prompt["parameters"] = _parameters(body) or {}
    if "variables" in body:
        prompt["variables"] = _variables(body) or []
    if "tags" in body:
        prompt["tags"] = opt_str_list(body, "tags") or []
    prompt["version"] += 1
    prompt["updatedAt"] = now_iso()
    state.store.put("prompt", prompt["id"], prompt, tenant_id=tenant)
    return JSONResponse(prompt)


async def delete_prompt(request: Request) -> Response:
    """``DELETE /prompts/{id}`` (204)."""
    state, tenant, prompt = _prompt(request)
    state.store.delete("prompt", prompt["id"], tenant_id=tenant)
    return Response(status_code=204)


async def run_task(request: Request) -> Response:
    """``POST /v1/prompt``: a deterministic result computed from ``app``, ``task``, ``input`` and ``options``.

    ``output`` echoes the input (a string input as is; anything else as canonical JSON), so tests can
    assert it exactly; ``id`` is a hash of the whole request.
    """
    authenticate(request)
    body = await read_json(request)
    app = req_str(body, "app")
    task = req_str(body, "task")
    if "input" not in body:
        raise ApiError(400, "missing required field 'input'")
    task_input = body["input"]
    options = body.get("options") or {}
    if not isinstance(options, dict):
        raise ApiError(400, "field 'options' must be an object")
    canonical = json.dumps({"app": app, "task": task, "input": task_input, "options": options}, sort_keys=True)
    text = task_input if isinstance(task_input, str) else json.dumps(task_input, sort_keys=True)
    words = len(text.split())
    return JSONResponse(
        {
            "id": "task_" + hashlib.sha256(canonical.encode()).hexdigest()[:24],
            "app": app,
            "task": task,
            "status": "completed",
            "output": text,
            "result": {"app": app, "task": task, "input": task_input, "options": options},
            "model": str(options.get("model") or "sandbox-echo"),
            "usage": {"inputTokens": words, "outputTokens": words, "totalTokens": 2 * words},
        }
    )


def ai_routes() -> list[BaseRoute]:
    """The AI API's routes."""
    return [
        Route("/prompts", create_prompt, methods=["POST"]),
        Route("/prompts", list_prompts, methods=["GET"]),
        Route("/prompts/{id}", get_prompt, methods=["GET"]),
        Route("/prompts/{id}", update_prompt, methods=["PUT"]),
        Route("/prompts/{id}", delete_prompt, methods=["DELETE"]),
        Route("/v1/prompt", run_task, methods=["POST"]),
    ]
