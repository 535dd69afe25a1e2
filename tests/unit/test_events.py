"""Tests for ServerSentEvent validation and the event-stream encoder."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import trio_sse
from trio_sse._events import MAX_RETRY, ServerSentEvent, encode_comment
from trio_sse._exceptions import InvalidEventError, TrioSSEError
from trio_sse._parser import EventStreamParser, parse_events

FIELDS = ("data", "event", "id", "retry", "comment")
TEXT_FIELDS = ("data", "event", "id", "comment")


class LyingStr(str):
    """A str subclass whose overridden methods would hide CR, LF, NUL and surrogates."""

    __slots__ = ()

    def __contains__(self, item: object) -> bool:
        return False

    def isascii(self) -> bool:
        return True

    def replace(self, *args: Any) -> str:
        return "replaced"

    def encode(self, *args: Any) -> bytes:
        return b""

    def __radd__(self, other: object) -> str:
        return "radd"

    def __str__(self) -> str:
        return "str"


class LyingInt(int):
    """An int subclass whose overridden methods would hide a negative or huge value."""

    __slots__ = ()

    def __lt__(self, other: object) -> bool:
        return False

    def __gt__(self, other: object) -> bool:
        return False

    def __int__(self) -> int:
        return 1

    def __index__(self) -> int:
        return 1

    def __str__(self) -> str:
        return "1\n\ndata: injected"

    def __format__(self, spec: str) -> str:
        return "1\n\ndata: injected"


# -- Validation: every bad value raises InvalidEventError naming the field. -----------

INVALID: list[tuple[dict[str, Any], str, str]] = [
    # (constructor kwargs, field named, text in the message)
    ({"data": b"x"}, "data", "must be str, not bytes"),
    ({"data": 1}, "data", "must be str, not int"),
    ({"event": 1}, "event", "must be str, not int"),
    ({"id": 7}, "id", "must be str, not int"),
    ({"comment": ["a"]}, "comment", "must be str, not list"),
    ({"event": "a\rb"}, "event", "CR or LF"),
    ({"event": "a\nb"}, "event", "CR or LF"),
    ({"event": "a\r\nb"}, "event", "CR or LF"),
    ({"event": "a\n"}, "event", "CR or LF"),
    ({"id": "a\rb"}, "id", "CR or LF"),
    ({"id": "a\nb"}, "id", "CR or LF"),
    ({"id": "a\0b"}, "id", "NUL"),
    ({"id": "\0"}, "id", "NUL"),
    ({"retry": True}, "retry", "must be int, not bool"),
    ({"retry": False}, "retry", "must be int, not bool"),
    ({"retry": 1.5}, "retry", "must be int, not float"),
    ({"retry": 1000.0}, "retry", "must be int, not float"),
    ({"retry": "5"}, "retry", "must be int, not str"),
    ({"retry": -1}, "retry", "non-negative, not -1"),
    ({"retry": -(10**5000)}, "retry", "non-negative, not an int of 16610 bits"),
    ({"retry": MAX_RETRY + 1}, "retry", f"at most {MAX_RETRY} (MAX_RETRY), not {MAX_RETRY + 1}"),
    ({"retry": 2**64}, "retry", "at most 2147483647 (MAX_RETRY), not an int of 65 bits"),
    ({"retry": 10**5000}, "retry", "at most 2147483647 (MAX_RETRY), not an int of 16610 bits"),
    ({"retry": LyingInt(-5)}, "retry", "non-negative, not -5"),
    ({"retry": LyingInt(MAX_RETRY + 1)}, "retry", "at most"),
    ({"event": LyingStr("a\nb")}, "event", "CR or LF"),
    ({"id": LyingStr("a\rb")}, "id", "CR or LF"),
    ({"id": LyingStr("a\0b")}, "id", "NUL"),
    ({"data": LyingStr("\ud800")}, "data", "surrogate"),
    ({"data": "\ud800"}, "data", "surrogate"),
    ({"data": "ok \udfff"}, "data", "surrogate"),
    ({"event": "\udc80"}, "event", "surrogate"),
    ({"id": "\ud83d"}, "id", "surrogate"),
    ({"comment": "\ud800"}, "comment", "surrogate"),
    ({}, "data", "at least one field"),
    ({"data": None}, "data", "at least one field"),
]


@pytest.mark.parametrize(("kwargs", "field", "text"), INVALID)
def test_invalid_values_are_rejected(kwargs: dict[str, Any], field: str, text: str) -> None:
    with pytest.raises(InvalidEventError) as info:
        ServerSentEvent(**kwargs)
    exc = info.value
    assert isinstance(exc, ValueError)
    assert isinstance(exc, TrioSSEError)
    assert exc.field == field
    assert str(exc).startswith(f"{field}: ")
    assert text in str(exc)


def test_data_is_positional_and_the_rest_keyword_only() -> None:
    assert ServerSentEvent("x") == ServerSentEvent(data="x")
    with pytest.raises(TypeError):
        ServerSentEvent("x", "name")  # type: ignore[call-arg]


def test_events_are_frozen_slotted_and_hashable() -> None:
    event = ServerSentEvent("x", id="1")
    with pytest.raises(dataclasses.FrozenInstanceError):
        event.data = "y"  # type: ignore[misc]
    assert not hasattr(event, "__dict__")
    assert hash(event) == hash(ServerSentEvent("x", id="1"))
    assert event != ServerSentEvent("x", id="2")


@pytest.mark.parametrize(
    "kwargs",
    [
        {"data": ""},
        {"event": ""},
        {"id": ""},
        {"retry": 0},
        {"retry": MAX_RETRY},
        {"comment": ""},
        {"event": "a\0b"},
        {"data": "\0"},
        {"comment": "a\0"},
    ],
)
def test_edge_values_are_accepted(kwargs: dict[str, Any]) -> None:
    ServerSentEvent(**kwargs)


def test_str_subclasses_are_accepted() -> None:
    class Name(str):
        pass

    assert ServerSentEvent(Name("x"), event=Name("e")).encode() == b"event: e\ndata: x\n\n"


def test_subclass_values_are_stored_as_plain_str_and_int() -> None:
    # Overridden methods can neither hide a bad character nor change the bytes written.
    event = ServerSentEvent(
        LyingStr("a\rb"), event=LyingStr("e"), id=LyingStr("7"), retry=LyingInt(5),
        comment=LyingStr("c"),
    )  # fmt: skip
    assert [type(getattr(event, name)) for name in FIELDS] == [str, str, str, int, str]
    assert event == ServerSentEvent("a\rb", event="e", id="7", retry=5, comment="c")
    assert event.encode() == b": c\nevent: e\nid: 7\nretry: 5\ndata: a\ndata: b\n\n"
    assert encode_comment(LyingStr("a\nb")) == b": a\n: b\n\n"
    assert dataclasses.replace(event, retry=LyingInt(9)).retry.__class__ is int


def test_int_enum_retry_is_its_value() -> None:
    import enum

    class Delay(enum.IntEnum):
        LONG = 60_000

    event = ServerSentEvent(retry=Delay.LONG)
    assert type(event.retry) is int
    assert event.encode() == b"retry: 60000\n\n"


# -- Range of retry, surrogates in every text field. ---------------------------------


def test_max_retry_is_the_largest_settimeout_delay() -> None:
    assert MAX_RETRY == trio_sse.MAX_RETRY == 2**31 - 1
    assert ServerSentEvent(retry=MAX_RETRY).encode() == b"retry: 2147483647\n\n"


@pytest.mark.parametrize(
    "retry", [MAX_RETRY + 1, 2**53, 10**30, 10**5000], ids=["max+1", "2**53", "10**30", "10**5000"]
)
def test_retry_above_max_is_rejected(retry: int) -> None:
    with pytest.raises(
        InvalidEventError, match=r"^retry: field must be at most 2147483647 "
    ) as info:
        ServerSentEvent(retry=retry)
    assert info.value.field == "retry"


def test_retry_with_more_digits_than_str_converts_is_rejected_cleanly() -> None:
    # 10**5000 has more digits than Python's int-to-str limit (4300 by default): the
    # event used to be built, then encode() raised a bare ValueError.
    for retry in (10**5000, -(10**5000)):
        with pytest.raises(InvalidEventError, match="^retry: .*an int of 16610 bits$"):
            ServerSentEvent(retry=retry)


@pytest.mark.parametrize("field", TEXT_FIELDS)
# chr(), not "\ud800" literals: ruff reads every lone surrogate literal as U+FFFD (PT014).
@pytest.mark.parametrize(
    "text",
    [
        chr(0xD800),
        chr(0xDFFF),
        f"a{chr(0xDC80)}b",
        chr(0xD83D),
        f"{chr(0xDE00)}x",
        f"é{chr(0xD800)}",
    ],
)
def test_lone_surrogate_is_rejected_in_every_text_field(field: str, text: str) -> None:
    with pytest.raises(InvalidEventError, match=f"^{field}: .*lone surrogates") as info:
        ServerSentEvent(**{field: text})  # type: ignore[arg-type]
    assert info.value.field == field
    with pytest.raises(InvalidEventError, match=f"^{field}: .*lone surrogates"):
        ServerSentEvent(**{field: LyingStr(text)})  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "retry",
    [-1, MAX_RETRY + 1, 10**5000, True, 1.5],
    ids=["-1", "max+1", "10**5000", "True", "1.5"],
)
def test_event_stream_response_checks_retry_as_an_event_does(retry: Any) -> None:
    async def producer(stream: trio_sse.EventStream) -> None:
        pass  # pragma: no cover

    with pytest.raises(InvalidEventError, match="^retry: ") as info:
        trio_sse.EventStreamResponse(producer, retry=retry)
    assert info.value.field == "retry"
    assert trio_sse.EventStreamResponse(producer, retry=MAX_RETRY).retry == MAX_RETRY


# -- Encoding: exact bytes. ----------------------------------------------------------


@pytest.mark.parametrize(
    ("event", "expected"),
    [
        (ServerSentEvent("hello"), b"data: hello\n\n"),
        (ServerSentEvent(""), b"data: \n\n"),
        (ServerSentEvent("a\nb"), b"data: a\ndata: b\n\n"),
        # A trailing line break keeps its empty last piece: the client rebuilds "a\n".
        (ServerSentEvent("a\n"), b"data: a\ndata: \n\n"),
        (ServerSentEvent("\n"), b"data: \ndata: \n\n"),
        (ServerSentEvent("a\n\nb"), b"data: a\ndata: \ndata: b\n\n"),
        # CRLF, lone CR and LF all split; CRLF is one break, not two.
        (ServerSentEvent("a\r\nb"), b"data: a\ndata: b\n\n"),
        (ServerSentEvent("a\rb"), b"data: a\ndata: b\n\n"),
        (ServerSentEvent("a\r\rb"), b"data: a\ndata: \ndata: b\n\n"),
        (ServerSentEvent("a\n\rb"), b"data: a\ndata: \ndata: b\n\n"),
        (ServerSentEvent("a\r"), b"data: a\ndata: \n\n"),
        # Leading spaces survive: exactly one space follows the colon.
        (ServerSentEvent("  x"), b"data:   x\n\n"),
        (ServerSentEvent("x", event=" e"), b"event:  e\ndata: x\n\n"),
        (ServerSentEvent("x", id=" 1"), b"id:  1\ndata: x\n\n"),
        (ServerSentEvent("a: b"), b"data: a: b\n\n"),
        (ServerSentEvent("x", event="update"), b"event: update\ndata: x\n\n"),
        (ServerSentEvent("x", event=""), b"event: \ndata: x\n\n"),
        (ServerSentEvent("x", id="42"), b"id: 42\ndata: x\n\n"),
        (ServerSentEvent(id=""), b"id: \n\n"),
        (ServerSentEvent(retry=3000), b"retry: 3000\n\n"),
        (ServerSentEvent(retry=0), b"retry: 0\n\n"),
        (ServerSentEvent(comment="hi"), b": hi\n\n"),
        (ServerSentEvent(comment=""), b":\n\n"),
        (ServerSentEvent(comment=" x"), b":  x\n\n"),
        (ServerSentEvent(comment="a\nb"), b": a\n: b\n\n"),
        (ServerSentEvent(comment="a\r\n\rb\n"), b": a\n:\n: b\n:\n\n"),
        (ServerSentEvent("é€😀"), "data: é€😀\n\n".encode()),
        (
            ServerSentEvent("x\ny", event="e", id="7", retry=10, comment="c"),
            b": c\nevent: e\nid: 7\nretry: 10\ndata: x\ndata: y\n\n",
        ),
    ],
)
def test_encode_exact_bytes(event: ServerSentEvent, expected: bytes) -> None:
    assert event.encode() == expected


@pytest.mark.parametrize("char", ["\v", "\f", "\x1c", "\x1d", "\x1e", "\x85", "\u2028", "\u2029"])
def test_data_is_not_split_on_other_line_boundaries(char: str) -> None:
    # str.splitlines() would split on these; the event-stream format does not.
    payload = f"a{char}b"
    assert ServerSentEvent(payload).encode() == f"data: {payload}\n\n".encode()
    assert ServerSentEvent(comment=payload).encode() == f": {payload}\n\n".encode()


def test_none_and_empty_data_differ() -> None:
    assert ServerSentEvent(None, id="1").encode() == b"id: 1\n\n"
    assert ServerSentEvent("", id="1").encode() == b"id: 1\ndata: \n\n"


def test_none_and_empty_id_differ() -> None:
    assert ServerSentEvent("x").encode() == b"data: x\n\n"
    assert ServerSentEvent("x", id="").encode() == b"id: \ndata: x\n\n"


def test_encoding_is_utf8_without_bom_and_lf_only() -> None:
    raw = ServerSentEvent("\ufeffé\r\n", event="é", id="ü", comment="ñ").encode()
    assert not raw.startswith(b"\xef\xbb\xbf")
    assert b"\r" not in raw
    assert raw.endswith(b"\n\n")
    assert not raw.endswith(b"\n\n\n")
    assert raw.decode("utf-8") == ": ñ\nevent: é\nid: ü\ndata: \ufeffé\ndata: \n\n"


def test_encode_returns_the_same_immutable_bytes_each_time() -> None:
    event = ServerSentEvent("x", id="1")
    first = event.encode()
    assert isinstance(first, bytes)
    assert event.encode() == first


# -- encode_comment ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", b":\n\n"),
        ("ping", b": ping\n\n"),
        (" padded", b":  padded\n\n"),
        ("a\nb", b": a\n: b\n\n"),
        ("a\r\nb\rc", b": a\n: b\n: c\n\n"),
        ("a\n", b": a\n:\n\n"),
        ("a\u2028b", ": a\u2028b\n\n".encode()),
    ],
)
def test_encode_comment(text: str, expected: bytes) -> None:
    assert encode_comment(text) == expected
    assert ServerSentEvent(comment=text).encode() == expected


def test_encode_comment_default_is_a_bare_colon() -> None:
    assert encode_comment() == b":\n\n"


@pytest.mark.parametrize(("text", "message"), [(b"x", "must be str"), ("\ud800", "surrogate")])
def test_encode_comment_validates(text: Any, message: str) -> None:
    with pytest.raises(InvalidEventError, match=f"^comment: .*{message}"):
        encode_comment(text)


# -- Property: an event that exists always encodes. -----------------------------------

# Every character, surrogates included, and the ones the format cares about.
_specials = st.sampled_from(["\r", "\n", "\r\n", "\0", " ", ":", "\ufeff", "\x85", "\u2028"])
_any_text = st.lists(
    st.one_of(st.characters(), st.characters(categories=["Cs"]), _specials), max_size=20
).map("".join)
_any_value = st.one_of(
    st.none(),
    st.just(""),
    _any_text,
    _any_text.map(LyingStr),
    st.binary(max_size=4),
    st.integers(),
    st.sampled_from([10**5000, -(10**5000), 2**53, 2**64, MAX_RETRY, MAX_RETRY + 1]),
    st.integers(min_value=-1, max_value=MAX_RETRY + 1).map(LyingInt),
    st.floats(),
    st.booleans(),
    st.just(["a"]),
)

# Values each field can carry, extreme ones included, so that most examples construct.
_text = st.lists(st.one_of(st.characters(exclude_categories=["Cs"]), _specials), max_size=20).map(
    "".join
)
_line = _text.map(lambda s: s.replace("\r", "").replace("\n", ""))
_VALID: dict[str, st.SearchStrategy[object]] = {
    "data": st.none() | _text | _text.map(LyingStr),
    "event": st.none() | _line | _line.map(LyingStr),
    "id": st.none() | _line.map(lambda s: s.replace("\0", "")),
    "retry": st.none()
    | st.integers(min_value=0, max_value=MAX_RETRY)
    | st.sampled_from([0, MAX_RETRY])
    | st.integers(min_value=0, max_value=MAX_RETRY).map(LyingInt),
    "comment": st.none() | _text,
}


@st.composite
def constructor_arguments(draw: st.DrawFn) -> dict[str, object]:
    """Keyword arguments for ServerSentEvent: mostly valid, with 0-2 fields anything."""
    fields = {name: draw(_VALID[name]) for name in FIELDS}
    for name in draw(st.sets(st.sampled_from(FIELDS), max_size=2)):
        fields[name] = draw(_any_value)
    return fields


def _problem(field: str, value: object) -> bool:
    """True if ``value`` cannot be carried by ``field`` (a reference model of the rules)."""
    if value is None:
        return False
    if field == "retry":
        if not isinstance(value, int) or isinstance(value, bool):
            return True
        return not 0 <= int.__int__(value) <= MAX_RETRY
    if not isinstance(value, str):
        return True
    text = str.__str__(value)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    if field in ("event", "id") and ("\r" in text or "\n" in text):
        return True
    return field == "id" and "\0" in text


def _lf(text: str | None) -> str | None:
    return None if text is None else text.replace("\r\n", "\n").replace("\r", "\n")


@settings(deadline=None, max_examples=500, derandomize=True)
@given(constructor_arguments())
def test_an_event_that_is_constructed_always_encodes(fields: dict[str, Any]) -> None:
    bad = {name for name, value in fields.items() if _problem(name, value)}
    if all(value is None for value in fields.values()):
        bad.add("data")
    if bad:
        with pytest.raises(InvalidEventError) as info:
            ServerSentEvent(**fields)
        assert isinstance(info.value, ValueError)
        assert info.value.field in bad, (info.value, bad)
        assert str(info.value).startswith(f"{info.value.field}: ")
        return
    event = ServerSentEvent(**fields)
    raw = event.encode()
    assert isinstance(raw, bytes)
    raw.decode("utf-8")  # strict: valid UTF-8
    assert raw.endswith(b"\n\n")
    assert b"\r" not in raw
    # The field-level parser gives the event back (CR and CRLF come back as LF) ...
    expected = dataclasses.replace(event, data=_lf(event.data), comment=_lf(event.comment))
    assert parse_events(raw) == [expected]
    # ... and a browser-like parser applies its retry and id.
    parser = EventStreamParser()
    dispatched = parser.feed(raw)
    assert parser.retry == event.retry
    assert parser.last_event_id == (event.id or "")
    assert len(dispatched) == (event.data is not None)
