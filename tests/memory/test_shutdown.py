"""Shutdown with hostile clients: stalled ones are cut at the end of the grace period,
healthy ones get the farewell at once (memory streams, virtual clock).

Every test checks the exact bytes the client receives (the ``date`` header, the only
variable part, is checked for its format and then masked) and that nothing is left behind
once the connection has ended: the server's gauges are zero, the nursery that ran the
connections has no child task left, and Trio's whole task tree is back to what it was
before the connections started. Every timing is asserted exactly, on the virtual clock
(``autojump_clock``). The hostile peers and the exact answers are in ``tests/helpers.py``.
"""

from __future__ import annotations

import trio
import trio.testing

import trio_sse
from trio_sse.testing import TestClient

from ..helpers import (
    FAREWELL,
    FIRST_CHUNK,
    SSE_HEAD,
    SSE_REQUEST,
    QueueListener,
    RecordingStream,
    VanishingStream,
    all_tasks,
    hostile_app,
    masked,
    where,
)


async def test_shutdown_while_clients_stall_ends_within_the_grace_period(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """Shutdown with: a stream reader that stopped reading, a vanished stream peer, a
    half-sent request, an idle keep-alive connection and a healthy stream reader.

    The healthy reader gets the farewell and the idle connection is closed at once; the
    three stalled ones are cancelled at exactly the end of the grace period, and
    ``serve_listeners`` returns then."""
    grace = 3
    config = trio_sse.Config(shutdown_grace_period=grace, send_timeout=10, request_head_timeout=10)
    server = trio_sse.Server(hostile_app(), config=config)
    listener = QueueListener()
    sse_headers = [("Accept", "text/event-stream")]
    before = frozenset(all_tasks())
    async with trio.open_nursery() as nursery:
        await nursery.start(server.serve_listeners, [listener])

        stalled_client, stalled_end = trio.testing.lockstep_stream_pair()
        stalled = RecordingStream(stalled_end)
        await listener.connect(stalled)
        await stalled_client.send_all(SSE_REQUEST.replace(b"/events", b"/events?quiet"))
        assert masked(await stalled_client.receive_some(65536)) == SSE_HEAD
        assert await stalled_client.receive_some(65536) == FIRST_CHUNK

        vanished = VanishingStream(SSE_REQUEST.replace(b"/events", b"/events?quiet"))
        await listener.connect(vanished)

        half_client, half_end = trio.testing.memory_stream_pair()
        half = RecordingStream(half_end)
        await listener.connect(half)
        await half_client.send_all(b"GET / HTTP/1.1\r\nHo")

        idle_client, idle_end = trio.testing.memory_stream_pair()
        idle = RecordingStream(idle_end)
        await listener.connect(idle)
        idle_http = TestClient(idle_client)
        assert (await idle_http.request("GET", "/")).body == b"ok"

        healthy_client, healthy_end = trio.testing.memory_stream_pair()
        healthy = RecordingStream(healthy_end)
        await listener.connect(healthy)
        healthy_http = TestClient(healthy_client)
        await healthy_http.send_request("GET", "/events?quiet", headers=sse_headers)
        assert (await healthy_http.receive_head()).status == 200
        assert [e.data for e in await healthy_http.receive_events(1)] == ["tick"]

        await trio.testing.wait_all_tasks_blocked()
        vanished.vanish()
        stats = server.statistics()
        assert (stats.connections_open, stats.event_streams_open) == (5, 3)
        start = trio.current_time()
        nursery.cancel_scope.cancel()
    assert trio.current_time() - start == grace
    watched: list[tuple[str, RecordingStream | VanishingStream]] = [
        ("stalled reader", stalled),
        ("vanished peer", vanished),
        ("half-sent request", half),
        ("idle keep-alive", idle),
        ("healthy reader", healthy),
    ]
    closed = {
        name: None if stream.closed_at is None else stream.closed_at - start
        for name, stream in watched
    }
    assert closed == {
        "stalled reader": grace,
        "vanished peer": grace,
        "half-sent request": grace,
        "idle keep-alive": 0,
        "healthy reader": 0,
    }
    assert await healthy_http.receive_body() == FAREWELL.encode()
    assert vanished.blocked_sends == 1  # the farewell
    stats = server.statistics()
    assert (
        stats.connections_open,
        stats.event_streams_open,
        stats.tickers_active,
        stats.handler_errors,
    ) == (0, 0, 0, 0)
    await trio.testing.wait_all_tasks_blocked()
    assert [where(t) for t in all_tasks() if t not in before] == []
    for stream in (stalled_client, half_client, idle_client, healthy_client):
        await stream.aclose()
