"""Non-text parts of a request — images, documents, audio — read from each provider's documented forms, the
fixed token count of each, and the report that ``inspect`` models answer.

Every form becomes a provider-neutral :class:`Media`: inline bytes (``base64``, decoded and checked, so a part
that does not decode is refused as the provider refuses it), a URL, an uploaded file's id, or inline text
(Anthropic's plain-text documents). Text is still counted in words; each non-text part counts a fixed number
of prompt tokens (:data:`MEDIA_TOKENS`), whatever its size, on every provider.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import hashlib
import json
from typing import Any

__all__ = [
    "AUDIO_TOKENS",
    "DOCUMENT_TOKENS",
    "IMAGE_TOKENS",
    "MEDIA_TOKENS",
    "Media",
    "PartError",
    "anthropic_media",
    "gemini_media",
    "inspect_report",
    "openai_media",
]

#: Prompt tokens counted for each image part.
IMAGE_TOKENS = 100
#: Prompt tokens counted for each document (PDF, plain-text document, any non-image file) part.
DOCUMENT_TOKENS = 200
#: Prompt tokens counted for each audio part.
AUDIO_TOKENS = 50
#: The fixed token count of a part, by kind (``image``, ``document``, ``audio``).
MEDIA_TOKENS = {"image": IMAGE_TOKENS, "document": DOCUMENT_TOKENS, "audio": AUDIO_TOKENS}

_OPENAI_IMAGE_TYPES = ("image/png", "image/jpeg", "image/gif", "image/webp")
_ANTHROPIC_IMAGE_TYPES = ("image/jpeg", "image/png", "image/gif", "image/webp")
_AUDIO_FORMATS = {"wav": "audio/wav", "mp3": "audio/mpeg"}


class PartError(ValueError):
    """A part the provider refuses (400): ``message`` in the provider's words, ``param`` for OpenAI's shape."""

    def __init__(self, message: str, param: str | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.param = param
        self.code = code


@dataclasses.dataclass(frozen=True)
class Media:
    """One non-text part, provider-neutral.

    Attributes:
        kind: ``image``, ``document`` or ``audio``.
        source: ``base64`` (inline bytes), ``url``, ``file`` (an uploaded file's id) or ``text`` (inline text).
        media_type: the declared MIME type, if any.
        data: the decoded bytes (``base64``, ``text``), else ``None``.
        ref: the URL or file id (``url``, ``file``), else ``None``.
        extra: other fields worth reporting, as received (``detail``, ``filename``, ``format``...).
    """

    kind: str
    source: str
    media_type: str | None = None
    data: bytes | None = None
    ref: str | None = None
    extra: tuple[tuple[str, Any], ...] = ()

    @property
    def tokens(self) -> int:
        """The prompt tokens this part counts (:data:`MEDIA_TOKENS`)."""
        return MEDIA_TOKENS[self.kind]

    def report(self) -> dict[str, Any]:
        """What ``inspect`` reports of the part: its source, type, and size and SHA-256 (or its URL / file id)."""
        doc: dict[str, Any] = {"source": self.source}
        if self.media_type is not None:
            doc["media_type"] = self.media_type
        if self.data is not None:
            doc["bytes"] = len(self.data)
            doc["sha256"] = hashlib.sha256(self.data).hexdigest()
        if self.ref is not None:
            doc["file_id" if self.source == "file" else "url"] = self.ref
        doc.update(self.extra)
        return doc


def _b64(text: Any, *, urlsafe: bool = False) -> bytes | None:
    """``text`` decoded as strict base64 (padding required), or ``None`` if it is not base64."""
    if not isinstance(text, str):
        return None
    if urlsafe:
        text = text.replace("-", "+").replace("_", "/")
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return None


def _data_url(url: str) -> tuple[str, bytes | None] | None:
    """``(media type, bytes or None if the payload is not base64)`` of a ``data:<type>;base64,`` URL, else None."""
    if not url.startswith("data:"):
        return None
    head, sep, payload = url[5:].partition(",")
    if not sep or not head.endswith(";base64"):
        return head.split(";")[0], None
    return head.removesuffix(";base64").split(";")[0], _b64(payload)


# --- OpenAI (and Groq) -----------------------------------------------------------------------------------


def openai_media(part: dict[str, Any], path: str) -> Media | None:
    """The :class:`Media` of a Chat Completions content part (``None`` for text and unknown parts).

    ``path`` names the part in errors (``messages[0].content[1]``). Raises :class:`PartError` as OpenAI does.
    """
    kind = part.get("type")
    if kind == "image_url":
        image = part.get("image_url")
        url = image.get("url") if isinstance(image, dict) else image
        if not isinstance(url, str) or not url:
            raise PartError(f"Missing required parameter: '{path}.image_url.url'.", f"{path}.image_url.url")
        extra = (("detail", image["detail"]),) if isinstance(image, dict) and "detail" in image else ()
        inline = _data_url(url)
        if inline is None:
            return Media("image", "url", ref=url, extra=extra)
        media_type, data = inline
        if media_type not in _OPENAI_IMAGE_TYPES:
            raise PartError("Invalid MIME type. Only image types are supported.", code="invalid_image_format")
        if data is None:
            raise PartError("Invalid base64 image_url.", f"{path}.image_url.url", "invalid_image_url")
        return Media("image", "base64", media_type, data, extra=extra)
    if kind == "file":
        file = part.get("file")
        file = file if isinstance(file, dict) else {}
        extra = (("filename", file["filename"]),) if "filename" in file else ()
        if isinstance(file.get("file_id"), str):
            return Media("document", "file", ref=file["file_id"], extra=extra)
        file_data = file.get("file_data")
        if not isinstance(file_data, str):
            message = f"Missing required parameter: one of '{path}.file.file_data' or '{path}.file.file_id'."
            raise PartError(message, f"{path}.file", "missing_required_parameter")
        inline = _data_url(file_data)
        if inline is None or inline[1] is None:
            message = (
                f"Invalid file data: '{path}.file.file_data'. Expected a base64-encoded data URL with an "
                "application/pdf MIME type (e.g. 'data:application/pdf;base64,SGVsbG8sIFdvcmxkIQ=='), but got "
                f"unsupported MIME type '{inline[0] if inline else None}'."
            )
            raise PartError(message, f"{path}.file.file_data", "invalid_value")
        return Media("document", "base64", inline[0], inline[1], extra=extra)
    if kind == "input_audio":
        audio = part.get("input_audio")
        audio = audio if isinstance(audio, dict) else {}
        fmt = audio.get("format")
        if fmt not in _AUDIO_FORMATS:
            message = f"Invalid value: {fmt!r}. Supported values are: 'wav' and 'mp3'."
            raise PartError(message, f"{path}.input_audio.format", "invalid_value")
        data = _b64(audio.get("data"))
        if data is None:
            message = f"Invalid '{path}.input_audio.data': expected base64-encoded audio."
            raise PartError(message, f"{path}.input_audio.data", "invalid_value")
        return Media("audio", "base64", _AUDIO_FORMATS[fmt], data, extra=(("format", fmt),))
    return None


# --- Anthropic -------------------------------------------------------------------------------------------


def anthropic_media(block: dict[str, Any], path: str) -> Media | None:
    """The :class:`Media` of a Messages content block (``image`` or ``document``; else ``None``).

    ``path`` names the block in errors (``messages.0.content.1``). Raises :class:`PartError` as Anthropic does.
    """
    kind = block.get("type")
    if kind not in ("image", "document"):
        return None
    source = block.get("source")
    if not isinstance(source, dict):
        raise PartError(f"{path}.{kind}.source: Field required")
    stype = source.get("type")
    extra = tuple((k, block[k]) for k in ("title", "context") if k in block)
    where = f"{path}.{kind}.source.{stype}"
    if stype == "url":
        if not isinstance(source.get("url"), str):
            raise PartError(f"{where}.url: Field required")
        return Media("image" if kind == "image" else "document", "url", ref=source["url"], extra=extra)
    if stype == "file":
        if not isinstance(source.get("file_id"), str):
            raise PartError(f"{where}.file_id: Field required")
        return Media("image" if kind == "image" else "document", "file", ref=source["file_id"], extra=extra)
    if kind == "document" and stype == "text":
        text = source.get("data")
        if not isinstance(text, str):
            raise PartError(f"{where}.data: Field required")
        return Media("document", "text", str(source.get("media_type", "text/plain")), text.encode(), extra=extra)
    if kind == "document" and stype == "content":
        return Media("document", "content", extra=(*extra, ("blocks", len(source.get("content") or ()))))
    if stype != "base64":
        allowed = "'base64', 'url' or 'file'" if kind == "image" else "'base64', 'text', 'content', 'url' or 'file'"
        raise PartError(f"{path}.{kind}.source.type: Input should be {allowed}")
    media_type = source.get("media_type")
    if kind == "image" and media_type not in _ANTHROPIC_IMAGE_TYPES:
        raise PartError(f"{where}.media_type: Input should be 'image/jpeg', 'image/png', 'image/gif' or 'image/webp'")
    if kind == "document" and media_type != "application/pdf":
        raise PartError(f"{where}.media_type: Input should be 'application/pdf'")
    data = _b64(source.get("data"))
    if data is None:
        raise PartError(f"{where}.data: Invalid base64 data")
    return Media(kind, "base64", media_type, data, extra=extra)


# --- Gemini ----------------------------------------------------------------------------------------------


def _kind_of(mime: str) -> str:
    if mime.startswith("image/"):
        return "image"
    return "audio" if mime.startswith("audio/") else "document"


def _pick(doc: Any, camel: str, snake: str) -> Any:
    if not isinstance(doc, dict):
        return None
    value = doc.get(camel)
    return doc.get(snake) if value is None else value


def gemini_media(part: dict[str, Any], path: str) -> Media | None:
    """The :class:`Media` of a Gemini part (``inlineData`` / ``fileData``, camelCase or snake_case; else
    ``None``). The kind follows the MIME type (``image/*``, ``audio/*``, anything else a document).

    ``path`` names the part in errors (``contents[0].parts[1]``). Raises :class:`PartError` as Gemini does.
    """
    inline = _pick(part, "inlineData", "inline_data")
    if isinstance(inline, dict):
        mime = _pick(inline, "mimeType", "mime_type")
        if not isinstance(mime, str) or not mime:
            raise PartError(f"* GenerateContentRequest.{path}.inline_data.mime_type: mime_type is not specified")
        raw = inline.get("data")
        data = _b64(raw, urlsafe=True)
        if data is None:
            shown = str(raw)[:40]
            message = f"Invalid value at '{path}.inline_data.data' (TYPE_BYTES), Base64 decoding failed for \"{shown}\""
            raise PartError(message)
        return Media(_kind_of(mime), "base64", mime, data)
    file = _pick(part, "fileData", "file_data")
    if isinstance(file, dict):
        uri = _pick(file, "fileUri", "file_uri")
        if not isinstance(uri, str) or not uri:
            raise PartError(f"* GenerateContentRequest.{path}.file_data.file_uri: file_uri is not specified")
        mime = _pick(file, "mimeType", "mime_type")
        return Media(_kind_of(mime if isinstance(mime, str) else ""), "url", mime, ref=uri)
    return None


# --- inspect ---------------------------------------------------------------------------------------------


def inspect_report(
    media: list[Media],
    cache_ttls: list[str | None],
    reasoning: dict[str, Any] | None,
    cached_content: str | None,
) -> str:
    """The answer of an ``inspect`` model: compact JSON describing what arrived, the same shape everywhere.

    ``{"images": [...], "documents": [...], "audio": [...], "cache_points": N, "cache_ttls": [...],
    "reasoning": {...} | null, "cached_content": "cachedContents/..." | null}`` — each part as
    :meth:`Media.report` describes it, in request order; ``cache_ttls`` the TTL of each cache breakpoint
    (``null`` where none was given); ``reasoning`` the request's reasoning controls as received.
    """
    doc = {
        "images": [m.report() for m in media if m.kind == "image"],
        "documents": [m.report() for m in media if m.kind == "document"],
        "audio": [m.report() for m in media if m.kind == "audio"],
        "cache_points": len(cache_ttls),
        "cache_ttls": cache_ttls,
        "reasoning": reasoning,
        "cached_content": cached_content,
    }
    return json.dumps(doc, separators=(",", ":"), sort_keys=False)
