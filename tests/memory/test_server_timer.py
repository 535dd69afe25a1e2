"""The shared timer (``trio_sse.lowlevel.sleep_until``) inside a server, and at shutdown.

No sockets and no real sleeps: servers run over memory streams on Trio's virtual clock
(``autojump_clock``), so wake-up times are checked exactly. The timer on its own is tested
in ``tests/unit/test_timer.py``.
"""

from __future__ import annotations

from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

import pytest
import trio
import trio.testing

import trio_sse
from trio_sse.testing import MemoryListener, TestClient

from ..helpers import SSE, check_running, running_server, start_client, ticker_app

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

#: A bound in virtual seconds: a lost wake-up fails the test at once instead of hanging it.
VIRTUAL_LIMIT = 100_000.0


@asynccontextmanager
async def listening_server(
    app: trio_sse.App, config: trio_sse.Config | None = None
) -> AsyncIterator[tuple[trio_sse.Server, MemoryListener]]:
    """A server on a memory listener (``serve_listeners`` runs the shared timer)."""
    listener = MemoryListener()
    with trio.fail_after(VIRTUAL_LIMIT):
        async with running_server(app, config, listener=listener) as server:
            check_running(server._timer)
            yield server, listener
    assert not server._timer.running
    assert len(server._timer) == 0


# -- through a server, over memory streams ---------------------------------------------


def ticking_app(
    interval: float, starts: list[float], ends: list[float], sent: list[int]
) -> trio_sse.App:
    """An event stream whose producer ticks with ``trio_sse.lowlevel.sleep_until`` on the clock."""

    async def ticker(stream: trio_sse.EventStream) -> None:
        start = stream.opened_at
        assert start == trio.current_time()  # (virtual time: no delay before it runs)
        starts.append(start)
        try:
            n = 0
            while True:
                n += 1
                await trio_sse.lowlevel.sleep_until(start + n * interval)
                await stream.send(trio_sse.ServerSentEvent(str(n), id=str(n)))
                sent.append(n)
        finally:
            ends.append(trio.current_time())

    async def app(request: trio_sse.Request) -> trio_sse.BaseResponse:
        return trio_sse.EventStreamResponse(
            ticker,
            heartbeat=None,
            farewell=trio_sse.ServerSentEvent("bye", event="shutdown"),
        )

    return app


@pytest.mark.parametrize("leave", ["client closes", "connection cancelled"])
async def test_server_ticker_parks_on_the_server_timer(
    leave: str, autojump_clock: trio.testing.MockClock
) -> None:
    starts: list[float] = []
    ends: list[float] = []
    sent: list[int] = []
    async with listening_server(ticking_app(1.5, starts, ends, sent)) as (server, listener):
        timer = server._timer
        async with trio.open_nursery() as nursery:
            connection = trio.CancelScope()
            if leave == "client closes":
                client = TestClient(await listener.connect())
            else:
                # serve_stream while serve_listeners runs: the same shared timer, and a
                # scope of our own to cancel the connection with
                client_end, server_end = trio.testing.memory_stream_pair()
                client = TestClient(client_end)

                async def serve_one() -> None:
                    with connection:
                        await server.serve_stream(server_end)

                nursery.start_soon(serve_one)
            await client.send_request("GET", "/", headers=SSE)
            head = await client.receive_head()
            assert head.status == 200
            head_at = trio.current_time()
            await trio.testing.wait_all_tasks_blocked()
            (start,) = starts
            assert start == head_at  # stream.opened_at: when the head went out
            assert len(timer) == 1  # the producer is parked on the server's timer
            for n in range(1, 5):
                (event,) = await client.receive_events(1)
                assert (event.data, event.last_event_id) == (str(n), str(n))
                assert trio.current_time() == start + n * 1.5
                await trio.testing.wait_all_tasks_blocked()
                assert len(timer) == 1
            await trio.sleep(0.5)  # mid-interval
            left_at = trio.current_time()
            assert ends == []
            if leave == "client closes":
                await client.aclose()
            else:
                connection.cancel()
            await trio.testing.wait_all_tasks_blocked()
            assert len(timer) == 0  # off the heap at once
            assert ends == [left_at]  # the producer's finally ran at the same instant
            assert trio.current_time() == left_at
            stats = server.statistics()
            assert (stats.connections_open, stats.event_streams_open, stats.tickers_active) == (
                0,
                0,
                0,
            )
            assert stats.events_sent == 4
            assert timer.running  # the server still runs
            await trio.sleep(10)
            assert sent == [1, 2, 3, 4]
            await client.aclose()


async def test_serve_stream_alone_falls_back_to_trio_sleep(
    nursery: trio.Nursery, autojump_clock: trio.testing.MockClock
) -> None:
    """``serve_stream`` without ``serve_listeners`` has no timer: same times, trio's sleep."""
    starts: list[float] = []
    ends: list[float] = []
    sent: list[int] = []
    server, client = await start_client(nursery, ticking_app(2.0, starts, ends, sent))
    await client.send_request("GET", "/", headers=SSE)
    await client.receive_head()
    for n in range(1, 4):
        (event,) = await client.receive_events(1)
        assert event.data == str(n)
        assert trio.current_time() == starts[0] + n * 2.0
        assert not server._timer.running
        assert len(server._timer) == 0
    await client.aclose()
    await trio.testing.wait_all_tasks_blocked()
    assert ends == [trio.current_time()]


async def test_many_ticker_streams_tick_together(autojump_clock: trio.testing.MockClock) -> None:
    count = 20
    async with listening_server(ticker_app(interval=0.5)) as (server, listener):
        clients: list[TestClient] = []
        for _ in range(count):
            client = TestClient(await listener.connect())
            await client.send_request("GET", "/", headers=SSE)
            await client.receive_head()
            clients.append(client)
        start = trio.current_time()  # no time passed while connecting
        await trio.testing.wait_all_tasks_blocked()
        assert len(server._timer) == count
        for n in range(1, 4):
            for client in clients:
                (event,) = await client.receive_events(1)
                assert event.last_event_id == str(n)
            assert trio.current_time() == start + 0.5 * n
        for client in clients[::2]:
            await client.aclose()
        await trio.testing.wait_all_tasks_blocked()
        assert len(server._timer) == count // 2
        for client in clients[1::2]:
            await client.aclose()
        await trio.testing.wait_all_tasks_blocked()
        assert len(server._timer) == 0


# -- server shutdown --------------------------------------------------------------------


async def test_shutdown_during_a_stream_sends_farewell_and_stops_the_timer(
    autojump_clock: trio.testing.MockClock,
) -> None:
    starts: list[float] = []
    ends: list[float] = []
    sent: list[int] = []
    listener = MemoryListener()
    server = trio_sse.Server(
        ticking_app(1.0, starts, ends, sent),
        config=trio_sse.Config(shutdown_grace_period=30),
    )
    with trio.fail_after(VIRTUAL_LIMIT):
        async with trio.open_nursery() as nursery:
            await nursery.start(server.serve_listeners, [listener])
            client = TestClient(await listener.connect())
            await client.send_request("GET", "/", headers=SSE)
            await client.receive_head()
            events = await client.receive_events(2)
            assert [e.data for e in events] == ["1", "2"]
            await trio.sleep(0.5)
            await trio.testing.wait_all_tasks_blocked()
            assert len(server._timer) == 1
            stopped_at = trio.current_time()
            nursery.cancel_scope.cancel()
    assert trio.current_time() == stopped_at  # no waiting for the grace period or a tick
    assert ends == [stopped_at]
    assert not server._timer.running
    assert len(server._timer) == 0
    assert server._timer._heap == []
    body = await client.receive_body()
    assert body == b"event: shutdown\ndata: bye\n\n"
    stats = server.statistics()
    assert (stats.connections_open, stats.event_streams_open, stats.tickers_active) == (0, 0, 0)
    assert sent == [1, 2]


async def test_a_task_outliving_its_connection_finishes_its_sleep_after_shutdown(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """A task spawned by a handler into an outer nursery keeps the connection's context:
    it sleeps on the server's timer, and when the server stops it finishes on trio's."""
    woke: list[float] = []
    start = trio.current_time()

    with trio.fail_after(VIRTUAL_LIMIT):
        async with trio.open_nursery() as outer:

            async def lingering() -> None:
                await trio_sse.lowlevel.sleep_until(start + 100.0)
                woke.append(trio.current_time())

            async def app(request: trio_sse.Request) -> trio_sse.BaseResponse:
                outer.start_soon(lingering)
                return trio_sse.Response("started")

            listener = MemoryListener()
            server = trio_sse.Server(app)
            async with trio.open_nursery() as nursery:
                await nursery.start(server.serve_listeners, [listener])
                client = TestClient(await listener.connect())
                response = await client.request("GET", "/")
                assert response.body == b"started"
                await client.aclose()
                await trio.testing.wait_all_tasks_blocked()
                assert len(server._timer) == 1  # parked on the server's timer
                await trio.sleep(10.0)
                nursery.cancel_scope.cancel()
            assert not server._timer.running
            assert len(server._timer) == 0
            assert woke == []
            assert trio.current_time() == start + 10.0
    assert woke == [start + 100.0]
