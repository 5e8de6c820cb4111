"""Message content from what users pass: strings, part objects, and OpenAI-style content dicts.

OpenAI's content parts are the lingua franca of chat messages, so they are read here as well as our own part
objects: ``{"type": "text", "text": ...}`` (on any part, ``prompt_cache_breakpoint`` adds a :class:`CachePoint`),
``{"type": "image_url", "image_url": {"url": "data:...;base64,..." | "https://...", "detail"}}``,
``{"type": "input_audio", "input_audio": {"data", "format"}}`` and ``{"type": "file", "file": {"file_data",
"filename"}}``.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from typing import Any

from atriumn.core import ValidationError

from ._parts import AudioPart, CachePoint, DocumentPart, ImagePart, ReasoningPart
from ._types import Part, TextPart, ToolCall

__all__ = ["content_parts"]

_PART_TYPES = (TextPart, ToolCall, ImagePart, DocumentPart, AudioPart, ReasoningPart, CachePoint)


def content_parts(content: Any, where: str) -> str | tuple[Part, ...]:
    """A message's content: a string as it is, anything else as a tuple of parts (``where`` names the message in
    errors: ``messages[2].content``)."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, _PART_TYPES):
        content = [content]
    parts: list[Part] = []
    for j, item in enumerate(content):
        at = f"{where}[{j}]"
        if isinstance(item, _PART_TYPES):
            parts.append(item)
        elif isinstance(item, str):
            parts.append(TextPart(text=item))
        elif isinstance(item, Mapping):
            parts.extend(_from_dict(item, at))
        else:
            raise ValidationError(f"{at}: unsupported content part of type {type(item).__name__}")
    return tuple(parts)


def _from_dict(item: Mapping[str, Any], at: str) -> list[Part]:
    """A content dict's part, followed by a :class:`CachePoint` when it carries ``prompt_cache_breakpoint``."""
    part = _part_of(item, at)
    breakpoint_ = item.get("prompt_cache_breakpoint")
    if isinstance(breakpoint_, Mapping):
        return [part, CachePoint(ttl=breakpoint_.get("ttl"))]
    return [part]


def _part_of(item: Mapping[str, Any], at: str) -> Part:
    kind = item.get("type", "text")
    if kind == "text":
        return TextPart(text=str(item.get("text", "")))
    if kind == "image_url":
        spec = item.get("image_url")
        spec = {"url": spec} if isinstance(spec, str) else spec
        if not isinstance(spec, Mapping) or not isinstance(spec.get("url"), str):
            raise ValidationError(f"{at}.image_url.url: required")
        data, media_type = _data_url(spec["url"], f"{at}.image_url.url")
        detail = spec.get("detail")
        if data is None:
            return ImagePart(url=spec["url"], media_type=media_type or "", detail=detail)
        return ImagePart(data=data, media_type=media_type or "", detail=detail)
    if kind == "input_audio":
        spec = item.get("input_audio")
        if not isinstance(spec, Mapping) or not isinstance(spec.get("data"), str):
            raise ValidationError(f"{at}.input_audio.data: required (base64 audio)")
        fmt = spec.get("format")
        media_type = {"wav": "audio/wav", "mp3": "audio/mpeg"}.get(str(fmt), "")
        return AudioPart(data=_b64(spec["data"], f"{at}.input_audio.data"), media_type=media_type)
    if kind == "file":
        spec = item.get("file")
        if not isinstance(spec, Mapping) or not isinstance(spec.get("file_data"), str):
            raise ValidationError(f"{at}.file.file_data: required (a data URL; file ids are not supported)")
        data, media_type = _data_url(spec["file_data"], f"{at}.file.file_data")
        if data is None:
            raise ValidationError(f"{at}.file.file_data: expected a data: URL")
        return DocumentPart(data=data, media_type=media_type or "", filename=spec.get("filename"))
    raise ValidationError(f"{at}.type: unsupported content part type {kind!r}")


def _data_url(url: str, at: str) -> tuple[bytes | None, str | None]:
    """``(bytes, media type)`` of a ``data:`` URL, or ``(None, None)`` for any other URL."""
    if not url.startswith("data:"):
        return None, None
    header, sep, payload = url[5:].partition(",")
    if not sep or not header.endswith(";base64"):
        raise ValidationError(f"{at}: expected a base64 data URL (data:<media type>;base64,...)")
    return _b64(payload, at), header[: -len(";base64")] or None


def _b64(text: str, at: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise ValidationError(f"{at}: not valid base64") from None
