"""WebSocket beside HTTP on one server: hand-off, routing, limits, heartbeat, shutdown.

Three kinds of peers drive the server:

* trio-websocket's own client, over memory streams (with ``autojump_clock`` wherever
  time matters, so schedules are checked exactly) and over loopback sockets;
* wsproto's client state machine on a raw memory stream, for what a well-behaved client
  never does (send frames glued to the handshake, ignore pings);
* the ``websockets`` library's synchronous client, a peer we did not write, over
  loopback in a worker thread (threads only in tests; every wait has a timeout).
"""

from __future__ import annotations

import dataclasses
import functools
import json
import logging
import time
from typing import TYPE_CHECKING, TypeVar, cast

import pytest
import trio
import trio.testing
import trio_websocket
import wsproto
import wsproto.events
from websockets.exceptions import ConnectionClosed as WSLibClosed
from websockets.exceptions import InvalidStatus
from websockets.sync.client import ClientConnection
from websockets.sync.client import connect as ws_connect

import trio_sse
from trio_sse._demo import build_demo_app, ws_control_message
from trio_sse._prefixed_stream import PrefixedStream
from trio_sse.testing import MemoryListener, TestClient

from .conftest import raw_pair, read_until_eof, start_client

if TYPE_CHECKING:
    from collections.abc import Callable

    from trio_websocket import WebSocketConnection

T = TypeVar("T")

KEY = "dGhlIHNhbXBsZSBub25jZQ=="
UPGRADE = [
    ("Upgrade", "websocket"),
    ("Connection", "Upgrade"),
    ("Sec-WebSocket-Key", KEY),
    ("Sec-WebSocket-Version", "13"),
]


# -- helpers ------------------------------------------------------------------------------


async def open_ws(
    nursery: trio.Nursery,
    server: trio_sse.Server,
    path: str = "/ws",
    *,
    subprotocols: list[str] | None = None,
) -> tuple[WebSocketConnection, trio.abc.Stream]:
    """A trio-websocket client over a memory stream; also returns the raw client stream."""
    client, server_end = trio.testing.memory_stream_pair()
    nursery.start_soon(server.serve_stream, server_end)
    # wrap_client_stream is annotated for sockets but only needs a trio.abc.Stream.
    ws = await trio_websocket.wrap_client_stream(
        nursery, cast("trio.SocketStream", client), "test", path, subprotocols=subprotocols
    )
    return ws, client


def masked_frame(opcode: int, payload: bytes) -> bytes:
    """One final, masked client frame (short payloads only)."""
    assert len(payload) < 126
    mask = b"\x37\xfa\x21\x3d"
    body = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    return bytes([0x80 | opcode, 0x80 | len(payload)]) + mask + body


async def raw_handshake(
    stream: trio.abc.Stream, path: str = "/ws", *, then: bytes = b""
) -> tuple[wsproto.WSConnection, list[wsproto.events.Event]]:
    """Send a wsproto-built handshake (plus *then* in the same write); read the 101."""
    client = wsproto.WSConnection(wsproto.ConnectionType.CLIENT)
    await stream.send_all(client.send(wsproto.events.Request(host="test", target=path)) + then)
    events: list[wsproto.events.Event] = []
    while not any(isinstance(e, wsproto.events.AcceptConnection) for e in events):
        data = await stream.receive_some(65536)
        assert data, "EOF before the handshake answer"
        client.receive_data(bytes(data))
        events.extend(client.events())
    return client, events


async def ws_events_until_eof(
    client: wsproto.WSConnection, stream: trio.abc.Stream
) -> list[tuple[float, wsproto.events.Event]]:
    """Read without ever answering (no pongs, no close reply) until the server hangs up."""
    seen: list[tuple[float, wsproto.events.Event]] = []
    while True:
        data = await stream.receive_some(65536)
        if not data:
            return seen
        client.receive_data(bytes(data))
        seen.extend((trio.current_time(), e) for e in client.events())


async def echo(request: trio_sse.Request, ws: WebSocketConnection) -> None:
    while True:
        await ws.send_message(await ws.get_message())


def echo_router(**settings: float | int | None) -> trio_sse.Router:
    router = trio_sse.Router()
    router.add_websocket_route("/ws", echo, **settings)  # type: ignore[arg-type]
    return router


async def close_code(ws: WebSocketConnection) -> int:
    """Read until the connection closes; return the close code."""
    while True:
        try:
            await ws.get_message()
        except trio_websocket.ConnectionClosed as exc:
            reason = exc.reason
            break
    assert reason is not None
    return reason.code


# -- PrefixedStream -----------------------------------------------------------------------


async def test_prefixed_stream_keeps_the_stream_contract() -> None:
    async def pair() -> tuple[PrefixedStream, PrefixedStream]:
        a, b = trio.testing.memory_stream_pair()
        return PrefixedStream(a), PrefixedStream(b)

    async def clogged() -> tuple[PrefixedStream, PrefixedStream]:
        a, b = trio.testing.lockstep_stream_pair()
        return PrefixedStream(a), PrefixedStream(b)

    await trio.testing.check_two_way_stream(pair, clogged)


async def test_prefixed_stream_replays_prefix_then_delegates() -> None:
    a, b = trio.testing.memory_stream_pair()
    stream = PrefixedStream(b, b"hello world")
    await a.send_all(b"!")
    assert stream.pending == 11
    assert await stream.receive_some(5) == b"hello"
    assert await stream.receive_some() == b" world"  # the rest of the prefix, not more
    assert stream.pending == 0
    assert await stream.receive_some() == b"!"
    await stream.send_all(b"back")
    assert await a.receive_some() == b"back"
    await stream.wait_send_all_might_not_block()
    with pytest.raises(TypeError):
        await stream.receive_some(1.5)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=">= 1"):
        await stream.receive_some(0)
    assert "PrefixedStream" in repr(stream)


async def test_prefixed_stream_receive_is_a_checkpoint_and_exclusive() -> None:
    _, b = trio.testing.memory_stream_pair()
    stream = PrefixedStream(b, b"abc")
    with trio.CancelScope() as scope:
        scope.cancel()
        await stream.receive_some()
    assert scope.cancelled_caught
    assert stream.pending == 3  # a cancelled receive consumed nothing
    results: list[object] = []

    async def receive() -> None:
        try:
            results.append(bytes(await stream.receive_some(1)))
        except trio.BusyResourceError:
            results.append("busy")

    async with trio.open_nursery() as nursery:
        nursery.start_soon(receive)
        nursery.start_soon(receive)
    assert sorted(map(str, results)) == ["b'a'", "busy"]
    await stream.aclose()
    assert stream.pending == 0
    with pytest.raises(trio.ClosedResourceError):
        await stream.receive_some()


# -- handshake, echo, subprotocols, close codes (memory streams) ---------------------------


async def test_handshake_and_echo_text_and_binary(nursery: trio.Nursery) -> None:
    server = trio_sse.Server(build_demo_app())
    ws, _ = await open_ws(nursery, server)
    for message in ["hello", "", "ünïcødé ✓", '{"type": "other"}', "[1, 2]", "{not json"]:
        await ws.send_message(message)
        assert await ws.get_message() == message
    for data in [b"\x00\x01\xff", b"", bytes(range(256)) * 40]:
        await ws.send_message(data)
        assert await ws.get_message() == data
    stats = server.statistics()
    assert stats.websockets_open == 1
    assert stats.websockets_total == 1
    assert stats.responses_by_status == {101: 1}
    assert stats.websocket_bytes_received > 10_000
    await ws.aclose()


async def test_subprotocol_selection_follows_server_preference(nursery: trio.Nursery) -> None:
    router = trio_sse.Router()
    router.add_websocket_route("/ws", echo, subprotocols=["v2.chat", "v1.chat"])
    server = trio_sse.Server(router)
    ws, _ = await open_ws(nursery, server, subprotocols=["v1.chat", "v2.chat"])
    assert ws.subprotocol == "v2.chat"
    await ws.aclose()
    ws, _ = await open_ws(nursery, server, subprotocols=["v1.chat", "other"])
    assert ws.subprotocol == "v1.chat"
    await ws.aclose()
    ws, _ = await open_ws(nursery, server, subprotocols=["other"])
    assert ws.subprotocol is None
    await ws.aclose()


async def test_handler_receives_request_and_extra_headers(nursery: trio.Nursery) -> None:
    seen: list[trio_sse.Request] = []

    async def handler(request: trio_sse.Request, ws: WebSocketConnection) -> None:
        seen.append(request)
        await ws.send_message(request.query_param("room") or "?")

    async def app(request: trio_sse.Request) -> trio_sse.BaseResponse:
        if trio_sse.is_websocket_upgrade(request):
            return trio_sse.WebSocketResponse(handler, headers={"X-Room": "ok"})
        return trio_sse.Response("page")

    server = trio_sse.Server(app)
    ws, _ = await open_ws(nursery, server, "/chat?room=42")
    assert await ws.get_message() == "42"
    assert await close_code(ws) == 1000  # the handler returned
    (request,) = seen
    assert request.path == "/chat"
    assert request.headers["sec-websocket-version"] == "13"


async def test_frames_sent_with_the_handshake_are_replayed(nursery: trio.Nursery) -> None:
    server = trio_sse.Server(echo_router())
    stream = raw_pair(nursery, server)
    then = masked_frame(0x1, b"glued") + masked_frame(0x2, b"\x00bin")
    client, events = await raw_handshake(stream, then=then)
    while len(events) < 3:
        client.receive_data(bytes(await stream.receive_some(65536)))
        events.extend(client.events())
    accept, text, binary = events
    assert isinstance(accept, wsproto.events.AcceptConnection)
    assert isinstance(text, wsproto.events.TextMessage)
    assert text.data == "glued"
    assert isinstance(binary, wsproto.events.BytesMessage)
    assert binary.data == b"\x00bin"


async def test_client_close_1000_ends_the_session(nursery: trio.Nursery) -> None:
    server = trio_sse.Server(echo_router())
    ws, _ = await open_ws(nursery, server)
    await ws.send_message("x")
    assert await ws.get_message() == "x"
    await ws.aclose(1000)
    assert ws.closed is not None
    assert ws.closed.code == 1000
    await trio.testing.wait_all_tasks_blocked()
    stats = server.statistics()
    assert stats.websockets_open == 0
    assert stats.connections_open == 0
    assert stats.handler_errors == 0


async def test_oversized_message_closes_with_1009(nursery: trio.Nursery) -> None:
    server = trio_sse.Server(echo_router(max_message_size=16))
    ws, _ = await open_ws(nursery, server)
    await ws.send_message("x" * 16)
    assert await ws.get_message() == "x" * 16
    await ws.send_message(b"y" * 17)
    assert await close_code(ws) == 1009
    await trio.testing.wait_all_tasks_blocked()
    assert server.statistics().websockets_open == 0


async def test_handler_error_closes_with_1011_and_is_logged_once(
    nursery: trio.Nursery, caplog: pytest.LogCaptureFixture
) -> None:
    router = trio_sse.Router()

    @router.websocket("/ws")
    async def broken(request: trio_sse.Request, ws: WebSocketConnection) -> None:
        await ws.get_message()
        raise ValueError("handler bug")

    server = trio_sse.Server(router)
    ws, _ = await open_ws(nursery, server)
    with caplog.at_level(logging.ERROR, logger="trio_sse"):
        await ws.send_message("boom")
        assert await close_code(ws) == 1011
        await trio.testing.wait_all_tasks_blocked()
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1
    assert "handler bug" in str(errors[0].exc_info[1])  # type: ignore[index]
    assert server.statistics().handler_errors == 1


async def test_disconnect_cancels_the_handler_and_its_tasks_at_once(
    nursery: trio.Nursery, autojump_clock: trio.testing.MockClock
) -> None:
    ended: list[tuple[str, float]] = []

    async def side_task() -> None:
        try:
            await trio.sleep_forever()
        finally:
            ended.append(("side", trio.current_time()))

    async def handler(request: trio_sse.Request, ws: WebSocketConnection) -> None:
        # Never reads: the cancellation comes from the structure, not from the handler.
        async with trio.open_nursery() as inner:
            inner.start_soon(side_task)
            try:
                while True:
                    await trio.sleep(2)
            finally:
                ended.append(("handler", trio.current_time()))

    router = trio_sse.Router()
    router.add_websocket_route("/ws", handler)
    server = trio_sse.Server(router)
    _, stream = await open_ws(nursery, server)
    await trio.sleep(3.5)
    assert server.statistics().websockets_open == 1
    gone = trio.current_time()
    await stream.aclose()  # vanish without a close frame
    await trio.testing.wait_all_tasks_blocked()
    assert sorted(ended) == [("handler", gone), ("side", gone)]
    stats = server.statistics()
    assert stats.websockets_open == 0
    assert stats.connections_open == 0


# -- the demo's /ws -------------------------------------------------------------------------


async def test_demo_ticks_as_json_first_one_interval_after_the_handshake(
    nursery: trio.Nursery, autojump_clock: trio.testing.MockClock
) -> None:
    server = trio_sse.Server(build_demo_app(interval=2.0))
    ws, _ = await open_ws(nursery, server)
    start = trio.current_time()
    for n in range(1, 4):
        message = await ws.get_message()
        assert trio.current_time() - start == 2.0 * n
        assert isinstance(message, str)
        assert json.loads(message) == {"event": "message", "data": "hello", "id": n}
    await ws.aclose()


async def test_demo_ids_continue_after_last_event_id(
    nursery: trio.Nursery, autojump_clock: trio.testing.MockClock
) -> None:
    server = trio_sse.Server(build_demo_app(interval=1.0))
    ws, _ = await open_ws(nursery, server, "/ws?last_event_id=41")
    ids = [json.loads(await ws.get_message())["id"] for _ in range(2)]
    assert ids == [42, 43]
    await ws.aclose()


async def test_demo_interval_control_message_reschedules_the_ticker(
    nursery: trio.Nursery, autojump_clock: trio.testing.MockClock
) -> None:
    server = trio_sse.Server(build_demo_app(interval=2.0))
    ws, _ = await open_ws(nursery, server)
    start = trio.current_time()
    assert json.loads(await ws.get_message())["id"] == 1
    await trio.sleep(0.5)  # t = 2.5: the next tick would be at 4.0
    await ws.send_message(json.dumps({"type": "interval", "seconds": 0.25}))
    assert json.loads(await ws.get_message()) == {"type": "ack", "of": "interval", "seconds": 0.25}
    times = []
    for n in (2, 3, 4):
        assert json.loads(await ws.get_message())["id"] == n
        times.append(trio.current_time() - start)
    assert times == [2.75, 3.0, 3.25]
    for bad in [0, -1, 0.001, 1e9, "1", True, None]:
        await ws.send_message(json.dumps({"type": "interval", "seconds": bad}))
        reply = json.loads(await ws.get_message())
        assert (reply["type"], reply["of"]) == ("error", "interval"), bad
    await ws.aclose()


def test_demo_control_messages_are_exactly_json_objects_with_a_known_type() -> None:
    assert ws_control_message('{"type": "interval", "seconds": 1}') is not None
    assert ws_control_message(' {"type": "publish", "data": "x"}') is not None
    echoed_messages: list[str | bytes] = [
        b'{"type": "interval", "seconds": 1}',  # binary: always echoed
        '{"type": "Interval"}',
        '{"type": ["interval"]}',
        '{"kind": "interval"}',
        '[{"type": "interval"}]',
        '"interval"',
        "{broken",
        "{" * 100_000,  # deeper than the JSON parser's recursion limit
    ]
    for echoed in echoed_messages:
        assert ws_control_message(echoed) is None, echoed[:30]


async def test_demo_relays_broadcasts_and_publishes_over_the_socket(
    nursery: trio.Nursery, autojump_clock: trio.testing.MockClock
) -> None:
    server, sse = await start_client(nursery, build_demo_app(interval=1000.0))
    await sse.send_request("GET", "/events", headers=[("Accept", "text/event-stream")])
    assert (await sse.receive_head()).status == 200
    ws, _ = await open_ws(nursery, server)
    other, _ = await open_ws(nursery, server)
    await ws.send_message(json.dumps({"type": "publish", "data": "hi all", "event": "chat"}))
    # the ack and the relayed event (the publisher is a subscriber too), in either order
    replies = [json.loads(await ws.get_message()) for _ in range(2)]
    (ack,) = [r for r in replies if "type" in r]
    assert ack["of"] == "publish"
    relayed = {"event": "chat", "data": "hi all", "id": ack["id"], "source": "/events"}
    assert [r for r in replies if "type" not in r] == [relayed]
    assert json.loads(await other.get_message()) == relayed
    (event,) = await sse.receive_events(1)
    assert (event.type, event.data, event.last_event_id) == ("chat", "hi all", ack["id"])
    # POST /publish reaches WebSocket clients as well
    http = TestClient(raw_pair(nursery, server))
    response = await http.request("POST", "/publish", body=b"from http")
    assert response.status == 202
    for client in (ws, other):
        message = json.loads(await client.get_message())
        assert (message["event"], message["data"]) == ("publish", "from http")
    for bad in [
        {"type": "publish"},
        {"type": "publish", "data": ""},
        {"type": "publish", "data": "x", "event": "reset"},
        {"type": "publish", "data": "x", "event": 5},
        {"type": "publish", "data": "x" * 70_000},
    ]:
        await ws.send_message(json.dumps(bad))
        reply = json.loads(await ws.get_message())
        assert (reply["type"], reply["of"]) == ("error", "publish"), bad
    await ws.aclose()
    await other.aclose()


# -- heartbeat ---------------------------------------------------------------------------


async def test_heartbeat_keeps_a_responsive_client(
    nursery: trio.Nursery, autojump_clock: trio.testing.MockClock
) -> None:
    server = trio_sse.Server(echo_router(heartbeat_interval=5, heartbeat_timeout=2))
    ws, _ = await open_ws(nursery, server)  # trio-websocket answers pings by itself
    await trio.sleep(60)
    await ws.send_message("still here")
    assert await ws.get_message() == "still here"
    assert server.statistics().websocket_heartbeat_timeouts == 0
    await ws.aclose()


async def test_heartbeat_closes_1011_when_no_pong_comes(
    nursery: trio.Nursery, autojump_clock: trio.testing.MockClock
) -> None:
    router = echo_router(heartbeat_interval=5, heartbeat_timeout=2, disconnect_timeout=3)
    server = trio_sse.Server(router)
    stream = raw_pair(nursery, server)
    start = trio.current_time()
    client, _ = await raw_handshake(stream)
    seen = await ws_events_until_eof(client, stream)
    assert [(t - start, type(e).__name__) for t, e in seen] == [
        (5.0, "Ping"),
        (7.0, "CloseConnection"),
    ]
    close = seen[1][1]
    assert isinstance(close, wsproto.events.CloseConnection)
    assert (close.code, close.reason) == (1011, "heartbeat timeout")
    assert trio.current_time() - start == 10.0  # + disconnect_timeout without a reply
    await trio.testing.wait_all_tasks_blocked()
    stats = server.statistics()
    assert stats.websocket_heartbeat_timeouts == 1
    assert stats.websockets_open == 0


async def test_handshake_gives_up_when_the_101_cannot_be_written(
    nursery: trio.Nursery, autojump_clock: trio.testing.MockClock
) -> None:
    server = trio_sse.Server(echo_router(connect_timeout=3))
    client_end, server_end = trio.testing.lockstep_stream_pair()
    done = trio.Event()

    async def serve() -> None:
        await server.serve_stream(server_end)
        done.set()

    nursery.start_soon(serve)
    client = wsproto.WSConnection(wsproto.ConnectionType.CLIENT)
    await client_end.send_all(client.send(wsproto.events.Request(host="test", target="/ws")))
    start = trio.current_time()
    await done.wait()  # the client never reads: writing the 101 cannot finish
    assert trio.current_time() - start == 3.0
    stats = server.statistics()
    assert stats.websockets_total == 0
    assert stats.connections_open == 0


# -- routing and bad upgrade requests ------------------------------------------------------


async def test_plain_request_to_websocket_route_gets_426(nursery: trio.Nursery) -> None:
    _, client = await start_client(nursery, build_demo_app())
    response = await client.request("GET", "/ws")
    assert response.status == 426
    assert response.headers["upgrade"] == "websocket"
    assert response.headers["connection"] == "upgrade"
    assert response.headers["sec-websocket-version"] == "13"
    head = await client.request("HEAD", "/ws")
    assert head.status == 426
    post = await client.request("POST", "/ws", body=b"x")
    assert post.status == 405
    assert post.headers["allow"] == "GET, OPTIONS"
    options = await client.request("OPTIONS", "/ws")
    assert options.status == 204
    assert (await client.request("GET", "/")).body == b"ok"  # still keep-alive


async def test_websocket_upgrade_to_http_route_is_served_as_plain_http(
    nursery: trio.Nursery,
) -> None:
    _, client = await start_client(nursery, build_demo_app())
    response = await client.request("GET", "/", headers=UPGRADE)
    assert (response.status, response.body) == (200, b"ok")
    assert (await client.request("GET", "/nope", headers=UPGRADE)).status == 404
    assert (await client.request("GET", "/metrics")).status == 200  # connection reused


async def test_page_and_socket_can_share_a_path(nursery: trio.Nursery) -> None:
    router = echo_router()

    @router.route("/ws")
    async def page(request: trio_sse.Request) -> trio_sse.BaseResponse:
        return trio_sse.Response("<html>")

    server = trio_sse.Server(router)
    _, client = await start_client(nursery, router)
    assert (await client.request("GET", "/ws")).body == b"<html>"
    ws, _ = await open_ws(nursery, server)
    await ws.send_message("x")
    assert await ws.get_message() == "x"
    await ws.aclose()
    assert router.allowed_methods("/ws") == ["GET", "HEAD", "OPTIONS"]


@pytest.mark.parametrize(
    ("headers", "status", "detail"),
    [
        ([("Upgrade", "websocket"), ("Connection", "Upgrade")], 400, b"Sec-WebSocket-Version"),
        ([h for h in UPGRADE if h[0] != "Sec-WebSocket-Key"], 400, b"Sec-WebSocket-Key"),
        ([*UPGRADE[:2], ("Sec-WebSocket-Key", "short"), UPGRADE[3]], 400, b"nonce"),
        ([*UPGRADE[:3], ("Sec-WebSocket-Version", "8")], 426, b"version 13"),
        ([UPGRADE[0], ("Connection", "keep-alive"), *UPGRADE[2:]], 400, b"Connection"),
        ([*UPGRADE, ("Connection", "keep-alive")], 400, b"Connection"),
        ([("Upgrade", "websocket, h2c"), *UPGRADE[1:]], 400, b"exactly"),
    ],
)
async def test_bad_handshakes_get_http_errors(
    nursery: trio.Nursery, headers: list[tuple[str, str]], status: int, detail: bytes
) -> None:
    server, client = await start_client(nursery, echo_router())
    response = await client.request("GET", "/ws", headers=headers)
    assert response.status == status
    assert detail in response.body
    if status == 426:
        assert response.headers["sec-websocket-version"] == "13"
    assert server.statistics().websockets_total == 0
    assert (await client.request("GET", "/ws")).status == 426  # the connection lives on


async def test_raw_bad_upgrades_never_hang(nursery: trio.Nursery) -> None:
    server = trio_sse.Server(echo_router())
    handshake = "\r\n".join(f"{n}: {v}" for n, v in UPGRADE)
    cases = {
        b"GET /ws HTTP/1.0\r\nHost: x\r\n" + handshake.encode() + b"\r\n\r\n": b"HTTP/1.1 400",
        # not ASCII: wsproto would fail decoding these inside trio-websocket's reader task
        b"GET /ws HTTP/1.1\r\nHost: \xff\r\nConnection: close\r\n"
        + handshake.encode()
        + b"\r\n\r\n": b"HTTP/1.1 400",
        b"GET /ws HTTP/1.1\r\nHost: x\r\nConnection: close\r\nSec-WebSocket-Protocol: caf\xe9\r\n"
        + handshake.encode()
        + b"\r\n\r\n": b"HTTP/1.1 400",
        b"POST /ws HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n"
        + handshake.encode()
        + b"\r\nConnection: close\r\n\r\nhi": b"HTTP/1.1 405",
    }
    for request, expected in cases.items():
        stream = raw_pair(nursery, server)
        with trio.fail_after(5):
            await stream.send_all(request)
            data = await read_until_eof(stream)
        assert data.startswith(expected), (request, data[:60])
    assert server.statistics().websockets_total == 0


async def test_websocket_response_to_a_plain_request_is_426(nursery: trio.Nursery) -> None:
    async def app(request: trio_sse.Request) -> trio_sse.BaseResponse:
        return trio_sse.WebSocketResponse(echo)  # without checking is_websocket_upgrade

    _, client = await start_client(nursery, app)
    response = await client.request("GET", "/")
    assert response.status == 426
    assert response.headers["upgrade"] == "websocket"


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


# -- shutdown ------------------------------------------------------------------------------


async def test_shutdown_closes_websockets_with_1001_at_once(
    autojump_clock: trio.testing.MockClock,
) -> None:
    handler_saw: list[int | None] = []

    async def handler(request: trio_sse.Request, ws: WebSocketConnection) -> None:
        try:
            while True:
                await ws.get_message()
        except trio_websocket.ConnectionClosed as exc:
            handler_saw.append(exc.reason.code if exc.reason else None)

    router = trio_sse.Router()
    router.add_websocket_route("/ws", handler)
    listener = MemoryListener()
    server = trio_sse.Server(router, config=trio_sse.Config(shutdown_grace_period=30))
    async with trio.open_nursery() as outer:
        async with trio.open_nursery() as server_nursery:
            await server_nursery.start(server.serve_listeners, [listener])
            stream = await listener.connect()
            ws = await trio_websocket.wrap_client_stream(
                outer, cast("trio.SocketStream", stream), "test", "/ws"
            )
            await trio.testing.wait_all_tasks_blocked()
            start = trio.current_time()
            server_nursery.cancel_scope.cancel()
        assert trio.current_time() == start  # no waiting for the grace period
        with pytest.raises(trio_websocket.ConnectionClosed) as info:
            await ws.get_message()
        assert info.value.reason is not None
        assert info.value.reason.code == 1001
        assert info.value.reason.reason == "server shutting down"
    assert handler_saw == [1000]  # the local side of trio-websocket reports its own close
    assert server.statistics().websockets_open == 0
    assert server.statistics().connections_open == 0


async def test_shutdown_waits_at_most_the_grace_period_for_a_mute_client(
    autojump_clock: trio.testing.MockClock,
) -> None:
    listener = MemoryListener()
    router = echo_router(disconnect_timeout=100)
    server = trio_sse.Server(router, config=trio_sse.Config(shutdown_grace_period=4))
    async with trio.open_nursery() as outer:
        async with trio.open_nursery() as server_nursery:
            await server_nursery.start(server.serve_listeners, [listener])
            stream = await listener.connect()
            client, _ = await raw_handshake(stream)
            start = trio.current_time()
            server_nursery.cancel_scope.cancel()
        assert trio.current_time() - start == 4.0
        seen = await ws_events_until_eof(client, stream)
        outer.cancel_scope.cancel()
    (_, close), *_ = seen
    assert isinstance(close, wsproto.events.CloseConnection)
    assert close.code == 1001


# -- loopback: trio-websocket's client, and SSE beside it ----------------------------------


@pytest.fixture
async def demo_server(nursery: trio.Nursery) -> trio_sse.Server:
    app = build_demo_app(interval=0.05)
    app.add_websocket_route("/small", echo, max_message_size=1000)
    server: trio_sse.Server = await nursery.start(
        functools.partial(trio_sse.serve, app, "127.0.0.1", 0)
    )
    return server


async def test_loopback_trio_websocket_client(demo_server: trio_sse.Server) -> None:
    with trio.fail_after(10):
        async with trio_websocket.open_websocket(
            "127.0.0.1", demo_server.port, "/ws", use_ssl=False
        ) as ws:
            await ws.send_message("ping?")
            await ws.send_message(b"\x00\x01")
            received: list[str | bytes] = []
            while len(received) < 4:
                received.append(await ws.get_message())
            assert "ping?" in received
            assert b"\x00\x01" in received
            ticks = [json.loads(m) for m in received if isinstance(m, str) and m != "ping?"]
            assert [t["id"] for t in ticks] == list(range(1, len(ticks) + 1))
            assert ws.remote is not None
        # trio-websocket's client leaves its socket open when the server closes first
        # (its aclose() returns early), so this one runs over a socket we close.
        stream = await trio.open_tcp_stream("127.0.0.1", demo_server.port)
        try:
            async with trio.open_nursery() as nursery:
                ws = await trio_websocket.wrap_client_stream(nursery, stream, "localhost", "/small")
                await ws.send_message("z" * 1001)
                assert await close_code(ws) == 1009
        finally:
            await stream.aclose()


async def test_sse_and_websocket_clients_at_the_same_time(demo_server: trio_sse.Server) -> None:
    with trio.fail_after(10):
        sse_stream = await trio.open_tcp_stream("127.0.0.1", demo_server.port)
        events_stream = await trio.open_tcp_stream("127.0.0.1", demo_server.port)
        sse = TestClient(sse_stream)
        events = TestClient(events_stream)
        try:
            await sse.send_request("GET", "/", headers=[("Accept", "text/event-stream")])
            await events.send_request("GET", "/events", headers=[("Accept", "text/event-stream")])
            assert (await sse.receive_head()).status == 200
            assert (await events.receive_head()).status == 200
            async with trio_websocket.open_websocket(
                "127.0.0.1", demo_server.port, "/ws", use_ssl=False
            ) as ws:
                first = json.loads(await ws.get_message())
                assert first == {"event": "message", "data": "hello", "id": 1}
                sse_events = await sse.receive_events(2)
                assert [e.data for e in sse_events] == ["hello", "hello"]
                second = json.loads(await ws.get_message())
                assert second["id"] == 2
                stats = demo_server.statistics()
                assert stats.websockets_open == 1
                assert stats.event_streams_open == 2
                await ws.send_message(json.dumps({"type": "publish", "data": "both"}))
                (published,) = await events.receive_events(1)
                assert (published.type, published.data) == ("publish", "both")
                while True:
                    message = json.loads(await ws.get_message())
                    if message.get("source") == "/events":
                        break
                assert message["data"] == "both"
                assert message["id"] == published.last_event_id
        finally:
            await sse.aclose()
            await events.aclose()


async def test_metrics_show_websockets(demo_server: trio_sse.Server) -> None:
    with trio.fail_after(10):
        async with trio_websocket.open_websocket(
            "127.0.0.1", demo_server.port, "/ws", use_ssl=False
        ):
            while not demo_server.statistics().websockets_open:  # the 101 arrives first
                await trio.sleep(0.01)
            text = trio_sse.metrics.render_prometheus(demo_server.statistics())
            lines = text.splitlines()
            assert "trio_sse_websockets_open 1" in lines
            assert "trio_sse_websockets_total 1" in lines
            assert "# TYPE trio_sse_websocket_bytes_sent_total counter" in lines
            assert "trio_sse_websocket_heartbeat_timeouts_total 0" in lines


# -- loopback: the websockets library's client (a peer we did not write) --------------------


async def in_thread(fn: Callable[[], T]) -> T:
    """Run a blocking client script in a worker thread, with a Trio-side bound."""
    with trio.fail_after(30):
        return await trio.to_thread.run_sync(fn, abandon_on_cancel=True)


def lib_connect(
    port: int, path: str = "/ws", *, compression: str | None = "deflate"
) -> ClientConnection:
    """The websockets client: no proxy from the environment, no pings of its own."""
    return ws_connect(
        f"ws://127.0.0.1:{port}{path}",
        proxy=None,
        open_timeout=5,
        close_timeout=5,
        ping_interval=None,
        compression=compression,
    )


def recv_json_ticks(ws: ClientConnection, count: int) -> list[dict[str, object]]:
    ticks: list[dict[str, object]] = []
    while len(ticks) < count:
        message = ws.recv(timeout=5)
        assert isinstance(message, str)
        value = json.loads(message)
        if value.get("event") == "message":
            ticks.append(value)
    return ticks


async def test_websockets_library_handshake_echo_ticks_and_interval(
    demo_server: trio_sse.Server,
) -> None:
    def script() -> tuple[int | None, list[str | bytes], list[dict[str, object]], float]:
        with lib_connect(demo_server.port) as ws:
            ws.send("hello from websockets")
            ws.send(b"\xde\xad\xbe\xef")
            ws.send('{"type": "unknown"}')
            echoes: list[str | bytes] = []
            while len(echoes) < 3:
                message = ws.recv(timeout=5)
                if isinstance(message, bytes) or not message.startswith('{"event"'):
                    echoes.append(message)
            ws.send(json.dumps({"type": "interval", "seconds": 0.5}))
            while json.loads(ws.recv(timeout=5)).get("type") != "ack":
                pass
            started = time.monotonic()
            ticks = recv_json_ticks(ws, 2)
            elapsed = time.monotonic() - started
            ws.close(1000)
            return ws.close_code, echoes, ticks, elapsed

    code, echoes, ticks, elapsed = await in_thread(script)
    assert echoes == ["hello from websockets", b"\xde\xad\xbe\xef", '{"type": "unknown"}']
    first, second = (t["id"] for t in ticks)
    assert isinstance(first, int)
    assert second == first + 1
    assert elapsed >= 0.9  # two ticks at the new 0.5 s interval (the old one was 0.05 s)
    assert code == 1000
    with trio.fail_after(5):
        while demo_server.statistics().websockets_open:
            await trio.sleep(0.01)


async def test_websockets_library_gets_1009_for_an_oversized_message(
    demo_server: trio_sse.Server,
) -> None:
    def script() -> int | None:
        with lib_connect(demo_server.port, compression=None) as ws:
            ws.send(b"\x00" * (2**20 + 1))  # the default limit is 1 MiB
            try:
                while True:
                    ws.recv(timeout=5)
            except WSLibClosed as exc:
                return exc.rcvd.code if exc.rcvd else None

    assert await in_thread(script) == 1009


async def test_websockets_library_sees_bad_upgrades_as_http_statuses(
    demo_server: trio_sse.Server,
) -> None:
    def script(path: str) -> int:
        with pytest.raises(InvalidStatus) as info:
            lib_connect(demo_server.port, path)
        return info.value.response.status_code

    assert await in_thread(functools.partial(script, "/")) == 200  # Upgrade ignored
    assert await in_thread(functools.partial(script, "/missing")) == 404


async def test_websockets_library_receives_1001_on_shutdown(nursery: trio.Nursery) -> None:
    server_scope = trio.CancelScope()
    server_ready = trio.Event()
    holder: list[trio_sse.Server] = []

    async def run_server() -> None:
        with server_scope:
            async with trio.open_nursery() as inner:
                holder.append(
                    await inner.start(
                        functools.partial(trio_sse.serve, build_demo_app(), "127.0.0.1", 0)
                    )
                )
                server_ready.set()

    nursery.start_soon(run_server)
    await server_ready.wait()
    server = holder[0]

    def script() -> tuple[int | None, str | None]:
        with lib_connect(server.port) as ws:
            try:
                while True:
                    ws.recv(timeout=10)
            except WSLibClosed as exc:
                rcvd = exc.rcvd
            return (rcvd.code, rcvd.reason) if rcvd else (None, None)

    result: list[tuple[int | None, str | None]] = []

    async def client() -> None:
        result.append(await in_thread(script))

    async with trio.open_nursery() as clients:
        clients.start_soon(client)
        with trio.fail_after(10):
            while not server.statistics().websockets_open:
                await trio.sleep(0.01)
        server_scope.cancel()
    assert result == [(1001, "server shutting down")]
