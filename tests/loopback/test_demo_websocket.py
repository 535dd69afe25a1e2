"""The demo's ``/ws`` beside its event streams, over real loopback sockets, with
trio-websocket's client and the ``websockets`` library's (in a worker thread).

These test the demo itself (its ``interval`` and ``publish`` control messages, ``/events``);
the server's WebSocket support is tested with a local app in ``test_websocket_clients.py``.
The schedule after an ``interval`` message is checked exactly on the virtual clock in
``tests/memory/test_demo_websocket.py``; here, over real time, only the order of the ticks.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import pytest
import trio
import trio_websocket

from trio_sse._demo import build_demo_app
from trio_sse.testing import TestClient

from ..helpers import Tracker, in_thread, lib_connect, recv_json_ticks, running_server

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    import trio_sse


@pytest.fixture
def tracker() -> Tracker:
    return Tracker()


@pytest.fixture
async def demo_server(tracker: Tracker) -> AsyncIterator[trio_sse.Server]:
    async with running_server(tracker.wrap(build_demo_app(interval=0.05))) as server:
        yield server


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


async def test_websockets_library_handshake_echo_ticks_and_interval(
    demo_server: trio_sse.Server, tracker: Tracker
) -> None:
    def script() -> tuple[int | None, list[str | bytes], list[dict[str, object]]]:
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
            ticks = recv_json_ticks(ws, 2)
            ws.close(1000)
            return ws.close_code, echoes, ticks

    code, echoes, ticks = await in_thread(script)
    assert echoes == ["hello from websockets", b"\xde\xad\xbe\xef", '{"type": "unknown"}']
    first, second = (t["id"] for t in ticks)
    assert isinstance(first, int)
    assert second == first + 1
    # (The new interval's timing is checked exactly, on the virtual clock, in
    # tests/memory/test_demo_websocket.py: no wall-clock bound here.)
    assert code == 1000
    with trio.fail_after(5):
        await tracker.wait_all_ended()
    assert demo_server.statistics().websockets_open == 0
