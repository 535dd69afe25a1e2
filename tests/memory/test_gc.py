"""Steady-state streaming leaves no cyclic garbage.

A server with thousands of streams ticking every 100 ms allocates tens of thousands of
objects a second. If any of them end up in reference cycles, only the cyclic collector
can free them, and its full passes stop the whole server for tens of milliseconds (that
was the shared timer's per-sleep closure once: a tick lateness p99 of ~50 ms). These
tests let streams tick with the collector off and count what it finds afterwards.
"""

from __future__ import annotations

import gc
from typing import TYPE_CHECKING

from trio_sse._demo import build_demo_app
from trio_sse.testing import MemoryListener, TestClient

from ..h2_client import open_h2_client
from ..helpers import SSE, open_ws, running_server

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    import trio
    import trio.testing

STREAMS, TICKS = 10, 10


async def cyclic_garbage(tick: Callable[[], Awaitable[None]]) -> int:
    """Run *tick* (after a warm-up round) with the collector off; the objects it freed."""
    await tick()
    gc.collect()
    gc.disable()
    try:
        for _ in range(TICKS):
            await tick()
        return gc.collect()
    finally:
        gc.enable()


async def test_http11_event_streams(autojump_clock: trio.testing.MockClock) -> None:
    listener = MemoryListener()
    async with running_server(build_demo_app(interval=0.1), listener=listener):
        clients = [TestClient(await listener.connect()) for _ in range(STREAMS)]
        for client in clients:
            await client.send_request("GET", "/", headers=SSE)
            assert (await client.receive_head()).status == 200

        async def tick() -> None:
            for client in clients:
                await client.receive_events(1)

        assert await cyclic_garbage(tick) == 0
        for client in clients:
            await client.aclose()


async def test_http2_event_streams(
    autojump_clock: trio.testing.MockClock, nursery: trio.Nursery
) -> None:
    async with running_server(build_demo_app(interval=0.1)) as server:
        client = await open_h2_client(nursery, server)
        ids = await client.open_streams("/", STREAMS, headers=SSE, events=1)
        done = 1

        async def tick() -> None:
            nonlocal done
            done += 1
            await client.wait_for(lambda: all(client.events_of(sid) >= done for sid in ids))

        assert await cyclic_garbage(tick) == 0


async def test_websocket_ticks(
    autojump_clock: trio.testing.MockClock, nursery: trio.Nursery
) -> None:
    async with running_server(build_demo_app(interval=0.1)) as server:
        sockets = [(await open_ws(nursery, server))[0] for _ in range(STREAMS)]

        async def tick() -> None:
            for ws in sockets:
                await ws.get_message()

        assert await cyclic_garbage(tick) == 0
        for ws in sockets:
            await ws.aclose()
