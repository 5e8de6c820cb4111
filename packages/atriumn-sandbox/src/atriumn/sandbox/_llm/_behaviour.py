"""What a model name asks the emulation to do: parsed once per distinct name and cached.

A name is read as a set of independent markers (``chunks-50``, ``cache``, ``error-429``...), so that they
combine: ``gpt-4o-cache``, ``claude-tool-delay-20``, ``chunks-200-cache``. The catalogue is documented in
the package docstring (:mod:`atriumn.sandbox._llm`) and in ``docs/sandbox-llm.md``.
"""

from __future__ import annotations

import dataclasses
import functools
import re

__all__ = ["Behaviour", "behaviour_of"]

_ERROR = re.compile(r"(?<![a-z])(?<!stream-)error-(\d{3})(?:-retry-(\d+))?")
_FAIL_ONCE = re.compile(r"fail-once-(\d{3})")
_CHUNKS = re.compile(r"chunks-(\d+)")
_CUT = re.compile(r"(?:^|[^a-z])(?:stream-)?cut(?:-(\d+))?(?![a-z])")
_STREAM_ERROR = re.compile(r"stream-error(?:-(\d+))?")
_DELAY = re.compile(r"delay-(\d+)")

#: The text that ``stream-cut`` and ``stream-error`` answer (when no count is given in the name).
STREAM_FAULT_TEXT = "one two three four five"


@dataclasses.dataclass(frozen=True)
class Behaviour:
    """The parsed markers of one model name.

    Attributes:
        kind: ``echo``, ``tool``, ``steps``, ``json``, ``bad-json``, ``inspect`` or ``chunks``.
        chunks: for ``chunks``: how many text chunks to stream.
        error_status: answer every request with this HTTP error (``error-<status>``, ``overloaded``).
        retry_after: seconds in ``Retry-After`` (and Gemini's ``retryDelay``) of an error answer.
        fail_once: fail the first request (per provider, key and model) with this status, then behave.
        cut_after: streams: drop the connection after this many text chunks (no terminating event).
        error_after: streams: after this many text chunks, an error event inside the 200 stream.
        cache: report the system prompt as read from the provider's prompt cache.
        cache_write: Anthropic: report it as written to the cache instead (``cache-write``).
        think: report reasoning/thinking tokens.
        reason: a reasoning model (``reason``): thinking blocks and signatures, thought parts and signatures,
            Groq's ``reasoning``, reasoning tokens; a replayed conversation must carry them back.
        redacted: Anthropic ``reason`` models also return a ``redacted_thinking`` block (``redacted``).
        delay: seconds to wait before each streamed chunk (and before a JSON answer).
        text: the answer's text when the name fixes it (``chunks-N``, stream faults), else ``None``.
        parallel: ``steps``: call every offered tool in one round instead of one per round.
        unknown_tool: ``steps``: after the offered tools, one more round calling ``no_such_tool``.
        once: ``bad-json-once``: answer non-JSON only while the conversation has no answer of the model yet.
    """

    kind: str = "echo"
    chunks: int = 0
    error_status: int | None = None
    retry_after: int = 1
    fail_once: int | None = None
    cut_after: int | None = None
    error_after: int | None = None
    cache: bool = False
    cache_write: bool = False
    think: bool = False
    reason: bool = False
    redacted: bool = False
    delay: float = 0.0
    text: str | None = None
    parallel: bool = False
    unknown_tool: bool = False
    once: bool = False


@functools.lru_cache(maxsize=2048)
def behaviour_of(model: str) -> Behaviour:
    """The :class:`Behaviour` that ``model`` names (case-insensitive; unknown names echo)."""
    name = model.lower().rsplit("/", 1)[-1]
    kind = "echo"
    chunks = 0
    if match := _CHUNKS.search(name):
        kind, chunks = "chunks", int(match.group(1))
    elif "bad-json" in name:
        kind = "bad-json"
    elif "inspect" in name:
        kind = "inspect"
    elif "steps" in name:
        kind = "steps"
    elif "tool" in name:
        kind = "tool"
    elif "json" in name:
        kind = "json"
    error_status: int | None = None
    retry_after = 1
    if match := _ERROR.search(name):
        error_status = int(match.group(1))
        if match.group(2) is not None:
            retry_after = int(match.group(2))
    elif "overloaded" in name:
        error_status = 529
    fail_once = int(m.group(1)) if (m := _FAIL_ONCE.search(name)) else None
    cut_after: int | None = None
    error_after: int | None = None
    if match := _STREAM_ERROR.search(name):
        error_after = int(match.group(1)) if match.group(1) else 2
    elif match := _CUT.search(name):
        cut_after = int(match.group(1)) if match.group(1) else 3
    delay = int(m.group(1)) / 1000 if (m := _DELAY.search(name)) else 0.0
    text: str | None = None
    if kind == "chunks":
        text = _words(chunks)
    elif match is not None and (cut_after is not None or error_after is not None):
        text = _words((cut_after or error_after or 0) + 3) if match.group(1) else STREAM_FAULT_TEXT
    return Behaviour(
        kind=kind,
        chunks=chunks,
        error_status=error_status,
        retry_after=retry_after,
        fail_once=fail_once,
        cut_after=cut_after,
        error_after=error_after,
        cache="cache" in name,
        cache_write="cache-write" in name,
        think="think" in name,
        reason="reason" in name,
        redacted="redacted" in name,
        delay=delay,
        text=text,
        parallel="parallel" in name,
        unknown_tool="unknown" in name,
        once="bad-json-once" in name,
    )


def _words(n: int) -> str:
    return " ".join(f"w{i}" for i in range(n))
