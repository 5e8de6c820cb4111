"""Content parts and the checks made before sending: media types, files, sizes, what each provider takes,
reasoning controls and cache points. Sans-IO (the engine plans requests; nothing is sent)."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import pytest

from atriumn.ai import (
    AudioPart,
    CachePoint,
    ChatResponse,
    DocumentPart,
    ImagePart,
    Message,
    Reasoning,
    ReasoningPart,
    TextPart,
    ToolCall,
    UnsupportedParameterError,
)
from atriumn.ai._engine import Engine
from atriumn.core import ValidationError

PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 24
JPEG = b"\xff\xd8\xff\xe0" + b"\0" * 16
PDF = b"%PDF-1.7\n" + b"\0" * 16
WAV = b"RIFF\x24\0\0\0WAVEfmt " + b"\0" * 16
KEYS = {p: f"key-{p}" for p in ("openai", "anthropic", "gemini", "groq")}


def plan(model: str, messages: Any, **params: Any) -> Any:
    engine = Engine(api_keys=KEYS, environ={})
    return engine.plan(model, None, messages, params)[0][0]


def test_media_types_are_detected_from_bytes_then_names(tmp_path: Path) -> None:
    assert ImagePart.from_bytes(PNG).media_type == "image/png"
    assert ImagePart.from_bytes(JPEG).media_type == "image/jpeg"
    assert DocumentPart.from_bytes(PDF).media_type == "application/pdf"
    assert AudioPart.from_bytes(WAV).media_type == "audio/wav"
    assert AudioPart.from_bytes(WAV).format == "wav"
    assert ImagePart.from_url("https://example.com/cat.webp").media_type == "image/webp"
    path = tmp_path / "scan.pdf"
    path.write_bytes(PDF)
    doc = DocumentPart.from_file(path)
    assert (doc.media_type, doc.filename, doc.size) == ("application/pdf", "scan.pdf", len(PDF))
    assert doc.data_url.startswith("data:application/pdf;base64,")
    assert base64.b64decode(doc.base64) == PDF


def test_bad_media_input_names_the_problem(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match=r"^image: no such file: .*missing.png"):
        ImagePart.from_file(tmp_path / "missing.png")
    with pytest.raises(ValidationError, match=r"image.media_type: cannot tell"):
        ImagePart.from_bytes(b"not an image")
    with pytest.raises(ValidationError, match=r"'application/pdf' is not a image type"):
        ImagePart.from_bytes(PDF)
    with pytest.raises(ValidationError, match="either data"):
        ImagePart(data=PNG, url="https://x/y.png")
    with pytest.raises(ValidationError, match="detail"):
        ImagePart.from_bytes(PNG, detail="huge")
    with pytest.raises(ValidationError, match="http"):
        ImagePart.from_url("ftp://x/y.png")


def test_openai_style_dicts_read_into_the_same_parts() -> None:
    data_url = "data:image/png;base64," + base64.b64encode(PNG).decode()
    message = {
        "role": "user",
        "content": [
            {"type": "text", "text": "what is this?", "prompt_cache_breakpoint": {"mode": "explicit", "ttl": "30m"}},
            {"type": "image_url", "image_url": {"url": data_url, "detail": "low"}},
            {"type": "input_audio", "input_audio": {"data": base64.b64encode(WAV).decode(), "format": "wav"}},
            {
                "type": "file",
                "file": {
                    "file_data": "data:application/pdf;base64," + base64.b64encode(PDF).decode(),
                    "filename": "a.pdf",
                },
            },
        ],
    }
    req = plan("openai:gpt-4o", [message])
    assert req.messages[0].content == (
        TextPart(text="what is this?"),
        CachePoint(ttl="30m"),
        ImagePart(data=PNG, media_type="image/png", detail="low"),
        AudioPart(data=WAV, media_type="audio/wav"),
        DocumentPart(data=PDF, media_type="application/pdf", filename="a.pdf"),
    )
    with pytest.raises(
        ValidationError, match=r"messages\[0\].content\[0\].type: unsupported content part type 'video'"
    ):
        plan("openai:gpt-4o", [{"role": "user", "content": [{"type": "video"}]}])
    bad = {"type": "image_url", "image_url": {"url": "data:image/png;base64,@@"}}
    with pytest.raises(ValidationError, match=r"not valid base64"):
        plan("openai:gpt-4o", [{"role": "user", "content": [bad]}])


@pytest.mark.parametrize(
    ("model", "part", "reason"),
    [
        ("groq:llama-4", DocumentPart.from_bytes(PDF), "groq takes no document input"),
        ("groq:llama-4", AudioPart.from_bytes(WAV), "groq takes no audio input"),
        ("anthropic:claude-sonnet-4-5", AudioPart.from_bytes(WAV), "anthropic takes no audio input"),
        ("openai:gpt-4o", DocumentPart.from_url("https://x/a.pdf"), "openai takes documents inline only"),
        ("openai:gpt-4o", AudioPart.from_bytes(b"fLaC" + b"\0" * 8), "openai takes wav or mp3 audio"),
    ],
)
def test_a_part_a_provider_cannot_take_is_refused_before_sending(model: str, part: Any, reason: str) -> None:
    with pytest.raises(UnsupportedParameterError) as info:
        plan(model, [Message.user("look", part)])
    assert str(info.value).startswith(f"messages[0].content[1]: not supported by {model} ({reason}")


def test_inline_sizes_are_checked_per_provider() -> None:
    big = ImagePart.from_bytes(PNG + b"\0" * 5_000_001)
    with pytest.raises(ValidationError, match=r"the image is 5,000,033 bytes; anthropic takes at most 5,000,000"):
        plan("anthropic:claude-sonnet-4-5", [Message.user("look", big)])
    plan("openai:gpt-4o", [Message.user("look", big)])  # OpenAI takes 20 MB images
    many = [ImagePart.from_bytes(PNG + b"\0" * 7_000_000) for _ in range(3)]
    with pytest.raises(ValidationError, match=r"bytes of inline media; gemini takes at most 20,000,000"):
        plan("gemini:gemini-2.5-flash", [Message.user("look", *many)])


def test_media_goes_in_user_messages() -> None:
    with pytest.raises(ValidationError, match=r"messages\[0\].content\[0\]: images go in user messages"):
        plan("openai:gpt-4o", [Message(role="assistant", content=(ImagePart.from_bytes(PNG),))])


@pytest.mark.parametrize(
    ("model", "reasoning", "error"),
    [
        ("openai:o4", Reasoning(budget_tokens=2000), "reasoning.budget_tokens: not supported by openai:o4"),
        ("groq:qwen3", Reasoning(effort="xhigh"), "reasoning.effort: not supported by groq:qwen3"),
        ("anthropic:claude-opus-4-5", Reasoning(effort="minimal"), "reasoning.effort: not supported"),
        ("gemini:gemini-3-pro", Reasoning(effort="max"), "reasoning.effort: not supported by gemini:gemini-3-pro"),
        ("anthropic:claude-opus-4-5", Reasoning(budget_tokens=512), "anthropic takes at least 1024"),
        ("anthropic:claude-opus-4-5", Reasoning(budget_tokens=5000), "less than max_tokens (4096)"),
    ],
)
def test_reasoning_controls_a_provider_does_not_take_are_refused(model: str, reasoning: Reasoning, error: str) -> None:
    with pytest.raises(ValidationError, match=error.replace("(", r"\(").replace(")", r"\)")):
        plan(model, "think", reasoning=reasoning)
    with pytest.raises(ValidationError, match="give effort=, budget_tokens=, or both"):
        Reasoning()


def test_an_effort_name_is_a_reasoning() -> None:
    assert plan("openai:o4", "think", reasoning="high").reasoning == Reasoning(effort="high")


def test_cache_points_are_counted_and_their_ttls_checked() -> None:
    five = [Message.user("a", CachePoint())] * 5
    with pytest.raises(ValidationError, match=r"messages\[4\].content\[1\]: anthropic takes at most 4 cache points"):
        plan("anthropic:claude-sonnet-4-5", five)
    with pytest.raises(ValidationError, match=r"system\[1\].ttl: anthropic takes 1h or 5m, not '30m'"):
        plan("anthropic:claude-sonnet-4-5", "hi", system=["rules", CachePoint(ttl="30m")])
    with pytest.raises(ValidationError, match=r"tools\[1\].ttl: anthropic takes 1h or 5m, not '30m'"):
        plan("anthropic:claude-sonnet-4-5", "hi", tools=[{"name": "f"}, CachePoint(ttl="30m")])
    with pytest.raises(ValidationError, match=r"messages\[0\].content\[1\].ttl: openai takes 12h or 30m, not '1h'"):
        plan("openai:gpt-4o", [Message.user("a", CachePoint(ttl="1h"))])
    # Chat Completions has no breakpoint on tools: a point after a tool is left out, not counted or checked.
    plan("openai:gpt-4o", [Message.user("a", CachePoint())] * 4, tools=[{"name": "f"}, CachePoint(ttl="1h")])
    plan("gemini:gemini-2.5-flash", five)  # Gemini caches implicitly: the points are ignored
    with pytest.raises(ValidationError, match=r"tools\[0\]: a CachePoint must follow a tool"):
        plan("openai:gpt-4o", "hi", tools=[CachePoint()])


@pytest.mark.parametrize("option", ["prompt_cache_key", "cached_content"])
def test_provider_specific_cache_options_are_refused_elsewhere(option: str) -> None:
    value = "cachedContents/abc" if option == "cached_content" else "user-42"
    for model in ("anthropic:claude-sonnet-4-5", "groq:llama"):
        with pytest.raises(UnsupportedParameterError, match=option):
            plan(model, "hi", **{option: value})


def test_reasoning_goes_back_as_received_and_other_providers_reasoning_is_left_out() -> None:
    thought = ReasoningPart(text="let me think", signature="sig-1", provider="anthropic")
    response = ChatResponse(
        text="",
        parts=(thought, ToolCall(id="toolu_1", name="f", arguments={})),
        tool_calls=(ToolCall(id="toolu_1", name="f", arguments={}),),
        provider="anthropic",
    )
    assert response.reasoning == "let me think"
    message = response.message
    assert message.content == (thought,) and message.tool_calls == response.tool_calls
    engine = Engine(api_keys=KEYS, environ={})
    history = ["q", message, Message.tool("toolu_1", "done", name="f")]
    [(req, adapter)] = engine.plan("anthropic:claude-sonnet-4-5", None, history, {})
    body = adapter.body(req, stream=False)
    assert body["messages"][1]["content"][0] == {"type": "thinking", "thinking": "let me think", "signature": "sig-1"}
    [(req, adapter)] = engine.plan("openai:gpt-4o", None, history, {})
    assert "thinking" not in str(adapter.body(req, stream=False))  # Anthropic's state means nothing to OpenAI


def test_reasoning_off_with_a_budget_is_a_contradiction() -> None:
    with pytest.raises(ValidationError, match="effort 'none' turns reasoning off"):
        Reasoning(effort="none", budget_tokens=2048)
    assert Reasoning(effort="none", budget_tokens=0).budget_tokens == 0
