"""The Atriumn AI API clients: prompts and task runs. Thin: validate, build the operation, send it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from atriumn.core import AsyncPager, AsyncServiceClient, Page, Pager, RequestOptions, ServiceClient, ValidationError

if TYPE_CHECKING:
    from typing_extensions import Unpack

from . import _operations
from ._models import Prompt, PromptInput, PromptVariable

__all__ = ["AIClient", "AsyncAIClient"]


def _require(name: str, value: Any) -> None:
    if not isinstance(value, str) or not value.strip():
        raise ValidationError(f"{name}: must be a non-empty string")


def _variables(variables: Sequence[PromptVariable | Mapping[str, Any]] | None) -> list[PromptVariable] | None:
    if variables is None:
        return None
    out: list[PromptVariable] = []
    for i, v in enumerate(variables):
        if isinstance(v, PromptVariable):
            out.append(v)
        elif isinstance(v, Mapping) and v.get("name"):
            out.append(
                PromptVariable(
                    name=str(v["name"]),
                    description=v.get("description"),
                    default_value=v.get("default_value", v.get("defaultValue")),
                    required=bool(v.get("required", False)),
                )
            )
        else:
            raise ValidationError(f"variables[{i}]: expected a PromptVariable or a dict with a name")
    return out


def _input(
    *,
    name: str | None,
    template: str | None,
    description: str | None,
    model_id: str | None,
    parameters: Mapping[str, Any] | None,
    variables: Sequence[PromptVariable | Mapping[str, Any]] | None,
    tags: Sequence[str] | None,
) -> PromptInput:
    if tags is not None and (isinstance(tags, str) or not all(isinstance(t, str) and t for t in tags)):
        raise ValidationError("tags: expected a list of non-empty strings")
    return PromptInput(
        name=name,
        template=template,
        description=description,
        model_id=model_id,
        parameters=dict(parameters) if parameters is not None else None,
        variables=_variables(variables),
        tags=list(tags) if tags is not None else None,
    )


def _check_task(app: str, task: str) -> None:
    _require("app", app)
    _require("task", task)


class AIClient(ServiceClient):
    """The Atriumn AI API (prompts, task runs), synchronous.

    Args:
        base_url: the API (else ``ATRIUMN_API_BASE_URL``, else the Atriumn API).
        credentials: a token provider (bearer).
        transport: a shared :class:`~atriumn.core.Transport` (not closed by this client).
        deadline, max_retries: for the transport this client creates.

    Every method also takes the per-call :class:`~atriumn.core.RequestOptions` by keyword (``extra_headers``,
    ``extra_query``, ``extra_body``, ``timeout``); ``with_options(...)`` gives a client with changed defaults
    sharing this one's connections, and ``with_raw_response.<method>(...)`` the HTTP response behind a call.
    """

    def create_prompt(
        self,
        *,
        name: str,
        template: str,
        description: str | None = None,
        model_id: str | None = None,
        parameters: Mapping[str, Any] | None = None,
        variables: Sequence[PromptVariable | Mapping[str, Any]] | None = None,
        tags: Sequence[str] | None = None,
        **options: Unpack[RequestOptions],
    ) -> Prompt:
        """Create a prompt."""
        _require("name", name)
        _require("template", template)
        body = _input(
            name=name,
            template=template,
            description=description,
            model_id=model_id,
            parameters=parameters,
            variables=variables,
            tags=tags,
        )
        return self._send(options, _operations.create_prompt(body))

    def get_prompt(self, prompt_id: str, **options: Unpack[RequestOptions]) -> Prompt:
        """One prompt."""
        _require("prompt_id", prompt_id)
        return self._send(options, _operations.get_prompt(prompt_id))

    def update_prompt(
        self,
        prompt_id: str,
        *,
        name: str | None = None,
        template: str | None = None,
        description: str | None = None,
        model_id: str | None = None,
        parameters: Mapping[str, Any] | None = None,
        variables: Sequence[PromptVariable | Mapping[str, Any]] | None = None,
        tags: Sequence[str] | None = None,
        **options: Unpack[RequestOptions],
    ) -> Prompt:
        """Change some fields of a prompt (the others are kept)."""
        _require("prompt_id", prompt_id)
        body = _input(
            name=name,
            template=template,
            description=description,
            model_id=model_id,
            parameters=parameters,
            variables=variables,
            tags=tags,
        )
        if body == PromptInput():
            raise ValidationError("update_prompt: give at least one field to change")
        return self._send(options, _operations.update_prompt(prompt_id, body))

    def delete_prompt(self, prompt_id: str, **options: Unpack[RequestOptions]) -> None:
        """Delete a prompt."""
        _require("prompt_id", prompt_id)
        self._send(options, _operations.delete_prompt(prompt_id))

    def list_prompts(
        self,
        *,
        model_id: str | None = None,
        tags: Sequence[str] | None = None,
        page_size: int | None = None,
        **options: Unpack[RequestOptions],
    ) -> Pager[Prompt]:
        """Every prompt (filtered by model and tags), page by page as you iterate."""
        if page_size is not None and page_size < 1:
            raise ValidationError("page_size: must be >= 1")
        if tags is not None and isinstance(tags, str):
            tags = [tags]

        def fetch(token: str | None) -> Page[Prompt]:
            page = self._send(
                options, _operations.list_prompts(model_id=model_id, tags=tags, max_results=page_size, next_token=token)
            )
            return Page(items=page.prompts, next_token=page.next_token)

        return Pager(fetch)

    def run_task(
        self,
        *,
        app: str,
        task: str,
        input: Any,
        options: Mapping[str, Any] | None = None,
        **request: Unpack[RequestOptions],
    ) -> Any:
        """Run a task (``POST /v1/prompt``); returns the JSON result."""
        _check_task(app, task)
        return self._send(request, _operations.run_task(app=app, task=task, input=input, options=options))


class AsyncAIClient(AsyncServiceClient):
    """The async twin of :class:`AIClient`."""

    async def create_prompt(
        self,
        *,
        name: str,
        template: str,
        description: str | None = None,
        model_id: str | None = None,
        parameters: Mapping[str, Any] | None = None,
        variables: Sequence[PromptVariable | Mapping[str, Any]] | None = None,
        tags: Sequence[str] | None = None,
        **options: Unpack[RequestOptions],
    ) -> Prompt:
        """Create a prompt."""
        _require("name", name)
        _require("template", template)
        body = _input(
            name=name,
            template=template,
            description=description,
            model_id=model_id,
            parameters=parameters,
            variables=variables,
            tags=tags,
        )
        return await self._send(options, _operations.create_prompt(body))

    async def get_prompt(self, prompt_id: str, **options: Unpack[RequestOptions]) -> Prompt:
        """One prompt."""
        _require("prompt_id", prompt_id)
        return await self._send(options, _operations.get_prompt(prompt_id))

    async def update_prompt(
        self,
        prompt_id: str,
        *,
        name: str | None = None,
        template: str | None = None,
        description: str | None = None,
        model_id: str | None = None,
        parameters: Mapping[str, Any] | None = None,
        variables: Sequence[PromptVariable | Mapping[str, Any]] | None = None,
        tags: Sequence[str] | None = None,
        **options: Unpack[RequestOptions],
    ) -> Prompt:
        """Change some fields of a prompt."""
        _require("prompt_id", prompt_id)
        body = _input(
            name=name,
            template=template,
            description=description,
            model_id=model_id,
            parameters=parameters,
            variables=variables,
            tags=tags,
        )
        if body == PromptInput():
            raise ValidationError("update_prompt: give at least one field to change")
        return await self._send(options, _operations.update_prompt(prompt_id, body))

    async def delete_prompt(self, prompt_id: str, **options: Unpack[RequestOptions]) -> None:
        """Delete a prompt."""
        _require("prompt_id", prompt_id)
        await self._send(options, _operations.delete_prompt(prompt_id))

    def list_prompts(
        self,
        *,
        model_id: str | None = None,
        tags: Sequence[str] | None = None,
        page_size: int | None = None,
        **options: Unpack[RequestOptions],
    ) -> AsyncPager[Prompt]:
        """Every prompt, page by page as you ``async for``."""
        if page_size is not None and page_size < 1:
            raise ValidationError("page_size: must be >= 1")
        if tags is not None and isinstance(tags, str):
            tags = [tags]

        async def fetch(token: str | None) -> Page[Prompt]:
            page = await self._send(
                options, _operations.list_prompts(model_id=model_id, tags=tags, max_results=page_size, next_token=token)
            )
            return Page(items=page.prompts, next_token=page.next_token)

        return AsyncPager(fetch)

    async def run_task(
        self,
        *,
        app: str,
        task: str,
        input: Any,
        options: Mapping[str, Any] | None = None,
        **request: Unpack[RequestOptions],
    ) -> Any:
        """Run a task (``POST /v1/prompt``); returns the JSON result."""
        _check_task(app, task)
        return await self._send(request, _operations.run_task(app=app, task=task, input=input, options=options))
