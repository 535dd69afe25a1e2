"""Response types: ``Response``, ``StreamingResponse`` and ``EventStreamResponse``."""

from __future__ import annotations

import pytest

import trio_sse
from trio_sse import Headers


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
