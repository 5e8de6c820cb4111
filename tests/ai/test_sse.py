"""The SSE decoder against the WHATWG event-stream rules, and where httpx2's decoder differs."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from atriumn.ai import ServerSentEvent, SSEDecoder


def decode(*chunks: bytes) -> list[ServerSentEvent]:
    return SSEDecoder().feed_all(chunks)


def ev(data: str, event: str = "message", id: str = "", retry: int | None = None) -> ServerSentEvent:
    return ServerSentEvent(event, data, id, retry)


def test_fields_and_dispatch() -> None:
    assert decode(b"event: add\ndata: 1\n\n") == [ev("1", "add")]
    assert decode(b"data:no-space\n\n") == [ev("no-space")]
    assert decode(b"data:  two spaces\n\n") == [ev(" two spaces")]  # only one leading space is stripped


def test_multi_line_data_joined_with_lf() -> None:
    assert decode(b"data: a\ndata: b\ndata:\n\n") == [ev("a\nb\n")]


def test_comments_and_unknown_fields_ignored() -> None:
    assert decode(b": keep-alive\nfoo: bar\ndata: x\n\n") == [ev("x")]
    assert decode(b": only a comment\n\n") == []


def test_line_endings_crlf_cr_lf_and_split_crlf() -> None:
    assert decode(b"data: a\r\n\r\ndata: b\r\rdata: c\n\n") == [ev("a"), ev("b"), ev("c")]
    assert decode(b"data: a\r", b"\n\r", b"\n") == [ev("a")]  # CRLF split across chunks counts once


def test_no_dispatch_without_data() -> None:
    # httpx2.EventSource dispatches these as empty events; the standard does not.
    assert decode(b"event: ping\n\n") == []
    assert decode(b"id: 7\n\ndata: x\n\n") == [ev("x", id="7")]


def test_id_persists_and_null_ignored() -> None:
    assert decode(b"id: 1\ndata: a\n\ndata: b\n\nid: 2\0\ndata: c\n\n") == [
        ev("a", id="1"),
        ev("b", id="1"),
        ev("c", id="1"),
    ]
    assert decode(b"id\ndata: d\n\n") == [ev("d", id="")]  # "id" alone resets it


def test_retry_ascii_digits_only() -> None:
    assert decode(b"retry: 300\ndata: a\n\n") == [ev("a", retry=300)]
    assert decode(b"retry: +5\ndata: a\n\n") == [ev("a")]
    assert decode(b"retry: 5s\ndata: a\n\n") == [ev("a")]


def test_bom_stripped_even_split() -> None:
    assert decode(b"\xef\xbb\xbfdata: x\n\n") == [ev("x")]
    assert decode(b"\xef", b"\xbb", b"\xbfdata: x\n\n") == [ev("x")]


def test_unterminated_event_discarded() -> None:
    assert decode(b"data: x") == []
    assert decode(b"data: x\n") == []
    assert decode(b"data: x\r") == []  # httpx2 dispatches this one


def test_empty_event_field_means_message_and_utf8_split() -> None:
    text = "data: héllo\n\n".encode()
    cut = text.index(b"\xc3") + 1
    assert decode(b"event:\ndata: x\n\n") == [ev("x")]
    assert decode(text[:cut], text[cut:]) == [ev("héllo")]


STREAM = b'\xef\xbb\xbfevent: a\r\ndata: 1\r\ndata: 2\r\n\r\n: c\nid: 9\ndata: x\r\rretry: 10\ndata: {"k": 1}\n\n'


@given(st.lists(st.integers(min_value=0, max_value=len(STREAM)), max_size=12))
def test_any_chunking_gives_the_same_events(cuts: list[int]) -> None:
    points = sorted(set(cuts))
    chunks = [STREAM[a:b] for a, b in zip([0, *points], [*points, len(STREAM)], strict=True)]
    assert decode(*chunks) == decode(STREAM)
    assert decode(STREAM) == [ev("1\n2", "a"), ev("x", id="9"), ev('{"k": 1}', id="9", retry=10)]


def test_event_size_limit() -> None:
    import pytest

    decoder = SSEDecoder(max_event_size=10)
    assert decoder.feed(b"data: 12345\ndata: 1234\n\n") == [ev("12345\n1234")]
    from atriumn.core import DecodeError

    with pytest.raises(DecodeError, match="exceeds 10 bytes"):
        decoder.feed(b"data: 123456\ndata: 12345\n\n")


def test_single_event_chunks_match_the_general_path() -> None:
    chunks = [
        b"event: a\n",
        b"data: 1\n\n",
        b"data: 2\n\n",
        b"id: 4\n",
        b"data: x\n\n",
        b"data: \n\n",
        b"data: y\n\ndata: z\n\n",
    ]
    one_by_one = SSEDecoder().feed_all(chunks)
    joined = SSEDecoder().feed_all([b"".join(chunks)])
    assert (
        one_by_one
        == joined
        == [ev("1", "a"), ev("2"), ev("x", id="4"), ev("", id="4"), ev("y", id="4"), ev("z", id="4")]
    )


def test_an_empty_read_between_cr_and_lf_changes_nothing() -> None:
    """Found by the parser fuzz: a chunk ending in CR, an empty read, then LF lost the event's type."""
    whole = b"event: a\r\ndata: 1\r\n\r\nevent: b\r\ndata: 2\r\n\r\n"
    for cut in range(1, len(whole)):
        decoder = SSEDecoder()
        events = decoder.feed(whole[:cut]) + decoder.feed(b"") + decoder.feed(whole[cut:])
        assert [(e.event, e.data) for e in events] == [("a", "1"), ("b", "2")], cut
