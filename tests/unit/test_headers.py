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
