"""The demo's ``/ws`` over memory streams: JSON ticks on the schedule, resuming, the
``interval`` and ``publish`` control messages (virtual clock wherever time passes).

WebSocket behaviour of the server itself is tested with local apps in ``test_websocket.py``.
"""

from __future__ import annotations

import json

import trio
import trio.testing

import trio_sse
from trio_sse._demo import build_demo_app
from trio_sse.testing import TestClient

from ..helpers import open_ws, raw_pair, start_client


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
