"""LLM provider emulation: OpenAI, Anthropic, Gemini and Groq, on their own paths, with deterministic models.

:func:`llm_routes` returns the Starlette routes; the sandbox app mounts them next to the Atriumn API.

Paths
-----
- OpenAI: ``POST /v1/chat/completions``, ``POST /v1/embeddings``, ``GET /v1/models[/{id}]``.
- Anthropic: ``POST /v1/messages`` (and ``/anthropic/v1/messages``, ``GET /anthropic/v1/models[/{id}]``;
  ``GET /v1/models`` with an ``anthropic-version`` header answers in Anthropic's shape).
- Gemini: ``POST /v1beta/models/{model}:generateContent``, ``:streamGenerateContent[?alt=sse]``,
  ``:embedContent``, ``:batchEmbedContents`` (also under ``/v1/models/``), ``GET /v1beta/models[/{model}]``;
  explicit caches ``/v1beta/cachedContents[/{id}]`` (and ``/v1/cachedContents``).
- Groq: ``POST /openai/v1/chat/completions``, ``GET /openai/v1/models[/{id}]``.

Keys: any non-empty key is accepted; a key starting with ``invalid`` is refused in the provider's shape
(OpenAI/Groq 401 ``invalid_api_key``, Anthropic 401 ``authentication_error``, Gemini 400
``INVALID_ARGUMENT``/``API_KEY_INVALID``); a missing key is 401 (Gemini: 403 ``PERMISSION_DENIED``).

Models (by name, case-insensitive; markers combine, e.g. ``chunks-200-cache``, ``claude-tool-delay-5``)
-------------------------------------------------------------------------------------------------------
Answer text (the first marker that applies):

- ``chunks-N``: answers ``w0 w1 ... w{N-1}``, streamed as exactly N text chunks.
- ``stream-cut[-N]`` / ``cut[-N]``: answers ``one two three four five``; a stream is dropped after N=3 text
  chunks (no terminating event, the body ends early). With an explicit N the text is ``w0 .. w{N+2}``.
- ``stream-error[-N]``: answers like ``stream-cut``; a stream carries an error event after N=2 text chunks
  (OpenAI ``data: {"error": ...}``, Groq ``x_groq.error``, Anthropic ``event: error`` overloaded_error,
  Gemini ``data: {"error": {code: 503, ...}}``), then ends without its terminator.
- names containing ``tool``: with tools offered, calls the first tool (or the one ``tool_choice`` forces)
  with arguments built from its JSON schema; when the conversation ends with a tool result, answers
  ``tool said: <result>`` (a Gemini ``functionResponse`` with a single string value gives that string, else
  its JSON). Without tools, or with tool choice ``none``, it echoes.
- ``steps``: a tool loop: answer k calls offered tool k (``parallel``: all of them at once; ``unknown``: then
  ``no_such_tool``), and once every tool was called answers ``done: <results joined by " | ">``.
- ``bad-json``: answers ``this is not json`` (``bad-json-once``: only until the conversation holds an answer
  of the model, then like ``json``).
- ``inspect``: answers a compact JSON report of what arrived, the same shape on every provider:
  ``{"images": [...], "documents": [...], "audio": [...], "cache_points": N, "cache_ttls": [...],
  "reasoning": {...}|null, "cached_content": "cachedContents/..."|null}``; each part ``{"source": "base64",
  "media_type", "bytes", "sha256"}`` (``"text"`` for Anthropic text documents), ``{"source": "url", "url"}``
  or ``{"source": "file", "file_id"}``, plus what the provider lets it carry (``detail``, ``filename``,
  ``format``, ``title``); ``cache_ttls`` one entry per cache breakpoint (``null``: no TTL given);
  ``reasoning`` the request's reasoning controls as received (OpenAI ``reasoning_effort``, Groq also
  ``reasoning_format``/``include_reasoning``, Anthropic ``thinking`` and ``effort``, Gemini
  ``thinkingConfig``).
- any model, when the request asks for a JSON schema (OpenAI ``response_format`` ``json_schema``, Anthropic
  ``output_config.format``, Gemini ``responseSchema``/``responseJsonSchema``): the schema's minimal instance
  (every declared property, the first ``enum``/``anyOf`` option, strings ``"sandbox"``, integers 1 or the
  minimum, numbers 0.5, booleans true, arrays of ``minItems`` (at least 1) items).
- names containing ``json``, or JSON mode without a schema: ``{"echo": "<last user message>"}``.
- anything else (``echo``, ``gpt-4o``, unknown names): echoes the last user message's text, unchanged; a
  stream sends one chunk per word (a 200-word message streams 200 chunks).

A text answer longer than ``max_tokens`` (``max_completion_tokens``, ``maxOutputTokens``) is cut to that
many words, with finish reason ``length`` / ``max_tokens`` / ``MAX_TOKENS``.

Errors and modifiers:

- ``error-<status>[-retry-<s>]``: every request fails with that status in the provider's error shape; 429s
  (and 503/529) carry ``Retry-After: <s>`` (default 1; OpenAI also ``retry-after-ms``), Gemini's 429 a
  ``RetryInfo`` detail with ``retryDelay: "<s>s"``, and OpenAI/Anthropic 429s exhausted rate-limit headers.
- ``overloaded`` (or ``error-529``): Anthropic 529 ``overloaded_error``; OpenAI/Groq 503 ``server_error``;
  Gemini 503 ``UNAVAILABLE``.
- ``fail-once-<status>``: the first request per (provider, API key, model) fails with that status, later
  ones behave normally (use a fresh key per test).
- ``delay-<ms>``: waits that long before each streamed event.
- ``cache``: the system prompt's tokens are reported as read from the prompt cache (``cache-write``:
  Anthropic reports them written, ``cache_creation_input_tokens``). A system prompt of 1,024 tokens or more
  is reported as cached by every model.
- ``think``: reports 8 reasoning tokens (OpenAI ``completion_tokens_details.reasoning_tokens``, included in
  ``completion_tokens``; Gemini ``thoughtsTokenCount``, included in ``totalTokenCount`` only).
- ``reason``: a reasoning model (below). ``redacted``: an Anthropic ``reason`` model also returns a
  ``redacted_thinking`` block.

Non-text parts
--------------
Accepted wherever text is, in each provider's documented forms: OpenAI ``image_url`` (data URL or https,
``detail``), ``file`` (``file_data`` data URL or ``file_id``, ``filename``), ``input_audio`` (``wav``/``mp3``),
``prompt_cache_breakpoint`` on parts (``ttl`` ``30m``/``12h``), ``prompt_cache_key``, ``prompt_cache_options``,
``reasoning_effort``; Groq text and ``image_url`` only (``input_audio``/``file``: Groq's 400 validation error);
Anthropic ``image`` / ``document`` blocks (``base64``, ``url``, ``file``; documents also ``text`` and
``content``), ``cache_control`` ``{"type": "ephemeral", "ttl": "5m"|"1h"}`` on tools, system blocks (a list),
message blocks and the top level (at most 4, no ``1h`` after a ``5m`` in the order tools, system, messages),
``thinking`` (``enabled`` needs ``budget_tokens`` ≥ 1024 and < ``max_tokens``; ``adaptive``; ``disabled``) and
``output_config.effort``; Gemini ``inlineData`` / ``fileData`` (camelCase or snake_case), the kind following
the MIME type, and ``generationConfig.thinkingConfig``. Inline data is decoded: a part that is not base64, or
of a type the provider does not take there, is refused with the provider's 400.

Reasoning (``reason`` models)
-----------------------------
The thinking is a deterministic 8-word text naming a digest of what the model read (8 reasoning tokens, as
``think``). Anthropic (thinking ``enabled``/``adaptive``/``between_tools`` in the request): the answer starts
with ``{"type": "thinking", "thinking", "signature"}`` (HMAC of the text; ``display: "omitted"`` leaves the
text out) — streamed as a ``thinking`` block start, one ``thinking_delta`` per word and a
``signature_delta`` — and ``output_tokens`` includes the thinking (``output_tokens_details.thinking_tokens``);
the answer after a tool result continues the turn, without thinking. Gemini (unless ``thinkingBudget`` is 0):
``thoughtsTokenCount``, a ``thoughtSignature`` on the first ``functionCall`` part (else on the first text
part), and with ``includeThoughts`` a ``{"text", "thought": true}`` summary part first. OpenAI: reasoning
tokens only (none with ``reasoning_effort: "none"``). Groq: ``message.reasoning`` / ``delta.reasoning`` with
``reasoning_format: "parsed"`` or ``include_reasoning: true``, ``<think>...</think>`` before the content with
``raw``, nothing otherwise (the sandbox's default is ``hidden``); ``completion_tokens_details.reasoning_tokens``.

Round trips are checked as the providers check them: Anthropic, with thinking on, refuses a final assistant
message that calls a tool without starting with its thinking block (400 ``messages.N.content.0.type: Expected
`thinking` or `redacted_thinking`, but found `tool_use`...``) and any thinking block whose signature does not
match its text (``Invalid `signature` in `thinking` block``) or made-up ``redacted_thinking`` data; Gemini
refuses a ``functionCall`` of the current turn whose first call part lacks its signature (400 ``Function call
is missing a thought_signature in functionCall parts...``) and any signature it did not issue for that call
(``Corrupted thought signature.``; Google's documented placeholders are accepted).

Gemini caches
-------------
``POST /v1beta/cachedContents`` (``model``, ``contents``, ``systemInstruction``, ``tools``, ``toolConfig``,
``ttl`` or ``expireTime``, ``displayName``; at least 1,024 tokens) gives a CachedContent; ``GET`` (one, or a
list with ``pageSize``/``pageToken``), ``PATCH`` (``ttl``/``expireTime``), ``DELETE``. generateContent with
``cachedContent`` sees the cache's contents, system instruction and tools before its own contents and reports
``cachedContentTokenCount`` (part of ``promptTokenCount``); a missing, expired or other key's cache is 403
``PERMISSION_DENIED`` (as Gemini answers), a cache of another model or a request that also sets
``systemInstruction``/``tools``/``toolConfig`` 400.

Usage
-----
Tokens are whitespace-separated words. Prompt tokens P: the system prompt plus every message's text (tool
results included), plus a fixed count per non-text part: 100 per image, 200 per document (any file that is
not an image or audio), 50 per audio part (OpenAI ``prompt_tokens_details.image_tokens``/``audio_tokens``,
Gemini ``promptTokensDetails`` by modality). Output tokens: the answer's words plus each tool call's
arguments as ``json.dumps`` renders them. Cached tokens C as above, or a Gemini cache's tokens (0 ≤ C ≤ P).
Each provider reports them its own way:

- OpenAI/Groq: ``prompt_tokens = P`` (INCLUDES ``prompt_tokens_details.cached_tokens = C``).
- Anthropic: ``input_tokens = P - C`` (EXCLUDES ``cache_read_input_tokens = C`` and
  ``cache_creation_input_tokens``).
- Gemini: ``promptTokenCount = P`` (``cachedContentTokenCount = C`` is part of it).

Rate limits
-----------
Off by default. ``SandboxConfig.llm_rpm`` / ``llm_tpm`` / ``llm_window`` (``--llm-rpm``, ``--llm-tpm``,
``--llm-window``) give every (provider, API key) a budget of requests and tokens per window, with each
provider's real rate-limit headers and 429 bodies (see :mod:`._limits`).

Embeddings are deterministic unit vectors (8 components unless ``dimensions``/``outputDimensionality``
asks), float32-exact so float and base64 forms agree; the same text always gives the same vector.

Batches
-------
Each provider's batch API, on its real paths: OpenAI ``/v1/files`` (multipart upload, ``/content``, delete)
and ``/v1/batches[/{id}[/cancel]]``; Groq the same under ``/openai/v1``; Anthropic ``/v1/messages/batches
[/{id}[/cancel|/results]]`` (and under ``/anthropic``); Gemini ``/v1beta/models/{model}:batchGenerateContent``
(inline requests or an uploaded JSONL file), ``/v1beta/batches[/{id}[:cancel]]``, and the Files API's
resumable upload (``/upload/v1beta/files``), metadata and download. google-genai uses ``/v1`` by default,
where ``/v1/batches`` and ``/v1/files`` are also OpenAI's: ``x-goog-api-key`` (or ``?key=``) makes a request
Gemini's, anything else OpenAI's. Jobs and files are private to the API key that created them.

Every request of a batch is answered by the interactive endpoint's code (same markers, same usage), so
``error-<status>`` models give per-request errors inside a completed batch. Batch-only markers:
``batch-expire`` (the request is not run; the job ends ``expired``: OpenAI/Groq ``expired`` with the request
in the error file as ``batch_expired``, Anthropic an ``expired`` result, Gemini ``BATCH_STATE_EXPIRED``) and
``batch-invalid`` (the input fails validation: OpenAI/Groq ``failed`` with ``errors``, Gemini
``BATCH_STATE_FAILED``; Anthropic an ``errored`` result with ``invalid_request_error``).

Time: a job reaches its end state ``batch_delay`` seconds (a ``SandboxConfig`` field, ``--batch-delay``,
default 0.2) after its creation, plus the longest ``delay-<ms>`` among its requests' models; the intermediate
states divide that time in thirds (OpenAI ``validating``/``in_progress``/``finalizing``, Gemini
``PENDING``/``RUNNING``). A cancellation takes ``batch_delay`` too (``cancelling`` → ``cancelled``; a cancelled
job ran none of its requests). The state is computed on each read; the creation (and the cancellation)
response always shows the first state, so a delay of 0 ends a job by the next read. Limits
(``SandboxConfig``): OpenAI 50,000 requests and 200 MiB per input file, Groq 50,000 and 100 MiB, Anthropic
100,000 requests and 256 MiB per batch, Gemini 20 MiB per inline request.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from starlette.routing import BaseRoute

from ._anthropic import anthropic_models, anthropic_routes
from ._batch_routes import batch_routes
from ._gemini import gemini_routes
from ._openai import openai_routes

__all__ = ["llm_routes"]


def llm_routes(config: Any = None, *, work_dir: Path | None = None) -> list[BaseRoute]:
    """The Starlette routes of the four emulated providers (mount them at the root of an app).

    Args:
        config: the ``SandboxConfig`` whose batch settings (``batch_delay``, ``*_batch_max_*``) the batch
            APIs follow and whose ``llm_rpm`` / ``llm_tpm`` / ``llm_window`` limit the chat endpoints (see
            :mod:`._limits`); ``None``: the defaults (no limits).
        work_dir: where batch files are kept (in a directory of their own, removed at exit); ``None``: the
            system's temporary directory.
    """
    from ._limits import limit_routes

    return limit_routes(
        [
            *batch_routes(config, work_dir=work_dir),
            *anthropic_routes(),
            *openai_routes(anthropic_models=anthropic_models),
            *gemini_routes(),
        ],
        config,
    )
