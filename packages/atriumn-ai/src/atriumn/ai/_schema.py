"""JSON Schema from Python types: tool parameters from a callable's signature, output schemas from attrs classes."""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import inspect
import types
import typing
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from atriumn.core import ValidationError

__all__ = ["schema_for_callable", "schema_for_type", "strict_schema"]


def schema_for_type(tp: Any) -> dict[str, Any]:
    """The JSON Schema of a Python type annotation (str, int, float, bool, list, dict, Literal, Optional,
    Enum, attrs classes, dataclasses and TypedDicts)."""
    if tp is inspect.Parameter.empty or tp is Any:
        return {}
    if tp is str:
        return {"type": "string"}
    if tp is bool:
        return {"type": "boolean"}
    if tp is int:
        return {"type": "integer"}
    if tp is float:
        return {"type": "number"}
    if tp is type(None):
        return {"type": "null"}
    if tp in (dt.datetime,):
        return {"type": "string", "format": "date-time"}
    if tp in (dt.date,):
        return {"type": "string", "format": "date"}
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        return {"enum": [m.value for m in tp]}
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin is typing.Literal:
        return {"enum": list(args)}
    if origin is typing.Union or (hasattr(types, "UnionType") and origin is types.UnionType):
        non_null = [a for a in args if a is not type(None)]
        if len(non_null) == 1 and len(args) == 2:
            inner = schema_for_type(non_null[0])
            return {"anyOf": [inner, {"type": "null"}]} if inner else {}
        return {"anyOf": [schema_for_type(a) for a in args]}
    if origin in (list, tuple, set, frozenset, Sequence) or tp in (list, tuple, set):
        item = schema_for_type(args[0]) if args else {}
        return {"type": "array", "items": item} if item else {"type": "array"}
    if origin in (dict, Mapping) or tp is dict:
        if len(args) == 2:
            return {"type": "object", "additionalProperties": schema_for_type(args[1]) or True}
        return {"type": "object"}
    if isinstance(tp, type):
        fields = _class_fields(tp)
        if fields is not None:
            return _object_schema(fields)
    raise ValidationError(f"cannot express {tp!r} as JSON Schema")


def _class_fields(cls: type) -> list[tuple[str, Any, bool]] | None:
    import attrs

    hints = typing.get_type_hints(cls)
    if typing.is_typeddict(cls):
        required = getattr(cls, "__required_keys__", frozenset(hints))
        return [(name, tp, name in required) for name, tp in hints.items()]
    if attrs.has(cls):
        return [(f.name, hints.get(f.name, f.type), f.default is attrs.NOTHING) for f in attrs.fields(cls) if f.init]
    if dataclasses.is_dataclass(cls):
        return [
            (
                f.name,
                hints.get(f.name, f.type),
                f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING,
            )
            for f in dataclasses.fields(cls)
        ]
    return None


def _object_schema(fields: list[tuple[str, Any, bool]]) -> dict[str, Any]:
    properties = {name: schema_for_type(tp) for name, tp, _ in fields}
    required = [name for name, _, req in fields if req]
    schema: dict[str, Any] = {"type": "object", "properties": properties, "additionalProperties": False}
    if required:
        schema["required"] = required
    return schema


def schema_for_callable(fn: Callable[..., Any]) -> dict[str, Any]:
    """The JSON Schema of a function's keyword arguments (types from annotations; defaults make them optional)."""
    signature = inspect.signature(fn)
    try:
        hints = typing.get_type_hints(fn)
    except Exception:
        hints = {}
    fields: list[tuple[str, Any, bool]] = []
    for name, param in signature.parameters.items():
        if param.kind in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD):
            continue
        if name in ("self", "cls"):
            continue
        fields.append((name, hints.get(name, param.annotation), param.default is inspect.Parameter.empty))
    return _object_schema(fields)


def strict_schema(
    schema: Mapping[str, Any], root: Mapping[str, Any] | None = None, expanding: frozenset[str] = frozenset()
) -> dict[str, Any]:
    """The strict form of a schema generated from Python types, as OpenAI's structured-output helpers send it:
    every object lists all its properties as required and allows no others; optional fields stay nullable
    (``anyOf [..., null]``), so a model that has nothing to say sends ``null``; a ``null`` default says nothing
    and is dropped; a ``$ref`` with sibling keywords is inlined (the API takes a bare ``$ref`` only); a
    one-item ``allOf`` is merged. Returns a new schema."""
    root = schema if root is None else root
    out: dict[str, Any] = dict(schema)
    ref = out.get("$ref")
    if isinstance(ref, str) and len(out) > 1:
        target = _resolve(root, ref)
        if target is not None and ref not in expanding:  # a recursive model keeps its inner $ref
            merged = {**target, **out}
            del merged["$ref"]
            return strict_schema(merged, root, expanding | {ref})
    properties = out.get("properties")
    if isinstance(properties, Mapping):
        out["properties"] = {
            k: strict_schema(v, root, expanding) if isinstance(v, Mapping) else v for k, v in properties.items()
        }
        out["required"] = list(properties)
    if out.get("type") == "object" or "properties" in out:
        out.setdefault("additionalProperties", False)
    items = out.get("items")
    if isinstance(items, Mapping):
        out["items"] = strict_schema(items, root, expanding)
    for key in ("anyOf", "allOf"):
        variants = out.get(key)
        if isinstance(variants, list):
            out[key] = [strict_schema(v, root, expanding) if isinstance(v, Mapping) else v for v in variants]
    all_of = out.get("allOf")
    if isinstance(all_of, list) and len(all_of) == 1 and isinstance(all_of[0], Mapping):
        del out["allOf"]
        out.update(all_of[0])
    if "default" in out and out["default"] is None:
        del out["default"]
    extra = out.get("additionalProperties")
    if isinstance(extra, Mapping):
        out["additionalProperties"] = strict_schema(extra, root, expanding)
    for key in ("$defs", "definitions"):  # pydantic's nested models
        defs = out.get(key)
        if isinstance(defs, Mapping):
            out[key] = {
                name: strict_schema(d, root, expanding) if isinstance(d, Mapping) else d for name, d in defs.items()
            }
    return out


def _resolve(root: Mapping[str, Any], ref: str) -> Mapping[str, Any] | None:
    """The schema a local ``$ref`` (``#/$defs/Name``) points at, or None."""
    if not ref.startswith("#/"):
        return None
    node: Any = root
    for key in ref[2:].split("/"):
        if not isinstance(node, Mapping) or key not in node:
            return None
        node = node[key]
    return node if isinstance(node, Mapping) else None
