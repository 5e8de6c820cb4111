"""The LLM emulation's deterministic pieces, without a server: model names, schema instances, answers, usage."""

from __future__ import annotations

from typing import Any

import pytest

from atriumn.sandbox._llm._behaviour import STREAM_FAULT_TEXT, Behaviour, behaviour_of
from atriumn.sandbox._llm._embeddings import embedding_floats, vector
from atriumn.sandbox._llm._schema import instance_of
from atriumn.sandbox._llm._turn import Turn, answer, count_tokens, usage_of
from atriumn.sandbox._llm._wire import go_duration


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("gpt-4o", Behaviour()),
        ("ECHO", Behaviour()),
        ("chunks-50", Behaviour(kind="chunks", chunks=50, text=" ".join(f"w{i}" for i in range(50)))),
        ("claude-tool-delay-20", Behaviour(kind="tool", delay=0.02)),
        ("json", Behaviour(kind="json")),
        ("bad-json", Behaviour(kind="bad-json")),
        ("error-429", Behaviour(error_status=429)),
        ("error-503-retry-9", Behaviour(error_status=503, retry_after=9)),
        ("overloaded", Behaviour(error_status=529)),
        ("fail-once-500", Behaviour(fail_once=500)),
        ("stream-cut", Behaviour(cut_after=3, text=STREAM_FAULT_TEXT)),
        ("cut-4", Behaviour(cut_after=4, text="w0 w1 w2 w3 w4 w5 w6")),
        ("stream-error", Behaviour(error_after=2, text=STREAM_FAULT_TEXT)),
        ("stream-error-500", Behaviour(error_after=500, text=" ".join(f"w{i}" for i in range(503)))),
        ("gemini-cache-think", Behaviour(cache=True, think=True)),
        ("claude-cache-write", Behaviour(cache=True, cache_write=True)),
        ("models/execute", Behaviour()),  # "cut" only as a word of its own
    ],
)
def test_model_names(name: str, expected: Behaviour) -> None:
    assert behaviour_of(name) == expected


@pytest.mark.parametrize(
    ("schema", "expected"),
    [
        ({"type": "string"}, "sandbox"),
        ({"type": "string", "minLength": 10}, "sandboxxxx"),
        ({"type": "string", "maxLength": 3}, "san"),
        ({"type": "string", "format": "date-time"}, "2026-01-01T00:00:00Z"),
        ({"type": "integer", "minimum": 5}, 5),
        ({"type": "integer", "exclusiveMinimum": 5}, 6),
        ({"type": "number", "maximum": 0}, 0.0),
        ({"type": "boolean"}, True),
        ({"type": "null"}, None),
        ({"type": ["null", "integer"]}, 1),
        ({"enum": ["b", "a"]}, "b"),
        ({"const": 7}, 7),
        ({"anyOf": [{"type": "null"}, {"type": "integer"}]}, 1),
        ({"type": "array", "items": {"type": "integer"}, "minItems": 2}, [1, 1]),
        ({"type": "array", "prefixItems": [{"type": "string"}, {"type": "boolean"}]}, ["sandbox", True]),
        (
            {"type": "object", "properties": {"a": {"$ref": "#/$defs/A"}}, "$defs": {"A": {"type": "integer"}}},
            {"a": 1},
        ),
        (
            {"allOf": [{"properties": {"a": {"type": "string"}}}, {"properties": {"b": {"type": "integer"}}}]},
            {"a": "sandbox", "b": 1},
        ),
        (
            {
                "type": "OBJECT",
                "properties": {"n": {"type": "INTEGER"}, "s": {"type": "STRING", "nullable": True}},
                "propertyOrdering": ["s", "n"],
            },
            {"s": "sandbox", "n": 1},
        ),
        ({"type": "object"}, {}),
    ],
)
def test_schema_instances(schema: dict[str, Any], expected: Any) -> None:
    value = instance_of(schema)
    assert value == expected
    assert type(value) is type(expected)
    if isinstance(expected, dict):
        assert list(value) == list(expected)  # property order follows the schema


def test_recursive_schema_terminates() -> None:
    schema = {
        "$ref": "#/$defs/node",
        "$defs": {"node": {"type": "object", "properties": {"child": {"$ref": "#/$defs/node"}}}},
    }
    value = instance_of(schema)
    depth = 0
    while isinstance(value, dict) and "child" in value:
        value, depth = value["child"], depth + 1
    assert 10 < depth < 100


def _turn(**kwargs: Any) -> Turn:
    defaults: dict[str, Any] = {"system": "", "texts": ["hello wide world"], "last_user": "hello wide world"}
    return Turn(**{**defaults, **kwargs})


def test_answers() -> None:
    assert answer(_turn(), behaviour_of("echo")).text == "hello wide world"
    assert answer(_turn(), behaviour_of("echo")).chunks == ["hello", " wide", " world"]
    assert answer(_turn(max_tokens=1), behaviour_of("echo")).truncated
    assert answer(_turn(json_mode=True), behaviour_of("echo")).text == '{"echo": "hello wide world"}'
    assert answer(_turn(schema={"type": "integer"}), behaviour_of("bad-json")).text == "this is not json"
    tools = [("a", {"type": "object", "properties": {"x": {"type": "integer"}}}), ("b", {})]
    called = answer(_turn(tools=tools), behaviour_of("tool"))
    assert called.text == ""
    assert [(c.name, c.arguments, c.arguments_json) for c in called.tool_calls] == [("a", {"x": 1}, '{"x":1}')]
    assert answer(_turn(tools=tools, forced_tool="b"), behaviour_of("tool")).tool_calls[0].name == "b"
    assert answer(_turn(tools=tools, tool_result="42"), behaviour_of("tool")).text == "tool said: 42"
    assert answer(_turn(tools=tools, tools_disabled=True), behaviour_of("tool")).tool_calls == ()
    assert answer(_turn(), behaviour_of("tool")).text == "hello wide world"  # no tools: echo


def test_usage_counts() -> None:
    turn = _turn(system="one two three")
    reply = answer(turn, behaviour_of("echo"))
    plain = usage_of(turn, behaviour_of("echo"), reply)
    assert (plain.prompt, plain.cached, plain.cache_write, plain.output, plain.thinking) == (6, 0, 0, 3, 0)
    cached = usage_of(turn, behaviour_of("cache"), reply)
    assert (cached.prompt, cached.cached, cached.uncached) == (6, 3, 3)
    write = usage_of(turn, behaviour_of("cache-write"), reply)
    assert (write.cached, write.cache_write, write.uncached) == (0, 3, 3)
    tools = [("a", {"type": "object", "properties": {"x": {"type": "integer"}, "y": {"type": "string"}}})]
    call = answer(_turn(tools=tools), behaviour_of("tool"))
    assert usage_of(_turn(tools=tools), behaviour_of("tool"), call).output == count_tokens('{"x": 1, "y": "sandbox"}')


@pytest.mark.parametrize(("seconds", "text"), [(360, "6m0s"), (1, "1s"), (0.006, "6ms"), (61.5, "1m1.5s")])
def test_go_durations(seconds: float, text: str) -> None:
    assert go_duration(seconds) == text


def test_embeddings_are_deterministic_unit_vectors() -> None:
    assert vector("a") == vector("a")
    assert vector("a") != vector("b")
    assert len(vector("a", 100)) == 100
    assert abs(sum(v * v for v in vector("a", 100)) - 1) < 1e-5
    assert embedding_floats("a") == list(vector("a"))
