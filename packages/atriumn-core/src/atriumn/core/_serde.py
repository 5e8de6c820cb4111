"""Models on the wire: one cattrs converter per wire casing.

Models are plain attrs classes with snake_case attributes; the wire name of each field comes from its
casing (``camel`` for storage / ai / ingest, ``snake`` for auth) or from ``field(metadata={"wire": ...})``
when a service breaks its own rule. The mapping lives here and nowhere else.

Rules: unknown fields are ignored (servers add fields); ISO-8601 timestamps become aware ``datetime``;
open-ended strings (statuses) stay ``str`` so an unknown value never breaks decoding; ``None`` is omitted
from request bodies.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from functools import cache
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from ._errors import DecodeError

if TYPE_CHECKING:
    import cattrs

__all__ = ["Casing", "converter_for", "structure", "unstructure", "wire_name"]

Casing = Literal["camel", "snake"]
T = TypeVar("T")

_CAMEL_BOUNDARY = re.compile(r"_([a-z0-9])")


def wire_name(name: str, casing: Casing) -> str:
    """The wire name of a snake_case attribute under ``casing`` (``tenant_id`` → ``tenantId``)."""
    if casing == "snake":
        return name
    return _CAMEL_BOUNDARY.sub(lambda m: m.group(1).upper(), name)


def _parse_datetime(value: Any, _: type) -> dt.datetime:
    if isinstance(value, dt.datetime):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return dt.datetime.fromtimestamp(value, tz=dt.timezone.utc)
    if not isinstance(value, str):
        raise TypeError(f"expected an ISO-8601 timestamp, got {type(value).__name__}")
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    # Python 3.10's fromisoformat takes exactly 3 or 6 fractional digits; servers send 1 to 9 (Go's RFC3339Nano).
    text = re.sub(r"\.(\d+)", lambda m: "." + (m.group(1) + "00000")[:6], text, count=1)
    parsed = dt.datetime.fromisoformat(text)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.timezone.utc)


def _format_datetime(value: dt.datetime) -> str:
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.timezone.utc)
    return value.isoformat().replace("+00:00", "Z")


def _drop_none(fn: Callable[[Any], dict[str, Any]]) -> Callable[[Any], dict[str, Any]]:
    def unstructure_without_none(obj: Any) -> dict[str, Any]:
        return {k: v for k, v in fn(obj).items() if v is not None}

    return unstructure_without_none


@cache
def converter_for(casing: Casing) -> cattrs.Converter:
    """The converter for one wire casing (cached: one per casing per process).

    cattrs is imported here, on first use, to keep ``import atriumn.core`` fast.
    """
    import attrs
    import cattrs
    from cattrs.gen import make_dict_structure_fn, make_dict_unstructure_fn, override

    conv = cattrs.Converter()
    conv.register_structure_hook(dt.datetime, _parse_datetime)
    conv.register_unstructure_hook(dt.datetime, _format_datetime)

    def renames(cls: type) -> dict[str, Any]:
        return {f.name: override(rename=f.metadata.get("wire") or wire_name(f.name, casing)) for f in attrs.fields(cls)}

    conv.register_structure_hook_factory(attrs.has, lambda cls: make_dict_structure_fn(cls, conv, **renames(cls)))
    conv.register_unstructure_hook_factory(
        attrs.has, lambda cls: _drop_none(make_dict_unstructure_fn(cls, conv, **renames(cls)))
    )
    return conv


def unstructure(obj: Any, casing: Casing) -> Any:
    """A model (or a container of models) as JSON-ready data in ``casing``; ``None`` fields omitted."""
    return converter_for(casing).unstructure(obj)


def structure(data: Any, cls: type[T], casing: Casing, *, request_id: str | None = None) -> T:
    """Build ``cls`` from decoded JSON; a shape error raises :class:`DecodeError` naming the field path."""
    conv = converter_for(casing)
    try:
        return conv.structure(data, cls)
    except Exception as exc:
        import cattrs

        messages = _wire_messages(exc, "$", casing) if isinstance(exc, cattrs.BaseValidationError) else []
        detail = "; ".join(messages) or f"{type(exc).__name__}: {exc}"
        first_path = messages[0].rsplit(" @ ", 1)[-1] if messages and " @ " in messages[0] else "$"
        name = getattr(cls, "__name__", str(cls))
        raise DecodeError(f"response does not match {name}: {detail}", path=first_path, request_id=request_id) from exc


def _wire_messages(exc: BaseException, path: str, casing: Casing) -> list[str]:
    """``cattrs.transform_error``, but naming fields by their wire names: the path points into the document."""
    import attrs
    from cattrs.errors import ClassValidationError, IterableValidationError
    from cattrs.v import format_exception

    messages: list[str] = []
    if isinstance(exc, (ClassValidationError, IterableValidationError)):
        names: dict[str, str] = {}
        if isinstance(exc, ClassValidationError) and attrs.has(exc.cl):
            names = {f.name: f.metadata.get("wire") or wire_name(f.name, casing) for f in attrs.fields(exc.cl)}
        with_notes, without = exc.group_exceptions()
        for sub, note in with_notes:
            name = getattr(note, "name", None)
            sub_path = f"{path}.{names.get(name, name)}" if name is not None else f"{path}[{note.index!r}]"
            if isinstance(sub, (ClassValidationError, IterableValidationError)):
                messages.extend(_wire_messages(sub, sub_path, casing))
            else:
                messages.append(f"{format_exception(sub, note.type)} @ {sub_path}")
        messages.extend(f"{format_exception(sub, None)} @ {path}" for sub in without)
    else:
        messages.append(f"{format_exception(exc, None)} @ {path}")
    return messages
