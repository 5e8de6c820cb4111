"""Sans-IO pieces on their own: schemas from Python types, the schema check, capabilities, rate-limit parsing."""

from __future__ import annotations

import enum
from typing import Literal, Optional

import attrs
import pytest

from atriumn.ai import Tool, register_capabilities
from atriumn.ai._capabilities import check_parameters
from atriumn.ai._ratelimits import parse_rate_limits
from atriumn.ai._schema import schema_for_type
from atriumn.ai._validate import first_error


class Colour(enum.Enum):
    RED = "red"
    BLUE = "blue"


@attrs.frozen
class Inner:
    x: int


@attrs.frozen
class Outer:
    name: str
    inner: Inner
    tags: list[str]
    colour: Colour
    mode: Literal["a", "b"]
    note: Optional[str] = None  # noqa: UP045 - the typing spelling must work too
    ratio: float | None = None


def search(query: str, limit: int = 10, *, exact: bool = False, tags: list[str] | None = None) -> list[str]:
    """Search things.

    More text.
    """
    return []


def test_tool_from_function() -> None:
    tool = Tool.from_function(search)
    assert tool.name == "search"
    assert tool.description == "Search things."
    assert tool.parameters == {
        "type": "object",
        "properties": {
            "query": {"type": "string"},
            "limit": {"type": "integer"},
            "exact": {"type": "boolean"},
            "tags": {"anyOf": [{"type": "array", "items": {"type": "string"}}, {"type": "null"}]},
        },
        "required": ["query"],
        "additionalProperties": False,
    }


def test_schema_for_attrs_class() -> None:
    schema = schema_for_type(Outer)
    assert schema["required"] == ["name", "inner", "tags", "colour", "mode"]
    assert schema["properties"]["inner"]["properties"] == {"x": {"type": "integer"}}
    assert schema["properties"]["colour"] == {"enum": ["red", "blue"]}
    assert schema["properties"]["mode"] == {"enum": ["a", "b"]}
    assert schema["properties"]["note"] == {"anyOf": [{"type": "string"}, {"type": "null"}]}
    from atriumn.core import ValidationError

    with pytest.raises(ValidationError, match="cannot express <class 'object'> as JSON Schema"):
        schema_for_type(object)


def test_first_error_paths() -> None:
    schema = schema_for_type(Outer)
    good = {"name": "n", "inner": {"x": 1}, "tags": ["a"], "colour": "red", "mode": "a"}
    assert first_error(good, schema) is None
    assert first_error({**good, "inner": {"x": "1"}}, schema) == ("$.inner.x", "expected integer, got str")
    assert first_error({**good, "tags": ["a", 2]}, schema) == ("$.tags[1]", "expected string, got int")
    assert first_error({k: v for k, v in good.items() if k != "mode"}, schema) == (
        "$.mode",
        "required property missing",
    )
    assert first_error({**good, "extra": 1}, schema) == ("$.extra", "property not allowed by the schema")
    assert first_error({**good, "colour": "green"}, schema) is not None
    assert first_error(True, {"type": "integer"}) is not None
    assert first_error(3, {"type": "integer", "maximum": 2}) is not None


def test_capabilities_can_be_registered() -> None:
    check_parameters("gemini", "gemini-2.5-pro", {"temperature": 0.1, "top_k": 3})
    register_capabilities("gemini", r"^gemini-test-no-sampling$", unsupported={"temperature"}, reason="test rule")
    with pytest.raises(ValueError, match="temperature: not supported by gemini:gemini-test-no-sampling"):
        check_parameters("gemini", "gemini-test-no-sampling", {"temperature": 0.1})
    check_parameters("gemini", "gemini-test-no-sampling", {"temperature": None})
    # A rule registered after a model's answer was remembered still applies to it.
    check_parameters("gemini", "gemini-test-later", {"top_p": 0.5})
    register_capabilities("gemini", r"^gemini-test-later$", unsupported={"top_p"}, reason="later rule")
    with pytest.raises(ValueError, match="top_p: not supported by gemini:gemini-test-later"):
        check_parameters("gemini", "gemini-test-later", {"top_p": 0.5})


def test_rate_limit_parsing() -> None:
    info = parse_rate_limits(
        "groq",
        {
            "x-ratelimit-limit-requests": "14400",
            "x-ratelimit-remaining-requests": "14370",
            "x-ratelimit-reset-requests": "2m59.56s",
            "x-ratelimit-reset-tokens": "7.66s",
            "retry-after": "2",
        },
    )
    assert info.limit_requests == 14400
    assert info.reset_requests == pytest.approx(179.56)
    assert info.reset_tokens == pytest.approx(7.66)
    assert info.retry_after == 2.0
    assert parse_rate_limits("gemini", {}).limit_requests is None
    odd = parse_rate_limits("openai", {"x-ratelimit-limit-requests": "lots", "x-ratelimit-reset-requests": "soon"})
    assert odd.limit_requests is None
    assert odd.reset_requests is None


def test_gemini_stream_keeps_text_and_calls_in_order() -> None:
    import json

    from atriumn.ai import ReasoningPart, TextPart, ToolCall
    from atriumn.ai._sse import ServerSentEvent
    from atriumn.ai.providers.gemini import _GeminiStream

    def chunk(*parts: dict[str, object], finish: str | None = None) -> dict[str, object]:
        cand: dict[str, object] = {"content": {"role": "model", "parts": list(parts)}}
        if finish:
            cand["finishReason"] = finish
        return {"candidates": [cand], "modelVersion": "g-1", "responseId": "r1"}

    chunks = [
        chunk({"text": "Let me "}),
        chunk({"text": "check."}, {"functionCall": {"name": "lookup", "args": {"q": "x"}}}),
        chunk({"thought": True, "text": "hidden"}, {"text": "Done"}),
        chunk({"text": "."}, finish="STOP"),
    ]
    state = _GeminiStream("gemini-requested")
    deltas = [e for c in chunks for e in state.feed(ServerSentEvent("message", json.dumps(c)))]
    assert [getattr(d, "text", None) for d in deltas if d.type == "text_delta"] == ["Let me ", "check.", "Done", "."]
    assert state.text == "Let me check.Done."
    streamed = state.finish()
    assert streamed.parts == (
        TextPart(text="Let me check."),
        ToolCall(id="call_0", name="lookup", arguments={"q": "x"}),
        ReasoningPart(text="hidden", provider="gemini"),  # a thought is kept, in order, apart from the text
        TextPart(text="Done."),
    )
    assert [d.text for d in deltas if d.type == "reasoning_delta"] == ["hidden"]  # type: ignore[union-attr]
    assert streamed.reasoning == "hidden"
    assert streamed.text == "Let me check.Done." and streamed.model == "g-1" and streamed.id == "r1"
    assert streamed.finish_reason == "tool_calls"


def test_rate_limit_parsing_from_the_transports_headers() -> None:
    import datetime as dt

    from atriumn.core import Headers

    pairs = [
        ("Date", "x"),
        ("X-RateLimit-Limit-Tokens", "30000"),
        ("X-RateLimit-Remaining-Tokens", "29000"),
        ("X-RateLimit-Reset-Tokens", "6m0s"),
        ("Server", "s"),
    ]
    for _ in range(2):  # the second read of "6m0s" comes from the memo of parsed durations: still right
        info = parse_rate_limits("openai", Headers(pairs))
        assert (info.limit_tokens, info.remaining_tokens, info.reset_tokens) == (30000, 29000, 360.0)
        assert info.raw == {
            "x-ratelimit-limit-tokens": "30000",
            "x-ratelimit-remaining-tokens": "29000",
            "x-ratelimit-reset-tokens": "6m0s",
        }
    # Anthropic's resets are times: read against the clock on every call, never remembered.
    soon = (dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=30)).isoformat()
    past = (dt.datetime.now(dt.timezone.utc) - dt.timedelta(seconds=30)).isoformat()
    assert 0 < (parse_rate_limits("anthropic", {"anthropic-ratelimit-tokens-reset": soon}).reset_tokens or 0) <= 30
    assert parse_rate_limits("anthropic", {"anthropic-ratelimit-tokens-reset": past}).reset_tokens == 0.0
    # retry-after-ms alone is a rate limit too.
    assert parse_rate_limits("openai", {"retry-after-ms": "1500"}).retry_after == 1.5


def test_headers_join_a_repeated_field() -> None:
    from atriumn.core import Headers

    headers = Headers([("Via", "a"), ("X-One", "1"), ("via", "b")])
    assert headers["VIA"] == "a, b"
    assert headers.get_list("via") == ["a", "b"]
    assert headers["x-one"] == "1"


def test_rate_limits_read_on_access_are_as_they_were_on_arrival(monkeypatch: pytest.MonkeyPatch) -> None:
    import datetime as dt
    import pickle
    import time

    import attrs

    from atriumn.ai import RateLimitInfo
    from atriumn.ai._ratelimits import rate_limits_on_access

    arrived = time.time()
    reset = dt.datetime.fromtimestamp(arrived + 30, dt.timezone.utc).isoformat()
    headers = {"anthropic-ratelimit-tokens-reset": reset, "anthropic-ratelimit-tokens-limit": "80000"}
    info = rate_limits_on_access("anthropic", headers)
    monkeypatch.setattr(time, "time", lambda: arrived + 20)  # read 20 s later: still 30 s from the arrival
    assert info.reset_tokens == pytest.approx(30, abs=1)
    assert info.limit_tokens == 80000
    expected = RateLimitInfo(limit_tokens=80000, reset_tokens=info.reset_tokens, raw=headers)
    assert info == expected
    assert attrs.evolve(info, retry_after=1.0) == attrs.evolve(expected, retry_after=1.0)
    headers = {"x-ratelimit-limit-requests": "7"}
    assert pickle.loads(pickle.dumps(rate_limits_on_access("openai", headers))).limit_requests == 7
    unread = rate_limits_on_access("openai", headers)
    assert RateLimitInfo(**attrs.asdict(unread)) == parse_rate_limits("openai", headers)  # fields as before
    assert repr(rate_limits_on_access("openai", {})) == repr(RateLimitInfo())
    with pytest.raises(AttributeError):
        rate_limits_on_access("openai", headers).no_such_field  # noqa: B018
    with pytest.raises(AttributeError):
        RateLimitInfo().no_such_field  # noqa: B018
