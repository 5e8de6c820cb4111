"""A deterministic emulation of the four LLM providers and the Atriumn AI API, served over a real socket.

Used by the tests until (and alongside) the sandbox's own emulation. Models (any provider):

- ``echo``: answers the last user message's text; streamed as one chunk per word.
- ``tool``: with tools given, calls the first tool (arguments built from its schema); after a tool result,
  answers ``tool said: <result>``.
- ``json``: with a response schema, answers JSON built from the schema; ``bad-json`` answers non-JSON.
- ``cached``: like echo, and reports 4 prompt tokens read from the provider's cache.
- ``chunks-N``: streams N words ``w0 .. wN-1``.
- ``error-<status>``: answers that error status in the provider's shape (``error-429`` with Retry-After 0;
  Gemini's carries RetryInfo ``retryDelay: 7s``).
- ``fail-once-<status>``: fails with that status on the first call of a test, then behaves like echo.
- ``stream-cut``: streams three words and drops the connection.
- ``stream-error``: streams two words, then an error payload inside the 200 stream.
- ``scorer``: scores ``{"items": [{id, content}]}`` by content length; content with ``SKIP`` gets no score, and
  a batch containing ``FAIL`` answers 500.

Every request is recorded (method, path, query, headers, JSON body) in ``server.requests``.
"""

from __future__ import annotations

import base64
import json
import socket
import struct
import threading
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route


class FakeState:
    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.counts: dict[str, int] = {}
        self.prompts: dict[str, dict[str, Any]] = {}
        self.next_id = 0
        self.open_streams = 0
        self.closed_streams = 0


# --- model behaviour ---------------------------------------------------------------------------------------


def _value_for(schema: dict[str, Any], defs: dict[str, Any] | None = None) -> Any:
    defs = schema.get("$defs", defs or {})
    ref = schema.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/$defs/"):
        return _value_for(defs[ref.rsplit("/", 1)[-1]], defs)
    if "enum" in schema:
        return schema["enum"][0]
    if "anyOf" in schema:
        return _value_for(schema["anyOf"][0], defs)
    t = schema.get("type")
    if isinstance(t, list):
        t = t[0]
    if t == "object" or "properties" in schema:
        return {k: _value_for(v, defs) for k, v in (schema.get("properties") or {}).items()}
    if t == "array":
        return [_value_for(schema.get("items") or {"type": "string"}, defs)]
    if t == "integer":
        return max(1, int(schema.get("minimum", 1)))
    if t == "number":
        return 0.5
    if t == "boolean":
        return True
    return "test"


def _words(text: str) -> int:
    return max(1, len(text.split()))


class Turn:
    """A neutral view of one request: messages as (role, text, kind), tools, schema."""

    def __init__(
        self,
        texts: list[tuple[str, str]],
        tools: list[tuple[str, dict[str, Any]]],
        schema: Any,
        tool_result: str | None,
    ):
        self.texts = texts
        self.tools = tools
        self.schema = schema
        self.tool_result = tool_result

    def reply(self, model: str) -> tuple[str, list[tuple[str, dict[str, Any]]]]:
        last_user = next((t for r, t in reversed(self.texts) if r == "user"), "")
        if model.startswith("chunks-"):
            n = int(model.split("-", 1)[1])
            return " ".join(f"w{i}" for i in range(n)), []
        if model == "tool" and self.tools and self.tool_result is None:
            name, schema = self.tools[0]
            return "", [(name, _value_for(schema))]
        if model == "tool" and self.tool_result is not None:
            return f"tool said: {self.tool_result}", []
        if model == "json" and self.schema is not None:
            return json.dumps(_value_for(self.schema)), []
        if model == "scorer":
            items = json.loads(last_user)["items"]
            scores = [
                {"id": it["id"], "score": len(it["content"]), "reason": "length"}
                for it in items
                if "SKIP" not in it["content"]
            ]
            return json.dumps({"scores": scores}), []
        if model == "bad-json":
            return "this is not json", []
        if model in ("stream-cut", "stream-error"):
            return "one two three four five", []
        return last_user, []

    @property
    def input_tokens(self) -> int:
        return sum(_words(t) for _, t in self.texts)


def _chunks(text: str) -> list[str]:
    words = text.split(" ")
    return [w if i == 0 else " " + w for i, w in enumerate(words)] if text else []


# --- app ---------------------------------------------------------------------------------------------------


def make_app(state: FakeState) -> Starlette:
    async def record(request: Request) -> dict[str, Any]:
        raw = await request.body()
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = raw.decode()
        entry = {
            "method": request.method,
            "path": request.url.path,
            "query": dict(request.query_params),
            "headers": {k.lower(): v for k, v in request.headers.items()},
            "body": body,
        }
        state.requests.append(entry)
        return entry

    def error_for(model: str, entry: dict[str, Any] | None = None) -> int | None:
        if model == "scorer" and entry is not None and "FAIL" in json.dumps(entry["body"]):
            return 500
        if model.startswith("error-"):
            return int(model.split("-")[1])
        if model.startswith("fail-once-"):
            key = model
            state.counts[key] = state.counts.get(key, 0) + 1
            if state.counts[key] == 1:
                return int(model.split("-")[2])
        return None

    # ---- OpenAI / Groq ----
    def openai_turn(body: dict[str, Any]) -> Turn:
        texts: list[tuple[str, str]] = []
        tool_result = None
        for m in body.get("messages", []):
            content = m.get("content")
            if isinstance(content, list):
                content = "".join(p.get("text", "") for p in content)
            if m["role"] == "tool":
                tool_result = content
            texts.append((m["role"], content or ""))
        tools = [(t["function"]["name"], t["function"].get("parameters") or {}) for t in body.get("tools") or []]
        rf = body.get("response_format") or {}
        schema = (rf.get("json_schema") or {}).get("schema") if rf.get("type") == "json_schema" else None
        if rf.get("type") == "json_object":  # JSON mode: any object
            schema = {"type": "object", "properties": {"answer": {"type": "string"}}}
        return Turn(texts, tools, schema, tool_result)

    def openai_error(status: int) -> JSONResponse:
        kind = {429: "rate_limit_exceeded", 400: "invalid_request_error", 401: "invalid_api_key"}.get(
            status, "server_error"
        )
        headers = {"x-request-id": "req_err", "retry-after": "0"}
        return JSONResponse(
            {"error": {"message": f"emulated {status}", "type": kind, "code": kind}}, status, headers=headers
        )

    def openai_headers() -> dict[str, str]:
        return {
            "x-request-id": "req_openai_1",
            "x-ratelimit-limit-requests": "500",
            "x-ratelimit-remaining-requests": "499",
            "x-ratelimit-reset-requests": "120ms",
            "x-ratelimit-limit-tokens": "30000",
            "x-ratelimit-remaining-tokens": "29000",
            "x-ratelimit-reset-tokens": "6m0s",
        }

    def openai_usage(turn: Turn, text: str, model: str) -> dict[str, Any]:
        prompt = turn.input_tokens + (4 if model == "cached" else 0)
        usage: dict[str, Any] = {
            "prompt_tokens": prompt,
            "completion_tokens": _words(text),
            "total_tokens": prompt + _words(text),
        }
        if model == "cached":
            usage["prompt_tokens_details"] = {"cached_tokens": 4}
        return usage

    async def openai_chat(request: Request) -> Response:
        entry = await record(request)
        body = entry["body"]
        groq = request.url.path.startswith("/openai/")
        model = body["model"]
        status = error_for(model, entry)
        if status:
            return openai_error(status)
        turn = openai_turn(body)
        text, calls = turn.reply(model)
        message: dict[str, Any] = {"role": "assistant", "content": text or None}
        if calls:
            message["tool_calls"] = [
                {"id": f"call_{i}", "type": "function", "function": {"name": n, "arguments": json.dumps(a)}}
                for i, (n, a) in enumerate(calls)
            ]
        finish = "tool_calls" if calls else "stop"
        usage = openai_usage(turn, text, model)
        if not body.get("stream"):
            doc = {
                "id": "chatcmpl-1",
                "object": "chat.completion",
                "created": 0,
                "model": model,
                "choices": [{"index": 0, "message": message, "finish_reason": finish}],
                "usage": usage,
            }
            return JSONResponse(doc, headers=openai_headers())

        async def gen() -> AsyncIterator[bytes]:
            state.open_streams += 1
            try:
                base = {"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 0, "model": model}

                def chunk(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> bytes:
                    doc = {**base, "choices": [{"index": 0, "delta": delta, "finish_reason": finish}], **extra}
                    return b"data: " + json.dumps(doc).encode() + b"\n\n"

                yield chunk({"role": "assistant", "content": ""})
                for i, piece in enumerate(_chunks(text)):
                    if model == "stream-cut" and i == 3:
                        raise ConnectionResetError("emulated cut")
                    if model == "stream-error" and i == 2:
                        err = {"error": {"message": "emulated overload", "type": "server_error"}}
                        if groq:
                            yield chunk({}, x_groq={"error": "emulated overload"})
                        else:
                            yield b"data: " + json.dumps(err).encode() + b"\n\n"
                        return
                    yield chunk({"content": piece})
                for i, (n, a) in enumerate(calls):
                    args = json.dumps(a)
                    yield chunk(
                        {
                            "tool_calls": [
                                {
                                    "index": i,
                                    "id": f"call_{i}",
                                    "type": "function",
                                    "function": {"name": n, "arguments": ""},
                                }
                            ]
                        }
                    )
                    half = len(args) // 2
                    yield chunk({"tool_calls": [{"index": i, "function": {"arguments": args[:half]}}]})
                    yield chunk({"tool_calls": [{"index": i, "function": {"arguments": args[half:]}}]})
                if groq:
                    yield chunk({}, finish, x_groq={"id": "req_1", "usage": usage})
                else:
                    yield chunk({}, finish)
                    if (body.get("stream_options") or {}).get("include_usage"):
                        yield b"data: " + json.dumps({**base, "choices": [], "usage": usage}).encode() + b"\n\n"
                yield b"data: [DONE]\n\n"
            finally:
                state.closed_streams += 1

        return StreamingResponse(gen(), media_type="text/event-stream", headers=openai_headers())

    async def openai_embeddings(request: Request) -> Response:
        entry = await record(request)
        body = entry["body"]
        inputs = body["input"] if isinstance(body["input"], list) else [body["input"]]
        data = []
        for i, text in enumerate(inputs):
            vec = [float(len(text)), float(i), 0.5]
            emb: Any = vec
            if body.get("encoding_format") == "base64":
                emb = base64.b64encode(struct.pack("<3f", *vec)).decode()
            data.append({"object": "embedding", "index": i, "embedding": emb})
        return JSONResponse(
            {
                "object": "list",
                "data": data,
                "model": body["model"],
                "usage": {"prompt_tokens": len(inputs), "total_tokens": len(inputs)},
            }
        )

    async def openai_model(request: Request) -> Response:
        await record(request)
        model = request.path_params["model"]
        if model.startswith("error-"):
            return openai_error(int(model.split("-")[1]))
        return JSONResponse({"id": model, "object": "model", "owned_by": "fake"})

    # ---- Anthropic ----
    def anthropic_turn(body: dict[str, Any]) -> Turn:
        texts: list[tuple[str, str]] = []
        tool_result = None
        for m in body.get("messages", []):
            content = m["content"]
            if isinstance(content, str):
                texts.append((m["role"], content))
                continue
            for block in content:
                if block["type"] == "text":
                    texts.append((m["role"], block["text"]))
                elif block["type"] == "tool_result":
                    tool_result = (
                        block["content"] if isinstance(block["content"], str) else json.dumps(block["content"])
                    )
        tools = [(t["name"], t.get("input_schema") or {}) for t in body.get("tools") or []]
        fmt = (body.get("output_config") or {}).get("format") or {}
        return Turn(texts, tools, fmt.get("schema"), tool_result)

    def anthropic_error(status: int) -> JSONResponse:
        kind = {429: "rate_limit_error", 529: "overloaded_error", 400: "invalid_request_error"}.get(status, "api_error")
        return JSONResponse(
            {"type": "error", "error": {"type": kind, "message": f"emulated {status}"}},
            status,
            headers={"request-id": "req_err", "retry-after": "0"},
        )

    def anthropic_headers() -> dict[str, str]:
        return {
            "request-id": "req_anthropic_1",
            "anthropic-ratelimit-requests-limit": "50",
            "anthropic-ratelimit-requests-remaining": "49",
            "anthropic-ratelimit-requests-reset": "2099-01-01T00:00:00Z",
            "anthropic-ratelimit-tokens-limit": "1000",
            "anthropic-ratelimit-tokens-remaining": "900",
        }

    async def anthropic_messages(request: Request) -> Response:
        entry = await record(request)
        body = entry["body"]
        model = body["model"]
        if "max_tokens" not in body:
            return anthropic_error(400)
        status = error_for(model, entry)
        if status:
            return anthropic_error(status)
        turn = anthropic_turn(body)
        text, calls = turn.reply(model)
        content: list[dict[str, Any]] = []
        if text:
            content.append({"type": "text", "text": text})
        for i, (n, a) in enumerate(calls):
            content.append({"type": "tool_use", "id": f"toolu_{i}", "name": n, "input": a})
        usage: dict[str, Any] = {"input_tokens": turn.input_tokens, "output_tokens": _words(text)}
        if model == "cached":
            usage["cache_read_input_tokens"] = 4
            usage["cache_creation_input_tokens"] = 2
        stop = "tool_use" if calls else "end_turn"
        if not body.get("stream"):
            doc = {
                "id": "msg_1",
                "type": "message",
                "role": "assistant",
                "model": model,
                "content": content,
                "stop_reason": stop,
                "usage": usage,
            }
            return JSONResponse(doc, headers=anthropic_headers())

        async def gen() -> AsyncIterator[bytes]:
            state.open_streams += 1
            try:

                def ev(name: str, doc: dict[str, Any]) -> bytes:
                    return f"event: {name}\ndata: {json.dumps(doc)}\n\n".encode()

                start_usage = {**usage, "output_tokens": 1}
                yield ev(
                    "message_start",
                    {
                        "type": "message_start",
                        "message": {
                            "id": "msg_1",
                            "type": "message",
                            "role": "assistant",
                            "model": model,
                            "content": [],
                            "usage": start_usage,
                        },
                    },
                )
                index = 0
                if text:
                    yield ev(
                        "content_block_start",
                        {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
                    )
                    yield ev("ping", {"type": "ping"})
                    for i, piece in enumerate(_chunks(text)):
                        if model == "stream-cut" and i == 3:
                            raise ConnectionResetError("emulated cut")
                        if model == "stream-error" and i == 2:
                            yield ev(
                                "error",
                                {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}},
                            )
                            return
                        yield ev(
                            "content_block_delta",
                            {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": piece}},
                        )
                    yield ev("content_block_stop", {"type": "content_block_stop", "index": 0})
                    index = 1
                for i, (n, a) in enumerate(calls):
                    args = json.dumps(a)
                    yield ev(
                        "content_block_start",
                        {
                            "type": "content_block_start",
                            "index": index,
                            "content_block": {"type": "tool_use", "id": f"toolu_{i}", "name": n, "input": {}},
                        },
                    )
                    yield ev(
                        "content_block_delta",
                        {
                            "type": "content_block_delta",
                            "index": index,
                            "delta": {"type": "input_json_delta", "partial_json": args[:3]},
                        },
                    )
                    yield ev(
                        "content_block_delta",
                        {
                            "type": "content_block_delta",
                            "index": index,
                            "delta": {"type": "input_json_delta", "partial_json": args[3:]},
                        },
                    )
                    yield ev("content_block_stop", {"type": "content_block_stop", "index": index})
                    index += 1
                yield ev(
                    "message_delta",
                    {
                        "type": "message_delta",
                        "delta": {"stop_reason": stop},
                        "usage": {"output_tokens": usage["output_tokens"]},
                    },
                )
                yield ev("message_stop", {"type": "message_stop"})
            finally:
                state.closed_streams += 1

        return StreamingResponse(gen(), media_type="text/event-stream", headers=anthropic_headers())

    async def anthropic_model(request: Request) -> Response:
        await record(request)
        model = request.path_params["model"]
        if model.startswith("error-"):
            return anthropic_error(int(model.split("-")[1]))
        return JSONResponse({"id": model, "type": "model", "display_name": model})

    # ---- Gemini ----
    def gemini_turn(body: dict[str, Any]) -> Turn:
        texts: list[tuple[str, str]] = []
        tool_result = None
        for c in body.get("contents", []):
            for p in c.get("parts", []):
                if "text" in p:
                    texts.append(("user" if c.get("role", "user") == "user" else "assistant", p["text"]))
                if "functionResponse" in p:
                    tool_result = json.dumps(p["functionResponse"]["response"])
        tools = []
        for t in body.get("tools") or []:
            for fd in t.get("functionDeclarations") or []:
                tools.append((fd["name"], fd.get("parametersJsonSchema") or fd.get("parameters") or {}))
        cfg = body.get("generationConfig") or {}
        return Turn(texts, tools, cfg.get("responseJsonSchema") or cfg.get("responseSchema"), tool_result)

    def gemini_error(status: int) -> JSONResponse:
        names = {429: "RESOURCE_EXHAUSTED", 400: "INVALID_ARGUMENT", 500: "INTERNAL", 503: "UNAVAILABLE"}
        err: dict[str, Any] = {"code": status, "message": f"emulated {status}", "status": names.get(status, "UNKNOWN")}
        if status == 429:
            err["details"] = [{"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "7s"}]
        return JSONResponse({"error": err}, status)

    async def gemini_call(request: Request) -> Response:
        entry = await record(request)
        target = request.path_params["target"]
        model, _, method = target.partition(":")
        status = error_for(model, entry)
        if status:
            return gemini_error(status)
        body = entry["body"]
        if method == "batchEmbedContents":
            return JSONResponse(
                {
                    "embeddings": [
                        {"values": [float(len(r["content"]["parts"][0]["text"])), float(i), 0.5]}
                        for i, r in enumerate(body["requests"])
                    ]
                }
            )
        if method == "embedContent":
            return JSONResponse({"embedding": {"values": [1.0, 2.0]}})
        turn = gemini_turn(body)
        text, calls = turn.reply(model)
        usage: dict[str, Any] = {
            "promptTokenCount": turn.input_tokens + (4 if model == "cached" else 0),
            "candidatesTokenCount": _words(text),
            "totalTokenCount": turn.input_tokens + _words(text),
        }
        if model == "cached":
            usage["cachedContentTokenCount"] = 4

        def response(parts: list[dict[str, Any]], finish: str | None, with_usage: bool) -> dict[str, Any]:
            cand: dict[str, Any] = {"content": {"role": "model", "parts": parts}, "index": 0}
            if finish:
                cand["finishReason"] = finish
            doc: dict[str, Any] = {"candidates": [cand], "modelVersion": model, "responseId": "resp_1"}
            if with_usage:
                doc["usageMetadata"] = usage
            return doc

        call_parts = [{"functionCall": {"name": n, "args": a}} for n, a in calls]
        if method == "generateContent":
            parts = ([{"text": text}] if text else []) + call_parts
            return JSONResponse(response(parts, "STOP", True), headers={"x-request-id": "req_gemini_1"})

        async def gen() -> AsyncIterator[bytes]:
            state.open_streams += 1
            try:
                pieces = _chunks(text)
                for i, piece in enumerate(pieces):
                    if model == "stream-cut" and i == 3:
                        raise ConnectionResetError("emulated cut")
                    if model == "stream-error" and i == 2:
                        yield (
                            b"data: "
                            + json.dumps(
                                {"error": {"code": 503, "message": "emulated", "status": "UNAVAILABLE"}}
                            ).encode()
                            + b"\r\n\r\n"
                        )
                        return
                    last = i == len(pieces) - 1 and not call_parts
                    yield (
                        b"data: "
                        + json.dumps(response([{"text": piece}], "STOP" if last else None, last)).encode()
                        + b"\r\n\r\n"
                    )
                if call_parts:
                    yield b"data: " + json.dumps(response(call_parts, "STOP", True)).encode() + b"\r\n\r\n"
            finally:
                state.closed_streams += 1

        return StreamingResponse(gen(), media_type="text/event-stream", headers={"x-request-id": "req_gemini_1"})

    async def gemini_cache_create(request: Request) -> Response:
        body = (await record(request))["body"] or {}
        doc = {"name": "cachedContents/cache-1", "model": body.get("model", ""), "expireTime": "2026-11-01T01:00:00Z"}
        if body.get("displayName"):
            doc["displayName"] = body["displayName"]
        return JSONResponse({**doc, "usageMetadata": {"totalTokenCount": 1024}})

    async def gemini_model(request: Request) -> Response:
        await record(request)
        model = request.path_params["model"]
        if model.startswith("error-"):
            return gemini_error(int(model.split("-")[1]))
        return JSONResponse({"name": f"models/{model}"})

    # ---- Atriumn AI API ----
    async def prompts(request: Request) -> Response:
        entry = await record(request)
        if request.method == "POST":
            body = entry["body"]
            if not body.get("name") or not body.get("template"):
                return JSONResponse(
                    {"error": "bad_request", "error_description": "name and template are required"}, 400
                )
            state.next_id += 1
            pid = f"p{state.next_id}"
            doc = {
                **body,
                "id": pid,
                "version": 1,
                "createdAt": "2026-11-01T00:00:00Z",
                "updatedAt": "2026-11-01T00:00:00Z",
            }
            state.prompts[pid] = doc
            return JSONResponse(doc, 201)
        items = list(state.prompts.values())
        q = request.query_params
        if q.get("modelId"):
            items = [p for p in items if p.get("modelId") == q["modelId"]]
        if q.get("tags"):
            wanted = set(q["tags"].split(","))
            items = [p for p in items if wanted <= set(p.get("tags") or [])]
        size = int(q.get("maxResults") or 100)
        start = int(q.get("nextToken") or 0)
        page = items[start : start + size]
        nxt = str(start + size) if start + size < len(items) else None
        return JSONResponse({"prompts": page, "nextToken": nxt})

    async def prompt(request: Request) -> Response:
        entry = await record(request)
        pid = request.path_params["id"]
        doc = state.prompts.get(pid)
        if doc is None:
            return JSONResponse({"error": "not_found", "error_description": f"prompt {pid} not found"}, 404)
        if request.method == "GET":
            return JSONResponse(doc)
        if request.method == "PUT":
            doc.update(entry["body"])
            doc["version"] += 1
            return JSONResponse(doc)
        del state.prompts[pid]
        return Response(status_code=204)

    async def run_task(request: Request) -> Response:
        entry = await record(request)
        if request.headers.get("authorization") != "Bearer test-atriumn-token":
            return JSONResponse({"detail": "Not authenticated"}, 401)
        body = entry["body"]
        if body.get("task") == "explode":
            return JSONResponse({"detail": "task failed: exploded"}, 422)
        return JSONResponse(
            {
                "app": body["app"],
                "task": body["task"],
                "result": {"echo": body["input"], "options": body.get("options")},
            }
        )

    routes = [
        Route("/v1/chat/completions", openai_chat, methods=["POST"]),
        Route("/v1/embeddings", openai_embeddings, methods=["POST"]),
        Route("/v1/models/{model:path}", openai_model, methods=["GET"]),
        Route("/openai/v1/chat/completions", openai_chat, methods=["POST"]),
        Route("/openai/v1/models/{model:path}", openai_model, methods=["GET"]),
        Route("/anthropic/v1/messages", anthropic_messages, methods=["POST"]),
        Route("/anthropic/v1/models/{model:path}", anthropic_model, methods=["GET"]),
        Route("/v1beta/models/{target:path}", gemini_call, methods=["POST"]),
        Route("/v1beta/models/{model:path}", gemini_model, methods=["GET"]),
        Route("/v1beta/cachedContents", gemini_cache_create, methods=["POST"]),
        Route("/prompts", prompts, methods=["GET", "POST"]),
        Route("/prompts/{id}", prompt, methods=["GET", "PUT", "DELETE"]),
        Route("/v1/prompt", run_task, methods=["POST"]),
    ]
    return Starlette(routes=routes)


class FakeServer:
    def __init__(self) -> None:
        self.state = FakeState()
        self.url = ""

    @property
    def requests(self) -> list[dict[str, Any]]:
        return self.state.requests

    def env(self) -> dict[str, str]:
        """Environment pointing every provider here (Anthropic under /anthropic: its paths overlap OpenAI's)."""
        return {
            "OPENAI_API_KEY": "test-openai-key",
            "ANTHROPIC_API_KEY": "test-anthropic-key",
            "GEMINI_API_KEY": "test-gemini-key",
            "GROQ_API_KEY": "test-groq-key",
            "OPENAI_BASE_URL": self.url + "/v1",
            "ANTHROPIC_BASE_URL": self.url + "/anthropic",
            "GEMINI_BASE_URL": self.url,
            "GROQ_BASE_URL": self.url,
        }


@contextmanager
def serve() -> Iterator[FakeServer]:
    """Serve the fake on 127.0.0.1 (the socket listens before we return, so no waiting is needed)."""
    import uvicorn

    fake = FakeServer()
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
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
