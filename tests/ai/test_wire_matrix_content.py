"""Wire-format matrix, part two: content beyond text and the new options (issue #16).

For every new part and option, on every provider that takes it, the JSON body our client sends equals the body
the official SDK sends for the same logical call, modulo the allow-list of :mod:`test_wire_matrix` (one list,
applied in one place: its :func:`normalize`; Gemini bodies are compared by meaning there, bytes included):

- media parts: images (bytes and URL, OpenAI ``detail``), documents (PDF inline; Anthropic and Gemini by URL),
  audio (OpenAI ``input_audio`` wav/mp3, Gemini inline or by URI), each as our part objects and as OpenAI-style
  content dicts; providers that cannot take a part refuse it before sending;
- reasoning controls (``reasoning_effort``, Groq's ``reasoning_format``, Anthropic ``thinking`` and
  ``output_config.effort``, Gemini ``thinkingConfig``) and their refusals;
- prompt caching (Anthropic ``cache_control`` everywhere it goes, OpenAI ``prompt_cache_breakpoint``,
  ``prompt_cache_key``, ``prompt_cache_options``; Gemini and Groq leave the markers out), Gemini ``cachedContent``
  and the body of ``caches.create``;
- round trips: the second request of a tool loop carries the first response's reasoning (Anthropic ``thinking``
  and ``redacted_thinking`` blocks, Gemini thoughts and ``thoughtSignature`` s, Groq ``reasoning``) unchanged, as
  the SDK does when the previous response's content goes back.

Each case runs non-streamed, streamed (one form per SDK: the matrix covers every form) and async, through the
matrix's helpers and fixtures. The only allowance these bodies need is ``genai-base64`` (google-genai re-encodes
inline data and thought signatures as URL-safe base64), applied to every Gemini body with the other ``genai-*``
ones. Cases marked ``xfail(strict=True)`` are differences that look like bugs in our client (see their reasons),
as are the refusals marked so (requests the provider answers with a 400, sent all the same).
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import re
from typing import Any

import pytest

from atriumn.ai import AsyncChatClient, ChatClient
from atriumn.ai._errors import UnsupportedParameterError
from atriumn.ai._parts import AudioPart, CachePoint, DocumentPart, ImagePart, Reasoning
from atriumn.ai._request import ChatRequest, normalize_messages
from atriumn.ai._sse import ServerSentEvent
from atriumn.ai._types import ChatResponse, Message
from atriumn.ai.providers._base import Adapter, ProviderConfig
from atriumn.ai.providers.anthropic import AnthropicAdapter
from atriumn.ai.providers.gemini import GeminiAdapter
from atriumn.ai.providers.openai import OpenAIAdapter
from atriumn.core import ValidationError

from . import test_wire_matrix as matrix
from ._fake import FakeServer
from .test_wire_matrix import (
    ANTHROPIC_TOOLS,
    OPENAI_RESPONSE_FORMAT,
    OPENAI_TOOLS,
    RESPONSE_SCHEMA,
    SCHEMA,
    WEATHER,
    Case,
    SDKs,
    _canon,
    _forms,
    _official,
    _ours,
    _ours_async,
    _sent,
    assert_same_wire,
    normalize,
)

# The matrix module's fixtures, shared (pytest finds a fixture by the name it is bound to in the module).
fake_session = matrix.fake_session
sdks = matrix.sdks
client = matrix.client
aclient = matrix.aclient

# --- media ------------------------------------------------------------------------------------------------

# Small, but with the bytes whose base64 has `+` and `/` (so URL-safe re-encoding shows): range(256) has them.
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256))
PDF = b"%PDF-1.7\n" + bytes(range(256)) + b"\n%%EOF\n"
WAV = b"RIFF" + (4 + 256).to_bytes(4, "little") + b"WAVE" + bytes(range(256))
MP3 = b"ID3\x04\x00\x00" + bytes(range(256))
FLAC = b"fLaC" + bytes(range(64))


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


PNG_URL = f"data:image/png;base64,{b64(PNG)}"
PDF_URL = f"data:application/pdf;base64,{b64(PDF)}"
CAT = "https://example.com/cat.png"
REPORT = "https://example.com/report.pdf"
FILE_PDF = "https://generativelanguage.googleapis.com/v1beta/files/report-123"  # a Gemini Files API URI
FILE_MP3 = "https://generativelanguage.googleapis.com/v1beta/files/voice-456"
Q = "What is in this file?"


def _image(url: str, detail: str | None = None) -> dict[str, Any]:
    spec = {"url": url} if detail is None else {"url": url, "detail": detail}
    return {"type": "image_url", "image_url": spec}


#: shape -> (our part object, the same part as an OpenAI-style dict or None when it has no dict form)
MEDIA: dict[str, tuple[Any, dict[str, Any] | None]] = {
    "image-bytes": (ImagePart.from_bytes(PNG), _image(PNG_URL)),
    "image-url": (ImagePart.from_url(CAT), _image(CAT)),
    "image-detail-low": (ImagePart.from_bytes(PNG, detail="low"), _image(PNG_URL, "low")),
    "image-url-detail-high": (ImagePart.from_url(CAT, detail="high"), _image(CAT, "high")),
    "document-bytes": (
        DocumentPart.from_bytes(PDF, filename="report.pdf"),
        {"type": "file", "file": {"file_data": PDF_URL, "filename": "report.pdf"}},
    ),
    "document-url": (DocumentPart.from_url(REPORT), None),
    "document-file-uri": (DocumentPart.from_url(FILE_PDF, media_type="application/pdf"), None),
    "audio-wav": (
        AudioPart.from_bytes(WAV),
        {"type": "input_audio", "input_audio": {"data": b64(WAV), "format": "wav"}},
    ),
    "audio-mp3": (
        AudioPart.from_bytes(MP3),
        {"type": "input_audio", "input_audio": {"data": b64(MP3), "format": "mp3"}},
    ),
    "audio-flac": (AudioPart.from_bytes(FLAC), None),  # OpenAI's input_audio takes wav and mp3 only
    "audio-file-uri": (AudioPart(url=FILE_MP3, media_type="audio/mpeg"), None),
}

#: what each provider takes (the rest is refused before sending, see REFUSED)
IMAGES = ("image-bytes", "image-url", "image-detail-low", "image-url-detail-high")
TAKES = {
    "openai": (*IMAGES, "document-bytes", "audio-wav", "audio-mp3"),
    "groq": IMAGES,
    "anthropic": (*IMAGES, "document-bytes", "document-url", "document-file-uri"),  # a URL is a URL
    "gemini": tuple(MEDIA),
}


def _openai_wire(shape: str) -> dict[str, Any]:
    """The SDK's content part (the documented dict forms: image_url, file, input_audio)."""
    wire = MEDIA[shape][1]
    assert wire is not None
    return wire


def _anthropic_wire(shape: str) -> dict[str, Any]:
    kind = "document" if shape.startswith("document") else "image"
    if shape in ("image-bytes", "image-detail-low"):  # `detail` is OpenAI's: left out
        source: dict[str, Any] = {"type": "base64", "media_type": "image/png", "data": b64(PNG)}
    elif shape == "document-bytes":
        source = {"type": "base64", "media_type": "application/pdf", "data": b64(PDF)}
    else:
        url = {"document-url": REPORT, "document-file-uri": FILE_PDF}.get(shape, CAT)
        source = {"type": "url", "url": url}
    return {"type": kind, "source": source}


def _gemini_wire(shape: str) -> Any:
    """google-genai's ``Part.from_bytes`` / ``Part.from_uri``."""
    from google.genai import types

    inline = {
        "image-bytes": (PNG, "image/png"),
        "image-detail-low": (PNG, "image/png"),
        "document-bytes": (PDF, "application/pdf"),
        "audio-wav": (WAV, "audio/wav"),
        "audio-mp3": (MP3, "audio/mpeg"),
        "audio-flac": (FLAC, "audio/flac"),
    }
    uri = {
        "image-url": (CAT, "image/png"),
        "image-url-detail-high": (CAT, "image/png"),
        "document-url": (REPORT, "application/pdf"),
        "document-file-uri": (FILE_PDF, "application/pdf"),
        "audio-file-uri": (FILE_MP3, "audio/mpeg"),
    }
    if shape in inline:
        data, mime = inline[shape]
        return types.Part.from_bytes(data=data, mime_type=mime)
    file_uri, mime = uri[shape]
    return types.Part.from_uri(file_uri=file_uri, mime_type=mime)


def _user(provider: str, *wire: Any, text: str = Q) -> Any:
    """The SDK's one user message: the parts, then the text."""
    if provider == "gemini":
        from google.genai import types

        return [types.Content(role="user", parts=[*wire, types.Part(text=text)])]
    return [{"role": "user", "content": [*wire, {"type": "text", "text": text}]}]


def _sdk_kwargs(provider: str, messages: Any, **kw: Any) -> dict[str, Any]:
    """The SDK's arguments: ``messages`` (Gemini: ``contents`` and ``config``; Anthropic: ``max_tokens`` too)."""
    if provider == "gemini":
        from google.genai import types

        return {"contents": messages, "config": types.GenerateContentConfig(**kw) if kw else None}
    if provider == "anthropic":
        return {"max_tokens": 4096, "messages": messages, **kw}
    return {"messages": messages, **kw}


def _wire(provider: str, shape: str) -> Any:
    if provider in ("openai", "groq"):
        return _openai_wire(shape)
    if provider == "anthropic":
        return _anthropic_wire(shape)
    return _gemini_wire(shape)


def _media_cases() -> list[Case]:
    cases = []
    for provider, shapes in TAKES.items():
        for shape in shapes:
            part, as_dict = MEDIA[shape]
            sdk = _sdk_kwargs(provider, _user(provider, _wire(provider, shape)))
            cases.append(Case(provider, f"{shape}-part", "echo", [Message.user(part, Q)], {}, sdk))
            if as_dict is not None:
                messages = [{"role": "user", "content": [as_dict, {"type": "text", "text": Q}]}]
                cases.append(Case(provider, f"{shape}-dict", "echo", messages, {}, sdk))
    # several parts in one message, and a document without a file name (OpenAI's `file` needs one: ours is
    # `document.pdf`, what a caller of the SDK has to write)
    mixed = {
        "openai": ("image-bytes", "audio-wav", "document-bytes"),
        "groq": ("image-bytes", "image-url"),
        "anthropic": ("image-bytes", "document-bytes", "document-url"),
        "gemini": ("image-bytes", "document-file-uri", "audio-mp3"),
    }
    for provider, shapes in mixed.items():
        parts = [MEDIA[s][0] for s in shapes]
        sdk = _sdk_kwargs(provider, _user(provider, *(_wire(provider, s) for s in shapes)))
        cases.append(Case(provider, "media-mixed", "echo", [Message.user(*parts, Q)], {}, sdk))
    unnamed = {"type": "file", "file": {"file_data": PDF_URL, "filename": "document.pdf"}}
    cases.append(
        Case(
            "openai",
            "document-unnamed",
            "echo",
            [Message.user(DocumentPart.from_bytes(PDF), Q)],
            {},
            _sdk_kwargs("openai", _user("openai", unnamed)),
        )
    )
    # Found by this matrix and fixed: `detail: original`, plain-text documents.
    cases.append(
        Case(
            "openai",
            "image-detail-original-dict",
            "echo",
            [{"role": "user", "content": [_image(PNG_URL, "original"), {"type": "text", "text": Q}]}],
            {},
            _sdk_kwargs("openai", _user("openai", _image(PNG_URL, "original"))),
        )
    )
    notes = b"Meeting notes: ship on Friday."
    cases.append(
        Case(
            "anthropic",
            "document-plain-text",
            "echo",
            [Message.user(DocumentPart.from_bytes(notes, media_type="text/plain"), Q)],
            {},
            _sdk_kwargs(
                "anthropic",
                _user(
                    "anthropic",
                    {
                        "type": "document",
                        "source": {"type": "text", "media_type": "text/plain", "data": notes.decode()},
                    },
                ),
            ),
        )
    )
    return cases


# --- reasoning ----------------------------------------------------------------------------------------------

USER = [{"role": "user", "content": "weather in Paris?"}]


def _reasoning_cases() -> list[Case]:
    from google.genai import types

    cases: list[Case] = []
    for effort, given in (
        ("high", "high"),  # an effort name
        ("minimal", Reasoning(effort="minimal")),
        ("none", Reasoning(effort="none")),
        ("xhigh", Reasoning(effort="xhigh")),
        ("max", Reasoning(effort="max")),
    ):
        sdk = _sdk_kwargs("openai", USER, reasoning_effort=effort)
        cases.append(Case("openai", f"reasoning-{effort}", "echo", USER, {"reasoning": given}, sdk))
    for effort in ("none", "low", "medium", "high"):
        # what a groq SDK caller passes to get the reasoning back in message.reasoning
        sdk = _sdk_kwargs("groq", USER, reasoning_effort=effort, reasoning_format="parsed")
        cases.append(Case("groq", f"reasoning-{effort}", "echo", USER, {"reasoning": Reasoning(effort=effort)}, sdk))

    def anthropic(shape: str, given: Any, model: str = "echo", **kw: Any) -> Case:
        return Case("anthropic", shape, model, USER, {"reasoning": given}, _sdk_kwargs("anthropic", USER, **kw))

    cases += [
        anthropic(
            "thinking-budget", Reasoning(budget_tokens=2048), thinking={"type": "enabled", "budget_tokens": 2048}
        ),
        anthropic(
            "thinking-budget-effort",
            Reasoning(budget_tokens=1024, effort="high"),
            thinking={"type": "enabled", "budget_tokens": 1024},
            output_config={"effort": "high"},
        ),
        anthropic("thinking-adaptive", "medium", thinking={"type": "adaptive"}, output_config={"effort": "medium"}),
        anthropic(
            "thinking-adaptive-max",
            Reasoning(effort="max"),
            thinking={"type": "adaptive"},
            output_config={"effort": "max"},
        ),
        anthropic("thinking-disabled", Reasoning(effort="none"), thinking={"type": "disabled"}),
        Case(
            "anthropic",
            "thinking-effort-and-schema",
            "json",
            USER,
            {"reasoning": "low", "response_format": OPENAI_RESPONSE_FORMAT},
            _sdk_kwargs(
                "anthropic",
                USER,
                thinking={"type": "adaptive"},
                output_config={"effort": "low", "format": {"type": "json_schema", "schema": RESPONSE_SCHEMA}},
            ),
        ),
        Case(
            "anthropic",
            "thinking-budget-max-tokens",
            "echo",
            USER,
            {"reasoning": Reasoning(budget_tokens=8000), "max_tokens": 16000},
            {
                **_sdk_kwargs("anthropic", USER, thinking={"type": "enabled", "budget_tokens": 8000}),
                "max_tokens": 16000,
            },
        ),
    ]

    def gemini(shape: str, given: Any, **thinking: Any) -> Case:
        sdk = _sdk_kwargs("gemini", "weather in Paris?", thinking_config=types.ThinkingConfig(**thinking))
        return Case("gemini", shape, "echo", "weather in Paris?", {"reasoning": given}, sdk)

    cases += [
        gemini("thinking-budget", Reasoning(budget_tokens=1024), include_thoughts=True, thinking_budget=1024),
        gemini("thinking-off", "none", thinking_budget=0),
    ]
    for effort in ("minimal", "low", "medium", "high", "xhigh"):
        cases.append(gemini(f"thinking-level-{effort}", effort, include_thoughts=True, thinking_level=effort.upper()))
    return cases


# --- prompt caching -----------------------------------------------------------------------------------------

DOC = "<a long document worth caching>"
ASK = "summarise it"


def _control(ttl: str | None = None) -> dict[str, Any]:
    return {"type": "ephemeral"} if ttl is None else {"type": "ephemeral", "ttl": ttl}


def _breakpoint(ttl: str | None = None) -> dict[str, Any]:
    return {"mode": "explicit"} if ttl is None else {"mode": "explicit", "ttl": ttl}


def _text(text: str, **extra: Any) -> dict[str, Any]:
    return {"type": "text", "text": text, **extra}


def _cache_cases() -> list[Case]:
    from google.genai import types

    cases: list[Case] = []

    # Anthropic: cache_control on the block (or tool) a CachePoint follows; the request's own cache_control when
    # the point closes the whole prompt.
    def anthropic(shape: str, messages: Any, ours: dict[str, Any], sdk_messages: Any, **kw: Any) -> Case:
        return Case("anthropic", shape, "echo", messages, ours, _sdk_kwargs("anthropic", sdk_messages, **kw))

    weather = ANTHROPIC_TOOLS[0]
    cases += [
        anthropic(
            "cache-system",
            USER,
            {"system": ["be brief", CachePoint()]},
            USER,
            system=[_text("be brief", cache_control=_control())],
        ),
        anthropic(
            "cache-system-1h",
            USER,
            {"system": ["long instructions", CachePoint(ttl="1h"), "today is Monday"]},
            USER,
            system=[_text("long instructions", cache_control=_control("1h")), _text("today is Monday")],
        ),
        anthropic(
            "cache-tools",
            USER,
            {"tools": [*OPENAI_TOOLS[:2], CachePoint(ttl="5m"), OPENAI_TOOLS[2]]},
            USER,
            tools=[ANTHROPIC_TOOLS[0], {**ANTHROPIC_TOOLS[1], "cache_control": _control("5m")}, ANTHROPIC_TOOLS[2]],
        ),
        anthropic(
            "cache-message-block",
            [Message.user(DOC, CachePoint(), ASK)],
            {},
            [{"role": "user", "content": [_text(DOC, cache_control=_control()), _text(ASK)]}],
        ),
        anthropic(
            "cache-image-block",
            [Message.user(ImagePart.from_bytes(PNG), CachePoint(ttl="1h"), ASK)],
            {},
            [
                {
                    "role": "user",
                    "content": [{**_anthropic_wire("image-bytes"), "cache_control": _control("1h")}, _text(ASK)],
                }
            ],
        ),
        anthropic(
            "cache-top-level",
            [Message.user(DOC, ASK, CachePoint())],
            {},
            [{"role": "user", "content": [_text(DOC), _text(ASK)]}],
            cache_control=_control(),
        ),
        anthropic(
            "cache-top-level-1h",
            [*matrix.MULTI_TURN[:2], Message.user(ASK, CachePoint(ttl="1h"))],
            {},
            [*matrix.MULTI_TURN[:2], {"role": "user", "content": [_text(ASK)]}],
            cache_control=_control("1h"),
        ),
        anthropic(
            "cache-dict-breakpoint",  # an OpenAI-style text part with prompt_cache_breakpoint: a CachePoint
            [{"role": "user", "content": [_text(DOC, prompt_cache_breakpoint=_breakpoint()), _text(ASK)]}],
            {},
            [{"role": "user", "content": [_text(DOC, cache_control=_control()), _text(ASK)]}],
        ),
        anthropic(
            "cache-four-points",  # the most a request may carry: system, tools, a block, the whole prompt
            [Message.user(DOC, CachePoint(), ASK, CachePoint())],
            {"system": ["be brief", CachePoint(ttl="1h")], "tools": [WEATHER, CachePoint(ttl="1h")]},
            [{"role": "user", "content": [_text(DOC, cache_control=_control()), _text(ASK)]}],
            system=[_text("be brief", cache_control=_control("1h"))],
            tools=[{**weather, "cache_control": _control("1h")}],
            cache_control=_control(),
        ),
    ]

    # OpenAI: prompt_cache_breakpoint on the part a CachePoint follows; prompt_cache_key / prompt_cache_options.
    def openai(shape: str, messages: Any, ours: dict[str, Any], sdk_messages: Any, **kw: Any) -> Case:
        return Case("openai", shape, "echo", messages, ours, _sdk_kwargs("openai", sdk_messages, **kw))

    cases += [
        openai(
            "cache-system",
            USER,
            {"system": ["be brief", CachePoint()]},
            [{"role": "system", "content": [_text("be brief", prompt_cache_breakpoint=_breakpoint())]}, *USER],
        ),
        openai(
            "cache-system-12h",
            USER,
            {"system": ["long instructions", CachePoint(ttl="12h"), "today is Monday"]},
            [
                {
                    "role": "system",
                    "content": [
                        _text("long instructions", prompt_cache_breakpoint=_breakpoint("12h")),
                        _text("today is Monday"),
                    ],
                },
                *USER,
            ],
        ),
        openai(
            "cache-message-part-30m",
            [Message.user(DOC, CachePoint(ttl="30m"), ASK)],
            {},
            [{"role": "user", "content": [_text(DOC, prompt_cache_breakpoint=_breakpoint("30m")), _text(ASK)]}],
        ),
        openai(
            "cache-image-part",
            [Message.user(ImagePart.from_bytes(PNG), CachePoint(), ASK)],
            {},
            [{"role": "user", "content": [{**_image(PNG_URL), "prompt_cache_breakpoint": _breakpoint()}, _text(ASK)]}],
        ),
        openai(
            "cache-audio-part",
            [Message.user(AudioPart.from_bytes(WAV), CachePoint(ttl="12h"), ASK)],
            {},
            [
                {
                    "role": "user",
                    "content": [
                        {**_openai_wire("audio-wav"), "prompt_cache_breakpoint": _breakpoint("12h")},
                        _text(ASK),
                    ],
                }
            ],
        ),
        openai(
            "cache-dict-text-breakpoint",
            [{"role": "user", "content": [_text(DOC, prompt_cache_breakpoint=_breakpoint("30m")), _text(ASK)]}],
            {},
            [{"role": "user", "content": [_text(DOC, prompt_cache_breakpoint=_breakpoint("30m")), _text(ASK)]}],
        ),
        openai("prompt-cache-key", USER, {"prompt_cache_key": "tenant-42"}, USER, prompt_cache_key="tenant-42"),
        openai(
            "prompt-cache-options",
            USER,
            {"prompt_cache_options": {"mode": "explicit", "ttl": "30m"}},
            USER,
            prompt_cache_options={"mode": "explicit", "ttl": "30m"},
        ),
        openai(
            "cache-everything",
            [Message.user(DOC, CachePoint(), ASK)],
            {
                "system": ["be brief", CachePoint(ttl="12h")],
                "prompt_cache_key": "tenant-42",
                "prompt_cache_options": {"mode": "explicit"},
            },
            [
                {"role": "system", "content": [_text("be brief", prompt_cache_breakpoint=_breakpoint("12h"))]},
                {"role": "user", "content": [_text(DOC, prompt_cache_breakpoint=_breakpoint()), _text(ASK)]},
            ],
            prompt_cache_key="tenant-42",
            prompt_cache_options={"mode": "explicit"},
        ),
    ]
    for shape in ("image-bytes", "audio-wav", "document-bytes"):
        wire = MEDIA[shape][1]
        assert wire is not None
        marked_part = [{"role": "user", "content": [{**wire, "prompt_cache_breakpoint": _breakpoint()}, _text(ASK)]}]
        case = openai(f"cache-dict-{shape}-breakpoint", marked_part, {}, marked_part)
        cases.append(case)
    # Chat Completions has no breakpoint on tools: a CachePoint after a tool is left out for OpenAI.
    cases.append(
        openai("cache-tools-left-out", USER, {"tools": [WEATHER, CachePoint()]}, USER, tools=[OPENAI_TOOLS[0]])
    )

    # Groq and Gemini cache implicitly: the markers are left out (Groq's system prompt goes as text parts, which
    # its API takes as well as a string).
    marked = [Message.user(DOC, CachePoint(), ASK)]
    tools = [WEATHER, CachePoint()]
    groq_sdk = _sdk_kwargs(
        "groq",
        [
            {"role": "system", "content": [_text("be brief")]},
            {"role": "user", "content": [_text(DOC), _text(ASK)]},
        ],
        tools=[{"type": "function", "function": WEATHER}],
    )
    cases.append(
        Case(
            "groq",
            "cache-points-ignored",
            "echo",
            marked,
            {"system": ["be brief", CachePoint()], "tools": tools},
            groq_sdk,
        )
    )
    weather_decl = types.FunctionDeclaration(
        name="get_weather", description="Weather by city.", parameters_json_schema=SCHEMA
    )
    gemini_sdk = _sdk_kwargs(
        "gemini",
        [types.Content(role="user", parts=[types.Part(text=DOC), types.Part(text=ASK)])],
        system_instruction="be brief",
        tools=[types.Tool(function_declarations=[weather_decl])],
    )
    cases.append(
        Case(
            "gemini",
            "cache-points-ignored",
            "echo",
            marked,
            {"system": ["be brief", CachePoint(ttl="1h")], "tools": tools},
            gemini_sdk,
        )
    )
    # Gemini explicit caches: cachedContent on a chat request.
    cases.append(
        Case(
            "gemini",
            "cached-content",
            "echo",
            "weather in Paris?",
            {"cached_content": "cachedContents/cache-1"},
            _sdk_kwargs("gemini", "weather in Paris?", cached_content="cachedContents/cache-1"),
        )
    )
    return cases


# --- round trips: reasoning goes back unchanged ----------------------------------------------------------------

# Signatures are opaque base64 with `+`, `/` and padding, as the providers send them.
SIGNATURE = b64(b"\xfb\xef\xbe" * 8 + b"anthropic-thinking-signature")
REDACTED = b64(b"\xff\xfe\xfd" * 8 + b"encrypted-reasoning")
GEMINI_SIGNATURE = b64(b"\xfa\xfb\xfc" * 8 + b"gemini-thought-signature")
QUESTION = "What's the weather in Paris?"

ANTHROPIC_FIRST = {
    "id": "msg_01",
    "type": "message",
    "role": "assistant",
    "model": "claude-sonnet-4-5",
    "content": [
        {"type": "thinking", "thinking": "The user wants Paris weather: call get_weather.", "signature": SIGNATURE},
        {"type": "text", "text": "Let me check."},
        {"type": "tool_use", "id": "toolu_01", "name": "get_weather", "input": {"city": "Paris"}},
    ],
    "stop_reason": "tool_use",
    "stop_sequence": None,
    "usage": {"input_tokens": 412, "output_tokens": 96},
}
ANTHROPIC_REDACTED = {
    **ANTHROPIC_FIRST,
    "content": [
        {"type": "thinking", "thinking": "Paris: call the tool.", "signature": SIGNATURE},
        {"type": "redacted_thinking", "data": REDACTED},
        {"type": "tool_use", "id": "toolu_01", "name": "get_weather", "input": {"city": "Paris"}},
    ],
}
GEMINI_FIRST = {
    "candidates": [
        {
            "content": {
                "role": "model",
                "parts": [
                    {"text": "**Checking the weather**\n\nI'll call get_weather for Paris.", "thought": True},
                    {
                        "functionCall": {"name": "get_weather", "args": {"city": "Paris"}},
                        "thoughtSignature": GEMINI_SIGNATURE,
                    },
                ],
            },
            "finishReason": "STOP",
            "index": 0,
        }
    ],
    "usageMetadata": {
        "promptTokenCount": 40,
        "candidatesTokenCount": 12,
        "thoughtsTokenCount": 80,
        "totalTokenCount": 132,
    },
    "modelVersion": "gemini-3-pro",
    "responseId": "resp_1",
}
GEMINI_PARALLEL = {
    **GEMINI_FIRST,
    "candidates": [
        {
            "content": {
                "role": "model",
                "parts": [
                    {"text": "Two cities: two calls.", "thought": True},
                    {
                        "functionCall": {"name": "get_weather", "args": {"city": "Paris"}},
                        "thoughtSignature": GEMINI_SIGNATURE,
                    },
                    {"functionCall": {"name": "get_weather", "args": {"city": "Rome"}}},
                ],
            },
            "finishReason": "STOP",
        }
    ],
}
GEMINI_TEXT_SIGNED = {  # a signature on a text part, before a call (Gemini 3 may sign the first part of a turn)
    **GEMINI_FIRST,
    "candidates": [
        {
            "content": {
                "role": "model",
                "parts": [
                    {"text": "Let me check.", "thoughtSignature": GEMINI_SIGNATURE},
                    {"functionCall": {"name": "get_weather", "args": {"city": "Paris"}}},
                ],
            },
            "finishReason": "STOP",
        }
    ],
}
GEMINI_ANSWER = {  # an answer without calls: the signature on its last part
    **GEMINI_FIRST,
    "candidates": [
        {
            "content": {
                "role": "model",
                "parts": [
                    {"text": "Sunny weather is expected.", "thought": True},
                    {"text": "It is sunny in Paris.", "thoughtSignature": GEMINI_SIGNATURE},
                ],
            },
            "finishReason": "STOP",
        }
    ],
}
GEMINI_TRAILING = {  # the same answer, the signature alone on a closing empty text part
    **GEMINI_FIRST,
    "candidates": [
        {
            "content": {
                "role": "model",
                "parts": [
                    {"text": "Sunny weather is expected.", "thought": True},
                    {"text": "It is sunny in Paris."},
                    {"text": "", "thoughtSignature": GEMINI_SIGNATURE},
                ],
            },
            "finishReason": "STOP",
        }
    ],
}
ANTHROPIC_ANSWER = {  # an answer without calls: a follow-up question sends it back as it came
    **ANTHROPIC_FIRST,
    "content": [
        {"type": "thinking", "thinking": "Paris in June: mild.", "signature": SIGNATURE},
        {"type": "text", "text": "It is sunny in Paris."},
    ],
    "stop_reason": "end_turn",
}
ANTHROPIC_OMITTED = {  # thinking with display "omitted": no text, the signature only
    **ANTHROPIC_FIRST,
    "content": [
        {"type": "thinking", "thinking": "", "signature": SIGNATURE},
        {"type": "tool_use", "id": "toolu_01", "name": "get_weather", "input": {"city": "Paris"}},
    ],
}
GROQ_FIRST = {
    "id": "chatcmpl-1",
    "object": "chat.completion",
    "created": 0,
    "model": "openai/gpt-oss-120b",
    "choices": [
        {
            "index": 0,
            "message": {
                "role": "assistant",
                "content": None,
                "reasoning": "Paris weather: call get_weather.",
                "tool_calls": [
                    {
                        "id": "call_1",
                        "type": "function",
                        "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'},
                    }
                ],
            },
            "finish_reason": "tool_calls",
        }
    ],
    "usage": {"prompt_tokens": 40, "completion_tokens": 20, "total_tokens": 60},
}


def _adapter(provider: str) -> Adapter:
    config = ProviderConfig(provider, "http://unused.invalid", None)
    if provider == "anthropic":
        return AnthropicAdapter(config)
    if provider == "gemini":
        return GeminiAdapter(config)
    return OpenAIAdapter(config)


def _request(provider: str) -> ChatRequest:
    return ChatRequest(provider=provider, model="echo", messages=normalize_messages(QUESTION))


def parsed(provider: str, doc: dict[str, Any]) -> ChatResponse:
    """Our response to ``doc`` (a non-streamed answer), through the adapter's parser."""
    return _adapter(provider).parse_chat(doc, _request(provider))


def streamed(provider: str, events: list[ServerSentEvent]) -> ChatResponse:
    """Our response to a streamed answer, through the adapter's stream state."""
    state = _adapter(provider).stream_state(_request(provider))
    for event in events:
        state.feed(event)
    return state.finish()


def _anthropic_events(doc: dict[str, Any]) -> list[ServerSentEvent]:
    """The stream the Messages API sends for ``doc`` (thinking and signature as deltas)."""

    def ev(kind: str, **fields: Any) -> ServerSentEvent:
        return ServerSentEvent(kind, json.dumps({"type": kind, **fields}))

    message = {k: v for k, v in doc.items() if k != "content"}
    out = [ev("message_start", message={**message, "content": [], "stop_reason": None})]
    for i, block in enumerate(doc["content"]):
        kind = block["type"]
        if kind == "thinking":
            out.append(
                ev("content_block_start", index=i, content_block={"type": "thinking", "thinking": "", "signature": ""})
            )
            out.append(
                ev("content_block_delta", index=i, delta={"type": "thinking_delta", "thinking": block["thinking"]})
            )
            out.append(
                ev("content_block_delta", index=i, delta={"type": "signature_delta", "signature": block["signature"]})
            )
        elif kind == "redacted_thinking":
            out.append(ev("content_block_start", index=i, content_block=block))
        elif kind == "text":
            out.append(ev("content_block_start", index=i, content_block={"type": "text", "text": ""}))
            out.append(ev("content_block_delta", index=i, delta={"type": "text_delta", "text": block["text"]}))
        else:
            start = {**block, "input": {}}
            out.append(ev("content_block_start", index=i, content_block=start))
            args = json.dumps(block["input"])
            out.append(ev("content_block_delta", index=i, delta={"type": "input_json_delta", "partial_json": args}))
        out.append(ev("content_block_stop", index=i))
    out.append(ev("message_delta", delta={"stop_reason": doc["stop_reason"]}, usage={"output_tokens": 96}))
    out.append(ev("message_stop"))
    return out


def _gemini_events(doc: dict[str, Any]) -> list[ServerSentEvent]:
    """The stream Gemini sends for ``doc``: one chunk per part, usage and finish reason on the last."""
    cand = doc["candidates"][0]
    parts = cand["content"]["parts"]
    out = []
    for i, part in enumerate(parts):
        chunk: dict[str, Any] = {"candidates": [{"content": {"role": "model", "parts": [part]}, "index": 0}]}
        if i == len(parts) - 1:
            chunk["candidates"][0]["finishReason"] = cand["finishReason"]
            chunk["usageMetadata"] = doc["usageMetadata"]
        chunk["modelVersion"] = doc["modelVersion"]
        out.append(ServerSentEvent("", json.dumps(chunk)))
    return out


# The tool loop's options: ours, and the SDK's for the same call.
ANTHROPIC_LOOP = {"tools": [WEATHER], "reasoning": Reasoning(budget_tokens=2048)}
ANTHROPIC_LOOP_SDK = {"tools": [ANTHROPIC_TOOLS[0]], "thinking": {"type": "enabled", "budget_tokens": 2048}}
GEMINI_LOOP = {"tools": [WEATHER], "reasoning": "high"}


def _gemini_loop_sdk() -> dict[str, Any]:
    from google.genai import types

    weather = types.FunctionDeclaration(
        name="get_weather", description="Weather by city.", parameters_json_schema=SCHEMA
    )
    return {
        "tools": [types.Tool(function_declarations=[weather])],
        "thinking_config": types.ThinkingConfig(include_thoughts=True, thinking_level="HIGH"),
    }


def _anthropic_round_trip(shape: str, first: ChatResponse, doc: dict[str, Any], marks: tuple[Any, ...] = ()) -> Case:
    import anthropic

    content = anthropic.types.Message.model_validate(doc).content  # what the SDK's caller passes back
    call = first.tool_calls[0]
    ours = [QUESTION, first.message, Message.tool(call.id, "sunny", name=call.name)]
    theirs = [
        {"role": "user", "content": QUESTION},
        {"role": "assistant", "content": content},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": call.id, "content": "sunny"}]},
    ]
    sdk = _sdk_kwargs("anthropic", theirs, **ANTHROPIC_LOOP_SDK)
    return Case("anthropic", shape, "echo", ours, ANTHROPIC_LOOP, sdk, marks=marks)


def _gemini_round_trip(shape: str, first: ChatResponse, doc: dict[str, Any], marks: tuple[Any, ...] = ()) -> Case:
    from google.genai import types

    model_turn = types.GenerateContentResponse._from_response(response=doc, kwargs={}).candidates[0].content
    results = [Message.tool(c.id, {"temp": 21, "city": c.arguments["city"]}, name=c.name) for c in first.tool_calls]
    ours = [QUESTION, first.message, *results]
    responses = [
        types.Part.from_function_response(name=c.name, response={"temp": 21, "city": c.arguments["city"]})
        for c in first.tool_calls
    ]
    contents = [
        types.Content(role="user", parts=[types.Part(text=QUESTION)]),
        model_turn,
        types.Content(role="user", parts=responses),
    ]
    sdk = _sdk_kwargs("gemini", contents, **_gemini_loop_sdk())
    return Case("gemini", shape, "echo", ours, GEMINI_LOOP, sdk, marks=marks)


def _anthropic_follow_up(shape: str, first: ChatResponse, doc: dict[str, Any]) -> Case:
    import anthropic

    content = anthropic.types.Message.model_validate(doc).content
    theirs = [
        {"role": "user", "content": QUESTION},
        {"role": "assistant", "content": content},
        {"role": "user", "content": "And tomorrow?"},
    ]
    sdk = _sdk_kwargs("anthropic", theirs, **ANTHROPIC_LOOP_SDK)
    return Case("anthropic", shape, "echo", [QUESTION, first.message, "And tomorrow?"], ANTHROPIC_LOOP, sdk)


def _gemini_follow_up(shape: str, first: ChatResponse, doc: dict[str, Any], marks: tuple[Any, ...] = ()) -> Case:
    from google.genai import types

    model_turn = types.GenerateContentResponse._from_response(response=doc, kwargs={}).candidates[0].content
    follow_up = "And tomorrow?"
    contents = [
        types.Content(role="user", parts=[types.Part(text=QUESTION)]),
        model_turn,
        types.Content(role="user", parts=[types.Part(text=follow_up)]),
    ]
    thinking = types.ThinkingConfig(include_thoughts=True, thinking_level="HIGH")
    sdk = _sdk_kwargs("gemini", contents, thinking_config=thinking)
    ours = [QUESTION, first.message, follow_up]
    return Case("gemini", shape, "echo", ours, {"reasoning": "high"}, sdk, marks=marks)


def _round_trip_cases() -> list[Case]:
    from google.genai import types

    # the loop's first request: the question, the tools, thinking on
    cases = [
        Case(
            "anthropic",
            "roundtrip-first-request",
            "echo",
            QUESTION,
            ANTHROPIC_LOOP,
            _sdk_kwargs("anthropic", [{"role": "user", "content": QUESTION}], **ANTHROPIC_LOOP_SDK),
        ),
        Case(
            "gemini",
            "roundtrip-first-request",
            "echo",
            QUESTION,
            GEMINI_LOOP,
            _sdk_kwargs(
                "gemini", [types.Content(role="user", parts=[types.Part(text=QUESTION)])], **_gemini_loop_sdk()
            ),
        ),
    ]
    anthropic_docs = (
        ("thinking", ANTHROPIC_FIRST),
        ("redacted-thinking", ANTHROPIC_REDACTED),
        ("omitted-thinking", ANTHROPIC_OMITTED),
    )
    for name, doc in anthropic_docs:
        cases.append(_anthropic_round_trip(f"roundtrip-{name}", parsed("anthropic", doc), doc))
        events = _anthropic_events(doc)
        cases.append(_anthropic_round_trip(f"roundtrip-{name}-streamed", streamed("anthropic", events), doc))
    cases.append(_anthropic_follow_up("roundtrip-answer", parsed("anthropic", ANTHROPIC_ANSWER), ANTHROPIC_ANSWER))
    events = _anthropic_events(ANTHROPIC_ANSWER)
    cases.append(_anthropic_follow_up("roundtrip-answer-streamed", streamed("anthropic", events), ANTHROPIC_ANSWER))
    for name, doc in (
        ("thought-signature", GEMINI_FIRST),
        ("parallel-calls", GEMINI_PARALLEL),
        ("signed-text", GEMINI_TEXT_SIGNED),
    ):
        cases.append(_gemini_round_trip(f"roundtrip-{name}", parsed("gemini", doc), doc))
        cases.append(_gemini_round_trip(f"roundtrip-{name}-streamed", streamed("gemini", _gemini_events(doc)), doc))
    # A Gemini answer without calls carries its signature on its last part; a stream may close the turn with it
    # on an empty text part (the signature is the part's only content). The next request (a follow-up question)
    # sends the turn back as the SDK's caller does: with that part.
    for name, doc in (("signed-answer", GEMINI_ANSWER), ("trailing-signature", GEMINI_TRAILING)):
        marks: tuple[Any, ...] = ()
        cases.append(_gemini_follow_up(f"roundtrip-{name}", parsed("gemini", doc), doc, marks))
        cases.append(
            _gemini_follow_up(f"roundtrip-{name}-streamed", streamed("gemini", _gemini_events(doc)), doc, marks)
        )
    # Groq's parsed reasoning goes back in the assistant message's `reasoning` (its SDK's assistant message field).
    first = parsed("groq", GROQ_FIRST)
    message = GROQ_FIRST["choices"][0]["message"]
    ours = [QUESTION, first.message, Message.tool("call_1", "sunny")]
    theirs = [
        {"role": "user", "content": QUESTION},
        message,
        {"role": "tool", "tool_call_id": "call_1", "content": "sunny"},
    ]
    sdk = _sdk_kwargs(
        "groq",
        theirs,
        tools=[{"type": "function", "function": WEATHER}],
        reasoning_effort="medium",
        reasoning_format="parsed",
    )
    cases.append(Case("groq", "roundtrip-reasoning", "echo", ours, {"tools": [WEATHER], "reasoning": "medium"}, sdk))
    return cases


CASES: list[Case] = [*_media_cases(), *_reasoning_cases(), *_cache_cases(), *_round_trip_cases()]


def _param(case: Case, *extra: Any) -> Any:
    return pytest.param(case, *extra, id="-".join([case.id, *map(str, extra)]), marks=case.marks)


# --- the matrix (the same three tests as test_wire_matrix's, over these cases) -------------------------------


@pytest.mark.parametrize("case", [_param(c) for c in CASES])
def test_chat(case: Case, client: ChatClient, fake: FakeServer, sdks: SDKs) -> None:
    theirs = _sent(fake, _official(sdks, case, None))
    ours = _sent(fake, _ours(client, case, stream=False))
    assert_same_wire(case, ours, theirs)


@pytest.mark.parametrize(("case", "form"), [_param(c, _forms(c)[0]) for c in CASES])
def test_stream(case: Case, form: str, client: ChatClient, fake: FakeServer, sdks: SDKs) -> None:
    """One streaming form per provider (the body is built once for all: the matrix covers every form)."""
    theirs = _sent(fake, _official(sdks, case, form))
    ours = _sent(fake, _ours(client, case, stream=True))
    assert_same_wire(case, ours, theirs)


@pytest.mark.parametrize("case", [_param(c) for c in CASES])
async def test_async_same_as_sync(
    case: Case, client: ChatClient, aclient: AsyncChatClient, fake: FakeServer, sdks: SDKs
) -> None:
    sync = _sent(fake, _ours(client, case, stream=False))
    ours = await _ours_async(aclient, fake, case, stream=False)
    assert _canon(ours["body"]) == _canon(sync["body"])
    theirs = _sent(fake, _official(sdks, case, None))
    assert_same_wire(case, ours, theirs)


# --- refusals: nothing is sent -------------------------------------------------------------------------------

#: (provider, media shape) -> the reason the refusal gives (every shape a provider does not take is here)
REFUSED: dict[tuple[str, str], str] = {
    **{("groq", s): "groq takes no document input in chat" for s in MEDIA if s.startswith("document")},
    **{("groq", s): "groq takes no audio input in chat" for s in MEDIA if s.startswith("audio")},
    **{("anthropic", s): "anthropic takes no audio input in chat" for s in MEDIA if s.startswith("audio")},
    ("openai", "document-url"): "openai takes documents inline only, not by URL",
    ("openai", "document-file-uri"): "openai takes documents inline only, not by URL",
    ("openai", "audio-file-uri"): "openai takes audios inline only, not by URL",
    ("openai", "audio-flac"): "openai takes wav or mp3 audio, not audio/flac",
}


async def _refused(
    client: ChatClient, aclient: AsyncChatClient, fake: FakeServer, mode: str, model: str, messages: Any, **kw: Any
) -> Exception:
    """The error ``chat`` / ``stream`` (sync or async, by ``mode``) raises; fails if anything was sent."""

    async def send() -> None:
        if mode == "chat":
            client.chat(model, messages, **kw)
        elif mode == "stream":
            with client.stream(model, messages, **kw) as s:
                s.final_response()
        elif mode == "async-chat":
            await aclient.chat(model, messages, **kw)
        else:
            async with aclient.stream(model, messages, **kw) as a:
                await a.final_response()

    before = len(fake.requests)
    with pytest.raises(ValidationError) as info:
        await send()
    assert len(fake.requests) == before, "nothing may be sent"
    return info.value


MODES = ["chat", "stream", "async-chat", "async-stream"]


def _refusal_params() -> list[Any]:
    params = []
    for (provider, shape), reason in REFUSED.items():
        part, as_dict = MEDIA[shape]
        params.append(pytest.param(provider, [Message.user(part, Q)], reason, id=f"{provider}-{shape}-part"))
        if as_dict is not None:
            messages = [{"role": "user", "content": [as_dict, {"type": "text", "text": Q}]}]
            params.append(pytest.param(provider, messages, reason, id=f"{provider}-{shape}-dict"))
    return params


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(("provider", "messages", "reason"), _refusal_params())
async def test_parts_a_provider_cannot_take_are_refused(
    provider: str,
    messages: Any,
    reason: str,
    mode: str,
    client: ChatClient,
    aclient: AsyncChatClient,
    fake: FakeServer,
) -> None:
    error = await _refused(client, aclient, fake, mode, f"{provider}:echo", messages)
    assert isinstance(error, UnsupportedParameterError)
    assert error.parameter == "messages[0].content[0]"  # the part
    assert error.model == f"{provider}:echo"
    assert reason in str(error)  # the part's kind and the provider


def test_every_part_is_taken_or_refused() -> None:
    """Every media shape is, on every provider, either in the wire matrix or refused (none is forgotten)."""
    for provider, taken in TAKES.items():
        refused = {shape for (p, shape) in REFUSED if p == provider}
        assert not refused & set(taken), provider
        assert refused | set(taken) == set(MEDIA), provider


@pytest.mark.parametrize(
    ("provider", "part", "limit"),
    [
        ("groq", ImagePart.from_bytes(bytes(4_000_001), media_type="image/png"), "4,000,000"),
        ("anthropic", ImagePart.from_bytes(bytes(5_000_001), media_type="image/png"), "5,000,000"),
        ("anthropic", DocumentPart.from_bytes(bytes(32_000_001), media_type="application/pdf"), "32,000,000"),
    ],
    ids=["groq-image", "anthropic-image", "anthropic-document"],
)
async def test_inline_size_limits(
    provider: str, part: Any, limit: str, client: ChatClient, aclient: AsyncChatClient, fake: FakeServer
) -> None:
    error = await _refused(client, aclient, fake, "chat", f"{provider}:echo", [Message.user(part, Q)])
    assert f"at most {limit} bytes inline" in str(error)


async def test_gemini_inline_total_limit(client: ChatClient, aclient: AsyncChatClient, fake: FakeServer) -> None:
    half = ImagePart.from_bytes(bytes(10_000_001), media_type="image/png")
    for mode in MODES:
        error = await _refused(client, aclient, fake, mode, "gemini:echo", [Message.user(half, half, Q)])
        assert "20,000,000 bytes" in str(error)


@pytest.mark.parametrize("provider", ["openai", "groq", "anthropic", "gemini"])
async def test_media_only_in_user_messages(
    provider: str, client: ChatClient, aclient: AsyncChatClient, fake: FakeServer
) -> None:
    history = [Message.user(Q), Message(role="assistant", content=(ImagePart.from_bytes(PNG),))]
    error = await _refused(client, aclient, fake, "chat", f"{provider}:echo", history)
    assert "messages[1].content[0]" in str(error)
    assert "user messages" in str(error)


#: (provider, reasoning, parameter named, error type)
REASONING_REFUSED = [
    ("openai", Reasoning(budget_tokens=2048), "reasoning.budget_tokens", UnsupportedParameterError),
    ("groq", Reasoning(budget_tokens=2048), "reasoning.budget_tokens", UnsupportedParameterError),
    ("groq", "minimal", "reasoning.effort", UnsupportedParameterError),
    ("groq", "xhigh", "reasoning.effort", UnsupportedParameterError),
    ("groq", Reasoning(effort="max"), "reasoning.effort", UnsupportedParameterError),
    ("anthropic", "minimal", "reasoning.effort", UnsupportedParameterError),
    ("gemini", "max", "reasoning.effort", UnsupportedParameterError),
    ("anthropic", Reasoning(budget_tokens=1023), "reasoning.budget_tokens", ValidationError),  # at least 1024
    ("anthropic", Reasoning(budget_tokens=4096), "reasoning.budget_tokens", ValidationError),  # < max_tokens (4096)
    ("openai", "extreme", "reasoning.effort", ValidationError),  # no provider's value
]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(
    ("provider", "reasoning", "parameter", "kind"),
    REASONING_REFUSED,
    ids=[f"{p}-{r if isinstance(r, str) else (r.effort or r.budget_tokens)}" for p, r, _, _ in REASONING_REFUSED],
)
async def test_reasoning_values_a_provider_does_not_take_are_refused(
    provider: str,
    reasoning: Any,
    parameter: str,
    kind: type[Exception],
    mode: str,
    client: ChatClient,
    aclient: AsyncChatClient,
    fake: FakeServer,
) -> None:
    error = await _refused(client, aclient, fake, mode, f"{provider}:echo", Q, reasoning=reasoning)
    assert type(error) is kind
    assert str(error).startswith(f"{parameter}:")
    if kind is UnsupportedParameterError:
        assert provider in str(error)


async def test_anthropic_budget_must_stay_below_max_tokens(
    client: ChatClient, aclient: AsyncChatClient, fake: FakeServer
) -> None:
    error = await _refused(
        client, aclient, fake, "chat", "anthropic:echo", Q, reasoning=Reasoning(budget_tokens=2048), max_tokens=2048
    )
    assert "less than max_tokens (2048)" in str(error)


def _points(n: int, ttl: str | None = None) -> list[Any]:
    """A user message with ``n`` cache points."""
    content: list[Any] = []
    for i in range(n):
        content += [f"part {i}", CachePoint(ttl=ttl)]
    return [Message.user(*content, ASK)]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(
    ("provider", "messages", "kw", "match"),
    [
        ("anthropic", _points(5), {}, r"^messages\[0\]\.content\[9\]: anthropic takes at most 4 cache points"),
        ("openai", _points(5), {}, r"^messages\[0\]\.content\[9\]: openai takes at most 4 cache points"),
        (
            "anthropic",
            _points(3),
            {"system": ["be brief", CachePoint()], "tools": [WEATHER, CachePoint()]},
            r"^messages\[0\]\.content\[5\]: anthropic takes at most 4",  # system, tools, then the 5th
        ),
        ("anthropic", _points(1, "30m"), {}, r"^messages\[0\]\.content\[1\]\.ttl: anthropic takes 1h or 5m, not '30m'"),
        ("openai", _points(1, "1h"), {}, r"^messages\[0\]\.content\[1\]\.ttl: openai takes 12h or 30m, not '1h'"),
        ("anthropic", Q, {"system": ["be brief", CachePoint(ttl="24h")]}, r"^system\[1\]\.ttl: anthropic takes"),
        ("anthropic", Q, {"tools": [WEATHER, CachePoint(ttl="12h")]}, r"^tools\[1\]\.ttl: anthropic takes"),
        ("openai", Q, {"system": ["be brief", CachePoint(ttl="5m")]}, r"^system\[1\]\.ttl: openai takes"),
    ],
    ids=[
        "anthropic-5-points",
        "openai-5-points",
        "anthropic-5-points-everywhere",
        "anthropic-ttl-30m",
        "openai-ttl-1h",
        "anthropic-system-ttl",
        "anthropic-tools-ttl",
        "openai-system-ttl",
    ],
)
async def test_cache_points_a_provider_does_not_take_are_refused(
    provider: str,
    messages: Any,
    kw: dict[str, Any],
    match: str,
    mode: str,
    client: ChatClient,
    aclient: AsyncChatClient,
    fake: FakeServer,
) -> None:
    error = await _refused(client, aclient, fake, mode, f"{provider}:echo", messages, **kw)
    assert type(error) is ValidationError
    assert re.search(match, str(error)), str(error)


@pytest.mark.parametrize(
    ("provider", "parameter", "value"),
    [
        *[(p, "cached_content", "cachedContents/cache-1") for p in ("openai", "groq", "anthropic")],
        *[(p, "prompt_cache_key", "tenant-42") for p in ("groq", "anthropic", "gemini")],
        *[(p, "prompt_cache_options", {"mode": "explicit"}) for p in ("groq", "anthropic", "gemini")],
    ],
)
async def test_cache_options_of_another_provider_are_refused(
    provider: str, parameter: str, value: Any, client: ChatClient, aclient: AsyncChatClient, fake: FakeServer
) -> None:
    for mode in MODES:
        error = await _refused(client, aclient, fake, mode, f"{provider}:echo", Q, **{parameter: value})
        assert isinstance(error, UnsupportedParameterError)
        assert error.parameter == parameter
        assert error.model == f"{provider}:echo"


@pytest.mark.parametrize("provider", ["groq", "gemini"])
def test_implicit_cachers_leave_any_points_out(provider: str, client: ChatClient, fake: FakeServer) -> None:
    """Groq and Gemini ignore cache points in messages and tools — any number, any TTL — and send what they would
    without them (a marked system prompt: see the matrix's ``cache-points-ignored`` cases)."""
    marked = _sent(
        fake, lambda: client.chat(f"{provider}:echo", _points(6, "7d"), tools=[WEATHER, CachePoint(ttl="2h")])
    )
    plain = [Message.user(*[f"part {i}" for i in range(6)], ASK)]
    unmarked = _sent(fake, lambda: client.chat(f"{provider}:echo", plain, tools=[WEATHER]))
    assert _canon(marked["body"]) == _canon(unmarked["body"])


# -- combinations the providers refuse with a 400: refused before sending --


async def test_gemini_refuses_a_level_and_a_budget_together(
    client: ChatClient, aclient: AsyncChatClient, fake: FakeServer
) -> None:
    """Gemini 3 answers 400 to a ``thinkingConfig`` with both ``thinkingLevel`` and ``thinkingBudget`` ("You cannot
    use both thinking_level and the legacy thinking_budget parameter in the same request"); ``Reasoning(effort=,
    budget_tokens=)`` would send both."""
    await _refused(
        client, aclient, fake, "chat", "gemini:echo", Q, reasoning=Reasoning(effort="high", budget_tokens=1024)
    )


async def test_gemini_refuses_system_and_tools_with_a_cache(
    client: ChatClient, aclient: AsyncChatClient, fake: FakeServer
) -> None:
    """Gemini answers 400 to a request with ``cachedContent`` that also sets ``systemInstruction`` or ``tools``
    ("CachedContent can not be used with GenerateContent request setting system_instruction, tools or
    tool_config"): they belong in the cache."""
    await _refused(
        client, aclient, fake, "chat", "gemini:echo", Q, cached_content="cachedContents/cache-1", system="be brief"
    )


async def test_anthropic_refuses_forced_tool_use_with_thinking(
    client: ChatClient, aclient: AsyncChatClient, fake: FakeServer
) -> None:
    """With thinking on, the Messages API takes ``tool_choice`` ``auto`` or ``none`` only (400: "Thinking may not
    be enabled when tool_choice forces tool use"); ``tool_choice="required"`` would send ``{"type": "any"}``."""
    await _refused(
        client,
        aclient,
        fake,
        "chat",
        "anthropic:echo",
        Q,
        reasoning=Reasoning(budget_tokens=2048),
        tools=[WEATHER],
        tool_choice="required",
    )


# --- parts and OpenAI-style dicts ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("provider", "shape"),
    [(p, s) for p, shapes in TAKES.items() for s in shapes if MEDIA[s][1] is not None],
)
def test_parts_and_dicts_send_the_same_body(provider: str, shape: str, client: ChatClient, fake: FakeServer) -> None:
    """The same part given as our object and as an OpenAI-style dict: byte-for-byte the same body."""
    part, as_dict = MEDIA[shape]
    from_part = _sent(fake, lambda: client.chat(f"{provider}:echo", [Message.user(part, Q)]))
    from_dict = _sent(
        fake,
        lambda: client.chat(f"{provider}:echo", [{"role": "user", "content": [as_dict, {"type": "text", "text": Q}]}]),
    )
    assert _canon(from_part["body"]) == _canon(from_dict["body"])


# --- Gemini explicit caches --------------------------------------------------------------------------------------

CACHE_SYSTEM = "You answer from the attached report."


def _sdk_cache_config(**kw: Any) -> Any:
    from google.genai import types

    weather = types.FunctionDeclaration(
        name="get_weather", description="Weather by city.", parameters_json_schema=SCHEMA
    )
    parts = [types.Part.from_bytes(data=PDF, mime_type="application/pdf"), types.Part(text="Here is the report.")]
    return types.CreateCachedContentConfig(
        system_instruction=CACHE_SYSTEM,
        contents=[types.Content(role="user", parts=parts)],
        tools=[types.Tool(function_declarations=[weather])],
        **kw,
    )


def _our_cache_args() -> dict[str, Any]:
    return {
        "system": CACHE_SYSTEM,
        "messages": [Message.user(DocumentPart.from_bytes(PDF, filename="report.pdf"), "Here is the report.")],
        "tools": [WEATHER],
    }


def _same_gemini_body(ours: dict[str, Any], theirs: dict[str, Any]) -> None:
    assert ours["method"] == theirs["method"] == "POST"
    assert ours["path"] == theirs["path"]
    assert ours["headers"]["x-goog-api-key"] == theirs["headers"]["x-goog-api-key"]
    differences = matrix._differences(normalize("gemini", ours["body"], ()), normalize("gemini", theirs["body"], ()))
    assert not differences, "our body differs from the SDK's:\n" + "\n".join(differences)


@pytest.mark.parametrize("ttl", ["1h", 3600, 3600.0, dt.timedelta(hours=1), "3600s"])
async def test_gemini_caches_create(
    ttl: Any, client: ChatClient, aclient: AsyncChatClient, fake: FakeServer, sdks: SDKs
) -> None:
    config = _sdk_cache_config(ttl="3600s", display_name="report")
    theirs = _sent(fake, lambda: sdks.gemini.caches.create(model="echo", config=config))
    assert theirs["path"] == "/v1beta/cachedContents"
    args = {**_our_cache_args(), "ttl": ttl, "display_name": "report"}
    ours = _sent(fake, lambda: client.caches.create("gemini:echo", **args))
    _same_gemini_body(ours, theirs)
    assert ours["body"]["ttl"] == "3600s"
    before = len(fake.requests)
    cache = await aclient.caches.create("gemini:echo", **args)
    assert len(fake.requests) == before + 1
    assert _canon(fake.requests[-1]["body"]) == _canon(ours["body"])
    assert cache.name == "cachedContents/cache-1"


def test_gemini_caches_create_minimal(client: ChatClient, fake: FakeServer, sdks: SDKs) -> None:
    """No TTL, no display name: neither is sent (the API's default TTL applies)."""
    from google.genai import types

    config = types.CreateCachedContentConfig(system_instruction=CACHE_SYSTEM)
    theirs = _sent(fake, lambda: sdks.gemini.caches.create(model="echo", config=config))
    ours = _sent(fake, lambda: client.caches.create("gemini:echo", system=CACHE_SYSTEM))
    _same_gemini_body(ours, theirs)


async def test_gemini_chat_with_a_created_cache(
    client: ChatClient, aclient: AsyncChatClient, fake: FakeServer, sdks: SDKs
) -> None:
    """The loop: create a cache, then chat with it (the object or its name) — as google-genai does."""
    from google.genai import types

    their_cache = sdks.gemini.caches.create(model="echo", config=_sdk_cache_config())
    config = types.GenerateContentConfig(cached_content=their_cache.name)
    theirs = _sent(fake, lambda: sdks.gemini.models.generate_content(model="echo", contents=Q, config=config))
    cache = client.caches.create("gemini:echo", **_our_cache_args())
    for given in (cache, cache.name):
        ours = _sent(fake, lambda given=given: client.chat("gemini:echo", Q, cached_content=given))
        _same_gemini_body(ours, theirs)
        assert ours["body"]["cachedContent"] == "cachedContents/cache-1"
    before = len(fake.requests)
    await aclient.chat("gemini:echo", Q, cached_content=cache)
    assert len(fake.requests) == before + 1
    _same_gemini_body(fake.requests[-1], theirs)


# --- round trips: the guard on the guard -------------------------------------------------------------------------


def _body_of(client: ChatClient, fake: FakeServer, case: Case) -> dict[str, Any]:
    return _sent(fake, _ours(client, case, stream=False))["body"]


@pytest.mark.parametrize(
    "doc", [ANTHROPIC_FIRST, ANTHROPIC_REDACTED, ANTHROPIC_OMITTED], ids=["thinking", "redacted", "omitted"]
)
@pytest.mark.parametrize("how", ["parsed", "streamed"])
def test_anthropic_reasoning_blocks_go_back_unchanged(
    doc: dict[str, Any], how: str, client: ChatClient, fake: FakeServer
) -> None:
    """Not only equal to the SDK's body: the assistant turn is the first response's content, block for block."""
    first = parsed("anthropic", doc) if how == "parsed" else streamed("anthropic", _anthropic_events(doc))
    body = _body_of(client, fake, _anthropic_round_trip("rt", first, doc))
    assert body["messages"][1] == {"role": "assistant", "content": doc["content"]}
    assert body["thinking"] == {"type": "enabled", "budget_tokens": 2048}


@pytest.mark.parametrize(
    "doc", [GEMINI_FIRST, GEMINI_PARALLEL, GEMINI_TEXT_SIGNED], ids=["thought-signature", "parallel", "signed-text"]
)
@pytest.mark.parametrize("how", ["parsed", "streamed"])
def test_gemini_thoughts_and_signatures_go_back_unchanged(
    doc: dict[str, Any], how: str, client: ChatClient, fake: FakeServer
) -> None:
    """The model turn is the first response's content, part for part, each signature the very string received
    (not re-encoded)."""
    first = parsed("gemini", doc) if how == "parsed" else streamed("gemini", _gemini_events(doc))
    body = _body_of(client, fake, _gemini_round_trip("rt", first, doc))
    assert body["contents"][1] == doc["candidates"][0]["content"]
    assert GEMINI_SIGNATURE in json.dumps(body)


def test_groq_reasoning_goes_back(client: ChatClient, fake: FakeServer) -> None:
    body = _body_of(client, fake, next(c for c in CASES if c.id == "groq-roundtrip-reasoning"))
    assert body["messages"][1]["reasoning"] == GROQ_FIRST["choices"][0]["message"]["reasoning"]
    assert body["reasoning_format"] == "parsed"


# --- the matrix is what this module says it is ---------------------------------------------------------------


def test_content_matrix_covers_every_part_and_option() -> None:
    shapes: dict[str, set[str]] = {}
    for c in CASES:
        shapes.setdefault(c.shape, set()).add(c.provider)
    for provider, taken in TAKES.items():
        for shape in taken:
            assert provider in shapes[f"{shape}-part"], (provider, shape)
            if MEDIA[shape][1] is not None:
                assert provider in shapes[f"{shape}-dict"], (provider, shape)
    everyone = {"openai", "groq", "anthropic", "gemini"}
    assert shapes["media-mixed"] == everyone
    assert {c.provider for c in CASES if c.shape.startswith(("reasoning-", "thinking-"))} == everyone
    for shape in ("cache-system", "cache-system-1h", "cache-tools", "cache-message-block", "cache-top-level"):
        assert "anthropic" in shapes[shape], shape
    for shape in ("cache-system", "cache-message-part-30m", "prompt-cache-key", "prompt-cache-options"):
        assert "openai" in shapes[shape], shape
    assert shapes["cache-points-ignored"] == {"groq", "gemini"}
    assert shapes["cached-content"] == {"gemini"}
    assert shapes["roundtrip-first-request"] == {"anthropic", "gemini"}
    for shape in ("roundtrip-thinking", "roundtrip-redacted-thinking", "roundtrip-thinking-streamed"):
        assert shapes[shape] == {"anthropic"}, shape
    for shape in ("roundtrip-thought-signature", "roundtrip-parallel-calls", "roundtrip-thought-signature-streamed"):
        assert shapes[shape] == {"gemini"}, shape
    assert shapes["roundtrip-reasoning"] == {"groq"}
    assert len({c.id for c in CASES}) == len(CASES), "case ids are unique"
