"""Multimodal input and prompt-cache options on the four emulated providers, through the official SDKs over
real sockets against the session sandbox: images, documents and audio arrive intact (``inspect`` models
report them, the same shape everywhere), count a fixed number of prompt tokens each, bad parts are refused
with the provider's error, Groq takes images only, and Anthropic's cache_control rules hold.
"""

from __future__ import annotations

import base64
import hashlib
import json
import uuid
from collections.abc import Iterator
from typing import Any

import anthropic
import groq
import httpx2
import openai
import pytest
from google import genai
from google.genai import errors as genai_errors
from google.genai import types

from atriumn.sandbox import Sandbox
from atriumn.sandbox._llm._parts import AUDIO_TOKENS, DOCUMENT_TOKENS, IMAGE_TOKENS

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(60))
PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\n%%EOF\n"
WAV = b"RIFF\x24\x00\x00\x00WAVEfmt " + bytes(20)
MP3 = b"ID3\x03\x00\x00\x00" + bytes(30)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _inline(data: bytes, media_type: str, **extra: Any) -> dict[str, Any]:
    """What ``inspect`` reports of an inline part."""
    return {
        "source": "base64",
        "media_type": media_type,
        "bytes": len(data),
        "sha256": hashlib.sha256(data).hexdigest(),
        **extra,
    }


def _key(prefix: str) -> str:
    return f"test-{prefix}-key-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def oai(sandbox: Sandbox) -> Iterator[openai.OpenAI]:
    client = openai.OpenAI(api_key=_key("openai"), base_url=sandbox.url + "/v1", max_retries=0)
    yield client
    client.close()


@pytest.fixture
def claude(sandbox: Sandbox) -> Iterator[anthropic.Anthropic]:
    client = anthropic.Anthropic(api_key=_key("anthropic"), base_url=sandbox.url, max_retries=0)
    yield client
    client.close()


@pytest.fixture
def gemini(sandbox: Sandbox) -> genai.Client:
    options = types.HttpOptions(base_url=sandbox.url, api_version="v1beta")
    return genai.Client(api_key=_key("gemini"), http_options=options)


@pytest.fixture
def groq_client(sandbox: Sandbox) -> Iterator[groq.Groq]:
    client = groq.Groq(api_key=_key("groq"), base_url=sandbox.url, max_retries=0)
    yield client
    client.close()


# --- OpenAI ----------------------------------------------------------------------------------------------


def test_openai_images_files_and_audio_arrive_intact(oai: openai.OpenAI) -> None:
    content: Any = [
        {"type": "text", "text": "what is here", "prompt_cache_breakpoint": {"mode": "explicit", "ttl": "12h"}},
        {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{_b64(PNG)}", "detail": "high"}},
        {"type": "image_url", "image_url": {"url": "https://example.com/cat.jpg"}},
        {"type": "file", "file": {"file_data": f"data:application/pdf;base64,{_b64(PDF)}", "filename": "a.pdf"}},
        {"type": "file", "file": {"file_id": "file-abc123"}},
        {"type": "input_audio", "input_audio": {"data": _b64(WAV), "format": "wav"}},
        {"type": "input_audio", "input_audio": {"data": _b64(MP3), "format": "mp3"}},
    ]
    result = oai.chat.completions.create(
        model="gpt-inspect",
        messages=[{"role": "user", "content": content}],
        reasoning_effort="high",
        prompt_cache_key="tenant-1",
        prompt_cache_options={"mode": "explicit", "ttl": "30m"},
    )
    report = json.loads(result.choices[0].message.content or "")
    assert report == {
        "images": [_inline(PNG, "image/png", detail="high"), {"source": "url", "url": "https://example.com/cat.jpg"}],
        "documents": [
            _inline(PDF, "application/pdf", filename="a.pdf"),
            {"source": "file", "file_id": "file-abc123"},
        ],
        "audio": [_inline(WAV, "audio/wav", format="wav"), _inline(MP3, "audio/mpeg", format="mp3")],
        "cache_points": 1,
        "cache_ttls": ["12h"],
        "reasoning": {"reasoning_effort": "high"},
        "cached_content": None,
    }
    usage = result.usage
    assert usage is not None
    assert usage.prompt_tokens == 3 + 2 * IMAGE_TOKENS + 2 * DOCUMENT_TOKENS + 2 * AUDIO_TOKENS
    assert usage.prompt_tokens_details is not None
    assert usage.prompt_tokens_details.image_tokens == 2 * IMAGE_TOKENS
    assert usage.prompt_tokens_details.audio_tokens == 2 * AUDIO_TOKENS


def test_openai_echo_counts_media_and_streams_text_only(oai: openai.OpenAI) -> None:
    image = {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{_b64(PNG)}"}}
    messages: Any = [{"role": "user", "content": [{"type": "text", "text": "describe it"}, image]}]
    stream = oai.chat.completions.create(
        model="echo", messages=messages, stream=True, stream_options={"include_usage": True}
    )
    chunks = list(stream)
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "describe it"
    assert chunks[-1].usage is not None
    assert chunks[-1].usage.prompt_tokens == 2 + IMAGE_TOKENS


@pytest.mark.parametrize(
    ("part", "message", "param"),
    [
        ({"type": "image_url", "image_url": {"url": "data:image/png;base64,@@@"}}, "Invalid base64", "url"),
        ({"type": "image_url", "image_url": {"url": f"data:text/plain;base64,{_b64(PNG)}"}}, "Invalid MIME", None),
        ({"type": "input_audio", "input_audio": {"data": _b64(WAV), "format": "ogg"}}, "'ogg'", "format"),
        ({"type": "file", "file": {"filename": "a.pdf"}}, "file_data", "file"),
        ({"type": "file", "file": {"file_data": _b64(PDF)}}, "Expected a base64-encoded data URL", "file_data"),
        ({"type": "text", "text": "x", "prompt_cache_breakpoint": {"mode": "explicit", "ttl": "5m"}}, "'5m'", "ttl"),
    ],
)
def test_openai_refuses_bad_parts(oai: openai.OpenAI, part: Any, message: str, param: str | None) -> None:
    with pytest.raises(openai.BadRequestError, match=message) as refused:
        oai.chat.completions.create(model="echo", messages=[{"role": "user", "content": [part]}])
    if param is None:
        assert refused.value.param is None
    else:
        assert str(refused.value.param).endswith(param)


# --- Groq ------------------------------------------------------------------------------------------------


def test_groq_takes_images(groq_client: groq.Groq) -> None:
    content: Any = [
        {"type": "text", "text": "what is this"},
        {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{_b64(PNG)}"}},
    ]
    result = groq_client.chat.completions.create(model="llama-inspect", messages=[{"role": "user", "content": content}])
    report = json.loads(result.choices[0].message.content or "")
    assert report["images"] == [_inline(PNG, "image/png")]
    assert result.usage is not None
    assert result.usage.prompt_tokens == 3 + IMAGE_TOKENS


@pytest.mark.parametrize(
    "part",
    [
        {"type": "input_audio", "input_audio": {"data": _b64(WAV), "format": "wav"}},
        {"type": "file", "file": {"file_data": f"data:application/pdf;base64,{_b64(PDF)}"}},
    ],
)
def test_groq_refuses_audio_and_documents(groq_client: groq.Groq, part: Any) -> None:
    messages: Any = [{"role": "user", "content": [{"type": "text", "text": "hi"}, part]}]
    with pytest.raises(groq.BadRequestError) as refused:
        groq_client.chat.completions.create(model="llama-3.3-70b", messages=messages)
    body = refused.value.body
    assert isinstance(body, dict)
    assert body["error"]["type"] == "invalid_request_error"
    assert body["error"]["message"].startswith("'messages.0' : for 'role:user' the following must be satisfied")
    expected = "('messages.0.content.1.type' : value is not one of the allowed values ['image_url'])"
    assert expected in body["error"]["message"]


# --- Anthropic -------------------------------------------------------------------------------------------


def test_anthropic_images_and_documents_arrive_intact(claude: anthropic.Anthropic) -> None:
    one_hour: Any = {"type": "ephemeral", "ttl": "1h"}
    content: Any = [
        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": _b64(PNG)}},
        {"type": "image", "source": {"type": "url", "url": "https://example.com/cat.jpg"}},
        {"type": "document", "source": {"type": "base64", "media_type": "application/pdf", "data": _b64(PDF)}},
        {"type": "document", "source": {"type": "url", "url": "https://example.com/a.pdf"}, "title": "A"},
        {"type": "document", "source": {"type": "text", "media_type": "text/plain", "data": "plain words"}},
        {"type": "text", "text": "compare them", "cache_control": {"type": "ephemeral", "ttl": "5m"}},
    ]
    message = claude.messages.create(
        model="claude-inspect",
        max_tokens=100,
        system=[{"type": "text", "text": "you compare files", "cache_control": one_hour}],
        tools=[{"name": "lookup", "input_schema": {"type": "object"}, "cache_control": one_hour}],
        messages=[{"role": "user", "content": content}],
        cache_control={"type": "ephemeral"},
        output_config={"effort": "low"},
    )
    assert message.content[0].type == "text"
    report = json.loads(message.content[0].text)
    assert report == {
        "images": [_inline(PNG, "image/png"), {"source": "url", "url": "https://example.com/cat.jpg"}],
        "documents": [
            _inline(PDF, "application/pdf"),
            {"source": "url", "url": "https://example.com/a.pdf", "title": "A"},
            _inline(b"plain words", "text/plain", source="text"),
        ],
        "audio": [],
        "cache_points": 4,
        "cache_ttls": ["1h", "1h", "5m", None],
        "reasoning": {"effort": "low"},
        "cached_content": None,
    }
    assert message.usage.input_tokens == 3 + 2 + 2 * IMAGE_TOKENS + 3 * DOCUMENT_TOKENS


def test_anthropic_stream_of_an_inspect_model(claude: anthropic.Anthropic) -> None:
    image: Any = {"type": "image", "source": {"type": "base64", "media_type": "image/gif", "data": _b64(b"GIF89a")}}
    with claude.messages.stream(
        model="claude-inspect", max_tokens=100, messages=[{"role": "user", "content": [image]}]
    ) as stream:
        text = "".join(stream.text_stream)
    assert json.loads(text)["images"] == [_inline(b"GIF89a", "image/gif")]


def test_anthropic_cache_write_lands_in_the_breakpoint_ttl(claude: anthropic.Anthropic) -> None:
    system: Any = [
        {"type": "text", "text": "a long stable prompt", "cache_control": {"type": "ephemeral", "ttl": "1h"}}
    ]
    message = claude.messages.create(
        model="claude-cache-write", max_tokens=100, system=system, messages=[{"role": "user", "content": "hi"}]
    )
    assert message.usage.cache_creation_input_tokens == 4
    assert message.usage.cache_creation is not None
    assert message.usage.cache_creation.ephemeral_1h_input_tokens == 4
    assert message.usage.cache_creation.ephemeral_5m_input_tokens == 0


def _cached(text: str, ttl: str | None = None) -> Any:
    control: dict[str, Any] = {"type": "ephemeral"}
    if ttl is not None:
        control["ttl"] = ttl
    return {"type": "text", "text": text, "cache_control": control}


def test_anthropic_refuses_more_than_four_breakpoints(claude: anthropic.Anthropic) -> None:
    system: Any = [_cached("a"), _cached("b"), _cached("c")]
    messages: Any = [{"role": "user", "content": [_cached("d"), _cached("e")]}]
    with pytest.raises(anthropic.BadRequestError) as refused:
        claude.messages.create(model="echo", max_tokens=10, system=system, messages=messages)
    body = refused.value.body
    assert isinstance(body, dict)
    assert body["error"] == {
        "type": "invalid_request_error",
        "message": "A maximum of 4 blocks with cache_control may be provided. Found 5.",
    }
    with pytest.raises(anthropic.BadRequestError, match="Found 5"):
        claude.messages.create(
            model="echo", max_tokens=10, system=system[:2], messages=messages, cache_control={"type": "ephemeral"}
        )


def test_anthropic_cache_ttl_rules(claude: anthropic.Anthropic) -> None:
    late_hour: Any = [{"role": "user", "content": [_cached("d", "1h")]}]
    with pytest.raises(anthropic.BadRequestError, match="ttl='1h' cache_control block must not come after"):
        claude.messages.create(model="echo", max_tokens=10, system=[_cached("s", "5m")], messages=late_hour)
    fine = claude.messages.create(model="echo", max_tokens=10, system=[_cached("s", "1h")], messages=late_hour)
    assert fine.content[0].type == "text"
    with pytest.raises(anthropic.BadRequestError, match=r"messages\.0\.content\.0\.cache_control\.ttl"):
        claude.messages.create(
            model="echo", max_tokens=10, messages=[{"role": "user", "content": [_cached("d", "10m")]}]
        )


@pytest.mark.parametrize(
    ("block", "message"),
    [
        (
            {"type": "image", "source": {"type": "base64", "media_type": "image/bmp", "data": _b64(PNG)}},
            "messages.0.content.0.image.source.base64.media_type: Input should be 'image/jpeg'",
        ),
        (
            {"type": "document", "source": {"type": "base64", "media_type": "text/html", "data": _b64(PDF)}},
            "messages.0.content.0.document.source.base64.media_type: Input should be 'application/pdf'",
        ),
        (
            {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "not base64!"}},
            "messages.0.content.0.image.source.base64.data: Invalid base64 data",
        ),
    ],
)
def test_anthropic_refuses_bad_blocks(claude: anthropic.Anthropic, block: Any, message: str) -> None:
    with pytest.raises(anthropic.BadRequestError) as refused:
        claude.messages.create(model="echo", max_tokens=10, messages=[{"role": "user", "content": [block]}])
    body = refused.value.body
    assert isinstance(body, dict)
    assert body["error"]["type"] == "invalid_request_error"
    assert body["error"]["message"].startswith(message)


# --- Gemini ----------------------------------------------------------------------------------------------


def test_gemini_inline_and_file_parts_arrive_intact(gemini: genai.Client) -> None:
    contents: Any = [
        types.Part.from_bytes(data=PNG, mime_type="image/png"),
        types.Part.from_bytes(data=PDF, mime_type="application/pdf"),
        types.Part.from_bytes(data=MP3, mime_type="audio/mp3"),
        types.Part.from_uri(file_uri="https://example.com/talk.mp4", mime_type="video/mp4"),
        "what is in these",
    ]
    config = types.GenerateContentConfig(
        thinking_config=types.ThinkingConfig(thinking_budget=512, include_thoughts=False)
    )
    response = gemini.models.generate_content(model="gemini-inspect", contents=contents, config=config)
    report = json.loads(response.text or "")
    assert report == {
        "images": [_inline(PNG, "image/png")],
        "documents": [
            _inline(PDF, "application/pdf"),
            {"source": "url", "media_type": "video/mp4", "url": "https://example.com/talk.mp4"},
        ],
        "audio": [_inline(MP3, "audio/mp3")],
        "cache_points": 0,
        "cache_ttls": [],
        "reasoning": {"thinkingConfig": {"include_thoughts": False, "thinking_budget": 512}},
        "cached_content": None,
    }
    usage = response.usage_metadata
    assert usage is not None
    assert usage.prompt_token_count == 4 + IMAGE_TOKENS + 2 * DOCUMENT_TOKENS + AUDIO_TOKENS
    details = {(d.modality.value if d.modality else None): d.token_count for d in usage.prompt_tokens_details or ()}
    assert details == {"TEXT": 4, "IMAGE": IMAGE_TOKENS, "AUDIO": AUDIO_TOKENS, "DOCUMENT": 2 * DOCUMENT_TOKENS}


def test_gemini_refuses_data_that_is_not_base64(sandbox: Sandbox) -> None:
    body = {"contents": [{"role": "user", "parts": [{"inlineData": {"mimeType": "image/png", "data": "@@@"}}]}]}
    response = httpx2.post(
        f"{sandbox.url}/v1beta/models/echo:generateContent", json=body, headers={"x-goog-api-key": _key("g")}
    )
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["status"] == "INVALID_ARGUMENT"
    assert error["message"].startswith("Invalid value at 'contents[0].parts[0].inline_data.data' (TYPE_BYTES)")


def test_gemini_stream_counts_media(gemini: genai.Client) -> None:
    contents: Any = [types.Part.from_bytes(data=PNG, mime_type="image/png"), "two words"]
    chunks = list(gemini.models.generate_content_stream(model="echo", contents=contents))
    assert "".join(c.text or "" for c in chunks) == "two words"
    usage = chunks[-1].usage_metadata
    assert usage is not None
    assert usage.prompt_token_count == 2 + IMAGE_TOKENS


# --- the same report everywhere --------------------------------------------------------------------------


def test_the_inspect_report_has_one_shape(
    oai: openai.OpenAI, claude: anthropic.Anthropic, gemini: genai.Client, groq_client: groq.Groq
) -> None:
    url = f"data:image/png;base64,{_b64(PNG)}"
    openai_part: Any = {"type": "image_url", "image_url": {"url": url}}
    reports = [
        oai.chat.completions.create(model="inspect", messages=[{"role": "user", "content": [openai_part]}])
        .choices[0]
        .message.content,
        groq_client.chat.completions.create(model="inspect", messages=[{"role": "user", "content": [openai_part]}])
        .choices[0]
        .message.content,
        claude.messages.create(
            model="inspect",
            max_tokens=10,
            messages=[
                {
                    "role": "user",
                    "content": [
                        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": _b64(PNG)}}
                    ],
                }
            ],
        )
        .content[0]
        .model_dump()["text"],
        gemini.models.generate_content(
            model="inspect", contents=[types.Part.from_bytes(data=PNG, mime_type="image/png")]
        ).text,
    ]
    docs = [json.loads(r or "") for r in reports]
    assert all(set(d) == set(docs[0]) for d in docs)
    assert all(d["images"] == [_inline(PNG, "image/png")] for d in docs)
    with pytest.raises(genai_errors.ClientError):  # and a part Gemini refuses is refused
        gemini.models.generate_content(model="inspect", contents=[{"role": "user", "parts": [{"inline_data": {}}]}])
