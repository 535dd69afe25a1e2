"""``Router`` registration rules."""

from __future__ import annotations

import pytest

import trio_sse


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
