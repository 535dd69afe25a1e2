"""Content negotiation: ``accepts_event_stream`` and ``parse_accept``."""

from __future__ import annotations

import pytest

from trio_sse import MediaRange, accepts_event_stream, parse_accept


@pytest.mark.parametrize(
    ("accept", "expected"),
    [
        (None, False),
        ("", False),
        ("text/event-stream", True),
        ("TEXT/Event-Stream", True),
        ("text/event-stream; charset=utf-8", True),
        ("text/html, text/event-stream;q=0.5", True),
        ("text/event-stream;q=0", False),
        ("text/event-stream;q=0.000", False),
        ("text/event-stream;q=0.001", True),
        ("*/*", False),
        ("text/*", False),
        ("text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8", False),
        ("text/event-streams", False),
        ("application/event-stream", False),
        ("text/event-stream;q=2", False),  # invalid q: the range is ignored
        ("text/event-stream;q=abc", False),
        ('text/event-stream;foo="a,b";q=1', True),
        ("text/event-stream;q=0, text/event-stream;q=1", True),
        ("text/event-stream;q=1;ext=1", True),
    ],
)
def test_accepts_event_stream(accept: str | None, expected: bool) -> None:
    assert accepts_event_stream(accept) is expected


def test_parse_accept_details() -> None:
    ranges = parse_accept("text/html;level=1;q=0.5, */*;q=0.1, bad, /x, */html, a/b;q=1.0;x=y")
    assert ranges == [
        MediaRange("text", "html", 0.5, (("level", "1"),)),
        MediaRange("*", "*", 0.1),
        MediaRange("a", "b", 1.0),
    ]
    assert [r.specificity for r in ranges] == [2, 0, 2]
    assert MediaRange("text", "*").specificity == 1
    assert MediaRange("text", "*").matches("text/event-stream")
    assert not MediaRange("image", "*").matches("text/event-stream")
    quoted = parse_accept('a/b;p="x\\"y";;q=0.2')
    assert quoted == [MediaRange("a", "b", 0.2, (("p", 'x"y'),))]
