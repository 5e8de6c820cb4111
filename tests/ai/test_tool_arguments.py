"""The sans-IO pieces of the tool loop and of structured output: binding a tool call's arguments to a typed
function (checked against its schema, converted with the core converter), and parsing an answer into each
supported ``response_format`` type. The loop itself runs against the sandbox in ``test_tool_loop.py``."""

from __future__ import annotations

import dataclasses
import enum
from typing import Literal, TypedDict

import attrs
import pydantic
import pytest

from atriumn.ai import ChatResponse, StructuredOutputError, Tool, ToolCall
from atriumn.ai._structured import parse_output, schema_of
from atriumn.ai._tools import Conversation, LoopOptions, bind_arguments, run_sync
from atriumn.core import ValidationError


class Unit(enum.Enum):
    C = "c"
    F = "f"


@attrs.frozen
class Place:
    city: str
    country: str = "NL"


@dataclasses.dataclass
class Window:
    days: int
    hourly: bool = False


class Filters(TypedDict):
    tags: list[str]
    limit: int


def forecast(
    place: Place, window: Window, unit: Unit, mode: Literal["brief", "full"], filters: Filters, days: list[int],
    note: str = "none",
) -> str:  # fmt: skip
    """Forecast."""
    return f"{place}|{window}|{unit}|{mode}|{filters}|{days}|{note}"


def _call(**arguments: object) -> ToolCall:
    return ToolCall(id="c1", name="forecast", arguments=arguments)


ARGS = {
    "place": {"city": "Delft"},
    "window": {"days": 3},
    "unit": "f",
    "mode": "full",
    "filters": {"tags": ["a"], "limit": 2},
    "days": [1, 2],
}


def test_arguments_are_converted_to_the_annotated_types() -> None:
    kwargs = bind_arguments(Tool.from_function(forecast), _call(**ARGS))
    assert kwargs["place"] == Place(city="Delft")
    assert kwargs["window"] == Window(days=3)
    assert kwargs["unit"] is Unit.F
    assert kwargs["mode"] == "full"
    assert kwargs["filters"] == {"tags": ["a"], "limit": 2}
    assert kwargs["days"] == [1, 2]
    assert "note" not in kwargs


def test_null_for_a_parameter_with_a_default_means_the_default() -> None:
    # Strict schemas (OpenAI) make every parameter required and nullable: a model with nothing to say sends null.
    kwargs = bind_arguments(Tool.from_function(forecast), _call(**ARGS, note=None))
    assert "note" not in kwargs


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"unit": "kelvin"}, "arguments of forecast at $.unit"),
        ({"mode": "verbose"}, "arguments of forecast at $.mode"),
        ({"days": ["x"]}, "arguments of forecast at $.days[0]"),
        ({"place": {}}, "arguments of forecast at $.place"),
        ({"surprise": 1}, "unexpected 'surprise'"),
    ],
)
def test_arguments_that_do_not_match_are_refused_naming_where(change: dict[str, object], expected: str) -> None:
    with pytest.raises(ValidationError, match=expected.replace("$", r"\$").replace("[", r"\[")):
        bind_arguments(Tool.from_function(forecast), _call(**{**ARGS, **change}))


def test_a_missing_required_argument_is_named() -> None:
    args = {k: v for k, v in ARGS.items() if k != "window"}
    with pytest.raises(ValidationError, match="window"):
        bind_arguments(Tool.from_function(forecast), _call(**args))


def test_arguments_that_are_not_json_are_refused() -> None:
    call = ToolCall(id="c1", name="forecast", arguments={}, raw_arguments='{"place": ')
    with pytest.raises(ValidationError, match="not valid JSON"):
        bind_arguments(Tool.from_function(forecast), call)


def test_a_raising_tool_reports_its_message_not_a_traceback() -> None:
    def broken(city: str) -> str:
        raise LookupError(f"no station near {city}")

    conversation = Conversation([], [Tool.from_function(broken)], LoopOptions(run_tools=True), allow_async=False)
    response = ChatResponse(tool_calls=(ToolCall(id="c1", name="broken", arguments={"city": "Oz"}),))
    (invocation,) = conversation.next_calls(response) or []
    result = run_sync(invocation)
    assert result.is_error
    assert result.content == "LookupError: no station near Oz"
    assert "Traceback" not in result.content
    assert isinstance(result.error, LookupError)


def test_an_unknown_tool_goes_back_as_an_error_naming_the_tools() -> None:
    conversation = Conversation([], [Tool.from_function(forecast)], LoopOptions(run_tools=True), allow_async=False)
    response = ChatResponse(tool_calls=(ToolCall(id="c1", name="nope", arguments={}),))
    (invocation,) = conversation.next_calls(response) or []
    result = run_sync(invocation)
    assert (result.is_error, result.content) == (True, "unknown tool 'nope' (available: forecast)")


def test_max_steps_stops_the_loop_with_the_last_response() -> None:
    conversation = Conversation(
        [], [Tool.from_function(forecast)], LoopOptions(run_tools=True, max_steps=2), allow_async=False
    )
    response = ChatResponse(tool_calls=(_call(**ARGS),), finish_reason="tool_calls")
    calls = conversation.next_calls(response)
    assert calls is not None
    conversation.record_tools(response, [run_sync(c) for c in calls])
    assert conversation.next_calls(response) is None  # the second response is the last one


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"run_tools": "yes"}, "run_tools: expected True or False"),
        ({"max_steps": 0}, "max_steps: expected an integer >= 1"),
        ({"max_parse_retries": -1}, "max_parse_retries: expected an integer >= 0"),
        ({"max_steps": True}, "max_steps: expected an integer >= 1"),
    ],
)
def test_loop_options_are_checked(params: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        LoopOptions.pop(dict(params))


def test_tools_without_functions_or_async_ones_in_the_sync_client_are_refused() -> None:
    async def fetch(url: str) -> str:
        return url

    with pytest.raises(ValidationError, match=r"tools\[0\]: 'lookup' has no Python function"):
        Conversation([], [Tool(name="lookup")], LoopOptions(run_tools=True), allow_async=False)
    with pytest.raises(ValidationError, match=r"tools\[0\]: 'fetch' is an async function"):
        Conversation([], [Tool.from_function(fetch)], LoopOptions(run_tools=True), allow_async=False)
    with pytest.raises(ValidationError, match="run_tools: no tools given"):
        Conversation([], [], LoopOptions(run_tools=True), allow_async=False)


# --- structured output into each type ---------------------------------------------------------------------------


@attrs.frozen
class AttrsAnswer:
    city: str
    score: int


@dataclasses.dataclass
class DataclassAnswer:
    city: str
    score: int


class TypedDictAnswer(TypedDict):
    city: str
    score: int


class PydanticAnswer(pydantic.BaseModel):
    city: str
    score: int


@pytest.mark.parametrize("tp", [AttrsAnswer, DataclassAnswer, TypedDictAnswer, PydanticAnswer])
def test_an_answer_parses_into_each_supported_type(tp: type) -> None:
    schema = schema_of(tp)
    parsed = parse_output('{"city": "Delft", "score": 7}', schema=schema, tp=tp, model="m", name=tp.__name__)
    if tp is TypedDictAnswer:
        assert parsed == {"city": "Delft", "score": 7}
    else:
        assert isinstance(parsed, tp)
        assert (parsed.city, parsed.score) == ("Delft", 7)  # type: ignore[attr-defined]


@pytest.mark.parametrize("tp", [AttrsAnswer, DataclassAnswer, TypedDictAnswer, PydanticAnswer])
def test_a_mismatch_names_the_path_and_keeps_the_text(tp: type) -> None:
    text = '{"city": "Delft", "score": "high"}'
    with pytest.raises(StructuredOutputError) as caught:
        parse_output(text, schema=schema_of(tp), tp=tp, model="m", name=tp.__name__)
    assert caught.value.path == "$.score"
    assert caught.value.text == text


class Node(pydantic.BaseModel):
    value: int
    child: Node | None = pydantic.Field(default=None, description="the next node")


def test_strict_schema_of_a_recursive_model_terminates_and_drops_null_defaults() -> None:
    from atriumn.ai._schema import strict_schema

    schema = strict_schema(Node.model_json_schema())
    child = schema["properties"]["child"]
    assert "default" not in child  # a null default says nothing in strict mode (OpenAI's helper drops it too)
    assert child["anyOf"][0] == {"$ref": "#/$defs/Node"}  # a bare $ref stays a $ref
    assert schema["required"] == ["value", "child"]
    assert schema["$defs"]["Node"]["additionalProperties"] is False


def test_a_ref_with_sibling_keywords_is_inlined() -> None:
    from atriumn.ai._schema import strict_schema

    schema = {
        "type": "object",
        "properties": {"place": {"$ref": "#/$defs/Place", "description": "where"}},
        "$defs": {"Place": {"type": "object", "properties": {"city": {"type": "string"}}}},
    }
    place = strict_schema(schema)["properties"]["place"]
    assert place == {
        "type": "object",
        "properties": {"city": {"type": "string"}},
        "description": "where",
        "required": ["city"],
        "additionalProperties": False,
    }
