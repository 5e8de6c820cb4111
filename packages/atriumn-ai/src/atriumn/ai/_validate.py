"""A small JSON Schema check for structured output: type, enum, const, required, properties,
additionalProperties (false), items, anyOf/oneOf, minItems/maxItems, minimum/maximum.

Not a full validator (no $ref, patterns or formats): enough to say clearly *where* a model's JSON does not
match what was asked, which is what a caller needs before trusting it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["first_error"]

_TYPES: dict[str, Any] = {
    "string": str,
    "integer": int,
    "number": (int, float),
    "boolean": bool,
    "array": list,
    "object": dict,
    "null": type(None),
}


def _is(value: Any, type_name: str) -> bool:
    expected = _TYPES.get(type_name)
    if expected is None:
        return True
    if isinstance(value, bool) and type_name in ("integer", "number"):
        return False
    if type_name == "integer" and isinstance(value, float):
        return value.is_integer()
    return isinstance(value, expected)


def first_error(value: Any, schema: Mapping[str, Any], path: str = "$") -> tuple[str, str] | None:
    """``(path, message)`` of the first mismatch, or None when ``value`` conforms."""
    if not isinstance(schema, Mapping) or not schema:
        return None
    for key in ("anyOf", "oneOf"):
        options = schema.get(key)
        if options:
            if any(first_error(value, option, path) is None for option in options):
                break
            return path, f"matches none of the {key} alternatives"
    type_spec = schema.get("type")
    if type_spec is not None:
        names = type_spec if isinstance(type_spec, list) else [type_spec]
        if not any(_is(value, n) for n in names):
            return path, f"expected {' or '.join(names)}, got {type(value).__name__}"
    if "enum" in schema and value not in schema["enum"]:
        return path, f"{value!r} is not one of {schema['enum']!r}"
    if "const" in schema and value != schema["const"]:
        return path, f"expected {schema['const']!r}"
    if isinstance(value, dict):
        props = schema.get("properties") or {}
        for name in schema.get("required") or ():
            if name not in value:
                return f"{path}.{name}", "required property missing"
        for name, item in value.items():
            if name in props:
                err = first_error(item, props[name], f"{path}.{name}")
                if err:
                    return err
            elif schema.get("additionalProperties") is False:
                return f"{path}.{name}", "property not allowed by the schema"
    if isinstance(value, list):
        if "minItems" in schema and len(value) < schema["minItems"]:
            return path, f"expected at least {schema['minItems']} items"
        if "maxItems" in schema and len(value) > schema["maxItems"]:
            return path, f"expected at most {schema['maxItems']} items"
        items = schema.get("items")
        if isinstance(items, Mapping):
            for i, item in enumerate(value):
                err = first_error(item, items, f"{path}[{i}]")
                if err:
                    return err
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if "minimum" in schema and value < schema["minimum"]:
            return path, f"{value} is below the minimum {schema['minimum']}"
        if "maximum" in schema and value > schema["maximum"]:
            return path, f"{value} is above the maximum {schema['maximum']}"
    return None
