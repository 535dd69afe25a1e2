"""Tests for the event-stream parser, after the spec and web-platform-tests' eventsource/."""

from __future__ import annotations

import dataclasses
import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from trio_sse._events import MAX_RETRY, ServerSentEvent
from trio_sse.client import (
    EventStreamParser,
    MessageEvent,
    parse_event_stream,
    parse_events,
)


def msg(data: str, type: str = "message", last_event_id: str = "") -> MessageEvent:
    return MessageEvent(type=type, data=data, last_event_id=last_event_id)


def feed_all(chunks: list[bytes]) -> tuple[EventStreamParser, list[MessageEvent]]:
    parser = EventStreamParser()
    events: list[MessageEvent] = []
    for chunk in chunks:
        events += parser.feed(chunk)
    return parser, events


# -- Line endings ----------------------------------------------------------------------


@pytest.mark.parametrize("eol", [b"\n", b"\r", b"\r\n"])
def test_line_endings(eol: bytes) -> None:
    body = eol.join([b"data: a", b"data: b", b"", b"event: e", b"data: c", b"", b""])
    assert parse_event_stream(body) == [msg("a\nb"), msg("c", type="e")]


def test_mixed_line_endings() -> None:
    assert parse_event_stream(b"data: a\rdata: b\r\ndata: c\n\r\n") == [msg("a\nb\nc")]


def test_crlf_split_across_feeds_is_one_line_ending() -> None:
    parser = EventStreamParser()
    assert parser.feed(b"data: a\r") == []
    assert parser.feed(b"\n\n") == [msg("a")]


def test_crlf_split_across_feeds_with_empty_feed_between() -> None:
    _, events = feed_all([b"data: a\r", b"", b"\n", b"\r", b"\n"])
    assert events == [msg("a")]


def test_cr_then_cr_across_feeds_is_two_line_endings() -> None:
    parser = EventStreamParser()
    assert parser.feed(b"data: a\r") == []
    assert parser.feed(b"\r") == [msg("a")]


def test_lone_cr_ends_the_line_before_the_next_chunk_arrives() -> None:
    parser = EventStreamParser()
    assert parser.feed(b"data: a\n\r") == [msg("a")]


def test_crcrlf_is_two_line_endings() -> None:
    assert parse_event_stream(b"data: a\r\r\ndata: b\n\n") == [msg("a"), msg("b")]


# -- BOM and UTF-8 ---------------------------------------------------------------------


def test_one_leading_bom_is_stripped() -> None:
    assert parse_event_stream(b"\xef\xbb\xbfdata: a\n\n") == [msg("a")]


def test_second_bom_makes_the_line_an_unknown_field() -> None:
    body = b"\xef\xbb\xbf\xef\xbb\xbfdata: a\n\ndata: b\n\n"
    assert parse_event_stream(body) == [msg("b")]


def test_bom_split_across_feeds_is_stripped() -> None:
    _, events = feed_all([b"\xef", b"\xbb", b"\xbfdata: a\n\n"])
    assert events == [msg("a")]


def test_bom_after_stream_start_is_content() -> None:
    _, events = feed_all([b"data: a\n\n", b"\xef\xbb\xbfdata: b\n\n"])
    assert events == [msg("a")]
    assert parse_event_stream("data: \ufeffx\n\n".encode()) == [msg("\ufeffx")]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (b"\xff", "\ufffd"),
        (b"\xff\xfe", "\ufffd\ufffd"),
        (b"\xe2\x82", "\ufffd"),  # truncated 3-byte sequence
        (b"\xc0\xaf", "\ufffd\ufffd"),  # overlong
        (b"\xed\xa0\x80", "\ufffd\ufffd\ufffd"),  # encoded surrogate
        (b"a\x80b", "a\ufffdb"),
    ],
)
def test_invalid_utf8_becomes_replacement_character(raw: bytes, expected: str) -> None:
    assert parse_event_stream(b"data: " + raw + b"\n\n") == [msg(expected)]


def test_multibyte_character_split_across_feeds() -> None:
    raw = "data: €😀\n\n".encode()
    _, events = feed_all([raw[i : i + 1] for i in range(len(raw))])
    assert events == [msg("€😀")]


# -- Field syntax ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "data"),
    [
        (b"data: x", "x"),
        (b"data:x", "x"),  # no space after the colon
        (b"data:  x", " x"),  # only one space is stripped
        (b"data:\tx", "\tx"),  # only U+0020 is stripped
        (b"data", ""),  # no colon: a field with an empty value
        (b"data:", ""),
        (b"data: ", ""),
        (b"data: a: b", "a: b"),  # only the first colon separates
        (b"data::", ":"),
    ],
)
def test_field_syntax(line: bytes, data: str) -> None:
    assert parse_event_stream(line + b"\n\n") == [msg(data)]


def test_field_names_are_case_sensitive_and_unknown_ones_ignored() -> None:
    body = b"Data: no\nDATA: no\ndata : no\nfoo: bar\nfoo\ndata: yes\n\n"
    assert parse_event_stream(body) == [msg("yes")]


def test_comments_are_ignored() -> None:
    body = b": comment\n:\n::\ndata: x\n: another\n\n: only comments\n\n"
    assert parse_event_stream(body) == [msg("x")]


def test_data_lines_are_joined_with_lf_and_one_final_lf_removed() -> None:
    assert parse_event_stream(b"data\ndata\n\n") == [msg("\n")]
    assert parse_event_stream(b"data: a\ndata\n\n") == [msg("a\n")]


def test_empty_data_dispatches_an_event_with_empty_data() -> None:
    # After web-platform-tests eventsource/format-field-data.
    assert parse_event_stream(b"data:\n\ndata\ndata\n\ndata:test\n\n") == [
        msg(""),
        msg("\n"),
        msg("test"),
    ]


# -- event -----------------------------------------------------------------------------


def test_event_type_defaults_to_message() -> None:
    assert parse_event_stream(b"data: x\n\n") == [msg("x", type="message")]
    assert parse_event_stream(b"event:\ndata: x\n\n") == [msg("x", type="message")]


def test_event_type_is_per_event_and_last_one_wins() -> None:
    body = b"event: a\nevent: b\ndata: 1\n\ndata: 2\n\n"
    assert parse_event_stream(body) == [msg("1", type="b"), msg("2")]


def test_event_type_is_reset_by_a_block_without_data() -> None:
    assert parse_event_stream(b"event: a\n\ndata: x\n\n") == [msg("x")]


# -- id --------------------------------------------------------------------------------


def test_id_persists_across_events() -> None:
    body = b"id: 1\ndata: a\n\ndata: b\n\nid: 2\ndata: c\n\n"
    assert parse_event_stream(body) == [
        msg("a", last_event_id="1"),
        msg("b", last_event_id="1"),
        msg("c", last_event_id="2"),
    ]


def test_id_is_set_even_for_a_block_without_data() -> None:
    parser = EventStreamParser()
    assert parser.feed(b"id: 5\n\n") == []
    assert parser.last_event_id == "5"
    assert parser.feed(b"data: x\n\n") == [msg("x", last_event_id="5")]


def test_id_is_only_applied_at_the_empty_line() -> None:
    parser = EventStreamParser()
    assert parser.feed(b"id: 5\n") == []
    assert parser.last_event_id == ""
    parser.feed(b"\n")
    assert parser.last_event_id == "5"


@pytest.mark.parametrize("line", [b"id", b"id:", b"id: "])
def test_empty_id_resets_the_last_event_id(line: bytes) -> None:
    body = b"id: 1\ndata: a\n\n" + line + b"\ndata: b\n\n"
    assert parse_event_stream(body) == [msg("a", last_event_id="1"), msg("b")]


def test_id_containing_nul_is_ignored() -> None:
    body = b"id: 1\ndata: a\n\nid: 2\x003\ndata: b\n\n"
    assert parse_event_stream(body) == [msg("a", last_event_id="1"), msg("b", last_event_id="1")]


def test_id_keeps_other_control_characters() -> None:
    assert parse_event_stream(b"id: a\tb\x01\ndata\n\n") == [msg("", last_event_id="a\tb\x01")]


# -- retry -----------------------------------------------------------------------------


def test_retry_sets_the_reconnection_time() -> None:
    assert EventStreamParser().retry is None
    parser = EventStreamParser()
    assert parser.feed(b"retry: 5000\n") == []
    assert parser.retry == 5000  # applied when the line ends, not at dispatch
    parser.feed(b"retry:0\n\n")
    assert parser.retry == 0


@pytest.mark.parametrize(
    "value",
    [b"", b" 1", b"1 ", b"-1", b"+1", b"1.5", b"1e3", b"abc", b"1a", "٣".encode(), "¹".encode()],
)
def test_retry_that_is_not_all_ascii_digits_is_ignored(value: bytes) -> None:
    parser = EventStreamParser()
    parser.feed(b"retry: 7\n\nretry: " + value + b"\ndata: x\n\n")
    assert parser.retry == 7


def test_retry_with_absurdly_many_digits_does_not_crash() -> None:
    parser = EventStreamParser()
    parser.feed(b"retry: 7\nretry: " + b"9" * 10_000 + b"\ndata: x\n\n")
    assert parser.retry == 7


def test_retry_with_leading_zeros() -> None:
    parser = EventStreamParser()
    parser.feed(b"retry: 0010\n")
    assert parser.retry == 10


# -- End of stream ---------------------------------------------------------------------


@pytest.mark.parametrize("body", [b"data: x", b"data: x\n", b"data: x\r", b"data: x\r\n"])
def test_incomplete_trailing_event_is_not_dispatched(body: bytes) -> None:
    assert parse_event_stream(body) == []
    assert parse_event_stream(b"data: a\n\n" + body) == [msg("a")]


def test_end_discards_the_incomplete_event_and_starts_a_new_stream() -> None:
    parser = EventStreamParser()
    assert parser.feed(b"retry: 10\nid: 1\ndata: a\n\nid: 2\nevent: e\ndata: lost\ndata") == [
        msg("a", last_event_id="1")
    ]
    parser.end()
    # The incomplete event's id never took effect; retry did, and both carry over.
    assert parser.last_event_id == "1"
    assert parser.retry == 10
    # A new stream: its BOM is stripped and no buffered field leaks into it.
    assert parser.feed(b"\xef\xbb\xbf: x\n\ndata: b\n\n") == [msg("b", last_event_id="1")]


def test_end_drops_a_pending_partial_character_and_cr() -> None:
    parser = EventStreamParser()
    parser.feed(b"data: a\n\ndata: \xe2\x82\r")
    parser.end()
    assert parser.feed(b"\ndata: b\n\n") == [msg("b")]


def test_message_event_is_a_frozen_slotted_value() -> None:
    event = msg("x")
    with pytest.raises(dataclasses.FrozenInstanceError):
        event.data = "y"  # type: ignore[misc]
    assert not hasattr(event, "__dict__")
    assert event == MessageEvent("message", "x", "")


# -- parse_events: the field-level view ------------------------------------------------


def test_parse_events_keeps_every_field() -> None:
    body = (
        b": hello\n: world\nevent: e\nid: 1\nretry: 30\ndata: a\ndata: \n\n"
        b"id: \n\n"
        b"retry: 5\n\n"
        b":\n\n"
        b"data\n\n"
    )
    assert parse_events(body) == [
        ServerSentEvent("a\n", event="e", id="1", retry=30, comment="hello\nworld"),
        ServerSentEvent(id=""),
        ServerSentEvent(retry=5),
        ServerSentEvent(comment=""),
        ServerSentEvent(""),
    ]


def test_parse_events_ignores_what_a_browser_ignores() -> None:
    body = (
        b"foo: bar\n\n"  # only unknown fields: no block
        b"id: a\x00b\nretry: x\ndata: 1\n\n"
        b"event: a\nevent: b\nid: 1\nid: 2\ndata: 2\n\n"
        b"data: trailing"
    )
    assert parse_events(body) == [ServerSentEvent("1"), ServerSentEvent("2", event="b", id="2")]


def test_parse_events_handles_bom_and_line_endings() -> None:
    body = b"\xef\xbb\xbfdata: a\r\ndata: b\rid: 1\n\r\n"
    assert parse_events(body) == [ServerSentEvent("a\nb", id="1")]


# -- Properties ------------------------------------------------------------------------

_char = st.characters(exclude_categories=["Cs"])
# Text that often holds the characters the format cares about.
_tricky = st.lists(
    st.one_of(_char, st.sampled_from(["\r", "\n", "\r\n", " ", ":", "\ufeff", "\0", "\x85"])),
).map("".join)
_single_line = st.lists(
    st.one_of(
        st.characters(exclude_categories=["Cs"], exclude_characters="\r\n"),
        st.sampled_from([" ", ":", "\ufeff", "\0", "\u2028"]),
    )
).map("".join)
_id = _single_line.map(lambda s: s.replace("\0", ""))


@st.composite
def valid_events(draw: st.DrawFn) -> ServerSentEvent:
    data = draw(st.none() | _tricky)
    event = draw(st.none() | _single_line)
    id_ = draw(st.none() | _id)
    retry = draw(st.none() | st.integers(min_value=0, max_value=MAX_RETRY))
    comment = draw(st.none() | _tricky)
    if all(field is None for field in (data, event, id_, retry, comment)):
        data = ""
    return ServerSentEvent(data, event=event, id=id_, retry=retry, comment=comment)


def _lf(text: str | None) -> str | None:
    return None if text is None else text.replace("\r\n", "\n").replace("\r", "\n")


def normalised(event: ServerSentEvent) -> ServerSentEvent:
    """What parse_events(event.encode()) gives back.

    The event-stream format is not byte-transparent: CRLF, LF and lone CR all end a line,
    so a CR or CRLF inside data or a comment is sent as a line break and the client
    rebuilds it as LF.
    """
    return dataclasses.replace(event, data=_lf(event.data), comment=_lf(event.comment))


def browser_dispatch(events: list[ServerSentEvent]) -> list[MessageEvent]:
    """What an EventSource dispatches for these encoded events (the reference model)."""
    out: list[MessageEvent] = []
    last_event_id = ""
    for event in events:
        if event.id is not None:
            last_event_id = event.id
        if event.data is not None:
            data = _lf(event.data)
            assert data is not None
            out.append(MessageEvent(event.event or "message", data, last_event_id))
    return out


def split(data: bytes, cuts: list[int]) -> list[bytes]:
    bounds = [0, *sorted(cuts), len(data)]
    return [data[a:b] for a, b in itertools.pairwise(bounds)]


@settings(deadline=None, max_examples=300)
@given(valid_events())
def test_parse_events_inverts_encode(event: ServerSentEvent) -> None:
    assert parse_events(event.encode()) == [normalised(event)]


@settings(deadline=None, max_examples=200)
@given(st.lists(valid_events(), max_size=8), st.data())
def test_chunked_feed_matches_one_shot_and_browser_model(
    events: list[ServerSentEvent], data: st.DataObject
) -> None:
    body = b"".join(event.encode() for event in events)
    cuts = data.draw(st.lists(st.integers(min_value=0, max_value=len(body)), max_size=12))
    parser, dispatched = feed_all(split(body, cuts))
    expected = browser_dispatch(events)
    assert dispatched == parse_event_stream(body) == expected
    assert parse_events(body) == [normalised(event) for event in events]
    ids = [event.id for event in events if event.id is not None]
    assert parser.last_event_id == (ids[-1] if ids else "")
    retries = [event.retry for event in events if event.retry is not None]
    assert parser.retry == (retries[-1] if retries else None)


_noise = st.lists(
    st.sampled_from(
        [
            *(b"\r", b"\n", b"\r\n", b":", b" ", b"data", b"id", b"event", b"retry", b"1", b"x"),
            *(b"\0", b"\xef\xbb\xbf", b"\xe2\x82\xac", b"\xe2\x82", b"\xff", b"\xf0\x9f"),
        ]
    )
).map(b"".join)


@settings(deadline=None, max_examples=300)
@given(_noise, st.data())
def test_any_bytes_parse_the_same_however_they_are_chunked(
    body: bytes, data: st.DataObject
) -> None:
    cuts = data.draw(st.lists(st.integers(min_value=0, max_value=len(body)), max_size=12))
    parser, dispatched = feed_all(split(body, cuts))
    reference = EventStreamParser()
    assert dispatched == reference.feed(body)
    assert (parser.last_event_id, parser.retry) == (reference.last_event_id, reference.retry)
