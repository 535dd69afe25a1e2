"""WebSocket beside HTTP on one server, over memory streams: hand-off, routing, limits,
heartbeat, shutdown.

Two kinds of peers drive the server here: trio-websocket's own client (with
``autojump_clock`` wherever time matters, so schedules are checked exactly), and wsproto's
client state machine on a raw memory stream, for what a well-behaved client never does
(send frames glued to the handshake, ignore pings, leave during the handshake). Clients we
did not write, over loopback, are in ``tests/loopback/test_websocket_clients.py``; the
demo's ``/ws`` is tested in ``test_demo_websocket.py``.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Final, cast

import pytest
import trio
import trio.testing
import trio_websocket
import wsproto
import wsproto.events

import trio_sse
from trio_sse.testing import MemoryListener

from ..helpers import (
    UPGRADE,
    RecordingStream,
    close_code,
    connections,
    echo,
    echo_router,
    masked_frame,
    nothing_left,
    open_ws,
    raw_handshake,
    raw_pair,
    read_until_eof,
    start_client,
    start_serving,
    ticker_app,
    ws_events_until_eof,
)

if TYPE_CHECKING:
    from trio_websocket import WebSocketConnection


# -- handshake, echo, subprotocols, close codes ----------------------------------------


async def test_handshake_and_echo_text_and_binary(nursery: trio.Nursery) -> None:
    server = trio_sse.Server(ticker_app())
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
    _, client = await start_client(nursery, ticker_app())
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
    _, client = await start_client(nursery, ticker_app())
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


# -- a client that leaves during the handshake ----------------------------------------

WS_HANDSHAKE: Final = (
    b"GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    b"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"
)


async def test_websocket_peer_gone_before_the_101_is_not_an_error(
    autojump_clock: trio.testing.MockClock, caplog: pytest.LogCaptureFixture
) -> None:
    router = trio_sse.Router()

    @router.websocket("/ws")
    async def ws(request: trio_sse.Request, conn: object) -> None:
        await trio.sleep_forever()

    server = trio_sse.Server(router)
    client, server_end = trio.testing.memory_stream_pair()
    recorded = RecordingStream(server_end)
    start = trio.current_time()
    with caplog.at_level(logging.ERROR, logger="trio_sse"):
        async with connections(server) as (nursery, before):
            done = start_serving(nursery, server, recorded)
            await client.send_all(WS_HANDSHAKE)
            await client.aclose()  # gone before the server answers
            await done.wait()
            await nothing_left(server, nursery, before)
    assert recorded.closed_at == start
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []
