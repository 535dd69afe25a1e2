"""Giving memory back after a storm: the storm detector, malloc_trim, the server's task."""

from __future__ import annotations

import sys

import pytest
import trio
import trio.testing

import trio_sse
import trio_sse._memory as memory
from trio_sse.testing import MemoryListener, TestClient

SSE = [("Accept", "text/event-stream")]


def test_storm_tracker_trims_when_a_big_peak_halves_then_again_at_its_end() -> None:
    storm = memory.StormTracker()
    counts = [0, 100, 600, 900, 700, 451, 450, 449, 300, 201, 200, 199, 0, 10]
    decisions = [storm.should_trim(n) for n in counts]
    # peak 900: trim when 450 or fewer remain; from there (peak 450), trim again once
    # 250 more have closed and at most half remain (200); not again below that
    expected = [False] * 6 + [True] + [False] * 3 + [True] + [False] * 3
    assert decisions == expected


def test_storm_tracker_ignores_small_drops() -> None:
    storm = memory.StormTracker()
    assert not any(storm.should_trim(n) for n in [0, 249, 0, 499, 250])
    assert storm.should_trim(249) is True  # 499 -> 249: 250 closed, under half


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc malloc_trim")
def test_malloc_trim_runs_on_glibc_linux() -> None:
    assert memory.trim_is_available()
    assert memory.malloc_trim() is True


def test_malloc_trim_is_a_no_op_without_glibc(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(memory, "_malloc_trim", None)
    assert not memory.trim_is_available()
    assert memory.malloc_trim() is False


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
