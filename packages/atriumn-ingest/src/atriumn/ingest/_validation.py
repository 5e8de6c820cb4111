"""Input validation, before any request: clear ``ValueError`` s naming the field (and the batch index)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from atriumn.core import ValidationError

__all__ = ["check_content_id", "check_metadata", "check_path", "check_text", "check_url"]


def _name(field: str, prefix: str) -> str:
    return f"{prefix}{field}" if prefix else field


def check_text(content: Any, *, field: str = "content", prefix: str = "") -> str:
    """Non-empty text."""
    if not isinstance(content, str):
        raise ValidationError(f"{_name(field, prefix)}: expected text, got {type(content).__name__}")
    if not content.strip():
        raise ValidationError(f"{_name(field, prefix)}: must not be empty")
    return content


def check_url(url: Any, *, field: str = "url", prefix: str = "") -> str:
    """An absolute http(s) URL."""
    if not isinstance(url, str) or not url.strip():
        raise ValidationError(f"{_name(field, prefix)}: must be a non-empty URL")
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValidationError(f"{_name(field, prefix)}: {url!r} is not an http(s) URL")
    return url.strip()


def check_path(path: Any, *, field: str = "path", prefix: str = "") -> str:
    """An existing regular file."""
    try:
        text = os.fspath(path)
    except TypeError:
        raise ValidationError(f"{_name(field, prefix)}: expected a file path, got {type(path).__name__}") from None
    if not os.path.isfile(text):
        raise ValidationError(f"{_name(field, prefix)}: no such file: {text}")
    return str(text)


def check_metadata(metadata: Any, *, field: str = "metadata", prefix: str = "") -> dict[str, str] | None:
    """None, or a mapping of strings to strings."""
    if metadata is None:
        return None
    if not isinstance(metadata, Mapping):
        raise ValidationError(
            f"{_name(field, prefix)}: expected a mapping of str to str, got {type(metadata).__name__}"
        )
    for key, value in metadata.items():
        if not isinstance(key, str) or not isinstance(value, str):
            raise ValidationError(
                f"{_name(field, prefix)}: every key and value must be a string; "
                f"{key!r} -> {value!r} is {type(key).__name__} -> {type(value).__name__}"
            )
    return dict(metadata)


def check_content_id(content_id: Any) -> str:
    """A non-empty content id."""
    if not isinstance(content_id, str) or not content_id.strip():
        raise ValidationError("content_id: must be a non-empty string")
    return content_id
