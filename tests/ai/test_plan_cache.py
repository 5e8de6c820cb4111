"""The chat hot path's shortcuts keep every call's meaning: the plan cache (models and plain parameters checked
once, each call's messages its own), operation templates, and the price table's prefix memo."""

from __future__ import annotations

import dataclasses
import json

import pytest

from atriumn.ai import ChatClient, PriceTable
from atriumn.ai._engine import Engine
from atriumn.core import Operation, ValidationError

from ._fake import FakeServer

KEYS = {"openai": "test-openai-key", "anthropic": "test-anthropic-key", "gemini": "test-gemini-key"}


@pytest.mark.parametrize("provider", ["openai", "anthropic", "gemini", "groq"])
def test_each_call_sends_its_own_messages(env: dict[str, str], fake: FakeServer, provider: str) -> None:
    with ChatClient() as client:
        first = client.chat(f"{provider}:echo", "first words", max_tokens=16)
        second = client.chat(f"{provider}:echo", "second call here", max_tokens=16)
    assert (first.text, second.text) == ("first words", "second call here")
    bodies = [json.dumps(r["body"]) for r in fake.requests]
    assert "first words" in bodies[0] and "first words" not in bodies[1]
    assert "second call here" in bodies[1]


def test_equal_values_of_other_types_are_not_one_plan(env: dict[str, str], fake: FakeServer) -> None:
    with ChatClient() as client:
        client.chat("openai:echo", "hi", temperature=1)
        client.chat("openai:echo", "hi", temperature=1.0)
    # 1 and 1.0 are equal dict keys, but the official SDKs send them as written: so do we.
    sent = [r["body"]["temperature"] for r in fake.requests]
    assert [type(v) for v in sent] == [int, float]


def test_invalid_parameters_raise_on_every_call() -> None:
    engine = Engine(api_keys=KEYS, environ={})
    for _ in range(2):
        with pytest.raises(ValidationError, match="max_tokens"):
            engine.plan("openai:m", None, "hi", {"max_tokens": 0})
    for _ in range(2):
        with pytest.raises(ValidationError, match="messages"):
            engine.plan("openai:m", None, [], {"max_tokens": 5})


def test_parameters_that_are_not_plain_values_are_read_on_every_call() -> None:
    engine = Engine(api_keys=KEYS, environ={})
    stop = ["a"]
    ((first, _),) = engine.plan("openai:m", None, "hi", {"stop": stop})
    stop.append("b")  # a list may change between calls: such a call is never served from the cache
    ((second, _),) = engine.plan("openai:m", None, "hi", {"stop": stop})
    assert (first.stop, second.stop) == (("a",), ("a", "b"))


def test_call_options_and_models_are_part_of_the_plan() -> None:
    engine = Engine(api_keys=KEYS, environ={})
    ((unsafe, _),) = engine.plan("openai:m", None, "hi", {}, True)
    ((safe, _),) = engine.plan("openai:m", None, "hi", {}, False)
    assert (unsafe.replay_unsafe, safe.replay_unsafe) == (True, False)
    chain = engine.plan(None, ["openai:m", "anthropic:n"], "hi", {})
    assert [req.full_model for req, _ in chain] == ["openai:m", "anthropic:n"]
    ((alone, _),) = engine.plan("anthropic:n", None, "hi", {})
    assert alone.full_model == "anthropic:n"


def test_requests_from_one_plan_share_nothing_but_checked_fields() -> None:
    engine = Engine(api_keys=KEYS, environ={})
    ((a, _),) = engine.plan("openai:m", None, "one", {"max_tokens": 7})
    ((b, _),) = engine.plan("openai:m", None, [{"role": "user", "content": "two"}], {"max_tokens": 7})
    assert (a.messages[0].text, b.messages[0].text) == ("one", "two")
    assert a == dataclasses.replace(b, messages=a.messages)  # every other field the same
    assert a.max_tokens == b.max_tokens == 7


def test_the_plan_cache_is_bounded() -> None:
    engine = Engine(api_keys=KEYS, environ={})
    for i in range(600):
        ((req, _),) = engine.plan("openai:m", None, "hi", {"temperature": i / 1000})
        assert req.temperature == i / 1000
    assert 0 < len(engine._plans) <= 256


def test_operation_evolve_copies_and_refuses_unknown_fields() -> None:
    op = Operation(method="POST", path="/x", content=b"{}", headers={"a": "b"}, span_name="s")
    changed = op.evolve(content=b"[]", query={"q": "1"})
    assert changed == dataclasses.replace(op, content=b"[]", query={"q": "1"})
    assert (op.content, op.query) == (b"{}", None)  # the original is untouched
    with pytest.raises(TypeError, match="contnet"):
        op.evolve(contnet=b"")


def test_price_prefix_lookups_are_remembered_and_stay_correct() -> None:
    table = PriceTable({"openai:gpt-4o": {"input": 2.5, "output": 10.0}, "openai:gpt-4o-mini": {"input": 0.15}})
    for _ in range(2):
        assert table.price("openai:gpt-4o-2024-08-06") == {"input": 2.5, "output": 10.0}
        assert table.price("openai:gpt-4o-mini-2024-07-18") == {"input": 0.15}
        assert table.price("openai:unknown") is None


def test_a_capability_registered_later_applies_to_a_planned_call() -> None:
    from atriumn.ai import UnsupportedParameterError, register_capabilities

    engine = Engine(api_keys=KEYS, environ={})
    engine.plan("openai:plan-cache-later", None, "hi", {"seed": 3})
    register_capabilities("openai", r"^plan-cache-later$", unsupported={"seed"}, reason="test rule")
    with pytest.raises(UnsupportedParameterError, match="seed"):
        engine.plan("openai:plan-cache-later", None, "hi", {"seed": 3})


def test_model_and_models_are_refused_together_whatever_was_planned_before() -> None:
    engine = Engine(api_keys=KEYS, environ={})
    engine.plan(None, ["openai:a"], "hi", {})
    with pytest.raises(ValidationError, match="model, models"):
        engine.plan("openai:b", ["openai:a"], "hi", {})
    chain = engine.plan(None, (m for m in ["openai:a", "anthropic:b"]), "hi", {})  # an iterator is read once
    assert [req.full_model for req, _ in chain] == ["openai:a", "anthropic:b"]


def test_a_role_that_is_not_a_string_is_refused_as_before() -> None:
    engine = Engine(api_keys=KEYS, environ={})
    with pytest.raises(ValidationError, match=r"messages\[0\].role"):
        engine.plan("openai:m", None, [{"role": ["user"], "content": "hi"}], {})


def test_request_ids_leave_the_global_random_alone(env: dict[str, str], fake: FakeServer) -> None:
    import random

    with ChatClient() as client:
        random.seed(1234)
        expected = [random.random() for _ in range(2)]
        random.seed(1234)
        first = random.random()
        client.chat("openai:echo", "hi")
        client.chat("openai:echo", "hi")
        assert [first, random.random()] == expected  # the application's sequence is its own
        random.seed(1234)
        client.chat("openai:echo", "hi")
    ids = [r["headers"]["x-request-id"] for r in fake.requests]
    assert len(set(ids)) == 3  # seeding the global random does not repeat them
