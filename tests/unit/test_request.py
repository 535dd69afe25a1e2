"""``Request``: path, query and ``Last-Event-ID`` parsing."""

from __future__ import annotations

import trio_sse
from trio_sse import Headers


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
