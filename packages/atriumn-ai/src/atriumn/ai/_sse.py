"""A small server-sent events decoder, sans-IO, to the WHATWG event-stream rules.

Why our own: httpx2 ships one (``httpx2.EventSource``, derived from httpx-sse) and we evaluated it first.
It deviates from the WHATWG "interpret an event stream" rules in ways our providers can trigger:

- it dispatches blocks that set no ``data`` (``event: ping`` alone, ``id: 7`` alone) as events with empty
  data; the standard dispatches nothing when the data buffer is empty;
- it does not strip a leading byte order mark, so a stream starting with U+FEFF loses its first field;
- ``retry`` accepts anything ``int()`` does (``+5``, `` 5``, non-ASCII digits); the standard wants ASCII
  digits only;
- a stream ending in a bare CR dispatches the unterminated last event; the standard discards it.

It also decodes text per chunk; this decoder works on bytes (UTF-8 is decoded once per field value), which
is measurably cheaper on 200-chunk streams. Rules implemented: lines end in CRLF, LF or CR (a CRLF split
across chunks counts once); ``:`` starts a comment; ``field: value`` strips one leading space; a line
without a colon is a field with an empty value; ``data`` lines are joined with LF; ``event`` sets the type
(``message`` when empty); ``id`` persists across events and is ignored when it contains NUL; ``retry``
takes ASCII digits only; unknown fields are ignored; a blank line dispatches when data was seen; an
unterminated event at the end of the stream is discarded.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from atriumn.core import DecodeError

__all__ = ["SSEDecoder", "ServerSentEvent"]

_LINE_END = re.compile(rb"\r\n|\r|\n")


class ServerSentEvent:
    """One dispatched event: ``event`` type, ``data``, the last event ``id`` and ``retry`` (ms) if set."""

    __slots__ = ("data", "event", "id", "retry")

    def __init__(self, event: str, data: str, id: str = "", retry: int | None = None) -> None:
        self.event = event
        self.data = data
        self.id = id
        self.retry = retry

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ServerSentEvent):
            return NotImplemented
        return (self.event, self.data, self.id, self.retry) == (other.event, other.data, other.id, other.retry)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"ServerSentEvent(event={self.event!r}, data={self.data!r}, id={self.id!r}, retry={self.retry!r})"


class SSEDecoder:
    """Feed bytes as they arrive; get back the events completed by them.

    Example::

        decoder = SSEDecoder()
        for chunk in response.iter_bytes():
            for event in decoder.feed(chunk):
                ...
    """

    __slots__ = (
        "_buf",
        "_data",
        "_event",
        "_first",
        "_has_data",
        "_id",
        "_retry",
        "_size",
        "_skip_lf",
        "max_event_size",
    )

    def __init__(self, *, max_event_size: int = 16 * 1024 * 1024) -> None:
        self._buf = b""
        self._event = ""
        self._data: list[bytes] = []
        self._has_data = False
        self._size = 0
        self._id = ""
        self._retry: int | None = None
        self._skip_lf = False
        self._first = True
        self.max_event_size = max_event_size

    @property
    def last_event_id(self) -> str:
        """The last event id seen (it persists across events, as the standard says)."""
        return self._id

    def feed(self, chunk: bytes) -> list[ServerSentEvent]:
        """Decode ``chunk``; returns the events it completed (often none or one)."""
        if not chunk:  # an empty read changes nothing (a CR that ended the last chunk still pairs with a LF)
            return []
        if self._first:
            buf = self._buf + chunk
            if len(buf) < 3 and b"\xef\xbb\xbf".startswith(buf):
                self._buf = buf
                return []
            self._first = False
            if buf.startswith(b"\xef\xbb\xbf"):
                buf = buf[3:]
            self._buf = b""
            chunk = buf
        if self._skip_lf:
            self._skip_lf = False
            if chunk[:1] == b"\n":
                chunk = chunk[1:]
        if not self._buf and not self._has_data and chunk[:6] == b"data: ":
            # Fast path: the chunk is exactly one single-line event (how providers write their streams),
            # ended by LF LF (OpenAI, Anthropic, Groq) or CRLF CRLF (Gemini).
            n = len(chunk)
            end = 0
            if chunk[-2:] == b"\n\n" and chunk.find(b"\n") == n - 2 and b"\r" not in chunk:
                end = 2
            elif chunk[-4:] == b"\r\n\r\n" and chunk.find(b"\r") == n - 4 and chunk.find(b"\n") == n - 3:
                end = 4
            if end:
                if n - 6 - end > self.max_event_size:
                    raise DecodeError(f"server-sent event exceeds {self.max_event_size} bytes")
                event = ServerSentEvent(
                    self._event or "message", chunk[6:-end].decode("utf-8", "replace"), self._id, self._retry
                )
                self._event = ""
                return [event]
        buf = self._buf + chunk if self._buf else chunk
        out: list[ServerSentEvent] = []
        if b"\r" not in buf:
            # Fast path: LF-only line endings (what every provider sends).
            *lines, rest = buf.split(b"\n")
        else:
            lines, rest = self._split_cr(buf)
        self._buf = rest
        if len(rest) > self.max_event_size:
            raise DecodeError(f"server-sent event line exceeds {self.max_event_size} bytes")
        for line in lines:
            if not line:
                if self._has_data:
                    out.append(self._dispatch())
                else:
                    self._event = ""
                    self._data = []
                    self._size = 0
                continue
            if line[:5] == b"data:":  # the common case, inlined
                value = line[6:] if line[5:6] == b" " else line[5:]
                self._data.append(value)
                self._has_data = True
                self._size += len(value)
                if self._size > self.max_event_size:
                    raise DecodeError(f"server-sent event exceeds {self.max_event_size} bytes")
                continue
            self._field(line)
        return out

    def feed_all(self, chunks: Iterable[bytes]) -> list[ServerSentEvent]:
        """Decode a whole stream at once (the unterminated tail is discarded)."""
        events: list[ServerSentEvent] = []
        for chunk in chunks:
            events.extend(self.feed(chunk))
        return events

    def _split_cr(self, buf: bytes) -> tuple[list[bytes], bytes]:
        # CRLF / CR endings (Gemini sends CRLF): split in C with a regex, not byte by byte in Python.
        if buf.endswith(b"\r"):
            self._skip_lf = True  # a LF starting the next chunk belongs to this CR
            return _LINE_END.split(buf[:-1]), b""
        *lines, rest = _LINE_END.split(buf)
        return lines, rest

    def _field(self, line: bytes) -> None:
        if line[0] == 58:  # ':' comment
            return
        name, colon, value = line.partition(b":")
        if colon and value[:1] == b" ":
            value = value[1:]
        if name == b"data":
            self._data.append(value)
            self._has_data = True
            self._size += len(value)
            if self._size > self.max_event_size:
                raise DecodeError(f"server-sent event exceeds {self.max_event_size} bytes")
        elif name == b"event":
            self._event = value.decode("utf-8", "replace")
        elif name == b"id":
            if b"\0" not in value:
                self._id = value.decode("utf-8", "replace")
        elif name == b"retry" and value and value.isdigit():  # bytes.isdigit is ASCII-only
            self._retry = int(value)

    def _dispatch(self) -> ServerSentEvent:
        data = self._data[0] if len(self._data) == 1 else b"\n".join(self._data)
        event = ServerSentEvent(self._event or "message", data.decode("utf-8", "replace"), self._id, self._retry)
        self._event = ""
        self._data = []
        self._has_data = False
        self._size = 0
        return event
