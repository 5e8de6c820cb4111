"""The AI examples in docs/examples run, as written: chat ones against the provider emulation, the prompts one
against the sandbox."""

from __future__ import annotations

import json
import runpy
from pathlib import Path
from typing import Any

import pytest

from ._fake import FakeServer

EXAMPLES = Path(__file__).resolve().parents[2] / "docs" / "examples"


def test_chat_example(
    env: dict[str, str], fake: FakeServer, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("ATRIUMN_AI_MODEL", "gemini:tool")
    runpy.run_path(str(EXAMPLES / "ai_chat.py"), run_name="__main__")
    out = capsys.readouterr().out
    assert "Say hello in five words." in out  # the emulation's tool model echoes without tools
    assert "finish: stop" in out
    assert 'tool said: {"city": "test", "temperature": 21, "unit": "test"}' in out
    assert [r["path"] for r in fake.requests].count("/v1beta/models/tool:generateContent") == 3


def test_structured_example(
    env: dict[str, str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("ATRIUMN_AI_MODEL", "openai:json")
    # The emulation's json model answers any schema; score_texts needs the scorer model, so point it there.
    import atriumn.ai._chat_sync as chat

    original = chat.ChatClient.score_texts

    def score_with_scorer(self: Any, items: Any, **kw: Any) -> Any:
        kw["model"] = "openai:scorer"
        return original(self, items, **kw)

    monkeypatch.setattr(chat.ChatClient, "score_texts", score_with_scorer)
    runpy.run_path(str(EXAMPLES / "ai_structured.py"), run_name="__main__")
    out = capsys.readouterr().out
    assert "Review(sentiment='test', stars=1, summary='test')" in out
    assert "t0 16.0" in out
    assert "t1 17.0" in out


def test_prompts_example(
    atriumn_sandbox: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("ATRIUMN_API_KEY", raising=False)
    monkeypatch.setenv("ATRIUMN_API_BASE_URL", atriumn_sandbox.url)
    monkeypatch.setenv("ATRIUMN_CLIENT_ID", atriumn_sandbox.admin_client_id)
    monkeypatch.setenv("ATRIUMN_CLIENT_SECRET", atriumn_sandbox.admin_client_secret)
    runpy.run_path(str(EXAMPLES / "ai_prompts.py"), run_name="__main__")
    out = capsys.readouterr().out
    assert "Write a welcome note for Ada joining Atriumn." in out
    assert "welcome 1" in out
    assert "'output': 'A long text to summarise.'" in out


def test_request_options_example(
    atriumn_sandbox: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("ATRIUMN_API_KEY", raising=False)
    monkeypatch.setenv("ATRIUMN_API_BASE_URL", atriumn_sandbox.url)
    monkeypatch.setenv("ATRIUMN_CLIENT_ID", atriumn_sandbox.admin_client_id)
    monkeypatch.setenv("ATRIUMN_CLIENT_SECRET", atriumn_sandbox.admin_client_secret)
    runpy.run_path(str(EXAMPLES / "request_options.py"), run_name="__main__")
    assert capsys.readouterr().out.splitlines() == ["greeting", "200 application/json True", "Say hello to {{name}}."]


def test_tool_loop_example(
    atriumn_sandbox: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    url = atriumn_sandbox.url
    monkeypatch.setenv("ATRIUMN_AI_MODEL", "openai:steps")
    monkeypatch.setenv("OPENAI_API_KEY", "test-openai-key")
    monkeypatch.setenv("OPENAI_BASE_URL", f"{url}/v1")
    runpy.run_path(str(EXAMPLES / "ai_tool_loop.py"), run_name="__main__")
    weather = '{"city": "sandbox", "temperature": 21, "unit": "celsius"}'
    assert capsys.readouterr().out.splitlines() == [
        f"done: {weather} | 14:05",
        f"  get_weather -> {weather}",
        "  get_time -> 14:05",
        "3 rounds, 46 tokens in all",
        "calling get_weather",
        f"result {weather}",
    ]


PIXEL_SHA256 = "c414cd0e204de974f73753c7e28d7638e7b3691bb8b1a2bab6b25bb7fed7ce77"


@pytest.mark.parametrize(
    ("model", "cache_line"),
    [
        ("anthropic:inspect-reason-cache-write", "cache: 320 written, 0 read"),
        ("gemini:inspect-reason-cache", "cache: 0 written, 320 read"),
    ],
)
def test_content_example(
    atriumn_sandbox: Any,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    model: str,
    cache_line: str,
) -> None:
    """The image arrives intact (the sandbox's inspect report), reasoning comes back and goes back (the follow-up
    is refused by the emulation if its thinking or signatures were dropped), the cache point is honoured."""
    for provider in ("ANTHROPIC", "GEMINI"):
        monkeypatch.setenv(f"{provider}_API_KEY", f"test-{provider.lower()}-key")
        monkeypatch.setenv(f"{provider}_BASE_URL", atriumn_sandbox.url)
    monkeypatch.setenv("ATRIUMN_AI_MODEL", model)
    runpy.run_path(str(EXAMPLES / "ai_content.py"), run_name="__main__")
    report, thought, cache, follow_up = capsys.readouterr().out.splitlines()
    image = json.loads(report)["images"][0]
    assert (image["source"], image["media_type"], image["bytes"], image["sha256"]) == (
        "base64", "image/png", 70, PIXEL_SHA256,
    )  # fmt: skip
    assert thought.startswith("thought: 'I read the request")
    assert cache == cache_line
    assert json.loads(follow_up)["images"][0]["sha256"] == PIXEL_SHA256


def test_gemini_cache_example(
    atriumn_sandbox: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("GEMINI_API_KEY", "test-gemini-cache-example")
    monkeypatch.setenv("GEMINI_BASE_URL", atriumn_sandbox.url)
    monkeypatch.setenv("ATRIUMN_AI_MODEL", "gemini:echo")
    runpy.run_path(str(EXAMPLES / "ai_gemini_cache.py"), run_name="__main__")
    created, answer, usage = capsys.readouterr().out.splitlines()
    assert created.startswith("cached 1402 tokens as cachedContents/")
    assert answer == "Did revenue grow?"
    assert usage == "1402 of 1405 prompt tokens read from the cache"
    # Deleted afterwards: the key has no cache left.
    from atriumn.ai import ChatClient

    with ChatClient() as client:
        assert list(client.caches.list()) == []


def test_batches_example(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """docs/examples/ai_batches.py (shown in docs/batches.md) on the embedded sandbox it starts itself."""
    for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "ATRIUMN_AI_MODEL", "ATRIUMN_AI_PRICES"):
        monkeypatch.delenv(name, raising=False)
    runpy.run_path(str(EXAMPLES / "ai_batches.py"), run_name="__main__")
    out = capsys.readouterr().out
    assert "5 requests, 1 provider batch (queued)" in out
    assert "completed  5/5 requests done" in out
    assert "city-4: Tromsø in one sentence." in out
    assert "5 answered at batch prices: $0.00000900" in out  # 3 in + 3 out tokens each, at half gpt-4o-mini's prices
