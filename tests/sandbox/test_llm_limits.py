"""The LLM emulation's provider rate limits: the budget's arithmetic (clock injected) and, over real sockets,
each provider's headers and 429s. Windows are a minute, so nothing refills noticeably during a test."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator

import httpx2
import pytest

from atriumn.core import parse_duration
from atriumn.sandbox import Sandbox, SandboxConfig
from atriumn.sandbox._cli import _parser
from atriumn.sandbox._llm._limits import Budgets

ANTHROPIC = {"anthropic-version": "2023-06-01"}


@pytest.fixture(scope="module")
def limited() -> Iterator[str]:
    sandbox = Sandbox(SandboxConfig(llm_rpm=3, llm_tpm=60, llm_window=60.0)).start()
    try:
        yield sandbox.url
    finally:
        sandbox.stop()


def key() -> str:
    return f"sk-{uuid.uuid4().hex}"


def openai_chat(
    url: str, api_key: str, text: str = "hello there", path: str = "/v1/chat/completions"
) -> httpx2.Response:
    body = {"model": "gpt-4o", "messages": [{"role": "user", "content": text}]}
    return httpx2.post(url + path, json=body, headers={"Authorization": f"Bearer {api_key}"})


def test_budget_bursts_to_the_limit_then_refills_at_the_rate() -> None:
    now = [0.0]
    budgets = Budgets(rpm=4, tpm=None, window=2.0, clock=lambda: now[0])  # a request every 0.5 s
    assert [budgets.take("openai", "k", 0).admitted for _ in range(5)] == [True] * 4 + [False]
    refused = budgets.take("openai", "k", 0)
    assert refused.exhausted == "requests"
    assert refused.retry_after == pytest.approx(0.5)
    assert refused.requests == (4, 0, pytest.approx(2.0))  # limit, remaining, seconds until full
    now[0] = 0.5
    assert budgets.take("openai", "k", 0).admitted
    assert not budgets.take("openai", "k", 0).admitted
    assert budgets.take("openai", "other-key", 0).admitted  # every key has its own budget
    assert budgets.take("anthropic", "k", 0).admitted  # and every provider


def test_tokens_are_a_second_budget() -> None:
    now = [0.0]
    budgets = Budgets(rpm=None, tpm=100, window=10.0, clock=lambda: now[0])  # 10 tokens a second
    assert budgets.take("groq", "k", 70).admitted
    refused = budgets.take("groq", "k", 40)
    assert (refused.admitted, refused.exhausted, refused.used, refused.requested) == (False, "tokens", 70, 40)
    assert refused.retry_after == pytest.approx(1.0)
    now[0] = 1.0
    assert budgets.take("groq", "k", 40).admitted
    assert budgets.take("groq", "k", 101).retry_after == float("inf")  # larger than the whole budget: never


def test_openai_headers_count_down_and_the_429_names_the_limit(limited: str) -> None:
    k = key()
    answers = [openai_chat(limited, k) for _ in range(4)]
    assert [r.status_code for r in answers] == [200, 200, 200, 429]
    assert [r.headers["x-ratelimit-remaining-requests"] for r in answers[:3]] == ["2", "1", "0"]
    first = answers[0].headers
    assert first["x-ratelimit-limit-requests"] == "3"
    assert first["x-ratelimit-limit-tokens"] == "60"
    assert first["x-ratelimit-remaining-tokens"] == "56"  # "hello there" in, "hello there" out
    assert 19 < parse_duration(first["x-ratelimit-reset-requests"]) <= 20  # one request refills in 20 s
    refused = answers[3]
    error = refused.json()["error"]
    assert (error["type"], error["code"]) == ("requests", "rate_limit_exceeded")
    assert "Limit 3, Used 3, Requested 1" in error["message"]
    assert "retry-after" not in refused.headers
    assert refused.headers["x-ratelimit-remaining-requests"] == "0"
    assert openai_chat(limited, key()).status_code == 200  # another key, another budget


def test_openai_tokens_per_minute(limited: str) -> None:
    k = key()
    text = " ".join(["word"] * 25)  # 25 in, 25 echoed: 50 of the 60 tokens
    assert openai_chat(limited, k, text).status_code == 200
    refused = openai_chat(limited, k, text)
    assert refused.status_code == 429
    assert refused.json()["error"]["type"] == "tokens"
    assert "Limit 60, Used 50, Requested 50" in refused.json()["error"]["message"]


def test_groq_429_has_retry_after(limited: str) -> None:
    k = key()
    answers = [openai_chat(limited, k, path="/openai/v1/chat/completions") for _ in range(4)]
    assert answers[-1].status_code == 429
    assert answers[-1].headers["retry-after"] == "20"  # whole seconds, rounded up


def test_anthropic_headers_and_429(limited: str) -> None:
    k = key()
    body = {"model": "claude-x", "max_tokens": 10, "messages": [{"role": "user", "content": "hi"}]}
    answers = [
        httpx2.post(limited + "/v1/messages", json=body, headers={**ANTHROPIC, "x-api-key": k}) for _ in range(4)
    ]
    assert [r.status_code for r in answers] == [200, 200, 200, 429]
    head = answers[0].headers
    assert head["anthropic-ratelimit-requests-limit"] == "3"
    assert head["anthropic-ratelimit-requests-remaining"] == "2"
    assert head["anthropic-ratelimit-input-tokens-limit"] == "60"
    assert head["anthropic-ratelimit-output-tokens-remaining"] == "58"
    reset = dt.datetime.fromisoformat(head["anthropic-ratelimit-requests-reset"].replace("Z", "+00:00"))
    assert 0 < (reset - dt.datetime.now(dt.timezone.utc)).total_seconds() <= 21
    refused = answers[3]
    assert refused.json()["error"]["type"] == "rate_limit_error"
    assert refused.headers["retry-after"] == "20"


def test_gemini_429_is_resource_exhausted_with_retry_info(limited: str) -> None:
    k = key()
    url = limited + "/v1beta/models/gemini-2.0-flash:generateContent"
    body = {"contents": [{"parts": [{"text": "hi"}]}]}
    answers = [httpx2.post(url, json=body, headers={"x-goog-api-key": k}) for _ in range(4)]
    assert [r.status_code for r in answers] == [200, 200, 200, 429]
    assert not any(h.startswith("x-ratelimit") for h in answers[0].headers)  # Gemini sends none
    error = answers[3].json()["error"]
    assert error["status"] == "RESOURCE_EXHAUSTED"
    retry = next(d for d in error["details"] if d["@type"].endswith("google.rpc.RetryInfo"))
    assert 19 < parse_duration(retry["retryDelay"]) <= 20
    quota = next(d for d in error["details"] if d["@type"].endswith("google.rpc.QuotaFailure"))
    assert quota["violations"][0]["quotaDimensions"]["model"] == "gemini-2.0-flash"


def test_refused_keys_and_other_routes_are_not_counted(limited: str) -> None:
    assert openai_chat(limited, "invalid-key").status_code == 401
    k = key()
    for _ in range(5):
        assert httpx2.get(limited + "/v1/models", headers={"Authorization": f"Bearer {k}"}).status_code == 200
    assert openai_chat(limited, k).headers["x-ratelimit-remaining-requests"] == "2"


def test_cli_flags_and_configuration() -> None:
    args = _parser().parse_args(["serve", "--llm-rpm", "120", "--llm-tpm", "40000", "--llm-window", "3"])
    assert (args.llm_rpm, args.llm_tpm, args.llm_window) == (120, 40000, 3.0)
    assert _parser().parse_args(["serve"]).llm_rpm is None
    with pytest.raises(ValueError, match="llm_rpm"):
        SandboxConfig(llm_rpm=0)
    with pytest.raises(ValueError, match="llm_window"):
        SandboxConfig(llm_window=0)
