"""Unit tests of the pure pieces: negotiation, headers, request, responses, router, config."""

from __future__ import annotations

import pytest

import trio_sse
from trio_sse import Headers, MediaRange, accepts_event_stream, parse_accept


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


def test_headers_case_insensitive_multi() -> None:
    h = Headers([("Content-Type", "a"), ("X-Dup", "1"), ("x-dup", "2")])
    assert h["content-type"] == "a"
    assert h["X-DUP"] == "1, 2"
    assert h.get_all("x-dup") == ["1", "2"]
    assert h.get_all("missing") == []
    assert "CONTENT-TYPE" in h
    assert object() not in h
    assert list(h) == ["content-type", "x-dup"]
    assert len(h) == 2
    assert h.items_raw()[0] == ("Content-Type", "a")
    assert Headers({"A": "1"}) == Headers([("a", "1")])
    assert Headers({"A": "1"}) == {"a": "1"}
    assert "Headers([" in repr(h)
    assert Headers() == Headers([])
    with pytest.raises(TypeError):
        hash(h)


def test_request_parsing() -> None:
    r = trio_sse.Request(
        method="GET",
        target="http://example.com/a%2Fb?x=1&y=&x=2",
        headers=Headers([("Last-Event-ID", "7")]),
    )
    assert r.path == "/a/b"
    assert r.query == {"x": ["1", "2"], "y": [""]}
    assert r.query_param("x") == "1"
    assert r.query_param("z", "d") == "d"
    assert r.last_event_id == "7"
    assert repr(r) == "<Request GET http://example.com/a%2Fb?x=1&y=&x=2 HTTP/1.1>"
    bare = trio_sse.Request(method="GET", target="https://h", headers=Headers())
    assert bare.path == "/"
    assert bare.last_event_id is None


def test_response_types_and_validation() -> None:
    r = trio_sse.Response("héllo")
    assert r.body == "héllo".encode()
    assert r.headers["content-type"] == "text/plain; charset=utf-8"
    assert repr(r) == "<Response 200 6 bytes>"
    b = trio_sse.Response(b"\x00", headers={"Content-Type": "image/png"})
    assert b.headers["content-type"] == "image/png"
    assert "content-type" not in trio_sse.Response(b"").headers
    assert trio_sse.Response(b"x").headers["content-type"] == "application/octet-stream"
    with pytest.raises(ValueError, match="^status: "):
        trio_sse.Response(status=100)
    with pytest.raises(ValueError, match="^status: "):
        trio_sse.Response(status=True)
    with pytest.raises(ValueError, match="^headers: 'Content-Length' is managed"):
        trio_sse.Response(headers={"Content-Length": "3"})
    with pytest.raises(ValueError, match="^headers: invalid field name"):
        trio_sse.Response(headers={"Bad Name": "x"})
    with pytest.raises(ValueError, match="must not contain CR"):
        trio_sse.Response(headers=[("X-A", "a\r\nSet-Cookie: x")])
    with pytest.raises(ValueError, match="not ISO-8859-1"):
        trio_sse.Response(headers={"X-A": "☃"})
    with pytest.raises(TypeError, match="^body: "):
        trio_sse.Response(1)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="^content: "):
        trio_sse.StreamingResponse("abc")
    s = trio_sse.StreamingResponse([b"a"], headers=Headers([("X-A", "1")]))
    assert repr(s) == "<StreamingResponse 200>"
    assert s.headers["x-a"] == "1"


def test_event_stream_response_headers_and_validation() -> None:
    async def producer(stream: trio_sse.EventStream) -> None:
        pass

    r = trio_sse.EventStreamResponse(producer, headers={"Cache-Control": "no-store"})
    assert r.status == 200
    assert r.headers["cache-control"] == "no-store"
    assert r.headers["x-accel-buffering"] == "no"
    assert r.headers["content-type"] == "text/event-stream; charset=utf-8"
    assert "EventStreamResponse" in repr(r)
    repeated = trio_sse.EventStreamResponse(
        producer, headers=trio_sse.Headers([("Link", "<a>"), ("Link", "<b>")])
    )
    assert repeated.headers.get_all("link") == ["<a>", "<b>"]  # duplicates kept
    with pytest.raises(TypeError, match="^producer: "):
        trio_sse.EventStreamResponse("nope")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="^retry: "):
        trio_sse.EventStreamResponse(producer, retry=-1)
    with pytest.raises(ValueError, match="^heartbeat: "):
        trio_sse.EventStreamResponse(producer, heartbeat=0)


def test_router_registration_rules() -> None:
    router = trio_sse.Router()

    async def h(request: trio_sse.Request) -> trio_sse.BaseResponse:
        return trio_sse.Response("x")

    router.add_route("/a", h, methods=["get", "POST"])
    with pytest.raises(ValueError, match="^methods: GET /a is already routed"):
        router.add_route("/a", h)
    with pytest.raises(ValueError, match="^path: "):
        router.add_route("a", h)
    with pytest.raises(ValueError, match="^methods: must name"):
        router.add_route("/b", h, methods=[])
    router.add_route("/any", h, methods=None)
    assert router.allowed_methods("/a") == ["GET", "HEAD", "OPTIONS", "POST"]
    assert router.allowed_methods("/any") == ["*"]
    assert router.allowed_methods("/none") == []


@pytest.mark.parametrize(
    ("field", "value", "error"),
    [
        ("max_header_bytes", 0, ValueError),
        ("max_body_bytes", -1, ValueError),
        ("keepalive_timeout", float("nan"), ValueError),
        ("send_timeout", "10", TypeError),
        ("max_connections", 1.5, TypeError),
        ("max_connections", True, TypeError),
        ("heartbeat_interval", 0, ValueError),
    ],
)
def test_config_validation(field: str, value: object, error: type[Exception]) -> None:
    with pytest.raises(error, match=f"^{field}: "):
        trio_sse.Config(**{field: value})  # type: ignore[arg-type]


def test_config_defaults() -> None:
    c = trio_sse.Config(heartbeat_interval=None)
    assert c.heartbeat_interval is None
    assert c.max_header_bytes == 16 * 1024
    assert c.max_body_bytes == 1024 * 1024
