"""The cattrs converter: wire casing, overrides, datetimes, unknown fields, None omitted, DecodeError paths."""

from __future__ import annotations

import datetime as dt

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from atriumn.core import DecodeError, structure, unstructure
from atriumn.core._serde import wire_name


@attrs.frozen(kw_only=True)
class Variable:
    name: str
    default_value: str | None = None
    required: bool = False


@attrs.frozen(kw_only=True)
class Prompt:
    prompt_id: str
    model_id: str
    created_at: dt.datetime
    status: str = "active"
    variables: list[Variable] = attrs.field(factory=list)
    tags: list[str] = attrs.field(factory=list)
    version: int = 1
    s3_key: str | None = attrs.field(default=None, metadata={"wire": "s3Key"})
    odd_one: str | None = attrs.field(default=None, metadata={"wire": "ODD-one"})
    description: str | None = None


UTC = dt.timezone.utc


def test_camel_and_snake_casing() -> None:
    p = Prompt(
        prompt_id="p1",
        model_id="m",
        created_at=dt.datetime(2024, 5, 6, 7, 8, 9, 123456, tzinfo=UTC),
        variables=[Variable(name="x", default_value="1")],
        s3_key="k",
        odd_one="o",
    )
    camel = unstructure(p, "camel")
    assert camel == {
        "promptId": "p1",
        "modelId": "m",
        "createdAt": "2024-05-06T07:08:09.123456Z",
        "status": "active",
        "variables": [{"name": "x", "defaultValue": "1", "required": False}],
        "tags": [],
        "version": 1,
        "s3Key": "k",
        "ODD-one": "o",
    }
    snake = unstructure(p, "snake")
    assert snake["prompt_id"] == "p1"
    assert snake["variables"] == [{"name": "x", "default_value": "1", "required": False}]
    assert snake["s3Key"] == "k"  # the override wins in every casing
    assert structure(camel, Prompt, "camel") == p
    assert structure(snake, Prompt, "snake") == p


def test_none_is_omitted_from_requests() -> None:
    p = Prompt(prompt_id="p", model_id="m", created_at=dt.datetime(2024, 1, 1, tzinfo=UTC))
    data = unstructure(p, "camel")
    assert "description" not in data
    assert "s3Key" not in data
    assert None not in data.values()


def test_unknown_fields_are_ignored_and_open_strings_kept() -> None:
    doc = {
        "promptId": "p",
        "modelId": "m",
        "createdAt": "2024-01-01T00:00:00Z",
        "status": "some-future-status",
        "brandNewField": {"nested": [1, 2]},
        "variables": [{"name": "v", "surprise": True}],
    }
    p = structure(doc, Prompt, "camel")
    assert p.status == "some-future-status"
    assert p.variables == [Variable(name="v")]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024-01-02T03:04:05Z", dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)),
        ("2024-01-02T03:04:05z", dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)),
        ("2024-01-02T03:04:05.123456789Z", dt.datetime(2024, 1, 2, 3, 4, 5, 123456, tzinfo=UTC)),
        ("2024-01-02T03:04:05.1Z", dt.datetime(2024, 1, 2, 3, 4, 5, 100000, tzinfo=UTC)),
        ("2024-01-02T03:04:05+02:00", dt.datetime(2024, 1, 2, 1, 4, 5, tzinfo=UTC)),
        ("2024-01-02T03:04:05.987654321-05:30", dt.datetime(2024, 1, 2, 8, 34, 5, 987654, tzinfo=UTC)),
        ("2024-01-02T03:04:05", dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)),  # naive: UTC
        (1704164645, dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)),  # epoch seconds
    ],
)
def test_datetimes(text: object, expected: dt.datetime) -> None:
    p = structure({"promptId": "p", "modelId": "m", "createdAt": text}, Prompt, "camel")
    assert p.created_at == expected
    assert p.created_at.tzinfo is not None


def test_datetime_is_written_with_z() -> None:
    p = Prompt(prompt_id="p", model_id="m", created_at=dt.datetime(2024, 1, 2, 3, 4, 5))  # naive → UTC
    assert unstructure(p, "camel")["createdAt"] == "2024-01-02T03:04:05Z"


words = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-_ .é", max_size=12)
datetimes = st.datetimes(min_value=dt.datetime(1970, 1, 2), max_value=dt.datetime(2200, 1, 1), timezones=st.just(UTC))
variables = st.builds(Variable, name=words, default_value=st.none() | words, required=st.booleans())
prompts = st.builds(
    Prompt,
    prompt_id=words,
    model_id=words,
    created_at=datetimes,
    status=words,
    variables=st.lists(variables, max_size=3),
    tags=st.lists(words, max_size=3),
    version=st.integers(min_value=-(2**40), max_value=2**40),
    s3_key=st.none() | words,
    odd_one=st.none() | words,
    description=st.none() | words,
)


@given(prompts, st.sampled_from(["camel", "snake"]))
def test_round_trip(p: Prompt, casing: str) -> None:
    data = unstructure(p, casing)  # type: ignore[arg-type]
    assert None not in data.values()
    assert structure(data, Prompt, casing) == p  # type: ignore[arg-type]


@given(st.from_regex(r"[a-z][a-z0-9]*(_[a-z0-9]+)*", fullmatch=True))
def test_wire_names(name: str) -> None:
    camel = wire_name(name, "camel")
    assert "_" not in camel
    assert camel.lower() == name.replace("_", "")
    assert wire_name(name, "snake") == name


def test_decode_error_names_the_field_path() -> None:
    good = {"name": "a"}
    doc = {"promptId": "p", "modelId": "m", "createdAt": "2024-01-01T00:00:00Z", "variables": [good, {"required": 1}]}
    with pytest.raises(DecodeError) as info:
        structure(doc, Prompt, "camel", request_id="req-9")
    err = info.value
    assert err.path == "$.variables[1].name"
    assert "$.variables[1].name" in str(err)
    assert err.request_id == "req-9"
    assert "Prompt" in str(err)


def test_decode_error_path_uses_the_wire_names_of_the_document() -> None:
    doc = {"promptId": "p", "modelId": "m", "createdAt": "not a date"}
    with pytest.raises(DecodeError) as info:
        structure(doc, Prompt, "camel")
    assert info.value.path == "$.createdAt"
    doc = {"promptId": "p", "modelId": "m", "createdAt": "2024-01-01T00:00:00Z", "variables": [{}]}
    with pytest.raises(DecodeError) as info:
        structure(doc, Prompt, "camel")
    assert info.value.path == "$.variables[0].name"
    with pytest.raises(DecodeError) as info:
        structure({"prompt_id": "p", "model_id": "m", "created_at": []}, Prompt, "snake")
    assert info.value.path == "$.created_at"


def test_decode_error_on_a_wrong_top_level_shape() -> None:
    with pytest.raises(DecodeError) as info:
        structure(["not", "an", "object"], Prompt, "camel")
    assert info.value.path.startswith("$")
