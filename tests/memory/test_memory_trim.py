"""Giving memory back after a storm: the server's trim task, over a memory listener."""

from __future__ import annotations

import pytest
import trio
import trio.testing

import trio_sse
import trio_sse._memory as memory
from trio_sse.testing import MemoryListener, TestClient

from ..helpers import SSE


async def sleepy(stream: trio_sse.EventStream) -> None:
    await trio.sleep_forever()


async def app(request: trio_sse.Request) -> trio_sse.BaseResponse:
    return trio_sse.EventStreamResponse(sleepy, heartbeat=None)


@pytest.mark.parametrize("interval", [1.0, None])
async def test_server_trims_after_a_storm(
    autojump_clock: trio.testing.MockClock,
    monkeypatch: pytest.MonkeyPatch,
    interval: float | None,
) -> None:
    monkeypatch.setattr(memory, "STORM_DROP", 6)
    monkeypatch.setattr(memory, "_malloc_trim", lambda pad: 1)  # available everywhere
    listener = MemoryListener()
    server = trio_sse.Server(app, config=trio_sse.Config(memory_trim_interval=interval))
    async with trio.open_nursery() as nursery:
        await nursery.start(server.serve_listeners, [listener])
        clients = []
        for _ in range(8):
            client = TestClient(await listener.connect())
            await client.send_request("GET", "/", headers=SSE)
            await client.receive_head()
            clients.append(client)
        await trio.sleep(2.5)  # two checks during the storm: no trim
        assert server.statistics().memory_trims == 0
        for client in clients:
            await client.stream.aclose()
        await trio.sleep(1.0)
        expected = 0 if interval is None else 1
        assert server.statistics().connections_open == 0
        assert server.statistics().memory_trims == expected
        await trio.sleep(10.0)  # no storm since: no more trims
        assert server.statistics().memory_trims == expected
        nursery.cancel_scope.cancel()
