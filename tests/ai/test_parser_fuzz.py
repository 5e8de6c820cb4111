"""Property tests: every provider body or stream ends in a response or in a typed error.

The contract of the response parsers (``providers/openai.py`` — also Groq —, ``anthropic.py``, ``gemini.py``,
the readers in ``providers/_read.py``, the SSE decoder and the per-call bookkeeping in ``_engine.Call``):

- any bytes as a non-streamed body give a :class:`ChatResponse` or an :class:`AtriumnError` (usually a
  :class:`DecodeError` naming the field path), never a raw ``TypeError``/``KeyError``/``OverflowError``...;
- any sequence of stream chunks gives events and a final :class:`FinishEvent`, or a typed error: a
  :class:`StreamDecodeError` (carrying the text so far) or an :class:`APIError` from ``feed``, a
  :class:`NetworkError` from ``stream_closed`` when the stream ended before its end marker (``[DONE]``,
  ``message_stop``, a ``finishReason``);
- a stream cut before its end marker is never accepted as complete; chunk boundaries (and empty reads) never
  change the outcome; the SSE decoder follows the WHATWG rules (checked against a plain reference decoder);
- a missing optional field (usage, ids, finish reasons) is not an error.

Inputs: realistic answers of each provider (text, tool calls, usage with cache and reasoning details) and
realistic streams. Deterministic sweeps apply every single edit exhaustively — each field deleted, or set to
each odd value (null, wrong kinds, huge or non-finite numbers, deeply nested JSON, ...); each event dropped,
doubled, corrupted, preceded by an error payload; each stream cut after every byte and split at every byte.
Hypothesis then combines up to three edits at random paths, adds schema-aware random JSON, arbitrary bytes,
stray CR/LF, cuts and arbitrary chunkings. The sweeps report every failing input, grouped by the exception and
the line that raised it. The sans-IO part drives :class:`~atriumn.ai._engine.Call` directly; the last part
sends mutated bodies and streams through ``ChatClient`` / ``AsyncChatClient`` over a real socket.
"""

from __future__ import annotations

import asyncio
import base64
import copy
import itertools
import json
import math
import re
import struct
import traceback
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import pytest
from hypothesis import given, note, settings
from hypothesis import strategies as st

from atriumn.ai import AsyncChatClient, ChatClient
from atriumn.ai._call import Call
from atriumn.ai._chat_base import EmbedPlan as _EmbedPlan
from atriumn.ai._engine import Engine
from atriumn.ai._errors import StreamDecodeError
from atriumn.ai._parts import ReasoningPart
from atriumn.ai._pricing import PriceTable
from atriumn.ai._sse import ServerSentEvent, SSEDecoder
from atriumn.ai._types import (
    ChatResponse,
    FinishEvent,
    ReasoningDelta,
    TextDelta,
    TextPart,
    ToolCall,
    ToolCallDelta,
    Usage,
    UsageEvent,
)
from atriumn.core import APIError, AtriumnError, CircuitBreakerPolicy, DecodeError, NetworkError
from tests.faultserver import FaultServer, RecordedRequest, Reply

MODELS = {
    "openai": "openai:gpt-4o-mini",
    "groq": "groq:llama-3.3-70b-versatile",
    "anthropic": "anthropic:claude-haiku-4-5",
    "gemini": "gemini:gemini-2.5-flash",
}
PROVIDERS = list(MODELS)
EMBED_MODELS = {"openai": "text-embedding-3-small", "gemini": "gemini-embedding-001"}

# Examples per property (sans-IO explores a lot; the socket tests fewer).
MANY = 400
SOME = 200
FEW = 100
SOCKET = 40

FUZZ = settings(deadline=None, derandomize=True, database=None, max_examples=MANY)
SOCKET_SETTINGS = settings(FUZZ, max_examples=SOCKET)

# Our own prices (not the process-wide table another test may replace), so completing a response computes a cost.
PRICES = PriceTable(
    {
        **{MODELS[p]: {"input": 1.0, "output": 4.0, "cache_read": 0.1, "cache_write": 1.25} for p in PROVIDERS},
        **{f"{p}:{m}": {"input": 0.02} for p, m in EMBED_MODELS.items()},
    },
    as_of="test",
)
_ENGINE = Engine(api_keys={p: "test-key" for p in PROVIDERS}, prices=PRICES, environ={})
_PLANS = {p: _ENGINE.plan(MODELS[p], None, "What is the capital of France?", {})[0] for p in PROVIDERS}


def _call(provider: str, *, stream: bool) -> Call:
    req, adapter = _PLANS[provider]
    return Call(_ENGINE, req, adapter, stream=stream, use_cache=False)


# --- realistic documents ---------------------------------------------------------------------------------

_TEXT = "Paris — c'est ça 🇫🇷."
_ARGS = {"city": "Paris", "units": "celsius", "days": [1, 2]}

OPENAI_DOCS: list[dict[str, Any]] = [
    {
        "id": "chatcmpl-AbC123",
        "object": "chat.completion",
        "created": 1730000000,
        "model": "gpt-4o-mini-2024-07-18",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": _TEXT, "refusal": None, "annotations": []},
                "logprobs": None,
                "finish_reason": "stop",
            }
        ],
        "usage": {
            "prompt_tokens": 1234,
            "completion_tokens": 56,
            "total_tokens": 1290,
            "prompt_tokens_details": {"cached_tokens": 1024, "audio_tokens": 0},
            "completion_tokens_details": {
                "reasoning_tokens": 32,
                "audio_tokens": 0,
                "accepted_prediction_tokens": 0,
                "rejected_prediction_tokens": 0,
            },
        },
        "service_tier": "default",
        "system_fingerprint": "fp_0aa8d3e20b",
    },
    {
        "id": "chatcmpl-Tool456",
        "object": "chat.completion",
        "created": 1730000001,
        "model": "gpt-4o-mini-2024-07-18",
        "choices": [
            {
                "index": 0,
                "message": {
                    "role": "assistant",
                    "content": None,
                    "tool_calls": [
                        {
                            "id": "call_abc",
                            "type": "function",
                            "function": {"name": "get_weather", "arguments": json.dumps(_ARGS)},
                        },
                        {"id": "call_def", "type": "function", "function": {"name": "get_time", "arguments": "{}"}},
                    ],
                    "refusal": None,
                },
                "logprobs": None,
                "finish_reason": "tool_calls",
            }
        ],
        "usage": {
            "prompt_tokens": 80,
            "completion_tokens": 40,
            "total_tokens": 120,
            "prompt_tokens_details": {"cached_tokens": 0},
            "completion_tokens_details": {"reasoning_tokens": 0},
        },
    },
]
GROQ_DOCS: list[dict[str, Any]] = [
    {
        "id": "chatcmpl-groq1",
        "object": "chat.completion",
        "created": 1730000002,
        "model": "llama-3.3-70b-versatile",
        "choices": [
            {"index": 0, "message": {"role": "assistant", "content": _TEXT}, "logprobs": None, "finish_reason": "stop"}
        ],
        "usage": {
            "queue_time": 0.02,
            "prompt_tokens": 40,
            "prompt_time": 0.004,
            "completion_tokens": 9,
            "completion_time": 0.03,
            "total_tokens": 49,
            "total_time": 0.034,
        },
        "system_fingerprint": "fp_groq",
        "x_groq": {"id": "req_01abc"},
    },
    {
        "id": "chatcmpl-groq2",
        "object": "chat.completion",
        "model": "llama-3.3-70b-versatile",
        "choices": [
            {
                "index": 0,
                "message": {
                    "role": "assistant",
                    "tool_calls": [
                        {
                            "id": "call_g1",
                            "type": "function",
                            "function": {"name": "get_weather", "arguments": json.dumps(_ARGS)},
                        }
                    ],
                },
                "finish_reason": "tool_calls",
            }
        ],
        "x_groq": {"id": "req_01def", "usage": {"prompt_tokens": 40, "completion_tokens": 20, "total_tokens": 60}},
    },
]
ANTHROPIC_DOCS: list[dict[str, Any]] = [
    {
        "id": "msg_01XyZ",
        "type": "message",
        "role": "assistant",
        "model": "claude-haiku-4-5-20251001",
        "content": [{"type": "text", "text": _TEXT}],
        "stop_reason": "end_turn",
        "stop_sequence": None,
        "usage": {
            "input_tokens": 12,
            "cache_creation_input_tokens": 200,
            "cache_read_input_tokens": 1000,
            "output_tokens": 30,
            "service_tier": "standard",
        },
    },
    {
        "id": "msg_01Tool",
        "type": "message",
        "role": "assistant",
        "model": "claude-haiku-4-5-20251001",
        "content": [
            {"type": "thinking", "thinking": "The user wants the weather.", "signature": "c2ln"},
            {"type": "text", "text": "Let me check."},
            {"type": "tool_use", "id": "toolu_01A", "name": "get_weather", "input": _ARGS},
        ],
        "stop_reason": "tool_use",
        "stop_sequence": None,
        "usage": {"input_tokens": 300, "output_tokens": 60},
    },
]
GEMINI_DOCS: list[dict[str, Any]] = [
    {
        "candidates": [
            {
                "content": {"parts": [{"text": _TEXT}], "role": "model"},
                "finishReason": "STOP",
                "index": 0,
                "safetyRatings": [{"category": "HARM_CATEGORY_HARASSMENT", "probability": "NEGLIGIBLE"}],
            }
        ],
        "usageMetadata": {
            "promptTokenCount": 1200,
            "candidatesTokenCount": 20,
            "totalTokenCount": 1260,
            "cachedContentTokenCount": 1024,
            "thoughtsTokenCount": 40,
            "promptTokensDetails": [{"modality": "TEXT", "tokenCount": 1200}],
        },
        "modelVersion": "gemini-2.5-flash",
        "responseId": "resp-abc",
    },
    {
        "candidates": [
            {
                "content": {
                    "parts": [
                        {"text": "Thinking about the weather...", "thought": True},
                        {"text": "Checking."},
                        {"functionCall": {"name": "get_weather", "args": _ARGS}, "thoughtSignature": "c2ln"},
                        {"functionCall": {"id": "fc_2", "name": "get_time", "args": {}}},
                    ],
                    "role": "model",
                },
                "finishReason": "STOP",
                "index": 0,
            }
        ],
        "usageMetadata": {"promptTokenCount": 50, "candidatesTokenCount": 12, "totalTokenCount": 62},
        "modelVersion": "gemini-2.5-flash",
        "responseId": "resp-tool",
    },
    {
        "promptFeedback": {"blockReason": "SAFETY", "safetyRatings": []},
        "usageMetadata": {"promptTokenCount": 7, "totalTokenCount": 7},
        "modelVersion": "gemini-2.5-flash",
    },
]
DOCS = {"openai": OPENAI_DOCS, "groq": GROQ_DOCS, "anthropic": ANTHROPIC_DOCS, "gemini": GEMINI_DOCS}

# Fields the official SDKs treat as optional: deleting or nulling anything at or under them is not an error.
OPTIONAL: dict[str, list[tuple[Any, ...]]] = {
    "openai": [
        ("id",),
        ("object",),
        ("created",),
        ("model",),
        ("usage",),
        ("service_tier",),
        ("system_fingerprint",),
        ("choices", 0, "index"),
        ("choices", 0, "logprobs"),
        ("choices", 0, "finish_reason"),
        ("choices", 0, "message", "role"),
        ("choices", 0, "message", "content"),
        ("choices", 0, "message", "refusal"),
        ("choices", 0, "message", "annotations"),
        ("choices", 0, "message", "tool_calls", 0, "type"),
        ("choices", 0, "message", "tool_calls", 1, "type"),
    ],
    "anthropic": [
        ("id",),
        ("type",),
        ("role",),
        ("model",),
        ("usage",),
        ("stop_reason",),
        ("stop_sequence",),
    ],
    "gemini": [
        ("modelVersion",),
        ("responseId",),
        ("usageMetadata",),
        ("candidates", 0, "finishReason"),
        ("candidates", 0, "index"),
        ("candidates", 0, "safetyRatings"),
        ("candidates", 0, "content", "role"),
        ("promptFeedback", "safetyRatings"),
    ],
}
OPTIONAL["groq"] = [*OPTIONAL["openai"], ("x_groq",)]

# --- realistic streams -------------------------------------------------------------------------------------

Event = tuple[str | None, str]  # (SSE event name or None, data)


def _j(doc: Any) -> str:
    return json.dumps(doc, ensure_ascii=False)


def _openai_chunk(delta: Mapping[str, Any] | None, finish: str | None = None, **extra: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "id": "chatcmpl-S1",
        "object": "chat.completion.chunk",
        "created": 1730000000,
        "model": "gpt-4o-mini-2024-07-18",
        "system_fingerprint": "fp_1",
        "choices": []
        if delta is None
        else [{"index": 0, "delta": dict(delta), "logprobs": None, "finish_reason": finish}],
    }
    doc.update(extra)
    return doc


_OPENAI_USAGE = {
    "prompt_tokens": 1234,
    "completion_tokens": 56,
    "total_tokens": 1290,
    "prompt_tokens_details": {"cached_tokens": 1024},
    "completion_tokens_details": {"reasoning_tokens": 32},
}


def _openai_streams(groq: bool) -> list[list[Event]]:
    def usage_chunk() -> dict[str, Any]:
        if groq:
            return _openai_chunk({}, "stop", x_groq={"id": "req_1", "usage": _OPENAI_USAGE})
        return _openai_chunk(None, usage=_OPENAI_USAGE)

    first_extra = {"x_groq": {"id": "req_1"}} if groq else {}
    text = [
        _openai_chunk({"role": "assistant", "content": "", "refusal": None}, **first_extra),
        _openai_chunk({"content": "Paris — "}),
        _openai_chunk({"content": "c'est ça"}),
        _openai_chunk({"content": " 🇫🇷."}),
        _openai_chunk({}, "stop"),
        usage_chunk(),
    ]
    args = json.dumps(_ARGS)
    tools = [
        _openai_chunk({"role": "assistant", "content": None}, **first_extra),
        _openai_chunk(
            {
                "tool_calls": [
                    {
                        "index": 0,
                        "id": "call_a",
                        "type": "function",
                        "function": {"name": "get_weather", "arguments": ""},
                    }
                ]
            }
        ),
        _openai_chunk({"tool_calls": [{"index": 0, "function": {"arguments": args[:9]}}]}),
        _openai_chunk({"tool_calls": [{"index": 0, "function": {"arguments": args[9:]}}]}),
        _openai_chunk(
            {
                "tool_calls": [
                    {
                        "index": 1,
                        "id": "call_b",
                        "type": "function",
                        "function": {"name": "get_time", "arguments": "{}"},
                    }
                ]
            }
        ),
        _openai_chunk({}, "tool_calls"),
        usage_chunk(),
    ]
    return [[(None, _j(d)) for d in text] + [(None, "[DONE]")], [(None, _j(d)) for d in tools] + [(None, "[DONE]")]]


def _anthropic_streams() -> list[list[Event]]:
    start = {
        "type": "message_start",
        "message": {
            "id": "msg_S1",
            "type": "message",
            "role": "assistant",
            "model": "claude-haiku-4-5-20251001",
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": {
                "input_tokens": 12,
                "cache_creation_input_tokens": 200,
                "cache_read_input_tokens": 1000,
                "output_tokens": 1,
            },
        },
    }

    def ev(name: str, **doc: Any) -> Event:
        return (name, _j({"type": name, **doc}))

    def stop(reason: str) -> list[Event]:
        return [
            ev("message_delta", delta={"stop_reason": reason, "stop_sequence": None}, usage={"output_tokens": 30}),
            ev("message_stop"),
        ]

    text = [
        ("message_start", _j(start)),
        ev("content_block_start", index=0, content_block={"type": "text", "text": ""}),
        ("ping", _j({"type": "ping"})),
        ev("content_block_delta", index=0, delta={"type": "text_delta", "text": "Paris — "}),
        ev("content_block_delta", index=0, delta={"type": "text_delta", "text": "c'est ça 🇫🇷."}),
        ev("content_block_stop", index=0),
        *stop("end_turn"),
    ]
    args = json.dumps(_ARGS)
    tools = [
        ("message_start", _j(start)),
        ev("content_block_start", index=0, content_block={"type": "thinking", "thinking": ""}),
        ev("content_block_delta", index=0, delta={"type": "thinking_delta", "thinking": "Weather."}),
        ev("content_block_delta", index=0, delta={"type": "signature_delta", "signature": "c2ln"}),
        ev("content_block_stop", index=0),
        ev("content_block_start", index=1, content_block={"type": "text", "text": ""}),
        ev("content_block_delta", index=1, delta={"type": "text_delta", "text": "Let me check."}),
        ev("content_block_stop", index=1),
        ("ping", _j({"type": "ping"})),
        ev("content_block_start", index=2, content_block={"type": "tool_use", "id": "toolu_1", "name": "get_weather"}),
        ev("content_block_delta", index=2, delta={"type": "input_json_delta", "partial_json": ""}),
        ev("content_block_delta", index=2, delta={"type": "input_json_delta", "partial_json": args[:9]}),
        ev("content_block_delta", index=2, delta={"type": "input_json_delta", "partial_json": args[9:]}),
        ev("content_block_stop", index=2),
        *stop("tool_use"),
    ]
    return [text, tools]


def _gemini_streams() -> list[list[Event]]:
    def chunk(parts: list[Any], finish: str | None = None, usage: Mapping[str, Any] | None = None) -> Event:
        cand: dict[str, Any] = {"content": {"parts": parts, "role": "model"}, "index": 0}
        if finish:
            cand["finishReason"] = finish
        doc: dict[str, Any] = {
            "candidates": [cand],
            "usageMetadata": dict(usage or {"promptTokenCount": 1200, "totalTokenCount": 1200}),
            "modelVersion": "gemini-2.5-flash",
            "responseId": "resp-S1",
        }
        return (None, _j(doc))

    final_usage = {
        "promptTokenCount": 1200,
        "candidatesTokenCount": 20,
        "totalTokenCount": 1260,
        "cachedContentTokenCount": 1024,
        "thoughtsTokenCount": 40,
    }
    text = [
        chunk([{"text": "Paris — "}]),
        chunk([{"text": "c'est ça"}]),
        chunk([{"text": " 🇫🇷."}], "STOP", final_usage),
    ]
    tools = [
        chunk([{"text": "Thinking...", "thought": True}]),
        chunk([{"text": "Checking."}]),
        chunk(
            [
                {"functionCall": {"name": "get_weather", "args": _ARGS}, "thoughtSignature": "c2ln"},
                {"functionCall": {"name": "get_time", "args": {}}},
            ],
            "STOP",
            final_usage,
        ),
    ]
    return [text, tools]


STREAMS: dict[str, list[list[Event]]] = {
    "openai": _openai_streams(groq=False),
    "groq": _openai_streams(groq=True),
    "anthropic": _anthropic_streams(),
    "gemini": _gemini_streams(),
}
_NEWLINE = {"openai": "\n", "groq": "\n", "anthropic": "\n", "gemini": "\r\n"}


def _collect_keys(value: Any, into: set[str]) -> set[str]:
    if isinstance(value, dict):
        for k, v in value.items():
            into.add(k)
            _collect_keys(v, into)
    elif isinstance(value, list):
        for v in value:
            _collect_keys(v, into)
    return into


_EXTRA_KEYS = {"error", "x_groq", "usage", "promptFeedback", "blockReason", "thought", "functionCall", "type", "index"}
VOCAB: dict[str, list[str]] = {}
for _p in PROVIDERS:
    _keys = set(_EXTRA_KEYS)
    for _d in DOCS[_p]:
        _collect_keys(_d, _keys)
    for _s in STREAMS[_p]:
        for _, _data in _s:
            if _data.startswith("{"):
                _collect_keys(json.loads(_data), _keys)
    VOCAB[_p] = sorted(_keys)

# --- odd values ----------------------------------------------------------------------------------------------

# Deeply nested JSON cannot be built as Python objects and dumped (the encoder recurses), so it goes in as a
# placeholder string that _dumps replaces with the nested text.
_DEEP = {
    "\x00deep-list\x00": "[" * 50_000 + "]" * 50_000,
    "\x00deep-object\x00": '{"a":' * 20_000 + "1" + "}" * 20_000,
    "\x00near-limit\x00": "[" * 600 + "]" * 600,
}
_DEEP_JSON = {json.dumps(k): v for k, v in _DEEP.items()}
_DEEP_RE = re.compile("|".join(re.escape(k) for k in _DEEP_JSON))


def _dumps(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False)
    if "\\u0000deep" in text or "\\u0000near" in text:
        text = _DEEP_RE.sub(lambda m: _DEEP_JSON[m.group(0)], text)
    return text


ODD_NUMBERS: list[Any] = [
    0,
    1,
    -1,
    7,
    1.5,
    -0.0,
    2**53 + 1,
    10**30,
    10**400,
    -(10**400),
    1e308,
    5e-324,
    math.inf,
    -math.inf,
    math.nan,
    True,
    False,
    None,
]
ODD_STRINGS: list[Any] = [
    "",
    "x",
    "stop",
    "STOP",
    "[DONE]",
    "null",
    "{}",
    "[]",
    '{"city": "Paris"}',
    '{"cut": "of',
    "[" * 3000,
    "[" * 3000 + "]" * 3000,
    '{"a":' * 2000 + "1" + "}" * 2000,
    "\x00",
    "\u2028\r\n",
    "é🇫🇷\ufeff",
    "sk-proj-ABCDEFGHIJKLMNOPQRSTUVWXYZ012345",
    "a" * 5000,
]
ODD_CONTAINERS: list[Any] = [
    [],
    {},
    [None],
    [[]],
    [{}],
    [1, "a", None, True],
    {"": None},
    {"type": "text", "text": 5},
    {"type": "tool_use"},
    {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}},
    {"message": {"content": [1]}},
    *_DEEP,
]
ODD_LEAVES = [*ODD_NUMBERS, *ODD_STRINGS]


def _json_values(keys: list[str], max_leaves: int = 12) -> st.SearchStrategy[Any]:
    """Random JSON whose object keys are mostly the provider's own (so it reaches past the first check)."""
    leaves = (
        st.none()
        | st.booleans()
        | st.integers()
        | st.floats()
        | st.text(max_size=12)
        | st.sampled_from(ODD_LEAVES)
        | st.sampled_from(keys)
    )
    names = st.sampled_from(keys) | st.text(max_size=6)
    return st.recursive(
        leaves,
        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(names, inner, max_size=5),
        max_leaves=max_leaves,
    )


def _odd_values(keys: list[str]) -> st.SearchStrategy[Any]:
    # copied: a mutation that follows may edit the value in place, and the shared list must stay as it is
    return st.one_of(
        st.sampled_from(ODD_NUMBERS),
        st.sampled_from(ODD_STRINGS),
        st.sampled_from(ODD_CONTAINERS).map(copy.deepcopy),
        _json_values(keys, max_leaves=5),
    )


# --- mutating documents ------------------------------------------------------------------------------------

Path = tuple[Any, ...]


def _paths(value: Any, prefix: Path = ()) -> Iterator[Path]:
    yield prefix
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _paths(v, (*prefix, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _paths(v, (*prefix, i))


def _get(doc: Any, path: Path) -> Any:
    for step in path:
        doc = doc[step]
    return doc


def _fmt_path(path: Path) -> str:
    return "$" + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in path)


def _short(value: Any) -> str:
    if isinstance(value, str) and value in _DEEP:
        return value.strip("\x00").upper()
    text = repr(value)
    return text if len(text) <= 80 else f"{text[:60]}...<{len(text)} chars>"


class Mutated:
    """A mutated document and the mutations applied (its repr is the reproducer hypothesis prints)."""

    def __init__(self, doc: Any, steps: list[str], base: int) -> None:
        self.doc = doc
        self.steps = steps
        self.base = base

    def body(self) -> bytes:
        return _dumps(self.doc).encode()

    def __repr__(self) -> str:
        return f"Mutated(base={self.base}, steps={self.steps})"


OPS = ("delete", "null", "replace", "replace", "replace", "wrap_list", "wrap_object", "stringify", "copy", "add_key")


def _mutate(
    draw: Callable[..., Any], doc: Any, keys: list[str], ops: tuple[str, ...], n: int, allowed: Any = None
) -> tuple[Any, list[str]]:
    steps: list[str] = []
    for _ in range(n):
        paths = [p for p in _paths(doc) if allowed is None or allowed(p)]
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        op = draw(st.sampled_from(ops))
        where = _fmt_path(path)
        current = _get(doc, path)
        if op == "delete":
            if not path:
                continue
            del _get(doc, path[:-1])[path[-1]]
            steps.append(f"delete {where}")
            continue
        if op == "add_key":
            if not isinstance(current, dict):
                continue
            key = draw(st.sampled_from(keys))
            value = draw(_odd_values(keys))
            current[key] = value
            steps.append(f"set {where}.{key} = {_short(value)}")
            continue
        if op == "null":
            new: Any = None
        elif op == "replace":
            new = draw(_odd_values(keys))
        elif op == "wrap_list":
            new = [current]
        elif op == "wrap_object":
            new = {draw(st.sampled_from(keys)): current}
        elif op == "stringify":
            new = _dumps(current)
        else:  # copy another part of the document here (a confusion of kinds that looks plausible)
            new = copy.deepcopy(_get(doc, draw(st.sampled_from(list(_paths(doc))))))
        steps.append(f"{op} {where} = {_short(new)}")
        if path:
            _get(doc, path[:-1])[path[-1]] = new
        else:
            doc = new
    return doc, steps


@st.composite
def mutated_docs(draw: Callable[..., Any], provider: str) -> Mutated:
    docs = DOCS[provider]
    base = draw(st.integers(0, len(docs) - 1))
    doc, steps = _mutate(draw, copy.deepcopy(docs[base]), VOCAB[provider], OPS, draw(st.integers(1, 3)))
    return Mutated(doc, steps, base)


@st.composite
def optional_removed(draw: Callable[..., Any], provider: str) -> Mutated:
    docs = DOCS[provider]
    base = draw(st.integers(0, len(docs) - 1))
    prefixes = OPTIONAL[provider]

    def allowed(path: Path) -> bool:
        return any(path[: len(p)] == p for p in prefixes)

    doc, steps = _mutate(
        draw, copy.deepcopy(docs[base]), VOCAB[provider], ("delete", "null"), draw(st.integers(1, 4)), allowed
    )
    return Mutated(doc, steps, base)


# --- checking outcomes -------------------------------------------------------------------------------------


def _check_usage(usage: Usage) -> None:
    for name in ("input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens", "reasoning_tokens"):
        value = getattr(usage, name)
        assert type(value) is int and value >= 0, f"usage.{name} = {value!r}"
    assert isinstance(usage.raw, Mapping)


def _check_response(response: Any, provider: str) -> None:
    assert isinstance(response, ChatResponse), response
    assert isinstance(response.text, str)
    assert isinstance(response.finish_reason, str)
    assert isinstance(response.model, str) and response.model
    assert isinstance(response.id, str)
    assert response.provider == provider
    _check_usage(response.usage)
    for part in response.parts:
        if isinstance(part, TextPart):
            assert isinstance(part.text, str) and part.text
        elif isinstance(part, ReasoningPart):
            assert isinstance(part.text, str) and part.provider == provider
            assert part.signature is None or isinstance(part.signature, str)
            assert part.data is None or isinstance(part.data, str)
        else:
            assert isinstance(part, ToolCall), part
            assert isinstance(part.id, str) and isinstance(part.name, str)
            assert isinstance(part.arguments, Mapping)
            assert part.raw_arguments is None or isinstance(part.raw_arguments, str)
    assert response.text == "".join(p.text for p in response.parts if isinstance(p, TextPart))
    assert response.tool_calls == tuple(p for p in response.parts if isinstance(p, ToolCall))


def _check_decode_error(exc: DecodeError) -> None:
    assert isinstance(exc.path, str) and exc.path.startswith("$"), exc.path
    assert isinstance(exc.body, str)
    assert str(exc)


def parse_body(provider: str, body: bytes) -> ChatResponse | AtriumnError:
    """``Call.parse_body``: a checked response, or a typed error (anything else escapes and fails the test)."""
    call = _call(provider, stream=False)
    try:
        response = call.parse_body(body, {})
    except AtriumnError as exc:
        if isinstance(exc, DecodeError):
            _check_decode_error(exc)
        return exc
    _check_response(response, provider)
    return response


class _Opened:
    """What ``Call.stream_opened`` reads of an HTTP response."""

    headers: Mapping[str, str] = {}
    request = None


class StreamOutcome:
    def __init__(self) -> None:
        self.events: list[Any] = []
        self.response: ChatResponse | None = None
        self.error: AtriumnError | None = None
        self.partial_text = ""

    def key(self) -> tuple[Any, ...]:
        """What must not depend on chunk boundaries."""
        if self.error is not None:
            return ("error", type(self.error), str(self.error), self.partial_text)
        return ("ok", self.events, self.response, self.response.text if self.response else None)


def run_stream(provider: str, chunks: list[bytes]) -> StreamOutcome:
    """``Call.stream_opened`` / ``feed`` per chunk / ``stream_closed``, checking every outcome."""
    call = _call(provider, stream=True)
    call.stream_opened(_Opened())
    out = StreamOutcome()
    error: AtriumnError | None = None
    try:
        for chunk in chunks:
            events = call.feed(chunk)
            assert isinstance(events, list)
            out.events.extend(events)
    except AtriumnError as exc:
        error = exc
    if error is not None:
        assert isinstance(error, (StreamDecodeError, APIError)), f"feed raised {type(error).__name__}: {error}"
        if isinstance(error, StreamDecodeError):
            _check_decode_error(error)
            assert error.partial_text == call.partial_text
            assert error.model == MODELS[provider]
        out.error = error
        out.partial_text = call.partial_text
        return out
    for event in out.events:
        assert isinstance(event, (TextDelta, ReasoningDelta, ToolCallDelta, UsageEvent)), event
        if isinstance(event, UsageEvent):
            _check_usage(event.usage)
    final: FinishEvent | None = None
    try:
        final = call.stream_closed()
    except AtriumnError as exc:
        error = exc
    if error is not None:
        assert isinstance(error, NetworkError), f"stream_closed raised {type(error).__name__}: {error}"
        out.error = error
        out.partial_text = call.partial_text
        return out
    assert isinstance(final, FinishEvent)
    _check_response(final.response, provider)
    assert final.finish_reason == final.response.finish_reason
    if provider != "anthropic":  # Anthropic's text is ordered by block index, not by arrival
        streamed = "".join(e.text for e in out.events if isinstance(e, TextDelta))
        assert final.response.text == streamed
    out.response = final.response
    return out


_LINE_END = re.compile(rb"\r\n|\r|\n")


def has_end_marker(provider: str, data: bytes) -> bool:
    """Whether ``data`` holds the provider's end marker as a complete event: a necessary condition for a stream
    to be accepted (checked on lines, independently of the SDK's decoder)."""
    lines = _LINE_END.split(data)[:-1]  # the unterminated tail is not a line
    blank_after = [False] * (len(lines) + 1)
    for i in range(len(lines) - 1, -1, -1):
        blank_after[i] = blank_after[i + 1] or lines[i] == b""
    for i, line in enumerate(lines):
        if not blank_after[i + 1]:
            continue
        if provider in ("openai", "groq") and line in (b"data: [DONE]", b"data:[DONE]"):
            return True
        if provider == "anthropic" and line in (b"event: message_stop", b"event:message_stop"):
            return True
        if provider == "gemini" and line.startswith(b"data") and (b"finishReason" in line or b"blockReason" in line):
            return True
    return False


# --- streams: serialising and mutating ------------------------------------------------------------------------


def serialize(provider: str, events: list[Event], nl: str | None = None) -> tuple[bytes, list[int]]:
    """The stream's bytes (lines ended as the provider ends them, or by ``nl``) and where each event ends."""
    nl = nl or _NEWLINE[provider]
    out = bytearray()
    ends: list[int] = []
    for name, data in events:
        lines = [f"event: {name}"] if name is not None else []
        lines += [f"data: {piece}" for piece in re.split("\r\n|\r|\n", data)]
        out += (nl.join(lines) + nl + nl).encode("utf-8", "surrogatepass")
        ends.append(len(out))
    return bytes(out), ends


def _chunk(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c for c in cuts if 0 < c < len(data)})
    bounds = [0, *points, len(data)]
    return [data[a:b] for a, b in itertools.pairwise(bounds) if b > a]


@st.composite
def chunkings(draw: Callable[..., Any], data: bytes) -> list[bytes]:
    """``data`` split at arbitrary boundaries (sometimes byte by byte)."""
    if not data:
        return []
    if len(data) <= 4096 and draw(st.integers(0, 9)) == 0:
        return [data[i : i + 1] for i in range(len(data))]
    cuts = draw(st.lists(st.integers(0, len(data)), max_size=24))
    return _chunk(data, cuts)


_EVENT_NAMES = [
    "message_start",
    "content_block_start",
    "content_block_delta",
    "content_block_stop",
    "message_delta",
    "message_stop",
    "ping",
    "error",
    "message",
    "",
]
_BAD_DATA = [
    "null",
    "[]",
    '"text"',
    "42",
    "-1",
    "true",
    "{}",
    "",
    "[DONE]",
    "[DONE] ",
    "NaN",
    "{",
    '{"a": }',
    "\ufeff{}",
]
_STRAY = [b"\r", b"\n", b"\r\n", b"\n\n", b"\r\r", b"\x00", b"\xff", b"\xef\xbb\xbf", b": keep-alive\n", b"retry: 5\n"]
_ERRORS: list[Any] = [
    {"type": "overloaded_error", "message": "Overloaded"},
    {"code": "rate_limit_exceeded", "message": "slow down"},
    {"code": 429, "status": "RESOURCE_EXHAUSTED", "message": "quota"},
    {"message": None},
    "boom",
    None,
    [],
    {"type": ["x"], "status": {}, "code": 1.5, "message": {"nested": [1]}},
]


class MutatedStream:
    """A mutated stream: the event list, byte-level edits, chunking (the repr is the reproducer)."""

    def __init__(self, provider: str, base: int, events: list[Event], steps: list[str]) -> None:
        self.provider = provider
        self.base = base
        self.events = events
        self.steps = steps
        self.data = serialize(provider, events)[0]
        self.chunks: list[bytes] = [self.data]

    def __repr__(self) -> str:
        sizes = [len(c) for c in self.chunks]
        return f"MutatedStream({self.provider}, base={self.base}, steps={self.steps}, chunk_sizes={sizes})"


def _error_event(provider: str, error: Any) -> Event:
    if provider == "anthropic":
        return ("error", _dumps({"type": "error", "error": error}))
    if provider == "groq":
        return (None, _dumps({"id": "x", "choices": [], "x_groq": {"error": error}}))
    return (None, _dumps({"error": error}))


@st.composite
def mutated_streams(draw: Callable[..., Any], provider: str, *, chunked: bool = True) -> MutatedStream:
    streams = STREAMS[provider]
    base = draw(st.integers(0, len(streams) - 1))
    events: list[Event] = list(streams[base])
    keys = VOCAB[provider]
    steps: list[str] = []
    for _ in range(draw(st.integers(1, 3))):
        op = draw(
            st.sampled_from(
                ["drop", "duplicate", "move", "data", "truncate", "json", "json", "json", "rename", "error"]
            )
        )
        if not events:
            break
        i = draw(st.integers(0, len(events) - 1))
        name, data = events[i]
        if op == "drop":
            del events[i]
            steps.append(f"drop event {i}")
        elif op == "duplicate":
            events.insert(i, events[i])
            steps.append(f"duplicate event {i}")
        elif op == "move":
            j = draw(st.integers(0, len(events) - 1))
            events.insert(j, events.pop(i))
            steps.append(f"move event {i} to {j}")
        elif op == "data":
            new = draw(st.sampled_from(_BAD_DATA) | st.text(max_size=20))
            events[i] = (name, new)
            steps.append(f"event {i} data = {new!r}")
        elif op == "truncate":
            k = draw(st.integers(0, max(0, len(data) - 1)))
            events[i] = (name, data[:k])
            steps.append(f"event {i} data cut at {k}: {_short(data[:k])}")
        elif op == "json":
            try:
                doc = json.loads(data)
            except (ValueError, RecursionError):  # an earlier mutation made it invalid or too deep
                continue
            doc, sub = _mutate(draw, doc, keys, OPS, draw(st.integers(1, 2)))
            events[i] = (name, _dumps(doc))
            steps.append(f"event {i}: {sub}")
        elif op == "rename":
            new_name = draw(st.sampled_from(_EVENT_NAMES) | st.text(alphabet="abcdefghijklmnopqrstuvwxyz_", max_size=8))
            events[i] = (new_name, data)
            steps.append(f"event {i} name = {new_name!r}")
        elif op == "error":
            error = draw(st.sampled_from(_ERRORS) | _odd_values(keys))
            events.insert(i, _error_event(provider, error))
            steps.append(f"error event before {i}: {_short(error)}")
    stream = MutatedStream(provider, base, events, steps)
    data = stream.data
    for _ in range(draw(st.integers(0, 2))):  # stray line endings and odd bytes anywhere
        pos = draw(st.integers(0, len(data)))
        stray = draw(st.sampled_from(_STRAY))
        data = data[:pos] + stray + data[pos:]
        steps.append(f"insert {stray!r} at byte {pos}")
    if draw(st.booleans()):
        cut = draw(st.integers(0, len(data)))
        data = data[:cut]
        steps.append(f"cut at byte {cut}")
    stream.data = data
    stream.chunks = draw(chunkings(data)) if chunked else [data]
    return stream


# --- exhaustive single edits ----------------------------------------------------------------------------------

_DELETE = object()
SWEEP_VALUES: list[Any] = [*ODD_NUMBERS, *ODD_STRINGS, *ODD_CONTAINERS]


def single_edits(doc: Any) -> Iterator[tuple[str, Any]]:
    """Every one-field edit of ``doc``: (what was done, the edited copy). Each path is deleted, set to each odd
    value, wrapped in a list or an object, and replaced by its own JSON text."""
    for path in list(_paths(doc)):
        where = _fmt_path(path)
        current = _get(doc, path)
        edits: list[tuple[str, Any]] = [("delete", _DELETE)] if path else []
        edits += [(f"= {_short(v)}", v) for v in SWEEP_VALUES]
        edits += [("wrapped in a list", [current]), ("wrapped in an object", {"value": current})]
        edits += [("as JSON text", _dumps(current))]
        for label, value in edits:
            new = copy.deepcopy(doc)
            if value is _DELETE:
                del _get(new, path[:-1])[path[-1]]
            elif path:
                _get(new, path[:-1])[path[-1]] = copy.deepcopy(value)
            else:
                new = copy.deepcopy(value)
            yield f"{where} {label}", new


def _where(frame: traceback.FrameSummary) -> str:
    return f"{frame.filename.rsplit('/', 1)[-1]}:{frame.lineno}"


class Violations:
    """Inputs that broke the contract, grouped by exception type and the line that raised it."""

    def __init__(self) -> None:
        self.groups: dict[tuple[str, str], list[str]] = {}
        self.runs = 0

    def run(self, label: str, check: Callable[[], Any]) -> None:
        self.runs += 1
        try:
            check()
        except Exception as exc:  # a raw exception, or one of the checks' assertions
            frames = traceback.extract_tb(exc.__traceback__)
            where = _where(frames[-1])
            ours = [f for f in frames if "/atriumn/" in f.filename]
            if ours and ours[-1] is not frames[-1]:
                where += f" (from {_where(ours[-1])})"
            key = (type(exc).__name__, where)
            message = str(exc).splitlines()[0][:200] if str(exc) else ""
            self.groups.setdefault(key, []).append(f"{label} -> {type(exc).__name__}: {message}")

    def check(self) -> None:
        if not self.groups:
            return
        lines = [f"{sum(map(len, self.groups.values()))} of {self.runs} inputs broke the contract:"]
        for (kind, where), cases in self.groups.items():
            lines.append(f"- {len(cases)} x {kind} raised at {where}; e.g.")
            lines.extend(f"    {case}" for case in cases[:3])
        pytest.fail("\n".join(lines), pytrace=False)


# =============================================================================================================
# 1. Sans-IO: non-streamed bodies
# =============================================================================================================


@pytest.mark.parametrize("provider", PROVIDERS)
def test_realistic_documents_parse(provider: str) -> None:
    """The base documents themselves parse (otherwise the mutations below start from nothing)."""
    for doc in DOCS[provider]:
        response = parse_body(provider, _dumps(doc).encode())
        assert isinstance(response, ChatResponse), response
        assert response.usage.total_tokens > 0
        assert response.finish_reason in ("stop", "tool_calls", "content_filter")


@pytest.mark.parametrize("provider", PROVIDERS)
def test_every_single_edit_of_a_body(provider: str) -> None:
    """Exhaustive: every field of every realistic document, deleted or set to every odd value."""
    violations = Violations()
    for base, doc in enumerate(DOCS[provider]):
        for label, edited in single_edits(doc):
            body = _dumps(edited).encode()
            violations.run(f"{provider} body {base}: {label}", lambda body=body: parse_body(provider, body))
    violations.check()


@pytest.mark.parametrize("provider", PROVIDERS)
@FUZZ
@given(data=st.data())
def test_mutated_body_gives_response_or_typed_error(provider: str, data: st.DataObject) -> None:
    mutated = data.draw(mutated_docs(provider), label="mutated")
    parse_body(provider, mutated.body())


@pytest.mark.parametrize("provider", PROVIDERS)
@settings(FUZZ, max_examples=SOME)
@given(data=st.data())
def test_missing_optional_fields_are_not_errors(provider: str, data: st.DataObject) -> None:
    """Lenient where the official SDKs are: deleting or nulling usage, ids, finish reasons is no error."""
    mutated = data.draw(optional_removed(provider), label="mutated")
    outcome = parse_body(provider, mutated.body())
    assert isinstance(outcome, ChatResponse), f"{mutated!r} -> {outcome!r}"


@pytest.mark.parametrize("provider", PROVIDERS)
@settings(FUZZ, max_examples=FEW)
@given(data=st.data())
def test_random_json_body_gives_response_or_typed_error(provider: str, data: st.DataObject) -> None:
    value = data.draw(_json_values(VOCAB[provider], max_leaves=20), label="doc")
    parse_body(provider, _dumps(value).encode())


@pytest.mark.parametrize("provider", PROVIDERS)
@settings(FUZZ, max_examples=FEW)
@given(body=st.binary(max_size=200) | st.sampled_from([b"", b"\xef\xbb\xbf{}", b"{" * 100_000, b"1e999", b"-"]))
def test_arbitrary_bytes_body_gives_typed_error(provider: str, body: bytes) -> None:
    note(f"body: {body[:200]!r}")
    parse_body(provider, body)


_HEADER_NAMES = [
    *(f"x-ratelimit-{k}-{u}" for k in ("limit", "remaining", "reset") for u in ("requests", "tokens")),
    *(f"anthropic-ratelimit-{u}-{k}" for u in ("requests", "tokens") for k in ("limit", "remaining", "reset")),
    "retry-after",
    "retry-after-ms",
    "x-request-id",
    "request-id",
]
_HEADER_VALUES = [
    "0",
    "-1",
    "1.5",
    "",
    " ",
    "inf",
    "-inf",
    "nan",
    "1e400",
    "9" * 5000,
    "6m0s",
    "1h2m3.5s",
    "20ms",
    "99999999999999999999h",
    "2025-01-01T00:00:00Z",
    "9999-12-31T23:59:59-23:59",
    "0001-01-01T00:00:00+23:59",
    "T-",
    "Wed, 21 Oct 2015 07:28:00 GMT",
]


@pytest.mark.parametrize("provider", PROVIDERS)
def test_every_single_response_header(provider: str) -> None:
    """Exhaustive: each rate-limit or request-id header with each odd value, on a valid answer."""
    violations = Violations()
    body = _dumps(DOCS[provider][0]).encode()
    for name in _HEADER_NAMES:
        for value in _HEADER_VALUES:
            headers = {name: value}
            violations.run(
                f"{provider} header {name}: {_short(value)}",
                lambda headers=headers: _parse_with_headers(provider, body, headers),
            )
    violations.check()


def _parse_with_headers(provider: str, body: bytes, headers: Mapping[str, str]) -> None:
    call = _call(provider, stream=False)
    try:
        response = call.parse_body(body, headers)
    except AtriumnError:
        return
    _check_response(response, provider)


@pytest.mark.parametrize("provider", PROVIDERS)
@settings(FUZZ, max_examples=FEW)
@given(
    headers=st.dictionaries(
        st.sampled_from(_HEADER_NAMES),
        st.sampled_from(_HEADER_VALUES) | st.text(alphabet="0123456789.-+eEinfaTZ:hms ", max_size=12),
        max_size=4,
    )
)
def test_response_headers_give_response_or_typed_error(provider: str, headers: dict[str, str]) -> None:
    """The rate-limit headers read while completing a response are provider input too."""
    note(f"headers: {headers!r}")
    _parse_with_headers(provider, _dumps(DOCS[provider][0]).encode(), headers)


# =============================================================================================================
# 2. Sans-IO: streams
# =============================================================================================================


def _expected_full(provider: str, base: int) -> StreamOutcome:
    data, _ = serialize(provider, STREAMS[provider][base])
    return run_stream(provider, [data])


@pytest.mark.parametrize("provider", PROVIDERS)
def test_realistic_streams_complete(provider: str) -> None:
    """The base streams complete, and agree with the non-streamed answers of the same content."""
    for base in range(len(STREAMS[provider])):
        outcome = _expected_full(provider, base)
        assert outcome.error is None, outcome.error
        assert outcome.response is not None
        assert outcome.response.usage.total_tokens > 0
        assert outcome.response.finish_reason in ("stop", "tool_calls")
        if base == 0:
            assert outcome.response.text == _TEXT
        else:
            assert [c.name for c in outcome.response.tool_calls] == ["get_weather", "get_time"][
                : len(outcome.response.tool_calls)
            ]
            assert outcome.response.tool_calls[0].arguments == _ARGS


def check_cut(provider: str, base: int, cut: int, data: st.DataObject | None) -> None:
    """Stream ``base`` cut after ``cut`` bytes (in chunks drawn from ``data``, else in one piece)."""
    full_bytes, ends = serialize(provider, STREAMS[provider][base])
    full = run_stream(provider, [full_bytes])
    assert full.response is not None
    # The marker's event is dispatched by its blank line; with CRLF endings the CR alone already ends that line.
    threshold = ends[-1] - (1 if _NEWLINE[provider] == "\r\n" else 0)
    prefix = full_bytes[:cut]
    chunks = data.draw(chunkings(prefix), label="chunks") if data is not None else [prefix]
    outcome = run_stream(provider, chunks)
    assert outcome.events == full.events[: len(outcome.events)], "the events of a prefix are not a prefix"
    if cut < threshold:
        assert isinstance(outcome.error, NetworkError), f"cut at {cut} of {len(full_bytes)}: {outcome.key()!r}"
    else:
        assert outcome.error is None, outcome.error
        assert outcome.response == full.response


def _run_checked(provider: str, events: list[Event]) -> None:
    _run_bytes_checked(provider, serialize(provider, events)[0])


def _run_bytes_checked(provider: str, data: bytes) -> None:
    outcome = run_stream(provider, [data])
    if outcome.response is not None:
        assert has_end_marker(provider, data), "accepted without an end marker"


@pytest.mark.parametrize("provider", PROVIDERS)
def test_every_single_edit_of_a_stream_event(provider: str) -> None:
    """Exhaustive: every field of every event of every realistic stream, deleted or set to every odd value."""
    violations = Violations()
    for base, events in enumerate(STREAMS[provider]):
        wire = [serialize(provider, [event])[0] for event in events]
        for i, (name, data) in enumerate(events):
            if not data.startswith("{"):
                continue
            before, after = b"".join(wire[:i]), b"".join(wire[i + 1 :])
            for label, edited in single_edits(json.loads(data)):
                changed = before + serialize(provider, [(name, _dumps(edited))])[0] + after
                violations.run(
                    f"{provider} stream {base} event {i} ({name or 'data'}): {label}",
                    lambda changed=changed: _run_bytes_checked(provider, changed),
                )
    violations.check()


@pytest.mark.parametrize("provider", PROVIDERS)
def test_every_event_dropped_duplicated_or_replaced(provider: str) -> None:
    """Exhaustive: each event dropped, doubled, given each malformed data, preceded by each error payload."""
    violations = Violations()
    for base, events in enumerate(STREAMS[provider]):
        for i, (name, data) in enumerate(events):
            where = f"{provider} stream {base} event {i} ({name or 'data'})"
            edits: list[tuple[str, list[Event]]] = [
                ("dropped", [*events[:i], *events[i + 1 :]]),
                ("duplicated", [*events[: i + 1], *events[i:]]),
            ]
            edits += [(f"data = {bad!r}", [*events[:i], (name, bad), *events[i + 1 :]]) for bad in _BAD_DATA]
            edits += [
                (f"data cut at {k}", [*events[:i], (name, data[:k]), *events[i + 1 :]]) for k in (1, len(data) // 2)
            ]
            edits += [
                (f"after an error event {_short(err)}", [*events[:i], _error_event(provider, err), *events[i:]])
                for err in _ERRORS
            ]
            for label, changed in edits:
                violations.run(f"{where} {label}", lambda changed=changed: _run_checked(provider, changed))
    violations.check()


@pytest.mark.parametrize("provider", PROVIDERS)
def test_every_cut_of_a_stream(provider: str) -> None:
    """Exhaustive: each realistic stream cut after every byte completes exactly when its end marker's event is
    complete, and raises NetworkError otherwise."""
    violations = Violations()
    for base in range(len(STREAMS[provider])):
        size = len(serialize(provider, STREAMS[provider][base])[0])
        for cut in range(size + 1):
            violations.run(
                f"{provider} stream {base} cut after {cut} of {size} bytes",
                lambda base=base, cut=cut: check_cut(provider, base, cut, None),
            )
    violations.check()


@pytest.mark.parametrize("provider", PROVIDERS)
def test_every_split_of_a_stream_with_an_empty_read(provider: str) -> None:
    """Exhaustive: each realistic stream, with its own or CRLF line endings, fed in two halves with an empty read
    (``b""``) between them gives exactly what it gives in one piece."""
    violations = Violations()
    for base, events in enumerate(STREAMS[provider]):
        for nl in sorted({_NEWLINE[provider], "\r\n"}):
            data = serialize(provider, events, nl)[0]
            whole = run_stream(provider, [data]).key()
            for at in range(1, len(data)):

                def check(at: int = at, data: bytes = data, whole: Any = whole) -> None:
                    got = run_stream(provider, [data[:at], b"", data[at:]]).key()
                    assert got == whole, f"{_summary(got)} instead of {_summary(whole)}"

                violations.run(
                    f"{provider} stream {base} ({nl!r} endings) fed as [{at}, 0, {len(data) - at}] bytes", check
                )
    violations.check()


def _summary(key: tuple[Any, ...]) -> str:
    if key[0] == "error":
        return f"{key[1].__name__}: {key[2]}"
    response = key[2]
    return (
        f"{len(key[1])} events and a response (text {response.text!r}, finish_reason {response.finish_reason!r}, "
        f"model {response.model!r}, input_tokens {response.usage.input_tokens})"
    )


@pytest.mark.parametrize("provider", PROVIDERS)
@FUZZ
@given(data=st.data())
def test_mutated_stream_gives_events_or_typed_error(provider: str, data: st.DataObject) -> None:
    """Any mutated stream, in any chunks: events and a FinishEvent, or a typed error; and it is only accepted
    when the provider's end marker arrived."""
    stream = data.draw(mutated_streams(provider), label="stream")
    outcome = run_stream(provider, stream.chunks)
    if outcome.response is not None:
        assert has_end_marker(provider, stream.data), f"accepted without an end marker: {stream!r}"


@pytest.mark.parametrize("provider", PROVIDERS)
@settings(FUZZ, max_examples=SOME)
@given(data=st.data())
def test_stream_outcome_does_not_depend_on_chunk_boundaries(provider: str, data: st.DataObject) -> None:
    stream = data.draw(mutated_streams(provider, chunked=False), label="stream")
    whole = run_stream(provider, [stream.data])
    chunks = data.draw(chunkings(stream.data), label="chunks")
    note(f"chunk sizes {[len(c) for c in chunks]}")
    assert run_stream(provider, chunks).key() == whole.key()


@pytest.mark.parametrize("provider", PROVIDERS)
@settings(FUZZ, max_examples=SOME)
@given(data=st.data())
def test_stream_cut_before_end_marker_never_completes(provider: str, data: st.DataObject) -> None:
    """A valid stream cut at any byte, in any chunks: NetworkError before the end marker's event is complete,
    the full response after it; the events delivered are always a prefix of the whole stream's."""
    base = data.draw(st.integers(0, len(STREAMS[provider]) - 1), label="base")
    size = len(serialize(provider, STREAMS[provider][base])[0])
    cut = data.draw(st.integers(0, size), label="cut")
    check_cut(provider, base, cut, data)


# --- the SSE decoder itself -------------------------------------------------------------------------------------


def reference_sse(data: bytes) -> list[tuple[str, str, str, int | None]]:
    """The WHATWG "interpret an event stream" rules, written plainly (the oracle for SSEDecoder)."""
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    out: list[tuple[str, str, str, int | None]] = []
    event, buf, has_data, last_id, retry = "", [], False, "", None
    for line in _LINE_END.split(data)[:-1]:
        if not line:
            if has_data:
                out.append((event or "message", b"\n".join(buf).decode("utf-8", "replace"), last_id, retry))
            event, buf, has_data = "", [], False
            continue
        if line.startswith(b":"):
            continue
        name, colon, value = line.partition(b":")
        if colon and value.startswith(b" "):
            value = value[1:]
        if name == b"data":
            buf.append(value)
            has_data = True
        elif name == b"event":
            event = value.decode("utf-8", "replace")
        elif name == b"id":
            if b"\0" not in value:
                last_id = value.decode("utf-8", "replace")
        elif name == b"retry" and value and all(48 <= c <= 57 for c in value):
            retry = int(value)
    return out


_SSE_PIECES = [
    b"data:",
    b"data: ",
    b"event: ",
    b"event:x",
    b"id: 7",
    b"id: a\x00b",
    b"retry: 15",
    b"retry: +5",
    b":",
    b": c",
    b"\r",
    b"\n",
    b"\r\n",
    b"\n\n",
    b"x",
    b" ",
    b"\xef\xbb\xbf",
    b"\xe2\x82",
    b"\xac",
    b"[DONE]",
    b'{"a": 1}',
    b"data: x\n\n",
    b"data: y\r\n\r\n",
]


def _decode(chunks: list[bytes]) -> list[tuple[str, str, str, int | None]]:
    decoder = SSEDecoder()
    events: list[ServerSentEvent] = []
    for chunk in chunks:
        events.extend(decoder.feed(chunk))
    return [(e.event, e.data, e.id, e.retry) for e in events]


def _assert_same_events(got: list[Any], expected: list[Any]) -> None:
    if got == expected:
        return
    i = next((i for i, (a, b) in enumerate(zip(got, expected, strict=False)) if a != b), min(len(got), len(expected)))

    def show(events: list[Any]) -> str:
        if i >= len(events):
            return "nothing"
        name, data, *_ = events[i]
        return f"event {name!r} with data {data[:50]!r}"

    raise AssertionError(
        f"{len(got)} events instead of {len(expected)}; event {i} is {show(got)}, not {show(expected)}"
    )


_sse_bytes = st.lists(st.sampled_from(_SSE_PIECES), max_size=40).map(b"".join)


@settings(FUZZ, max_examples=1000)
@given(data=st.data())
def test_sse_decoder_matches_the_standard_in_any_chunks(data: st.DataObject) -> None:
    raw = data.draw(_sse_bytes, label="raw")
    chunks = data.draw(chunkings(raw), label="chunks")
    assert _decode(chunks) == reference_sse(raw)


@settings(FUZZ, max_examples=SOME)
@given(data=st.data())
def test_sse_decoder_empty_chunks_change_nothing(data: st.DataObject) -> None:
    """An empty read (``b""``) between two chunks is no input at all."""
    raw = data.draw(_sse_bytes, label="raw")
    chunks = data.draw(chunkings(raw), label="chunks")
    where = data.draw(st.lists(st.integers(0, len(chunks)), max_size=3), label="empty at")
    with_empty = list(chunks)
    for i in sorted(where, reverse=True):
        with_empty.insert(i, b"")
    assert _decode(with_empty) == reference_sse(raw)


@pytest.mark.parametrize("provider", PROVIDERS)
def test_sse_decoder_every_split_of_the_provider_streams(provider: str) -> None:
    """Exhaustive: every realistic stream, with LF, CRLF or CR line endings (the standard allows each; a proxy
    may rewrite them), split in two at every byte, with and without an empty read between the halves, decodes
    as the standard says."""
    violations = Violations()
    for base, events in enumerate(STREAMS[provider]):
        for nl in ("\n", "\r\n", "\r"):
            data = serialize(provider, events, nl)[0]
            expected = reference_sse(data)
            for at in range(len(data) + 1):
                for middle in ([], [b""]):
                    chunks = [data[:at], *middle, data[at:]]

                    def check(chunks: list[bytes] = chunks, expected: list[Any] = expected) -> None:
                        _assert_same_events(_decode(chunks), expected)

                    violations.run(
                        f"{provider} stream {base} ({nl!r} endings) fed as {[len(c) for c in chunks]} bytes", check
                    )
    violations.check()


# =============================================================================================================
# 3. Sans-IO: embeddings
# =============================================================================================================


def _b64(values: list[float]) -> str:
    return base64.b64encode(struct.pack(f"<{len(values)}f", *values)).decode()


EMBED_DOCS: dict[str, list[dict[str, Any]]] = {
    "openai": [
        {
            "object": "list",
            "data": [
                {"object": "embedding", "index": 1, "embedding": _b64([0.5, -1.0, 2.0])},
                {"object": "embedding", "index": 0, "embedding": _b64([0.25, 0.0, -0.5])},
            ],
            "model": "text-embedding-3-small",
            "usage": {"prompt_tokens": 8, "total_tokens": 8},
        },
        {
            "object": "list",
            "data": [
                {"object": "embedding", "index": 0, "embedding": [0.1, -0.2, 0.3]},
                {"object": "embedding", "index": 1, "embedding": [1, 2, 3]},
            ],
            "model": "text-embedding-3-small",
            "usage": {"prompt_tokens": 8, "total_tokens": 8},
        },
    ],
    "gemini": [{"embeddings": [{"values": [0.1, -0.2, 0.3]}, {"values": [1.0, 2.0, 3.0]}]}],
}


def absorb_embeddings(provider: str, body: bytes) -> AtriumnError | None:
    """What ``ChatClient.embed`` does with one batch's body (two texts): vectors, or a typed error."""
    adapter = _ENGINE.adapter(provider)
    plan = _EmbedPlan(_ENGINE, adapter, EMBED_MODELS[provider], ["a", "b"], 10, None, True)
    try:
        plan.absorb([0, 1], body)
        result = plan.result()
    except AtriumnError as exc:
        if isinstance(exc, DecodeError):
            _check_decode_error(exc)
        return exc
    assert len(result.vectors) == 2
    for vector in result.vectors:
        assert isinstance(vector, tuple) and all(type(x) is float for x in vector)
    _check_usage(result.usage)
    return None


@pytest.mark.parametrize("provider", list(EMBED_DOCS))
def test_realistic_embeddings_parse(provider: str) -> None:
    for doc in EMBED_DOCS[provider]:
        assert absorb_embeddings(provider, _dumps(doc).encode()) is None


@pytest.mark.parametrize("provider", list(EMBED_DOCS))
def test_every_single_edit_of_an_embeddings_body(provider: str) -> None:
    violations = Violations()
    for base, doc in enumerate(EMBED_DOCS[provider]):
        for label, edited in single_edits(doc):
            body = _dumps(edited).encode()
            violations.run(
                f"{provider} embeddings {base}: {label}", lambda body=body: absorb_embeddings(provider, body)
            )
    violations.check()


@st.composite
def mutated_embeddings(draw: Callable[..., Any], provider: str) -> Mutated:
    docs = EMBED_DOCS[provider]
    base = draw(st.integers(0, len(docs) - 1))
    keys = sorted(_collect_keys(docs[base], {"index", "embedding", "values", "usage", "data", "embeddings"}))
    doc, steps = _mutate(draw, copy.deepcopy(docs[base]), keys, OPS, draw(st.integers(1, 3)))
    return Mutated(doc, steps, base)


@pytest.mark.parametrize("provider", list(EMBED_DOCS))
@settings(FUZZ, max_examples=SOME)
@given(data=st.data())
def test_mutated_embeddings_give_vectors_or_typed_error(provider: str, data: st.DataObject) -> None:
    mutated = data.draw(mutated_embeddings(provider), label="mutated")
    absorb_embeddings(provider, mutated.body())


@settings(FUZZ, max_examples=SOME)
@given(raw=st.binary(max_size=64), index=st.integers(0, 1))
def test_openai_embedding_base64_of_any_bytes(raw: bytes, index: int) -> None:
    """Any base64 payload: a typed error when it is not whole 32-bit floats, the vector when it is finite ones
    (non-finite floats may go either way)."""
    note(f"raw: {raw!r} at index {index}")
    doc = copy.deepcopy(EMBED_DOCS["openai"][0])
    doc["data"][index]["embedding"] = base64.b64encode(raw).decode()
    error = absorb_embeddings("openai", _dumps(doc).encode())
    if len(raw) % 4:
        assert error is not None, "a payload that is not whole 32-bit floats was accepted"
    elif all(math.isfinite(x) for x in struct.unpack(f"<{len(raw) // 4}f", raw)):
        assert error is None, error


# =============================================================================================================
# 4. Through the public API over a real socket, sync and async
# =============================================================================================================


class _Replies:
    """The server's answer to every request: whatever the current example put here."""

    def __init__(self) -> None:
        self.reply = Reply(500)

    def __call__(self, request: RecordedRequest) -> Reply:
        return self.reply


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[FaultServer, _Replies]]:
    replies = _Replies()
    with FaultServer(default=replies) as srv:
        yield srv, replies


def _options(srv: FaultServer) -> dict[str, Any]:
    # No breaker: one client serves every example, and a run of failures must not turn into CircuitOpenError.
    return {
        "api_keys": {p: "test-key" for p in PROVIDERS},
        "base_urls": {p: srv.url for p in PROVIDERS},
        "environ": {},
        "max_retries": 0,
        "circuit_breaker": CircuitBreakerPolicy(enabled=False),
        "prices": PRICES,
    }


@pytest.fixture(scope="module")
def sync_client(server: tuple[FaultServer, _Replies]) -> Iterator[tuple[ChatClient, _Replies]]:
    with ChatClient(**_options(server[0])) as client:
        yield client, server[1]


@pytest.fixture(scope="module")
def async_client(server: tuple[FaultServer, _Replies]) -> Iterator[tuple[AsyncChatClient, _Replies, asyncio.Runner]]:
    with asyncio.Runner() as runner:
        client = runner.run(_make_async_client(server[0]))
        try:
            yield client, server[1], runner
        finally:
            runner.run(client.aclose())


async def _make_async_client(srv: FaultServer) -> AsyncChatClient:
    return AsyncChatClient(**_options(srv))


_QUESTION = "What is the capital of France?"


def _api_chat_sync(client: ChatClient, provider: str) -> ChatResponse | AtriumnError:
    try:
        return client.chat(MODELS[provider], _QUESTION)
    except AtriumnError as exc:
        return exc


async def _api_chat_async(client: AsyncChatClient, provider: str) -> ChatResponse | AtriumnError:
    try:
        return await client.chat(MODELS[provider], _QUESTION)
    except AtriumnError as exc:
        return exc


def _api_stream_sync(client: ChatClient, provider: str) -> list[Any] | AtriumnError:
    events: list[Any] = []
    try:
        with client.stream(MODELS[provider], _QUESTION) as stream:
            events.extend(stream)
    except AtriumnError as exc:
        return exc
    return events


async def _api_stream_async(client: AsyncChatClient, provider: str) -> list[Any] | AtriumnError:
    events: list[Any] = []
    try:
        async with client.stream(MODELS[provider], _QUESTION) as stream:
            async for event in stream:
                events.append(event)
    except AtriumnError as exc:
        return exc
    return events


def _check_api_chat(outcome: ChatResponse | AtriumnError, provider: str) -> None:
    if isinstance(outcome, ChatResponse):
        _check_response(outcome, provider)
    elif isinstance(outcome, DecodeError):
        _check_decode_error(outcome)


def _check_api_stream(outcome: list[Any] | AtriumnError, provider: str, data: bytes) -> None:
    if isinstance(outcome, AtriumnError):
        return
    assert outcome, "the stream ended without events or an error"
    final = outcome[-1]
    assert isinstance(final, FinishEvent), final
    _check_response(final.response, provider)
    assert has_end_marker(provider, data), "a stream without its end marker was accepted"


_bodies = {
    p: mutated_docs(p).map(lambda m: m.body()) | _json_values(VOCAB[p]).map(lambda v: _dumps(v).encode())
    for p in PROVIDERS
}


@pytest.mark.parametrize("provider", PROVIDERS)
@SOCKET_SETTINGS
@given(data=st.data())
def test_api_chat_sync(sync_client: tuple[ChatClient, _Replies], provider: str, data: st.DataObject) -> None:
    client, replies = sync_client
    body = data.draw(_bodies[provider], label="body")
    replies.reply = Reply(200, body=body, content_type="application/json")
    _check_api_chat(_api_chat_sync(client, provider), provider)


@pytest.mark.parametrize("provider", PROVIDERS)
@SOCKET_SETTINGS
@given(data=st.data())
def test_api_chat_async(
    async_client: tuple[AsyncChatClient, _Replies, asyncio.Runner], provider: str, data: st.DataObject
) -> None:
    client, replies, runner = async_client
    body = data.draw(_bodies[provider], label="body")
    replies.reply = Reply(200, body=body, content_type="application/json")
    _check_api_chat(runner.run(_api_chat_async(client, provider)), provider)


@pytest.mark.parametrize("provider", PROVIDERS)
@SOCKET_SETTINGS
@given(data=st.data())
def test_api_stream_sync(sync_client: tuple[ChatClient, _Replies], provider: str, data: st.DataObject) -> None:
    client, replies = sync_client
    stream = data.draw(mutated_streams(provider, chunked=False), label="stream")
    replies.reply = Reply(200, body=stream.data, content_type="text/event-stream")
    _check_api_stream(_api_stream_sync(client, provider), provider, stream.data)


@pytest.mark.parametrize("provider", PROVIDERS)
@SOCKET_SETTINGS
@given(data=st.data())
def test_api_stream_async(
    async_client: tuple[AsyncChatClient, _Replies, asyncio.Runner], provider: str, data: st.DataObject
) -> None:
    client, replies, runner = async_client
    stream = data.draw(mutated_streams(provider, chunked=False), label="stream")
    replies.reply = Reply(200, body=stream.data, content_type="text/event-stream")
    _check_api_stream(runner.run(_api_stream_async(client, provider)), provider, stream.data)
