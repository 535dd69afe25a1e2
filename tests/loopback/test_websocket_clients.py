"""WebSocket clients we did not write (and trio-websocket's), over real loopback sockets.

The server runs the local ``ticker_app`` (``/ws`` echoes and ticks as JSON), plus an echo
route with a small message limit. Waits are on events: the app is wrapped in a
:class:`~tests.helpers.Tracker`, whose handler start and end a test awaits instead of
polling the server's statistics. The ``websockets`` library's client is synchronous, so it
runs in a worker thread (threads only in tests; every wait has a timeout).
"""

from __future__ import annotations

import functools
import json
from typing import TYPE_CHECKING

import pytest
import trio
import trio_websocket
from websockets.exceptions import ConnectionClosed as WSLibClosed
from websockets.exceptions import InvalidStatus

import trio_sse

from ..helpers import (
    Tracker,
    close_code,
    echo,
    in_thread,
    lib_connect,
    running_server,
    ticker_app,
)

if TYPE_CHECKING:
    from collections.abc import AsyncIterator


@pytest.fixture
def tracker() -> Tracker:
    return Tracker()


@pytest.fixture
async def local_server(tracker: Tracker) -> AsyncIterator[trio_sse.Server]:
    app = ticker_app(interval=0.05)
    app.add_websocket_route("/small", echo, max_message_size=1000)
    async with running_server(tracker.wrap(app)) as server:
        yield server


async def test_loopback_trio_websocket_client(local_server: trio_sse.Server) -> None:
    with trio.fail_after(10):
        async with trio_websocket.open_websocket(
            "127.0.0.1", local_server.port, "/ws", use_ssl=False
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
        stream = await trio.open_tcp_stream("127.0.0.1", local_server.port)
        try:
            async with trio.open_nursery() as nursery:
                ws = await trio_websocket.wrap_client_stream(nursery, stream, "localhost", "/small")
                await ws.send_message("z" * 1001)
                assert await close_code(ws) == 1009
        finally:
            await stream.aclose()


async def test_metrics_show_websockets(local_server: trio_sse.Server, tracker: Tracker) -> None:
    with trio.fail_after(10):
        async with trio_websocket.open_websocket(
            "127.0.0.1", local_server.port, "/ws", use_ssl=False
        ):
            await tracker.wait_started()  # the 101 arrives first; then the handler runs
            text = trio_sse.metrics.render_prometheus(local_server.statistics())
            lines = text.splitlines()
            assert "trio_sse_websockets_open 1" in lines
            assert "trio_sse_websockets_total 1" in lines
            assert "# TYPE trio_sse_websocket_bytes_sent_total counter" in lines
            assert "trio_sse_websocket_heartbeat_timeouts_total 0" in lines


async def test_websockets_library_gets_1009_for_an_oversized_message(
    local_server: trio_sse.Server,
) -> None:
    def script() -> int | None:
        with lib_connect(local_server.port, compression=None) as ws:
            ws.send(b"\x00" * (2**20 + 1))  # the default limit is 1 MiB
            try:
                while True:
                    ws.recv(timeout=5)
            except WSLibClosed as exc:
                return exc.rcvd.code if exc.rcvd else None

    assert await in_thread(script) == 1009


async def test_websockets_library_sees_bad_upgrades_as_http_statuses(
    local_server: trio_sse.Server,
) -> None:
    def script(path: str) -> int:
        with pytest.raises(InvalidStatus) as info:
            lib_connect(local_server.port, path)
        return info.value.response.status_code

    assert await in_thread(functools.partial(script, "/")) == 200  # Upgrade ignored
    assert await in_thread(functools.partial(script, "/missing")) == 404


async def test_websockets_library_receives_1001_on_shutdown(
    nursery: trio.Nursery, tracker: Tracker
) -> None:
    server_scope = trio.CancelScope()
    server_ready = trio.Event()
    holder: list[trio_sse.Server] = []

    async def run_server() -> None:
        with server_scope:
            async with trio.open_nursery() as inner:
                app = tracker.wrap(ticker_app())
                holder.append(
                    await inner.start(functools.partial(trio_sse.serve, app, "127.0.0.1", 0))
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
            await tracker.wait_started()  # the session is open: its handler runs
        assert server.statistics().websockets_open == 1
        server_scope.cancel()
    assert result == [(1001, "server shutting down")]
