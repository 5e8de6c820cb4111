"""Deterministic embedding vectors: the same text (and size) always gives the same unit vector.

Components come from SHA-256 of the text (counter-mode for long vectors), are normalised to unit length and
then rounded to float32, so that the float form and the base64 form (little-endian float32, what OpenAI's
``encoding_format: "base64"`` returns) decode to exactly the same numbers. Texts differing in anything give
unrelated vectors; nothing here is semantic.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import math
import struct

__all__ = ["DEFAULT_DIMENSIONS", "embedding_base64", "embedding_floats", "vector"]

#: Vector size when the request does not ask for one (``dimensions`` / ``outputDimensionality``).
DEFAULT_DIMENSIONS = 8


@functools.lru_cache(maxsize=4096)
def _packed(text: str, size: int) -> bytes:
    data = text.encode()
    raw = b""
    block = 0
    while len(raw) < size * 2:
        raw += hashlib.sha256(block.to_bytes(4, "big") + data).digest()
        block += 1
    # Two bytes per component, centred on zero; never the all-zero vector (no two-byte value is 32767.5).
    values = [v - 32767.5 for v in struct.unpack(f">{size}H", raw[: size * 2])]
    norm = math.sqrt(sum(v * v for v in values))
    return struct.pack(f"<{size}f", *(v / norm for v in values))


def vector(text: str, size: int | None = None) -> tuple[float, ...]:
    """The embedding of ``text``: ``size`` (default :data:`DEFAULT_DIMENSIONS`) float32-exact components."""
    n = size or DEFAULT_DIMENSIONS
    return struct.unpack(f"<{n}f", _packed(text, n))


def embedding_floats(text: str, size: int | None = None) -> list[float]:
    """The embedding as a JSON list of floats."""
    return list(vector(text, size))


def embedding_base64(text: str, size: int | None = None) -> str:
    """The embedding as base64 of little-endian float32 (OpenAI's ``encoding_format: "base64"``)."""
    return base64.b64encode(_packed(text, size or DEFAULT_DIMENSIONS)).decode()
