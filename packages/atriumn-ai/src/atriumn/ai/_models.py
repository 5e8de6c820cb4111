"""Models of the Atriumn AI API (prompts)."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from typing import Any

import attrs

from atriumn.core import ValidationError

__all__ = ["Prompt", "PromptList", "PromptVariable"]

_PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")


@attrs.frozen(kw_only=True)
class PromptVariable:
    """A template variable.

    Attributes:
        name: the name used in the template as ``{{name}}``.
        description: what it is for.
        default_value: used when the caller gives no value.
        required: whether a value (or default) must exist.
    """

    name: str
    description: str | None = None
    default_value: str | None = None
    required: bool = False


@attrs.frozen(kw_only=True)
class Prompt:
    """A stored prompt template.

    Attributes:
        id: the prompt id.
        name, description: what it is.
        template: the text, with ``{{variable}}`` placeholders.
        model_id: the model it is meant for.
        parameters: model parameters (temperature, ...).
        variables: the declared :class:`PromptVariable` s.
        tags: labels for filtering.
        version: incremented by each update.
        created_at, updated_at: timestamps.
    """

    id: str
    name: str = ""
    description: str | None = None
    template: str = ""
    model_id: str | None = None
    parameters: dict[str, Any] | None = None
    variables: list[PromptVariable] = attrs.field(factory=list)
    tags: list[str] = attrs.field(factory=list)
    version: int | None = None
    created_at: dt.datetime | None = None
    updated_at: dt.datetime | None = None

    def placeholders(self) -> list[str]:
        """The variable names used in the template, in order of first use."""
        seen: dict[str, None] = {}
        for match in _PLACEHOLDER.finditer(self.template):
            seen.setdefault(match.group(1), None)
        return list(seen)

    def render(self, **variables: Any) -> str:
        """The template with ``{{name}}`` placeholders filled, client-side.

        Declared defaults apply; a required variable with no value and no default, or a variable the prompt
        does not declare, raises :class:`ValueError` naming it. When the prompt declares no variables, the
        template's placeholders are the variables (all required).
        """
        declared: Mapping[str, PromptVariable] = {v.name: v for v in self.variables}
        if not declared:
            declared = {name: PromptVariable(name=name, required=True) for name in self.placeholders()}
        for name in variables:
            if name not in declared:
                raise ValidationError(
                    f"{name}: not a variable of prompt {self.name or self.id!r} (has {', '.join(declared) or 'none'})"
                )
        values: dict[str, str] = {}
        for name, var in declared.items():
            if name in variables and variables[name] is not None:
                values[name] = str(variables[name])
            elif var.default_value is not None:
                values[name] = var.default_value
            elif var.required:
                raise ValidationError(f"{name}: required by prompt {self.name or self.id!r} and not given")
            else:
                values[name] = ""
        return _PLACEHOLDER.sub(lambda m: values.get(m.group(1), m.group(0)), self.template)


@attrs.frozen(kw_only=True)
class PromptInput:
    """The body of a create or update (``None`` fields are omitted)."""

    name: str | None = None
    description: str | None = None
    template: str | None = None
    model_id: str | None = None
    parameters: dict[str, Any] | None = None
    variables: list[PromptVariable] | None = None
    tags: list[str] | None = None


@attrs.frozen(kw_only=True)
class PromptList:
    """One page of prompts."""

    prompts: list[Prompt] = attrs.field(factory=list)
    next_token: str | None = None
