"""Content beyond text, provider-neutral: images, documents, audio, reasoning, prompt-cache markers, and the
reasoning controls of a call. Each provider adapter translates them to its own wire form.

Media parts hold their bytes inline (sent base64-encoded) or a URL (the provider fetches it). The media type
is detected from the bytes' signature when not given (PNG, JPEG, GIF, WebP, PDF, WAV, MP3, FLAC, OGG), else
from the file name.
"""

from __future__ import annotations

import base64
import mimetypes
import os
from pathlib import Path
from typing import Any

import attrs

from atriumn.core import ValidationError

__all__ = [
    "AudioPart",
    "CachePoint",
    "DocumentPart",
    "ImagePart",
    "Reasoning",
    "ReasoningPart",
    "detect_media_type",
]

_SIGNATURES: tuple[tuple[bytes, int, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", 0, "image/png"),
    (b"\xff\xd8\xff", 0, "image/jpeg"),
    (b"GIF87a", 0, "image/gif"),
    (b"GIF89a", 0, "image/gif"),
    (b"WEBP", 8, "image/webp"),
    (b"%PDF-", 0, "application/pdf"),
    (b"WAVE", 8, "audio/wav"),
    (b"ID3", 0, "audio/mpeg"),
    (b"\xff\xfb", 0, "audio/mpeg"),
    (b"\xff\xf3", 0, "audio/mpeg"),
    (b"fLaC", 0, "audio/flac"),
    (b"OggS", 0, "audio/ogg"),
)


def detect_media_type(data: bytes | None = None, name: str | None = None) -> str | None:
    """The media type of ``data`` from its leading bytes, else of ``name`` from its extension, else None."""
    if data:
        for signature, offset, media_type in _SIGNATURES:
            if data[offset : offset + len(signature)] == signature:
                return media_type
    if name:
        guessed = mimetypes.guess_type(name)[0]
        if guessed:
            return guessed
    return None


def _check_source(kind: str, data: bytes | None, url: str | None) -> None:
    if (data is None) == (url is None):
        raise ValidationError(f"{kind}: give either data (bytes) or url, not both and not neither")
    if data is not None and not isinstance(data, bytes | bytearray | memoryview):
        raise ValidationError(f"{kind}.data: expected bytes, got {type(data).__name__}")
    if url is not None and (not isinstance(url, str) or not url.startswith(("http://", "https://", "gs://"))):
        raise ValidationError(f"{kind}.url: expected an http(s) or gs:// URL, got {url!r}")


def _read(path: str | os.PathLike[str], kind: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except FileNotFoundError:
        raise ValidationError(f"{kind}: no such file: {os.fspath(path)}") from None
    except IsADirectoryError:
        raise ValidationError(f"{kind}: {os.fspath(path)} is a directory, not a file") from None
    except OSError as exc:
        raise ValidationError(f"{kind}: cannot read {os.fspath(path)}: {exc.strerror}") from None


class _Media:
    """What media parts share: the source, its base64 form and data URL."""

    data: bytes | None
    url: str | None
    media_type: str

    @property
    def base64(self) -> str:
        """The bytes, base64-encoded (standard alphabet, padded)."""
        assert self.data is not None
        return base64.b64encode(self.data).decode("ascii")

    @property
    def data_url(self) -> str:
        """``data:<media type>;base64,...`` (inline) or the URL."""
        if self.url is not None:
            return self.url
        return f"data:{self.media_type};base64,{self.base64}"

    @property
    def size(self) -> int:
        """The bytes' length (0 for a URL)."""
        return len(self.data) if self.data is not None else 0


def _media_type(kind: str, data: bytes | None, url: str | None, given: str | None, prefix: tuple[str, ...]) -> str:
    media_type = given or detect_media_type(data, url)
    if not media_type:
        raise ValidationError(f"{kind}.media_type: cannot tell the media type of this {kind}; give media_type=")
    if not media_type.startswith(prefix):
        raise ValidationError(f"{kind}.media_type: {media_type!r} is not a {kind} type ({' or '.join(prefix)}*)")
    return media_type


@attrs.frozen(kw_only=True)
class ImagePart(_Media):
    """An image in a message: bytes (sent inline) or a URL.

    Build it with :meth:`from_file`, :meth:`from_bytes` or :meth:`from_url`; the media type is detected when
    not given.

    Attributes:
        data: the image's bytes, or None for a URL.
        url: an http(s) URL (or a Gemini ``gs://`` / Files API URI), or None for bytes.
        media_type: ``image/png``, ``image/jpeg``, ``image/gif``, ``image/webp``...
        detail: OpenAI's ``detail`` (``auto``, ``low``, ``high``, ``original``); other providers ignore it.
    """

    data: bytes | None = attrs.field(default=None, repr=False)
    url: str | None = None
    media_type: str = ""
    detail: str | None = None
    type: str = "image"

    def __attrs_post_init__(self) -> None:
        _check_source("image", self.data, self.url)
        object.__setattr__(self, "media_type", _media_type("image", self.data, self.url, self.media_type, ("image/",)))
        if self.detail is not None and self.detail not in ("auto", "low", "high", "original"):
            raise ValidationError(f"image.detail: expected 'auto', 'low', 'high' or 'original', got {self.detail!r}")

    @classmethod
    def from_file(
        cls, path: str | os.PathLike[str], *, media_type: str | None = None, detail: str | None = None
    ) -> ImagePart:
        """An image read from a file (the media type from its bytes, else its name)."""
        data = _read(path, "image")
        return cls(data=data, media_type=media_type or detect_media_type(data, os.fspath(path)) or "", detail=detail)

    @classmethod
    def from_bytes(cls, data: bytes, *, media_type: str | None = None, detail: str | None = None) -> ImagePart:
        """An image from bytes."""
        return cls(data=bytes(data), media_type=media_type or "", detail=detail)

    @classmethod
    def from_url(cls, url: str, *, media_type: str | None = None, detail: str | None = None) -> ImagePart:
        """An image the provider fetches from ``url``."""
        return cls(url=url, media_type=media_type or "", detail=detail)


@attrs.frozen(kw_only=True)
class DocumentPart(_Media):
    """A document (PDF) in a message: bytes (sent inline) or a URL.

    Attributes:
        data, url: the source (one of them).
        media_type: ``application/pdf`` (detected when not given).
        filename: the name shown to the model (OpenAI's ``file.filename``; default ``document.pdf``).
    """

    data: bytes | None = attrs.field(default=None, repr=False)
    url: str | None = None
    media_type: str = ""
    filename: str | None = None
    type: str = "document"

    def __attrs_post_init__(self) -> None:
        _check_source("document", self.data, self.url)
        media_type = _media_type("document", self.data, self.url, self.media_type, ("application/", "text/"))
        object.__setattr__(self, "media_type", media_type)

    @classmethod
    def from_file(cls, path: str | os.PathLike[str], *, media_type: str | None = None) -> DocumentPart:
        """A document read from a file (its name becomes ``filename``)."""
        data = _read(path, "document")
        name = os.path.basename(os.fspath(path))
        return cls(data=data, media_type=media_type or detect_media_type(data, name) or "", filename=name)

    @classmethod
    def from_bytes(cls, data: bytes, *, media_type: str | None = None, filename: str | None = None) -> DocumentPart:
        """A document from bytes."""
        return cls(data=bytes(data), media_type=media_type or "", filename=filename)

    @classmethod
    def from_url(cls, url: str, *, media_type: str | None = None) -> DocumentPart:
        """A document the provider fetches from ``url``."""
        return cls(url=url, media_type=media_type or "")


_AUDIO_FORMATS = {
    "audio/wav": "wav",
    "audio/x-wav": "wav",
    "audio/wave": "wav",
    "audio/mpeg": "mp3",
    "audio/mp3": "mp3",
}


@attrs.frozen(kw_only=True)
class AudioPart(_Media):
    """Audio in a message, for the providers that take audio input in chat (OpenAI's audio models, Gemini).

    Attributes:
        data: the audio's bytes (inline only: OpenAI takes no audio URLs); url: a Gemini file URI.
        media_type: ``audio/wav``, ``audio/mpeg`` (mp3), ``audio/flac``, ``audio/ogg``...
    """

    data: bytes | None = attrs.field(default=None, repr=False)
    url: str | None = None
    media_type: str = ""
    type: str = "audio"

    def __attrs_post_init__(self) -> None:
        _check_source("audio", self.data, self.url)
        object.__setattr__(self, "media_type", _media_type("audio", self.data, self.url, self.media_type, ("audio/",)))

    @property
    def format(self) -> str | None:
        """OpenAI's ``input_audio.format`` (``wav`` or ``mp3``), or None for other encodings."""
        return _AUDIO_FORMATS.get(self.media_type)

    @classmethod
    def from_file(cls, path: str | os.PathLike[str], *, media_type: str | None = None) -> AudioPart:
        """Audio read from a file."""
        data = _read(path, "audio")
        return cls(data=data, media_type=media_type or detect_media_type(data, os.fspath(path)) or "")

    @classmethod
    def from_bytes(cls, data: bytes, *, media_type: str | None = None) -> AudioPart:
        """Audio from bytes."""
        return cls(data=bytes(data), media_type=media_type or "")


@attrs.frozen(kw_only=True)
class ReasoningPart:
    """A model's reasoning, as the provider returned it, kept so it can go back into the conversation unchanged.

    Attributes:
        text: the reasoning (or its summary); empty when the provider returns only a signature.
        signature: the provider's opaque signature over it (Anthropic ``thinking.signature``, Gemini
            ``thoughtSignature``), sent back exactly as received. Not part of equality.
        redacted: an Anthropic ``redacted_thinking`` block: ``data`` holds its encrypted content.
        data: the encrypted content of redacted reasoning. Not part of equality.
        provider: who produced it (a signature is only valid with that provider).
    """

    text: str = ""
    signature: str | None = attrs.field(default=None, eq=False, repr=False)
    redacted: bool = False
    data: str | None = attrs.field(default=None, eq=False, repr=False)
    provider: str = ""
    type: str = "reasoning"


@attrs.frozen(kw_only=True)
class CachePoint:
    """A prompt-cache breakpoint: everything before it is a reusable prefix.

    Place it after the system prompt (``system=["...", CachePoint()]``), after the tools
    (``tools=[..., CachePoint()]``) or after any part of a message. Anthropic gets ``cache_control`` on the
    preceding block (or the request's top-level ``cache_control`` when the marker closes the whole prompt),
    OpenAI ``prompt_cache_breakpoint`` on the preceding part; providers that cache only implicitly (Gemini,
    Groq) ignore it, with a debug log.

    Attributes:
        ttl: how long the prefix should live: Anthropic ``5m`` or ``1h``; OpenAI ``30m`` or ``12h``. None:
            the provider's default. A TTL the provider does not take is refused before sending.
    """

    ttl: str | None = None
    type: str = "cache_point"


_EFFORTS = ("none", "minimal", "low", "medium", "high", "xhigh", "max")


@attrs.frozen(kw_only=True)
class Reasoning:
    """How much a reasoning model should think, mapped to each provider's controls.

    - OpenAI and Groq: ``reasoning_effort`` (OpenAI takes ``none`` … ``max``; Groq's models fewer).
    - Anthropic: ``budget_tokens`` → ``thinking: {"type": "enabled", "budget_tokens": N}`` (at least 1024 and
      below ``max_tokens``); ``effort`` alone → adaptive thinking with ``output_config.effort``;
      ``effort="none"`` → thinking disabled.
    - Gemini: ``thinkingConfig`` with ``thinkingBudget`` (``budget_tokens``) and/or ``thinkingLevel``
      (``effort``), and ``includeThoughts`` so the reasoning's summary comes back.

    A value a provider or model does not take is refused before sending, naming it.

    Attributes:
        effort: ``none``, ``minimal``, ``low``, ``medium``, ``high``, ``xhigh`` or ``max``.
        budget_tokens: a token budget for thinking.
    """

    effort: str | None = None
    budget_tokens: int | None = None

    def __attrs_post_init__(self) -> None:
        if self.effort is None and self.budget_tokens is None:
            raise ValidationError("reasoning: give effort=, budget_tokens=, or both")
        if self.effort is not None and self.effort not in _EFFORTS:
            raise ValidationError(f"reasoning.effort: expected one of {', '.join(_EFFORTS)}, got {self.effort!r}")
        budget = self.budget_tokens
        if budget is not None and (isinstance(budget, bool) or not isinstance(budget, int) or budget < 0):
            raise ValidationError(f"reasoning.budget_tokens: expected a whole number >= 0, got {budget!r}")
        if self.effort == "none" and budget:
            raise ValidationError(f"reasoning: effort 'none' turns reasoning off; a budget ({budget}) contradicts it")


MediaPart = ImagePart | DocumentPart | AudioPart


def media_kind(part: Any) -> str:
    """``image``, ``document`` or ``audio`` (for error messages)."""
    return str(getattr(part, "type", type(part).__name__))
