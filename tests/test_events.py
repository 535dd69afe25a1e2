"""Tests for ServerSentEvent validation and the event-stream encoder."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from trio_sse._events import ServerSentEvent, encode_comment
from trio_sse._exceptions import InvalidEventError, TrioSSEError

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
    ({"retry": -1}, "retry", "non-negative"),
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
        {"retry": 10**30},
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
