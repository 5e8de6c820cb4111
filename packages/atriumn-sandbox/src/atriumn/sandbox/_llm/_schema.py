"""A minimal valid instance of a JSON Schema, for the ``json`` models and structured output.

Covers what providers accept as a response schema: JSON Schema (OpenAI ``json_schema``, Anthropic
``output_config``, Gemini ``responseJsonSchema``: ``$ref``/``$defs``, ``anyOf``/``oneOf``/``allOf``, ``const``,
``enum``, ``type`` lists, string formats and lengths, numeric bounds, ``minItems``) and Gemini's OpenAPI subset
(``responseSchema``: upper-case ``type`` names, ``nullable``). Every declared property is present (required or
not: a fuller instance is a better test of a client's parsing); the first option of an ``enum``/``anyOf`` is
taken; arrays get ``minItems`` (at least one) items. Written by hand because the point is a deterministic,
documented instance — a generator library (hypothesis-jsonschema) produces arbitrary ones.
"""

from __future__ import annotations

from typing import Any

__all__ = ["instance_of"]

_FORMATS = {
    "date-time": "2026-01-01T00:00:00Z",
    "date": "2026-01-01",
    "time": "00:00:00Z",
    "email": "sandbox@example.com",
    "uri": "https://example.com/",
    "url": "https://example.com/",
    "uuid": "00000000-0000-4000-8000-000000000000",
    "hostname": "example.com",
    "ipv4": "192.0.2.1",
    "ipv6": "2001:db8::1",
    "duration": "PT1S",
}
_MAX_DEPTH = 32


def instance_of(schema: Any) -> Any:
    """A minimal instance of ``schema`` (a JSON Schema or Gemini ``Schema`` as a dict)."""
    root = schema if isinstance(schema, dict) else {}
    return _value(root, root, 0)


def _resolve(ref: str, root: dict[str, Any]) -> dict[str, Any]:
    if not ref.startswith("#"):
        return {}
    node: Any = root
    for part in ref.lstrip("#").strip("/").split("/"):
        if not part:
            continue
        part = part.replace("~1", "/").replace("~0", "~")
        node = node.get(part) if isinstance(node, dict) else None
        if node is None:
            return {}
    return node if isinstance(node, dict) else {}


def _value(schema: dict[str, Any], root: dict[str, Any], depth: int) -> Any:
    if depth > _MAX_DEPTH:
        return None
    if "$ref" in schema:
        return _value(
            {**_resolve(str(schema["$ref"]), root), **{k: v for k, v in schema.items() if k != "$ref"}}, root, depth + 1
        )
    if "const" in schema:
        return schema["const"]
    enum = schema.get("enum")
    if isinstance(enum, list) and enum:
        return enum[0]
    for key in ("anyOf", "oneOf", "any_of"):
        options = schema.get(key)
        if isinstance(options, list) and options:
            chosen = next((o for o in options if isinstance(o, dict) and _type(o) != "null"), options[0])
            rest = {k: v for k, v in schema.items() if k != key}
            return _value({**rest, **chosen} if isinstance(chosen, dict) else rest, root, depth + 1)
    all_of = schema.get("allOf")
    if isinstance(all_of, list):
        merged: dict[str, Any] = {k: v for k, v in schema.items() if k != "allOf"}
        for part in all_of:
            if isinstance(part, dict):
                part = _resolve(str(part["$ref"]), root) if "$ref" in part else part
                props = {**merged.get("properties", {}), **part.get("properties", {})}
                required = [*merged.get("required", []), *part.get("required", [])]
                merged = {**merged, **part, "properties": props, "required": required}
        return _value(merged, root, depth + 1)
    kind = _type(schema)
    if kind == "object":
        return _object(schema, root, depth)
    if kind == "array":
        items = schema.get("items")
        prefix = schema.get("prefixItems")
        if isinstance(prefix, list) and prefix:
            return [_value(p, root, depth + 1) for p in prefix if isinstance(p, dict)]
        count = max(1, int(schema.get("minItems", schema.get("min_items", 1)) or 1))
        item = _value(items if isinstance(items, dict) else {"type": "string"}, root, depth + 1)
        return [item] * count
    if kind == "integer":
        return int(_number(schema, 1))
    if kind == "number":
        return float(_number(schema, 0.5))
    if kind == "boolean":
        return True
    if kind == "null":
        return None
    return _string(schema)


def _type(schema: dict[str, Any]) -> str:
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if str(k).lower() != "null"), "null")
    if kind is None:
        if "properties" in schema:
            return "object"
        if "items" in schema:
            return "array"
        return "string"
    return str(kind).lower()


def _object(schema: dict[str, Any], root: dict[str, Any], depth: int) -> dict[str, Any]:
    props = schema.get("properties")
    if not isinstance(props, dict):
        return {}
    ordering = schema.get("propertyOrdering") or schema.get("property_ordering")
    names = [n for n in ordering if n in props] if isinstance(ordering, list) else []
    names += [n for n in props if n not in names]
    return {name: _value(props[name] if isinstance(props[name], dict) else {}, root, depth + 1) for name in names}


def _number(schema: dict[str, Any], default: float) -> float:
    low = schema.get("minimum", schema.get("exclusiveMinimum"))
    high = schema.get("maximum", schema.get("exclusiveMaximum"))
    value = default
    if isinstance(low, (int, float)) and not isinstance(low, bool):
        value = max(value, low + (1 if "exclusiveMinimum" in schema and "minimum" not in schema else 0))
    if isinstance(high, (int, float)) and not isinstance(high, bool):
        value = min(value, high - (1 if "exclusiveMaximum" in schema and "maximum" not in schema else 0))
    return value


def _string(schema: dict[str, Any]) -> str:
    fmt = schema.get("format")
    if isinstance(fmt, str) and fmt in _FORMATS:
        return _FORMATS[fmt]
    text = "sandbox"
    low = schema.get("minLength", schema.get("min_length"))
    high = schema.get("maxLength", schema.get("max_length"))
    if isinstance(low, int) and len(text) < low:
        text = text + "x" * (low - len(text))
    if isinstance(high, int) and len(text) > high:
        text = text[:high]
    return text
