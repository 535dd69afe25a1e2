"""WebSocket settings: ``Router.add_websocket_route``, ``WebSocketResponse`` and
``WebSocketOptions`` validate what they are given."""

from __future__ import annotations

import dataclasses

import pytest

import trio_sse

from ..helpers import echo


def test_router_and_response_validate_websocket_settings() -> None:
    router = trio_sse.Router()
    router.add_websocket_route("/ws", echo)
    with pytest.raises(ValueError, match="already has a WebSocket route"):
        router.add_websocket_route("/ws", echo)
    with pytest.raises(ValueError, match="must start with"):
        router.add_websocket_route("ws", echo)
    with pytest.raises(ValueError, match="HTTP token"):
        router.add_websocket_route("/a", echo, subprotocols=["bad name"])
    with pytest.raises(ValueError, match="max_message_size"):
        router.add_websocket_route("/b", echo, max_message_size=0)
    with pytest.raises(TypeError, match="max_message_size"):
        router.add_websocket_route("/b", echo, max_message_size=1.5)
    with pytest.raises(ValueError, match="heartbeat_interval"):
        router.add_websocket_route("/b", echo, heartbeat_interval=0)
    with pytest.raises(ValueError, match="connect_timeout"):
        router.add_websocket_route("/b", echo, connect_timeout=float("nan"))
    router.add_websocket_route("/c", echo, message_queue_size=0, subprotocols="one")
    with pytest.raises(TypeError, match="unexpected keyword"):
        router.add_websocket_route("/d", echo, max_mesage_size=10)
    options = trio_sse.WebSocketOptions(max_message_size=10)
    with pytest.raises(TypeError, match="not both"):
        router.add_websocket_route("/d", echo, options=options, connect_timeout=1)
    with pytest.raises(TypeError, match="WebSocketOptions"):
        router.add_websocket_route("/d", echo, options={"max_message_size": 10})  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="handler"):
        trio_sse.WebSocketResponse("nope")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="written by the WebSocket handshake"):
        trio_sse.WebSocketResponse(echo, headers={"Sec-WebSocket-Accept": "x"})
    with pytest.raises(ValueError, match="managed by the server"):
        trio_sse.WebSocketResponse(echo, headers={"Connection": "x"})
    response = trio_sse.WebSocketResponse(echo, subprotocols=["a", "b"])
    assert response.options == trio_sse.WebSocketOptions(subprotocols=("a", "b"))
    assert trio_sse.WebSocketOptions(subprotocols="one").subprotocols == ("one",)
    with pytest.raises(dataclasses.FrozenInstanceError):
        response.options.max_message_size = 1  # type: ignore[misc]
    assert response.status == 101
    assert response.select_subprotocol(["b", "a"]) == "a"
    assert response.select_subprotocol(["c"]) is None
    assert "echo" in repr(response)
