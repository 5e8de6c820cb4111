"""Structured output: from a Python type to a schema, and from the model's text back to an instance.

``response_format`` takes an attrs class, a dataclass, a ``TypedDict``, or a pydantic model (when pydantic is
installed — never a dependency), besides JSON Schema dicts. The schema goes to each provider's native
mechanism (OpenAI in the strict form its own helpers send); the answer is checked against it, and
structured into the type: attrs classes, dataclasses and TypedDicts with the core converter, pydantic
models with ``model_validate``. A mismatch raises :class:`StructuredOutputError` with the path and the text.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import typing
from collections.abc import Mapping
from typing import Any

from atriumn.core import DecodeError, ValidationError

from ._errors import StructuredOutputError

__all__ = ["is_output_type", "parse_output", "schema_of"]


def _is_pydantic(tp: Any) -> bool:
    return isinstance(tp, type) and callable(getattr(tp, "model_json_schema", None)) and hasattr(tp, "model_validate")


def is_output_type(tp: Any) -> bool:
    """Whether ``tp`` is a class ``response_format`` can structure into."""
    import attrs

    if not isinstance(tp, type):
        return False
    return attrs.has(tp) or dataclasses.is_dataclass(tp) or typing.is_typeddict(tp) or _is_pydantic(tp)


def schema_of(tp: type) -> dict[str, Any]:
    """The JSON Schema of an output type (pydantic's own for a pydantic model)."""
    if _is_pydantic(tp):
        return dict(tp.model_json_schema())  # type: ignore[attr-defined]
    from ._schema import schema_for_type

    return schema_for_type(tp)


def inline_refs(schema: Mapping[str, Any]) -> dict[str, Any]:
    """A copy with every local ``$ref`` (``#/$defs/...``) replaced by what it points to (for validation)."""
    defs = schema.get("$defs") or schema.get("definitions") or {}

    def resolve(node: Any, depth: int = 0) -> Any:
        if depth > 32:  # a recursive model: stop inlining (the validator then accepts the rest)
            return {}
        if isinstance(node, Mapping):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith(("#/$defs/", "#/definitions/")):
                target = defs.get(ref.rsplit("/", 1)[-1], {})
                merged = {**target, **{k: v for k, v in node.items() if k != "$ref"}}
                return resolve(merged, depth + 1)
            return {k: resolve(v, depth) for k, v in node.items() if k not in ("$defs", "definitions")}
        if isinstance(node, list):
            return [resolve(v, depth) for v in node]
        return node

    return dict(resolve(copy.deepcopy(dict(schema))))


def _loads(text: str, model: str, name: str) -> Any:
    stripped = text.strip()
    if stripped.startswith("```"):
        stripped = stripped.strip("`").removeprefix("json").strip()
    try:
        return json.loads(stripped)
    except ValueError as exc:
        raise StructuredOutputError(
            f"{model} returned text that is not JSON ({exc}); expected {name}", text=text
        ) from None


def parse_output(text: str, *, schema: Mapping[str, Any] | None, tp: Any, model: str, name: str) -> Any:
    """The structured output of ``text``: checked against ``schema``, then structured into ``tp`` (when given);
    ``schema`` None is JSON mode (any JSON object)."""
    data = _loads(text, model, name)
    if schema is None:
        if not isinstance(data, dict):
            raise StructuredOutputError(f"{model} returned JSON that is not an object (JSON mode)", text=text)
        return data
    from ._validate import first_error

    problem = first_error(data, inline_refs(schema) if "$defs" in schema or "definitions" in schema else schema)
    if problem is not None:
        path, message = problem
        raise StructuredOutputError(
            f"{model} returned JSON that does not match {name} at {path}: {message}", text=text, path=path
        )
    if tp is None:
        return data
    if _is_pydantic(tp):
        return _pydantic(tp, data, text, model, name)
    from atriumn.core import structure

    try:
        return structure(data, tp, "snake")
    except DecodeError as exc:
        raise StructuredOutputError(str(exc), text=text, path=exc.path) from exc


def _pydantic(tp: Any, data: Any, text: str, model: str, name: str) -> Any:
    import pydantic

    try:
        return tp.model_validate(data)
    except pydantic.ValidationError as exc:
        first = exc.errors()[0] if exc.errors() else {"loc": (), "msg": str(exc)}
        path = "$" + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in first.get("loc", ()))
        raise StructuredOutputError(
            f"{model} returned JSON that does not match {name} at {path}: {first.get('msg')}", text=text, path=path
        ) from None


def check_output_type(tp: Any) -> None:
    """Refuse a class ``response_format`` cannot use, naming what it takes."""
    if not is_output_type(tp):
        raise ValidationError(
            "response_format: expected a JSON Schema dict, an attrs class, a dataclass, a TypedDict or a pydantic "
            f"model, got {getattr(tp, '__name__', tp)!r}"
        )
