"""The broadcaster over HTTP: ``relay`` and ``stream_response`` behind a server, over memory
streams (``autojump_clock`` wherever time could pass). Every client is closed before its
test ends so the server's connection tasks finish."""

from __future__ import annotations

from typing import TYPE_CHECKING

import trio
import trio.testing

from trio_sse import Broadcaster, Request, Router, Server

from ..helpers import memory_client as open_client
from ..helpers import open_event_stream

if TYPE_CHECKING:
    from trio_sse import BaseResponse


def broadcast_app(broadcaster: Broadcaster, *, retry: int | None = None) -> Router:
    router = Router()

    @router.route("/events")
    async def events(request: Request) -> BaseResponse:
        return broadcaster.stream_response(retry=retry)

    return router


async def test_relay_delivers_and_unsubscribes_on_disconnect() -> None:
    broadcaster = Broadcaster(id_prefix="")
    server = Server(broadcast_app(broadcaster))
    async with open_client(server) as first, open_client(server) as second:
        await open_event_stream(first)
        await open_event_stream(second)
        assert broadcaster.statistics().subscribers == 2
        await broadcaster.publish("hi", event="greeting")
        for client in (first, second):
            (event,) = await client.receive_events(1)
            assert (event.type, event.data, event.last_event_id) == ("greeting", "hi", "1")
        await first.aclose()
        await trio.testing.wait_all_tasks_blocked()
        assert broadcaster.statistics().subscribers == 1
        await broadcaster.publish("still here")
        (event,) = await second.receive_events(1)
        assert event.data == "still here"
        await second.aclose()
        await trio.testing.wait_all_tasks_blocked()
        assert broadcaster.statistics().subscribers == 0
        assert server.statistics().event_streams_open == 0


async def test_relay_resumes_after_reconnect_with_last_event_id(
    autojump_clock: trio.abc.Clock,
) -> None:
    broadcaster = Broadcaster(id_prefix="", history=100)
    server = Server(broadcast_app(broadcaster))

    async def publisher() -> None:
        for n in range(1, 41):
            await broadcaster.publish(f"e{n}")
            await trio.sleep(0.1)

    received: list[str] = []
    async with trio.open_nursery() as nursery:
        async with open_client(server) as client:
            await open_event_stream(client)
            nursery.start_soon(publisher)
            received += [event.last_event_id for event in await client.receive_events(10)]
        # Disconnected: events keep being published while the client is away.
        await trio.sleep(1.05)
        async with open_client(server) as client:
            await open_event_stream(client, received[-1])
            assert 20 <= broadcaster.statistics().published < 40  # still publishing
            while received[-1] != "40":
                received += [event.last_event_id for event in await client.receive_events(1)]
    assert received == [str(n) for n in range(1, 41)]
    assert broadcaster.statistics().events_replayed >= 10


async def test_overflow_ends_the_response_and_the_client_resumes() -> None:
    broadcaster = Broadcaster(id_prefix="", queue_size=1)
    server = Server(broadcast_app(broadcaster, retry=1000))
    async with open_client(server) as client:
        await open_event_stream(client)
        # Three events before the relay can run: the first is handed to the waiting relay,
        # the second fills its queue, the third finds it full.
        broadcaster.publish_nowait("one")
        broadcaster.publish_nowait("two")
        broadcaster.publish_nowait("three")
        assert broadcaster.statistics().subscribers_dropped == 1
        body = await client.receive_body()  # the response ends
        assert body == b"retry: 1000\n\nid: 1\ndata: one\n\nid: 2\ndata: two\n\n"
    async with open_client(server) as client:  # the EventSource reconnects
        await open_event_stream(client, "2")
        (event,) = await client.receive_events(1)
        assert (event.data, event.last_event_id) == ("three", "3")
    assert broadcaster.statistics().subscribers == 0


async def test_relay_sends_reset_for_an_unknown_id() -> None:
    broadcaster = Broadcaster(id_prefix="p")
    server = Server(broadcast_app(broadcaster))
    async with open_client(server) as client:
        await open_event_stream(client, "from-before-a-restart")
        await broadcaster.publish("fresh")
        reset, fresh = await client.receive_events(2)
    assert (reset.type, reset.data, reset.last_event_id) == ("reset", "unknown", "")
    assert (fresh.type, fresh.data, fresh.last_event_id) == ("message", "fresh", "p-1")
