"""Reading providers' JSON documents defensively: one typed accessor per kind of value.

Lenient where the official SDKs are — a missing or ``null`` optional field reads as empty — and strict
where meaning would be lost: a value of the wrong kind (a list where an object belongs, a string where a
count belongs) raises :class:`~atriumn.core.DecodeError` naming the provider, the field's path in the
document (``$.choices[0].message``) and a redacted excerpt of the value, instead of escaping as a raw
``AttributeError`` or ``TypeError`` from deep inside a parser.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from atriumn.core import DecodeError
from atriumn.core._redact import redact_body

__all__ = ["bad_shape", "count", "items", "load_json", "numbers", "obj", "text"]

_EXCERPT = 300


def _excerpt(value: Any) -> str:
    try:
        raw = json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError, RecursionError):
        raw = f"<{type(value).__name__}>"
    return redact_body(raw[:_EXCERPT], "application/json", limit=_EXCERPT, response=True)


def bad_shape(provider: str, path: str, expected: str, value: Any) -> DecodeError:
    """The error for a value of the wrong kind at ``path``."""
    got = "null" if value is None else type(value).__name__
    excerpt = _excerpt(value)
    return DecodeError(
        f"{provider} sent a response of an unexpected shape: {path} should be {expected}, got {got}: {excerpt}",
        path=path,
        body=excerpt,
    )


_DECODE = json.JSONDecoder().decode


def load_json(data: str | bytes, provider: str, what: str = "a response") -> Any:
    """Decode JSON text (a body or a stream event's data), or raise :class:`DecodeError` with an excerpt."""
    try:
        if type(data) is bytes and data[:1] == b"{" and data[1:2] != b"\0":
            # An object in UTF-8 (what every provider sends; json.loads would detect as much, byte by byte).
            return _DECODE(data.decode("utf-8", "surrogatepass"))  # as json.loads decodes bytes
        return json.loads(data)
    except (ValueError, RecursionError) as exc:
        text = data.decode("utf-8", "replace") if isinstance(data, bytes) else data
        excerpt = redact_body(text[:_EXCERPT], response=True, limit=_EXCERPT)
        raise DecodeError(f"{provider} sent {what} that is not valid JSON ({exc}): {excerpt}", body=excerpt) from None


def obj(value: Any, path: str, provider: str) -> Mapping[str, Any]:
    """An object (a missing one reads as empty)."""
    if type(value) is dict:  # what json.loads gives: checked first, without the ABC's isinstance
        return value
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise bad_shape(provider, path, "an object", value)
    return value


def items(value: Any, path: str, provider: str) -> list[Any]:
    """A list (a missing one reads as empty)."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise bad_shape(provider, path, "a list", value)
    return value


def text(value: Any, path: str, provider: str) -> str:
    """A string (a missing one reads as empty; a number is written out, as the official SDKs coerce it)."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    raise bad_shape(provider, path, "a string", value)


#: No count of tokens or items is larger (2**53: what a JSON number holds exactly).
MAX_COUNT = 2**53


def count(value: Any, path: str, provider: str) -> int:
    """A token count: a whole number from 0 to 2**53 (a missing one reads as 0)."""
    if type(value) is int and 0 <= value <= MAX_COUNT:  # the usual answer, checked first
        return value
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= MAX_COUNT:
        raise bad_shape(provider, path, "a count", value)
    if isinstance(value, float) and not value.is_integer():
        raise bad_shape(provider, path, "a whole number", value)
    return int(value)


def numbers(value: Any, path: str, provider: str) -> tuple[float, ...]:
    """A list of finite numbers (an embedding)."""
    values = items(value, path, provider)
    out: list[float] = []
    for v in values:
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise bad_shape(provider, path, "a list of numbers", values[:8])
        try:
            number = float(v)
        except OverflowError:
            raise bad_shape(provider, path, "a list of finite numbers", values[:8]) from None
        if number != number or number in (float("inf"), float("-inf")):
            raise bad_shape(provider, path, "a list of finite numbers", values[:8])
        out.append(number)
    return tuple(out)
