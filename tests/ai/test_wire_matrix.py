"""Wire-format matrix: for every request shape x every provider that supports it, the JSON body our
:class:`ChatClient` / :class:`AsyncChatClient` sends equals the body the official SDK (``openai``, ``anthropic``,
``groq``, ``google-genai``: test-only dependencies) sends for the same logical call, modulo the short allow-list
of intended differences below (:data:`ALLOWED`, applied in one place: :func:`normalize`).

Each case makes the call once through the official SDK and once through our client against the recording
emulation (``_fake.py``), non-streamed, streamed (every streaming form the SDK has: ``create(stream=True)``
and its stream helper) and async. A case names the allowances it needs, and each one must be *needed*: a
declared allowance that changes nothing fails the test, so the allow-list cannot silently grow.

Cases marked ``xfail(strict=True)`` are differences that look like bugs in our client, kept failing on
purpose (see their reasons); they must not be "fixed" by widening the allow-list.

Content beyond text (images, documents, audio), reasoning controls, prompt caching and reasoning round trips are
in ``test_wire_matrix_content.py``, on this module's helpers, fixtures and allow-list.

The module serves its own instance of the emulation (same app, TCP_NODELAY on the socket) and builds its
clients on one shared SSL context: together they take the module from ~40 s to ~10 s.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import copy
import dataclasses
import functools
import json
import re
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any, Literal, NotRequired, TypedDict

import attrs
import pydantic
import pytest

from atriumn.ai import AsyncChatClient, ChatClient
from atriumn.core import AsyncTransport, Transport, ValidationError

from ._fake import FakeServer, make_app

# --- the allow-list ----------------------------------------------------------------------------------------

#: Every intended difference between our body and the official SDK's, with its reason. Nothing else may differ.
ALLOWED: dict[str, str] = {
    # Schemas from the SDKs' pydantic helpers (pydantic_function_tool, parse(), beta_tool, model_json_schema)
    # compared with the schemas we generate from the equivalent attrs class / typed callable:
    "pydantic-titles": "pydantic writes a `title` into every model and field schema; titles constrain nothing, "
    "and our schemas generated from Python types carry none.",
    "pydantic-defaults": "pydantic writes field defaults into schemas (`default`; anthropic's transform_schema "
    "folds them into the description as `{default: ...}`); a default is an annotation, not a constraint.",
    "refs": "pydantic puts nested models under `$defs` and points at them with `$ref`; we inline nested objects: "
    "the same schema once the refs are resolved.",
    "enum-type": "pydantic writes `type` next to a Literal's `enum`; the `enum` alone admits exactly the same "
    "values (every value has that type).",
    # Request-level:
    "stop-list": "our `stop` is always a list (Anthropic and Gemini take only lists); OpenAI and Groq read a "
    "string and a one-item list alike.",
    "openai-parse-stream-false": "openai's `chat.completions.parse()` writes the API default `stream: false`; "
    "we leave the default out.",
    "openai-stream-usage": "our OpenAI streams always ask for `stream_options.include_usage` (usage and cost "
    "for every stream); the SDK's plain `create(stream=True)` asks only when told.",
    # Gemini: equality of meaning, not bytes (applied to every Gemini body, see GEMINI_ALWAYS):
    "genai-casing": "google-genai sends some proto field names in snake_case (`parameters_json_schema`); the "
    "API reads both spellings: field names are compared camelCased (schemas, args and responses untouched).",
    "genai-numbers": "google-genai re-encodes integer values as floats (`topK: 40.0`): the same JSON number.",
    "genai-system-role": "google-genai adds `role: user` to `systemInstruction`; the API ignores a role there.",
    "genai-empty-config": "google-genai sends `generationConfig: {}` whenever a config object is given (tools "
    "only, say); an empty config is no config.",
    "genai-base64": "google-genai holds bytes fields (`inlineData.data`, `thoughtSignature`) as bytes and "
    "re-encodes them as URL-safe base64; the API reads both alphabets: those fields are compared decoded.",
}

#: Applied to every Gemini body (the brief of this module: compare Gemini bodies by meaning).
GEMINI_ALWAYS = ("genai-casing", "genai-numbers", "genai-system-role", "genai-empty-config", "genai-base64")

# Where each wire format keeps JSON Schemas (after Gemini's casing is normalised).
_SCHEMA_PATHS: dict[str, list[tuple[str, ...]]] = {
    "openai": [("tools", "*", "function", "parameters"), ("response_format", "json_schema", "schema")],
    "groq": [("tools", "*", "function", "parameters"), ("response_format", "json_schema", "schema")],
    "anthropic": [("tools", "*", "input_schema"), ("output_config", "format", "schema")],
    "gemini": [
        ("tools", "*", "functionDeclarations", "*", "parametersJsonSchema"),
        ("generationConfig", "responseJsonSchema"),
    ],
}
# Gemini values that are user JSON (schemas, call arguments, tool results): their keys are never re-cased.
_OPAQUE = {"parametersJsonSchema", "parameters_json_schema", "responseJsonSchema", "response_json_schema"}
_OPAQUE |= {"args", "response"}
_DEFAULT_NOTE = re.compile(r"(?:\n\n)?\{default: [^{}]*\}\Z")
_JSON_TYPES: dict[str, Callable[[Any], bool]] = {
    "string": lambda v: isinstance(v, str),
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
    "boolean": lambda v: isinstance(v, bool),
}


def _camel(value: Any) -> Any:
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            key = re.sub(r"_([a-z])", lambda m: m.group(1).upper(), k)
            out[key] = v if key in _OPAQUE else _camel(v)
        return out
    if isinstance(value, list):
        return [_camel(v) for v in value]
    return value


def _integral(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _integral(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_integral(v) for v in value]
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _walk_schema(node: Any, fn: Callable[[dict[str, Any]], dict[str, Any]]) -> Any:
    """``fn`` applied to every schema node (properties' names are never touched)."""
    if not isinstance(node, dict):
        return node
    node = fn(dict(node))
    if isinstance(node.get("properties"), dict):
        node["properties"] = {k: _walk_schema(v, fn) for k, v in node["properties"].items()}
    for key in ("items", "additionalProperties", "not"):
        if isinstance(node.get(key), dict):
            node[key] = _walk_schema(node[key], fn)
    for key in ("anyOf", "oneOf", "allOf", "prefixItems"):
        if isinstance(node.get(key), list):
            node[key] = [_walk_schema(v, fn) for v in node[key]]
    if isinstance(node.get("$defs"), dict):
        node["$defs"] = {k: _walk_schema(v, fn) for k, v in node["$defs"].items()}
    return node


def _inline_refs(schema: dict[str, Any]) -> dict[str, Any]:
    defs = schema.get("$defs") or {}

    def resolve(node: Any) -> Any:
        if isinstance(node, list):
            return [resolve(v) for v in node]
        if not isinstance(node, dict):
            return node
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/$defs/"):
            target = resolve(defs[ref.removeprefix("#/$defs/")])
            return {**target, **{k: resolve(v) for k, v in node.items() if k != "$ref"}}
        return {k: resolve(v) for k, v in node.items() if k != "$defs"}

    return dict(resolve(schema))


def _drop_title(node: dict[str, Any]) -> dict[str, Any]:
    node.pop("title", None)
    return node


def _drop_default(node: dict[str, Any]) -> dict[str, Any]:
    node.pop("default", None)
    description = node.get("description")
    if isinstance(description, str) and _DEFAULT_NOTE.search(description):
        rest = _DEFAULT_NOTE.sub("", description)
        if rest:
            node["description"] = rest
        else:
            del node["description"]
    return node


def _drop_enum_type(node: dict[str, Any]) -> dict[str, Any]:
    kind, values = node.get("type"), node.get("enum")
    if (
        isinstance(kind, str)
        and isinstance(values, list)
        and values
        and kind in _JSON_TYPES
        and all(_JSON_TYPES[kind](v) for v in values)
    ):
        del node["type"]
    return node


_SCHEMA_FIXES: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
    "refs": _inline_refs,
    "pydantic-titles": lambda s: _walk_schema(s, _drop_title),
    "pydantic-defaults": lambda s: _walk_schema(s, _drop_default),
    "enum-type": lambda s: _walk_schema(s, _drop_enum_type),
}


def _map_path(doc: Any, path: tuple[str, ...], fn: Callable[[Any], Any]) -> None:
    """Replace the value(s) at ``path`` (``*``: every list item) by ``fn(value)``, in place."""
    head, rest = path[0], path[1:]
    if head == "*":
        if isinstance(doc, list):
            for i, item in enumerate(doc):
                if rest:
                    _map_path(item, rest, fn)
                else:
                    doc[i] = fn(item)
        return
    if not isinstance(doc, dict) or head not in doc:
        return
    if rest:
        _map_path(doc[head], rest, fn)
    else:
        doc[head] = fn(doc[head])


def _canonical_base64(value: Any) -> Any:
    """Base64 text in either alphabet (standard or URL-safe) as standard, padded base64; anything that does not
    decode is left as it is (so it still differs)."""
    if not isinstance(value, str):
        return value
    text = value.replace("-", "+").replace("_", "/")
    try:
        return base64.b64encode(base64.b64decode(text + "=" * (-len(text) % 4), validate=True)).decode("ascii")
    except (binascii.Error, ValueError):
        return value


def _decoded_bytes(value: Any) -> Any:
    """The Gemini bytes fields (camelCased) in canonical base64; user JSON (``_OPAQUE``) untouched."""
    if isinstance(value, list):
        return [_decoded_bytes(v) for v in value]
    if not isinstance(value, dict):
        return value
    out = {}
    for key, v in value.items():
        if key in _OPAQUE:
            out[key] = v
        elif key == "thoughtSignature":
            out[key] = _canonical_base64(v)
        elif key == "inlineData" and isinstance(v, dict) and "data" in v:
            out[key] = {**v, "data": _canonical_base64(v["data"])}
        else:
            out[key] = _decoded_bytes(v)
    return out


def _gemini_meaning(body: Any, names: tuple[str, ...]) -> Any:
    """A google-genai-or-our Gemini body with the named ``genai-*`` differences normalised (a new document)."""
    body = copy.deepcopy(body)
    if "genai-casing" in names:
        body = _camel(body)
    if "genai-numbers" in names:
        body = _integral(body)
    if "genai-system-role" in names and isinstance(body.get("systemInstruction"), dict):
        body["systemInstruction"].pop("role", None)
    if "genai-empty-config" in names and body.get("generationConfig") == {}:
        del body["generationConfig"]
    if "genai-base64" in names:
        body = _decoded_bytes(body)
    return body


def normalize(provider: str, body: Any, allow: tuple[str, ...]) -> Any:
    """The body with the allowed differences (and only those) normalised away."""
    unknown = [name for name in allow if name not in ALLOWED]
    assert not unknown, f"not in the allow-list: {unknown}"
    body = copy.deepcopy(body)
    if provider == "gemini":
        body = _gemini_meaning(body, GEMINI_ALWAYS)
    for name in ("refs", "pydantic-titles", "pydantic-defaults", "enum-type"):  # refs first
        if name in allow:
            for path in _SCHEMA_PATHS[provider]:
                _map_path(body, path, _SCHEMA_FIXES[name])
    if "openai-parse-stream-false" in allow and body.get("stream") is False:
        del body["stream"]
    if "stop-list" in allow and isinstance(body.get("stop"), str):
        body["stop"] = [body["stop"]]
    if "openai-stream-usage" in allow and body.get("stream_options") == {"include_usage": True}:
        del body["stream_options"]
    return body


def _differences(ours: Any, theirs: Any, path: str = "$") -> list[str]:
    """Where two JSON documents differ, one line each (types count: 1 is not 1.0 nor true)."""
    if isinstance(ours, dict) and isinstance(theirs, dict):
        out = []
        for key in [*ours, *(k for k in theirs if k not in ours)]:
            if key not in theirs:
                out.append(f"{path}.{key}: only ours sends it = {json.dumps(ours[key])}")
            elif key not in ours:
                out.append(f"{path}.{key}: only the SDK sends it = {json.dumps(theirs[key])}")
            else:
                out += _differences(ours[key], theirs[key], f"{path}.{key}")
        return out
    if isinstance(ours, list) and isinstance(theirs, list) and len(ours) == len(theirs):
        return [
            line
            for i, (a, b) in enumerate(zip(ours, theirs, strict=True))
            for line in _differences(a, b, f"{path}[{i}]")
        ]
    if _canon(ours) != _canon(theirs):
        return [f"{path}: ours {json.dumps(ours)} != SDK {json.dumps(theirs)}"]
    return []


def _canon(doc: Any) -> str:
    """Canonical JSON: tells 1 from 1.0 and true from 1, which dict equality does not."""
    return json.dumps(doc, sort_keys=True, ensure_ascii=False)


# --- the emulation, and the official SDKs pointed at it -------------------------------------------------------


@pytest.fixture(scope="module")
def fake_session() -> Iterator[FakeServer]:
    """The recording emulation of ``_fake.serve()``, with TCP_NODELAY on its socket (inherited by accepted
    connections): uvicorn writes a response's head and body apart, and on a kept-alive connection Nagle's
    algorithm then holds the body for the client's delayed ACK — 40 ms a call, most of this module's time."""
    import socket
    import threading

    import uvicorn

    fake = FakeServer()
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    fake.url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    config = uvicorn.Config(make_app(fake.state), log_level="error", lifespan="off", timeout_graceful_shutdown=1)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        yield fake
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


@functools.cache
def _ssl_context() -> Any:
    """One SSL context for every client of this module (a new one loads the CA bundle: 25 ms, twice a test)."""
    import ssl

    return ssl.create_default_context()


@pytest.fixture
def client(env: dict[str, str]) -> Iterator[ChatClient]:
    """conftest's ``client`` (keys and base URLs from the environment), on a transport sharing one SSL context."""
    import httpx2

    transport = Transport(max_retries=2, http_transport=httpx2.HTTPTransport(verify=_ssl_context()))
    with ChatClient(transport=transport) as c:
        yield c
    transport.close()


@pytest.fixture
async def aclient(env: dict[str, str]) -> AsyncIterator[AsyncChatClient]:
    """conftest's ``aclient``, on a transport sharing one SSL context."""
    import httpx2

    transport = AsyncTransport(max_retries=2, http_transport=httpx2.AsyncHTTPTransport(verify=_ssl_context()))
    async with AsyncChatClient(transport=transport) as c:
        yield c
    await transport.aclose()


@dataclasses.dataclass
class SDKs:
    openai: Any
    anthropic: Any
    groq: Any
    gemini: Any


@pytest.fixture(scope="module")
def sdks(fake_session: FakeServer) -> Iterator[SDKs]:
    import anthropic
    import groq
    import openai
    from google import genai
    from google.genai import types

    env = fake_session.env()
    clients = SDKs(
        openai=openai.OpenAI(api_key=env["OPENAI_API_KEY"], base_url=env["OPENAI_BASE_URL"], max_retries=0),
        anthropic=anthropic.Anthropic(
            api_key=env["ANTHROPIC_API_KEY"], base_url=env["ANTHROPIC_BASE_URL"], max_retries=0
        ),
        groq=groq.Groq(api_key=env["GROQ_API_KEY"], base_url=env["GROQ_BASE_URL"], max_retries=0),
        gemini=genai.Client(
            api_key=env["GEMINI_API_KEY"],
            http_options=types.HttpOptions(base_url=env["GEMINI_BASE_URL"], api_version="v1beta"),
        ),
    )
    yield clients
    clients.openai.close()
    clients.anthropic.close()
    clients.groq.close()
    clients.gemini.close()


# --- the logical calls -----------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Case:
    """One logical call: our arguments, the official SDK's arguments, the allowances it needs."""

    provider: str
    shape: str
    model: str
    messages: Any  # ours
    ours: dict[str, Any]  # our keyword arguments
    sdk: dict[str, Any]  # the SDK's keyword arguments (Gemini: contents and config)
    allow: tuple[str, ...] = ()
    parse: type | None = None  # a pydantic model for the SDK's structured-output helper (parse / stream)
    marks: tuple[Any, ...] = ()

    @property
    def id(self) -> str:
        return f"{self.provider}-{self.shape}"


def _bug(reason: str) -> Any:
    return pytest.mark.xfail(strict=True, raises=AssertionError, reason=reason)


SCHEMA = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
ZONE_SCHEMA = {
    "type": "object",
    "properties": {"zone": {"type": "string"}},
    "required": ["zone"],
    "additionalProperties": False,
}
WEATHER = {"name": "get_weather", "description": "Weather by city.", "parameters": SCHEMA}
CLOCK = {"name": "get_time", "description": "Time in a zone.", "parameters": ZONE_SCHEMA, "strict": True}
TIDE = {"name": "get_tide", "description": "Tide at a port.", "parameters": SCHEMA, "strict": False}
OPENAI_TOOLS = [{"type": "function", "function": f} for f in (WEATHER, CLOCK, TIDE)]
ANTHROPIC_TOOLS = [
    {"name": "get_weather", "description": "Weather by city.", "input_schema": SCHEMA},
    {"name": "get_time", "description": "Time in a zone.", "input_schema": ZONE_SCHEMA, "strict": True},
    {"name": "get_tide", "description": "Tide at a port.", "input_schema": SCHEMA, "strict": False},
]
CACHED_TOOL = {
    "name": "get_weather",
    "description": "Weather by city.",
    "input_schema": SCHEMA,
    "cache_control": {"type": "ephemeral"},
}
RESPONSE_SCHEMA = {
    "type": "object",
    "properties": {"city": {"type": "string"}, "temp": {"type": "number"}},
    "required": ["city", "temp"],
    "additionalProperties": False,
}
OPENAI_RESPONSE_FORMAT = {
    "type": "json_schema",
    "json_schema": {
        "name": "weather",
        "description": "The weather in one city.",
        "schema": RESPONSE_SCHEMA,
        "strict": True,
    },
}

MULTI_TURN = [
    {"role": "user", "content": "hello"},
    {"role": "assistant", "content": "hi, how can I help?"},
    {"role": "user", "content": "weather in Paris?"},
]
PARTS = [{"type": "text", "text": "weather in "}, {"type": "text", "text": "Paris?"}]


def _tool_history(args: tuple[str, str]) -> list[Any]:
    """An OpenAI-shaped history with two tool calls (arguments as JSON text, as OpenAI sends them) and results."""
    return [
        {"role": "user", "content": "weather in Paris and Rome?"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {"id": "call_0", "type": "function", "function": {"name": "get_weather", "arguments": args[0]}},
                {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": args[1]}},
            ],
        },
        {"role": "tool", "tool_call_id": "call_0", "content": "sunny"},
        {"role": "tool", "tool_call_id": "call_1", "content": '{"temp": 21}'},
    ]


VALID_ARGS = ('{"city":"Paris"}', '{"city": "Rome"}')
CUT_ARGS = ('{"city": "Par', ' {"city" :  "Rome"} ')  # cut off at max_tokens; odd spacing: both sent as given
BAD_ARGS = ['{"city": "Par', "[1, 2]", '"Paris"', "{"]  # not a JSON object: Anthropic and Gemini refuse them


@dataclasses.dataclass
class Spot:
    __pydantic_config__ = pydantic.ConfigDict(extra="forbid")  # a closed object, as our generated schemas are

    name: str
    lat: float


def get_forecast(
    city: str,
    unit: Literal["c", "f"] = "c",
    days: int | None = None,
    tags: list[str] | None = None,
    near: Spot | None = None,
) -> str:
    """Forecast by city."""
    return f"{city}: sunny"


class Forecast(pydantic.BaseModel):
    # The pydantic twin of get_forecast's signature. No docstring: pydantic would copy it into the schema,
    # and the tool's description is given to the helpers explicitly.
    model_config = pydantic.ConfigDict(extra="forbid")

    city: str
    unit: Literal["c", "f"] = "c"
    days: int | None = None
    tags: list[str] | None = None
    near: Spot | None = None


@attrs.define
class Place:
    name: str
    lat: float


@attrs.define
class Report:
    city: str
    kind: Literal["daily", "hourly"]
    temps: list[int]
    place: Place
    note: str | None = None


class Dataclasses:
    """Dataclass twins of the attrs classes (same names: the name goes on the wire)."""

    @dataclasses.dataclass
    class Place:
        name: str
        lat: float

    @dataclasses.dataclass
    class Report:
        city: str
        kind: Literal["daily", "hourly"]
        temps: list[int]
        place: Dataclasses.Place
        note: str | None = None


class TypedDicts:
    """TypedDict twins of the attrs classes."""

    class Place(TypedDict):
        name: str
        lat: float

    class Report(TypedDict):
        city: str
        kind: Literal["daily", "hourly"]
        temps: list[int]
        place: TypedDicts.Place
        note: NotRequired[str | None]


class Twin:
    """Pydantic twins of the attrs classes (same names: the name goes on the wire)."""

    class Place(pydantic.BaseModel):
        model_config = pydantic.ConfigDict(extra="forbid")
        name: str
        lat: float

    class Report(pydantic.BaseModel):
        model_config = pydantic.ConfigDict(extra="forbid")
        city: str
        kind: Literal["daily", "hourly"]
        temps: list[int]
        place: Twin.Place
        note: str | None = None


TYPED_TOOL_ALLOW = ("refs", "pydantic-titles", "pydantic-defaults", "enum-type")


# -- per provider: the SDK's arguments for each shape --


def _openai_like(provider: str) -> list[Case]:
    groq = provider == "groq"
    max_tokens = "max_tokens" if groq else "max_completion_tokens"
    user = [{"role": "user", "content": "weather in Paris?"}]

    def case(shape: str, messages: Any, ours: dict[str, Any], sdk: dict[str, Any], **kw: Any) -> Case:
        return Case(provider, shape, kw.pop("model", "echo"), messages, ours, sdk, **kw)

    cases = [
        case("plain", "weather in Paris?", {}, {"messages": user}),
        case("system", user, {"system": "be brief"}, {"messages": [{"role": "system", "content": "be brief"}, *user]}),
        case(
            "system-message",
            [{"role": "system", "content": "be brief"}, *user],
            {},
            {"messages": [{"role": "system", "content": "be brief"}, *user]},
        ),
        case("multi-turn", MULTI_TURN, {}, {"messages": MULTI_TURN}),
        case(
            "content-parts",
            [{"role": "user", "content": PARTS}],
            {},
            {"messages": [{"role": "user", "content": PARTS}]},
        ),
        case("tools-openai-dicts", user, {"tools": OPENAI_TOOLS}, {"messages": user, "tools": OPENAI_TOOLS}),
        case(
            "tools-anthropic-dicts",
            user,
            {"tools": [CACHED_TOOL]},
            {"messages": user, "tools": [{"type": "function", "function": WEATHER}]},
        ),
        case(
            "tool-results",
            _tool_history(VALID_ARGS),
            {"tools": [WEATHER]},
            {"messages": _tool_history(VALID_ARGS), "tools": [{"type": "function", "function": WEATHER}]},
        ),
        case(
            "tool-results-raw-args",
            _tool_history(CUT_ARGS),
            {"tools": [WEATHER]},
            {"messages": _tool_history(CUT_ARGS), "tools": [{"type": "function", "function": WEATHER}]},
        ),
        case(
            "tool-results-empty-args",
            _tool_history(("", "{}")),
            {},
            {"messages": _tool_history(("", "{}"))},
        ),
        case(
            "rf-json-schema",
            user,
            {"response_format": OPENAI_RESPONSE_FORMAT},
            {"messages": user, "response_format": OPENAI_RESPONSE_FORMAT},
            model="json",
        ),
        case(
            "rf-json-object",
            user,
            {"response_format": {"type": "json_object"}},
            {"messages": user, "response_format": {"type": "json_object"}},
            model="json",
        ),
        case(
            "sampling",
            user,
            {"temperature": 0.2, "top_p": 0.9, "max_tokens": 64, "stop": ["END", "STOP"], "seed": 7},
            {"messages": user, "temperature": 0.2, "top_p": 0.9, max_tokens: 64, "stop": ["END", "STOP"], "seed": 7},
        ),
        case(
            "stop-string",
            user,
            {"stop": "END"},
            {"messages": user, "stop": "END"},
            allow=("stop-list",),
        ),
        case(
            "tool-minimal",
            user,
            {"tools": [{"type": "function", "function": {"name": "ping"}}]},
            {"messages": user, "tools": [{"type": "function", "function": {"name": "ping"}}]},
        ),
        case(
            "user-name",
            [{"role": "user", "name": "ada", "content": "weather in Paris?"}],
            {},
            {"messages": [{"role": "user", "name": "ada", "content": "weather in Paris?"}]},
        ),
    ]
    for choice in ("auto", "none", "required", "get_weather"):
        wire = choice if choice != "get_weather" else {"type": "function", "function": {"name": "get_weather"}}
        cases.append(
            case(
                f"tool-choice-{choice}",
                user,
                {"tools": [WEATHER], "tool_choice": choice},
                {"messages": user, "tools": [{"type": "function", "function": WEATHER}], "tool_choice": wire},
            )
        )
    if groq:
        # Groq gets schemas generated from Python types as generated (strict support varies by model):
        # the equivalent is the pydantic model's own schema.
        cases.append(
            case(
                "tool-typed-callable",
                user,
                {"tools": [get_forecast]},
                {
                    "messages": user,
                    "tools": [
                        {
                            "type": "function",
                            "function": {
                                "name": "get_forecast",
                                "description": "Forecast by city.",
                                "parameters": Forecast.model_json_schema(),
                            },
                        }
                    ],
                },
                allow=TYPED_TOOL_ALLOW,
            )
        )
        cases.append(
            case(
                "rf-attrs-class",
                user,
                {"response_format": Report},
                {
                    "messages": user,
                    "response_format": {
                        "type": "json_schema",
                        "json_schema": {"name": "Report", "schema": Twin.Report.model_json_schema()},
                    },
                },
                model="json",
                allow=("refs", "pydantic-titles", "pydantic-defaults", "enum-type"),
            )
        )
    else:
        import openai

        cases.append(
            case(
                "tool-typed-callable",
                user,
                {"tools": [get_forecast]},
                {
                    "messages": user,
                    "tools": [
                        openai.pydantic_function_tool(Forecast, name="get_forecast", description="Forecast by city.")
                    ],
                },
                allow=TYPED_TOOL_ALLOW,
            )
        )
        cases.append(
            case(
                "rf-attrs-class",
                user,
                {"response_format": Report},
                {"messages": user},
                model="json",
                parse=Twin.Report,
                allow=("refs", "pydantic-titles", "enum-type"),
            )
        )
        # A pydantic model as response_format: exactly the strict schema the SDK's parse() sends for it.
        cases.append(
            case("rf-pydantic-model", user, {"response_format": Twin.Report}, {"messages": user}, model="json",
                 parse=Twin.Report)
        )  # fmt: skip
        # A dataclass and a TypedDict: the same schema as their pydantic twin's, up to what pydantic adds.
        for shape, tp in (("rf-dataclass", Dataclasses.Report), ("rf-typeddict", TypedDicts.Report)):
            cases.append(
                case(shape, user, {"response_format": tp}, {"messages": user}, model="json", parse=Twin.Report,
                     allow=("refs", "pydantic-titles", "enum-type"))
            )  # fmt: skip
        cases.append(
            case(
                "developer-role",
                [{"role": "developer", "content": "be brief"}, *user],
                {},
                {"messages": [{"role": "developer", "content": "be brief"}, *user]},
            )
        )
    return cases


def _anthropic() -> list[Case]:
    user = [{"role": "user", "content": "weather in Paris?"}]
    base = {"max_tokens": 4096}  # the Messages API requires it; our default is 4096

    def case(shape: str, messages: Any, ours: dict[str, Any], sdk: dict[str, Any], **kw: Any) -> Case:
        return Case("anthropic", shape, kw.pop("model", "echo"), messages, ours, {**base, **sdk}, **kw)

    def results(args: tuple[dict[str, Any], dict[str, Any]]) -> list[Any]:
        return [
            {"role": "user", "content": "weather in Paris and Rome?"},
            {
                "role": "assistant",
                "content": [
                    {"type": "tool_use", "id": "call_0", "name": "get_weather", "input": args[0]},
                    {"type": "tool_use", "id": "call_1", "name": "get_weather", "input": args[1]},
                ],
            },
            {
                "role": "user",
                "content": [
                    {"type": "tool_result", "tool_use_id": "call_0", "content": "sunny"},
                    {"type": "tool_result", "tool_use_id": "call_1", "content": '{"temp": 21}'},
                ],
            },
        ]

    from anthropic import beta_tool

    weather = {"name": "get_weather", "description": "Weather by city.", "input_schema": SCHEMA}
    cases = [
        case("plain", "weather in Paris?", {}, {"messages": user}),
        case("system", user, {"system": "be brief"}, {"messages": user, "system": "be brief"}),
        case(
            "system-message",
            [{"role": "system", "content": "be brief"}, *user],
            {},
            {"messages": user, "system": "be brief"},
        ),
        case("multi-turn", MULTI_TURN, {}, {"messages": MULTI_TURN}),
        case(
            "content-parts",
            [{"role": "user", "content": PARTS}],
            {},
            {"messages": [{"role": "user", "content": PARTS}]},
        ),
        case("tools-openai-dicts", user, {"tools": OPENAI_TOOLS}, {"messages": user, "tools": ANTHROPIC_TOOLS}),
        case("tools-anthropic-dicts", user, {"tools": [CACHED_TOOL]}, {"messages": user, "tools": [CACHED_TOOL]}),
        case(
            "tool-typed-callable",
            user,
            {"tools": [get_forecast]},
            {"messages": user, "tools": [beta_tool(get_forecast).to_dict()]},
            allow=TYPED_TOOL_ALLOW,
        ),
        case(
            "tool-results",
            _tool_history(VALID_ARGS),
            {"tools": [WEATHER]},
            {"messages": results(({"city": "Paris"}, {"city": "Rome"})), "tools": [weather]},
        ),
        case(
            "rf-json-schema",
            user,
            {"response_format": OPENAI_RESPONSE_FORMAT},
            {"messages": user, "output_config": {"format": {"type": "json_schema", "schema": RESPONSE_SCHEMA}}},
            model="json",
        ),
        case(
            "rf-bare-schema",
            user,
            {"response_format": RESPONSE_SCHEMA},
            {"messages": user, "output_config": {"format": {"type": "json_schema", "schema": RESPONSE_SCHEMA}}},
            model="json",
        ),
        case(
            "rf-attrs-class",
            user,
            {"response_format": Report},
            {"messages": user},
            model="json",
            parse=Twin.Report,
            allow=("refs", "pydantic-titles", "pydantic-defaults"),  # its transform drops `type` beside `enum`
        ),
        case(
            "sampling",
            user,
            {"max_tokens": 64, "stop": ["END", "STOP"]},
            {"messages": user, "max_tokens": 64, "stop_sequences": ["END", "STOP"]},
        ),
        case(
            # Only Claude 3 models take sampling parameters (our capability table refuses them elsewhere), and
            # anthropic 2.x has no arguments for them any more: its way to send them is extra_body.
            "sampling-claude-3",
            user,
            {"temperature": 0.2, "top_p": 0.9, "top_k": 40, "max_tokens": 64, "stop": ["END", "STOP"]},
            {
                "messages": user,
                "max_tokens": 64,
                "stop_sequences": ["END", "STOP"],
                "extra_body": {"temperature": 0.2, "top_p": 0.9, "top_k": 40},
            },
            model="claude-3-sampling",
        ),
        case(
            "tool-minimal",
            user,
            {"tools": [{"name": "ping", "input_schema": {"type": "object", "properties": {}}}]},
            {"messages": user, "tools": [{"name": "ping", "input_schema": {"type": "object", "properties": {}}}]},
        ),
    ]
    for choice, wire in (
        ("auto", {"type": "auto"}),
        ("none", {"type": "none"}),
        ("required", {"type": "any"}),
        ("get_weather", {"type": "tool", "name": "get_weather"}),
    ):
        cases.append(
            case(
                f"tool-choice-{choice}",
                user,
                {"tools": [WEATHER], "tool_choice": choice},
                {"messages": user, "tools": [weather], "tool_choice": wire},
            )
        )
    return cases


def _gemini() -> list[Case]:
    from google.genai import types

    def content(role: str, *parts: Any) -> Any:
        return types.Content(role=role, parts=list(parts))

    def text(t: str) -> Any:
        return types.Part(text=t)

    user = [content("user", text("weather in Paris?"))]
    weather = types.FunctionDeclaration(
        name="get_weather", description="Weather by city.", parameters_json_schema=SCHEMA
    )
    clock = types.FunctionDeclaration(
        name="get_time", description="Time in a zone.", parameters_json_schema=ZONE_SCHEMA
    )
    tide = types.FunctionDeclaration(name="get_tide", description="Tide at a port.", parameters_json_schema=SCHEMA)
    results = [
        content("user", text("weather in Paris and Rome?")),
        content(
            "model",
            types.Part(function_call=types.FunctionCall(name="get_weather", args={"city": "Paris"})),
            types.Part(function_call=types.FunctionCall(name="get_weather", args={"city": "Rome"})),
        ),
        content(
            "user",
            types.Part(function_response=types.FunctionResponse(name="get_weather", response={"result": "sunny"})),
            types.Part(function_response=types.FunctionResponse(name="get_weather", response={"temp": 21})),
        ),
    ]

    def config(**kw: Any) -> Any:
        return types.GenerateContentConfig(**kw)

    def tools(*decls: Any) -> list[Any]:
        return [types.Tool(function_declarations=list(decls))]

    def case(shape: str, messages: Any, ours: dict[str, Any], contents: Any, cfg: Any = None, **kw: Any) -> Case:
        return Case(
            "gemini", shape, kw.pop("model", "echo"), messages, ours, {"contents": contents, "config": cfg}, **kw
        )

    json_config = config(response_mime_type="application/json", response_json_schema=RESPONSE_SCHEMA)
    cases = [
        case("plain", "weather in Paris?", {}, "weather in Paris?"),
        case(
            "system",
            [{"role": "user", "content": "weather in Paris?"}],
            {"system": "be brief"},
            user,
            config(system_instruction="be brief"),
        ),
        case(
            "system-message",
            [{"role": "system", "content": "be brief"}, {"role": "user", "content": "weather in Paris?"}],
            {},
            user,
            config(system_instruction="be brief"),
        ),
        case(
            "multi-turn",
            MULTI_TURN,
            {},
            [content("user", text("hello")), content("model", text("hi, how can I help?")), *user],
        ),
        case(
            "content-parts",
            [{"role": "user", "content": PARTS}],
            {},
            [content("user", text("weather in "), text("Paris?"))],
        ),
        case(
            "tools-openai-dicts",
            "weather in Paris?",
            {"tools": OPENAI_TOOLS},
            "weather in Paris?",
            config(tools=tools(weather, clock, tide)),
        ),
        case(
            "tools-anthropic-dicts",
            "weather in Paris?",
            {"tools": [CACHED_TOOL]},
            "weather in Paris?",
            config(tools=tools(weather)),
        ),
        case(
            "tool-typed-callable",
            "weather in Paris?",
            {"tools": [get_forecast]},
            "weather in Paris?",
            config(
                tools=tools(
                    types.FunctionDeclaration(
                        name="get_forecast",
                        description="Forecast by city.",
                        parameters_json_schema=Forecast.model_json_schema(),
                    )
                )
            ),
            allow=TYPED_TOOL_ALLOW,
        ),
        case("tool-results", _tool_history(VALID_ARGS), {"tools": [WEATHER]}, results, config(tools=tools(weather))),
        case(
            "rf-json-schema",
            "weather in Paris?",
            {"response_format": OPENAI_RESPONSE_FORMAT},
            "weather in Paris?",
            json_config,
            model="json",
        ),
        case(
            "rf-bare-schema",
            "weather in Paris?",
            {"response_format": RESPONSE_SCHEMA},
            "weather in Paris?",
            json_config,
            model="json",
        ),
        case(
            "rf-attrs-class",
            "weather in Paris?",
            {"response_format": Report},
            "weather in Paris?",
            config(response_mime_type="application/json", response_json_schema=Twin.Report.model_json_schema()),
            model="json",
            allow=("refs", "pydantic-titles", "pydantic-defaults", "enum-type"),
        ),
        case(
            "sampling",
            "weather in Paris?",
            {"temperature": 0.2, "top_p": 0.9, "top_k": 40, "max_tokens": 64, "stop": ["END", "STOP"], "seed": 7},
            "weather in Paris?",
            config(temperature=0.2, top_p=0.9, top_k=40, max_output_tokens=64, stop_sequences=["END", "STOP"], seed=7),
        ),
        case(
            "tool-minimal",
            "weather in Paris?",
            {"tools": [{"type": "function", "function": {"name": "ping"}}]},
            "weather in Paris?",
            config(tools=tools(types.FunctionDeclaration(name="ping"))),
        ),
    ]
    for choice, mode, names in (
        ("auto", "AUTO", None),
        ("none", "NONE", None),
        ("required", "ANY", None),
        ("get_weather", "ANY", ["get_weather"]),
    ):
        fcc = types.FunctionCallingConfig(mode=mode, allowed_function_names=names)
        cases.append(
            case(
                f"tool-choice-{choice}",
                "weather in Paris?",
                {"tools": [WEATHER], "tool_choice": choice},
                "weather in Paris?",
                config(tools=tools(weather), tool_config=types.ToolConfig(function_calling_config=fcc)),
            )
        )
    return cases


CASES: list[Case] = [*_openai_like("openai"), *_openai_like("groq"), *_anthropic(), *_gemini()]

# The streaming forms of each SDK: ``create(stream=True)`` (OpenAI: with and without stream_options) and the
# stream helper (``chat.completions.stream``, ``messages.stream``, ``generate_content_stream``).
STREAM_FORMS = {
    "openai": ("create-usage", "create", "helper"),
    "groq": ("create",),
    "anthropic": ("create", "helper"),
    "gemini": ("helper",),
}


def _forms(case: Case) -> tuple[str, ...]:
    forms = STREAM_FORMS[case.provider]
    if case.parse is not None:  # a class as the response format: only the helpers take one
        return tuple(f for f in forms if f == "helper")
    if case.provider == "openai" and any(t["function"].get("strict") is not True for t in case.sdk.get("tools", ())):
        # openai's stream helper refuses tools that are not strict (it parses their arguments)
        return tuple(f for f in forms if f != "helper")
    return forms


def _param(case: Case, *extra: Any) -> Any:
    return pytest.param(case, *extra, id="-".join([case.id, *map(str, extra)]), marks=case.marks)


CHAT_PARAMS = [_param(c) for c in CASES]
STREAM_PARAMS = [_param(c, form) for c in CASES for form in _forms(c)]
ASYNC_PARAMS = [_param(c, stream) for c in CASES for stream in (False, True)]


# --- making the calls ------------------------------------------------------------------------------------


def _sent(fake: FakeServer, action: Callable[[], Any]) -> dict[str, Any]:
    """The one request ``action`` sent."""
    before = len(fake.requests)
    action()
    assert len(fake.requests) == before + 1, f"expected one request, got {len(fake.requests) - before}"
    return fake.requests[-1]


def _official(sdks: SDKs, case: Case, form: str | None) -> Callable[[], None]:
    """The SDK's call for ``case`` (``form``: None for a non-streamed call, else a streaming form)."""

    def call() -> None:
        # A class as the response format: the SDK parses the emulation's answer, which is built from the
        # schema without resolving $ref, so the parse may fail — after the request was recorded.
        suppress = contextlib.suppress(pydantic.ValidationError) if case.parse else contextlib.nullcontext()
        with suppress:
            _official_call(sdks, case, form)

    return call


def _official_call(sdks: SDKs, case: Case, form: str | None) -> None:
    kwargs = {"model": case.model, **case.sdk}
    if case.provider in ("openai", "groq"):
        completions = (sdks.openai if case.provider == "openai" else sdks.groq).chat.completions
        if form is None and case.parse:
            completions.parse(response_format=case.parse, **kwargs)
        elif form is None:
            completions.create(**kwargs)
        elif form == "create":
            for _ in completions.create(stream=True, **kwargs):
                pass
        elif form == "create-usage":
            for _ in completions.create(stream=True, stream_options={"include_usage": True}, **kwargs):
                pass
        else:
            extra = {"response_format": case.parse} if case.parse else {}
            with completions.stream(stream_options={"include_usage": True}, **kwargs, **extra) as s:
                for _ in s:
                    pass
    elif case.provider == "anthropic":
        messages = sdks.anthropic.messages
        if form is None and case.parse:
            messages.parse(output_format=case.parse, **kwargs)
        elif form is None:
            messages.create(**kwargs)
        elif form == "create":
            for _ in messages.create(stream=True, **kwargs):
                pass
        else:
            extra = {"output_format": case.parse} if case.parse else {}
            with messages.stream(**kwargs, **extra) as s:
                for _ in s:
                    pass
    else:
        models = sdks.gemini.models
        if form is None:
            models.generate_content(**kwargs)
        else:
            for _ in models.generate_content_stream(**kwargs):
                pass


def _ours(client: ChatClient, case: Case, stream: bool) -> Callable[[], None]:
    def call() -> None:
        model = f"{case.provider}:{case.model}"
        if stream:
            with client.stream(model, case.messages, **case.ours) as s:
                s.final_response()
        else:
            client.chat(model, case.messages, **case.ours)

    return call


async def _ours_async(aclient: AsyncChatClient, fake: FakeServer, case: Case, stream: bool) -> dict[str, Any]:
    before = len(fake.requests)
    model = f"{case.provider}:{case.model}"
    if stream:
        async with aclient.stream(model, case.messages, **case.ours) as s:
            await s.final_response()
    else:
        await aclient.chat(model, case.messages, **case.ours)
    assert len(fake.requests) == before + 1, f"expected one request, got {len(fake.requests) - before}"
    return fake.requests[-1]


_KEY_HEADER = {"openai": "authorization", "groq": "authorization", "gemini": "x-goog-api-key"}


def assert_same_wire(case: Case, ours: dict[str, Any], theirs: dict[str, Any], extra: tuple[str, ...] = ()) -> None:
    """Same path, query, key and JSON body, modulo the case's allowances — each of which must be needed."""
    assert ours["method"] == theirs["method"] == "POST"
    assert ours["path"] == theirs["path"]
    assert ours["query"] == theirs["query"]
    assert ours["headers"]["content-type"].startswith("application/json")
    name = _KEY_HEADER.get(case.provider)
    if name:
        assert ours["headers"].get(name) == theirs["headers"].get(name), name
    else:  # anthropic 2.x may send the key as a bearer token; we send x-api-key (see test_wire_parity)
        their_key = theirs["headers"].get("x-api-key") or theirs["headers"]["authorization"].removeprefix("Bearer ")
        assert ours["headers"]["x-api-key"] == their_key
    allow = (*case.allow, *extra)
    mine, official = normalize(case.provider, ours["body"], allow), normalize(case.provider, theirs["body"], allow)
    differences = _differences(mine, official)
    assert not differences, f"{case.id}: our body differs from the SDK's:\n" + "\n".join(differences)
    for needed in allow:
        rest = tuple(a for a in allow if a != needed)
        unchanged = _canon(normalize(case.provider, ours["body"], rest)) == _canon(
            normalize(case.provider, theirs["body"], rest)
        )
        assert not unchanged, f"allowance {needed!r} is declared by {case.id} but not needed: remove it"


# --- the matrix --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("case", CHAT_PARAMS)
def test_chat(case: Case, client: ChatClient, fake: FakeServer, sdks: SDKs) -> None:
    theirs = _sent(fake, _official(sdks, case, None))
    ours = _sent(fake, _ours(client, case, stream=False))
    extra = ("openai-parse-stream-false",) if case.provider == "openai" and case.parse else ()
    assert_same_wire(case, ours, theirs, extra)


@pytest.mark.parametrize(("case", "form"), STREAM_PARAMS)
def test_stream(case: Case, form: str, client: ChatClient, fake: FakeServer, sdks: SDKs) -> None:
    theirs = _sent(fake, _official(sdks, case, form))
    assert theirs["body"].get("stream", True) is True  # the SDK did stream (Gemini says so in its path)
    ours = _sent(fake, _ours(client, case, stream=True))
    extra = ("openai-stream-usage",) if case.provider == "openai" and form == "create" else ()
    assert_same_wire(case, ours, theirs, extra)


@pytest.mark.parametrize(("case", "stream"), ASYNC_PARAMS)
async def test_async_same_as_sync(
    case: Case, stream: bool, client: ChatClient, aclient: AsyncChatClient, fake: FakeServer, sdks: SDKs
) -> None:
    """AsyncChatClient sends byte-for-byte what ChatClient sends, and so matches the official SDK too."""
    form = _forms(case)[0] if stream else None
    theirs = _sent(fake, _official(sdks, case, form))
    sync = _sent(fake, _ours(client, case, stream))
    ours = await _ours_async(aclient, fake, case, stream)
    assert ours["path"] == sync["path"]
    assert ours["query"] == sync["query"]
    assert _canon(ours["body"]) == _canon(sync["body"])
    extra: tuple[str, ...] = ()
    if case.provider == "openai" and case.parse and not stream:
        extra = ("openai-parse-stream-false",)
    elif case.provider == "openai" and form == "create":
        extra = ("openai-stream-usage",)
    assert_same_wire(case, ours, theirs, extra)


def test_matrix_covers_every_shape_and_form() -> None:
    """The matrix is what this module says it is (a case lost in a refactor fails here)."""
    shapes: dict[str, set[str]] = {}
    for c in CASES:
        shapes.setdefault(c.shape, set()).add(c.provider)
    everyone = {"openai", "groq", "anthropic", "gemini"}
    for shape in ("plain", "system", "multi-turn", "tools-openai-dicts", "tool-typed-callable", "tool-results"):
        assert shapes[shape] == everyone, shape
    for choice in ("auto", "none", "required", "get_weather"):
        assert shapes[f"tool-choice-{choice}"] == everyone
    assert shapes["rf-attrs-class"] == everyone
    assert shapes["sampling"] == everyone
    assert shapes["tools-anthropic-dicts"] == everyone
    assert shapes["tool-results-raw-args"] == {"openai", "groq"}
    assert {c.provider for c in CASES if c.shape == "rf-json-schema"} == everyone
    streamed = {(c.provider, f) for c in CASES for f in _forms(c)}
    assert streamed == {(p, f) for p, forms in STREAM_FORMS.items() for f in forms}
    used = (
        {a for c in CASES for a in c.allow} | set(GEMINI_ALWAYS) | {"openai-parse-stream-false", "openai-stream-usage"}
    )
    assert used == set(ALLOWED), "every allowance is used by the matrix"


def test_gemini_normalisations_are_needed(fake: FakeServer, sdks: SDKs) -> None:
    """Each normalisation applied to every Gemini body changes what google-genai really sends (none is idle)."""
    from google.genai import types

    weather = types.FunctionDeclaration(name="get_weather", description="Weather.", parameters_json_schema=SCHEMA)
    fcc = types.FunctionCallingConfig(mode="AUTO")
    tools = [types.Tool(function_declarations=[weather])]
    configs = [
        types.GenerateContentConfig(system_instruction="be brief", top_k=40, max_output_tokens=64),
        types.GenerateContentConfig(tools=tools, tool_config=types.ToolConfig(function_calling_config=fcc)),
    ]
    bodies = [
        _sent(fake, lambda c=c: sdks.gemini.models.generate_content(model="echo", contents="hi", config=c))["body"]
        for c in configs
    ]
    # bytes (b"\xfb\xff" encodes to "+/8=" in standard base64): google-genai sends them URL-safe
    part = types.Part.from_bytes(data=b"\xfb\xff", mime_type="image/png")
    contents = [types.Content(role="user", parts=[part])]
    bodies.append(_sent(fake, lambda: sdks.gemini.models.generate_content(model="echo", contents=contents))["body"])
    for name in GEMINI_ALWAYS:
        assert any(_canon(_gemini_meaning(b, (name,))) != _canon(b) for b in bodies), f"{name} is not needed"


# --- strict tool fields reach the wire -----------------------------------------------------------------------


@pytest.mark.parametrize("provider", ["openai", "groq"])
def test_strict_and_description_reach_the_wire(provider: str, client: ChatClient, fake: FakeServer) -> None:
    """Not only equal to the SDK's body: the fields the brief names are there (a guard on the guard)."""
    client.chat(f"{provider}:json", "weather?", tools=OPENAI_TOOLS, response_format=OPENAI_RESPONSE_FORMAT)
    body = fake.requests[-1]["body"]
    assert body["tools"][1]["function"]["strict"] is True
    assert body["tools"][2]["function"]["strict"] is False
    assert "strict" not in body["tools"][0]["function"]
    assert body["response_format"]["json_schema"]["strict"] is True
    assert body["response_format"]["json_schema"]["description"] == "The weather in one city."


def test_openai_typed_callable_is_strict(client: ChatClient, fake: FakeServer) -> None:
    client.chat("openai:echo", "weather?", tools=[get_forecast])
    fn = fake.requests[-1]["body"]["tools"][0]["function"]
    assert fn["strict"] is True
    assert fn["parameters"]["required"] == ["city", "unit", "days", "tags", "near"]
    assert fn["parameters"]["additionalProperties"] is False


# --- tool-call arguments that are not a JSON object ----------------------------------------------------------


def _bad_history(args: str) -> list[Any]:
    return [
        {"role": "user", "content": "weather in Paris?"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {"id": "call_0", "type": "function", "function": {"name": "get_weather", "arguments": args}}
            ],
        },
        {"role": "tool", "tool_call_id": "call_0", "content": "sunny"},
    ]


@pytest.mark.parametrize("args", BAD_ARGS)
@pytest.mark.parametrize("provider", ["openai", "groq"])
def test_openai_like_send_arguments_as_given(
    provider: str, args: str, client: ChatClient, fake: FakeServer, sdks: SDKs
) -> None:
    history = _bad_history(args)
    sdk = sdks.openai if provider == "openai" else sdks.groq
    theirs = _sent(fake, lambda: sdk.chat.completions.create(model="echo", messages=history))
    ours = _sent(fake, lambda: client.chat(f"{provider}:echo", history))
    assert ours["body"]["messages"][1]["tool_calls"][0]["function"]["arguments"] == args
    assert _canon(ours["body"]) == _canon(theirs["body"])


@pytest.mark.parametrize("args", BAD_ARGS)
@pytest.mark.parametrize("provider", ["anthropic", "gemini"])
@pytest.mark.parametrize("mode", ["chat", "stream", "async-chat", "async-stream"])
async def test_object_only_providers_refuse_before_sending(
    provider: str, args: str, mode: str, client: ChatClient, aclient: AsyncChatClient, fake: FakeServer
) -> None:
    history = _bad_history(args)
    model = f"{provider}:echo"

    async def send() -> None:
        if mode == "chat":
            client.chat(model, history, tools=[WEATHER])
        elif mode == "stream":
            with client.stream(model, history, tools=[WEATHER]) as s:
                s.final_response()
        elif mode == "async-chat":
            await aclient.chat(model, history, tools=[WEATHER])
        else:
            async with aclient.stream(model, history, tools=[WEATHER]) as a:
                await a.final_response()

    before = len(fake.requests)
    with pytest.raises(ValidationError, match=r"messages\[1\]\.tool_calls\[0\]"):
        await send()
    assert len(fake.requests) == before, "nothing may be sent"


# --- embeddings ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("provider", ["openai", "gemini"])
async def test_embeddings(
    provider: str, client: ChatClient, aclient: AsyncChatClient, fake: FakeServer, sdks: SDKs
) -> None:
    texts = ["a", "bb", "ccc"]
    if provider == "openai":
        theirs = _sent(fake, lambda: sdks.openai.embeddings.create(model="text-embedding-3-small", input=texts))
        model = "openai:text-embedding-3-small"
    else:
        theirs = _sent(fake, lambda: sdks.gemini.models.embed_content(model="gemini-embedding-001", contents=texts))
        model = "gemini:gemini-embedding-001"
    sync = _sent(fake, lambda: client.embed(model, texts))
    before = len(fake.requests)
    await aclient.embed(model, texts)
    assert len(fake.requests) == before + 1
    ours = fake.requests[-1]
    assert _canon(ours["body"]) == _canon(sync["body"])
    assert ours["path"] == sync["path"] == theirs["path"]
    # google-genai's embedding body has no snake_case or floats to normalise: compared as bytes for both.
    assert _canon(ours["body"]) == _canon(theirs["body"])
