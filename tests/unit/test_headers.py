"""``Headers``: case-insensitive, multi-valued, raw items kept."""

from __future__ import annotations

import pytest

from trio_sse import Headers


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


@pytest.mark.parametrize(
    "raw",
    [
        [(b"Host", b"a"), (b"Accept", b"text/event-stream"), (b"X-Odd", b"1"), (b"x-odd", b"2")],
        [(b"host", b"a"), (b"accept", b"x"), (b"x-odd", b"1")],
        [],
    ],
)
def test_headers_from_wire_match_the_constructor(raw: list[tuple[bytes, bytes]]) -> None:
    """``from_wire`` (the server's path, with shared common names) builds what the
    constructor builds from the decoded fields."""
    wire = Headers.from_wire(raw)
    built = Headers([(n.decode("latin-1"), v.decode("latin-1")) for n, v in raw])
    assert wire == built
    assert wire.items_raw() == built.items_raw()
    assert list(wire) == list(built)
    assert len(wire) == len(built)
    assert repr(wire) == repr(built)
    for name in ("host", "HOST", "Accept", "x-odd", "missing"):
        assert wire.get(name) == built.get(name)
        assert wire.get_all(name) == built.get_all(name)
        assert (name in wire) == (name in built)


def test_headers_from_wire_share_common_names() -> None:
    """An open stream keeps its request's headers: common names are not copied per request."""
    first = Headers.from_wire([(b"Host", b"a"), (b"accept", b"b")])
    second = Headers.from_wire([(b"Host", b"c"), (b"accept", b"d")])
    assert all(a is b for a, b in zip(first, second, strict=True))
    assert all(a[0] is b[0] for a, b in zip(first.items_raw(), second.items_raw(), strict=True))


def test_headers_from_wire_share_common_values() -> None:
    first = Headers.from_wire([(b"Accept", b"text/event-stream"), (b"X-A", b"mine")])
    second = Headers.from_wire([(b"Accept", b"text/event-stream"), (b"X-A", b"mine")])
    assert first["accept"] is second["accept"] == "text/event-stream"
    assert first["x-a"] == second["x-a"] == "mine"
