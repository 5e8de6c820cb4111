"""Client-side argument checks, run before any request; each raises ``ValueError`` naming the argument."""

from __future__ import annotations

import re
from collections.abc import Sequence

from atriumn.core import ValidationError

__all__ = ["email", "optional_text", "scopes", "secret", "text"]

# Deliberately loose (one "@", a dot in the domain, no spaces): the server is the authority on addresses.
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def text(name: str, value: object) -> str:
    """A non-empty, non-blank string."""
    if not isinstance(value, str):
        raise ValidationError(f"{name}: expected a string, got {type(value).__name__}")
    if not value.strip():
        raise ValidationError(f"{name}: must not be empty")
    return value


def optional_text(name: str, value: object) -> str | None:
    """``None`` or a non-empty string."""
    return None if value is None else text(name, value)


def secret(name: str, value: object) -> str:
    """A non-empty string whose value never appears in the message."""
    if not isinstance(value, str):
        raise ValidationError(f"{name}: expected a string, got {type(value).__name__}")
    if not value:
        raise ValidationError(f"{name}: must not be empty")
    return value


def email(name: str, value: object) -> str:
    """A plausibly-formed email address."""
    text(name, value)
    assert isinstance(value, str)
    if not _EMAIL.match(value.strip()):
        raise ValidationError(f"{name}: {value!r} is not an email address")
    return value.strip()


def scopes(name: str, value: object) -> list[str]:
    """A sequence of non-empty scope strings (a lone string is refused: it would be split into letters)."""
    if isinstance(value, str) or not isinstance(value, Sequence):
        raise ValidationError(f"{name}: expected a list of scopes, got {type(value).__name__}")
    return [text(f"{name}[{i}]", s) for i, s in enumerate(value)]
