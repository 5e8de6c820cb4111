"""One pure function per Atriumn AI API endpoint, returning the Operation (the only place each is written)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from atriumn.core import RAW, Operation

from ._models import Prompt, PromptInput, PromptList

__all__ = ["create_prompt", "delete_prompt", "get_prompt", "list_prompts", "run_task", "update_prompt"]


def create_prompt(body: PromptInput) -> Operation[Prompt]:
    """``POST /prompts``."""
    return Operation(method="POST", path="/prompts", json=body, response_type=Prompt, span_name="ai.create_prompt")


def get_prompt(prompt_id: str) -> Operation[Prompt]:
    """``GET /prompts/{id}``."""
    return Operation(
        method="GET",
        path="/prompts/{id}",
        path_params={"id": prompt_id},
        response_type=Prompt,
        span_name="ai.get_prompt",
    )


def update_prompt(prompt_id: str, body: PromptInput) -> Operation[Prompt]:
    """``PUT /prompts/{id}``."""
    return Operation(
        method="PUT",
        path="/prompts/{id}",
        path_params={"id": prompt_id},
        json=body,
        response_type=Prompt,
        span_name="ai.update_prompt",
    )


def delete_prompt(prompt_id: str) -> Operation[None]:
    """``DELETE /prompts/{id}``."""
    return Operation(method="DELETE", path="/prompts/{id}", path_params={"id": prompt_id}, span_name="ai.delete_prompt")


def list_prompts(
    *, model_id: str | None, tags: Sequence[str] | None, max_results: int | None, next_token: str | None
) -> Operation[PromptList]:
    """``GET /prompts`` (one page)."""
    return Operation(
        method="GET",
        path="/prompts",
        query={
            "modelId": model_id,
            "tags": ",".join(tags) if tags else None,
            "maxResults": max_results,
            "nextToken": next_token,
        },
        response_type=PromptList,
        span_name="ai.list_prompts",
    )


def run_task(*, app: str, task: str, input: Any, options: Any) -> Operation[Any]:
    """``POST /v1/prompt``: run a task; the answer is the JSON result as it is."""
    body: dict[str, Any] = {"app": app, "task": task, "input": input}
    if options is not None:
        body["options"] = options
    return Operation(method="POST", path="/v1/prompt", json=body, response_type=RAW, span_name="ai.run_task")
